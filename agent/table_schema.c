/*
 * agent/table_schema.c: a captured table's columns from the catalog.
 */
#include "table_schema.h"

#include "log.h"
#include "pgoutput.h"
#include "pgsql.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A column's default expression and the value rows older than the column
 * have (PostgreSQL keeps it when ADD COLUMN's default needs no rewrite; a
 * later rewrite stores it in the rows and drops it).  As text of the element:
 * only for types whose array literal splits on ',' and that are no arrays. */
#define ATTR_DEFAULT_SQL \
	"(SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d " \
	" WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.attgenerated = '')"
#define ATTR_MISSING_SQL \
	"CASE WHEN a.atthasmissing AND t.typcategory <> 'A' AND t.typdelim = ',' " \
	"     THEN (a.attmissingval::text::text[])[1] END"

/* Columns in attnum order; the key is the primary key, else the replica
 * identity index.  indkey is an int2vector (subscripts from 0). */
static const char columns_sql[] =
	"SELECT c.oid, n.nspname, c.relname, a.attname, a.atttypid, "
	"       format_type(a.atttypid, a.atttypmod), "
	"       coalesce(nullif(bt.typname, ''), t.typname), "
	"       t.typcategory = 'A', a.atttypmod, NOT a.attnotnull, "
	"       coalesce(array_position(k.indkey::int2[], a.attnum) "
	"                - array_lower(k.indkey::int2[], 1) + 1, 0), "
	"       a.attnum, " ATTR_DEFAULT_SQL ", " ATTR_MISSING_SQL " "
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

/* Builds the schema from rows of columns_sql / relation_sql (same columns). */
static void schema_from_result(PGresult *res, struct table_schema **out)
{
	struct table_schema *ts = xcalloc(1, sizeof(*ts));
	int n = PQntuples(res);

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
		col->attnum = atoi(PQgetvalue(res, i, 11));
		col->default_expr = PQgetisnull(res, i, 12) ? NULL : xstrdup(PQgetvalue(res, i, 12));
		col->missing = PQgetisnull(res, i, 13) ? NULL : xstrdup(PQgetvalue(res, i, 13));
	}
	key_columns_collect(ts);
	*out = ts;
}

bool table_schema_load(PGconn *conn, const char *label, uint32_t oid, const char *schema,
		       const char *table, struct table_schema **out)
{
	char oid_text[16];
	const char *params[] = { oid_text, schema ? schema : "", table ? table : "" };
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
	schema_from_result(res, out);
	PQclear(res);
	return true;
}

/* The relation's columns, in its order, with what the catalog knows of them;
 * a column the catalog no longer has (dropped or renamed since) is nullable,
 * not key, attnum 0 (unknown: apply then knows it by its name). */
static const char relation_sql[] =
	"SELECT $1::oid, $2::text, $3::text, c.name, c.typ, format_type(c.typ, c.typmod), "
	"       coalesce(nullif(bt.typname, ''), t.typname), t.typcategory = 'A', c.typmod, "
	"       coalesce(NOT a.attnotnull, true), "
	"       coalesce(array_position(k.indkey::int2[], a.attnum) "
	"                - array_lower(k.indkey::int2[], 1) + 1, 0), "
	"       coalesce(a.attnum, 0), " ATTR_DEFAULT_SQL ", " ATTR_MISSING_SQL " "
	"FROM unnest($4::text[], $5::oid[], $6::int4[]) WITH ORDINALITY AS c(name, typ, typmod, ord) "
	"JOIN pg_type t ON t.oid = c.typ "
	"LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' "
	"LEFT JOIN pg_type bt ON bt.oid = coalesce(nullif(et.oid, 0), "
	"     CASE WHEN t.typtype = 'd' THEN t.typbasetype END) "
	"LEFT JOIN pg_attribute a ON a.attrelid = $1::oid AND a.attname = c.name "
	"     AND NOT a.attisdropped "
	"LEFT JOIN LATERAL (SELECT i.indkey FROM pg_index i WHERE i.indrelid = $1::oid "
	"     AND (i.indisprimary OR i.indisreplident) "
	"     ORDER BY i.indisprimary DESC LIMIT 1) k ON true "
	"ORDER BY c.ord";

/* Appends s as a quoted element of an array literal. */
static void array_add_text(struct strbuf *sb, const char *s)
{
	strbuf_adds(sb, sb->len > 1 ? ",\"" : "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_add(sb, "\\", 1);
		strbuf_add(sb, s, 1);
	}
	strbuf_adds(sb, "\"");
}

bool table_schema_from_relation(PGconn *conn, const char *label,
				const struct pgoutput_relation *rel, struct table_schema **out)
{
	struct strbuf names, types, typmods;
	char oid_text[16];
	const char *params[6];
	PGresult *res;
	bool ok;

	strbuf_init(&names);
	strbuf_init(&types);
	strbuf_init(&typmods);
	strbuf_adds(&names, "{");
	strbuf_adds(&types, "{");
	strbuf_adds(&typmods, "{");
	for (uint16_t i = 0; i < rel->ncols; i++) {
		array_add_text(&names, rel->cols[i].name);
		strbuf_addf(&types, "%s%u", i ? "," : "", rel->cols[i].type_oid);
		strbuf_addf(&typmods, "%s%d", i ? "," : "", rel->cols[i].typmod);
	}
	strbuf_adds(&names, "}");
	strbuf_adds(&types, "}");
	strbuf_adds(&typmods, "}");
	snprintf(oid_text, sizeof(oid_text), "%u", rel->oid);
	params[0] = oid_text;
	params[1] = rel->nspname;
	params[2] = rel->relname;
	params[3] = names.data;
	params[4] = types.data;
	params[5] = typmods.data;
	ok = pgsql_query(conn, label, relation_sql, 6, params, &res);
	if (ok && (rel->ncols == 0 || PQntuples(res) != rel->ncols)) {
		log_error("%s: relation %s.%s: the catalog does not know all its column types", label,
			  rel->nspname, rel->relname);
		ok = false;
	}
	if (ok)
		schema_from_result(res, out);
	if (ok) {
		free((*out)->schema);
		free((*out)->table);
		(*out)->oid = rel->oid;
		(*out)->schema = xstrdup(rel->nspname);
		(*out)->table = xstrdup(rel->relname);
	}
	PQclear(res);
	strbuf_fini(&names);
	strbuf_fini(&types);
	strbuf_fini(&typmods);
	return ok;
}

void table_schema_free(struct table_schema *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->ncols; i++) {
		free(ts->cols[i].name);
		free(ts->cols[i].type_sql);
		free(ts->cols[i].base_type);
		free(ts->cols[i].default_expr);
		free(ts->cols[i].missing);
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
