/*
 * agent/run/run.c: the main loop of `cdc-agent run`.
 *
 * One thread does everything that talks to servers and systemd, in order:
 * reconcile (the same convergence as bootstrap, under the supervisor's
 * rule for stopped units), then collect status and hand it to the HTTP
 * thread.  Signals arrive through a signalfd polled between passes, so a
 * SIGHUP or SIGTERM never interrupts a pass half-way; long waits inside a
 * pass feed the watchdog (notify_heartbeat).
 *
 * One topology in force: every pass first compares, under the converge
 * lock that bootstrap takes too, the topology file's digest with the one
 * loaded, and reloads it when it changed (an invalid file leaves the one in
 * force, said once in the journal and in STATUS=).  An inotify watch on
 * the file's directory (editors replace the file by a rename) starts such a
 * pass soon after an edit.  So a pass never converges an older topology
 * than the last bootstrap's, and never undoes it.
 */
#include "run/run.h"

#include "base/changes.h"
#include "base/log.h"
#include "base/util.h"
#include "config/topology.h"
#include "provision/converge_lock.h"
#include "provision/provision.h"
#include "status/status.h"
#include "status/status_http.h"
#include "systemd/notify.h"
#include "systemd/supervise.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* Status is refreshed this often between reconciles (events/s, lag). */
#define STATUS_PERIOD_SEC 10
/* A first reconcile that failed is retried this often, not a full period. */
#define RETRY_PERIOD_SEC 10
/* A pass slower than this says where its time went. */
#define SLOW_PASS_SEC 1.0
/* After an inotify event, the file is read this much later: an editor's
 * write-then-rename, or a `cp`, has settled by then. */
#define EDIT_SETTLE_SEC 0.3

struct agent {
	const char *path;
	struct topology *topo;
	struct supervisor *sup;
	struct status_http *http;
	json_t *status;          /* the last collected document (a reference) */
	int sigfd;
	int inotify_fd;          /* watch on the topology's directory; -1: none */
	char *watch_name;        /* the topology's file name in that directory */
	double edit_due;         /* monotonic: read the file then; 0: no edit seen */
	char rejected[TOPOLOGY_DIGEST_HEX + 1]; /* digest of the invalid file not loaded; "" */
	bool converged;          /* READY=1 was sent */
	bool last_ok;
	uint64_t reconciles, failures, changes;
	double last_wall_sec, last_cpu_sec;
	int64_t started_usec, last_reconcile_usec;
	double next_reconcile, next_status;  /* monotonic seconds */
};

static double cpu_sec(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* VmRSS of this process in bytes (0 if unreadable). */
static long long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long long kib = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib * 1024;
}

/* ---- reconcile and status ----------------------------------------------------- */

static bool http_open(struct agent *a);

/* Puts fresh in force in place of the topology loaded before. */
static void topology_swap(struct agent *a, struct topology *fresh)
{
	bool listen_changed = !a->topo->agent.status_listen || !fresh->agent.status_listen ||
			      strcmp(a->topo->agent.status_listen, fresh->agent.status_listen) != 0;

	topology_free(a->topo);
	a->topo = fresh;
	a->rejected[0] = '\0';
	if (listen_changed) {
		status_http_stop(a->http);
		a->http = NULL;
		if (!http_open(a))
			log_error("reload: status endpoints are off until the address is fixed");
	}
}

/*
 * Under the converge lock: reloads the topology file when its digest is not
 * the one in force (or always, when forced: SIGHUP).  An invalid file keeps
 * the topology in force; it is said once per version of the file.  false:
 * a forced reload failed (a pass that was not forced goes on).
 */
static bool topology_refresh(struct agent *a, bool force)
{
	char now[TOPOLOGY_DIGEST_HEX + 1];
	struct topology *fresh;

	if (!topology_file_digest(a->path, now) && !force) {
		if (strcmp(a->rejected, "unreadable") != 0)
			log_error("topology %s cannot be read: %s; the topology in force is kept",
				  a->path, strerror(errno));
		snprintf(a->rejected, sizeof(a->rejected), "unreadable");
		return true;
	}
	if (!force && strcmp(now, a->topo->sha512) == 0) {
		a->rejected[0] = '\0'; /* back to the file in force */
		return true;
	}
	if (!force && strcmp(now, a->rejected) == 0)
		return true; /* still the invalid version, already reported */
	log_info("%s: reloading %s", force ? "SIGHUP" : "topology file changed", a->path);
	if (!topology_load(a->path, &fresh)) {
		log_error("reload: %s is invalid (errors above); the topology in force is kept",
			  a->path);
		snprintf(a->rejected, sizeof(a->rejected), "%s", now[0] ? now : "unreadable");
		return !force; /* a pass goes on with the topology in force */
	}
	log_info("reload: topology %s loaded (%.12s...)", a->path, fresh->sha512);
	topology_swap(a, fresh);
	return true;
}

/* One pass: under the converge lock, the topology file's version checked
 * (reloaded if it changed), then converged.  force_reload: SIGHUP; if the
 * file is invalid then, nothing is converged (false). */
static bool reconcile(struct agent *a, const char *why, bool force_reload)
{
	struct change_list changes;
	struct provision_result res;
	double t0 = mono_seconds(), c0 = cpu_sec();
	int lock = -1;

	log_debug("reconcile (%s)", why);
	if (!converge_lock_acquire(a->topo->agent.state_dir, &lock)) {
		a->failures++;
		a->last_ok = false;
		a->next_reconcile = mono_seconds() + RETRY_PERIOD_SEC;
		return true; /* errors already logged */
	}
	if (!topology_refresh(a, force_reload)) {
		converge_lock_release(lock);
		return false; /* errors already logged */
	}
	change_list_init(&changes, true, true);
	provision_converge_held(a->topo, a->sup, &changes, &res);
	converge_lock_release(lock);
	a->last_wall_sec = mono_seconds() - t0;
	a->last_cpu_sec = cpu_sec() - c0;
	a->last_reconcile_usec = wall_usec();
	a->reconciles++;
	a->changes += changes.n;
	a->last_ok = !res.failed && !res.restart_needed;
	if (!a->last_ok) {
		a->failures++;
		log_error("reconcile (%s) failed after %zu change(s); next try in %d s", why,
			  changes.n, a->converged ? a->topo->agent.reconcile_seconds : RETRY_PERIOD_SEC);
	} else if (changes.n > 0) {
		log_info("reconcile (%s): %zu change(s) made", why, changes.n);
	}
	if (a->last_wall_sec >= SLOW_PASS_SEC)
		log_info("reconcile (%s) took %.2f s (PostgreSQL %.2f s, host %.2f s)", why,
			 a->last_wall_sec, res.pg_seconds, res.host_seconds);
	change_list_fini(&changes);
	a->next_reconcile = mono_seconds() + (a->last_ok || a->converged
						  ? a->topo->agent.reconcile_seconds
						  : RETRY_PERIOD_SEC);
	return true;
}

static json_t *agent_json(const struct agent *a)
{
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:i, s:b, s:I, s:s, s:b}", "pid",
			 (int)getpid(), "started_usec", (json_int_t)a->started_usec, "reconciles",
			 (json_int_t)a->reconciles, "reconcile_failures", (json_int_t)a->failures,
			 "changes", (json_int_t)a->changes, "last_reconcile_seconds",
			 a->last_wall_sec, "last_reconcile_cpu_seconds", a->last_cpu_sec,
			 "last_reconcile_usec", (json_int_t)a->last_reconcile_usec,
			 "reconcile_period_seconds", a->topo->agent.reconcile_seconds,
			 "last_reconcile_ok", a->last_ok, "rss_bytes", (json_int_t)rss_bytes(),
			 "topology_sha512", a->topo->sha512, "topology_file_invalid",
			 a->rejected[0] != '\0');
}

/* "2 pipeline(s): 1 RUNNING 1 STOPPED; 3 warning(s)" for STATUS=. */
static void summary_line(const json_t *doc, char *buf, size_t len)
{
	static const char *const states[] = { "RUNNING", "DEGRADED", "STOPPED", "FAILED" };
	size_t count[ARRAY_LEN(states)] = { 0 }, i, used;
	const json_t *p;

	json_array_foreach(json_object_get(doc, "pipelines"), i, p)
		for (size_t s = 0; s < ARRAY_LEN(states); s++)
			if (strcmp(status_str(json_object_get(p, "state"), "?"), states[s]) == 0)
				count[s]++;
	used = (size_t)snprintf(buf, len, "%zu pipeline(s):",
				json_array_size(json_object_get(doc, "pipelines")));
	for (size_t s = 0; s < ARRAY_LEN(states) && used < len; s++)
		if (count[s])
			used += (size_t)snprintf(buf + used, len - used, " %zu %s", count[s], states[s]);
	if (used < len)
		snprintf(buf + used, len - used, "; %zu warning(s)",
			 json_array_size(json_object_get(doc, "warnings")));
}

/* The journal hears of a slot once, when it starts to warn or turns up
 * orphaned, not at every collection. */
static void log_slot_news(const json_t *prev, const json_t *doc)
{
	const json_t *p;
	size_t i;

	json_array_foreach(json_object_get(doc, "pipelines"), i, p) {
		const char *name = status_str(json_object_get(p, "name"), "?");
		const json_t *now = json_object_get(p, "slot");
		const json_t *before = json_object_get(status_find(prev, "pipelines", "name", name), "slot");

		/* Fan-out: a source's slot is said once, by its capturing pipeline. */
		if (json_object_get(json_object_get(p, "capture"), "captured_by"))
			continue;
		if (json_is_true(json_object_get(now, "warn")) &&
		    !json_is_true(json_object_get(before, "warn")))
			log_warn("slot %s of pipeline %s retains %lld bytes of WAL on source %s "
				 "(wal_status %s): is capture reading it?",
				 status_str(json_object_get(now, "slot"), "?"), name,
				 (long long)json_integer_value(json_object_get(now, "retained_bytes")),
				 status_str(json_object_get(now, "source"), "?"),
				 status_str(json_object_get(now, "wal_status"), "unknown"));
	}
	json_array_foreach(json_object_get(doc, "orphan_slots"), i, p) {
		const char *slot = status_str(json_object_get(p, "slot"), "?");

		if (!status_find(prev, "orphan_slots", "slot", slot))
			log_warn("slot %s on source %s belongs to no pipeline and retains %lld bytes of "
				 "WAL; the agent never drops it (pg_drop_replication_slot by hand)",
				 slot, status_str(json_object_get(p, "source"), "?"),
				 (long long)json_integer_value(json_object_get(p, "retained_bytes")));
	}
}

static void status_refresh(struct agent *a)
{
	json_t *doc = status_collect(a->topo, a->sup, a->status);
	char line[200];

	json_object_set_new(doc, "agent", agent_json(a));
	log_slot_news(a->status, doc);
	json_decref(a->status);
	a->status = json_incref(doc);
	if (a->http)
		status_http_publish(a->http, doc);
	else
		json_decref(doc);
	summary_line(a->status, line, sizeof(line));
	if (a->last_ok && !a->converged) {
		a->converged = true;
		notify_ready("converged; %s", line);
		log_info("converged; %s", line);
	} else {
		notify_status("%s%s%s", a->rejected[0] ? "reload FAILED: the topology file is "
							 "invalid, running the previous one; "
						       : "",
			      a->last_ok ? "" : "last reconcile FAILED; ", line);
	}
	a->next_status = mono_seconds() + STATUS_PERIOD_SEC;
}

/* ---- signals and reload -------------------------------------------------------- */

static bool signals_open(struct agent *a)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 ||
	    (a->sigfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
		log_error("cannot set up signal handling: %s", strerror(errno));
		return false;
	}
	return true;
}

static bool http_open(struct agent *a)
{
	if (!a->topo->agent.status_listen)
		return true;
	if (!status_http_start(a->topo->agent.status_listen, &a->http))
		return false; /* errors already logged */
	if (a->status)
		status_http_publish(a->http, json_incref(a->status));
	return true;
}

/* SIGHUP: a topology that fails to load leaves the one in force. */
static void reload(struct agent *a)
{
	notify_reloading();
	supervisor_forgive(a->sup);
	if (!reconcile(a, "reload", true)) {
		notify_ready("reload FAILED: %s is invalid; running the previous topology", a->path);
		return;
	}
	status_refresh(a);
	notify_ready("reloaded; last reconcile %s", a->last_ok ? "ok" : "FAILED");
}

/* A watch on the topology's directory: editors write a new file and rename
 * it over the old one, which a watch on the file itself would miss.  Without
 * it (no inotify), each pass still checks the file. */
static void watch_open(struct agent *a)
{
	char *copy = xstrdup(a->path);
	const char *slash = strrchr(copy, '/');
	const char *dir = slash ? (slash == copy ? "/" : copy) : ".";

	a->watch_name = xstrdup(slash ? slash + 1 : copy);
	if (slash && slash != copy)
		copy[slash - copy] = '\0';
	a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->inotify_fd < 0 ||
	    inotify_add_watch(a->inotify_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
						      IN_DELETE | IN_MOVED_FROM | IN_ATTRIB) < 0) {
		log_warn("cannot watch %s for edits (%s): a changed topology is seen at the next "
			 "pass", dir, strerror(errno));
		if (a->inotify_fd >= 0)
			close(a->inotify_fd);
		a->inotify_fd = -1;
	}
	free(copy);
}

/* Drains the watch; an event naming the topology's file schedules a look. */
static void watch_read(struct agent *a)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(a->inotify_fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len && strcmp(ev->name, a->watch_name) == 0 && !a->edit_due)
				a->edit_due = mono_seconds() + EDIT_SETTLE_SEC;
			p += sizeof(*ev) + ev->len;
		}
}

/* An edit settled: a pass now if the file is another version than the one
 * in force (and than the invalid one already reported). */
static void edit_check(struct agent *a)
{
	char now[TOPOLOGY_DIGEST_HEX + 1];

	a->edit_due = 0;
	if (topology_file_digest(a->path, now) && strcmp(now, a->topo->sha512) != 0 &&
	    strcmp(now, a->rejected) != 0) {
		reconcile(a, "topology changed", false);
		status_refresh(a);
	}
}

/* Waits for a signal or the next due time; false on SIGTERM/SIGINT. */
static bool wait_next(struct agent *a, bool *hup)
{
	double due = a->next_reconcile < a->next_status ? a->next_reconcile : a->next_status;
	double wd = (double)notify_watchdog_usec() / 2e6;
	struct pollfd pfd[2] = { { .fd = a->sigfd, .events = POLLIN },
				 { .fd = a->inotify_fd, .events = POLLIN } };
	struct signalfd_siginfo si;
	double wait;

	if (a->edit_due && a->edit_due < due)
		due = a->edit_due;
	wait = due - mono_seconds();
	if (wd > 0 && wait > wd)
		wait = wd;
	*hup = false;
	notify_heartbeat();
	if (poll(pfd, 2, wait > 0 ? (int)(wait * 1000) + 1 : 0) <= 0)
		return true;
	if (pfd[1].revents & POLLIN)
		watch_read(a);
	if (!(pfd[0].revents & POLLIN))
		return true;
	if (read(a->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return true;
	if (si.ssi_signo == SIGHUP) {
		*hup = true;
		return true;
	}
	log_info("signal %d: stopping (the units keep running)", (int)si.ssi_signo);
	return false;
}

static void agent_fini(struct agent *a)
{
	status_http_stop(a->http);
	json_decref(a->status);
	supervisor_free(a->sup);
	topology_free(a->topo);
	if (a->sigfd >= 0)
		close(a->sigfd);
	if (a->inotify_fd >= 0)
		close(a->inotify_fd);
	free(a->watch_name);
}

enum run_end run_agent(const char *topology_path)
{
	struct agent a = { .path = topology_path, .sigfd = -1, .inotify_fd = -1 };
	bool hup;

	if (!topology_load(topology_path, &a.topo))
		return RUN_END_BAD_TOPOLOGY; /* errors already printed */
	a.sup = supervisor_new();
	a.started_usec = wall_usec();
	notify_watchdog_usec();
	if (!signals_open(&a) || !http_open(&a)) {
		agent_fini(&a);
		return RUN_END_FAILED; /* errors already logged */
	}
	watch_open(&a);
	log_info("running %s: reconcile every %d s", topology_path, a.topo->agent.reconcile_seconds);
	reconcile(&a, "start", false);
	status_refresh(&a);
	while (wait_next(&a, &hup)) {
		if (hup) {
			reload(&a);
			continue;
		}
		if (a.edit_due && mono_seconds() >= a.edit_due) {
			edit_check(&a);
		} else if (mono_seconds() >= a.next_reconcile) {
			reconcile(&a, "period", false);
			status_refresh(&a);
		} else if (mono_seconds() >= a.next_status) {
			status_refresh(&a);
		}
	}
	notify_stopping();
	agent_fini(&a);
	return RUN_END_STOPPED;
}
