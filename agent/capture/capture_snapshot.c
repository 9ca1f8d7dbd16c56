/*
 * agent/capture/capture_snapshot.c: incremental snapshots by key, interleaved with
 * the stream (see capture_snapshot.h for the protocol).
 *
 * Why the window is enough: the low watermark commits before the chunk's
 * SELECT starts and the high watermark after it ends, so a change
 * committed before the low watermark is in the chunk, one committed after
 * the high watermark is not, and only the changes streamed between the two
 * may or may not be: for their keys the chunk's row is dropped, the change
 * event (streamed before the high watermark, so before the chunk's rows on
 * Kafka) carries the row as it is.  Every other row of the chunk is what
 * the table held at the high watermark, and is sent there, in stream order.
 * Except that "committed before the low watermark" in the WAL does not mean
 * visible to the SELECT (commit order is not visibility order): the keys
 * of changes streamed before the window whose transaction the chunk's
 * snapshot does not see are dropped as well (snapshot_window's recent).
 */
#include "capture/capture_snapshot.h"
#include "config/topo_values.h"
#include "pipeline/table_select.h"

#include "base/log.h"
#include "base/util.h"
#include "pg/pgsql.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Chunks emitted whose events Kafka has not all acknowledged yet: beyond
 * this many, no new chunk is selected (the stream goes on). */
#define MAX_PENDING 32

/* ---- the watermark window ---------------------------------------------------- */

void snapshot_window_init(struct snapshot_window *w)
{
	memset(w, 0, sizeof(*w));
	key_set_init(&w->dirty);
}

static void recent_clear(struct snapshot_window *w)
{
	for (size_t i = 0; i < w->nrecent; i++)
		free(w->recent[i].key);
	w->nrecent = 0;
}

void snapshot_window_fini(struct snapshot_window *w)
{
	key_set_fini(&w->dirty);
	recent_clear(w);
	free(w->recent);
	free(w->xip);
}

void snapshot_window_watch(struct snapshot_window *w, uint32_t oid)
{
	if (oid != w->oid) {
		recent_clear(w);
		w->have_snapshot = false; /* another table, perhaps another server */
	}
	w->oid = oid;
}

void snapshot_window_arm(struct snapshot_window *w, const char *id, uint32_t oid)
{
	snprintf(w->id, sizeof(w->id), "%s", id);
	snapshot_window_watch(w, oid);
	w->phase = WINDOW_WAIT_LOW;
	w->truncated = false;
	w->have_snapshot = false;
	key_set_clear(&w->dirty);
}

/* One xid8 of pg_current_snapshot()'s text, as the 32-bit xid the stream
 * carries (its epoch dropped). */
static bool xid_parse(const char **p, uint32_t *xid)
{
	char *end;
	unsigned long long v;

	if (**p < '0' || **p > '9')
		return false;
	v = strtoull(*p, &end, 10);
	*xid = (uint32_t)v;
	*p = end;
	return true;
}

bool snapshot_window_snapshot(struct snapshot_window *w, const char *text)
{
	const char *p = text;

	w->have_snapshot = false;
	w->nxip = 0;
	if (!p || !xid_parse(&p, &w->xmin) || *p++ != ':' || !xid_parse(&p, &w->xmax) || *p++ != ':')
		return false;
	while (*p) {
		uint32_t xid;

		if (w->nxip && *p++ != ',')
			return false;
		if (!xid_parse(&p, &xid))
			return false;
		if (w->nxip == w->cxip) {
			w->cxip = w->cxip ? 2 * w->cxip : 16;
			w->xip = xrealloc(w->xip, w->cxip * sizeof(*w->xip));
		}
		w->xip[w->nxip++] = xid;
	}
	w->have_snapshot = true;
	return true;
}

/* TransactionIdPrecedes for normal xids. */
static bool xid_precedes(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* Whether the chunk's snapshot shows transaction xid (which committed:
 * the stream carried it). */
static bool window_sees(const struct snapshot_window *w, uint32_t xid)
{
	if (!w->have_snapshot)
		return false;
	if (xid_precedes(xid, w->xmin))
		return true;
	if (!xid_precedes(xid, w->xmax))
		return false;
	for (size_t i = 0; i < w->nxip; i++)
		if (w->xip[i] == xid)
			return false;
	return true;
}

/* At the close: the keys of the changes kept that the chunk's snapshot did
 * not see are dropped; those it saw go (every later snapshot sees them). */
static void window_recent_settle(struct snapshot_window *w)
{
	size_t keep = 0;

	for (size_t i = 0; i < w->nrecent; i++) {
		struct window_change *c = &w->recent[i];

		if (window_sees(w, c->xid)) {
			free(c->key);
			continue;
		}
		key_set_add(&w->dirty, c->key, c->len);
		w->recent[keep++] = *c;
	}
	w->nrecent = keep;
}

/* {"watermark": "low" | "high", "id": "<hex>"}: anything else is not ours. */
static bool watermark_parse(const char *content, size_t len, bool *high, const char **id,
			    json_t **root)
{
	const char *mark;

	*root = json_loadb(content, len, JSON_REJECT_DUPLICATES, NULL);
	mark = json_string_value(json_object_get(*root, "watermark"));
	*id = json_string_value(json_object_get(*root, "id"));
	if (!mark || !*id || (strcmp(mark, "low") != 0 && strcmp(mark, "high") != 0))
		return false;
	*high = mark[0] == 'h';
	return true;
}

enum window_verdict snapshot_window_message(struct snapshot_window *w, const char *prefix,
					    const char *content, size_t len)
{
	enum window_verdict v = WINDOW_IGNORED;
	const char *id;
	json_t *root;
	bool high;

	if (w->phase == WINDOW_IDLE || !prefix || strcmp(prefix, SNAPSHOT_WATERMARK_PREFIX) != 0)
		return WINDOW_IGNORED;
	/* Only the chunk in flight counts: a watermark of another chunk, of a
	 * capture before this one (replayed), or written by anyone else who
	 * may emit messages is ignored. */
	if (watermark_parse(content, len, &high, &id, &root) && strcmp(id, w->id) == 0) {
		if (!high && w->phase == WINDOW_WAIT_LOW) {
			w->phase = WINDOW_OPEN;
			key_set_clear(&w->dirty);
			v = WINDOW_OPENED;
		} else if (high && w->phase == WINDOW_OPEN) {
			w->phase = WINDOW_IDLE;
			w->id[0] = '\0';
			window_recent_settle(w);
			v = WINDOW_CLOSED;
		}
	}
	json_decref(root);
	return v;
}

void snapshot_window_change(struct snapshot_window *w, uint32_t oid, uint32_t xid, const char *key,
			    size_t len)
{
	struct window_change *c;

	if (oid == 0 || oid != w->oid)
		return;
	if (w->phase == WINDOW_OPEN)
		key_set_add(&w->dirty, key, len);
	/* Seen by the last chunk's snapshot, it is seen by every later one:
	 * nothing to keep (so a replay streamed before a low watermark keeps
	 * nothing either). */
	if (window_sees(w, xid))
		return;
	if (w->nrecent == w->crecent) {
		w->crecent = w->crecent ? 2 * w->crecent : 64;
		w->recent = xrealloc(w->recent, w->crecent * sizeof(*w->recent));
	}
	c = &w->recent[w->nrecent++];
	c->xid = xid;
	c->key = xmalloc(len ? len : 1);
	memcpy(c->key, key, len);
	c->len = len;
}

bool snapshot_window_dropped(const struct snapshot_window *w, const char *key, size_t len)
{
	return key_set_contains(&w->dirty, key, len);
}

bool snapshot_key_encode(struct strbuf *sb, const struct table_schema *ts,
			 const struct pgoutput_value *row)
{
	sb->len = 0;
	if (ts->nkey == 0)
		return false;
	for (size_t i = 0; i < ts->nkey; i++) {
		const struct pgoutput_value *v = &row[ts->key_cols[i]];
		uint32_t len = v->len;

		if (v->kind != PGOUTPUT_TEXT)
			return false;
		strbuf_add(sb, (const char *)&len, sizeof(len));
		strbuf_add(sb, v->data, len);
	}
	return true;
}

/* ---- state ------------------------------------------------------------------------ */

/* A chunk sent, waiting for the slot to be confirmed past its transaction. */
struct pending {
	uint64_t end_lsn; /* 0 until its Commit is streamed */
	char *table;
	json_t *last_key; /* of the chunk's last row (selected, sent or not) */
	uint64_t rows;    /* sent */
	bool finished;    /* the table has no more rows */
};

struct capture_snapshot {
	struct snapshot_host h;
	struct snapshot_window win;
	struct strbuf kbuf;
	/* The table in progress, the first of state->incremental: */
	char *table;
	struct table_schema *ts;
	json_t *cursor;       /* key after which the next chunk starts; NULL: its start */
	bool exhausted;       /* its last chunk was selected */
	uint64_t rows;        /* sent, saved or not */
	double started;
	PGresult *chunk;      /* the chunk in flight's rows */
	json_t *chunk_last_key;
	struct pending pend[MAX_PENDING];
	size_t npend;
	json_t *report;       /* progress "tables" */
	bool announced;       /* "state" set to "snapshotting" */
};

static bool random_id(char out[SNAPSHOT_ID_LEN + 1])
{
	unsigned char b[SNAPSHOT_ID_LEN / 2];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		log_error("cannot draw a random watermark id");
		return false;
	}
	hex_encode(b, sizeof(b), out);
	return true;
}

static const struct table_ref *source_table(const struct source_cfg *src, const char *name)
{
	/* name: table_ref_text's spelling, as the state file keeps it */
	for (size_t i = 0; i < src->tables.n; i++) {
		const struct table_ref *t = &src->tables.items[i];
		char *text = table_ref_text(t);
		bool same = strcmp(text, name) == 0;

		free(text);
		if (same)
			return t;
	}
	return NULL;
}

bool capture_snapshot_listed(const struct source_cfg *src, const char *schema, const char *table)
{
	for (size_t i = 0; i < src->tables.n; i++)
		if (strcmp(src->tables.items[i].schema, schema) == 0 &&
		    strcmp(src->tables.items[i].table, table) == 0)
			return true;
	return false;
}

static void strlist_remove(struct strlist *list, const char *s)
{
	struct strlist keep = { 0 };

	for (size_t i = 0; i < list->n; i++)
		if (strcmp(list->items[i], s) != 0)
			strlist_add(&keep, list->items[i]);
	strlist_fini(list);
	*list = keep;
}

static json_t *entry_in(json_t *array, const char *table, size_t *index)
{
	json_t *item;
	size_t i;

	json_array_foreach(array, i, item)
		if (json_is_string(json_object_get(item, "table")) &&
		    strcmp(json_string_value(json_object_get(item, "table")), table) == 0) {
			if (index)
				*index = i;
			return item;
		}
	return NULL;
}

static json_t *state_entry(const struct capture_snapshot *s, const char *table, size_t *index)
{
	return entry_in(s->h.state->incremental, table, index);
}

/* "on_demand" or "incremental", whatever the state file says. */
static const char *entry_kind(const json_t *entry)
{
	const char *kind = json_string_value(json_object_get(entry, "kind"));

	return kind && strcmp(kind, "on_demand") == 0 ? "on_demand" : "incremental";
}

static json_t *report_entry(struct capture_snapshot *s, const char *table, const char *kind)
{
	json_t *item;
	size_t i;

	json_array_foreach(s->report, i, item)
		if (strcmp(json_string_value(json_object_get(item, "table")), table) == 0) {
			json_object_set_new(item, "kind", json_string(kind));
			return item;
		}
	item = json_pack("{s:s, s:I, s:b, s:s}", "table", table, "rows", (json_int_t)0, "done", 0,
			 "kind", kind);
	json_array_append_new(s->report, item);
	return item;
}

/* The progress file's "snapshot" member, and "state" when a snapshot
 * starts or the last one ends. */
static void report_publish(struct capture_snapshot *s)
{
	size_t remaining = json_array_size(s->h.state->incremental), done = 0, i;
	json_t *item;

	json_array_foreach(s->report, i, item)
		if (json_is_true(json_object_get(item, "done")))
			done++;
	progress_writer_set(s->h.progress, "snapshot",
			    json_pack("{s:b, s:I, s:I, s:O}", "running", remaining > 0, "tables_done",
				      (json_int_t)done, "tables_remaining", (json_int_t)remaining,
				      "tables", s->report));
	if (remaining > 0 && !s->announced)
		progress_writer_set(s->h.progress, "state", json_string("snapshotting"));
	else if (remaining == 0 && s->announced)
		progress_writer_set(s->h.progress, "state", json_string("streaming"));
	/* A snapshot that starts or ends is written at once: at the next
	 * status the write interval or a ground check could still hold it,
	 * and status would say SNAPSHOTTING for a snapshot already done. */
	if ((remaining > 0) != s->announced)
		progress_writer_tick(s->h.progress, true);
	s->announced = remaining > 0;
}

struct capture_snapshot *capture_snapshot_new(const struct snapshot_host *host)
{
	struct capture_snapshot *s = xcalloc(1, sizeof(*s));

	s->h = *host;
	snapshot_window_init(&s->win);
	strbuf_init(&s->kbuf);
	s->report = json_array();
	return s;
}

static void table_forget(struct capture_snapshot *s)
{
	free(s->table);
	table_schema_free(s->ts);
	json_decref(s->cursor);
	s->table = NULL;
	s->ts = NULL;
	s->cursor = NULL;
	s->exhausted = false;
	snapshot_window_watch(&s->win, 0);
}

void capture_snapshot_session_end(struct capture_snapshot *s)
{
	PQclear(s->chunk);
	s->chunk = NULL;
	json_decref(s->chunk_last_key);
	s->chunk_last_key = NULL;
	s->win.phase = WINDOW_IDLE;
	for (size_t i = 0; i < s->npend; i++) {
		free(s->pend[i].table);
		json_decref(s->pend[i].last_key);
	}
	s->npend = 0;
	table_forget(s);
}

void capture_snapshot_free(struct capture_snapshot *s)
{
	if (!s)
		return;
	capture_snapshot_session_end(s);
	snapshot_window_fini(&s->win);
	strbuf_fini(&s->kbuf);
	json_decref(s->report);
	free(s);
}

void capture_snapshot_note_initial(struct capture_snapshot *s, const char *table, uint64_t rows)
{
	json_t *e = report_entry(s, table, "initial");

	json_object_set_new(e, "rows", json_integer((json_int_t)rows));
	json_object_set_new(e, "done", json_true());
	report_publish(s);
}

bool capture_snapshot_plan(struct capture_snapshot *s)
{
	struct capture_state *st = s->h.state;
	const struct source_cfg *src = s->h.src;
	json_t *keep = json_array(), *item;
	struct strlist done = { 0 };
	bool changed = false;
	size_t i;

	/* A table no longer in the topology: its snapshot state goes (added
	 * again later, it is snapshotted again). */
	for (i = 0; i < st->snapshot_done.n; i++) {
		if (source_table(src, st->snapshot_done.items[i]))
			strlist_add(&done, st->snapshot_done.items[i]);
		else
			changed = true;
	}
	strlist_fini(&st->snapshot_done);
	st->snapshot_done = done;
	json_array_foreach(st->incremental, i, item) {
		const char *t = json_string_value(json_object_get(item, "table"));

		if (t && source_table(src, t) && !strlist_contains(&st->snapshot_done, t) &&
		    !entry_in(keep, t, NULL))
			json_array_append(keep, item);
		else
			changed = true;
	}
	json_decref(st->incremental);
	st->incremental = keep;
	for (i = 0; i < src->tables.n; i++) {
		char *name = table_ref_text(&src->tables.items[i]);

		if (!strlist_contains(&st->snapshot_done, name) && !state_entry(s, name, NULL)) {
			json_array_append_new(st->incremental,
					      json_pack("{s:s, s:s, s:n, s:I}", "table", name, "kind",
							"incremental", "last_key", "rows",
							(json_int_t)0));
			changed = true;
		}
		free(name);
	}
	json_array_foreach(st->incremental, i, item)
		report_entry(s, json_string_value(json_object_get(item, "table")), entry_kind(item));
	report_publish(s);
	return !changed || capture_state_save(st);
}

/* ---- chunks ------------------------------------------------------------------------- */

/* A saved last_key is used only if it has the key's shape (the file is
 * capture's own, but a table's key may have changed since). */
static json_t *cursor_from_state(const json_t *entry, const struct table_schema *ts)
{
	json_t *last = json_object_get(entry, "last_key"), *item;
	size_t i;

	if (!json_is_array(last) || json_array_size(last) != ts->nkey)
		return NULL;
	json_array_foreach(last, i, item)
		if (!json_is_string(item))
			return NULL;
	return json_incref(last);
}

/* Loads the first table of the state's list (s->table stays NULL when the
 * list is empty).  A table without a key is refused, naming it. */
static bool table_start(struct capture_snapshot *s, PGconn *sql)
{
	json_t *e;

	while ((e = json_array_get(s->h.state->incremental, 0))) {
		const char *name = json_string_value(json_object_get(e, "table"));
		const struct table_ref *t = source_table(s->h.src, name);

		if (!t || !table_schema_load(sql, s->h.label, 0, t->schema, t->table, &s->ts))
			return false; /* plan keeps only listed tables; errors already logged */
		if (s->ts->nkey == 0) {
			log_error("%s: cannot snapshot table %s incrementally: it has no primary key and no replica identity index (its changes are streamed, its existing rows are not)",
				  s->h.label, name);
			json_object_set_new(report_entry(s, name, entry_kind(e)), "error",
					    json_string("no key to snapshot by"));
			table_schema_free(s->ts);
			s->ts = NULL;
			json_array_remove(s->h.state->incremental, 0);
			report_publish(s);
			continue;
		}
		s->table = xstrdup(name);
		snapshot_window_watch(&s->win, s->ts->oid);
		s->cursor = cursor_from_state(e, s->ts);
		s->rows = (uint64_t)json_integer_value(json_object_get(e, "rows"));
		s->started = mono_seconds();
		log_info("%s: incremental snapshot of %s starts%s (%s, %d rows a chunk)", s->h.label,
			 name, s->cursor ? " after its last saved chunk" : "", entry_kind(e),
			 SNAPSHOT_CHUNK_ROWS);
		report_publish(s);
		return true;
	}
	return true;
}

/* SELECT columns FROM [ONLY] t [WHERE (key) > ($1, ...)] ORDER BY key LIMIT n;
 * the parameters take the key columns' types from the comparison. */
static char *chunk_sql(PGconn *conn, const struct table_schema *ts, bool after)
{
	struct strbuf sb, key;
	char *schema = pgsql_quote_ident(conn, ts->schema), *table = pgsql_quote_ident(conn, ts->table);

	strbuf_init(&sb);
	strbuf_init(&key);
	for (size_t i = 0; i < ts->nkey; i++) {
		char *col = pgsql_quote_ident(conn, ts->cols[ts->key_cols[i]].name);

		strbuf_addf(&key, "%s%s", i ? ", " : "", col);
		free(col);
	}
	strbuf_adds(&sb, "SELECT ");
	for (size_t i = 0; i < ts->ncols; i++) {
		char *col = pgsql_quote_ident(conn, ts->cols[i].name);

		strbuf_addf(&sb, "%s%s", i ? ", " : "", col);
		free(col);
	}
	/* The statement's snapshot, which says which transactions the rows
	 * include (snapshot_window_snapshot). */
	strbuf_adds(&sb, ", pg_current_snapshot()::text");
	/* ONLY keeps an inheritance child's rows out (they are its own
	 * table's); a partitioned table's rows are all in its partitions. */
	strbuf_addf(&sb, " FROM %s%s.%s", ts->relkind == 'p' ? "" : "ONLY ", schema, table);
	if (after) {
		strbuf_addf(&sb, " WHERE (%s) > (", key.data);
		for (size_t i = 0; i < ts->nkey; i++)
			strbuf_addf(&sb, "%s$%zu", i ? ", " : "", i + 1);
		strbuf_adds(&sb, ")");
	}
	strbuf_addf(&sb, " ORDER BY %s LIMIT %d", key.data, SNAPSHOT_CHUNK_ROWS);
	strbuf_fini(&key);
	free(schema);
	free(table);
	return strbuf_detach(&sb);
}

/* A transactional logical message in a transaction of its own. */
static bool emit_message(PGconn *sql, const char *label, const char *prefix, const char *content)
{
	const char *params[] = { prefix, content };
	PGresult *res;

	if (!pgsql_query(sql, label, "SELECT pg_logical_emit_message(true, $1::text, $2::text)", 2,
			 params, &res))
		return false; /* errors already logged */
	PQclear(res);
	return true;
}

static bool emit_watermark(struct capture_snapshot *s, PGconn *sql, const char *id, bool high)
{
	char content[80];

	snprintf(content, sizeof(content), "{\"watermark\":\"%s\",\"id\":\"%s\"}",
		 high ? "high" : "low", id);
	return emit_message(sql, s->h.label, SNAPSHOT_WATERMARK_PREFIX, content);
}

/* Low watermark, the next chunk, high watermark: each its own transaction
 * (autocommit), so the SELECT's snapshot sees everything committed before
 * the low one and nothing committed after the high one. */
static bool chunk_select(struct capture_snapshot *s, PGconn *sql)
{
	char id[SNAPSHOT_ID_LEN + 1], *text;
	const char **params = NULL;
	size_t n;
	bool ok;

	if (!random_id(id))
		return false; /* errors already logged */
	if (s->cursor) {
		params = xcalloc(s->ts->nkey, sizeof(*params));
		for (size_t i = 0; i < s->ts->nkey; i++)
			params[i] = json_string_value(json_array_get(s->cursor, i));
	}
	text = chunk_sql(sql, s->ts, s->cursor != NULL);
	ok = emit_watermark(s, sql, id, false) &&
	     pgsql_query(sql, s->h.label, text, s->cursor ? (int)s->ts->nkey : 0, params, &s->chunk) &&
	     emit_watermark(s, sql, id, true);
	free(text);
	free(params);
	if (!ok)
		return false; /* errors already logged */
	n = (size_t)PQntuples(s->chunk);
	s->exhausted = n < SNAPSHOT_CHUNK_ROWS;
	if (n > 0) {
		json_t *key = json_array();

		for (size_t i = 0; i < s->ts->nkey; i++)
			json_array_append_new(key, json_string(PQgetvalue(s->chunk, (int)n - 1,
									 (int)s->ts->key_cols[i])));
		json_decref(s->cursor);
		s->cursor = key;
	}
	s->chunk_last_key = s->cursor ? json_incref(s->cursor) : json_null();
	snapshot_window_arm(&s->win, id, s->ts->oid);
	if (n > 0)
		(void)snapshot_window_snapshot(&s->win,
					       PQgetvalue(s->chunk, 0, (int)s->ts->ncols));
	return true;
}

/* At the high watermark: the chunk's rows no change of the window touched. */
static bool chunk_emit(struct capture_snapshot *s)
{
	int n = PQntuples(s->chunk);
	struct pgoutput_value *row = xcalloc(s->ts->ncols, sizeof(*row));
	struct pending *p = &s->pend[s->npend++];
	bool ok = true;

	memset(p, 0, sizeof(*p));
	for (int r = 0; ok && r < n; r++) {
		for (size_t col = 0; col < s->ts->ncols; col++) {
			bool null = PQgetisnull(s->chunk, r, (int)col);

			row[col].kind = null ? PGOUTPUT_NULL : PGOUTPUT_TEXT;
			row[col].data = null ? NULL : PQgetvalue(s->chunk, r, (int)col);
			row[col].len = null ? 0 : (uint32_t)PQgetlength(s->chunk, r, (int)col);
		}
		if (s->win.truncated || (snapshot_key_encode(&s->kbuf, s->ts, row) &&
					 snapshot_window_dropped(&s->win, s->kbuf.data, s->kbuf.len)))
			continue;
		ok = s->h.emit_read(s->h.ctx, s->ts, row);
		if (ok)
			p->rows++;
	}
	free(row);
	p->table = xstrdup(s->table);
	p->last_key = s->chunk_last_key;
	p->finished = s->exhausted;
	s->chunk_last_key = NULL;
	s->rows += p->rows;
	PQclear(s->chunk);
	s->chunk = NULL;
	return ok;
}

/* The slot is confirmed past the chunk's transaction: every event up to
 * its high watermark is acknowledged, so its progress may be saved. */
static void pending_settle(struct capture_snapshot *s, struct pending *p)
{
	size_t index;
	json_t *e = state_entry(s, p->table, &index), *rep;
	uint64_t rows;
	const char *kind;

	if (!e)
		return; /* requested again meanwhile: started over */
	kind = entry_kind(e);
	rows = (uint64_t)json_integer_value(json_object_get(e, "rows")) + p->rows;
	json_object_set_new(e, "rows", json_integer((json_int_t)rows));
	json_object_set(e, "last_key", p->last_key);
	rep = report_entry(s, p->table, kind);
	json_object_set_new(rep, "rows", json_integer((json_int_t)rows));
	if (!p->finished)
		return;
	json_object_set_new(rep, "done", json_true());
	json_array_remove(s->h.state->incremental, index);
	strlist_add(&s->h.state->snapshot_done, p->table);
	log_info("%s: incremental snapshot of %s done: %" PRIu64 " rows acknowledged by Kafka in %.1f s",
		 s->h.label, p->table, rows,
		 s->table && strcmp(s->table, p->table) == 0 ? mono_seconds() - s->started : 0.0);
	if (s->table && strcmp(s->table, p->table) == 0)
		table_forget(s);
}

bool capture_snapshot_step(struct capture_snapshot *s, PGconn *sql, uint64_t confirmed)
{
	size_t settled = 0;

	while (settled < s->npend && s->pend[settled].end_lsn &&
	       confirmed >= s->pend[settled].end_lsn) {
		pending_settle(s, &s->pend[settled]);
		free(s->pend[settled].table);
		json_decref(s->pend[settled].last_key);
		settled++;
	}
	if (settled) {
		memmove(s->pend, s->pend + settled, (s->npend - settled) * sizeof(*s->pend));
		s->npend -= settled;
		report_publish(s);
		if (!capture_state_save(s->h.state))
			return false; /* errors already logged */
	}
	if (s->win.phase != WINDOW_IDLE || s->npend >= MAX_PENDING)
		return true;
	if (!s->table && !table_start(s, sql))
		return false; /* errors already logged */
	if (!s->table || s->exhausted)
		return true;
	return chunk_select(s, sql);
}

void capture_snapshot_commit(struct capture_snapshot *s, uint64_t end_lsn)
{
	for (size_t i = 0; i < s->npend; i++)
		if (!s->pend[i].end_lsn)
			s->pend[i].end_lsn = end_lsn;
}

void capture_snapshot_change(struct capture_snapshot *s, const struct table_schema *ts,
			     uint32_t xid, const struct pgoutput_msg *m)
{
	/* Kept outside the window too (snapshot_window's recent). */
	if (ts->oid != s->win.oid)
		return;
	if (m->type == PGOUTPUT_TRUNCATE) {
		/* A TRUNCATE's lock outlives its invisibility: the SELECT
		 * waits for it, and sees it, unless it is in the window. */
		if (s->win.phase == WINDOW_OPEN)
			s->win.truncated = true;
		return;
	}
	if (m->change.new_tuple.ncols &&
	    snapshot_key_encode(&s->kbuf, ts, m->change.new_tuple.values))
		snapshot_window_change(&s->win, ts->oid, xid, s->kbuf.data, s->kbuf.len);
	if (m->change.old_kind != PGOUTPUT_OLD_NONE && m->change.old_tuple.ncols &&
	    snapshot_key_encode(&s->kbuf, ts, m->change.old_tuple.values))
		snapshot_window_change(&s->win, ts->oid, xid, s->kbuf.data, s->kbuf.len);
}

/* ---- requests ------------------------------------------------------------------------ */

/* A name from a message, for a log line: printable ASCII or nothing. */
static const char *loggable(const char *s)
{
	if (!s || strlen(s) > 130)
		return "(unreadable)";
	for (const char *p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return "(unreadable)";
	return s;
}

static bool is_hex_id(const char *s)
{
	if (!s || strlen(s) != SNAPSHOT_ID_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!strchr("0123456789abcdef", *p))
			return false;
	return true;
}

/* {"slot": "<this capture's slot>", "snapshot": "schema.table",
 *  "request": "<hex>"}: anyone who may emit a logical message can send
 * one, so only a table of this pipeline is accepted, and the worst a
 * request does is copy that table again. */
static bool signal_handle(struct capture_snapshot *s, const char *content, size_t len)
{
	json_t *root = json_loadb(content, len, JSON_REJECT_DUPLICATES, NULL), *rep;
	const char *slot = json_string_value(json_object_get(root, "slot"));
	const char *table = json_string_value(json_object_get(root, "snapshot"));
	const char *request = json_string_value(json_object_get(root, "request"));
	bool ok = true;

	if (!slot || strcmp(slot, s->h.src->slot) != 0)
		goto out; /* another capture's (same database, another slot) */
	if (!table || !source_table(s->h.src, table)) {
		log_warn("%s: ignoring a snapshot request for %s: not one of the pipeline's tables",
			 s->h.label, loggable(table));
		goto out;
	}
	if (state_entry(s, table, NULL)) {
		log_info("%s: snapshot of %s requested while one runs: that one goes on", s->h.label,
			 table);
		goto out;
	}
	strlist_remove(&s->h.state->snapshot_done, table);
	json_array_append_new(s->h.state->incremental,
			      json_pack("{s:s, s:s, s:n, s:I}", "table", table, "kind", "on_demand",
					"last_key", "rows", (json_int_t)0));
	rep = report_entry(s, table, "on_demand");
	json_object_set_new(rep, "rows", json_integer(0));
	json_object_set_new(rep, "done", json_false());
	json_object_del(rep, "error");
	if (is_hex_id(request))
		json_object_set_new(rep, "request", json_string(request));
	else
		json_object_del(rep, "request");
	log_info("%s: snapshot of %s requested", s->h.label, table);
	report_publish(s);
	ok = capture_state_save(s->h.state);
out:
	json_decref(root);
	return ok;
}

bool capture_snapshot_message(struct capture_snapshot *s, const struct pgoutput_msg *m,
			      bool in_txn)
{
	const char *prefix = m->message.prefix;

	if (prefix && strcmp(prefix, SNAPSHOT_SIGNAL_PREFIX) == 0)
		return signal_handle(s, m->message.content, m->message.len);
	/* Our watermarks are transactional: their chunk goes into their
	 * transaction, which the slot is not confirmed past before Kafka
	 * acknowledged it. */
	if (!in_txn || snapshot_window_message(&s->win, prefix, m->message.content,
					       m->message.len) != WINDOW_CLOSED)
		return true;
	return chunk_emit(s);
}

/* ---- `cdc-agent snapshot PIPELINE TABLE` ---------------------------------------------- */

/* The progress entry of request id: -1 none yet, 0 running, 1 done. */
static int request_state(const struct topology *topo, const struct pipeline_cfg *pipe,
			 const char *id, int64_t *rows)
{
	struct progress p;
	bool exists;
	json_t *item;
	size_t i;
	int state = -1;

	if (!progress_read(topo->agent.state_dir, "capture", pipe->name, &p, &exists))
		return -1;
	json_array_foreach(json_object_get(json_object_get(p.extra, "snapshot"), "tables"), i,
			   item) {
		const char *req = json_string_value(json_object_get(item, "request"));

		if (req && strcmp(req, id) == 0) {
			state = json_is_true(json_object_get(item, "done")) ? 1 : 0;
			*rows = json_integer_value(json_object_get(item, "rows"));
		}
	}
	progress_fini(&p);
	return state;
}

enum snapshot_request_result snapshot_request(const struct topology *topo,
					      const struct pipeline_cfg *pipe,
					      const char *table, bool wait)
{
	struct source_cfg *src = pipe->source;
	/* Fan-out: the source's one capture, which feeds every pipeline of it */
	const struct pipeline_cfg *cap = topology_capture_pipeline(topo, pipe);
	char *label = xasprintf("snapshot %s", pipe->name), *content, id[SNAPSHOT_ID_LEN + 1];
	struct table_ref ref = { 0 };
	struct strbuf err;
	char *name = NULL;
	enum snapshot_request_result rc = SNAPSHOT_REQUEST_FAILED;
	json_t *msg;
	PGconn *conn = NULL;
	int last = -2;
	int64_t rows = 0;

	strbuf_init(&err);
	if (!table_name_parse(table, &ref, &err)) {
		log_error("table %s: %s", loggable(table), err.data);
		strbuf_fini(&err);
		rc = SNAPSHOT_REQUEST_BAD_TABLE;
		goto out;
	}
	strbuf_fini(&err);
	name = table_ref_text(&ref);
	free(ref.schema);
	free(ref.table);
	if (!table_select_resolve_as(src, label, PG_AS_ADMIN))
		goto out; /* errors already logged */
	if (!source_table(src, name)) {
		log_error("table %s is not one of pipeline %s's tables (see [source %s] tables in %s)",
			  loggable(name), pipe->name, src->name, topo->path);
		rc = SNAPSHOT_REQUEST_BAD_TABLE;
		goto out;
	}
	if (!random_id(id))
		goto out;
	msg = json_pack("{s:s, s:s, s:s}", "slot", src->slot, "snapshot", name, "request", id);
	content = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	conn = pgsql_connect(label, &src->pg, PG_AS_ADMIN, src->pg.dbname);
	if (conn && emit_message(conn, label, SNAPSHOT_SIGNAL_PREFIX, content)) {
		printf("snapshot of %s requested from pipeline %s's capture (request %s); "
		       "it runs while capture streams: watch `cdc-agent status` or use --wait\n",
		       name, cap->name, id);
		fflush(stdout);
		rc = SNAPSHOT_REQUEST_OK;
	}
	free(content);
	while (rc == SNAPSHOT_REQUEST_OK && wait) {
		int st = request_state(topo, cap, id, &rows);

		if (st != last && st == 0)
			printf("snapshot of %s running\n", name);
		if (st == 1) {
			printf("snapshot of %s done: %" PRId64 " rows\n", name, rows);
			break;
		}
		last = st;
		usleep(500 * 1000);
	}
out:
	PQfinish(conn);
	free(label);
	free(name);
	return rc;
}
