/*
 * agent/provision/pg_source.c: provisioning of a [source].
 *
 * The slot is not created here: capture creates it together with the
 * exported snapshot its initial copy needs (a slot made earlier would
 * retain WAL with nobody reading it, and could not give that snapshot).
 * Here the slot is only checked when it already exists.
 */
#include "provision/pg_source.h"

#include "base/log.h"
#include "base/util.h"
#include "config/topo_values.h"
#include "pg/replica_identity.h"
#include "provision/pg_settings.h"
#include "provision/pg_step.h"
#include "systemd/systemd_bus.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESTART_TIMEOUT_SEC 120
#define RECONNECT_TIMEOUT_SEC 60

static char *table_name(PGconn *conn, const struct table_ref *t)
{
	char *schema = pgsql_quote_ident(conn, t->schema);
	char *table = pgsql_quote_ident(conn, t->table);
	char *name = xasprintf("%s.%s", schema, table);

	free(schema);
	free(table);
	return name;
}

/* relkind, relreplident, has a primary key, has a replica identity index,
 * for a partition its root's schema, its SQL name quoted only where it must
 * be (for the ALTER TABLE of a message), and for a partition its root's name
 * (schema and name apart: "a.b"."c" and "a"."b.c" are two tables). */
static const char table_facts_sql[] =
	"SELECT c.relkind, c.relreplident, "
	"  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
	"  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident), "
	"  rn.nspname, "
	"  quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
	"  r.relname "
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	"LEFT JOIN pg_class r ON c.relispartition AND r.oid = pg_partition_root(c.oid) "
	"LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace "
	"WHERE c.oid = to_regclass($1)";

/* The leaf partitions of a partitioned table, with what table_facts_sql
 * says of identity: an UPDATE or DELETE is checked against the partition
 * it changes, whose REPLICA IDENTITY is its own (not inherited). */
static const char leaves_sql[] =
	"SELECT n.nspname || '.' || c.relname, "
	"  quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relreplident, "
	"  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
	"  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) "
	"FROM pg_partition_tree(to_regclass($1)) t JOIN pg_class c ON c.oid = t.relid "
	"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.isleaf ORDER BY 1";

static bool is_true(PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

/* Whether the identity of the table (or of a partition of it) lets its
 * changes be replicated; refused with the ALTER TABLE that fixes it. */
static bool identity_check(const struct pg_step_ctx *ctx, const char *shown, const char *quoted,
			   char relreplident, bool has_pk, bool has_index, const char *of_table)
{
	enum identity_verdict v = replica_identity_judge(relreplident, has_pk, has_index);
	struct strbuf why;

	if (v == IDENTITY_OK)
		return true;
	strbuf_init(&why);
	replica_identity_explain(&why, v, shown, quoted);
	if (of_table)
		pg_step_error_at_key(ctx, "tables", "%s (a partition of listed table %s)", why.data,
				     of_table);
	else
		pg_step_error_at_key(ctx, "tables", "%s", why.data);
	strbuf_fini(&why);
	return false;
}

/* Every leaf partition of a listed partitioned table must be replicable. */
static bool leaves_check(const struct pg_step_ctx *ctx, PGconn *admin, const char *name,
			 const char *shown)
{
	const char *params[] = { name };
	PGresult *res;
	bool ok = true;

	if (!pgsql_query(admin, ctx->label, leaves_sql, 1, params, &res))
		return false; /* errors already logged */
	for (int r = 0; r < PQntuples(res); r++)
		ok = identity_check(ctx, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
				    PQgetvalue(res, r, 2)[0], is_true(res, r, 3), is_true(res, r, 4),
				    shown) && ok;
	PQclear(res);
	return ok;
}

/* A partition listed together with its root would be published twice (as
 * itself and through the root, publish_via_partition_root). */
static bool partition_check(const struct pg_step_ctx *ctx, const struct source_cfg *src,
			    const char *shown, const char *root_schema, const char *root_table)
{
	for (size_t i = 0; i < src->tables.n; i++) {
		const struct table_ref *t = &src->tables.items[i];

		if (strcmp(t->schema, root_schema) == 0 && strcmp(t->table, root_table) == 0) {
			char *root = table_ref_text(t);

			pg_step_error_at_key(ctx, "tables",
					     "table %s is a partition of %s, which is listed too: the "
					     "root's events carry its partitions' rows; list only %s",
					     shown, root, root);
			free(root);
			return false;
		}
	}
	return true;
}

/*
 * Each table must exist, and must be able to publish UPDATE and DELETE:
 * adding a table without primary key or replica identity to a publication
 * makes those statements fail on the source, an outage we refuse to cause.
 * Each such case is refused with its own message and the ALTER TABLE that
 * fixes it (replica_identity.c).
 */
static bool tables_check(const struct pg_step_ctx *ctx, PGconn *admin,
			 const struct source_cfg *src)
{
	bool ok = true;

	for (size_t i = 0; i < src->tables.n; i++) {
		char *name = table_name(admin, &src->tables.items[i]);
		char *shown = table_ref_text(&src->tables.items[i]);
		const char *params[] = { name };
		PGresult *res;

		if (!pgsql_query(admin, ctx->label, table_facts_sql, 1, params, &res)) {
			free(name);
			free(shown);
			return false; /* errors already logged */
		}
		if (PQntuples(res) == 0) {
			pg_step_error_at_key(ctx, "tables", "table %s does not exist in database %s",
					     shown, src->pg.dbname);
			ok = false;
		} else if (strchr("rp", PQgetvalue(res, 0, 0)[0]) == NULL) {
			pg_step_error_at_key(ctx, "tables", "%s is not a table", shown);
			ok = false;
		} else if (PQgetvalue(res, 0, 0)[0] == 'p') {
			/* The root's own identity is what the events' keys follow;
			 * the partitions' is what the source checks. */
			ok = identity_check(ctx, shown, PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 1)[0],
					    is_true(res, 0, 2), is_true(res, 0, 3), NULL) && ok;
			ok = leaves_check(ctx, admin, name, shown) && ok;
		} else {
			ok = identity_check(ctx, shown, PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 1)[0],
					    is_true(res, 0, 2), is_true(res, 0, 3), NULL) && ok;
			if (!PQgetisnull(res, 0, 4))
				ok = partition_check(ctx, src, shown, PQgetvalue(res, 0, 4),
						     PQgetvalue(res, 0, 6)) && ok;
		}
		PQclear(res);
		free(shown);
		free(name);
	}
	return ok;
}

/* USAGE on each schema of the tables: without it the role can neither
 * read a table of a schema other than public nor see its columns. */
static bool schema_grants_converge(const struct pg_step_ctx *ctx, PGconn *admin,
				   const struct source_cfg *src)
{
	struct strset seen = { 0 };
	bool ok = true;

	for (size_t i = 0; ok && i < src->tables.n; i++) {
		const char *schema = src->tables.items[i].schema;
		const char *params[] = { src->pg.user, schema };
		char *has = NULL;

		if (!strset_add(&seen, schema))
			continue;
		if (!pgsql_query_value(admin, ctx->label,
				       "SELECT has_schema_privilege($1, n.oid, 'USAGE') "
				       "FROM pg_namespace n, pg_roles r "
				       "WHERE n.nspname = $2 AND r.rolname = $1",
				       2, params, &has)) {
			ok = false; /* errors already logged */
			break;
		}
		if (!has || strcmp(has, "t") != 0) {
			char *shown = pg_ident_text(schema);

			change_record(ctx->changes, ctx->label, "grant USAGE on schema %s to %s", shown,
				      src->pg.user);
			free(shown);
			if (ctx->changes->apply) {
				char *ident = pgsql_quote_ident(admin, schema);
				char *role = pgsql_quote_ident(admin, src->pg.user);
				char *sql = xasprintf("GRANT USAGE ON SCHEMA %s TO %s", ident, role);

				ok = pgsql_exec(admin, ctx->label, sql);
				free(sql);
				free(role);
				free(ident);
			}
		}
		free(has);
	}
	strset_fini(&seen);
	return ok;
}

static bool grants_converge(const struct pg_step_ctx *ctx, PGconn *admin,
			    const struct source_cfg *src)
{
	bool ok = schema_grants_converge(ctx, admin, src);

	for (size_t i = 0; ok && i < src->tables.n; i++) {
		char *name = table_name(admin, &src->tables.items[i]);
		const char *params[] = { src->pg.user, name };
		char *has = NULL;

		if (!pgsql_query_value(admin, ctx->label,
				       "SELECT has_table_privilege($1, $2, 'SELECT') "
				       "FROM pg_roles WHERE rolname = $1",
				       2, params, &has)) {
			free(name);
			return false; /* errors already logged */
		}
		if (!has || strcmp(has, "t") != 0) {
			char *shown = table_ref_text(&src->tables.items[i]);

			change_record(ctx->changes, ctx->label, "grant SELECT on %s to %s", shown,
				      src->pg.user);
			free(shown);
			if (ctx->changes->apply) {
				char *role = pgsql_quote_ident(admin, src->pg.user);
				char *sql = xasprintf("GRANT SELECT ON TABLE %s TO %s", name, role);

				ok = pgsql_exec(admin, ctx->label, sql);
				free(sql);
				free(role);
			}
		}
		free(has);
		free(name);
	}
	return ok;
}

/* The publication's member tables as "schema.table" strings: its own
 * list (pg_publication_rel), where a partitioned table is itself whatever
 * publish_via_partition_root says (pg_publication_tables would show its
 * partitions while that is off). */
static bool publication_tables(const struct pg_step_ctx *ctx, PGconn *admin, const char *pub,
			       struct table_list *tables)
{
	const char *params[] = { pub };
	PGresult *res;

	if (!pgsql_query(admin, ctx->label,
			 "SELECT n.nspname, c.relname FROM pg_publication p "
			 "JOIN pg_publication_rel pr ON pr.prpubid = p.oid "
			 "JOIN pg_class c ON c.oid = pr.prrelid "
			 "JOIN pg_namespace n ON n.oid = c.relnamespace "
			 "WHERE p.pubname = $1 ORDER BY 1, 2",
			 1, params, &res))
		return false; /* errors already logged */
	tables->items = xcalloc((size_t)PQntuples(res) + 1, sizeof(struct table_ref));
	for (int i = 0; i < PQntuples(res); i++) {
		tables->items[i].schema = xstrdup(PQgetvalue(res, i, 0));
		tables->items[i].table = xstrdup(PQgetvalue(res, i, 1));
	}
	tables->n = (size_t)PQntuples(res);
	PQclear(res);
	return true;
}

static bool publication_alter(const struct pg_step_ctx *ctx, PGconn *admin, const char *verb,
			      const char *pub_ident, const char *table_sql)
{
	char *sql = xasprintf("ALTER PUBLICATION %s %s TABLE %s", pub_ident, verb, table_sql);
	bool ok = pgsql_exec(admin, ctx->label, sql);

	free(sql);
	return ok;
}

/* What the publication step may do with tables the topology removed. */
struct drop_policy {
	bool hold;   /* in: keep them (a capture may still stream them) */
	bool held;   /* out: some were kept */
};

/* Adds missing tables and drops extra ones, so the publication has exactly
 * the topology's tables (extra ones are kept while drops->hold). */
static bool publication_sync_tables(const struct pg_step_ctx *ctx, PGconn *admin,
				    const struct source_cfg *src, const char *pub_ident,
				    struct drop_policy *drops)
{
	struct table_list have = { 0 };
	struct strset have_names = { 0 }, want = { 0 };
	bool ok = publication_tables(ctx, admin, src->publication, &have);

	for (size_t i = 0; ok && i < have.n; i++) {
		char *key = table_ref_text(&have.items[i]);

		strset_add(&have_names, key);
		free(key);
	}
	for (size_t i = 0; ok && i < src->tables.n; i++) {
		char *key = table_ref_text(&src->tables.items[i]);

		strset_add(&want, key);
		if (!strset_contains(&have_names, key)) {
			char *name = table_name(admin, &src->tables.items[i]);

			change_record(ctx->changes, ctx->label, "add table %s to publication %s",
				      key, src->publication);
			if (ctx->changes->apply)
				ok = publication_alter(ctx, admin, "ADD", pub_ident, name);
			free(name);
		}
		free(key);
	}
	for (size_t i = 0; ok && i < have.n; i++) {
		char *key = table_ref_text(&have.items[i]);

		if (strset_contains(&want, key)) {
			free(key);
			continue;
		}
		if (drops->hold) {
			log_warn("%s: drop of table %s from publication %s deferred: a capture of "
				 "this source still runs with the previous configuration and may "
				 "stream it; it is restarted first",
				 ctx->label, key, src->publication);
			drops->held = true;
			free(key);
			continue;
		}
		change_record(ctx->changes, ctx->label, "drop table %s from publication %s", key,
			      src->publication);
		if (ctx->changes->apply) {
			char *name = table_name(admin, &have.items[i]);

			ok = publication_alter(ctx, admin, "DROP", pub_ident, name);
			free(name);
		}
		free(key);
	}
	table_list_fini(&have);
	strset_fini(&have_names);
	strset_fini(&want);
	return ok;
}

/* publish_via_partition_root = true: a listed partitioned table's changes
 * come as the root's (its name, its topic, its columns), whichever
 * partition they are in, and partitions attached later follow without a
 * change of the publication.  Harmless for other tables. */
static bool publication_via_root(const struct pg_step_ctx *ctx, PGconn *admin,
				 const struct source_cfg *src, const char *pub_ident, bool is_set)
{
	char *sql;
	bool ok;

	if (is_set)
		return true;
	change_record(ctx->changes, ctx->label,
		      "publish partitioned tables as their root in publication %s "
		      "(publish_via_partition_root = true)",
		      src->publication);
	if (!ctx->changes->apply)
		return true;
	sql = xasprintf("ALTER PUBLICATION %s SET (publish_via_partition_root = true)", pub_ident);
	ok = pgsql_exec(admin, ctx->label, sql);
	free(sql);
	return ok;
}

static bool publication_converge(const struct pg_step_ctx *ctx, PGconn *admin,
				 const struct source_cfg *src, struct drop_policy *drops)
{
	const char *params[] = { src->publication };
	char *pub_ident = pgsql_quote_ident(admin, src->publication);
	PGresult *res;
	bool ok = true;

	if (!pgsql_query(admin, ctx->label,
			 "SELECT puballtables, pubinsert AND pubupdate AND pubdelete AND pubtruncate, "
			 "       pubviaroot "
			 "FROM pg_publication WHERE pubname = $1",
			 1, params, &res)) {
		free(pub_ident);
		return false; /* errors already logged */
	}
	if (PQntuples(res) == 0) {
		struct strbuf tables, shown;

		strbuf_init(&tables);
		strbuf_init(&shown);
		for (size_t i = 0; i < src->tables.n; i++) {
			char *name = table_name(admin, &src->tables.items[i]);

			strbuf_addf(&tables, "%s%s", i ? ", " : "", name);
			char *text = table_ref_text(&src->tables.items[i]);

			strbuf_addf(&shown, "%s%s", i ? ", " : "", text);
			free(text);
			free(name);
		}
		change_record(ctx->changes, ctx->label, "create publication %s for table %s",
			      src->publication, shown.data);
		strbuf_fini(&shown);
		if (ctx->changes->apply) {
			char *sql = xasprintf("CREATE PUBLICATION %s FOR TABLE %s "
					      "WITH (publish_via_partition_root = true)",
					      pub_ident, tables.data);

			ok = pgsql_exec(admin, ctx->label, sql);
			free(sql);
		}
		strbuf_fini(&tables);
	} else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		pg_step_error_at_key(ctx, "publication",
				     "publication %s is FOR ALL TABLES; the agent manages only publications of listed tables (use another name)",
				     src->publication);
		ok = false;
	} else {
		if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
			change_record(ctx->changes, ctx->label,
				      "publish insert, update, delete and truncate in publication %s",
				      src->publication);
			if (ctx->changes->apply) {
				char *sql = xasprintf("ALTER PUBLICATION %s SET (publish = "
						      "'insert, update, delete, truncate')",
						      pub_ident);

				ok = pgsql_exec(admin, ctx->label, sql);
				free(sql);
			}
		}
		/* Before the tables: a partitioned table's membership reads the
		 * same either way, but its changes come as the root's only with it. */
		ok = ok && publication_via_root(ctx, admin, src, pub_ident,
						strcmp(PQgetvalue(res, 0, 2), "t") == 0);
		ok = ok && publication_sync_tables(ctx, admin, src, pub_ident, drops);
	}
	PQclear(res);
	free(pub_ident);
	return ok;
}

/* An existing slot must be a pgoutput slot of this database. */
static bool slot_check(const struct pg_step_ctx *ctx, PGconn *admin, const struct source_cfg *src)
{
	const char *params[] = { src->slot };
	PGresult *res;
	bool ok = true;

	if (!pgsql_query(admin, ctx->label,
			 "SELECT plugin, database FROM pg_replication_slots WHERE slot_name = $1",
			 1, params, &res))
		return false; /* errors already logged */
	if (PQntuples(res) == 0) {
		log_info("%s: slot %s does not exist yet; capture creates it with its initial snapshot",
			 ctx->label, src->slot);
	} else if (PQgetisnull(res, 0, 0) || strcmp(PQgetvalue(res, 0, 0), "pgoutput") != 0 ||
		   PQgetisnull(res, 0, 1) || strcmp(PQgetvalue(res, 0, 1), src->pg.dbname) != 0) {
		pg_step_error_at_key(ctx, "slot",
				     "slot %s exists but is not a pgoutput slot of database %s (plugin %s, database %s)",
				     src->slot, src->pg.dbname,
				     PQgetisnull(res, 0, 0) ? "none (physical)" : PQgetvalue(res, 0, 0),
				     PQgetisnull(res, 0, 1) ? "none" : PQgetvalue(res, 0, 1));
		ok = false;
	}
	PQclear(res);
	return ok;
}

/* The unit that runs the server: the topology's, or Debian's
 * postgresql@<version>-<cluster>.service derived from cluster_name. */
static char *server_unit(const struct pg_step_ctx *ctx, PGconn *admin)
{
	char *cluster = NULL, *unit = NULL;
	char *slash;

	if (ctx->server->service)
		return xstrdup(ctx->server->service);
	if (!pgsql_query_value(admin, ctx->label, "SHOW cluster_name", 0, NULL, &cluster) ||
	    !cluster)
		return NULL;
	slash = strchr(cluster, '/');
	if (slash && slash > cluster && isdigit((unsigned char)cluster[0]) && slash[1] &&
	    !strchr(slash + 1, '/')) {
		*slash = '-';
		unit = xasprintf("postgresql@%s.service", cluster);
	}
	free(cluster);
	return unit;
}

/* Waits until the restarted server accepts the admin again. */
static bool server_wait_ready(const struct pg_step_ctx *ctx, const char *dbname)
{
	for (int i = 0; i < RECONNECT_TIMEOUT_SEC * 4; i++) {
		PGconn *conn;
		const char *keys[] = { "host", "port", "dbname", "connect_timeout", NULL };
		char port[16];
		const char *values[5];

		snprintf(port, sizeof(port), "%d",
			 ctx->server->admin_port ? ctx->server->admin_port : ctx->server->port);
		values[0] = ctx->server->admin_host ? ctx->server->admin_host : ctx->server->host;
		values[1] = port;
		values[2] = dbname;
		values[3] = "5";
		values[4] = NULL;
		if (PQpingParams(keys, values, 0) == PQPING_OK) {
			conn = pgsql_connect(ctx->label, ctx->server, PG_AS_ADMIN, dbname);
			if (conn) {
				PQfinish(conn);
				return true;
			}
		}
		usleep(250 * 1000);
	}
	log_error("%s: server at %s did not come back within %d s of its restart", ctx->label,
		  pgsql_where(ctx->server, PG_AS_ADMIN), RECONNECT_TIMEOUT_SEC);
	return false;
}

static bool restart_server(const struct pg_step_ctx *ctx, PGconn *admin, const char *dbname,
			   const struct strlist *reasons, enum restart_outcome *outcome)
{
	struct strbuf why_list;
	char *unit = server_unit(ctx, admin);
	char why[512];
	bool ok = true;

	strbuf_init(&why_list);
	for (size_t i = 0; i < reasons->n; i++)
		strbuf_addf(&why_list, "%s%s", i ? ", " : "", reasons->items[i]);
	change_record(ctx->changes, ctx->label, "restart %s (%s)",
		      unit ? unit : "PostgreSQL", why_list.data);
	if (!ctx->changes->apply) {
		*outcome = RESTART_NOT_NEEDED;
	} else if (!unit) {
		pg_step_error_at_key(ctx, "service",
				     "PostgreSQL at %s must be restarted (%s), and its systemd unit is unknown: set 'service' in [%s], or restart it yourself and run bootstrap again",
				     pgsql_where(ctx->server, PG_AS_ADMIN), why_list.data,
				     ctx->label);
		*outcome = RESTART_IMPOSSIBLE;
	} else {
		enum unit_job_result r = systemd_restart_unit(unit, RESTART_TIMEOUT_SEC, why,
							      sizeof(why));

		if (r == UNIT_JOB_NO_BUS) {
			log_error("%s: PostgreSQL at %s must be restarted (%s), and there is %s: restart %s yourself, then run bootstrap again",
				  ctx->label, pgsql_where(ctx->server, PG_AS_ADMIN), why_list.data,
				  why, unit);
			*outcome = RESTART_IMPOSSIBLE;
		} else if (r == UNIT_JOB_FAILED) {
			log_error("%s: %s", ctx->label, why);
			ok = false;
		} else {
			*outcome = RESTART_DONE;
			ok = server_wait_ready(ctx, dbname);
		}
	}
	strbuf_fini(&why_list);
	free(unit);
	return ok;
}

bool pg_source_converge(const struct source_cfg *src, bool hold_drops,
			struct change_list *changes, enum restart_outcome *restart,
			bool *drops_held)
{
	struct drop_policy drops = { .hold = hold_drops };
	char *label = xasprintf("source %s", src->name);
	struct pg_step_ctx ctx = { label, "source", &src->pg, &src->origin, changes };
	const char *dbname = src->pg.admin_dbname ? src->pg.admin_dbname : src->pg.dbname;
	struct strlist restart_reasons = { 0 };
	PGconn *admin;
	bool ok;

	*restart = RESTART_NOT_NEEDED;
	admin = pgsql_connect(label, &src->pg, PG_AS_ADMIN, dbname);
	ok = admin != NULL;
	/* Check before changing anything: a bad table stops the whole source. */
	ok = ok && tables_check(&ctx, admin, src) && slot_check(&ctx, admin, src);
	ok = ok && pg_settings_converge(&ctx, admin, src, &restart_reasons);
	ok = ok && pg_hba_converge(&ctx, admin, src->pg.dbname);
	ok = ok && pg_role_converge(&ctx, admin, true);
	ok = ok && grants_converge(&ctx, admin, src);
	ok = ok && publication_converge(&ctx, admin, src, &drops);
	if (ok && restart_reasons.n > 0)
		ok = restart_server(&ctx, admin, dbname, &restart_reasons, restart);
	*drops_held = drops.held;
	PQfinish(admin);
	strlist_fini(&restart_reasons);
	free(label);
	return ok;
}

bool pg_source_drop_removed(const struct source_cfg *src, struct change_list *changes)
{
	char *label = xasprintf("source %s", src->name);
	struct pg_step_ctx ctx = { label, "source", &src->pg, &src->origin, changes };
	struct drop_policy drops = { .hold = false };
	PGconn *admin = pgsql_connect(label, &src->pg, PG_AS_ADMIN,
				      src->pg.admin_dbname ? src->pg.admin_dbname : src->pg.dbname);
	char *pub_ident = admin ? pgsql_quote_ident(admin, src->publication) : NULL;
	bool ok = admin && publication_sync_tables(&ctx, admin, src, pub_ident, &drops);

	free(pub_ident);
	PQfinish(admin);
	free(label);
	return ok;
}
