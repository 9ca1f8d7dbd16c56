/*
 * agent/systemd_bus.c: systemd's D-Bus API (sd-bus), never systemctl.
 *
 * As systemctl does (src/shared/bus-wait-for-jobs.c), we subscribe and add
 * the JobRemoved match before enqueuing the job, so its end cannot be missed,
 * then wait for the signal naming our job's path.
 */
#include "systemd_bus.h"

#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"

struct job_wait {
	const char *job_path;  /* borrowed from the RestartUnit reply */
	char *result;          /* set by on_job_removed; freed by the waiter */
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct job_wait *wait = userdata;
	const char *path, *unit, *result;
	uint32_t id;

	(void)error;
	if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
		return 0;
	if (wait->job_path && strcmp(path, wait->job_path) == 0) {
		free(wait->result);
		wait->result = xstrdup(result);
	}
	return 0;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Processes bus messages until our job's JobRemoved arrives or time is up. */
static bool wait_for_job(sd_bus *bus, struct job_wait *wait, int timeout_sec)
{
	double deadline = now_sec() + timeout_sec;

	while (!wait->result) {
		int r = sd_bus_process(bus, NULL);

		if (r < 0)
			return false;
		if (r > 0)
			continue;
		if (now_sec() >= deadline)
			return false;
		if (sd_bus_wait(bus, (uint64_t)((deadline - now_sec()) * 1e6)) < 0)
			return false;
	}
	return true;
}

enum unit_job_result systemd_restart_unit(const char *unit, int timeout_sec, char *why,
					  size_t why_len)
{
	sd_bus *bus = NULL;
	sd_bus_slot *slot = NULL;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	struct job_wait wait = { 0 };
	enum unit_job_result outcome = UNIT_JOB_FAILED;
	int r;

	r = sd_bus_open_system(&bus);
	if (r >= 0)
		r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", &err, NULL,
				       "");
	if (r < 0) {
		snprintf(why, why_len, "no systemd on the system bus: %s",
			 err.message ? err.message : strerror(-r));
		outcome = UNIT_JOB_NO_BUS;
		goto out;
	}
	r = sd_bus_match_signal(bus, &slot, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved",
				on_job_removed, &wait);
	if (r >= 0)
		r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "RestartUnit", &err,
				       &reply, "ss", unit, "replace");
	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &wait.job_path);
	if (r < 0) {
		snprintf(why, why_len, "cannot restart %s: %s", unit,
			 err.message ? err.message : strerror(-r));
		goto out;
	}
	if (!wait_for_job(bus, &wait, timeout_sec)) {
		snprintf(why, why_len, "%s did not finish restarting within %d s", unit,
			 timeout_sec);
		goto out;
	}
	if (strcmp(wait.result, "done") != 0) {
		snprintf(why, why_len, "restart of %s ended with result '%s'", unit, wait.result);
		goto out;
	}
	outcome = UNIT_JOB_DONE;
out:
	free(wait.result);
	sd_bus_message_unref(reply);
	sd_bus_slot_unref(slot);
	sd_bus_error_free(&err);
	sd_bus_flush_close_unref(bus);
	return outcome;
}
