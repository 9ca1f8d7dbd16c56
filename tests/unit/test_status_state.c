/*
 * tests/unit/test_status_state.c: the health rules (agent/status/status_state.c):
 * from the facts about a process to RUNNING, SNAPSHOTTING, STALLED, FAILED,
 * STOPPED or DEGRADED with a reason, and the pipeline's precedence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "status/status_state.h"

#include <string.h>

#define NOW 1800000000000000LL
#define SEC 1000000LL

/* A healthy managed apply: active unit, progress written just now, events
 * moving, nothing pending. */
static struct health_facts healthy(void)
{
	struct health_facts f = {
		.process = "apply", .unit = PROCESS_RUNNING, .managed = true,
		.supervision = "running", .has_progress = true, .pid = 42,
		.activity = "consuming", .updated_usec = NOW - SEC, .progress_usec = NOW - 2 * SEC,
		.pending = 0, .pending_since_usec = -1, .now_usec = NOW, .stall_seconds = 60,
	};
	return f;
}

static enum health state_of(const struct health_facts *f, struct health_verdict *v)
{
	health_of_process(f, v);
	return v->state;
}

static void running_when_idle_or_flowing(void **unused)
{
	struct health_facts f = healthy();
	struct health_verdict v;

	(void)unused;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING);
	assert_string_equal(v.reason, "");
	/* pending work, but events moved recently: flowing */
	f.pending = 5000;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING);
	/* nothing pending and no event for hours: idle, not stalled */
	f.pending = 0;
	f.progress_usec = NOW - 3600 * SEC;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING);
	/* unknown pending (lag could not be read): not stalled */
	f.pending = -1;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING);
}

static void stalled_when_pending_without_progress(void **unused)
{
	struct health_facts f = healthy();
	struct health_verdict v;

	(void)unused;
	f.pending = 7;
	f.pending_since_usec = NOW - 70 * SEC;
	f.progress_usec = NOW - 61 * SEC;
	assert_int_equal(state_of(&f, &v), HEALTH_STALLED);
	assert_non_null(strstr(v.reason, "7 events pending"));
	/* pending only since the last collection (the lag wobbles): not yet */
	f.pending_since_usec = NOW - 10 * SEC;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING);
	f.pending_since_usec = -1;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING);
	f.pending_since_usec = NOW - 70 * SEC;
	/* one second short of stall_seconds: not yet */
	f.progress_usec = NOW - 59 * SEC;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING);
	/* no previous collection: no-progress time unknown, not stalled */
	f.progress_usec = -1;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING);
	/* capture: the slot's unconfirmed WAL grows */
	f = healthy();
	f.process = "capture";
	f.pending = 4096;
	f.pending_since_usec = NOW - 100 * SEC;
	f.progress_usec = NOW - 100 * SEC;
	assert_int_equal(state_of(&f, &v), HEALTH_STALLED);
	assert_non_null(strstr(v.reason, "unconfirmed WAL grows"));
}

static void stalled_when_hung(void **unused)
{
	struct health_facts f = healthy();
	struct health_verdict v;

	(void)unused;
	f.updated_usec = NOW - 90 * SEC; /* unit active, file not written */
	assert_int_equal(state_of(&f, &v), HEALTH_STALLED);
	assert_non_null(strstr(v.reason, "has not written its progress for 90 s"));
}

static void failed_when_retrying_the_same_error(void **unused)
{
	struct health_facts f = healthy();
	struct health_verdict v;

	(void)unused;
	f.process = "capture";
	f.error_kind = "refused_record";
	f.error_message = "Broker: Message size too large";
	f.error_since_usec = NOW - 5 * SEC;
	f.error_repeats = 2;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING); /* a hiccup so far */
	assert_non_null(strstr(v.reason, "retrying"));
	f.error_repeats = 3;
	assert_int_equal(state_of(&f, &v), HEALTH_FAILED);
	assert_non_null(strstr(v.reason, "Message size too large"));
	assert_non_null(strstr(v.reason, "refused_record"));
	/* twice, but for longer than stall_seconds */
	f.error_repeats = 2;
	f.error_since_usec = NOW - 61 * SEC;
	assert_int_equal(state_of(&f, &v), HEALTH_FAILED);
	/* a standing condition found by a check: at once */
	f.error_kind = "publication";
	f.error_message = "table public.big is not in publication p";
	f.error_repeats = 1;
	f.error_since_usec = NOW;
	assert_int_equal(state_of(&f, &v), HEALTH_FAILED);
	assert_non_null(strstr(v.reason, "public.big"));
	/* a change too large for Kafka: at its first occurrence */
	f.error_kind = "too_large";
	f.error_message = "table public.big: the change of key {\"id\":7} is 2097300 bytes, over "
			  "[kafka] max_message_bytes = 1MB (topology t.ini:3)";
	assert_int_equal(state_of(&f, &v), HEALTH_FAILED);
	assert_non_null(strstr(v.reason, "too_large"));
	assert_non_null(strstr(v.reason, "{\"id\":7}"));
	/* a refusal by the brokers' ACLs: at its first occurrence */
	f.error_kind = "kafka_authorization";
	f.error_message = "capture p1: kafka k:9092: the brokers refused user capture-p1 writing "
			  "topic db1server.public.t: not authorized by an ACL (Broker: Topic "
			  "authorization failed); grant the user Write on the topic";
	assert_int_equal(state_of(&f, &v), HEALTH_FAILED);
	assert_non_null(strstr(v.reason, "kafka_authorization"));
	assert_non_null(strstr(v.reason, "refused user capture-p1 writing topic"));
}

static void failed_or_stopped_when_gone(void **unused)
{
	struct health_facts f = healthy();
	struct health_verdict v;

	(void)unused;
	f.unit = PROCESS_FAILED;
	f.supervision = "gave up after 5 attempts";
	f.last_error = "target db2: duplicate key";
	assert_int_equal(state_of(&f, &v), HEALTH_FAILED);
	assert_non_null(strstr(v.reason, "gave up after 5 attempts: target db2: duplicate key"));
	f.unit = PROCESS_STOPPED;
	assert_int_equal(state_of(&f, &v), HEALTH_STOPPED);
	f.unit = PROCESS_STARTING;
	f.supervision = "restarting (attempt 2 of 5, next in 4 s)";
	assert_int_equal(state_of(&f, &v), HEALTH_DEGRADED);
	/* not managed: the pid tells */
	f = healthy();
	f.managed = false;
	f.supervision = NULL;
	f.pid_alive = true;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING);
	f.pid_alive = false; /* kill -9: no last word */
	assert_int_equal(state_of(&f, &v), HEALTH_FAILED);
	assert_non_null(strstr(v.reason, "apply (pid 42) exited"));
	f.activity = "stopping"; /* SIGTERM: a clean end */
	f.last_error = "an error overcome before";
	assert_int_equal(state_of(&f, &v), HEALTH_STOPPED);
	f.activity = "consuming"; /* ended on an error */
	f.last_error = "lost the connection";
	assert_int_equal(state_of(&f, &v), HEALTH_FAILED);
	assert_non_null(strstr(v.reason, "lost the connection"));
	f.has_progress = false;
	assert_int_equal(state_of(&f, &v), HEALTH_DEGRADED);
	/* a unit systemd could not be asked about: the pid tells */
	f = healthy();
	f.unit = PROCESS_UNKNOWN;
	f.pid_alive = true;
	assert_int_equal(state_of(&f, &v), HEALTH_RUNNING);
	f.pid_alive = false;
	assert_int_equal(state_of(&f, &v), HEALTH_FAILED);
}

static void snapshotting_with_progress(void **unused)
{
	struct health_facts f = healthy();
	struct health_verdict v;

	(void)unused;
	f.process = "capture";
	f.snapshot_running = true;
	f.snapshot_progress = "1 tables done, 2 remaining";
	f.pending = 1 << 20;
	f.pending_since_usec = NOW - 100 * SEC;
	f.progress_usec = NOW - 100 * SEC; /* the stream waits for the snapshot */
	assert_int_equal(state_of(&f, &v), HEALTH_SNAPSHOTTING);
	assert_non_null(strstr(v.reason, "1 tables done, 2 remaining"));
	f.updated_usec = NOW - 100 * SEC; /* but a hung snapshot is a hang */
	assert_int_equal(state_of(&f, &v), HEALTH_STALLED);
}

static void pipeline_precedence(void **unused)
{
	struct health_verdict c = { HEALTH_RUNNING, "" }, a = { HEALTH_RUNNING, "" }, p;

	(void)unused;
	health_of_pipeline(&c, &a, NULL, &p);
	assert_int_equal(p.state, HEALTH_RUNNING);
	health_of_pipeline(&c, &a, "missing", &p);
	assert_int_equal(p.state, HEALTH_DEGRADED);
	assert_string_equal(p.reason, "slot: missing");
	c.state = HEALTH_SNAPSHOTTING;
	health_of_pipeline(&c, &a, NULL, &p);
	assert_int_equal(p.state, HEALTH_SNAPSHOTTING);
	a.state = HEALTH_STOPPED;
	health_of_pipeline(&c, &a, NULL, &p);
	assert_int_equal(p.state, HEALTH_STOPPED);
	c = (struct health_verdict){ HEALTH_STALLED, "capture stalled" };
	health_of_pipeline(&c, &a, "missing", &p);
	assert_int_equal(p.state, HEALTH_STALLED);
	assert_string_equal(p.reason, "capture stalled");
	a = (struct health_verdict){ HEALTH_FAILED, "apply failed" };
	health_of_pipeline(&c, &a, NULL, &p);
	assert_int_equal(p.state, HEALTH_FAILED);
	assert_string_equal(p.reason, "apply failed");
	assert_int_equal(health_parse("STALLED"), HEALTH_STALLED);
	assert_int_equal(health_parse("nope"), N_HEALTH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(running_when_idle_or_flowing),
		cmocka_unit_test(stalled_when_pending_without_progress),
		cmocka_unit_test(stalled_when_hung),
		cmocka_unit_test(failed_when_retrying_the_same_error),
		cmocka_unit_test(failed_or_stopped_when_gone),
		cmocka_unit_test(snapshotting_with_progress),
		cmocka_unit_test(pipeline_precedence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
