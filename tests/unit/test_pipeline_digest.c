/*
 * tests/unit/test_pipeline_digest.c: pipeline_config_digest is equal for
 * equal configurations (however spelled), differs when a value its process
 * uses changes, and ignores other pipelines and values it does not use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "config/topology.h"
#include "pipeline/pipeline_digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char work_dir[] = "/tmp/cdc-unit.XXXXXX";

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* Two pipelines; %1$s is the password files' directory.  Each variant
 * below replaces one line of it. */
static const char *const base =
	"[agent]\n"
	"reconcile_seconds = 30\n"
	"[kafka]\n"
	"bootstrap_servers = 127.0.0.1:9092\n"
	"[source db1]\n"
	"host = 127.0.0.1\n"
	"dbname = db1\n"
	"user = cdc_user\n"
	"password_file = %1$s/p.pass\n"
	"publication = pub1\n"
	"slot = slot1\n"
	"tables = public.a, public.b\n"
	"topic_prefix = db1server\n"
	"[source db3]\n"
	"host = 127.0.0.1\n"
	"dbname = db3\n"
	"user = cdc_user\n"
	"password_file = %1$s/p.pass\n"
	"publication = pub3\n"
	"slot = slot3\n"
	"tables = public.c\n"
	"topic_prefix = db3server\n"
	"[target db2]\n"
	"host = 127.0.0.1\n"
	"dbname = db2\n"
	"user = db2_user\n"
	"password_file = %1$s/p.pass\n"
	"[target db4]\n"
	"host = 127.0.0.1\n"
	"dbname = db4\n"
	"user = db2_user\n"
	"password_file = %1$s/p.pass\n"
	"[pipeline one]\n"
	"source = db1\n"
	"target = db2\n"
	"[pipeline two]\n"
	"source = db3\n"
	"target = db4\n";

/* base with the line old replaced by new (old must be there once). */
static struct topology *load_variant(const char *old, const char *new_line)
{
	char *text = xasprintf(base, work_dir);
	char *at = old ? strstr(text, old) : NULL;
	char *path = xasprintf("%s/topo.ini", work_dir);
	struct topology *topo = NULL;

	if (old) {
		char *edited;

		assert_non_null(at);
		*at = '\0';
		edited = xasprintf("%s%s%s", text, new_line, at + strlen(old));
		free(text);
		text = edited;
	}
	write_file(path, text, 0644);
	assert_true(topology_load(path, &topo));
	free(text);
	free(path);
	return topo;
}

static const struct pipeline_cfg *pipeline(const struct topology *topo, const char *name)
{
	for (size_t i = 0; i < topo->n_pipelines; i++)
		if (strcmp(topo->pipelines[i].name, name) == 0)
			return &topo->pipelines[i];
	fail_msg("no pipeline %s", name);
	return NULL;
}

/* Whether the digest of pipeline name's process kind is the same in the
 * base topology and in the variant. */
static bool same(const char *old, const char *new_line, const char *name, const char *kind)
{
	struct topology *a = load_variant(NULL, NULL), *b = load_variant(old, new_line);
	char *da = pipeline_config_digest(a, pipeline(a, name), kind);
	char *db = pipeline_config_digest(b, pipeline(b, name), kind);
	bool eq;

	assert_int_equal(strlen(da), 64);
	assert_int_equal(strspn(da, "0123456789abcdef"), 64);
	eq = strcmp(da, db) == 0;
	free(da);
	free(db);
	topology_free(a);
	topology_free(b);
	return eq;
}

static void test_equal_configs_equal_digests(void **state)
{
	(void)state;
	assert_true(same(NULL, NULL, "one", "capture"));
	assert_true(same(NULL, NULL, "one", "apply"));
	/* Spelling is not configuration: spaces, a default written out. */
	assert_true(same("tables = public.a, public.b\n", "tables = public.a,public.b\n", "one",
			 "capture"));
	assert_true(same("[kafka]\n", "[kafka]\npartitions = 1\n", "one", "capture"));
}

static void test_kinds_differ(void **state)
{
	struct topology *t = load_variant(NULL, NULL);
	char *c = pipeline_config_digest(t, pipeline(t, "one"), "capture");
	char *a = pipeline_config_digest(t, pipeline(t, "one"), "apply");
	char *c2 = pipeline_config_digest(t, pipeline(t, "two"), "capture");

	(void)state;
	assert_string_not_equal(c, a);
	assert_string_not_equal(c, c2);
	free(c);
	free(a);
	free(c2);
	topology_free(t);
}

static void test_a_table_or_setting_changes_it(void **state)
{
	(void)state;
	/* A table added, removed, or reordered changes both processes. */
	assert_false(same("tables = public.a, public.b\n", "tables = public.a, public.b, public.x\n",
			  "one", "capture"));
	assert_false(same("tables = public.a, public.b\n", "tables = public.a, public.b, public.x\n",
			  "one", "apply"));
	assert_false(same("tables = public.a, public.b\n", "tables = public.a\n", "one", "capture"));
	/* Source, Kafka and pipeline settings. */
	assert_false(same("topic_prefix = db1server\n", "topic_prefix = other\n", "one", "capture"));
	assert_false(same("topic_prefix = db1server\n", "topic_prefix = db1server\ntombstones = no\n",
			  "one", "capture"));
	assert_false(same("[kafka]\n", "[kafka]\ncompression = zstd\n", "one", "capture"));
	assert_false(same("bootstrap_servers = 127.0.0.1:9092\n",
			  "bootstrap_servers = 127.0.0.1:9094\n", "one", "apply"));
	assert_false(same("[agent]\n", "[agent]\nstate_dir = /var/lib/other\n", "one", "apply"));
	/* The target: apply's only. */
	assert_false(same("dbname = db2\n", "dbname = db2\ninsert_mode = insert\n", "one", "apply"));
	assert_true(same("dbname = db2\n", "dbname = db2\ninsert_mode = insert\n", "one", "capture"));
}

/* Sets src's resolved tables to the names given (as table_select does). */
static void resolve_as(struct source_cfg *src, const char *const *names, size_t n)
{
	table_list_fini(&src->tables);
	src->tables.items = xcalloc(n, sizeof(struct table_ref));
	for (size_t i = 0; i < n; i++) {
		src->tables.items[i].schema = xstrdup("public");
		src->tables.items[i].table = xstrdup(names[i]);
	}
	src->tables.n = n;
	src->tables_resolved = true;
}

/* With patterns, the tables they select enter the digest: a table that
 * appears and matches makes capture and apply stale (restarted by run). */
static void test_resolved_tables_enter(void **state)
{
	static const char *const two[] = { "a", "b" }, *const three[] = { "a", "b", "new" };
	struct topology *t = load_variant("tables = public.a, public.b\n", "tables = public.*\n");
	struct source_cfg *src = pipeline(t, "one")->source;
	char *before_c, *before_a, *after_c, *after_a, *again;

	(void)state;
	assert_false(src->tables_static);
	resolve_as(src, two, 2);
	before_c = pipeline_config_digest(t, pipeline(t, "one"), "capture");
	before_a = pipeline_config_digest(t, pipeline(t, "one"), "apply");
	resolve_as(src, three, 3);
	after_c = pipeline_config_digest(t, pipeline(t, "one"), "capture");
	after_a = pipeline_config_digest(t, pipeline(t, "one"), "apply");
	assert_string_not_equal(before_c, after_c);
	assert_string_not_equal(before_a, after_a);
	resolve_as(src, two, 2);
	again = pipeline_config_digest(t, pipeline(t, "one"), "capture");
	assert_string_equal(before_c, again);
	free(before_c);
	free(before_a);
	free(after_c);
	free(after_a);
	free(again);
	topology_free(t);
}

static void test_other_pipelines_do_not_enter(void **state)
{
	const char *fan = "[pipeline fan]\nsource = db1\ntarget = db4\n[pipeline two]\n";

	(void)state;
	assert_true(same("tables = public.c\n", "tables = public.c, public.d\n", "one", "capture"));
	assert_true(same("tables = public.c\n", "tables = public.c, public.d\n", "one", "apply"));
	assert_true(same("dbname = db4\n", "dbname = db4\nauto_create = no\n", "one", "apply"));
	assert_false(same("tables = public.c\n", "tables = public.c, public.d\n", "two", "capture"));
	/* Nor the agent's own settings, which capture and apply do not read. */
	assert_true(same("reconcile_seconds = 30\n", "reconcile_seconds = 60\n", "one", "capture"));
	/* Fan-out: a second pipeline of db1 (into db4) restarts neither
	 * process of the first, which captures db1 for both. */
	assert_true(same("[pipeline two]\n", fan, "one", "capture"));
	assert_true(same("[pipeline two]\n", fan, "one", "apply"));
}

/* Fan-out: which pipeline captures enters a later pipeline's apply (it
 * verifies with the capturing pipeline's schema key): a reorder that
 * moves capture restarts the applies of the source, and nothing else. */
static void test_capturing_pipeline_enters(void **state)
{
	struct topology *after = load_variant("[pipeline two]\n",
					      "[pipeline fan]\nsource = db1\ntarget = db4\n"
					      "[pipeline two]\n");
	struct topology *before = load_variant("[pipeline one]\n",
					       "[pipeline fan]\nsource = db1\ntarget = db4\n"
					       "[pipeline one]\n");
	char *d[4] = {
		pipeline_config_digest(after, pipeline(after, "fan"), "apply"),
		pipeline_config_digest(before, pipeline(before, "fan"), "apply"),
		pipeline_config_digest(after, pipeline(after, "two"), "apply"),
		pipeline_config_digest(before, pipeline(before, "two"), "apply"),
	};

	(void)state;
	assert_string_not_equal(d[0], d[1]);
	assert_string_equal(d[2], d[3]);
	for (size_t i = 0; i < 4; i++)
		free(d[i]);
	topology_free(after);
	topology_free(before);
}

static void test_unknown_process_without_a_file(void **state)
{
	struct topology *t = load_variant(NULL, NULL);
	char *reported = (char *)"x";

	(void)state;
	free(t->agent.state_dir);
	t->agent.state_dir = xstrdup(work_dir);
	/* No progress file: no process to judge. */
	assert_int_equal(pipeline_process_config(t, pipeline(t, "one"), "capture", 0, &reported),
			 PROCESS_CONFIG_UNKNOWN);
	assert_null(reported);
	topology_free(t);
}

static void test_process_reporting(void **state)
{
	struct topology *t = load_variant(NULL, NULL);
	char *digest, *text, *path, *reported = NULL;

	(void)state;
	free(t->agent.state_dir);
	t->agent.state_dir = xstrdup(work_dir);
	digest = pipeline_config_digest(t, pipeline(t, "one"), "capture");
	path = xasprintf("%s/progress-capture-one.json", work_dir);
	/* A file of this very process (its pid, given as the unit's MainPID). */
	text = xasprintf("{\"version\": 1, \"pid\": %d, \"events\": 0, \"last_event_usec\": 0, "
			 "\"updated_usec\": 1, \"last_error\": null, \"config_digest\": \"%s\"}",
			 (int)getpid(), digest);
	write_file(path, text, 0640);
	assert_int_equal(pipeline_process_config(t, pipeline(t, "one"), "capture", getpid(),
						 &reported),
			 PROCESS_CONFIG_CURRENT);
	assert_string_equal(reported, digest);
	free(reported);
	/* Another MainPID: the running process has not written its file yet. */
	assert_int_equal(pipeline_process_config(t, pipeline(t, "one"), "capture", getpid() + 1,
						 NULL),
			 PROCESS_CONFIG_UNKNOWN);
	/* Without MainPID: this test program does not run `capture one`. */
	assert_int_equal(pipeline_process_config(t, pipeline(t, "one"), "capture", 0, NULL),
			 PROCESS_CONFIG_UNKNOWN);
	free(text);
	/* Another digest, or none (an older agent's process): stale. */
	text = xasprintf("{\"version\": 1, \"pid\": %d, \"events\": 0, \"last_event_usec\": 0, "
			 "\"updated_usec\": 1, \"last_error\": null, \"config_digest\": \"00\"}",
			 (int)getpid());
	write_file(path, text, 0640);
	assert_int_equal(pipeline_process_config(t, pipeline(t, "one"), "capture", getpid(), NULL),
			 PROCESS_CONFIG_STALE);
	free(text);
	text = xasprintf("{\"version\": 1, \"pid\": %d, \"events\": 0, \"last_event_usec\": 0, "
			 "\"updated_usec\": 1, \"last_error\": null}", (int)getpid());
	write_file(path, text, 0640);
	assert_int_equal(pipeline_process_config(t, pipeline(t, "one"), "capture", getpid(), NULL),
			 PROCESS_CONFIG_STALE);
	unlink(path);
	free(text);
	free(path);
	free(digest);
	topology_free(t);
}

static int setup(void **state)
{
	char *p;

	(void)state;
	if (!mkdtemp(work_dir))
		return -1;
	p = xasprintf("%s/p.pass", work_dir);
	write_file(p, "secret\n", 0600);
	free(p);
	return 0;
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
		cmocka_unit_test(test_equal_configs_equal_digests),
		cmocka_unit_test(test_kinds_differ),
		cmocka_unit_test(test_a_table_or_setting_changes_it),
		cmocka_unit_test(test_resolved_tables_enter),
		cmocka_unit_test(test_other_pipelines_do_not_enter),
		cmocka_unit_test(test_capturing_pipeline_enters),
		cmocka_unit_test(test_unknown_process_without_a_file),
		cmocka_unit_test(test_process_reporting),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
