/*
 * agent/apply/apply_schema.c: apply's target tables, created and evolved with the
 * source (apply_schema.h).
 *
 * What the source's description of a column was when apply last followed
 * it (type, default, NOT NULL) is kept with the attnum map: a change is a
 * difference between two descriptions of the source, never between the
 * source and the target, so a target column the operator made wider than
 * the source's stays as it is until the source itself changes.
 *
 * A description older than the one applied (records of one table spread
 * over partitions, or an old record written again to Kafka) changes
 * nothing: its rows are applied to the columns that hold their attnums.
 */
#include "apply/apply_schema.h"

#include "apply/apply_types.h"
#include "base/log.h"
#include "config/topo_values.h"
#include "pg/pgsql.h"
#include "pipeline/event_format.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the store in the target --------------------------------------------- */

/* A statement with parameters whose rows do not matter. */
static bool query_ok(struct apply_schema *s, const char *sql, int nparams, const char **params)
{
	PGresult *res;

	if (!pgsql_query(s->db, s->label, sql, nparams, params, &res))
		return false; /* errors already logged */
	PQclear(res);
	return true;
}

bool apply_schema_store_ensure(struct apply_schema *s)
{
	const char *params[] = { s->pipe->name };
	PGresult *res;
	bool ok;

	ok = pgsql_exec(s->db, s->label,
			"CREATE TABLE IF NOT EXISTS cdc_agent.columns ("
			" table_name text NOT NULL, attnum int NOT NULL, column_name text NOT NULL,"
			" source_type text, source_default text, source_not_null bool NOT NULL,"
			" kept bool NOT NULL DEFAULT false, PRIMARY KEY (table_name, attnum))") &&
	     pgsql_exec(s->db, s->label,
			"CREATE TABLE IF NOT EXISTS cdc_agent.schema_versions ("
			" table_name text PRIMARY KEY, pipeline text NOT NULL, version pg_lsn NOT NULL,"
			" changes bigint NOT NULL DEFAULT 0, last_change text,"
			" last_change_at timestamptz)") &&
	     pgsql_query(s->db, s->label,
			 "SELECT coalesce(sum(changes), 0), "
			 " (array_agg(last_change ORDER BY last_change_at DESC NULLS LAST))[1], "
			 " (extract(epoch FROM max(last_change_at)) * 1000000)::bigint "
			 "FROM cdc_agent.schema_versions WHERE pipeline = $1",
			 1, params, &res);
	if (!ok)
		return false; /* errors already logged */
	s->changes = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	free(s->last_change);
	s->last_change = PQgetisnull(res, 0, 1) ? NULL : xstrdup(PQgetvalue(res, 0, 1));
	s->last_change_usec = PQgetisnull(res, 0, 2) ? 0 : strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	return true;
}

static void map_free(struct target_table *tt)
{
	for (size_t i = 0; i < tt->nmap; i++)
		free(tt->map[i].name);
	free(tt->map);
	tt->map = NULL;
	tt->nmap = 0;
}

/* The source's description of a column as last followed (stored with the
 * map; struct column_map holds only what the hot path needs). */
struct source_col {
	int attnum;
	char *name;
	char *type;
	char *def;
	bool not_null;
	bool kept;
};

struct source_desc {
	struct source_col *cols;
	size_t n;
};

static void source_desc_fini(struct source_desc *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->cols[i].name);
		free(d->cols[i].type);
		free(d->cols[i].def);
	}
	free(d->cols);
	memset(d, 0, sizeof(*d));
}

static struct source_col *source_desc_add(struct source_desc *d)
{
	d->cols = xrealloc(d->cols, (d->n + 1) * sizeof(*d->cols));
	memset(&d->cols[d->n], 0, sizeof(d->cols[0]));
	return &d->cols[d->n++];
}

static struct source_col *source_desc_find(const struct source_desc *d, int attnum)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->cols[i].attnum == attnum)
			return &d->cols[i];
	return NULL;
}

static char *value_or_null(PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : xstrdup(PQgetvalue(res, r, c));
}

/* The stored description and version of tt (none yet: empty, 0). */
static bool source_desc_load(struct apply_schema *s, const struct target_table *tt,
			     struct source_desc *d, uint64_t *version)
{
	const char *params[] = { tt->qualified };
	PGresult *res;
	char *v = NULL;

	memset(d, 0, sizeof(*d));
	*version = 0;
	if (!pgsql_query(s->db, s->label,
			 "SELECT attnum, column_name, source_type, source_default, source_not_null, kept "
			 "FROM cdc_agent.columns WHERE table_name = $1 ORDER BY attnum",
			 1, params, &res))
		return false; /* errors already logged */
	for (int r = 0; r < PQntuples(res); r++) {
		struct source_col *sc = source_desc_add(d);

		sc->attnum = atoi(PQgetvalue(res, r, 0));
		sc->name = xstrdup(PQgetvalue(res, r, 1));
		sc->type = value_or_null(res, r, 2);
		sc->def = value_or_null(res, r, 3);
		sc->not_null = PQgetvalue(res, r, 4)[0] == 't';
		sc->kept = PQgetvalue(res, r, 5)[0] == 't';
	}
	PQclear(res);
	if (!pgsql_query_value(s->db, s->label,
			       "SELECT version - '0/0'::pg_lsn FROM cdc_agent.schema_versions "
			       "WHERE table_name = $1",
			       1, params, &v))
		return false; /* errors already logged */
	*version = v ? strtoull(v, NULL, 10) : 0;
	free(v);
	return true;
}

/* Appends text (NULL: a NULL element) to an array literal being built. */
static void array_add(struct strbuf *sb, const char *text)
{
	strbuf_adds(sb, sb->len > 1 ? "," : "");
	if (!text) {
		strbuf_adds(sb, "NULL");
		return;
	}
	strbuf_adds(sb, "\"");
	for (; *text; text++) {
		if (*text == '"' || *text == '\\')
			strbuf_add(sb, "\\", 1);
		strbuf_add(sb, text, 1);
	}
	strbuf_adds(sb, "\"");
}

/* Replaces the stored description of tt by d, at version; changes: the
 * schema changes applied with it (counted), last: the last one's text. */
static bool source_desc_store(struct apply_schema *s, const struct target_table *tt,
			      const struct source_desc *d, uint64_t version, uint64_t changes,
			      const char *last)
{
	struct strbuf arr[6];
	char lsn[32], n[32];
	const char *params[8];
	bool ok;
	PGresult *res;

	for (size_t i = 0; i < ARRAY_LEN(arr); i++) {
		strbuf_init(&arr[i]);
		strbuf_adds(&arr[i], "{");
	}
	for (size_t i = 0; i < d->n; i++) {
		char num[16];

		snprintf(num, sizeof(num), "%d", d->cols[i].attnum);
		array_add(&arr[0], num);
		array_add(&arr[1], d->cols[i].name);
		array_add(&arr[2], d->cols[i].type);
		array_add(&arr[3], d->cols[i].def);
		array_add(&arr[4], d->cols[i].not_null ? "t" : "f");
		array_add(&arr[5], d->cols[i].kept ? "t" : "f");
	}
	for (size_t i = 0; i < ARRAY_LEN(arr); i++)
		strbuf_adds(&arr[i], "}");
	params[0] = tt->qualified;
	for (size_t i = 0; i < ARRAY_LEN(arr); i++)
		params[1 + i] = arr[i].data;
	ok = query_ok(s, "DELETE FROM cdc_agent.columns WHERE table_name = $1", 1, params) &&
	     query_ok(s,
				  "INSERT INTO cdc_agent.columns (table_name, attnum, column_name, source_type,"
				  " source_default, source_not_null, kept) "
				  "SELECT $1, a, n, t, d, nn, k FROM unnest($2::int[], $3::text[], $4::text[],"
				  " $5::text[], $6::bool[], $7::bool[]) AS u(a, n, t, d, nn, k)",
				  7, params);
	for (size_t i = 0; i < ARRAY_LEN(arr); i++)
		strbuf_fini(&arr[i]);
	snprintf(lsn, sizeof(lsn), "%X/%X", (unsigned)(version >> 32), (unsigned)version);
	snprintf(n, sizeof(n), "%" PRIu64, changes);
	params[1] = s->pipe->name;
	params[2] = lsn;
	params[3] = n;
	params[4] = last;
	ok = ok && pgsql_query(s->db, s->label,
			       "INSERT INTO cdc_agent.schema_versions AS v (table_name, pipeline, version,"
			       " changes, last_change, last_change_at) "
			       "VALUES ($1, $2, $3::pg_lsn, $4::bigint, $5::text, CASE WHEN $5::text IS NOT NULL THEN now() END) "
			       "ON CONFLICT (table_name) DO UPDATE SET pipeline = EXCLUDED.pipeline,"
			       " version = EXCLUDED.version, changes = v.changes + EXCLUDED.changes,"
			       " last_change = coalesce(EXCLUDED.last_change, v.last_change),"
			       " last_change_at = coalesce(EXCLUDED.last_change_at, v.last_change_at)",
			       5, params, &res);
	if (ok)
		PQclear(res);
	return ok;
}

/* ---- target tables ------------------------------------------------------------- */

static void cast_types_free(struct target_table *tt)
{
	for (size_t c = 0; tt->cast_types && c < tt->ts->ncols; c++)
		free(tt->cast_types[c]);
	free(tt->cast_types);
	free(tt->typed_arrays);
	tt->cast_types = NULL;
	tt->typed_arrays = NULL;
}

/* Each column's type by its qualified internal name, which statements cast
 * values to (apply_sql.c's add_unnest), and whether an array of it can carry the
 * values: not for array types (an array of arrays is not one), types without
 * an array type, nor types whose arrays are delimited by another character
 * than the ',' statements use (';' for box: text arrays then).  The internal
 * name carries no modifier; SQL's own spelling would ("character" and "bit"
 * mean char(1) and bit(1) in a cast, which cut 'abc' to 'a' and refuse '101'
 * for a bit(3) column). */
static bool cast_types_load(struct apply_schema *s, struct target_table *tt)
{
	struct strbuf oids;
	const char *params[1];
	PGresult *res;
	bool ok;

	strbuf_init(&oids);
	strbuf_adds(&oids, "{");
	for (size_t c = 0; c < tt->ts->ncols; c++)
		strbuf_addf(&oids, "%s%u", c ? "," : "", tt->ts->cols[c].type_oid);
	strbuf_adds(&oids, "}");
	params[0] = oids.data;
	ok = pgsql_query(s->db, s->label,
			 "SELECT quote_ident(n.nspname) || '.' || quote_ident(t.typname), "
			 "t.typarray <> 0 AND t.typcategory <> 'A' AND t.typdelim = ',' "
			 "FROM unnest($1::oid[]) WITH ORDINALITY AS u(o, k) "
			 "JOIN pg_catalog.pg_type t ON t.oid = u.o "
			 "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace ORDER BY u.k",
			 1, params, &res);
	strbuf_fini(&oids);
	if (!ok)
		return false; /* errors already logged */
	if ((size_t)PQntuples(res) != tt->ts->ncols) {
		log_error("%s: table %s: the types of its columns could not be read", s->label,
			  tt->qualified);
		PQclear(res);
		return false;
	}
	tt->cast_types = xcalloc(tt->ts->ncols, sizeof(*tt->cast_types));
	tt->typed_arrays = xcalloc(tt->ts->ncols, sizeof(*tt->typed_arrays));
	for (size_t c = 0; c < tt->ts->ncols; c++) {
		tt->cast_types[c] = xstrdup(PQgetvalue(res, (int)c, 0));
		tt->typed_arrays[c] = PQgetvalue(res, (int)c, 1)[0] == 't';
	}
	PQclear(res);
	return true;
}

static void target_table_free(struct target_table *tt)
{
	if (!tt)
		return;
	if (tt->ts)
		cast_types_free(tt);
	free(tt->schema);
	free(tt->table);
	free(tt->qualified);
	free(tt->name);
	free(tt->fingerprint);
	free(tt->attnums);
	free(tt->keyless_pos);
	map_free(tt);
	table_schema_free(tt->ts);
	free(tt);
}

static bool table_exists(struct apply_schema *s, const char *schema, const char *table,
			 bool *exists)
{
	const char *params[] = { schema, table };
	char *oid = NULL;

	if (!pgsql_query_value(s->db, s->label,
			       "SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2))::oid",
			       2, params, &oid))
		return false; /* errors already logged */
	*exists = oid != NULL;
	free(oid);
	return true;
}

/* The map from the stored description: attnum -> target column. */
static void map_set(struct target_table *tt, const struct source_desc *d)
{
	map_free(tt);
	tt->map = xcalloc(d->n ? d->n : 1, sizeof(*tt->map));
	for (size_t i = 0; i < d->n; i++) {
		tt->map[i].attnum = d->cols[i].attnum;
		tt->map[i].name = xstrdup(d->cols[i].name);
		tt->map[i].kept = d->cols[i].kept;
	}
	tt->nmap = d->n;
}

/* Per target column, the source attnum it holds (from the map). */
static void attnums_set(struct target_table *tt)
{
	free(tt->attnums);
	tt->attnums = xcalloc(tt->ts->ncols ? tt->ts->ncols : 1, sizeof(*tt->attnums));
	for (size_t i = 0; i < tt->nmap; i++) {
		int c = tt->map[i].kept ? -1 : table_schema_column(tt->ts, tt->map[i].name);

		if (c >= 0)
			tt->attnums[c] = tt->map[i].attnum;
	}
}

/* The target's columns (and types), the map and the version, read again. */
static bool target_table_reload(struct apply_schema *s, struct target_table *tt)
{
	struct source_desc d;
	bool ok;

	if (tt->ts)
		cast_types_free(tt);
	table_schema_free(tt->ts);
	tt->ts = NULL;
	free(tt->fingerprint);
	tt->fingerprint = NULL;
	if (!table_schema_load(s->db, s->label, 0, tt->schema, tt->table, &tt->ts))
		return false; /* errors already logged */
	/* A table without a key takes apply_keyless.c's path. */
	ok = cast_types_load(s, tt) && source_desc_load(s, tt, &d, &tt->version);
	if (ok) {
		map_set(tt, &d);
		attnums_set(tt);
	}
	source_desc_fini(&d);
	return ok;
}

/* The map and version alone read again (a description stored, no DDL:
 * the columns are as they were). */
static bool target_table_version_reload(struct apply_schema *s, struct target_table *tt)
{
	struct source_desc d;
	bool ok = source_desc_load(s, tt, &d, &tt->version);

	if (ok) {
		map_set(tt, &d);
		attnums_set(tt);
	}
	source_desc_fini(&d);
	return ok;
}

/* The SQL type of a column the event brings (auto_create, auto_evolve):
 * apply_types.c resolves the event's type by the target's catalog, never
 * its text (column_type.h), making the user types it needs (a generated
 * column's comes with its GENERATED clause, trusted only); it logs why it
 * refuses one under a label naming the record.  *sql: caller frees. */
static bool field_type_sql(struct apply_schema *s, const struct target_table *tt,
			   const struct event_field *f, bool trusted, char **sql, struct strbuf *why)
{
	char *where = xasprintf("%s: topic %s partition %d offset %lld", s->label,
				s->topic ? s->topic : "?", s->partition, (long long)s->offset);
	bool ok = apply_types_column_sql(s->db, where, tt->qualified, f, trusted, sql);

	free(where);
	(void)why;
	s->logged = s->logged || !ok;
	return ok;
}

/* The event's description of its columns as a source description (only
 * the fields that carry an attnum). */
static void source_desc_from_event(const struct apply_event *ev, struct source_desc *d)
{
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < ev->nfields; i++) {
		const struct event_field *f = &ev->fields[i];
		struct source_col *sc;

		if (f->attnum <= 0 || f->generated)
			continue; /* generated: apply_types.c's, no change followed */
		sc = source_desc_add(d);
		sc->attnum = f->attnum;
		sc->name = xstrdup(f->name);
		sc->type = f->source_type ? xstrdup(f->source_type) : NULL;
		sc->def = f->default_expr && ev->schema_trusted ? xstrdup(f->default_expr) : NULL;
		sc->not_null = !f->optional;
	}
}

/* CREATE TABLE from the event's column types, key and (trusted) defaults
 * (auto_create); its map stored with it. */
static bool table_create(struct apply_schema *s, struct target_table *tt,
			 const struct apply_event *ev, struct strbuf *why)
{
	struct strbuf sql, key;
	bool ok = true;
	char *schema = pgsql_quote_ident(s->db, tt->schema);

	strbuf_init(&sql);
	strbuf_init(&key);
	strbuf_addf(&sql, "CREATE TABLE %s (", tt->qualified);
	for (size_t i = 0; ok && i < ev->nfields; i++) {
		const struct event_field *f = &ev->fields[i];
		char *type = NULL;
		char *col = pgsql_quote_ident(s->db, f->name);

		ok = field_type_sql(s, tt, f, ev->schema_trusted, &type, why);
		if (ok)
			strbuf_addf(&sql, "%s%s %s%s", i ? ", " : "", col, type,
				    f->optional ? "" : " NOT NULL");
		/* SQL from a record: only from an authenticated header */
		if (ok && f->default_expr && ev->schema_trusted)
			strbuf_addf(&sql, " DEFAULT %s", f->default_expr);
		free(type);
		free(col);
	}
	for (int pos = 1; ok; pos++) {
		bool found = false;

		for (size_t i = 0; i < ev->nfields; i++) {
			if (ev->fields[i].key_position != pos)
				continue;
			char *col = pgsql_quote_ident(s->db, ev->fields[i].name);

			strbuf_addf(&key, "%s%s", key.len ? ", " : "", col);
			free(col);
			found = true;
		}
		if (!found)
			break;
	}
	if (ok) {
		char *create_schema = xasprintf("CREATE SCHEMA IF NOT EXISTS %s", schema);
		struct source_desc d;

		/* No key in the event: the source table has none (REPLICA
		 * IDENTITY FULL), nor will the target (apply_keyless.c). */
		if (key.len)
			strbuf_addf(&sql, ", PRIMARY KEY (%s)", key.data);
		strbuf_adds(&sql, ")");
		source_desc_from_event(ev, &d);
		ok = pgsql_exec(s->db, s->label, create_schema) &&
		     pgsql_exec(s->db, s->label, sql.data) &&
		     (d.n == 0 || source_desc_store(s, tt, &d, ev->schema_version, 0, NULL));
		source_desc_fini(&d);
		free(create_schema);
		if (ok)
			log_info("%s: created table %s%s", s->label, tt->qualified,
				 key.len ? "" : " without a primary key (the source table has none)");
		else if (!why->len && !s->logged)
			strbuf_addf(why, "cannot create table %s (see the error above)", tt->qualified);
	}
	free(schema);
	strbuf_fini(&sql);
	strbuf_fini(&key);
	return ok;
}

struct target_table *apply_schema_table(struct apply_schema *s, const struct table_ref *ref,
					const struct apply_event *ev, struct strbuf *why)
{
	struct target_table *tt;
	char *schema, *table;
	bool exists;

	s->failed = s->logged = false;
	for (size_t i = 0; i < s->ntables; i++)
		if (strcmp(s->tables[i]->schema, ref->schema) == 0 &&
		    strcmp(s->tables[i]->table, ref->table) == 0)
			return s->tables[i];
	tt = xcalloc(1, sizeof(*tt));
	tt->schema = xstrdup(ref->schema);
	tt->table = xstrdup(ref->table);
	tt->name = table_ref_text(ref);
	schema = pgsql_quote_ident(s->db, ref->schema);
	table = pgsql_quote_ident(s->db, ref->table);
	tt->qualified = xasprintf("%s.%s", schema, table);
	free(schema);
	free(table);
	if (!table_exists(s, tt->schema, tt->table, &exists))
		goto fail_db;
	if (!exists && (ev->op == 't' || ev->op == 'd'))
		goto fail; /* nothing there to truncate or delete from */
	if (!exists && !s->pipe->target->auto_create) {
		strbuf_addf(why, "table %s does not exist in the target and auto_create is off",
			    tt->qualified);
		goto fail;
	}
	if (!exists && !table_create(s, tt, ev, why))
		goto fail_db;
	if (!target_table_reload(s, tt))
		goto fail_db;
	s->tables = xrealloc(s->tables, (s->ntables + 1) * sizeof(*s->tables));
	s->tables[s->ntables++] = tt;
	return tt;
fail_db:
	if (!why->len && !s->logged)
		strbuf_addf(why, "table %s: the target could not be read or changed (see the error above)",
			    tt->qualified);
fail:
	s->failed = why->len > 0 || s->logged;
	target_table_free(tt);
	return NULL;
}

void apply_schema_forget(struct apply_schema *s)
{
	for (size_t i = 0; i < s->ntables; i++)
		target_table_free(s->tables[i]);
	free(s->tables);
	s->tables = NULL;
	s->ntables = 0;
}

const struct event_field *apply_schema_field(const struct target_table *tt,
					     const struct apply_event *ev, size_t c)
{
	const struct event_field *f = apply_event_field(ev, tt->ts->cols[c].name, c);
	int attnum = tt->attnums ? tt->attnums[c] : 0;

	if (attnum == 0 || (f && (f->attnum == attnum || f->attnum == 0)))
		return f;
	/* Renamed or dropped and added again since (an older record). */
	for (size_t i = 0; i < ev->nfields; i++)
		if (ev->fields[i].attnum == attnum)
			return &ev->fields[i];
	return NULL;
}

/* ---- the event's shape ---------------------------------------------------------- */

/* Types a target column of type `have` can take all values of `want` in. */
static bool type_holds(const char *have, const char *want)
{
	static const char *const ints[] = { "smallint", "integer", "bigint", "numeric" };
	int hi = -1, wi = -1;
	int hn, wn, hs, ws;

	if (strcmp(have, want) == 0 || strcmp(have, "text") == 0)
		return true;
	for (int i = 0; i < (int)ARRAY_LEN(ints); i++) {
		if (strcmp(have, ints[i]) == 0)
			hi = i;
		if (strcmp(want, ints[i]) == 0)
			wi = i;
	}
	if (hi >= 0 && wi >= 0)
		return hi >= wi;
	if (sscanf(have, "character varying(%d)", &hn) == 1) {
		if (sscanf(want, "character varying(%d)", &wn) == 1 ||
		    sscanf(want, "character(%d)", &wn) == 1)
			return hn >= wn;
		return false;
	}
	if (strcmp(have, "character varying") == 0)
		return strncmp(want, "character", 9) == 0;
	if (sscanf(have, "numeric(%d,%d)", &hn, &hs) == 2 &&
	    sscanf(want, "numeric(%d,%d)", &wn, &ws) == 2)
		return hs >= ws && hn - hs >= wn - ws;
	return false;
}

static const char *field_type_tag(const struct event_field *f)
{
	const char *t = f->source_type ? f->source_type
			: f->schema    ? json_string_value(json_object_get(f->schema, "type"))
				       : NULL;

	return t ? t : "?";
}

/* "version|name:type;..." of the event; caller frees.  The header's
 * version changes with any change of the source's description (capture),
 * the names and types with Debezium's events. */
static char *event_fingerprint(const struct apply_event *ev)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_addf(&sb, "%" PRIu64 "|", ev->schema_version);
	for (size_t i = 0; i < ev->nfields; i++) {
		strbuf_adds(&sb, ev->fields[i].name);
		strbuf_adds(&sb, ":");
		strbuf_adds(&sb, field_type_tag(&ev->fields[i]));
		strbuf_adds(&sb, ";");
	}
	return strbuf_detach(&sb);
}

/* Whether fp is ev's fingerprint, without building it (every change is
 * checked). */
static bool fingerprint_matches(const char *fp, const struct apply_event *ev)
{
	char *end;

	if (strtoull(fp, &end, 10) != ev->schema_version || *end != '|')
		return false;
	fp = end + 1;
	for (size_t i = 0; i < ev->nfields; i++) {
		const char *name = ev->fields[i].name, *type = field_type_tag(&ev->fields[i]);
		size_t nl = strlen(name), tl = strlen(type);

		if (strncmp(fp, name, nl) != 0 || fp[nl] != ':' || strncmp(fp + nl + 1, type, tl) != 0 ||
		    fp[nl + 1 + tl] != ';')
			return false;
		fp += nl + tl + 2;
	}
	return *fp == '\0';
}

/* ---- following the source ---------------------------------------------------------- */

/* One pass of following a table: what is done so far. */
struct evolution {
	struct apply_schema *s;
	struct target_table *tt;
	const struct apply_event *ev;
	struct strbuf *why;
	bool additive;
	bool flushed;
	uint64_t changes;       /* applied in this pass */
	char *last;             /* the last one's text */
	char **names;           /* per target column (tt->ts): its name now; NULL: dropped */
	size_t nnames;          /* tt->ts->ncols before the DDL (tt is read again after it) */
};

static void evolution_fini(struct evolution *e)
{
	for (size_t c = 0; c < e->nnames; c++)
		free(e->names[c]);
	free(e->names);
	free(e->last);
}

/* Runs "ALTER TABLE <table> <action>" for a change of the source (its text
 * is logged and, when counted, counted), after the rows held for the target
 * went out. */
static bool ddl_counted(struct evolution *e, const char *change, const char *action, bool counted)
{
	struct strbuf err;
	char *sql;
	bool ok;

	if (!e->s->pipe->target->auto_evolve) {
		strbuf_addf(e->why, "table %s: %s at the source, and auto_evolve is off (change the target by hand, then restart)",
			    e->tt->qualified, change);
		return false;
	}
	if (!e->flushed && !e->s->flush(e->s->flush_ctx)) {
		strbuf_addf(e->why, "table %s: the rows before its schema change could not be applied (see the error above)",
			    e->tt->qualified);
		return false;
	}
	e->flushed = true;
	sql = xasprintf("ALTER TABLE %s %s", e->tt->qualified, action);
	strbuf_init(&err);
	ok = pgsql_exec_why(e->s->db, e->s->label, sql, &err);
	free(sql);
	if (!ok)
		strbuf_addf(e->why, "table %s: %s at the source: the target cannot follow: %s; nothing of the batch applied",
			    e->tt->qualified, change, err.data);
	strbuf_fini(&err);
	if (!ok)
		return false;
	if (!counted)
		return true;
	log_info("%s: table %s: %s", e->s->label, e->tt->name, change);
	e->changes++;
	free(e->last);
	e->last = xasprintf("table %s: %s", e->tt->name, change);
	return true;
}

static bool ddl(struct evolution *e, const char *change, const char *action)
{
	return ddl_counted(e, change, action, true);
}

/* ddl() with the action and the change's text formatted from the quoted
 * column name (col) and the rest. */
static bool column_ddl(struct evolution *e, const char *column, const char *change_fmt,
		       const char *action_fmt, const char *arg)
{
	char *col = pgsql_quote_ident(e->s->db, column);
	char *change = xasprintf(change_fmt, column, arg ? arg : "");
	char *action = xasprintf(action_fmt, col, arg ? arg : "");
	bool ok = ddl(e, change, action);

	free(col);
	free(change);
	free(action);
	return ok;
}

/* The target column (index in tt->ts) now named name, or -1. */
static int current_column(const struct evolution *e, const char *name)
{
	for (size_t c = 0; c < e->nnames; c++)
		if (e->names[c] && strcmp(e->names[c], name) == 0)
			return (int)c;
	return -1;
}

/* A column dropped at the source: dropped (follow), or kept nullable with
 * no default, so that new rows get NULL there (additive). */
static bool follow_drop(struct evolution *e, int c, struct source_col *sc)
{
	const struct column_schema *col = &e->tt->ts->cols[c];
	bool ok = true;

	if (!e->additive) {
		ok = column_ddl(e, e->names[c], "column %s dropped", "DROP COLUMN %s", NULL);
		free(e->names[c]);
		e->names[c] = NULL;
		return ok;
	}
	if (!col->optional)
		ok = column_ddl(e, e->names[c],
				"column %s dropped at the source: kept, NOT NULL dropped (additive)",
				"ALTER COLUMN %s DROP NOT NULL", NULL);
	if (ok && col->default_expr)
		ok = column_ddl(e, e->names[c],
				"column %s dropped at the source: kept, default dropped (additive)",
				"ALTER COLUMN %s DROP DEFAULT", NULL);
	if (ok && col->optional && !col->default_expr)
		log_info("%s: table %s: column %s dropped at the source: kept (additive)",
			 e->s->label, e->tt->name, e->names[c]);
	sc->kept = true;
	return ok;
}

/* Renames target columns to the names their attnums have at the source;
 * through temporary names when one takes a name another still has (a
 * swap).  tcols[i]: the target column of field i, -1 for none. */
static bool follow_renames(struct evolution *e, const int *tcols)
{
	const struct apply_event *ev = e->ev;
	bool through_tmp = false, ok = true;

	for (size_t i = 0; i < ev->nfields; i++) {
		int c = tcols[i], other;

		if (c < 0 || strcmp(e->names[c], ev->fields[i].name) == 0)
			continue;
		other = current_column(e, ev->fields[i].name);
		if (other < 0)
			continue;
		/* Taken: by a column renamed too, or by one that stays. */
		bool renamed = false;

		for (size_t j = 0; j < ev->nfields; j++)
			renamed = renamed || (tcols[j] == other &&
					      strcmp(ev->fields[j].name, e->names[other]) != 0);
		if (!renamed) {
			strbuf_addf(e->why, "table %s: column %s renamed to %s at the source, but the target's column %s %s; stopping (rename or drop the target's column, then restart)",
				    e->tt->qualified, e->names[c], ev->fields[i].name, ev->fields[i].name,
				    e->additive ? "is kept from a column dropped at the source (additive)"
						: "is not the source's");
			return false;
		}
		through_tmp = true;
	}
	for (int pass = through_tmp ? 0 : 1; ok && pass < 2; pass++)
		for (size_t i = 0; ok && i < ev->nfields; i++) {
			int c = tcols[i];
			char *to, *col_to, *action, *change;

			if (c < 0 || strcmp(e->names[c], ev->fields[i].name) == 0)
				continue;
			to = pass == 0 ? xasprintf("cdc_agent_renaming_%d", ev->fields[i].attnum)
				       : xstrdup(ev->fields[i].name);
			col_to = pgsql_quote_ident(e->s->db, to);
			{
				char *col = pgsql_quote_ident(e->s->db, e->names[c]);

				action = xasprintf("RENAME COLUMN %s TO %s", col, col_to);
				free(col);
			}
			change = xasprintf("column %s renamed to %s", e->tt->ts->cols[c].name, to);
			/* the temporary name is no change of its own */
			ok = ddl_counted(e, change, action, pass == 1);
			free(e->names[c]);
			e->names[c] = to;
			free(col_to);
			free(action);
			free(change);
		}
	return ok;
}

/* A column new at the source.  Rows older than it get the value the
 * source's older rows have: its "missing" value (what PostgreSQL gives rows
 * older than a column added with a non-volatile default) as a literal
 * default for the ADD, then the column's own default (an expression: only
 * from an authenticated header); with no missing value, its default
 * expression evaluated by the target (a volatile default then gives other
 * values than the source's: docs/SCHEMA_CHANGES.md). */
static bool follow_add(struct evolution *e, const struct event_field *f)
{
	const char *def = e->ev->schema_trusted ? f->default_expr : NULL;
	char *type = NULL, *col, *lit = NULL, *action, *change;
	bool ok, known_rows = f->missing || def;

	if (current_column(e, f->name) >= 0) {
		strbuf_addf(e->why, "table %s: column %s is new at the source, but the target has a column %s %s; stopping (rename or drop the target's column, then restart)",
			    e->tt->qualified, f->name, f->name,
			    e->additive ? "kept from a column dropped at the source (additive)"
					: "that is not the source's");
		return false;
	}
	if (!field_type_sql(e->s, e->tt, f, e->ev->schema_trusted, &type, e->why))
		return false;
	col = pgsql_quote_ident(e->s->db, f->name);
	if (f->missing)
		lit = pgsql_quote_literal(e->s->db, f->missing);
	action = f->missing ? xasprintf("ADD COLUMN %s %s DEFAULT %s::%s", col, type, lit, type)
		 : def	    ? xasprintf("ADD COLUMN %s %s DEFAULT %s", col, type, def)
			    : xasprintf("ADD COLUMN %s %s", col, type);
	change = xasprintf("column %s added (%s%s%s%s%s)", f->name, f->source_type ? f->source_type : type,
			   def ? " DEFAULT " : "", def ? def : "",
			   f->missing && (!def || strcmp(def, f->missing) != 0) ? ", older rows " : "",
			   f->missing && (!def || strcmp(def, f->missing) != 0) ? f->missing : "");
	ok = ddl(e, change, action);
	free(action);
	/* The literal was for the older rows only: the column's own default. */
	if (ok && f->missing) {
		action = def ? xasprintf("ALTER COLUMN %s SET DEFAULT %s", col, def)
			     : xasprintf("ALTER COLUMN %s DROP DEFAULT", col);
		ok = ddl_counted(e, change, action, false);
		free(action);
	}
	/* NOT NULL with older rows of unknown values: follow tries (the
	 * target refuses when it has such rows: FAILED, nothing applied). */
	if (ok && !f->optional && f->key_position == 0 && !known_rows && e->additive) {
		log_warn("%s: table %s: column %s is NOT NULL at the source, but its older rows' values are unknown here: left nullable (additive)",
			 e->s->label, e->tt->name, f->name);
	} else if (ok && !f->optional && f->key_position == 0) {
		action = xasprintf("ALTER COLUMN %s SET NOT NULL", col);
		ok = ddl_counted(e, change, action, false);
		free(action);
	}
	free(change);
	free(lit);
	free(col);
	free(type);
	return ok;
}

/* The source changed the column's type: the target column gets the same
 * type (follow).  additive does not narrow: a type the old one holds every
 * value of (bigint -> integer, varchar(20) -> varchar(10), numeric(10,2) ->
 * numeric(8,2)) is not applied, the wider target column takes every new
 * value; a type of another kind (integer -> date) is applied as follow does,
 * else its values would land converted in the old type. */
static bool follow_type(struct evolution *e, int c, const struct event_field *f,
			const char *old_type)
{
	char *type = NULL, *col, *action, *change;
	bool ok;

	if (e->additive && type_holds(old_type, f->source_type)) {
		log_info("%s: table %s: column %s type %s -> %s at the source: not applied (schema_changes = additive: the target's %s holds every value of it)",
			 e->s->label, e->tt->name, f->name, old_type, f->source_type,
			 e->tt->ts->cols[c].type_sql);
		return true;
	}
	if (!field_type_sql(e->s, e->tt, f, e->ev->schema_trusted, &type, e->why))
		return false;
	col = pgsql_quote_ident(e->s->db, e->names[c]);
	action = xasprintf("ALTER COLUMN %s TYPE %s USING %s::%s", col, type, col, type);
	change = xasprintf("column %s type %s -> %s", f->name, old_type, f->source_type);
	ok = ddl(e, change, action);
	free(change);
	free(action);
	free(col);
	free(type);
	return ok;
}

/* SET/DROP DEFAULT, from an authenticated header only. */
static bool follow_default(struct evolution *e, int c, const struct event_field *f,
			   const char *old_def)
{
	const char *def = f->default_expr;

	if (!e->ev->schema_trusted || (def && old_def && strcmp(def, old_def) == 0) ||
	    (!def && !old_def))
		return true;
	if (!def)
		return column_ddl(e, e->names[c], "column %s default dropped%s",
				  "ALTER COLUMN %s DROP DEFAULT", NULL);
	return column_ddl(e, e->names[c], "column %s default %s", "ALTER COLUMN %s SET DEFAULT %s",
			  def);
}

/* SET/DROP NOT NULL (additive: only DROP). */
static bool follow_not_null(struct evolution *e, int c, const struct event_field *f,
			    bool old_not_null)
{
	if (f->key_position || !f->optional == old_not_null)
		return true;
	if (f->optional)
		return column_ddl(e, e->names[c], "column %s NOT NULL dropped%s",
				  "ALTER COLUMN %s DROP NOT NULL", NULL);
	if (e->additive) {
		log_warn("%s: table %s: column %s NOT NULL at the source: not applied (schema_changes = additive)",
			 e->s->label, e->tt->name, f->name);
		return true;
	}
	return column_ddl(e, e->names[c], "column %s NOT NULL set%s", "ALTER COLUMN %s SET NOT NULL",
			  NULL);
}

/* Generated columns (apply_types.c makes them): the target computes them,
 * no change of theirs is followed here.  *skip: a generated field the
 * target has generated too; false with *why when only one side has it
 * generated (the target would not follow the source). */
static bool generated_match(struct evolution *e, const struct event_field *f, bool *skip)
{
	int c = table_schema_column(e->tt->ts, f->name);
	bool target_generated = c < 0 && table_schema_generated(e->tt->ts, f->name) >= 0;

	*skip = target_generated && f->generated;
	if (*skip || !((c >= 0 && f->generated) || target_generated))
		return true;
	strbuf_addf(e->why, "column %s of table %s is generated %s but not %s: the target would not follow the source; stopping, nothing applied (change the target column, then restart)",
		    f->name, e->tt->qualified, f->generated ? "at the source" : "in the target",
		    f->generated ? "in the target" : "at the source");
	return false;
}

/* Events without attnums (Debezium's own, or a header without them): a
 * column is known by its name.  New names are added (no default: no
 * expression travels there); a column gone from the events, or a type the
 * target column cannot hold, stops apply: without attnums a drop cannot be
 * told from a rename. */
static bool follow_by_name(struct evolution *e)
{
	const struct apply_event *ev = e->ev;
	struct target_table *tt = e->tt;
	bool ok = true;

	for (size_t i = 0; ok && i < ev->nfields; i++) {
		const struct event_field *f = &ev->fields[i];
		int c = table_schema_column(tt->ts, f->name);
		bool skip;

		if (!generated_match(e, f, &skip))
			ok = false;
		else if (skip)
			continue;
		else if (c < 0 && !e->s->pipe->target->auto_evolve) {
			strbuf_addf(e->why, "column %s of table %s is new at the source and auto_evolve is off",
				    f->name, tt->qualified);
			ok = false;
		} else if (c < 0) {
			ok = follow_add(e, f);
		} else if (f->source_type && !type_holds(tt->ts->cols[c].type_sql, f->source_type)) {
			strbuf_addf(e->why, "column %s of table %s is %s at the source but %s in the target, which cannot hold all its values: stopping (change the target column, then restart)",
				    f->name, tt->qualified, f->source_type, tt->ts->cols[c].type_sql);
			ok = false;
		}
	}
	for (size_t c = 0; ok && c < tt->ts->ncols; c++) {
		if (apply_event_field(ev, tt->ts->cols[c].name, c))
			continue;
		strbuf_addf(e->why, "column %s of table %s is gone from the source's events (dropped at the source?): without attribute numbers in the events (" EVENT_HEADER_COLUMNS ") the agent does not drop target columns; stopping, nothing applied (drop or keep it by hand, then restart)",
			    tt->ts->cols[c].name, tt->qualified);
		ok = false;
	}
	return ok;
}

static bool field_has_attnum(const struct apply_event *ev, int attnum)
{
	for (size_t i = 0; i < ev->nfields; i++)
		if (ev->fields[i].attnum == attnum)
			return true;
	return false;
}

/* The target column of each field (tcols), -1 for a new column; a column
 * met for the first time is taken as it is when it can hold the source's
 * values.  old: the stored description. */
static bool match_columns(struct evolution *e, const struct source_desc *old, int *tcols)
{
	const struct apply_event *ev = e->ev;
	const struct table_schema *ts = e->tt->ts;

	for (size_t i = 0; i < ev->nfields; i++) {
		const struct event_field *f = &ev->fields[i];
		const struct source_col *sc = f->attnum > 0 ? source_desc_find(old, f->attnum) : NULL;
		int c;
		bool skip;

		if (!generated_match(e, f, &skip))
			return false;
		tcols[i] = skip ? -2 : -1; /* -2: generated on both sides, left alone */
		if (skip || f->generated)
			continue; /* a generated column new at the source: added */
		if (sc) {
			tcols[i] = sc->kept ? -1 : table_schema_column(ts, sc->name);
			continue;
		}
		c = table_schema_column(ts, f->name);
		/* A name another attnum holds (still at the source, or dropped
		 * there): not this column. */
		for (size_t k = 0; c >= 0 && f->attnum > 0 && k < old->n; k++)
			if (strcmp(old->cols[k].name, f->name) == 0 && old->cols[k].attnum != f->attnum)
				c = -1;
		tcols[i] = c;
		if (c >= 0 && f->source_type && !type_holds(ts->cols[c].type_sql, f->source_type)) {
			strbuf_addf(e->why, "column %s of table %s is %s at the source but %s in the target, which cannot hold all its values: stopping (change the target column, then restart)",
				    f->name, e->tt->qualified, f->source_type, ts->cols[c].type_sql);
			return false;
		}
	}
	return true;
}

/* Drops (or keeps, additive) the target columns whose attnums the source
 * no longer has; kept ones stay in the new description. */
static bool follow_drops(struct evolution *e, struct source_desc *old, struct source_desc *now)
{
	bool ok = true, all_known = true;

	/* A field without its attnum (capture did not find it in the catalog:
	 * renamed since) may be any stored one: nothing is dropped then. */
	for (size_t i = 0; i < e->ev->nfields; i++)
		all_known = all_known && e->ev->fields[i].attnum > 0;
	for (size_t k = 0; ok && k < old->n; k++) {
		struct source_col *sc = &old->cols[k];
		int c = current_column(e, sc->name);
		struct source_col *keep;

		if (field_has_attnum(e->ev, sc->attnum) || c < 0)
			continue; /* still there, or gone from the target too */
		if (!all_known && !sc->kept) {
			keep = source_desc_add(now);
			keep->attnum = sc->attnum;
			keep->name = xstrdup(sc->name);
			keep->type = sc->type ? xstrdup(sc->type) : NULL;
			keep->def = sc->def ? xstrdup(sc->def) : NULL;
			keep->not_null = sc->not_null;
			continue;
		}
		if (!sc->kept)
			ok = follow_drop(e, c, sc);
		if (ok && sc->kept) {
			keep = source_desc_add(now);
			keep->attnum = sc->attnum;
			keep->name = xstrdup(sc->name);
			keep->type = sc->type ? xstrdup(sc->type) : NULL;
			keep->not_null = false;
			keep->kept = true;
		}
	}
	return ok;
}

/* Events with attnums: the differences between the stored description
 * (old) and the event's, applied to the target in an order that frees
 * names before they are taken again: drops, renames, adds, then types,
 * defaults and NOT NULL. */
static bool follow_by_attnum(struct evolution *e, struct source_desc *old, struct source_desc *now)
{
	const struct apply_event *ev = e->ev;
	int *tcols = xcalloc(ev->nfields ? ev->nfields : 1, sizeof(*tcols));
	bool ok = match_columns(e, old, tcols) && follow_drops(e, old, now) &&
		  follow_renames(e, tcols);

	for (size_t i = 0; ok && i < ev->nfields; i++)
		if (tcols[i] == -1)
			ok = follow_add(e, &ev->fields[i]);
	for (size_t i = 0; ok && i < ev->nfields; i++) {
		const struct event_field *f = &ev->fields[i];
		const struct source_col *sc = f->attnum > 0 ? source_desc_find(old, f->attnum) : NULL;
		int c = tcols[i];

		if (c < 0)
			continue;
		if (sc && sc->type && f->source_type && strcmp(sc->type, f->source_type) != 0)
			ok = follow_type(e, c, f, sc->type);
		/* first met: the target's own default is the one to compare */
		if (ok)
			ok = follow_default(e, c, f, sc ? sc->def : e->tt->ts->cols[c].default_expr);
		if (ok && sc)
			ok = follow_not_null(e, c, f, sc->not_null);
	}
	free(tcols);
	return ok;
}

static bool source_desc_equal(const struct source_desc *a, const struct source_desc *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct source_col *x = &a->cols[i], *y = source_desc_find(b, a->cols[i].attnum);

		if (!y || strcmp(x->name, y->name) != 0 || x->not_null != y->not_null ||
		    x->kept != y->kept || (x->type ? !y->type || strcmp(x->type, y->type) != 0 : !!y->type) ||
		    (x->def ? !y->def || strcmp(x->def, y->def) != 0 : !!y->def))
			return false;
	}
	return true;
}

/* The event's description to store: its columns with attnums, defaults
 * from the stored one where the header is not authenticated (its
 * expressions are not read then). */
static void source_desc_next(const struct apply_event *ev, const struct source_desc *old,
			     struct source_desc *now)
{
	source_desc_from_event(ev, now);
	for (size_t i = 0; !ev->schema_trusted && i < now->n; i++) {
		const struct source_col *sc = source_desc_find(old, now->cols[i].attnum);

		if (sc && sc->def)
			now->cols[i].def = xstrdup(sc->def);
	}
}

static bool event_has_attnums(const struct apply_event *ev)
{
	for (size_t i = 0; i < ev->nfields; i++)
		if (ev->fields[i].attnum > 0)
			return true;
	return false;
}

/* Follows the source with attnums: the DDL, the description stored, the
 * table read again. */
static bool follow_table(struct evolution *e)
{
	struct source_desc old, now;
	uint64_t version;
	bool ok;

	if (!source_desc_load(e->s, e->tt, &old, &version))
		return false; /* errors already logged */
	source_desc_next(e->ev, &old, &now);
	ok = follow_by_attnum(e, &old, &now);
	if (ok && (e->changes > 0 || !source_desc_equal(&old, &now) ||
		   e->ev->schema_version != version))
		ok = source_desc_store(e->s, e->tt, &now,
				       e->ev->schema_version > version ? e->ev->schema_version : version,
				       e->changes, e->last);
	source_desc_fini(&old);
	source_desc_fini(&now);
	return ok;
}

bool apply_schema_follow(struct apply_schema *s, struct target_table *tt,
			 const struct apply_event *ev, struct strbuf *why)
{
	struct evolution e = { .s = s, .tt = tt, .ev = ev, .why = why };
	char *fp;
	bool ok;

	s->failed = s->logged = false;
	if (tt->fingerprint && fingerprint_matches(tt->fingerprint, ev))
		return true;
	fp = event_fingerprint(ev);
	/* An older description than the one applied changes nothing: never
	 * back to columns the source renamed or dropped since (a replayed
	 * record); its rows go to the columns holding their attnums. */
	if (ev->schema_version && ev->schema_version < tt->version) {
		log_debug("%s: table %s: a record of an older description (version %" PRIu64 " < %" PRIu64 "): applied to the columns as they are",
			  s->label, tt->name, ev->schema_version, tt->version);
		free(tt->fingerprint);
		tt->fingerprint = fp;
		return true;
	}
	e.additive = s->pipe->schema_changes == SCHEMA_CHANGES_ADDITIVE;
	e.names = xcalloc(tt->ts->ncols ? tt->ts->ncols : 1, sizeof(*e.names));
	e.nnames = tt->ts->ncols;
	for (size_t c = 0; c < tt->ts->ncols; c++)
		e.names[c] = xstrdup(tt->ts->cols[c].name);
	ok = event_has_attnums(ev) ? follow_table(&e) : follow_by_name(&e);
	if (ok && e.changes > 0) {
		s->batch_changes += e.changes;
		free(s->batch_last_change);
		s->batch_last_change = xstrdup(e.last);
	}
	if (ok && (e.flushed || e.changes > 0))
		ok = target_table_reload(s, tt);
	else if (ok && event_has_attnums(ev))
		ok = target_table_version_reload(s, tt);
	if (ok) {
		free(tt->fingerprint);
		tt->fingerprint = fp;
	} else {
		free(fp);
		s->failed = true;
		if (!why->len && !s->logged)
			strbuf_addf(why, "table %s: its schema change could not be applied (see the error above)",
				    tt->qualified);
	}
	evolution_fini(&e);
	return ok;
}

void apply_schema_batch_end(struct apply_schema *s, bool committed)
{
	if (committed && s->batch_changes) {
		s->changes += s->batch_changes;
		free(s->last_change);
		s->last_change = s->batch_last_change;
		s->batch_last_change = NULL;
		s->last_change_usec = wall_usec();
	}
	s->batch_changes = 0;
	free(s->batch_last_change);
	s->batch_last_change = NULL;
}

void apply_schema_init(struct apply_schema *s, const char *label, const struct pipeline_cfg *pipe)
{
	memset(s, 0, sizeof(*s));
	s->label = label;
	s->pipe = pipe;
}

void apply_schema_fini(struct apply_schema *s)
{
	apply_schema_forget(s);
	free(s->last_change);
	free(s->batch_last_change);
	memset(s, 0, sizeof(*s));
}
