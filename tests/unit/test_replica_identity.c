/*
 * tests/unit/test_replica_identity.c: agent/pg/replica_identity.c's verdicts
 * on a table's REPLICA IDENTITY and key, and their messages: each case its
 * own, with the ALTER TABLE that fixes it.  Against real servers:
 * tests/integration/81_table_keys.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "pg/replica_identity.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_explain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
