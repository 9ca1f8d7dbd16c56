/*
 * tests/unit/test_supervise.c: run's rule for stopped units
 * (agent/systemd/supervise.c): running units are left to systemd, an operator's
 * stop is respected, a never-started unit is started, a crashed one is
 * started again with doubling backoff and given up after
 * SUPERVISE_MAX_ATTEMPTS, a reload forgives, a unit that stays up recovers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "systemd/supervise.h"

#include <stdio.h>
#include <string.h>

static struct unit_state state(const char *active, const char *result, uint64_t entered)
{
	struct unit_state st;

	memset(&st, 0, sizeof(st));
	snprintf(st.active, sizeof(st.active), "%s", active);
	snprintf(st.result, sizeof(st.result), "%s", result);
	st.active_enter_usec = entered;
	return st;
}

static void test_running_and_stopped(void **unused)
{
	struct supervisor *s = supervisor_new();
	struct unit_state up = state("active", "success", 1);
	struct unit_state restarting = state("activating", "exit-code", 1);
	struct unit_state stopped = state("inactive", "success", 1);
	struct unit_state never = state("inactive", "success", 0);
	struct strbuf how;

	(void)unused;
	assert_int_equal(supervisor_decide(s, "a", &up, 100), UNIT_RUNNING);
	assert_int_equal(supervisor_decide(s, "a", &restarting, 100), UNIT_RUNNING);
	assert_int_equal(supervisor_decide(s, "a", &stopped, 100), UNIT_OPERATOR_STOPPED);
	assert_int_equal(supervisor_decide(s, "b", &never, 100), UNIT_START);
	strbuf_init(&how);
	supervisor_describe(s, "a", &stopped, 100, &how);
	assert_string_equal(how.data, "stopped by operator");
	strbuf_fini(&how);
	supervisor_free(s);
}

/* apply's exit 65 (a record it cannot go past): never started again. */
static void test_refused_input_left_failed(void **unused)
{
	struct supervisor *s = supervisor_new();
	struct unit_state refused = state("failed", "exit-code", 1);
	struct unit_state other = state("failed", "exit-code", 1);
	struct strbuf how;

	(void)unused;
	refused.exit_status = EXIT_REFUSED_INPUT;
	other.exit_status = 1;
	assert_int_equal(supervisor_decide(s, "apply", &refused, 100), UNIT_GAVE_UP);
	assert_int_equal(supervisor_decide(s, "apply", &refused, 100000), UNIT_GAVE_UP);
	supervisor_forgive(s);
	assert_int_equal(supervisor_decide(s, "apply", &refused, 100000), UNIT_GAVE_UP);
	assert_int_equal(supervisor_decide(s, "other", &other, 100), UNIT_START);
	strbuf_init(&how);
	supervisor_describe(s, "apply", &refused, 100, &how);
	assert_true(strncmp(how.data, SUPERVISION_GAVE_UP, strlen(SUPERVISION_GAVE_UP)) == 0);
	assert_non_null(strstr(how.data, "exit 65"));
	strbuf_fini(&how);
	supervisor_free(s);
}

static void test_crash_backoff_and_give_up(void **unused)
{
	struct supervisor *s = supervisor_new();
	struct unit_state failed = state("failed", "signal", 1);
	struct unit_state crashed = state("inactive", "exit-code", 1);
	time_t now = 1000;
	int delay = SUPERVISE_BACKOFF_FIRST_SEC;
	struct strbuf how;

	(void)unused;
	/* The first crash is started at once. */
	assert_int_equal(supervisor_decide(s, "c", &failed, now), UNIT_START);
	supervisor_started(s, "c", true, now);
	for (int attempt = 1; attempt < SUPERVISE_MAX_ATTEMPTS; attempt++) {
		/* It crashed again after our start: wait, then start. */
		now += 1;
		assert_int_equal(supervisor_decide(s, "c", attempt % 2 ? &failed : &crashed, now),
				 UNIT_BACKING_OFF);
		assert_int_equal(supervisor_decide(s, "c", &failed, now + delay - 2), UNIT_BACKING_OFF);
		now += delay;
		assert_int_equal(supervisor_decide(s, "c", &failed, now), UNIT_START);
		supervisor_started(s, "c", true, now);
		delay = delay * 2 > SUPERVISE_BACKOFF_MAX_SEC ? SUPERVISE_BACKOFF_MAX_SEC : delay * 2;
	}
	now += 1;
	assert_int_equal(supervisor_decide(s, "c", &failed, now), UNIT_GAVE_UP);
	assert_int_equal(supervisor_decide(s, "c", &failed, now + 100000), UNIT_GAVE_UP);
	strbuf_init(&how);
	supervisor_describe(s, "c", &failed, now, &how);
	assert_string_equal(how.data, "gave up after 5 attempts");
	strbuf_fini(&how);
	/* A reload (SIGHUP) tries again. */
	supervisor_forgive(s);
	assert_int_equal(supervisor_decide(s, "c", &failed, now), UNIT_START);
	supervisor_free(s);
}

static void test_failed_start_and_recovery(void **unused)
{
	struct supervisor *s = supervisor_new();
	struct unit_state failed = state("failed", "exit-code", 1);
	struct unit_state up = state("active", "success", 2);

	(void)unused;
	assert_int_equal(supervisor_decide(s, "d", &failed, 10), UNIT_START);
	supervisor_started(s, "d", false, 10); /* the start job itself failed */
	assert_int_equal(supervisor_decide(s, "d", &failed, 11), UNIT_BACKING_OFF);
	assert_int_equal(supervisor_decide(s, "d", &failed, 10 + SUPERVISE_BACKOFF_FIRST_SEC),
			 UNIT_START);
	supervisor_started(s, "d", true, 20);
	/* Up for a minute: recovered; its next crash is a first one again. */
	assert_int_equal(supervisor_decide(s, "d", &up, 20 + 60), UNIT_RUNNING);
	assert_int_equal(supervisor_decide(s, "d", &failed, 81), UNIT_START);
	supervisor_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_running_and_stopped),
		cmocka_unit_test(test_refused_input_left_failed),
		cmocka_unit_test(test_crash_backoff_and_give_up),
		cmocka_unit_test(test_failed_start_and_recovery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
