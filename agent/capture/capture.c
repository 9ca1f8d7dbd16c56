/*
 * agent/capture/capture.c: the source's changes to Kafka.
 *
 * Order of a session: check the publication; find or create the slot (with
 * an exported snapshot when an initial snapshot is wanted); copy the tables
 * not yet snapshotted as op "r" events inside that snapshot, waiting for
 * Kafka's acknowledgement of each table before recording it done; then
 * START_REPLICATION from the slot and turn pgoutput messages into events.
 *
 * No loss: every event of a transaction carries a pointer to that
 * transaction's record as its Kafka ack token.  The flush LSN sent to
 * PostgreSQL (the slot's confirmed_flush_lsn) moves to a transaction's end
 * only when it and every earlier transaction have no unacknowledged event.
 * After a crash the slot replays from there: events of transactions that
 * were in flight are sent again (duplicates), none is lost.
 */
#include "capture/capture.h"

#include "base/log.h"
#include "base/util.h"
#include "capture/capture_ground.h"
#include "capture/capture_snapshot.h"
#include "capture/capture_state.h"
#include "capture/event_json.h"
#include "config/kafka_limits.h"
#include "config/topo_values.h"
#include "kafka/kafka_out.h"
#include "pg/pgoutput.h"
#include "pg/pg_text.h"
#include "pg/pgsql.h"
#include "pg/replica_identity.h"
#include "pg/table_schema.h"
#include "pipeline/event_counts.h"
#include "pipeline/pipeline_digest.h"
#include "pipeline/progress.h"
#include "pipeline/progress_health.h"
#include "pipeline/schema_mac.h"
#include "pipeline/table_select.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATUS_INTERVAL_SEC 1.0
/* A confirmed LSN that moved goes to the server this soon after the last
 * status: a restart after a crash resends every change past the slot's
 * confirmed LSN, and with a status a second a kill -9 right after a load
 * resent its 20,000 rows, which put the first new row 0.9-1.2 s after the
 * start (scripts/bench-start.sh). */
#define CONFIRM_INTERVAL_SEC 0.2
#define TOPIC_TIMEOUT_MS 30000
#define RECONNECT_MAX_SEC 30
/* Messages handled between two looks at the clock, Kafka's acks and the
 * status timer while the stream is busy (it looks whenever it runs dry). */
#define HOUSEKEEPING_EVERY 512
/* The event buffer is reused for every event up to this capacity. */
#define EVENT_BUFFER_KEEP ((size_t)4 << 20)
/* The walsender sends each change on its own; a capture waiting in poll()
 * is woken for each, and each wake-up costs both sides (the walsender's
 * send wakes us, we read a message or two).  After a drain this small, a
 * 1 ms nap lets the next changes gather and be read in one go: capture
 * 0.5 and the walsender 0.25 us/row less at 90,000 rows/s (side by side,
 * 4 pairs).  Busier drains do not nap: the walsender's socket holds only
 * a few hundred small messages, and a longer or unconditional pause left
 * it waiting on a full socket and capped throughput (a 10 ms variant,
 * docs/BENCHMARKS.md). */
#define COALESCE_BELOW 64
#define COALESCE_NSEC 1000000

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A source transaction whose events are on their way to Kafka. */
struct txn {
	struct txn *next;
	uint64_t end_lsn;   /* confirmed once every event is acknowledged */
	uint64_t final_lsn; /* of its commit record (Begin says it) */
	size_t outstanding; /* events produced and not yet acknowledged */
	bool committed;     /* its Commit message was seen */
	struct event_deltas counts; /* its events, counted once it is confirmed */
};

/* A captured table: its schema and pre-rendered event parts. */
struct capture_table {
	uint32_t oid;
	struct table_schema *ts;
	struct event_table *et;
	char *columns_mac;  /* the cdc.columns header's mac (schema_mac.h) */
	size_t count_idx; /* its event_counts index */
	bool identity_bad; /* its last Relation's REPLICA IDENTITY identifies no row */
	uint64_t pos_final; /* the transaction its last change was in (final LSN) */
	uint32_t pos_seq;   /* and that change's number among the table's in it */
	double labels_reloaded; /* when its enum labels were last read again */
	int64_t labels_xid;     /* and in which transaction (-1: a snapshot row) */
	uint64_t tx_serial;     /* the transaction its tx_count is of (capture.tx_serial) */
	int64_t tx_count;       /* its events in it: data_collection_order */
};

struct capture {
	const struct source_cfg *src;
	const struct kafka_cfg *kafka_cfg;
	const char *state_dir;
	char *label;
	struct event_options fmt;
	struct kafka_out *kafka;
	struct schema_mac *mac;        /* signs the cdc.columns headers */
	PGconn *repl;                  /* replication=database */
	PGconn *sql;                   /* catalog and snapshot queries */
	struct pgoutput_decoder dec;
	struct capture_table *tables;  /* in the order first seen */
	size_t ntables;
	struct strmap table_of;        /* OID (4 bytes) -> index in tables: per change */
	struct capture_state state;
	struct capture_snapshot *snap; /* incremental snapshots (capture_snapshot.c) */
	struct strbuf key, value;      /* reused for every event */
	struct txn *head, *tail;       /* in commit order */
	struct txn *open;              /* between Begin and Commit */
	struct txn snapshot;           /* ack counter of the snapshot's events */
	int64_t open_xid;
	int64_t open_commit_ms;
	uint64_t change_lsn;           /* of the message being handled */
	uint64_t last_commit_lsn;
	uint64_t received;             /* WAL position read so far */
	uint64_t confirmed;            /* flush LSN reported to the server */
	uint64_t status_confirmed;     /* confirmed at the last status */
	bool kafka_failed;
	bool streamed;                 /* a session reached streaming once */
	bool streamed_session;         /* the current session reached streaming */
	double next_status;
	int64_t event_ms; /* events' ts_ms while streaming (read by housekeeping); 0: read it per event */
	struct progress_writer progress; /* events for status, written once a second */
	double next_ground;            /* when capture_ground_check is due */
	struct strbuf ground_extra;    /* published beyond the topology at the last check */
	bool kafka_refused;            /* the broker refused a record itself (too large, invalid) */
	bool too_large;                /* a change over [kafka] max_message_bytes: stop for good */
	uint64_t error_confirmed;      /* confirmed LSN when the error being retried began */
	/* Events of confirmed transactions since the pipeline was created
	 * (event_counts.h): they reach counts_lsn, kept in counts_path;
	 * replayed transactions that end before it were counted already. */
	struct event_counts counts;
	uint64_t counts_lsn;
	char *counts_path;
	bool counts_dirty;
	int64_t counts_next_warning;
	bool idle; /* the last message was a keepalive: the server had no more */
	/* Transaction metadata (transaction_metadata): the open transaction's
	 * BEGIN record is produced before its first change event, its END at
	 * its Commit when it had one; a transaction without a change of a
	 * captured table has neither (as with Debezium on PostgreSQL 15 and
	 * later, whose pgoutput sends no empty transaction). */
	char *tx_topic;                /* <topic_prefix>.transaction; NULL: off */
	uint64_t tx_serial;            /* counts Begin messages */
	uint64_t tx_begin_lsn;         /* the Begin message's LSN: BEGIN's id */
	bool tx_begun;                 /* BEGIN produced for the open transaction */
	int64_t tx_total;              /* its events so far: total_order */
	size_t *tx_tables;             /* indexes in tables, first change first */
	struct event_txn_count *tx_counts; /* END's data_collections (as many) */
	size_t tx_ntables, tx_cap;
};

static bool lsn_parse(const char *text, uint64_t *lsn)
{
	unsigned hi, lo;

	if (!text || sscanf(text, "%X/%X", &hi, &lo) != 2)
		return false;
	*lsn = (uint64_t)hi << 32 | lo;
	return true;
}

/* ---- acknowledgements and the confirmed LSN ------------------------------ */

static void on_ack(void *ctx, void *token, bool delivered, const char *error)
{
	struct capture *c = ctx;
	struct txn *t = token;

	t->outstanding--;
	/* At a stop, kafka_out_free reports what is left as not delivered
	 * (and says so): not an error, the slot replays it. */
	if (!delivered && !c->kafka_failed && stop_requested) {
		c->kafka_failed = true;
	} else if (!delivered && !c->kafka_failed) {
		c->kafka_failed = true;
		/* Sent again, the same record is refused again (status: FAILED). */
		c->kafka_refused = error && (strcasestr(error, "too large") ||
					     strcasestr(error, "invalid record"));
		log_error("%s: Kafka did not acknowledge an event (%s); stopping: nothing past LSN %X/%X is confirmed to PostgreSQL",
			  c->label, error ? error : "unknown error", (unsigned)(c->confirmed >> 32),
			  (unsigned)c->confirmed);
	}
}

/* Moves the confirmed LSN past every leading transaction Kafka has fully
 * acknowledged, freeing their records. */
static void txns_settle(struct capture *c)
{
	while (!c->kafka_failed && c->head && c->head->committed && c->head->outstanding == 0) {
		struct txn *t = c->head;

		if (t->end_lsn > c->confirmed)
			c->confirmed = t->end_lsn;
		c->head = t->next;
		if (!c->head)
			c->tail = NULL;
		if (t->counts.n > 0 && t->final_lsn >= c->counts_lsn) {
			event_deltas_apply(&t->counts, &c->counts);
			c->counts_dirty = true;
		}
		event_deltas_clear(&t->counts);
		free(t);
	}
}

static void txns_free(struct capture *c)
{
	while (c->head) {
		struct txn *t = c->head;

		c->head = t->next;
		event_deltas_clear(&t->counts);
		free(t);
	}
	c->tail = c->open = NULL;
}

/* ---- events counted since the pipeline was created ------------------------ */

/* Writes the counts when they changed, with the LSN they reach: called
 * before each standby status, so the slot is never confirmed past counts
 * that are not on disk.  A failure is a warning (a minute apart): counting
 * must not stop the pipeline. */
static void counts_persist(struct capture *c)
{
	uint64_t lsn = c->confirmed > c->counts_lsn ? c->confirmed : c->counts_lsn;
	int64_t now = mono_usec();
	struct strbuf why;

	if (!c->counts_dirty || !c->counts_path)
		return;
	strbuf_init(&why);
	if (event_counts_save(c->counts_path, &c->counts, lsn, &why)) {
		c->counts_lsn = lsn;
		c->counts_dirty = false;
	} else if (now >= c->counts_next_warning) {
		log_warn("%s: event counts not written: %s", c->label, why.data);
		c->counts_next_warning = now + 60 * 1000000LL;
	}
	strbuf_fini(&why);
}

/* Milliseconds behind the source (Debezium's MilliSecondsBehindSource): 0
 * when caught up (the server had nothing more to send and every
 * transaction is acknowledged), else now - the source commit time of the
 * last event produced; -1 when unknown (nothing produced yet). */
static int64_t behind_source_ms(const struct capture *c)
{
	if (c->idle && !c->head)
		return 0;
	if (!c->progress.p.last_event_usec)
		return -1;
	return (wall_usec() - c->progress.p.last_event_usec) / 1000;
}

/* The progress members of docs/STATUS.md, once a second (progress.h). */
static void progress_refresh(struct progress_writer *w, void *ctx)
{
	struct capture *c = ctx;
	int64_t behind = behind_source_ms(c);
	size_t queued = 0, max = 0;

	progress_writer_set(w, "events_total",
			    json_integer((json_int_t)event_counts_total(&c->counts)));
	progress_writer_set(w, "events_by_table", event_counts_json(&c->counts));
	progress_writer_set(w, "behind_source_ms", behind >= 0 ? json_integer(behind) : json_null());
	if (c->kafka)
		kafka_out_queue(c->kafka, &queued, &max);
	progress_writer_set(w, "queue", c->kafka ? json_pack("{s:I, s:I}", "messages",
							      (json_int_t)queued, "max_messages",
							      (json_int_t)max)
						 : json_null());
}

/* ---- producing events ----------------------------------------------------- */

/* Record headers of one change (all optional). */
struct change_headers {
	const char *old_key;    /* __debezium.oldkey: on the create after a key change */
	const char *new_key;    /* __debezium.newkey: on the delete and tombstone before it */
	bool unchanged;         /* cdc.unchanged: TOASTed columns the update left as they are */
	const char *position;   /* cdc.position: a keyless table's change, where in the stream */
};

static bool produce(struct capture *c, const char *topic, const struct strbuf *key,
		    const char *value, size_t value_len, const struct kafka_header *hdrs,
		    size_t n_hdrs, struct txn *t)
{
	t->outstanding++;
	if (!kafka_out_produce_headers(c->kafka, topic, key ? key->data : NULL,
				       key ? key->len : 0, value, value_len, hdrs, n_hdrs, t)) {
		t->outstanding--;
		/* Refused, unless it gave up waiting for room because of a stop. */
		c->kafka_failed = c->kafka_failed || !stop_requested;
		return false; /* errors already logged */
	}
	return true;
}

/* Compact key payload ({"id":1}) as Debezium's key-change headers carry it,
 * whatever the schema setting. */
static char *key_payload(const struct capture *c, const struct capture_table *ct,
			 const struct pgoutput_value *row)
{
	struct event_options plain = c->fmt;
	struct strbuf sb;

	plain.schemas = false;
	strbuf_init(&sb);
	if (!event_key_json(&sb, &plain, ct->et, row)) {
		strbuf_fini(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

/* Where [kafka] max_message_bytes is set: "FILE:LINE", or the default's
 * file. */
static void limit_origin(const struct capture *c, char *buf, size_t size)
{
	const struct topo_origin *o = &c->kafka_cfg->origin;
	int line = topology_key_line(o, "kafka", "max_message_bytes");

	if (line > 0 && line != o->line)
		snprintf(buf, size, "topology %s:%d", o->file, line);
	else
		snprintf(buf, size, "the default; topology %s", o->file ? o->file : "?");
}

/* Stops capture for good on a change Kafka cannot take: logged with table,
 * key and size, and whose limit it is (ours, or Kafka's: by_kafka);
 * kafka_failed keeps the slot from being confirmed past it (nor past
 * anything after it). */
static void stop_too_large(struct capture *c, const char *table, const char *key, size_t key_len,
			   size_t size, bool by_kafka)
{
	char limit[32], origin[PATH_MAX + 64];

	kafka_size_text(kafka_record_limit(c->kafka_cfg), limit, sizeof(limit));
	limit_origin(c, origin, sizeof(origin));
	/* A key is short as a rule; a long one is cut so that the line (and
	 * status's reason, which is this line) stays readable. */
	if (by_kafka)
		log_error("%s: table %s: the change of key %.*s%s is %zu bytes, refused by Kafka "
			  "as too large (MSG_SIZE_TOO_LARGE: the topic's max.message.bytes or the "
			  "broker's message.max.bytes is below what [kafka] max_message_bytes = %s "
			  "(%s) needs; capture raises a topic's at its start); capture stops, "
			  "nothing past LSN %X/%X is confirmed",
			  c->label, table, key_len > 200 ? 200 : (int)key_len, key,
			  key_len > 200 ? "..." : "", size, limit, origin,
			  (unsigned)(c->confirmed >> 32), (unsigned)c->confirmed);
	else
		log_error("%s: table %s: the change of key %.*s%s is %zu bytes, over [kafka] "
			  "max_message_bytes = %s (%s): too large for Kafka; capture stops, nothing "
			  "past LSN %X/%X is confirmed (raise max_message_bytes, or change the row)",
			  c->label, table, key_len > 200 ? 200 : (int)key_len, key,
			  key_len > 200 ? "..." : "", size, limit, origin,
			  (unsigned)(c->confirmed >> 32), (unsigned)c->confirmed);
	c->too_large = true;
	c->kafka_failed = true;
}

/* Whether the event in c->value (with key_len bytes of key and the headers)
 * is one Kafka takes: checked before producing, so that a change too large
 * stops capture at once instead of a refusal and a replay again and again. */
static bool record_fits(struct capture *c, const struct capture_table *ct,
			const struct pgoutput_value *key_row, size_t key_len,
			const struct kafka_header *hdrs, size_t n)
{
	size_t lens[8], size;
	char *key, *table;

	for (size_t i = 0; i < n && i < ARRAY_LEN(lens); i++)
		lens[i] = strlen(hdrs[i].name) + hdrs[i].len;
	size = kafka_record_size(key_len, c->value.len, lens, n < ARRAY_LEN(lens) ? n : 0);
	if (size <= (size_t)kafka_record_limit(c->kafka_cfg))
		return true;
	key = key_row ? key_payload(c, ct, key_row) : NULL;
	table = table_name_text(ct->ts->schema, ct->ts->table);
	stop_too_large(c, table, key ? key : "(none)", key ? strlen(key) : 6, size, false);
	free(table);
	free(key);
	return false;
}

/* ---- transaction metadata ------------------------------------------------- */

/* The open transaction's BEGIN (end false) or END record on the transaction
 * topic, in its ack count: the slot is confirmed past the transaction only
 * once Kafka has them too.  Keyed by the record's id, as Debezium's. */
static bool tx_record(struct capture *c, bool end)
{
	uint64_t lsn = end ? c->change_lsn : c->tx_begin_lsn;
	char txn[48];
	struct kafka_header hdr = { EVENT_HEADER_TXN, txn, 0 };

	c->key.len = 0;
	c->value.len = 0;
	event_txn_key_json(&c->key, &c->fmt, c->open_xid, lsn);
	if (end) {
		for (size_t i = 0; i < c->tx_ntables; i++) {
			const struct capture_table *ct = &c->tables[c->tx_tables[i]];

			c->tx_counts[i] = (struct event_txn_count){ ct->et->collection, ct->tx_count };
		}
		event_txn_end_json(&c->value, &c->fmt, c->open_xid, lsn, c->open_commit_ms,
				   c->tx_total, c->tx_counts, c->tx_ntables);
	} else {
		event_txn_begin_json(&c->value, &c->fmt, c->open_xid, lsn, c->open_commit_ms);
	}
	hdr.len = (size_t)snprintf(txn, sizeof(txn), EVENT_TXN_FMT, c->open->final_lsn,
				   end ? 'E' : 'B', end ? c->tx_total : (int64_t)0);
	return produce(c, c->tx_topic, &c->key, c->value.data, c->value.len, &hdr, 1, c->open);
}

/* The "transaction" block of the open transaction's next change event, of
 * table idx: total_order and data_collection_order count from 1; the
 * transaction's BEGIN goes first, once.  Tombstones are not counted (as
 * Debezium's, made from the delete after it was counted). */
static bool tx_next(struct capture *c, size_t idx, const struct event_source *src,
		    struct event_txn *txn)
{
	struct capture_table *ct = &c->tables[idx];

	if (!c->tx_begun) {
		if (!tx_record(c, false))
			return false;
		c->tx_begun = true;
	}
	if (ct->tx_serial != c->tx_serial) {
		ct->tx_serial = c->tx_serial;
		ct->tx_count = 0;
		if (c->tx_ntables == c->tx_cap) { /* kept for later transactions */
			c->tx_cap = c->tx_cap ? 2 * c->tx_cap : 8;
			c->tx_tables = xrealloc(c->tx_tables, c->tx_cap * sizeof(*c->tx_tables));
			c->tx_counts = xrealloc(c->tx_counts, c->tx_cap * sizeof(*c->tx_counts));
		}
		c->tx_tables[c->tx_ntables++] = idx;
	}
	*txn = (struct event_txn){ src->txid, src->lsn, ++c->tx_total, ++ct->tx_count };
	return true;
}

/* A Begin message: a transaction with no record yet. */
static void tx_open(struct capture *c)
{
	c->tx_serial++;
	c->tx_begin_lsn = c->change_lsn;
	c->tx_begun = false;
	c->tx_total = 0;
	c->tx_ntables = 0;
}

/* One change as Kafka records: the event, and a tombstone after a delete. */
static bool emit(struct capture *c, const struct capture_table *ct, char op,
		 const struct pgoutput_value *before, const struct pgoutput_value *after,
		 const struct event_source *src, const struct change_headers *h, struct txn *t)
{
	const struct pgoutput_value *key_row = after ? after : before;
	struct kafka_header hdrs[8]; /* at most 8: every header below */
	char txn_hdr[64];
	/* only updates can have unchanged columns: no buffer for the rest */
	bool may_have_unchanged = h && h->unchanged;
	/* nor a table without numeric columns a cdc.text header */
	bool may_have_texts = after && ct->et->has_decimal && c->fmt.decimal_mode == DECIMAL_PRECISE;
	struct strbuf unchanged, texts;
	struct event_source with_txn;
	struct event_txn txn;
	size_t n = 0;
	bool has_key, ok;

	/* A streamed change (not a snapshot row) gets its transaction block. */
	if (c->tx_topic && op != 'r' && t && t == c->open) {
		if (!tx_next(c, (size_t)(ct - c->tables), src, &txn))
			return false; /* errors already logged */
		with_txn = *src;
		with_txn.txn = &txn;
		src = &with_txn;
	}
	c->key.len = 0;
	c->value.len = 0;
	has_key = key_row && event_key_json(&c->key, &c->fmt, ct->et, key_row);
	event_value_json(&c->value, &c->fmt, ct->et, op, before, after, src,
			 c->event_ms ? c->event_ms : wall_ms());
	if (may_have_unchanged)
		strbuf_init(&unchanged);
	if (h && h->old_key)
		hdrs[n++] = (struct kafka_header){ EVENT_HEADER_OLD_KEY, h->old_key,
						   strlen(h->old_key) };
	if (h && h->new_key)
		hdrs[n++] = (struct kafka_header){ EVENT_HEADER_NEW_KEY, h->new_key,
						   strlen(h->new_key) };
	if (may_have_unchanged && event_unchanged_json(&unchanged, ct->et, after))
		hdrs[n++] = (struct kafka_header){ EVENT_HEADER_UNCHANGED, unchanged.data, unchanged.len };
	if (h && h->position)
		hdrs[n++] = (struct kafka_header){ EVENT_HEADER_POSITION, h->position, strlen(h->position) };
	if (src->txn)
		hdrs[n++] = (struct kafka_header){
			EVENT_HEADER_TXN, txn_hdr,
			(size_t)snprintf(txn_hdr, sizeof(txn_hdr), EVENT_TXN_CHANGE_FMT, t->final_lsn,
					 'C', src->txn->total_order, src->txn->collection_order)
		};
	if (may_have_texts)
		strbuf_init(&texts);
	if (may_have_texts && event_text_json(&texts, &c->fmt, ct->et, after))
		hdrs[n++] = (struct kafka_header){ EVENT_HEADER_TEXT, texts.data, texts.len };
	/* In both schema modes: the header says what the schema block cannot
	 * (exact types, attribute numbers, defaults), signed for apply. */
	hdrs[n++] = (struct kafka_header){ EVENT_HEADER_COLUMNS, ct->et->columns_header,
					   strlen(ct->et->columns_header) };
	hdrs[n++] = (struct kafka_header){ EVENT_HEADER_COLUMNS_MAC, ct->columns_mac,
					   strlen(ct->columns_mac) };
	ok = record_fits(c, ct, key_row, has_key ? c->key.len : 0, hdrs, n) &&
	     produce(c, ct->et->topic, has_key ? &c->key : NULL, c->value.data, c->value.len, hdrs,
		     n, t);
	if (ok) {
		progress_writer_event(&c->progress, src->ts_ms * 1000);
		event_deltas_add(&t->counts, ct->count_idx, event_op_index(op));
	}
	/* The tombstone carries the delete's headers, as Debezium's does. */
	if (ok && op == 'd' && has_key && c->src->tombstones)
		ok = produce(c, ct->et->topic, &c->key, NULL, 0, hdrs, n, t);
	if (may_have_unchanged)
		strbuf_fini(&unchanged);
	if (may_have_texts)
		strbuf_fini(&texts);
	/* The producer copied the event: a buffer grown for a large value
	 * is given back rather than kept for the process's life. */
	if (c->value.cap > EVENT_BUFFER_KEEP) {
		strbuf_fini(&c->value);
		strbuf_init(&c->value);
	}
	return ok;
}

/* ---- tables ---------------------------------------------------------------- */

static struct capture_table *table_find(struct capture *c, uint32_t oid)
{
	size_t i;

	return strmap_get(&c->table_of, &oid, sizeof(oid), &i) ? &c->tables[i] : NULL;
}

static void table_set(struct capture *c, struct table_schema *ts)
{
	struct capture_table *ct = table_find(c, ts->oid);

	if (!ct) {
		c->tables = xrealloc(c->tables, (c->ntables + 1) * sizeof(*c->tables));
		strmap_put(&c->table_of, &ts->oid, sizeof(ts->oid), c->ntables);
		ct = &c->tables[c->ntables++];
		memset(ct, 0, sizeof(*ct));
	} else {
		event_table_free(ct->et);
		table_schema_free(ct->ts);
		free(ct->columns_mac);
	}
	ct->oid = ts->oid;
	ct->ts = ts;
	ct->et = event_table_new(&c->fmt, ts);
	ct->columns_mac = schema_mac_sign(c->mac, ct->et->topic, ct->et->columns_header,
					  strlen(ct->et->columns_header));
	{
		char *name = table_name_text(ts->schema, ts->table);

		ct->count_idx = event_counts_index(&c->counts, name);
		free(name);
	}
}

/* A table's description got its version: the LSN of the first change
 * after its Relation message (the message itself comes without one:
 * walsender sends LSN 0 for all but a callback's last write). */
static void table_version_settle(struct capture *c, struct capture_table *ct)
{
	if (ct->ts->version != 0 || c->change_lsn == 0)
		return;
	ct->ts->version = c->change_lsn;
	event_table_free(ct->et);
	free(ct->columns_mac);
	ct->et = event_table_new(&c->fmt, ct->ts);
	ct->columns_mac = schema_mac_sign(c->mac, ct->et->topic, ct->et->columns_header,
					  strlen(ct->et->columns_header));
}

static void tables_free(struct capture *c)
{
	for (size_t i = 0; i < c->ntables; i++) {
		event_table_free(c->tables[i].et);
		table_schema_free(c->tables[i].ts);
		free(c->tables[i].columns_mac);
	}
	free(c->tables);
	strmap_fini(&c->table_of);
	c->tables = NULL;
	c->ntables = 0;
}

static bool topics_ensure(struct capture *c)
{
	struct strlist topics = { 0 };
	bool ok = true;

	for (size_t i = 0; ok && i < c->src->tables.n; i++) {
		char *topic = topology_topic(c->src, &c->src->tables.items[i]);

		ok = kafka_out_ensure_topic(c->kafka, topic, c->kafka_cfg->partitions,
					    c->kafka_cfg->replication_factor, TOPIC_TIMEOUT_MS);
		strlist_add(&topics, topic);
		free(topic);
	}
	/* One partition: apply reads the commit order from it. */
	if (ok && c->tx_topic) {
		ok = kafka_out_ensure_topic(c->kafka, c->tx_topic, 1,
					    c->kafka_cfg->replication_factor, TOPIC_TIMEOUT_MS);
		strlist_add(&topics, c->tx_topic);
	}
	if (ok)
		(void)kafka_out_know_topics(c->kafka, &topics, TOPIC_TIMEOUT_MS);
	strlist_fini(&topics);
	return ok; /* errors already logged */
}

/* A row with an enum value the table's schema does not list (ALTER TYPE
 * ... ADD VALUE since it was read: pgoutput sends no new Relation for that)
 * has the labels read again, so the header that goes with the row lists
 * it: apply adds it on the target before applying the row.  Once a
 * transaction per table (a label that is still unknown then was renamed
 * since the row was written), at most once a second for snapshot rows. */
static bool labels_check(struct capture *c, struct capture_table *ct, int64_t xid,
			 const struct pgoutput_value *a, const struct pgoutput_value *b)
{
	double now = mono_seconds();

	if (table_schema_labels_known(ct->ts, a) && table_schema_labels_known(ct->ts, b))
		return true;
	if (ct->labels_reloaded > 0 && xid == ct->labels_xid &&
	    (xid >= 0 || now - ct->labels_reloaded < 1.0))
		return true;
	ct->labels_reloaded = now;
	ct->labels_xid = xid;
	if (!table_schema_types_reload(c->sql, c->label, ct->ts))
		return false; /* errors already logged */
	/* another description: another version (apply looks at it again) */
	if (c->change_lsn > ct->ts->version)
		ct->ts->version = c->change_lsn;
	event_table_free(ct->et);
	ct->et = event_table_new(&c->fmt, ct->ts);
	free(ct->columns_mac);
	ct->columns_mac = schema_mac_sign(c->mac, ct->et->topic, ct->et->columns_header,
					  strlen(ct->et->columns_header));
	log_info("%s: table %s.%s: enum labels read again (a value new to capture)", c->label,
		 ct->ts->schema, ct->ts->table);
	return true;
}

/* One row of an incremental snapshot (capture_snapshot.c), into the
 * transaction of its high watermark. */
static bool snapshot_emit(void *ctx, const struct table_schema *ts, const struct pgoutput_value *row)
{
	struct capture *c = ctx;
	struct capture_table *ct = table_find(c, ts->oid);
	struct event_source src = { wall_ms(), "incremental", -1, 0, 0, NULL };

	if (ct && ct->ts->ncols != ts->ncols) {
		log_error("%s: table %s.%s changed its columns during its snapshot; starting again from the last saved chunk",
			  c->label, ts->schema, ts->table);
		return false;
	}
	if (!ct) {
		struct table_schema *copy;

		if (!table_schema_load(c->sql, c->label, ts->oid, NULL, NULL, &copy))
			return false; /* errors already logged */
		copy->version = c->change_lsn;
		table_set(c, copy);
		ct = table_find(c, ts->oid);
	}
	if (!labels_check(c, ct, -1, row, NULL))
		return false; /* errors already logged */
	return emit(c, ct, 'r', NULL, row, &src, NULL, c->open);
}

/* ---- the initial snapshot ------------------------------------------------- */

/* Waits until Kafka acknowledged every event produced so far. */
static bool kafka_drain(struct capture *c)
{
	while (kafka_out_outstanding(c->kafka) > 0) {
		if (c->kafka_failed || kafka_out_failed(c->kafka))
			return false;
		if (stop_requested) {
			log_info("%s: stopping before Kafka acknowledged every event", c->label);
			return false;
		}
		kafka_out_poll(c->kafka, 100);
	}
	return !c->kafka_failed;
}

/* "COPY (SELECT cols FROM [ONLY] t) TO STDOUT": the rows in the text forms
 * a SELECT returns (the same output functions under the same session
 * settings), so the events are the cursor's byte for byte, at COPY's speed:
 * no round trip per fetch, and the server streams while capture encodes. */
static char *copy_sql(PGconn *conn, const struct table_schema *ts)
{
	struct strbuf sb;
	char *schema = pgsql_quote_ident(conn, ts->schema), *table = pgsql_quote_ident(conn, ts->table);

	strbuf_init(&sb);
	strbuf_adds(&sb, "COPY (SELECT ");
	for (size_t i = 0; i < ts->ncols; i++) {
		char *col = pgsql_quote_ident(conn, ts->cols[i].name);

		strbuf_addf(&sb, "%s%s", i ? ", " : "", col);
		free(col);
	}
	/* ONLY keeps an inheritance child's rows out (they are its own
	 * table's); a partitioned table's rows are all in its partitions. */
	strbuf_addf(&sb, " FROM %s%s.%s) TO STDOUT", ts->relkind == 'p' ? "" : "ONLY ", schema,
		    table);
	free(schema);
	free(table);
	return strbuf_detach(&sb);
}

/* A table being copied: COPY on a connection of its own inside the
 * snapshot, its rows produced as they come, its events acknowledged on
 * their own counter (the table is done once Kafka has every one). */
struct copy_stream {
	PGconn *conn;                /* c->sql for the first; else its own */
	const struct table_ref *t;   /* NULL: idle */
	uint32_t oid;
	size_t ncols;
	int64_t estimate;            /* rows the catalog expects; -1: unknown */
	struct txn acks;
	size_t rows;
	bool copying;                /* its COPY has rows to come */
};

/* The row read last, held back until the next one comes: only then is it
 * known whether it is the snapshot's last ("last"). */
struct held_row {
	char *line;                  /* libpq's buffer (PQfreemem) */
	struct copy_stream *from;
	struct pgoutput_value *row;
	const char **data;           /* the split's output, reused from row to row */
	size_t *lens;
	size_t cap;                  /* columns allocated in each */
};

/* The "snapshot" progress member (docs/STATUS.md): every table of the
 * source, rows copied (those being copied: rows so far, and the catalog's
 * estimate while running). */
static void snapshot_progress(struct capture *c, const struct copy_stream *streams, size_t nstreams,
			      bool running)
{
	json_t *tables = json_array();
	size_t done = 0;

	for (size_t i = 0; i < c->src->tables.n; i++) {
		const struct table_ref *t = &c->src->tables.items[i];
		char *name = table_ref_text(t);
		bool is_done = strlist_contains(&c->state.snapshot_done, name);
		uint64_t n = event_counts_get(&c->counts, name)->op[EVENT_OP_R];
		int64_t estimate = -1;
		json_t *e;

		for (size_t k = 0; k < nstreams; k++)
			if (streams[k].t == t) {
				n = streams[k].rows;
				estimate = streams[k].estimate;
			}
		done += is_done;
		e = json_pack("{s:s, s:I, s:b, s:s}", "table", name, "rows", (json_int_t)n, "done",
			      is_done, "kind", "initial");
		if (estimate >= 0)
			json_object_set_new(e, "rows_estimated", json_integer(estimate));
		json_array_append_new(tables, e);
		free(name);
	}
	progress_writer_set(&c->progress, "snapshot",
			    json_pack("{s:b, s:I, s:I, s:o}", "running", running, "tables_done",
				      (json_int_t)done, "tables_remaining",
				      (json_int_t)(c->src->tables.n - done), "tables", tables));
}

static bool table_snapshot_done(const struct capture *c, const struct table_ref *t)
{
	char *name = table_ref_text(t);
	bool done = strlist_contains(&c->state.snapshot_done, name);

	free(name);
	return done;
}

/* Starts copying t on the stream's connection. */
static bool copy_start(struct capture *c, struct copy_stream *st, const struct table_ref *t,
		       uint64_t lsn)
{
	struct table_schema *ts;
	char *sql, *est = NULL;
	const char *params[1];
	bool ok;

	if (!table_schema_load(st->conn, c->label, 0, t->schema, t->table, &ts))
		return false; /* errors already logged */
	ts->version = lsn; /* the snapshot's: the stream's changes come after it */
	st->t = t;
	st->oid = ts->oid;
	st->ncols = ts->ncols;
	st->rows = 0;
	st->acks = (struct txn){ 0 };
	/* The catalog's estimate, for progress only (a partitioned table's
	 * root has none: its partitions' sum; never analyzed: none). */
	sql = xasprintf("%u", ts->oid);
	params[0] = sql;
	ok = pgsql_query_value(st->conn, c->label,
			       "SELECT CASE WHEN bool_or(c.reltuples >= 0) "
			       "THEN sum(greatest(c.reltuples, 0))::bigint END FROM pg_class c "
			       "WHERE c.oid = $1::oid OR c.oid IN (SELECT relid FROM "
			       "pg_partition_tree($1::oid) WHERE isleaf)",
			       1, params, &est);
	free(sql);
	st->estimate = ok && est ? strtoll(est, NULL, 10) : -1;
	free(est);
	sql = copy_sql(st->conn, ts);
	table_set(c, ts);
	ok = ok && pgsql_copy_out_begin(st->conn, c->label, sql);
	free(sql);
	st->copying = ok;
	if (ok) {
		char *name = table_ref_text(t);

		if (st->estimate >= 0)
			log_info("%s: snapshot of %s starts (about %lld rows)", c->label, name,
				 (long long)st->estimate);
		else
			log_info("%s: snapshot of %s starts", c->label, name);
		free(name);
	}
	return ok;
}

/* Produces the held row, as the snapshot's last or not. */
static bool held_emit(struct capture *c, struct held_row *h, bool *first, bool last,
		      int64_t ts_ms, uint64_t lsn)
{
	struct event_source src = { ts_ms, "true", -1, lsn, 0, NULL };
	struct capture_table *ct;
	bool ok;

	if (!h->line)
		return true;
	src.snapshot = *first ? "first" : last ? "last" : "true";
	*first = false;
	ct = table_find(c, h->from->oid);
	ok = ct && emit(c, ct, 'r', NULL, h->row, &src, NULL, &h->from->acks);
	h->from->rows++;
	PQfreemem(h->line);
	h->line = NULL;
	h->from = NULL;
	return ok;
}

/* One row of st's COPY into the held place, the row held before produced. */
static bool copy_row(struct capture *c, struct copy_stream *st, struct held_row *h, char *line,
		     int len, bool *first, int64_t ts_ms, uint64_t lsn)
{
	struct pgoutput_value *row;
	const char **data;
	size_t *lens;
	size_t need = st->ncols ? st->ncols : 1; /* a table without columns: a row all the same */
	bool ok;

	if (h->cap < need) {
		h->row = xrealloc(h->row, need * sizeof(*h->row));
		h->data = xrealloc(h->data, need * sizeof(*h->data));
		h->lens = xrealloc(h->lens, need * sizeof(*h->lens));
		h->cap = need;
	}
	/* split into data/lens: the held row's values still point at its
	 * own line until it is sent below */
	data = h->data;
	lens = h->lens;
	ok = pg_copy_text_split(line, (size_t)len, st->ncols, data, lens);
	if (!ok)
		log_error("%s: snapshot of %s.%s: COPY sent a row of another shape than the table's %zu columns",
			  c->label, st->t->schema, st->t->table, st->ncols);
	ok = ok && held_emit(c, h, first, false, ts_ms, lsn);
	if (ok) {
		row = h->row;
		for (size_t i = 0; i < st->ncols; i++) {
			row[i].kind = data[i] ? PGOUTPUT_TEXT : PGOUTPUT_NULL;
			row[i].data = data[i];
			row[i].len = (uint32_t)lens[i];
		}
		h->line = line;
		h->from = st;
	} else {
		PQfreemem(line);
	}
	return ok;
}

/* A table whose COPY ended and whose every event Kafka acknowledged: done,
 * counted and recorded, before its stream takes another. */
static bool copy_done(struct capture *c, struct copy_stream *st)
{
	char *name = table_ref_text(st->t);
	bool ok;

	log_info("%s: snapshot of %s: %zu rows acknowledged by Kafka", c->label, name, st->rows);
	capture_snapshot_note_initial(c->snap, name, st->rows);
	/* Counted once Kafka has them all, before the table is recorded
	 * done (a crash between the two counts it twice). */
	event_deltas_apply(&st->acks.counts, &c->counts);
	event_deltas_clear(&st->acks.counts);
	c->counts_dirty = true;
	counts_persist(c);
	strlist_add(&c->state.snapshot_done, name);
	free(name);
	ok = capture_state_save(&c->state);
	st->t = NULL;
	return ok;
}

/* The next table not done and not being copied, from *next on. */
static const struct table_ref *table_next(struct capture *c, size_t *next)
{
	while (*next < c->src->tables.n) {
		const struct table_ref *t = &c->src->tables.items[(*next)++];

		if (!table_snapshot_done(c, t))
			return t;
	}
	return NULL;
}

/* Copies every table not done yet over nstreams connections at once (the
 * first c->sql), each in the snapshot already; the main thread produces
 * the rows of whichever has some, and Kafka's acknowledgements are served
 * meanwhile.  Memory stays bounded: libpq holds what one read brought, and
 * the producer's queue is bounded (produce waits). */
static bool snapshot_copy(struct capture *c, struct copy_stream *streams, size_t nstreams,
			  uint64_t lsn, int64_t ts_ms)
{
	struct held_row held = { 0 };
	size_t next = 0;
	bool first = true, ok = true;
	double next_progress = 0;

	for (;;) {
		bool busy = false, read_any = false;
		struct pollfd pfd[16];
		nfds_t nfd = 0;

		for (size_t k = 0; ok && k < nstreams; k++) {
			struct copy_stream *st = &streams[k];
			const struct table_ref *t;

			if (!st->t && (t = table_next(c, &next)))
				ok = copy_start(c, st, t, lsn);
			busy = busy || st->t;
		}
		if (!ok || !busy)
			break;
		for (size_t k = 0; ok && k < nstreams; k++) {
			struct copy_stream *st = &streams[k];

			/* The snapshot's first row is the first table's: no
			 * other is read before it (tests and readers see
			 * "first" where they did). */
			if (!st->copying || (first && k > 0 && streams[0].copying))
				continue;
			/* A slice per stream and turn: the others are read too. */
			for (int r = 0; ok && r < 1024; r++) {
				char *line = NULL;
				int n = pgsql_copy_out_row(st->conn, c->label, &line, false);

				if (n == -2)
					break;
				if (n <= 0) {
					ok = n == 0;
					st->copying = false;
					/* its last row: the snapshot's last unless
					 * another table has rows to come */
					if (ok && held.from == st) {
						size_t after = next;
						bool more = table_next(c, &after) != NULL;

						for (size_t o = 0; o < nstreams; o++)
							more = more || (o != k && streams[o].copying);
						ok = held_emit(c, &held, &first, !more, ts_ms, lsn);
					}
					break;
				}
				read_any = true;
				ok = copy_row(c, st, &held, line, n, &first, ts_ms, lsn);
			}
			if (ok && st->copying)
				pfd[nfd++] = (struct pollfd){ .fd = PQsocket(st->conn), .events = POLLIN };
		}
		for (size_t k = 0; ok && k < nstreams; k++)
			if (streams[k].t && !streams[k].copying && held.from != &streams[k] &&
			    streams[k].acks.outstanding == 0)
				ok = copy_done(c, &streams[k]);
		if (ok && (c->kafka_failed || kafka_out_failed(c->kafka)))
			ok = false;
		if (ok && stop_requested) {
			log_info("%s: stopping during the snapshot", c->label);
			ok = false;
		}
		if (!ok)
			break;
		if (mono_seconds() >= next_progress) {
			snapshot_progress(c, streams, nstreams, true);
			progress_writer_tick(&c->progress, false);
			next_progress = mono_seconds() + 1.0;
		}
		/* Nothing came: wait for rows (or, when every copy ended, for
		 * Kafka's acknowledgements), serving the acknowledgements. */
		kafka_out_poll(c->kafka, 0);
		if (!read_any) {
			if (nfd > 0)
				(void)poll(pfd, nfd, 10);
			else
				kafka_out_poll(c->kafka, 20);
		}
	}
	if (held.line)
		PQfreemem(held.line);
	free(held.row);
	free(held.data);
	free(held.lens);
	return ok;
}

/* Tables copied at once, each over its own connection sharing the
 * snapshot (SET TRANSACTION SNAPSHOT): one slow or large table does not
 * hold the others, and the server reads them in parallel. */
#define SNAPSHOT_STREAMS 4

/* Snapshots every table not done yet, inside the exported snapshot when
 * there is one, else in a fresh repeatable-read transaction (after a crash
 * mid-snapshot; the stream's replay from the slot then brings the table
 * forward, so the result converges) whose snapshot the other connections
 * import. */
static bool snapshot_run(struct capture *c, const char *snapshot_name, uint64_t lsn)
{
	struct copy_stream streams[SNAPSHOT_STREAMS];
	size_t todo = 0, nstreams = 1;
	char *exported = NULL;
	bool ok;
	int64_t ts_ms = wall_ms();

	memset(streams, 0, sizeof(streams));
	for (size_t i = 0; i < c->src->tables.n; i++)
		todo += !table_snapshot_done(c, &c->src->tables.items[i]);
	if (todo == 0) {
		snapshot_progress(c, NULL, 0, false);
		return true;
	}
	ok = pgsql_exec(c->sql, c->label, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (ok && snapshot_name) {
		char *lit = pgsql_quote_literal(c->sql, snapshot_name);
		char *sql = xasprintf("SET TRANSACTION SNAPSHOT %s", lit);

		ok = pgsql_exec(c->sql, c->label, sql);
		free(sql);
		free(lit);
	} else if (ok) {
		char *text = NULL;

		if (!lsn)
			ok = pgsql_query_value(c->sql, c->label, "SELECT pg_current_wal_lsn()", 0,
					       NULL, &text) &&
			     lsn_parse(text, &lsn);
		free(text);
	}
	streams[0].conn = c->sql;
	/* More connections only for more tables; they import the snapshot
	 * (the slot's, or the one c->sql exports now). */
	if (ok && todo > 1 && !snapshot_name)
		ok = pgsql_query_value(c->sql, c->label, "SELECT pg_export_snapshot()", 0, NULL,
				       &exported);
	for (size_t k = 1; ok && k < SNAPSHOT_STREAMS && k < todo; k++) {
		PGconn *conn = pgsql_connect_capture(c->label, &c->src->pg, false);
		char *lit = conn ? pgsql_quote_literal(conn, snapshot_name ? snapshot_name : exported)
				 : NULL;
		char *sql = lit ? xasprintf("SET TRANSACTION SNAPSHOT %s", lit) : NULL;

		if (!conn) {
			ok = false;
			break;
		}
		streams[nstreams++].conn = conn;
		ok = pgsql_exec(conn, c->label, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") &&
		     pgsql_exec(conn, c->label, sql);
		free(sql);
		free(lit);
	}
	free(exported);
	log_info("%s: initial snapshot starts (%s; %zu table(s) over %zu connection(s))", c->label,
		 snapshot_name ? "exported by the new slot" : "fresh, after an interrupted one", todo,
		 nstreams);
	ok = ok && snapshot_copy(c, streams, nstreams, lsn, ts_ms);
	for (size_t k = 0; k < nstreams; k++)
		event_deltas_clear(&streams[k].acks.counts); /* a table cut short is copied again */
	snapshot_progress(c, NULL, 0, false);
	for (size_t k = 1; k < nstreams; k++)
		PQfinish(streams[k].conn); /* read only: nothing to commit */
	if (ok)
		ok = pgsql_exec(c->sql, c->label, "COMMIT");
	else
		pgsql_rollback(c->sql);
	return ok;
}

/* ---- the slot --------------------------------------------------------------- */

/* Whether the slot exists; false (logged) if it is not capture's kind. */
static bool slot_inspect(struct capture *c, bool *exists)
{
	const char *params[] = { c->src->slot };
	PGresult *res;

	*exists = false;
	if (!pgsql_query(c->sql, c->label,
			 "SELECT plugin, database FROM pg_replication_slots "
			 "WHERE slot_name = $1",
			 1, params, &res))
		return false; /* errors already logged */
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), "pgoutput") != 0 ||
		    strcmp(PQgetvalue(res, 0, 1), c->src->pg.dbname) != 0) {
			log_error("%s: slot %s is not a pgoutput slot of database %s", c->label,
				  c->src->slot, c->src->pg.dbname);
			PQclear(res);
			return false;
		}
		*exists = true;
	}
	PQclear(res);
	return true;
}

/* Creates the slot; *snapshot_name (caller frees) is its exported snapshot,
 * valid until the next command on the replication connection. */
static bool slot_create(struct capture *c, bool export, char **snapshot_name, uint64_t *lsn)
{
	char *slot = pgsql_quote_ident(c->repl, c->src->slot);
	char *sql = xasprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput %s", slot,
			      export ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
	PGresult *res;
	bool ok = pgsql_query_simple(c->repl, c->label, sql, &res);

	free(sql);
	free(slot);
	*snapshot_name = NULL;
	if (!ok)
		return false; /* errors already logged */
	ok = lsn_parse(PQgetvalue(res, 0, 1), lsn);
	if (export && !PQgetisnull(res, 0, 2))
		*snapshot_name = xstrdup(PQgetvalue(res, 0, 2));
	PQclear(res);
	log_info("%s: created slot %s at %X/%X", c->label, c->src->slot, (unsigned)(*lsn >> 32),
		 (unsigned)*lsn);
	return ok;
}

static bool publication_check(struct capture *c)
{
	const char *params[] = { c->src->publication };
	char *found = NULL;

	if (!pgsql_query_value(c->sql, c->label, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1,
			       params, &found))
		return false; /* errors already logged */
	if (!found)
		log_error("%s: publication %s does not exist in database %s (run cdc-agent bootstrap)",
			  c->label, c->src->publication, c->src->pg.dbname);
	free(found);
	return found != NULL;
}

/* Brings slot and snapshot to the point where streaming can start. */
static bool prepare_stream(struct capture *c, bool *stream_wanted)
{
	bool slot_exists;
	char *snapshot_name = NULL;
	uint64_t lsn = 0;
	int mode = c->src->snapshot_mode;
	bool ok;

	*stream_wanted = mode != SNAPSHOT_INITIAL_ONLY;
	if (!publication_check(c) || !slot_inspect(c, &slot_exists))
		return false; /* errors already logged */
	if (!slot_exists) {
		if (c->state.exists && c->state.snapshot_done.n > 0 && mode == SNAPSHOT_INITIAL) {
			log_error("%s: slot %s is gone (dropped?) after capture had started: changes made since cannot be recovered from it. "
				  "Set snapshot_mode = when_needed to take a new snapshot, or delete %s to start over",
				  c->label, c->src->slot, c->state.path);
			return false;
		}
		/* A new slot: everything starts from its snapshot. */
		strlist_fini(&c->state.snapshot_done);
		json_array_clear(c->state.incremental);
		if (!slot_create(c, mode != SNAPSHOT_NEVER, &snapshot_name, &lsn))
			return false; /* errors already logged */
		if (mode == SNAPSHOT_NEVER) {
			for (size_t i = 0; i < c->src->tables.n; i++) {
				char *name = table_ref_text(&c->src->tables.items[i]);

				strlist_add(&c->state.snapshot_done, name);
				free(name);
			}
			return capture_state_save(&c->state);
		}
	} else if (mode == SNAPSHOT_NEVER) {
		return true;
	} else if (mode != SNAPSHOT_INITIAL_ONLY) {
		/* The slot exists: tables not snapshotted yet (added to the
		 * pipeline, or left by an interrupted initial snapshot) are
		 * copied incrementally while streaming.  The tables done
		 * before stay in the "snapshot" member, with their rows. */
		for (size_t i = 0; i < c->src->tables.n; i++) {
			const struct table_ref *t = &c->src->tables.items[i];
			char *name = table_ref_text(t);

			if (strlist_contains(&c->state.snapshot_done, name))
				capture_snapshot_note_initial(
					c->snap, name, event_counts_get(&c->counts, name)->op[EVENT_OP_R]);
			free(name);
		}
		return capture_snapshot_plan(c->snap);
	}
	progress_state_set(&c->progress, "snapshotting");
	progress_writer_tick(&c->progress, true);
	ok = snapshot_run(c, snapshot_name, lsn);
	progress_state_set(&c->progress, "starting");
	free(snapshot_name);
	return ok;
}

/* ---- streaming -------------------------------------------------------------- */

static bool status_send(struct capture *c, bool reply_requested)
{
	struct pgoutput_status st = {
		.written = c->received,
		.flushed = c->confirmed,
		.applied = c->confirmed,
		.now = wall_ms() * 1000 - PGOUTPUT_EPOCH_UNIX_USEC,
		.reply_requested = reply_requested,
	};
	char msg[PGOUTPUT_STATUS_UPDATE_LEN];

	counts_persist(c);
	pgoutput_build_status_update(&st, msg);
	if (PQputCopyData(c->repl, msg, sizeof(msg)) <= 0 || PQflush(c->repl) != 0) {
		log_error("%s: cannot send the standby status to %s: %s", c->label,
			  pgsql_where(&c->src->pg, PG_AS_USER), PQerrorMessage(c->repl));
		return false;
	}
	c->next_status = mono_seconds() + STATUS_INTERVAL_SEC;
	c->status_confirmed = c->confirmed;
	return true;
}

static bool stream_start(struct capture *c, uint64_t from)
{
	char *slot = pgsql_quote_ident(c->repl, c->src->slot);
	char *pub = pgsql_quote_ident(c->repl, c->src->publication);
	char *pub_lit = pgsql_quote_literal(c->repl, pub);
	char *sql = xasprintf("START_REPLICATION SLOT %s LOGICAL %X/%X (proto_version '1', "
			      "publication_names %s, messages 'true')",
			      slot, (unsigned)(from >> 32), (unsigned)from, pub_lit);
	PGresult *res = PQexec(c->repl, sql);
	bool ok = PQresultStatus(res) == PGRES_COPY_BOTH;

	if (!ok)
		log_error("%s: cannot start replication from slot %s: %s", c->label, c->src->slot,
			  PQerrorMessage(c->repl));
	else
		log_info("%s: streaming from slot %s at %X/%X", c->label, c->src->slot,
			 (unsigned)(from >> 32), (unsigned)from);
	PQclear(res);
	free(sql);
	free(pub_lit);
	free(pub);
	free(slot);
	return ok;
}

/* True when the update changed the row's key: Debezium then sends a delete
 * (with tombstone) under the old key and a create under the new one. */
static bool key_changed(const struct capture_table *ct, const struct pgoutput_msg *m)
{
	const struct table_schema *ts = ct->ts;

	if (m->change.old_kind == PGOUTPUT_OLD_NONE || ts->nkey == 0)
		return false;
	for (size_t i = 0; i < ts->nkey; i++) {
		const struct pgoutput_value *o = &m->change.old_tuple.values[ts->key_cols[i]];
		const struct pgoutput_value *n = &m->change.new_tuple.values[ts->key_cols[i]];

		if (o->kind != PGOUTPUT_TEXT || n->kind != PGOUTPUT_TEXT)
			continue;
		if (o->len != n->len || memcmp(o->data, n->data, o->len) != 0)
			return true;
	}
	return false;
}

/* A table whose REPLICA IDENTITY changed to one that identifies no row
 * (NOTHING, DEFAULT without a primary key): the source refuses its UPDATEs
 * and DELETEs from now on, so nothing is lost, but the operator must know.
 * Loud (an error line, "error" for status, which shows FAILED) without
 * stopping: the slot would replay this same Relation message after a
 * restart (decoded with the catalog of its time), so stopping would not
 * end until the change were skipped; its inserts and the other tables keep
 * flowing, and the error ends when a Relation says the identity is usable. */
static void identity_watch(struct capture *c, struct capture_table *ct,
			   const struct pgoutput_relation *rel)
{
	enum identity_verdict v = replica_identity_judge((char)rel->replident, ct->ts->nkey > 0,
							 ct->ts->nkey > 0);
	const char *kind = progress_error_kind(&c->progress);
	bool any = false;

	ct->identity_bad = v != IDENTITY_OK;
	if (ct->identity_bad) {
		char *schema = pgsql_quote_ident(c->sql, rel->nspname);
		char *table = pgsql_quote_ident(c->sql, rel->relname);
		char *shown = xasprintf("%s.%s", rel->nspname, rel->relname);
		char *quoted = xasprintf("%s.%s", schema, table);
		struct strbuf why;

		strbuf_init(&why);
		replica_identity_explain(&why, v, shown, quoted);
		strbuf_adds(&why, " (its identity changed while streaming)");
		log_error("%s: %s", c->label, why.data);
		progress_error_note(&c->progress, ERROR_REPLICA_IDENTITY, why.data);
		strbuf_fini(&why);
		free(quoted);
		free(shown);
		free(table);
		free(schema);
		return;
	}
	for (size_t i = 0; i < c->ntables; i++)
		any = any || c->tables[i].identity_bad;
	if (!any && kind && strcmp(kind, ERROR_REPLICA_IDENTITY) == 0) {
		log_info("%s: every table's replica identity identifies its rows again", c->label);
		progress_error_clear(&c->progress, ERROR_REPLICA_IDENTITY);
	}
}

/* Waits (up to TXN_VISIBLE_WAIT_MS) until the transaction being decoded
 * ends in the backend that ran it: until then, catalog reads do not see
 * what it changed.  Its transaction id lock goes after it left the
 * snapshots' list of running ones. */
#define TXN_VISIBLE_WAIT_MS 5000
static bool transaction_visible(struct capture *c)
{
	char xid[24];
	const char *params[] = { xid };

	if (!c->open || c->open_xid <= 0)
		return true;
	snprintf(xid, sizeof(xid), "%lld", (long long)c->open_xid);
	for (int waited = 0; waited < TXN_VISIBLE_WAIT_MS; waited += 10) {
		char *n = NULL;
		bool running;

		if (!pgsql_query_value(c->sql, c->label,
				       "SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'transactionid' "
				       "AND transactionid = $1::text::xid LIMIT 1",
				       1, params, &n))
			return false; /* errors already logged */
		running = n != NULL;
		free(n);
		if (!running)
			return true;
		usleep(10 * 1000);
	}
	log_warn("%s: transaction %s still running after %d ms: reading the catalog anyway",
		 c->label, xid, TXN_VISIBLE_WAIT_MS);
	return true;
}

/* Whether a and b give the same cdc.columns items (then the header keeps
 * its version: apply need not look at the table again). */
static bool table_schema_described_alike(const struct table_schema *a,
					 const struct table_schema *b)
{
	struct strbuf ta, tb;
	bool same;

	strbuf_init(&ta);
	strbuf_init(&tb);
	event_columns_json(&ta, a);
	event_columns_json(&tb, b);
	same = ta.len == tb.len && memcmp(ta.data, tb.data, ta.len) == 0;
	strbuf_fini(&ta);
	strbuf_fini(&tb);
	return same;
}

static bool handle_relation(struct capture *c, const struct pgoutput_msg *m)
{
	struct table_schema *ts;
	struct capture_table *old;

	if (!capture_snapshot_listed(c->src, m->relation.rel->nspname, m->relation.rel->relname)) {
		/* Still in the publication, no longer in the pipeline: ignored
		 * (said once a session: pgoutput sends the Relation again). */
		if (m->relation.rel->generation == 1)
			log_info("%s: ignoring table %s.%s: not one of the pipeline's tables",
				 c->label, m->relation.rel->nspname, m->relation.rel->relname);
		return true;
	}
	/* Read again at every Relation message, even one with the same
	 * columns: SET DEFAULT or SET NOT NULL send one too (pgoutput sends
	 * one after any invalidation of the table, before its next change).
	 * The catalog is read once the transaction shows (its DDL may be in
	 * it: walsender decodes a commit before the backend ends it). */
	if (!transaction_visible(c) ||
	    !table_schema_from_relation(c->sql, c->label, m->relation.rel, &ts))
		return false; /* errors already logged */
	old = table_find(c, ts->oid);
	ts->version = 0; /* the next change's LSN (table_version_settle) */
	if (old && table_schema_described_alike(old->ts, ts)) {
		ts->version = old->ts->version; /* the same description, the same version */
		table_schema_free(ts);
		identity_watch(c, old, m->relation.rel); /* REPLICA IDENTITY alone may differ */
		return true;
	}
	table_set(c, ts);
	log_info("%s: table %s.%s: schema %s (%zu columns)", c->label, ts->schema, ts->table,
		 old ? "changed" : "loaded", ts->ncols);
	identity_watch(c, table_find(c, ts->oid), m->relation.rel);
	return true;
}

/* Where a change of a table without a key lies in the stream: its
 * transaction's commit LSN and its number among the table's changes in it,
 * EVENT_POSITION_FMT (ordered as text), the same when the slot replays it.  Apply
 * skips what it applied already (apply_keyless.c): such a change has no key
 * that would make applying it twice harmless.  NULL for other tables. */
static const char *position_next(struct capture *c, struct capture_table *ct, char *buf,
				 size_t size)
{
	if (ct->ts->nkey > 0 || !c->open || c->open->final_lsn == 0)
		return NULL;
	if (ct->pos_final != c->open->final_lsn) {
		ct->pos_final = c->open->final_lsn;
		ct->pos_seq = 0;
	}
	snprintf(buf, size, EVENT_POSITION_FMT, ct->pos_final, ++ct->pos_seq);
	return buf;
}

static bool handle_change(struct capture *c, const struct pgoutput_msg *m)
{
	char pos[32];
	struct change_headers plain = { 0 };
	struct capture_table *ct = table_find(c, m->change.rel->oid);
	struct event_source src = { c->open_commit_ms, "false", c->open_xid, c->change_lsn,
				    c->last_commit_lsn, NULL };
	const struct pgoutput_value *old = m->change.old_kind != PGOUTPUT_OLD_NONE
						   ? m->change.old_tuple.values
						   : NULL;

	if (!ct && c->open &&
	    !capture_snapshot_listed(c->src, m->change.rel->nspname, m->change.rel->relname))
		return true; /* a table no longer in the pipeline */
	if (!ct || !c->open) {
		log_error("%s: change for relation %u outside a known table or transaction", c->label,
			  m->change.rel->oid);
		return false;
	}
	table_version_settle(c, ct);
	capture_snapshot_change(c->snap, ct->ts, (uint32_t)c->open_xid, m);
	if (m->type != PGOUTPUT_DELETE &&
	    !labels_check(c, ct, c->open_xid, m->change.new_tuple.values, old))
		return false; /* errors already logged */
	plain.position = position_next(c, ct, pos, sizeof(pos));
	switch (m->type) {
	case PGOUTPUT_INSERT:
		return emit(c, ct, 'c', NULL, m->change.new_tuple.values, &src, &plain, c->open);
	case PGOUTPUT_DELETE:
		return emit(c, ct, 'd', old, NULL, &src, &plain, c->open);
	default:
		break;
	}
	if (key_changed(ct, m)) {
		struct change_headers del = { 0 }, ins = { 0 };
		bool ok;

		del.new_key = key_payload(c, ct, m->change.new_tuple.values);
		ins.old_key = key_payload(c, ct, old);
		ins.unchanged = true;
		ok = emit(c, ct, 'd', old, NULL, &src, &del, c->open) &&
		     emit(c, ct, 'c', NULL, m->change.new_tuple.values, &src, &ins, c->open);
		free((char *)del.new_key);
		free((char *)ins.old_key);
		return ok;
	}
	{
		struct change_headers upd = { .unchanged = true, .position = plain.position };

		return emit(c, ct, 'u', m->change.old_kind == PGOUTPUT_OLD_FULL ? old : NULL,
			    m->change.new_tuple.values, &src, &upd, c->open);
	}
}

static bool handle_truncate(struct capture *c, const struct pgoutput_msg *m)
{
	struct event_source src = { c->open_commit_ms, "false", c->open_xid, c->change_lsn,
				    c->last_commit_lsn, NULL };

	if (!c->open)
		return true;
	for (uint32_t i = 0; i < m->truncate.nrels; i++) {
		struct capture_table *ct = table_find(c, m->truncate.rels[i]->oid);
		struct change_headers plain = { 0 };
		char pos[32];

		if (ct)
			table_version_settle(c, ct);
		if (ct)
			capture_snapshot_change(c->snap, ct->ts, (uint32_t)c->open_xid, m);
		if (ct && c->src->truncate_events)
			plain.position = position_next(c, ct, pos, sizeof(pos));
		if (ct && c->src->truncate_events && !emit(c, ct, 't', NULL, NULL, &src, &plain, c->open))
			return false;
	}
	return true;
}

static bool handle_message(struct capture *c, const struct pgoutput_msg *m)
{
	struct txn *t;

	switch (m->type) {
	case PGOUTPUT_BEGIN:
		t = xcalloc(1, sizeof(*t));
		if (c->tail)
			c->tail->next = t;
		else
			c->head = t;
		c->tail = c->open = t;
		t->final_lsn = m->begin.final_lsn;
		tx_open(c);
		c->open_xid = m->begin.xid;
		c->open_commit_ms = (m->begin.commit_time + PGOUTPUT_EPOCH_UNIX_USEC) / 1000;
		return true;
	case PGOUTPUT_COMMIT:
		if (!c->open) {
			log_error("%s: Commit without Begin at %X/%X", c->label,
				  (unsigned)(m->commit.end_lsn >> 32), (unsigned)m->commit.end_lsn);
			return false;
		}
		if (c->tx_begun && !tx_record(c, true))
			return false; /* errors already logged */
		c->tx_begun = false;
		c->open->end_lsn = m->commit.end_lsn;
		c->open->committed = true;
		c->open = NULL;
		c->last_commit_lsn = m->commit.commit_lsn;
		capture_snapshot_commit(c->snap, m->commit.end_lsn);
		txns_settle(c);
		return true;
	case PGOUTPUT_RELATION:
		return handle_relation(c, m);
	case PGOUTPUT_INSERT:
	case PGOUTPUT_UPDATE:
	case PGOUTPUT_DELETE:
		return handle_change(c, m);
	case PGOUTPUT_TRUNCATE:
		return handle_truncate(c, m);
	case PGOUTPUT_MESSAGE: /* watermarks and snapshot requests */
		return capture_snapshot_message(c->snap, m, c->open != NULL);
	default:
		return true; /* Origin, Type: nothing to publish */
	}
}

static bool handle_copy_data(struct capture *c, const char *buf, int len)
{
	struct pgoutput_xlogdata x;
	struct pgoutput_keepalive k;
	struct pgoutput_msg m;

	c->idle = buf[0] == 'k';
	switch (buf[0]) {
	case 'w':
		if (!pgoutput_parse_xlogdata(buf, (size_t)len, &x) ||
		    !pgoutput_decode(&c->dec, x.data, x.len, &m))
			return false; /* errors already logged */
		c->change_lsn = x.data_start;
		if (x.data_start > c->received)
			c->received = x.data_start;
		return handle_message(c, &m);
	case 'k':
		if (!pgoutput_parse_keepalive(buf, (size_t)len, &k))
			return false; /* errors already logged */
		if (k.wal_end > c->received)
			c->received = k.wal_end;
		/* Idle and everything acknowledged: what follows commits after
		 * wal_end, so confirming it keeps the slot from holding WAL. */
		txns_settle(c);
		if (!c->head && !c->open && k.wal_end > c->confirmed)
			c->confirmed = k.wal_end;
		return k.reply_requested ? status_send(c, false) : true;
	default:
		log_error("%s: unexpected replication message '%c'", c->label, buf[0]);
		return false;
	}
}

static bool wait_readable(PGconn *conn, int timeout_ms)
{
	struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		return false;
	return PQconsumeInput(conn) == 1;
}

/* The ground check (capture_ground.c), when due.  Ground that is wrong is
 * loud (an error line when it changes, "error" for status, which shows
 * FAILED) but does not stop capture: the other tables keep streaming, and
 * the operator's fix (bootstrap puts the publication right; a table's
 * changes lost meanwhile come back with `cdc-agent snapshot PIPELINE
 * TABLE`) needs no restart. */
static void ground_check(struct capture *c)
{
	const char *kind = NULL, *was = progress_error_kind(&c->progress);
	const char *msg = json_string_value(
		json_object_get(json_object_get(c->progress.p.extra, "error"), "message"));
	struct strbuf why;

	if (mono_seconds() < c->next_ground)
		return;
	c->next_ground = mono_seconds() + GROUND_CHECK_SECONDS;
	strbuf_init(&why);
	switch (capture_ground_check(c->sql, c->kafka, c->src, c->label, &c->ground_extra, &kind,
				     &why)) {
	case GROUND_OK:
		if (was && (strcmp(was, ERROR_PUBLICATION) == 0 || strcmp(was, ERROR_TOPIC) == 0)) {
			log_info("%s: the publication and the topics are as the topology says again",
				 c->label);
			progress_error_clear(&c->progress, was);
		}
		break;
	case GROUND_WRONG:
		if (!was || strcmp(was, kind) != 0 || !msg || strcmp(msg, why.data) != 0)
			log_error("%s: %s: changes of such a table are not captured (run cdc-agent bootstrap; "
				  "then re-snapshot the table: cdc-agent snapshot PIPELINE TABLE)",
				  c->label, why.data);
		progress_error_note(&c->progress, kind, why.data);
		break;
	case GROUND_UNKNOWN:
		break; /* a server did not answer: the stream or the producer says so */
	}
	strbuf_fini(&why);
}

/* Between messages: serve Kafka's acks, settle transactions, read the clock
 * events are stamped with, send the status when due, check the ground.
 * False when Kafka or the status failed (logged). */
static bool housekeeping(struct capture *c)
{
	kafka_out_poll(c->kafka, 0);
	txns_settle(c);
	if (c->kafka_failed || kafka_out_failed(c->kafka))
		return false;
	/* Kafka took what it refused before: that error is over. */
	if (c->confirmed > c->error_confirmed) {
		progress_error_clear(&c->progress, ERROR_KAFKA_DELIVERY);
		progress_error_clear(&c->progress, ERROR_REFUSED_RECORD);
	}
	ground_check(c);
	c->event_ms = wall_ms();
	if (!capture_snapshot_step(c->snap, c->sql, c->confirmed))
		return false; /* errors already logged */
	if (mono_seconds() >= c->next_status ||
	    (c->confirmed != c->status_confirmed &&
	     mono_seconds() >= c->next_status - STATUS_INTERVAL_SEC + CONFIRM_INTERVAL_SEC)) {
		if (!status_send(c, false))
			return false;
		progress_writer_tick(&c->progress, false);
	}
	return true;
}

/* Streams until stop is requested (true) or the connection or Kafka fails
 * (false, logged). */
static bool stream_loop(struct capture *c)
{
	unsigned since_poll = 0, since_wait = 0; /* messages read since the last wait */

	for (;;) {
		char *buf = NULL;
		int len;

		if (++since_poll >= HOUSEKEEPING_EVERY) {
			since_poll = 0;
			if (!housekeeping(c))
				return false;
		}
		if (stop_requested)
			return true;
		len = PQgetCopyData(c->repl, &buf, 1);
		if (len > 0) {
			bool ok = handle_copy_data(c, buf, len);

			since_wait++;
			PQfreemem(buf);
			if (!ok)
				return false;
			continue;
		}
		if (len == 0) {
			if (!housekeeping(c))
				return false;
			if (since_wait < COALESCE_BELOW) {
				struct timespec ts = { 0, COALESCE_NSEC };

				nanosleep(&ts, NULL);
			}
			since_wait = 0;
			if (!wait_readable(c->repl, 100)) {
				log_error("%s: lost the replication connection to %s: %s", c->label,
					  pgsql_where(&c->src->pg, PG_AS_USER),
					  PQerrorMessage(c->repl));
				return false;
			}
			continue;
		}
		{
			PGresult *res = PQgetResult(c->repl);
			const char *why = res ? PQresultErrorMessage(res) : "";

			log_warn("%s: replication stream from %s ended: %s", c->label,
				 pgsql_where(&c->src->pg, PG_AS_USER),
				 why[0] ? why : PQerrorMessage(c->repl)[0] ? PQerrorMessage(c->repl)
									   : "the server closed it");
			PQclear(res);
		}
		return false;
	}
}

/* ---- sessions --------------------------------------------------------------- */

static void session_close(struct capture *c)
{
	c->event_ms = 0;
	c->idle = false;
	PQfinish(c->repl);
	PQfinish(c->sql);
	c->repl = c->sql = NULL;
	pgoutput_decoder_fini(&c->dec);
	pgoutput_decoder_init(&c->dec);
	tables_free(c);
	if (c->snap)
		capture_snapshot_session_end(c->snap);
}

/* One connection's life: prepare, stream.  *retry says whether a failure is
 * worth another session (the server went away) or not. */
static bool session_run(struct capture *c, bool *retry)
{
	bool stream_wanted, ok;

	/* Once capture has streamed, a server that went away is waited for;
	 * at the first start, failing fast shows a wrong setting at once. */
	*retry = c->streamed;
	c->repl = pgsql_connect_capture(c->label, &c->src->pg, true);
	c->sql = c->repl ? pgsql_connect_capture(c->label, &c->src->pg, false) : NULL;
	if (!c->repl || !c->sql)
		return false; /* errors already logged */
	if (!prepare_stream(c, &stream_wanted))
		return false; /* errors already logged */
	if (!stream_wanted) {
		log_info("%s: snapshot_mode = initial_only: snapshot done, not streaming", c->label);
		return true;
	}
	if (!stream_start(c, c->confirmed))
		return false;
	progress_state_set(&c->progress, "streaming");
	progress_error_clear(&c->progress, ERROR_SOURCE_CONNECTION);
	/* Written now, not with the next status: after a short initial
	 * snapshot the file still says "snapshotting" (writes come at most
	 * once a second), and the first ground check can hold the next write
	 * up to 3 s more.  Bootstrap is done as soon as apply holds its lock,
	 * so status read SNAPSHOTTING after the rows had arrived (test 92). */
	progress_writer_tick(&c->progress, true);
	c->next_ground = 0; /* checked at once, then every GROUND_CHECK_SECONDS */
	c->next_status = 0;
	c->streamed = true;
	c->streamed_session = true;
	*retry = true;
	ok = stream_loop(c);
	if (ok && kafka_drain(c)) {
		/* Stopping on request: tell the server how far Kafka got. */
		txns_settle(c);
		if (!status_send(c, false))
			log_warn("%s: could not send the last status; the slot replays from %X/%X",
				 c->label, (unsigned)(c->confirmed >> 32), (unsigned)c->confirmed);
	}
	/* A delivery failure is retried with a new producer unless it was
	 * fatal to the producer itself; a refusal by ACL is never retried
	 * (every new producer meets it again). */
	if ((c->kafka_failed && kafka_out_failed(c->kafka)) || kafka_out_refused(c->kafka))
		*retry = false;
	return ok;
}

/* "schema.table" of the captured table whose topic is topic (caller frees),
 * or the topic's name. */
static char *table_of_topic(const struct capture *c, const char *topic)
{
	for (size_t i = 0; i < c->src->tables.n; i++) {
		const struct table_ref *t = &c->src->tables.items[i];
		char *name = topology_topic(c->src, t);
		bool same = strcmp(name, topic) == 0;

		free(name);
		if (same)
			return table_ref_text(t);
	}
	return xasprintf("of topic %s", topic);
}

/* Kafka itself refused a record as too large (librdkafka, or a broker whose
 * limit or a topic's is below the agent's, set by hand): the same stop as
 * record_fits', at once rather than a replay again and again. */
static void kafka_too_large_check(struct capture *c)
{
	const struct kafka_too_large *r = c->kafka ? kafka_out_too_large(c->kafka) : NULL;
	const char *key, *payload;
	size_t key_len;
	char *table;

	if (!r || c->too_large)
		return;
	/* With the schema block, the key's payload is what names the row. */
	key = r->key;
	key_len = r->key_len;
	payload = strstr(key, "\"payload\":");
	if (payload && key_len > 0 && key[key_len - 1] == '}') {
		key_len = (size_t)(key + key_len - 1 - (payload + 10));
		key = payload + 10;
	}
	table = table_of_topic(c, r->topic);
	stop_too_large(c, table, key, key_len, r->size, true);
	free(table);
}

static void capture_fini(struct capture *c)
{
	session_close(c);
	schema_mac_free(c->mac);
	pgoutput_decoder_fini(&c->dec);
	kafka_out_free(c->kafka);
	txns_free(c);
	capture_snapshot_free(c->snap);
	event_deltas_clear(&c->snapshot.counts);
	event_counts_fini(&c->counts);
	free(c->counts_path);
	capture_state_fini(&c->state);
	strbuf_fini(&c->key);
	strbuf_fini(&c->value);
	strbuf_fini(&c->ground_extra);
	free(c->tx_topic);
	free(c->tx_tables);
	free(c->tx_counts);
	free(c->label);
}

enum capture_end capture_run(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	struct capture c = { 0 };
	struct sigaction sa = { .sa_handler = on_stop_signal };
	int backoff = 1;
	bool ok = false, retry;

	c.src = pipe->source;
	c.kafka_cfg = &topo->kafka;
	c.label = xasprintf("capture %s", pipe->name);
	c.fmt.server_name = c.src->topic_prefix;
	c.fmt.db = c.src->pg.dbname;
	c.fmt.schemas = c.src->json_schemas;
	c.fmt.decimal_mode = c.src->decimal_handling;
	c.fmt.interval_string = c.src->interval_handling == INTERVAL_STRING;
	c.tx_topic = topology_transaction_topic(c.src);
	strbuf_init(&c.key);
	strbuf_init(&c.value);
	strbuf_init(&c.ground_extra);
	pgoutput_decoder_init(&c.dec);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* No wait on the source or the brokers outlasts a stop request. */
	pgsql_stop_on(&stop_requested);
	kafka_out_stop_on(&stop_requested);
	progress_writer_init(&c.progress, topo->agent.state_dir, "capture", pipe->name);
	/* With patterns, the tables are the catalog's now (the same function
	 * as the agent's pass: the digests then agree); retried like a lost
	 * source connection. */
	while (!table_select_resolve_as(pipe->source, c.label, PG_AS_USER)) {
		progress_error_note(&c.progress, ERROR_SOURCE_CONNECTION, NULL);
		progress_writer_tick(&c.progress, true);
		for (int i = 0; i < backoff * 10 && !stop_requested; i++)
			usleep(100 * 1000);
		backoff = backoff * 2 > RECONNECT_MAX_SEC ? RECONNECT_MAX_SEC : backoff * 2;
		if (stop_requested)
			goto out;
	}
	backoff = 1;
	progress_writer_set(&c.progress, "config_digest", pipeline_config_digest_json(topo, pipe, "capture"));
	progress_state_set(&c.progress, "starting");
	c.progress.refresh = progress_refresh;
	c.progress.refresh_ctx = &c;
	/* counts first: the first progress already shows them */
	ok = event_counts_load(topo->agent.state_dir, c.src->name, &c.counts, &c.counts_lsn,
			       &c.counts_path);
	progress_writer_tick(&c.progress, true);

	if (!ok || !capture_state_load(topo->agent.state_dir, c.src->name, &c.state) ||
	    !schema_mac_open(topo->agent.state_dir, pipe->name, &c.mac)) {
		ok = false;
		goto out; /* errors already logged */
	}
	c.snap = capture_snapshot_new(&(struct snapshot_host){ &c, c.label, c.src, &c.state,
							       &c.progress, snapshot_emit });
	if (!kafka_out_new(&topo->kafka, &pipe->capture_kafka, c.label, on_ack, &c, &c.kafka) || !topics_ensure(&c)) {
		ok = false;
		goto out; /* errors already logged */
	}
	while (!stop_requested) {
		c.streamed_session = false;
		ok = session_run(&c, &retry);
		session_close(&c);
		if (!ok)
			kafka_too_large_check(&c);
		if (ok || !retry || c.too_large)
			break;
		if (c.streamed_session)
			backoff = 1; /* it worked until now: start the waits afresh */
		/* The same kind again and again is FAILED in status
		 * (status_state.c), though capture keeps trying. */
		progress_error_note(&c.progress,
				    !c.kafka_failed  ? ERROR_SOURCE_CONNECTION
				    : c.kafka_refused ? ERROR_REFUSED_RECORD
						      : ERROR_KAFKA_DELIVERY,
				    NULL);
		c.error_confirmed = c.confirmed;
		progress_state_set(&c.progress, "reconnecting");
		if (c.kafka_failed) {
			/* Kafka refused events (e.g. a topic briefly unknown while a
			 * broker restarts): a new producer replays from the slot. */
			kafka_out_free(c.kafka); /* reports what is left as not delivered */
			c.kafka = NULL;
			txns_free(&c);
			c.kafka_failed = c.kafka_refused = false;
			if (!kafka_out_new(&topo->kafka, &pipe->capture_kafka, c.label, on_ack, &c, &c.kafka) ||
			    !topics_ensure(&c)) {
				ok = false;
				break;
			}
		} else if (!kafka_drain(&c)) {
			break;
		}
		/* Whatever was in flight is acknowledged or reported by now:
		 * restart from the last confirmed transaction. */
		txns_settle(&c);
		txns_free(&c);
		log_warn("%s: reconnecting to %s in %d s (replaying from %X/%X)", c.label,
			 pgsql_where(&c.src->pg, PG_AS_USER), backoff, (unsigned)(c.confirmed >> 32),
			 (unsigned)c.confirmed);
		for (int i = 0; i < backoff * 10 && !stop_requested; i++) {
			progress_writer_tick(&c.progress, false);
			usleep(100 * 1000);
		}
		backoff = backoff * 2 > RECONNECT_MAX_SEC ? RECONNECT_MAX_SEC : backoff * 2;
	}
out:
	/* Stopped on request: a clean stop unless Kafka refused events. */
	if (stop_requested)
		ok = !c.kafka_failed;
	if (ok)
		progress_state_set(&c.progress, "stopping"); /* a clean end (status: STOPPED) */
	if (c.too_large) {
		ok = false;
		progress_error_note(&c.progress, ERROR_TOO_LARGE, NULL); /* the line above */
		progress_state_set(&c.progress, "failed");
	} else if (c.kafka && kafka_out_refused(c.kafka)) {
		/* Stops failed, even on a stop request: its ACL said no. */
		ok = false;
		progress_error_note(&c.progress, ERROR_KAFKA_AUTHORIZATION, NULL);
		progress_state_set(&c.progress, "failed");
	}
	counts_persist(&c);
	/* The last progress is written after capture_fini: its members now. */
	progress_refresh(&c.progress, &c);
	c.progress.refresh = NULL;
	capture_fini(&c);
	progress_writer_fini(&c.progress, !ok);
	return ok ? CAPTURE_END_OK : c.too_large ? CAPTURE_END_REFUSED : CAPTURE_END_FAILED;
}
