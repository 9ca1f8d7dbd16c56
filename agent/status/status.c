/*
 * agent/status/status.c: collects the deployment's status document (status.h).
 *
 * Each part is asked independently and a part that cannot be asked carries
 * an "error" string instead of failing the whole: status is what an operator
 * reads when things are broken.
 */
#include "status/status.h"

#include "apply/apply_lag.h"
#include "base/log.h"
#include "base/util.h"
#include "pg/slot_watch.h"
#include "pipeline/cert_check.h"
#include "pipeline/health.h"
#include "pipeline/progress.h"
#include "status/status_state.h"
#include "systemd/supervise.h"
#include "systemd/systemd_bus.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static json_t *json_string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *json_int_or_null(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

/* ---- units ---------------------------------------------------------------- */

/* {"unit", "active", "sub", "result", "supervision"}; sd NULL: not managed. */
static json_t *unit_json(struct systemd *sd, struct supervisor *sup, const char *unit)
{
	struct unit_state st;
	struct strbuf how;
	json_t *u = json_pack("{s:s}", "unit", unit);

	if (!sd || !systemd_unit_state(sd, unit, &st)) {
		json_object_set_new(u, "active", json_string("unknown"));
		return u;
	}
	json_object_set_new(u, "active", json_string(st.active));
	json_object_set_new(u, "sub", json_string(st.sub));
	json_object_set_new(u, "result", json_string(st.result));
	if (sup) {
		strbuf_init(&how);
		supervisor_describe(sup, unit, &st, time(NULL), &how);
		json_object_set_new(u, "supervision", json_string(how.data));
		strbuf_fini(&how);
	}
	return u;
}

static json_t *component_json(const char *name, const char *kind, json_t *unit, bool healthy,
			      const char *why)
{
	json_t *c = json_pack("{s:s, s:s, s:b}", "name", name, "kind", kind, "healthy", healthy);

	json_object_set_new(c, "unit", unit ? unit : json_null());
	json_object_set_new(c, "error", healthy ? json_null() : json_string(why));
	return c;
}

/* The Kafka probe of one collection: one metadata request serves the
 * kafka component's health and the cluster's figures. */
struct kafka_probe {
	bool ok;                            /* answered, with a broker at least */
	struct strbuf why;                  /* why not */
	struct kafka_cluster_health health; /* when it answered */
};

static void components_add(const struct topology *topo, struct systemd *sd,
			   struct supervisor *sup, const struct kafka_probe *probe, json_t *list)
{
	/* a cluster across hosts: kafka.service only on a node's host */
	bool managed = topology_runs_kafka(topo);
	struct strbuf why;
	json_t *kafka;
	bool ok;

	strbuf_init(&why);
	/* managed = false: the cluster's own ZooKeeper, if any, is not ours
	 * to probe; its brokers' health is the metadata probe below. */
	if (topo->kafka.managed && topo->kafka.mode == KAFKA_MODE_ZOOKEEPER) {
		ok = health_zookeeper(&topo->zookeeper.connect, &why);
		json_array_append_new(list, component_json("zookeeper", "zookeeper",
							   managed ? unit_json(sd, sup, "zookeeper.service") : NULL,
							   ok, why.data));
	}
	strbuf_fini(&why);
	kafka = component_json("kafka", "kafka", managed ? unit_json(sd, sup, "kafka.service") : NULL,
			       probe->ok, probe->why.data);
	/* A cluster the agent does not run (managed = false): no unit of ours. */
	json_object_set_new(kafka, "external", json_boolean(!topo->kafka.managed));
	json_array_append_new(list, kafka);
}

/* ---- the Kafka cluster (issue #19) ------------------------------------------ */

/* The pipelines' topic prefixes: "<topic_prefix>." of every source. */
static void topic_prefixes(const struct topology *topo, struct strlist *out)
{
	for (size_t i = 0; i < topo->n_sources; i++) {
		char *prefix = xasprintf("%s.", topo->sources[i].topic_prefix);

		strlist_add(out, prefix);
		free(prefix);
	}
}

/* One metadata request (all topics): the brokers, the controller and the
 * pipelines' topics; ok only with a broker at least, as health_kafka. */
static void kafka_probe_run(const struct topology *topo, struct kafka_probe *probe)
{
	struct strlist prefixes = { 0 };

	strbuf_init(&probe->why);
	topic_prefixes(topo, &prefixes);
	probe->ok = health_kafka_cluster(&topo->kafka, topology_probe_credentials(topo, NULL),
					 &prefixes, &probe->health, &probe->why);
	strlist_fini(&prefixes);
	if (probe->ok && probe->health.brokers_up < 1) {
		strbuf_addf(&probe->why, "Kafka has %d broker(s), expected 1",
			    probe->health.brokers_up);
		probe->ok = false;
		kafka_cluster_health_fini(&probe->health); /* nothing to count */
		probe->health.controller_id = -1;
	}
}

static void kafka_probe_fini(struct kafka_probe *probe)
{
	kafka_cluster_health_fini(&probe->health);
	strbuf_fini(&probe->why);
}

/* "cluster": brokers up against the nodes expected, the controller,
 * under-replicated and offline partitions of the pipelines' topics, from
 * the collection's probe. */
static json_t *cluster_json(const struct topology *topo, const struct kafka_probe *probe,
			    json_t *warnings)
{
	const struct kafka_cluster_health *health = &probe->health;
	json_t *c = json_object(), *brokers = json_array();
	int under = 0, offline = 0, partitions = 0;
	bool ok = probe->ok;

	for (size_t i = 0; i < health->n_topics; i++) {
		partitions += health->topics[i].partitions;
		under += health->topics[i].under_replicated;
		offline += health->topics[i].offline;
	}
	if (topology_is_cluster(topo)) {
		json_object_set_new(c, "brokers_expected", json_integer((json_int_t)topo->n_kafka_nodes));
		for (size_t i = 0; i < topo->n_kafka_nodes; i++) {
			const struct kafka_node_cfg *n = &topo->kafka_nodes[i];
			char *address = xasprintf("%s:%d", n->address, n->port);

			json_array_append_new(brokers,
					      json_pack("{s:i, s:s, s:s, s:b}", "id", n->id, "name",
							n->name, "address", address, "up",
							ok && kafka_cluster_broker_up(health, n->id)));
			free(address);
		}
	} else {
		json_object_set_new(c, "brokers_expected",
				    kafka_installed(&topo->kafka) ? json_integer(1) : json_null());
		for (int i = 0; ok && i < health->brokers_up; i++)
			json_array_append_new(brokers, json_pack("{s:i, s:b}", "id",
								 health->broker_ids[i], "up", 1));
	}
	json_object_set_new(c, "brokers_up", ok ? json_integer(health->brokers_up) : json_null());
	json_object_set_new(c, "brokers", brokers);
	json_object_set_new(c, "controller_id", ok && health->controller_id >= 0
							 ? json_integer(health->controller_id)
							 : json_null());
	json_object_set_new(c, "partitions", ok ? json_integer(partitions) : json_null());
	json_object_set_new(c, "under_replicated_partitions", ok ? json_integer(under) : json_null());
	json_object_set_new(c, "offline_partitions", ok ? json_integer(offline) : json_null());
	json_object_set_new(c, "error", ok ? json_null() : json_string(probe->why.data));
	if (ok && under > 0 && topology_is_cluster(topo))
		json_array_append_new(warnings,
				      json_sprintf("Kafka: %d partition(s) of the pipelines' topics "
						   "under-replicated (%d broker(s) up of %zu)",
						   under, health->brokers_up, topo->n_kafka_nodes));
	else if (ok && under > 0)
		json_array_append_new(warnings,
				      json_sprintf("Kafka: %d partition(s) of the pipelines' topics "
						   "under-replicated (%d broker(s) up)",
						   under, health->brokers_up));
	if (ok && offline > 0)
		json_array_append_new(warnings,
				      json_sprintf("Kafka: %d partition(s) of the pipelines' topics "
						   "offline (no leader)", offline));
	return c;
}

/* Offline partitions (no leader) among the topics of pipe's source: it
 * cannot move, whatever its processes say. */
static int pipeline_offline(const struct kafka_cluster_health *health,
			    const struct pipeline_cfg *pipe)
{
	char *prefix = xasprintf("%s.", pipe->source->topic_prefix);
	int offline = 0;

	for (size_t i = 0; i < health->n_topics; i++)
		if (strncmp(health->topics[i].topic, prefix, strlen(prefix)) == 0)
			offline += health->topics[i].offline;
	free(prefix);
	return offline;
}

/* ---- pipelines ------------------------------------------------------------- */

/* Is pid still a "cdc-agent KIND PIPELINE" process?  (Not managed by
 * systemd, nothing else says whether it exited; a reused pid runs
 * something else.)  A process of another user is still seen in /proc. */
static bool process_alive(int pid, const char *kind, const char *pipeline)
{
	char path[64], argv[4096];
	bool has_kind = false, has_pipeline = false;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, argv, sizeof(argv) - 1);
	close(fd);
	if (n <= 0)
		return false; /* a zombie has no command line: it exited */
	argv[n] = '\0';
	for (char *a = argv; a < argv + n; a += strlen(a) + 1) {
		has_kind = has_kind || strcmp(a, kind) == 0;
		has_pipeline = has_pipeline || strcmp(a, pipeline) == 0;
	}
	return has_kind && has_pipeline;
}

/* When the events counter last moved: now when it differs from the
 * previous collection's (or the process is another), else as it was then;
 * null with no previous collection (the status verb on its own). */
static json_t *progress_moved(const json_t *before, const struct progress *pr, int64_t now)
{
	const json_t *then = json_object_get(before, "progress_usec");

	if (!before || json_integer_value(json_object_get(before, "pid")) != pr->pid ||
	    !json_is_integer(json_object_get(before, "events")) ||
	    json_integer_value(json_object_get(before, "events")) != (json_int_t)pr->events ||
	    !json_is_integer(then))
		return before ? json_integer(now) : json_null();
	return json_incref((json_t *)then);
}

/* The members the process keeps for status (progress.h's extra): its own
 * word on what it does, the error it retries, errors by kind, snapshot. */
static void progress_extra_add(const struct progress *pr, json_t *half)
{
	static const char *const keys[][2] = { { "state", "activity" },
					       { "error", "error" },
					       { "errors_by_kind", "errors_by_kind" },
					       { "snapshot", "snapshot" } };

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(pr->extra, keys[i][0]);

		json_object_set_new(half, keys[i][1], v ? json_deep_copy(v) : json_null());
	}
}

/* A progress file not written for this long is from a process that is
 * gone or stuck: its milliseconds behind source are unknown, not its last
 * word (a capture stopped while caught up would show 0 for ever). */
#define BEHIND_STALE_USEC (10 * 1000000LL)

/* The Debezium-like members of the process's progress (pr NULL: no file):
 * events since the pipeline was created, by table and op, milliseconds
 * behind source; capture's producer queue and snapshot.  null when
 * unknown. */
static void metrics_add(const char *kind, const struct progress *pr, json_t *half)
{
	static const char *const keys[] = { "events_total", "events_by_table", "behind_source_ms",
					    "queue", "snapshot" };
	static const char *const apply_keys[] = { "schema_changes_total", "last_schema_change" };
	bool capture = strcmp(kind, "capture") == 0;

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		json_t *v = pr ? json_object_get(pr->extra, keys[i]) : NULL;

		if (!capture && i >= 3)
			break; /* queue and snapshot are capture's */
		if (i == 2 && pr && wall_usec() - pr->updated_usec > BEHIND_STALE_USEC)
			v = NULL;
		json_object_set_new(half, keys[i], v ? json_deep_copy(v) : json_null());
	}
	/* apply's schema changes applied since the pipeline was created, and
	 * the last one (apply_schema.c) */
	for (size_t i = 0; !capture && i < ARRAY_LEN(apply_keys); i++) {
		json_t *v = pr ? json_object_get(pr->extra, apply_keys[i]) : NULL;

		json_object_set_new(half, apply_keys[i], v ? json_deep_copy(v) : json_null());
	}
}

/* The progress of process kind of pipeline (for a capture, the pipeline
 * that captures: fan-out), into the half of the pipeline named in_doc. */
static void progress_add(const struct topology *topo, const char *kind, const char *pipeline,
			 const char *in_doc, const json_t *prev, json_t *half)
{
	struct progress pr;
	bool exists = false;
	const json_t *before =
		json_object_get(status_find(prev, "pipelines", "name", in_doc), kind);
	const json_t *unit = json_object_get(half, "unit");
	json_t *rate = json_null();
	int64_t now = wall_usec();

	if (!progress_read(topo->agent.state_dir, kind, pipeline, &pr, &exists) || !exists) {
		json_object_set_new(half, "events", json_null());
		json_object_set_new(half, "events_per_sec", json_null());
		json_object_set_new(half, "last_event_age_sec", json_null());
		json_object_set_new(half, "last_error", json_null());
		metrics_add(kind, NULL, half);
		return;
	}
	if (before && json_integer_value(json_object_get(before, "pid")) == pr.pid &&
	    json_is_integer(json_object_get(before, "events"))) {
		int64_t dt = pr.updated_usec - json_integer_value(json_object_get(before, "updated_usec"));
		int64_t de = (int64_t)pr.events - json_integer_value(json_object_get(before, "events"));

		if (dt > 0 && de >= 0)
			rate = json_real((double)de * 1e6 / (double)dt);
	}
	json_object_set_new(half, "pid", json_integer(pr.pid));
	json_object_set_new(half, "events", json_integer((json_int_t)pr.events));
	json_object_set_new(half, "updated_usec", json_integer(pr.updated_usec));
	json_object_set_new(half, "progress_usec", progress_moved(before, &pr, now));
	json_object_set_new(half, "events_per_sec", rate);
	json_object_set_new(half, "last_event_age_sec",
			    pr.last_event_usec ? json_real((double)(now - pr.last_event_usec) / 1e6)
					       : json_null());
	json_object_set_new(half, "last_error", json_string_or_null(pr.last_error));
	if (status_process_state(half) == PROCESS_UNKNOWN || !json_is_object(unit))
		json_object_set_new(half, "alive", json_boolean(process_alive(pr.pid, kind, pipeline)));
	progress_extra_add(&pr, half);
	metrics_add(kind, &pr, half);
	progress_fini(&pr);
}

static json_t *slot_json(const struct slot_report *r)
{
	json_t *s = json_pack("{s:s, s:s, s:b, s:b, s:b}", "source", r->source, "slot", r->slot,
			      "exists", r->exists, "active", r->active, "warn", r->warn);

	json_object_set_new(s, "pipeline", json_string_or_null(r->pipeline));
	json_object_set_new(s, "retained_bytes", json_int_or_null(r->retained_bytes));
	json_object_set_new(s, "confirmed_lag_bytes", json_int_or_null(r->confirmed_lag_bytes));
	json_object_set_new(s, "wal_status", r->wal_status[0] ? json_string(r->wal_status) : json_null());
	json_object_set_new(s, "safe_wal_bytes", json_int_or_null(r->safe_wal_bytes));
	json_object_set_new(s, "error", json_string_or_null(r->error));
	return s;
}

static const struct slot_report *slot_of(const struct topology *topo,
					 const struct slot_report *r, size_t n,
					 const struct pipeline_cfg *pipe)
{
	/* slot_watch names the pipeline that captures (fan-out) */
	const char *owner = topology_capture_pipeline(topo, pipe)->name;

	for (size_t i = 0; i < n; i++)
		if (r[i].pipeline && strcmp(r[i].pipeline, owner) == 0)
			return &r[i];
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].source, pipe->source_name) == 0 && r[i].error)
			return &r[i];
	return NULL;
}

static int64_t int_or(const json_t *v, int64_t dflt)
{
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* "2 tables done, 1 remaining; public.big: 12000 of about 1000000 rows"
 * from capture's "snapshot" member, or NULL when it has none. */
static char *snapshot_progress(const json_t *snap)
{
	const json_t *t;
	size_t i;
	struct strbuf sb;

	if (!json_is_object(snap))
		return NULL;
	strbuf_init(&sb);
	strbuf_addf(&sb, "%lld tables done, %lld remaining",
		    (long long)int_or(json_object_get(snap, "tables_done"), 0),
		    (long long)int_or(json_object_get(snap, "tables_remaining"), 0));
	json_array_foreach(json_object_get(snap, "tables"), i, t) {
		int64_t estimate = int_or(json_object_get(t, "rows_estimated"), -1);

		if (json_is_true(json_object_get(t, "done")))
			continue;
		strbuf_addf(&sb, "; %s: %lld", status_str(json_object_get(t, "table"), "?"),
			    (long long)int_or(json_object_get(t, "rows"), 0));
		if (estimate >= 0)
			strbuf_addf(&sb, " of about %lld", (long long)estimate);
		strbuf_adds(&sb, " rows");
	}
	return strbuf_detach(&sb);
}

/* Since when pending work has been seen at every collection: carried from
 * the previous document's half while it stays > 0; -1: none, or unknown
 * (no previous collection). */
static int64_t pending_since(const json_t *before, int64_t pending, int64_t now)
{
	const json_t *then = json_object_get(before, "pending_since_usec");

	if (pending <= 0)
		return -1;
	if (!before)
		return -1;
	return json_is_integer(then) ? (int64_t)json_integer_value(then) : now;
}

/* Decides the half's "state" and "reason" (status_state.c) from what was
 * gathered; pending: see struct health_facts; before: the same half in the
 * previous collection (NULL: none). */
static void half_state_set(const struct topology *topo, json_t *half, const char *kind,
			   int64_t pending, const json_t *before, int64_t now,
			   struct health_verdict *v)
{
	int64_t since = pending_since(before, pending, now);

	const json_t *unit = json_object_get(half, "unit");
	const json_t *err = json_object_get(half, "error");
	const json_t *snap = json_object_get(half, "snapshot");
	const char *activity = status_str(json_object_get(half, "activity"), NULL);
	char *progress = snapshot_progress(snap);
	struct health_facts f = {
		.process = kind,
		.unit = status_process_state(half),
		.managed = json_is_object(unit),
		.supervision = status_str(json_object_get(unit, "supervision"), NULL),
		.has_progress = json_is_integer(json_object_get(half, "pid")),
		.pid = (int)int_or(json_object_get(half, "pid"), 0),
		.pid_alive = json_is_true(json_object_get(half, "alive")),
		.activity = activity,
		.last_error = status_str(json_object_get(half, "last_error"), NULL),
		.error_kind = status_str(json_object_get(err, "kind"), NULL),
		.error_message = status_str(json_object_get(err, "message"), NULL),
		.error_since_usec = int_or(json_object_get(err, "since_usec"), -1),
		.error_repeats = int_or(json_object_get(err, "repeats"), 0),
		.snapshot_running = json_is_true(json_object_get(snap, "running")) ||
				    (activity && strcmp(activity, "snapshotting") == 0),
		.snapshot_progress = progress,
		.updated_usec = int_or(json_object_get(half, "updated_usec"), -1),
		.progress_usec = int_or(json_object_get(half, "progress_usec"), -1),
		.pending = pending,
		.pending_since_usec = since,
		.now_usec = now,
		.stall_seconds = topo->agent.stall_seconds,
	};

	health_of_process(&f, v);
	json_object_set_new(half, "pending_since_usec", since > 0 ? json_integer(since) : json_null());
	json_object_set_new(half, "state", json_string(health_name(v->state)));
	json_object_set_new(half, "reason", v->reason[0] ? json_string(v->reason) : json_null());
	free(progress);
}

/* Capture's pending work: how much the slot's unconfirmed WAL grew since the
 * previous collection (-1: unknown, or no previous collection). */
static int64_t slot_lag_growth(const json_t *slot, const json_t *before)
{
	int64_t now = int_or(json_object_get(slot, "confirmed_lag_bytes"), -1);
	int64_t then = int_or(json_object_get(before, "confirmed_lag_bytes"), -1);

	return now >= 0 && then >= 0 ? now - then : -1;
}

/* Why the slot degrades the pipeline, or NULL. */
static const char *slot_problem(const json_t *slot)
{
	if (!json_is_object(slot))
		return "the source's slots could not be read";
	if (!json_is_null(json_object_get(slot, "error")))
		return status_str(json_object_get(slot, "error"), "cannot be read");
	if (!json_is_true(json_object_get(slot, "exists")))
		return "missing (capture creates it)";
	if (json_is_true(json_object_get(slot, "warn")))
		return "retains too much WAL (slot_warn_retained) or wal_status unreserved/lost";
	return NULL;
}

/* A half that runs on another host (a cluster across hosts) takes the
 * verdict of the half here: its own agent reports it. */
static void remote_half_set(json_t *half, const struct health_verdict *other,
			    struct health_verdict *v)
{
	*v = *other;
	json_object_set_new(half, "state", json_string(health_name(v->state)));
	json_object_set_new(half, "reason",
			    json_sprintf("runs on host %s (its agent reports it)",
					 status_str(json_object_get(half, "host"), "?")));
}

/* Sets the halves' and the pipeline's "state" and "reason". */
static void states_set(const struct topology *topo, json_t *p, const json_t *prev)
{
	json_t *capture = json_object_get(p, "capture"), *apply = json_object_get(p, "apply");
	const json_t *slot = json_object_get(p, "slot");
	bool capture_remote = json_is_true(json_object_get(capture, "remote"));
	bool apply_remote = json_is_true(json_object_get(apply, "remote"));
	const json_t *before = status_find(prev, "pipelines", "name",
					   status_str(json_object_get(p, "name"), ""));
	int64_t now = wall_usec();
	struct health_verdict vc, va, vp;

	half_state_set(topo, capture, "capture",
		       slot_lag_growth(slot, json_object_get(before, "slot")),
		       json_object_get(before, "capture"), now, &vc);
	half_state_set(topo, apply, "apply", int_or(json_object_get(apply, "lag_events"), -1),
		       json_object_get(before, "apply"), now, &va);
	if (capture_remote)
		remote_half_set(capture, &va, &vc);
	if (apply_remote)
		remote_half_set(apply, &vc, &va);
	/* the slot is watched on the capture's host */
	health_of_pipeline(&vc, &va, capture_remote ? NULL : slot_problem(slot), &vp);
	json_object_set_new(p, "state", json_string(health_name(vp.state)));
	json_object_set_new(p, "reason", vp.reason[0] ? json_string(vp.reason) : json_null());
}

static json_t *half_json(const struct topology *topo, struct systemd *sd, struct supervisor *sup,
			 const struct pipeline_cfg *pipe, const char *kind, const json_t *prev)
{
	/* Fan-out: a later pipeline of a source shows its source's capture,
	 * the first pipeline's, and says whose it is. */
	const struct pipeline_cfg *owner =
		strcmp(kind, "capture") == 0 ? topology_capture_pipeline(topo, pipe) : pipe;
	char *unit = xasprintf("cdc-%s@%s.service", kind, owner->name);
	json_t *half = json_object();
	const char *elsewhere = NULL;

	/* A cluster across hosts: the half placed on another host is its. */
	if (strcmp(kind, "capture") == 0 && !topology_source_here(topo, pipe->source))
		elsewhere = pipe->source->capture_address;
	else if (strcmp(kind, "apply") == 0 && !topology_runs_apply(topo, pipe))
		elsewhere = pipe->target->apply_address;
	if (elsewhere) {
		json_object_set_new(half, "unit", json_null());
		json_object_set_new(half, "host", json_string(elsewhere));
		json_object_set_new(half, "remote", json_true());
		if (owner != pipe)
			json_object_set_new(half, "captured_by", json_string(owner->name));
		free(unit);
		return half;
	}

	json_object_set_new(half, "unit", topo->agent.manage_units ? unit_json(sd, sup, unit)
								    : json_null());
	if (owner != pipe)
		json_object_set_new(half, "captured_by", json_string(owner->name));
	progress_add(topo, kind, owner->name, pipe->name, prev, half);
	free(unit);
	return half;
}

static char *connector_name(const struct topology *topo, const struct pipeline_cfg *pipe,
			   bool source);

static json_t *pipeline_json(const struct topology *topo, struct systemd *sd,
			     struct supervisor *sup, const struct pipeline_cfg *pipe,
			     const struct slot_report *slots, size_t n_slots,
			     const struct kafka_cluster_health *cluster, const json_t *prev)
{
	const struct slot_report *r = slot_of(topo, slots, n_slots, pipe);
	json_t *capture = half_json(topo, sd, sup, pipe, "capture", prev);
	json_t *apply = half_json(topo, sd, sup, pipe, "apply", prev);
	json_t *slot = r ? slot_json(r) : json_null();
	char *src = connector_name(topo, pipe, true);
	char *sink = connector_name(topo, pipe, false);
	struct strbuf why;
	int64_t lag;
	json_t *p;

	strbuf_init(&why);
	if (json_is_true(json_object_get(apply, "remote"))) {
		json_object_set_new(apply, "lag_events", json_null());
		json_object_set_new(apply, "lag_error", json_null());
	} else if (apply_lag_events(topo, pipe, &lag, &why)) {
		const json_t *age = json_object_get(apply, "last_event_age_sec");

		json_object_set_new(apply, "lag_events", json_integer(lag));
		json_object_set_new(apply, "lag_error", json_null());
		/* Caught up is nothing left in Kafka for it, whether it runs
		 * or not (a stopped apply writes no progress). */
		if (lag == 0)
			json_object_set_new(apply, "behind_source_ms", json_integer(0));
		else if (json_is_number(age))
			json_object_set_new(apply, "behind_source_ms",
					    json_integer((json_int_t)(json_number_value(age) * 1000)));
	} else {
		json_object_set_new(apply, "lag_events", json_null());
		json_object_set_new(apply, "lag_error", json_string(why.data));
	}
	strbuf_fini(&why);
	p = json_pack("{s:s, s:s, s:s, s:s, s:n, s:{s:s, s:s}}", "name", pipe->name, "source",
		      pipe->source_name, "target", pipe->target_name, "state", "?", "reason",
		      "connectors", "source", src, "sink", sink);
	json_object_set_new(p, "capture", capture);
	json_object_set_new(p, "apply", apply);
	json_object_set_new(p, "slot", slot);
	states_set(topo, p, prev);
	if (cluster && pipe->source && pipeline_offline(cluster, pipe) > 0) {
		const char *state = status_str(json_object_get(p, "state"), "");

		if (strcmp(state, "RUNNING") == 0 || strcmp(state, "SNAPSHOTTING") == 0) {
			json_object_set_new(p, "state", json_string(health_name(HEALTH_DEGRADED)));
			json_object_set_new(p, "reason",
					    json_sprintf("Kafka: %d partition(s) of its topics offline (no leader)",
							 pipeline_offline(cluster, pipe)));
		}
	}
	free(src);
	free(sink);
	return p;
}

/* Kafka Connect's names for a pipeline's two halves: "source-<source>" and
 * "sink-<target>" (as the runbook named its connectors; "sink-<pipeline>"
 * when several pipelines share a target).  Caller frees. */
static char *connector_name(const struct topology *topo, const struct pipeline_cfg *pipe,
			   bool source)
{
	size_t sharing = 0;

	if (source)
		return xasprintf("source-%s", pipe->source_name);
	for (size_t i = 0; i < topo->n_pipelines; i++)
		sharing += strcmp(topo->pipelines[i].target_name, pipe->target_name) == 0;
	return sharing > 1 ? xasprintf("sink-%s", pipe->name)
			   : xasprintf("sink-%s", pipe->target_name);
}

/* ---- reading a document ------------------------------------------------------ */

const char *status_str(const json_t *v, const char *dflt)
{
	return json_is_string(v) ? json_string_value(v) : dflt;
}

const json_t *status_find(const json_t *doc, const char *key, const char *field,
			  const char *value)
{
	const json_t *item;
	size_t i;

	json_array_foreach(json_object_get(doc, key), i, item) {
		const char *v = json_string_value(json_object_get(item, field));

		if (v && value && strcmp(v, value) == 0)
			return item;
	}
	return NULL;
}

enum process_state status_process_state(const json_t *half)
{
	const json_t *unit = json_object_get(half, "unit");
	const char *active = status_str(json_object_get(unit, "active"), "unknown");
	const char *how = status_str(json_object_get(unit, "supervision"), "");

	if (!json_is_object(unit)) /* not a unit of ours: its progress file tells */
		return json_is_integer(json_object_get(half, "pid")) ? PROCESS_RUNNING
								     : PROCESS_UNKNOWN;
	if (strcmp(active, "failed") == 0 ||
	    strncmp(how, SUPERVISION_GAVE_UP, strlen(SUPERVISION_GAVE_UP)) == 0)
		return PROCESS_FAILED;
	if (strcmp(how, SUPERVISION_OPERATOR_STOPPED) == 0)
		return PROCESS_STOPPED;
	if (strcmp(active, "active") == 0)
		return PROCESS_RUNNING;
	return strcmp(active, "unknown") == 0 ? PROCESS_UNKNOWN : PROCESS_STARTING;
}

/* ---- the document ---------------------------------------------------------- */

static void slots_add(json_t *doc, json_t *warnings, const struct slot_report *r, size_t n)
{
	json_t *orphans = json_array();

	for (size_t i = 0; i < n; i++) {
		if (r[i].error)
			json_array_append_new(warnings, json_sprintf("source %s: %s", r[i].source,
								     r[i].error));
		else if (!r[i].exists)
			json_array_append_new(warnings,
					      json_sprintf("slot %s of pipeline %s is missing on "
							   "source %s (capture creates it)",
							   r[i].slot, r[i].pipeline ? r[i].pipeline : "?",
							   r[i].source));
		else if (!r[i].pipeline)
			json_array_append_new(orphans, slot_json(&r[i]));
		if (!r[i].error && !r[i].pipeline)
			json_array_append_new(warnings,
					      json_sprintf("slot %s on source %s has no pipeline: it "
							   "retains WAL until it is dropped (by hand: "
							   "the agent never drops it)",
							   r[i].slot, r[i].source));
		else if (r[i].warn)
			json_array_append_new(warnings,
					      json_sprintf("slot %s on source %s retains %lld bytes "
							   "of WAL (wal_status %s)",
							   r[i].slot, r[i].source,
							   (long long)r[i].retained_bytes,
							   r[i].wal_status));
	}
	json_object_set_new(doc, "orphan_slots", orphans);
}

/* The topology's certificates near expiry, expired or unreadable
 * (cert_check.h); the last two as "error: ...". */
static void certs_add(const struct topology *topo, json_t *warnings)
{
	struct cert_findings found = { 0 };

	cert_check_topology(topo, time(NULL), &found);
	for (size_t i = 0; i < found.n; i++) {
		const char *level = cert_finding_is_error(&found.items[i]) ? "error: " : "";
		char *text = cert_finding_text(&found.items[i]);

		json_array_append_new(warnings, json_sprintf("%s%s", level, text));
		free(text);
	}
	cert_findings_fini(&found);
}

json_t *status_collect(const struct topology *topo, struct supervisor *sup, const json_t *prev)
{
	json_t *doc = json_object(), *components = json_array(), *pipelines = json_array();
	json_t *warnings = json_array(), *cluster, *elsewhere = json_array();
	struct kafka_probe probe;
	struct slot_report *slots = NULL;
	struct systemd *sd = NULL;
	size_t n_slots = 0;
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	if (topo->agent.manage_units && !systemd_open(&sd))
		sd = NULL; /* units show as "unknown"; the error is logged */
	if (!slot_watch_collect(topo, &slots, &n_slots)) {
		slots = NULL;
		n_slots = 0;
	}
	kafka_probe_run(topo, &probe);
	components_add(topo, sd, sup, &probe, components);
	cluster = cluster_json(topo, &probe, warnings);
	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *pipe = &topo->pipelines[i];

		/* A cluster across hosts: a pipeline with no half here is its
		 * hosts' to report; named with them. */
		if (!topology_source_here(topo, pipe->source) && !topology_runs_apply(topo, pipe)) {
			json_array_append_new(elsewhere,
					      json_pack("{s:s, s:s, s:s}", "name", pipe->name,
							"capture_host", pipe->source->capture_address,
							"apply_host", pipe->target->apply_address));
			continue;
		}
		json_array_append_new(pipelines, pipeline_json(topo, sd, sup, pipe, slots, n_slots,
							       &probe.health, prev));
	}
	slots_add(doc, warnings, slots, n_slots);
	certs_add(topo, warnings);
	json_object_set_new(doc, "schema_version", json_integer(STATUS_SCHEMA_VERSION));
	json_object_set_new(doc, "host", json_string(host));
	json_object_set_new(doc, "topology", json_string(topo->path));
	json_object_set_new(doc, "collected_usec", json_integer(wall_usec()));
	json_object_set_new(doc, "components", components);
	json_object_set_new(doc, "pipelines", pipelines);
	json_object_set_new(doc, "cluster", cluster);
	if (topology_is_cluster(topo))
		json_object_set_new(doc, "pipelines_elsewhere", elsewhere);
	else
		json_decref(elsewhere);
	kafka_probe_fini(&probe);
	json_object_set_new(doc, "warnings", warnings);
	slot_reports_free(slots, n_slots);
	systemd_close(sd);
	return doc;
}
