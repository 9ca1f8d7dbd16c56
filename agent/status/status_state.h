/*
 * agent/status/status_state.h: the health rules: from what status.c gathered about
 * a capture or apply process (its unit, its progress file, the lag) to one
 * state and the reason for it, and from the two processes and the slot to
 * the pipeline's.  Pure functions (no I/O, "now" is an input), so the rules
 * are unit-tested on their own (tests/unit/test_status_state.c); every
 * output (table, --json, Kafka Connect's shape, /metrics) reads the result
 * from the document instead of deciding again.  docs/STATUS.md "States".
 */
#ifndef CDC_STATUS_STATE_H
#define CDC_STATUS_STATE_H

#include "base/common.h"
#include "status/status.h"

#include <stdint.h>

enum health {
	HEALTH_RUNNING,      /* events flow, or nothing is pending */
	HEALTH_SNAPSHOTTING, /* copying tables (progress in the reason) */
	HEALTH_STALLED,      /* work pending and no progress for stall_seconds, or hung */
	HEALTH_FAILED,       /* exited, given up, or retrying the same error */
	HEALTH_STOPPED,      /* stopped by an operator (or exited cleanly when not managed) */
	HEALTH_DEGRADED,     /* starting, restarting, unknown; slot warns or cannot be read */
	N_HEALTH
};

/* "RUNNING", "SNAPSHOTTING", ... */
const char *health_name(enum health h);
/* The name's state; N_HEALTH for another string. */
enum health health_parse(const char *name);

/* What is known about one process; unknown numbers are < 0. */
struct health_facts {
	const char *process;         /* "capture" or "apply" (for reasons) */
	enum process_state unit;     /* status_process_state() of its half */
	bool managed;                /* it has a systemd unit */
	const char *supervision;     /* run's word on the unit, or NULL */
	bool has_progress;           /* its progress file exists */
	int pid;
	bool pid_alive;              /* not managed: that pid is still this process */
	const char *activity;        /* the process's "state" member, or NULL */
	const char *last_error;
	/* the process's "error" member (kind NULL: none) */
	const char *error_kind, *error_message;
	int64_t error_since_usec, error_repeats;
	bool snapshot_running;       /* "snapshot".running, or activity "snapshotting" */
	const char *snapshot_progress; /* "2 tables done, 1 remaining", or NULL */
	int64_t updated_usec;        /* when it last wrote its progress file; < 0: unknown */
	int64_t progress_usec;       /* when its events counter last moved; < 0: unknown */
	int64_t pending;             /* apply: lag_events; capture: slot lag growth in
				      * bytes since the last collection; < 0: unknown */
	int64_t pending_since_usec;  /* since when pending has been > 0 at every
				      * collection; < 0: unknown */
	int64_t now_usec;
	int stall_seconds;
};

struct health_verdict {
	enum health state;
	char reason[600]; /* "" when there is nothing to say */
};

/* The process's state (precedence in docs/STATUS.md "States"). */
void health_of_process(const struct health_facts *f, struct health_verdict *out);

/* The pipeline's: the worse of its processes (FAILED, STALLED, STOPPED,
 * DEGRADED, SNAPSHOTTING, RUNNING, in that order), then DEGRADED when
 * slot_problem (slot_why says what) if both processes run. */
void health_of_pipeline(const struct health_verdict *capture, const struct health_verdict *apply,
			const char *slot_problem, struct health_verdict *out);


#endif
