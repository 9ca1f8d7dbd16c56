/*
 * agent/provision/kafka_scram_cmd.c: a user's SCRAM credentials set by
 * Kafka's ConfigCommand, run as a child (kafka_scram_cmd.h says how and
 * why so).
 */
#include "provision/kafka_scram_cmd.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The SCRAM iterations of the users made here (Kafka's minimum is 4096). */
#define SCRAM_ITERATIONS 8192
/* ConfigCommand's own requests time out within 60 s (its client's
 * default.api.timeout.ms); a JVM stuck beyond this is killed. */
#define CONFIG_COMMAND_TIMEOUT_S 120
/* The child's output: read up to OUTPUT_CAP bytes, its last OUTPUT_KEEP
 * shown in an error. */
#define OUTPUT_CAP (1 << 20)
#define OUTPUT_KEEP 8192

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

bool kafka_scram_user_set(const struct kafka_access_admin *adm, const char *mechanism,
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
