/*
 * agent/provision/kafka_access.c: the SCRAM users of capture and apply and
 * their ACLs on the brokers the agent runs (kafka_access.h says which and
 * why).
 */
#include "provision/kafka_access.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"
#include "kafka/kafka_client.h"
#include "kafka/kafka_in.h"
#include "kafka/kafka_log.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The SCRAM iterations of the users made here (Kafka's minimum is 4096). */
#define SCRAM_ITERATIONS 8192
/* A probe's login: a SASL refusal comes within a second; a broker that
 * does not answer in this long is down. */
#define LOGIN_TIMEOUT_MS 6000
/* Credentials set through ZooKeeper reach the broker soon after
 * ConfigCommand returns: the probe after it waits this long for them. */
#define LOGIN_AFTER_SET_MS 15000
#define ADMIN_TIMEOUT_MS 15000
/* ConfigCommand's own requests time out within 60 s (its client's
 * default.api.timeout.ms); a JVM stuck beyond this is killed. */
#define CONFIG_COMMAND_TIMEOUT_S 120
/* The child's output: read up to OUTPUT_CAP bytes, its last OUTPUT_KEEP
 * shown in an error. */
#define OUTPUT_CAP (1 << 20)
#define OUTPUT_KEEP 8192
#define CLIENT_ID "cdc-agent-access"

/* ---- passwords -------------------------------------------------------- */

/* The class of characters of password that ConfigCommand's
 * --add-config-file cannot carry (it reads a java.util.Properties file,
 * as ISO-8859-1, one line), or NULL when it can carry them all. */
static const char *password_uncarried(const char *password)
{
	for (const unsigned char *p = (const unsigned char *)password; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return "control characters";
		if (*p >= 0x80)
			return "non-ASCII bytes (ConfigCommand reads its file as ISO-8859-1)";
	}
	return NULL;
}

static void base64url(const unsigned char *in, size_t n, char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = alphabet[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = alphabet[v & 63];
	}
	out[o] = '\0';
}

/* A new password in path: 32 random bytes, base64url, one line, 0600. */
static bool password_generate(const char *path)
{
	unsigned char raw[32];
	char text[64];
	bool changed, ok;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		log_error("password file %s: no random bytes: %s", path, strerror(errno));
		return false;
	}
	base64url(raw, sizeof(raw), text);
	strcat(text, "\n");
	ok = file_write_if_changed(path, text, strlen(text), 0600, &changed);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(text, sizeof(text));
	return ok; /* on failure, errors already logged */
}

/* One password file: generated when missing, checked when present. */
static bool password_ensure(const struct pipeline_cfg *p, const char *role,
			    const struct kafka_credentials *cred, bool apply,
			    struct change_list *changes)
{
	struct stat st;
	char *password = NULL;
	const char *uncarried;

	if (!cred->password_file)
		return true;
	if (stat(cred->password_file, &st) != 0 && errno == ENOENT) {
		change_record(changes, "kafka",
			      "generate the password of %s of pipeline %s (user %s) in %s", role,
			      p->name, cred->user ? cred->user : "(none)", cred->password_file);
		return !apply || password_generate(cred->password_file);
	}
	if (!secret_read(cred->password_file, &password))
		return false; /* errors already logged */
	uncarried = password_uncarried(password);
	secret_free(password);
	if (uncarried) {
		log_error("password file %s (%s of pipeline %s): the password holds %s: Kafka's "
			  "ConfigCommand cannot set it; use printable ASCII, or remove the file and "
			  "bootstrap generates one",
			  cred->password_file, role, p->name, uncarried);
		return false;
	}
	return true;
}

bool kafka_access_passwords_ensure(const struct topology *topo, bool apply,
				   struct change_list *changes)
{
	bool ok = true;

	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];

		if (!password_ensure(p, "capture", &p->capture_kafka, apply, changes))
			ok = false;
		if (!password_ensure(p, "apply", &p->apply_kafka, apply, changes))
			ok = false;
	}
	return ok;
}

/* ---- logins ------------------------------------------------------------ */

enum login_result { LOGIN_OK, LOGIN_REFUSED, LOGIN_FAILED };

/* What a probe's error callback saw. */
struct login_seen {
	bool refused;          /* an authentication failure */
	char reason[512];
};

static void login_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct login_seen *seen = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
	    err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED) {
		seen->refused = true;
		snprintf(seen->reason, sizeof(seen->reason), "%s", reason);
	}
}

/* A client of cfg as cred (NULL: the admin, by its certificate); NULL
 * (logged) when it could not be made. */
static rd_kafka_t *client_new(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
			      struct login_seen *seen)
{
	rd_kafka_conf_t *conf;
	char err[256];
	rd_kafka_t *rk;

	if (!kafka_client_probe_conf_new(cfg, cred, CLIENT_ID, &conf))
		return NULL; /* errors already logged */
	if (seen) {
		rd_kafka_conf_set_opaque(conf, seen);
		rd_kafka_conf_set_error_cb(conf, login_on_error);
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		log_error("kafka: cannot create a Kafka client: %s", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* Whether cred logs in to cfg's brokers (a metadata answer) within
 * timeout_ms; LOGIN_REFUSED as soon as the brokers refuse it for
 * authentication; LOGIN_FAILED with *why otherwise. */
static enum login_result login_probe(const struct kafka_cfg *cfg,
				     const struct kafka_credentials *cred, int timeout_ms,
				     struct strbuf *why)
{
	struct login_seen seen = { 0 };
	double since = mono_seconds();
	int64_t deadline = mono_ms() + timeout_ms;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	rd_kafka_t *rk = client_new(cfg, cred, &seen);
	char cause[512];

	if (!rk) {
		strbuf_adds(why, "no client (logged)");
		return LOGIN_FAILED;
	}
	/* Short metadata requests, the error callback served between them:
	 * a refusal ends the wait, it does not last until the timeout. */
	while (mono_ms() < deadline) {
		err = rd_kafka_metadata(rk, 0, NULL, &md, 500);
		if (!err)
			break;
		rd_kafka_poll(rk, 0);
		if (seen.refused)
			break;
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	if (!err)
		return LOGIN_OK;
	if (seen.refused) {
		strbuf_adds(why, seen.reason);
		return LOGIN_REFUSED;
	}
	strbuf_addf(why, "no answer to a metadata request: %s", rd_kafka_err2str(err));
	if (kafka_log_last_failure(since, cause, sizeof(cause)))
		strbuf_addf(why, "; the brokers' last failure: %s", cause);
	return LOGIN_FAILED;
}

/* ---- ConfigCommand ------------------------------------------------------- */

/* value as a java.util.Properties value: '\' doubled, line breaks and
 * tabs as escapes, a leading space kept (escaped), other control
 * characters as \u00XX; appended to out, which must have room
 * (properties_room) so that no copy of a secret is left by a realloc. */
static void properties_escape(struct strbuf *out, const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		char esc[8];

		if (*p == '\\')
			strbuf_adds(out, "\\\\");
		else if (*p == '\n')
			strbuf_adds(out, "\\n");
		else if (*p == '\r')
			strbuf_adds(out, "\\r");
		else if (*p == '\t')
			strbuf_adds(out, "\\t");
		else if (*p == ' ' && p == (const unsigned char *)value)
			strbuf_adds(out, "\\ ");
		else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			strbuf_adds(out, esc);
		} else
			strbuf_add(out, (const char *)p, 1);
	}
}

/* The room properties_escape may need for value. */
static size_t properties_room(const char *value)
{
	return value ? 6 * strlen(value) + 64 : 64;
}

/* The admin's client settings for ConfigCommand (--command-config): its
 * protocol, and with TLS the CA and its certificate and key inline (PEM,
 * which Java takes only as PKCS#8).  *out: the text, wiped by the caller. */
static bool command_config(const struct kafka_cfg *admin, struct strbuf *out)
{
	enum kafka_security protocol = admin->security_protocol;
	char *cert = NULL, *key = NULL;
	size_t len;
	bool ok = true;

	if (kafka_security_sasl(protocol)) {
		log_error("kafka: the admin of the brokers reaches them by %s; it must be a super user "
			  "by its certificate (ssl) or on a listener of its own (plaintext)",
			  kafka_security_names[protocol]);
		return false;
	}
	strbuf_addf(out, "security.protocol=%s\n", protocol == KAFKA_SECURITY_SSL ? "SSL" : "PLAINTEXT");
	if (protocol != KAFKA_SECURITY_SSL)
		return true;
	if ((admin->ssl_cert_file && !file_read_all(admin->ssl_cert_file, &cert, &len)) ||
	    (admin->ssl_key_file && !file_read_all(admin->ssl_key_file, &key, &len)))
		ok = false; /* errors already logged */
	if (ok && key && !strstr(key, "-----BEGIN PRIVATE KEY-----")) {
		log_error("kafka: key file %s is not an unencrypted PKCS#8 key (BEGIN PRIVATE KEY), "
			  "the only kind Java's PEM keystore reads (openssl pkcs8 -topk8 -nocrypt "
			  "makes one)",
			  admin->ssl_key_file);
		ok = false;
	}
	if (ok) {
		strbuf_grow(out, properties_room(admin->ssl_ca_file) + properties_room(cert) +
					 properties_room(key) + 256);
		if (admin->ssl_ca_file) {
			strbuf_adds(out, "ssl.truststore.type=PEM\nssl.truststore.location=");
			properties_escape(out, admin->ssl_ca_file);
			strbuf_adds(out, "\n");
		}
		if (cert && key) {
			strbuf_adds(out, "ssl.keystore.type=PEM\nssl.keystore.certificate.chain=");
			properties_escape(out, cert);
			strbuf_adds(out, "\nssl.keystore.key=");
			properties_escape(out, key);
			strbuf_adds(out, "\n");
		}
	}
	free(cert);
	secret_free(key);
	return ok;
}

/* ConfigCommand's log lines: warnings and errors, to stderr (the
 * distribution's log4j.properties logs every client setting at INFO). */
static const char log4j_properties[] =
	"log4j.rootLogger=WARN, stderr\n"
	"log4j.appender.stderr=org.apache.log4j.ConsoleAppender\n"
	"log4j.appender.stderr.Target=System.err\n"
	"log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n"
	"log4j.appender.stderr.layout.ConversionPattern=%p %m (%c)%n\n";

/* The work directory, checked root-only: owned by us, nobody else may
 * enter it (the files put there hold passwords and the admin's key). */
static bool work_dir_open(const char *dir, int *fd)
{
	struct stat st;

	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0) {
		log_error("kafka: work directory %s: %s", dir, strerror(errno));
		return false;
	}
	if (fstat(*fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		log_error("kafka: work directory %s must be %s's alone (mode 0700)", dir,
			  geteuid() == 0 ? "root" : "this user");
		close(*fd);
		*fd = -1;
		return false;
	}
	return true;
}

/* content as name in dirfd, made here (a leftover of an earlier run
 * removed first), mode 0600. */
static bool work_file_write(int dirfd, const char *dir, const char *name, const char *content,
			    size_t len)
{
	int fd;
	size_t done = 0;

	if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
		log_error("kafka: cannot remove %s/%s: %s", dir, name, strerror(errno));
		return false;
	}
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("kafka: cannot create %s/%s: %s", dir, name, strerror(errno));
		return false;
	}
	while (done < len) {
		ssize_t n = write(fd, content + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("kafka: cannot write %s/%s: %s", dir, name, strerror(errno));
			close(fd);
			return false;
		}
		done += (size_t)n;
	}
	if (close(fd) != 0) {
		log_error("kafka: cannot write %s/%s: %s", dir, name, strerror(errno));
		return false;
	}
	return true;
}

/* text with every occurrence of secret replaced by a mark and, when the
 * text was cut short (cut), a tail that begins secret removed; caller
 * frees. */
static char *blotted(const char *text, const char *secret, bool cut)
{
	size_t n = strlen(secret);
	struct strbuf out;
	const char *at;

	strbuf_init(&out);
	while (n && (at = strstr(text, secret))) {
		strbuf_add(&out, text, (size_t)(at - text));
		strbuf_adds(&out, "(password)");
		text = at + n;
	}
	strbuf_adds(&out, text);
	for (size_t k = n > out.len + 1 ? out.len : n - 1; cut && k > 0; k--)
		if (memcmp(out.data + out.len - k, secret, k) == 0) {
			out.len -= k;
			out.data[out.len] = '\0';
			break;
		}
	return strbuf_detach(&out);
}

/* Runs argv (no shell, a bare environment, stdin from /dev/null), its
 * stdout and stderr kept in *output (up to OUTPUT_CAP bytes; *cut when
 * more came); killed after timeout_s.  *status: waitpid's. */
static bool child_run(const char *const argv[], int timeout_s, struct strbuf *output, bool *cut,
		      int *status)
{
	static char *const env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };
	posix_spawn_file_actions_t fa;
	int pipefd[2];
	pid_t pid;
	int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
	bool killed = false;
	int rc;

	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		log_error("kafka: pipe: %s", strerror(errno));
		return false;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, env);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		log_error("kafka: cannot run %s: %s", argv[0], strerror(rc));
		close(pipefd[0]);
		return false;
	}
	for (;;) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		int64_t left = deadline - mono_ms();
		char buf[4096];
		ssize_t n;

		if (left <= 0 && !killed) {
			kill(pid, SIGKILL);
			killed = true;
			strbuf_addf(output, "\n(killed after %d s)", timeout_s);
		}
		if (poll(&pfd, 1, killed ? 1000 : (int)(left > 1000 ? 1000 : left)) < 0 &&
		    errno != EINTR)
			break;
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (output->len + (size_t)n <= OUTPUT_CAP)
			strbuf_add(output, buf, (size_t)n);
		else
			*cut = true; /* read on: the child must not block on a full pipe */
	}
	close(pipefd[0]);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			log_error("kafka: waitpid: %s", strerror(errno));
			return false;
		}
	}
	return true;
}

/* The three files ConfigCommand reads, by their names in the work dir. */
#define FILE_COMMAND "cdc-agent-kafka-access.command.properties"
#define FILE_SCRAM "cdc-agent-kafka-access.scram.properties"
#define FILE_LOG4J "cdc-agent-kafka-access.log4j.properties"

/* The SCRAM credentials (mechanism, e.g. SCRAM-SHA-512) of cred's user set
 * to its password, by ConfigCommand as the admin. */
static bool scram_user_set(const struct kafka_access_admin *adm, const char *mechanism,
			   const struct kafka_credentials *cred)
{
	char *brokers = strlist_join(&adm->admin->bootstrap_servers, ",");
	char *password = NULL, *classpath, *log4j_opt, *command_path, *scram_path;
	struct strbuf command, scram, output;
	int dirfd = -1, status = 0;
	bool ok = false, cut = false;

	strbuf_init(&command);
	strbuf_init(&scram);
	strbuf_init(&output);
	classpath = xasprintf("%s/libs/*", adm->kafka_home);
	log4j_opt = xasprintf("-Dlog4j.configuration=file:%s/%s", adm->work_dir, FILE_LOG4J);
	command_path = xasprintf("%s/%s", adm->work_dir, FILE_COMMAND);
	scram_path = xasprintf("%s/%s", adm->work_dir, FILE_SCRAM);

	const char *const argv[] = {
		adm->java,
		/* A one-shot tool: start fast, little memory (as the tests'
		 * kafka.sh runs its tools). */
		"-Xms16m", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.awt.headless=true", log4j_opt,
		"-cp", classpath, "kafka.admin.ConfigCommand",
		"--bootstrap-server", brokers,
		"--command-config", command_path,
		"--alter", "--entity-type", "users", "--entity-name", cred->user,
		"--add-config-file", scram_path,
		NULL,
	};

	if (!secret_read(cred->password_file, &password) || !command_config(adm->admin, &command) ||
	    !work_dir_open(adm->work_dir, &dirfd))
		goto out; /* errors already logged */
	/* mechanism=iterations=N,password=P: the value as --add-config-file
	 * takes it (its [...] form, that of --add-config, keeps the brackets
	 * from a file and is refused). */
	strbuf_grow(&scram, properties_room(password) + 64);
	strbuf_addf(&scram, "%s=iterations=%d,password=", mechanism, SCRAM_ITERATIONS);
	properties_escape(&scram, password);
	strbuf_adds(&scram, "\n");
	if (work_file_write(dirfd, adm->work_dir, FILE_LOG4J, log4j_properties,
			    strlen(log4j_properties)) &&
	    work_file_write(dirfd, adm->work_dir, FILE_COMMAND, command.data, command.len) &&
	    work_file_write(dirfd, adm->work_dir, FILE_SCRAM, scram.data, scram.len) &&
	    child_run(argv, CONFIG_COMMAND_TIMEOUT_S, &output, &cut, &status)) {
		/* Never the password, even should ConfigCommand repeat its
		 * input (it does, in its "Invalid credential property"). */
		char *text = blotted(output.data, password, cut);
		size_t len = strlen(text);
		const char *shown = len > OUTPUT_KEEP ? text + len - OUTPUT_KEEP : text;

		while (len && text[len - 1] == '\n')
			text[--len] = '\0';
		ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (!ok)
			log_error("kafka %s: ConfigCommand could not set the %s credentials of user %s "
				  "(%s %d): %s%s",
				  brokers, mechanism, cred->user,
				  WIFEXITED(status) ? "exit code" : "signal",
				  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
				  shown != text ? "..." : "", *shown ? shown : "(no output)");
		else
			log_debug("kafka %s: ConfigCommand: %s", brokers, shown);
		free(text);
	}
	/* Nothing of it stays: the files hold the password and the key. */
	unlinkat(dirfd, FILE_SCRAM, 0);
	unlinkat(dirfd, FILE_COMMAND, 0);
	unlinkat(dirfd, FILE_LOG4J, 0);
out:
	if (dirfd >= 0)
		close(dirfd);
	explicit_bzero(command.data, command.len);
	explicit_bzero(scram.data, scram.len);
	strbuf_fini(&command);
	strbuf_fini(&scram);
	strbuf_fini(&output);
	secret_free(password);
	free(classpath);
	free(log4j_opt);
	free(command_path);
	free(scram_path);
	free(brokers);
	return ok;
}

/* ---- users ------------------------------------------------------------- */

/* One user of the agent's: its credentials and who it is. */
struct access_user {
	const struct kafka_credentials *cred;
	char *who;                   /* "capture of pipeline p1" */
};

struct access_users {
	struct access_user *items;
	size_t n;
};

static void access_users_fini(struct access_users *users)
{
	for (size_t i = 0; i < users->n; i++)
		free(users->items[i].who);
	free(users->items);
}

/* Whether ConfigCommand's command line and SCRAM can name user: not
 * empty, no control character, not an option's look. */
static bool user_name_valid(const char *user, const char *who)
{
	if (!*user || *user == '-') {
		log_error("kafka: %s: user name '%s' cannot be given to ConfigCommand (empty or "
			  "beginning with '-')", who, user);
		return false;
	}
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			log_error("kafka: %s: the user name holds control characters", who);
			return false;
		}
	return true;
}

/* The agent's users, each once; false (logged) when one name comes with
 * two password files (each converge would set the other's password). */
static bool access_users_collect(const struct topology *topo, struct access_users *users)
{
	bool ok = true;

	users->items = xcalloc(2 * topo->n_pipelines + 1, sizeof(*users->items));
	users->n = 0;
	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];
		const struct kafka_credentials *creds[] = { &p->capture_kafka, &p->apply_kafka };
		const char *roles[] = { "capture", "apply" };

		for (size_t r = 0; r < 2; r++) {
			const struct kafka_credentials *c = creds[r];
			bool seen = false;
			char *who;

			if (!c->user || !c->password_file)
				continue;
			who = xasprintf("%s of pipeline %s", roles[r], p->name);
			for (size_t u = 0; u < users->n; u++) {
				if (strcmp(users->items[u].cred->user, c->user) != 0)
					continue;
				seen = true;
				if (strcmp(users->items[u].cred->password_file, c->password_file)) {
					log_error("kafka: user %s has two password files: %s (%s) and "
						  "%s (%s)",
						  c->user, users->items[u].cred->password_file,
						  users->items[u].who, c->password_file, who);
					ok = false;
				}
			}
			if (seen || !user_name_valid(c->user, who)) {
				if (!seen)
					ok = false; /* errors already logged */
				free(who);
				continue;
			}
			users->items[users->n].cred = c;
			users->items[users->n++].who = who;
		}
	}
	return ok;
}

/* One user: logs in, or is (re)made and then logs in. */
static bool user_converge(const struct topology *topo, const struct kafka_access_admin *adm,
			  const struct access_user *u, bool apply, struct change_list *changes)
{
	const char *mechanism = kafka_sasl_mechanism_rdkafka_names[topo->kafka.sasl_mechanism];
	char *brokers = strlist_join(&topo->kafka.bootstrap_servers, ",");
	struct strbuf why;
	enum login_result r;
	bool ok = false;

	strbuf_init(&why);
	if (!apply && access(u->cred->password_file, F_OK) != 0) {
		/* plan before the password is generated: the user cannot
		 * exist with it */
		change_record(changes, "kafka", "set the %s credentials of user %s (%s) from %s",
			      mechanism, u->cred->user, u->who, u->cred->password_file);
		ok = true;
		goto out;
	}
	r = login_probe(&topo->kafka, u->cred, LOGIN_TIMEOUT_MS, &why);
	if (r == LOGIN_OK) {
		ok = true;
		goto out;
	}
	if (r == LOGIN_FAILED) {
		log_error("kafka %s: %s as user %s: %s", brokers, u->who, u->cred->user, why.data);
		goto out;
	}
	change_record(changes, "kafka", "set the %s credentials of user %s (%s) from %s (%s)",
		      mechanism, u->cred->user, u->who, u->cred->password_file, why.data);
	if (!apply) {
		ok = true;
		goto out;
	}
	if (!scram_user_set(adm, mechanism, u->cred))
		goto out; /* errors already logged */
	why.len = 0;
	why.data[0] = '\0';
	r = login_probe(&topo->kafka, u->cred, LOGIN_TIMEOUT_MS, &why);
	/* The credentials travel to the brokers through ZooKeeper (or the
	 * metadata log): a refusal right after may be one from before. */
	for (int64_t until = mono_ms() + LOGIN_AFTER_SET_MS;
	     r == LOGIN_REFUSED && mono_ms() < until;) {
		usleep(500 * 1000);
		why.len = 0;
		why.data[0] = '\0';
		r = login_probe(&topo->kafka, u->cred, LOGIN_TIMEOUT_MS, &why);
	}
	ok = r == LOGIN_OK;
	if (!ok)
		log_error("kafka %s: %s as user %s, its credentials just set: %s", brokers, u->who,
			  u->cred->user, why.data);
out:
	strbuf_fini(&why);
	free(brokers);
	return ok;
}

/* ---- ACLs -------------------------------------------------------------- */

/* One ACL binding, as compared here (host and permission are always "*"
 * and ALLOW for the wanted ones). */
struct acl {
	rd_kafka_ResourceType_t type;
	char *name;
	rd_kafka_ResourcePatternType_t pattern;
	char *principal;
	char *host;
	rd_kafka_AclOperation_t op;
	rd_kafka_AclPermissionType_t permission;
};

struct acl_set {
	struct acl *items;
	size_t n, cap;
};

static bool acl_equal(const struct acl *a, const struct acl *b)
{
	return a->type == b->type && a->pattern == b->pattern && a->op == b->op &&
	       a->permission == b->permission && strcmp(a->name, b->name) == 0 &&
	       strcmp(a->principal, b->principal) == 0 && strcmp(a->host, b->host) == 0;
}

static bool acl_set_has(const struct acl_set *set, const struct acl *a)
{
	for (size_t i = 0; i < set->n; i++)
		if (acl_equal(&set->items[i], a))
			return true;
	return false;
}

/* Adds a copy of a unless set has it. */
static void acl_set_add(struct acl_set *set, const struct acl *a)
{
	struct acl *c;

	if (acl_set_has(set, a))
		return;
	if (set->n == set->cap) {
		set->cap = set->cap ? 2 * set->cap : 16;
		set->items = xrealloc(set->items, set->cap * sizeof(*set->items));
	}
	c = &set->items[set->n++];
	*c = *a;
	c->name = xstrdup(a->name);
	c->principal = xstrdup(a->principal);
	c->host = xstrdup(a->host);
}

static void acl_set_fini(struct acl_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->items[i].name);
		free(set->items[i].principal);
		free(set->items[i].host);
	}
	free(set->items);
}

/* A wanted binding: ALLOW from any host. */
static void want(struct acl_set *set, const char *user, rd_kafka_ResourceType_t type,
		 const char *name, rd_kafka_ResourcePatternType_t pattern, rd_kafka_AclOperation_t op)
{
	char *principal = xasprintf("User:%s", user);
	struct acl a = { .type = type,
			 .name = (char *)name,
			 .pattern = pattern,
			 .principal = principal,
			 .host = "*",
			 .op = op,
			 .permission = RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW };

	acl_set_add(set, &a);
	free(principal);
}

/* The table of kafka_access.h, for every pipeline. */
static void acls_wanted(const struct topology *topo, struct acl_set *set)
{
	static const rd_kafka_AclOperation_t capture_ops[] = {
		RD_KAFKA_ACL_OPERATION_DESCRIBE,         RD_KAFKA_ACL_OPERATION_CREATE,
		RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS, RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS,
		RD_KAFKA_ACL_OPERATION_WRITE,
	};
	static const rd_kafka_AclOperation_t apply_ops[] = {
		RD_KAFKA_ACL_OPERATION_READ,
		RD_KAFKA_ACL_OPERATION_DESCRIBE,
	};

	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];
		/* Every topic of the source begins so, as topology_topic names
		 * them ("<prefix>.<schema>.<table>", the prefix's characters
		 * as Kafka takes them): "<prefix>.." less its last dot. */
		char *prefix = kafka_topic_name(p->source->topic_prefix, "", "");
		char *group = kafka_in_group(p->name);

		prefix[strlen(prefix) - 1] = '\0';
		for (size_t o = 0; p->capture_kafka.user && o < ARRAY_LEN(capture_ops); o++)
			want(set, p->capture_kafka.user, RD_KAFKA_RESOURCE_TOPIC, prefix,
			     RD_KAFKA_RESOURCE_PATTERN_PREFIXED, capture_ops[o]);
		for (size_t o = 0; p->apply_kafka.user && o < ARRAY_LEN(apply_ops); o++)
			want(set, p->apply_kafka.user, RD_KAFKA_RESOURCE_TOPIC, prefix,
			     RD_KAFKA_RESOURCE_PATTERN_PREFIXED, apply_ops[o]);
		if (p->apply_kafka.user)
			want(set, p->apply_kafka.user, RD_KAFKA_RESOURCE_GROUP, group,
			     RD_KAFKA_RESOURCE_PATTERN_LITERAL, RD_KAFKA_ACL_OPERATION_READ);
		free(prefix);
		free(group);
	}
}

/* "User:apply-p1 ALLOW Read on Topic PREFIXED 'db1.' from *" */
static char *acl_text(const struct acl *a)
{
	return xasprintf("%s %s %s on %s %s '%s' from %s", a->principal,
			 rd_kafka_AclPermissionType_name(a->permission),
			 rd_kafka_AclOperation_name(a->op), rd_kafka_ResourceType_name(a->type),
			 rd_kafka_ResourcePatternType_name(a->pattern), a->name, a->host);
}

/* Waits for the answer of an admin request on q; NULL (logged) if none. */
static rd_kafka_event_t *admin_answer(rd_kafka_queue_t *q, const char *brokers, const char *what)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 2000);

	if (!ev) {
		log_error("kafka %s: no answer to %s", brokers, what);
		return NULL;
	}
	if (rd_kafka_event_error(ev)) {
		log_error("kafka %s: %s failed: %s", brokers, what, rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);
	char errstr[256];

	if (rd_kafka_AdminOptions_set_request_timeout(opts, ADMIN_TIMEOUT_MS, errstr,
						      sizeof(errstr)))
		log_warn("kafka: admin request timeout refused: %s", errstr);
	return opts;
}

/* The brokers' ACLs on principal, added to set. */
static bool acls_describe(rd_kafka_t *rk, const char *brokers, const char *principal,
			  struct acl_set *set)
{
	char errstr[256];
	rd_kafka_AclBindingFilter_t *filter = rd_kafka_AclBindingFilter_new(
		RD_KAFKA_RESOURCE_ANY, NULL, RD_KAFKA_RESOURCE_PATTERN_ANY, principal, NULL,
		RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY, errstr, sizeof(errstr));
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	char *what = xasprintf("DescribeAcls of %s", principal);
	bool ok = false;

	if (!filter) {
		log_error("kafka: %s: %s", what, errstr);
		free(what);
		return false;
	}
	opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBEACLS);
	q = rd_kafka_queue_new(rk);
	rd_kafka_DescribeAcls(rk, filter, opts, q);
	ev = admin_answer(q, brokers, what);
	if (ev) {
		size_t n = 0;
		const rd_kafka_AclBinding_t **b = rd_kafka_DescribeAcls_result_acls(
			rd_kafka_event_DescribeAcls_result(ev), &n);

		for (size_t i = 0; i < n; i++) {
			struct acl a = {
				.type = rd_kafka_AclBinding_restype(b[i]),
				.name = (char *)rd_kafka_AclBinding_name(b[i]),
				.pattern = rd_kafka_AclBinding_resource_pattern_type(b[i]),
				.principal = (char *)rd_kafka_AclBinding_principal(b[i]),
				.host = (char *)rd_kafka_AclBinding_host(b[i]),
				.op = rd_kafka_AclBinding_operation(b[i]),
				.permission = rd_kafka_AclBinding_permission_type(b[i]),
			};

			acl_set_add(set, &a);
		}
		rd_kafka_event_destroy(ev);
		ok = true;
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_AclBinding_destroy(filter);
	free(what);
	return ok;
}

/* Creates the n bindings of add. */
static bool acls_create(rd_kafka_t *rk, const char *brokers, const struct acl *add, size_t n)
{
	rd_kafka_AclBinding_t **b = xcalloc(n + 1, sizeof(*b));
	rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATEACLS);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev = NULL;
	char errstr[256];
	bool ok = true;

	for (size_t i = 0; i < n && ok; i++) {
		b[i] = rd_kafka_AclBinding_new(add[i].type, add[i].name, add[i].pattern,
					       add[i].principal, add[i].host, add[i].op,
					       add[i].permission, errstr, sizeof(errstr));
		if (!b[i]) {
			log_error("kafka: an ACL of %s: %s", add[i].principal, errstr);
			ok = false;
		}
	}
	if (ok) {
		rd_kafka_CreateAcls(rk, b, n, opts, q);
		ev = admin_answer(q, brokers, "CreateAcls");
		ok = ev != NULL;
	}
	if (ev) {
		size_t got = 0;
		const rd_kafka_acl_result_t **res =
			rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &got);

		for (size_t i = 0; i < got; i++) {
			const rd_kafka_error_t *e = rd_kafka_acl_result_error(res[i]);

			if (e) {
				char *text = acl_text(&add[i < n ? i : 0]);

				log_error("kafka %s: ACL %s not created: %s", brokers, text,
					  rd_kafka_error_string(e));
				free(text);
				ok = false;
			}
		}
		rd_kafka_event_destroy(ev);
	}
	for (size_t i = 0; i < n; i++)
		if (b[i])
			rd_kafka_AclBinding_destroy(b[i]);
	free(b);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	return ok;
}

/* Deletes the n bindings of del, each by a filter that matches it alone. */
static bool acls_delete(rd_kafka_t *rk, const char *brokers, const struct acl *del, size_t n)
{
	rd_kafka_AclBindingFilter_t **f = xcalloc(n + 1, sizeof(*f));
	rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETEACLS);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev = NULL;
	char errstr[256];
	bool ok = true;

	for (size_t i = 0; i < n && ok; i++) {
		f[i] = rd_kafka_AclBindingFilter_new(del[i].type, del[i].name, del[i].pattern,
						     del[i].principal, del[i].host, del[i].op,
						     del[i].permission, errstr, sizeof(errstr));
		if (!f[i]) {
			log_error("kafka: an ACL of %s: %s", del[i].principal, errstr);
			ok = false;
		}
	}
	if (ok) {
		rd_kafka_DeleteAcls(rk, f, n, opts, q);
		ev = admin_answer(q, brokers, "DeleteAcls");
		ok = ev != NULL;
	}
	if (ev) {
		size_t got = 0;
		const rd_kafka_DeleteAcls_result_response_t **res =
			rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(ev),
							     &got);

		for (size_t i = 0; i < got; i++) {
			const rd_kafka_error_t *e = rd_kafka_DeleteAcls_result_response_error(res[i]);

			if (e) {
				char *text = acl_text(&del[i < n ? i : 0]);

				log_error("kafka %s: ACL %s not deleted: %s", brokers, text,
					  rd_kafka_error_string(e));
				free(text);
				ok = false;
			}
		}
		rd_kafka_event_destroy(ev);
	}
	for (size_t i = 0; i < n; i++)
		if (f[i])
			rd_kafka_AclBinding_destroy(f[i]);
	free(f);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	return ok;
}

/* The ACLs of users brought to the wanted set, through rk (the admin's). */
static bool acls_converge(const struct topology *topo, rd_kafka_t *rk, const char *brokers,
			  const struct access_users *users, bool apply,
			  struct change_list *changes)
{
	struct acl_set wanted = { 0 }, have = { 0 }, add = { 0 }, del = { 0 };
	bool ok = true;

	acls_wanted(topo, &wanted);
	for (size_t i = 0; i < users->n && ok; i++) {
		char *principal = xasprintf("User:%s", users->items[i].cred->user);

		ok = acls_describe(rk, brokers, principal, &have);
		free(principal);
	}
	if (!ok)
		goto out; /* errors already logged */
	for (size_t i = 0; i < have.n; i++)
		if (!acl_set_has(&wanted, &have.items[i]))
			acl_set_add(&del, &have.items[i]);
	for (size_t i = 0; i < wanted.n; i++)
		if (!acl_set_has(&have, &wanted.items[i]))
			acl_set_add(&add, &wanted.items[i]);
	for (size_t i = 0; i < del.n; i++) {
		char *text = acl_text(&del.items[i]);

		change_record(changes, "kafka", "delete ACL %s", text);
		free(text);
	}
	for (size_t i = 0; i < add.n; i++) {
		char *text = acl_text(&add.items[i]);

		change_record(changes, "kafka", "create ACL %s", text);
		free(text);
	}
	/* Deletions first: between the two, a user has less, never more. */
	if (apply && del.n && !acls_delete(rk, brokers, del.items, del.n))
		ok = false;
	if (apply && ok && add.n && !acls_create(rk, brokers, add.items, add.n))
		ok = false;
out:
	acl_set_fini(&wanted);
	acl_set_fini(&have);
	acl_set_fini(&add);
	acl_set_fini(&del);
	return ok;
}

bool kafka_access_converge(const struct topology *topo, const struct kafka_access_admin *adm,
			   bool apply, struct change_list *changes)
{
	struct access_users users = { 0 };
	char *brokers = NULL;
	struct strbuf why;
	rd_kafka_t *rk = NULL;
	bool ok;

	if (!kafka_security_sasl(topo->kafka.security_protocol))
		return true; /* no users, nobody to grant anything */
	if (topo->kafka.sasl_mechanism == KAFKA_SASL_PLAIN) {
		log_error("kafka: sasl_mechanism plain: the agent makes SCRAM users only (the brokers "
			  "it runs take scram-sha-512)");
		return false;
	}
	strbuf_init(&why);
	brokers = strlist_join(&adm->admin->bootstrap_servers, ",");
	ok = access_users_collect(topo, &users);
	if (!ok)
		goto out; /* errors already logged */
	/* The admin first: without its broker, nothing can be known. */
	if (login_probe(adm->admin, NULL, LOGIN_TIMEOUT_MS, &why) != LOGIN_OK) {
		if (!apply) {
			change_record(changes, "kafka",
				      "the SCRAM users and ACLs of capture and apply will be "
				      "converged once the broker runs");
			goto out;
		}
		log_error("kafka %s: the admin (the agent, by its certificate): %s", brokers,
			  why.data);
		ok = false;
		goto out;
	}
	for (size_t i = 0; i < users.n; i++)
		if (!user_converge(topo, adm, &users.items[i], apply, changes))
			ok = false;
	rk = client_new(adm->admin, NULL, NULL);
	if (!rk || !acls_converge(topo, rk, brokers, &users, apply, changes))
		ok = false; /* errors already logged */
out:
	if (rk)
		rd_kafka_destroy(rk);
	access_users_fini(&users);
	strbuf_fini(&why);
	free(brokers);
	return ok;
}
