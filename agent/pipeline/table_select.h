/*
 * agent/pipeline/table_select.h: a source's `tables` (names, patterns, exclusions)
 * resolved against its catalog into the list of tables it replicates.
 *
 * Everything that needs a source's tables works from this one resolution:
 * plan, bootstrap and each pass of run (the publication, the grants and
 * the pipelines' configuration digests: a table that appears and matches
 * restarts capture and apply, and capture snapshots it), capture and apply
 * at their start, status and the snapshot command.  A source without
 * patterns needs no catalog (tables_static).
 */
#ifndef CDC_TABLE_SELECT_H
#define CDC_TABLE_SELECT_H

#include "base/common.h"
#include "config/topology.h"
#include "pg/pgsql.h"

/* Fills src->tables from the catalog of the source's database, over a
 * connection of its own as role (closed before it returns): the names
 * written, in their order, then the tables (relkind r or p, not
 * partitions, permanent, outside the catalogs and cdc_agent) that a
 * pattern matches and no exclusion does, by schema and name.  A pattern
 * that matches nothing is a warning; two tables on one topic, or no table
 * at all, an error at the tables line.  No-op for a static list. */
MUST_CHECK bool table_select_resolve_as(struct source_cfg *src, const char *label,
					enum pg_role role);

#endif
