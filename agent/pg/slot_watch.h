/*
 * agent/pg/slot_watch.h: WAL safety of the replication slots.
 *
 * A logical slot nobody reads keeps every WAL segment since its restart_lsn:
 * the source's disk fills, the failure operators fear most.  For each slot
 * this reports what it retains, how far its reader is behind, and
 * PostgreSQL's own verdict (wal_status).  Slots of no pipeline are
 * reported as orphans and never dropped: dropping loses what a pipeline
 * still needs if the topology is only briefly wrong.
 */
#ifndef CDC_SLOT_WATCH_H
#define CDC_SLOT_WATCH_H

#include "base/common.h"
#include "config/topology.h"

#include <stdint.h>

struct slot_report {
	char *source;              /* [source NAME] the slot lives on */
	char *slot;                /* slot name */
	char *pipeline;            /* pipeline reading it; NULL: orphan (no pipeline of the topology) */
	bool exists;               /* false: the topology's slot is missing on the server */
	bool active;               /* a walsender holds it */
	int64_t retained_bytes;    /* pg_current_wal_lsn() - restart_lsn; -1 unknown */
	int64_t confirmed_lag_bytes; /* pg_current_wal_lsn() - confirmed_flush_lsn; -1 unknown */
	char wal_status[16];       /* pg_replication_slots.wal_status: reserved/extended/unreserved/lost; "" unknown */
	int64_t safe_wal_bytes;    /* safe_wal_size; -1 when unlimited/unknown */
	bool warn;                 /* retained_bytes >= the source's warning threshold, or wal_status unreserved/lost */
	char *error;               /* the source could not be queried (first line of libpq's message); NULL otherwise */
};

/* Queries every source of topo (admin connection, as pg_source.c does) for
 * its slots: the topology's own, and every other logical pgoutput slot in the
 * source's database (reported as orphans, never dropped). An unreachable
 * source gives one report with error set; the function itself fails only on
 * allocation.  *out is a new array the caller frees with slot_reports_free. */
MUST_CHECK bool slot_watch_collect(const struct topology *topo, struct slot_report **out, size_t *n);
void slot_reports_free(struct slot_report *r, size_t n);

#endif
