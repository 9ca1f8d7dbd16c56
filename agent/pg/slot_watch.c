/*
 * agent/pg/slot_watch.c: what each replication slot costs its source in WAL.
 *
 * One query per source over the admin connection.  Sources may share a
 * server (two slots of one database, as the tests do): a slot another
 * source of the topology owns is left to that source's report, and the
 * orphans of a database are reported once, by its first source.
 */
#include "pg/slot_watch.h"

#include "base/util.h"
#include "pg/pgsql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* On a standby pg_current_wal_lsn() fails; what it replayed stands in. */
#define SLOTS_SQL                                                                          \
	"SELECT s.slot_name, s.active, s.wal_status, "                                     \
	"       pg_wal_lsn_diff(w.lsn, s.restart_lsn)::bigint, "                           \
	"       pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)::bigint, "                   \
	"       s.safe_wal_size "                                                          \
	"FROM pg_replication_slots s, "                                                    \
	"     (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "        \
	"             ELSE pg_current_wal_lsn() END AS lsn) w "                            \
	"WHERE s.slot_name = $1 "                                                          \
	"   OR (s.slot_type = 'logical' AND s.plugin = 'pgoutput' AND s.database = $2) "  \
	"ORDER BY s.slot_name <> $1, s.slot_name"

enum { COL_NAME, COL_ACTIVE, COL_WAL_STATUS, COL_RETAINED, COL_LAG, COL_SAFE };

struct reports {
	struct slot_report *items;
	size_t n, cap;
};

static struct slot_report *report_add(struct reports *rs, const struct source_cfg *src,
				      const char *slot, const char *pipeline)
{
	struct slot_report *r;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 8;
		rs->items = xrealloc(rs->items, rs->cap * sizeof(*rs->items));
	}
	r = &rs->items[rs->n++];
	memset(r, 0, sizeof(*r));
	r->source = xstrdup(src->name);
	r->slot = xstrdup(slot);
	r->pipeline = pipeline ? xstrdup(pipeline) : NULL;
	r->retained_bytes = r->confirmed_lag_bytes = r->safe_wal_bytes = -1;
	return r;
}

static const char *pipeline_of(const struct topology *topo, const struct source_cfg *src)
{
	for (size_t i = 0; i < topo->n_pipelines; i++)
		if (topo->pipelines[i].source == src)
			return topo->pipelines[i].name;
	return NULL;
}

/* Whether another source reports the slot: its owner, or, for an orphan, an
 * earlier source of the same database. */
static bool reported_elsewhere(const struct topology *topo, size_t self, const char *slot)
{
	const struct source_cfg *s = &topo->sources[self];

	for (size_t i = 0; i < topo->n_sources; i++) {
		const struct source_cfg *o = &topo->sources[i];

		if (i == self || !topology_same_server(&s->pg, &o->pg))
			continue;
		if (strcmp(o->slot, slot) == 0)
			return true;
		if (i < self && strcmp(o->pg.dbname, s->pg.dbname) == 0)
			return true;
	}
	return false;
}

static int64_t bigint_or_unknown(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? -1 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void report_fill(struct slot_report *r, const struct source_cfg *src,
			const PGresult *res, int row)
{
	r->exists = true;
	r->active = strcmp(PQgetvalue(res, row, COL_ACTIVE), "t") == 0;
	if (!PQgetisnull(res, row, COL_WAL_STATUS))
		snprintf(r->wal_status, sizeof(r->wal_status), "%s",
			 PQgetvalue(res, row, COL_WAL_STATUS));
	r->retained_bytes = bigint_or_unknown(res, row, COL_RETAINED);
	r->confirmed_lag_bytes = bigint_or_unknown(res, row, COL_LAG);
	/* safe_wal_size is NULL without max_slot_wal_keep_size (or for a
	 * lost slot); reported no lower than 0. */
	r->safe_wal_bytes = bigint_or_unknown(res, row, COL_SAFE);
	if (!PQgetisnull(res, row, COL_SAFE) && r->safe_wal_bytes < 0)
		r->safe_wal_bytes = 0;
	r->warn = (r->retained_bytes >= 0 && r->retained_bytes >= src->slot_warn_retained) ||
		  strcmp(r->wal_status, "unreserved") == 0 || strcmp(r->wal_status, "lost") == 0;
}

static void source_collect(const struct topology *topo, size_t self, struct reports *rs)
{
	const struct source_cfg *src = &topo->sources[self];
	const char *pipeline = pipeline_of(topo, src);
	const char *dbname = src->pg.admin_dbname ? src->pg.admin_dbname : src->pg.dbname;
	const char *params[] = { src->slot, src->pg.dbname };
	char *label = xasprintf("source %s", src->name), *error = NULL;
	PGconn *admin = pgsql_connect_quiet(label, &src->pg, PG_AS_ADMIN, dbname, &error);
	PGresult *res = NULL;

	if (admin) {
		res = PQexecParams(admin, SLOTS_SQL, 2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			error = xstrdup(pgsql_first_line(PQresultErrorMessage(res)));
	}
	if (error || !admin) {
		report_add(rs, src, src->slot, pipeline)->error =
			error ? error : xstrdup("cannot connect (see the log)");
		goto out;
	}
	/* The query sorts the source's own slot first; missing, it is still
	 * reported (capture creates it), so status can say so. */
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, COL_NAME), src->slot) != 0)
		report_add(rs, src, src->slot, pipeline);
	for (int row = 0; row < PQntuples(res); row++) {
		const char *name = PQgetvalue(res, row, COL_NAME);
		bool own = strcmp(name, src->slot) == 0;

		if (!own && reported_elsewhere(topo, self, name))
			continue;
		report_fill(report_add(rs, src, name, own ? pipeline : NULL), src, res, row);
	}
out:
	PQclear(res);
	PQfinish(admin);
	free(label);
}

bool slot_watch_collect(const struct topology *topo, struct slot_report **out, size_t *n)
{
	struct reports rs = { 0 };

	for (size_t i = 0; i < topo->n_sources; i++)
		/* A cluster across hosts: the capture host watches its source. */
		if (topology_source_here(topo, &topo->sources[i]))
			source_collect(topo, i, &rs);
	*out = rs.items;
	*n = rs.n;
	return true;
}

void slot_reports_free(struct slot_report *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].source);
		free(r[i].slot);
		free(r[i].pipeline);
		free(r[i].error);
	}
	free(r);
}
