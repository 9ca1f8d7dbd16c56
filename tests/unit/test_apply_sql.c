/*
 * tests/unit/test_apply_sql.c: the statements apply sends for a group of
 * rows (agent/apply/apply_sql.c), one table of cases: a target table (quoted
 * names, key, the type each column's values are sent as), the rows of one
 * group and whether it upserts -> the exact statement and parameters.
 * Then which rows a group refuses (another table, shape or op, a key it
 * has).  Against a real target: tests/integration/80_pipeline.sh,
 * 81_table_keys.sh, 82_table_names.sh, 83_apply_values.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "apply/apply_sql.h"

#include <stdlib.h>
#include <string.h>

#define MAX_COLS 4
#define MAX_ROWS 3

/* A column as the statements see it. */
struct col_case {
	const char *quoted;        /* its name, as pgsql_quote_ident gives it */
	int key_position;
	const char *cast_type;     /* tt->cast_types: schema-qualified, no modifier */
	bool typed_array;          /* values sent in an array of cast_type */
};

/* A row's value for a column: text, NULL (SQL NULL) or UNCHANGED (not
 * carried: an unchanged TOAST value, or a delete's non-key column). */
static const char UNCHANGED[] = "(unchanged)";

struct row_case {
	char op;
	const char *values[MAX_COLS];
};

struct sql_case {
	const char *name;
	const char *qualified;
	struct col_case cols[MAX_COLS];
	struct row_case rows[MAX_ROWS];
	bool upsert;
	const char *want_sql;
	const char *want_params[MAX_COLS + 1]; /* NULL-terminated */
};

#define INT4 "pg_catalog.int4"
#define TEXT "pg_catalog.text"

static const struct sql_case cases[] = {
	{ "insert: one row per array element, NULL and escapes",
	  "\"public\".\"t\"",
	  { { "\"id\"", 1, INT4, true }, { "\"name\"", 0, TEXT, true } },
	  { { 'c', { "1", "a \"q\" \\ b" } }, { 'r', { "2", NULL } } },
	  false,
	  "INSERT INTO \"public\".\"t\" (\"id\", \"name\") SELECT u.c1, u.c2 FROM "
	  "unnest($1::pg_catalog.int4[], $2::pg_catalog.text[]) AS u(c1, c2)",
	  { "{\"1\",\"2\"}", "{\"a \\\"q\\\" \\\\ b\",NULL}" } },
	{ "upsert: the other columns updated",
	  "\"public\".\"t\"",
	  { { "\"id\"", 1, INT4, true }, { "\"name\"", 0, TEXT, true } },
	  { { 'u', { "1", "x" } } },
	  true,
	  "INSERT INTO \"public\".\"t\" (\"id\", \"name\") SELECT u.c1, u.c2 FROM "
	  "unnest($1::pg_catalog.int4[], $2::pg_catalog.text[]) AS u(c1, c2) "
	  "ON CONFLICT (\"id\") DO UPDATE SET \"name\" = EXCLUDED.\"name\"",
	  { "{\"1\"}", "{\"x\"}" } },
	{ "upsert of key columns only: DO NOTHING",
	  "\"public\".\"k\"",
	  { { "\"a\"", 1, INT4, true }, { "\"b\"", 2, TEXT, true } },
	  { { 'c', { "1", "x" } }, { 'c', { "2", "y" } } },
	  true,
	  "INSERT INTO \"public\".\"k\" (\"a\", \"b\") SELECT u.c1, u.c2 FROM "
	  "unnest($1::pg_catalog.int4[], $2::pg_catalog.text[]) AS u(c1, c2) "
	  "ON CONFLICT (\"a\", \"b\") DO NOTHING",
	  { "{\"1\",\"2\"}", "{\"x\",\"y\"}" } },
	{ "delete: a composite key of a quoted table, other columns not carried",
	  "\"sales\".\"Order Lines\"",
	  { { "\"order_id\"", 1, INT4, true }, { "\"Line No\"", 2, INT4, true },
	    { "\"note\"", 0, TEXT, true } },
	  { { 'd', { "7", "1", UNCHANGED } }, { 'd', { "7", "2", UNCHANGED } } },
	  true,
	  "DELETE FROM \"sales\".\"Order Lines\" WHERE (\"order_id\", \"Line No\") IN ("
	  "SELECT u.c1, u.c2 FROM unnest($1::pg_catalog.int4[], $2::pg_catalog.int4[]) "
	  "AS u(c1, c2))",
	  { "{\"7\",\"7\"}", "{\"1\",\"2\"}" } },
	{ "upsert: composite key of a quoted table, key columns not updated",
	  "\"sales\".\"Order Lines\"",
	  { { "\"order_id\"", 1, INT4, true }, { "\"Line No\"", 2, INT4, true },
	    { "\"note\"", 0, TEXT, true } },
	  { { 'u', { "7", "1", "n" } } },
	  true,
	  "INSERT INTO \"sales\".\"Order Lines\" (\"order_id\", \"Line No\", \"note\") "
	  "SELECT u.c1, u.c2, u.c3 FROM unnest($1::pg_catalog.int4[], $2::pg_catalog.int4[], "
	  "$3::pg_catalog.text[]) AS u(c1, c2, c3) "
	  "ON CONFLICT (\"order_id\", \"Line No\") DO UPDATE SET \"note\" = EXCLUDED.\"note\"",
	  { "{\"7\"}", "{\"1\"}", "{\"n\"}" } },
	{ "user types: an enum in its own array, box as text cast per value",
	  "\"public\".\"u\"",
	  { { "\"id\"", 1, INT4, true }, { "\"mood\"", 0, "public.mood", true },
	    { "\"b\"", 0, "pg_catalog.box", false } },
	  { { 'c', { "1", "happy", "(1,1),(0,0)" } } },
	  true,
	  "INSERT INTO \"public\".\"u\" (\"id\", \"mood\", \"b\") "
	  "SELECT u.c1, u.c2, u.c3::pg_catalog.box FROM unnest($1::pg_catalog.int4[], "
	  "$2::public.mood[], $3::text[]) AS u(c1, c2, c3) "
	  "ON CONFLICT (\"id\") DO UPDATE SET \"mood\" = EXCLUDED.\"mood\", \"b\" = EXCLUDED.\"b\"",
	  { "{\"1\"}", "{\"happy\"}", "{\"(1,1),(0,0)\"}" } },
	{ "unchanged TOAST: the column neither inserted nor updated",
	  "\"public\".\"big\"",
	  { { "\"id\"", 1, INT4, true }, { "\"doc\"", 0, TEXT, true },
	    { "\"n\"", 0, INT4, true } },
	  { { 'u', { "1", UNCHANGED, "5" } }, { 'u', { "2", UNCHANGED, NULL } } },
	  true,
	  "INSERT INTO \"public\".\"big\" (\"id\", \"n\") SELECT u.c1, u.c2 FROM "
	  "unnest($1::pg_catalog.int4[], $2::pg_catalog.int4[]) AS u(c1, c2) "
	  "ON CONFLICT (\"id\") DO UPDATE SET \"n\" = EXCLUDED.\"n\"",
	  { "{\"1\",\"2\"}", "{\"5\",NULL}" } },
	{ "plain insert of a table whose names need quotes",
	  "\"My Schema\".\"Order \"\"Lines\"\"\"",
	  { { "\"Id\"", 1, INT4, true }, { "\"select\"", 0, TEXT, true } },
	  { { 'c', { "1", "x" } } },
	  false,
	  "INSERT INTO \"My Schema\".\"Order \"\"Lines\"\"\" (\"Id\", \"select\") "
	  "SELECT u.c1, u.c2 FROM unnest($1::pg_catalog.int4[], $2::pg_catalog.text[]) "
	  "AS u(c1, c2)",
	  { "{\"1\"}", "{\"x\"}" } },
};

/* A target table built from a case; fixture_fini frees it. */
struct fixture {
	struct table_schema ts;
	struct column_schema cols[MAX_COLS];
	struct target_table tt;
	char *cast_types[MAX_COLS];
	bool typed[MAX_COLS];
	const char *quoted[MAX_COLS];
};

static void fixture_init(struct fixture *f, const struct sql_case *c)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < MAX_COLS && c->cols[i].quoted; i++) {
		f->cols[i].name = (char *)c->cols[i].quoted;
		f->cols[i].key_position = c->cols[i].key_position;
		f->cast_types[i] = (char *)c->cols[i].cast_type;
		f->typed[i] = c->cols[i].typed_array;
		f->quoted[i] = c->cols[i].quoted;
		f->ts.ncols = i + 1;
	}
	f->ts.cols = f->cols;
	f->tt.ts = &f->ts;
	f->tt.qualified = (char *)c->qualified;
	f->tt.cast_types = f->cast_types;
	f->tt.typed_arrays = f->typed;
}

/* A row's signature, kinds, texts and key, as apply.c's row_values_read
 * makes them. */
struct row_parts {
	char signature[MAX_COLS + 1];
	enum apply_value kinds[MAX_COLS];
	struct strbuf texts[MAX_COLS];
	struct strbuf key;
};

static void row_parts_fill(struct row_parts *p, const struct fixture *f, const struct row_case *r)
{
	memset(p->signature, 0, sizeof(p->signature));
	strbuf_init(&p->key);
	for (size_t c = 0; c < f->ts.ncols; c++) {
		const char *v = r->values[c];

		strbuf_init(&p->texts[c]);
		p->signature[c] = v == UNCHANGED ? '0' : '1';
		p->kinds[c] = v == UNCHANGED ? APPLY_VALUE_UNCHANGED : v ? APPLY_VALUE_TEXT : APPLY_VALUE_NULL;
		if (v && v != UNCHANGED)
			strbuf_adds(&p->texts[c], v);
		if (f->cols[c].key_position) {
			strbuf_adds(&p->key, v ? v : "\x1e");
			strbuf_add(&p->key, "\x1f", 1);
		}
	}
}

static void row_parts_fini(struct row_parts *p, size_t ncols)
{
	for (size_t c = 0; c < ncols; c++)
		strbuf_fini(&p->texts[c]);
	strbuf_fini(&p->key);
}

static void group_fill(struct row_group *g, struct fixture *f, const struct sql_case *c)
{
	for (size_t i = 0; i < MAX_ROWS && c->rows[i].op; i++) {
		const struct row_case *r = &c->rows[i];
		struct row_parts p;

		row_parts_fill(&p, f, r);
		if (apply_sql_group_closed_to(g, &f->tt, r->op == 'd', p.signature, p.key.data, p.key.len))
			fail_msg("%s: row %zu does not join the group", c->name, i + 1);
		apply_sql_group_add(g, &f->tt, r->op, p.signature, p.kinds, p.texts, p.key.data,
				    p.key.len);
		row_parts_fini(&p, f->ts.ncols);
	}
}

static void expect_case(const struct sql_case *c)
{
	const char *params[MAX_COLS];
	struct row_group g;
	struct fixture f;
	size_t n, want_n = 0;
	char *sql;

	fixture_init(&f, c);
	apply_sql_group_init(&g);
	group_fill(&g, &f, c);
	n = apply_sql_group_params(&g, params);
	sql = apply_sql_group_statement(&g, f.quoted, c->upsert);
	if (strcmp(sql, c->want_sql) != 0)
		fail_msg("%s:\n got  %s\n want %s", c->name, sql, c->want_sql);
	while (c->want_params[want_n])
		want_n++;
	if (n != want_n)
		fail_msg("%s: %zu parameters, want %zu", c->name, n, want_n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(params[i], c->want_params[i]) != 0)
			fail_msg("%s: $%zu is %s, want %s", c->name, i + 1, params[i], c->want_params[i]);
	free(sql);
	apply_sql_group_fini(&g);
}

static void test_statements(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_case(&cases[i]);
}

/* A group refuses a row of another table, shape or op, and a key it has
 * (one INSERT ... ON CONFLICT cannot touch a row twice); a reset group
 * takes anything. */
static void test_group_refusals(void **state)
{
	const struct sql_case *c = &cases[1];
	struct row_case again = { 'u', { "1", "y" } }, other = { 'u', { "2", "y" } };
	struct row_case unchanged = { 'u', { "2", UNCHANGED } }, del = { 'd', { "2", UNCHANGED } };
	struct fixture f, f2;
	struct row_group g;
	struct row_parts p;

	(void)state;
	fixture_init(&f, c);
	fixture_init(&f2, c);
	apply_sql_group_init(&g);
	row_parts_fill(&p, &f, &again);
	assert_false(apply_sql_group_closed_to(&g, &f.tt, false, p.signature, p.key.data, p.key.len));
	row_parts_fini(&p, f.ts.ncols);
	group_fill(&g, &f, c);
	row_parts_fill(&p, &f, &again);
	assert_true(apply_sql_group_closed_to(&g, &f.tt, false, p.signature, p.key.data, p.key.len));
	row_parts_fini(&p, f.ts.ncols);
	row_parts_fill(&p, &f, &other);
	assert_false(apply_sql_group_closed_to(&g, &f.tt, false, p.signature, p.key.data, p.key.len));
	assert_true(apply_sql_group_closed_to(&g, &f2.tt, false, p.signature, p.key.data, p.key.len));
	row_parts_fini(&p, f.ts.ncols);
	row_parts_fill(&p, &f, &unchanged);
	assert_true(apply_sql_group_closed_to(&g, &f.tt, false, p.signature, p.key.data, p.key.len));
	row_parts_fini(&p, f.ts.ncols);
	row_parts_fill(&p, &f, &del);
	assert_true(apply_sql_group_closed_to(&g, &f.tt, true, p.signature, p.key.data, p.key.len));
	apply_sql_group_reset(&g);
	assert_false(apply_sql_group_closed_to(&g, &f.tt, true, p.signature, p.key.data, p.key.len));
	row_parts_fini(&p, f.ts.ncols);
	apply_sql_group_fini(&g);
}

/* A group gathered for COPY (snapshot rows): its statement names the
 * columns the rows carry, its lines are COPY's text format (\N for NULL,
 * tab, newline and backslash escaped). */
static void test_copy_group(void **state)
{
	static const struct sql_case c = {
		"copy", "\"public\".\"t\"",
		{ { "\"id\"", 1, INT4, true }, { "\"name\"", 0, TEXT, true } },
		{ { 'r', { "1", "a\tb\\c\nd" } }, { 'r', { "2", NULL } } },
		false, NULL, { NULL },
	};
	struct row_group g;
	struct fixture f;
	char *sql;

	(void)state;
	fixture_init(&f, &c);
	apply_sql_group_init(&g);
	g.copy = true;
	group_fill(&g, &f, &c);
	sql = apply_sql_group_copy_statement(&g, f.quoted);
	assert_string_equal(sql, "COPY \"public\".\"t\" (\"id\", \"name\") FROM STDIN");
	assert_string_equal(g.copy_text.data, "1\ta\\tb\\\\c\\nd\n2\t\\N\n");
	free(sql);
	apply_sql_group_reset(&g);
	assert_false(g.copy);
	assert_int_equal(g.copy_text.len, 0);
	apply_sql_group_fini(&g);
}

/* Elements of an array literal: quotes and backslashes escaped, embedded
 * NULs impossible (length-bounded), braces and commas kept inside quotes. */
static void test_array_elements(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} elems[] = {
		{ "", "\"\"" },
		{ "plain", "\"plain\"" },
		{ "a,b{c}", "\"a,b{c}\"" },
		{ "\"", "\"\\\"\"" },
		{ "\\", "\"\\\\\"" },
		{ "NULL", "\"NULL\"" },
		{ "x\"y\\z", "\"x\\\"y\\\\z\"" },
	};
	struct strbuf sb;

	(void)state;
	for (size_t i = 0; i < sizeof(elems) / sizeof(elems[0]); i++) {
		strbuf_init(&sb);
		apply_sql_array_add(&sb, elems[i].text, strlen(elems[i].text));
		assert_string_equal(sb.data, elems[i].want);
		strbuf_fini(&sb);
	}
	/* only len bytes are read */
	strbuf_init(&sb);
	apply_sql_array_add(&sb, "ab\"cd", 3);
	assert_string_equal(sb.data, "\"ab\\\"\"");
	strbuf_fini(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statements),
		cmocka_unit_test(test_group_refusals),
		cmocka_unit_test(test_array_elements),
		cmocka_unit_test(test_copy_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
