/*
 * tests/unit/test_key_set.c: agent/base/key_set.c, the keys of apply's row
 * groups: membership by bytes (embedded NULs, prefixes), growth past many
 * keys, and emptying by generation (old keys gone, memory kept, and the
 * generation counter's wrap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/key_set.h"

#include <stdio.h>
#include <string.h>

static void test_membership(void **state)
{
	struct key_set ks;

	(void)state;
	key_set_init(&ks);
	assert_false(key_set_contains(&ks, "a", 1));
	assert_true(key_set_add(&ks, "1\x1f", 2));
	assert_false(key_set_add(&ks, "1\x1f", 2));
	assert_true(key_set_contains(&ks, "1\x1f", 2));
	assert_false(key_set_contains(&ks, "1", 1));      /* a prefix is another key */
	assert_false(key_set_contains(&ks, "1\x1f\x1f", 3));
	assert_true(key_set_add(&ks, "a\0b", 3));          /* bytes, not C strings */
	assert_false(key_set_contains(&ks, "a\0c", 3));
	assert_true(key_set_contains(&ks, "a\0b", 3));
	assert_true(key_set_add(&ks, "", 0));
	assert_true(key_set_contains(&ks, "", 0));
	assert_int_equal(ks.n, 3);
	key_set_fini(&ks);
}

static void test_many_and_clear(void **state)
{
	struct key_set ks;
	char key[32];
	size_t cap;

	(void)state;
	key_set_init(&ks);
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(key, sizeof(key), "%d\x1f", i);

		assert_true(key_set_add(&ks, key, (size_t)n));
	}
	assert_int_equal(ks.n, 20000);
	for (int i = 0; i < 20000; i += 997) {
		int n = snprintf(key, sizeof(key), "%d\x1f", i);

		assert_true(key_set_contains(&ks, key, (size_t)n));
		assert_false(key_set_add(&ks, key, (size_t)n));
	}
	assert_false(key_set_contains(&ks, "20000\x1f", 6));
	cap = ks.cap;
	key_set_clear(&ks);
	assert_int_equal(ks.n, 0);
	assert_int_equal(ks.cap, cap); /* memory kept */
	assert_false(key_set_contains(&ks, "7\x1f", 2));
	assert_true(key_set_add(&ks, "7\x1f", 2));
	assert_true(key_set_contains(&ks, "7\x1f", 2));
	assert_false(key_set_contains(&ks, "8\x1f", 2));
	key_set_fini(&ks);
}

static void test_generation_wrap(void **state)
{
	struct key_set ks;

	(void)state;
	key_set_init(&ks);
	assert_true(key_set_add(&ks, "x", 1));
	ks.gen = UINT32_MAX; /* as after 2^32 - 1 groups */
	assert_true(key_set_add(&ks, "y", 1));
	key_set_clear(&ks); /* wraps: slots cleared, from 1 again */
	assert_int_equal(ks.gen, 1);
	assert_false(key_set_contains(&ks, "x", 1)); /* filled in generation 1 before */
	assert_false(key_set_contains(&ks, "y", 1));
	assert_true(key_set_add(&ks, "x", 1));
	key_set_fini(&ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_membership),
		cmocka_unit_test(test_many_and_clear),
		cmocka_unit_test(test_generation_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
