/*
 * tests/unit/test_status.c: agent/status/status.c's one reading of a half's unit
 * and supervision (status_process_state), shared by the pipeline state,
 * Kafka Connect's state and run; the table's cluster line (status_table.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "status/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The table's cluster line (issue #19): brokers up of expected with the
 * ones down by name, the controller, partitions; the pipelines of other
 * hosts named with them; the brokers' error when they do not answer. */
static void test_cluster_table(void **unused)
{
	json_t *doc = json_loads(
		"{\"components\": [], \"pipelines\": [], \"warnings\": [],"
		" \"cluster\": {\"brokers_expected\": 3, \"brokers_up\": 2, \"controller_id\": 1,"
		"  \"partitions\": 4, \"under_replicated_partitions\": 3, \"offline_partitions\": 0,"
		"  \"brokers\": [{\"id\": 1, \"name\": \"k1\", \"up\": true},"
		"              {\"id\": 3, \"name\": \"k3\", \"up\": false}], \"error\": null},"
		" \"pipelines_elsewhere\": [{\"name\": \"p2\", \"capture_host\": \"10.0.0.4\","
		"  \"apply_host\": \"10.0.0.5\"}]}", 0, NULL);
	json_t *down = json_loads("{\"cluster\": {\"error\": \"Kafka 10.0.0.1:9092 does not answer\"}}",
				  0, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)unused;
	assert_non_null(doc);
	assert_non_null(down);
	status_print_table(doc, out);
	status_print_table(down, out);
	fclose(out);
	assert_non_null(strstr(text, "cluster: 2/3 brokers up (down: k3), controller 1, 4 partitions, "
				     "3 under-replicated, 0 offline\n"));
	assert_non_null(strstr(text, "p2               on other hosts: capture 10.0.0.4, apply 10.0.0.5\n"));
	assert_non_null(strstr(text, "cluster: Kafka 10.0.0.1:9092 does not answer\n"));
	free(text);
	json_decref(doc);
	json_decref(down);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_state),
		cmocka_unit_test(test_cluster_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
