/*
 * agent/provision/pg_step.h: what every PostgreSQL provisioning step is given, and the
 * steps shared by sources and targets (roles, pg_hba entries).
 *
 * A step inspects the server; for each difference it records a change and,
 * when ctx->changes->apply is set, makes it.  Steps return false on error
 * (logged, naming ctx->label and the object).
 */
#ifndef CDC_PG_STEP_H
#define CDC_PG_STEP_H

#include "base/changes.h"
#include "config/topology.h"
#include "pg/pgsql.h"

struct pg_step_ctx {
	const char *label;                   /* "source db1" */
	const char *section_kind;            /* "source" or "target" */
	const struct pg_server_cfg *server;
	const struct topo_origin *origin;
	struct change_list *changes;
};

/* FILE:LINE of a key of the step's section, for errors about its value. */
void pg_step_error_at_key(const struct pg_step_ctx *ctx, const char *key, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

/* Makes the server's pipeline role exist with LOGIN (and REPLICATION when
 * asked) and the password of its password_file, stored as SCRAM-SHA-256. */
MUST_CHECK bool pg_role_converge(const struct pg_step_ctx *ctx, PGconn *admin, bool replication);

/* When the agent runs on the database host (or manage_hba = yes), keeps a
 * cdc-agent block in the server's pg_hba.conf that lets the pipeline role
 * reach dbname from hba_allow, and reloads the server after a change. */
MUST_CHECK bool pg_hba_converge(const struct pg_step_ctx *ctx, PGconn *admin, const char *dbname);

#endif
