/*
 * agent/provision/host.c: the host part of bootstrap, in the seed runbook's order:
 * Java and Kafka, service users and directories, configuration and unit
 * files, then systemd: reload, enable, start (or restart what changed), each
 * component checked healthy before the next one starts.
 *
 * A unit is restarted only when its unit file or its configuration changed
 * in this run; a second bootstrap finds nothing to write and restarts
 * nothing.  A capture or apply process restarts when the configuration it
 * reports (its progress file's config_digest, pipeline_digest.h) is not the
 * topology's: it read the topology at start, and only its own pipeline's
 * values count, so an edit restarts the pipelines it touched and no other.
 */
#include "provision/host.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"
#include "config/kafka_limits.h"
#include "pg/pgsql.h"
#include "pipeline/health.h"
#include "pipeline/pipeline_digest.h"
#include "provision/kafka_access.h"
#include "provision/kafka_install.h"
#include "provision/kafka_tls.h"
#include "provision/render.h"
#include "systemd/notify.h"
#include "systemd/supervise.h"
#include "systemd/systemd_bus.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define JOB_TIMEOUT_SEC 180
#define HEALTH_TIMEOUT_SEC 120
#define KAFKA_USER "kafka"
#define AGENT_USER "cdc-agent"
#define CONTROLLER_PORT_OFFSET 1
/* The secured broker's own listener (INTERNAL, loopback, mutual TLS). */
#define INTERNAL_PORT_OFFSET 2

extern char **environ;

struct host_run {
	const struct topology *topo;
	struct change_list *changes;
	bool apply;
	bool manage_kafka;      /* [kafka] dist given: ZooKeeper and Kafka are ours */
	bool secure_kafka;      /* ... and secured (sasl_ssl): kafka_tls, kafka_access */
	char *tls_dir;          /* its TLS files: <config_dir>/kafka-tls */
	struct kafka_cfg admin; /* the agent as the broker's super user (INTERNAL) */
	char *admin_server;     /* admin's one bootstrap server, 127.0.0.1:<internal> */
	char *admin_cert;       /* tls_dir/internal.pem: key and certificate */
	char *admin_ca;         /* tls_dir/ca.pem */
	char *admin_work_dir;   /* tls_dir/admin, root's alone: ConfigCommand's files */
	struct render_vars vars;
	bool units_changed;     /* some unit file was (or would be) written */
	bool zk_changed, kafka_changed, pipelines_changed;
	struct supervisor *sup; /* run: the restart policy; NULL: bootstrap */
};

/* ---- users, directories, secrets ------------------------------------------ */

static bool run_command(const char *const argv[])
{
	pid_t pid;
	int status = 0;

	if (posix_spawn(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0) {
		log_error("cannot run %s: %s", argv[0], strerror(errno));
		return false;
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("%s failed (wait status %d)", argv[0], status);
		return false;
	}
	return true;
}

static bool user_ensure(struct host_run *h, const char *name, const char *why)
{
	const char *argv[] = { "/usr/sbin/useradd", "--system", "--user-group", "--no-create-home",
			       "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name,
			       NULL };

	if (getpwnam(name))
		return true;
	change_record(h->changes, "host", "create system user %s (%s)", name, why);
	return !h->apply || run_command(argv);
}

/* A directory with that owner and mode; created (with its parents) if missing.
 * Its owner may be a service user who owns the directory above it too: a
 * link there is refused, never chowned through (chown is done on the
 * descriptor of the directory opened without following a link). */
static bool dir_ensure(struct host_run *h, const char *path, const char *user, mode_t mode)
{
	struct passwd *pw = user ? getpwnam(user) : NULL;
	uid_t uid = pw ? pw->pw_uid : 0;
	gid_t gid = pw ? pw->pw_gid : 0;
	struct stat st;
	int fd;

	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid && st.st_gid == gid &&
	    (st.st_mode & 07777) == mode)
		return true;
	change_record(h->changes, "host", "directory %s owned by %s, mode %04o", path,
		      user ? user : "root", (unsigned)mode);
	if (!h->apply)
		return true;
	{
		char *copy = xstrdup(path);

		for (char *p = copy + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
				log_error("cannot create %s: %s", copy, strerror(errno));
				free(copy);
				return false;
			}
			*p = '/';
		}
		free(copy);
	}
	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		log_error("cannot prepare directory %s: %s", path, strerror(errno));
		return false;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot prepare directory %s: %s%s", path, strerror(errno),
			  lstat(path, &st) == 0 && S_ISLNK(st.st_mode)
				  ? " (a symbolic link: refused, the agent chowns no link's target;"
				    " name the real directory)"
				  : "");
		return false;
	}
	if (fchown(fd, uid, gid) != 0 || fchmod(fd, mode) != 0) {
		log_error("cannot prepare directory %s: %s", path, strerror(errno));
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* The pipeline processes run as cdc-agent: their password files and TLS
 * keys (what: "password file", "key file") must be readable by it and by
 * nobody else (mode 0600, owner cdc-agent).  path NULL: nothing to do. */
static bool secret_owner_ensure(struct host_run *h, const char *path, const char *what)
{
	struct passwd *pw = getpwnam(AGENT_USER);
	struct stat st;
	int fd;
	bool ok;

	if (!path)
		return true;
	if (lstat(path, &st) != 0) {
		log_error("cannot stat %s %s: %s", what, path, strerror(errno));
		return false;
	}
	if (pw && S_ISREG(st.st_mode) && st.st_uid == pw->pw_uid && (st.st_mode & 07777) == 0600)
		return true;
	change_record(h->changes, "host", "give %s %s to user %s (mode 0600)", what, path,
		      AGENT_USER);
	if (!h->apply)
		return true;
	/* On the descriptor of the file itself: a link is not given away. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_error("cannot give %s %s to %s: %s", what, path, AGENT_USER,
			  fd < 0 && errno == ELOOP ? "it is a symbolic link (refused: name the file itself)"
			  : fd < 0                 ? strerror(errno)
						   : "not a regular file");
		if (fd >= 0)
			close(fd);
		return false;
	}
	ok = pw && fchown(fd, pw->pw_uid, pw->pw_gid) == 0 && fchmod(fd, 0600) == 0;
	if (!ok)
		log_error("cannot give %s to %s: %s", path, AGENT_USER, pw ? strerror(errno) : "no such user");
	close(fd);
	return ok;
}

/* ---- rendering -------------------------------------------------------------- */

/* Splits the first "host:port" of a list (the topology checked its form). */
static void first_hostport(const struct strlist *list, char **host, int *port)
{
	const char *hp = list->items[0];
	const char *colon = strrchr(hp, ':');

	*host = xstrndup(hp, (size_t)(colon - hp));
	*port = atoi(colon + 1);
}

/* Whether id is a KRaft cluster id as cluster_id makes them: 22 base64url
 * characters (anything else would be written into server.properties). */
static bool cluster_id_valid(const char *id)
{
	return strlen(id) == 22 &&
	       strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 22;
}

/* Reads a kept cluster id from name in dirfd (dir for messages); *id NULL
 * when there is none. */
static bool cluster_id_read(int dirfd, const char *dir, const char *name, char **id)
{
	bool exists;

	*id = NULL;
	if (!file_read_at(dirfd, dir, name, id, NULL, &exists))
		return false; /* errors already logged */
	if (!exists)
		return true;
	(*id)[strcspn(*id, "\n")] = '\0';
	if (!cluster_id_valid(*id)) {
		log_error("%s/%s does not hold a KRaft cluster id (22 base64url characters)", dir,
			  name);
		free(*id);
		*id = NULL;
		return false;
	}
	return true;
}

/*
 * A KRaft cluster id, made once and kept in root's own state directory
 * (<state_dir>/root/kraft-cluster-id): Kafka's storage is formatted with
 * it, and it goes into server.properties.  One kept by an older agent in
 * state_dir itself is taken over (read without following a link, checked).
 */
static bool cluster_id(struct host_run *h, char **id)
{
	const char *state_dir = h->topo->agent.state_dir;
	char *dir = NULL;
	unsigned char raw[16];
	char b64[32];
	bool changed, ok;
	int dirfd = -1, legacy_fd;

	*id = NULL;
	ok = state_private_open(state_dir, h->apply, &dirfd, &dir) &&
	     (dirfd < 0 || cluster_id_read(dirfd, dir, "kraft-cluster-id", id));
	if (ok && !*id) {
		legacy_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (legacy_fd >= 0) {
			ok = cluster_id_read(legacy_fd, state_dir, "kraft-cluster-id", id);
			close(legacy_fd);
		}
	}
	if (ok && !*id) {
		/* As Kafka's Uuid.randomUuid(): a version 4 UUID (Java's
		 * UUID.randomUUID, so never Kafka's reserved zero and one ids)
		 * in base64url without padding, and never one beginning with
		 * '-' ('+' before the mapping below): kafka-storage's argument
		 * parser takes "--cluster-id -x..." for an option (1 in 64). */
		do {
			ok = getrandom(raw, sizeof(raw), 0) == (ssize_t)sizeof(raw);
			raw[6] = (unsigned char)((raw[6] & 0x0f) | 0x40); /* version 4 */
			raw[8] = (unsigned char)((raw[8] & 0x3f) | 0x80); /* IETF variant */
			EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
		} while (ok && b64[0] == '+');
		if (!ok)
			log_error("cannot read random bytes for a KRaft cluster id: %s",
				  strerror(errno));
		b64[22] = '\0';
		for (char *p = b64; *p; p++)
			*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
		*id = xstrdup(b64);
	}
	if (ok && h->apply)
		ok = file_write_if_changed_at(dirfd, dir, "kraft-cluster-id", *id, strlen(*id), 0600,
					      &changed);
	if (dirfd >= 0)
		close(dirfd);
	free(dir);
	return ok; /* on failure, errors already logged; *id freed by the caller */
}

/* Adds "-PATH" to list unless there already. */
static void writable_add(struct strlist *list, const char *path)
{
	char *item = xasprintf("-%s", path);

	if (!strlist_contains(list, item))
		strlist_add(list, item);
	free(item);
}

/*
 * What cdc-agent.service may write under ProtectSystem=strict: exactly the
 * paths the agent writes, from the topology.  /etc for useradd (passwd,
 * shadow, group and their lock and backup files) and Debian's pg_hba.conf
 * under /etc/postgresql; units, configuration, state, password files and
 * TLS keys (chowned to cdc-agent; the Kafka clients' too: the pipelines'
 * Kafka password files, [kafka] ssl_key_file); with [kafka] dist, the
 * download cache, the parent
 * of install_dir (each version unpacked beside the link) and the data
 * directories.  '-': a path missing when the service starts is skipped, and
 * the agent then reports the write it cannot make.  A pg_hba.conf outside
 * /etc (in a data directory) needs a drop-in with its directory.
 */
static char *agent_writable_paths(const struct host_run *h) /* caller frees */
{
	const struct topology *t = h->topo;
	struct strlist list = { 0 };
	char *joined;

	writable_add(&list, "/etc");
	writable_add(&list, t->agent.unit_dir);
	writable_add(&list, t->agent.config_dir);
	writable_add(&list, t->agent.state_dir);
	for (size_t i = 0; i < t->n_sources; i++) {
		writable_add(&list, t->sources[i].pg.password_file);
		if (t->sources[i].pg.sslkey)
			writable_add(&list, t->sources[i].pg.sslkey);
	}
	for (size_t i = 0; i < t->n_targets; i++) {
		writable_add(&list, t->targets[i].pg.password_file);
		if (t->targets[i].pg.sslkey)
			writable_add(&list, t->targets[i].pg.sslkey);
	}
	if (t->kafka.ssl_key_file)
		writable_add(&list, t->kafka.ssl_key_file);
	for (size_t i = 0; i < t->n_pipelines; i++) {
		if (t->pipelines[i].capture_kafka.password_file)
			writable_add(&list, t->pipelines[i].capture_kafka.password_file);
		if (t->pipelines[i].apply_kafka.password_file)
			writable_add(&list, t->pipelines[i].apply_kafka.password_file);
	}
	if (h->manage_kafka) {
		const char *slash = strrchr(t->kafka.install_dir, '/');
		char *parent = xstrndup(t->kafka.install_dir, (size_t)(slash - t->kafka.install_dir));

		writable_add(&list, t->agent.cache_dir);
		writable_add(&list, parent);
		writable_add(&list, t->kafka.data_dir);
		if (t->kafka.mode == KAFKA_MODE_ZOOKEEPER)
			writable_add(&list, t->zookeeper.data_dir);
		free(parent);
	}
	joined = strlist_join(&list, " ");
	strlist_fini(&list);
	return joined;
}

static bool vars_build(struct host_run *h)
{
	const struct topology *t = h->topo;
	const struct kafka_node_cfg *node = topology_self_node(t);
	char *host, *java = NULL, *id = NULL, *zk, exe[PATH_MAX], config[PATH_MAX], buf[64];
	int port;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0 || !realpath(t->path, config)) {
		log_error("cannot resolve the agent's or the topology's path: %s", strerror(errno));
		return false;
	}
	exe[n] = '\0';
	render_vars_add(&h->vars, "agent_bin", exe);
	render_vars_add(&h->vars, "config", config);
	render_vars_add(&h->vars, "state_dir", t->agent.state_dir);
	render_vars_add(&h->vars, "config_dir", t->agent.config_dir);
	{
		char *writable = agent_writable_paths(h);

		render_vars_add(&h->vars, "agent_writable_paths", writable);
		free(writable);
	}
	if (!h->manage_kafka)
		return true;
	if (node) {
		/* A cluster's nodes derive one id alike (topology_cluster_id):
		 * no host needs another's state to format its storage. */
		id = xmalloc(23);
		topology_cluster_id(t, id);
	}
	if (!java_runtime_find(&java) || (!node && !cluster_id(h, &id))) {
		free(java);
		free(id);
		return false; /* errors already logged */
	}
	if (node) {
		host = xstrdup(node->address);
		port = node->port;
	} else {
		first_hostport(&t->kafka.bootstrap_servers, &host, &port);
	}
	zk = strlist_join(&t->zookeeper.connect, ",");
	render_vars_add(&h->vars, "java", java);
	render_vars_add(&h->vars, "install_dir", t->kafka.install_dir);
	render_vars_add(&h->vars, "kafka_heap", t->kafka.heap);
	render_vars_add(&h->vars, "kafka_data_dir", t->kafka.data_dir);
	render_vars_add(&h->vars, "zookeeper_data_dir", t->zookeeper.data_dir);
	render_vars_add(&h->vars, "zookeeper_connect", zk);
	{
		/* This host's ZooKeeper serves the first address of [zookeeper] connect. */
		char *zk_host;
		int zk_port;

		first_hostport(&t->zookeeper.connect, &zk_host, &zk_port);
		render_vars_add(&h->vars, "zookeeper_address", zk_host);
		snprintf(buf, sizeof(buf), "%d", zk_port);
		render_vars_add(&h->vars, "zookeeper_port", buf);
		free(zk_host);
	}
	render_vars_add(&h->vars, "bind_address", host);
	snprintf(buf, sizeof(buf), "%d", port);
	render_vars_add(&h->vars, "port", buf);
	snprintf(buf, sizeof(buf), "%d", port + CONTROLLER_PORT_OFFSET);
	render_vars_add(&h->vars, "controller_port", buf);
	snprintf(buf, sizeof(buf), "%d", node ? node->id : 1);
	render_vars_add(&h->vars, "node_id", buf);
	{
		char *voters = topology_quorum_voters(t, port + CONTROLLER_PORT_OFFSET);
		char *controller = xasprintf("%s:%d", node ? host : "127.0.0.1",
					     port + CONTROLLER_PORT_OFFSET);

		render_vars_add(&h->vars, "controller_voters", voters);
		render_vars_add(&h->vars, "controller_listener", controller);
		free(voters);
		free(controller);
	}
	render_vars_add(&h->vars, "if_rack", node && node->rack ? "" : "#no rack: ");
	render_vars_add(&h->vars, "rack", node && node->rack ? node->rack : "none");
	snprintf(buf, sizeof(buf), "%d", node ? t->kafka.replication_factor : 1);
	render_vars_add(&h->vars, "internal_replication_factor", buf);
	snprintf(buf, sizeof(buf), "%d", node ? t->kafka.min_insync_replicas : 1);
	render_vars_add(&h->vars, "internal_min_isr", buf);
	snprintf(buf, sizeof(buf), "%d", t->kafka.min_insync_replicas);
	render_vars_add(&h->vars, "min_insync_replicas", buf);
	snprintf(buf, sizeof(buf), "%" PRId64, kafka_batch_limit(&t->kafka));
	render_vars_add(&h->vars, "message_max_bytes", buf);
	snprintf(buf, sizeof(buf), "%" PRId64, kafka_request_limit(&t->kafka));
	render_vars_add(&h->vars, "socket_request_max_bytes", buf);
	render_vars_add(&h->vars, "cluster_id", id);
	{
		char *listeners = xasprintf("PLAINTEXT://%s:%d", host, port);
		char *listener = xasprintf("%s:%d", host, port);

		render_vars_add(&h->vars, "listeners", listeners);
		render_vars_add(&h->vars, "listener", listener);
		free(listeners);
		free(listener);
	}
	snprintf(buf, sizeof(buf), "%d", port + INTERNAL_PORT_OFFSET);
	render_vars_add(&h->vars, "internal_port", buf);
	render_vars_add(&h->vars, "tls_dir", h->tls_dir);
	render_vars_add(&h->vars, "if_secure", h->secure_kafka ? "" : "#secured broker only: ");
	render_vars_add(&h->vars, "if_plaintext", h->secure_kafka ? "#plaintext broker only: " : "");
	render_vars_add(&h->vars, "if_kraft", t->kafka.mode == KAFKA_MODE_KRAFT ? "" : "#kraft mode only: ");
	render_vars_add(&h->vars, "if_zookeeper",
			t->kafka.mode == KAFKA_MODE_ZOOKEEPER ? "" : "#zookeeper mode only: ");
	free(zk);
	free(host);
	free(java);
	free(id);
	return true;
}

/* Renders dir/name into dest; *changed is or-ed in. */
static bool render_one(struct host_run *h, const char *dir, const char *name, const char *dest,
		       const char *data_dir_var, bool *changed)
{
	const char *base = render_templates_dir();
	char *tmpl;
	bool one = false, ok;

	if (!base)
		return false; /* errors already logged */
	tmpl = xasprintf("%s/%s/%s", base, dir, name);

	/* Each properties file names its own data directory as data_dir. */
	if (data_dir_var)
		render_vars_add(&h->vars, "data_dir", render_vars_get(&h->vars, data_dir_var));
	ok = render_to_file(tmpl, &h->vars, dest, 0644, h->apply, h->changes, "host", &one);
	free(tmpl);
	*changed = *changed || one;
	return ok;
}

static bool configs_render(struct host_run *h)
{
	const struct topology *t = h->topo;
	const char *cfg = t->agent.config_dir;
	char *zk = xasprintf("%s/zookeeper.properties", cfg);
	char *server = xasprintf("%s/server.properties", cfg);
	char *log4j = xasprintf("%s/log4j.properties", cfg);
	bool log_changed = false, ok;

	ok = render_one(h, "templates", "log4j.properties", log4j, NULL, &log_changed) &&
	     (t->kafka.mode != KAFKA_MODE_ZOOKEEPER ||
	      render_one(h, "templates", "zookeeper.properties", zk, "zookeeper_data_dir",
			 &h->zk_changed)) &&
	     render_one(h, "templates",
			t->kafka.mode == KAFKA_MODE_KRAFT ? "server.properties.kraft"
							  : "server.properties.zookeeper",
			server, "kafka_data_dir", &h->kafka_changed);
	h->zk_changed = h->zk_changed || log_changed;
	h->kafka_changed = h->kafka_changed || log_changed;
	free(zk);
	free(server);
	free(log4j);
	return ok;
}

static bool unit_render(struct host_run *h, const char *name, bool *changed)
{
	char *dest = xasprintf("%s/%s", h->topo->agent.unit_dir, name);
	bool one = false, ok = render_one(h, "units", name, dest, NULL, &one);

	free(dest);
	h->units_changed = h->units_changed || one;
	*changed = *changed || one;
	return ok;
}

static bool units_render(struct host_run *h)
{
	bool ok = true;

	if (h->manage_kafka) {
		ok = (h->topo->kafka.mode != KAFKA_MODE_ZOOKEEPER ||
		      unit_render(h, "zookeeper.service", &h->zk_changed)) &&
		     unit_render(h, "kafka.service", &h->kafka_changed);
	}
	return ok && unit_render(h, "cdc-capture@.service", &h->pipelines_changed) &&
	       unit_render(h, "cdc-apply@.service", &h->pipelines_changed) &&
	       unit_render(h, "cdc-agent.service", &h->pipelines_changed);
}

/* ---- systemd ------------------------------------------------------------------ */

/* Under run's supervisor: may a unit that is not active be started now?
 * Logs the units it leaves alone. */
static bool supervised_start_allowed(struct host_run *h, struct systemd *sd, const char *unit,
				     const struct unit_state *st, bool *ok)
{
	switch (supervisor_decide(h->sup, unit, st, time(NULL))) {
	case UNIT_START:
		if (strcmp(st->active, "failed") == 0 && h->apply)
			*ok = systemd_reset_failed(sd, unit);
		return *ok;
	case UNIT_OPERATOR_STOPPED:
		log_debug("%s was stopped on purpose: left stopped", unit);
		return false;
	case UNIT_BACKING_OFF:
	case UNIT_GAVE_UP:
	case UNIT_RUNNING:
		return false;
	}
	return false;
}

/* Why the active process of a pipeline's unit must restart: its files
 * changed, or it runs another configuration than the topology's; NULL:
 * it need not. */
static const char *restart_reason(const struct host_run *h, const struct unit_state *st,
				  bool changed, const struct pipeline_cfg *pipe, const char *kind)
{
	if (changed)
		return "its unit or configuration files changed";
	if (pipe && pipeline_process_config(h->topo, pipe, kind, (int)st->main_pid, NULL) ==
			    PROCESS_CONFIG_STALE)
		return "its configuration changed";
	return NULL;
}

/* Starts a unit that is not active, restarts one whose files changed or
 * (pipe given) whose process runs an older configuration of pipe; *acted
 * says a job ran (so its health is worth waiting for). */
static bool unit_converge(struct host_run *h, struct systemd *sd, const char *unit, bool changed,
			  const struct pipeline_cfg *pipe, const char *kind, bool *acted)
{
	struct unit_state st = { 0 };
	const char *why = NULL;
	bool active, ok = true;

	*acted = false;
	if (sd && !systemd_unit_state(sd, unit, &st))
		return false; /* errors already logged */
	active = sd && strcmp(st.active, "active") == 0;
	if (active && !(why = restart_reason(h, &st, changed, pipe, kind)))
		return true;
	if (!active && h->sup && sd && !supervised_start_allowed(h, sd, unit, &st, &ok))
		return ok;
	if (active)
		change_record(h->changes, "host", "restart %s: %s", unit, why);
	else
		change_record(h->changes, "host", "start %s%s", unit,
			      sd && strcmp(st.active, "failed") == 0 ? " (it had failed)" : "");
	if (!h->apply)
		return true;
	*acted = true;
	ok = systemd_job(sd, active ? "RestartUnit" : "StartUnit", unit, JOB_TIMEOUT_SEC);
	if (h->sup && !active)
		supervisor_started(h->sup, unit, ok, time(NULL));
	return ok;
}

static bool check_zk(const void *arg, struct strbuf *why)
{
	return health_zookeeper(&((const struct topology *)arg)->zookeeper.connect, why);
}

static bool check_kafka(const void *arg, struct strbuf *why)
{
	const struct host_run *h = arg;

	/* Secured, the pipelines' users may not exist yet: the agent asks as
	 * the broker's super user, on INTERNAL. */
	if (h->secure_kafka)
		return health_kafka(&h->admin, NULL, 1, why);
	if (topology_self_node(h->topo)) {
		/* A node of a cluster: this node itself answers (the others
		 * would answer for it), once its controllers have a quorum and
		 * enough brokers registered for capture to create its topics
		 * (replication_factor of them). */
		const struct kafka_node_cfg *node = topology_self_node(h->topo);
		struct kafka_cfg own = h->topo->kafka;
		char *server = xasprintf("%s:%d", node->address, node->port);
		bool ok;

		own.bootstrap_servers.items = &server;
		own.bootstrap_servers.n = 1;
		ok = health_kafka(&own, topology_probe_credentials(h->topo, NULL),
				  h->topo->kafka.replication_factor, why);
		free(server);
		return ok;
	}
	return health_kafka(&h->topo->kafka, topology_probe_credentials(h->topo, NULL), 1, why);
}

static bool check_capture(const void *arg, struct strbuf *why)
{
	return health_capture(((const struct pipeline_cfg *)arg)->source, why);
}

struct apply_arg {
	const struct topology *topo;
	const struct pipeline_cfg *pipe;
};

static bool check_apply(const void *arg, struct strbuf *why)
{
	const struct apply_arg *a = arg;

	return health_apply(a->pipe, why);
}

/* In apply mode, waits until check passes, giving up early when the unit
 * fails; the error names the component and shows the unit's journal. */
static bool healthy(struct host_run *h, struct systemd *sd, const char *unit, bool acted,
		    const char *what, bool (*check)(const void *, struct strbuf *), const void *arg)
{
	struct strbuf why, journal;
	struct unit_state st = { 0 };
	bool ok = false;

	if (!h->apply || (h->sup && !acted))
		return true;
	strbuf_init(&why);
	for (time_t deadline = time(NULL) + HEALTH_TIMEOUT_SEC; !ok && time(NULL) < deadline;) {
		why.len = 0;
		why.data[0] = '\0';
		ok = check(arg, &why);
		/* A unit that failed, or exited and waits to be restarted, will
		 * not turn healthy by waiting: its journal says why. */
		if (!ok && systemd_unit_state(sd, unit, &st) &&
		    (strcmp(st.active, "failed") == 0 || strcmp(st.sub, "auto-restart") == 0))
			break;
		if (!ok) {
			notify_heartbeat();
			usleep(500 * 1000);
		}
	}
	if (ok) {
		log_info("%s is healthy", what);
	} else {
		strbuf_init(&journal);
		systemd_journal_tail(unit, SYSTEMD_JOURNAL_LINES, &journal);
		log_error("%s is not healthy: %s; %s is %s/%s (result %s); its last journal lines:\n%s",
			  what, why.data, unit, st.active, st.sub, st.result[0] ? st.result : "none",
			  journal.len ? journal.data : "    (none)");
		strbuf_fini(&journal);
	}
	strbuf_fini(&why);
	return ok;
}

static bool units_enable(struct host_run *h, struct systemd *sd)
{
	const char *names[3 + 2 * 16];
	char *owned[2 * 16];
	size_t n = 0, n_owned = 0;
	bool changed = false, ok;

	if (h->manage_kafka && h->topo->kafka.mode == KAFKA_MODE_ZOOKEEPER)
		names[n++] = "zookeeper.service";
	if (h->manage_kafka)
		names[n++] = "kafka.service";
	for (size_t i = 0; i < h->topo->n_pipelines && n_owned + 2 <= ARRAY_LEN(owned); i++) {
		/* Fan-out: a capture for the first pipeline of each source only;
		 * a cluster: the captures and applies placed on this host */
		if (topology_runs_capture(h->topo, &h->topo->pipelines[i])) {
			owned[n_owned++] =
				xasprintf("cdc-capture@%s.service", h->topo->pipelines[i].name);
			names[n++] = owned[n_owned - 1];
		}
		if (topology_runs_apply(h->topo, &h->topo->pipelines[i])) {
			owned[n_owned++] =
				xasprintf("cdc-apply@%s.service", h->topo->pipelines[i].name);
			names[n++] = owned[n_owned - 1];
		}
	}
	/* a host of a cluster may run none of them */
	ok = !h->apply || n == 0 || systemd_enable(sd, names, n, &changed);
	if (ok && changed)
		change_record(h->changes, "host", "enable %zu unit(s) at boot", n);
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	return ok;
}

/* Secured: the pipelines' SCRAM users and their ACLs, once the broker
 * runs.  Bootstrap's work: run (h->sup) leaves them as bootstrap made them,
 * since Kafka's ConfigCommand is a JVM, which cdc-agent.service's
 * MemoryDenyWriteExecute= would kill. */
static bool access_converge(struct host_run *h)
{
	const struct kafka_access_admin adm = {
		.admin = &h->admin,
		.java = render_vars_get(&h->vars, "java"),
		.kafka_home = h->topo->kafka.install_dir,
		.work_dir = h->admin_work_dir,
	};

	if (!h->secure_kafka || h->sup)
		return true;
	return kafka_access_converge(h->topo, &adm, h->apply, h->changes);
}

/* Fan-out: a pipeline that does not capture (a later one of its source)
 * has no capture unit; one still active (the pipelines were reordered in
 * the file) is stopped, so that the capturing pipeline's can read the
 * slot.  Not disabled: `cdc-agent capture` refuses such a pipeline. */
static bool capture_unit_retire(struct host_run *h, struct systemd *sd, const char *unit,
				const struct pipeline_cfg *p)
{
	struct unit_state st = { 0 };

	if (!sd)
		return true;
	if (!systemd_unit_state(sd, unit, &st))
		return false; /* errors already logged */
	if (strcmp(st.active, "active") != 0 && strcmp(st.active, "activating") != 0)
		return true;
	change_record(h->changes, "host", "stop %s: source %s is captured by pipeline %s", unit,
		      p->source_name, topology_capture_pipeline(h->topo, p)->name);
	return !h->apply || systemd_job(sd, "StopUnit", unit, JOB_TIMEOUT_SEC);
}

static bool services_converge(struct host_run *h)
{
	const struct topology *t = h->topo;
	struct systemd *sd = NULL;
	bool ok, acted = false;

	if (!systemd_open(&sd)) {
		if (h->apply)
			return false; /* errors already logged */
		sd = NULL;       /* plan without a bus: say what would start */
	}
	if (h->units_changed) {
		change_record(h->changes, "host", "reload systemd (unit files changed)");
		if (h->apply && !systemd_reload(sd)) {
			systemd_close(sd);
			return false;
		}
	}
	ok = units_enable(h, sd);
	if (ok && h->manage_kafka && t->kafka.mode == KAFKA_MODE_ZOOKEEPER)
		ok = unit_converge(h, sd, "zookeeper.service", h->zk_changed, NULL, NULL, &acted) &&
		     healthy(h, sd, "zookeeper.service", acted, "ZooKeeper", check_zk, t);
	if (ok && h->manage_kafka)
		ok = unit_converge(h, sd, "kafka.service", h->kafka_changed, NULL, NULL, &acted) &&
		     healthy(h, sd, "kafka.service", acted, "Kafka", check_kafka, h) &&
		     access_converge(h);
	for (size_t i = 0; ok && i < t->n_pipelines; i++) {
		const struct pipeline_cfg *p = &t->pipelines[i];
		char *capture = xasprintf("cdc-capture@%s.service", p->name);
		char *apply = xasprintf("cdc-apply@%s.service", p->name);
		char *what_c = xasprintf("capture of pipeline %s", p->name);
		char *what_a = xasprintf("apply of pipeline %s", p->name);
		struct apply_arg arg = { t, p };

		/* A cluster across hosts: each half where the topology puts it
		 * (capture_address, apply_address); elsewhere nothing. */
		ok = (topology_runs_capture(t, p)
			      ? unit_converge(h, sd, capture, h->pipelines_changed, p, "capture",
					      &acted) &&
					healthy(h, sd, capture, acted, what_c, check_capture, p)
		      : !topology_captures(t, p) ? capture_unit_retire(h, sd, capture, p)
						  : true) &&
		     (!topology_runs_apply(t, p) ||
		      (unit_converge(h, sd, apply, h->pipelines_changed, p, "apply", &acted) &&
		       healthy(h, sd, apply, acted, what_a, check_apply, &arg)));
		free(capture);
		free(apply);
		free(what_c);
		free(what_a);
	}
	systemd_close(sd);
	return ok;
}

/* ---- the whole ---------------------------------------------------------------- */

/* Directories capture and apply do not see: their units run with
 * ProtectHome=yes and PrivateTmp=yes (units/cdc-capture@.service). */
static const char *unit_hidden_dir(const char *path)
{
	static const char *const hidden[] = { "/home/", "/root/", "/run/user/", "/tmp/",
					      "/var/tmp/" };

	for (size_t i = 0; path && i < ARRAY_LEN(hidden); i++)
		if (strncmp(path, hidden[i], strlen(hidden[i])) == 0)
			return hidden[i];
	return NULL;
}

/* The TLS files of one server, where its pipelines' units can read them. */
static bool tls_files_visible(const struct topology *topo, const char *kind, const char *name,
			      const struct topo_origin *origin, const struct pg_server_cfg *pg)
{
	const char *const keys[] = { "sslrootcert", "sslcert", "sslkey" };
	const char *const paths[] = { pg->sslrootcert, pg->sslcert, pg->sslkey };
	bool ok = true;

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		if (!unit_hidden_dir(paths[i]))
			continue;
		log_error_at(topo->path, topology_key_line(origin, kind, keys[i]),
			     "%s %s: %s %s is under %s, which capture and apply do not see (their units run with ProtectHome=yes and PrivateTmp=yes): put it elsewhere, e.g. under /etc/cdc-agent",
			     kind, name, keys[i], paths[i], unit_hidden_dir(paths[i]));
		ok = false;
	}
	return ok;
}

/* One file the Kafka clients of capture and apply read, where they see it. */
static bool kafka_file_visible(const struct topology *topo, const char *kind, const char *name,
			       const struct topo_origin *origin, const char *key, const char *path)
{
	if (!unit_hidden_dir(path))
		return true;
	log_error_at(topo->path, topology_key_line(origin, kind, key),
		     "%s%s%s: %s %s is under %s, which capture and apply do not see (their units run with ProtectHome=yes and PrivateTmp=yes): put it elsewhere, e.g. under /etc/cdc-agent",
		     kind, name ? " " : "", name ? name : "", key, path, unit_hidden_dir(path));
	return false;
}

/* [kafka]'s ssl_* files and the pipelines' Kafka password files. */
static bool kafka_files_visible(const struct topology *topo)
{
	const struct kafka_cfg *k = &topo->kafka;
	bool ok = true;

	ok = kafka_file_visible(topo, "kafka", NULL, &k->origin, "ssl_ca_file", k->ssl_ca_file) && ok;
	ok = kafka_file_visible(topo, "kafka", NULL, &k->origin, "ssl_cert_file", k->ssl_cert_file) &&
	     ok;
	ok = kafka_file_visible(topo, "kafka", NULL, &k->origin, "ssl_key_file", k->ssl_key_file) && ok;
	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];

		ok = kafka_file_visible(topo, "pipeline", p->name, &p->origin,
					"capture_kafka_password_file",
					p->capture_kafka.password_file) && ok;
		ok = kafka_file_visible(topo, "pipeline", p->name, &p->origin,
					"apply_kafka_password_file", p->apply_kafka.password_file) &&
		     ok;
	}
	return ok;
}

static bool tls_files_visible_all(const struct topology *topo)
{
	bool ok = kafka_files_visible(topo);

	for (size_t i = 0; i < topo->n_sources; i++)
		ok = tls_files_visible(topo, "source", topo->sources[i].name,
				       &topo->sources[i].origin, &topo->sources[i].pg) && ok;
	for (size_t i = 0; i < topo->n_targets; i++)
		ok = tls_files_visible(topo, "target", topo->targets[i].name,
				       &topo->targets[i].origin, &topo->targets[i].pg) && ok;
	return ok;
}

/* h->admin: [kafka] as the agent reaches its secured broker as the super
 * user: TLS to INTERNAL on loopback, internal.pem as its certificate. */
static void admin_cfg_build(struct host_run *h)
{
	const struct kafka_cfg *k = &h->topo->kafka;
	char *host;
	int port;

	if (!h->secure_kafka)
		return;
	first_hostport(&k->bootstrap_servers, &host, &port);
	free(host);
	h->admin = *k;
	h->admin_server = xasprintf("127.0.0.1:%d", port + INTERNAL_PORT_OFFSET);
	h->admin_cert = xasprintf("%s/%s", h->tls_dir, KAFKA_TLS_INTERNAL);
	h->admin_ca = xasprintf("%s/%s", h->tls_dir, KAFKA_TLS_CA);
	h->admin_work_dir = xasprintf("%s/admin", h->tls_dir);
	h->admin.bootstrap_servers.items = &h->admin_server;
	h->admin.bootstrap_servers.n = 1;
	h->admin.security_protocol = KAFKA_SECURITY_SSL;
	h->admin.ssl_ca_file = h->admin_ca;
	h->admin.ssl_cert_file = h->admin_cert;
	h->admin.ssl_key_file = h->admin_cert;
}

static void admin_cfg_free(struct host_run *h)
{
	free(h->admin_server);
	free(h->admin_cert);
	free(h->admin_ca);
	free(h->admin_work_dir);
	free(h->tls_dir);
}

/* Secured: the CA, the broker's certificates and keystores in tls_dir,
 * issued or renewed as kafka_tls.h says.  A change restarts the broker,
 * and the pipelines, whose clients read the CA at start. */
static bool broker_tls_ensure(struct host_run *h)
{
	const struct kafka_cfg *k = &h->topo->kafka;
	struct group *gr = getgrnam(KAFKA_USER);
	const char **hosts;
	struct kafka_tls_want want;
	bool changed = false, ok;

	if (!h->secure_kafka)
		return true;
	if (!gr && h->apply) {
		log_error("no group %s, which must read the broker's keystores", KAFKA_USER);
		return false;
	}
	hosts = xcalloc(k->bootstrap_servers.n, sizeof(*hosts));
	for (size_t i = 0; i < k->bootstrap_servers.n; i++) {
		char *host;
		int port;
		struct strlist one = { &k->bootstrap_servers.items[i], 1 };

		first_hostport(&one, &host, &port);
		hosts[i] = host;
	}
	want = (struct kafka_tls_want){
		.dir = h->tls_dir,
		.hosts = hosts,
		.n_hosts = k->bootstrap_servers.n,
		.broker_cert_file = k->broker_cert_file,
		.broker_key_file = k->broker_key_file,
		.group = gr ? gr->gr_gid : 0,
		.apply = h->apply,
	};
	ok = kafka_tls_ensure(&want, h->changes, &changed) &&
	     dir_ensure(h, h->admin_work_dir, NULL, 0700);
	for (size_t i = 0; i < k->bootstrap_servers.n; i++)
		free((char *)hosts[i]);
	free(hosts);
	h->kafka_changed = h->kafka_changed || changed;
	h->pipelines_changed = h->pipelines_changed || changed;
	return ok;
}

bool host_converge(const struct topology *topo, struct supervisor *sup,
		   struct change_list *changes)
{
	struct host_run h = { .topo = topo, .changes = changes, .apply = changes->apply,
			      .sup = sup };
	bool changed = false, ok = true;

	if (!tls_files_visible_all(topo))
		return false; /* errors already logged */
	/* managed = false refuses dist (topology.c): a cluster of its own. */
	h.manage_kafka = topology_runs_kafka(topo); /* a cluster: this host's node only */
	h.secure_kafka = kafka_installed_secure(&topo->kafka);
	h.tls_dir = xasprintf("%s/%s", topo->agent.config_dir, KAFKA_TLS_DIR_NAME);
	admin_cfg_build(&h);
	render_vars_init(&h.vars);
	if (h.manage_kafka)
		ok = kafka_install(&topo->kafka, topo->agent.cache_dir, changes, &changed) &&
		     user_ensure(&h, KAFKA_USER, "runs ZooKeeper and Kafka");
	h.kafka_changed = h.zk_changed = changed; /* a new version restarts both */
	ok = ok && user_ensure(&h, AGENT_USER, "runs capture and apply") &&
	     dir_ensure(&h, topo->agent.state_dir, AGENT_USER, 0700) &&
	     dir_ensure(&h, topo->agent.config_dir, NULL, 0755);
	if (ok && h.manage_kafka)
		ok = dir_ensure(&h, topo->kafka.data_dir, KAFKA_USER, 0750) &&
		     (topo->kafka.mode != KAFKA_MODE_ZOOKEEPER ||
		      dir_ensure(&h, topo->zookeeper.data_dir, KAFKA_USER, 0750));
	/* Secured: the pipelines' Kafka passwords, made when missing, before
	 * they are given to cdc-agent below. */
	if (ok && h.secure_kafka)
		ok = kafka_access_passwords_ensure(topo, h.apply, changes);
	/* A cluster across hosts: a server's secrets live on the host that
	 * captures from or applies into it (topology.c defers their check). */
	for (size_t i = 0; ok && i < topo->n_sources; i++)
		ok = !topology_source_here(topo, &topo->sources[i]) ||
		     (secret_owner_ensure(&h, topo->sources[i].pg.password_file, "password file") &&
		      secret_owner_ensure(&h, topo->sources[i].pg.sslkey, "key file"));
	for (size_t i = 0; ok && i < topo->n_targets; i++)
		ok = !topology_target_here(topo, &topo->targets[i]) ||
		     (secret_owner_ensure(&h, topo->targets[i].pg.password_file, "password file") &&
		      secret_owner_ensure(&h, topo->targets[i].pg.sslkey, "key file"));
	/* The Kafka clients' secrets: capture and apply read them as cdc-agent. */
	ok = ok && secret_owner_ensure(&h, topo->kafka.ssl_key_file, "key file");
	for (size_t i = 0; ok && i < topo->n_pipelines; i++)
		ok = secret_owner_ensure(&h, topo->pipelines[i].capture_kafka.password_file,
					 "password file") &&
		     secret_owner_ensure(&h, topo->pipelines[i].apply_kafka.password_file,
					 "password file");
	ok = ok && broker_tls_ensure(&h) && vars_build(&h);
	if (ok && h.manage_kafka)
		ok = configs_render(&h);
	ok = ok && units_render(&h) && services_converge(&h);
	render_vars_fini(&h.vars);
	admin_cfg_free(&h);
	return ok;
}

/* ---- teardown ------------------------------------------------------------------- */

static bool slot_drop(const struct source_cfg *src)
{
	char *label = xasprintf("teardown %s", src->name);
	PGconn *admin = pgsql_connect(label, &src->pg, PG_AS_ADMIN,
				      src->pg.admin_dbname ? src->pg.admin_dbname : src->pg.dbname);
	const char *params[] = { src->slot };
	char *dropped = NULL;
	bool ok = admin && pgsql_query_value(admin, label,
					     "SELECT pg_drop_replication_slot(slot_name)::text FROM "
					     "pg_replication_slots WHERE slot_name = $1",
					     1, params, &dropped);

	if (ok)
		printf("%s: %s slot %s\n", label, dropped ? "dropped" : "no", src->slot);
	free(dropped);
	PQfinish(admin);
	free(label);
	return ok;
}

/* Fan-out: the other pipelines of pipe's source, "p2, p3" (NULL: none). */
static char *source_readers(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	struct strbuf sb;

	strbuf_init(&sb);
	for (size_t i = 0; i < topo->n_pipelines; i++)
		if (&topo->pipelines[i] != pipe && topo->pipelines[i].source == pipe->source)
			strbuf_addf(&sb, "%s%s", sb.len ? ", " : "", topo->pipelines[i].name);
	if (sb.len)
		return strbuf_detach(&sb);
	strbuf_fini(&sb);
	return NULL;
}

enum teardown_result host_teardown(const struct topology *topo, const struct pipeline_cfg *pipe,
				   bool confirm)
{
	/* Fan-out: a pipeline that does not capture has its apply alone, and
	 * the slot stays its source's capture's. */
	bool captures = topology_captures(topo, pipe);
	char *units[2] = { xasprintf("cdc-apply@%s.service", pipe->name),
			   captures ? xasprintf("cdc-capture@%s.service", pipe->name) : NULL };
	int n_units = captures ? 2 : 1;
	char *readers = captures ? source_readers(topo, pipe) : NULL;
	struct systemd *sd = NULL;
	bool ok = true;

	if (readers) {
		log_error_at(topo->path, pipe->origin.line,
			     "teardown %s: pipeline(s) %s also read source %s, whose slot %s and capture are %s's: dropping the slot would end them too; remove them from the topology (teardown each first) and run teardown %s again",
			     pipe->name, readers, pipe->source->name, pipe->source->slot, pipe->name,
			     pipe->name);
		free(readers);
		free(units[0]);
		free(units[1]);
		return TEARDOWN_FAILED;
	}
	if (!confirm) {
		if (captures)
			printf("teardown %s would stop %s and %s and drop slot %s of source %s "
			       "(changes not yet captured are lost); run again with --yes\n",
			       pipe->name, units[1], units[0], pipe->source->slot, pipe->source->name);
		else
			printf("teardown %s would stop %s; slot %s of source %s stays, pipeline "
			       "%s's capture reads it; run again with --yes\n",
			       pipe->name, units[0], pipe->source->slot, pipe->source->name,
			       topology_capture_pipeline(topo, pipe)->name);
		free(units[0]);
		free(units[1]);
		return TEARDOWN_UNCONFIRMED;
	}
	if (topo->agent.manage_units) {
		ok = systemd_open(&sd);
		/* capture (units[1]), then apply, as before */
		for (int i = n_units - 1; ok && i >= 0; i--) {
			struct unit_state st;

			ok = systemd_unit_state(sd, units[i], &st);
			if (ok && strcmp(st.active, "inactive") != 0 && strcmp(st.active, "failed") != 0)
				ok = systemd_job(sd, "StopUnit", units[i], JOB_TIMEOUT_SEC);
			if (ok)
				printf("teardown %s: %s stopped\n", pipe->name, units[i]);
		}
		systemd_close(sd);
	}
	/* Only once capture is stopped: an active slot cannot be dropped. */
	ok = ok && (!captures || slot_drop(pipe->source));
	free(units[0]);
	free(units[1]);
	return ok ? TEARDOWN_DONE : TEARDOWN_FAILED;
}
