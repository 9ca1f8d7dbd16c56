/*
 * agent/apply/apply_sql.c: the statements apply sends for a group of row changes
 * of one table (apply_sql.h), and their array parameters.
 */
#include "apply/apply_sql.h"

#include "pg/pg_text.h"

#include <stdlib.h>
#include <string.h>

void apply_sql_group_init(struct row_group *g)
{
	memset(g, 0, sizeof(*g));
	key_set_init(&g->keys);
	strbuf_init(&g->copy_text);
}

void apply_sql_group_reset(struct row_group *g)
{
	free(g->signature);
	key_set_clear(&g->keys);
	g->signature = NULL;
	g->tt = NULL;
	g->nrows = 0;
	g->copy = false;
	g->copy_text.len = 0;
	/* a snapshot's large group gives its buffer back */
	if (g->copy_text.cap > ((size_t)4 << 20)) {
		strbuf_fini(&g->copy_text);
		strbuf_init(&g->copy_text);
	}
}

void apply_sql_group_fini(struct row_group *g)
{
	apply_sql_group_reset(g);
	key_set_fini(&g->keys);
	strbuf_fini(&g->copy_text);
	for (size_t c = 0; c < g->narrays; c++)
		strbuf_fini(&g->arrays[c]);
	free(g->arrays);
	g->arrays = NULL;
	g->narrays = 0;
}

static void group_arrays_reserve(struct row_group *g, size_t ncols)
{
	if (ncols <= g->narrays)
		return;
	g->arrays = xrealloc(g->arrays, ncols * sizeof(*g->arrays));
	for (size_t c = g->narrays; c < ncols; c++)
		strbuf_init(&g->arrays[c]);
	g->narrays = ncols;
}

bool apply_sql_group_closed_to(const struct row_group *g, const struct target_table *tt,
			       bool delete, const char *signature, const char *key, size_t key_len)
{
	return g->tt && (g->tt != tt || g->delete != delete || strcmp(g->signature, signature) != 0 ||
			 key_set_contains(&g->keys, key, key_len));
}

/* An empty group takes the shape of its first row. */
static void group_start(struct row_group *g, struct target_table *tt, bool delete,
			const char *signature)
{
	g->tt = tt;
	g->delete = delete;
	g->creates_only = true;
	g->signature = xstrdup(signature);
	group_arrays_reserve(g, tt->ts->ncols);
	for (size_t c = 0; c < tt->ts->ncols; c++) {
		g->arrays[c].len = 0;
		strbuf_add(&g->arrays[c], "{", 1);
	}
}

void apply_sql_group_add(struct row_group *g, struct target_table *tt, char op,
			 const char *signature, const enum apply_value *kinds,
			 const struct strbuf *texts, const char *key, size_t key_len)
{
	if (!g->tt)
		group_start(g, tt, op == 'd', signature);
	if (g->copy) {
		bool sep = false;

		for (size_t c = 0; c < tt->ts->ncols; c++) {
			if (signature[c] != '1')
				continue;
			if (sep)
				strbuf_add(&g->copy_text, "\t", 1);
			sep = true;
			if (kinds[c] == APPLY_VALUE_NULL)
				strbuf_add(&g->copy_text, "\\N", 2);
			else
				pg_copy_text_escape(&g->copy_text, texts[c].data, texts[c].len);
		}
		strbuf_add(&g->copy_text, "\n", 1);
	}
	for (size_t c = 0; !g->copy && c < tt->ts->ncols; c++) {
		if (signature[c] != '1')
			continue;
		if (g->nrows)
			strbuf_add(&g->arrays[c], ",", 1);
		if (kinds[c] == APPLY_VALUE_NULL)
			strbuf_add(&g->arrays[c], "NULL", 4);
		else
			apply_sql_array_add(&g->arrays[c], texts[c].data, texts[c].len);
	}
	(void)key_set_add(&g->keys, key, key_len);
	g->creates_only = g->creates_only && (op == 'c' || op == 'r');
	g->nrows++;
}

size_t apply_sql_group_params(struct row_group *g, const char **params)
{
	size_t n = 0;

	for (size_t c = 0; c < g->tt->ts->ncols; c++)
		if (g->signature[c] == '1') {
			strbuf_add(&g->arrays[c], "}", 1);
			params[n++] = g->arrays[c].data;
		}
	return n;
}

void apply_sql_array_add(struct strbuf *sb, const char *text, size_t len)
{
	const char *end = text + len;

	strbuf_add(sb, "\"", 1);
	while (text < end) {
		size_t n = strcspn(text, "\"\\");

		if (n > (size_t)(end - text))
			n = (size_t)(end - text);
		strbuf_add(sb, text, n);
		text += n;
		if (text < end) {
			char esc[2] = { '\\', *text++ };

			strbuf_add(sb, esc, 2);
		}
	}
	strbuf_add(sb, "\"", 1);
}

/* "col1, col2" of the signature's columns (key_only: the key's); with
 * prefix, "col = EXCLUDED.col" pairs.  Caller frees. */
static char *column_list(const struct table_schema *ts, const char *const *cols,
			 const char *signature, bool key_only, const char *prefix)
{
	struct strbuf sb;

	strbuf_init(&sb);
	for (size_t c = 0; c < ts->ncols; c++) {
		if (key_only ? ts->cols[c].key_position == 0 : signature[c] != '1')
			continue;
		strbuf_addf(&sb, "%s%s%s", sb.len ? ", " : "", prefix ? prefix : "", cols[c]);
		if (prefix)
			strbuf_addf(&sb, " = EXCLUDED.%s", cols[c]);
	}
	return strbuf_detach(&sb);
}

/* "SELECT u.c1, u.c2::type2, ... FROM unnest($1::type1[], $2::text[], ...)
 * AS u(c1, ...)" over the signature's columns.  Values are read as an array
 * of the column's type where one exists (the server parses each element once),
 * else as text and cast; either way to the type without its modifier: an
 * explicit cast to varchar(n) would cut a long value where the insert's own
 * assignment refuses it, as a plain INSERT does. */
static void add_unnest(struct strbuf *sql, const struct target_table *tt, const char *signature)
{
	size_t k = 0;

	strbuf_adds(sql, "SELECT ");
	for (size_t c = 0; c < tt->ts->ncols; c++)
		if (signature[c] == '1') {
			k++;
			strbuf_addf(sql, "%su.c%zu", k > 1 ? ", " : "", k);
			if (!tt->typed_arrays[c])
				strbuf_addf(sql, "::%s", tt->cast_types[c]);
		}
	strbuf_adds(sql, " FROM unnest(");
	k = 0;
	for (size_t c = 0; c < tt->ts->ncols; c++)
		if (signature[c] == '1') {
			k++;
			strbuf_addf(sql, "%s$%zu::%s[]", k > 1 ? ", " : "", k,
				    tt->typed_arrays[c] ? tt->cast_types[c] : "text");
		}
	strbuf_adds(sql, ") AS u(");
	for (size_t i = 1; i <= k; i++)
		strbuf_addf(sql, "%sc%zu", i > 1 ? ", " : "", i);
	strbuf_adds(sql, ")");
}

/* "DELETE FROM t WHERE (keys) IN (SELECT ...)". */
static void add_delete(struct strbuf *sql, const struct row_group *g, const char *keys)
{
	strbuf_addf(sql, "DELETE FROM %s WHERE (%s) IN (", g->tt->qualified, keys);
	add_unnest(sql, g->tt, g->signature);
	strbuf_adds(sql, ")");
}

/* "INSERT INTO t (cols) SELECT ...", upsert: with "ON CONFLICT (keys) DO
 * UPDATE SET" the other columns carried, or DO NOTHING when there are none. */
static void add_insert(struct strbuf *sql, const struct row_group *g, const char *const *cols,
		       const char *keys, bool upsert)
{
	const struct table_schema *ts = g->tt->ts;
	char *names = column_list(ts, cols, g->signature, false, NULL);
	char *sig = xstrdup(g->signature);
	char *set;

	strbuf_addf(sql, "INSERT INTO %s (%s) ", g->tt->qualified, names);
	add_unnest(sql, g->tt, g->signature);
	for (size_t c = 0; c < ts->ncols; c++)
		if (ts->cols[c].key_position)
			sig[c] = '0';
	set = column_list(ts, cols, sig, false, "");
	if (!upsert)
		; /* plain INSERT, as the JDBC sink's insert.mode=insert */
	else if (set[0])
		strbuf_addf(sql, " ON CONFLICT (%s) DO UPDATE SET %s", keys, set);
	else
		strbuf_addf(sql, " ON CONFLICT (%s) DO NOTHING", keys);
	free(set);
	free(sig);
	free(names);
}

char *apply_sql_group_statement(const struct row_group *g, const char *const *cols, bool upsert)
{
	char *keys = column_list(g->tt->ts, cols, NULL, true, NULL);
	struct strbuf sql;

	strbuf_init(&sql);
	if (g->delete)
		add_delete(&sql, g, keys);
	else
		add_insert(&sql, g, cols, keys, upsert);
	free(keys);
	return strbuf_detach(&sql);
}

char *apply_sql_group_copy_statement(const struct row_group *g, const char *const *cols)
{
	char *names = column_list(g->tt->ts, cols, g->signature, false, NULL);
	char *sql = xasprintf("COPY %s (%s) FROM STDIN", g->tt->qualified, names);

	free(names);
	return sql;
}
