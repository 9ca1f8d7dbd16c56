/*
 * tests/unit/test_status_formats.c: the shapes the status document is
 * served in (agent/status_http.c, agent/status_metrics.c): Kafka Connect's
 * connector status for each process state, Prometheus text with escaped
 * labels and no sample for an unknown value; and which Host headers the
 * endpoints answer (DNS rebinding).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "status.h"
#include "status_http.h"
#include "status_metrics.h"
#include "util.h"

#include <string.h>

static const char doc_text[] =
	"{\"schema_version\": 1, \"components\": [{\"name\": \"kafka\", \"healthy\": true}],"
	" \"pipelines\": [{\"name\": \"p\\\"1\", \"state\": \"FAILED\","
	"  \"connectors\": {\"source\": \"source-db1\", \"sink\": \"sink-db2\"},"
	"  \"capture\": {\"unit\": {\"active\": \"active\", \"supervision\": \"running\"},"
	"               \"events\": 42, \"events_per_sec\": 1.5, \"last_error\": null},"
	"  \"apply\": {\"unit\": {\"active\": \"failed\", \"supervision\": \"gave up after 5 attempts\"},"
	"             \"events\": null, \"last_error\": \"target db2: duplicate key\", \"lag_events\": 7},"
	"  \"slot\": {\"source\": \"db1\", \"slot\": \"my_slot\", \"retained_bytes\": 1024,"
	"            \"active\": true, \"warn\": false, \"confirmed_lag_bytes\": null}}],"
	" \"orphan_slots\": [], \"warnings\": []}";

static json_t *doc_load(void)
{
	json_t *doc = json_loads(doc_text, 0, NULL);

	assert_non_null(doc);
	return doc;
}

static void test_connect_shape(void **unused)
{
	json_t *doc = doc_load(), *shape;

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

static void test_metrics(void **unused)
{
	json_t *doc = doc_load();
	struct strbuf sb;

	(void)unused;
	strbuf_init(&sb);
	status_metrics_render(doc, &sb);
	assert_non_null(strstr(sb.data, "# TYPE cdc_agent_events_total counter\n"));
	/* The pipeline name's quote is escaped in the label. */
	assert_non_null(strstr(sb.data, "cdc_agent_events_total{pipeline=\"p\\\"1\",process=\"capture\"} 42\n"));
	/* apply's events are unknown: no sample rather than a made-up 0. */
	assert_null(strstr(sb.data, "cdc_agent_events_total{pipeline=\"p\\\"1\",process=\"apply\"}"));
	assert_non_null(strstr(sb.data, "cdc_agent_unit_active{pipeline=\"p\\\"1\",process=\"apply\"} 0\n"));
	assert_non_null(strstr(sb.data,
			       "cdc_agent_slot_retained_wal_bytes{source=\"db1\",slot=\"my_slot\",pipeline=\"p\\\"1\"} 1024\n"));
	assert_non_null(strstr(sb.data, "cdc_agent_apply_lag_events{pipeline=\"p\\\"1\"} 7\n"));
	assert_non_null(strstr(sb.data, "cdc_agent_component_healthy{component=\"kafka\"} 1\n"));
	strbuf_fini(&sb);
	json_decref(doc);
}

/* The states status.c decided are what Connect's shape and /metrics say:
 * STALLED is FAILED to Connect (trace: the reason), SNAPSHOTTING RUNNING;
 * one state sample is 1, the others 0; errors by kind are counters. */
static void test_decided_states(void **unused)
{
	json_t *doc = json_loads(
		"{\"pipelines\": [{\"name\": \"p\", \"state\": \"STALLED\", \"reason\": \"apply: stuck\","
		"  \"connectors\": {\"source\": \"source-db1\", \"sink\": \"sink-db2\"},"
		"  \"capture\": {\"unit\": null, \"pid\": 3, \"state\": \"SNAPSHOTTING\","
		"               \"errors_by_kind\": {\"kafka_delivery\": 2}},"
		"  \"apply\": {\"unit\": null, \"pid\": 4, \"state\": \"STALLED\","
		"             \"reason\": \"apply: stuck\", \"last_error\": \"old\"}}]}",
		0, NULL);
	json_t *shape, *task;
	struct strbuf sb;

	(void)unused;
	assert_non_null(doc);
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
	strbuf_init(&sb);
	status_metrics_render(doc, &sb);
	assert_non_null(strstr(sb.data, "cdc_agent_pipeline_state{pipeline=\"p\",state=\"STALLED\"} 1\n"));
	assert_non_null(strstr(sb.data, "cdc_agent_pipeline_state{pipeline=\"p\",state=\"RUNNING\"} 0\n"));
	assert_non_null(strstr(sb.data,
			       "cdc_agent_process_state{pipeline=\"p\",process=\"capture\",state=\"SNAPSHOTTING\"} 1\n"));
	assert_non_null(strstr(sb.data,
			       "cdc_agent_process_state{pipeline=\"p\",process=\"apply\",state=\"FAILED\"} 0\n"));
	assert_non_null(strstr(sb.data,
			       "cdc_agent_errors_total{pipeline=\"p\",process=\"capture\",kind=\"kafka_delivery\"} 2\n"));
	/* Kinds not met yet are served as 0 where the process keeps counts. */
	assert_non_null(strstr(sb.data,
			       "cdc_agent_errors_total{pipeline=\"p\",process=\"capture\",kind=\"topic\"} 0\n"));
	assert_non_null(strstr(sb.data,
			       "cdc_agent_errors_total{pipeline=\"p\",process=\"apply\",kind=\"target_connection\"} 0\n"));
	strbuf_fini(&sb);
	json_decref(doc);
}

/* The Debezium-like metrics (docs/STATUS.md) from the halves' members. */
static void test_event_metrics(void **unused)
{
	static const char text[] =
		"{\"pipelines\": [{\"name\": \"p1\","
		" \"capture\": {\"behind_source_ms\": 0, \"events_total\": 12,"
		"   \"events_by_table\": {\"public.t\": {\"c\": 2, \"u\": 0, \"d\": 0, \"r\": 10, \"t\": 0}},"
		"   \"queue\": {\"messages\": 3, \"max_messages\": 100000},"
		"   \"snapshot\": {\"running\": true, \"tables_done\": 1, \"tables_remaining\": 2,"
		"     \"tables\": [{\"table\": \"public.t\", \"rows\": 10, \"done\": true, \"kind\": \"initial\"}]}},"
		" \"apply\": {\"behind_source_ms\": null, \"events_total\": 11, \"events_by_table\": null,"
		"   \"schema_changes_total\": 4, \"last_schema_change\": null}}]}";
	static const char *const want[] = {
		"# TYPE cdc_agent_milliseconds_behind_source gauge\n",
		"cdc_agent_milliseconds_behind_source{pipeline=\"p1\",process=\"capture\"} 0\n",
		"# TYPE cdc_agent_pipeline_events_total counter\n",
		"cdc_agent_pipeline_events_total{pipeline=\"p1\",process=\"capture\"} 12\n",
		"cdc_agent_pipeline_events_total{pipeline=\"p1\",process=\"apply\"} 11\n",
		"# TYPE cdc_agent_table_events_total counter\n",
		"cdc_agent_table_events_total{pipeline=\"p1\",process=\"capture\",table=\"public.t\",op=\"c\"} 2\n",
		"cdc_agent_table_events_total{pipeline=\"p1\",process=\"capture\",table=\"public.t\",op=\"r\"} 10\n",
		"cdc_agent_snapshot_running{pipeline=\"p1\"} 1\n",
		"cdc_agent_snapshot_tables_done{pipeline=\"p1\"} 1\n",
		"cdc_agent_snapshot_tables_remaining{pipeline=\"p1\"} 2\n",
		"cdc_agent_snapshot_rows{pipeline=\"p1\",table=\"public.t\"} 10\n",
		"cdc_agent_producer_queue_messages{pipeline=\"p1\"} 3\n",
		"cdc_agent_producer_queue_max_messages{pipeline=\"p1\"} 100000\n",
		"# TYPE cdc_agent_schema_changes_total counter\n",
		"cdc_agent_schema_changes_total{pipeline=\"p1\"} 4\n",
	};
	json_t *doc = json_loads(text, 0, NULL);
	struct strbuf sb;

	(void)unused;
	assert_non_null(doc);
	strbuf_init(&sb);
	status_metrics_render(doc, &sb);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(sb.data, want[i]))
			fail_msg("missing: %s", want[i]);
	/* Unknown (null) is no sample, not a made-up 0. */
	assert_null(strstr(sb.data, "cdc_agent_milliseconds_behind_source{pipeline=\"p1\",process=\"apply\"}"));
	assert_null(strstr(sb.data, "cdc_agent_table_events_total{pipeline=\"p1\",process=\"apply\""));
	strbuf_fini(&sb);
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
		cmocka_unit_test(test_process_state),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_decided_states),
		cmocka_unit_test(test_event_metrics),
		cmocka_unit_test(test_host_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
