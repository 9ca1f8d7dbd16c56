/*
 * agent/provision/pg_source.h: provisioning of a [source]: settings, pg_hba, the
 * replication role, table checks and grants, the publication, the slot
 * check, and the restart that logical decoding needs.
 */
#ifndef CDC_PG_SOURCE_H
#define CDC_PG_SOURCE_H

#include "base/changes.h"
#include "config/topology.h"

enum restart_outcome {
	RESTART_NOT_NEEDED,
	RESTART_DONE,
	RESTART_IMPOSSIBLE,  /* needed, but no systemd bus or no unit known */
};

/* Converges one source.  *restart tells what happened about a restart.
 * hold_drops: a capture of this source runs an older configuration and
 * may still stream the tables the topology removed: they stay in the
 * publication (logged as deferred, *drops_held set) until
 * pg_source_drop_removed runs once that capture was restarted.  Tables
 * added are added at once (before capture restarts, so it streams them). */
MUST_CHECK bool pg_source_converge(const struct source_cfg *src, bool hold_drops,
				   struct change_list *changes, enum restart_outcome *restart,
				   bool *drops_held);

/* Drops from the publication the tables the topology no longer lists. */
MUST_CHECK bool pg_source_drop_removed(const struct source_cfg *src, struct change_list *changes);

#endif
