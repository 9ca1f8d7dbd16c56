/*
 * tests/unit/test_event_counts.c: events by table and op (agent/
 * event_counts.c): a transaction's deltas (one table inline, more
 * spilled), added only when applied; the JSON shape read back; refused
 * shapes; capture's file round trip with its LSN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/log.h"
#include "base/util.h"
#include "pipeline/event_counts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char work_dir[] = "/tmp/cdc-event-counts.XXXXXX";

#include "stderr_capture.h"

static void test_deltas(void **unused)
{
	struct event_counts c;
	struct event_deltas d = { 0 };
	size_t a, b, x;

	(void)unused;
	event_counts_init(&c);
	a = event_counts_index(&c, "public.a");
	b = event_counts_index(&c, "public.b");
	x = event_counts_index(&c, "s.x");
	assert_int_equal(event_counts_index(&c, "public.a"), a);
	assert_int_equal(c.n, 3);
	for (int i = 0; i < 5; i++)
		event_deltas_add(&d, a, event_op_index('c'));
	event_deltas_add(&d, b, event_op_index('u'));
	event_deltas_add(&d, x, event_op_index('d'));
	event_deltas_add(&d, b, event_op_index('u'));
	event_deltas_add(&d, a, event_op_index('t'));
	assert_int_equal(d.n, 3);
	/* nothing counted until applied */
	assert_int_equal(event_counts_total(&c), 0);
	event_deltas_apply(&d, &c);
	event_deltas_apply(&d, &c);
	assert_int_equal(c.t[a].op[EVENT_OP_C], 10);
	assert_int_equal(c.t[a].op[EVENT_OP_T], 2);
	assert_int_equal(c.t[b].op[EVENT_OP_U], 4);
	assert_int_equal(c.t[x].op[EVENT_OP_D], 2);
	assert_int_equal(event_counts_total(&c), 18);
	event_deltas_clear(&d);
	assert_int_equal(d.n, 0);
	event_deltas_add(&d, b, EVENT_OP_R);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.first.table, b);
	event_deltas_clear(&d);
	assert_int_equal(event_op_index('x'), -1);
	assert_string_equal(event_op_codes, "cudrt");
	event_counts_fini(&c);
}

static void test_json(void **unused)
{
	struct event_counts c, back;
	struct strbuf why;
	json_t *j, *bad;

	(void)unused;
	event_counts_init(&c);
	event_counts_init(&back);
	strbuf_init(&why);
	event_counts_get(&c, "public.t")->op[EVENT_OP_R] = 9007199254740993ULL;
	event_counts_get(&c, "public.u")->op[EVENT_OP_D] = 3;
	j = event_counts_json(&c);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "public.t"), "r")),
			 9007199254740993LL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "public.u"), "c")), 0);
	assert_true(event_counts_add_json(&back, j, &why));
	assert_true(event_counts_add_json(&back, j, &why)); /* adds */
	assert_int_equal(event_counts_get(&back, "public.u")->op[EVENT_OP_D], 6);
	json_decref(j);

	for (const char *const *t = (const char *const[]){ "[]", "{\"a\": 1}", "{\"a\": {\"x\": 1}}",
							   "{\"a\": {\"c\": -1}}",
							   "{\"a\": {\"cu\": 1}}",
							   "{\"a\": {\"c\": \"1\"}}", NULL };
	     *t; t++) {
		bad = json_loads(*t, JSON_DECODE_ANY, NULL);
		assert_non_null(bad);
		why.len = 0;
		assert_false(event_counts_add_json(&back, bad, &why));
		assert_true(why.len > 0);
		json_decref(bad);
	}
	/* a refused shape adds nothing */
	assert_int_equal(event_counts_total(&back), 2 * (9007199254740993ULL + 3));
	strbuf_fini(&why);
	event_counts_fini(&back);
	event_counts_fini(&c);
}

static void test_file(void **unused)
{
	struct event_counts c, back;
	struct strbuf why;
	uint64_t lsn;
	char *path, *path2, *text;
	FILE *f;

	(void)unused;
	event_counts_init(&c);
	event_counts_init(&back);
	strbuf_init(&why);
	/* missing: nothing counted, LSN 0 */
	assert_true(event_counts_load(work_dir, "db1", &back, &lsn, &path));
	assert_int_equal(back.n, 0);
	assert_int_equal(lsn, 0);
	event_counts_get(&c, "public.t")->op[EVENT_OP_U] = 7;
	assert_true(event_counts_save(path, &c, 0x1A2B3C4D5EULL, &why));
	assert_true(event_counts_load(work_dir, "db1", &back, &lsn, &path2));
	assert_string_equal(path, path2);
	assert_true(lsn == 0x1A2B3C4D5EULL);
	assert_int_equal(event_counts_get(&back, "public.t")->op[EVENT_OP_U], 7);
	event_counts_fini(&back);
	free(path2);

	/* damaged: an error naming the file */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"version\": 1, \"events_by_table\": {}}", f);
	fclose(f);
	capture_begin();
	assert_false(event_counts_load(work_dir, "db1", &back, &lsn, &path2));
	text = capture_end();
	assert_non_null(strstr(text, path));
	free(text);
	free(path2);
	unlink(path);
	free(path);
	strbuf_fini(&why);
	event_counts_fini(&back);
	event_counts_fini(&c);
}

static int setup(void **unused)
{
	(void)unused;
	return mkdtemp(work_dir) ? 0 : -1;
}

static int teardown(void **unused)
{
	(void)unused;
	rmdir(work_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deltas),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
