/*
 * agent/apply/apply_keyless.c: changes of a table without a key, one statement
 * each (apply_keyless.h).
 */
#include "apply/apply_keyless.h"

#include "pg/pgsql.h"
#include "pipeline/event_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *keyless_sql(char op, const char *qualified, size_t ncols, const char *const *cols,
		  const char *const *set_types, const char *const *match_types, const char *set,
		  const char *match)
{
	struct strbuf sb;
	size_t p = 0, k = 0;

	strbuf_init(&sb);
	if (op == 'c') {
		strbuf_addf(&sb, "INSERT INTO %s (", qualified);
		for (size_t c = 0; c < ncols; c++)
			if (set[c] == '1')
				strbuf_addf(&sb, "%s%s", k++ ? ", " : "", cols[c]);
		strbuf_adds(&sb, k ? ") VALUES (" : ") DEFAULT VALUES");
		if (!k) {
			/* "INSERT INTO t () DEFAULT VALUES" is not SQL */
			sb.len = 0;
			strbuf_addf(&sb, "INSERT INTO %s DEFAULT VALUES", qualified);
			return strbuf_detach(&sb);
		}
		for (size_t c = 0; c < ncols; c++)
			if (set[c] == '1')
				strbuf_addf(&sb, "%s$%zu::%s", p ? ", " : "", p + 1, set_types[c]), p++;
		strbuf_adds(&sb, ")");
		return strbuf_detach(&sb);
	}
	if (op == 'u') {
		strbuf_addf(&sb, "UPDATE %s SET ", qualified);
		for (size_t c = 0; c < ncols; c++)
			if (set[c] == '1')
				strbuf_addf(&sb, "%s%s = $%zu::%s", p ? ", " : "", cols[c], p + 1,
					    set_types[c]), p++;
	} else {
		strbuf_addf(&sb, "DELETE FROM %s", qualified);
	}
	/* One row only, whichever of equal rows comes first: (tableoid, ctid)
	 * names a row even in a partitioned target. */
	strbuf_addf(&sb, " WHERE (tableoid, ctid) = (SELECT tableoid, ctid FROM %s WHERE ",
		    qualified);
	for (size_t c = 0; c < ncols; c++)
		if (match[c] == '1') {
			strbuf_addf(&sb, "%s%s::text IS NOT DISTINCT FROM ($%zu::%s)::text",
				    k++ ? " AND " : "", cols[c], p + 1, match_types[c]);
			p++;
		}
	if (!k)
		strbuf_adds(&sb, "true");
	strbuf_adds(&sb, " LIMIT 1)");
	return strbuf_detach(&sb);
}

/* The field of fields named name, or NULL. */
static const struct event_field *field_in(const struct event_field *fields, size_t n,
					  const char *name, size_t hint)
{
	if (hint < n && strcmp(fields[hint].name, name) == 0)
		return &fields[hint];
	for (size_t i = 0; i < n; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

/* The statement's pieces, built per change. */
struct keyless_stmt {
	char **cols;            /* quoted names */
	const char **set_types;
	const char **match_types;
	char *set, *match;      /* signatures */
	struct strbuf *texts;   /* values: set ones first, then match ones */
	const char **params;
	size_t nparams;
};

/* Reads the row's value for each column into the next parameters; sig[c]
 * '1' for the columns read.  Old rows must have every column (all_needed). */
static bool values_read(const struct keyless_target *t, struct keyless_stmt *st,
			const struct event_field *fields, size_t n, bool all_needed,
			const char *row_name, char *sig, struct strbuf *why)
{
	const struct table_schema *ts = t->ts;

	for (size_t c = 0; c < ts->ncols; c++) {
		const struct event_field *f = field_in(fields, n, ts->cols[c].name, c);
		enum apply_value kind;
		struct strbuf *out = &st->texts[st->nparams];

		sig[c] = '0';
		if (!f && all_needed) {
			strbuf_addf(why, "table %s has no key, and the \"%s\" row lacks column %s to find the row by",
				    t->qualified, row_name, ts->cols[c].name);
			return false;
		}
		if (!f)
			continue;
		out->len = 0;
		if (!apply_event_value(f, &ts->cols[c], out, &kind, why)) {
			char *detail = strbuf_detach(why);

			strbuf_init(why);
			strbuf_addf(why, "column %s: %s", f->name, detail);
			free(detail);
			return false;
		}
		if (kind == APPLY_VALUE_UNCHANGED && all_needed) {
			strbuf_addf(why, "table %s has no key, and the \"%s\" row does not carry the value of column %s (REPLICA IDENTITY FULL at the source sends it)",
				    t->qualified, row_name, ts->cols[c].name);
			return false;
		}
		if (kind == APPLY_VALUE_UNCHANGED)
			continue;
		sig[c] = '1';
		st->params[st->nparams++] = kind == APPLY_VALUE_NULL ? NULL : out->data;
	}
	return true;
}

static void stmt_init(const struct keyless_target *t, struct keyless_stmt *st)
{
	size_t n = t->ts->ncols;

	st->cols = xcalloc(n, sizeof(*st->cols));
	st->set_types = xcalloc(n, sizeof(*st->set_types));
	st->match_types = xcalloc(n, sizeof(*st->match_types));
	st->set = xcalloc(n + 1, 1);
	st->match = xcalloc(n + 1, 1);
	memset(st->set, '0', n);
	memset(st->match, '0', n);
	st->texts = xcalloc(2 * n, sizeof(*st->texts));
	st->params = xcalloc(2 * n + 1, sizeof(*st->params));
	st->nparams = 0;
	for (size_t c = 0; c < 2 * n; c++)
		strbuf_init(&st->texts[c]);
	for (size_t c = 0; c < n; c++) {
		st->cols[c] = pgsql_quote_ident(t->db, t->ts->cols[c].name);
		st->set_types[c] = t->cast_types[c];
		st->match_types[c] = t->ts->cols[c].type_sql;
	}
}

static void stmt_fini(const struct keyless_target *t, struct keyless_stmt *st)
{
	for (size_t c = 0; c < t->ts->ncols; c++)
		free(st->cols[c]);
	for (size_t c = 0; c < 2 * t->ts->ncols; c++)
		strbuf_fini(&st->texts[c]);
	free(st->cols);
	free(st->set_types);
	free(st->match_types);
	free(st->set);
	free(st->match);
	free(st->texts);
	free(st->params);
}

bool keyless_position_valid(const char *pos, size_t len)
{
	if (len != EVENT_POSITION_LEN || pos[EVENT_POSITION_SEP_AT] != EVENT_POSITION_SEP)
		return false;
	for (size_t i = 0; i < len; i++)
		if (i != EVENT_POSITION_SEP_AT && !strchr("0123456789ABCDEF", pos[i]))
			return false;
	return true;
}

bool keyless_positions_ensure(PGconn *db, const char *label)
{
	return pgsql_exec(db, label,
			  "CREATE TABLE IF NOT EXISTS cdc_agent.keyless_positions ("
			  " pipeline text NOT NULL, table_name text NOT NULL, position text NOT NULL,"
			  " PRIMARY KEY (pipeline, table_name))");
}

bool keyless_position_load(PGconn *db, const char *label, const char *pipeline,
			   const char *table_name, char **pos)
{
	const char *params[] = { pipeline, table_name };

	*pos = NULL;
	return pgsql_query_value(db, label,
				 "SELECT position FROM cdc_agent.keyless_positions "
				 "WHERE pipeline = $1 AND table_name = $2",
				 2, params, pos);
}

bool keyless_position_store(PGconn *db, const char *label, const char *pipeline,
			    const char *table_name, const char *pos)
{
	const char *params[] = { pipeline, table_name, pos };
	PGresult *res;

	if (!pgsql_query(db, label,
			 "INSERT INTO cdc_agent.keyless_positions VALUES ($1, $2, $3) "
			 "ON CONFLICT (pipeline, table_name) DO UPDATE SET position = EXCLUDED.position",
			 3, params, &res))
		return false; /* errors already logged */
	PQclear(res);
	return true;
}

bool keyless_apply(const struct keyless_target *t, struct apply_event *ev, struct strbuf *why)
{
	struct keyless_stmt st;
	char op = ev->op == 'r' ? 'c' : ev->op;
	bool ok = true, present = true;
	PGresult *res = NULL;
	char *sql = NULL;

	if (op == 't') {
		sql = xasprintf("TRUNCATE %s", t->qualified);
		ok = pgsql_exec(t->db, t->label, sql);
		free(sql);
		return ok;
	}
	stmt_init(t, &st);
	if (op == 'c' || op == 'u')
		ok = values_read(t, &st, ev->fields, ev->nfields, false, "after", st.set, why);
	if (ok && op == 'u')
		ok = apply_event_before(ev, &present, why);
	if (ok && op == 'u' && !present) {
		strbuf_addf(why, "update of table %s without a \"before\" row: the table has no key, so the row is found only by its old values (REPLICA IDENTITY FULL at the source sends them)",
			    t->qualified);
		ok = false;
	}
	if (ok && op == 'u')
		ok = values_read(t, &st, ev->before, ev->nbefore, true, "before", st.match, why);
	if (ok && op == 'd')
		ok = values_read(t, &st, ev->fields, ev->nfields, true, "before", st.match, why);
	if (ok && op == 'u' && !strchr(st.set, '1')) {
		stmt_fini(t, &st);
		return true; /* every column unchanged: nothing to write */
	}
	if (ok) {
		sql = keyless_sql(op, t->qualified, t->ts->ncols, (const char *const *)st.cols,
				  st.set_types, st.match_types, st.set, st.match);
		ok = pgsql_query(t->db, t->label, sql, (int)st.nparams, st.params, &res);
	}
	if (ok && op != 'c' && strcmp(PQcmdTuples(res), "1") != 0) {
		strbuf_addf(why, "no row of table %s has the old values of this %s (the target differs from the source): stopping, nothing of the batch applied",
			    t->qualified, op == 'u' ? "update" : "delete");
		ok = false;
	}
	PQclear(res);
	free(sql);
	stmt_fini(t, &st);
	return ok;
}
