/*
 * agent/systemd/supervise.h: which stopped units `run` may start, and when.
 *
 * The rule (docs/ARCHITECTURE.md, "Supervision"), read from systemd's own
 * state so it survives the agent's restarts:
 *   - active, activating, reloading: nothing to do (systemd's Restart=
 *     already brings a killed process back; its restarts show as
 *     activating/auto-restart);
 *   - failed with exit code 65 (EXIT_REFUSED_INPUT: apply on a record or a
 *     gap it cannot go past, capture on a change too large for Kafka):
 *     every start would fail again: leave it
 *     failed ("gave up"), until the operator starts it;
 *   - failed, or inactive with a Result other than "success": it crashed:
 *     start it again, with backoff (BACKOFF_FIRST_SEC doubling up to
 *     BACKOFF_MAX_SEC), and give up after MAX_ATTEMPTS failures in a row,
 *     loudly, until the topology is reloaded (SIGHUP) or the operator
 *     starts it;
 *   - inactive with Result "success" after having run (ActiveEnterTimestamp
 *     set): someone stopped it on purpose (`systemctl stop`): leave it;
 *   - inactive and never run since boot: a new unit: start it.
 * `bootstrap` has no supervisor: it is the operator's explicit request and
 * starts every unit of the topology.
 */
#ifndef CDC_SUPERVISE_H
#define CDC_SUPERVISE_H

#include "base/common.h"
#include "base/util.h"
#include "systemd/systemd_bus.h"

#include <time.h>

#define SUPERVISE_MAX_ATTEMPTS 5
#define SUPERVISE_BACKOFF_FIRST_SEC 10
#define SUPERVISE_BACKOFF_MAX_SEC 300

enum unit_verdict {
	UNIT_RUNNING,          /* active or on its way: leave it to systemd */
	UNIT_START,            /* start it now */
	UNIT_OPERATOR_STOPPED, /* stopped on purpose: leave it */
	UNIT_BACKING_OFF,      /* crashed; the next attempt is not due yet */
	UNIT_GAVE_UP,          /* crashed SUPERVISE_MAX_ATTEMPTS times in a row */
};

struct supervisor;

struct supervisor *supervisor_new(void);
void supervisor_free(struct supervisor *s);

/* What to do with unit, whose state is st, at time now (seconds). */
enum unit_verdict supervisor_decide(struct supervisor *s, const char *unit,
				    const struct unit_state *st, time_t now);
/* The start decided above was made; ok: systemd's job finished "done". */
void supervisor_started(struct supervisor *s, const char *unit, bool ok, time_t now);
/* Forget every failure count (SIGHUP: the operator asked for a fresh try). */
void supervisor_forgive(struct supervisor *s);

/* Words of supervisor_describe that readers of the status act on. */
#define SUPERVISION_OPERATOR_STOPPED "stopped by operator"
#define SUPERVISION_GAVE_UP "gave up"

/* One line for status: "running", "stopped by operator", "restarting
 * (attempt 2 of 5, next in 20 s)", "gave up after 5 attempts". */
void supervisor_describe(struct supervisor *s, const char *unit, const struct unit_state *st,
			 time_t now, struct strbuf *out);

#endif
