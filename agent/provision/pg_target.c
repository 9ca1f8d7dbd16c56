/*
 * agent/provision/pg_target.c: provisioning of a [target].
 *
 * The runbook's steps, made idempotent:
 *   CREATE USER db2_user ...; CREATE DATABASE db2;
 *   GRANT ALL PRIVILEGES ON DATABASE db2 TO db2_user;
 *   \c db2  GRANT ALL ON SCHEMA public, ALL TABLES and ALL SEQUENCES in it.
 * Each grant is checked privilege by privilege (has_*_privilege with a list
 * answers "any of", not "all of").
 */
#include "provision/pg_target.h"

#include "base/log.h"
#include "base/util.h"
#include "provision/pg_step.h"

#include <stdlib.h>
#include <string.h>

static bool database_exists(const struct pg_step_ctx *ctx, PGconn *admin, bool *exists)
{
	const char *params[] = { ctx->server->dbname };
	char *found = NULL;

	if (!pgsql_query_value(admin, ctx->label, "SELECT 1 FROM pg_database WHERE datname = $1", 1,
			       params, &found))
		return false; /* errors already logged */
	*exists = found != NULL;
	free(found);
	return true;
}

static bool database_converge(const struct pg_step_ctx *ctx, PGconn *admin, bool *exists)
{
	char *db, *sql;
	bool ok;

	if (!database_exists(ctx, admin, exists))
		return false; /* errors already logged */
	if (*exists)
		return true;
	change_record(ctx->changes, ctx->label, "create database %s", ctx->server->dbname);
	if (!ctx->changes->apply)
		return true;
	db = pgsql_quote_ident(admin, ctx->server->dbname);
	sql = xasprintf("CREATE DATABASE %s", db);
	ok = pgsql_exec(admin, ctx->label, sql);
	*exists = ok;
	free(sql);
	free(db);
	return ok;
}

/* One GRANT ALL, checked privilege by privilege first.  check_sql takes
 * $1 = role and returns one row, true when every privilege is held. */
static bool grant_converge(const struct pg_step_ctx *ctx, PGconn *conn, const char *check_sql,
			   const char *what, const char *grant_on)
{
	const char *params[] = { ctx->server->user };
	/* In plan mode the role may not exist yet: then nothing is held. */
	char *sql = xasprintf("SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) "
			      "THEN (%s) ELSE false END",
			      check_sql);
	char *held = NULL;
	bool ok = pgsql_query_value(conn, ctx->label, sql, 1, params, &held);

	free(sql);
	if (!ok)
		return false; /* errors already logged */
	if (!held || strcmp(held, "t") != 0) {
		change_record(ctx->changes, ctx->label, "grant all privileges on %s to %s", what,
			      ctx->server->user);
		if (ctx->changes->apply) {
			char *role = pgsql_quote_ident(conn, ctx->server->user);
			char *grant = xasprintf("GRANT ALL PRIVILEGES ON %s TO %s", grant_on, role);

			ok = pgsql_exec(conn, ctx->label, grant);
			free(grant);
			free(role);
		}
	}
	free(held);
	return ok;
}

static bool database_grants_converge(const struct pg_step_ctx *ctx, PGconn *admin)
{
	char *db = pgsql_quote_ident(admin, ctx->server->dbname);
	char *lit = pgsql_quote_literal(admin, ctx->server->dbname);
	char *check = xasprintf("SELECT bool_and(has_database_privilege($1, %s, p)) "
				"FROM unnest(ARRAY['CREATE', 'CONNECT', 'TEMPORARY']) p",
				lit);
	char *what = xasprintf("database %s", ctx->server->dbname);
	char *on = xasprintf("DATABASE %s", db);
	bool ok = grant_converge(ctx, admin, check, what, on);

	free(on);
	free(what);
	free(check);
	free(lit);
	free(db);
	return ok;
}

/* Schema public, its tables and its sequences, in the target database. */
static bool schema_grants_converge(const struct pg_step_ctx *ctx, PGconn *conn)
{
	static const struct {
		const char *check;
		const char *what;
		const char *on;
	} grants[] = {
		{ "SELECT bool_and(has_schema_privilege($1, 'public', p)) "
		  "FROM unnest(ARRAY['USAGE', 'CREATE']) p",
		  "schema public", "SCHEMA public" },
		{ "SELECT coalesce(bool_and(has_table_privilege($1, c.oid, p)), true) "
		  "FROM pg_class c CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', "
		  "'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p "
		  "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
		  "all tables in schema public", "ALL TABLES IN SCHEMA public" },
		{ "SELECT coalesce(bool_and(has_sequence_privilege($1, c.oid, p)), true) "
		  "FROM pg_class c CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) p "
		  "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'",
		  "all sequences in schema public", "ALL SEQUENCES IN SCHEMA public" },
	};

	for (size_t i = 0; i < ARRAY_LEN(grants); i++)
		if (!grant_converge(ctx, conn, grants[i].check, grants[i].what, grants[i].on))
			return false; /* errors already logged */
	return true;
}

bool pg_target_converge(const struct target_cfg *tgt, struct change_list *changes)
{
	char *label = xasprintf("target %s", tgt->name);
	struct pg_step_ctx ctx = { label, "target", &tgt->pg, &tgt->origin, changes };
	PGconn *admin, *db_conn = NULL;
	bool exists = false, ok;

	admin = pgsql_connect(label, &tgt->pg, PG_AS_ADMIN, tgt->pg.admin_dbname);
	ok = admin != NULL;
	ok = ok && pg_role_converge(&ctx, admin, false);
	ok = ok && database_converge(&ctx, admin, &exists);
	ok = ok && pg_hba_converge(&ctx, admin, tgt->pg.dbname);
	if (ok && !exists) {
		/* plan mode: the database is not there to look into yet */
		change_record(changes, label, "grant all privileges on database %s, schema public, its tables and sequences to %s",
			      tgt->pg.dbname, tgt->pg.user);
	} else if (ok) {
		ok = database_grants_converge(&ctx, admin);
		db_conn = ok ? pgsql_connect(label, &tgt->pg, PG_AS_ADMIN, tgt->pg.dbname) : NULL;
		ok = ok && db_conn && schema_grants_converge(&ctx, db_conn);
	}
	PQfinish(db_conn);
	PQfinish(admin);
	free(label);
	return ok;
}
