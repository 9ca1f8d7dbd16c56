/*
 * tests/unit/test_json_out.c: agent/base/json_out.c's printf-free integers of the
 * event hot path (json_out_int, json_out_uint) at their limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json_out.h"
#include "base/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void expect_int(int64_t v)
{
	struct strbuf sb;
	char want[32];

	snprintf(want, sizeof(want), "%" PRId64, v);
	strbuf_init(&sb);
	json_out_int(&sb, v);
	assert_string_equal(sb.data, want);
	strbuf_fini(&sb);
}

static void test_ints(void **state)
{
	struct strbuf sb;

	(void)state;
	expect_int(0);
	expect_int(7);
	expect_int(-7);
	expect_int(10);
	expect_int(1732540000123);
	expect_int(-1732540000123000000);
	expect_int(INT64_MAX);
	expect_int(INT64_MIN);
	strbuf_init(&sb);
	json_out_uint(&sb, UINT64_MAX);
	strbuf_adds(&sb, ",");
	json_out_uint(&sb, 0);
	assert_string_equal(sb.data, "18446744073709551615,0");
	strbuf_fini(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
