/*
 * tests/unit/test_keys.c: the pure parts of tables without a usable key:
 * agent/replica_identity.c's verdicts and messages (each case its own, with
 * the ALTER TABLE that fixes it) and agent/apply_keyless.c's statements
 * (one row each, every old column compared as text, NULLs matching), and
 * an update's before row read apart from its after row (apply_event.c).
 * Against real servers: tests/integration/81_table_keys.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "apply_keyless.h"
#include "replica_identity.h"

#include <stdlib.h>
#include <string.h>

static void test_judge(void **state)
{
	(void)state;
	assert_int_equal(replica_identity_judge('d', true, false), IDENTITY_OK);
	assert_int_equal(replica_identity_judge('f', false, false), IDENTITY_OK);
	assert_int_equal(replica_identity_judge('f', true, false), IDENTITY_OK);
	assert_int_equal(replica_identity_judge('i', true, true), IDENTITY_OK);
	assert_int_equal(replica_identity_judge('i', true, false), IDENTITY_INDEX_GONE);
	assert_int_equal(replica_identity_judge('d', false, false), IDENTITY_NO_KEY_DEFAULT);
	assert_int_equal(replica_identity_judge('n', true, false), IDENTITY_NOTHING_WITH_PK);
	assert_int_equal(replica_identity_judge('n', false, false), IDENTITY_NOTHING_NO_PK);
}

static void expect_explained(enum identity_verdict v, const char *start, const char *fix)
{
	struct strbuf sb;

	strbuf_init(&sb);
	replica_identity_explain(&sb, v, "s.T x", "s.\"T x\"");
	if (strncmp(sb.data, start, strlen(start)) != 0)
		fail_msg("verdict %d: '%s' does not start with '%s'", (int)v, sb.data, start);
	if (!strstr(sb.data, fix))
		fail_msg("verdict %d: '%s' lacks '%s'", (int)v, sb.data, fix);
	strbuf_fini(&sb);
}

static void test_explain(void **state)
{
	struct strbuf sb;
	const char *seen[4];

	(void)state;
	expect_explained(IDENTITY_NO_KEY_DEFAULT,
			 "table s.T x has no primary key and REPLICA IDENTITY DEFAULT",
			 "fix: ALTER TABLE s.\"T x\" REPLICA IDENTITY FULL");
	expect_explained(IDENTITY_NOTHING_WITH_PK,
			 "table s.T x has a primary key but REPLICA IDENTITY NOTHING",
			 "fix: ALTER TABLE s.\"T x\" REPLICA IDENTITY DEFAULT");
	expect_explained(IDENTITY_NOTHING_NO_PK,
			 "table s.T x has no primary key and REPLICA IDENTITY NOTHING",
			 "fix: ALTER TABLE s.\"T x\" REPLICA IDENTITY FULL");
	expect_explained(IDENTITY_INDEX_GONE,
			 "table s.T x has REPLICA IDENTITY USING INDEX but that index no longer exists",
			 "fix: ALTER TABLE s.\"T x\" REPLICA IDENTITY FULL");
	/* each case its own message */
	for (int v = IDENTITY_NO_KEY_DEFAULT; v <= IDENTITY_INDEX_GONE; v++) {
		strbuf_init(&sb);
		replica_identity_explain(&sb, (enum identity_verdict)v, "t", "t");
		seen[v - 1] = strbuf_detach(&sb);
		for (int w = IDENTITY_NO_KEY_DEFAULT; w < v; w++)
			assert_string_not_equal(seen[w - 1], seen[v - 1]);
	}
	for (int v = 0; v < 4; v++)
		free((char *)seen[v]);
	strbuf_init(&sb);
	replica_identity_explain(&sb, IDENTITY_OK, "t", "t");
	assert_int_equal(sb.len, 0);
	strbuf_fini(&sb);
}

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

/* An update's before row is read on demand, apart from the after row; the
 * cdc.unchanged header speaks of the after row only. */
static void test_before_row(void **state)
{
	static const char with_before[] =
		"{\"before\":{\"a\":1,\"b\":\"old\",\"c\":null},"
		"\"after\":{\"a\":2,\"b\":\"__debezium_unavailable_value\",\"c\":null},"
		"\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"u\"}";
	static const char without_before[] =
		"{\"before\":null,\"after\":{\"a\":2,\"b\":\"x\",\"c\":null},"
		"\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"u\"}";
	static const char unchanged[] = "[\"b\"]";
	struct apply_event ev;
	struct strbuf why;
	bool present;

	(void)state;
	apply_event_init(&ev);
	strbuf_init(&why);
	assert_true(apply_event_parse(NULL, 0, with_before, strlen(with_before), unchanged,
				      strlen(unchanged), NULL, 0, &ev, &why));
	assert_int_equal(ev.nfields, 3);
	assert_true(ev.fields[1].unchanged);
	assert_true(apply_event_before(&ev, &present, &why));
	assert_true(present);
	assert_int_equal(ev.nbefore, 3);
	assert_string_equal(ev.before[1].name, "b");
	assert_false(ev.before[1].unchanged);
	assert_int_equal(ev.before[1].value.len, 3);
	assert_memory_equal(ev.before[1].value.text, "old", 3);
	/* the after row is still there, as it was */
	assert_int_equal(ev.nfields, 3);
	assert_true(ev.fields[1].unchanged);
	assert_memory_equal(ev.fields[0].value.text, "2", 1);

	assert_true(apply_event_parse(NULL, 0, without_before, strlen(without_before), NULL, 0,
				      NULL, 0, &ev, &why));
	assert_true(apply_event_before(&ev, &present, &why));
	assert_false(present);
	strbuf_fini(&why);
	apply_event_fini(&ev);
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
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_statements),
		cmocka_unit_test(test_before_row),
		cmocka_unit_test(test_position),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
