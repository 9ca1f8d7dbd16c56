/*
 * tests/unit/test_pg_hba.c: agent/provision/pg_hba.c's placement of the agent's
 * marked blocks in pg_hba.conf: ahead of the operator's rules, stable on a
 * second pass, two blocks that do not move each other, and a block moved
 * below the rules or edited put back; the block's lines: `host`, or
 * `hostssl` when the server's sslmode requires TLS, and a change of sslmode
 * replacing the block in place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "provision/pg_hba.h"

#include <stdlib.h>
#include <string.h>

static const char block_a[] = "# BEGIN cdc-agent source db1 (managed)\nhost\tdb1\tu\t127.0.0.1/32\tscram-sha-256\n# END cdc-agent source db1\n";

static const char block_b[] = "# BEGIN cdc-agent target db2 (managed)\nhost\tdb2\tv\t127.0.0.1/32\tscram-sha-256\n# END cdc-agent target db2\n";

static const char operator_rules[] = "# comment\nlocal all all trust\nhost all all 0.0.0.0/0 reject\n";

static void test_hba_block_added_first_then_stable(void **state)
{
	char *once = pg_hba_desired(operator_rules, block_a, "source db1");
	char *twice = pg_hba_desired(once, block_a, "source db1");
	char *want = xasprintf("%s%s", block_a, operator_rules);

	(void)state;
	assert_string_equal(once, want);
	assert_string_equal(twice, once);
	free(once);
	free(twice);
	free(want);
}

static void test_hba_two_blocks_do_not_fight(void **state)
{
	char *a = pg_hba_desired(operator_rules, block_a, "source db1");
	char *ab = pg_hba_desired(a, block_b, "target db2");
	char *ab_again = pg_hba_desired(ab, block_a, "source db1");
	char *ab_third = pg_hba_desired(ab_again, block_b, "target db2");

	(void)state;
	assert_string_equal(ab_again, ab);
	assert_string_equal(ab_third, ab);
	free(a);
	free(ab);
	free(ab_again);
	free(ab_third);
}

static void test_hba_block_below_rules_or_edited_is_fixed(void **state)
{
	char *below = xasprintf("%s%s", operator_rules, block_a);
	char *moved = pg_hba_desired(below, block_a, "source db1");
	char *want = xasprintf("%s%s", block_a, operator_rules);
	char *edited_block = xstrdup(block_a);
	char *edited, *fixed;

	(void)state;
	assert_string_equal(moved, want);
	edited_block[strlen(edited_block) - 40] = 'X';
	edited = xasprintf("%s%s", edited_block, operator_rules);
	fixed = pg_hba_desired(edited, block_a, "source db1");
	assert_string_equal(fixed, want);
	free(below);
	free(moved);
	free(want);
	free(edited_block);
	free(edited);
	free(fixed);
}

static void test_hba_hostssl_when_tls_required(void **state)
{
	char *addrs[] = { "127.0.0.1/32", "::1/128" };
	struct pg_server_cfg pg = { .user = "cdc_user",
				    .hba_allow = { .items = addrs, .n = 2 } };
	const char *begin = "# BEGIN cdc-agent source db1 (managed by cdc-agent: edits inside are overwritten)\n";
	const char *end = "# END cdc-agent source db1\n";
	char *plain, *tls, *want, *once, *switched, *again;

	(void)state;
	for (int m = PG_SSLMODE_PREFER; m < PG_SSLMODE_COUNT; m++) {
		bool ssl = m == PG_SSLMODE_REQUIRE || m == PG_SSLMODE_VERIFY_CA ||
			   m == PG_SSLMODE_VERIFY_FULL;
		char *block;

		pg.sslmode = (enum pg_sslmode)m;
		block = pg_hba_block("source db1", &pg, "db1");
		want = xasprintf("%s%s\tdb1\tcdc_user\t127.0.0.1/32\tscram-sha-256\n"
				 "%s\tdb1\tcdc_user\t::1/128\tscram-sha-256\n%s",
				 begin, ssl ? "hostssl" : "host", ssl ? "hostssl" : "host", end);
		assert_string_equal(block, want);
		free(want);
		free(block);
	}
	pg.sslmode = PG_SSLMODE_PREFER;
	plain = pg_hba_block("source db1", &pg, "db1");
	pg.sslmode = PG_SSLMODE_VERIFY_FULL;
	tls = pg_hba_block("source db1", &pg, "db1");
	/* switching sslmode replaces the block where it is, once */
	once = pg_hba_desired(operator_rules, plain, "source db1");
	switched = pg_hba_desired(once, tls, "source db1");
	again = pg_hba_desired(switched, tls, "source db1");
	want = xasprintf("%s%s", tls, operator_rules);
	assert_string_equal(switched, want);
	assert_string_equal(again, switched);
	assert_null(strstr(switched, "\nhost\t"));
	free(want);
	free(again);
	free(switched);
	free(once);
	free(tls);
	free(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hba_block_added_first_then_stable),
		cmocka_unit_test(test_hba_two_blocks_do_not_fight),
		cmocka_unit_test(test_hba_block_below_rules_or_edited_is_fixed),
		cmocka_unit_test(test_hba_hostssl_when_tls_required),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
