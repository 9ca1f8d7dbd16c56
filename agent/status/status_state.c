/*
 * agent/status/status_state.c: the health rules (status_state.h).
 */
#include "status/status_state.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* An error repeated this often is not a hiccup any more. */
#define FAILED_AFTER_REPEATS 3

static const char *const names[N_HEALTH] = {
	[HEALTH_RUNNING] = "RUNNING",   [HEALTH_SNAPSHOTTING] = "SNAPSHOTTING",
	[HEALTH_STALLED] = "STALLED",   [HEALTH_FAILED] = "FAILED",
	[HEALTH_STOPPED] = "STOPPED",   [HEALTH_DEGRADED] = "DEGRADED",
};

/* Pipeline precedence: the first of these that a process is in wins. */
static const enum health worst_first[] = { HEALTH_FAILED,   HEALTH_STALLED,
					   HEALTH_STOPPED,  HEALTH_DEGRADED,
					   HEALTH_SNAPSHOTTING, HEALTH_RUNNING };

const char *health_name(enum health h)
{
	return h < N_HEALTH ? names[h] : "?";
}

enum health health_parse(const char *name)
{
	for (int h = 0; h < N_HEALTH; h++)
		if (name && strcmp(name, names[h]) == 0)
			return (enum health)h;
	return N_HEALTH;
}

/* An error kind that is a standing condition found by a check (capture's
 * ground: "publication", "topic"; a change too large for Kafka:
 * "too_large"), not a retry that may succeed: FAILED at once. */
static bool health_kind_is_standing(const char *kind)
{
	/* publication, topic: wrong until the operator acts; too_large: a change
	 * that every attempt meets again (capture exits at once on it);
	 * replica_identity: a table whose identity identifies no row;
	 * kafka_authorization: the brokers' ACLs refused the process's user
	 * (it exits at once on it); transaction_stall: apply's open source
	 * transaction has not moved for long (cleared when it moves). */
	return kind && (strcmp(kind, "publication") == 0 || strcmp(kind, "topic") == 0 ||
			strcmp(kind, "too_large") == 0 || strcmp(kind, "replica_identity") == 0 ||
			strcmp(kind, "kafka_authorization") == 0 ||
			strcmp(kind, "transaction_stall") == 0);
}

static void verdict(struct health_verdict *out, enum health state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void verdict(struct health_verdict *out, enum health state, const char *fmt, ...)
{
	va_list ap;

	out->state = state;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

static int64_t age_sec(const struct health_facts *f, int64_t usec)
{
	return (f->now_usec - usec) / 1000000;
}

/* Exited, given up on, or stopped: true when out is decided. */
static bool gone(const struct health_facts *f, struct health_verdict *out)
{
	const char *err = f->last_error ? f->last_error : "no error logged";

	if (f->unit == PROCESS_FAILED) {
		verdict(out, HEALTH_FAILED, "%s %s: %s", f->process,
			f->supervision ? f->supervision : "unit failed", err);
		return true;
	}
	if (f->unit == PROCESS_STOPPED) {
		verdict(out, HEALTH_STOPPED, "%s stopped by an operator", f->process);
		return true;
	}
	/* With no unit, or one systemd could not be asked about, the pid in
	 * the progress file tells whether the process still runs. */
	if (f->managed && f->unit != PROCESS_UNKNOWN)
		return false;
	if (!f->has_progress) {
		verdict(out, HEALTH_DEGRADED, "%s has not started (no progress file)", f->process);
		return true;
	}
	if (f->pid_alive)
		return false;
	/* "stopping" is written only on a clean end (SIGTERM, initial_only);
	 * an earlier error that was overcome does not make it a failure. */
	if (f->activity && strcmp(f->activity, "stopping") == 0)
		verdict(out, HEALTH_STOPPED, "%s (pid %d) stopped", f->process, f->pid);
	else
		verdict(out, HEALTH_FAILED, "%s (pid %d) exited: %s", f->process, f->pid,
			f->last_error ? f->last_error
				      : "killed, or ended without writing its last progress");
	return true;
}

/* The same error again and again: true when out is decided (FAILED). */
static bool retrying(const struct health_facts *f, struct health_verdict *out)
{
	int64_t for_sec = f->error_since_usec > 0 ? age_sec(f, f->error_since_usec) : 0;

	if (!f->error_kind)
		return false;
	if (health_kind_is_standing(f->error_kind)) {
		verdict(out, HEALTH_FAILED, "%s: %s error: %s", f->process, f->error_kind,
			f->error_message ? f->error_message : "?");
		return true;
	}
	if (f->error_repeats < FAILED_AFTER_REPEATS && for_sec < f->stall_seconds)
		return false;
	verdict(out, HEALTH_FAILED, "%s retrying the same %s error (%" PRId64 " times in %" PRId64
		" s): %s", f->process, f->error_kind, f->error_repeats, for_sec,
		f->error_message ? f->error_message : "?");
	return true;
}

void health_of_process(const struct health_facts *f, struct health_verdict *out)
{
	out->reason[0] = '\0';
	out->state = HEALTH_RUNNING;
	if (gone(f, out) || retrying(f, out))
		return;
	if (f->unit == PROCESS_STARTING) {
		verdict(out, HEALTH_DEGRADED, "%s %s", f->process,
			f->supervision ? f->supervision : "starting");
		return;
	}
	if (f->updated_usec > 0 && age_sec(f, f->updated_usec) >= f->stall_seconds) {
		verdict(out, HEALTH_STALLED, "%s has not written its progress for %" PRId64
			" s (stall_seconds %d): hung?", f->process, age_sec(f, f->updated_usec),
			f->stall_seconds);
		return;
	}
	if (f->snapshot_running) {
		verdict(out, HEALTH_SNAPSHOTTING, "%s snapshotting%s%s", f->process,
			f->snapshot_progress ? ": " : "",
			f->snapshot_progress ? f->snapshot_progress : "");
		return;
	}
	/* Pending at every collection for stall_seconds, not just now: the
	 * slot's lag also wobbles while the source writes other tables. */
	if (f->pending > 0 && f->progress_usec > 0 && f->pending_since_usec > 0 &&
	    age_sec(f, f->progress_usec) >= f->stall_seconds &&
	    age_sec(f, f->pending_since_usec) >= f->stall_seconds) {
		if (strcmp(f->process, "apply") == 0)
			verdict(out, HEALTH_STALLED, "apply: %" PRId64 " events pending in Kafka and "
				"none applied for %" PRId64 " s (stall_seconds %d)", f->pending,
				age_sec(f, f->progress_usec), f->stall_seconds);
		else
			verdict(out, HEALTH_STALLED, "%s: the slot's unconfirmed WAL grows (+%" PRId64
				" bytes) and no event was sent for %" PRId64 " s (stall_seconds %d)",
				f->process, f->pending, age_sec(f, f->progress_usec), f->stall_seconds);
		return;
	}
	if (f->error_kind)
		verdict(out, HEALTH_RUNNING, "%s retrying a %s error (%" PRId64 " times): %s",
			f->process, f->error_kind, f->error_repeats,
			f->error_message ? f->error_message : "?");
}

void health_of_pipeline(const struct health_verdict *capture, const struct health_verdict *apply,
			const char *slot_problem, struct health_verdict *out)
{
	const struct health_verdict *halves[] = { capture, apply };

	for (size_t w = 0; w < ARRAY_LEN(worst_first); w++) {
		for (size_t i = 0; i < ARRAY_LEN(halves); i++) {
			if (halves[i]->state != worst_first[w])
				continue;
			if (worst_first[w] == HEALTH_RUNNING || worst_first[w] == HEALTH_SNAPSHOTTING) {
				if (slot_problem) {
					verdict(out, HEALTH_DEGRADED, "slot: %s", slot_problem);
					return;
				}
			}
			*out = *halves[i];
			return;
		}
	}
	*out = *capture;
}
