/*
 * tests/unit/test_scram.c: agent/pg/scram.c's check of a stored SCRAM verifier
 * against the password file's password, with the verifier's own salt and
 * iterations; MD5, missing and malformed verifiers never match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg/scram.h"

static void test_scram_verifier(void **state)
{
	/* Made by PostgreSQL 15: CREATE ROLE x PASSWORD 's3cret pass' */
	static const char verifier[] =
		"SCRAM-SHA-256$4096:K44pb3xuftVL/2cnu1Mz+Q==$"
		"2JL+5rtXu575mrS+oa0c5Ie4Wa9qIlcjHB7XmlyqNPU=:"
		"so7L6fYZSWaTOHio0lLPmHI1LgDIDrNOLG8zNq5p1Wo=";

	(void)state;
	assert_true(scram_verifier_matches(verifier, "s3cret pass"));
	assert_false(scram_verifier_matches(verifier, "s3cret pasS"));
	assert_false(scram_verifier_matches(verifier, ""));
	assert_false(scram_verifier_matches("md5a247fc3512619ee8bc7a0c150be8754a", "s3cret pass"));
	assert_false(scram_verifier_matches(NULL, "s3cret pass"));
	assert_false(scram_verifier_matches("SCRAM-SHA-256$4096:!!$x:y", "s3cret pass"));
	assert_false(scram_verifier_matches("SCRAM-SHA-256$", "s3cret pass"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scram_verifier),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
