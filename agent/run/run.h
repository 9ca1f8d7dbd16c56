/*
 * agent/run/run.h: `cdc-agent run`, the long-running agent under
 * cdc-agent.service: reconciles the topology on a period and on SIGHUP,
 * supervises the units (supervise.h), publishes status (status_http.h),
 * talks to systemd with sd_notify (notify.h), exits cleanly on SIGTERM.
 */
#ifndef CDC_RUN_H
#define CDC_RUN_H

#include "base/common.h"

/* How run_agent ended (main.c maps it to an exit code). */
enum run_end {
	RUN_END_STOPPED,      /* SIGTERM/SIGINT */
	RUN_END_BAD_TOPOLOGY, /* the topology could not be loaded at start (errors printed) */
	RUN_END_FAILED,       /* signals or the status endpoints could not be set up (logged) */
};

/* Runs until SIGTERM/SIGINT. */
MUST_CHECK enum run_end run_agent(const char *topology_path);

#endif
