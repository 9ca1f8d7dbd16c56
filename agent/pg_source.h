/*
 * agent/pg_source.h: provisioning of a [source]: settings, pg_hba, the
 * replication role, table checks and grants, the publication, the slot
 * check, and the restart that logical decoding needs.
 */
#ifndef CDC_PG_SOURCE_H
#define CDC_PG_SOURCE_H

#include "changes.h"
#include "topology.h"

enum restart_outcome {
	RESTART_NOT_NEEDED,
	RESTART_DONE,
	RESTART_IMPOSSIBLE,  /* needed, but no systemd bus or no unit known */
};

/* Converges one source.  *restart tells what happened about a restart. */
MUST_CHECK bool pg_source_converge(const struct source_cfg *src, struct change_list *changes,
				   enum restart_outcome *restart);

#endif
