/*
 * agent/pipeline/event_counts.h: events counted by table and op since the pipeline
 * was created, for the metrics (docs/STATUS.md).
 *
 * Counts survive restarts and never count a replay twice: capture adds a
 * transaction's events only once Kafka acknowledged all of it (the same
 * moment the slot may be confirmed past it) and keeps the counts in
 * <state_dir>/events-capture-<source>.json with the LSN they reach; apply
 * stores them in the target in the transaction of the rows (apply.c).
 *
 * The hot path only bumps a counter: a table's index into the counts is
 * found once (event_counts_index) and kept with the table, and a
 * transaction's events go to its event_deltas, whose first table is kept
 * inline (most transactions touch one).
 */
#ifndef CDC_EVENT_COUNTS_H
#define CDC_EVENT_COUNTS_H

#include "base/common.h"
#include "base/util.h"

#include <jansson.h>
#include <stdint.h>

/* Debezium's op codes, in this order: create, update, delete, read
 * (snapshot), truncate. */
enum { EVENT_OP_C, EVENT_OP_U, EVENT_OP_D, EVENT_OP_R, EVENT_OP_T, EVENT_OPS };
extern const char event_op_codes[EVENT_OPS + 1]; /* "cudrt" */

/* The index of op ('c', 'u', ...) or -1. */
static inline int event_op_index(char op)
{
	switch (op) {
	case 'c': return EVENT_OP_C;
	case 'u': return EVENT_OP_U;
	case 'd': return EVENT_OP_D;
	case 'r': return EVENT_OP_R;
	case 't': return EVENT_OP_T;
	default: return -1;
	}
}

struct event_count {
	char *table; /* "schema.table" */
	uint64_t op[EVENT_OPS];
};

struct event_counts {
	struct event_count *t; /* in the order tables were first seen */
	size_t n;
};

void event_counts_init(struct event_counts *c);
void event_counts_fini(struct event_counts *c);
/* The index of table's counts, added (all 0) when new.  Indexes stay valid
 * until event_counts_fini. */
size_t event_counts_index(struct event_counts *c, const char *table);
/* Table's counts (added when new); valid until the next table is added. */
struct event_count *event_counts_get(struct event_counts *c, const char *table);
uint64_t event_counts_total(const struct event_counts *c);
/* {"schema.table": {"c": N, "u": N, "d": N, "r": N, "t": N}, ...}; a new
 * reference. */
json_t *event_counts_json(const struct event_counts *c);
/* Adds the counts of such an object to c; false (why says what) when it
 * has another shape (nothing is added then). */
MUST_CHECK bool event_counts_add_json(struct event_counts *c, const json_t *o, struct strbuf *why);

/* ---- what one transaction adds ---- */

struct event_delta {
	size_t table; /* event_counts index */
	uint64_t op[EVENT_OPS];
};

struct event_deltas {
	struct event_delta first; /* valid when n > 0 */
	struct event_delta *more; /* n - 1 of them */
	size_t n, cap;
};

void event_deltas_add_slow(struct event_deltas *d, size_t table, int op);
/* One event of table (an event_counts index), op an EVENT_OP_*. */
static inline void event_deltas_add(struct event_deltas *d, size_t table, int op)
{
	if (d->n > 0 && d->first.table == table)
		d->first.op[op]++;
	else
		event_deltas_add_slow(d, table, op);
}
/* Adds d to c; d is left as it was. */
void event_deltas_apply(const struct event_deltas *d, struct event_counts *c);
/* Forgets d's events (frees what it allocated). */
void event_deltas_clear(struct event_deltas *d);

/* ---- capture's file: <state_dir>/events-capture-<source>.json ---- */

/* Reads the counts and the LSN they reach (a missing file: nothing, LSN 0).
 * Caller frees *path. */
MUST_CHECK bool event_counts_load(const char *state_dir, const char *source,
				  struct event_counts *c, uint64_t *lsn, char **path);
/* Writes them by rename, without fsync (written up to once a second; after
 * a crash of the host an older file counts less, never twice).  False with
 * why set; nothing logged. */
MUST_CHECK bool event_counts_save(const char *path, const struct event_counts *c, uint64_t lsn,
				  struct strbuf *why);

#endif
