/*
 * tests/unit/test_pgoutput.c: the pgoutput decoder against messages captured
 * from PostgreSQL 15 (pgoutput_fixtures.h, see make_pgoutput_fixtures.sh),
 * and against truncated, malformed and hand-built input.
 *
 * Input under test is copied into heap buffers of exactly its length, so the
 * sanitizer build catches any read past the end.  Expected errors are
 * captured from stderr and checked, which also keeps them out of test output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "pg/pgoutput.h"

#include "pgoutput_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_FIXTURES ARRAY_LEN(pgoutput_fixtures)

/* ---- helpers ---- */

#include "stderr_capture.h"

static char *copy_bytes(const void *p, size_t n) /* caller frees */
{
	char *c = xmalloc(n);

	memcpy(c, p, n);
	return c;
}

/* Decodes an exact-size copy of buf; the copy is gone on return, so only
 * fields that do not point into the input may be checked afterwards. */
static bool decode_copy(struct pgoutput_decoder *dec, const void *buf, size_t len,
			struct pgoutput_msg *out)
{
	char *c = copy_bytes(buf, len);
	bool ok = pgoutput_decode(dec, c, len, out);

	free(c);
	return ok;
}

/* Asserts decoding fails and the log names each of the (NULL-ended) needles. */
static void expect_fail(struct pgoutput_decoder *dec, const void *buf, size_t len, ...)
{
	struct pgoutput_msg msg;
	const char *needle;
	char *log;
	bool ok;
	va_list ap;

	capture_begin();
	ok = decode_copy(dec, buf, len, &msg);
	log = capture_end();
	if (ok)
		fail_msg("decoding %zu bytes succeeded", len);
	va_start(ap, len);
	while ((needle = va_arg(ap, const char *)))
		if (!strstr(log, needle))
			fail_msg("log lacks '%s': %s", needle, log);
	va_end(ap);
	free(log);
}

/* Index of the nth (from 0) message of type in step. */
static size_t fx_index(const char *step, char type, int nth)
{
	for (size_t i = 0; i < N_FIXTURES; i++)
		if (strcmp(pgoutput_fixtures[i].step, step) == 0 &&
		    pgoutput_fixtures[i].data[0] == (unsigned char)type && nth-- == 0)
			return i;
	fail_msg("no message %c #%d in step %s", type, nth, step);
	return 0;
}

static const struct pgoutput_fixture *fx(const char *step, char type, int nth)
{
	return &pgoutput_fixtures[fx_index(step, type, nth)];
}

/* A decoder fed the fixture stream in order, as a walsender would deliver it. */
struct stream {
	struct pgoutput_decoder dec;
	size_t next;                 /* index of the next fixture to decode */
};

/* Decodes the stream on through message idx; *out is message idx (pointing
 * into the fixture).  Never rewinds: decoding a Relation message again would
 * replace the cached relation and invalidate pointers the test holds. */
static void decode_through(struct stream *s, size_t idx, struct pgoutput_msg *out)
{
	assert_true(idx >= s->next);
	for (; s->next <= idx; s->next++) {
		const struct pgoutput_fixture *f = &pgoutput_fixtures[s->next];

		if (!pgoutput_decode(&s->dec, (const char *)f->data, f->len, out))
			fail_msg("fixture %zu (%s %c) does not decode", s->next, f->step,
				 f->data[0]);
	}
}

static void decode_fx(struct stream *s, const char *step, char type, int nth,
		      struct pgoutput_msg *out)
{
	decode_through(s, fx_index(step, type, nth), out);
	assert_int_equal(out->type, type);
}

static void assert_text(const struct pgoutput_value *v, const char *text)
{
	assert_int_equal(v->kind, PGOUTPUT_TEXT);
	assert_int_equal(v->len, strlen(text));
	assert_non_null(v->data);
	assert_memory_equal(v->data, text, v->len);
}

static void assert_sql_null(const struct pgoutput_value *v)
{
	assert_int_equal(v->kind, PGOUTPUT_NULL);
	assert_null(v->data);
	assert_int_equal(v->len, 0);
}

static int col_index(const struct pgoutput_relation *rel, const char *name)
{
	for (int i = 0; i < rel->ncols; i++)
		if (strcmp(rel->cols[i].name, name) == 0)
			return i;
	fail_msg("%s.%s has no column %s", rel->nspname, rel->relname, name);
	return -1;
}

/* Value of column name in a tuple of rel. */
static const struct pgoutput_value *col(const struct pgoutput_relation *rel,
					const struct pgoutput_tuple *t, const char *name)
{
	assert_int_equal(t->ncols, rel->ncols);
	return &t->values[col_index(rel, name)];
}

/* A hand-built message. */
struct mbuf {
	unsigned char b[1024];
	size_t n;
};

static void put8(struct mbuf *m, unsigned v)
{
	assert_true(m->n + 1 <= sizeof(m->b));
	m->b[m->n++] = (unsigned char)v;
}

static void put16(struct mbuf *m, unsigned v)
{
	put8(m, v >> 8 & 0xff);
	put8(m, v & 0xff);
}

static void put32(struct mbuf *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

static void put64(struct mbuf *m, uint64_t v)
{
	put32(m, (uint32_t)(v >> 32));
	put32(m, (uint32_t)v);
}

static void putstr(struct mbuf *m, const char *s)
{
	for (size_t i = 0; i <= strlen(s); i++)
		put8(m, (unsigned char)s[i]);
}

/* Relation oid "public"."t" (a int4 key, b text), identity 'd'. */
static void build_relation(struct mbuf *m, uint32_t oid, const char *b_name)
{
	m->n = 0;
	put8(m, 'R');
	put32(m, oid);
	putstr(m, "public");
	putstr(m, "t");
	put8(m, 'd');
	put16(m, 2);
	put8(m, 1);
	putstr(m, "a");
	put32(m, 23);
	put32(m, UINT32_MAX);
	put8(m, 0);
	putstr(m, b_name);
	put32(m, 25);
	put32(m, UINT32_MAX);
}

static void put_text(struct mbuf *m, const char *s)
{
	put8(m, 't');
	put32(m, (uint32_t)strlen(s));
	for (size_t i = 0; i < strlen(s); i++)
		put8(m, (unsigned char)s[i]);
}

static int dec_setup(void **state)
{
	struct stream *s = xmalloc(sizeof(*s));

	pgoutput_decoder_init(&s->dec);
	s->next = 0;
	*state = s;
	return 0;
}

static int dec_teardown(void **state)
{
	struct stream *s = *state;

	pgoutput_decoder_fini(&s->dec);
	free(*state);
	return 0;
}

/* ---- the captured stream ---- */

/* Every message decodes in order; transactions are well formed and agree with
 * what the server reported in the peek rows. */
static void test_stream(void **state)
{
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;
	const struct pgoutput_fixture *begin_fx = NULL;
	struct pgoutput_msg msg, begin = { 0 };
	unsigned counts[256] = { 0 };

	for (size_t i = 0; i < N_FIXTURES; i++) {
		const struct pgoutput_fixture *f = &pgoutput_fixtures[i];

		assert_true(decode_copy(dec, f->data, f->len, &msg));
		assert_int_equal(msg.type, f->data[0]);
		counts[f->data[0]]++;
		switch (msg.type) {
		case PGOUTPUT_BEGIN:
			assert_null(begin_fx);
			begin_fx = f;
			begin = msg;
			assert_int_equal(msg.begin.xid, f->xid);
			break;
		case PGOUTPUT_COMMIT:
			assert_non_null(begin_fx);
			assert_string_equal(begin_fx->step, f->step);
			assert_int_equal(msg.commit.flags, 0);
			assert_int_equal(msg.commit.commit_lsn, begin.begin.final_lsn);
			assert_int_equal(msg.commit.commit_time, begin.begin.commit_time);
			assert_true(msg.commit.end_lsn > msg.commit.commit_lsn);
			/* The peek row of a commit carries the transaction's end. */
			assert_int_equal(msg.commit.end_lsn, f->lsn);
			begin_fx = NULL;
			break;
		case PGOUTPUT_MESSAGE:
			/* Non-transactional messages come outside Begin/Commit. */
			assert_true(msg.message.transactional == (begin_fx != NULL));
			break;
		default:
			assert_non_null(begin_fx);
			assert_string_equal(begin_fx->step, f->step);
			break;
		}
	}
	assert_null(begin_fx);
	for (const char *t = "BCORYIUDTM"; *t; t++)
		if (!counts[(unsigned char)*t])
			fail_msg("the fixtures have no %s message", pgoutput_msg_type_name(*t));
}

static void test_begin_commit(void **state)
{
	struct stream *s = *state;
	struct pgoutput_msg msg;
	uint64_t final_lsn;

	decode_fx(s, "update_pk", 'B', 0, &msg);
	assert_int_equal(msg.begin.xid, fx("update_pk", 'B', 0)->xid);
	final_lsn = msg.begin.final_lsn;
	/* Captured after 2020 (in Unix time): the epoch is 2000-01-01. */
	assert_true(msg.begin.commit_time + PGOUTPUT_EPOCH_UNIX_USEC > INT64_C(1577836800000000));
	assert_true(msg.begin.commit_time < INT64_C(1577836800000000));
	decode_fx(s, "update_pk", 'C', 0, &msg);
	assert_int_equal(msg.commit.commit_lsn, final_lsn);
	assert_int_equal(msg.commit.end_lsn, fx("update_pk", 'C', 0)->lsn);
}

/* A user-defined type comes as a Type message before the first Relation
 * that uses it. */
static void test_relation_and_type(void **state)
{
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;
	const struct pgoutput_relation *rel;
	struct pgoutput_msg msg;
	uint32_t mood;

	decode_fx(s, "insert_items", 'Y', 0, &msg);
	mood = msg.pgtype.oid;
	assert_string_equal(msg.pgtype.nspname, "public");
	assert_string_equal(msg.pgtype.name, "mood");

	decode_fx(s, "insert_items", 'R', 0, &msg);
	rel = msg.relation.rel;
	assert_true(msg.relation.changed);
	assert_ptr_equal(pgoutput_relation_find(dec, rel->oid), rel);
	assert_string_equal(rel->nspname, "public");
	assert_string_equal(rel->relname, "items");
	assert_int_equal(rel->replident, PGOUTPUT_REPLIDENT_DEFAULT);
	assert_int_equal(rel->generation, 1);
	assert_int_equal(rel->ncols, 22);
	assert_string_equal(rel->cols[0].name, "id");
	assert_true(rel->cols[0].key);
	assert_int_equal(rel->cols[0].type_oid, 23); /* int4 */
	assert_int_equal(rel->cols[0].typmod, -1);
	for (int i = 1; i < rel->ncols; i++)
		assert_false(rel->cols[i].key);
	/* numeric(10,2): ((10 << 16) | 2) + VARHDRSZ */
	assert_int_equal(rel->cols[col_index(rel, "price")].type_oid, 1700);
	assert_int_equal(rel->cols[col_index(rel, "price")].typmod, (10 << 16 | 2) + 4);
	assert_int_equal(rel->cols[col_index(rel, "label")].type_oid, 1043); /* varchar */
	assert_int_equal(rel->cols[col_index(rel, "label")].typmod, 20 + 4);
	assert_int_equal(rel->cols[col_index(rel, "code")].type_oid, 1042); /* bpchar */
	assert_int_equal(rel->cols[col_index(rel, "tags")].type_oid, 1009); /* text[] */
	assert_int_equal(rel->cols[col_index(rel, "doc")].type_oid, 3802); /* jsonb */
	assert_int_equal(rel->cols[col_index(rel, "m")].type_oid, mood);
	assert_string_equal(rel->cols[21].name, "note");
}

static void test_insert_types(void **state)
{
	struct stream *s = *state;
	const struct pgoutput_relation *rel;
	const struct pgoutput_tuple *t;
	struct pgoutput_msg msg;

	decode_fx(s, "insert_items", 'I', 0, &msg);
	rel = msg.change.rel;
	t = &msg.change.new_tuple;
	assert_string_equal(rel->relname, "items");
	assert_int_equal(msg.change.old_kind, PGOUTPUT_OLD_NONE);
	assert_int_equal(msg.change.old_tuple.ncols, 0);
	assert_text(col(rel, t, "id"), "1");
	assert_text(col(rel, t, "name"), "widget");
	assert_text(col(rel, t, "price"), "9.99");
	assert_text(col(rel, t, "qty"), "9000000000");
	assert_text(col(rel, t, "small"), "-7");
	assert_text(col(rel, t, "flag"), "t");
	assert_text(col(rel, t, "ratio"), "3.5");
	assert_text(col(rel, t, "real_v"), "1.25");
	assert_text(col(rel, t, "created"), "2024-01-02 03:04:05.123456+00");
	assert_text(col(rel, t, "day"), "2024-01-02");
	assert_text(col(rel, t, "at"), "12:34:56");
	assert_text(col(rel, t, "span"), "1 day 02:00:00");
	assert_text(col(rel, t, "uid"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
	assert_text(col(rel, t, "doc"), "{\"a\": 1}");
	assert_text(col(rel, t, "raw"), "[1, 2]");
	assert_text(col(rel, t, "tags"), "{x,\"y z\"}");
	assert_text(col(rel, t, "bin"), "\\xdeadbeef");
	assert_text(col(rel, t, "ip"), "10.0.0.1");
	assert_text(col(rel, t, "label"), "h\xc3\xa9llo"); /* UTF-8 bytes as stored */
	assert_text(col(rel, t, "code"), "ab ");            /* char(3) pads */
	assert_text(col(rel, t, "m"), "happy");
	assert_sql_null(col(rel, t, "note"));

	decode_through(s, fx_index("insert_items", 'I', 1), &msg);
	t = &msg.change.new_tuple;
	assert_text(col(rel, t, "id"), "2");
	assert_text(col(rel, t, "name"), "gadget");
	for (int i = 2; i < rel->ncols; i++)
		assert_sql_null(&t->values[i]);
}

/* An Update that leaves the key alone carries no old tuple. */
static void test_update_without_old(void **state)
{
	struct stream *s = *state;
	struct pgoutput_msg msg;
	const struct pgoutput_relation *rel;

	decode_fx(s, "update_price", 'U', 0, &msg);
	rel = msg.change.rel;
	assert_int_equal(msg.change.old_kind, PGOUTPUT_OLD_NONE);
	assert_int_equal(msg.change.old_tuple.ncols, 0);
	assert_null(msg.change.old_tuple.values);
	assert_text(col(rel, &msg.change.new_tuple, "price"), "10.50");
	assert_text(col(rel, &msg.change.new_tuple, "note"), "repriced");
	assert_text(col(rel, &msg.change.new_tuple, "m"), "happy");
}

/* Changing the primary key sends the old key ('K'): key columns set, every
 * other column NULL, which there means "not sent", not SQL NULL. */
static void test_update_primary_key(void **state)
{
	struct stream *s = *state;
	const struct pgoutput_relation *rel;
	const struct pgoutput_tuple *old, *new;
	struct pgoutput_msg msg;

	decode_fx(s, "update_pk", 'U', 0, &msg);
	rel = msg.change.rel;
	old = &msg.change.old_tuple;
	new = &msg.change.new_tuple;
	assert_int_equal(msg.change.old_kind, PGOUTPUT_OLD_KEY);
	assert_text(col(rel, old, "id"), "2");
	for (int i = 0; i < rel->ncols; i++)
		if (!rel->cols[i].key)
			assert_sql_null(&old->values[i]);
	assert_text(col(rel, new, "id"), "20");
	assert_text(col(rel, new, "name"), "gadget");
	/* The two tuples do not share storage. */
	assert_true(old->values + rel->ncols <= new->values ||
		    new->values + rel->ncols <= old->values);
}

/* A TOASTed value the Update did not touch comes as 'u', with no data. */
static void test_update_unchanged_toast(void **state)
{
	struct stream *s = *state;
	const struct pgoutput_relation *rel;
	const struct pgoutput_value *body;
	struct pgoutput_msg msg;

	decode_fx(s, "update_toast", 'R', 0, &msg);
	assert_string_equal(msg.relation.rel->relname, "docs");
	decode_fx(s, "update_toast", 'U', 0, &msg);
	rel = msg.change.rel;
	assert_int_equal(msg.change.old_kind, PGOUTPUT_OLD_NONE);
	assert_text(col(rel, &msg.change.new_tuple, "id"), "1");
	assert_text(col(rel, &msg.change.new_tuple, "title"), "second title");
	body = col(rel, &msg.change.new_tuple, "body");
	assert_int_equal(body->kind, PGOUTPUT_UNCHANGED);
	assert_null(body->data);
	assert_int_equal(body->len, 0);
}

/* REPLICA IDENTITY FULL: every column is key, old tuples ('O') are whole. */
static void test_replica_identity_full(void **state)
{
	struct stream *s = *state;
	const struct pgoutput_relation *rel;
	struct pgoutput_msg msg;

	decode_fx(s, "identity_full", 'R', 0, &msg);
	rel = msg.relation.rel;
	assert_string_equal(rel->relname, "audit");
	assert_int_equal(rel->replident, PGOUTPUT_REPLIDENT_FULL);
	for (int i = 0; i < rel->ncols; i++)
		assert_true(rel->cols[i].key);

	decode_fx(s, "identity_full", 'U', 0, &msg);
	assert_int_equal(msg.change.old_kind, PGOUTPUT_OLD_FULL);
	assert_text(col(rel, &msg.change.old_tuple, "who"), "alice");
	assert_text(col(rel, &msg.change.old_tuple, "what"), "login");
	assert_text(col(rel, &msg.change.new_tuple, "what"), "logout");

	decode_fx(s, "identity_full", 'D', 0, &msg);
	assert_int_equal(msg.change.old_kind, PGOUTPUT_OLD_FULL);
	assert_text(col(rel, &msg.change.old_tuple, "id"), "1");
	assert_text(col(rel, &msg.change.old_tuple, "what"), "logout");
	assert_int_equal(msg.change.new_tuple.ncols, 0);
}

static void test_delete_key(void **state)
{
	struct stream *s = *state;
	const struct pgoutput_relation *rel;
	struct pgoutput_msg msg;

	decode_fx(s, "delete_items", 'D', 0, &msg);
	rel = msg.change.rel;
	assert_string_equal(rel->relname, "items");
	assert_int_equal(msg.change.old_kind, PGOUTPUT_OLD_KEY);
	assert_text(col(rel, &msg.change.old_tuple, "id"), "20");
	assert_sql_null(col(rel, &msg.change.old_tuple, "name"));
	assert_int_equal(msg.change.new_tuple.ncols, 0);
}

/* ALTER TABLE ADD COLUMN: the DDL transaction itself is skipped as empty; the
 * next change brings a new Relation message that replaces the cached one. */
static void test_schema_change(void **state)
{
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;
	const struct pgoutput_relation *rel;
	struct pgoutput_msg msg;
	uint32_t oid;

	decode_fx(s, "insert_items", 'R', 0, &msg);
	oid = msg.relation.rel->oid;
	decode_fx(s, "after_add_column", 'R', 0, &msg);
	rel = msg.relation.rel;
	assert_int_equal(rel->oid, oid);
	assert_true(msg.relation.changed);
	assert_int_equal(rel->generation, 2);
	assert_int_equal(rel->ncols, 23);
	assert_string_equal(rel->cols[22].name, "extra");
	assert_ptr_equal(pgoutput_relation_find(dec, oid), rel);

	decode_fx(s, "after_add_column", 'I', 0, &msg);
	assert_ptr_equal(msg.change.rel, rel);
	assert_text(col(rel, &msg.change.new_tuple, "name"), "gizmo");
	assert_text(col(rel, &msg.change.new_tuple, "extra"), "more");
	assert_sql_null(col(rel, &msg.change.new_tuple, "price"));

	decode_fx(s, "after_add_column", 'U', 0, &msg);
	assert_text(col(rel, &msg.change.new_tuple, "id"), "1");
	assert_sql_null(col(rel, &msg.change.new_tuple, "extra"));
}

/* pgoutput re-sends a Relation after any relcache invalidation (here the
 * TRUNCATE): same schema, so not "changed". */
static void test_relation_resent(void **state)
{
	struct stream *s = *state;
	struct pgoutput_msg msg;

	decode_fx(s, "truncate_cascade", 'R', 0, &msg);
	assert_string_equal(msg.relation.rel->relname, "parent");
	assert_true(msg.relation.changed);
	decode_fx(s, "truncate_cascade", 'R', 1, &msg);
	assert_string_equal(msg.relation.rel->relname, "parent");
	assert_false(msg.relation.changed);
	assert_int_equal(msg.relation.rel->generation, 2);
}

static void test_truncate(void **state)
{
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;
	struct pgoutput_msg msg;

	/* TRUNCATE parent RESTART IDENTITY CASCADE also lists child. */
	decode_fx(s, "truncate_cascade", 'T', 0, &msg);
	assert_int_equal(msg.truncate.options,
			 PGOUTPUT_TRUNCATE_CASCADE | PGOUTPUT_TRUNCATE_RESTART_IDENTITY);
	assert_int_equal(msg.truncate.nrels, 2);
	assert_string_equal(msg.truncate.rels[0]->relname, "parent");
	assert_string_equal(msg.truncate.rels[1]->relname, "child");
	assert_ptr_equal(msg.truncate.rels[1],
			 pgoutput_relation_find(dec, msg.truncate.rels[1]->oid));

	decode_fx(s, "truncate_plain", 'T', 0, &msg);
	assert_int_equal(msg.truncate.options, 0);
	assert_int_equal(msg.truncate.nrels, 1);
	assert_string_equal(msg.truncate.rels[0]->relname, "audit");
}

/* A transaction replayed from another origin: Origin follows Begin, and the
 * commit time is the one pg_replication_origin_xact_setup() gave. */
static void test_origin(void **state)
{
	struct stream *s = *state;
	struct pgoutput_msg msg;
	/* 2024-05-06 07:08:09 UTC in wire form */
	const int64_t origin_time = INT64_C(768294489000000);

	decode_fx(s, "origin", 'B', 0, &msg);
	assert_int_equal(msg.begin.commit_time, origin_time);
	decode_fx(s, "origin", 'O', 0, &msg);
	assert_string_equal(msg.origin.name, "upstream");
	assert_int_equal(msg.origin.commit_lsn, UINT64_C(0xABCDEF0));
	decode_fx(s, "origin", 'I', 0, &msg);
	assert_text(col(msg.change.rel, &msg.change.new_tuple, "what"), "replicated");
}

static void test_message(void **state)
{
	struct stream *s = *state;
	struct pgoutput_msg msg;

	decode_fx(s, "message", 'M', 0, &msg);
	assert_false(msg.message.transactional);
	assert_string_equal(msg.message.prefix, "cdc");
	assert_int_equal(msg.message.len, strlen("not transactional"));
	assert_memory_equal(msg.message.content, "not transactional", msg.message.len);

	decode_fx(s, "message", 'M', 1, &msg);
	assert_true(msg.message.transactional);
	assert_string_equal(msg.message.prefix, "cdc");
	assert_int_equal(msg.message.len, 5);
	assert_memory_equal(msg.message.content, "hello", 5);
}

/* ---- bad input ---- */

/* Every captured message, cut at every shorter length, fails cleanly, names
 * its type and offset, and leaves the relation cache as it was. */
static void test_truncated(void **state)
{
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;
	struct pgoutput_msg msg;

	for (size_t i = 0; i < N_FIXTURES; i++) {
		const struct pgoutput_fixture *f = &pgoutput_fixtures[i];
		const char *name = pgoutput_msg_type_name(f->data[0]);
		uint32_t oid = (uint32_t)f->data[1] << 24 | f->data[2] << 16 | f->data[3] << 8 |
			       f->data[4];
		const struct pgoutput_relation *before = pgoutput_relation_find(dec, oid);

		for (size_t len = 0; len < f->len; len++) {
			if (len == 0)
				expect_fail(dec, f->data, len, "empty message", NULL);
			else
				expect_fail(dec, f->data, len, name, "offset", NULL);
			if (f->data[0] == 'R')
				assert_ptr_equal(pgoutput_relation_find(dec, oid), before);
		}
		assert_true(pgoutput_decode(dec, (const char *)f->data, f->len, &msg));
	}
}

/* Every captured message with each byte in turn replaced by values that
 * upset length fields and tags: whatever the outcome, no read out of bounds
 * (the sanitizer build checks) and a consistent cache. */
static void test_corrupted(void **state)
{
	static const unsigned char subst[] = { 0x00, 0x01, 0x7f, 0x80, 0xff, 'n', 'u', 't', 'K' };
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;
	unsigned ok = 0, failed = 0;
	bool genuine_ok = true;
	struct pgoutput_msg msg;
	char *log;

	capture_begin();
	for (size_t i = 0; i < N_FIXTURES; i++) {
		const struct pgoutput_fixture *f = &pgoutput_fixtures[i];
		char *c = copy_bytes(f->data, f->len);

		for (size_t pos = 0; pos < f->len; pos++) {
			for (size_t k = 0; k < ARRAY_LEN(subst); k++) {
				c[pos] = (char)subst[k];
				if (pgoutput_decode(dec, c, f->len, &msg))
					ok++;
				else
					failed++;
			}
			c[pos] = (char)f->data[pos];
		}
		free(c);
		/* The genuine message puts the stream back on track. */
		if (!pgoutput_decode(dec, (const char *)f->data, f->len, &msg))
			genuine_ok = false;
	}
	log = capture_end();
	free(log);
	assert_true(genuine_ok);
	assert_true(ok > 0);
	assert_true(failed > 0);
}

static void test_unknown_type(void **state)
{
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;

	expect_fail(dec, "Zabc", 4, "unknown message type 'Z' (0x5a) at offset 0", NULL);
	expect_fail(dec, "\x01", 1, "unknown message type 0x01 at offset 0", NULL);
	/* Protocol version 2 streaming: named, but refused. */
	expect_fail(dec, "S\x00\x00\x02\xd5\x01", 6, "Stream Start", "protocol version 1", NULL);
}

static void test_unknown_relation(void **state)
{
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;
	static const struct {
		const char *step;
		char type;
	} cases[] = {
		{ "insert_items", 'I' }, { "update_pk", 'U' }, { "delete_items", 'D' },
		{ "truncate_cascade", 'T' },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct pgoutput_fixture *f = fx(cases[i].step, cases[i].type, 0);

		expect_fail(dec, f->data, f->len, pgoutput_msg_type_name(f->data[0]),
			    "has no Relation message", NULL);
	}
}

static void test_malformed(void **state)
{
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;
	const struct pgoutput_relation *rel;
	const struct pgoutput_fixture *f;
	struct pgoutput_msg msg;
	struct mbuf m;

	build_relation(&m, 42, "b");
	assert_true(decode_copy(dec, m.b, m.n, &msg));
	rel = pgoutput_relation_find(dec, 42);
	assert_non_null(rel);

	/* Trailing bytes. */
	f = fx("insert_items", 'B', 0);
	memcpy(m.b, f->data, f->len);
	m.n = f->len;
	put8(&m, 0);
	expect_fail(dec, m.b, m.n, "Begin message, offset 21: 1 byte(s) after the end of the message", NULL);

	/* A bad Relation leaves the cached one in place. */
	build_relation(&m, 42, "b");
	m.b[1 + 4 + 7 + 2] = 'x';
	expect_fail(dec, m.b, m.n, "Relation message, offset 14", "replica identity", NULL);
	assert_ptr_equal(pgoutput_relation_find(dec, 42), rel);
	/* A forged column count allocates nothing. */
	build_relation(&m, 42, "b");
	m.b[15] = 0xff;
	m.b[16] = 0xff;
	expect_fail(dec, m.b, m.n, "65535 columns need at least", NULL);
	assert_ptr_equal(pgoutput_relation_find(dec, 42), rel);
	/* A string without its NUL. */
	m.n = 0;
	put8(&m, 'Y');
	put32(&m, 16385);
	putstr(&m, "public");
	put8(&m, 'm');
	expect_fail(dec, m.b, m.n, "Type message: type name at offset 12 has no terminating NUL",
		    NULL);

	/* Tuples. */
	m.n = 0;
	put8(&m, 'I');
	put32(&m, 42);
	put8(&m, 'N');
	put16(&m, 2);
	put_text(&m, "1");
	put8(&m, 'u');
	expect_fail(dec, m.b, m.n, "Insert message, offset 14", "'unchanged TOAST'", NULL);
	m.b[m.n - 1] = 'x';
	expect_fail(dec, m.b, m.n, "column b of public.t has kind 0x78", NULL);
	m.b[m.n - 1] = 't';
	put32(&m, UINT32_MAX);
	expect_fail(dec, m.b, m.n, "Insert message, offset 15: column value length is negative",
		    NULL);
	m.n -= 4;
	put32(&m, 1000);
	put8(&m, 'z');
	expect_fail(dec, m.b, m.n, "column value needs 1000 bytes at offset 19, 1 left", NULL);
	m.b[6] = 0; /* column count */
	m.b[7] = 3;
	expect_fail(dec, m.b, m.n, "tuple has 3 columns but relation public.t has 2", NULL);

	m.n = 0;
	put8(&m, 'U');
	put32(&m, 42);
	put8(&m, 'X');
	expect_fail(dec, m.b, m.n, "Update message, offset 5: tuple tag is 0x58", NULL);
	m.b[0] = 'D';
	m.b[5] = 'N';
	expect_fail(dec, m.b, m.n, "expected one of KO", NULL);
	/* K tuple, then something other than the new tuple. */
	m.n = 0;
	put8(&m, 'U');
	put32(&m, 42);
	put8(&m, 'K');
	put16(&m, 2);
	put_text(&m, "1");
	put8(&m, 'n');
	put8(&m, 'K');
	expect_fail(dec, m.b, m.n, "expected one of N", NULL);
	m.b[m.n - 1] = 'N';
	put16(&m, 2);
	put_text(&m, "2");
	put8(&m, 'u');
	assert_true(decode_copy(dec, m.b, m.n, &msg));
	assert_int_equal(msg.change.old_kind, PGOUTPUT_OLD_KEY);
	assert_int_equal(msg.change.new_tuple.values[1].kind, PGOUTPUT_UNCHANGED);

	/* Truncate. */
	m.n = 0;
	put8(&m, 'T');
	put32(&m, 0x7fffffff);
	put8(&m, 0);
	put32(&m, 42);
	expect_fail(dec, m.b, m.n, "2147483647 relation OIDs need 8589934588 bytes", NULL);
	m.b[1] = m.b[2] = m.b[3] = 0;
	m.b[4] = 1;
	m.b[5] = 4;
	expect_fail(dec, m.b, m.n, "Truncate message, offset 5: unknown option bits 0x04", NULL);
	m.b[5] = 0;
	assert_true(decode_copy(dec, m.b, m.n, &msg));
	assert_ptr_equal(msg.truncate.rels[0], rel);
}

/* Many relations: the cache grows and finds each; re-sent relations replace. */
static void test_relation_cache(void **state)
{
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;
	struct pgoutput_msg msg;
	struct mbuf m;

	assert_null(pgoutput_relation_find(dec, 1));
	for (uint32_t oid = 16384; oid < 16384 + 3000; oid += 3) {
		build_relation(&m, oid, "b");
		assert_true(decode_copy(dec, m.b, m.n, &msg));
		assert_true(msg.relation.changed);
	}
	for (uint32_t oid = 16384; oid < 16384 + 3000; oid++) {
		const struct pgoutput_relation *rel = pgoutput_relation_find(dec, oid);

		if ((oid - 16384) % 3) {
			assert_null(rel);
			continue;
		}
		assert_non_null(rel);
		assert_int_equal(rel->oid, oid);
		assert_string_equal(rel->cols[1].name, "b");
	}
	build_relation(&m, 16384, "b");
	assert_true(decode_copy(dec, m.b, m.n, &msg));
	assert_false(msg.relation.changed);
	build_relation(&m, 16384, "renamed");
	assert_true(decode_copy(dec, m.b, m.n, &msg));
	assert_true(msg.relation.changed);
	assert_int_equal(msg.relation.rel->generation, 3);
	assert_string_equal(pgoutput_relation_find(dec, 16384)->cols[1].name, "renamed");
}

/* ---- streaming replication framing ---- */

static void test_xlogdata(void **state)
{
	const struct pgoutput_fixture *f = fx("update_toast", 'U', 0);
	struct stream *s = *state;
	struct pgoutput_decoder *dec = &s->dec;
	struct pgoutput_xlogdata xd;
	struct pgoutput_msg msg;
	struct mbuf m = { .n = 0 };
	char *c, *log;
	bool ok;

	put8(&m, 'w');
	put64(&m, UINT64_C(0x100000028));
	put64(&m, UINT64_C(0x200000000));
	put64(&m, UINT64_C(0xfffffffffffffffe)); /* before 2000: negative */
	for (size_t i = 0; i < f->len; i++)
		put8(&m, f->data[i]);
	c = copy_bytes(m.b, m.n);
	assert_true(pgoutput_parse_xlogdata(c, m.n, &xd));
	assert_int_equal(xd.data_start, UINT64_C(0x100000028));
	assert_int_equal(xd.wal_end, UINT64_C(0x200000000));
	assert_true(xd.send_time == -2);
	assert_ptr_equal(xd.data, c + 25);
	assert_int_equal(xd.len, f->len);
	decode_through(s, fx_index("update_toast", 'R', 0), &msg);
	assert_true(pgoutput_decode(dec, xd.data, xd.len, &msg));
	assert_int_equal(msg.type, PGOUTPUT_UPDATE);
	free(c);

	/* The header alone is a valid, empty XLogData. */
	c = copy_bytes(m.b, 25);
	assert_true(pgoutput_parse_xlogdata(c, 25, &xd));
	assert_int_equal(xd.len, 0);
	free(c);
	for (size_t len = 0; len < 25; len++) {
		c = copy_bytes(m.b, len);
		capture_begin();
		ok = pgoutput_parse_xlogdata(c, len, &xd);
		log = capture_end();
		assert_false(ok);
		assert_non_null(strstr(log, "truncated XLogData message"));
		free(log);
		free(c);
	}
	m.b[0] = 'k';
	capture_begin();
	ok = pgoutput_parse_xlogdata((const char *)m.b, m.n, &xd);
	log = capture_end();
	assert_false(ok);
	assert_non_null(strstr(log, "XLogData message, offset 0: type byte is 0x6b"));
	free(log);
}

static void test_keepalive(void **state)
{
	struct pgoutput_keepalive ka;
	struct mbuf m = { .n = 0 };
	char *c, *log;
	bool ok;

	(void)state;
	put8(&m, 'k');
	put64(&m, UINT64_C(0x16B374D848));
	put64(&m, UINT64_C(768294489000000));
	put8(&m, 1);
	c = copy_bytes(m.b, m.n);
	assert_true(pgoutput_parse_keepalive(c, m.n, &ka));
	assert_int_equal(ka.wal_end, UINT64_C(0x16B374D848));
	assert_int_equal(ka.send_time, INT64_C(768294489000000));
	assert_true(ka.reply_requested);
	free(c);
	m.b[17] = 0;
	assert_true(pgoutput_parse_keepalive((const char *)m.b, m.n, &ka));
	assert_false(ka.reply_requested);

	for (size_t len = 0; len < m.n; len++) {
		c = copy_bytes(m.b, len);
		capture_begin();
		ok = pgoutput_parse_keepalive(c, len, &ka);
		log = capture_end();
		assert_false(ok);
		assert_non_null(strstr(log, "truncated primary keepalive message"));
		free(log);
		free(c);
	}
	put8(&m, 0);
	capture_begin();
	ok = pgoutput_parse_keepalive((const char *)m.b, m.n, &ka);
	log = capture_end();
	assert_false(ok);
	assert_non_null(strstr(log, "offset 18: 1 byte(s) after the end of the message"));
	free(log);
}

static void test_status_update(void **state)
{
	static const unsigned char expected[PGOUTPUT_STATUS_UPDATE_LEN] = {
		'r',
		0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x48, /* written */
		0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x00, /* flushed */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* applied */
		0x00, 0x02, 0xba, 0xc2, 0x80, 0x19, 0x88, 0x40, /* 2024-05-06 07:08:09 */
		1,
	};
	const struct pgoutput_status st = {
		.written = UINT64_C(0x16B374D848),
		.flushed = UINT64_C(0x16B374D800),
		.applied = 1,
		.now = INT64_C(768294489000000),
		.reply_requested = true,
	};
	char out[PGOUTPUT_STATUS_UPDATE_LEN];

	(void)state;
	pgoutput_build_status_update(&st, out);
	assert_memory_equal(out, expected, sizeof(expected));
}

#define T(f) cmocka_unit_test_setup_teardown(f, dec_setup, dec_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_stream),
		T(test_begin_commit),
		T(test_relation_and_type),
		T(test_insert_types),
		T(test_update_without_old),
		T(test_update_primary_key),
		T(test_update_unchanged_toast),
		T(test_replica_identity_full),
		T(test_delete_key),
		T(test_schema_change),
		T(test_relation_resent),
		T(test_truncate),
		T(test_origin),
		T(test_message),
		T(test_truncated),
		T(test_corrupted),
		T(test_unknown_type),
		T(test_unknown_relation),
		T(test_malformed),
		T(test_relation_cache),
		T(test_xlogdata),
		T(test_keepalive),
		T(test_status_update),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
