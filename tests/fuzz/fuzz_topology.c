/*
 * tests/fuzz/fuzz_topology.c: the topology loader (topology_load) on
 * arbitrary bytes.
 *
 * The input is the topology file.  It is written to a memfd and loaded by
 * its /proc/self/fd path: nothing is written to disk.  The loader reads only
 * that file, and stat()s and access()es the password files the topology
 * names (it never opens them): "@DIR@" in the input becomes a private temp
 * directory made at start, holding db1.pass and db2.pass (mode 0600, as the
 * loader wants them) and open.pass (0644), as tests/topologies/bad/ uses it;
 * "@PORT@" becomes 5432.  So the seeds of tests/topologies/bad/ and the
 * shipped cdc-agent.ini load as the integration test loads them.
 */
#include "fuzz.h"

#include "base/util.h"
#include "config/topo_values.h"
#include "config/topology.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int memfd = -1;
static char memfd_path[64];
static char tmpdir[] = "/tmp/cdc-fuzz-topology.XXXXXX";
static pid_t owner; /* the process that made tmpdir (the replay forks) */

static void write_file(const char *name, mode_t mode)
{
	char path[sizeof(tmpdir) + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
	if (fd < 0 || write(fd, "secret\n", 7) != 7 || fchmod(fd, mode) != 0 || close(fd) != 0) {
		perror(path);
		abort();
	}
}

static void remove_tmpdir(void)
{
	static const char *const names[] = { "db1.pass", "db2.pass", "open.pass" };
	char path[sizeof(tmpdir) + 32];

	if (getpid() != owner)
		return;
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	memfd = memfd_create("fuzz-topology.ini", MFD_CLOEXEC);
	if (memfd < 0 || !mkdtemp(tmpdir)) {
		perror("fuzz_topology: setup");
		abort();
	}
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	owner = getpid();
	atexit(remove_tmpdir);
	write_file("db1.pass", 0600);
	write_file("db2.pass", 0600);
	write_file("open.pass", 0644);
	return 0;
}

/* data with every "@DIR@" and "@PORT@" replaced. */
static void expand(struct strbuf *sb, const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *at = memchr(p, '@', (size_t)(end - p));

		if (!at) {
			strbuf_add(sb, p, (size_t)(end - p));
			break;
		}
		strbuf_add(sb, p, (size_t)(at - p));
		if ((size_t)(end - at) >= 5 && memcmp(at, "@DIR@", 5) == 0) {
			strbuf_adds(sb, tmpdir);
			p = at + 5;
		} else if ((size_t)(end - at) >= 6 && memcmp(at, "@PORT@", 6) == 0) {
			strbuf_adds(sb, "5432");
			p = at + 6;
		} else {
			strbuf_add(sb, at, 1);
			p = at + 1;
		}
	}
}

/* Every string of a loaded topology is read (ASan sees a dangling one) and
 * what the loader promises is checked. */
static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

static void touch_server(const struct pg_server_cfg *pg)
{
	FUZZ_CHECK(pg->host && pg->dbname && pg->user && pg->password_file,
		   "a required key of a server is NULL after a successful load");
	FUZZ_CHECK(pg->port >= 1 && pg->port <= 65535, "port %d out of range", pg->port);
	touch(pg->admin_user);
	touch(pg->admin_password_file);
	touch(pg->admin_host);
	touch(pg->admin_dbname);
	touch(pg->service);
	for (size_t i = 0; i < pg->hba_allow.n; i++)
		touch(pg->hba_allow.items[i]);
}

static void check_loaded(const struct topology *topo)
{
	FUZZ_CHECK(topo->n_pipelines > 0, "loaded a topology without a pipeline");
	for (size_t i = 0; i < topo->n_sources; i++) {
		const struct source_cfg *s = &topo->sources[i];

		touch_server(&s->pg);
		FUZZ_CHECK(s->publication && s->slot && s->topic_prefix && s->table_specs.n > 0,
			   "source %s lacks a required key", s->name);
		/* without patterns the tables are known at load; with, they
		 * wait for the catalog (table_select.c) */
		FUZZ_CHECK(s->tables_static ? s->tables_resolved && s->tables.n > 0
					    : !s->tables_resolved && s->tables.n == 0,
			   "source %s: tables static %d resolved %d n %zu", s->name,
			   s->tables_static, s->tables_resolved, s->tables.n);
		for (size_t t = 0; t < s->table_specs.n; t++) {
			const struct table_spec *sp = &s->table_specs.items[t];

			FUZZ_CHECK(sp->schema[0] && sp->table[0] && sp->line > 0,
				   "source %s: table item %zu", s->name, t);
			(void)table_spec_matches(sp, "public", "my_table");
		}
		for (size_t t = 0; t < s->tables.n; t++) {
			char *topic = topology_topic(s, &s->tables.items[t]);

			FUZZ_CHECK(strlen(topic) > strlen(s->topic_prefix), "topic %s", topic);
			free(topic);
		}
		(void)topology_key_line(&s->origin, "source", "slot");
		(void)topology_key_line(&s->origin, "source", "no such key");
	}
	for (size_t i = 0; i < topo->n_targets; i++)
		touch_server(&topo->targets[i].pg);
	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];

		FUZZ_CHECK(p->source && p->target, "pipeline %s left unresolved", p->name);
		FUZZ_CHECK(p->source >= topo->sources && p->source < topo->sources + topo->n_sources,
			   "pipeline %s: source points outside the topology", p->name);
		touch(p->source->name);
		touch(p->target->name);
	}
	touch(topo->agent.state_dir);
	touch(topo->agent.status_listen);
	touch(topo->kafka.dist);
	touch(topo->kafka.sha512);
	FUZZ_CHECK(!topo->kafka.dist || topo->kafka.sha512, "dist without sha512 was accepted");
	FUZZ_CHECK(strlen(topo->sha512) == TOPOLOGY_DIGEST_HEX, "digest '%s'", topo->sha512);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf text;
	struct topology *topo = NULL;

	if (size > 64 * 1024)
		return -1; /* a topology is a few kB; longer inputs only slow the search */
	strbuf_init(&text);
	expand(&text, data, size);
	if (ftruncate(memfd, 0) != 0 || pwrite(memfd, text.data, text.len, 0) != (ssize_t)text.len)
		abort();
	strbuf_fini(&text);
	if (topology_load(memfd_path, &topo)) {
		check_loaded(topo);
		topology_free(topo);
	}
	return 0;
}
