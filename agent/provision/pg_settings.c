/*
 * agent/provision/pg_settings.c: the server settings logical decoding needs.
 *
 * Why ALTER SYSTEM rather than a conf.d file: it works over the same libpq
 * connection as every other step (no file access to the server's config
 * directory, which Debian keeps apart from the data directory), PostgreSQL
 * writes postgresql.auto.conf atomically itself, and that file is read last,
 * so pg_file_settings tells exactly which value will win after a restart.
 * The agent issues ALTER SYSTEM only when the value that will win does not
 * already satisfy the topology, so a second run writes nothing.
 */
#include "provision/pg_settings.h"

#include "base/log.h"
#include "base/util.h"
#include "config/topo_values.h"

#include <stdlib.h>
#include <string.h>

enum want_kind {
	WANT_EXACT,          /* the value must be text */
	WANT_AT_LEAST,       /* a number at least number */
	WANT_SIZE_MB,        /* a size of exactly number MB (PostgreSQL's unit for it) */
};

struct wanted_setting {
	const char *name;
	enum want_kind kind;
	const char *text;
	int64_t number;
	bool reload;         /* context sighup: a reload applies it, no restart */
};

#define MIB (1LL << 20)

static bool satisfies(const struct wanted_setting *w, const char *value)
{
	struct strbuf err;
	int64_t bytes;
	bool ok;

	switch (w->kind) {
	case WANT_EXACT:
		return strcmp(value, w->text) == 0;
	case WANT_AT_LEAST:
		return atoi(value) >= w->number;
	case WANT_SIZE_MB:
		/* pg_settings shows MB without a unit; the file has what was
		 * written ("10GB"); "-1" is no size. */
		strbuf_init(&err);
		ok = size_parse(value, MIB, &bytes, &err) && bytes == w->number * MIB;
		strbuf_fini(&err);
		return ok;
	}
	return false;
}

static char *wanted_value(const struct wanted_setting *w)
{
	switch (w->kind) {
	case WANT_EXACT:
		return xstrdup(w->text);
	case WANT_AT_LEAST:
		return xasprintf("%lld", (long long)w->number);
	case WANT_SIZE_MB:
		break;
	}
	return xasprintf("%lldMB", (long long)w->number);
}

struct setting_state {
	char *running;       /* pg_settings.setting */
	char *configured;    /* what will win at the next start */
};

static bool setting_inspect(const struct pg_step_ctx *ctx, PGconn *admin, const char *name,
			    struct setting_state *st)
{
	const char *params[] = { name };
	PGresult *res;

	memset(st, 0, sizeof(*st));
	if (!pgsql_query(admin, ctx->label,
			 "SELECT s.setting, "
			 "       (SELECT f.setting FROM pg_file_settings f WHERE f.name = s.name "
			 "        ORDER BY f.seqno DESC LIMIT 1) "
			 "FROM pg_settings s WHERE s.name = $1",
			 1, params, &res))
		return false; /* errors already logged */
	if (PQntuples(res) != 1) {
		log_error("%s: server at %s has no setting %s", ctx->label,
			  pgsql_where(ctx->server, PG_AS_ADMIN), name);
		PQclear(res);
		return false;
	}
	st->running = xstrdup(PQgetvalue(res, 0, 0));
	st->configured = xstrdup(PQgetisnull(res, 0, 1) ? st->running : PQgetvalue(res, 0, 1));
	PQclear(res);
	return true;
}

static bool setting_converge(const struct pg_step_ctx *ctx, PGconn *admin,
			     const struct wanted_setting *w, struct strlist *restart_reasons)
{
	struct setting_state st;
	char *value, *sql;
	bool ok = true;

	if (!setting_inspect(ctx, admin, w->name, &st))
		return false; /* errors already logged */
	value = wanted_value(w);
	if (!satisfies(w, st.configured)) {
		change_record(ctx->changes, ctx->label, "set %s = %s (configured: %s)", w->name,
			      value, st.configured);
		if (ctx->changes->apply) {
			sql = xasprintf("ALTER SYSTEM SET %s = '%s'", w->name, value);
			ok = pgsql_exec(admin, ctx->label, sql);
			free(sql);
		}
	}
	/* The others have context "postmaster": a running value that falls
	 * short can only change by a restart. */
	if (ok && !w->reload && !satisfies(w, st.running)) {
		char *reason = xasprintf("%s: %s -> %s", w->name, st.running, value);

		strlist_add(restart_reasons, reason);
		free(reason);
	}
	free(value);
	free(st.running);
	free(st.configured);
	return ok;
}

bool pg_settings_converge(const struct pg_step_ctx *ctx, PGconn *admin,
			  const struct source_cfg *src, struct strlist *restart_reasons)
{
	/* max_slot_wal_keep_size rounded up to PostgreSQL's unit for it. */
	const struct wanted_setting wanted[] = {
		{ "wal_level", WANT_EXACT, "logical", 0, false },
		{ "max_replication_slots", WANT_AT_LEAST, NULL, src->max_replication_slots, false },
		{ "max_wal_senders", WANT_AT_LEAST, NULL, src->max_wal_senders, false },
		{ "max_slot_wal_keep_size", WANT_SIZE_MB, NULL,
		  (src->max_slot_wal_keep_size + MIB - 1) / MIB, true },
	};
	/* -1: the operator's (or the default) value stays. */
	size_t n_wanted = ARRAY_LEN(wanted) - (src->max_slot_wal_keep_size < 0);
	size_t before = ctx->changes->n;

	for (size_t i = 0; i < n_wanted; i++)
		if (!setting_converge(ctx, admin, &wanted[i], restart_reasons))
			return false; /* errors already logged */
	if (ctx->changes->apply && ctx->changes->n > before)
		return pgsql_exec(admin, ctx->label, "SELECT pg_reload_conf()");
	return true;
}
