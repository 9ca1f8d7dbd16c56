/*
 * tests/unit/test_topology.c: the topology loader (agent/config/topology.c) on good
 * and bad files, the TLS keys of [source]/[target] among them.  Bad files with their exact FILE:LINE messages are covered
 * end to end by tests/integration/20_bad_topologies.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "config/topo_values.h"
#include "config/topology.h"
#include "stderr_capture.h"

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

/* Writes text (with %s, up to six, for the password and certificate
 * files' directory) and loads it. */
static struct topology *load_text(const char *text, bool *ok)
{
	char *path = xasprintf("%s/topo.ini", work_dir);
	char *body = xasprintf(text, work_dir, work_dir, work_dir, work_dir, work_dir, work_dir);
	struct topology *topo = NULL;

	write_file(path, body, 0644);
	*ok = topology_load(path, &topo);
	free(body);
	free(path);
	return topo;
}

static const char *const seed =
	"[kafka]\n"
	"mode = kraft\n"
	"bootstrap_servers = 127.0.0.1:9092, [::1]:9093\n"
	"[source db1]\n"
	"host = 127.0.0.1\n"
	"dbname = db1\n"
	"user = cdc_user\n"
	"password_file = %s/db1.pass\n"
	"publication = my_publication\n"
	"slot = my_slot\n"
	"tables = public.my_table, sales.orders\n"
	"topic_prefix = db1server\n"
	"[target db2]\n"
	"host = /var/run/postgresql\n"
	"dbname = db2\n"
	"user = db2_user\n"
	"password_file = %s/db2.pass\n"
	"auto_create = no\n"
	"service = postgresql@15-main\n"
	"sslrootcert = %s/ca.crt\n"
	"[pipeline p]\n"
	"source = db1\n"
	"target = db2\n";

static void test_seed_topology_parses(void **state)
{
	bool ok;
	struct topology *topo = load_text(seed, &ok);

	(void)state;
	assert_true(ok);
	assert_int_equal(topo->kafka.mode, KAFKA_MODE_KRAFT);
	assert_int_equal(topo->kafka.bootstrap_servers.n, 2);
	assert_string_equal(topo->kafka.bootstrap_servers.items[1], "[::1]:9093");
	assert_int_equal(topo->n_sources, 1);
	assert_string_equal(topo->sources[0].name, "db1");
	assert_int_equal(topo->sources[0].pg.port, 5432); /* default */
	assert_string_equal(topo->sources[0].pg.admin_user, "postgres");
	assert_null(topo->sources[0].pg.admin_dbname);
	assert_int_equal(topo->sources[0].tables.n, 2);
	assert_string_equal(topo->sources[0].tables.items[1].schema, "sales");
	assert_string_equal(topo->sources[0].tables.items[1].table, "orders");
	assert_int_equal(topo->sources[0].pg.hba_allow.n, 2);
	assert_int_equal(topo->sources[0].max_wal_senders, 4);
	assert_int_equal(topo->sources[0].snapshot_mode, SNAPSHOT_INITIAL);
	assert_false(topo->targets[0].auto_create);
	assert_true(topo->targets[0].auto_evolve);
	assert_string_equal(topo->targets[0].pg.admin_dbname, "postgres");
	assert_string_equal(topo->targets[0].pg.service, "postgresql@15-main.service");
	assert_ptr_equal(topo->pipelines[0].source, &topo->sources[0]);
	assert_ptr_equal(topo->pipelines[0].target, &topo->targets[0]);
	assert_int_equal(topo->pipelines[0].schema_changes, SCHEMA_CHANGES_FOLLOW); /* default */
	assert_string_equal(topo->agent.state_dir, "/var/lib/cdc-agent");
	/* TLS: libpq's own default; only the CA set */
	assert_int_equal(topo->sources[0].pg.sslmode, PG_SSLMODE_PREFER);
	assert_null(topo->sources[0].pg.sslrootcert);
	assert_false(pg_server_tls_required(&topo->sources[0].pg));
	assert_non_null(strstr(topo->targets[0].pg.sslrootcert, "/ca.crt"));
	assert_null(topo->targets[0].pg.sslcert);
	assert_int_equal(topo->kafka.max_message_bytes, 64 << 20); /* default */
	assert_int_equal(topology_key_line(&topo->sources[0].origin, "source", "tables"), 11);
	/* unset key: the section's own line */
	assert_int_equal(topology_key_line(&topo->sources[0].origin, "source", "port"), 4);
	topology_free(topo);
}

static void test_topic_prefix_defaults_to_name(void **state)
{
	char *text = xstrdup(seed);
	char *line = strstr(text, "topic_prefix = db1server\n");
	bool ok;
	struct topology *topo;

	(void)state;
	memmove(line, line + strlen("topic_prefix = db1server\n"),
		strlen(line + strlen("topic_prefix = db1server\n")) + 1);
	topo = load_text(text, &ok);
	assert_true(ok);
	assert_string_equal(topo->sources[0].topic_prefix, "db1");
	topology_free(topo);
	free(text);
}

/* decimal_handling: "precise" with json_schemas, "string" without, what
 * the file says when it says it. */
static void test_decimal_default_follows_json_schemas(void **state)
{
	static const struct {
		const char *keys;
		enum decimal_mode want;
	} cases[] = {
		{ "", DECIMAL_PRECISE },
		{ "json_schemas = false\n", DECIMAL_STRING },
		{ "decimal_handling = string\n", DECIMAL_STRING },
		{ "json_schemas = false\ndecimal_handling = precise\n", DECIMAL_PRECISE },
		{ "decimal_handling = double\n", DECIMAL_DOUBLE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *at = strstr(seed, "topic_prefix = db1server\n");
		char *text = xasprintf("%.*s%s%s", (int)(at - seed), seed, cases[i].keys, at);
		bool ok;
		struct topology *topo = load_text(text, &ok);

		assert_true(ok);
		assert_int_equal(topo->sources[0].decimal_handling, cases[i].want);
		topology_free(topo);
		free(text);
	}
}

/* schema_changes: follow (default) or additive; anything else refused. */
static void test_schema_changes_key(void **state)
{
	char *text = xasprintf("%sschema_changes = additive\n", seed);
	char *bad = xasprintf("%sschema_changes = never\n", seed);
	bool ok;
	struct topology *topo;

	(void)state;
	topo = load_text(text, &ok);
	assert_true(ok);
	assert_int_equal(topo->pipelines[0].schema_changes, SCHEMA_CHANGES_ADDITIVE);
	topology_free(topo);
	topo = load_text(bad, &ok);
	assert_false(ok);
	assert_null(topo);
	free(text);
	free(bad);
}

/* Every enum-valued key, with its name table and where its value lands. */
struct enum_key {
	const char *section; /* the section header line it is written under */
	const char *key;
	const char *const *names;
	size_t n;
	const char *kind;    /* topology_section_text's kind and name */
	const char *name;
	const void *(*section_of)(const struct topology *topo);
	size_t offset;       /* of the field in that section's struct */
	const char *spelled; /* the names by value, as the file writes them */
};

static const void *kafka_of(const struct topology *t) { return &t->kafka; }
static const void *source_of(const struct topology *t) { return &t->sources[0]; }
static const void *target_of(const struct topology *t) { return &t->targets[0]; }
static const void *pipeline_of(const struct topology *t) { return &t->pipelines[0]; }

/* type: the enum (type##_names, n names), written as key under [sec],
 * stored in struct st's field of of(topo), which topology_section_text
 * prints as kind, name. */
#define ENUM_KEY(sec, key, type, n, kind, name, of, st, field, spelled)               \
	{ "[" sec "]\n", key, type##_names, n, kind, name, of,                        \
	  offsetof(struct st, field), spelled }

static const struct enum_key enum_keys[] = {
	ENUM_KEY("kafka", "mode", kafka_mode, KAFKA_MODE_COUNT, "kafka", NULL, kafka_of,
		 kafka_cfg, mode, "zookeeper kraft"),
	ENUM_KEY("kafka", "compression", kafka_compression, KAFKA_COMPRESSION_COUNT, "kafka",
		 NULL, kafka_of, kafka_cfg, compression, "lz4 none zstd snappy gzip"),
	ENUM_KEY("source db1", "manage_hba", manage_hba, MANAGE_HBA_COUNT, "source", "db1",
		 source_of, source_cfg, pg.manage_hba, "auto yes no"),
	ENUM_KEY("source db1", "snapshot_mode", snapshot_mode, SNAPSHOT_MODE_COUNT, "source",
		 "db1", source_of, source_cfg, snapshot_mode,
		 "initial never initial_only when_needed"),
	ENUM_KEY("source db1", "decimal_handling", decimal_mode, DECIMAL_MODE_COUNT, "source",
		 "db1", source_of, source_cfg, decimal_handling, "string precise double"),
	ENUM_KEY("source db1", "interval_handling", interval_mode, INTERVAL_MODE_COUNT,
		 "source", "db1", source_of, source_cfg, interval_handling, "numeric string"),
	ENUM_KEY("target db2", "manage_hba", manage_hba, MANAGE_HBA_COUNT, "target", "db2",
		 target_of, target_cfg, pg.manage_hba, "auto yes no"),
	ENUM_KEY("target db2", "sslmode", pg_sslmode, PG_SSLMODE_COUNT, "target", "db2",
		 target_of, target_cfg, pg.sslmode,
		 "prefer disable allow require verify-ca verify-full"),
	ENUM_KEY("target db2", "insert_mode", insert_mode, INSERT_MODE_COUNT, "target", "db2",
		 target_of, target_cfg, insert_mode, "upsert insert"),
	ENUM_KEY("pipeline p", "schema_changes", schema_changes, SCHEMA_CHANGES_COUNT,
		 "pipeline", "p", pipeline_of, pipeline_cfg, schema_changes, "follow additive"),
	ENUM_KEY("pipeline p", "consistency", consistency, CONSISTENCY_COUNT, "pipeline", "p",
		 pipeline_of, pipeline_cfg, consistency, "transaction table"),
};

/* The seed (without its own kafka mode) with "key = value" as the first
 * line of k's section; *line: that line's number. */
static char *seed_with_enum(const struct enum_key *k, const char *value, int *line)
{
	char *base = xstrdup(seed), *at = strstr(base, "mode = kraft\n"), *text;

	memmove(at, at + strlen("mode = kraft\n"), strlen(at + strlen("mode = kraft\n")) + 1);
	at = strstr(base, k->section);
	assert_non_null(at);
	at += strlen(k->section);
	*line = 1;
	for (const char *c = base; c < at; c++)
		*line += *c == '\n';
	text = xasprintf("%.*s%s = %s\n%s", (int)(at - base), base, k->key, value, at);
	free(base);
	return text;
}

/* Each name table has a name for every value, no two alike, spelled as
 * the files write them. */
static void test_enum_name_tables(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(enum_keys); i++) {
		const struct enum_key *k = &enum_keys[i];
		struct strbuf all;

		assert_true(k->n >= 2);
		strbuf_init(&all);
		for (size_t v = 0; v < k->n; v++) {
			assert_non_null(k->names[v]);
			for (size_t w = 0; w < v; w++)
				assert_string_not_equal(k->names[v], k->names[w]);
			strbuf_addf(&all, "%s%s", v ? " " : "", k->names[v]);
		}
		assert_string_equal(all.data, k->spelled);
		strbuf_fini(&all);
	}
}

/* Every name parses to its value (the index in the name table, which is
 * the enumerator), and the section's text gives the name back. */
static void test_enum_names_parse_and_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(enum_keys); i++) {
		const struct enum_key *k = &enum_keys[i];

		for (size_t v = 0; v < k->n; v++) {
			int line;
			char *text = seed_with_enum(k, k->names[v], &line);
			char *want = xasprintf("\n%s=%s\n", k->key, k->names[v]);
			struct strbuf out;
			bool ok;
			struct topology *topo = load_text(text, &ok);
			const char *sec;

			if (!ok)
				fail_msg("%s = %s refused", k->key, k->names[v]);
			sec = (const char *)k->section_of(topo);
			assert_int_equal(*(const int *)(sec + k->offset), (int)v);
			strbuf_init(&out);
			topology_section_text(k->kind, k->name, sec, &out);
			if (!strstr(out.data, want))
				fail_msg("want '%s' in: %s", want, out.data);
			strbuf_fini(&out);
			topology_free(topo);
			free(want);
			free(text);
		}
	}
	/* the enumerators the agent tests by name */
	assert_string_equal(decimal_mode_names[DECIMAL_PRECISE], "precise");
	assert_string_equal(schema_changes_names[SCHEMA_CHANGES_ADDITIVE], "additive");
	assert_string_equal(kafka_compression_names[KAFKA_COMPRESSION_ZSTD], "zstd");
	assert_string_equal(snapshot_mode_names[SNAPSHOT_INITIAL_ONLY], "initial_only");
}

/* An unknown name fails at its FILE:LINE, listing the names in order. */
static void test_enum_unknown_name_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(enum_keys); i++) {
		const struct enum_key *k = &enum_keys[i];
		int line;
		char *text = seed_with_enum(k, "bogus", &line), *err;
		struct strbuf want;
		bool ok;
		struct topology *topo;

		capture_begin();
		topo = load_text(text, &ok);
		err = capture_end();
		assert_false(ok);
		assert_null(topo);
		strbuf_init(&want);
		strbuf_addf(&want, "/topo.ini:%d: error: ", line);
		if (!strstr(err, want.data))
			fail_msg("want '%s' in: %s", want.data, err);
		strbuf_fini(&want);
		strbuf_init(&want);
		strbuf_adds(&want, "'bogus' is not one of:");
		for (size_t v = 0; v < k->n; v++)
			strbuf_addf(&want, "%s %s", v ? "," : "", k->names[v]);
		if (!strstr(err, want.data))
			fail_msg("want '%s' in: %s", want.data, err);
		strbuf_fini(&want);
		free(err);
		free(text);
	}
}

static void expect_rejected(const char *text)
{
	bool ok;
	struct topology *topo = load_text(text, &ok);

	assert_false(ok);
	assert_null(topo);
}

static void test_bad_files_are_rejected(void **state)
{
	(void)state;
	expect_rejected("[source]\n");
	expect_rejected("[nonsense]\n");
	expect_rejected("no equals sign\n");
	expect_rejected("[kafka]\npartitions = 0\n");
	/* sizes with bounds: 1MB to 512MB, a unit required */
	expect_rejected("[kafka]\nmax_message_bytes = 1048575B\n");
	expect_rejected("[kafka]\nmax_message_bytes = 513MB\n");
	expect_rejected("[kafka]\nmax_message_bytes = 67108864\n");
	expect_rejected("[kafka]\nmode = zookeeper\nmode = kraft\n");
	expect_rejected("[pipeline p]\nsource = a\ntarget = b\n");
}

/* Paths and the heap go into units and Java command lines as they are:
 * each hostile value is refused at its key, with the reason. */
static void test_path_and_heap_values(void **state)
{
	static const struct key_spec path_key = { "state_dir", V_ABS_PATH, 0, false, NULL, NULL, 0, 0, 0, NULL };
	static const struct key_spec heap_key = { "heap", V_HEAP, 0, false, NULL, NULL, 0, 0, 0, NULL };
	static const struct {
		const struct key_spec *key;
		const char *value, *why;
	} bad[] = {
		{ &path_key, "/var/lib/x /", "path has a space at position 11" },
		{ &path_key, "/tmp/../etc", "a '..' component" },
		{ &path_key, "/tmp/./etc", "a '.' component" },
		{ &path_key, "/tmp//etc", "'//'" },
		{ &path_key, "/var/lib/x/", "ends with '/'" },
		{ &path_key, "/", "'/' is the whole file system" },
		{ &path_key, "/etc/%h", "path has '%'" },
		{ &path_key, "/etc/a\"b", "path has '\"'" },
		{ &path_key, "/etc/a'b", "path has '''" },
		{ &path_key, "/etc/a\tb", "byte 0x09" },
		{ &path_key, "/etc/\xc3\xa9", "byte 0xc3" },
		{ &path_key, "relative", "not an absolute path" },
		{ &heap_key, "512m -javaagent:/tmp/x.jar", "not a JVM heap size" },
		{ &heap_key, "512 m", "not a JVM heap size" },
		{ &heap_key, "512MB", "not a JVM heap size" },
		{ &heap_key, "0g", "not a JVM heap size" },
		{ &heap_key, "%h", "not a JVM heap size" },
		{ &heap_key, "m", "not a JVM heap size" },
	};
	static const struct {
		const struct key_spec *key;
		const char *value;
	} good[] = {
		{ &path_key, "/var/lib/cdc-agent" }, { &path_key, "/opt/kafka_2.13-3.9.2" },
		{ &path_key, "/a+b/c.d" }, { &heap_key, "512m" }, { &heap_key, "1G" },
		{ &heap_key, "65536k" }, { &heap_key, "1073741824" },
	};
	struct strbuf err;

	(void)state;
	strbuf_init(&err);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *field = NULL;

		err.len = 0;
		err.data[0] = '\0';
		if (value_parse(bad[i].key, bad[i].value, &field, &err))
			fail_msg("%s = \"%s\" accepted", bad[i].key->name, bad[i].value);
		assert_null(field);
		if (!strstr(err.data, bad[i].why))
			fail_msg("%s = \"%s\": expected \"%s\" in \"%s\"", bad[i].key->name,
				 bad[i].value, bad[i].why, err.data);
	}
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		char *field = NULL;

		err.len = 0;
		err.data[0] = '\0';
		if (!value_parse(good[i].key, good[i].value, &field, &err))
			fail_msg("%s = \"%s\" refused: %s", good[i].key->name, good[i].value, err.data);
		assert_string_equal(field, good[i].value);
		free(field);
	}
	strbuf_fini(&err);

	/* In the seed file, which loads as it is: refused by the loader, and
	 * install_dir may not sit in '/'. */
	{
		static const char *const lines[] = { "heap = 512m -javaagent:/tmp/x.jar\n",
						     "data_dir = /var/lib/x /\n",
						     "install_dir = /tmp/../etc\n",
						     "install_dir = /kafka\n" };
		bool ok;
		struct topology *topo = load_text(seed, &ok);

		assert_true(ok);
		topology_free(topo);
		for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
			char *text = xstrdup(seed), *at = strstr(text, "mode = kraft\n"), *file;

			at[strlen("mode = kraft\n")] = '\0';
			file = xasprintf("%s%s%s", text, lines[i], strstr(seed, "mode = kraft\n") +
								      strlen("mode = kraft\n"));
			expect_rejected(file);
			free(file);
			free(text);
		}
	}
}

/* The seed with its tables line replaced by tables_text. */
static char *seed_with_tables(const char *tables_text)
{
	const char *at = strstr(seed, "tables = ");
	const char *end = strchr(at, '\n') + 1;

	return xasprintf("%.*s%s%s", (int)(at - seed), seed, tables_text, end);
}

/* Loads the seed with tables_text; expects failure and returns stderr. */
static char *rejected_tables(const char *tables_text)
{
	char *text = seed_with_tables(tables_text), *err;
	bool ok;
	struct topology *topo;

	capture_begin();
	topo = load_text(text, &ok);
	err = capture_end();
	assert_false(ok);
	assert_null(topo);
	free(text);
	return err;
}

static void expect_tables_error(const char *tables_text, const char *want)
{
	char *err = rejected_tables(tables_text);

	if (!strstr(err, want))
		fail_msg("want '%s' in: %s", want, err);
	free(err);
}

/* A line has no length limit: 300 tables on one line, and on 300 lines. */
static void test_long_lines_and_continuations(void **state)
{
	struct strbuf one, many;
	struct topology *topo;
	char *text;
	bool ok;

	(void)state;
	strbuf_init(&one);
	strbuf_init(&many);
	strbuf_adds(&one, "tables = ");
	strbuf_adds(&many, "tables =\n");
	for (int i = 0; i < 300; i++) {
		strbuf_addf(&one, "%spublic.table_with_a_long_name_%03d", i ? ", " : "", i);
		strbuf_addf(&many, "    public.t%03d,%s\n", i, i % 50 == 0 ? " ; a comment" : "");
		if (i == 150)
			strbuf_adds(&many, "; a comment line between\n\n");
	}
	strbuf_adds(&one, "\n");
	text = seed_with_tables(one.data);
	topo = load_text(text, &ok);
	assert_true(ok);
	assert_int_equal(topo->sources[0].tables.n, 300);
	assert_string_equal(topo->sources[0].tables.items[299].table, "table_with_a_long_name_299");
	topology_free(topo);
	free(text);
	text = seed_with_tables(many.data);
	topo = load_text(text, &ok);
	assert_true(ok);
	assert_int_equal(topo->sources[0].tables.n, 300);
	assert_string_equal(topo->sources[0].tables.items[0].table, "t000");
	assert_string_equal(topo->sources[0].tables.items[299].table, "t299");
	assert_int_equal(topo->sources[0].table_specs.items[0].line, 12);
	assert_int_equal(topo->sources[0].table_specs.items[151].line, 12 + 151 + 2);
	/* the key after the list is read as a key again */
	assert_string_equal(topo->sources[0].topic_prefix, "db1server");
	topology_free(topo);
	free(text);
	strbuf_fini(&one);
	strbuf_fini(&many);
	/* a path still has its own limit */
	text = xasprintf("[agent]\nstate_dir = /%01100d\n", 0);
	expect_rejected(text);
	free(text);
}

static void test_quoted_identifiers(void **state)
{
	char *text = seed_with_tables(
		"tables = \"Sales.EU\".\"Order Lines\", Public.My_Table,\n"
		"  \"we\"\"ird\".\"a ; b\", public.café, \"Ünïcode\".\"表\"\n");
	const struct table_list *t;
	struct topology *topo;
	bool ok;

	(void)state;
	topo = load_text(text, &ok);
	assert_true(ok);
	t = &topo->sources[0].tables;
	assert_true(topo->sources[0].tables_static);
	assert_int_equal(t->n, 5);
	assert_string_equal(t->items[0].schema, "Sales.EU");
	assert_string_equal(t->items[0].table, "Order Lines");
	/* unquoted names fold to lower case, as PostgreSQL folds them */
	assert_string_equal(t->items[1].schema, "public");
	assert_string_equal(t->items[1].table, "my_table");
	assert_string_equal(t->items[2].schema, "we\"ird");
	assert_string_equal(t->items[2].table, "a ; b"); /* no inline comment inside quotes */
	assert_string_equal(t->items[3].table, "café");
	assert_string_equal(t->items[4].schema, "Ünïcode");
	assert_string_equal(t->items[4].table, "表");
	topology_free(topo);
	free(text);
}

static void test_patterns_and_exclusions(void **state)
{
	char *text = seed_with_tables("tables = public.*, Sales.Order_*, \"x*\".\"y?\",\n"
				      "  !public.tmp_*, !public.audit\n");
	const struct table_specs *sp;
	struct topology *topo;
	bool ok;

	(void)state;
	topo = load_text(text, &ok);
	assert_true(ok);
	assert_false(topo->sources[0].tables_static);
	assert_false(topo->sources[0].tables_resolved);
	assert_int_equal(topo->sources[0].tables.n, 0);
	sp = &topo->sources[0].table_specs;
	assert_int_equal(sp->n, 5);
	assert_true(sp->items[0].table_glob);
	assert_false(sp->items[0].schema_glob);
	assert_string_equal(sp->items[1].schema, "sales");
	assert_string_equal(sp->items[1].table, "order_*");
	/* quoted names are never patterns */
	assert_false(sp->items[2].schema_glob || sp->items[2].table_glob);
	assert_true(sp->items[3].exclude);
	assert_int_equal(sp->items[3].line, 12);
	assert_true(table_spec_matches(&sp->items[1], "sales", "order_lines"));
	assert_false(table_spec_matches(&sp->items[1], "sales", "Order_lines"));
	assert_true(table_spec_matches(&sp->items[2], "x*", "y?"));
	assert_false(table_spec_matches(&sp->items[2], "xa", "yb"));
	topology_free(topo);
	free(text);
}

static void test_table_refusals(void **state)
{
	(void)state;
	expect_tables_error("tables = \"Sales.EU\".\"Order Lines\",\n  \"Sales\".\"EU.Order Lines\"\n",
			    "topo.ini:12: error: tables: tables \"Sales.EU\".\"Order Lines\" and "
			    "\"Sales\".\"EU.Order Lines\" would both go to Kafka topic "
			    "db1server.Sales.EU.Order_Lines");
	expect_tables_error("tables = public.\"a b\", public.a_b\n",
			    "tables public.\"a b\" and public.a_b would both go to Kafka topic db1server.public.a_b");
	expect_tables_error("tables = public.\"a.b\", public.a_b\n",
			    "the topics of tables public.\"a.b\" and public.a_b, db1server.public.a.b and db1server.public.a_b, collide in Kafka");
	expect_tables_error("tables = public.a,\n  \"Sales.EU.x\n", "topo.ini:12: error: tables: schema name \"Sales.EU.x has no closing double quote");
	expect_tables_error("tables = public.\"\"\n", "table name \"\" is empty");
	expect_tables_error("tables = public.a\"b\"\n", "is not schema.table");
	expect_tables_error("tables = my_table\n", "table 'my_table' has no schema; did you mean public.my_table?");
	expect_tables_error("tables = public.1st\n", "'1st' is not a plain PostgreSQL identifier");
	expect_tables_error("tables = public.a, Public.A\n", "table public.a is listed twice");
	expect_tables_error("tables = !public.a*\n", "only exclusions ('!') are listed");
	expect_tables_error("tables = public.audit, !public.a*\n",
			    "table public.audit is listed, and excluded by the exclusion on line 11");
	expect_tables_error("tables = pg_catalog.pg_class\n", "schema pg_catalog is reserved");
	expect_tables_error("tables = public.\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
			    "is longer than PostgreSQL's 63 bytes");
	expect_tables_error("tables = public.a\n  port = 5432\n",
			    "topo.ini:12: error: line starts with white space, which continues the previous value of 'tables'");
	expect_tables_error("tables = public.\"a\tb\"\n", "control character 0x09");
	expect_tables_error("tables = public.\xff\n", "is not UTF-8");
}

/* The seed's [source db1] with lines (one %s for the files' directory)
 * added after its topic_prefix line (12): the first added is line 13. */
static char *seed_with_source_lines(const char *lines)
{
	const char *at = strstr(seed, "topic_prefix = db1server\n");
	const char *end = strchr(at, '\n') + 1;

	return xasprintf("%.*s%s%s", (int)(end - seed), seed, lines, end);
}

static void expect_source_error(const char *lines, const char *want)
{
	char *text = seed_with_source_lines(lines), *err;
	bool ok;
	struct topology *topo;

	capture_begin();
	topo = load_text(text, &ok);
	err = capture_end();
	assert_false(ok);
	assert_null(topo);
	if (!strstr(err, want))
		fail_msg("want '%s' in: %s", want, err);
	free(err);
	free(text);
}

/* transaction_metadata: on by default, its topic <topic_prefix>.transaction;
 * off, no topic; a transaction topic that is another source's table topic
 * (dotted prefixes) refused at the topic_prefix line. */
static void test_transaction_metadata_key(void **state)
{
	char *off = seed_with_source_lines("transaction_metadata = false\n"), *topic, *err;
	/* db1's table sales.transaction goes to db1server.sales.transaction */
	const char *at = strstr(seed, "sales.orders");
	char *clash = xasprintf("%.*ssales.transaction%s[source db3]\nhost = 127.0.0.1\n"
				"dbname = db3\nuser = cdc_user\npassword_file = %%s/db1.pass\n"
				"publication = p3\nslot = s3\ntables = public.t\n"
				"topic_prefix = db1server.sales\n",
				(int)(at - seed), seed, at + strlen("sales.orders"));
	bool ok;
	struct topology *topo;

	(void)state;
	topo = load_text(seed, &ok);
	assert_true(ok);
	assert_true(topo->sources[0].transaction_metadata);
	topic = topology_transaction_topic(&topo->sources[0]);
	assert_string_equal(topic, "db1server.transaction");
	free(topic);
	topology_free(topo);
	topo = load_text(off, &ok);
	assert_true(ok);
	assert_false(topo->sources[0].transaction_metadata);
	assert_null(topology_transaction_topic(&topo->sources[0]));
	topology_free(topo);
	capture_begin();
	topo = load_text(clash, &ok);
	err = capture_end();
	assert_false(ok);
	if (!strstr(err, "source db3's transaction topic db1server.sales.transaction collides with the topic db1server.sales.transaction of source db1's table sales.transaction"))
		fail_msg("unexpected: %s", err);
	free(err);
	free(clash);
	free(off);
}

/* consistency: transaction by default; without the source's transaction
 * metadata, table when unset and an error naming both keys when set. */
static void test_consistency_key(void **state)
{
	char *off = seed_with_source_lines("transaction_metadata = false\n");
	char *off_set = xasprintf("%sconsistency = transaction\n", off);
	char *table = xasprintf("%sconsistency = table\n", seed), *err;
	bool ok;
	struct topology *topo;

	(void)state;
	topo = load_text(seed, &ok);
	assert_true(ok);
	assert_int_equal(topo->pipelines[0].consistency, CONSISTENCY_TRANSACTION);
	topology_free(topo);
	topo = load_text(table, &ok);
	assert_true(ok);
	assert_int_equal(topo->pipelines[0].consistency, CONSISTENCY_TABLE);
	topology_free(topo);
	topo = load_text(off, &ok);
	assert_true(ok);
	assert_int_equal(topo->pipelines[0].consistency, CONSISTENCY_TABLE);
	topology_free(topo);
	capture_begin();
	topo = load_text(off_set, &ok);
	err = capture_end();
	assert_false(ok);
	assert_null(topo);
	if (!strstr(err, ":25: error: pipeline p: consistency = transaction needs source db1's transaction_metadata = true (") ||
	    !strstr(err, ":13 sets it false)"))
		fail_msg("unexpected: %s", err);
	free(err);
	free(off_set);
	free(table);
	free(off);
}

/* sslmode, sslrootcert, sslcert and sslkey: parsed and checked as a whole,
 * each refusal at its key's line with the cause. */
static void test_tls_keys(void **state)
{
	char *text = seed_with_source_lines("sslmode = verify-full\n"
					    "sslrootcert = %s/ca.crt\n"
					    "sslcert = %s/client.crt\n"
					    "sslkey = %s/client.key\n");
	struct strbuf out;
	bool ok;
	struct topology *topo = load_text(text, &ok);

	(void)state;
	assert_true(ok);
	assert_int_equal(topo->sources[0].pg.sslmode, PG_SSLMODE_VERIFY_FULL);
	assert_true(pg_server_tls_required(&topo->sources[0].pg));
	assert_non_null(strstr(topo->sources[0].pg.sslkey, "/client.key"));
	strbuf_init(&out);
	topology_section_text("source", "db1", &topo->sources[0], &out);
	assert_non_null(strstr(out.data, "\nsslmode=verify-full\n"));
	assert_non_null(strstr(out.data, "/client.crt\nsslkey="));
	strbuf_fini(&out);
	topology_free(topo);
	free(text);
	for (int m = PG_SSLMODE_PREFER; m < PG_SSLMODE_COUNT; m++) {
		struct pg_server_cfg pg = { .sslmode = (enum pg_sslmode)m };

		assert_int_equal(pg_server_tls_required(&pg),
				 m == PG_SSLMODE_REQUIRE || m == PG_SSLMODE_VERIFY_CA ||
					 m == PG_SSLMODE_VERIFY_FULL);
	}
	expect_source_error("sslmode = verify-full\n",
			    "topo.ini:13: error: source db1: sslmode verify-full needs sslrootcert");
	expect_source_error("sslmode = verify-ca\n", "sslmode verify-ca needs sslrootcert");
	expect_source_error("sslcert = %s/client.crt\n",
			    "topo.ini:13: error: source db1: sslcert needs sslkey");
	expect_source_error("sslkey = %s/client.key\n",
			    "topo.ini:13: error: source db1: sslkey needs sslcert");
	expect_source_error("sslkey = %s/loose.key\nsslcert = %s/client.crt\n",
			    "topo.ini:13: error: sslkey: key file ");
	expect_source_error("sslkey = %s/loose.key\nsslcert = %s/client.crt\n",
			    "/loose.key: mode 0640 lets group or others read it; chmod 600 it");
	expect_source_error("sslrootcert = %s/none.crt\n",
			    "sslrootcert: certificate file ");
	expect_source_error("sslrootcert = %s/none.crt\n", "none.crt: No such file or directory");
	expect_source_error("sslrootcert = %s\n", "sslrootcert: certificate file");
	expect_source_error("sslmode = verify_full\n", "'verify_full' is not one of: prefer, disable, allow, require, verify-ca, verify-full");
}

/* The seed with more [kafka] lines first and more [pipeline p] lines last;
 * %s in them stays for load_text (the work directory: at most two). */
static char *seed_secured(const char *kafka_lines, const char *pipeline_lines)
{
	return xasprintf("[kafka]\n%s%s%s", kafka_lines, seed + strlen("[kafka]\n"),
			 pipeline_lines);
}

/* Loads text, expecting it refused with want among the errors. */
static void expect_error(const char *text, const char *want)
{
	struct topology *topo;
	char *err;
	bool ok;

	capture_begin();
	topo = load_text(text, &ok);
	err = capture_end();
	assert_false(ok);
	assert_null(topo);
	if (!strstr(err, want))
		fail_msg("errors \"%s\" lack \"%s\"", err, want);
	free(err);
}

/* [kafka] security_protocol and the rest, and each pipeline's credentials:
 * defaults, values, the name tables, whose credentials a probe uses. */
static void test_kafka_security_keys(void **state)
{
	char *text;
	struct topology *topo;
	struct strbuf sb;
	bool ok;

	(void)state;
	assert_string_equal(kafka_security_names[KAFKA_SECURITY_PLAINTEXT], "plaintext");
	assert_string_equal(kafka_security_names[KAFKA_SECURITY_SSL], "ssl");
	assert_string_equal(kafka_security_names[KAFKA_SECURITY_SASL_PLAINTEXT], "sasl_plaintext");
	assert_string_equal(kafka_security_names[KAFKA_SECURITY_SASL_SSL], "sasl_ssl");
	assert_string_equal(kafka_sasl_mechanism_names[KAFKA_SASL_SCRAM_SHA_512], "scram-sha-512");
	assert_string_equal(kafka_sasl_mechanism_names[KAFKA_SASL_SCRAM_SHA_256], "scram-sha-256");
	assert_string_equal(kafka_sasl_mechanism_names[KAFKA_SASL_PLAIN], "plain");
	assert_string_equal(kafka_sasl_mechanism_rdkafka_names[KAFKA_SASL_SCRAM_SHA_256],
			    "SCRAM-SHA-256");
	assert_false(kafka_security_tls(KAFKA_SECURITY_SASL_PLAINTEXT));
	assert_true(kafka_security_sasl(KAFKA_SECURITY_SASL_PLAINTEXT));

	/* defaults: plaintext, nobody */
	topo = load_text(seed, &ok);
	assert_true(ok);
	assert_int_equal(topo->kafka.security_protocol, KAFKA_SECURITY_PLAINTEXT);
	assert_int_equal(topo->kafka.sasl_mechanism, KAFKA_SASL_SCRAM_SHA_512);
	assert_null(topo->kafka.ssl_ca_file);
	assert_null(topo->pipelines[0].capture_kafka.user);
	assert_null(topo->pipelines[0].apply_kafka.password_file);
	topology_free(topo);

	/* sasl_ssl with mutual TLS; files: the test's password files (0600).
	 * The seed's two %s stay for load_text. */
	text = xasprintf("[kafka]\nsecurity_protocol = sasl_ssl\nsasl_mechanism = scram-sha-256\n"
			 "ssl_ca_file = %s/db1.pass\nssl_cert_file = %s/db1.pass\n"
			 "ssl_key_file = %s/db2.pass\n%s"
			 "capture_kafka_user = capture-p\n"
			 "capture_kafka_password_file = %s/db1.pass\n"
			 "apply_kafka_user = apply-p\n"
			 "apply_kafka_password_file = %s/db2.pass\n",
			 work_dir, work_dir, work_dir, seed + strlen("[kafka]\n"), work_dir, work_dir);
	topo = load_text(text, &ok);
	assert_true(ok);
	assert_int_equal(topo->kafka.security_protocol, KAFKA_SECURITY_SASL_SSL);
	assert_int_equal(topo->kafka.sasl_mechanism, KAFKA_SASL_SCRAM_SHA_256);
	assert_non_null(strstr(topo->kafka.ssl_ca_file, "/db1.pass"));
	assert_non_null(strstr(topo->kafka.ssl_cert_file, "/db1.pass"));
	assert_non_null(strstr(topo->kafka.ssl_key_file, "/db2.pass"));
	assert_string_equal(topo->pipelines[0].capture_kafka.user, "capture-p");
	assert_non_null(strstr(topo->pipelines[0].capture_kafka.password_file, "/db1.pass"));
	assert_string_equal(topo->pipelines[0].apply_kafka.user, "apply-p");
	assert_non_null(strstr(topo->pipelines[0].apply_kafka.password_file, "/db2.pass"));
	/* a probe: apply's credentials for a pipeline, else capture's */
	assert_ptr_equal(topology_probe_credentials(topo, &topo->pipelines[0]),
			 &topo->pipelines[0].apply_kafka);
	assert_ptr_equal(topology_probe_credentials(topo, NULL), &topo->pipelines[0].capture_kafka);
	/* in the digests' text (paths, never a password) */
	strbuf_init(&sb);
	topology_section_text("kafka", NULL, &topo->kafka, &sb);
	assert_non_null(strstr(sb.data, "\nsecurity_protocol=sasl_ssl\n"));
	assert_non_null(strstr(sb.data, "\nsasl_mechanism=scram-sha-256\n"));
	sb.len = 0;
	topology_section_text("pipeline", "p", &topo->pipelines[0], &sb);
	assert_non_null(strstr(sb.data, "\ncapture_kafka_user=capture-p\n"));
	assert_null(strstr(sb.data, "secret"));
	strbuf_fini(&sb);
	topology_free(topo);
	free(text);
}

/* What check_kafka_security refuses, each with its reason. */
static void test_kafka_security_refusals(void **state)
{
	struct {
		const char *kafka, *pipeline, *want;
	} cases[] = {
		{ "security_protocol = sasl_ssl\n", "",
		  "pipeline p lacks capture_kafka_user: with [kafka] security_protocol sasl_ssl" },
		{ "security_protocol = sasl_plaintext\n",
		  "capture_kafka_user = c\ncapture_kafka_password_file = %s/db1.pass\n"
		  "apply_kafka_user = a\n",
		  "pipeline p lacks apply_kafka_password_file" },
		{ "sasl_mechanism = plain\n", "",
		  "sasl_mechanism needs security_protocol sasl_plaintext or sasl_ssl (it is plaintext)" },
		{ "security_protocol = ssl\n", "apply_kafka_user = a\n",
		  "pipeline p: apply_kafka_user needs a sasl_* security_protocol in [kafka] (it is ssl)" },
		{ "ssl_ca_file = %s/db1.pass\n", "",
		  "ssl_ca_file needs security_protocol ssl or sasl_ssl (it is plaintext)" },
		{ "security_protocol = ssl\nssl_ca_file = /nonexistent/ca.pem\n", "",
		  "ssl_ca_file: certificate file /nonexistent/ca.pem: No such file or directory" },
		{ "security_protocol = ssl\nssl_key_file = %s/db1.pass\n", "",
		  "ssl_key_file without ssl_cert_file" },
		{ "security_protocol = tls\n", "",
		  "security_protocol: 'tls' is not one of: plaintext, ssl, sasl_plaintext, sasl_ssl" },
		{ "security_protocol = sasl_ssl\nsasl_mechanism = gssapi\n", "",
		  "sasl_mechanism: 'gssapi' is not one of: scram-sha-512, scram-sha-256, plain" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		/* the case's %s (at most one) is the work directory; the seed's
		 * two come after it, also the work directory */
		char *kafka = xasprintf(cases[i].kafka, work_dir);
		char *pipeline = xasprintf(cases[i].pipeline, work_dir);
		char *text = seed_secured(kafka, pipeline);

		expect_error(text, cases[i].want);
		free(text);
		free(pipeline);
		free(kafka);
	}
}

/* A Kafka password file that does not exist yet: bootstrap's to generate
 * (kafka_access.c) for the broker it installs secured, refused otherwise
 * (a cluster of its own, or one the agent does not install). */
static void test_kafka_password_missing(void **state)
{
	const char *rest = strstr(seed, "[source db1]");
	const char *pipeline_lines =
		"capture_kafka_user = c\ncapture_kafka_password_file = %s/new/c.pass\n"
		"apply_kafka_user = a\napply_kafka_password_file = %s/a.pass\n";
	char *sha = xcalloc(129, 1), *kafka;
	struct topology *topo;
	char *text;
	bool ok;

	(void)state;
	memset(sha, 'a', 128);
	kafka = xasprintf("dist = file:///var/cache/cdc-agent/dist/kafka.tgz\nsha512 = %s\n"
			  "security_protocol = sasl_ssl\n",
			  sha);
	text = seed_secured(kafka, pipeline_lines);
	topo = load_text(text, &ok);
	assert_true(ok);
	assert_non_null(strstr(topo->pipelines[0].capture_kafka.password_file, "/new/c.pass"));
	/* The broker's certificate is issued: the clients trust the agent's CA. */
	assert_true(topo->kafka.broker_tls_generated);
	assert_string_equal(topo->kafka.ssl_ca_file, "/etc/cdc-agent/kafka-tls/ca.pem");
	topology_free(topo);
	free(text);

	text = seed_secured("security_protocol = sasl_ssl\n", pipeline_lines);
	expect_error(text, "c.pass does not exist (the agent makes users and their passwords only "
			   "on the broker it installs, [kafka] dist with security_protocol sasl_ssl)");
	free(text);

	text = xasprintf("[kafka]\nmanaged = false\nsecurity_protocol = sasl_ssl\n"
			 "bootstrap_servers = kafka.example.com:9096\n%s"
			 "capture_kafka_user = c\ncapture_kafka_password_file = %%s/db1.pass\n"
			 "apply_kafka_user = a\napply_kafka_password_file = %%s/a.pass\n",
			 rest);
	expect_error(text, "apply_kafka_password_file");
	expect_error(text, "a.pass does not exist (the agent makes users and their passwords only "
			   "on the broker it installs, [kafka] dist with security_protocol sasl_ssl)");
	free(text);
	free(kafka);
	free(sha);
}

/* Fan-out: a source in several pipelines.  The first captures; the others
 * have no capture keys; two into one database are refused. */
static void test_fan_out(void **state)
{
	const char *more = "[target db3]\nhost = 127.0.0.1\ndbname = db3\nuser = u3\n"
			   "password_file = %s/db2.pass\n"
			   "[pipeline q]\nsource = db1\ntarget = db3\n";
	const char *keys_p = "capture_kafka_user = c\ncapture_kafka_password_file = %s/db1.pass\n"
			     "apply_kafka_user = a\napply_kafka_password_file = %s/db1.pass\n";
	const char *keys_q = "apply_kafka_user = a2\napply_kafka_password_file = %s/db1.pass\n";
	struct topology *topo;
	char *text, *secured, *kp, *kq;
	bool ok;

	(void)state;
	/* load_text fills six %s at most: these keys get theirs here */
	kp = xasprintf(keys_p, work_dir, work_dir);
	kq = xasprintf(keys_q, work_dir);
	text = xasprintf("%s%s", seed, more);
	topo = load_text(text, &ok);
	assert_true(ok);
	assert_int_equal(topo->n_pipelines, 2);
	assert_ptr_equal(topology_capture_pipeline(topo, &topo->pipelines[0]), &topo->pipelines[0]);
	assert_ptr_equal(topology_capture_pipeline(topo, &topo->pipelines[1]), &topo->pipelines[0]);
	assert_true(topology_captures(topo, &topo->pipelines[0]));
	assert_false(topology_captures(topo, &topo->pipelines[1]));
	topology_free(topo);
	free(text);

	/* Under SASL only the capturing pipeline has a capture user. */
	secured = xasprintf("[kafka]\nsecurity_protocol = sasl_plaintext\n%s%s"
			    "[target db3]\nhost = 127.0.0.1\ndbname = db3\nuser = u3\n"
			    "password_file = %%s/db2.pass\n"
			    "[pipeline q]\nsource = db1\ntarget = db3\n%s",
			    seed + strlen("[kafka]\n"), kp, kq);
	topo = load_text(secured, &ok);
	assert_true(ok);
	assert_null(topo->pipelines[1].capture_kafka.user);
	topology_free(topo);
	free(secured);
	secured = xasprintf("[kafka]\nsecurity_protocol = sasl_plaintext\n%s%s"
			    "[target db3]\nhost = 127.0.0.1\ndbname = db3\nuser = u3\n"
			    "password_file = %%s/db2.pass\n"
			    "[pipeline q]\nsource = db1\ntarget = db3\n%scapture_kafka_user = c2\n",
			    seed + strlen("[kafka]\n"), kp, kq);
	expect_error(secured, "pipeline q: capture_kafka_user is for the pipeline that captures "
			      "source db1, which is p (the first of that source): remove it here");
	free(secured);

	/* Another [target] naming the same database is the same target. */
	text = xasprintf("%s%s", seed,
			 "[target again]\nhost = /var/run/postgresql\ndbname = db2\nuser = u3\n"
			 "password_file = %s/db2.pass\n"
			 "[pipeline q]\nsource = db1\ntarget = again\n");
	expect_error(text, "pipelines p and q both replicate source db1 into database db2 on "
			   "/var/run/postgresql:5432, where they would write the same tables");
	free(text);
	free(kq);
	free(kp);
}

/* [kafka] managed: true by default; false takes a secured cluster of its
 * own and refuses, at their lines, the keys of the broker the agent
 * installs and a [zookeeper] section. */
static void test_kafka_managed(void **state)
{
	const char *rest = strstr(seed, "[source db1]");
	static const char *const refused[] = { "mode = kraft", "dist = https://example.com/k.tgz",
					       "sha512 = 0", "install_dir = /opt/kafka",
					       "data_dir = /var/lib/kafka", "heap = 1g" };
	struct topology *topo;
	struct strbuf sb;
	char *text, *want;
	bool ok;

	(void)state;
	topo = load_text(seed, &ok);
	assert_true(ok);
	assert_true(topo->kafka.managed);
	topology_free(topo);

	text = xasprintf("[kafka]\nmanaged = false\nsecurity_protocol = sasl_ssl\n"
			 "bootstrap_servers = kafka.example.com:9096\n%s"
			 "capture_kafka_user = c\ncapture_kafka_password_file = %%s/db1.pass\n"
			 "apply_kafka_user = a\napply_kafka_password_file = %%s/db2.pass\n",
			 rest);
	topo = load_text(text, &ok);
	assert_true(ok);
	assert_false(topo->kafka.managed);
	assert_null(topo->kafka.dist);
	strbuf_init(&sb);
	topology_section_text("kafka", NULL, &topo->kafka, &sb);
	assert_non_null(strstr(sb.data, "\nmanaged=false\n"));
	strbuf_fini(&sb);
	topology_free(topo);
	free(text);

	for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
		size_t klen = strcspn(refused[i], " ");

		text = xasprintf("[kafka]\nmanaged = false\n%s\n%s", refused[i], rest);
		want = xasprintf(":3: error: [kafka] %.*s is only for a Kafka the agent runs (managed = true)",
				 (int)klen, refused[i]);
		expect_error(text, want);
		free(want);
		free(text);
	}
	text = xasprintf("[kafka]\nmanaged = false\n%s[zookeeper]\nconnect = 127.0.0.1:2181\n",
			 rest);
	expect_error(text, "[zookeeper] is only for a Kafka the agent runs (managed = true)");
	free(text);
	text = xasprintf("[kafka]\nmanaged = maybe\n%s", rest);
	expect_error(text, ":2: ");
	free(text);
}

static int setup(void **state)
{
	char *p;

	(void)state;
	if (!mkdtemp(work_dir))
		return -1;
	p = xasprintf("%s/db1.pass", work_dir);
	write_file(p, "secret\n", 0600);
	free(p);
	p = xasprintf("%s/db2.pass", work_dir);
	write_file(p, "secret\n", 0600);
	free(p);
	p = xasprintf("%s/ca.crt", work_dir);
	write_file(p, "-----BEGIN CERTIFICATE-----\n", 0644);
	free(p);
	p = xasprintf("%s/client.crt", work_dir);
	write_file(p, "-----BEGIN CERTIFICATE-----\n", 0644);
	free(p);
	p = xasprintf("%s/client.key", work_dir);
	write_file(p, "-----BEGIN PRIVATE KEY-----\n", 0600);
	free(p);
	p = xasprintf("%s/loose.key", work_dir);
	write_file(p, "-----BEGIN PRIVATE KEY-----\n", 0640);
	free(p);
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
		cmocka_unit_test(test_seed_topology_parses),
		cmocka_unit_test(test_topic_prefix_defaults_to_name),
		cmocka_unit_test(test_decimal_default_follows_json_schemas),
		cmocka_unit_test(test_schema_changes_key),
		cmocka_unit_test(test_enum_name_tables),
		cmocka_unit_test(test_enum_names_parse_and_round_trip),
		cmocka_unit_test(test_enum_unknown_name_refused),
		cmocka_unit_test(test_bad_files_are_rejected),
		cmocka_unit_test(test_path_and_heap_values),
		cmocka_unit_test(test_long_lines_and_continuations),
		cmocka_unit_test(test_quoted_identifiers),
		cmocka_unit_test(test_patterns_and_exclusions),
		cmocka_unit_test(test_table_refusals),
		cmocka_unit_test(test_transaction_metadata_key),
		cmocka_unit_test(test_consistency_key),
		cmocka_unit_test(test_tls_keys),
		cmocka_unit_test(test_kafka_security_keys),
		cmocka_unit_test(test_kafka_security_refusals),
		cmocka_unit_test(test_kafka_password_missing),
		cmocka_unit_test(test_kafka_managed),
		cmocka_unit_test(test_fan_out),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
