/*
 * agent/capture/capture_state.h: what capture must remember across restarts that the
 * slot does not: which tables' snapshots are finished, and how far each
 * incremental snapshot got (its last saved chunk).  Kept in
 * <state_dir>/capture-<source>.json, rewritten atomically.
 */
#ifndef CDC_CAPTURE_STATE_H
#define CDC_CAPTURE_STATE_H

#include "base/common.h"
#include "base/util.h"

#include <jansson.h>

struct capture_state {
	char *path;
	bool exists;               /* the file was there */
	struct strlist snapshot_done; /* "schema.table" whose snapshot Kafka acknowledged */
	/* Incremental snapshots not finished, an array (never NULL) of
	 * {"table": "schema.table", "kind": "incremental" | "on_demand",
	 *  "last_key": null | ["text", ...], "rows": N}: last_key is the key of
	 * the last row of the last chunk Kafka acknowledged.  Owned; read back
	 * as written (capture_snapshot.c checks every member it uses). */
	json_t *incremental;
};

/* Reads the state of source (a missing file is an empty state). */
MUST_CHECK bool capture_state_load(const char *state_dir, const char *source,
				   struct capture_state *st);
MUST_CHECK bool capture_state_save(struct capture_state *st);
void capture_state_fini(struct capture_state *st);

#endif
