/*
 * agent/pg/table_schema.c: a captured table's columns from the catalog.
 */
#include "pg/table_schema.h"

#include "base/log.h"
#include "base/util.h"
#include "pg/pg_text.h"
#include "pg/pgoutput.h"
#include "pg/pgsql.h"

#include <jansson.h>

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

/* Columns in attnum order; the key is the replica identity index when
 * there is one (REPLICA IDENTITY USING INDEX: the old rows of updates and
 * deletes carry its columns, not the primary key's), else the primary key.
 * indkey is an int2vector (subscripts from 0). */
static const char columns_sql[] =
	"SELECT c.oid, n.nspname, c.relname, a.attname, a.atttypid, "
	"       format_type(a.atttypid, a.atttypmod), "
	"       coalesce(nullif(bt.typname, ''), t.typname), "
	"       t.typcategory = 'A', a.atttypmod, NOT a.attnotnull, "
	"       coalesce(array_position(k.indkey::int2[], a.attnum) "
	"                - array_lower(k.indkey::int2[], 1) + 1, 0), "
	"       a.attnum, " ATTR_DEFAULT_SQL ", " ATTR_MISSING_SQL ", c.relkind "
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
	"     ORDER BY i.indisreplident DESC, i.indisprimary DESC LIMIT 1) k ON true "
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
	ts->relkind = PQgetvalue(res, 0, 14)[0];
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

/* ---- user types and generated columns ------------------------------------- */

/* A type's definition as the catalog has it: what type_json builds on. */
static const char type_sql[] =
	"SELECT t.typtype, n.nspname, t.typname, x.extname, "
	"       t.typcategory = 'A' AND t.typelem <> 0, t.typelem, "
	"       (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) "
	"          FROM pg_enum e WHERE e.enumtypid = t.oid), "
	"       t.typbasetype, format_type(t.typbasetype, t.typtypmod), t.typnotnull, "
	"       pg_get_expr(t.typdefaultbin, 0), "
	"       (SELECT json_agg(json_build_object('name', c.conname, "
	"                                          'def', pg_get_constraintdef(c.oid)) "
	"                        ORDER BY c.conname) "
	"          FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'), "
	"       r.rngsubtype, format_type(r.rngsubtype, NULL), "
	"       (SELECT json_build_array(pn.nspname, p.proname) FROM pg_proc p "
	"          JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = r.rngsubdiff), "
	"       (SELECT json_build_array(pn.nspname, p.proname) FROM pg_proc p "
	"          JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = r.rngcanonical), "
	"       mn.nspname, m.typname, "
	"       (SELECT rr.rngtypid FROM pg_range rr WHERE rr.rngmultitypid = t.oid) "
	"FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
	"LEFT JOIN LATERAL (SELECT e.extname FROM pg_depend d "
	"     JOIN pg_extension e ON e.oid = d.refobjid "
	"     WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid "
	"     AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' LIMIT 1) x ON true "
	"LEFT JOIN pg_range r ON r.rngtypid = t.oid "
	"LEFT JOIN pg_type m ON m.oid = r.rngmultitypid "
	"LEFT JOIN pg_namespace mn ON mn.oid = m.typnamespace "
	"WHERE t.oid = $1::oid";

enum {
	TY_TYPTYPE, TY_SCHEMA, TY_NAME, TY_EXTENSION, TY_IS_ARRAY, TY_ELEM, TY_LABELS,
	TY_BASE, TY_BASE_SQL, TY_NOT_NULL, TY_DEFAULT, TY_CHECKS, TY_SUBTYPE, TY_SUBTYPE_SQL,
	TY_SUBDIFF, TY_CANONICAL, TY_MULTI_SCHEMA, TY_MULTI_NAME, TY_RANGE_OF_MULTI,
};

/* User types nest (a domain of an enum, a range of a domain): this deep at
 * most, deeper ones the target must have. */
#define TYPE_DEPTH_MAX 4

static bool type_json(PGconn *conn, const char *label, uint32_t oid, int depth, json_t **out);

/* A JSON text column of res (json_agg's), or JSON null. */
static json_t *json_column(PGresult *res, int col)
{
	json_t *v = PQgetisnull(res, 0, col) ? NULL
					     : json_loads(PQgetvalue(res, 0, col), JSON_DECODE_ANY, NULL);

	return v ? v : json_null();
}

/* Sets member key of obj to the definition of type oid when it is a user
 * type (key absent otherwise). */
static bool type_json_member(PGconn *conn, const char *label, json_t *obj, const char *key,
			     const char *oid_text, int depth)
{
	json_t *inner = NULL;

	if (!type_json(conn, label, (uint32_t)strtoul(oid_text, NULL, 10), depth + 1, &inner))
		return false; /* errors already logged */
	if (inner)
		json_object_set_new(obj, key, inner);
	return true;
}

/* The definition of the type with that OID (of its element, for an array)
 * as the header's "udt" member, or *out NULL: a built-in type, or one cdc-agent
 * does not describe (composite, base types outside extensions). */
static bool type_json(PGconn *conn, const char *label, uint32_t oid, int depth, json_t **out)
{
	char oid_text[16];
	const char *params[] = { oid_text };
	PGresult *res;
	json_t *def = NULL;
	const char *kind, *schema;
	bool ok = true;

	*out = NULL;
	if (oid == 0 || depth > TYPE_DEPTH_MAX)
		return true;
	snprintf(oid_text, sizeof(oid_text), "%u", oid);
	if (!pgsql_query(conn, label, type_sql, 1, params, &res))
		return false; /* errors already logged */
	if (PQntuples(res) != 1) {
		PQclear(res);
		return true;
	}
	kind = PQgetvalue(res, 0, TY_TYPTYPE);
	schema = PQgetvalue(res, 0, TY_SCHEMA);
	if (PQgetvalue(res, 0, TY_IS_ARRAY)[0] == 't') {
		ok = type_json(conn, label, (uint32_t)strtoul(PQgetvalue(res, 0, TY_ELEM), NULL, 10),
			       depth, out);
		PQclear(res);
		return ok;
	}
	if (!PQgetisnull(res, 0, TY_EXTENSION)) {
		def = json_pack("{s:s, s:s, s:s, s:s}", "kind", "extension", "extension",
				PQgetvalue(res, 0, TY_EXTENSION), "schema", schema, "name",
				PQgetvalue(res, 0, TY_NAME));
	} else if (strcmp(schema, "pg_catalog") == 0 || strcmp(schema, "information_schema") == 0) {
		def = NULL;
	} else if (kind[0] == 'e') {
		def = json_pack("{s:s, s:s, s:s, s:o}", "kind", "enum", "schema", schema, "name",
				PQgetvalue(res, 0, TY_NAME), "labels", json_column(res, TY_LABELS));
	} else if (kind[0] == 'd') {
		def = json_pack("{s:s, s:s, s:s, s:s, s:b}", "kind", "domain", "schema", schema, "name",
				PQgetvalue(res, 0, TY_NAME), "base", PQgetvalue(res, 0, TY_BASE_SQL),
				"not_null", PQgetvalue(res, 0, TY_NOT_NULL)[0] == 't');
		if (!PQgetisnull(res, 0, TY_DEFAULT))
			json_object_set_new(def, "default", json_string(PQgetvalue(res, 0, TY_DEFAULT)));
		if (!PQgetisnull(res, 0, TY_CHECKS))
			json_object_set_new(def, "checks", json_column(res, TY_CHECKS));
		ok = type_json_member(conn, label, def, "base_udt", PQgetvalue(res, 0, TY_BASE), depth);
	} else if (kind[0] == 'r') {
		def = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "kind", "range", "schema", schema,
				"name", PQgetvalue(res, 0, TY_NAME), "subtype",
				PQgetvalue(res, 0, TY_SUBTYPE_SQL), "multirange", "schema",
				PQgetvalue(res, 0, TY_MULTI_SCHEMA), "name",
				PQgetvalue(res, 0, TY_MULTI_NAME));
		if (!PQgetisnull(res, 0, TY_SUBDIFF))
			json_object_set_new(def, "subtype_diff", json_column(res, TY_SUBDIFF));
		if (!PQgetisnull(res, 0, TY_CANONICAL))
			json_object_set_new(def, "canonical", json_column(res, TY_CANONICAL));
		ok = type_json_member(conn, label, def, "subtype_udt",
				      PQgetvalue(res, 0, TY_SUBTYPE), depth);
	} else if (kind[0] == 'm' && !PQgetisnull(res, 0, TY_RANGE_OF_MULTI)) {
		def = json_pack("{s:s, s:s, s:s}", "kind", "multirange", "schema", schema, "name",
				PQgetvalue(res, 0, TY_NAME));
		ok = type_json_member(conn, label, def, "range",
				      PQgetvalue(res, 0, TY_RANGE_OF_MULTI), depth);
	}
	PQclear(res);
	if (!ok) {
		json_decref(def);
		return false;
	}
	*out = def;
	return true;
}

static void column_types_free(struct column_schema *col)
{
	free(col->udt);
	for (size_t i = 0; i < col->nlabels; i++)
		free(col->labels[i]);
	free(col->labels);
	col->udt = NULL;
	col->labels = NULL;
	col->nlabels = 0;
}

/* The enum labels a column's values must be among: an enum's, a domain's
 * of an enum. */
static void column_labels_set(struct column_schema *col, json_t *def)
{
	const char *kind = json_string_value(json_object_get(def, "kind"));
	json_t *labels, *label;
	size_t i;

	if (kind && strcmp(kind, "domain") == 0) {
		def = json_object_get(def, "base_udt");
		kind = json_string_value(json_object_get(def, "kind"));
	}
	if (!kind || strcmp(kind, "enum") != 0)
		return;
	labels = json_object_get(def, "labels");
	col->labels = xcalloc(json_array_size(labels) + 1, sizeof(*col->labels));
	json_array_foreach(labels, i, label)
		if (json_string_value(label))
			col->labels[col->nlabels++] = xstrdup(json_string_value(label));
}

static bool column_types_load(PGconn *conn, const char *label, struct column_schema *col)
{
	json_t *def;

	column_types_free(col);
	if (!type_json(conn, label, col->type_oid, 0, &def))
		return false; /* errors already logged */
	if (!def)
		return true;
	col->udt = json_dumps(def, JSON_COMPACT | JSON_PRESERVE_ORDER);
	column_labels_set(col, def);
	json_decref(def);
	return true;
}

bool table_schema_types_reload(PGconn *conn, const char *label, struct table_schema *ts)
{
	ts->nenum_cols = 0;
	for (size_t i = 0; i < ts->ncols; i++) {
		if (!column_types_load(conn, label, &ts->cols[i]))
			return false; /* errors already logged */
		ts->nenum_cols += ts->cols[i].labels != NULL;
	}
	for (size_t i = 0; i < ts->ngenerated; i++)
		if (!column_types_load(conn, label, &ts->generated_cols[i]))
			return false; /* errors already logged */
	return true;
}

/* Generated columns (STORED, the only kind PostgreSQL 15 has): pgoutput
 * and the snapshot leave them out (columns_sql), the target computes them. */
static const char generated_sql[] =
	"SELECT a.attnum, a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod), "
	"       NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid) "
	"FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
	"WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
	"  AND a.attgenerated = 's' ORDER BY a.attnum";

static bool generated_load(PGconn *conn, const char *label, struct table_schema *ts)
{
	char oid_text[16];
	const char *params[] = { oid_text };
	PGresult *res;
	int n;

	snprintf(oid_text, sizeof(oid_text), "%u", ts->oid);
	if (!pgsql_query(conn, label, generated_sql, 1, params, &res))
		return false; /* errors already logged */
	n = PQntuples(res);
	ts->ngenerated = (size_t)n;
	ts->generated_cols = xcalloc(n ? (size_t)n : 1, sizeof(*ts->generated_cols));
	for (int i = 0; i < n; i++) {
		struct column_schema *col = &ts->generated_cols[i];

		col->attnum = atoi(PQgetvalue(res, i, 0));
		col->name = xstrdup(PQgetvalue(res, i, 1));
		col->type_oid = (uint32_t)strtoul(PQgetvalue(res, i, 2), NULL, 10);
		col->type_sql = xstrdup(PQgetvalue(res, i, 3));
		col->base_type = xstrdup("");
		col->length = col->scale = -1;
		col->optional = PQgetvalue(res, i, 4)[0] == 't';
		col->generated = xstrdup(PQgetvalue(res, i, 5));
	}
	PQclear(res);
	return true;
}

/* What the columns query does not say: user types, generated columns. */
static bool schema_extras_load(PGconn *conn, const char *label, struct table_schema *ts)
{
	return generated_load(conn, label, ts) && table_schema_types_reload(conn, label, ts);
}

static bool label_known(const struct column_schema *col, const char *s, size_t n)
{
	for (size_t i = 0; i < col->nlabels; i++)
		if (strlen(col->labels[i]) == n && memcmp(col->labels[i], s, n) == 0)
			return true;
	return false;
}

bool table_schema_labels_known(const struct table_schema *ts, const struct pgoutput_value *row)
{
	for (size_t c = 0; row && ts->nenum_cols && c < ts->ncols; c++) {
		const struct column_schema *col = &ts->cols[c];
		const struct pgoutput_value *v = &row[c];
		struct pg_array_iter it;
		const char *elem;
		size_t len;
		int r;

		if (!col->labels || v->kind != PGOUTPUT_TEXT)
			continue;
		if (!col->is_array) {
			if (!label_known(col, v->data, v->len))
				return false;
			continue;
		}
		if (!pg_array_iter_init(&it, v->data, v->len))
			continue;
		while ((r = pg_array_iter_next(&it, &elem, &len)) == 1)
			if (elem && !label_known(col, elem, len))
				break;
		pg_array_iter_fini(&it);
		if (r == 1)
			return false;
	}
	return true;
}

int table_schema_generated(const struct table_schema *ts, const char *name)
{
	for (size_t i = 0; i < ts->ngenerated; i++)
		if (strcmp(ts->generated_cols[i].name, name) == 0)
			return (int)i;
	return -1;
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
	if (!schema_extras_load(conn, label, *out)) {
		table_schema_free(*out);
		*out = NULL;
		return false; /* errors already logged */
	}
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
	"       coalesce(a.attnum, 0), " ATTR_DEFAULT_SQL ", " ATTR_MISSING_SQL ", "
	"       coalesce((SELECT relkind FROM pg_class WHERE oid = $1::oid), 'r') "
	"FROM unnest($4::text[], $5::oid[], $6::int4[]) WITH ORDINALITY AS c(name, typ, typmod, ord) "
	"JOIN pg_type t ON t.oid = c.typ "
	"LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' "
	"LEFT JOIN pg_type bt ON bt.oid = coalesce(nullif(et.oid, 0), "
	"     CASE WHEN t.typtype = 'd' THEN t.typbasetype END) "
	"LEFT JOIN pg_attribute a ON a.attrelid = $1::oid AND a.attname = c.name "
	"     AND NOT a.attisdropped "
	"LEFT JOIN LATERAL (SELECT i.indkey FROM pg_index i WHERE i.indrelid = $1::oid "
	"     AND (i.indisprimary OR i.indisreplident) "
	"     ORDER BY i.indisreplident DESC, i.indisprimary DESC LIMIT 1) k ON true "
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
		if (!schema_extras_load(conn, label, *out)) {
			table_schema_free(*out);
			*out = NULL;
			ok = false; /* errors already logged */
		}
	}
	PQclear(res);
	strbuf_fini(&names);
	strbuf_fini(&types);
	strbuf_fini(&typmods);
	return ok;
}

static void column_schema_fini(struct column_schema *col)
{
	free(col->name);
	free(col->type_sql);
	free(col->base_type);
	free(col->generated);
	free(col->default_expr);
	free(col->missing);
	column_types_free(col);
}

void table_schema_free(struct table_schema *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->ncols; i++)
		column_schema_fini(&ts->cols[i]);
	for (size_t i = 0; i < ts->ngenerated; i++)
		column_schema_fini(&ts->generated_cols[i]);
	free(ts->cols);
	free(ts->generated_cols);
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
