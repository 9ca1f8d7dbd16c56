/*
 * tests/unit/test_apply_event.c: the in-place JSON reader (agent/json_scan.c)
 * and apply's reading of change events with it (agent/apply_event.c): our
 * own events, Debezium's with and without the schema block, values by target
 * column type; and malformed input (every prefix of a real event, bad
 * escapes, bad UTF-8, deep nesting, trailing bytes), which must fail with a
 * message saying what and where, never crash.
 *
 * Input is copied into heap buffers of exactly its length (plus the NUL the
 * reader's contract asks for), so the sanitizer build catches reads past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "apply_event.h"
#include "json_scan.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* A heap copy of text with the sentinel NUL; caller frees. */
static char *dup_text(const char *text, size_t len)
{
	char *c = xmalloc(len + 1);

	memcpy(c, text, len);
	c[len] = '\0';
	return c;
}

/* Reads text as one value to its end; on failure *error and *pos say why. */
static bool scan_whole(const char *text, struct jscan_value *v, char **buf, const char **error,
		       size_t *pos)
{
	struct jscan s;
	bool ok;

	*buf = dup_text(text, strlen(text));
	jscan_init(&s, *buf, strlen(text));
	ok = jscan_value(&s, v) && jscan_finish(&s);
	*error = s.error;
	*pos = s.error_pos;
	return ok;
}

static void expect_scan_fails(const char *text, const char *error, size_t pos)
{
	struct jscan_value v;
	const char *got;
	size_t got_pos;
	char *buf;

	if (scan_whole(text, &v, &buf, &got, &got_pos))
		fail_msg("accepted malformed JSON: %s", text);
	assert_non_null(got);
	if (strcmp(got, error) != 0 || got_pos != pos)
		fail_msg("%s: got \"%s\" at %zu, expected \"%s\" at %zu", text, got, got_pos, error,
			 pos);
	free(buf);
}

/* ---- json_scan ---- */

static void test_scan_scalars(void **state)
{
	struct jscan_value v;
	const char *err;
	size_t pos;
	char *buf;
	int64_t n;

	(void)state;
	assert_true(scan_whole(" \"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\" ", &v, &buf, &err, &pos));
	assert_int_equal(v.kind, JSCAN_STRING);
	assert_string_equal(v.text, "a\"b\\c/\b\f\n\r\t");
	assert_int_equal(v.len, 11);
	free(buf);
	/* \u escapes, a surrogate pair, raw UTF-8 kept */
	assert_true(scan_whole("\"\\u00e9\\u20AC\\ud83d\\ude00 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
			       &v, &buf, &err, &pos));
	assert_string_equal(v.text, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	free(buf);
	assert_true(scan_whole("-12.5e+3", &v, &buf, &err, &pos));
	assert_int_equal(v.kind, JSCAN_NUMBER);
	assert_int_equal(v.len, 8);
	assert_memory_equal(v.text, "-12.5e+3", 8);
	assert_false(jscan_int64(&v, &n));
	free(buf);
	assert_true(scan_whole("-9223372036854775808", &v, &buf, &err, &pos));
	assert_true(jscan_int64(&v, &n));
	assert_true(n == INT64_MIN);
	free(buf);
	assert_true(scan_whole("9223372036854775808", &v, &buf, &err, &pos));
	assert_false(jscan_int64(&v, &n)); /* does not fit: kept as its digits */
	free(buf);
	assert_true(scan_whole("true", &v, &buf, &err, &pos));
	assert_int_equal(v.kind, JSCAN_TRUE);
	free(buf);
	assert_true(scan_whole("null", &v, &buf, &err, &pos));
	assert_int_equal(v.kind, JSCAN_NULL);
	free(buf);
}

static void test_scan_walk(void **state)
{
	const char *text = "{\"a\" : [1, {\"x\":\"y\"}, []], \"b\":{}, \"c\\u0041\":\"v\"}";
	char *buf = dup_text(text, strlen(text));
	struct jscan s;
	struct jscan_value v;
	const char *name;
	bool more;

	(void)state;
	jscan_init(&s, buf, strlen(text));
	assert_true(jscan_enter(&s, '{'));
	assert_true(jscan_member(&s, &name, &more) && more);
	assert_string_equal(name, "a");
	assert_true(jscan_value(&s, &v));
	assert_int_equal(v.kind, JSCAN_ARRAY);
	assert_int_equal(v.len, strlen("[1, {\"x\":\"y\"}, []]"));
	assert_memory_equal(v.text, "[1, {\"x\":\"y\"}, []]", v.len); /* untouched */
	assert_true(jscan_member(&s, &name, &more) && more);
	assert_string_equal(name, "b");
	assert_true(jscan_enter(&s, '{'));
	assert_true(jscan_member(&s, &name, &more));
	assert_false(more);
	assert_true(jscan_member(&s, &name, &more) && more);
	assert_string_equal(name, "cA");
	assert_true(jscan_value(&s, &v));
	assert_string_equal(v.text, "v");
	assert_true(jscan_member(&s, &name, &more));
	assert_false(more);
	assert_true(jscan_finish(&s));
	free(buf);
}

static void test_scan_known(void **state)
{
	const char *text = "{\"s\": {\"a\":[1]} , \"t\":{\"a\":[1]}x}";
	char *buf = dup_text(text, strlen(text));
	struct jscan s;
	struct jscan_value v;
	const char *name;
	bool more;

	(void)state;
	jscan_init(&s, buf, strlen(text));
	assert_true(jscan_enter(&s, '{'));
	assert_true(jscan_member(&s, &name, &more) && more);
	assert_false(jscan_value_known(&s, "{\"a\":[2]}", 9, &v));
	assert_false(jscan_value_known(&s, "123", 3, &v)); /* only objects and arrays */
	assert_true(jscan_value_known(&s, "{\"a\":[1]}", 9, &v));
	assert_int_equal(v.kind, JSCAN_OBJECT);
	assert_memory_equal(v.text, "{\"a\":[1]}", 9);
	assert_true(jscan_member(&s, &name, &more) && more);
	assert_string_equal(name, "t");
	assert_true(jscan_value_known(&s, "{\"a\":[1]}", 9, &v));
	assert_false(jscan_member(&s, &name, &more)); /* the x after it */
	assert_string_equal(s.error, "expected ',' or '}'");
	free(buf);
}

static void test_scan_malformed(void **state)
{
	char deep[2 * JSCAN_MAX_DEPTH + 10];

	(void)state;
	expect_scan_fails("", "unexpected end of text", 0);
	expect_scan_fails("{\"a\":1", "unexpected end of text", 6);
	expect_scan_fails("{\"a\":1,}", "expected a member name", 7);
	expect_scan_fails("[1,]", "expected a value", 3);
	expect_scan_fails("[1 2]", "expected ',' or ']'", 3);
	expect_scan_fails("{\"a\" 1}", "expected ':'", 5);
	expect_scan_fails("{a:1}", "expected a member name", 1);
	expect_scan_fails("{} x", "text after the JSON value", 3);
	expect_scan_fails("01", "text after the JSON value", 1);
	expect_scan_fails("-", "unexpected end of text", 1);
	expect_scan_fails("1.", "unexpected end of text", 2);
	expect_scan_fails("1.e5", "invalid number", 2);
	expect_scan_fails("+1", "expected a value", 0);
	expect_scan_fails("tru", "invalid literal", 0);
	expect_scan_fails("nul1", "invalid literal", 0);
	expect_scan_fails("\"a\\x\"", "invalid escape in a string", 2);
	expect_scan_fails("\"\\u12G4\"", "invalid \\u escape", 2);
	expect_scan_fails("\"\\u0000\"", "\\u0000 is not allowed in a string", 1);
	expect_scan_fails("\"\\udc00\"", "lone low surrogate in \\u escape", 1);
	expect_scan_fails("\"\\ud800x\"", "high surrogate without its low surrogate", 1);
	expect_scan_fails("\"a\tb\"", "control character in a string", 2);
	expect_scan_fails("\"\xc3\"", "invalid UTF-8 in a string", 1);
	expect_scan_fails("\"\xc0\xaf\"", "invalid UTF-8 in a string", 1);    /* overlong */
	expect_scan_fails("\"\xed\xa0\x80\"", "invalid UTF-8 in a string", 1); /* surrogate */
	expect_scan_fails("\"\xf4\x90\x80\x80\"", "invalid UTF-8 in a string", 1);
	expect_scan_fails("\"abc", "unexpected end of text", 4);
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	expect_scan_fails(deep, "nested too deeply", JSCAN_MAX_DEPTH);
	/* a NUL byte inside the text is not its end */
	{
		struct jscan s;
		char buf[] = "{}\0{}";
		const char *name;
		bool more;

		jscan_init(&s, buf, 5);
		assert_true(jscan_enter(&s, '{'));
		assert_true(jscan_member(&s, &name, &more));
		assert_false(more);
		assert_false(jscan_finish(&s));
		assert_string_equal(s.error, "text after the JSON value");
		assert_int_equal(s.error_pos, 2);
	}
}

/* ---- events ---- */

#define SRC "\"source\":{\"version\":\"2.7.4.Final\",\"connector\":\"postgresql\",\"name\":\"db1server\",\"ts_ms\":1704067260123,\"snapshot\":\"false\",\"db\":\"db1\",\"sequence\":\"[\\\"24023200\\\",\\\"24023360\\\"]\",\"ts_us\":1704067260123456,\"ts_ns\":1704067260123456000,\"schema\":\"public\",\"table\":\"my_table\",\"txId\":743,\"lsn\":24023360,\"xmin\":null},\"transaction\":null"
#define EV_C "{\"before\":null,\"after\":{\"id\":4,\"name\":\"dave\"}," SRC ",\"op\":\"c\",\"ts_ms\":1704067260456,\"ts_us\":1704067260456789,\"ts_ns\":1704067260456789012}"
#define EV_D "{\"before\":{\"id\":4,\"name\":null},\"after\":null," SRC ",\"op\":\"d\",\"ts_ms\":1}"
#define EV_T "{\"before\":null,\"after\":null," SRC ",\"op\":\"t\",\"ts_ms\":1}"
#define COLUMNS "[{\"name\":\"id\",\"type\":\"integer\",\"optional\":false,\"key\":1},{\"name\":\"name\",\"type\":\"text\",\"optional\":true}]"
#define ROW_SCHEMA "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},{\"type\":\"string\",\"optional\":true,\"field\":\"name\"}],\"optional\":true,\"name\":\"db1server.public.my_table.Value\",\"field\":\"%s\"}"
#define VALUE_SCHEMA "{\"type\":\"struct\",\"fields\":[" ROW_SCHEMA "," ROW_SCHEMA ",{\"type\":\"string\",\"optional\":false,\"field\":\"op\"}],\"optional\":false,\"name\":\"db1server.public.my_table.Envelope\",\"version\":2}"
#define KEY_SCHEMA "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"}],\"optional\":false,\"name\":\"db1server.public.my_table.Key\"}"

struct parse_input {
	const char *key, *value, *unchanged, *columns;
};

/* Parses exact-size heap copies of the input into ev. */
static bool parse(struct apply_event *ev, const struct parse_input *in, struct strbuf *why)
{
	char *k = in->key ? dup_text(in->key, strlen(in->key)) : NULL;
	char *v = in->value ? dup_text(in->value, strlen(in->value)) : NULL;
	char *u = in->unchanged ? dup_text(in->unchanged, strlen(in->unchanged)) : NULL;
	char *c = in->columns ? dup_text(in->columns, strlen(in->columns)) : NULL;
	bool ok;

	why->len = 0;
	why->data[0] = '\0';
	ok = apply_event_parse(k, k ? strlen(k) : 0, v, v ? strlen(v) : 0, u, u ? strlen(u) : 0, c,
			       c ? strlen(c) : 0, ev, why);
	free(k);
	free(v);
	free(u);
	free(c);
	return ok;
}

static const struct column_schema col_int = { .name = "id", .type_sql = "integer", .base_type = "int4", .length = -1, .scale = -1 };
static const struct column_schema col_text = { .name = "name", .type_sql = "text", .base_type = "text", .length = -1, .scale = -1 };

/* The field's value as text for col ("NULL"/"UNCHANGED" for those kinds);
 * caller frees. */
static char *value_of(const struct apply_event *ev, const char *name,
		      const struct column_schema *col)
{
	const struct event_field *f = apply_event_field(ev, name, 0);
	struct strbuf out, why;
	enum apply_value kind;

	assert_non_null(f);
	strbuf_init(&out);
	strbuf_init(&why);
	if (!apply_event_value(f, col, &out, &kind, &why))
		fail_msg("%s: %s", name, why.data);
	strbuf_fini(&why);
	if (kind == APPLY_VALUE_NULL)
		strbuf_adds(&out, "NULL");
	else if (kind == APPLY_VALUE_UNCHANGED)
		strbuf_adds(&out, "UNCHANGED");
	return strbuf_detach(&out);
}

static void expect_text(const struct apply_event *ev, const char *name,
			 const struct column_schema *col, const char *want)
{
	char *got = value_of(ev, name, col);

	assert_string_equal(got, want);
	free(got);
}

static int ev_setup(void **state)
{
	struct apply_event *ev = xmalloc(sizeof(*ev));

	apply_event_init(ev);
	*state = ev;
	return 0;
}

static int ev_teardown(void **state)
{
	apply_event_fini(*state);
	free(*state);
	return 0;
}

static void test_event_ours(void **state)
{
	struct apply_event *ev = *state;
	struct parse_input in = { .key = "{\"id\":4}", .value = EV_C, .columns = COLUMNS };
	struct strbuf why;

	strbuf_init(&why);
	for (int round = 0; round < 2; round++) { /* the second from the caches */
		assert_true(parse(ev, &in, &why));
		assert_int_equal(ev->op, 'c');
		assert_string_equal(ev->schema, "public");
		assert_string_equal(ev->table, "my_table");
		assert_int_equal(ev->nfields, 2);
		assert_true(ev->has_types);
		assert_string_equal(ev->fields[0].name, "id");
		assert_int_equal(ev->fields[0].key_position, 1);
		assert_false(ev->fields[0].optional);
		assert_string_equal(ev->fields[1].source_type, "text");
		assert_int_equal(ev->fields[1].key_position, 0);
		assert_true(ev->fields[1].optional);
		expect_text(ev, "id", &col_int, "4");
		expect_text(ev, "name", &col_text, "dave");
	}
	in.value = EV_D;
	assert_true(parse(ev, &in, &why));
	assert_int_equal(ev->op, 'd');
	expect_text(ev, "id", &col_int, "4");
	expect_text(ev, "name", &col_text, "NULL");
	in.value = EV_T;
	in.key = NULL;
	assert_true(parse(ev, &in, &why));
	assert_int_equal(ev->op, 't');
	in.value = NULL; /* tombstone */
	in.key = "{\"id\":4}";
	assert_true(parse(ev, &in, &why));
	assert_int_equal(ev->op, 0);
	/* an unchanged TOAST column: listed in the header, or the placeholder */
	in.value = "{\"before\":null,\"after\":{\"id\":4,\"name\":\"__debezium_unavailable_value\"},\"source\":{\"schema\":\"public\",\"table\":\"my_table\"},\"op\":\"u\"}";
	in.unchanged = "[\"name\"]";
	assert_true(parse(ev, &in, &why));
	assert_true(ev->fields[1].unchanged);
	expect_text(ev, "name", &col_text, "UNCHANGED");
	strbuf_fini(&why);
}

static void test_event_debezium(void **state)
{
	struct apply_event *ev = *state;
	char *value = xasprintf("{\"schema\":" VALUE_SCHEMA ",\"payload\":%s}", "before", "after",
				"{\"before\":null,\"after\":{\"id\":6,\"name\":\"sn\\u00e4p\"}," SRC ",\"op\":\"r\",\"ts_ms\":1}");
	struct parse_input in = {
		.key = "{\"schema\":" KEY_SCHEMA ",\"payload\":{\"id\":6}}",
		.value = value,
	};
	struct strbuf why;

	strbuf_init(&why);
	for (int round = 0; round < 2; round++) /* the second takes the schema block as known */
		assert_true(parse(ev, &in, &why));
	assert_int_equal(ev->op, 'r');
	assert_string_equal(ev->table, "my_table");
	assert_int_equal(ev->nfields, 2);
	assert_true(ev->has_types);
	assert_non_null(ev->fields[0].schema);
	assert_null(ev->fields[0].source_type);
	assert_int_equal(ev->fields[0].key_position, 1);
	assert_false(ev->fields[0].optional);
	expect_text(ev, "name", &col_text, "sn\xc3\xa4p");
	{
		char *type = apply_event_sql_type(&ev->fields[0]);

		assert_string_equal(type, "integer");
		free(type);
	}
	free(value);
	/* the known schema block followed by anything else is still checked */
	value = xasprintf("{\"schema\":" VALUE_SCHEMA "x,\"payload\":{}}", "before", "after");
	in.value = value;
	assert_false(parse(ev, &in, &why));
	assert_non_null(strstr(why.data, "expected ',' or '}'"));
	free(value);
	value = xasprintf("{\"schema\":" VALUE_SCHEMA, "before", "after");
	in.value = value;
	assert_false(parse(ev, &in, &why));
	assert_non_null(strstr(why.data, "unexpected end of text"));
	free(value);
	/* schemaless, no header: no types, key from the key's payload */
	in.key = "{\"id\":4}";
	in.value = EV_C;
	assert_true(parse(ev, &in, &why));
	assert_false(ev->has_types);
	assert_null(ev->fields[0].schema);
	assert_int_equal(ev->fields[0].key_position, 1);
	/* a key that disagrees with its row, or names a column it lacks */
	in.key = "{\"id\":6}";
	assert_false(parse(ev, &in, &why));
	assert_non_null(strstr(why.data, "the key's value of column id differs from the \"after\" row's"));
	in.key = "{\"id\":\"4\"}";
	assert_false(parse(ev, &in, &why));
	in.key = "{\"id\":4,\"tenant\":1}";
	assert_false(parse(ev, &in, &why));
	assert_non_null(strstr(why.data, "the key's column tenant is not in the \"after\" row"));
	strbuf_fini(&why);
}

static void test_values(void **state)
{
	struct apply_event *ev = *state;
	struct parse_input in = {
		.value = "{\"after\":{\"d\":19723,\"ts\":1704067260123456,\"b\":\"3q2+7w==\","
			 "\"n\":\"BNI=\",\"vs\":{\"scale\":3,\"value\":\"+w==\"},\"f\":1.10,"
			 "\"big\":123456789012345678901234567890,\"a\":[\"x\\\"y\",null,\"z\"],"
			 "\"ni\":[1,2],\"t\":true,\"iv\":1500000,\"s\":\"PT1S\"},"
			 "\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}",
	};
	struct column_schema date = { .name = "d", .base_type = "date", .length = -1, .scale = -1 };
	struct column_schema ts = { .name = "ts", .base_type = "timestamp", .length = 6, .scale = -1 };
	struct column_schema bytea = { .name = "b", .base_type = "bytea", .length = -1, .scale = -1 };
	struct column_schema num2 = { .name = "n", .base_type = "numeric", .length = 10, .scale = 2 };
	struct column_schema num = { .name = "n", .base_type = "numeric", .length = -1, .scale = -1 };
	struct column_schema f8 = { .name = "f", .base_type = "float8", .length = -1, .scale = -1 };
	struct column_schema texts = { .name = "a", .base_type = "text", .is_array = true, .length = -1, .scale = -1 };
	struct column_schema ints = { .name = "ni", .base_type = "int4", .is_array = true, .length = -1, .scale = -1 };
	struct column_schema b = { .name = "t", .base_type = "bool", .length = -1, .scale = -1 };
	struct column_schema iv = { .name = "iv", .base_type = "interval", .length = -1, .scale = -1 };
	struct strbuf why, out;
	enum apply_value kind;

	strbuf_init(&why);
	assert_true(parse(ev, &in, &why));
	expect_text(ev, "d", &date, "2024-01-01");
	expect_text(ev, "ts", &ts, "2024-01-01 00:01:00.123456");
	expect_text(ev, "b", &bytea, "\\xdeadbeef");
	expect_text(ev, "n", &num2, "12.34");
	expect_text(ev, "vs", &num, "-0.005");
	expect_text(ev, "f", &f8, "1.10");      /* its own digits */
	expect_text(ev, "big", &num, "123456789012345678901234567890");
	expect_text(ev, "a", &texts, "{\"x\\\"y\",NULL,\"z\"}");
	expect_text(ev, "a", &texts, "{\"x\\\"y\",NULL,\"z\"}"); /* read twice */
	expect_text(ev, "ni", &ints, "{\"1\",\"2\"}");
	expect_text(ev, "t", &b, "t");
	expect_text(ev, "iv", &iv, "1500000 microseconds");
	expect_text(ev, "s", &iv, "PT1S");
	/* a base64 decimal without a scale anywhere is an error, not a guess */
	strbuf_init(&out);
	assert_false(apply_event_value(apply_event_field(ev, "n", 0), &num, &out, &kind, &why));
	assert_non_null(strstr(why.data, "without a declared scale"));
	strbuf_fini(&out);
	strbuf_fini(&why);
}

static void expect_parse_fails(struct apply_event *ev, const struct parse_input *in,
			       const char *needle)
{
	struct strbuf why;

	strbuf_init(&why);
	if (parse(ev, in, &why))
		fail_msg("accepted: %s", in->value);
	if (!strstr(why.data, needle))
		fail_msg("\"%s\" does not say \"%s\"", why.data, needle);
	strbuf_fini(&why);
}

static void test_event_malformed(void **state)
{
	struct apply_event *ev = *state;
	struct parse_input in = { .key = "{\"id\":4}", .columns = COLUMNS };
	const char *full = EV_C;
	char prefix[sizeof(EV_C)];

	/* every strict prefix of a real event */
	for (size_t n = 0; n < strlen(full); n++) {
		memcpy(prefix, full, n);
		prefix[n] = '\0';
		in.value = prefix;
		expect_parse_fails(ev, &in, n == 0 ? "unexpected end of text" : "value is not a JSON object");
	}
	in.value = "not json at all";
	expect_parse_fails(ev, &in, "value is not a JSON object (expected an object at byte 0)");
	in.value = "[1]";
	expect_parse_fails(ev, &in, "expected an object at byte 0");
	in.value = EV_C " {}";
	expect_parse_fails(ev, &in, "text after the JSON value");
	in.value = "{\"after\":{\"id\":4},\"source\":{\"schema\":\"public\",\"table\":\"my_table\"},\"op\":\"x\"}";
	expect_parse_fails(ev, &in, "not a change event");
	in.value = "{\"after\":{\"id\":4},\"source\":{\"schema\":\"public\"},\"op\":\"c\"}";
	expect_parse_fails(ev, &in, "not a change event");
	in.value = "{\"after\":{\"id\":4},\"source\":{\"schema\":\"public\",\"table\":7},\"op\":\"c\"}";
	expect_parse_fails(ev, &in, "not a change event");
	in.value = "{\"after\":null,\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}";
	expect_parse_fails(ev, &in, "c event without an \"after\" row");
	in.value = "{\"before\":[1],\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"d\"}";
	expect_parse_fails(ev, &in, "d event without a");
	in.value = "{\"after\":{\"id\":4,\"id\":5},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}";
	expect_parse_fails(ev, &in, "column id appears twice in the row");
	/* with a header of as many columns: a repeated name is still found,
	 * whether the header's own names are distinct or not */
	in.columns = COLUMNS;
	expect_parse_fails(ev, &in, "column id appears twice in the row");
	in.columns = "[{\"name\":\"id\",\"type\":\"integer\"},{\"name\":\"id\",\"type\":\"integer\"}]";
	expect_parse_fails(ev, &in, "column id appears twice in the row");
	in.value = "{\"after\":{\"name\":\"x\",\"id\":4},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}";
	in.columns = COLUMNS; /* another order than the header's: described by name */
	{
		struct strbuf why;

		strbuf_init(&why);
		assert_true(parse(ev, &in, &why));
		assert_string_equal(apply_event_field(ev, "id", 0)->source_type, "integer");
		assert_int_equal(apply_event_field(ev, "id", 0)->key_position, 1);
		assert_false(apply_event_field(ev, "id", 0)->optional);
		assert_string_equal(apply_event_field(ev, "name", 1)->source_type, "text");
		assert_true(apply_event_field(ev, "name", 1)->optional);
		strbuf_fini(&why);
	}
	in.columns = NULL;
	in.value = "{\"after\":{\"id\":\"\\u0000\"},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}";
	expect_parse_fails(ev, &in, "\\u0000 is not allowed in a string at byte 16");
	in.value = "{\"schema\":{},\"payload\":7}";
	expect_parse_fails(ev, &in, "not a change event");
	in.value = EV_C;
	in.key = "{\"id\":";
	expect_parse_fails(ev, &in, "key is not a JSON object (unexpected end of text at byte 6)");
	in.key = "{\"schema\":{},\"payload\":[1]}";
	expect_parse_fails(ev, &in, "key is not a JSON object");
	in.key = "{\"id\":4}";
	in.columns = "[{\"name\":";
	expect_parse_fails(ev, &in, "cdc.columns header is not valid JSON");
	in.columns = COLUMNS;
	in.unchanged = "[\"name\"";
	expect_parse_fails(ev, &in, "cdc.unchanged header is not valid JSON");
	in.unchanged = NULL;
	/* and the reader still works after all that */
	{
		struct strbuf why;

		strbuf_init(&why);
		assert_true(parse(ev, &in, &why));
		expect_text(ev, "name", &col_text, "dave");
		strbuf_fini(&why);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, ev_setup, ev_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_scalars),
		cmocka_unit_test(test_scan_walk),
		cmocka_unit_test(test_scan_known),
		cmocka_unit_test(test_scan_malformed),
		T(test_event_ours),
		T(test_event_debezium),
		T(test_values),
		T(test_event_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
