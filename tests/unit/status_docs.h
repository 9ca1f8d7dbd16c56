/*
 * tests/unit/status_docs.h: status documents shared by test_status_http.c and
 * test_status_metrics.c, which check two faces of the same document.
 * Include after cmocka.h and jansson.
 */
#ifndef CDC_TEST_STATUS_DOCS_H
#define CDC_TEST_STATUS_DOCS_H

/* A pipeline FAILED with a healthy capture and an apply that gave up. */
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

/* The same pipeline STALLED as status.c decides it: capture snapshotting
 * with errors counted, apply stuck. */
static const char decided_doc_text[] =
	"{\"pipelines\": [{\"name\": \"p\", \"state\": \"STALLED\", \"reason\": \"apply: stuck\","
	"  \"connectors\": {\"source\": \"source-db1\", \"sink\": \"sink-db2\"},"
	"  \"capture\": {\"unit\": null, \"pid\": 3, \"state\": \"SNAPSHOTTING\","
	"               \"errors_by_kind\": {\"kafka_delivery\": 2}},"
	"  \"apply\": {\"unit\": null, \"pid\": 4, \"state\": \"STALLED\","
	"             \"reason\": \"apply: stuck\", \"last_error\": \"old\"}}]}";

static json_t *doc_parse(const char *text)
{
	json_t *doc = json_loads(text, 0, NULL);

	assert_non_null(doc);
	return doc;
}

#endif
