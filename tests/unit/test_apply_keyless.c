/*
 * tests/unit/test_apply_keyless.c: agent/apply/apply_keyless.c's pure parts: the
 * statements of a table without a key (one row each, every old column
 * compared as text, NULLs matching) and the form of a cdc.position header.
 * Against real servers: tests/integration/81_table_keys.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "apply/apply_keyless.h"

#include <stdlib.h>
#include <string.h>

static const char *const cols[] = { "\"a\"", "\"B c\"", "\"j\"" };

static const char *const set_types[] = { "integer", "text", "json" };

static const char *const match_types[] = { "integer", "character varying(5)", "json" };

static void expect_sql(char op, const char *set, const char *match, const char *want)
{
	char *sql = keyless_sql(op, "\"s\".\"t\"", 3, cols, set_types, match_types, set, match);

	assert_string_equal(sql, want);
	free(sql);
}

static void test_statements(void **state)
{
	(void)state;
	expect_sql('c', "111", "000",
		   "INSERT INTO \"s\".\"t\" (\"a\", \"B c\", \"j\") VALUES ($1::integer, $2::text, $3::json)");
	expect_sql('c', "101", "000",
		   "INSERT INTO \"s\".\"t\" (\"a\", \"j\") VALUES ($1::integer, $2::json)");
	expect_sql('c', "000", "000", "INSERT INTO \"s\".\"t\" DEFAULT VALUES");
	/* an update: the new values first, then every old value, one row */
	expect_sql('u', "010", "111",
		   "UPDATE \"s\".\"t\" SET \"B c\" = $1::text WHERE (tableoid, ctid) = "
		   "(SELECT tableoid, ctid FROM \"s\".\"t\" WHERE "
		   "\"a\"::text IS NOT DISTINCT FROM ($2::integer)::text AND "
		   "\"B c\"::text IS NOT DISTINCT FROM ($3::character varying(5))::text AND "
		   "\"j\"::text IS NOT DISTINCT FROM ($4::json)::text LIMIT 1)");
	expect_sql('d', "000", "111",
		   "DELETE FROM \"s\".\"t\" WHERE (tableoid, ctid) = "
		   "(SELECT tableoid, ctid FROM \"s\".\"t\" WHERE "
		   "\"a\"::text IS NOT DISTINCT FROM ($1::integer)::text AND "
		   "\"B c\"::text IS NOT DISTINCT FROM ($2::character varying(5))::text AND "
		   "\"j\"::text IS NOT DISTINCT FROM ($3::json)::text LIMIT 1)");
}

static void test_position(void **state)
{
	(void)state;
	assert_true(keyless_position_valid("00000000016B3A28:00000001", 25));
	assert_true(keyless_position_valid("FFFFFFFFFFFFFFFF:FFFFFFFF", 25));
	assert_false(keyless_position_valid("00000000016b3a28:00000001", 25)); /* capture's case */
	assert_false(keyless_position_valid("00000000016B3A28-00000001", 25));
	assert_false(keyless_position_valid("00000000016B3A28:0000001", 24));
	assert_false(keyless_position_valid("00000000016B3A28:000000011", 26));
	assert_false(keyless_position_valid("0000000'016B3A28:00000001", 25));
	/* ordered as text as the stream orders them */
	assert_true(strcmp("00000000016B3A28:00000002", "00000000016B3A28:0000000A") < 0);
	assert_true(strcmp("00000000016B3A28:FFFFFFFF", "00000000016B3A29:00000001") < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statements),
		cmocka_unit_test(test_position),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
