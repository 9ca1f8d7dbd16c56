/*
 * agent/apply/apply_types.h: the user types a column needs, made to exist on the
 * target (enums with their labels, domains with base type and constraints,
 * ranges and multiranges, extension types), and the SQL type apply creates
 * the column with (a generated column with its expression).
 *
 * What a type is comes from the record's cdc.columns header, "udt" and
 * "generated" (docs/DEBEZIUM_FORMAT.md), and is hostile input: names and
 * labels are data (quoted identifiers and literals), base types go through
 * column_type.c's resolver, and SQL expressions (a domain's CHECKs and
 * default, a generated column's expression, a range's functions) are run
 * only when the header is authenticated (trusted, agent/pipeline/schema_mac.h).
 */
#ifndef CDC_APPLY_TYPES_H
#define CDC_APPLY_TYPES_H

#include "apply/apply_event.h"
#include "base/common.h"

#include <libpq-fe.h>

/* The target's SQL type for a column described by the header item (creating
 * the enum/domain/range type or checking the extension first); *sql caller
 * frees; errors name table+column.  A generated column's type comes with
 * " GENERATED ALWAYS AS (expr) STORED"; without trust it is refused (a
 * plain column would diverge from the source).  Without trust a domain is
 * created without its CHECKs and default (logged). */
MUST_CHECK bool apply_types_column_sql(PGconn *db, const char *label, const char *table_qualified,
				       const struct event_field *f, bool trusted, char **sql);

/* cdc.columns headers whose enum labels are known to be on the target. */
#define APPLY_TYPES_SEEN 8
struct apply_types_seen {
	char *texts[APPLY_TYPES_SEEN];
	size_t lens[APPLY_TYPES_SEEN];
	size_t next;
};
void apply_types_seen_fini(struct apply_types_seen *seen);
/* Whether the header was prepared before (a comparison of bytes). */
bool apply_types_seen_has(const struct apply_types_seen *seen, const char *text, size_t len);

/* Before a batch's transaction (a label added in a transaction cannot be
 * used before it commits): every enum a cdc.columns header describes gets
 * the labels it lacks on the target, each in its place (ALTER TYPE ... ADD
 * VALUE ... BEFORE/AFTER), committed at once; a missing enum is created
 * when create.  A header seen before costs a comparison.  table names the
 * table for errors. */
MUST_CHECK bool apply_types_labels_prepare(PGconn *db, const char *label, const char *table,
					   const char *header, size_t len, bool create,
					   struct apply_types_seen *seen);

/* How to add source's labels that have lacks, in source's order. */
struct label_add {
	const char *label;    /* from source */
	const char *neighbour; /* the label it goes BEFORE or AFTER; NULL: at the end */
	bool before;
};
/* Fills out (room for nsrc) and returns how many; pure, for unit tests. */
size_t apply_types_label_plan(const char *const *source, size_t nsource, const char *const *have,
			      size_t nhave, struct label_add *out);

/* A label renamed at the source (ALTER TYPE ... RENAME VALUE): the lists
 * have as many labels, in the same order, but for one place where each has
 * a label the other lacks; *from (the target's) and *to then say which.
 * Anything else is not taken for a rename.  Pure, for unit tests. */
bool apply_types_label_renamed(const char *const *source, size_t nsource, const char *const *have,
			       size_t nhave, const char **from, const char **to);

/* Whether a name from a header can name a type or schema the agent
 * creates: 1 to 63 bytes, not in a pg_ schema, information_schema or
 * cdc_agent (schema true); pure, for unit tests. */
bool apply_types_name_ok(const char *name, bool schema);

#endif
