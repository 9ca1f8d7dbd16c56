/*
 * agent/apply/apply_types.c: user types on the target, from cdc.columns headers
 * (see apply_types.h).
 *
 * A type the header describes is looked up by its schema and name; when the
 * target has it (of the same kind) it is used as it is, else created like
 * the source's.  The DDL is built from quoted identifiers, quoted literals,
 * types resolved by the target's catalog (column_type.c) and, only when the
 * header is authenticated, the source's own expressions.
 */
#include "apply/apply_types.h"

#include "base/log.h"
#include "base/util.h"
#include "pg/column_type.h"
#include "pg/pgsql.h"
#include "pipeline/event_format.h"

#include <stdlib.h>
#include <string.h>

/* Nesting a header may describe (a domain of an enum, a range of a domain):
 * deeper is refused (capture sends at most 4). */
#define UDT_DEPTH_MAX 5
/* NAMEDATALEN - 1 */
#define NAME_MAX_BYTES 63

static const char *json_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

bool apply_types_name_ok(const char *name, bool schema)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > NAME_MAX_BYTES)
		return false;
	if (!schema)
		return true;
	return strncmp(name, "pg_", 3) != 0 && strcmp(name, "information_schema") != 0 &&
	       strcmp(name, "cdc_agent") != 0;
}

static bool label_in(const char *label, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], label) == 0)
			return true;
	return false;
}

size_t apply_types_label_plan(const char *const *source, size_t nsource, const char *const *have,
			      size_t nhave, struct label_add *out)
{
	size_t nout = 0;

	for (size_t i = 0; i < nsource; i++) {
		bool present = label_in(source[i], have, nhave);

		for (size_t k = 0; !present && k < nout; k++)
			present = strcmp(out[k].label, source[i]) == 0;
		if (present)
			continue;
		out[nout].label = source[i];
		out[nout].neighbour = NULL;
		out[nout].before = false;
		if (i > 0) {
			/* every label before it is there by now */
			out[nout].neighbour = source[i - 1];
		} else {
			for (size_t j = 1; j < nsource && !out[nout].neighbour; j++)
				if (label_in(source[j], have, nhave)) {
					out[nout].neighbour = source[j];
					out[nout].before = true;
				}
		}
		nout++;
	}
	return nout;
}

bool apply_types_label_renamed(const char *const *source, size_t nsource, const char *const *have,
			       size_t nhave, const char **from, const char **to)
{
	size_t at = nsource, differ = 0;

	if (nsource != nhave || nsource == 0)
		return false;
	for (size_t i = 0; i < nsource; i++)
		if (strcmp(source[i], have[i]) != 0) {
			at = i;
			differ++;
		}
	if (differ != 1 || label_in(source[at], have, nhave) || label_in(have[at], source, nsource))
		return false;
	*from = have[at];
	*to = source[at];
	return true;
}

/* ---- the target's catalog -------------------------------------------------- */

/* What the target has under schema.name: *typtype 0 when nothing; *qualified
 * its quoted qualified name (caller frees, NULL when nothing). */
static bool type_lookup(PGconn *db, const char *label, const char *schema, const char *name,
			char *typtype, char **qualified)
{
	const char *params[] = { schema, name };
	PGresult *res;

	*typtype = 0;
	*qualified = NULL;
	if (!pgsql_query(db, label,
			 "SELECT t.typtype, quote_ident(n.nspname) || '.' || quote_ident(t.typname) "
			 "FROM pg_catalog.pg_type t "
			 "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
			 "WHERE n.nspname = $1 AND t.typname = $2",
			 2, params, &res))
		return false; /* errors already logged */
	if (PQntuples(res) == 1) {
		*typtype = PQgetvalue(res, 0, 0)[0];
		*qualified = xstrdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return true;
}

/* The target's labels of enum schema.name, in order; NULL when it has no
 * such enum.  Caller frees with json_decref. */
static bool enum_labels(PGconn *db, const char *label, const char *schema, const char *name,
			json_t **labels)
{
	const char *params[] = { schema, name };
	char *text = NULL;

	*labels = NULL;
	if (!pgsql_query_value(db, label,
			       "SELECT coalesce(json_agg(e.enumlabel ORDER BY e.enumsortorder), '[]') "
			       "FROM pg_catalog.pg_type t "
			       "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
			       "LEFT JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid "
			       "WHERE n.nspname = $1 AND t.typname = $2 AND t.typtype = 'e' "
			       "GROUP BY t.oid",
			       2, params, &text))
		return false; /* errors already logged */
	if (text)
		*labels = json_loads(text, 0, NULL);
	free(text);
	return true;
}

/* "schema"."name" from two header strings (checked), or NULL with *why. */
static char *qualified_name(PGconn *db, const char *schema, const char *name, struct strbuf *why)
{
	char *s, *n, *q;

	if (!apply_types_name_ok(schema, true) || !apply_types_name_ok(name, false)) {
		strbuf_addf(why, "type %.80s.%.80s is not a name the agent creates types under",
			    schema ? schema : "?", name ? name : "?");
		return NULL;
	}
	s = pgsql_quote_ident(db, schema);
	n = pgsql_quote_ident(db, name);
	q = xasprintf("%s.%s", s, n);
	free(s);
	free(n);
	return q;
}

static bool schema_ensure(PGconn *db, const char *label, const char *schema)
{
	char *q = pgsql_quote_ident(db, schema);
	char *sql = xasprintf("CREATE SCHEMA IF NOT EXISTS %s", q);
	bool ok = pgsql_exec(db, label, sql);

	free(sql);
	free(q);
	return ok;
}

/* The header's label strings (each checked), or false with *why. */
static bool labels_read(json_t *udt, const char ***out, size_t *n, struct strbuf *why)
{
	json_t *labels = json_object_get(udt, "labels"), *l;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!json_is_array(labels)) {
		strbuf_adds(why, "an enum without its \"labels\"");
		return false;
	}
	*out = xcalloc(json_array_size(labels) + 1, sizeof(**out));
	json_array_foreach(labels, i, l) {
		const char *s = json_string_value(l);

		if (!s || !s[0] || strlen(s) > NAME_MAX_BYTES) {
			strbuf_adds(why, "an enum label that is not a string of 1 to 63 bytes");
			free(*out);
			*out = NULL;
			return false;
		}
		(*out)[(*n)++] = s;
	}
	return true;
}

/* ---- enums ------------------------------------------------------------------- */

static bool enum_create(PGconn *db, const char *label, const char *schema, const char *qualified,
			const char *const *labels, size_t n)
{
	struct strbuf sql;
	bool ok;

	strbuf_init(&sql);
	strbuf_addf(&sql, "CREATE TYPE %s AS ENUM (", qualified);
	for (size_t i = 0; i < n; i++) {
		char *lit = pgsql_quote_literal(db, labels[i]);

		strbuf_addf(&sql, "%s%s", i ? ", " : "", lit);
		free(lit);
	}
	strbuf_adds(&sql, ")");
	ok = schema_ensure(db, label, schema) && pgsql_exec(db, label, sql.data);
	if (ok)
		log_info("%s: created enum %s with %zu labels", label, qualified, n);
	strbuf_fini(&sql);
	return ok;
}

/* The labels the target's enum lacks, added in the source's order. */
static bool enum_labels_add(PGconn *db, const char *label, const char *qualified, json_t *have,
			    const char *const *labels, size_t n)
{
	const char **have_list = xcalloc(json_array_size(have) + 1, sizeof(*have_list));
	struct label_add *plan = xcalloc(n + 1, sizeof(*plan));
	size_t nhave = 0, nplan;
	json_t *l;
	size_t i;
	bool ok = true;

	const char *from, *to;

	json_array_foreach(have, i, l)
		if (json_string_value(l))
			have_list[nhave++] = json_string_value(l);
	if (apply_types_label_renamed(labels, n, have_list, nhave, &from, &to)) {
		char *f = pgsql_quote_literal(db, from), *t = pgsql_quote_literal(db, to);
		char *sql = xasprintf("ALTER TYPE %s RENAME VALUE %s TO %s", qualified, f, t);

		ok = pgsql_exec(db, label, sql);
		if (ok)
			log_info("%s: enum %s: label %s renamed %s, as at the source", label, qualified,
				 f, t);
		free(sql);
		free(f);
		free(t);
		free(plan);
		free(have_list);
		return ok;
	}
	nplan = apply_types_label_plan(labels, n, have_list, nhave, plan);
	for (i = 0; ok && i < nplan; i++) {
		char *lit = pgsql_quote_literal(db, plan[i].label);
		char *where = plan[i].neighbour ? pgsql_quote_literal(db, plan[i].neighbour) : NULL;
		char *sql = xasprintf("ALTER TYPE %s ADD VALUE IF NOT EXISTS %s%s%s", qualified, lit,
				      !where ? "" : plan[i].before ? " BEFORE " : " AFTER ",
				      where ? where : "");

		ok = pgsql_exec(db, label, sql);
		if (ok)
			log_info("%s: enum %s: added label %s%s%s", label, qualified, lit,
				 !where ? "" : plan[i].before ? " before " : " after ", where ? where : "");
		free(sql);
		free(lit);
		free(where);
	}
	free(plan);
	free(have_list);
	return ok;
}

/* The enum udt on the target with every label of the header's: created when
 * missing (if create), labels added where it lacks some. */
static bool enum_ensure(PGconn *db, const char *label, json_t *udt, bool create, char **qualified,
			struct strbuf *why)
{
	const char *schema = json_str(udt, "schema"), *name = json_str(udt, "name");
	const char **labels = NULL;
	size_t n;
	json_t *have = NULL;
	char typtype;
	char *found = NULL;
	bool ok;

	*qualified = qualified_name(db, schema, name, why);
	if (!*qualified || !labels_read(udt, &labels, &n, why))
		return false;
	ok = type_lookup(db, label, schema, name, &typtype, &found);
	if (ok && typtype && typtype != 'e') {
		strbuf_addf(why, "the target's type %s is not an enum", found);
		ok = false;
	} else if (ok && !typtype && create) {
		ok = enum_create(db, label, schema, *qualified, labels, n);
	} else if (ok && typtype) {
		ok = enum_labels(db, label, schema, name, &have) && have &&
		     enum_labels_add(db, label, *qualified, have, labels, n);
	}
	if (!ok && !why->len)
		strbuf_addf(why, "the target could not make enum %s", *qualified);
	json_decref(have);
	free(found);
	free(labels);
	return ok;
}

/* ---- any udt ------------------------------------------------------------- */

static bool udt_ensure(PGconn *db, const char *label, json_t *udt, bool trusted, int depth,
		       char **qualified, struct strbuf *why);

/* A type text of the header ("integer[]", "numeric(10,2)"), with nested
 * udt when it is a user type: its SQL on the target.  Caller frees. */
static bool inner_type_sql(PGconn *db, const char *label, const char *text, json_t *udt,
			   bool trusted, int depth, char **sql, struct strbuf *why)
{
	struct column_type t;
	char *base = NULL;
	bool ok;

	*sql = NULL;
	if (!text) {
		strbuf_adds(why, "a type without its SQL name");
		return false;
	}
	if (!column_type_parse(text, &t, why)) {
		column_type_fini(&t);
		return false;
	}
	if (!udt) {
		ok = column_type_resolve(db, label, &t, sql, why);
		column_type_fini(&t);
		return ok;
	}
	ok = udt_ensure(db, label, udt, trusted, depth + 1, &base, why);
	if (ok) {
		struct strbuf sb;

		strbuf_init(&sb);
		strbuf_adds(&sb, base);
		if (t.nmods == 1)
			strbuf_addf(&sb, "(%d)", t.mods[0]);
		else if (t.nmods == 2)
			strbuf_addf(&sb, "(%d,%d)", t.mods[0], t.mods[1]);
		for (int i = 0; i < t.array_dims; i++)
			strbuf_adds(&sb, "[]");
		*sql = strbuf_detach(&sb);
	}
	free(base);
	column_type_fini(&t);
	return ok;
}

static bool domain_create(PGconn *db, const char *label, json_t *udt, bool trusted, int depth,
			  const char *qualified, struct strbuf *why)
{
	json_t *checks = json_object_get(udt, "checks"), *c;
	const char *dflt = json_str(udt, "default");
	struct strbuf sql;
	char *base = NULL;
	size_t i;
	bool ok;

	if (!inner_type_sql(db, label, json_str(udt, "base"), json_object_get(udt, "base_udt"),
			    trusted, depth, &base, why))
		return false;
	strbuf_init(&sql);
	strbuf_addf(&sql, "CREATE DOMAIN %s AS %s", qualified, base);
	if (json_is_true(json_object_get(udt, "not_null")))
		strbuf_adds(&sql, " NOT NULL");
	if (trusted && dflt)
		strbuf_addf(&sql, " DEFAULT %s", dflt);
	json_array_foreach(checks, i, c) {
		const char *name = json_str(c, "name"), *def = json_str(c, "def");
		char *q;

		if (!trusted)
			break;
		if (!name || !apply_types_name_ok(name, false) || !def ||
		    strncmp(def, "CHECK ", 6) != 0) {
			strbuf_addf(why, "domain %s: a constraint that is not a named CHECK", qualified);
			strbuf_fini(&sql);
			free(base);
			return false;
		}
		q = pgsql_quote_ident(db, name);
		strbuf_addf(&sql, " CONSTRAINT %s %s", q, def);
		free(q);
	}
	if (!trusted && (dflt || json_array_size(checks) > 0))
		log_warn("%s: domain %s created without its %s: the " EVENT_HEADER_COLUMNS " header is not authenticated, so its SQL expressions are not run (docs/SECURITY.md)",
			 label, qualified,
			 dflt && json_array_size(checks) ? "CHECK constraints and default"
			 : dflt ? "default" : "CHECK constraints");
	ok = schema_ensure(db, label, json_str(udt, "schema")) && pgsql_exec(db, label, sql.data);
	if (ok)
		log_info("%s: created domain %s", label, qualified);
	else
		strbuf_addf(why, "the target could not create domain %s (see the error above)",
			    qualified);
	strbuf_fini(&sql);
	free(base);
	return ok;
}

/* ["schema","function"] of a header, quoted, or NULL with *why. */
static char *function_name(PGconn *db, json_t *pair, struct strbuf *why)
{
	const char *s = json_string_value(json_array_get(pair, 0));
	const char *f = json_string_value(json_array_get(pair, 1));
	char *qs, *qf, *q;

	if (!apply_types_name_ok(s, false) || !apply_types_name_ok(f, false)) {
		strbuf_adds(why, "a range function that is not [schema, name]");
		return NULL;
	}
	qs = pgsql_quote_ident(db, s);
	qf = pgsql_quote_ident(db, f);
	q = xasprintf("%s.%s", qs, qf);
	free(qs);
	free(qf);
	return q;
}

static bool range_create(PGconn *db, const char *label, json_t *udt, bool trusted, int depth,
			 const char *qualified, struct strbuf *why)
{
	json_t *multi = json_object_get(udt, "multirange");
	json_t *diff = json_object_get(udt, "subtype_diff");
	json_t *canonical = json_object_get(udt, "canonical");
	struct strbuf sql;
	char *sub = NULL, *name;
	bool ok = true;

	if (canonical && !trusted) {
		strbuf_addf(why, "range %s has a canonical function, which is SQL the agent runs only from an authenticated header",
			    qualified);
		return false;
	}
	if (!inner_type_sql(db, label, json_str(udt, "subtype"), json_object_get(udt, "subtype_udt"),
			    trusted, depth, &sub, why))
		return false;
	strbuf_init(&sql);
	strbuf_addf(&sql, "CREATE TYPE %s AS RANGE (SUBTYPE = %s", qualified, sub);
	if (multi) {
		name = qualified_name(db, json_str(multi, "schema"), json_str(multi, "name"), why);
		ok = name != NULL;
		if (ok)
			strbuf_addf(&sql, ", MULTIRANGE_TYPE_NAME = %s", name);
		free(name);
	}
	/* functions: names the target resolves, run by the server: trusted only
	 * (subtype_diff only makes GiST indexes better) */
	if (ok && trusted && diff) {
		name = function_name(db, diff, why);
		ok = name != NULL;
		if (ok)
			strbuf_addf(&sql, ", SUBTYPE_DIFF = %s", name);
		free(name);
	}
	if (ok && canonical) {
		name = function_name(db, canonical, why);
		ok = name != NULL;
		if (ok)
			strbuf_addf(&sql, ", CANONICAL = %s", name);
		free(name);
	}
	strbuf_adds(&sql, ")");
	ok = ok && schema_ensure(db, label, json_str(udt, "schema")) &&
	     pgsql_exec(db, label, sql.data);
	if (ok)
		log_info("%s: created range type %s", label, qualified);
	else if (!why->len)
		strbuf_addf(why, "the target could not create range type %s (see the error above)",
			    qualified);
	strbuf_fini(&sql);
	free(sub);
	return ok;
}

/* An extension's type, wherever the target installed the extension. */
static bool extension_type(PGconn *db, const char *label, json_t *udt, char **qualified,
			   struct strbuf *why)
{
	const char *ext = json_str(udt, "extension"), *name = json_str(udt, "name");
	const char *params[] = { ext ? ext : "", name ? name : "" };
	char *found = NULL;

	if (!apply_types_name_ok(ext, false) || !apply_types_name_ok(name, false)) {
		strbuf_adds(why, "an extension type without its extension and name");
		return false;
	}
	if (!pgsql_query_value(db, label,
			       "SELECT quote_ident(n.nspname) || '.' || quote_ident(t.typname) "
			       "FROM pg_catalog.pg_extension e "
			       "JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_extension'::regclass "
			       "     AND d.refobjid = e.oid AND d.classid = 'pg_catalog.pg_type'::regclass "
			       "     AND d.deptype = 'e' "
			       "JOIN pg_catalog.pg_type t ON t.oid = d.objid "
			       "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
			       "WHERE e.extname = $1 AND t.typname = $2",
			       2, params, &found)) {
		strbuf_addf(why, "the target could not look up extension %s", ext);
		return false;
	}
	if (found) {
		*qualified = found;
		return true;
	}
	if (!pgsql_query_value(db, label, "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = $1",
			       1, params, &found)) {
		strbuf_addf(why, "the target could not look up extension %s", ext);
		return false;
	}
	if (found)
		strbuf_addf(why, "the target's extension %s has no type %s", ext, name);
	else
		strbuf_addf(why, "type %s comes from extension %s, which the target database does not have: install it there (CREATE EXTENSION %s, by a superuser or, for a trusted extension, the database owner), then restart apply",
			    name, ext, ext);
	free(found);
	return false;
}

static bool udt_ensure(PGconn *db, const char *label, json_t *udt, bool trusted, int depth,
		       char **qualified, struct strbuf *why)
{
	const char *kind = json_str(udt, "kind");
	const char *schema = json_str(udt, "schema"), *name = json_str(udt, "name");
	char typtype = 0, want;
	char *found = NULL;
	bool ok;

	*qualified = NULL;
	if (depth > UDT_DEPTH_MAX || !kind) {
		strbuf_adds(why, depth > UDT_DEPTH_MAX ? "user types nested too deep" : "a udt without its kind");
		return false;
	}
	if (strcmp(kind, "extension") == 0)
		return extension_type(db, label, udt, qualified, why);
	if (strcmp(kind, "enum") == 0)
		return enum_ensure(db, label, udt, true, qualified, why);
	want = strcmp(kind, "domain") == 0 ? 'd' : strcmp(kind, "range") == 0 ? 'r' :
	       strcmp(kind, "multirange") == 0 ? 'm' : 0;
	if (!want) {
		strbuf_addf(why, "a udt of unknown kind '%.32s'", kind);
		return false;
	}
	*qualified = qualified_name(db, schema, name, why);
	if (!*qualified)
		return false;
	if (!type_lookup(db, label, schema, name, &typtype, &found)) {
		strbuf_addf(why, "the target could not look up type %s", *qualified);
		return false;
	}
	free(found);
	found = NULL;
	if (typtype == want)
		return true; /* the target's own, used as it is */
	if (typtype) {
		strbuf_addf(why, "the target's type %s is not a %s", *qualified, kind);
		return false;
	}
	if (want == 'd')
		return domain_create(db, label, udt, trusted, depth, *qualified, why);
	if (want == 'r')
		return range_create(db, label, udt, trusted, depth, *qualified, why);
	/* a multirange comes with its range */
	{
		char *range = NULL;

		ok = json_object_get(udt, "range") &&
		     udt_ensure(db, label, json_object_get(udt, "range"), trusted, depth + 1, &range,
				why) &&
		     type_lookup(db, label, schema, name, &typtype, &found);
		free(range);
		free(found);
		if (ok && typtype != 'm') {
			strbuf_addf(why, "the target has no multirange %s after creating its range",
				    *qualified);
			ok = false;
		}
		if (!ok && !why->len)
			strbuf_addf(why, "the target could not make multirange %s", *qualified);
		return ok;
	}
}

/* ---- columns -------------------------------------------------------------------- */

bool apply_types_column_sql(PGconn *db, const char *label, const char *table_qualified,
			    const struct event_field *f, bool trusted, char **sql)
{
	char *text = apply_event_sql_type(f);
	struct strbuf why;
	bool ok;

	*sql = NULL;
	if (!text) {
		log_error("%s: column %s of table %s: the event does not say its type (enable json_schemas, or create the column)",
			  label, f->name, table_qualified);
		return false;
	}
	strbuf_init(&why);
	if (f->generated && !trusted) {
		strbuf_addf(&why, "it is generated at the source (GENERATED ALWAYS AS (%.200s) STORED), and the expression comes from a " EVENT_HEADER_COLUMNS " header that is not authenticated: the agent does not run it, and a plain column would differ from the source (create the column on the target, or authenticate the header: docs/SECURITY.md)",
			    f->generated);
		ok = false;
	} else {
		ok = inner_type_sql(db, label, text, f->udt, trusted, 0, sql, &why);
	}
	if (ok && f->generated) {
		char *gen = xasprintf("%s GENERATED ALWAYS AS (%s) STORED", *sql, f->generated);

		free(*sql);
		*sql = gen;
	}
	if (!ok) {
		log_error("%s: column %s of table %s: refused: %s", label, f->name, table_qualified,
			  why.data);
		free(*sql);
		*sql = NULL;
	}
	strbuf_fini(&why);
	free(text);
	return ok;
}

/* ---- labels before a batch -------------------------------------------------------- */

void apply_types_seen_fini(struct apply_types_seen *seen)
{
	for (size_t i = 0; i < APPLY_TYPES_SEEN; i++)
		free(seen->texts[i]);
	memset(seen, 0, sizeof(*seen));
}

bool apply_types_seen_has(const struct apply_types_seen *seen, const char *text, size_t len)
{
	for (size_t i = 0; i < APPLY_TYPES_SEEN; i++)
		if (seen->texts[i] && seen->lens[i] == len && memcmp(seen->texts[i], text, len) == 0)
			return true;
	return false;
}

static void seen_add(struct apply_types_seen *seen, const char *text, size_t len)
{
	free(seen->texts[seen->next]);
	seen->texts[seen->next] = xmalloc(len + 1);
	memcpy(seen->texts[seen->next], text, len);
	seen->texts[seen->next][len] = '\0';
	seen->lens[seen->next] = len;
	seen->next = (seen->next + 1) % APPLY_TYPES_SEEN;
}

/* Every enum in udt (itself, a domain's base, a range's subtype, a
 * multirange's range) made to have the header's labels. */
static bool enums_prepare(PGconn *db, const char *label, json_t *udt, bool create, int depth,
			  struct strbuf *why)
{
	const char *kind = json_str(udt, "kind");
	char *qualified = NULL;
	bool ok;

	if (!kind || depth > UDT_DEPTH_MAX)
		return true; /* refused, if used, when the column is made */
	if (strcmp(kind, "enum") == 0) {
		ok = enum_ensure(db, label, udt, create, &qualified, why);
		free(qualified);
		return ok;
	}
	return enums_prepare(db, label, json_object_get(udt, "base_udt"), create, depth + 1, why) &&
	       enums_prepare(db, label, json_object_get(udt, "subtype_udt"), create, depth + 1, why) &&
	       enums_prepare(db, label, json_object_get(udt, "range"), create, depth + 1, why);
}

bool apply_types_labels_prepare(PGconn *db, const char *label, const char *table,
				const char *header, size_t len, bool create,
				struct apply_types_seen *seen)
{
	json_t *root, *item;
	size_t i;
	bool ok = true;

	if (!header || apply_types_seen_has(seen, header, len))
		return true;
	if (!memmem(header, len, "\"enum\"", 6)) {
		seen_add(seen, header, len);
		return true;
	}
	root = json_loadb(header + event_columns_skip(header, len),
			  len - event_columns_skip(header, len), 0, NULL);
	if (!root)
		return true; /* refused when the record is read */
	/* the array of columns, or an object holding it as "columns" (a header
	 * with a version marker, SHARED.md) */
	json_array_foreach(json_is_object(root) ? json_object_get(root, "columns") : root, i, item) {
		struct strbuf why;

		if (!json_is_object(json_object_get(item, "udt")))
			continue;
		strbuf_init(&why);
		ok = enums_prepare(db, label, json_object_get(item, "udt"), create, 0, &why);
		if (!ok)
			log_error("%s: column %.80s of table %s: refused: %s", label,
				  json_str(item, "name") ? json_str(item, "name") : "?", table,
				  why.len ? why.data : "its enum could not be made (see the error above)");
		strbuf_fini(&why);
		if (!ok)
			break;
	}
	json_decref(root);
	if (ok)
		seen_add(seen, header, len);
	return ok;
}
