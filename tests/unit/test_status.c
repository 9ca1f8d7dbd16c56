/*
 * tests/unit/test_status.c: agent/status/status.c's one reading of a half's unit
 * and supervision (status_process_state), shared by the pipeline state,
 * Kafka Connect's state and run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "status/status.h"

/* One reading of a half's unit and supervision, shared by the pipeline
 * state, Kafka Connect's state and run. */
static void test_process_state(void **unused)
{
	static const struct {
		const char *half;
		enum process_state want;
	} cases[] = {
		{ "{\"unit\": {\"active\": \"active\", \"supervision\": \"running\"}}", PROCESS_RUNNING },
		{ "{\"unit\": {\"active\": \"inactive\", \"supervision\": \"stopped by operator\"}}", PROCESS_STOPPED },
		{ "{\"unit\": {\"active\": \"failed\"}}", PROCESS_FAILED },
		{ "{\"unit\": {\"active\": \"inactive\", \"supervision\": \"gave up after 5 attempts\"}}", PROCESS_FAILED },
		{ "{\"unit\": {\"active\": \"activating\"}}", PROCESS_STARTING },
		{ "{\"unit\": {\"active\": \"unknown\"}}", PROCESS_UNKNOWN },
		{ "{\"unit\": null, \"pid\": 12}", PROCESS_RUNNING },
		{ "{\"unit\": null}", PROCESS_UNKNOWN },
	};

	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *half = json_loads(cases[i].half, 0, NULL);

		assert_non_null(half);
		assert_int_equal(status_process_state(half), cases[i].want);
		json_decref(half);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
