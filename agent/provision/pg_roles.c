/*
 * agent/provision/pg_roles.c: the pipeline roles (replication user, target user).
 *
 * The password is turned into a SCRAM verifier on the client side
 * (PQencryptPasswordConn), so the plain text never reaches the server, and
 * the statement that carries the verifier runs with statement logging off.
 * An existing role's password converges: its stored verifier is checked
 * against the password file (scram.c) and reset only when they differ.
 */
#include "base/files.h"
#include "base/log.h"
#include "base/util.h"
#include "pg/scram.h"
#include "provision/pg_step.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void pg_step_error_at_key(const struct pg_step_ctx *ctx, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_error_at(ctx->origin->file, topology_key_line(ctx->origin, ctx->section_kind, key),
		     "%s: %s", ctx->label, msg);
	free(msg);
}

struct role_state {
	bool exists;
	bool login;
	bool replication;
	char *verifier;      /* pg_authid.rolpassword; NULL if none */
};

static bool role_inspect(const struct pg_step_ctx *ctx, PGconn *admin, const char *role,
			 struct role_state *st)
{
	const char *params[] = { role };
	PGresult *res;

	memset(st, 0, sizeof(*st));
	if (!pgsql_query(admin, ctx->label,
			 "SELECT rolcanlogin, rolreplication, rolpassword FROM pg_authid "
			 "WHERE rolname = $1",
			 1, params, &res))
		return false; /* errors already logged */
	if (PQntuples(res) == 1) {
		st->exists = true;
		st->login = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		st->replication = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		if (!PQgetisnull(res, 0, 2))
			st->verifier = xstrdup(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return true;
}

/* Runs CREATE/ALTER ROLE ... PASSWORD '<verifier>' in its own quiet
 * transaction (pgsql_exec_secret). */
static bool role_write(const struct pg_step_ctx *ctx, PGconn *admin, const char *verb,
		       const char *role, const char *attrs, const char *password)
{
	char *verifier = PQencryptPasswordConn(admin, password, role, "scram-sha-256");
	char *ident, *literal, *sql, *what;
	bool ok;

	if (!verifier) {
		log_error("%s: cannot compute the SCRAM verifier for role %s: %s", ctx->label,
			  role, PQerrorMessage(admin));
		return false;
	}
	ident = pgsql_quote_ident(admin, role);
	literal = pgsql_quote_literal(admin, verifier);
	sql = xasprintf("%s ROLE %s WITH %s PASSWORD %s", verb, ident, attrs, literal);
	what = xasprintf("%s ROLE %s", verb, role);
	ok = pgsql_exec_secret(admin, ctx->label, what, sql);
	explicit_bzero(sql, strlen(sql));
	explicit_bzero(literal, strlen(literal));
	free(sql);
	free(literal);
	free(ident);
	free(what);
	PQfreemem(verifier);
	return ok;
}

bool pg_role_converge(const struct pg_step_ctx *ctx, PGconn *admin, bool replication)
{
	const char *role = ctx->server->user;
	const char *attrs = replication ? "LOGIN REPLICATION" : "LOGIN";
	struct role_state st;
	char *password = NULL;
	bool password_ok, attrs_ok, ok = true;

	if (!role_inspect(ctx, admin, role, &st) ||
	    !secret_read(ctx->server->password_file, &password))
		return false; /* errors already logged */
	password_ok = st.exists && scram_verifier_matches(st.verifier, password);
	attrs_ok = st.exists && st.login && (!replication || st.replication);

	if (!st.exists) {
		change_record(ctx->changes, ctx->label,
			      "create role %s (%s, password from %s)", role, attrs,
			      ctx->server->password_file);
		if (ctx->changes->apply)
			ok = role_write(ctx, admin, "CREATE", role, attrs, password);
	} else {
		if (!attrs_ok)
			change_record(ctx->changes, ctx->label, "alter role %s: grant %s", role,
				      attrs);
		if (!password_ok)
			change_record(ctx->changes, ctx->label,
				      "set the password of role %s from %s (stored: %s)", role,
				      ctx->server->password_file,
				      !st.verifier ? "none"
				      : strncmp(st.verifier, "SCRAM-SHA-256$", 14) == 0
					      ? "a different one"
					      : "MD5");
		if (ctx->changes->apply && (!attrs_ok || !password_ok))
			ok = role_write(ctx, admin, "ALTER", role, attrs, password);
	}
	secret_free(password);
	free(st.verifier);
	return ok;
}
