/*
 * agent/status/status_metrics.c: Prometheus text format from the status document.
 */
#include "status/status_metrics.h"

#include "pipeline/progress_health.h"

#include "status/status.h"
#include "status/status_state.h"

#include <stdarg.h>
#include <string.h>

/* Label values escape backslash, double quote and newline. */
static void label_value(struct strbuf *out, const char *v)
{
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			strbuf_addf(out, "\\%c", *p);
		else if (*p == '\n')
			strbuf_adds(out, "\\n");
		else
			strbuf_addf(out, "%c", *p);
	}
}

static void family(struct strbuf *out, const char *name, const char *type, const char *help)
{
	strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample; labels are name/value pairs ending with NULL; a value that
 * is not a number (unknown) writes no sample. */
static void sample(struct strbuf *out, const char *name, const json_t *value, ...)
{
	va_list ap;
	const char *k;
	bool first = true;

	if (!json_is_number(value) && !json_is_boolean(value))
		return;
	strbuf_adds(out, name);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);

		strbuf_addf(out, "%s%s=\"", first ? "{" : ",", k);
		label_value(out, v);
		strbuf_adds(out, "\"");
		first = false;
	}
	va_end(ap);
	if (!first)
		strbuf_adds(out, "}");
	if (json_is_boolean(value))
		strbuf_addf(out, " %d\n", json_is_true(value) ? 1 : 0);
	else if (json_is_integer(value))
		strbuf_addf(out, " %lld\n", (long long)json_integer_value(value));
	else
		strbuf_addf(out, " %.6g\n", json_real_value(value));
}

/* o's member key as a string ("" if it is none). */
static const char *str(const json_t *o, const char *key)
{
	return status_str(json_object_get(o, key), "");
}

static void agent_metrics(const json_t *agent, struct strbuf *out)
{
	if (!json_is_object(agent))
		return;
	family(out, "cdc_agent_reconciles_total", "counter", "Reconcile passes run by the agent.");
	sample(out, "cdc_agent_reconciles_total", json_object_get(agent, "reconciles"), NULL);
	family(out, "cdc_agent_reconcile_failures_total", "counter",
	       "Reconcile passes that failed.");
	sample(out, "cdc_agent_reconcile_failures_total",
	       json_object_get(agent, "reconcile_failures"), NULL);
	family(out, "cdc_agent_reconcile_changes_total", "counter",
	       "Changes made by reconcile passes (drift repaired, units started).");
	sample(out, "cdc_agent_reconcile_changes_total", json_object_get(agent, "changes"), NULL);
	family(out, "cdc_agent_last_reconcile_seconds", "gauge",
	       "Wall time of the last reconcile pass.");
	sample(out, "cdc_agent_last_reconcile_seconds",
	       json_object_get(agent, "last_reconcile_seconds"), NULL);
}

static void component_metrics(const json_t *doc, struct strbuf *out)
{
	const json_t *c;
	size_t i;

	family(out, "cdc_agent_component_healthy", "gauge",
	       "1 when the component answers its health probe.");
	json_array_foreach(json_object_get(doc, "components"), i, c)
		sample(out, "cdc_agent_component_healthy", json_object_get(c, "healthy"),
		       "component", str(c, "name"), NULL);
}

/* Whether the pipeline's half is its own: fan-out's later pipelines show
 * their source's capture ("captured_by"), served once, under the
 * pipeline that captures, so that no sum counts it twice. */
static bool half_own(const json_t *p, const char *half)
{
	const json_t *h = json_object_get(p, half);

	/* and a half that runs on another host is its agent's to serve */
	return !json_object_get(h, "captured_by") && !json_is_true(json_object_get(h, "remote"));
}

static void half_metrics(const json_t *p, const char *half, struct strbuf *out, const char *metric,
			 const char *key)
{
	const json_t *h = json_object_get(p, half);
	const json_t *unit = json_object_get(h, "unit");

	if (!half_own(p, half))
		return;

	if (strcmp(key, "unit_active") == 0) {
		if (json_is_object(unit)) {
			json_t *up = json_boolean(strcmp(str(unit, "active"), "active") == 0);

			sample(out, metric, up, "pipeline", str(p, "name"), "process", half, NULL);
			json_decref(up);
		}
		return;
	}
	sample(out, metric, json_object_get(h, key), "pipeline", str(p, "name"), "process", half,
	       NULL);
}

static void pipeline_metrics(const json_t *doc, struct strbuf *out)
{
	static const struct {
		const char *metric, *type, *key, *help;
	} per_half[] = {
		{ "cdc_agent_unit_active", "gauge", "unit_active",
		  "1 when the process's systemd unit is active." },
		{ "cdc_agent_events_total", "counter", "events",
		  "Events produced (capture) or applied (apply) since the process started." },
		{ "cdc_agent_events_per_second", "gauge", "events_per_sec",
		  "Events per second over the last status interval." },
		{ "cdc_agent_last_event_age_seconds", "gauge", "last_event_age_sec",
		  "Seconds since the source commit of the last event handled." },
		{ "cdc_agent_milliseconds_behind_source", "gauge", "behind_source_ms",
		  "Now minus the source commit time of the last event handled; 0 when caught up "
		  "(Debezium's MilliSecondsBehindSource)." },
		{ "cdc_agent_pipeline_events_total", "counter", "events_total",
		  "Events produced (capture) or applied (apply) since the pipeline was created, "
		  "each once." },
	};
	const json_t *p;
	size_t i;

	for (size_t m = 0; m < ARRAY_LEN(per_half); m++) {
		family(out, per_half[m].metric, per_half[m].type, per_half[m].help);
		json_array_foreach(json_object_get(doc, "pipelines"), i, p) {
			half_metrics(p, "capture", out, per_half[m].metric, per_half[m].key);
			half_metrics(p, "apply", out, per_half[m].metric, per_half[m].key);
		}
	}
	family(out, "cdc_agent_schema_changes_total", "counter",
	       "Schema changes of the source apply made the target follow, since the pipeline was created.");
	json_array_foreach(json_object_get(doc, "pipelines"), i, p)
		sample(out, "cdc_agent_schema_changes_total",
		       json_object_get(json_object_get(p, "apply"), "schema_changes_total"), "pipeline",
		       str(p, "name"), NULL);
	family(out, "cdc_agent_apply_lag_events", "gauge",
	       "Events in Kafka that apply has not committed to the target.");
	json_array_foreach(json_object_get(doc, "pipelines"), i, p)
		sample(out, "cdc_agent_apply_lag_events",
		       json_object_get(json_object_get(p, "apply"), "lag_events"), "pipeline",
		       str(p, "name"), NULL);
}

/* cdc_agent_table_events_total: a sample per table and op of each half. */
static void table_event_metrics(const json_t *doc, struct strbuf *out)
{
	static const char *const halves[] = { "capture", "apply" };
	const char *table, *op;
	const json_t *p, *t, *n;
	size_t i;

	family(out, "cdc_agent_table_events_total", "counter",
	       "Events since the pipeline was created, by table and op (c, u, d, r, t).");
	json_array_foreach(json_object_get(doc, "pipelines"), i, p)
		for (size_t h = 0; h < ARRAY_LEN(halves); h++) {
			json_t *by = half_own(p, halves[h])
					     ? json_object_get(json_object_get(p, halves[h]),
							       "events_by_table")
					     : NULL;

			json_object_foreach(by, table, t)
				json_object_foreach((json_t *)t, op, n)
					sample(out, "cdc_agent_table_events_total", n, "pipeline",
					       str(p, "name"), "process", halves[h], "table", table,
					       "op", op, NULL);
		}
}

/* Capture's snapshot progress and producer queue, per pipeline. */
static void capture_metrics(const json_t *doc, struct strbuf *out)
{
	static const struct {
		const char *metric, *object, *key, *help;
	} per_pipeline[] = {
		{ "cdc_agent_snapshot_running", "snapshot", "running",
		  "1 while capture copies tables (a snapshot)." },
		{ "cdc_agent_snapshot_tables_done", "snapshot", "tables_done",
		  "Tables whose snapshot Kafka acknowledged." },
		{ "cdc_agent_snapshot_tables_remaining", "snapshot", "tables_remaining",
		  "Tables still to snapshot." },
		{ "cdc_agent_producer_queue_messages", "queue", "messages",
		  "Messages in capture's Kafka producer queue or in flight." },
		{ "cdc_agent_producer_queue_max_messages", "queue", "max_messages",
		  "The producer queue's bound (queue.buffering.max.messages)." },
	};
	const json_t *p, *t;
	size_t i, j;

	for (size_t m = 0; m < ARRAY_LEN(per_pipeline); m++) {
		family(out, per_pipeline[m].metric, "gauge", per_pipeline[m].help);
		json_array_foreach(json_object_get(doc, "pipelines"), i, p) {
			const json_t *o = json_object_get(json_object_get(p, "capture"),
							  per_pipeline[m].object);

			if (half_own(p, "capture"))
				sample(out, per_pipeline[m].metric, json_object_get(o, per_pipeline[m].key),
			       "pipeline", str(p, "name"), NULL);
		}
	}
	family(out, "cdc_agent_snapshot_rows", "gauge", "Rows copied by the table's snapshot.");
	json_array_foreach(json_object_get(doc, "pipelines"), i, p) {
		const json_t *snap = half_own(p, "capture")
					     ? json_object_get(json_object_get(p, "capture"), "snapshot")
					     : NULL;

		json_array_foreach(json_object_get(snap, "tables"), j, t)
			sample(out, "cdc_agent_snapshot_rows", json_object_get(t, "rows"), "pipeline",
			       str(p, "name"), "table", str(t, "table"), NULL);
	}
}

static void slot_sample_all(const json_t *doc, struct strbuf *out, const char *metric,
			    const char *key)
{
	const json_t *p, *s;
	size_t i;

	json_array_foreach(json_object_get(doc, "pipelines"), i, p) {
		s = json_object_get(p, "slot");
		if (json_is_object(s) && half_own(p, "capture")) /* fan-out: the slot once */
			sample(out, metric, json_object_get(s, key), "source", str(s, "source"),
			       "slot", str(s, "slot"), "pipeline", str(p, "name"), NULL);
	}
	json_array_foreach(json_object_get(doc, "orphan_slots"), i, s)
		sample(out, metric, json_object_get(s, key), "source", str(s, "source"), "slot",
		       str(s, "slot"), "pipeline", "", NULL);
}

static void slot_metrics(const json_t *doc, struct strbuf *out)
{
	static const struct {
		const char *metric, *key, *help;
	} per_slot[] = {
		{ "cdc_agent_slot_retained_wal_bytes", "retained_bytes",
		  "WAL the slot keeps on the source (current LSN - restart_lsn)." },
		{ "cdc_agent_slot_confirmed_lag_bytes", "confirmed_lag_bytes",
		  "WAL not yet confirmed by capture (current LSN - confirmed_flush_lsn)." },
		{ "cdc_agent_slot_safe_wal_bytes", "safe_wal_bytes",
		  "WAL that can still be written before the slot is lost (max_slot_wal_keep_size)." },
		{ "cdc_agent_slot_active", "active", "1 when a walsender reads the slot." },
		{ "cdc_agent_slot_warning", "warn",
		  "1 when retained WAL passed the source's slot_warn_retained or wal_status is "
		  "unreserved/lost." },
	};

	for (size_t m = 0; m < ARRAY_LEN(per_slot); m++) {
		family(out, per_slot[m].metric, "gauge", per_slot[m].help);
		slot_sample_all(doc, out, per_slot[m].metric, per_slot[m].key);
	}
}

/* One sample per state: 1 for name's, 0 for the others (a state that is
 * not known, e.g. in an older document, writes none). */
static void state_samples(struct strbuf *out, const char *metric, const char *name,
			  const char *pipeline, const char *process)
{
	if (health_parse(name) == N_HEALTH)
		return;
	for (int h = 0; h < N_HEALTH; h++) {
		json_t *v = json_integer(health_parse(name) == (enum health)h);

		if (process)
			sample(out, metric, v, "pipeline", pipeline, "process", process, "state",
			       health_name((enum health)h), NULL);
		else
			sample(out, metric, v, "pipeline", pipeline, "state",
			       health_name((enum health)h), NULL);
		json_decref(v);
	}
}

/* The states status.c decided, and the errors each process counted by kind. */
/* The kinds of progress_health.h, each served from 0. */
static const char *const error_kinds[] = {
	ERROR_SOURCE_CONNECTION, ERROR_TARGET_CONNECTION, ERROR_KAFKA_DELIVERY,
	ERROR_REFUSED_RECORD,	 ERROR_PUBLICATION,	  ERROR_TOPIC,
	ERROR_TOO_LARGE,	 ERROR_KAFKA_AUTHORIZATION,
};

static void state_metrics(const json_t *doc, struct strbuf *out)
{
	static const char *const halves[] = { "capture", "apply" };
	const json_t *p;
	size_t i;

	family(out, "cdc_agent_pipeline_state", "gauge",
	       "1 for the pipeline's current state (RUNNING, SNAPSHOTTING, STALLED, FAILED, "
	       "STOPPED, DEGRADED), 0 for the others.");
	json_array_foreach(json_object_get(doc, "pipelines"), i, p)
		state_samples(out, "cdc_agent_pipeline_state", str(p, "state"), str(p, "name"), NULL);
	family(out, "cdc_agent_process_state", "gauge",
	       "1 for the capture/apply process's current state, 0 for the others.");
	json_array_foreach(json_object_get(doc, "pipelines"), i, p)
		for (size_t h = 0; h < ARRAY_LEN(halves); h++)
			if (half_own(p, halves[h]))
				state_samples(out, "cdc_agent_process_state",
				      str(json_object_get(p, halves[h]), "state"), str(p, "name"),
				      halves[h]);
	family(out, "cdc_agent_errors_total", "counter",
	       "Errors the process met, by kind, since it started.");
	json_array_foreach(json_object_get(doc, "pipelines"), i, p) {
		for (size_t h = 0; h < ARRAY_LEN(halves); h++) {
			const json_t *by_kind =
				json_object_get(json_object_get(p, halves[h]), "errors_by_kind");
			const char *kind;
			const json_t *n;

			if (!half_own(p, halves[h]))
				continue;
			json_t *zero = json_integer(0);
			bool known = json_is_object(by_kind) ||
				     json_is_integer(json_object_get(json_object_get(p, halves[h]), "pid"));

			json_object_foreach((json_t *)by_kind, kind, n)
				sample(out, "cdc_agent_errors_total", n, "pipeline", str(p, "name"),
				       "process", halves[h], "kind", kind, NULL);
			/* Known kinds not met yet are 0, not absent: a rate or an
			 * alert on them works from the start, for every process
			 * whose progress file status read. */
			for (size_t k = 0; known && k < ARRAY_LEN(error_kinds); k++)
				if (!json_object_get(by_kind, error_kinds[k]))
					sample(out, "cdc_agent_errors_total", zero, "pipeline",
					       str(p, "name"), "process", halves[h], "kind",
					       error_kinds[k], NULL);
			json_decref(zero);
		}
	}
}

/* The Kafka cluster as status saw it (issue #19); nothing when unknown. */
static void cluster_metrics(const json_t *doc, struct strbuf *out)
{
	static const char *const gauges[][3] = {
		{ "cdc_agent_kafka_brokers_up", "brokers_up", "Brokers the cluster's metadata lists." },
		{ "cdc_agent_kafka_brokers_expected", "brokers_expected",
		  "Brokers the topology names ([kafka_node] sections; 1 for the broker of one host)." },
		{ "cdc_agent_kafka_controller_id", "controller_id", "The node id of the active controller." },
		{ "cdc_agent_kafka_under_replicated_partitions", "under_replicated_partitions",
		  "Partitions of the pipelines' topics with fewer in-sync replicas than replicas." },
		{ "cdc_agent_kafka_offline_partitions", "offline_partitions",
		  "Partitions of the pipelines' topics with no leader." },
	};
	const json_t *c = json_object_get(doc, "cluster");

	if (!json_is_object(c))
		return;
	for (size_t i = 0; i < ARRAY_LEN(gauges); i++) {
		family(out, gauges[i][0], "gauge", gauges[i][2]);
		sample(out, gauges[i][0], json_object_get(c, gauges[i][1]), NULL);
	}
}

void status_metrics_render(const json_t *doc, struct strbuf *out)
{
	json_t *up = json_true();

	family(out, "cdc_agent_up", "gauge", "1 while the agent serves this endpoint.");
	sample(out, "cdc_agent_up", up, NULL);
	agent_metrics(json_object_get(doc, "agent"), out);
	component_metrics(doc, out);
	cluster_metrics(doc, out);
	pipeline_metrics(doc, out);
	state_metrics(doc, out);
	table_event_metrics(doc, out);
	capture_metrics(doc, out);
	slot_metrics(doc, out);
}
