/*
 * agent/pg/pgsql.c: libpq connections and queries with the agent's error idiom.
 */
#include "pg/pgsql.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A process's stop flag (pgsql_stop_on): while it is set, nothing waits on
 * a server.  NULL: the plain blocking calls of libpq. */
static const volatile sig_atomic_t *stop_flag;

/* Wall time a connection attempt may take, as connect_timeout says for the
 * blocking calls (which PQconnectPoll does not enforce). */
#define CONNECT_TIMEOUT_SEC 10
/* How often a wait looks at the stop flag. */
#define STOP_POLL_MS 100

void pgsql_stop_on(const volatile sig_atomic_t *flag)
{
	stop_flag = flag;
}

static bool stopping(void)
{
	return stop_flag && *stop_flag;
}

const char *pgsql_where(const struct pg_server_cfg *server, enum pg_role role)
{
	static char buf[512];
	const char *host = server->host;
	int port = server->port;

	if (role == PG_AS_ADMIN) {
		if (server->admin_host)
			host = server->admin_host;
		if (server->admin_port)
			port = server->admin_port;
	}
	snprintf(buf, sizeof(buf), "%s:%d", host, port);
	return buf;
}

const char *pgsql_first_line(const char *message)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "%s", message);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static const char *conn_error(PGconn *conn)
{
	return pgsql_first_line(conn ? PQerrorMessage(conn) : "out of memory");
}

/*
 * Debian authenticates the postgres superuser by peer over the local socket
 * ("sudo -u postgres psql").  When the agent runs as root and the admin has
 * no password file, it takes the identity of the OS user of the same name
 * just for connect(): the server reads the peer's credentials then.
 */
static bool peer_identity_enter(const char *host, const char *password_file, const char *user,
				bool *entered)
{
	struct passwd *pw;

	*entered = false;
	if (geteuid() != 0 || host[0] != '/' || password_file)
		return true;
	pw = getpwnam(user);
	if (!pw || pw->pw_uid == 0)
		return true;
	if (setegid(pw->pw_gid) != 0 || seteuid(pw->pw_uid) != 0) {
		log_error("cannot take the identity of OS user %s for peer authentication: %s",
			  user, strerror(errno));
		return false;
	}
	*entered = true;
	return true;
}

static void peer_identity_leave(bool entered)
{
	if (entered && (seteuid(0) != 0 || setegid(0) != 0)) {
		/* Continuing as another user would be wrong in ways hard to see. */
		log_error("cannot return to root after peer authentication: %s", strerror(errno));
		abort();
	}
}

/* Server notices (e.g. "wal_level is insufficient" between ALTER SYSTEM and
 * the restart) are expected along the way: keep them for -v. */
static void notice_to_debug(void *arg, const char *message)
{
	(void)arg;
	log_debug("server notice: %.*s", (int)strcspn(message, "\n"), message);
}

/* Waits until conn's socket is ready for events, the stop flag is set
 * (false) or timeout_ms passed (true: the caller looks again). */
static bool socket_wait(PGconn *conn, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = PQsocket(conn), .events = events };

	if (stopping())
		return false;
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		return true; /* the next libpq call reports the socket's error */
	return !stopping();
}

/* PQconnectdbParams, except that with a stop flag the attempt ends as soon
 * as the flag is set (*stopped, NULL returned) or after CONNECT_TIMEOUT_SEC:
 * a server that accepts connections and never answers (stopped with
 * SIGSTOP, a lost network) would hold the process for the whole attempt. */
static PGconn *connect_params(const char *const *keys, const char *const *values, bool *stopped)
{
	double deadline = mono_seconds() + CONNECT_TIMEOUT_SEC;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *conn;

	*stopped = false;
	if (!stop_flag)
		return PQconnectdbParams(keys, values, 0);
	conn = PQconnectStartParams(keys, values, 0);
	if (!conn || PQstatus(conn) == CONNECTION_BAD)
		return conn;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		if (mono_seconds() >= deadline) {
			PQfinish(conn);
			return NULL; /* reported as a timeout by the caller */
		}
		if (!socket_wait(conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, STOP_POLL_MS)) {
			*stopped = true;
			PQfinish(conn);
			return NULL;
		}
		st = PQconnectPoll(conn);
	}
	return conn;
}

/* Session settings the event encoders rely on (pg_text.h): text forms of
 * dates, intervals and floats do not depend on the server's defaults. */
#define CAPTURE_SESSION_OPTIONS \
	"-c datestyle=ISO -c intervalstyle=iso_8601 -c timezone=UTC -c extra_float_digits=3"

/* error NULL: a failure is logged; else *error is its first line (caller
 * frees) and nothing is logged. */
static PGconn *connect_with(const char *label, const struct pg_server_cfg *server,
			    enum pg_role role, const char *dbname, bool capture,
			    bool replication, char **error)
{
	const char *keys[16], *values[16];
	char port[16], *password = NULL;
	const char *password_file = role == PG_AS_ADMIN ? server->admin_password_file
						       : server->password_file;
	const char *user = role == PG_AS_ADMIN ? server->admin_user : server->user;
	PGconn *conn;
	bool peer, stopped;
	int n = 0;

	snprintf(port, sizeof(port), "%d",
		 role == PG_AS_ADMIN && server->admin_port ? server->admin_port : server->port);
	if (password_file && !secret_read(password_file, &password)) {
		if (error)
			*error = xasprintf("cannot read password file %s", password_file);
		return NULL; /* errors already logged */
	}
	keys[n] = "host", values[n++] = role == PG_AS_ADMIN && server->admin_host
						   ? server->admin_host
						   : server->host;
	keys[n] = "port", values[n++] = port;
	keys[n] = "user", values[n++] = user;
	keys[n] = "dbname", values[n++] = dbname ? dbname : server->dbname;
	keys[n] = "application_name", values[n++] = "cdc-agent";
	keys[n] = "connect_timeout", values[n++] = "10";
	/* TLS as the topology says, for every connection to the server (over
	 * a Unix socket libpq uses none, whatever the mode). */
	keys[n] = "sslmode", values[n++] = pg_sslmode_names[server->sslmode];
	if (server->sslrootcert)
		keys[n] = "sslrootcert", values[n++] = server->sslrootcert;
	if (server->sslcert)
		keys[n] = "sslcert", values[n++] = server->sslcert;
	if (server->sslkey)
		keys[n] = "sslkey", values[n++] = server->sslkey;
	if (password)
		keys[n] = "password", values[n++] = password;
	if (capture)
		keys[n] = "options", values[n++] = CAPTURE_SESSION_OPTIONS;
	if (replication)
		keys[n] = "replication", values[n++] = "database";
	keys[n] = NULL, values[n] = NULL;

	if (!peer_identity_enter(values[0], password_file, user, &peer)) {
		secret_free(password);
		return NULL; /* errors already logged */
	}
	conn = connect_params(keys, values, &stopped);
	peer_identity_leave(peer);
	secret_free(password);
	if (stopped) {
		log_info("%s: stopped while connecting to %s", label, pgsql_where(server, role));
		if (error)
			*error = xstrdup("stopped");
		return NULL;
	}
	if ((!conn || PQstatus(conn) != CONNECTION_OK) && error) {
		*error = xstrdup(conn ? conn_error(conn) : "timeout expired");
		PQfinish(conn);
		return NULL;
	}
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		log_error("%s: cannot connect to %s as %s (database %s): %s", label,
			  pgsql_where(server, role), user, dbname ? dbname : server->dbname,
			  conn ? conn_error(conn) : "timeout expired");
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice_to_debug, NULL);
	return conn;
}

PGconn *pgsql_connect(const char *label, const struct pg_server_cfg *server, enum pg_role role,
		      const char *dbname)
{
	return connect_with(label, server, role, dbname, false, false, NULL);
}

PGconn *pgsql_connect_quiet(const char *label, const struct pg_server_cfg *server,
			    enum pg_role role, const char *dbname, char **error)
{
	*error = NULL;
	return connect_with(label, server, role, dbname, false, false, error);
}

PGconn *pgsql_connect_capture(const char *label, const struct pg_server_cfg *server,
			      bool replication)
{
	return connect_with(label, server, PG_AS_USER, NULL, true, replication, NULL);
}

/* Asks the server to cancel conn's running statement without waiting for
 * it: PQcancel waits for the server to close the cancel connection, forever
 * when the server is stopped.  A child sends it (PQcancel is
 * async-signal-safe, as a forked child of a threaded process needs), and
 * gives up after a few seconds. */
static void cancel_detached(PGconn *conn)
{
	PGcancel *cancel = PQgetCancel(conn);
	pid_t pid;

	if (!cancel)
		return;
	pid = fork();
	if (pid == 0) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		char err[256];

		sigaction(SIGALRM, &dfl, NULL);
		alarm(5);
		(void)PQcancel(cancel, err, sizeof(err));
		_exit(0);
	}
	PQfreeCancel(cancel);
}

/* Waits for conn's statement, sent in non-blocking mode, to be sent and its
 * next result to be ready; false when the stop flag was set meanwhile. */
static bool result_wait(PGconn *conn)
{
	for (;;) {
		int flush = PQflush(conn);

		if (flush < 0)
			return true; /* PQgetResult reports the error */
		if (flush == 0 && !PQisBusy(conn))
			return true;
		if (!socket_wait(conn, POLLIN | (flush ? POLLOUT : 0), STOP_POLL_MS))
			return false;
		if (!PQconsumeInput(conn))
			return true; /* the connection broke: PQgetResult says why */
	}
}

/* PQexec (nparams < 0: the simple protocol, multiple statements) or
 * PQexecParams, except that with a stop flag the wait for the server ends as
 * soon as it is set: the statement is then cancelled, NULL returned and
 * *stopped set.  The connection must then only be closed (its transaction,
 * never committed, is rolled back by the server). */
static PGresult *exec_sql(PGconn *conn, const char *sql, int nparams, const char *const *params,
			  bool *stopped)
{
	PGresult *res, *kept = NULL;
	int sent;

	*stopped = false;
	if (!stop_flag)
		return nparams < 0 ? PQexec(conn, sql)
				   : PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (stopping()) {
		*stopped = true;
		return NULL;
	}
	/* Non-blocking: a long statement sent to a server that stopped reading
	 * would block in send(). */
	if (PQsetnonblocking(conn, 1) != 0)
		return NULL; /* PQerrorMessage says why */
	sent = nparams < 0 ? PQsendQuery(conn, sql)
			   : PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (!sent) {
		(void)PQsetnonblocking(conn, 0);
		return NULL; /* PQerrorMessage says why */
	}
	/* As PQexec: the first error, else the last result. */
	for (;;) {
		if (!result_wait(conn)) {
			cancel_detached(conn);
			PQclear(kept);
			*stopped = true;
			return NULL;
		}
		res = PQgetResult(conn);
		if (!res)
			break;
		if (kept && (PQresultStatus(kept) == PGRES_FATAL_ERROR)) {
			PQclear(res);
			continue;
		}
		PQclear(kept);
		kept = res;
		if (PQresultStatus(res) == PGRES_COPY_BOTH || PQresultStatus(res) == PGRES_COPY_IN ||
		    PQresultStatus(res) == PGRES_COPY_OUT)
			break; /* the caller goes on with the copy */
	}
	(void)PQsetnonblocking(conn, 0);
	return kept;
}

/* A statement that ended on the stop flag: said once, not as an error. */
static void note_stopped(const char *label)
{
	static bool said;

	if (!said)
		log_info("%s: stopping: no statement waits any longer, an open transaction is rolled back",
			 label);
	said = true;
}

static bool result_ok(PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* The server's message without its trailing newline. */
static const char *result_error(PGresult *res)
{
	return pgsql_first_line(res ? PQresultErrorMessage(res) : "out of memory");
}

/* Logs why a statement failed; res NULL: it did not get a result. */
static void log_failure(PGconn *conn, const char *label, PGresult *res, bool stopped,
			const char *sql)
{
	if (stopped)
		note_stopped(label);
	else
		log_error("%s: %s (while running: %s)", label,
			  res ? result_error(res) : pgsql_first_line(PQerrorMessage(conn)), sql);
}

bool pgsql_exec(PGconn *conn, const char *label, const char *sql)
{
	bool stopped;
	PGresult *res = exec_sql(conn, sql, -1, NULL, &stopped);
	bool ok = result_ok(res);

	if (!ok)
		log_failure(conn, label, res, stopped, sql);
	PQclear(res);
	return ok;
}

bool pgsql_exec_why(PGconn *conn, const char *label, const char *sql, struct strbuf *why)
{
	bool stopped;
	PGresult *res = exec_sql(conn, sql, -1, NULL, &stopped);
	bool ok = result_ok(res);

	if (!ok) {
		log_failure(conn, label, res, stopped, sql);
		strbuf_adds(why, stopped ? "stopped"
				 : res	 ? result_error(res)
					 : pgsql_first_line(PQerrorMessage(conn)));
	}
	PQclear(res);
	return ok;
}

bool pgsql_exec_secret(PGconn *conn, const char *label, const char *what, const char *sql)
{
	/* Sent as separate statements: a multi-statement string is logged
	 * whole, before SET LOCAL could take effect.  Every setting that can
	 * make the server log a statement's text: log_statement, the duration
	 * thresholds (log_min_duration_statement, and log_min_duration_sample
	 * with its log_statement_sample_rate), errors (log_min_error_statement).
	 * Bind parameters (log_parameter_max_length*) do not apply: the
	 * statement has none.  auto_explain sees only planned queries, never
	 * CREATE/ALTER ROLE; pg_stat_statements keeps utility statements' text
	 * (track_utility), so that is off too (a mere placeholder setting
	 * where the module is not loaded). */
	static const char *const quiet[] = {
		"SET LOCAL log_statement = 'none'",
		"SET LOCAL log_min_duration_statement = -1",
		"SET LOCAL log_min_duration_sample = -1",
		"SET LOCAL log_statement_sample_rate = 0",
		"SET LOCAL log_min_error_statement = 'panic'",
		"SET LOCAL pg_stat_statements.track_utility = off",
	};
	PGresult *res;
	bool ok;

	/* log_transaction_sample_rate logs every statement of a sampled
	 * transaction, and the server draws at the transaction's start: it
	 * must be 0 before BEGIN, so it is set for the session around it. */
	if (!pgsql_exec(conn, label, "SET log_transaction_sample_rate = 0"))
		return false; /* errors already logged */
	ok = pgsql_exec(conn, label, "BEGIN");
	for (size_t i = 0; ok && i < ARRAY_LEN(quiet); i++)
		ok = pgsql_exec(conn, label, quiet[i]);
	if (ok) {
		bool stopped;

		res = exec_sql(conn, sql, -1, NULL, &stopped);
		ok = result_ok(res);
		if (stopped)
			note_stopped(label);
		else if (!ok)
			log_error("%s: %s failed: %s", label, what,
				  res ? result_error(res) : pgsql_first_line(PQerrorMessage(conn)));
		PQclear(res);
	}
	ok = ok && pgsql_exec(conn, label, "COMMIT");
	if (!ok)
		pgsql_rollback(conn);
	return pgsql_exec(conn, label, "RESET log_transaction_sample_rate") && ok;
}

void pgsql_rollback(PGconn *conn)
{
	bool stopped;

	PQclear(exec_sql(conn, "ROLLBACK", -1, NULL, &stopped));
}

bool pgsql_query(PGconn *conn, const char *label, const char *sql, int nparams,
		 const char *const *params, PGresult **res)
{
	bool stopped;

	*res = exec_sql(conn, sql, nparams, params, &stopped);
	if (result_ok(*res))
		return true;
	log_failure(conn, label, *res, stopped, sql);
	PQclear(*res);
	*res = NULL;
	return false;
}

bool pgsql_query_unless(PGconn *conn, const char *label, const char *sql, int nparams,
			const char *const *params, const char *sqlstate, bool *hit, PGresult **res)
{
	const char *state;

	bool stopped;

	*hit = false;
	*res = exec_sql(conn, sql, nparams, params, &stopped);
	if (result_ok(*res))
		return true;
	state = *res ? PQresultErrorField(*res, PG_DIAG_SQLSTATE) : NULL;
	*hit = state && strcmp(state, sqlstate) == 0;
	if (!*hit)
		log_failure(conn, label, *res, stopped, sql);
	PQclear(*res);
	*res = NULL;
	return false;
}

bool pgsql_query_simple(PGconn *conn, const char *label, const char *sql, PGresult **res)
{
	/* nparams -1: exec_sql's simple protocol */
	return pgsql_query(conn, label, sql, -1, NULL, res);
}

bool pgsql_query_value(PGconn *conn, const char *label, const char *sql, int nparams,
		       const char *const *params, char **value)
{
	PGresult *res;

	*value = NULL;
	if (!pgsql_query(conn, label, sql, nparams, params, &res))
		return false; /* errors already logged */
	if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
		*value = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

/* ---- COPY ------------------------------------------------------------------ */

bool pgsql_copy_out_begin(PGconn *conn, const char *label, const char *sql)
{
	bool stopped;
	PGresult *res = exec_sql(conn, sql, -1, NULL, &stopped);
	bool ok = res && PQresultStatus(res) == PGRES_COPY_OUT;

	if (!ok)
		log_failure(conn, label, res, stopped, sql);
	PQclear(res);
	return ok;
}

/* The result that follows a COPY's data: its command's, and none after. */
static bool copy_result(PGconn *conn, const char *label, const char *what, const char *sqlstate,
			bool *hit)
{
	PGresult *res;
	bool ok = true, stopped = false;

	for (;;) {
		if (stop_flag && !result_wait(conn)) {
			cancel_detached(conn);
			stopped = true;
			break;
		}
		res = PQgetResult(conn);
		if (!res)
			break;
		if (ok && PQresultStatus(res) != PGRES_COMMAND_OK) {
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			ok = false;
			if (sqlstate && state && strcmp(state, sqlstate) == 0)
				*hit = true;
			else
				log_failure(conn, label, res, false, what);
		}
		PQclear(res);
	}
	if (stopped)
		note_stopped(label);
	return ok && !stopped;
}

int pgsql_copy_out_row(PGconn *conn, const char *label, char **row, bool wait)
{
	bool consumed = false; /* without wait: the socket was read once */

	for (;;) {
		int n = PQgetCopyData(conn, row, 1);

		if (n > 0)
			return n;
		if (n == -1)
			return copy_result(conn, label, "COPY TO STDOUT", NULL, NULL) ? 0 : -1;
		if (n == -2) {
			log_error("%s: %s (while reading COPY's rows)", label,
				  pgsql_first_line(PQerrorMessage(conn)));
			return -1;
		}
		if (!wait && consumed)
			return -2;
		if (wait && !socket_wait(conn, POLLIN, STOP_POLL_MS)) {
			cancel_detached(conn);
			note_stopped(label);
			return -1;
		}
		if (!PQconsumeInput(conn)) {
			log_error("%s: %s (while reading COPY's rows)", label,
				  pgsql_first_line(PQerrorMessage(conn)));
			return -1;
		}
		consumed = true;
	}
}

/* Sends what libpq holds; false when the stop flag was set meanwhile or
 * the connection broke (PQerrorMessage says which). */
static bool flush_wait(PGconn *conn, bool *stopped)
{
	int f;

	while ((f = PQflush(conn)) == 1) {
		if (!socket_wait(conn, POLLOUT | POLLIN, STOP_POLL_MS)) {
			*stopped = true;
			return false;
		}
		if (!PQconsumeInput(conn))
			return false;
	}
	return f == 0;
}

bool pgsql_copy_in(PGconn *conn, const char *label, const char *sql, const char *data, size_t len,
		   const char *sqlstate, bool *hit)
{
	/* Pieces of a megabyte: libpq copies each into its output buffer. */
	const size_t piece = (size_t)1 << 20;
	bool stopped = false, ok;
	PGresult *res = exec_sql(conn, sql, -1, NULL, &stopped);

	*hit = false;
	ok = res && PQresultStatus(res) == PGRES_COPY_IN;
	if (!ok) {
		log_failure(conn, label, res, stopped, sql);
		PQclear(res);
		return false;
	}
	PQclear(res);
	ok = PQsetnonblocking(conn, 1) == 0;
	for (size_t off = 0; ok && off < len;) {
		size_t n = len - off < piece ? len - off : piece;
		int put = PQputCopyData(conn, data + off, (int)n);

		if (put < 0)
			ok = false;
		else if (put > 0)
			off += n;
		ok = ok && flush_wait(conn, &stopped);
	}
	if (ok) {
		int end;

		while ((end = PQputCopyEnd(conn, NULL)) == 0 && flush_wait(conn, &stopped))
			;
		ok = end > 0 && flush_wait(conn, &stopped);
	}
	if (!ok) {
		(void)PQsetnonblocking(conn, 0);
		if (stopped) {
			cancel_detached(conn);
			note_stopped(label);
		} else {
			log_error("%s: %s (while sending COPY's rows: %s)", label,
				  pgsql_first_line(PQerrorMessage(conn)), sql);
		}
		return false;
	}
	ok = copy_result(conn, label, sql, sqlstate, hit);
	(void)PQsetnonblocking(conn, 0);
	return ok;
}

static char *libpq_string(char *s)
{
	char *copy;

	if (!s) {
		fputs("cdc-agent: error: out of memory while quoting\n", stderr);
		abort();
	}
	copy = xstrdup(s);
	PQfreemem(s);
	return copy;
}

char *pgsql_quote_ident(PGconn *conn, const char *ident)
{
	return libpq_string(PQescapeIdentifier(conn, ident, strlen(ident)));
}

char *pgsql_quote_literal(PGconn *conn, const char *literal)
{
	return libpq_string(PQescapeLiteral(conn, literal, strlen(literal)));
}
