/*
 * agent/systemd/notify.c: sd_notify messages of `run`.
 */
#include "systemd/notify.h"

#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

static uint64_t watchdog_usec;
static uint64_t last_heartbeat_usec;

uint64_t notify_watchdog_usec(void)
{
	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		watchdog_usec = 0;
	return watchdog_usec;
}

/* Sends "<prefix>STATUS=<formatted>". */
static void send_with_status(const char *prefix, const char *fmt, va_list ap)
{
	char status[256];

	vsnprintf(status, sizeof(status), fmt, ap);
	sd_notifyf(0, "%sSTATUS=%s", prefix, status);
}

void notify_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_with_status("READY=1\n", fmt, ap);
	va_end(ap);
}

void notify_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_with_status("", fmt, ap);
	va_end(ap);
}

void notify_reloading(void)
{
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the topology",
		   (unsigned long long)mono_usec());
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void notify_heartbeat(void)
{
	uint64_t now;

	if (watchdog_usec == 0)
		return;
	now = (uint64_t)mono_usec();
	if (now - last_heartbeat_usec < watchdog_usec / 2)
		return;
	last_heartbeat_usec = now;
	sd_notify(0, "WATCHDOG=1");
}
