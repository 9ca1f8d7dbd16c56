/*
 * agent/apply/apply_schema.h: apply's target tables: created from the events
 * (auto_create), checked against each new event shape, and made to follow
 * the source's schema changes (auto_evolve; the pipeline's schema_changes):
 * ADD COLUMN with its default, DROP, RENAME, ALTER TYPE, SET/DROP DEFAULT,
 * SET/DROP NOT NULL.
 *
 * Columns are known by their source attribute number (the cdc.columns
 * header's "attnum"): a rename is a rename, not a drop and an add.  Which
 * target column holds which source attnum, and the version of the source's
 * description last applied, live in the target (cdc_agent.columns,
 * cdc_agent.schema_versions), changed in the transaction of the DDL and
 * its batch.
 */
#ifndef CDC_APPLY_SCHEMA_H
#define CDC_APPLY_SCHEMA_H

#include "apply/apply_event.h"
#include "base/common.h"
#include "base/util.h"
#include "config/topology.h"
#include "pg/table_schema.h"

#include <libpq-fe.h>
#include <stdint.h>

/* One target column the source's attnum maps to. */
struct column_map {
	int attnum;
	char *name;     /* the target column */
	bool kept;      /* dropped at the source, kept by schema_changes = additive */
};

/* A target table as apply knows it. */
struct target_table {
	char *schema;
	char *table;
	char *qualified;           /* "schema"."table" */
	char *name;                /* schema.table as the topology names it: its key in cdc_agent.* */
	struct table_schema *ts;
	char **cast_types;         /* per column: its type, qualified, no modifier */
	bool *typed_arrays;        /* per column: values go out in an array of
				    * its type, else in text[] cast per value */
	int *attnums;              /* per column: the source attnum it holds, 0: unknown */
	char *fingerprint;         /* event shape last checked against it */
	struct column_map *map;
	size_t nmap;
	uint64_t version;          /* the source description applied last; 0: none */
	char *keyless_pos;         /* without a key: the last change applied (apply_keyless.h) */
	bool keyless_loaded;       /* keyless_pos was read from the target */
	bool keyless_skipped;      /* a change sent again was skipped (said once) */
};

/* What apply_schema works with: apply's connection and configuration, the
 * tables it met, and the schema changes it applied. */
struct apply_schema {
	PGconn *db;                /* apply's (replaced on a reconnect) */
	const char *label;
	const struct pipeline_cfg *pipe;
	/* The record being applied, for errors logged about it (apply.c sets
	 * them before each call). */
	const char *topic;
	int partition;
	int64_t offset;
	struct target_table **tables;
	size_t ntables;
	/* The last call failed (apply_schema_table); its error naming the
	 * record was logged already (apply_types.c's): *why stays empty. */
	bool failed;
	bool logged;
	/* Before any DDL: the rows apply holds for the target go out first,
	 * with the table's old shape. */
	bool (*flush)(void *ctx);
	void *flush_ctx;
	/* Applied schema changes: since the pipeline began (committed), and in
	 * the open batch (added at its commit). */
	uint64_t changes;
	char *last_change;         /* "table t: column c added (integer)" */
	int64_t last_change_usec;  /* wall clock */
	uint64_t batch_changes;
	char *batch_last_change;
};

void apply_schema_init(struct apply_schema *s, const char *label, const struct pipeline_cfg *pipe);
void apply_schema_fini(struct apply_schema *s);

/* cdc_agent.columns and cdc_agent.schema_versions exist; the pipeline's
 * count of schema changes is read from them. */
MUST_CHECK bool apply_schema_store_ensure(struct apply_schema *s);

/* The target table of a table of the topology, created from ev when
 * missing (auto_create).  NULL and not s->failed: nothing to do (a truncate
 * or delete of a table the target does not have); NULL and s->failed: the
 * record cannot be applied, *why says why (empty when s->logged). */
struct target_table *apply_schema_table(struct apply_schema *s, const struct table_ref *ref,
					const struct apply_event *ev, struct strbuf *why);

/* Makes the target table follow the source's description in ev when it
 * changed (the event's shape or header differs from the last one seen): the
 * DDL runs in the open transaction, after the flush.  False with *why
 * (empty when s->logged). */
MUST_CHECK bool apply_schema_follow(struct apply_schema *s, struct target_table *tt,
				    const struct apply_event *ev, struct strbuf *why);

/* The event field holding target column c of tt (by its source attnum
 * when both know it, else by name), or NULL. */
const struct event_field *apply_schema_field(const struct target_table *tt,
					     const struct apply_event *ev, size_t c);

/* The open batch ended: committed (its changes count) or rolled back (the
 * tables are read again from the target when next met). */
void apply_schema_batch_end(struct apply_schema *s, bool committed);

/* Forgets every table (rolled back DDL, a new connection). */
void apply_schema_forget(struct apply_schema *s);

#endif
