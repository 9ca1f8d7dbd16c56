/*
 * tests/unit/test_json_scan.c: the in-place JSON reader (agent/base/json_scan.c):
 * scalars, walking objects and arrays, known members; and malformed input
 * (bad escapes, bad UTF-8, deep nesting, trailing bytes), which must fail
 * with a message saying what and where, never crash.
 *
 * Input is copied into heap buffers of exactly its length (plus the NUL the
 * reader's contract asks for), so the sanitizer build catches reads past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json_scan.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_scalars),
		cmocka_unit_test(test_scan_walk),
		cmocka_unit_test(test_scan_known),
		cmocka_unit_test(test_scan_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
