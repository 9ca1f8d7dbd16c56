/*
 * agent/pgsql.c: libpq connections and queries with the agent's error idiom.
 */
#include "pgsql.h"

#include "files.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* libpq's messages end with a newline (and may go on with DETAIL lines):
 * their first line, for one-line logs; static buffer. */
static const char *first_line(const char *message)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "%s", message);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static const char *conn_error(PGconn *conn)
{
	return first_line(conn ? PQerrorMessage(conn) : "out of memory");
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
	const char *keys[10], *values[10];
	char port[16], *password = NULL;
	const char *password_file = role == PG_AS_ADMIN ? server->admin_password_file
						       : server->password_file;
	const char *user = role == PG_AS_ADMIN ? server->admin_user : server->user;
	PGconn *conn;
	bool peer;
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
	conn = PQconnectdbParams(keys, values, 0);
	peer_identity_leave(peer);
	secret_free(password);
	if ((!conn || PQstatus(conn) != CONNECTION_OK) && error) {
		*error = xstrdup(conn_error(conn));
		PQfinish(conn);
		return NULL;
	}
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		log_error("%s: cannot connect to %s as %s (database %s): %s", label,
			  pgsql_where(server, role), user, dbname ? dbname : server->dbname,
			  conn_error(conn));
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

static bool result_ok(PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* The server's message without its trailing newline. */
static const char *result_error(PGresult *res)
{
	return first_line(res ? PQresultErrorMessage(res) : "out of memory");
}

bool pgsql_exec(PGconn *conn, const char *label, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	bool ok = result_ok(res);

	if (!ok)
		log_error("%s: %s (while running: %s)", label, result_error(res), sql);
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
		res = PQexec(conn, sql);
		ok = result_ok(res);
		if (!ok)
			log_error("%s: %s failed: %s", label, what, result_error(res));
		PQclear(res);
	}
	ok = ok && pgsql_exec(conn, label, "COMMIT");
	if (!ok)
		pgsql_rollback(conn);
	return pgsql_exec(conn, label, "RESET log_transaction_sample_rate") && ok;
}

void pgsql_rollback(PGconn *conn)
{
	PQclear(PQexec(conn, "ROLLBACK"));
}

bool pgsql_query(PGconn *conn, const char *label, const char *sql, int nparams,
		 const char *const *params, PGresult **res)
{
	*res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (result_ok(*res))
		return true;
	log_error("%s: %s (while running: %s)", label, result_error(*res), sql);
	PQclear(*res);
	*res = NULL;
	return false;
}

bool pgsql_query_unless(PGconn *conn, const char *label, const char *sql, int nparams,
			const char *const *params, const char *sqlstate, bool *hit, PGresult **res)
{
	const char *state;

	*hit = false;
	*res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (result_ok(*res))
		return true;
	state = PQresultErrorField(*res, PG_DIAG_SQLSTATE);
	*hit = state && strcmp(state, sqlstate) == 0;
	if (!*hit)
		log_error("%s: %s (while running: %s)", label, result_error(*res), sql);
	PQclear(*res);
	*res = NULL;
	return false;
}

bool pgsql_query_simple(PGconn *conn, const char *label, const char *sql, PGresult **res)
{
	*res = PQexec(conn, sql);
	if (result_ok(*res))
		return true;
	log_error("%s: %s (while running: %s)", label, result_error(*res), sql);
	PQclear(*res);
	*res = NULL;
	return false;
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
