/*
 * agent/systemd/notify.h: what `run` tells systemd (sd_notify): READY, RELOADING,
 * STOPPING, STATUS and the watchdog.  Every call is a no-op outside a
 * Type=notify unit (no NOTIFY_SOCKET), so the same code runs by hand.
 */
#ifndef CDC_NOTIFY_H
#define CDC_NOTIFY_H

#include "base/common.h"

#include <stdint.h>

/* Reads the watchdog interval systemd asked for; 0 when there is none. */
uint64_t notify_watchdog_usec(void);

/* READY=1 with a STATUS= line. */
void notify_ready(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* STATUS= only: the one-line summary `systemctl status` shows. */
void notify_status(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* RELOADING=1 (with MONOTONIC_USEC, as systemd >= 253 expects). */
void notify_reloading(void);
void notify_stopping(void);

/* WATCHDOG=1 if half the interval passed since the last one.  Called from
 * the main loop and from long waits inside a reconcile (a unit's start job,
 * a health check), so a slow but progressing reconcile is not killed while
 * one stuck on a server still is. */
void notify_heartbeat(void);

#endif
