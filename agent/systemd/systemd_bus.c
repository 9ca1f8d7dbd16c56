/*
 * agent/systemd/systemd_bus.c: systemd's D-Bus API (sd-bus), never systemctl.
 *
 * As systemctl does (src/shared/bus-wait-for-jobs.c), we subscribe and add
 * the JobRemoved match before enqueuing a job, so its end cannot be missed,
 * then wait for the signal naming our job's path.  A failed job is
 * explained from the unit's Result and its journal.
 */
#include "systemd/systemd_bus.h"

#include "base/log.h"
#include "base/util.h"
#include "systemd/notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define JOURNAL_WAIT_MS 1500 /* for the lines of a unit that just failed (systemd_journal_tail) */

struct systemd {
	sd_bus *bus;
};

struct job_wait {
	const char *job_path;  /* borrowed from the job's reply */
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

/* Processes bus messages until our job's JobRemoved arrives or time is up. */
static bool wait_for_job(sd_bus *bus, struct job_wait *wait, int timeout_sec)
{
	double deadline = mono_seconds() + timeout_sec, left;

	while (!wait->result) {
		int r = sd_bus_process(bus, NULL);

		if (r < 0)
			return false;
		if (r > 0)
			continue;
		if (mono_seconds() >= deadline)
			return false;
		notify_heartbeat();
		/* Wakes at least every second to keep the watchdog fed. */
		left = deadline - mono_seconds();
		if (sd_bus_wait(bus, (uint64_t)((left < 1.0 ? left : 1.0) * 1e6)) < 0)
			return false;
	}
	return true;
}

/* Enqueues method(unit, "replace") and waits for the job's result;
 * *result (caller frees) is NULL when the call itself failed (why says). */
static bool run_job(sd_bus *bus, const char *method, const char *unit, int timeout_sec,
		    char **result, char *why, size_t why_len)
{
	sd_bus_slot *slot = NULL;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	struct job_wait wait = { 0 };
	int r;

	*result = NULL;
	r = sd_bus_match_signal(bus, &slot, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved",
				on_job_removed, &wait);
	if (r >= 0)
		r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, method, &err, &reply, "ss",
				       unit, "replace");
	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &wait.job_path);
	if (r < 0) {
		snprintf(why, why_len, "%s %s: %s", method, unit, err.message ? err.message : strerror(-r));
	} else if (!wait_for_job(bus, &wait, timeout_sec)) {
		snprintf(why, why_len, "%s %s did not finish within %d s", method, unit, timeout_sec);
	} else {
		*result = wait.result;
		wait.result = NULL;
	}
	free(wait.result);
	sd_bus_message_unref(reply);
	sd_bus_slot_unref(slot);
	sd_bus_error_free(&err);
	return *result != NULL;
}

static int open_and_subscribe(sd_bus **bus, sd_bus_error *err)
{
	int r = sd_bus_open_system(bus);

	if (r >= 0)
		r = sd_bus_call_method(*bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", err, NULL, "");
	return r;
}

enum unit_job_result systemd_restart_unit(const char *unit, int timeout_sec, char *why,
					  size_t why_len)
{
	sd_bus *bus = NULL;
	sd_bus_error err = SD_BUS_ERROR_NULL;
	enum unit_job_result outcome = UNIT_JOB_FAILED;
	char *result = NULL;
	int r = open_and_subscribe(&bus, &err);

	if (r < 0) {
		snprintf(why, why_len, "no systemd on the system bus: %s",
			 err.message ? err.message : strerror(-r));
		outcome = UNIT_JOB_NO_BUS;
	} else if (run_job(bus, "RestartUnit", unit, timeout_sec, &result, why, why_len)) {
		if (strcmp(result, "done") == 0)
			outcome = UNIT_JOB_DONE;
		else
			snprintf(why, why_len, "restart of %s ended with result '%s'", unit, result);
	}
	free(result);
	sd_bus_error_free(&err);
	sd_bus_flush_close_unref(bus);
	return outcome;
}

bool systemd_open(struct systemd **sd)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int r = open_and_subscribe(&bus, &err);

	if (r < 0) {
		log_error("cannot talk to systemd over the system bus: %s",
			  err.message ? err.message : strerror(-r));
		sd_bus_error_free(&err);
		sd_bus_flush_close_unref(bus);
		return false;
	}
	*sd = xcalloc(1, sizeof(**sd));
	(*sd)->bus = bus;
	return true;
}

void systemd_close(struct systemd *sd)
{
	if (!sd)
		return;
	sd_bus_flush_close_unref(sd->bus);
	free(sd);
}

bool systemd_reload(struct systemd *sd)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int r = sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "Reload", &err, NULL, "");

	if (r < 0)
		log_error("systemd Reload failed: %s", err.message ? err.message : strerror(-r));
	sd_bus_error_free(&err);
	return r >= 0;
}

bool systemd_enable(struct systemd *sd, const char *const *units, size_t n, bool *changed)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *call = NULL, *reply = NULL;
	int carries, r;

	*changed = false;
	r = sd_bus_message_new_method_call(sd->bus, &call, SD_DEST, SD_PATH, SD_MANAGER,
					   "EnableUnitFiles");
	if (r >= 0)
		r = sd_bus_message_open_container(call, 'a', "s");
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = sd_bus_message_append(call, "s", units[i]);
	if (r >= 0)
		r = sd_bus_message_close_container(call);
	if (r >= 0)
		r = sd_bus_message_append(call, "bb", 0, 1);
	if (r >= 0)
		r = sd_bus_call(sd->bus, call, 0, &err, &reply);
	/* The list of changes is empty when everything was enabled already. */
	if (r >= 0)
		r = sd_bus_message_read(reply, "b", &carries);
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "(sss)");
	if (r >= 0) {
		const char *type, *file, *dest;

		while ((r = sd_bus_message_read(reply, "(sss)", &type, &file, &dest)) > 0)
			*changed = true;
	}
	if (r < 0)
		log_error("systemd EnableUnitFiles (%s%s) failed: %s", units[0], n > 1 ? ", ..." : "",
			  err.message ? err.message : strerror(-r));
	sd_bus_message_unref(call);
	sd_bus_message_unref(reply);
	sd_bus_error_free(&err);
	return r >= 0;
}

bool systemd_reset_failed(struct systemd *sd, const char *unit)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int r = sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", &err,
				   NULL, "s", unit);

	if (r < 0)
		log_error("systemd ResetFailedUnit %s failed: %s", unit,
			  err.message ? err.message : strerror(-r));
	sd_bus_error_free(&err);
	return r >= 0;
}

static bool unit_path(struct systemd *sd, const char *unit, char **path)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *p;
	int r = sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "LoadUnit", &err, &reply,
				   "s", unit);

	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &p);
	if (r >= 0)
		*path = xstrdup(p);
	else
		log_error("systemd LoadUnit %s failed: %s", unit, err.message ? err.message : strerror(-r));
	sd_bus_message_unref(reply);
	sd_bus_error_free(&err);
	return r >= 0;
}

static void read_string_property(struct systemd *sd, const char *path, const char *iface,
				 const char *name, char *out, size_t len)
{
	char *value = NULL;

	out[0] = '\0';
	if (sd_bus_get_property_string(sd->bus, SD_DEST, path, iface, name, NULL, &value) >= 0)
		snprintf(out, len, "%s", value);
	free(value);
}

bool systemd_unit_state(struct systemd *sd, const char *unit, struct unit_state *st)
{
	char *path;

	memset(st, 0, sizeof(*st));
	if (!unit_path(sd, unit, &path))
		return false; /* errors already logged */
	read_string_property(sd, path, "org.freedesktop.systemd1.Unit", "ActiveState", st->active,
			     sizeof(st->active));
	read_string_property(sd, path, "org.freedesktop.systemd1.Unit", "SubState", st->sub,
			     sizeof(st->sub));
	read_string_property(sd, path, "org.freedesktop.systemd1.Service", "Result", st->result,
			     sizeof(st->result));
	(void)sd_bus_get_property_trivial(sd->bus, SD_DEST, path, "org.freedesktop.systemd1.Unit",
					  "ActiveEnterTimestamp", NULL, 't', &st->active_enter_usec);
	(void)sd_bus_get_property_trivial(sd->bus, SD_DEST, path, "org.freedesktop.systemd1.Service",
					  "ExecMainStatus", NULL, 'i', &st->exit_status);
	(void)sd_bus_get_property_trivial(sd->bus, SD_DEST, path, "org.freedesktop.systemd1.Service",
					  "MainPID", NULL, 'u', &st->main_pid);
	free(path);
	return true;
}

/* The last n messages of unit into sb; how many were added. */
static int journal_tail_once(const char *unit, int n, struct strbuf *sb)
{
	sd_journal *j = NULL;
	char *match = xasprintf("_SYSTEMD_UNIT=%s", unit);
	int count = 0, added = 0;

	if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) < 0 || sd_journal_add_match(j, match, 0) < 0 ||
	    sd_journal_seek_tail(j) < 0) {
		free(match);
		sd_journal_close(j);
		return 0;
	}
	while (count < n && sd_journal_previous(j) > 0)
		count++;
	while (count-- > 0 && sd_journal_next(j) > 0) {
		const void *data;
		size_t len;

		if (sd_journal_get_data(j, "MESSAGE", &data, &len) >= 0 && len > 8) {
			strbuf_addf(sb, "    %.*s\n", (int)(len - 8), (const char *)data + 8);
			added++;
		}
	}
	free(match);
	sd_journal_close(j);
	return added;
}

void systemd_journal_tail(const char *unit, int n, struct strbuf *sb)
{
	/* Read right after a unit failed, the journal may not hold its last
	 * lines yet (journald stores them a moment later): an empty answer is
	 * asked again for up to JOURNAL_WAIT_MS, so the error shows why. */
	for (int waited = 0; journal_tail_once(unit, n, sb) == 0 && waited < JOURNAL_WAIT_MS;
	     waited += 100)
		usleep(100 * 1000);
}

bool systemd_job(struct systemd *sd, const char *method, const char *unit, int timeout_sec)
{
	char why[512], *result = NULL;
	bool ok = run_job(sd->bus, method, unit, timeout_sec, &result, why, sizeof(why));

	if (ok && strcmp(result, "done") != 0) {
		struct unit_state st;
		struct strbuf journal;

		strbuf_init(&journal);
		if (!systemd_unit_state(sd, unit, &st))
			st.result[0] = '\0';
		systemd_journal_tail(unit, SYSTEMD_JOURNAL_LINES, &journal);
		log_error("%s %s: job %s (unit result: %s); its last journal lines:\n%s", method, unit,
			  result, st.result[0] ? st.result : "unknown",
			  journal.len ? journal.data : "    (none)");
		strbuf_fini(&journal);
		ok = false;
	} else if (!ok) {
		log_error("%s", why);
	}
	free(result);
	return ok;
}
