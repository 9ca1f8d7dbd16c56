/*
 * agent/pg/column_type.h: a column type named by a Kafka record (a cdc.columns
 * header, Debezium's __debezium.source.column.* parameters, a Connect
 * schema), made safe to put in DDL.
 *
 * A record is hostile input: its type text never reaches SQL.  It is split
 * into a base name, integer modifiers and array dimensions; the base name is
 * resolved by the target's catalog (to_regtype, as a parameter), and the SQL
 * text is rebuilt from the catalog's quoted names and the integers alone.
 */
#ifndef CDC_COLUMN_TYPE_H
#define CDC_COLUMN_TYPE_H

#include "base/common.h"
#include "base/util.h"

#include <libpq-fe.h>

#define COLUMN_TYPE_MAX_MODS 2
#define COLUMN_TYPE_MAX_TEXT 256

struct column_type {
	char *base;                      /* "timestamp with time zone", "public.mood" (owned) */
	int mods[COLUMN_TYPE_MAX_MODS];  /* typmod integers, as written */
	int nmods;
	int array_dims;                  /* trailing "[]"s */
};

/* Splits a type as format_type() or Debezium spell it ("numeric(10,2)",
 * "timestamp(3) with time zone", "\"My Type\"[]"); false with *why on
 * anything else.  column_type_fini frees it (also after a failure). */
MUST_CHECK bool column_type_parse(const char *text, struct column_type *t, struct strbuf *why);
void column_type_fini(struct column_type *t);

/* The SQL text for t as the target knows it ("pg_catalog.numeric(10,2)",
 * "public.mood[]"), or false with *why when the target has no such type or
 * the query failed (then logged with label).  *sql: caller frees. */
MUST_CHECK bool column_type_resolve(PGconn *db, const char *label, const struct column_type *t,
				    char **sql, struct strbuf *why);

#endif
