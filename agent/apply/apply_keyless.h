/*
 * agent/apply/apply_keyless.h: changes of a table without a key applied to the
 * target, one statement each.
 *
 * A source table without a primary key replicates with REPLICA IDENTITY
 * FULL: its updates and deletes carry the whole old row, and that is the
 * only way to find the row on the target.  An update or a delete changes
 * exactly one row whose every column has the old value (IS NOT DISTINCT
 * FROM: NULLs match), so duplicate rows stay duplicates; creates and
 * snapshot reads are plain INSERTs.  Columns are compared by their text
 * form, both sides through the target column's type: exact (1.0 is not
 * 1.00, 'A' is not 'a' in a citext), and defined for every type, including
 * those without an equality operator (json, xml, point) or with a loose
 * one (box compares areas).  IS NOT DISTINCT FROM never uses an index, so
 * the comparison costs a scan either way.
 *
 * Nothing identifies a row, so a change applied twice would not be
 * harmless as an upsert is: capture marks each change with its place in the
 * stream (cdc.position), and apply skips the ones at or before the last it
 * applied to the table (kept in the target, in the batch's transaction), so
 * the changes a slot replays after a crash of capture are applied once.
 */
#ifndef CDC_APPLY_KEYLESS_H
#define CDC_APPLY_KEYLESS_H

#include "apply/apply_event.h"
#include "base/common.h"
#include "base/util.h"
#include "pg/table_schema.h"

#include <libpq-fe.h>

/* The target table, as apply knows it. */
struct keyless_target {
	PGconn *db;
	const char *label;
	const char *qualified;           /* "schema"."table" */
	const struct table_schema *ts;   /* the target's columns */
	char *const *cast_types;         /* per column: its type without modifier */
};

/* Statement text for op 'c' (INSERT), 'u' (UPDATE) or 'd' (DELETE) of one
 * row.  cols: the quoted column names; set: per column '1' when the new row
 * sets it (parameters $1.. in column order, each cast to set_types[c]);
 * match: per column '1' when the old row is compared (the next parameters,
 * compared as text through match_types[c], the column's full type).
 * Caller frees. */
char *keyless_sql(char op, const char *qualified, size_t ncols, const char *const *cols,
		  const char *const *set_types, const char *const *match_types, const char *set,
		  const char *match);

/* A record's cdc.position header (EVENT_POSITION_FMT, event_format.h,
 * ordered as text) has that form: it comes from a record, and is compared
 * and stored, never trusted otherwise. */
bool keyless_position_valid(const char *pos, size_t len);

/* The table that keeps the positions (cdc_agent.keyless_positions), made
 * when missing: at apply's start, with its offsets table. */
MUST_CHECK bool keyless_positions_ensure(PGconn *db, const char *label);
/* The position of the last change applied to table_name ("schema.table")
 * by pipeline, *pos NULL when none (caller frees). */
MUST_CHECK bool keyless_position_load(PGconn *db, const char *label, const char *pipeline,
				      const char *table_name, char **pos);
/* Records pos as the last change applied (in the batch's transaction). */
MUST_CHECK bool keyless_position_store(PGconn *db, const char *label, const char *pipeline,
				       const char *table_name, const char *pos);

/* Applies the event (op c, r, u, d or t) to the target.  False: *why says what
 * is wrong with the record or the target (the caller names the record), or
 * is empty when the statement failed (logged). */
MUST_CHECK bool keyless_apply(const struct keyless_target *t, struct apply_event *ev,
			      struct strbuf *why);

#endif
