/*
 * agent/table_schema.c: a captured table's columns from the catalog.
 */
#include "table_schema.h"

#include "log.h"
#include "pgsql.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns in attnum order; the key is the primary key, else the replica
 * identity index.  indkey is an int2vector (subscripts from 0). */
static const char columns_sql[] =
	"SELECT c.oid, n.nspname, c.relname, a.attname, a.atttypid, "
	"       format_type(a.atttypid, a.atttypmod), "
	"       coalesce(nullif(bt.typname, ''), t.typname), "
	"       t.typcategory = 'A', a.atttypmod, NOT a.attnotnull, "
	"       coalesce(array_position(k.indkey::int2[], a.attnum) "
	"                - array_lower(k.indkey::int2[], 1) + 1, 0) "
	"FROM pg_class c "
	"JOIN pg_namespace n ON n.oid = c.relnamespace "
	"JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
	"     AND NOT a.attisdropped AND a.attgenerated = '' "
	"JOIN pg_type t ON t.oid = a.atttypid "
	"LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' "
	"LEFT JOIN pg_type bt ON bt.oid = coalesce(nullif(et.oid, 0), "
	"     CASE WHEN t.typtype = 'd' THEN t.typbasetype END) "
	"LEFT JOIN LATERAL (SELECT i.indkey FROM pg_index i WHERE i.indrelid = c.oid "
	"     AND (i.indisprimary OR i.indisreplident) "
	"     ORDER BY i.indisprimary DESC LIMIT 1) k ON true "
	"WHERE c.oid = CASE WHEN $1::oid <> 0 THEN $1::oid "
	"                   ELSE to_regclass(quote_ident($2) || '.' || quote_ident($3))::oid END "
	"ORDER BY a.attnum";

/* Length and scale from the type modifier, as PostgreSQL encodes them. */
static void typmod_decode(struct column_schema *col, int typmod)
{
	const char *t = col->base_type;

	col->length = -1;
	col->scale = -1;
	if (typmod < 0)
		return;
	if (strcmp(t, "numeric") == 0) {
		col->length = ((typmod - 4) >> 16) & 0xffff;
		col->scale = (typmod - 4) & 0x7ff;
	} else if (strcmp(t, "varchar") == 0 || strcmp(t, "bpchar") == 0) {
		col->length = typmod - 4;
	} else if (strcmp(t, "bit") == 0 || strcmp(t, "varbit") == 0 ||
		   strncmp(t, "time", 4) == 0 || strcmp(t, "interval") == 0) {
		col->length = strcmp(t, "interval") == 0 ? typmod & 0xffff : typmod;
	}
}

static void key_columns_collect(struct table_schema *ts)
{
	ts->key_cols = xcalloc(ts->ncols, sizeof(size_t));
	for (int pos = 1; pos <= (int)ts->ncols; pos++)
		for (size_t i = 0; i < ts->ncols; i++)
			if (ts->cols[i].key_position == pos)
				ts->key_cols[ts->nkey++] = i;
}

bool table_schema_load(PGconn *conn, const char *label, uint32_t oid, const char *schema,
		       const char *table, struct table_schema **out)
{
	char oid_text[16];
	const char *params[] = { oid_text, schema ? schema : "", table ? table : "" };
	struct table_schema *ts;
	PGresult *res;
	int n;

	snprintf(oid_text, sizeof(oid_text), "%u", oid);
	if (!pgsql_query(conn, label, columns_sql, 3, params, &res))
		return false; /* errors already logged */
	n = PQntuples(res);
	if (n == 0) {
		if (oid)
			log_error("%s: table with OID %u not found in the catalog", label, oid);
		else
			log_error("%s: table %s.%s not found", label, schema, table);
		PQclear(res);
		return false;
	}
	ts = xcalloc(1, sizeof(*ts));
	ts->oid = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	ts->schema = xstrdup(PQgetvalue(res, 0, 1));
	ts->table = xstrdup(PQgetvalue(res, 0, 2));
	ts->ncols = (size_t)n;
	ts->cols = xcalloc(ts->ncols, sizeof(struct column_schema));
	for (int i = 0; i < n; i++) {
		struct column_schema *col = &ts->cols[i];

		col->name = xstrdup(PQgetvalue(res, i, 3));
		col->type_oid = (uint32_t)strtoul(PQgetvalue(res, i, 4), NULL, 10);
		col->type_sql = xstrdup(PQgetvalue(res, i, 5));
		col->base_type = xstrdup(PQgetvalue(res, i, 6));
		col->is_array = strcmp(PQgetvalue(res, i, 7), "t") == 0;
		typmod_decode(col, atoi(PQgetvalue(res, i, 8)));
		col->optional = strcmp(PQgetvalue(res, i, 9), "t") == 0;
		col->key_position = atoi(PQgetvalue(res, i, 10));
	}
	PQclear(res);
	key_columns_collect(ts);
	*out = ts;
	return true;
}

void table_schema_free(struct table_schema *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->ncols; i++) {
		free(ts->cols[i].name);
		free(ts->cols[i].type_sql);
		free(ts->cols[i].base_type);
	}
	free(ts->cols);
	free(ts->key_cols);
	free(ts->schema);
	free(ts->table);
	free(ts);
}

int table_schema_column(const struct table_schema *ts, const char *name)
{
	for (size_t i = 0; i < ts->ncols; i++)
		if (strcmp(ts->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}
