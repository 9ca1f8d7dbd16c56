/*
 * tests/unit/test_pg_text.c: agent/pg/pg_text.c's readings of PostgreSQL's
 * text forms: the ISO forms of timestamptz and timetz (offsets, fraction
 * digits, BC, an output buffer too small: refused, never overrun), and the
 * extreme dates, timestamps and intervals (refused past them, never
 * overflowed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "pg/pg_text.h"

#include <string.h>

static void expect_tstz(const char *in, int digits, const char *want)
{
	char out[64];
	bool ok = pg_text_timestamptz_iso(in, strlen(in), digits, out, sizeof(out));

	if (!want) {
		assert_false(ok);
		return;
	}
	assert_true(ok);
	assert_string_equal(out, want);
}

static void test_timestamptz(void **state)
{
	char small[21];
	const char *in = "2024-01-31 12:34:56.5+00";

	(void)state;
	expect_tstz("2024-01-31 12:34:56+00", 6, "2024-01-31T12:34:56.000000Z");
	expect_tstz("2024-01-31 12:34:56.123456+00", 6, "2024-01-31T12:34:56.123456Z");
	expect_tstz("2024-01-31 12:34:56.000042+00", 6, "2024-01-31T12:34:56.000042Z");
	expect_tstz("2024-01-31 12:34:56.5+00", 3, "2024-01-31T12:34:56.500Z");
	expect_tstz("2024-01-31 12:34:56.5+00", 0, "2024-01-31T12:34:56Z");
	expect_tstz("2024-01-31 12:34:56+05:30", 1, "2024-01-31T12:34:56.0+05:30");
	expect_tstz("2024-01-31 12:34:56-08", 0, "2024-01-31T12:34:56-08:00");
	expect_tstz("1900-01-31 12:34:56+00:19:32", 0, "1900-01-31T12:34:56+00:19:32");
	expect_tstz("0044-03-15 12:00:00+00 BC", 0, NULL);
	expect_tstz("2024-01-31 12:34:56", 0, NULL);
	expect_tstz("2024-01-31 12:34:56+00 junk", 0, NULL);
	expect_tstz("not a time", 0, NULL);
	/* 27 characters and the NUL do not fit in 21; 20 and the NUL do */
	assert_false(pg_text_timestamptz_iso(in, strlen(in), 6, small, sizeof(small)));
	assert_true(pg_text_timestamptz_iso(in, strlen(in), 0, small, sizeof(small)));
	assert_string_equal(small, "2024-01-31T12:34:56Z");
	assert_false(pg_text_timestamptz_iso(in, strlen(in), 0, small, 20));
}

static void test_timetz(void **state)
{
	char out[64];
	const char *cases[][2] = {
		{ "12:34:56+00", "12:34:56Z" },
		{ "12:34:56.120000+00", "12:34:56.12Z" },
		{ "12:34:56.000000-03:30", "12:34:56-03:30" },
		{ "23:59:59.999999+14", "23:59:59.999999+14:00" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(pg_text_timetz_iso(cases[i][0], strlen(cases[i][0]), out, sizeof(out)));
		assert_string_equal(out, cases[i][1]);
	}
	assert_false(pg_text_timetz_iso("12:34:56", 8, out, sizeof(out)));
	assert_false(pg_text_timetz_iso("12:34:56+00", 11, out, 9));
}

/* PostgreSQL's extreme values (and text past them) are refused, for the
 * caller to send as text, never overflowed. */
static void test_limits(void **state)
{
	int32_t days;
	int64_t v;

	(void)state;
	assert_true(pg_text_date("5874897-12-31", 13, &days));
	assert_int_equal(days, 2145042905);
	assert_true(pg_text_date("4714-11-24 BC", 13, &days));
	assert_int_equal(days, -2440588);
	assert_false(pg_text_date("99999999-01-01", 14, &days));     /* beyond int32 days */
	assert_false(pg_text_date("99999999999999999999-01-01", 26, &days)); /* beyond int64 */
	assert_true(pg_text_timestamp("294247-01-10 04:00:54.775807", 28, &v));
	assert_true(v == INT64_MAX);
	assert_false(pg_text_timestamp("294247-01-10 04:00:54.775808", 28, &v));
	assert_false(pg_text_timestamp("294276-12-31 23:59:59.999999", 28, &v));
	assert_true(pg_text_timestamp("4714-11-24 00:00:00 BC", 22, &v));
	assert_true(v == INT64_C(-210866803200000000));
	assert_true(pg_text_interval_micros("P-1D", 4, &v));
	assert_true(v == -INT64_C(86400000000));
	assert_false(pg_text_interval_micros("P178000000Y", 11, &v));
	assert_false(pg_text_interval_micros("P-178000000Y", 12, &v));
}

/* COPY's text format: what a COPY TO STDOUT sends, split and unescaped in
 * place; and the escape apply's COPY FROM STDIN lines use, read back. */
static void test_copy_text(void **state)
{
	char line[] = "1\t\\N\ta\\tb\\\\c\\nd\\r\\b\\f\\v\t\t\\\\N\n";
	const char *data[5];
	size_t len[5];
	struct strbuf sb;
	char again[64];
	const char raw[] = "x\ty\\z\nw\r";

	(void)state;
	assert_true(pg_copy_text_split(line, strlen(line), 5, data, len));
	assert_int_equal(len[0], 1);
	assert_memory_equal(data[0], "1", 1);
	assert_null(data[1]);
	assert_int_equal(len[2], 11);
	assert_memory_equal(data[2], "a\tb\\c\nd\r\b\f\v", 11);
	assert_non_null(data[3]); /* an empty string is not NULL */
	assert_int_equal(len[3], 0);
	assert_int_equal(len[4], 2); /* "\\N" is the text \N */
	assert_memory_equal(data[4], "\\N", 2);
	/* another number of fields than columns */
	strcpy(again, "1\t2\n");
	assert_false(pg_copy_text_split(again, strlen(again), 1, data, len));
	strcpy(again, "1\t2\n");
	assert_false(pg_copy_text_split(again, strlen(again), 3, data, len));
	strcpy(again, "\n");
	assert_true(pg_copy_text_split(again, 1, 0, data, len));
	strcpy(again, "\\N");
	assert_true(pg_copy_text_split(again, 2, 1, data, len));
	assert_null(data[0]);
	/* escaped, then split again: the same bytes */
	strbuf_init(&sb);
	pg_copy_text_escape(&sb, raw, strlen(raw));
	assert_string_equal(sb.data, "x\\ty\\\\z\\nw\\r");
	strbuf_add(&sb, "\n", 1);
	assert_true(pg_copy_text_split(sb.data, sb.len, 1, data, len));
	assert_int_equal(len[0], strlen(raw));
	assert_memory_equal(data[0], raw, strlen(raw));
	strbuf_fini(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamptz),
		cmocka_unit_test(test_timetz),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_copy_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
