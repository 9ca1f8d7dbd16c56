/*
 * tests/unit/test_status_http.c: agent/status/status_http.c's Kafka Connect
 * connector status for each process state, and which Host headers the
 * endpoints answer (DNS rebinding).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "status/status.h"
#include "status/status_http.h"

#include "status_docs.h"

#include <string.h>

static void test_connect_shape(void **unused)
{
	json_t *doc = doc_parse(doc_text), *shape;

	(void)unused;
	shape = status_connect_shape(doc, "source-db1", "127.0.0.1:8083");
	assert_non_null(shape);
	assert_string_equal(json_string_value(json_object_get(shape, "type")), "source");
	assert_string_equal(json_string_value(json_object_get(json_object_get(shape, "connector"), "state")),
			    "RUNNING");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(shape, "tasks"), 0),
								"worker_id")),
			    "127.0.0.1:8083");
	json_decref(shape);

	shape = status_connect_shape(doc, "sink-db2", "w");
	assert_string_equal(json_string_value(json_object_get(json_object_get(shape, "connector"), "state")),
			    "FAILED");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(shape, "tasks"), 0),
								"trace")),
			    "target db2: duplicate key");
	json_decref(shape);

	assert_null(status_connect_shape(doc, "sink-db3", "w"));
	json_decref(doc);
}

/* The states status.c decided are what Connect's shape says: STALLED is
 * FAILED to Connect (trace: the reason), SNAPSHOTTING RUNNING. */
static void test_decided_states(void **unused)
{
	json_t *doc = doc_parse(decided_doc_text);
	json_t *shape, *task;

	(void)unused;
	shape = status_connect_shape(doc, "sink-db2", "w");
	task = json_array_get(json_object_get(shape, "tasks"), 0);
	assert_string_equal(json_string_value(json_object_get(task, "state")), "FAILED");
	assert_string_equal(json_string_value(json_object_get(task, "trace")), "apply: stuck");
	assert_string_equal(json_string_value(json_object_get(task, "cdc_agent_state")), "STALLED");
	json_decref(shape);
	shape = status_connect_shape(doc, "source-db1", "w");
	assert_string_equal(json_string_value(json_object_get(json_object_get(shape, "connector"), "state")),
			    "RUNNING");
	json_decref(shape);
	json_decref(doc);
}

/* Host: loopback names and the listen address, with no port or the listen
 * port; nothing a rebound DNS name, another port or a trick spelling gives. */
static void test_host_allowed(void **unused)
{
	static const char *const ok4[] = {
		"localhost", "LOCALHOST", "localhost:8083", "127.0.0.1", "127.0.0.1:8083",
		"127.9.8.7", "127.255.255.255:8083", "[::1]", "[::1]:8083",
		"[0:0:0:0:0:0:0:1]:8083", "127.0.0.1:08083",
	};
	static const char *const bad4[] = {
		"", ":8083", "evil.example", "evil.example:8083", "localhost:8084",
		"localhost:", "localhost:80830", "localhost:8083x", "localhost:+8083",
		"localhost:-8083", "localhost.", "localhost.evil.example",
		"127.0.0.1.evil.example", "evil.127.0.0.1", "127.0.0.1:8083@evil.example",
		"127.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "128.0.0.1", "10.0.0.1:8083",
		"[::1", "[::1]8083", "[::2]", "[::ffff:127.0.0.1]", "::1", "[::1]:8084",
		"[evil.example]", "local host", "localhost:8083:8083",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(ok4) / sizeof(ok4[0]); i++)
		if (!status_http_host_allowed(ok4[i], "127.0.0.1:8083"))
			fail_msg("Host '%s' refused", ok4[i]);
	for (i = 0; i < sizeof(bad4) / sizeof(bad4[0]); i++)
		if (status_http_host_allowed(bad4[i], "127.0.0.1:8083"))
			fail_msg("Host '%s' accepted", bad4[i]);
	assert_false(status_http_host_allowed(NULL, "127.0.0.1:8083"));
	/* The listen address itself, and on [::1]. */
	assert_true(status_http_host_allowed("127.0.0.5:9000", "127.0.0.5:9000"));
	assert_true(status_http_host_allowed("127.0.0.5", "127.0.0.5:9000"));
	assert_false(status_http_host_allowed("127.0.0.5:8083", "127.0.0.5:9000"));
	assert_true(status_http_host_allowed("[::1]:9000", "[::1]:9000"));
	assert_true(status_http_host_allowed("localhost:9000", "[::1]:9000"));
	assert_false(status_http_host_allowed("[::1]:8083", "[::1]:9000"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_shape),
		cmocka_unit_test(test_decided_states),
		cmocka_unit_test(test_host_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
