/*
 * agent/pg/pgsql.h: libpq connections and queries with the agent's error idiom.
 *
 * Every function logs failures with the caller's label ("source db1") and the
 * server address, never with a password or the text of a statement that may
 * carry one.
 */
#ifndef CDC_PGSQL_H
#define CDC_PGSQL_H

#include "base/common.h"
#include "config/topology.h"

#include <libpq-fe.h>
#include <signal.h>

enum pg_role { PG_AS_ADMIN, PG_AS_USER };

/* For a process that must stop promptly on a signal (capture, apply): from
 * here on, connecting and every statement run by the functions below wait
 * for the server in slices and give up as soon as *flag is set (a statement
 * running is cancelled; its failure is logged once, as a stop, not as an
 * error); once set, they fail at once.  The connect gives up after
 * connect_timeout (10 s) as before.  Without it, libpq's blocking calls. */
void pgsql_stop_on(const volatile sig_atomic_t *flag);

/* Connects to server as its admin or its pipeline user; dbname NULL means the
 * role's default database.  Returns NULL on failure (logged).  Caller closes
 * with PQfinish(). */
PGconn *pgsql_connect(const char *label, const struct pg_server_cfg *server, enum pg_role role,
		      const char *dbname);

/* As pgsql_connect, but logs nothing when the server cannot be reached:
 * *error is then the first line of libpq's message (caller frees).  For
 * monitoring, where an unreachable server is a state to report. */
PGconn *pgsql_connect_quiet(const char *label, const struct pg_server_cfg *server,
			    enum pg_role role, const char *dbname, char **error);

/* Connects as the pipeline user with the session settings event encoding
 * relies on (ISO dates, UTC, ISO intervals, exact floats); replication
 * opens a logical replication connection (replication=database). */
PGconn *pgsql_connect_capture(const char *label, const struct pg_server_cfg *server,
			      bool replication);

/* Runs a statement that returns no rows. */
MUST_CHECK bool pgsql_exec(PGconn *conn, const char *label, const char *sql);
/* pgsql_exec that also appends the server's error (its first line) to
 * *why, for a message naming what the statement was for. */
MUST_CHECK bool pgsql_exec_why(PGconn *conn, const char *label, const char *sql,
			       struct strbuf *why);

/* Runs a statement that may carry a secret in a transaction of its own
 * (the caller has none open): its text is never logged here, and the server
 * is told not to log it either (no statement, duration, sample or error log
 * line).  what names it for error messages ("ALTER ROLE cdc_user"). */
MUST_CHECK bool pgsql_exec_secret(PGconn *conn, const char *label, const char *what,
				  const char *sql);

/* Ends a failed transaction; its own failure leaves nothing to undo. */
void pgsql_rollback(PGconn *conn);

/* Runs a query with text parameters; *res is the result, caller PQclear()s. */
MUST_CHECK bool pgsql_query(PGconn *conn, const char *label, const char *sql, int nparams,
			    const char *const *params, PGresult **res);

/* pgsql_query, except that a failure with SQLSTATE sqlstate is not logged
 * but said by *hit: the caller has a plan for it. */
MUST_CHECK bool pgsql_query_unless(PGconn *conn, const char *label, const char *sql, int nparams,
				   const char *const *params, const char *sqlstate, bool *hit,
				   PGresult **res);

/* Runs a statement with the simple query protocol, which replication
 * connections require (CREATE_REPLICATION_SLOT, IDENTIFY_SYSTEM, ...). */
MUST_CHECK bool pgsql_query_simple(PGconn *conn, const char *label, const char *sql,
				   PGresult **res);

/* A query returning at most one row and one column: *value is NULL when no
 * row or SQL NULL came back, else a copy the caller frees. */
MUST_CHECK bool pgsql_query_value(PGconn *conn, const char *label, const char *sql, int nparams,
				  const char *const *params, char **value);

/* COPY ... TO STDOUT (text format): starts it; false (logged) unless the
 * server answered with rows to come. */
MUST_CHECK bool pgsql_copy_out_begin(PGconn *conn, const char *label, const char *sql);
/* The copy's next row: its length (> 0) with *row (one line, its newline
 * included; caller PQfreemem()s); 0 when the copy ended well; -1 when it
 * failed or the stop flag was set (logged); -2 when wait is false and no row
 * is ready yet (the caller waits on PQsocket). */
int pgsql_copy_out_row(PGconn *conn, const char *label, char **row, bool wait);
/* COPY ... FROM STDIN of data[0..len) (whole lines of COPY's text format).
 * A failure with SQLSTATE sqlstate (NULL: none) is not logged but said by
 * *hit, as pgsql_query_unless. */
MUST_CHECK bool pgsql_copy_in(PGconn *conn, const char *label, const char *sql, const char *data,
			      size_t len, const char *sqlstate, bool *hit);

/* Quoted identifier / literal for SQL text; caller frees. */
char *pgsql_quote_ident(PGconn *conn, const char *ident);
char *pgsql_quote_literal(PGconn *conn, const char *literal);

/* libpq's messages end with a newline (and may go on with DETAIL lines):
 * their first line, for one-line logs; static buffer, overwritten by the
 * next call. */
const char *pgsql_first_line(const char *message);

/* "host:port" of a connection, for messages; static buffer. */
const char *pgsql_where(const struct pg_server_cfg *server, enum pg_role role);

#endif
