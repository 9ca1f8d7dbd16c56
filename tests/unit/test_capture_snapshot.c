/*
 * tests/unit/test_capture_snapshot.c: the watermark window of incremental
 * snapshots (agent/capture/capture_snapshot.c): only the chunk in flight's own
 * watermarks, in order, open and close it; only changes of its table
 * between them drop chunk rows; hostile messages change nothing; keys are
 * encoded without ambiguity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "capture/capture_snapshot.h"

#include <stdio.h>
#include <string.h>

#define ID "0123456789abcdef0123456789abcdef"
#define OTHER_ID "fedcba9876543210fedcba9876543210"
#define LOW "{\"watermark\":\"low\",\"id\":\"" ID "\"}"
#define HIGH "{\"watermark\":\"high\",\"id\":\"" ID "\"}"

static enum window_verdict msg(struct snapshot_window *w, const char *prefix, const char *content)
{
	return snapshot_window_message(w, prefix, content, strlen(content));
}

static void change_in(struct snapshot_window *w, uint32_t oid, uint32_t xid, const char *key)
{
	snapshot_window_change(w, oid, xid, key, strlen(key));
}

/* A transaction every chunk's snapshot below sees. */
static void change(struct snapshot_window *w, uint32_t oid, const char *key)
{
	change_in(w, oid, 3, key);
}

static bool dropped(struct snapshot_window *w, const char *key)
{
	return snapshot_window_dropped(w, key, strlen(key));
}

static void test_window_in_order(void **state)
{
	struct snapshot_window w;

	(void)state;
	snapshot_window_init(&w);
	/* Idle: even our own prefix and a well-formed mark are ignored. */
	assert_int_equal(msg(&w, "cdc-agent", LOW), WINDOW_IGNORED);
	snapshot_window_arm(&w, ID, 42);
	assert_true(snapshot_window_snapshot(&w, "10:12:"));
	change(&w, 42, "k1"); /* before the low watermark: committed before the SELECT */
	assert_int_equal(msg(&w, "cdc-agent", HIGH), WINDOW_IGNORED); /* high before low */
	assert_int_equal(msg(&w, "cdc-agent", LOW), WINDOW_OPENED);
	assert_false(dropped(&w, "k1"));
	assert_int_equal(msg(&w, "cdc-agent", LOW), WINDOW_IGNORED); /* twice */
	change(&w, 42, "k2");
	change(&w, 7, "k3"); /* another table */
	assert_true(dropped(&w, "k2"));
	assert_false(dropped(&w, "k3"));
	assert_int_equal(msg(&w, "cdc-agent", HIGH), WINDOW_CLOSED);
	assert_int_equal(w.phase, WINDOW_IDLE);
	/* The verdict on the chunk's rows holds after the close... */
	assert_true(dropped(&w, "k2"));
	/* ...and later changes no longer count. */
	change(&w, 42, "k4");
	assert_false(dropped(&w, "k4"));
	assert_int_equal(msg(&w, "cdc-agent", HIGH), WINDOW_IGNORED); /* replayed */
	/* The next chunk starts with nothing dropped. */
	snapshot_window_arm(&w, OTHER_ID, 42);
	assert_false(dropped(&w, "k2"));
	assert_false(w.truncated);
	snapshot_window_fini(&w);
}

static void test_window_hostile(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[\"low\"]",
		"{\"watermark\":\"low\"}",
		"{\"id\":\"" ID "\"}",
		"{\"watermark\":\"middle\",\"id\":\"" ID "\"}",
		"{\"watermark\":1,\"id\":\"" ID "\"}",
		"{\"watermark\":\"low\",\"id\":12}",
		"{\"watermark\":\"low\",\"id\":\"" OTHER_ID "\"}",
		"{\"watermark\":\"low\",\"id\":\"" ID "x\"}",
		"{\"watermark\":\"low\",\"watermark\":\"high\",\"id\":\"" ID "\"}",
		"{\"watermark\":\"low\",\"id\":\"" ID "\"",
	};
	struct snapshot_window w;

	(void)state;
	snapshot_window_init(&w);
	snapshot_window_arm(&w, ID, 42);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(msg(&w, "cdc-agent", bad[i]), WINDOW_IGNORED);
	/* Our mark under another prefix, or none. */
	assert_int_equal(msg(&w, "cdc-agent.signal", LOW), WINDOW_IGNORED);
	assert_int_equal(msg(&w, "cdc-agentx", LOW), WINDOW_IGNORED);
	assert_int_equal(snapshot_window_message(&w, NULL, LOW, strlen(LOW)), WINDOW_IGNORED);
	/* Content is bytes with a length, not a C string: cut short, it is
	 * not the mark. */
	assert_int_equal(snapshot_window_message(&w, "cdc-agent", LOW, strlen(LOW) - 2),
			 WINDOW_IGNORED);
	assert_int_equal(w.phase, WINDOW_WAIT_LOW);
	assert_int_equal(msg(&w, "cdc-agent", LOW), WINDOW_OPENED);
	snapshot_window_fini(&w);
}

static void test_key_encode(void **state)
{
	struct column_schema cols[3] = { { .name = "a" }, { .name = "b" }, { .name = "c" } };
	size_t key_cols[2] = { 2, 0 };
	struct table_schema ts = { .ncols = 3, .cols = cols, .nkey = 2, .key_cols = key_cols };
	struct pgoutput_value r1[3] = { { PGOUTPUT_TEXT, 1, "1" },
					{ PGOUTPUT_NULL, 0, NULL },
					{ PGOUTPUT_TEXT, 2, "23" } };
	struct pgoutput_value r2[3] = { { PGOUTPUT_TEXT, 2, "31" },
					{ PGOUTPUT_TEXT, 1, "x" },
					{ PGOUTPUT_TEXT, 1, "2" } };
	struct pgoutput_value r3[3] = { { PGOUTPUT_NULL, 0, NULL },
					{ PGOUTPUT_TEXT, 1, "x" },
					{ PGOUTPUT_TEXT, 1, "2" } };
	struct strbuf a, b;
	char *first;

	(void)state;
	strbuf_init(&a);
	strbuf_init(&b);
	/* ("23","1") and ("2","31") concatenate alike, but are other keys;
	 * non-key columns play no part. */
	assert_true(snapshot_key_encode(&a, &ts, r1));
	assert_true(snapshot_key_encode(&b, &ts, r2));
	assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	first = strbuf_detach(&a);
	strbuf_init(&a);
	r1[1] = (struct pgoutput_value){ PGOUTPUT_TEXT, 3, "zzz" };
	assert_true(snapshot_key_encode(&a, &ts, r1));
	assert_memory_equal(a.data, first, a.len);
	/* A key column without a text value: no key. */
	assert_false(snapshot_key_encode(&a, &ts, r3));
	ts.nkey = 0;
	assert_false(snapshot_key_encode(&a, &ts, r2));
	free(first);
	strbuf_fini(&a);
	strbuf_fini(&b);
}

static void test_window_keys_by_bytes(void **state)
{
	struct snapshot_window w;

	(void)state;
	snapshot_window_init(&w);
	snapshot_window_arm(&w, ID, 1);
	assert_int_equal(msg(&w, "cdc-agent", LOW), WINDOW_OPENED);
	snapshot_window_change(&w, 1, 3, "a\0b", 3);
	assert_true(snapshot_window_dropped(&w, "a\0b", 3));
	assert_false(snapshot_window_dropped(&w, "a\0c", 3));
	assert_false(snapshot_window_dropped(&w, "a", 1));
	snapshot_window_fini(&w);
}

/* WAL commit order is not visibility order: a transaction committed before
 * the low watermark in the stream, still running for the chunk's SELECT
 * (97: a pgbench DELETE whose commit another backend's flush wrote; the
 * chunk's row then went out after the delete, one row too many on the
 * target).  Its keys are dropped, as long as the chunk's snapshot does not
 * see it; those it sees are forgotten. */
static void test_window_invisible_before_low(void **state)
{
	struct snapshot_window w;

	(void)state;
	snapshot_window_init(&w);
	snapshot_window_watch(&w, 42);
	change_in(&w, 42, 106, "k0"); /* between the previous close and this chunk */
	snapshot_window_arm(&w, ID, 42);
	assert_true(snapshot_window_snapshot(&w, "100:105:102,104"));
	change_in(&w, 42, 102, "k1"); /* before the low watermark, not in the SELECT */
	change_in(&w, 42, 101, "k2"); /* before the low watermark, in the SELECT */
	change_in(&w, 42, 103, "k3"); /* idem (below xmax, not running) */
	change_in(&w, 7, 104, "k4");  /* another table */
	change_in(&w, 42, 99, "k5");  /* below xmin */
	assert_int_equal(msg(&w, "cdc-agent", LOW), WINDOW_OPENED);
	assert_false(dropped(&w, "k1"));
	assert_int_equal(msg(&w, "cdc-agent", HIGH), WINDOW_CLOSED);
	assert_true(dropped(&w, "k0"));  /* at or above xmax */
	assert_true(dropped(&w, "k1"));
	assert_false(dropped(&w, "k2"));
	assert_false(dropped(&w, "k3"));
	assert_false(dropped(&w, "k4"));
	assert_false(dropped(&w, "k5"));
	assert_int_equal(w.nrecent, 2);
	/* Still running for the next chunk's snapshot: dropped again. */
	snapshot_window_arm(&w, OTHER_ID, 42);
	assert_true(snapshot_window_snapshot(&w, "102:110:102"));
	assert_int_equal(msg(&w, "cdc-agent", "{\"watermark\":\"low\",\"id\":\"" OTHER_ID "\"}"),
			 WINDOW_OPENED);
	assert_int_equal(msg(&w, "cdc-agent", "{\"watermark\":\"high\",\"id\":\"" OTHER_ID "\"}"),
			 WINDOW_CLOSED);
	assert_true(dropped(&w, "k1"));
	assert_false(dropped(&w, "k0"));
	assert_int_equal(w.nrecent, 1);
	/* Seen at last: forgotten. */
	snapshot_window_arm(&w, ID, 42);
	assert_true(snapshot_window_snapshot(&w, "110:110:"));
	assert_int_equal(msg(&w, "cdc-agent", LOW), WINDOW_OPENED);
	assert_int_equal(msg(&w, "cdc-agent", HIGH), WINDOW_CLOSED);
	assert_false(dropped(&w, "k1"));
	assert_int_equal(w.nrecent, 0);
	/* No snapshot known (it did not parse): every change kept drops. */
	change_in(&w, 42, 3, "k5"); /* seen by the last snapshot: not kept */
	assert_int_equal(w.nrecent, 0);
	snapshot_window_arm(&w, OTHER_ID, 42);
	assert_false(snapshot_window_snapshot(&w, "110:x"));
	assert_false(snapshot_window_snapshot(&w, "110:111:5,"));
	assert_false(snapshot_window_snapshot(&w, NULL));
	change_in(&w, 42, 3, "k6");
	assert_int_equal(msg(&w, "cdc-agent", "{\"watermark\":\"low\",\"id\":\"" OTHER_ID "\"}"),
			 WINDOW_OPENED);
	assert_int_equal(msg(&w, "cdc-agent", "{\"watermark\":\"high\",\"id\":\"" OTHER_ID "\"}"),
			 WINDOW_CLOSED);
	assert_true(dropped(&w, "k6"));
	assert_false(dropped(&w, "k5"));
	/* Another table forgets them; xids of another epoch compare by 32 bits. */
	snapshot_window_watch(&w, 43);
	assert_int_equal(w.nrecent, 0);
	change_in(&w, 43, 4294967295u, "k7"); /* epoch 0's last xid */
	snapshot_window_arm(&w, ID, 43);
	assert_true(snapshot_window_snapshot(&w, "4294967300:4294967301:"));
	assert_int_equal(msg(&w, "cdc-agent", LOW), WINDOW_OPENED);
	assert_int_equal(msg(&w, "cdc-agent", HIGH), WINDOW_CLOSED);
	assert_false(dropped(&w, "k7"));
	snapshot_window_fini(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_in_order),
		cmocka_unit_test(test_window_hostile),
		cmocka_unit_test(test_key_encode),
		cmocka_unit_test(test_window_keys_by_bytes),
		cmocka_unit_test(test_window_invisible_before_low),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
