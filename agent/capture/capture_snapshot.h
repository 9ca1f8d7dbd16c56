/*
 * agent/capture/capture_snapshot.h: incremental snapshots, interleaved with the
 * stream (DBLog's watermarks, as Debezium's incremental snapshots).
 *
 * A table added to a pipeline whose slot already exists, or named by
 * `cdc-agent snapshot PIPELINE TABLE`, is copied in chunks by key while
 * capture keeps streaming: for each chunk, capture's SQL connection emits a
 * transactional logical message (the low watermark), selects the next rows
 * by key, and emits the high watermark.  The stream delivers both messages
 * in commit order; a chunk row whose key a change event of that table
 * carries between them is dropped (the change, already on its way, is
 * newer), and at the high watermark the rest goes out as op "r" events with
 * source.snapshot "incremental", in the high watermark's transaction: the
 * slot is never confirmed past them before Kafka acknowledged them, and the
 * chunk's progress is saved only once the slot could be (every event up to
 * its high watermark acknowledged).
 */
#ifndef CDC_CAPTURE_SNAPSHOT_H
#define CDC_CAPTURE_SNAPSHOT_H

#include "base/common.h"
#include "base/key_set.h"
#include "capture/capture_state.h"
#include "config/topology.h"
#include "pg/pgoutput.h"
#include "pg/table_schema.h"
#include "pipeline/progress.h"

#include <libpq-fe.h>

/* Prefix of the watermark messages and of snapshot requests. */
#define SNAPSHOT_WATERMARK_PREFIX "cdc-agent"
#define SNAPSHOT_SIGNAL_PREFIX "cdc-agent.signal"
#define SNAPSHOT_CHUNK_ROWS 1024
#define SNAPSHOT_ID_LEN 32 /* hex digits of a watermark or request id */

/* ---- the watermark window (pure: unit-tested) ------------------------------ */

enum window_phase {
	WINDOW_IDLE,     /* no chunk in flight */
	WINDOW_WAIT_LOW, /* chunk selected, its low watermark not yet streamed */
	WINDOW_OPEN,     /* between the low and the high watermark */
};

enum window_verdict {
	WINDOW_IGNORED, /* not one of ours, or not expected now */
	WINDOW_OPENED,  /* our low watermark */
	WINDOW_CLOSED,  /* our high watermark: emit the chunk's rows not dropped */
};

/* A change of the watched table streamed before the window closed, kept
 * until the chunk's snapshot shows its transaction (see recent below). */
struct window_change {
	uint32_t xid;
	char *key;
	size_t len;
};

/* Embedded object: snapshot_window_init/fini. */
struct snapshot_window {
	enum window_phase phase;
	char id[SNAPSHOT_ID_LEN + 1]; /* of the chunk in flight */
	uint32_t oid;                 /* the table whose changes are watched */
	struct key_set dirty;         /* keys changed inside the window */
	bool truncated;               /* the table was truncated inside the window */
	/* WAL commit order is not visibility order: a transaction whose
	 * commit record precedes the low watermark may still be invisible to
	 * the chunk's SELECT (its backend has not left the proc array yet:
	 * another backend's group flush wrote its commit, or it waits for a
	 * synchronous standby).  Its change is streamed before the window,
	 * the chunk holds the row as it was before it: the chunk's row must
	 * be dropped too.  So every change of the table since the previous
	 * close is kept with its transaction id, and at the close the keys of
	 * those the chunk's snapshot did not see are dropped as well. */
	struct window_change *recent;
	size_t nrecent, crecent;
	bool have_snapshot;           /* the chunk's snapshot is known */
	uint32_t xmin, xmax;          /* pg_current_snapshot() of the chunk's SELECT */
	uint32_t *xip;
	size_t nxip, cxip;
};

void snapshot_window_init(struct snapshot_window *w);
void snapshot_window_fini(struct snapshot_window *w);
/* A chunk was selected and its watermarks emitted with id.  Another oid
 * than the previous chunk's forgets the changes kept (snapshot_window_watch). */
void snapshot_window_arm(struct snapshot_window *w, const char *id, uint32_t oid);
/* From now on changes of table oid are kept (the table's snapshot starts). */
void snapshot_window_watch(struct snapshot_window *w, uint32_t oid);
/* The chunk's snapshot, pg_current_snapshot()'s text "xmin:xmax:xip,...",
 * after snapshot_window_arm; false (and none kept) when it does not parse:
 * then every change kept drops its key at the close. */
bool snapshot_window_snapshot(struct snapshot_window *w, const char *text);
/* A logical message from the stream (any prefix, hostile content). */
enum window_verdict snapshot_window_message(struct snapshot_window *w, const char *prefix,
					    const char *content, size_t len);
/* A change event's key (snapshot_key_encode) of table oid, in transaction
 * xid. */
void snapshot_window_change(struct snapshot_window *w, uint32_t oid, uint32_t xid, const char *key,
			    size_t len);
/* Whether a chunk row with that key must be dropped. */
bool snapshot_window_dropped(const struct snapshot_window *w, const char *key, size_t len);

/* The key columns of row (in the table's column order) as one byte string:
 * per column, its kind, length and bytes.  False when a key column has no
 * text value (a keyless table, or a value not sent). */
bool snapshot_key_encode(struct strbuf *sb, const struct table_schema *ts,
			 const struct pgoutput_value *row);

/* ---- capture's side ----------------------------------------------------------- */

/* What capture lends the snapshot code. */
struct snapshot_host {
	void *ctx;
	const char *label;
	const struct source_cfg *src;
	struct capture_state *state;
	struct progress_writer *progress;
	/* One op "r" row into the transaction being streamed (the high
	 * watermark's); ts is the snapshot's schema of the row's table. */
	bool (*emit_read)(void *ctx, const struct table_schema *ts,
			  const struct pgoutput_value *row);
};

struct capture_snapshot;

/* caller frees with capture_snapshot_free */
struct capture_snapshot *capture_snapshot_new(const struct snapshot_host *host);
void capture_snapshot_free(struct capture_snapshot *s);

/* A session with an existing slot starts: every table of the topology not
 * snapshotted yet gets an incremental snapshot; state for tables no longer
 * in the topology is dropped.  Saves the state when it changed. */
MUST_CHECK bool capture_snapshot_plan(struct capture_snapshot *s);
/* Notes a table of the initial snapshot for the progress file. */
void capture_snapshot_note_initial(struct capture_snapshot *s, const char *table, uint64_t rows);
/* The session ended: a chunk in flight is forgotten (redone from the last
 * saved one). */
void capture_snapshot_session_end(struct capture_snapshot *s);

/* From the stream loop, between messages: settles chunks whose events are
 * all acknowledged up to confirmed (saves progress), and when no chunk is
 * in flight, selects the next one on sql.  False on a failure (logged). */
MUST_CHECK bool capture_snapshot_step(struct capture_snapshot *s, PGconn *sql, uint64_t confirmed);
/* A Message ('M') of the stream; in_txn: inside Begin/Commit. */
MUST_CHECK bool capture_snapshot_message(struct capture_snapshot *s, const struct pgoutput_msg *m,
					 bool in_txn);
/* A change (Insert, Update, Delete) or a Truncate of a table (its schema
 * as the stream describes it). */
void capture_snapshot_change(struct capture_snapshot *s, const struct table_schema *ts,
			     uint32_t xid, const struct pgoutput_msg *m);
/* A transaction's Commit: chunks emitted in it are settled once the slot is
 * confirmed up to end_lsn. */
void capture_snapshot_commit(struct capture_snapshot *s, uint64_t end_lsn);

/* Whether schema.table is one of the source's tables. */
bool capture_snapshot_listed(const struct source_cfg *src, const char *schema, const char *table);

/* ---- `cdc-agent snapshot PIPELINE TABLE` --------------------------------------- */

enum snapshot_request_result {
	SNAPSHOT_REQUEST_OK,
	SNAPSHOT_REQUEST_BAD_TABLE, /* not one of the pipeline's tables (logged) */
	SNAPSHOT_REQUEST_FAILED,    /* logged */
};

/* Asks the pipeline's running capture to snapshot table ("schema.table")
 * again; with wait, follows capture's progress file until it is done. */
enum snapshot_request_result snapshot_request(const struct topology *topo,
					      const struct pipeline_cfg *pipe,
					      const char *table, bool wait);

#endif
