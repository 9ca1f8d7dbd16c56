/*
 * tests/unit/test_status_metrics.c: the status document as Prometheus text
 * (agent/status/status_metrics.c): escaped labels, no sample for an unknown value,
 * the decided states and the Debezium-like event metrics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "status/status.h"
#include "status/status_metrics.h"

#include "status_docs.h"

#include <string.h>

static void test_metrics(void **unused)
{
	json_t *doc = doc_parse(doc_text);
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

/* The Kafka cluster (issue #19): its gauges, none for an unknown value; a
 * half that runs on another host is not served here. */
static void test_cluster_metrics(void **unused)
{
	json_t *doc = doc_parse(
		"{\"cluster\": {\"brokers_expected\": 3, \"brokers_up\": 2, \"controller_id\": 1,"
		" \"under_replicated_partitions\": 6, \"offline_partitions\": 0,"
		" \"partitions\": 6, \"brokers\": [], \"error\": null},"
		" \"pipelines\": [{\"name\": \"p\", \"state\": \"RUNNING\","
		"  \"capture\": {\"unit\": null, \"remote\": true, \"host\": \"10.77.1.14\","
		"               \"state\": \"RUNNING\", \"events\": 5},"
		"  \"apply\": {\"unit\": null, \"pid\": 4, \"state\": \"RUNNING\", \"events\": 9}}]}");
	json_t *down = doc_parse("{\"cluster\": {\"brokers_expected\": 3, \"brokers_up\": null,"
				 " \"error\": \"no answer\"}, \"pipelines\": []}");
	struct strbuf sb;

	(void)unused;
	strbuf_init(&sb);
	status_metrics_render(doc, &sb);
	assert_non_null(strstr(sb.data, "# TYPE cdc_agent_kafka_brokers_up gauge\n"));
	assert_non_null(strstr(sb.data, "\ncdc_agent_kafka_brokers_up 2\n"));
	assert_non_null(strstr(sb.data, "\ncdc_agent_kafka_brokers_expected 3\n"));
	assert_non_null(strstr(sb.data, "\ncdc_agent_kafka_controller_id 1\n"));
	assert_non_null(strstr(sb.data, "\ncdc_agent_kafka_under_replicated_partitions 6\n"));
	assert_non_null(strstr(sb.data, "\ncdc_agent_kafka_offline_partitions 0\n"));
	assert_non_null(strstr(sb.data, "cdc_agent_process_state{pipeline=\"p\",process=\"apply\",state=\"RUNNING\"} 1\n"));
	assert_null(strstr(sb.data, "process=\"capture\""));
	strbuf_fini(&sb);
	strbuf_init(&sb);
	status_metrics_render(down, &sb);
	assert_null(strstr(sb.data, "\ncdc_agent_kafka_brokers_up "));
	assert_non_null(strstr(sb.data, "\ncdc_agent_kafka_brokers_expected 3\n"));
	strbuf_fini(&sb);
	json_decref(doc);
	json_decref(down);
}

/* The states status.c decided are what /metrics says: one state sample is
 * 1, the others 0; errors by kind are counters. */
static void test_decided_states(void **unused)
{
	json_t *doc = doc_parse(decided_doc_text);
	struct strbuf sb;

	(void)unused;
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

/* Fan-out: a later pipeline's capture half is its source's capture
 * ("captured_by"): served once, under the pipeline that captures. */
static void test_fan_out_capture_once(void **unused)
{
	static const char text[] =
		"{\"pipelines\": ["
		" {\"name\": \"p1\", \"capture\": {\"events_total\": 12, \"state\": \"RUNNING\","
		"   \"unit\": {\"active\": \"active\"}, \"pid\": 3, \"queue\": {\"messages\": 3},"
		"   \"events_by_table\": {\"public.t\": {\"c\": 2}}},"
		"  \"apply\": {\"events_total\": 11, \"state\": \"RUNNING\"},"
		"  \"slot\": {\"source\": \"db1\", \"slot\": \"s\", \"active\": true}},"
		" {\"name\": \"p2\", \"capture\": {\"captured_by\": \"p1\", \"events_total\": 12,"
		"   \"state\": \"RUNNING\", \"unit\": {\"active\": \"active\"}, \"pid\": 3,"
		"   \"queue\": {\"messages\": 3}, \"events_by_table\": {\"public.t\": {\"c\": 2}}},"
		"  \"apply\": {\"events_total\": 9, \"state\": \"RUNNING\"},"
		"  \"slot\": {\"source\": \"db1\", \"slot\": \"s\", \"active\": true}}]}";
	json_t *doc = json_loads(text, 0, NULL);
	struct strbuf sb;

	(void)unused;
	assert_non_null(doc);
	strbuf_init(&sb);
	status_metrics_render(doc, &sb);
	assert_non_null(strstr(sb.data, "cdc_agent_pipeline_events_total{pipeline=\"p1\",process=\"capture\"} 12\n"));
	assert_non_null(strstr(sb.data, "cdc_agent_pipeline_events_total{pipeline=\"p2\",process=\"apply\"} 9\n"));
	assert_non_null(strstr(sb.data, "cdc_agent_process_state{pipeline=\"p2\",process=\"apply\""));
	assert_null(strstr(sb.data, "pipeline=\"p2\",process=\"capture\""));
	assert_null(strstr(sb.data, "cdc_agent_producer_queue_messages{pipeline=\"p2\"}"));
	assert_non_null(strstr(sb.data, "cdc_agent_slot_active{source=\"db1\",slot=\"s\",pipeline=\"p1\"} 1\n"));
	assert_null(strstr(sb.data, "cdc_agent_slot_active{source=\"db1\",slot=\"s\",pipeline=\"p2\"}"));
	strbuf_fini(&sb);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_decided_states),
		cmocka_unit_test(test_cluster_metrics),
		cmocka_unit_test(test_event_metrics),
		cmocka_unit_test(test_fan_out_capture_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
