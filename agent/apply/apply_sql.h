/*
 * agent/apply/apply_sql.h: the statements apply sends for a group of row changes
 * of one table, and their parameters.
 *
 * Consecutive changes of one table with the same shape (upserts of the same
 * columns, or deletes) go out as one statement.  Each column's values are
 * gathered in one array literal, sent as one parameter and unnested by the
 * statement: its text does not grow with the rows, and the server parses
 * arrays faster than as many parameters (docs/BENCHMARKS.md).  A key seen
 * again starts a new group, since one INSERT ... ON CONFLICT cannot touch a
 * row twice.
 *
 * Pure: no connection.  Names reach the text already quoted by the caller
 * (PQescapeIdentifier, pgsql_quote_ident); values only as parameters.
 */
#ifndef CDC_APPLY_SQL_H
#define CDC_APPLY_SQL_H

#include "apply/apply_event.h"
#include "apply/apply_schema.h"
#include "base/key_set.h"
#include "base/util.h"

#include <stdbool.h>
#include <stddef.h>

/* Rows waiting to go out as one statement.  apply_sql_group_init and
 * apply_sql_group_fini own everything but tt. */
struct row_group {
	struct target_table *tt;   /* NULL: the group is empty */
	bool delete;
	bool creates_only;         /* every row a create or a snapshot read */
	char *signature;           /* per table column: '1' when the rows carry it */
	struct key_set keys;       /* keys in this group */
	struct strbuf *arrays;     /* per table column: "{\"v1\",NULL,..." */
	bool copy;                 /* rows gathered as COPY's text lines instead */
	struct strbuf copy_text;   /* those lines */
	size_t narrays;            /* arrays allocated (and initialised) */
	size_t nrows;
};

void apply_sql_group_init(struct row_group *g);
void apply_sql_group_fini(struct row_group *g);
/* Empties the group, keeping its buffers. */
void apply_sql_group_reset(struct row_group *g);

/* Whether the group holds rows a row of tt (a delete or not, carrying the
 * columns of signature, with key[0..key_len)) cannot join: another table,
 * another shape, or a key the group has.  The group is to go out first. */
bool apply_sql_group_closed_to(const struct row_group *g, const struct target_table *tt,
			       bool delete, const char *signature, const char *key, size_t key_len);

/* Adds a row to the group (which must not be closed to it; an empty group
 * starts with it): op is the event's ('c', 'r', 'u' or 'd'); per table
 * column, signature[c] '1' when the row carries it, kinds[c] and texts[c]
 * its value; key[0..key_len) the key's values. */
void apply_sql_group_add(struct row_group *g, struct target_table *tt, char op,
			 const char *signature, const enum apply_value *kinds,
			 const struct strbuf *texts, const char *key, size_t key_len);

/* The group's statement when it gathered COPY's lines (copy, set by the
 * caller on the empty group before its first row): "COPY t (cols) FROM
 * STDIN", its data copy_text.  Caller frees. */
char *apply_sql_group_copy_statement(const struct row_group *g, const char *const *cols);

/* Closes the group's array literals and points params (one slot per table
 * column) at them, in the statement's order; returns their number.  Once
 * per group, before it is reset. */
size_t apply_sql_group_params(struct row_group *g, const char **params);

/* The group's statement: a DELETE of its keys, an INSERT, or (upsert) an
 * INSERT ... ON CONFLICT on the key updating the other columns it carries.
 * cols: per table column, its quoted name.  Caller frees. */
char *apply_sql_group_statement(const struct row_group *g, const char *const *cols, bool upsert);

/* Appends text[0..len) as a quoted element of an array literal. */
void apply_sql_array_add(struct strbuf *sb, const char *text, size_t len);

#endif
