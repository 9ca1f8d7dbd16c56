/*
 * tests/unit/test_render.c: the template renderer (agent/provision/render.c): {{name}}
 * substitution and its errors with FILE:LINE, every file of units/ and
 * templates/ rendered with a complete variable set in both Kafka modes, and
 * render_to_file's write-once, plan-mode and error behaviour.  systemd's own
 * opinion of the rendered units: tests/integration/45_units_verify.sh.
 *
 * Expected errors are captured from stderr and checked, which also keeps them
 * out of the test output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/changes.h"
#include "base/util.h"
#include "config/kafka_limits.h"
#include "config/topology.h"
#include "provision/render.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char work_dir[] = "/tmp/cdc-render.XXXXXX";
static char repo_root[PATH_MAX];

/* ---- helpers ---- */

#include "stderr_capture.h"

/* A file in work_dir holding content; returns its path (caller frees). */
static char *write_template(const char *name, const char *content)
{
	char *path = xasprintf("%s/%s", work_dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

static char *read_file(const char *path) /* caller frees */
{
	struct strbuf sb;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	strbuf_init(&sb);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		strbuf_add(&sb, chunk, n);
	fclose(f);
	return strbuf_detach(&sb);
}

/* Renders content (written to a template file) expecting failure; returns
 * stderr (caller frees) and the template's path in *path (caller frees). */
static char *render_fails(const char *content, const struct render_vars *vars, char **path)
{
	char *out = NULL, *err;
	bool ok;

	*path = write_template("bad.tmpl", content);
	capture_begin();
	ok = render_template(*path, vars, &out);
	err = capture_end();
	assert_false(ok);
	assert_null(out);
	return err;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("expected to find \"%s\" in:\n%s", needle, haystack);
}

static void vars_port(struct render_vars *vars)
{
	render_vars_init(vars);
	render_vars_add(vars, "port", "2181");
	render_vars_add(vars, "data_dir", "/var/lib/zookeeper");
}

/* ---- render_vars ---- */

static void test_vars_add_get_replace(void **state)
{
	struct render_vars vars;

	(void)state;
	render_vars_init(&vars);
	assert_null(render_vars_get(&vars, "a"));
	render_vars_add(&vars, "a", "1");
	render_vars_add(&vars, "b", "");
	render_vars_add(&vars, "a", "2");
	assert_int_equal(vars.n, 2);
	assert_string_equal(render_vars_get(&vars, "a"), "2");
	assert_string_equal(render_vars_get(&vars, "b"), "");
	render_vars_fini(&vars);
	assert_int_equal(vars.n, 0);
	render_vars_fini(&vars); /* twice is harmless */
}

/* ---- render_template ---- */

static void test_placeholders_replaced(void **state)
{
	struct render_vars vars;
	char *path, *out = NULL;

	(void)state;
	vars_port(&vars);
	render_vars_add(&vars, "if_kraft", "");
	path = write_template("ok.tmpl", "# {{port}} in a comment too\n"
					 "clientPort={{port}}\n"
					 "dataDir={{data_dir}}/x{{if_kraft}}y {{port}}{{port}}\n"
					 "a lone } or { or }} stays\n"
					 "no newline at the end: {{port}}");
	assert_true(render_template(path, &vars, &out));
	assert_string_equal(out, "# 2181 in a comment too\n"
				 "clientPort=2181\n"
				 "dataDir=/var/lib/zookeeper/xy 21812181\n"
				 "a lone } or { or }} stays\n"
				 "no newline at the end: 2181");
	free(out);
	free(path);

	path = write_template("empty.tmpl", "");
	assert_true(render_template(path, &vars, &out));
	assert_string_equal(out, "");
	free(out);
	free(path);
	render_vars_fini(&vars);
}

static void test_unknown_placeholder_names_file_and_line(void **state)
{
	struct render_vars vars;
	char *path, *err, *want;

	(void)state;
	vars_port(&vars);
	err = render_fails("# header\n\nclientPort={{prot}}\ndataDir={{data_dir}}\n"
			   "x={{no_such_name_anywhere}}\n",
			   &vars, &path);
	/* Every error of the file, each with its line; a near miss gets a hint. */
	want = xasprintf("%s:3: error: unknown placeholder {{prot}} (did you mean {{port}}?)",
			 path);
	assert_contains(err, want);
	free(want);
	want = xasprintf("%s:5: error: unknown placeholder {{no_such_name_anywhere}}\n", path);
	assert_contains(err, want);
	free(want);
	free(err);
	free(path);
	render_vars_fini(&vars);
}

static void test_unterminated_placeholder(void **state)
{
	struct render_vars vars;
	char *path, *err, *want;

	(void)state;
	vars_port(&vars);
	err = render_fails("a=1\nclientPort={{port\n", &vars, &path);
	want = xasprintf("%s:2: error: unterminated {{", path);
	assert_contains(err, want);
	free(want);
	free(err);
	free(path);

	/* "}}" on a later line does not close it: placeholders never span lines,
	 * and the line count stays right after the error. */
	err = render_fails("x={{port\n}}\ny={{nope}}\n", &vars, &path);
	want = xasprintf("%s:1: error: unterminated {{", path);
	assert_contains(err, want);
	free(want);
	want = xasprintf("%s:3: error: unknown placeholder {{nope}}", path);
	assert_contains(err, want);
	free(want);
	free(err);
	free(path);

	err = render_fails("at the very end {{", &vars, &path);
	want = xasprintf("%s:1: error: unterminated {{", path);
	assert_contains(err, want);
	free(want);
	free(err);
	free(path);
	render_vars_fini(&vars);
}

static void test_malformed_names(void **state)
{
	static const char *const bad[] = { "{{ port }}", "{{Port}}", "{{}}", "{{po-rt}}",
					   "{{a{{port}}" };
	struct render_vars vars;
	char *path, *err, *want;

	(void)state;
	vars_port(&vars);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *content = xasprintf("line one\n%s\n", bad[i]);

		err = render_fails(content, &vars, &path);
		want = xasprintf("%s:2: error: bad placeholder", path);
		assert_contains(err, want);
		free(want);
		free(err);
		free(path);
		free(content);
	}
	render_vars_fini(&vars);
}

static void test_value_with_line_break_refused(void **state)
{
	struct render_vars vars;
	char *path, *err, *want;

	(void)state;
	render_vars_init(&vars);
	render_vars_add(&vars, "config", "/etc/x.ini\nExecStartPre=/bin/evil");
	err = render_fails("ExecStart=/bin/agent -c {{config}} run\n", &vars, &path);
	want = xasprintf("%s:1: error: the value of {{config}} contains a line break", path);
	assert_contains(err, want);
	free(want);
	free(err);
	free(path);
	render_vars_fini(&vars);
}

/* ---- placeholder types ---- */

/* A value the type of its placeholder refuses, and what the reason says. */
struct hostile {
	const char *name, *value, *why;
};

static const struct hostile hostile_values[] = {
	/* paths: a space splits ReadWritePaths= and ExecStart= into more words */
	{ "state_dir", "/var/lib/x /", "path has a space at position 11" },
	{ "kafka_data_dir", "/var/lib/kafka /", "a space" },
	{ "state_dir", "/tmp/../etc", "a '..' component" },
	{ "state_dir", "/var/./lib", "a '.' component" },
	{ "state_dir", "//var/lib", "'//'" },
	{ "state_dir", "/var//lib", "'//'" },
	{ "state_dir", "/var/lib/", "ends with '/'" },
	{ "state_dir", "/", "'/' is the whole file system" },
	{ "state_dir", "var/lib", "not an absolute path" },
	{ "state_dir", "", "not an absolute path" },
	{ "config", "/etc/%h/x.ini", "path has '%' at position 6" },
	{ "config", "/etc/x'y.ini", "path has '''" },
	{ "config", "/etc/x\"y.ini", "path has '\"'" },
	{ "config", "/etc/x\ty.ini", "byte 0x09" },
	{ "config", "/etc/x$HOME", "path has '$'" },
	{ "config", "/etc/x\\y", "path has '\\'" },
	{ "config", "/etc/x;y", "path has ';'" },
	{ "config", "/etc/caf\xc3\xa9.ini", "byte 0xc3" },
	{ "java", "/usr/bin/java -javaagent:/tmp/x.jar", "a space" },
	{ "install_dir", "/opt/kafka/*", "path has '*'" },
	/* the heap goes to -Xms/-Xmx: nothing but a size */
	{ "kafka_heap", "512m -javaagent:/tmp/x.jar", "not a JVM heap size" },
	{ "kafka_heap", "512m ", "not a JVM heap size" },
	{ "kafka_heap", " 512m", "not a JVM heap size" },
	{ "kafka_heap", "512mb", "not a JVM heap size" },
	{ "kafka_heap", "1t", "not a JVM heap size" },
	{ "kafka_heap", "-1g", "not a JVM heap size" },
	{ "kafka_heap", "0", "not a JVM heap size" },
	{ "kafka_heap", "%h", "not a JVM heap size" },
	{ "kafka_heap", "", "not a JVM heap size" },
	{ "kafka_heap", "1234567890123m", "not a JVM heap size" },
	/* ports, numbers, hosts */
	{ "port", "0", "not a port" },
	{ "port", "65536", "not a port" },
	{ "port", "0080", "not a port" },
	{ "port", "80 81", "not a port" },
	{ "port", "%h", "not a port" },
	{ "controller_port", "", "not a port" },
	{ "node_id", "1 2", "not a number" },
	{ "node_id", "-1", "not a number" },
	/* a cluster's node (issue #19) */
	{ "controller_voters", "", "not id@host:port" },
	{ "controller_voters", "1@a:1,", "not id@host:port" },
	{ "controller_voters", "x@a:1", "not id@host:port" },
	{ "controller_voters", "1@a:1 -Dx=y", "not a port" },
	{ "controller_voters", "1@a b:1", "not a host" },
	{ "controller_listener", "a:1,", "not" },
	{ "rack", "", "not a rack" },
	{ "rack", "r 1", "not a rack" },
	{ "rack", "r\nbroker.id=9", "not a rack" },
	{ "if_rack", "#", "is not" },
	{ "min_insync_replicas", "two", "not a number" },
	{ "zookeeper_address", "127.0.0.1 -Dx=y", "not a host" },
	{ "zookeeper_address", "/var/run/postgresql", "not a host" },
	{ "zookeeper_address", "%h", "not a host" },
	{ "bind_address", "h\xc3\xa9", "not a host" },
	{ "bind_address", "host:2181", "put the port in its own key" },
	{ "zookeeper_connect", "127.0.0.1:2181,", "not host:port" },
	{ "zookeeper_connect", "127.0.0.1:2181 x", "not a port" },
	{ "zookeeper_connect", "a:1,,b:2", "not host:port" },
	{ "listeners", "PLAINTEXT://h:1,CONTROLLER://x:2", "not a host" },
	{ "listeners", "SSL://h:1", "not PLAINTEXT://host:port" },
	{ "listeners", "PLAINTEXT://h:1 x", "not a port" },
	/* the KRaft id comes back from a file in state_dir */
	{ "cluster_id", "-kU3OEVBNTcwNTJENDM2Qk", "not a KRaft cluster id" },
	{ "cluster_id", "MkU3OEVBNTcwNTJENDM2Q", "not a KRaft cluster id" },
	{ "cluster_id", "MkU3OEVBNTcwNTJENDM2Q%", "not a KRaft cluster id" },
	{ "cluster_id", "MkU3OEVBNTcwNTJENDM2 k", "not a KRaft cluster id" },
	{ "if_kraft", "ExecStartPre=/bin/evil ", "is not \"\"" },
	{ "if_zookeeper", "#", "is not \"\"" },
	/* cdc-agent.service's ReadWritePaths= */
	{ "agent_writable_paths", "-/etc -/", "'/' is the whole file system" },
	{ "agent_writable_paths", "-/etc -/var/lib/x /", "'/' is the whole file system" },
	{ "agent_writable_paths", "-/etc  -/opt", "one space apart" },
	{ "agent_writable_paths", " -/etc", "one space apart" },
	{ "agent_writable_paths", "-/etc -/tmp/../etc", "a '..' component" },
	{ "agent_writable_paths", "-/etc %h", "not an absolute path" },
	{ "agent_writable_paths", "", "one space apart" },
	/* no type, no render */
	{ "no_such_placeholder", "1", "{{no_such_placeholder}} has no declared type" },
};

static void test_hostile_values_refused(void **state)
{
	struct strbuf err;

	(void)state;
	strbuf_init(&err);
	for (size_t i = 0; i < ARRAY_LEN(hostile_values); i++) {
		const struct hostile *h = &hostile_values[i];

		err.len = 0;
		err.data[0] = '\0';
		if (render_value_valid(h->name, h->value, &err))
			fail_msg("{{%s}} accepted \"%s\"", h->name, h->value);
		if (!strstr(err.data, h->why))
			fail_msg("{{%s}} = \"%s\": expected \"%s\" in \"%s\"", h->name, h->value,
				 h->why, err.data);
	}
	strbuf_fini(&err);
}

static void test_good_values_accepted(void **state)
{
	static const char *const good[][2] = {
		{ "state_dir", "/var/lib/cdc-agent" },
		{ "install_dir", "/opt/kafka_2.13-3.9.2" },
		{ "config", "/etc/cdc-agent/c++.ini" },
		{ "java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java" },
		{ "kafka_heap", "512m" }, { "kafka_heap", "1g" }, { "kafka_heap", "64K" },
		{ "kafka_heap", "1073741824" },
		{ "port", "1" }, { "port", "65535" }, { "node_id", "0" },
		{ "zookeeper_address", "127.0.0.1" }, { "zookeeper_address", "::1" },
		{ "zookeeper_address", "[::1]" }, { "bind_address", "kafka-1.example.com" },
		{ "zookeeper_connect", "127.0.0.1:2181" }, { "zookeeper_connect", "a:1,[::1]:2" },
		{ "listeners", "PLAINTEXT://127.0.0.1:9092" }, { "listeners", "PLAINTEXT://[::1]:9092" },
		{ "cluster_id", "MkU3OEVBNTcwNTJENDM2Qk" }, { "cluster_id", "a-_3OEVBNTcwNTJENDM2Qk" },
		{ "if_kraft", "" }, { "if_kraft", "#kraft mode only: " },
		{ "if_zookeeper", "#zookeeper mode only: " },
		{ "agent_writable_paths", "-/etc -/var/lib/cdc-agent /opt" },
		{ "agent_writable_paths", "/etc" },
		{ "controller_voters", "1@10.77.1.11:9093,2@10.77.1.12:9093,3@k3.example:9193" },
		{ "controller_voters", "7@127.0.0.1:9093" }, { "rack", "eu-west-1a" },
		{ "if_rack", "" }, { "if_rack", "#no rack: " },
	};
	struct strbuf err;

	(void)state;
	strbuf_init(&err);
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		err.len = 0;
		err.data[0] = '\0';
		if (!render_value_valid(good[i][0], good[i][1], &err))
			fail_msg("{{%s}} refused \"%s\": %s", good[i][0], good[i][1], err.data);
	}
	strbuf_fini(&err);
}

/* The render itself refuses, naming the template, its line and the
 * placeholder: in a unit and in a properties file. */
static void test_render_refuses_hostile_value(void **state)
{
	struct render_vars vars;
	char *path, *out = NULL, *err, *want;
	bool ok;

	(void)state;
	render_vars_init(&vars);
	render_vars_add(&vars, "state_dir", "/var/lib/x /");
	render_vars_add(&vars, "kafka_heap", "512m -javaagent:/tmp/x.jar");
	render_vars_add(&vars, "config", "/etc/%h/x.ini");
	path = write_template("x.service", "[Service]\nExecStart=/bin/agent -c {{config}} run\n"
					   "ReadWritePaths={{state_dir}}\n");
	capture_begin();
	ok = render_template(path, &vars, &out);
	err = capture_end();
	assert_false(ok);
	assert_null(out);
	want = xasprintf("%s:2: error: the value of {{config}} is refused: path has '%%' at "
			 "position 6", path);
	assert_contains(err, want);
	free(want);
	want = xasprintf("%s:3: error: the value of {{state_dir}} is refused: path has a space",
			 path);
	assert_contains(err, want);
	free(want);
	free(err);
	free(path);

	err = render_fails("kafka.heap.opts=-Xmx{{kafka_heap}}\n", &vars, &path);
	want = xasprintf("%s:1: error: the value of {{kafka_heap}} is refused: '512m "
			 "-javaagent:/tmp/x.jar' is not a JVM heap size", path);
	assert_contains(err, want);
	free(want);
	free(err);
	free(path);
	render_vars_fini(&vars);
}

static void test_unit_escape_doubles_percent(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb);
	render_unit_escape("/a%hb%%c%", &sb);
	assert_string_equal(sb.data, "/a%%hb%%%%c%%");
	sb.len = 0;
	sb.data[0] = '\0';
	render_unit_escape("", &sb);
	assert_int_equal(sb.len, 0);
	strbuf_fini(&sb);
}

static void test_missing_template(void **state)
{
	struct render_vars vars;
	char *out = NULL, *err, *path = xasprintf("%s/no-such.tmpl", work_dir);
	bool ok;

	(void)state;
	render_vars_init(&vars);
	capture_begin();
	ok = render_template(path, &vars, &out);
	err = capture_end();
	assert_false(ok);
	assert_null(out);
	assert_contains(err, path);
	free(err);
	free(path);
	render_vars_fini(&vars);
}

/* ---- the repository's units/ and templates/ ---- */

/* Every name the files of units/ and templates/ use, with the values the
 * agent would give them; mode switches the if_zookeeper / if_kraft lines. */
static void vars_complete(struct render_vars *vars, bool kraft)
{
	render_vars_init(vars);
	/* units/ */
	render_vars_add(vars, "java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java");
	render_vars_add(vars, "install_dir", "/opt/kafka");
	render_vars_add(vars, "config_dir", "/etc/cdc-agent/kafka");
	render_vars_add(vars, "kafka_heap", "1g");
	render_vars_add(vars, "kafka_data_dir", "/var/lib/kafka");
	render_vars_add(vars, "zookeeper_data_dir", "/var/lib/zookeeper");
	render_vars_add(vars, "cluster_id", "MkU3OEVBNTcwNTJENDM2Qk");
	render_vars_add(vars, "if_zookeeper", kraft ? "#zookeeper mode only: " : "");
	render_vars_add(vars, "if_kraft", kraft ? "" : "#kraft mode only: ");
	render_vars_add(vars, "agent_bin", "/usr/local/bin/cdc-agent");
	render_vars_add(vars, "config", "/etc/cdc-agent/cdc-agent.ini");
	render_vars_add(vars, "state_dir", "/var/lib/cdc-agent");
	render_vars_add(vars, "agent_writable_paths", "-/etc -/var/lib/cdc-agent -/opt");
	/* templates/ (each properties file its own data_dir; one value is enough here) */
	render_vars_add(vars, "data_dir", "/var/lib/kafka");
	render_vars_add(vars, "zookeeper_port", "2181");
	render_vars_add(vars, "zookeeper_address", "127.0.0.1");
	render_vars_add(vars, "node_id", "1");
	render_vars_add(vars, "listeners", "PLAINTEXT://127.0.0.1:9092");
	render_vars_add(vars, "zookeeper_connect", "127.0.0.1:2181");
	render_vars_add(vars, "controller_port", "9093");
	/* A single KRaft node, as host.c renders one without [kafka_node]. */
	render_vars_add(vars, "controller_voters", "1@127.0.0.1:9093");
	render_vars_add(vars, "controller_listener", "127.0.0.1:9093");
	render_vars_add(vars, "if_rack", "#no rack: ");
	render_vars_add(vars, "rack", "none");
	render_vars_add(vars, "internal_replication_factor", "1");
	render_vars_add(vars, "internal_min_isr", "1");
	render_vars_add(vars, "min_insync_replicas", "1");
	/* A plaintext broker; test_secured_broker turns the other lines on. */
	render_vars_add(vars, "listener", "127.0.0.1:9092");
	render_vars_add(vars, "internal_port", "9094");
	render_vars_add(vars, "tls_dir", "/etc/cdc-agent/kafka-tls");
	render_vars_add(vars, "if_secure", "#secured broker only: ");
	render_vars_add(vars, "if_plaintext", "");
	{
		char buf[32];

		/* As host.c derives them from the default [kafka] max_message_bytes. */
		snprintf(buf, sizeof(buf), "%" PRId64, kafka_batch_limit(NULL));
		render_vars_add(vars, "message_max_bytes", buf);
		snprintf(buf, sizeof(buf), "%" PRId64, kafka_request_limit(NULL));
		render_vars_add(vars, "socket_request_max_bytes", buf);
	}
}

/* Renders every file of DIR/sub; returns how many (each must succeed and
 * leave no "{{"); rendered kafka.service goes to *kafka_unit (caller frees). */
static size_t render_dir(const char *dir, const char *sub, const struct render_vars *vars,
			 char **kafka_unit)
{
	char *path = xasprintf("%s/%s", dir, sub);
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char *file, *out = NULL;

		if (e->d_name[0] == '.')
			continue;
		file = xasprintf("%s/%s", path, e->d_name);
		if (!render_template(file, vars, &out))
			fail_msg("%s does not render with the complete variable set", file);
		if (strstr(out, "{{"))
			fail_msg("%s leaves a {{ after rendering", file);
		if (strcmp(e->d_name, "kafka.service") == 0)
			*kafka_unit = xstrdup(out);
		free(out);
		free(file);
		n++;
	}
	closedir(d);
	free(path);
	return n;
}

static void test_repository_files_render(void **state)
{
	const char *dir;
	struct render_vars vars;
	char *kafka_zk = NULL, *kafka_kraft = NULL;
	size_t n_units, n_templates;

	(void)state;
	assert_int_equal(setenv("CDC_AGENT_DATA_DIR", repo_root, 1), 0);
	dir = render_templates_dir();
	assert_non_null(dir);
	assert_string_equal(dir, repo_root);

	vars_complete(&vars, false);
	n_units = render_dir(dir, "units", &vars, &kafka_zk);
	n_templates = render_dir(dir, "templates", &vars, &kafka_zk);
	render_vars_fini(&vars);
	assert_true(n_units >= 5);     /* zookeeper, kafka, capture@, apply@, agent */
	assert_true(n_templates >= 4); /* zookeeper, server x2, log4j */

	vars_complete(&vars, true);
	assert_int_equal(render_dir(dir, "units", &vars, &kafka_kraft), n_units);
	render_vars_fini(&vars);

	/* ZooKeeper mode: the dependency is live, the storage format is not. */
	assert_non_null(kafka_zk);
	assert_contains(kafka_zk, "\nRequires=zookeeper.service\n");
	assert_contains(kafka_zk, "\nAfter=zookeeper.service\n");
	assert_contains(kafka_zk, "\n#kraft mode only: ExecStartPre=");
	assert_null(strstr(kafka_zk, "\nExecStartPre="));
	/* KRaft mode: the other way round. */
	assert_non_null(kafka_kraft);
	assert_contains(kafka_kraft, "\n#zookeeper mode only: Requires=zookeeper.service\n");
	assert_null(strstr(kafka_kraft, "\nRequires="));
	assert_contains(kafka_kraft, "\nExecStartPre=/usr/lib/jvm/java-17-openjdk-amd64/bin/java ");
	assert_contains(kafka_kraft, "--cluster-id MkU3OEVBNTcwNTJENDM2Qk ");
	free(kafka_zk);
	free(kafka_kraft);
	unsetenv("CDC_AGENT_DATA_DIR");
}

/* The value of "key=" in a rendered properties file (-1: absent). */
static long long property(const char *text, const char *key)
{
	char *needle = xasprintf("\n%s=", key);
	const char *at = strstr(text, needle);
	long long v = at ? strtoll(at + strlen(needle), NULL, 10) : -1;

	free(needle);
	return v;
}

/* The broker the agent installs takes what capture produces: the rendered
 * server.properties of both modes carry the limits of kafka_limits.h
 * (45_units_verify checks the same files in a container). */
static void test_broker_takes_large_records(void **state)
{
	static const char *const modes[] = { "server.properties.zookeeper",
					      "server.properties.kraft" };
	struct render_vars vars;

	(void)state;
	vars_complete(&vars, false);
	for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
		char *path = xasprintf("%s/templates/%s", repo_root, modes[i]), *out = NULL;

		assert_true(render_template(path, &vars, &out));
		assert_int_equal(property(out, "message.max.bytes"), kafka_batch_limit(NULL));
		assert_int_equal(property(out, "replica.fetch.max.bytes"), kafka_batch_limit(NULL));
		assert_int_equal(property(out, "socket.request.max.bytes"),
				 kafka_request_limit(NULL));
		free(out);
		free(path);
	}
	render_vars_fini(&vars);
}

/* A line of text starting at a line start ("\nKEY=" or the first line). */
static bool has_line(const char *text, const char *line)
{
	char *nl = xasprintf("\n%s\n", line);
	bool found = strstr(text, nl) != NULL;

	free(nl);
	return found;
}

/* Whether a line of text that is not a comment contains word. */
static bool active_line_has(const char *text, const char *word)
{
	for (const char *line = text; *line;) {
		size_t n = strcspn(line, "\n");
		char *copy = xstrndup(line, n);
		bool hit = copy[0] != '#' && strstr(copy, word) != NULL;

		free(copy);
		if (hit)
			return true;
		line += n + (line[n] == '\n');
	}
	return false;
}

/* A node of a cluster ([kafka_node], issue #19) as host.c renders node 2 of
 * three: its own id, every controller as a voter on its address, the
 * listeners on its address, its rack, Kafka's own topics replicated as the
 * topology says.  A single node: the loopback quorum of one, as before. */
static void test_cluster_node(void **state)
{
	char *path = xasprintf("%s/templates/server.properties.kraft", repo_root), *out = NULL;
	struct render_vars vars;

	(void)state;
	vars_complete(&vars, true);
	assert_true(render_template(path, &vars, &out));
	assert_true(has_line(out, "node.id=1"));
	assert_true(has_line(out, "controller.quorum.voters=1@127.0.0.1:9093"));
	assert_true(has_line(out, "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"));
	assert_true(has_line(out, "#no rack: broker.rack=none"));
	assert_true(has_line(out, "offsets.topic.replication.factor=1"));
	assert_true(has_line(out, "transaction.state.log.min.isr=1"));
	free(out);
	render_vars_add(&vars, "node_id", "2");
	render_vars_add(&vars, "controller_voters",
			"1@10.77.1.11:9093,2@10.77.1.12:9093,3@10.77.1.13:9093");
	render_vars_add(&vars, "controller_listener", "10.77.1.12:9093");
	render_vars_add(&vars, "listeners", "PLAINTEXT://10.77.1.12:9092");
	render_vars_add(&vars, "if_rack", "");
	render_vars_add(&vars, "rack", "r2");
	render_vars_add(&vars, "internal_replication_factor", "3");
	render_vars_add(&vars, "internal_min_isr", "2");
	render_vars_add(&vars, "min_insync_replicas", "2");
	out = NULL;
	assert_true(render_template(path, &vars, &out));
	assert_true(has_line(out, "process.roles=broker,controller"));
	assert_true(has_line(out, "node.id=2"));
	assert_true(has_line(out, "controller.quorum.voters=1@10.77.1.11:9093,2@10.77.1.12:9093,3@10.77.1.13:9093"));
	assert_true(has_line(out, "listeners=PLAINTEXT://10.77.1.12:9092,CONTROLLER://10.77.1.12:9093"));
	assert_true(has_line(out, "advertised.listeners=PLAINTEXT://10.77.1.12:9092"));
	assert_true(has_line(out, "broker.rack=r2"));
	assert_true(has_line(out, "offsets.topic.replication.factor=3"));
	assert_true(has_line(out, "transaction.state.log.replication.factor=3"));
	assert_true(has_line(out, "transaction.state.log.min.isr=2"));
	assert_true(has_line(out, "min.insync.replicas=2"));
	free(out);
	free(path);
	render_vars_fini(&vars);
}

/* security_protocol = sasl_ssl: SASL_SSL for clients, INTERNAL (and KRaft's
 * CONTROLLER) TLS with client certificates, an authorizer that denies what
 * no ACL allows; no plaintext listener left on.  Plaintext: the other way. */
static void test_secured_broker(void **state)
{
	static const char *const modes[] = { "server.properties.zookeeper",
					      "server.properties.kraft" };
	struct render_vars vars;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
		char *path = xasprintf("%s/templates/%s", repo_root, modes[i]), *out = NULL;
		bool kraft = i == 1;

		vars_complete(&vars, kraft);
		render_vars_add(&vars, "if_secure", "");
		render_vars_add(&vars, "if_plaintext", "#plaintext broker only: ");
		assert_true(render_template(path, &vars, &out));
		assert_true(has_line(out, kraft ? "listeners=SASL_SSL://127.0.0.1:9092,INTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093"
						: "listeners=SASL_SSL://127.0.0.1:9092,INTERNAL://127.0.0.1:9094"));
		assert_true(has_line(out, kraft ? "listener.security.protocol.map=CONTROLLER:SSL,INTERNAL:SSL,SASL_SSL:SASL_SSL"
						: "listener.security.protocol.map=SASL_SSL:SASL_SSL,INTERNAL:SSL"));
		assert_true(has_line(out, "inter.broker.listener.name=INTERNAL"));
		assert_true(has_line(out, "listener.name.internal.ssl.client.auth=required"));
		assert_true(!kraft || has_line(out, "listener.name.controller.ssl.client.auth=required"));
		assert_true(has_line(out, "sasl.enabled.mechanisms=SCRAM-SHA-512"));
		assert_true(has_line(out, "super.users=User:CN=cdc-agent-broker"));
		assert_true(has_line(out, "allow.everyone.if.no.acl.found=false"));
		assert_true(has_line(out, kraft ? "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
						: "authorizer.class.name=kafka.security.authorizer.AclAuthorizer"));
		assert_true(has_line(out, "listener.name.sasl_ssl.ssl.keystore.location=/etc/cdc-agent/kafka-tls/listener.pem"));
		assert_false(active_line_has(out, "PLAINTEXT"));
		free(out);
		render_vars_fini(&vars);

		/* Plaintext: no security line is on. */
		vars_complete(&vars, kraft);
		assert_true(render_template(path, &vars, &out));
		assert_true(has_line(out, "listeners=PLAINTEXT://127.0.0.1:9092") ||
			    has_line(out, "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"));
		assert_null(strstr(out, "\nauthorizer.class.name"));
		assert_null(strstr(out, "\nsasl."));
		assert_null(strstr(out, "\nssl."));
		free(out);
		render_vars_fini(&vars);
		free(path);
	}
}

/* Across the bounds of [kafka] max_message_bytes, every derived limit holds
 * a record of that size and keeps within what each side accepts. */
static void test_limits_consistent(void **state)
{
	static const int64_t limits[] = { KAFKA_MAX_MESSAGE_MIN, 20 << 20, KAFKA_MAX_MESSAGE_DEFAULT,
					  100 << 20, KAFKA_MAX_MESSAGE_MAX };

	(void)state;
	assert_int_equal(kafka_record_limit(NULL), (int64_t)64 << 20);
	for (size_t i = 0; i < ARRAY_LEN(limits); i++) {
		struct kafka_cfg cfg = { .max_message_bytes = limits[i] };
		int64_t batch = kafka_batch_limit(&cfg);

		assert_int_equal(kafka_record_limit(&cfg), limits[i]);
		/* a record of L and its batch framing */
		assert_true(batch >= limits[i] + KAFKA_RECORD_OVERHEAD + 61);
		/* librdkafka's message.max.bytes: at most 1e9 */
		assert_true(batch <= 1000000000);
		/* the consumer: fetch holds a batch, receive >= fetch + 512 */
		assert_true(kafka_fetch_limit(&cfg) >= batch);
		assert_true(kafka_receive_limit(&cfg) >= kafka_fetch_limit(&cfg) + 512);
		assert_true(kafka_receive_limit(&cfg) <= 2147483647);
		/* the broker: a produce request of one batch fits; 9 digits (render) */
		assert_true(kafka_request_limit(&cfg) > batch + 1024);
		assert_true(kafka_request_limit(&cfg) <= 999999999);
		assert_true(kafka_request_limit(&cfg) >= 104857600);
	}
}

static void test_templates_dir_lookup(void **state)
{
	char *err, *empty = xasprintf("%s/no-data", work_dir);
	const char *dir;

	(void)state;
	assert_int_equal(mkdir(empty, 0755), 0);
	/* Set but wrong: an error naming it, never a silent fallback. */
	assert_int_equal(setenv("CDC_AGENT_DATA_DIR", empty, 1), 0);
	capture_begin();
	dir = render_templates_dir();
	err = capture_end();
	assert_null(dir);
	assert_contains(err, "CDC_AGENT_DATA_DIR=");
	assert_contains(err, empty);
	free(err);

	/* Unset: beside this test binary (build/tests) neither share/cdc-agent
	 * nor units/ exists, so the error names both places looked at. */
	unsetenv("CDC_AGENT_DATA_DIR");
	capture_begin();
	dir = render_templates_dir();
	err = capture_end();
	assert_null(dir);
	assert_contains(err, "/build/tests/../share/cdc-agent");
	assert_contains(err, "CDC_AGENT_DATA_DIR");
	free(err);
	free(empty);
}

/* ---- render_to_file ---- */

static void test_render_to_file_writes_once(void **state)
{
	struct render_vars vars;
	struct change_list changes;
	struct stat st1, st2;
	struct timespec old_times[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char *tmpl, *dest = xasprintf("%s/zookeeper.properties", work_dir), *content, *want;
	bool changed;

	(void)state;
	vars_port(&vars);
	tmpl = write_template("zk.tmpl", "clientPort={{port}}\n");
	change_list_init(&changes, true, false);

	assert_true(render_to_file(tmpl, &vars, dest, 0640, true, &changes, "zookeeper",
				   &changed));
	assert_true(changed);
	content = read_file(dest);
	assert_string_equal(content, "clientPort=2181\n");
	free(content);
	assert_int_equal(stat(dest, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0640);
	assert_int_equal(changes.n, 1);
	assert_string_equal(changes.items[0].component, "zookeeper");
	want = xasprintf("write %s", dest);
	assert_string_equal(changes.items[0].action, want);
	free(want);

	/* An old mtime: any rewrite, even within the same clock tick, shows. */
	assert_int_equal(utimensat(AT_FDCWD, dest, old_times, 0), 0);
	assert_int_equal(stat(dest, &st1), 0);
	assert_true(render_to_file(tmpl, &vars, dest, 0640, true, &changes, "zookeeper",
				   &changed));
	assert_false(changed);
	assert_int_equal(changes.n, 1);
	assert_int_equal(stat(dest, &st2), 0);
	assert_int_equal(st2.st_mtim.tv_sec, st1.st_mtim.tv_sec);
	assert_int_equal(st2.st_mtim.tv_nsec, st1.st_mtim.tv_nsec);
	assert_int_equal(st2.st_ino, st1.st_ino);

	/* A new value: rewritten (a new inode: temp file and rename), mode kept. */
	render_vars_add(&vars, "port", "2182");
	assert_int_equal(chmod(dest, 0600), 0);
	assert_true(render_to_file(tmpl, &vars, dest, 0640, true, &changes, "zookeeper",
				   &changed));
	assert_true(changed);
	assert_int_equal(changes.n, 2);
	content = read_file(dest);
	assert_string_equal(content, "clientPort=2182\n");
	free(content);
	assert_int_equal(stat(dest, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0600);

	change_list_fini(&changes);
	render_vars_fini(&vars);
	unlink(dest);
	free(dest);
	free(tmpl);
}

static void test_render_to_file_plan_mode_writes_nothing(void **state)
{
	struct render_vars vars;
	struct change_list changes;
	char *tmpl, *dest = xasprintf("%s/kafka.service", work_dir), *content, *want;
	bool changed;

	(void)state;
	vars_port(&vars);
	tmpl = write_template("unit.tmpl", "[Service]\nExecStart=/bin/x {{port}}\n");
	change_list_init(&changes, false, false);

	/* Missing file: the change is recorded, nothing is created. */
	assert_true(render_to_file(tmpl, &vars, dest, 0644, false, &changes, "kafka", &changed));
	assert_true(changed);
	assert_int_equal(changes.n, 1);
	want = xasprintf("write %s", dest);
	assert_string_equal(changes.items[0].action, want);
	free(want);
	assert_int_equal(access(dest, F_OK), -1);
	assert_int_equal(errno, ENOENT);

	/* A different file: recorded, left as it was. */
	free(write_template("kafka.service", "old\n"));
	assert_true(render_to_file(tmpl, &vars, dest, 0644, false, &changes, "kafka", &changed));
	assert_true(changed);
	assert_int_equal(changes.n, 2);
	content = read_file(dest);
	assert_string_equal(content, "old\n");
	free(content);

	/* The same bytes: nothing to record. */
	free(write_template("kafka.service", "[Service]\nExecStart=/bin/x 2181\n"));
	assert_true(render_to_file(tmpl, &vars, dest, 0644, false, &changes, "kafka", &changed));
	assert_false(changed);
	assert_int_equal(changes.n, 2);

	change_list_fini(&changes);
	render_vars_fini(&vars);
	unlink(dest);
	free(dest);
	free(tmpl);
}

static void test_render_to_file_error_writes_nothing(void **state)
{
	struct render_vars vars;
	struct change_list changes;
	char *tmpl, *dest = xasprintf("%s/typo.service", work_dir), *err, *want;
	bool changed = true, ok;

	(void)state;
	vars_port(&vars);
	tmpl = write_template("typo.tmpl", "[Service]\nExecStart=/bin/x {{prot}}\n");
	change_list_init(&changes, true, false);
	capture_begin();
	ok = render_to_file(tmpl, &vars, dest, 0644, true, &changes, "kafka", &changed);
	err = capture_end();
	assert_false(ok);
	assert_false(changed);
	assert_int_equal(changes.n, 0);
	assert_int_equal(access(dest, F_OK), -1);
	want = xasprintf("%s:2: error: unknown placeholder {{prot}}", tmpl);
	assert_contains(err, want);
	free(want);
	free(err);

	/* A destination directory that does not exist: the write fails, named. */
	free(dest);
	dest = xasprintf("%s/no-such-dir/x.service", work_dir);
	free(tmpl);
	tmpl = write_template("fine.tmpl", "x={{port}}\n");
	capture_begin();
	ok = render_to_file(tmpl, &vars, dest, 0644, true, &changes, "kafka", &changed);
	err = capture_end();
	assert_false(ok);
	assert_contains(err, "no-such-dir/x.service");
	free(err);

	change_list_fini(&changes);
	render_vars_fini(&vars);
	free(dest);
	free(tmpl);
}

/* ---- setup ---- */

static int setup(void **state)
{
	char exe[PATH_MAX];
	ssize_t n;

	(void)state;
	if (!mkdtemp(work_dir))
		return -1;
	/* This binary is REPO/build/tests/test_render-*: the repository is two
	 * directories up from its own. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(exe, '/');

		if (!slash)
			return -1;
		*slash = '\0';
	}
	snprintf(repo_root, sizeof(repo_root), "%s", exe);
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", work_dir);
	int rc;

	(void)state;
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vars_add_get_replace),
		cmocka_unit_test(test_broker_takes_large_records),
		cmocka_unit_test(test_secured_broker),
		cmocka_unit_test(test_cluster_node),
		cmocka_unit_test(test_limits_consistent),
		cmocka_unit_test(test_placeholders_replaced),
		cmocka_unit_test(test_unknown_placeholder_names_file_and_line),
		cmocka_unit_test(test_unterminated_placeholder),
		cmocka_unit_test(test_malformed_names),
		cmocka_unit_test(test_value_with_line_break_refused),
		cmocka_unit_test(test_hostile_values_refused),
		cmocka_unit_test(test_good_values_accepted),
		cmocka_unit_test(test_render_refuses_hostile_value),
		cmocka_unit_test(test_unit_escape_doubles_percent),
		cmocka_unit_test(test_missing_template),
		cmocka_unit_test(test_repository_files_render),
		cmocka_unit_test(test_templates_dir_lookup),
		cmocka_unit_test(test_render_to_file_writes_once),
		cmocka_unit_test(test_render_to_file_plan_mode_writes_nothing),
		cmocka_unit_test(test_render_to_file_error_writes_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
