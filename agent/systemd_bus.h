/*
 * agent/systemd_bus.h: systemd's D-Bus API (sd-bus), never systemctl.
 */
#ifndef CDC_SYSTEMD_BUS_H
#define CDC_SYSTEMD_BUS_H

#include "common.h"

enum unit_job_result {
	UNIT_JOB_DONE,     /* the job finished with result "done" */
	UNIT_JOB_NO_BUS,   /* no system bus to talk to */
	UNIT_JOB_FAILED,   /* the call or the job failed; see why */
};

/* Restarts unit and follows its job to the end (up to timeout_sec).  On
 * failure why receives the reason (systemd's error or the job's result). */
enum unit_job_result systemd_restart_unit(const char *unit, int timeout_sec, char *why,
					  size_t why_len);

#endif
