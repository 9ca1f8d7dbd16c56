/*
 * agent/apply_event.h: a Kafka record of a change event, read back: ours or
 * Debezium's own, with or without the JsonConverter schema block.
 *
 * Column values become PostgreSQL text input for the target column's type;
 * the type tells how a JSON value was encoded (days for a date, base64 for
 * bytea, ...), with the schema block's semantic names settling what the
 * type cannot (milliseconds or microseconds).
 */
#ifndef CDC_APPLY_EVENT_H
#define CDC_APPLY_EVENT_H

#include "common.h"
#include "table_schema.h"
#include "util.h"

#include <jansson.h>

enum apply_value {
	APPLY_VALUE_NULL,
	APPLY_VALUE_TEXT,
	APPLY_VALUE_UNCHANGED, /* TOASTed and left as it was: keep the stored value */
};

struct event_field {
	const char *name;       /* borrowed from the event's JSON */
	json_t *value;          /* borrowed */
	json_t *schema;         /* field schema, or NULL without the schema block */
	const char *source_type;/* exact SQL type ("numeric(10,2)"), or NULL */
	int key_position;       /* 1-based in the key, 0: not a key column */
	bool optional;
	bool unchanged;         /* listed in cdc.unchanged, or Debezium's placeholder */
};

struct apply_event {
	char op;                /* 'c', 'u', 'r', 'd', 't'; 0 for a tombstone */
	const char *schema;     /* the source table, from the source block */
	const char *table;
	int64_t source_ts_ms;   /* source.ts_ms: when the source committed it; 0 unknown */
	json_t *value_root;     /* owned */
	json_t *key_root;       /* owned; may be NULL */
	json_t *columns;        /* owned: parsed cdc.columns header, or NULL */
	struct event_field *fields; /* the row: after, or before for a delete */
	size_t nfields;
	bool has_types;         /* every field has a schema or a source type */
};

/* Parses one record.  On error *why says what is wrong (no FILE:LINE: the
 * caller names topic, partition and offset). */
bool apply_event_parse(const void *key, size_t key_len, const void *value, size_t value_len,
		       const char *unchanged_hdr, size_t unchanged_len, const char *columns_hdr,
		       size_t columns_len, struct apply_event *ev, struct strbuf *why);
void apply_event_fini(struct apply_event *ev);

/* The field named name, or NULL. */
const struct event_field *apply_event_field(const struct apply_event *ev, const char *name);

/* The SQL type to create a column for field with ("numeric(10,2)", "text"),
 * or NULL when the event does not say; caller frees. */
char *apply_event_sql_type(const struct event_field *f);

/* The field's value as text input for col; *kind says NULL/unchanged. */
bool apply_event_value(const struct event_field *f, const struct column_schema *col,
		       struct strbuf *out, enum apply_value *kind, struct strbuf *why);

#endif
