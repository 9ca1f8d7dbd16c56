/*
 * agent/apply/apply_event.h: a Kafka record of a change event, read back: ours or
 * Debezium's own, with or without the JsonConverter schema block.
 *
 * Column values become PostgreSQL text input for the target column's type;
 * the type tells how a JSON value was encoded (days for a date, base64 for
 * bytea, ...), with the schema block's semantic names settling what the
 * type cannot (milliseconds or microseconds).
 */
#ifndef CDC_APPLY_EVENT_H
#define CDC_APPLY_EVENT_H

#include "base/common.h"
#include "base/json_scan.h"
#include "base/util.h"
#include "pg/table_schema.h"

#include <jansson.h>

enum apply_value {
	APPLY_VALUE_NULL,
	APPLY_VALUE_TEXT,
	APPLY_VALUE_UNCHANGED, /* TOASTed and left as it was: keep the stored value */
};

struct event_field {
	const char *name;          /* in the event's copy of the record */
	struct jscan_value value;  /* likewise */
	json_t *schema;            /* field schema (borrowed from the cache), or NULL */
	const char *source_type;   /* exact SQL type ("numeric(10,2)"), or NULL */
	int key_position;          /* 1-based in the key, 0: not a key column */
	bool optional;
	bool unchanged;            /* listed in cdc.unchanged, or Debezium's placeholder */
	const char *text;          /* from cdc.text: the value's PostgreSQL text, or NULL */
	/* From the cdc.columns header only (apply_schema.c): */
	int attnum;                /* the source's attribute number; 0: unknown */
	const char *default_expr;  /* the source column's default (SQL!), or NULL */
	const char *missing;       /* the value rows older than the column have, or NULL */
	json_t *udt;               /* cdc.columns' user type definition (borrowed), or NULL */
	const char *generated;     /* a generated column's expression (cdc.columns): the
				    * field is not in the row, its value never written */
};

/* One item of a cdc.columns header, read out of its tree once. */
struct column_info {
	const char *name;  /* borrowed from the tree */
	const char *type;  /* likewise; NULL when absent */
	int key;           /* 1-based position in the key; 0: not a key column */
	bool optional;
	int attnum;        /* 0 when absent */
	const char *default_expr; /* borrowed; NULL when absent */
	const char *missing;      /* likewise */
	json_t *udt;       /* borrowed from the tree; NULL when absent */
	const char *generated; /* likewise */
};

/* Parsed JSON texts that repeat from record to record (a table's schema
 * block, its cdc.columns header), kept by their bytes: parsed by jansson
 * once, then found by comparing bytes. */
#define APPLY_EVENT_CACHE_SLOTS 16

struct parsed_text {
	char *text;                 /* owned */
	size_t len;
	json_t *root;               /* owned */
	struct column_info *infos;  /* cdc.columns only: its items (owned) */
	size_t ninfos;
	uint64_t version;           /* cdc.columns only: its "version", 0 when absent */
	bool names_unique;          /* no two infos share a name */
	size_t ngenerated;          /* infos of generated columns */
};

struct parsed_cache {
	struct parsed_text slots[APPLY_EVENT_CACHE_SLOTS];
	size_t next;       /* the slot to replace on a miss */
};

/* One record read back.  apply_event_init/apply_event_fini; each
 * apply_event_parse replaces the previous record (its buffers and caches are
 * reused), so the pointers into an event live until the next parse. */
struct apply_event {
	char op;                /* 'c', 'u', 'r', 'd', 't'; 0 for a tombstone */
	const char *schema;     /* the source table, from the source block */
	const char *table;
	int64_t source_ts_ms;   /* source.ts_ms: when the source committed it; 0 unknown */
	struct event_field *fields; /* the row: after, or before for a delete */
	size_t nfields;
	bool has_types;         /* every field has a schema or a source type */
	/* The cdc.columns header: */
	bool has_columns;       /* the record has one */
	uint64_t schema_version; /* its "version" (capture's LSN), 0 when absent */
	bool schema_trusted;    /* its cdc.columns header is capture's (schema_mac.h):
				 * the SQL expressions it carries may be run */
	/* private */
	struct strbuf value;    /* the record's value, read in place */
	struct strbuf key;      /* likewise its key */
	size_t fields_cap;
	const char **key_names; /* the key's columns in key order */
	struct jscan_value *key_values; /* and their values, in the key's copy */
	size_t nkey_names, key_names_cap;
	json_t *unchanged;      /* parsed cdc.unchanged header, or NULL */
	json_t *texts;          /* parsed cdc.text header, or NULL */
	struct parsed_cache schemas;
	struct parsed_cache columns;
	/* an update's "before" row, read by apply_event_before */
	struct event_field *before;
	size_t nbefore, before_cap;
	struct jscan_value before_value;
	const struct jscan_value *before_row; /* &before_value until read; else NULL */
	json_t *before_schema;
	const struct parsed_text *before_columns;
};

void apply_event_init(struct apply_event *ev);
void apply_event_fini(struct apply_event *ev);

/* Parses one record into ev.  On error *why says what is wrong (no
 * FILE:LINE: the caller names topic, partition and offset). */
MUST_CHECK bool apply_event_parse(const void *key, size_t key_len, const void *value,
				  size_t value_len, const char *unchanged_hdr, size_t unchanged_len,
				  const char *columns_hdr, size_t columns_len, struct apply_event *ev,
				  struct strbuf *why);

/* After apply_event_parse: capture's cdc.text header (NULL: none), the
 * PostgreSQL text of values the event's JSON has no form for (a numeric NaN
 * or Infinity under decimal_handling = precise, sent as null; an array
 * with such an element has nulls in their place).  Each named column must
 * be a field whose value is null or an array. */
MUST_CHECK bool apply_event_texts(struct apply_event *ev, const char *hdr, size_t len,
				  struct strbuf *why);

/* The field named name, or NULL; looked for first at index hint (the
 * target column's position: the usual order of a row). */
const struct event_field *apply_event_field(const struct apply_event *ev, const char *name,
					    size_t hint);

/* An update's "before" row (the whole old row where the source table's
 * REPLICA IDENTITY is FULL) into ev->before/nbefore; *present false when the
 * event has none.  Pointers live until the next parse. */
MUST_CHECK bool apply_event_before(struct apply_event *ev, bool *present, struct strbuf *why);

/* The SQL type to create a column for field with ("numeric(10,2)", "text"),
 * or NULL when the event does not say; caller frees. */
char *apply_event_sql_type(const struct event_field *f);

/* The field's value as text input for col; *kind says NULL/unchanged. */
MUST_CHECK bool apply_event_value(const struct event_field *f, const struct column_schema *col,
				  struct strbuf *out, enum apply_value *kind, struct strbuf *why);

#endif
