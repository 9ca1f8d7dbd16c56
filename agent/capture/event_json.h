/*
 * agent/capture/event_json.h: Debezium-compatible change events as JSON, the way
 * Kafka Connect's JsonConverter writes them (with or without the schema
 * block).  docs/DEBEZIUM_FORMAT.md is the reference this follows.
 *
 * Rows come as arrays of pgoutput_value in the table's column order (text
 * forms, NULL, or "unchanged TOAST"), from the stream or the snapshot alike.
 * The headers and constants apply reads too are in event_format.h.
 */
#ifndef CDC_EVENT_JSON_H
#define CDC_EVENT_JSON_H

#include "base/util.h"
#include "config/topology.h"
#include "pg/pgoutput.h"
#include "pg/table_schema.h"
#include "pipeline/event_format.h"

struct event_options {
	const char *server_name; /* topic prefix; source.name */
	const char *db;          /* source database name */
	bool schemas;            /* JsonConverter schemas.enable */
	enum decimal_mode decimal_mode; /* the source's decimal_handling */
	bool interval_string;    /* interval.handling.mode=string: ISO 8601, lossless */
};

/* One table's topic and pre-rendered schema blocks; event_table_new/free. */
struct event_table {
	const struct table_schema *ts; /* borrowed */
	char *topic;                   /* <server_name>.<schema>.<table> */
	char *key_schema;              /* JSON, or NULL when !schemas or no key */
	char *value_schema;
	char *columns_header;          /* exact source types, for the cdc.columns header */
	struct event_column *cols;     /* one per ts->cols, in the same order */
	bool has_decimal;              /* a numeric column (see event_text_json) */
	/* The source block's constant runs, escaped once: */
	char *source_head;             /* {"version":...,"name":"<server>","ts_ms": */
	char *source_db;               /* ","db":"<db>","sequence": */
	char *source_table;            /* ,"schema":"<schema>","table":"<table>","txId": */
	char *collection;              /* "<schema>.<table>": END's data_collection */
};

struct type_map; /* event_json.c's table of how a type is written */

/* Per-column pieces of the hot path, computed by event_table_new. */
struct event_column {
	char *key;                  /* "name": (escaped) */
	const struct type_map *map; /* how its values are written */
};

struct event_table *event_table_new(const struct event_options *fmt, const struct table_schema *ts);
void event_table_free(struct event_table *et);

/* The cdc.columns header's "columns" array for ts (capture compares two
 * descriptions of a table by it). */
void event_columns_json(struct strbuf *sb, const struct table_schema *ts);

/* A change event's "transaction" block, Debezium's with
 * provide.transaction.metadata (PostgresTransactionMonitor): the id is
 * "<txId>:<LSN>", the LSN that of the message the record comes from (so
 * BEGIN, each change and END of one transaction differ in it). */
struct event_txn {
	int64_t txid;
	uint64_t lsn;
	int64_t total_order;      /* 1-based, across the transaction's events */
	int64_t collection_order; /* 1-based, among its table's events in it */
};

/* What goes in the "source" block besides the constants. */
struct event_source {
	int64_t ts_ms;            /* commit time (snapshot: its start) */
	const char *snapshot;     /* "false", "true", "first", "last" */
	int64_t txid;             /* -1: none */
	uint64_t lsn;             /* 0: none */
	uint64_t last_commit_lsn; /* for "sequence"; 0: none */
	const struct event_txn *txn; /* the "transaction" block; NULL: null */
};

/* The key of a row ({"id":1}); false when the table has no key (the caller
 * then sends a null key). */
bool event_key_json(struct strbuf *sb, const struct event_options *fmt,
		    const struct event_table *et, const struct pgoutput_value *row);

/* The value of a change: op 'c', 'u', 'd', 'r' or 't'; before/after NULL
 * when absent.  now_ms is the envelope's ts_ms. */
void event_value_json(struct strbuf *sb, const struct event_options *fmt,
		      const struct event_table *et, char op, const struct pgoutput_value *before,
		      const struct pgoutput_value *after, const struct event_source *src,
		      int64_t now_ms);

/* decimal_handling = precise has no form for a numeric NaN or ±Infinity
 * (Debezium stops on one; the event carries null): {"col":"NaN"}, the
 * PostgreSQL text of each such value of row (a whole array's text when an
 * element is one), for the cdc.text header, so that apply writes them
 * exactly; false when there is none. */
bool event_text_json(struct strbuf *sb, const struct event_options *fmt,
		     const struct event_table *et, const struct pgoutput_value *row);

/* Names of the columns of row left unchanged (TOAST) as a JSON array, or
 * false when there are none. */
bool event_unchanged_json(struct strbuf *sb, const struct event_table *et,
			  const struct pgoutput_value *row);

/* ---- the transaction topic (<topic_prefix>.transaction) -------------------
 * Debezium's BEGIN and END records, field for field (debezium.io,
 * "Debezium connector for PostgreSQL", section "Transaction metadata";
 * schemas: SchemaFactory.java transactionKeySchema/transactionValueSchema),
 * with or without the JsonConverter schema block as fmt->schemas says. */

/* One table's events in a transaction, for END's data_collections. */
struct event_txn_count {
	const char *collection; /* "schema.table", as Debezium's TableId prints it */
	int64_t count;
};

/* The record key: {"id":"<txid>:<lsn>"}. */
void event_txn_key_json(struct strbuf *sb, const struct event_options *fmt, int64_t txid,
			uint64_t lsn);

/* BEGIN: event_count and data_collections null; ts_ms the commit time. */
void event_txn_begin_json(struct strbuf *sb, const struct event_options *fmt, int64_t txid,
			  uint64_t lsn, int64_t ts_ms);

/* END: the transaction's event count and each table's, in that order. */
void event_txn_end_json(struct strbuf *sb, const struct event_options *fmt, int64_t txid,
			uint64_t lsn, int64_t ts_ms, int64_t event_count,
			const struct event_txn_count *tables, size_t ntables);

#endif
