/*
 * agent/apply/apply.c: the pipeline's Kafka topics applied to the target.
 *
 * A batch (up to APPLY_BATCH_MAX records, APPLY_BATCH_BYTES or
 * APPLY_BATCH_WAIT_MS) is applied in one target transaction together with
 * the next offset of every partition it read (cdc_agent.offsets).
 * Partitions are assigned from those stored offsets, so a crash at any
 * instant neither loses nor repeats a change.  Kafka's committed offsets
 * are only updated for monitoring.
 *
 * Records are applied in their order.  Consecutive records of one table
 * with the same shape (upserts of the same columns, or deletes) go out as
 * one multi-row statement (apply_sql.c); a key seen again starts a new
 * statement, since one INSERT ... ON CONFLICT cannot touch a row twice.
 */
#include "apply/apply.h"

#include "apply/apply_event.h"
#include "apply/apply_keyless.h"
#include "apply/apply_schema.h"
#include "apply/apply_sql.h"
#include "apply/apply_types.h"
#include "base/log.h"
#include "base/util.h"
#include "config/topo_values.h"
#include "kafka/kafka_in.h"
#include "pg/column_type.h"
#include "pg/pgsql.h"
#include "pg/table_schema.h"
#include "pipeline/event_counts.h"
#include "pipeline/event_format.h"
#include "pipeline/health.h"
#include "pipeline/pipeline_digest.h"
#include "pipeline/progress.h"
#include "pipeline/progress_health.h"
#include "pipeline/schema_mac.h"
#include "pipeline/table_select.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define APPLY_BATCH_MAX 5000
#define APPLY_BATCH_WAIT_MS 200
/* A batch also closes at this many bytes of records: large values (up to
 * [kafka] max_message_bytes each) are held by the batch until it commits,
 * so a few of them make a batch, not thousands. */
#define APPLY_BATCH_BYTES ((size_t)16 << 20)
#define APPLY_UPSERT_BATCHES 16 /* after a create met an existing key */
#define RECONNECT_MAX_SEC 30
/* librdkafka's prefetch under consistency = transaction: its default, 64
 * MiB, came on top of the buffers (apply's VmHWM during a 2M-row
 * transaction: 172 MB; 115 MB with 16 MiB, 82 MB with 8 MiB). */
#define TX_QUEUE_KBYTES 4096
/* And what one fetch brings of a partition: 1 MiB (librdkafka's default)
 * of lz4-compressed events with their schema block were ~45 batches of
 * ~1 MB once inflated, all alive at once (apply's VmRSS went 27 -> 77 MB
 * and back at each fetch of a 300k-row transaction).  128 KiB is a few
 * batches; a larger batch still comes whole. */
#define TX_FETCH_PARTITION_BYTES (128 << 10)
/* Buffers of librdkafka's (fetch responses, inflated batches) are larger
 * than this: each is mapped and unmapped on its own rather than carved out
 * of a heap that keeps its peak (glibc's threshold otherwise rises to 32
 * MiB as they are freed; its broker thread's arena was then 64 MiB, all of
 * it resident). */
#define APPLY_MMAP_THRESHOLD (256 << 10)
/* The same under consistency = table: librdkafka's default prefetch (64
 * MiB of records) and fetch (1 MiB a partition, ~15 MiB once inflated)
 * took apply's VmHWM to 145 MiB on a backlog (tests/integration/80), 85-115
 * MiB in bench-pipeline's throughput runs with the schema block.  8 MiB and
 * 256 KiB: ~45 MiB; kafka_in_poll's kick keeps the fetcher going
 * (kafka_in.c says why it must).  128 KiB a fetch cut a 3-partition
 * snapshot's peak (61-70 -> 48 MiB) but seemed to cost table mode's rows/s:
 * a batch closes when the queue runs dry, so smaller fetches make smaller
 * batches. */
#define TABLE_QUEUE_KBYTES 8192
#define TABLE_FETCH_PARTITION_BYTES (256 << 10)
/* And by count, in both modes: librdkafka's structures take ~0.5 kB a
 * record beside its payload, so its default (100000 records) of small ones
 * (json_schemas = false, ~200 bytes) held 8 MiB of payload in ~30 MiB of
 * its broker thread's arena (apply's VmHWM 70-73 MiB copying a 1M-row
 * snapshot).  10000 cost table mode ~15% of its rows/s on such records
 * (5 pairs; the queue ran dry between batches). */
#define APPLY_QUEUE_MESSAGES 30000

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* One change's values, converted before it joins a group. */
struct row_values {
	char *signature;           /* as row_group's */
	struct strbuf *texts;      /* per table column */
	enum apply_value *kinds;
	size_t cap;                /* columns allocated */
	struct strbuf key;         /* the key's values, to spot a key seen again */
	struct strbuf why;
};

/* A topic of the pipeline and the table it carries, from the topology: a
 * record is applied to that table only, whatever its source block says. */
struct route {
	char *topic;                  /* owned */
	const struct table_ref *table; /* the topology's */
	size_t count_idx;             /* its table's event_counts index */
	struct target_table *tt;      /* its target table once known (a->tables owns it) */
	bool in_batch;                /* listed in a->batch_routes */
	/* consistency = transaction: the open source transaction's events of
	 * this table, applied and (from its END) in all */
	char *collection;             /* "schema.table", as END's data_collections name it */
	int64_t tx_taken, tx_expected;
	bool tx_next_seen;            /* tx_gap: its next event is at a head */
};

/* consistency = transaction: a partition's records, buffered. */
struct tx_part {
	char *topic;
	int32_t partition;
	bool is_txn_topic;
	rd_kafka_message_t **q;   /* q[head..n): not consumed yet */
	size_t head, n, cap;
	size_t bytes;
	bool paused;              /* holds enough: not fetched meanwhile */
	int64_t next;             /* its first record not consumed; -1: none consumed in the batch */
	size_t route;             /* its topic's route; SIZE_MAX: the transaction topic's */
	uint64_t floor;           /* its records of transactions up to this one were never applied (tx_floors_note) */
};

/* A partition that joined transaction apply after some transactions were
 * applied (cdc_agent.transaction_floors). */
struct tx_floor {
	char *topic;
	int32_t partition;
	uint64_t pos;
};

struct tx_state {
	char *topic;              /* the transaction topic; NULL: consistency = table */
	struct tx_part *parts;
	size_t nparts;
	struct strmap part_of;    /* "topic\0partition" -> index in parts */
	struct tx_floor *floors;  /* the pipeline's, as stored (tx_floors_note) */
	size_t nfloors;
	size_t last_part;         /* the last event's: looked at first for the next */
	size_t push_part;         /* the last record buffered's */
	bool open;                /* a source transaction is being applied */
	uint64_t open_pos;        /* its commit LSN */
	int64_t applied;          /* its events applied: the last total_order */
	int64_t end_count;        /* its END's event count; -1 before its END */
	bool tables_known;        /* its END's data_collections read: routes' tx_expected */
	long long moved_ms;       /* when it last moved */
	long long unblock_ms;     /* when tx_unblock last looked */
	long long stuck_ms;       /* the first record buffered since it last moved; 0: none */
	bool stall_noted;         /* tx_stalled said so */
	uint64_t done_pos;        /* the last transaction applied (batch or stored) */
	uint64_t committed_pos;   /* the last one stored in the target */
	bool in_target;           /* the batch's target transaction is open */
	bool one_by_one;          /* this attempt names the record at fault */
	long long batch_started;
	size_t batch_records, batch_bytes, group_bytes, txns;
};

struct apply {
	const struct pipeline_cfg *pipe;
	const struct target_cfg *tgt;
	const char *state_dir;
	char *label;
	struct route *routes;
	size_t nroutes;
	struct strmap route_of;    /* topic -> index in routes: per record, whatever the tables */
	size_t *batch_routes;      /* routes with events in the batch (their batch_ops) */
	size_t nbatch_routes;
	struct kafka_in *in;         /* the pipeline's consumer (kafka_in.h) */
	PGconn *db;
	struct apply_schema schema;  /* the target tables, their schema changes */
	rd_kafka_message_t **batch;  /* APPLY_BATCH_MAX slots */
	size_t nbatch;
	size_t *batch_ends;          /* APPLY_BATCH_MAX slots: batch_ends_find */
	size_t nbatch_ends;
	struct row_group group;
	struct row_values row;     /* buffers reused from change to change */
	struct apply_event ev;     /* the record being applied (buffers reused) */
	bool failed;
	bool refused;              /* failed on a record, not on a connection */
	bool kafka_refused;        /* the brokers' ACLs refused its user (logged) */
	bool locked_out;           /* another apply holds the target's lock (logged) */
	/* Creates go out as plain INSERTs, which cost the server half as
	 * much as INSERT ... ON CONFLICT (docs/ARCHITECTURE.md); a key the
	 * target already has (a replay after a crash) fails the batch, which
	 * is applied again with upserts, and so are the next batches. */
	bool plain_creates;        /* this attempt of the batch may */
	bool create_conflict;      /* a plain INSERT hit an existing key */
	int upsert_batches;        /* batches still to upsert after one did */
	struct progress_writer progress; /* for status: counted once a batch commits */
	uint64_t batch_events;           /* change events of the batch being applied */
	int64_t batch_last_ms;           /* source ts_ms of its last one */
	/* Events since the pipeline was created, by table and op: stored in
	 * cdc_agent.event_counts in each batch's transaction, so a batch
	 * applied again after a crash is counted once (event_counts.h). */
	struct event_counts counts;
	uint64_t *batch_ops;             /* per route, EVENT_OPS each: this batch's */
	bool drained;                    /* the last poll found nothing to apply */
	struct apply_types_seen types_seen; /* headers whose enum labels the target has */
	struct schema_mac *mac;          /* authenticates capture's cdc.columns headers */
	char *trusted_topic;             /* the last header that verified, to not */
	char *trusted_header;            /* compute its mac again for every event */
	size_t trusted_len;
	PGconn *types_db;                /* consistency = transaction: enum labels (tx_types) */
	struct tx_state tx;              /* consistency = transaction */
};

/* "apply p1: topic t partition 0 offset 12" for errors about a record. */
static void record_error(struct apply *a, const rd_kafka_message_t *m, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

/* Also marks apply as stopped by a record (or the target's answer to it)
 * rather than by a lost connection: starting again cannot help. */
static void record_error(struct apply *a, const rd_kafka_message_t *m, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_error("%s: topic %s partition %d offset %lld: %s", a->label, rd_kafka_topic_name(m->rkt),
		  (int)m->partition, (long long)m->offset, msg);
	free(msg);
	a->refused = a->refused || (PQstatus(a->db) == CONNECTION_OK && !stop_requested);
}

/* ---- offsets in the target ----------------------------------------------- */

static bool offsets_tables_create(struct apply *a);

/* Two applies into one target starting together would both create the
 * tables (CREATE ... IF NOT EXISTS is no lock: the second fails on the
 * catalog's unique index): one at a time, under a transaction lock. */
static bool offsets_table_ensure(struct apply *a)
{
	bool ok = pgsql_exec(a->db, a->label, "BEGIN") &&
		  pgsql_exec(a->db, a->label,
			     "SELECT pg_advisory_xact_lock(hashtext('cdc_agent schema'))") &&
		  offsets_tables_create(a) && pgsql_exec(a->db, a->label, "COMMIT");

	if (!ok)
		pgsql_rollback(a->db);
	return ok;
}

static bool offsets_tables_create(struct apply *a)
{
	return pgsql_exec(a->db, a->label, "CREATE SCHEMA IF NOT EXISTS cdc_agent") &&
	       pgsql_exec(a->db, a->label,
			  "CREATE TABLE IF NOT EXISTS cdc_agent.offsets ("
			  " pipeline text NOT NULL, topic text NOT NULL, partition int NOT NULL,"
			  " next_offset bigint NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
			  " PRIMARY KEY (pipeline, topic, partition))") &&
	       /* Its own table, not columns of offsets: a target made by an
		* older version gains it with the same idempotent statement. */
	       pgsql_exec(a->db, a->label,
			  "CREATE TABLE IF NOT EXISTS cdc_agent.event_counts ("
			  " pipeline text NOT NULL, table_name text NOT NULL, op text NOT NULL,"
			  " events bigint NOT NULL, PRIMARY KEY (pipeline, table_name, op))") &&
	       /* consistency = transaction: the last source transaction applied */
	       pgsql_exec(a->db, a->label,
			  "CREATE TABLE IF NOT EXISTS cdc_agent.transactions ("
			  " pipeline text PRIMARY KEY, commit_lsn text NOT NULL,"
			  " applied_at timestamptz NOT NULL DEFAULT now())") &&
	       /* consistency = transaction: a partition that joined after
		* some transactions were applied (tx_floors_note) */
	       pgsql_exec(a->db, a->label,
			  "CREATE TABLE IF NOT EXISTS cdc_agent.transaction_floors ("
			  " pipeline text NOT NULL, topic text NOT NULL, partition int NOT NULL,"
			  " commit_lsn text NOT NULL, noted_at timestamptz NOT NULL DEFAULT now(),"
			  " PRIMARY KEY (pipeline, topic, partition))") &&
	       apply_schema_store_ensure(&a->schema) &&
	       keyless_positions_ensure(a->db, a->label);
}

/* The counts stored so far; each route learns its table's index. */
static bool counts_load(struct apply *a)
{
	const char *params[] = { a->pipe->name };
	PGresult *res;

	for (size_t i = 0; i < a->nroutes; i++) {
		char *name = table_ref_text(a->routes[i].table);

		a->routes[i].count_idx = event_counts_index(&a->counts, name);
		free(name);
	}
	if (!pgsql_query(a->db, a->label,
			 "SELECT table_name, op, events FROM cdc_agent.event_counts WHERE pipeline = $1",
			 1, params, &res))
		return false; /* errors already logged */
	for (int r = 0; r < PQntuples(res); r++) {
		const char *op = PQgetvalue(res, r, 1);
		int idx = strlen(op) == 1 ? event_op_index(op[0]) : -1;

		if (idx >= 0)
			event_counts_get(&a->counts, PQgetvalue(res, r, 0))->op[idx] +=
				strtoull(PQgetvalue(res, r, 2), NULL, 10);
	}
	PQclear(res);
	return true;
}

/* Adds the batch's counts in its transaction: one statement, whatever the
 * tables and ops. */
static bool counts_store(struct apply *a)
{
	struct strbuf tables, ops, ns;
	const char *params[4];
	bool any = false, ok = true;
	PGresult *res;

	strbuf_init(&tables);
	strbuf_init(&ops);
	strbuf_init(&ns);
	for (size_t b = 0; b < a->nbatch_routes; b++)
		for (int op = 0; op < EVENT_OPS; op++) {
			size_t r = a->batch_routes[b];
			uint64_t n = a->batch_ops[r * EVENT_OPS + (size_t)op];
			const char *name = a->counts.t[a->routes[r].count_idx].table;

			if (n == 0)
				continue;
			strbuf_adds(&tables, any ? "," : "{");
			apply_sql_array_add(&tables, name, strlen(name));
			strbuf_addf(&ops, "%s%c", any ? "," : "{", event_op_codes[op]);
			strbuf_addf(&ns, "%s%llu", any ? "," : "{", (unsigned long long)n);
			any = true;
		}
	if (any) {
		strbuf_adds(&tables, "}");
		strbuf_adds(&ops, "}");
		strbuf_adds(&ns, "}");
		params[0] = a->pipe->name;
		params[1] = tables.data;
		params[2] = ops.data;
		params[3] = ns.data;
		ok = pgsql_query(a->db, a->label,
				 "INSERT INTO cdc_agent.event_counts AS e (pipeline, table_name, op, events) "
				 "SELECT $1, t, o, n FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(t, o, n) "
				 "ON CONFLICT (pipeline, table_name, op) DO UPDATE SET events = e.events + EXCLUDED.events",
				 4, params, &res);
		if (ok)
			PQclear(res);
	}
	strbuf_fini(&tables);
	strbuf_fini(&ops);
	strbuf_fini(&ns);
	return ok;
}

/* One apply of a pipeline at a time: a second one (started by hand beside
 * the unit, or on another host) would read the same partitions, since
 * kafka_in assigns itself all of them, and apply their changes twice and
 * out of order.  So apply holds a session-level advisory lock in the target,
 * keyed by the pipeline (APPLY_LOCK_KEY_SQL; health_apply looks for it), and
 * a second one stops, loudly, instead of writing (locked_out).  After a kill -9 the old
 * session's backend ends as soon as the socket closes; the lock is waited
 * for APPLY_LOCK_WAIT_MS, enough for that. */
#define APPLY_LOCK_WAIT_MS 3000

static bool target_lock(struct apply *a)
{
	const char *params[] = { a->pipe->name };
	int64_t deadline = mono_ms() + APPLY_LOCK_WAIT_MS;
	char *got = NULL, *holder = NULL;

	for (;;) {
		bool ok;

		if (!pgsql_query_value(a->db, a->label, "SELECT pg_try_advisory_lock(" APPLY_LOCK_KEY_SQL ")",
				       1, params, &got))
			return false; /* errors already logged */
		ok = got && strcmp(got, "t") == 0;
		free(got);
		got = NULL;
		if (ok)
			return true;
		if (stop_requested || mono_ms() >= deadline)
			break;
		usleep(100 * 1000);
	}
	if (stop_requested)
		return false;
	a->locked_out = true;
	if (!pgsql_query_value(a->db, a->label,
				"SELECT 'backend ' || a.pid || coalesce(' of ' || a.client_addr, '') || ', connected since ' || a.backend_start "
				"FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE " APPLY_LOCK_HELD_SQL " LIMIT 1",
				1, params, &holder))
		holder = NULL; /* errors already logged */
	log_error("%s: another apply of pipeline %s is writing to target %s (it holds the pipeline's lock there: %s); two would apply its changes twice and out of order: stopping",
		  a->label, a->pipe->name, a->tgt->name, holder ? holder : "its backend not visible to this user");
	free(holder);
	return false;
}

/* Sets each assigned partition's start to the offset stored with the data. */
static bool offsets_load(struct apply *a, rd_kafka_topic_partition_list_t *parts)
{
	for (int i = 0; i < parts->cnt; i++) {
		char part[16];
		const char *params[] = { a->pipe->name, parts->elems[i].topic, part };
		char *next = NULL;

		snprintf(part, sizeof(part), "%d", (int)parts->elems[i].partition);
		if (!pgsql_query_value(a->db, a->label,
				       "SELECT next_offset FROM cdc_agent.offsets "
				       "WHERE pipeline = $1 AND topic = $2 AND partition = $3",
				       3, params, &next))
			return false; /* errors already logged */
		parts->elems[i].offset = next ? strtoll(next, NULL, 10) : RD_KAFKA_OFFSET_BEGINNING;
		log_info("%s: topic %s partition %d: resuming at %s", a->label,
			 parts->elems[i].topic, (int)parts->elems[i].partition,
			 next ? next : "the beginning");
		free(next);
	}
	return true;
}

/* Whether batch[i] is the last record of its partition in the batch. */
/* The batch's last record of each partition it holds (batch_ends), found
 * once per batch through a hash: with records of many tables (topics) in a
 * batch, a scan per record would grow with them. */
static void batch_ends_find(struct apply *a)
{
	struct strmap seen = { 0 };

	a->nbatch_ends = 0;
	for (size_t i = a->nbatch; i-- > 0;) {
		const rd_kafka_message_t *m = a->batch[i];
		struct { const void *rkt; int32_t partition; } key;
		size_t any;

		memset(&key, 0, sizeof(key)); /* padding too: the key is hashed as bytes */
		key.rkt = m->rkt;
		key.partition = m->partition;
		if (strmap_get(&seen, &key, sizeof(key), &any))
			continue;
		strmap_put(&seen, &key, sizeof(key), i);
		a->batch_ends[a->nbatch_ends++] = i;
	}
	strmap_fini(&seen);
}

/* Partitions' next offsets, gathered as the three arrays of one
 * statement (offsets_rows_store), whatever the partitions. */
struct offsets_rows {
	struct strbuf topics, parts, nexts;
	size_t n;
};

static void offsets_rows_add(struct offsets_rows *o, const char *topic, int32_t partition,
			     int64_t next)
{
	if (o->n++ == 0) {
		strbuf_init(&o->topics);
		strbuf_init(&o->parts);
		strbuf_init(&o->nexts);
	}
	strbuf_adds(&o->topics, o->n > 1 ? "," : "{");
	apply_sql_array_add(&o->topics, topic, strlen(topic));
	strbuf_addf(&o->parts, "%s%d", o->n > 1 ? "," : "{", (int)partition);
	strbuf_addf(&o->nexts, "%s%lld", o->n > 1 ? "," : "{", (long long)next);
}

/* Stores them in the target's open transaction and frees them. */
static bool offsets_rows_store(struct apply *a, struct offsets_rows *o)
{
	const char *params[4];
	PGresult *res;
	bool ok;

	if (o->n == 0)
		return true;
	strbuf_adds(&o->topics, "}");
	strbuf_adds(&o->parts, "}");
	strbuf_adds(&o->nexts, "}");
	params[0] = a->pipe->name;
	params[1] = o->topics.data;
	params[2] = o->parts.data;
	params[3] = o->nexts.data;
	ok = pgsql_query(a->db, a->label,
			 "INSERT INTO cdc_agent.offsets (pipeline, topic, partition, next_offset) "
			 "SELECT $1, t, p, n FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, n) "
			 "ON CONFLICT (pipeline, topic, partition) "
			 "DO UPDATE SET next_offset = EXCLUDED.next_offset, applied_at = now()",
			 4, params, &res);
	if (ok)
		PQclear(res);
	strbuf_fini(&o->topics);
	strbuf_fini(&o->parts);
	strbuf_fini(&o->nexts);
	o->n = 0;
	return ok; /* errors already logged */
}

/* Each partition's next offset, in the batch's transaction. */
static bool offsets_store(struct apply *a)
{
	struct offsets_rows o = { .n = 0 };

	for (size_t e = 0; e < a->nbatch_ends; e++) {
		const rd_kafka_message_t *m = a->batch[a->batch_ends[e]];

		offsets_rows_add(&o, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
	}
	return offsets_rows_store(a, &o);
}

/* ---- statements ------------------------------------------------------------------ */

/* Each column's name quoted for the statements of tt; caller frees with
 * columns_quoted_free. */
static char **columns_quoted(PGconn *db, const struct table_schema *ts)
{
	char **cols = xcalloc(ts->ncols, sizeof(*cols));

	for (size_t c = 0; c < ts->ncols; c++)
		cols[c] = pgsql_quote_ident(db, ts->cols[c].name);
	return cols;
}

static void columns_quoted_free(char **cols, size_t ncols)
{
	for (size_t c = 0; c < ncols; c++)
		free(cols[c]);
	free(cols);
}

static bool group_flush(struct apply *a)
{
	struct row_group *g = &a->group;
	const char **params;
	size_t n, ncols;
	char **cols, *sql;
	PGresult *res;
	bool ok, plain, upsert;

	if (!g->tt || g->nrows == 0) {
		apply_sql_group_reset(g);
		return true;
	}
	ncols = g->tt->ts->ncols;
	if (g->copy) {
		/* Snapshot rows of a batch that may insert plainly: COPY, in the
		 * batch's transaction (its offsets commit with them); a key the
		 * target has fails it as the plain INSERT would, and the batch
		 * goes again with upserts. */
		cols = columns_quoted(a->db, g->tt->ts);
		sql = apply_sql_group_copy_statement(g, (const char *const *)cols);
		columns_quoted_free(cols, ncols);
		ok = pgsql_copy_in(a->db, a->label, sql, g->copy_text.data, g->copy_text.len,
				   "23505", &a->create_conflict);
		free(sql);
		apply_sql_group_reset(g);
		return ok;
	}
	params = xcalloc(ncols, sizeof(*params));
	n = apply_sql_group_params(g, params);
	plain = a->plain_creates && g->creates_only && !g->delete;
	upsert = a->tgt->insert_mode != INSERT_MODE_INSERT && !plain;
	cols = columns_quoted(a->db, g->tt->ts);
	sql = apply_sql_group_statement(g, (const char *const *)cols, upsert);
	columns_quoted_free(cols, ncols);
	if (plain)
		ok = pgsql_query_unless(a->db, a->label, sql, (int)n, params, "23505",
					&a->create_conflict, &res);
	else
		ok = pgsql_query(a->db, a->label, sql, (int)n, params, &res);
	PQclear(res);
	free(sql);
	free(params);
	apply_sql_group_reset(g);
	return ok;
}

static void row_values_reserve(struct row_values *r, size_t ncols)
{
	if (ncols <= r->cap)
		return;
	r->signature = xrealloc(r->signature, ncols + 1);
	r->texts = xrealloc(r->texts, ncols * sizeof(*r->texts));
	r->kinds = xrealloc(r->kinds, ncols * sizeof(*r->kinds));
	for (size_t c = r->cap; c < ncols; c++)
		strbuf_init(&r->texts[c]);
	if (r->cap == 0) {
		strbuf_init(&r->key);
		strbuf_init(&r->why);
	}
	r->cap = ncols;
}

static void row_values_fini(struct row_values *r)
{
	for (size_t c = 0; c < r->cap; c++)
		strbuf_fini(&r->texts[c]);
	if (r->cap) {
		strbuf_fini(&r->key);
		strbuf_fini(&r->why);
	}
	free(r->signature);
	free(r->texts);
	free(r->kinds);
	memset(r, 0, sizeof(*r));
}

/* The change's values for the table's columns into a->row. */
static bool row_values_read(struct apply *a, const struct target_table *tt,
			    const struct apply_event *ev, const rd_kafka_message_t *m)
{
	const struct table_schema *ts = tt->ts;
	struct row_values *r = &a->row;
	bool delete = ev->op == 'd';

	row_values_reserve(r, ts->ncols);
	r->key.len = 0;
	r->key.data[0] = '\0';
	r->signature[ts->ncols] = '\0';
	for (size_t c = 0; c < ts->ncols; c++) {
		const struct event_field *f = apply_schema_field(tt, ev, c);

		r->signature[c] = '0';
		if (!f || (delete && !ts->cols[c].key_position))
			continue;
		r->why.len = 0;
		if (!apply_event_value(f, &ts->cols[c], &r->texts[c], &r->kinds[c], &r->why)) {
			record_error(a, m, "column %s: %s", f->name, r->why.data);
			return false;
		}
		if (r->kinds[c] == APPLY_VALUE_UNCHANGED) {
			if (ts->cols[c].key_position) {
				record_error(a, m, "key column %s has no value", f->name);
				return false;
			}
			continue;
		}
		r->signature[c] = '1';
		if (ts->cols[c].key_position) {
			if (r->kinds[c] == APPLY_VALUE_TEXT)
				strbuf_add(&r->key, r->texts[c].data, r->texts[c].len);
			else
				strbuf_add(&r->key, "\x1e", 1);
			strbuf_add(&r->key, "\x1f", 1);
		}
	}
	return true;
}

/* Adds one change to the group, flushing the group first when the change
 * does not fit in it. */
static bool group_add(struct apply *a, struct target_table *tt, const struct apply_event *ev,
		      const rd_kafka_message_t *m)
{
	struct row_group *g = &a->group;
	struct row_values *r = &a->row;

	/* Snapshot rows go out by COPY where a plain INSERT would: cheaper
	 * for the target, and a snapshot's rows come thousands at a time. */
	bool copy = a->plain_creates && ev->op == 'r';

	if (!row_values_read(a, tt, ev, m))
		return false; /* errors already logged */
	if ((apply_sql_group_closed_to(g, tt, ev->op == 'd', r->signature, r->key.data, r->key.len) ||
	     (g->tt && g->copy != copy)) &&
	    !group_flush(a))
		return false; /* errors already logged */
	if (!g->tt)
		g->copy = copy;
	apply_sql_group_add(g, tt, ev->op, r->signature, r->kinds, r->texts, r->key.data, r->key.len);
	return true;
}

/* Before DDL (apply_schema.h): the rows held go out with the old shape. */
static bool schema_flush(void *ctx)
{
	return group_flush(ctx);
}

/* ---- batches ------------------------------------------------------------------------- */

static const char *header(const rd_kafka_message_t *m, const char *name, size_t *len)
{
	rd_kafka_headers_t *hdrs = NULL;
	const void *value = NULL;

	*len = 0;
	if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    rd_kafka_header_get_last(hdrs, name, &value, len) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return NULL;
	return value;
}

/* ---- routes: which table a record may change ---------------------------------------- */

static void routes_init(struct apply *a)
{
	const struct source_cfg *src = a->pipe->source;

	a->routes = xcalloc(src->tables.n, sizeof(*a->routes));
	for (size_t i = 0; i < src->tables.n; i++) {
		a->routes[i].topic = topology_topic(src, &src->tables.items[i]);
		a->routes[i].table = &src->tables.items[i];
		a->routes[i].collection =
			xasprintf("%s.%s", src->tables.items[i].schema, src->tables.items[i].table);
		strmap_put(&a->route_of, a->routes[i].topic, strlen(a->routes[i].topic), i);
	}
	a->nroutes = src->tables.n;
	a->batch_ops = xcalloc(src->tables.n * EVENT_OPS, sizeof(*a->batch_ops));
	a->batch_routes = xcalloc(src->tables.n + 1, sizeof(*a->batch_routes));
}

static void routes_fini(struct apply *a)
{
	for (size_t i = 0; i < a->nroutes; i++) {
		free(a->routes[i].topic);
		free(a->routes[i].collection);
	}
	free(a->routes);
	free(a->batch_ops);
	free(a->batch_routes);
	strmap_fini(&a->route_of);
	a->batch_routes = NULL;
	a->routes = NULL;
	a->batch_ops = NULL;
	a->nroutes = 0;
}

/* The table of the record's topic when its source block names that table;
 * else the record is refused (logged): its topic is not the pipeline's, or
 * it claims another table than its topic carries. */
static const struct table_ref *record_table(struct apply *a, const rd_kafka_message_t *m,
					    const struct apply_event *ev, size_t *route)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	const struct table_ref *t;
	char *claimed, *carried;

	if (!strmap_get(&a->route_of, topic, strlen(topic), route)) {
		record_error(a, m, "refused: the topic is not one of pipeline %s's", a->pipe->name);
		return NULL;
	}
	t = a->routes[*route].table;
	if (strcmp(t->schema, ev->schema) == 0 && strcmp(t->table, ev->table) == 0)
		return t;
	claimed = table_name_text(ev->schema, ev->table);
	carried = table_ref_text(t);
	record_error(a, m, "refused: its source block names table %s, but this topic carries %s",
		     claimed, carried);
	free(claimed);
	free(carried);
	return NULL;
}

/* A change of a table without a key: its own statement (apply_keyless.c),
 * after the rows gathered so far, so the batch keeps its order; skipped
 * when its cdc.position says it was applied already (a replay). */
static bool keyless_change(struct apply *a, struct target_table *tt, struct apply_event *ev,
			   const rd_kafka_message_t *m)
{
	struct keyless_target t = { a->db, a->label, tt->qualified, tt->ts, tt->cast_types };
	char *name = table_name_text(tt->schema, tt->table);
	size_t plen;
	const char *pos = header(m, EVENT_HEADER_POSITION, &plen);
	char *p = NULL;
	struct strbuf why;
	bool ok = true;

	if (pos && !keyless_position_valid(pos, plen)) {
		record_error(a, m, "refused: its " EVENT_HEADER_POSITION " header is not a position");
		a->failed = true; /* the record itself is at fault: no retry */
		free(name);
		return false;
	}
	if (pos && !tt->keyless_loaded) {
		ok = keyless_position_load(a->db, a->label, a->pipe->name, name, &tt->keyless_pos);
		tt->keyless_loaded = ok;
	}
	if (ok && pos) {
		p = xstrndup(pos, plen);
		if (tt->keyless_pos && strcmp(p, tt->keyless_pos) <= 0) {
			if (!tt->keyless_skipped)
				log_info("%s: table %s: skipping changes applied already (sent again "
					 "after a restart of capture), the first at %s, up to %s",
					 a->label, tt->qualified, p, tt->keyless_pos);
			tt->keyless_skipped = true;
			free(p);
			free(name);
			return true;
		}
	}
	ok = ok && group_flush(a);
	strbuf_init(&why);
	ok = ok && keyless_apply(&t, ev, &why);
	if (!ok && why.len > 0) {
		record_error(a, m, "%s", why.data);
		a->failed = true; /* the record or the target's rows are at fault: no retry */
	}
	if (ok && p) {
		ok = keyless_position_store(a->db, a->label, a->pipe->name, name, p);
		free(tt->keyless_pos);
		tt->keyless_pos = p;
		p = NULL;
	}
	strbuf_fini(&why);
	free(p);
	free(name);
	return ok;
}

/* Whether the record's cdc.columns header is capture's own (its mac
 * verifies under the pipeline's key): only then are the SQL expressions it
 * carries (defaults, CHECKs, generation expressions) used.  A header without
 * a mac (Debezium's events) is read for names and types only; one whose mac
 * does not verify is forged, or signed with another key, and stops apply. */
static bool columns_trust(struct apply *a, const rd_kafka_message_t *m, const char *columns,
			  size_t clen, bool *trusted)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	size_t maclen;
	const char *mac = header(m, EVENT_HEADER_COLUMNS_MAC, &maclen);

	*trusted = false;
	if (!columns || !mac)
		return true;
	if (a->trusted_header && a->trusted_len == clen && strcmp(a->trusted_topic, topic) == 0 &&
	    memcmp(a->trusted_header, columns, clen) == 0) {
		*trusted = true;
		return true;
	}
	if (!schema_mac_verify(a->mac, topic, columns, clen, mac, maclen)) {
		record_error(a, m, "the " EVENT_HEADER_COLUMNS " header fails its authentication: forged, or signed with another key than %s/schema-%s.key; stopping, nothing applied",
			     a->state_dir, a->pipe->name);
		return false;
	}
	free(a->trusted_topic);
	free(a->trusted_header);
	a->trusted_topic = xstrdup(topic);
	a->trusted_header = xmalloc(clen ? clen : 1);
	memcpy(a->trusted_header, columns, clen);
	a->trusted_len = clen;
	*trusted = true;
	return true;
}

/* A record whose table or schema change the target cannot take: no retry.
 * An empty why: its error was logged naming the record (apply_types.c). */
static void schema_refused(struct apply *a, const rd_kafka_message_t *m, const struct strbuf *why)
{
	if (why->len)
		record_error(a, m, "%s", why->data);
	else
		a->refused = a->refused || (PQstatus(a->db) == CONNECTION_OK && !stop_requested);
	a->failed = true;
}

static bool apply_record(struct apply *a, const rd_kafka_message_t *m, bool one_by_one)
{
	const struct table_ref *table;
	struct apply_event *ev = &a->ev;
	struct strbuf why;
	struct target_table *tt;
	size_t ulen, clen, tlen;
	const char *unchanged = header(m, EVENT_HEADER_UNCHANGED, &ulen);
	const char *columns = header(m, EVENT_HEADER_COLUMNS, &clen);
	const char *texts = header(m, EVENT_HEADER_TEXT, &tlen);
	size_t route = 0;
	int op;
	bool ok;

	strbuf_init(&why);
	ok = apply_event_parse(m->key, m->key_len, m->payload, m->len, unchanged, ulen, columns,
			       clen, ev, &why) &&
	     apply_event_texts(ev, texts, tlen, &why);
	if (!ok) {
		record_error(a, m, "malformed event: %s", why.data);
		a->failed = true; /* the record itself is at fault: no retry */
	}
	strbuf_fini(&why);
	if (!ok || ev->op == 0)
		return ok;
	if (!columns_trust(a, m, columns, clen, &ev->schema_trusted)) {
		a->failed = true; /* the record itself is at fault: no retry */
		return false;
	}
	table = record_table(a, m, ev, &route);
	if (!table) {
		a->failed = true; /* the record itself is at fault: no retry */
		return false;
	}
	a->batch_events++;
	op = event_op_index(ev->op);
	if (op >= 0)
		a->batch_ops[route * EVENT_OPS + (size_t)op]++;
	if (!a->routes[route].in_batch) {
		a->routes[route].in_batch = true;
		a->batch_routes[a->nbatch_routes++] = route;
	}
	if (ev->source_ts_ms > 0)
		a->batch_last_ms = ev->source_ts_ms;
	strbuf_init(&why);
	a->schema.topic = rd_kafka_topic_name(m->rkt);
	a->schema.partition = (int)m->partition;
	a->schema.offset = m->offset;
	/* The route keeps its table: no search per record, whatever the tables. */
	tt = a->routes[route].tt ? a->routes[route].tt
				 : apply_schema_table(&a->schema, table, ev, &why);
	if (!tt && a->schema.failed)
		schema_refused(a, m, &why);
	if (!tt) {
		strbuf_fini(&why);
		return !a->failed;
	}
	a->routes[route].tt = tt;
	if (tt->ts->nkey == 0) {
		ok = ev->op == 'd' || ev->op == 't' || apply_schema_follow(&a->schema, tt, ev, &why);
		if (!ok)
			schema_refused(a, m, &why);
		ok = ok && keyless_change(a, tt, ev, m);
		if (!ok && one_by_one && !a->failed)
			record_error(a, m, "the target refused this change (see the error above)");
	} else if (ev->op == 't') {
		char *sql = xasprintf("TRUNCATE %s", tt->qualified);

		ok = group_flush(a) && pgsql_exec(a->db, a->label, sql);
		free(sql);
	} else {
		ok = ev->op == 'd' || apply_schema_follow(&a->schema, tt, ev, &why);
		if (!ok)
			schema_refused(a, m, &why);
		ok = ok && group_add(a, tt, ev, m);
		if (ok && one_by_one)
			ok = group_flush(a);
		if (!ok && one_by_one && !a->failed)
			record_error(a, m, "the target refused this change (see the error above)");
	}
	if (!ok && !a->create_conflict)
		a->failed = true;
	strbuf_fini(&why);
	return ok;
}

/* Zeroes the counts of the routes the last attempt touched: the cost of
 * a batch follows its events, not the pipeline's number of tables. */
static void batch_routes_clear(struct apply *a)
{
	for (size_t b = 0; b < a->nbatch_routes; b++) {
		struct route *r = &a->routes[a->batch_routes[b]];

		memset(&a->batch_ops[a->batch_routes[b] * EVENT_OPS], 0,
		       EVENT_OPS * sizeof(*a->batch_ops));
		r->in_batch = false;
	}
	a->nbatch_routes = 0;
}

/* The target tables known are forgotten (a rolled-back batch's DDL, a new
 * connection), and so are the routes' shortcuts to them. */
static void schema_forget(struct apply *a)
{
	for (size_t i = 0; i < a->nroutes; i++)
		a->routes[i].tt = NULL;
	apply_schema_forget(&a->schema);
}

static bool batch_apply_once(struct apply *a, bool one_by_one)
{
	bool ok = pgsql_exec(a->db, a->label, "BEGIN");

	a->batch_events = 0;
	batch_routes_clear(a);
	for (size_t i = 0; ok && i < a->nbatch; i++)
		ok = apply_record(a, a->batch[i], one_by_one);
	ok = ok && group_flush(a) && offsets_store(a) && counts_store(a) &&
	     pgsql_exec(a->db, a->label, "COMMIT");
	if (!ok) {
		apply_sql_group_reset(&a->group);
		pgsql_rollback(a->db);
		schema_forget(a); /* DDL of the batch was rolled back too */
	}
	apply_schema_batch_end(&a->schema, ok);
	return ok;
}

static void batch_release(struct apply *a)
{
	for (size_t i = 0; i < a->nbatch; i++)
		rd_kafka_message_destroy(a->batch[i]);
	a->nbatch = 0;
}

/* Kafka's committed offsets are for monitoring (consumer lag) only: the
 * target holds the offsets that count.  The batch's go out with kafka_in's
 * next commit (at most once a second: kafka_in_commit). */
static void kafka_offsets_note(struct apply *a)
{
	for (size_t e = 0; e < a->nbatch_ends; e++)
		kafka_in_note(a->in, a->batch[a->batch_ends[e]]);
}

/* The enum labels the batch's records need, added to the target's enums
 * before its transaction (apply_types.h).  Labels are data: a header
 * without a mac (Debezium's) is read too; a forged one stops apply here. */
/* One record's labels, on db. */
static bool types_prepare_one(struct apply *a, const rd_kafka_message_t *m, PGconn *db)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	const struct table_ref *t = NULL;
	size_t len;
	const char *columns = header(m, EVENT_HEADER_COLUMNS, &len);
	char *where, *table;
	bool ok, trusted;

	if (!columns || apply_types_seen_has(&a->types_seen, columns, len))
		return true; /* the usual case: a header seen before */
	if (!columns_trust(a, m, columns, len, &trusted)) {
		a->failed = true; /* forged: nothing of it is used */
		return false;
	}
	for (size_t r = 0; r < a->nroutes && !t; r++)
		if (strcmp(a->routes[r].topic, topic) == 0)
			t = a->routes[r].table;
	if (!t)
		return true; /* refused when the record is applied */
	where = xasprintf("%s: topic %s partition %d offset %lld", a->label, topic,
			  (int)m->partition, (long long)m->offset);
	table = table_ref_text(t);
	ok = apply_types_labels_prepare(db, where, table, columns, len, a->tgt->auto_create,
					&a->types_seen);
	free(where);
	free(table);
	if (!ok) {
		a->refused = PQstatus(db) == CONNECTION_OK && !stop_requested;
		a->failed = true;
	}
	return ok;
}

static bool types_prepare(struct apply *a)
{
	for (size_t i = 0; i < a->nbatch; i++)
		if (!types_prepare_one(a, a->batch[i], a->db))
			return false;
	return true;
}

/* A batch committed: its events counted for status (progress's events
 * already when they were applied: consistency = transaction). */
static void batch_counted(struct apply *a, bool progress_counted)
{
	if (!progress_counted)
		a->progress.p.events += a->batch_events;
	for (size_t b = 0; b < a->nbatch_routes; b++)
		for (int op = 0; op < EVENT_OPS; op++) {
			size_t r = a->batch_routes[b];

			a->counts.t[a->routes[r].count_idx].op[op] +=
				a->batch_ops[r * EVENT_OPS + (size_t)op];
		}
	if (a->batch_last_ms > 0)
		a->progress.p.last_event_usec = a->batch_last_ms * 1000;
}

/* Applies the batch; when the target refuses it, applies it again record by
 * record to name the record at fault, then stops. */
static bool batch_apply(struct apply *a)
{
	bool ok;

	if (a->nbatch == 0)
		return true;
	batch_ends_find(a);
	a->plain_creates = a->upsert_batches == 0 && a->tgt->insert_mode != INSERT_MODE_INSERT;
	a->upsert_batches -= a->upsert_batches > 0;
	a->create_conflict = false;
	ok = types_prepare(a) && batch_apply_once(a, false);
	if (!ok && a->create_conflict) {
		log_info("%s: a create met a key the target already has (changes sent again after a restart?): applying the batch again with upserts",
			 a->label);
		a->plain_creates = false;
		a->create_conflict = false;
		a->upsert_batches = APPLY_UPSERT_BATCHES;
		ok = batch_apply_once(a, false);
	}
	a->plain_creates = false;
	/* One by one only finds a record at fault while the target answers. */
	if (!ok && !a->failed && !stop_requested && PQstatus(a->db) == CONNECTION_OK) {
		log_warn("%s: batch of %zu records failed; applying them one by one to find the one at fault",
			 a->label, a->nbatch);
		ok = batch_apply_once(a, true);
	}
	if (ok) {
		kafka_offsets_note(a);
		kafka_in_commit(a->in, false);
		batch_counted(a, false);
		log_debug("%s: applied %zu records", a->label, a->nbatch);
	}
	batch_release(a);
	return ok;
}

static void tx_reset(struct apply *a);
static bool tx_pos_load(struct apply *a);
static bool tx_floors_note(struct apply *a, const rd_kafka_topic_partition_list_t *parts);

/* ---- the consumer ------------------------------------------------------------------------ */

/* kafka_in's on_assign: each partition starts at the offset stored with the
 * data.  The target away: apply fails, and reconnect assigns them. */
static bool partitions_assigned(void *ctx, rd_kafka_topic_partition_list_t *parts)
{
	struct apply *a = ctx;

	if (a->tx.topic)
		tx_reset(a); /* what was fetched is fetched again, from the stored offsets */
	if (offsets_load(a, parts) &&
	    (!a->tx.topic || (tx_pos_load(a) && tx_floors_note(a, parts))))
		return true;
	a->failed = true;
	return false; /* errors already logged */
}

/* The consumer of the pipeline's topics. */
static bool consumer_new(struct apply *a, const struct topology *topo)
{
	const struct kafka_in_hooks hooks = {
		.on_assign = partitions_assigned,
		.ctx = a,
		/* consistency = transaction buffers what it polled (tx_part_push):
		 * librdkafka's prefetch on top of that stays small; table mode's
		 * batch holds records until it commits: bounded too */
		.queue_kbytes = a->tx.topic ? TX_QUEUE_KBYTES : TABLE_QUEUE_KBYTES,
		.partition_fetch_bytes = a->tx.topic ? TX_FETCH_PARTITION_BYTES : TABLE_FETCH_PARTITION_BYTES,
		.queue_messages = APPLY_QUEUE_MESSAGES,
	};
	struct strlist topics = { 0 };
	char *group = kafka_in_group(a->pipe->name);
	bool ok;

	for (size_t i = 0; i < a->nroutes; i++)
		strlist_add(&topics, a->routes[i].topic);
	if (a->tx.topic)
		strlist_add(&topics, a->tx.topic);
	ok = kafka_in_new(&topo->kafka, &a->pipe->apply_kafka, a->label, group, &topics, &hooks, &a->in);
	strlist_fini(&topics);
	free(group);
	return ok; /* errors already logged */
}

/* The offset apply stored for m's partition lies outside its log: records
 * were removed by retention before apply read them (or the topic was made
 * anew).  Going on would skip them silently: stop, saying what was lost. */
static void offset_gap(struct apply *a, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	int64_t low, high;

	kafka_in_watermarks(a->in, topic, m->partition, &low, &high);
	log_error("%s: topic %s partition %d: the stored offset %lld is outside the partition's log (offsets %lld..%lld): records were removed before apply read them; stopping (to go on past the gap, losing them: cdc-agent accept-gap %s --yes)",
		  a->label, topic, (int)m->partition, (long long)m->offset, (long long)low,
		  (long long)high, a->pipe->name);
	a->failed = true;
	a->refused = true;
}

/* The open target transaction rolled back: its statements, schema changes
 * and their cached state dropped. */
static void tx_target_rollback(struct apply *a)
{
	apply_sql_group_reset(&a->group);
	pgsql_rollback(a->db);
	schema_forget(a);
	if (a->tx.in_target)
		apply_schema_batch_end(&a->schema, false);
	a->tx.in_target = false;
}

/* The next record into *m (NULL: none came, or an error that passes);
 * false on an error apply stops on (logged). */
static bool poll_one(struct apply *a, int timeout_ms, rd_kafka_message_t **out)
{
	rd_kafka_message_t *m = kafka_in_poll(a->in, timeout_ms);

	*out = NULL;
	if (kafka_in_denied(a->in)) {
		a->kafka_refused = true; /* logged */
		if (m)
			rd_kafka_message_destroy(m);
		return false;
	}
	if (kafka_in_grown(a->in)) {
		/* Read again from the stored offsets, the new partitions with
		 * the others: what was applied and not committed goes too. */
		if (m)
			rd_kafka_message_destroy(m);
		batch_release(a);
		if (a->tx.in_target)
			tx_target_rollback(a);
		if (!kafka_in_reassign(a->in)) {
			a->failed = true;
			return false; /* errors already logged */
		}
		return true;
	}
	if (m && m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
		offset_gap(a, m);
		rd_kafka_message_destroy(m);
		return false;
	}
	if (m && m->err && kafka_in_refused(a->in, m)) {
		a->kafka_refused = true; /* logged */
		rd_kafka_message_destroy(m);
		return false;
	}
	if (m && m->err) {
		if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			log_warn("%s: Kafka: %s", a->label, rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
		m = NULL;
	}
	*out = m;
	return true;
}

static bool consume_loop(struct apply *a)
{
	long long batch_started = 0;
	size_t batch_bytes = 0;

	while (!stop_requested && !a->failed) {
		/* With a batch open, only take what is already there: a batch
		 * closes as soon as the consumer's queue runs dry, so a quiet
		 * pipeline does not wait for the batch timer. */
		rd_kafka_message_t *m;

		if (!poll_one(a, a->nbatch ? 0 : 100, &m))
			return false; /* logged */
		if (m) {
			if (a->nbatch == 0) {
				batch_started = mono_ms();
				batch_bytes = 0;
			}
			a->batch[a->nbatch++] = m;
			batch_bytes += m->len + m->key_len;
		}
		if (a->nbatch > 0 && (a->nbatch >= APPLY_BATCH_MAX || !m ||
				      batch_bytes >= APPLY_BATCH_BYTES ||
				      mono_ms() - batch_started >= APPLY_BATCH_WAIT_MS)) {
			if (!batch_apply(a))
				return false; /* errors already logged */
		} else if (m) {
			continue; /* the progress file is written between batches */
		}
		a->drained = !m && a->nbatch == 0;
		progress_writer_tick(&a->progress, false);
	}
	/* Stopped: the open batch is left unapplied, so its offsets unstored;
	 * the next apply reads it again. */
	return !a->failed;
}

/* ---- consistency = transaction ---------------------------------------------------------- */

/* Each source transaction is applied whole, in commit order, inside one
 * target transaction that commits only between source transactions
 * (docs/ARCHITECTURE.md, Apply, "Transactions").  The records of every
 * partition are buffered in their order; the transaction topic's next
 * BEGIN says which transaction is next, and its change events are taken in
 * total_order from the heads of the partitions (each partition holds them
 * in that order).  A partition holding tx_part_bound() or TX_PART_RECORDS is
 * paused until it drains: memory stays bounded by the partitions, whatever
 * a transaction's size; a large transaction's statements go out as they
 * fill, into the open target transaction. */
#define TX_PART_BYTES ((size_t)2 << 20)
#define TX_PART_RECORDS 10000
/* With many partitions, each holds less: at most this in all (beside the
 * floor of TX_PART_BYTES_MIN each). */
#define TX_BUFFER_BYTES ((size_t)16 << 20)
#define TX_PART_BYTES_MIN ((size_t)128 << 10)

/* A partition is paused holding this much. */
static size_t tx_part_bound(const struct apply *a)
{
	size_t each = TX_BUFFER_BYTES / (a->tx.nparts ? a->tx.nparts : 1);

	return each > TX_PART_BYTES ? TX_PART_BYTES : each < TX_PART_BYTES_MIN ? TX_PART_BYTES_MIN : each;
}

/* A record's EVENT_HEADER_TXN, read. */
struct txn_mark {
	uint64_t pos;  /* its transaction's commit LSN */
	char kind;     /* 'B', 'E', 'C' */
	int64_t n;     /* END: the event count; a change: its total_order */
	int64_t d;     /* a change: its data_collection_order; 0: not given */
};

/* false when the record has no such header, or a malformed one (a
 * Debezium connector's records have none: they are applied as they come). */
static bool txn_mark_read(const rd_kafka_message_t *m, struct txn_mark *t)
{
	size_t len;
	const char *h = header(m, EVENT_HEADER_TXN, &len);
	char buf[48], *end;

	if (!h || len < 19 || len >= sizeof(buf))
		return false;
	memcpy(buf, h, len);
	buf[len] = '\0';
	if (buf[16] != ':' || !strchr("BEC", buf[17]) || !isdigit((unsigned char)buf[18]))
		return false;
	buf[16] = '\0';
	errno = 0;
	t->pos = strtoull(buf, &end, 16);
	if (*end || errno)
		return false;
	t->kind = buf[17];
	t->n = strtoll(buf + 18, &end, 10);
	t->d = 0;
	if (*end == '/' && t->kind == 'C' && isdigit((unsigned char)end[1]))
		t->d = strtoll(end + 1, &end, 10);
	return !*end && errno == 0 && t->n >= 0 && t->d >= 0;
}

static struct tx_part *tx_part_of(struct apply *a, const rd_kafka_message_t *m)
{
	const char *topic;
	char *key;
	size_t klen, idx;
	struct tx_part *p;

	/* records come in runs of one partition: no lookup for those */
	if (a->tx.nparts && a->tx.push_part < a->tx.nparts &&
	    a->tx.parts[a->tx.push_part].partition == m->partition &&
	    strcmp(a->tx.parts[a->tx.push_part].topic, rd_kafka_topic_name(m->rkt)) == 0)
		return &a->tx.parts[a->tx.push_part];
	topic = rd_kafka_topic_name(m->rkt);
	key = xasprintf("%s%c%d", topic, 0, (int)m->partition);
	klen = strlen(topic) + 1 + strlen(key + strlen(topic) + 1);
	if (strmap_get(&a->tx.part_of, key, klen, &idx)) {
		free(key);
		a->tx.push_part = idx;
		return &a->tx.parts[idx];
	}
	a->tx.parts = xrealloc(a->tx.parts, (a->tx.nparts + 1) * sizeof(*a->tx.parts));
	p = &a->tx.parts[a->tx.nparts];
	memset(p, 0, sizeof(*p));
	p->topic = xstrdup(topic);
	p->partition = m->partition;
	p->next = -1;
	p->is_txn_topic = a->tx.topic && strcmp(topic, a->tx.topic) == 0;
	for (size_t f = 0; f < a->tx.nfloors; f++)
		if (a->tx.floors[f].partition == m->partition && strcmp(a->tx.floors[f].topic, topic) == 0)
			p->floor = a->tx.floors[f].pos;
	if (p->is_txn_topic || !strmap_get(&a->route_of, topic, strlen(topic), &p->route))
		p->route = SIZE_MAX;
	a->tx.push_part = a->tx.nparts;
	strmap_put(&a->tx.part_of, key, klen, a->tx.nparts++);
	free(key);
	return p;
}

static void tx_part_push(struct apply *a, rd_kafka_message_t *m)
{
	struct tx_part *p = tx_part_of(a, m);

	if (p->is_txn_topic && m->partition != 0 && !a->failed) {
		log_error("%s: topic %s has more than one partition: the order of its transactions is lost; give it one partition (delete it while capture is stopped), or set consistency = table",
			  a->label, p->topic);
		a->failed = true;
		a->refused = true;
	}
	if (p->head > 0 && p->n == p->cap) { /* room at the front: move down */
		memmove(p->q, p->q + p->head, (p->n - p->head) * sizeof(*p->q));
		p->n -= p->head;
		p->head = 0;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->q = xrealloc(p->q, p->cap * sizeof(*p->q));
	}
	p->q[p->n++] = m;
	p->bytes += m->len + m->key_len;
	if (!p->paused && (p->bytes >= tx_part_bound(a) || p->n - p->head >= TX_PART_RECORDS)) {
		kafka_in_pause(a->in, p->topic, p->partition, true);
		p->paused = true;
	}
}

/* The partition's head, consumed: its offset goes with the batch. */
static void tx_part_pop(struct apply *a, struct tx_part *p)
{
	rd_kafka_message_t *m = p->q[p->head++];

	p->next = m->offset + 1;
	p->bytes -= m->len + m->key_len;
	a->tx.batch_records++;
	a->tx.batch_bytes += m->len + m->key_len;
	rd_kafka_message_destroy(m);
	if (p->head == p->n)
		p->head = p->n = 0;
	if (p->paused && p->bytes < tx_part_bound(a) / 2 && p->n - p->head < TX_PART_RECORDS / 2) {
		kafka_in_pause(a->in, p->topic, p->partition, false);
		p->paused = false;
	}
}

/* Everything buffered dropped, the state back to what the target stores
 * (read again by the caller): partitions start again at its offsets. */
static void tx_reset(struct apply *a)
{
	for (size_t i = 0; i < a->tx.nparts; i++) {
		struct tx_part *p = &a->tx.parts[i];

		while (p->head < p->n)
			rd_kafka_message_destroy(p->q[p->head++]);
		if (p->paused && a->in)
			kafka_in_pause(a->in, p->topic, p->partition, false);
		free(p->q);
		free(p->topic);
	}
	free(a->tx.parts);
	a->tx.parts = NULL;
	a->tx.nparts = 0;
	strmap_fini(&a->tx.part_of);
	memset(&a->tx.part_of, 0, sizeof(a->tx.part_of));
	a->tx.open = false;
	a->tx.stuck_ms = 0;
	a->tx.done_pos = a->tx.committed_pos;
	a->tx.batch_records = 0;
	a->tx.batch_bytes = 0;
	a->tx.last_part = 0;
	a->tx.push_part = 0;
	if (a->tx.in_target) {
		apply_sql_group_reset(&a->group);
		pgsql_rollback(a->db);
		schema_forget(a);
		apply_schema_batch_end(&a->schema, false);
		a->tx.in_target = false;
	}
}

/* The last transaction applied, as stored with the offsets. */
static bool tx_pos_load(struct apply *a)
{
	const char *params[] = { a->pipe->name };
	char *pos = NULL;

	if (!pgsql_query_value(a->db, a->label,
			       "SELECT commit_lsn FROM cdc_agent.transactions WHERE pipeline = $1", 1,
			       params, &pos))
		return false; /* errors already logged */
	a->tx.committed_pos = pos ? strtoull(pos, NULL, 16) : 0;
	a->tx.done_pos = a->tx.committed_pos;
	free(pos);
	return true;
}

static bool tx_pos_store(struct apply *a)
{
	char pos[24];
	const char *params[] = { a->pipe->name, pos };
	PGresult *res;

	if (a->tx.done_pos == a->tx.committed_pos)
		return true;
	snprintf(pos, sizeof(pos), "%016" PRIX64, a->tx.done_pos);
	if (!pgsql_query(a->db, a->label,
			 "INSERT INTO cdc_agent.transactions (pipeline, commit_lsn) VALUES ($1, $2) "
			 "ON CONFLICT (pipeline) DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, applied_at = now()",
			 2, params, &res))
		return false; /* errors already logged */
	PQclear(res);
	return true;
}

static void tx_floors_free(struct apply *a)
{
	for (size_t f = 0; f < a->tx.nfloors; f++)
		free(a->tx.floors[f].topic);
	free(a->tx.floors);
	a->tx.floors = NULL;
	a->tx.nfloors = 0;
}

/* A partition assigned without a stored offset, read from its start,
 * after some transactions were applied: a table added to the pipeline
 * (capture may send its changes before apply reads its topic: their
 * transactions were applied without them, by the END's per-table counts),
 * or a partition added to a topic.  Its changes of those transactions,
 * up to the last one applied, were never applied: they are taken as they
 * come (tx_record_kind), not skipped as applied already.  The floor is
 * stored at once, for the restarts that find the partition's offset
 * stored; every floor of the pipeline is then read. */
static bool tx_floors_note(struct apply *a, const rd_kafka_topic_partition_list_t *parts)
{
	char pos[24], part[16];
	const char *params[] = { a->pipe->name, NULL, part, pos };
	PGresult *res;
	bool ok = true;

	snprintf(pos, sizeof(pos), "%016" PRIX64, a->tx.committed_pos);
	for (int i = 0; ok && a->tx.committed_pos && i < parts->cnt; i++) {
		if (parts->elems[i].offset != RD_KAFKA_OFFSET_BEGINNING ||
		    strcmp(parts->elems[i].topic, a->tx.topic) == 0)
			continue;
		params[1] = parts->elems[i].topic;
		snprintf(part, sizeof(part), "%d", (int)parts->elems[i].partition);
		ok = pgsql_query(a->db, a->label,
				 "INSERT INTO cdc_agent.transaction_floors (pipeline, topic, partition, commit_lsn) "
				 "VALUES ($1, $2, $3, $4) ON CONFLICT (pipeline, topic, partition) "
				 "DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, noted_at = now()",
				 4, params, &res);
		if (ok) {
			PQclear(res);
			log_info("%s: topic %s partition %d is read from its start after transaction %s: its changes up to it are applied as they come",
				 a->label, parts->elems[i].topic, (int)parts->elems[i].partition, pos);
		}
	}
	tx_floors_free(a);
	if (!ok || !pgsql_query(a->db, a->label,
				"SELECT topic, partition, commit_lsn FROM cdc_agent.transaction_floors "
				"WHERE pipeline = $1",
				1, params, &res))
		return false; /* errors already logged */
	a->tx.floors = xcalloc((size_t)PQntuples(res) + 1, sizeof(*a->tx.floors));
	for (int r = 0; r < PQntuples(res); r++) {
		struct tx_floor *f = &a->tx.floors[a->tx.nfloors++];

		f->topic = xstrdup(PQgetvalue(res, r, 0));
		f->partition = (int32_t)strtol(PQgetvalue(res, r, 1), NULL, 10);
		f->pos = strtoull(PQgetvalue(res, r, 2), NULL, 16);
	}
	PQclear(res);
	return true;
}

/* Each partition consumed from: its first record not consumed. */
static bool tx_offsets_store(struct apply *a)
{
	struct offsets_rows o = { .n = 0 };

	for (size_t i = 0; i < a->tx.nparts; i++) {
		const struct tx_part *p = &a->tx.parts[i];

		if (p->next >= 0)
			offsets_rows_add(&o, p->topic, p->partition, p->next);
	}
	return offsets_rows_store(a, &o);
}

/* The target transaction of the batch, begun before its first record. */
static bool tx_target_begin(struct apply *a)
{
	if (a->tx.in_target)
		return true;
	if (!pgsql_exec(a->db, a->label, "BEGIN"))
		return false;
	a->tx.in_target = true;
	a->tx.batch_started = mono_ms();
	a->tx.group_bytes = 0;
	a->batch_events = 0;
	a->batch_last_ms = 0;
	batch_routes_clear(a);
	a->plain_creates = a->upsert_batches == 0 && a->tgt->insert_mode != INSERT_MODE_INSERT &&
			   !a->tx.one_by_one;
	a->create_conflict = false;
	return true;
}

/* The enum labels a record needs, before it is applied: on a connection of
 * their own while the batch's transaction is open (a label added there
 * could not be used before it commits). */
static bool tx_types(struct apply *a, const rd_kafka_message_t *m)
{
	size_t len;
	const char *columns = header(m, EVENT_HEADER_COLUMNS, &len);

	if (!columns || apply_types_seen_has(&a->types_seen, columns, len))
		return true;
	if (!a->types_db) {
		a->types_db = pgsql_connect_capture(a->label, &a->tgt->pg, false);
		if (!a->types_db)
			return false; /* errors already logged */
	}
	return types_prepare_one(a, m, a->types_db);
}

/* Applies the partition's head and consumes it. */
static bool tx_take(struct apply *a, struct tx_part *p)
{
	rd_kafka_message_t *m = p->q[p->head];
	uint64_t before = a->batch_events;
	bool ok;

	if (!tx_types(a, m) || !tx_target_begin(a))
		return false;
	ok = apply_record(a, m, a->tx.one_by_one);
	/* Progress for status as it is applied: a long transaction in the
	 * open target transaction is progress, not a stall (counted again
	 * when a failed batch is applied again). */
	a->progress.p.events += a->batch_events - before;
	a->tx.group_bytes += m->len;
	if (ok && (a->group.nrows >= APPLY_BATCH_MAX || a->tx.group_bytes >= APPLY_BATCH_BYTES)) {
		ok = group_flush(a);
		a->tx.group_bytes = 0;
	}
	tx_part_pop(a, p);
	return ok;
}

/* What to do with a table partition's head: take it (apply), skip it
 * (consume without applying), or wait (it belongs to a later transaction,
 * or to the open one further on). */
enum tx_head { TX_WAIT, TX_TAKE, TX_NEXT, TX_SKIP }; /* TX_NEXT: the open one's next event */

static enum tx_head tx_record_kind(const struct apply *a, const struct tx_part *p,
				   const rd_kafka_message_t *m, struct txn_mark *t)
{
	/* Snapshot rows, tombstones, records without the header: no
	 * transaction's, applied in their partition's order; and so are a
	 * partition's changes of transactions applied before it was read,
	 * never applied (tx_floors_note). */
	if (!m->payload || !txn_mark_read(m, t) || t->kind != 'C' || t->pos <= p->floor)
		return TX_TAKE;
	if (t->pos <= a->tx.done_pos)
		return TX_SKIP; /* applied already: capture sent it again */
	if (!a->tx.open || t->pos != a->tx.open_pos)
		return TX_WAIT;
	if (t->n <= a->tx.applied)
		return TX_SKIP; /* the open transaction sent again from its start */
	return t->n == a->tx.applied + 1 ? TX_NEXT : TX_WAIT;
}

static enum tx_head tx_head_kind(const struct apply *a, const struct tx_part *p, struct txn_mark *t)
{
	return tx_record_kind(a, p, p->q[p->head], t);
}

/* The open transaction's event t, at p's head, applied. */
static bool tx_take_next(struct apply *a, struct tx_part *p, const struct txn_mark *t)
{
	if (!tx_take(a, p))
		return false;
	a->tx.applied = t->n;
	if (p->route != SIZE_MAX)
		a->routes[p->route].tx_taken++;
	return true;
}

/* Whether the open transaction is applied whole: its END came, and either
 * every table apply reads has its events of it (END's data_collections),
 * or, when those could not be read, event_count events were. */
static bool tx_complete(const struct apply *a)
{
	if (!a->tx.open || a->tx.end_count < 0)
		return false;
	if (!a->tx.tables_known)
		return a->tx.applied >= a->tx.end_count;
	for (size_t r = 0; r < a->nroutes; r++)
		if (a->routes[r].tx_taken < a->routes[r].tx_expected)
			return false;
	return true;
}

/* The open transaction's next event past a gap of total_order, or NULL:
 * once its END said how many events each table has, a table apply does
 * not read (removed from the pipeline while its changes were in Kafka)
 * leaves gaps no record fills.  The events of a table come in its
 * data_collection_order; when every table of the pipeline not yet
 * complete has its next one at a head, the lowest total_order among them
 * is the next, and nothing of a table apply reads lies in the gap. */
static struct tx_part *tx_gap(struct apply *a, struct txn_mark *next)
{
	struct tx_part *best = NULL;

	for (size_t r = 0; r < a->nroutes; r++)
		a->routes[r].tx_next_seen = false;
	for (size_t i = 0; i < a->tx.nparts; i++) {
		struct tx_part *p = &a->tx.parts[i];
		struct txn_mark t;

		if (p->route == SIZE_MAX || p->head == p->n ||
		    tx_head_kind(a, p, &t) != TX_WAIT || t.pos != a->tx.open_pos ||
		    t.d != a->routes[p->route].tx_taken + 1)
			continue;
		a->routes[p->route].tx_next_seen = true;
		if (!best || t.n < next->n) {
			best = p;
			*next = t;
		}
	}
	for (size_t r = 0; best && r < a->nroutes; r++)
		if (a->routes[r].tx_taken < a->routes[r].tx_expected && !a->routes[r].tx_next_seen)
			return NULL; /* its next one may lie in the gap */
	return best;
}

/* A partition whose head waits while the open transaction's next event
 * is buffered behind it: the head is of an earlier attempt of capture,
 * which stopped with part of a transaction delivered (a record the broker
 * refused, a kill -9), and the attempt that sent the next event sends it
 * again after it.  Within one attempt a partition gets a transaction's
 * events in total_order and the transactions in commit order (idempotent
 * producer), so no record there may precede the next event; waiting for
 * it would wait for ever.  Every record before it is of an earlier attempt
 * too, or applied already, and the later attempt sends again all it had
 * from the open transaction on: they are all skipped, not the head alone
 * (a snapshot row among them, of no transaction, is applied).
 * (Skipping only a later transaction's BEGIN in the transaction topic let
 * the next BEGIN of that earlier attempt open the transaction after it: the
 * one skipped, sent again, was then behind the last one applied and
 * dropped; a ledger row was lost in 74.)  true when any was skipped. */
#define TX_UNBLOCK_MS 1000

static bool tx_unblock(struct apply *a)
{
	for (size_t i = 0; i < a->tx.nparts; i++) {
		struct tx_part *p = &a->tx.parts[i];
		struct txn_mark t;

		if (p->head == p->n)
			continue;
		/* The transaction topic's head waits when it is the next
		 * transaction's BEGIN: stale too if the open one's END (or
		 * BEGIN) comes after it. */
		if (p->is_txn_topic ? !txn_mark_read(p->q[p->head], &t) || t.pos <= a->tx.open_pos
				    : tx_head_kind(a, p, &t) != TX_WAIT || t.pos < a->tx.open_pos)
			continue;
		for (size_t j = p->head + 1; j < p->n; j++) {
			struct txn_mark u;

			if (p->is_txn_topic ? !txn_mark_read(p->q[j], &u) || u.pos != a->tx.open_pos
					    : tx_record_kind(a, p, p->q[j], &u) != TX_NEXT)
				continue;
			log_warn("%s: topic %s partition %d offset %lld: transaction %016" PRIX64
				 " %c%" PRId64 " comes again at offset %lld: skipping the %zu records before it from %c%" PRId64
				 " of transaction %016" PRIX64 " on, of an earlier attempt of capture",
				 a->label, p->topic, (int)p->partition, (long long)p->q[p->head]->offset,
				 u.pos, u.kind, u.n, (long long)p->q[j]->offset, j - p->head, t.kind,
				 t.n, t.pos);
			if (!tx_target_begin(a))
				return false;
			for (size_t k = j - p->head; k > 0; k--) {
				/* a record of no transaction (a snapshot row) goes
				 * as it would have at the head */
				if (!p->is_txn_topic && tx_head_kind(a, p, &u) == TX_TAKE) {
					if (!tx_take(a, p))
						return false;
				} else {
					tx_part_pop(a, p);
				}
			}
			return true;
		}
	}
	return false;
}

/* The open transaction's END m: its events per table, from its
 * data_collections, into the routes' tx_expected.  false when they cannot
 * be read or do not add up to its event count (then the transaction is
 * complete at event_count events, total_order without gaps). */
static bool tx_end_tables(struct apply *a, const rd_kafka_message_t *m)
{
	json_error_t err;
	json_t *root = m->payload ? json_loadb(m->payload, m->len, 0, &err) : NULL;
	json_t *v = json_object_get(root, "payload");
	json_t *list, *item;
	int64_t sum = 0;
	size_t i;
	bool ok;

	list = json_object_get(json_is_object(v) ? v : root, "data_collections");
	ok = json_is_array(list);
	for (size_t r = 0; ok && r < a->nroutes; r++)
		a->routes[r].tx_expected = 0;
	json_array_foreach(ok ? list : NULL, i, item) {
		const char *name = json_string_value(json_object_get(item, "data_collection"));
		json_t *count = json_object_get(item, "event_count");

		if (!name || !json_is_integer(count) || json_integer_value(count) < 0 ||
		    json_integer_value(count) > a->tx.end_count) {
			ok = false;
			break;
		}
		sum += json_integer_value(count);
		for (size_t r = 0; r < a->nroutes; r++)
			if (strcmp(a->routes[r].collection, name) == 0)
				a->routes[r].tx_expected += json_integer_value(count);
	}
	json_decref(root);
	if (ok && sum == a->tx.end_count)
		return true;
	log_warn("%s: topic %s offset %lld: the END's data_collections do not add up to its event_count; the transaction is complete at that many events",
		 a->label, a->tx.topic, (long long)m->offset);
	return false;
}

/* The transaction topic's head: opens the next transaction, learns the open
 * one's event count, drops what was seen already.  true when consumed. */
static bool tx_meta_step(struct apply *a, struct tx_part *p)
{
	const rd_kafka_message_t *m = p->q[p->head];
	struct txn_mark t;

	if (!txn_mark_read(m, &t) || t.kind == 'C' || t.pos <= a->tx.done_pos) {
		/* without the header (Debezium's), or applied already */
	} else if (!a->tx.open && t.kind == 'B') {
		a->tx.open = true;
		a->tx.open_pos = t.pos;
		a->tx.applied = 0;
		a->tx.end_count = -1;
		a->tx.tables_known = false;
		for (size_t r = 0; r < a->nroutes; r++)
			a->routes[r].tx_taken = a->routes[r].tx_expected = 0;
	} else if (a->tx.open && t.pos == a->tx.open_pos) {
		if (t.kind == 'E' && a->tx.end_count < 0) { /* a BEGIN again: capture restarted */
			a->tx.end_count = t.n;
			a->tx.tables_known = tx_end_tables(a, m);
		}
	} else if (a->tx.open) {
		return false; /* the next transaction's BEGIN */
	} else {
		log_warn("%s: topic %s offset %lld: an END without its BEGIN; skipped", a->label,
			 p->topic, (long long)m->offset);
	}
	if (!tx_target_begin(a))
		return false;
	tx_part_pop(a, p);
	return true;
}

/* The batch's target transaction has reached its limits: it commits at
 * the next boundary between source transactions. */
static bool tx_batch_full(const struct apply *a)
{
	return a->tx.in_target &&
	       (a->tx.batch_records >= APPLY_BATCH_MAX || a->tx.batch_bytes >= APPLY_BATCH_BYTES ||
		mono_ms() - a->tx.batch_started >= APPLY_BATCH_WAIT_MS);
}

/* Takes every record that can go now, up to the end of a source
 * transaction once the batch is full (the caller commits there: else a
 * backlog of small transactions went into one target transaction, 187 of
 * 1,000 rows once); *moved when any did.  false on an error (logged). */
static bool tx_advance(struct apply *a, bool *moved)
{
	bool again = true;
	struct txn_mark t;

	*moved = false;
	while (again && !a->failed && !stop_requested) {
		again = false;
		if (!a->tx.open && tx_batch_full(a))
			break;
		for (size_t i = 0; i < a->tx.nparts; i++) {
			/* the partition of the last event first: usually the next one's */
			size_t k = (a->tx.last_part + i) % a->tx.nparts;
			struct tx_part *p = &a->tx.parts[k];

			while (p->head < p->n) {
				enum tx_head h;

				if (p->is_txn_topic) {
					if (!tx_meta_step(a, p))
						break;
					again = *moved = true;
					continue;
				}
				h = tx_head_kind(a, p, &t);
				if (h == TX_WAIT)
					break;
				if (h == TX_SKIP) {
					if (!tx_target_begin(a))
						return false;
					tx_part_pop(a, p);
				} else if (h == TX_NEXT) {
					if (!tx_take_next(a, p, &t))
						return false;
				} else if (!tx_take(a, p)) {
					return false;
				}
				a->tx.last_part = k;
				again = *moved = true;
			}
			if (tx_complete(a)) {
				a->tx.done_pos = a->tx.open_pos;
				a->tx.open = false;
				a->tx.txns++;
				again = *moved = true;
				if (tx_batch_full(a))
					return !a->failed;
			}
		}
		if (again || !a->tx.open || a->failed)
			continue;
		/* Nothing more in order: past a gap, or past a stale head. */
		struct tx_part *p = a->tx.tables_known ? tx_gap(a, &t) : NULL;

		if (p) {
			if (!tx_take_next(a, p, &t))
				return false;
			again = *moved = true;
		} else if (mono_ms() - a->tx.moved_ms >= TX_UNBLOCK_MS &&
			   mono_ms() - a->tx.unblock_ms >= TX_UNBLOCK_MS) {
			/* it reads every record buffered: not at each poll */
			a->tx.unblock_ms = mono_ms();
			if (tx_unblock(a))
				again = *moved = true;
		}
	}
	return !a->failed;
}

/* The batch's end: its rows, offsets, last transaction and counts commit
 * together. */
static bool tx_commit(struct apply *a)
{
	bool ok = group_flush(a) && tx_offsets_store(a) && tx_pos_store(a) && counts_store(a) &&
		  pgsql_exec(a->db, a->label, "COMMIT");

	a->tx.in_target = false;
	apply_schema_batch_end(&a->schema, ok);
	if (!ok)
		return false;
	for (size_t i = 0; i < a->tx.nparts; i++) {
		struct tx_part *p = &a->tx.parts[i];

		if (p->next >= 0)
			kafka_in_note_next(a->in, p->topic, p->partition, p->next);
		p->next = -1;
	}
	kafka_in_commit(a->in, false);
	a->tx.committed_pos = a->tx.done_pos;
	a->upsert_batches -= a->upsert_batches > 0;
	a->tx.one_by_one = false;
	batch_counted(a, true);
	log_debug("%s: applied %zu records, %zu transactions", a->label, a->tx.batch_records,
		  a->tx.txns);
	a->tx.batch_records = 0;
	a->tx.batch_bytes = 0;
	a->tx.txns = 0;
	return true;
}

/* The batch failed: rolled back, and read again from the stored offsets,
 * with upserts when a plain INSERT met a key the target has, else record
 * by record to name the one at fault.  false when it cannot help. */
static bool tx_failed(struct apply *a)
{
	bool conflict = a->create_conflict;

	tx_target_rollback(a);
	a->create_conflict = false;
	if (stop_requested || PQstatus(a->db) != CONNECTION_OK)
		return false;
	if (conflict) {
		log_info("%s: a create met a key the target already has (changes sent again after a restart?): applying the batch again with upserts",
			 a->label);
		a->upsert_batches = APPLY_UPSERT_BATCHES;
	} else if (!a->failed && !a->tx.one_by_one) {
		log_warn("%s: batch of %zu records failed; applying it again one by one to find the one at fault",
			 a->label, a->tx.batch_records);
		a->tx.one_by_one = true;
	} else {
		a->failed = true;
		return false;
	}
	return kafka_in_reassign(a->in); /* tx_reset, via partitions_assigned */
}

/* The open transaction, its END come, has not moved for TX_STALL_MS since
 * records came again: none of them is its next event, and the wait could
 * be for ever (a case tx_gap and tx_unblock do not know).  Said at once,
 * never a silent wait: logged and in status (FAILED, transaction_stall),
 * naming the pipeline, the transaction, what it waits for, its tables'
 * counts and every partition's head; cleared if it moves again (a broker
 * slow to serve a partition again after a restart: 45 s once in 74, the
 * machine loaded). */
#define TX_STALL_MS 60000

static void tx_stalled(struct apply *a)
{
	struct strbuf why;
	char *msg;

	strbuf_init(&why);
	for (size_t r = 0; a->tx.tables_known && r < a->nroutes; r++)
		if (a->routes[r].tx_taken < a->routes[r].tx_expected)
			strbuf_addf(&why, "; table %s: %" PRId64 " of its %" PRId64 " events applied",
				    a->routes[r].collection, a->routes[r].tx_taken,
				    a->routes[r].tx_expected);
	for (size_t i = 0; i < a->tx.nparts; i++) {
		const struct tx_part *p = &a->tx.parts[i];
		struct txn_mark t;

		if (p->head == p->n)
			strbuf_addf(&why, "; topic %s partition %d: nothing buffered", p->topic,
				    (int)p->partition);
		else if (txn_mark_read(p->q[p->head], &t))
			strbuf_addf(&why, "; topic %s partition %d offset %lld: transaction %016" PRIX64 " %c%" PRId64 "%s",
				    p->topic, (int)p->partition, (long long)p->q[p->head]->offset, t.pos,
				    t.kind, t.n, p->paused ? " (paused: its buffer is full)" : "");
	}
	msg = xasprintf("pipeline %s: source transaction %016" PRIX64 " (END: %" PRId64 " events) has waited %d s for its event %" PRId64 " while other records came%s",
			a->pipe->name, a->tx.open_pos, a->tx.end_count, TX_STALL_MS / 1000,
			a->tx.applied + 1, why.data ? why.data : "");
	log_error("%s: %s", a->label, msg);
	progress_error_note(&a->progress, ERROR_TXN_STALL, msg);
	progress_writer_tick(&a->progress, true);
	free(msg);
	strbuf_fini(&why);
	a->tx.stall_noted = true;
}

static bool consume_loop_tx(struct apply *a)
{
	bool moved = false;

	while (!stop_requested && !a->failed) {
		rd_kafka_message_t *m = NULL;
		bool ok, boundary;

		if (!poll_one(a, moved || a->tx.in_target ? 0 : 100, &m))
			return false; /* logged */
		if (!m && a->tx.open && !moved)
			(void)poll_one(a, 100, &m); /* waiting for the open transaction's rest */
		if (m)
			tx_part_push(a, m);
		ok = tx_advance(a, &moved);
		if (moved || !a->tx.open) {
			a->tx.moved_ms = mono_ms();
			a->tx.stuck_ms = 0;
			if (a->tx.stall_noted) {
				log_info("%s: the source transaction moves again", a->label);
				progress_error_clear(&a->progress, ERROR_TXN_STALL);
				a->tx.stall_noted = false;
			}
		} else if (m && !a->tx.stuck_ms) {
			a->tx.stuck_ms = mono_ms();
		} else if (ok && a->tx.stuck_ms && !a->tx.stall_noted && a->tx.end_count >= 0 &&
			   mono_ms() - a->tx.stuck_ms >= TX_STALL_MS) {
			tx_stalled(a);
		}
		boundary = !a->tx.open && a->tx.in_target;
		if (ok && boundary && ((!m && !moved) || tx_batch_full(a)))
			ok = tx_commit(a);
		if (!ok && !tx_failed(a))
			return false; /* errors already logged */
		a->drained = !m && !moved && !a->tx.in_target;
		/* also inside a long transaction: status must see it move */
		progress_writer_tick(&a->progress, false);
	}
	/* Stopped: the open batch is rolled back (tx_reset at the end). */
	return !a->failed;
}

/* ---- the target away: reconnecting ----------------------------------------------------- */

/* The batch failed because the connection to the target is gone (a restart,
 * a network cut), not because of a record: worth reconnecting. */
static bool target_lost(const struct apply *a)
{
	return !a->refused && (!a->db || PQstatus(a->db) != CONNECTION_OK);
}

static void state_set(struct apply *a, const char *state)
{
	progress_state_set(&a->progress, state);
	progress_writer_tick(&a->progress, true);
}

/* Waits, connects again and restarts the partitions at the offsets stored
 * in the target, with waits from 1 s doubling up to RECONNECT_MAX_SEC, as
 * capture does with its source.  False when stopped meanwhile. */
static bool reconnect(struct apply *a)
{
	int backoff = 1;

	batch_release(a); /* fetched again from the stored offsets */
	a->tx.in_target = false; /* rolled back with the connection */
	tx_reset(a);
	PQfinish(a->db);
	a->db = NULL;
	PQfinish(a->types_db);
	a->types_db = NULL;
	/* The same error again and again is FAILED in status (status_state.c),
	 * though apply keeps trying. */
	progress_error_note(&a->progress, ERROR_TARGET_CONNECTION, NULL);
	state_set(a, "reconnecting");
	while (!stop_requested) {
		log_warn("%s: reconnecting to target %s (%s) in %d s", a->label, a->tgt->name,
			 pgsql_where(&a->tgt->pg, PG_AS_USER), backoff);
		for (int i = 0; i < backoff * 10 && !stop_requested; i++) {
			progress_writer_tick(&a->progress, false);
			usleep(100 * 1000);
		}
		if (stop_requested)
			break;
		a->db = pgsql_connect_capture(a->label, &a->tgt->pg, false);
		a->schema.db = a->db;
		schema_forget(a);
		/* The target's counts again: a COMMIT whose answer was lost
		 * may have counted the last batch there. */
		event_counts_fini(&a->counts);
		event_counts_init(&a->counts);
		if (a->db && target_lock(a) && offsets_table_ensure(a) && counts_load(a) &&
		    kafka_in_reassign(a->in)) {
			log_info("%s: reconnected to target %s", a->label, a->tgt->name);
			a->failed = false;
			a->create_conflict = false;
			progress_error_clear(&a->progress, ERROR_TARGET_CONNECTION);
			state_set(a, "consuming");
			return true;
		}
		if (a->locked_out)
			return false; /* logged: another apply took over meanwhile */
		progress_error_note(&a->progress, ERROR_TARGET_CONNECTION, NULL);
		PQfinish(a->db);
		a->db = NULL;
		backoff = backoff * 2 > RECONNECT_MAX_SEC ? RECONNECT_MAX_SEC : backoff * 2;
	}
	return false;
}

/* Milliseconds behind the source from apply's own view: 0 when its last
 * poll found nothing, else now - the source commit time of the last event
 * applied; -1 when unknown.  status.c prefers the lag in Kafka when it can
 * ask (a stopped apply writes nothing). */
static int64_t behind_source_ms(const struct apply *a)
{
	if (a->drained)
		return 0;
	if (!a->progress.p.last_event_usec)
		return -1;
	return (wall_usec() - a->progress.p.last_event_usec) / 1000;
}

/* The progress members of docs/STATUS.md, once a second (progress.h). */
static void progress_refresh(struct progress_writer *w, void *ctx)
{
	struct apply *a = ctx;
	int64_t behind = behind_source_ms(a);

	progress_writer_set(w, "events_total",
			    json_integer((json_int_t)event_counts_total(&a->counts)));
	progress_writer_set(w, "events_by_table", event_counts_json(&a->counts));
	progress_writer_set(w, "behind_source_ms", behind >= 0 ? json_integer(behind) : json_null());
	progress_writer_set(w, "schema_changes_total", json_integer((json_int_t)a->schema.changes));
	progress_writer_set(w, "last_schema_change",
			    a->schema.last_change
				    ? json_pack("{s:s, s:I}", "change", a->schema.last_change,
						"at_usec", (json_int_t)a->schema.last_change_usec)
				    : json_null());
}

enum apply_end apply_run(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	struct apply a = { 0 };
	struct sigaction sa = { .sa_handler = on_stop_signal };
	bool ok;

	mallopt(M_MMAP_THRESHOLD, APPLY_MMAP_THRESHOLD);
	a.pipe = pipe;
	a.tgt = pipe->target;
	if (pipe->consistency == CONSISTENCY_TRANSACTION)
		a.tx.topic = topology_transaction_topic(pipe->source);
	a.label = xasprintf("apply %s", pipe->name);
	apply_event_init(&a.ev);
	apply_schema_init(&a.schema, a.label, pipe);
	a.schema.flush = schema_flush;
	a.schema.flush_ctx = &a;
	apply_sql_group_init(&a.group);
	a.batch = xcalloc(APPLY_BATCH_MAX, sizeof(*a.batch));
	a.batch_ends = xcalloc(APPLY_BATCH_MAX, sizeof(*a.batch_ends));
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* No wait on the target outlasts a stop request. */
	pgsql_stop_on(&stop_requested);
	progress_writer_init(&a.progress, topo->agent.state_dir, "apply", pipe->name);
	/* With patterns, the source's catalog says which tables (and so
	 * topics) are the pipeline's, as it says it to capture. */
	bool resolved = table_select_resolve_as(pipe->source, a.label, PG_AS_USER);

	ok = resolved;
	routes_init(&a);
	progress_writer_set(&a.progress, "config_digest", pipeline_config_digest_json(topo, pipe, "apply"));
	progress_state_set(&a.progress, "starting");
	progress_writer_tick(&a.progress, true);
	/* At the first start, failing fast shows a wrong setting at once;
	 * once running, a target that went away is waited for. */
	a.state_dir = topo->agent.state_dir;
	/* Signed by the source's capture: its pipeline's key (fan-out) */
	ok = ok && schema_mac_open(a.state_dir, topology_capture_pipeline(topo, pipe)->name, &a.mac);
	if (ok)
		a.db = pgsql_connect_capture(a.label, &a.tgt->pg, false);
	a.schema.db = a.db;
	ok = ok && a.db && target_lock(&a) && offsets_table_ensure(&a) && counts_load(&a) &&
	     consumer_new(&a, topo);
	a.progress.refresh = progress_refresh;
	a.progress.refresh_ctx = &a;
	if (ok) {
		struct strbuf topics;

		/* The topics themselves: a table added later is consumed after
		 * the restart its new configuration brings, not before. */
		strbuf_init(&topics);
		for (size_t i = 0; i < a.nroutes; i++)
			strbuf_addf(&topics, "%s%s", i ? ", " : "", a.routes[i].topic);
		log_info("%s: consuming %s into %s", a.label, topics.data, a.tgt->pg.dbname);
		strbuf_fini(&topics);
		progress_state_set(&a.progress, "consuming");
	}
	while (ok && !(ok = a.tx.topic ? consume_loop_tx(&a) : consume_loop(&a)) && !stop_requested &&
	       target_lost(&a))
		ok = reconnect(&a);
	/* Stopped on request: whatever was cut short was rolled back. */
	if (stop_requested && !a.refused && !a.kafka_refused)
		ok = true;
	if (ok) {
		progress_state_set(&a.progress, "stopping"); /* a clean end (status: STOPPED) */
	} else if (a.kafka_refused) {
		progress_error_note(&a.progress, ERROR_KAFKA_AUTHORIZATION, NULL);
		progress_state_set(&a.progress, "failed");
	} else if (a.refused)
		progress_error_note(&a.progress, ERROR_REFUSED_RECORD, NULL);
	else if (!resolved)
		progress_error_note(&a.progress, ERROR_SOURCE_CONNECTION, NULL);
	else if (!a.db || PQstatus(a.db) != CONNECTION_OK)
		progress_error_note(&a.progress, ERROR_TARGET_CONNECTION, NULL);
	progress_refresh(&a.progress, &a); /* the last write comes after the cleanup */
	a.progress.refresh = NULL;
	event_counts_fini(&a.counts);
	batch_release(&a);
	tx_reset(&a);
	tx_floors_free(&a);
	free(a.tx.topic);
	PQfinish(a.types_db);
	free(a.batch);
	free(a.batch_ends);
	apply_sql_group_fini(&a.group);
	row_values_fini(&a.row);
	apply_event_fini(&a.ev);
	apply_schema_fini(&a.schema);
	apply_types_seen_fini(&a.types_seen);
	routes_fini(&a);
	kafka_in_free(a.in);
	PQfinish(a.db);
	schema_mac_free(a.mac);
	free(a.trusted_topic);
	free(a.trusted_header);
	free(a.label);
	progress_writer_fini(&a.progress, !ok);
	return ok ? APPLY_END_STOPPED : a.refused ? APPLY_END_REFUSED : APPLY_END_FAILED;
}
