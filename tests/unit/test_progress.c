/*
 * tests/unit/test_progress.c: the progress file of capture and apply
 * (agent/pipeline/progress.c): write/read round trip, a missing file (false, nothing
 * logged), a damaged one (false, logged), the writer's once-a-second
 * rhythm and its copy of the process's last error; and the size values of
 * topology keys (agent/config/topo_values.c size_parse).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/log.h"
#include "base/util.h"
#include "config/topo_values.h"
#include "pipeline/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char work_dir[] = "/tmp/cdc-progress.XXXXXX";

#include "stderr_capture.h"

static void test_round_trip(void **state)
{
	struct progress in = { 18446744073709551000ULL, 1732540000123456, 1732540001000000, 4242,
			       (char *)"source db1: lost the connection: \"x\"\nsecond line", NULL };
	struct progress out;
	struct stat st;
	bool exists;
	char *path = xasprintf("%s/progress-capture-p1.json", work_dir);

	(void)state;
	assert_true(progress_write(work_dir, "capture", "p1", &in));
	assert_true(progress_read(work_dir, "capture", "p1", &out, &exists));
	assert_true(exists);
	assert_true(out.events == in.events);
	assert_true(out.last_event_usec == in.last_event_usec);
	assert_true(out.updated_usec == in.updated_usec);
	assert_int_equal(out.pid, 4242);
	assert_string_equal(out.last_error, in.last_error);
	progress_fini(&out);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* No error: null, read back as NULL. */
	in.last_error = NULL;
	assert_true(progress_write(work_dir, "apply", "p1", &in));
	assert_true(progress_read(work_dir, "apply", "p1", &out, &exists));
	assert_null(out.last_error);
	progress_fini(&out);
	free(path);
}

static void test_missing_file_logs_nothing(void **state)
{
	struct progress p;
	bool exists = true;
	char *err;

	(void)state;
	capture_begin();
	assert_false(progress_read(work_dir, "capture", "nobody", &p, &exists));
	err = capture_end();
	assert_false(exists);
	assert_string_equal(err, "");
	assert_null(p.last_error);
	free(err);
	/* A state directory that does not exist is the same answer. */
	assert_false(progress_read("/nonexistent/cdc", "apply", "p1", &p, &exists));
	assert_false(exists);
}

static void test_damaged_file_is_an_error(void **state)
{
	char *path = xasprintf("%s/progress-apply-bad.json", work_dir);
	FILE *f = fopen(path, "w");
	struct progress p;
	bool exists;
	char *err;

	(void)state;
	assert_non_null(f);
	fputs("{\"events\": \"many\"}", f);
	fclose(f);
	capture_begin();
	assert_false(progress_read(work_dir, "apply", "bad", &p, &exists));
	err = capture_end();
	assert_true(exists);
	assert_non_null(strstr(err, "progress-apply-bad.json"));
	free(err);
	free(path);
}

static void test_writer_counts_and_keeps_last_error(void **state)
{
	struct progress_writer w;
	struct progress p;
	bool exists;
	char *err;

	(void)state;
	progress_writer_init(&w, work_dir, "apply", "w1");
	progress_writer_tick(&w, true);
	assert_true(progress_read(work_dir, "apply", "w1", &p, &exists));
	assert_true(p.events == 0);
	assert_int_equal(p.pid, getpid());
	assert_true(p.updated_usec > 0);
	progress_fini(&p);

	progress_writer_event(&w, 1000);
	progress_writer_event(&w, 0); /* unknown commit time keeps the last one */
	progress_writer_tick(&w, false); /* within the second: not written */
	assert_true(progress_read(work_dir, "apply", "w1", &p, &exists));
	assert_true(p.events == 0);
	progress_fini(&p);

	capture_begin();
	log_error("target db2: cannot connect to 127.0.0.1:1");
	err = capture_end();
	free(err);
	progress_writer_fini(&w, true);
	assert_true(progress_read(work_dir, "apply", "w1", &p, &exists));
	assert_true(p.events == 2);
	assert_true(p.last_event_usec == 1000);
	assert_string_equal(p.last_error, "target db2: cannot connect to 127.0.0.1:1");
	progress_fini(&p);
}

/* Members set by the process's parts come back whole; the fixed fields
 * cannot be overridden by them. */
static void test_writer_extra_members(void **state)
{
	struct progress_writer w;
	struct progress p;
	bool exists;

	(void)state;
	progress_writer_init(&w, work_dir, "capture", "x1");
	progress_writer_set(&w, "config_digest", json_string("abc"));
	progress_writer_set(&w, "events", json_integer(99)); /* shadowed by the field */
	progress_writer_set(&w, "gone", json_true());
	progress_writer_set(&w, "gone", NULL);
	progress_writer_tick(&w, true);
	assert_true(progress_read(work_dir, "capture", "x1", &p, &exists));
	assert_true(p.events == 0);
	assert_string_equal(json_string_value(json_object_get(p.extra, "config_digest")), "abc");
	assert_null(json_object_get(p.extra, "gone"));
	assert_null(json_object_get(p.extra, "events"));
	progress_fini(&p);
	progress_writer_fini(&w, false);
}

static void test_size_parse(void **state)
{
	struct strbuf err;
	int64_t b = 0;

	(void)state;
	strbuf_init(&err);
	assert_true(size_parse("10GB", 0, &b, &err));
	assert_true(b == 10LL << 30);
	assert_true(size_parse("512kB", 0, &b, &err));
	assert_true(b == 512LL << 10);
	assert_true(size_parse("7B", 0, &b, &err));
	assert_true(b == 7);
	assert_true(size_parse("10240", 1 << 20, &b, &err));
	assert_true(b == 10LL << 30);
	assert_false(size_parse("10240", 0, &b, &err));
	assert_non_null(strstr(err.data, "no unit"));
	err.len = 0;
	assert_false(size_parse("10gb", 0, &b, &err));
	assert_non_null(strstr(err.data, "as PostgreSQL does: 10GB"));
	err.len = 0;
	assert_false(size_parse("-1", 1 << 20, &b, &err));
	assert_false(size_parse("99999999999TB", 0, &b, &err));
	assert_non_null(strstr(err.data, "too large"));
	strbuf_fini(&err);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(work_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", work_dir);
	int rc;

	(void)state;
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_missing_file_logs_nothing),
		cmocka_unit_test(test_damaged_file_is_an_error),
		cmocka_unit_test(test_writer_counts_and_keeps_last_error),
		cmocka_unit_test(test_writer_extra_members),
		cmocka_unit_test(test_size_parse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
