/*
 * agent/pipeline/event_format.h: the wire contract between capture and apply.
 *
 * Capture writes Debezium-compatible events (event_json.h) with cdc-agent's
 * own Kafka headers beside them; apply reads both.  Every name and constant
 * the two sides must spell alike is here, and only here, so that neither
 * side includes the other's headers.  docs/DEBEZIUM_FORMAT.md §7 describes
 * each header; changing a value here changes what is on the topics, and
 * apply must keep reading what older captures wrote.
 */
#ifndef CDC_EVENT_FORMAT_H
#define CDC_EVENT_FORMAT_H

#include "base/common.h"

#include <inttypes.h>
#include <string.h>

/* ---- headers ------------------------------------------------------------- */

/* The table as the source catalog describes it, on every change event and
 * tombstone: EVENT_COLUMNS_PREFIX, then {"version": N, "columns": [...]}. */
#define EVENT_HEADER_COLUMNS "cdc.columns"
/* Hex HMAC-SHA256 of the topic, '\n' and the cdc.columns bytes
 * (schema_mac.h): apply runs a header's SQL only when it verifies. */
#define EVENT_HEADER_COLUMNS_MAC "cdc.columns.mac"
/* JSON array of the columns an update left unchanged (TOAST): their values
 * are EVENT_UNAVAILABLE_VALUE, and apply keeps the stored ones. */
#define EVENT_HEADER_UNCHANGED "cdc.unchanged"
/* A keyless table's change: where it lies in the stream (EVENT_POSITION_FMT). */
#define EVENT_HEADER_POSITION "cdc.position"
/* With transaction metadata: which source transaction a record is of, by
 * its commit LSN (unique, and ordered as the commits are), for apply's
 * transaction-consistent mode: EVENT_TXN_FMT with kind 'B' and 0 on the
 * BEGIN record, 'E' and the event count on the END record, 'C' and the
 * event's total_order on a change event (and on its tombstone), there
 * followed by '/' and its data_collection_order (EVENT_TXN_CHANGE_FMT):
 * with the END's per-table counts, apply can tell a gap of total_order
 * made by a table it does not read from an event still to come. */
#define EVENT_HEADER_TXN "cdc.txn"
#define EVENT_TXN_FMT "%016" PRIX64 ":%c%" PRId64
#define EVENT_TXN_CHANGE_FMT EVENT_TXN_FMT "/%" PRId64
/* JSON object, column -> the value's PostgreSQL text, for the values the
 * event cannot carry (numeric NaN or ±Infinity under decimal_handling =
 * precise: the event has null there). */
#define EVENT_HEADER_TEXT "cdc.text"

/* Debezium's own headers on the records of a change of key: the delete's
 * and tombstone's name the new key, the create's the old one (capture
 * writes them for Debezium's consumers; apply needs neither). */
#define EVENT_HEADER_OLD_KEY "__debezium.oldkey"
#define EVENT_HEADER_NEW_KEY "__debezium.newkey"

/* ---- schema block -------------------------------------------------------- */

/* A field's "parameters" with Debezium's column.propagate.source.type: the
 * source type's name in upper case ("_" in front for an array), its length
 * and scale, each a string.  apply's auto_create reads them when a record
 * has no cdc.columns header. */
#define EVENT_PARAM_COLUMN_TYPE "__debezium.source.column.type"
#define EVENT_PARAM_COLUMN_LENGTH "__debezium.source.column.length"
#define EVENT_PARAM_COLUMN_SCALE "__debezium.source.column.scale"

/* ---- transaction metadata ------------------------------------------------ */

/* With [source] transaction_metadata = true (the default), as Debezium's
 * provide.transaction.metadata writes them (docs/DEBEZIUM_FORMAT.md §1.7):
 *  - every streamed change event's payload has a "transaction" member,
 *    {"id":"<txId>:<LSN>","total_order":N,"data_collection_order":M}
 *    (N counts the transaction's change events from 1, M its table's; the
 *    LSN is the change's own, source.lsn); snapshot rows (op "r") and
 *    tombstones have none: "transaction":null, as without the option;
 *  - the topic topology_transaction_topic names, <topic_prefix>.transaction,
 *    gets a BEGIN record before a transaction's first change event and an
 *    END record after its last ({"status","id","event_count",
 *    "data_collections":[{"data_collection":"schema.table","event_count"}],
 *    "ts_ms"}), keyed {"id":...}; a transaction without a change of a
 *    captured table has neither.  After a capture restart the slot replays
 *    whole transactions: BEGIN, every change and END come again, alike.
 * Each of these records also has the EVENT_HEADER_TXN header, which is
 * what apply reads (consistency = transaction); the transaction topic has
 * one partition, so that its records keep the commit order. */

/* ---- values -------------------------------------------------------------- */

/* Unchanged TOASTed values are sent as Debezium's default placeholder, and
 * listed in the event's cdc.unchanged header so apply keeps the stored
 * value whatever the column's type. */
#define EVENT_UNAVAILABLE_VALUE "__debezium_unavailable_value"

/* The cdc.columns header's text starts with this word, then the JSON.
 * Kafka Connect's default header converter (SimpleHeaderConverter) turns
 * a header that is a JSON array or object into Connect data, and one whose
 * objects mix value types (a string name, a boolean, an int key) gets no
 * schema: Debezium's JDBC sink then fails on every record.  After a word
 * the header stays a string for Connect.  apply takes it with or without. */
#define EVENT_COLUMNS_PREFIX "v1 "

/* How many bytes of a cdc.columns header come before its JSON. */
static inline size_t event_columns_skip(const char *hdr, size_t len)
{
	size_t n = sizeof(EVENT_COLUMNS_PREFIX) - 1;

	return len >= n && memcmp(hdr, EVENT_COLUMNS_PREFIX, n) == 0 ? n : 0;
}

/* A cdc.position: the transaction's commit LSN (uint64_t) and the change's
 * number among the table's changes in it (uint32_t, from 1), in upper-case
 * hex of fixed width, so that positions order as text as the stream does.
 * EVENT_POSITION_LEN characters, EVENT_POSITION_SEP at index 16. */
#define EVENT_POSITION_FMT "%016" PRIX64 ":%08" PRIX32
#define EVENT_POSITION_LEN 25
#define EVENT_POSITION_SEP ':'
#define EVENT_POSITION_SEP_AT 16

#endif
