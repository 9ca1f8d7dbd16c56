/*
 * tests/unit/test_apply_types.c: agent/apply/apply_types.c's pure parts: where
 * each enum label the target lacks goes (BEFORE/AFTER which neighbour, in
 * the source's order), and which header names may name a type the agent
 * creates.  Making the types on a server is tested end to end
 * (tests/integration/88_types.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "apply/apply_types.h"

#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The plan as "label>after" / "label<before" / "label$" (at the end), ' '-joined. */
static void expect_plan(const char *const *src, size_t nsrc, const char *const *have, size_t nhave,
			const char *want)
{
	struct label_add out[16];
	char got[512] = "";
	size_t n = apply_types_label_plan(src, nsrc, have, nhave, out);

	for (size_t i = 0; i < n; i++) {
		strcat(got, i ? " " : "");
		strcat(got, out[i].label);
		strcat(got, !out[i].neighbour ? "$" : out[i].before ? "<" : ">");
		if (out[i].neighbour)
			strcat(got, out[i].neighbour);
	}
	assert_string_equal(got, want);
}

static void test_label_plan(void **state)
{
	static const char *const src[] = { "awful", "sad", "meh", "ok", "happy", "ecstatic" };
	static const char *const have3[] = { "sad", "ok", "happy" };
	static const char *const all[] = { "awful", "sad", "meh", "ok", "happy", "ecstatic" };
	static const char *const extra[] = { "sad", "renamed", "ok" };
	static const char *const dup[] = { "a", "b", "b", "c" };
	static const char *const have_a[] = { "a" };

	(void)state;
	/* added before the first, in the middle, after the last */
	expect_plan(src, N(src), have3, N(have3), "awful<sad meh>sad ecstatic>happy");
	/* nothing to add */
	expect_plan(src, N(src), all, N(all), "");
	/* an empty enum on the target: each after the one before, the first at the end */
	expect_plan(src, 3, NULL, 0, "awful$ sad>awful meh>sad");
	/* the target's own labels stay where they are */
	expect_plan(src, N(src), extra, N(extra), "awful<sad meh>sad happy>ok ecstatic>happy");
	/* a label listed twice is added once */
	expect_plan(dup, N(dup), have_a, N(have_a), "b>a c>b");
}

static void test_label_renamed(void **state)
{
	static const char *const src[] = { "sad", "so-so", "ok" };
	static const char *const have[] = { "sad", "meh", "ok" };
	static const char *const same[] = { "sad", "so-so", "ok" };
	static const char *const swapped[] = { "sad", "ok", "so-so" };
	static const char *const two[] = { "bad", "meh", "ok" };
	static const char *const shorter[] = { "sad", "meh" };
	static const char *const moved[] = { "sad", "ok", "meh" };
	const char *from = NULL, *to = NULL;

	(void)state;
	assert_true(apply_types_label_renamed(src, 3, have, 3, &from, &to));
	assert_string_equal(from, "meh");
	assert_string_equal(to, "so-so");
	assert_false(apply_types_label_renamed(src, 3, same, 3, &from, &to));    /* nothing */
	assert_false(apply_types_label_renamed(src, 3, swapped, 3, &from, &to)); /* reordered */
	assert_false(apply_types_label_renamed(src, 3, two, 3, &from, &to));     /* two differ */
	assert_false(apply_types_label_renamed(src, 3, shorter, 2, &from, &to)); /* one to add */
	assert_false(apply_types_label_renamed(src, 3, moved, 3, &from, &to));   /* not in place */
}

static void test_names(void **state)
{
	char long_name[70];

	(void)state;
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_true(apply_types_name_ok("public", true));
	assert_true(apply_types_name_ok("My Schema \"x\"", true)); /* quoted when used */
	assert_true(apply_types_name_ok("pg_thing", false));      /* a type name may */
	assert_false(apply_types_name_ok("pg_catalog", true));
	assert_false(apply_types_name_ok("pg_temp", true));
	assert_false(apply_types_name_ok("information_schema", true));
	assert_false(apply_types_name_ok("cdc_agent", true));
	assert_false(apply_types_name_ok("", false));
	assert_false(apply_types_name_ok(NULL, false));
	assert_false(apply_types_name_ok(long_name, false));
	long_name[63] = '\0';
	assert_true(apply_types_name_ok(long_name, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_plan),
		cmocka_unit_test(test_label_renamed),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
