/*
 * agent/systemd/systemd_bus.h: systemd's D-Bus API (sd-bus), never systemctl, and
 * the journal (sd-journal) to explain a unit that failed.
 */
#ifndef CDC_SYSTEMD_BUS_H
#define CDC_SYSTEMD_BUS_H

#include "base/common.h"
#include "base/util.h"

#include <stdint.h>

enum unit_job_result {
	UNIT_JOB_DONE,     /* the job finished with result "done" */
	UNIT_JOB_NO_BUS,   /* no system bus to talk to */
	UNIT_JOB_FAILED,   /* the call or the job failed; see why */
};

/* Restarts unit and follows its job to the end (up to timeout_sec).  On
 * failure why receives the reason (systemd's error or the job's result). */
enum unit_job_result systemd_restart_unit(const char *unit, int timeout_sec, char *why,
					  size_t why_len);

/* A connection to the system manager; systemd_close() frees it. */
struct systemd;

MUST_CHECK bool systemd_open(struct systemd **sd);
void systemd_close(struct systemd *sd);

/* Manager.Reload (daemon-reload): picks up changed unit files. */
MUST_CHECK bool systemd_reload(struct systemd *sd);

/* EnableUnitFiles; *changed says whether systemd changed any link. */
MUST_CHECK bool systemd_enable(struct systemd *sd, const char *const *units, size_t n,
			       bool *changed);

/* "StartUnit", "RestartUnit" or "StopUnit", followed to JobRemoved.  On a
 * result other than "done", the error names the unit, the result, and the
 * unit's last journal lines. */
MUST_CHECK bool systemd_job(struct systemd *sd, const char *method, const char *unit,
			    int timeout_sec);

/* Manager.ResetFailedUnit: clears "failed" and the start rate limit, so a
 * unit that hit StartLimitBurst= can be started again. */
MUST_CHECK bool systemd_reset_failed(struct systemd *sd, const char *unit);

struct unit_state {
	char active[32];      /* ActiveState: active, failed, inactive, ... */
	char sub[32];         /* SubState: running, dead, ... */
	char result[32];      /* Result of the service: success, exit-code, ... */
	int exit_status;      /* ExecMainStatus: the main process's exit code (or signal) */
	uint64_t active_enter_usec; /* ActiveEnterTimestamp: changes iff it (re)started */
	uint32_t main_pid;    /* MainPID: its main process; 0 when none runs */
};

MUST_CHECK bool systemd_unit_state(struct systemd *sd, const char *unit, struct unit_state *st);

/* How many journal lines an error about a failed unit quotes. */
#define SYSTEMD_JOURNAL_LINES 15

/* Appends the last n journal lines of unit to sb (nothing if none, after
 * waiting up to 1.5 s for journald to store the lines of a unit that just failed). */
void systemd_journal_tail(const char *unit, int n, struct strbuf *sb);

#endif
