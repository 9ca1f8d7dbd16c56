/*
 * agent/run.h: `cdc-agent run`, the long-running agent under
 * cdc-agent.service: reconciles the topology on a period and on SIGHUP,
 * supervises the units (supervise.h), publishes status (status_http.h),
 * talks to systemd with sd_notify (notify.h), exits cleanly on SIGTERM.
 */
#ifndef CDC_RUN_H
#define CDC_RUN_H

#include "common.h"

/* Runs until SIGTERM/SIGINT; returns an exit code (EXIT_BAD_CONFIG when
 * the topology cannot be loaded at start, EXIT_ERROR when the status
 * endpoints cannot listen). */
int run_agent(const char *topology_path);

#endif
