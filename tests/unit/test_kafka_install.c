/*
 * tests/unit/test_kafka_install.c: the Kafka installer on small tarballs
 * built here (libarchive), served from file:// and from a loopback HTTP
 * server thread (also able to 404 and to cut a download short); and the
 * Java runtime lookup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/changes.h"
#include "base/util.h"
#include "config/topology.h"
#include "provision/kafka_install.h"

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define V1 "kafka_2.13-9.9.1"
#define V2 "kafka_2.13-9.9.2"

static char work_dir[] = "/tmp/cdc-kafka-install.XXXXXX";

#define assert_contains(hay, needle)                                                  \
	do {                                                                          \
		if (!strstr((hay), (needle)))                                         \
			fail_msg("expected \"%s\" in:\n%s", (needle), (hay));          \
	} while (0)

/* ---- files ------------------------------------------------------------ */

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static char *read_text(const char *path) /* caller frees */
{
	FILE *f = fopen(path, "rb");
	struct strbuf sb;
	char buf[4096];
	size_t n;

	assert_non_null(f);
	strbuf_init(&sb);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	return strbuf_detach(&sb);
}

static char *link_target(const char *path) /* caller frees */
{
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	assert_true(n > 0);
	return xstrndup(buf, (size_t)n);
}

/* Names in dir, sorted, joined by spaces ("" if dir is missing). */
static char *list_dir(const char *dir) /* caller frees */
{
	struct dirent **names;
	struct strbuf sb;
	int n = scandir(dir, &names, NULL, alphasort);

	strbuf_init(&sb);
	strbuf_adds(&sb, "");
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0)
			strbuf_addf(&sb, "%s%s", sb.len ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	return strbuf_detach(&sb);
}

static void assert_dir_lists(const char *dir, const char *expected)
{
	char *got = list_dir(dir);

	assert_string_equal(got, expected);
	free(got);
}

static void file_sha512(const char *path, char hex[129])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int len;
	char *data;
	struct stat st;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	data = xmalloc((size_t)st.st_size);
	assert_int_equal(fread(data, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	EVP_DigestInit_ex(md, EVP_sha512(), NULL);
	EVP_DigestUpdate(md, data, (size_t)st.st_size);
	EVP_DigestFinal_ex(md, raw, &len);
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	EVP_MD_CTX_free(md);
	free(data);
}

/* ---- tarballs --------------------------------------------------------- */

/* type: 'd' directory, 'f' file (data, or size pseudo-random bytes when
 * data is NULL), 'l' symlink to data, 'h' hard link to data.  "%s" in a
 * name or link target stands for the top directory. */
struct tar_entry {
	char type;
	const char *name;
	const char *data;
	size_t size;
};

static void make_tarball(const char *path, const char *top, const struct tar_entry *entries,
			 size_t n)
{
	struct archive *a = archive_write_new();

	archive_write_add_filter_gzip(a);
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		const struct tar_entry *e = &entries[i];
		struct archive_entry *entry = archive_entry_new();
		char *name = xasprintf(e->name, top);
		char *target = e->data ? xasprintf(e->data, top) : NULL;
		char *random = NULL;
		size_t size = 0;

		archive_entry_set_pathname(entry, name);
		archive_entry_set_mtime(entry, 946684800, 0);
		switch (e->type) {
		case 'd':
			archive_entry_set_filetype(entry, AE_IFDIR);
			archive_entry_set_perm(entry, 0755);
			break;
		case 'f':
			archive_entry_set_filetype(entry, AE_IFREG);
			archive_entry_set_perm(entry, 0644);
			if (target) {
				size = strlen(target);
			} else {
				uint32_t x = 2463534242u;

				size = e->size;
				random = xmalloc(size);
				for (size_t j = 0; j < size; j++) {
					x ^= x << 13, x ^= x >> 17, x ^= x << 5;
					random[j] = (char)x;
				}
			}
			archive_entry_set_size(entry, (la_int64_t)size);
			break;
		case 'l':
			archive_entry_set_filetype(entry, AE_IFLNK);
			archive_entry_set_perm(entry, 0777);
			archive_entry_set_symlink(entry, target);
			break;
		case 'h':
			archive_entry_set_filetype(entry, AE_IFREG);
			archive_entry_set_perm(entry, 0644);
			archive_entry_set_hardlink(entry, target);
			break;
		}
		assert_int_equal(archive_write_header(a, entry), ARCHIVE_OK);
		if (size)
			assert_int_equal(archive_write_data(a, random ? random : target, size),
					 (la_ssize_t)size);
		archive_entry_free(entry);
		free(random);
		free(target);
		free(name);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* A Kafka-like tree: libs/, config/, a relative symlink and a hard link,
 * and 256 KiB of incompressible bytes so that a download can be cut. */
static const struct tar_entry kafka_like[] = {
	{ 'd', "%s/", NULL, 0 },
	{ 'd', "%s/libs", NULL, 0 },
	{ 'f', "%s/libs/kafka.jar", "classes of %s", 0 },
	{ 'f', "%s/libs/big.bin", NULL, 256 * 1024 },
	{ 'h', "%s/libs/kafka-again.jar", "%s/libs/kafka.jar", 0 },
	{ 'd', "%s/config", NULL, 0 },
	{ 'f', "%s/config/server.properties", "broker.id=0\n", 0 },
	{ 'd', "%s/bin", NULL, 0 },
	{ 'l', "%s/bin/kafka.jar", "../libs/kafka.jar", 0 },
};

/* ---- fixture: a source dir, a cache and an /opt per test -------------- */

struct fixture {
	char *src;          /* tarballs, served by file:// and HTTP */
	char *cache;
	char *opt;
	char *install_dir;  /* opt/kafka */
	char url1[512], url2[512];
	char sha1[129], sha2[129];
};

static void fixture_init(struct fixture *fx, const char *name)
{
	char *root = xasprintf("%s/%s", work_dir, name);
	char *path;

	assert_int_equal(mkdir(root, 0755), 0);
	fx->src = xasprintf("%s/src", root);
	fx->cache = xasprintf("%s/cache", root);
	fx->opt = xasprintf("%s/opt", root);
	fx->install_dir = xasprintf("%s/kafka", fx->opt);
	assert_int_equal(mkdir(fx->src, 0755), 0);

	path = xasprintf("%s/" V1 ".tgz", fx->src);
	make_tarball(path, V1, kafka_like, ARRAY_LEN(kafka_like));
	file_sha512(path, fx->sha1);
	snprintf(fx->url1, sizeof(fx->url1), "file://%s", path);
	free(path);
	path = xasprintf("%s/" V2 ".tgz", fx->src);
	make_tarball(path, V2, kafka_like, ARRAY_LEN(kafka_like));
	file_sha512(path, fx->sha2);
	snprintf(fx->url2, sizeof(fx->url2), "file://%s", path);
	free(path);
	free(root);
}

static void fixture_fini(struct fixture *fx)
{
	free(fx->src);
	free(fx->cache);
	free(fx->opt);
	free(fx->install_dir);
}

/* ---- running the installer -------------------------------------------- */

struct run {
	bool ok;
	bool changed;
	size_t n_changes;
	char *action;   /* the first change recorded, or NULL */
	char *log;      /* what it wrote to stderr */
};

static void run_fini(struct run *r)
{
	free(r->action);
	free(r->log);
}

/* Runs kafka_install with stderr captured into r->log (and echoed). */
static void run_install(struct run *r, const char *url, const char *sha512,
			const char *install_dir, const char *cache_dir, bool apply)
{
	char *log_path = xasprintf("%s/stderr.txt", work_dir);
	struct kafka_cfg cfg;
	struct change_list changes;
	int saved = dup(STDERR_FILENO);
	int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(saved >= 0 && fd >= 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.dist = xstrdup(url);
	cfg.sha512 = xstrdup(sha512);
	cfg.install_dir = xstrdup(install_dir);
	change_list_init(&changes, apply, false);

	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	close(fd);
	r->ok = kafka_install(&cfg, cache_dir, &changes, &r->changed);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	r->log = read_text(log_path);
	fputs(r->log, stderr);
	r->n_changes = changes.n;
	r->action = changes.n ? xstrdup(changes.items[0].action) : NULL;
	if (r->action)
		fprintf(stderr, "  [change] %s\n", r->action);
	change_list_fini(&changes);
	free(cfg.dist);
	free(cfg.sha512);
	free(cfg.install_dir);
	free(log_path);
}

/* Installs url and checks that it went through, with one change. */
static void install_ok(const char *url, const char *sha512, const char *install_dir,
		       const char *cache_dir)
{
	struct run r;

	run_install(&r, url, sha512, install_dir, cache_dir, true);
	assert_true(r.ok);
	assert_true(r.changed);
	assert_int_equal(r.n_changes, 1);
	run_fini(&r);
}

static void assert_links_to(const char *install_dir, const char *opt, const char *top)
{
	char *target = link_target(install_dir);
	char *expected = xasprintf("%s/%s", opt, top);

	assert_string_equal(target, expected);
	free(expected);
	free(target);
}

/* ---- a loopback HTTP server ------------------------------------------- */

struct http_server {
	int listen_fd;
	int port;
	const char *dir;         /* serves GET /NAME from dir/NAME */
	atomic_bool stop;
	atomic_bool truncate;    /* announce the full length, send half, close */
	const char *auth;        /* if set, the Authorization header required */
	atomic_int requests;
	pthread_t thread;
};

static void send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return; /* the client went away */
		data += n;
		len -= (size_t)n;
	}
}

static void http_serve_one(struct http_server *srv, int fd)
{
	char req[4096], name[256], *path, *body = NULL, *head;
	size_t len = 0, body_len = 0;
	struct stat st;
	FILE *f;

	while (len < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);

		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	atomic_fetch_add(&srv->requests, 1);
	if (sscanf(req, "GET /%255[^ ] ", name) != 1)
		return;
	if (srv->auth && !strstr(req, srv->auth)) {
		static const char denied[] = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n"
					     "Connection: close\r\n\r\n";

		send_all(fd, denied, strlen(denied));
		return;
	}
	path = xasprintf("%s/%s", srv->dir, name);
	f = strchr(name, '/') ? NULL : fopen(path, "rb");
	if (!f || fstat(fileno(f), &st) != 0) {
		static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n"
						"Connection: close\r\n\r\nnot found\n";

		send_all(fd, not_found, strlen(not_found));
	} else {
		body_len = (size_t)st.st_size;
		body = xmalloc(body_len);
		if (fread(body, 1, body_len, f) != body_len)
			body_len = 0;
		head = xasprintf("HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				 body_len);
		send_all(fd, head, strlen(head));
		send_all(fd, body, atomic_load(&srv->truncate) ? body_len / 2 : body_len);
		free(head);
	}
	if (f)
		fclose(f);
	free(body);
	free(path);
}

static void *http_main(void *arg)
{
	struct http_server *srv = arg;
	struct pollfd pfd = { .fd = srv->listen_fd, .events = POLLIN };

	while (!atomic_load(&srv->stop)) {
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(srv->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		http_serve_one(srv, fd);
		close(fd);
	}
	return NULL;
}

static void http_start(struct http_server *srv, const char *dir)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t addr_len = sizeof(addr);

	srv->dir = dir;
	srv->auth = NULL;
	atomic_init(&srv->stop, false);
	atomic_init(&srv->truncate, false);
	atomic_init(&srv->requests, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(srv->listen_fd >= 0);
	assert_int_equal(bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(srv->listen_fd, 8), 0);
	assert_int_equal(getsockname(srv->listen_fd, (struct sockaddr *)&addr, &addr_len), 0);
	srv->port = ntohs(addr.sin_port);
	assert_int_equal(pthread_create(&srv->thread, NULL, http_main, srv), 0);
}

static void http_stop(struct http_server *srv)
{
	atomic_store(&srv->stop, true);
	pthread_join(srv->thread, NULL);
	close(srv->listen_fd);
}

/* ---- tests ------------------------------------------------------------ */

static void test_file_install_links(void **state)
{
	struct fixture fx;
	struct run r;
	char *p, *text;
	struct stat st;

	(void)state;
	fixture_init(&fx, "file");
	run_install(&r, fx.url1, fx.sha1, fx.install_dir, fx.cache, true);
	assert_true(r.ok);
	assert_true(r.changed);
	assert_int_equal(r.n_changes, 1);
	p = xasprintf("install Kafka from %s into %s/" V1 " and link %s to it", fx.url1, fx.opt,
		      fx.install_dir);
	assert_string_equal(r.action, p);
	free(p);
	run_fini(&r);

	assert_links_to(fx.install_dir, fx.opt, V1);
	/* Reached through the link: files, the relative symlink, the hard link. */
	p = xasprintf("%s/libs/kafka.jar", fx.install_dir);
	text = read_text(p);
	assert_string_equal(text, "classes of " V1);
	free(text);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_nlink, 2);
	free(p);
	p = xasprintf("%s/bin/kafka.jar", fx.install_dir);
	text = read_text(p);
	assert_string_equal(text, "classes of " V1);
	free(text);
	free(p);
	p = xasprintf("%s/" KAFKA_DIST_MARKER, fx.install_dir);
	text = read_text(p);
	assert_int_equal(strncmp(text, fx.sha1, 128), 0);
	free(text);
	free(p);
	/* Nothing left behind: no unpack directory, no temporary link or download. */
	assert_dir_lists(fx.opt, "kafka " V1);
	assert_dir_lists(fx.cache, V1 ".tgz");
	fixture_fini(&fx);
}

static void test_second_install_is_noop(void **state)
{
	struct fixture fx;
	struct stat opt_before, dir_before, link_before, after;
	struct run r;
	char *versioned, *p;

	(void)state;
	fixture_init(&fx, "noop");
	install_ok(fx.url1, fx.sha1, fx.install_dir, fx.cache);
	versioned = xasprintf("%s/" V1, fx.opt);
	assert_int_equal(stat(fx.opt, &opt_before), 0);
	assert_int_equal(stat(versioned, &dir_before), 0);
	assert_int_equal(lstat(fx.install_dir, &link_before), 0);
	/* Without tarball or cache, a rerun that read or fetched anything fails. */
	p = xasprintf("rm -rf '%s' '%s/" V1 ".tgz'", fx.cache, fx.src);
	assert_int_equal(system(p), 0);
	free(p);

	run_install(&r, fx.url1, fx.sha1, fx.install_dir, fx.cache, true);
	assert_true(r.ok);
	assert_false(r.changed);
	assert_int_equal(r.n_changes, 0);
	assert_string_equal(r.log, "");
	run_fini(&r);

	assert_int_equal(stat(fx.opt, &after), 0);
	assert_int_equal(after.st_mtim.tv_sec, opt_before.st_mtim.tv_sec);
	assert_int_equal(after.st_mtim.tv_nsec, opt_before.st_mtim.tv_nsec);
	assert_int_equal(stat(versioned, &after), 0);
	assert_int_equal(after.st_mtim.tv_sec, dir_before.st_mtim.tv_sec);
	assert_int_equal(after.st_mtim.tv_nsec, dir_before.st_mtim.tv_nsec);
	assert_int_equal(lstat(fx.install_dir, &after), 0);
	assert_int_equal(after.st_ino, link_before.st_ino);
	assert_false(exists(fx.cache));
	free(versioned);
	fixture_fini(&fx);
}

static void test_upgrade_then_rollback(void **state)
{
	struct fixture fx;
	struct run r;
	char *p;

	(void)state;
	fixture_init(&fx, "upgrade");
	install_ok(fx.url1, fx.sha1, fx.install_dir, fx.cache);
	run_install(&r, fx.url2, fx.sha2, fx.install_dir, fx.cache, true);
	assert_true(r.ok && r.changed);
	assert_int_equal(r.n_changes, 1);
	p = xasprintf("link %s to it, was %s/" V1, fx.install_dir, fx.opt);
	assert_contains(r.action, p);
	free(p);
	run_fini(&r);
	assert_links_to(fx.install_dir, fx.opt, V2);
	assert_dir_lists(fx.opt, "kafka " V1 " " V2);

	/* Back to V1: its directory is still there, so only the link moves
	 * (no tarball needed). */
	p = xasprintf("rm -rf '%s' '%s/" V1 ".tgz'", fx.cache, fx.src);
	assert_int_equal(system(p), 0);
	free(p);
	run_install(&r, fx.url1, fx.sha1, fx.install_dir, fx.cache, true);
	assert_true(r.ok && r.changed);
	assert_int_equal(r.n_changes, 1);
	p = xasprintf("link %s to %s/" V1 " (Kafka from %s, unpacked earlier, was %s/" V2 ")",
		      fx.install_dir, fx.opt, fx.url1, fx.opt);
	assert_string_equal(r.action, p);
	free(p);
	run_fini(&r);
	assert_links_to(fx.install_dir, fx.opt, V1);
	assert_false(exists(fx.cache));
	fixture_fini(&fx);
}

static void test_wrong_sha512_unpacks_nothing(void **state)
{
	struct fixture fx;
	struct run r;
	char wrong[129], *p;

	(void)state;
	fixture_init(&fx, "sha");
	install_ok(fx.url1, fx.sha1, fx.install_dir, fx.cache);
	/* V2's tarball with a digest one bit off. */
	memcpy(wrong, fx.sha2, sizeof(wrong));
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	run_install(&r, fx.url2, wrong, fx.install_dir, fx.cache, true);
	assert_false(r.ok);
	assert_int_equal(r.n_changes, 0);
	p = xasprintf("%s: SHA-512 mismatch: expected %s, got %s", fx.url2, wrong, fx.sha2);
	assert_contains(r.log, p);
	free(p);
	assert_contains(r.log, "the download was deleted");
	run_fini(&r);
	assert_links_to(fx.install_dir, fx.opt, V1);
	assert_dir_lists(fx.opt, "kafka " V1);
	assert_dir_lists(fx.cache, V1 ".tgz");
	fixture_fini(&fx);
}

/* Each refused tarball, what the error must say, and whether it is caught
 * only while unpacking (after the change was recorded) rather than by the
 * check of every header that precedes it. */
struct evil_case {
	struct tar_entry entries[4];
	const char *why;
	bool at_unpack;
};

static void test_unsafe_entries_refused(void **state)
{
	static const struct evil_case cases[] = {
		{ { { 'f', "../evil", "x", 0 } }, "outside the install directory", false },
		{ { { 'd', "%s/", NULL, 0 }, { 'f', "%s/ok", "ok", 0 }, { 'f', "../evil", "x", 0 } },
		  "entry '../evil': '..' in the path", false },
		{ { { 'd', "%s/", NULL, 0 }, { 'f', "%s/../../evil", "x", 0 } },
		  "'..' in the path", false },
		{ { { 'd', "%s/", NULL, 0 }, { 'f', "%s/../kafka-evil/x", "x", 0 } },
		  "'..' in the path", false },
		{ { { 'd', "%s/", NULL, 0 }, { 'f', "/tmp/cdc-kafka-install-abs-evil", "x", 0 } },
		  "entry '/tmp/cdc-kafka-install-abs-evil': absolute path", false },
		{ { { 'd', "%s/", NULL, 0 }, { 'f', "other/evil", "x", 0 } },
		  "outside the tarball's top directory", false },
		{ { { 'd', "%s/", NULL, 0 }, { 'l', "%s/evil", "../../evil", 0 } },
		  "symlink '%s/evil' -> '../../evil' points outside", false },
		{ { { 'd', "%s/", NULL, 0 }, { 'l', "%s/evil", "/etc", 0 } },
		  "points outside", false },
		{ { { 'd', "%s/", NULL, 0 }, { 'd', "%s/sub", NULL, 0 }, { 'l', "%s/sub/up", "..", 0 },
		    { 'l', "%s/sub/evil", "up/..", 0 } },
		  "symlink '%s/sub/evil' -> 'up/..' points outside", false },
		{ { { 'd', "%s/", NULL, 0 }, { 'h', "%s/evil", "/etc/hostname", 0 } },
		  "hard link", false },
		{ { { 'd', "%s/", NULL, 0 }, { 'l', "%s/link", ".", 0 }, { 'f', "%s/link/x", "x", 0 } },
		  "Cannot extract through symlink", true },
	};
	struct fixture fx;

	(void)state;
	fixture_init(&fx, "evil");
	install_ok(fx.url1, fx.sha1, fx.install_dir, fx.cache);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *path = xasprintf("%s/evil-%zu.tgz", fx.src, i);
		char *url = xasprintf("file://%s", path);
		char *why = xasprintf(cases[i].why, V2);
		char sha[129];
		size_t n = 0;
		struct run r;

		while (n < ARRAY_LEN(cases[i].entries) && cases[i].entries[n].type)
			n++;
		make_tarball(path, V2, cases[i].entries, n);
		file_sha512(path, sha);
		fprintf(stderr, "-- case %zu\n", i);
		run_install(&r, url, sha, fx.install_dir, fx.cache, true);
		assert_false(r.ok);
		assert_contains(r.log, url);
		assert_contains(r.log, why);
		assert_int_equal(r.n_changes, cases[i].at_unpack ? 1 : 0);
		run_fini(&r);
		/* Nothing unpacked anywhere, the old link in place. */
		assert_links_to(fx.install_dir, fx.opt, V1);
		assert_dir_lists(fx.opt, "kafka " V1);
		assert_false(exists("/tmp/cdc-kafka-install-abs-evil"));
		free(why);
		free(url);
		free(path);
	}
	/* What a crafted tarball could have reached: the test's root and /opt's parent. */
	{
		char *root = xasprintf("%s/evil", work_dir);

		assert_dir_lists(root, "cache opt src");
		free(root);
	}
	fixture_fini(&fx);
}

static void test_real_directory_refused(void **state)
{
	struct fixture fx;
	struct run r;

	(void)state;
	fixture_init(&fx, "realdir");
	assert_int_equal(mkdir(fx.opt, 0755), 0);
	assert_int_equal(mkdir(fx.install_dir, 0755), 0);
	for (int apply = 0; apply <= 1; apply++) {
		run_install(&r, fx.url1, fx.sha1, fx.install_dir, fx.cache, apply);
		assert_false(r.ok);
		assert_int_equal(r.n_changes, 0);
		assert_contains(r.log, fx.install_dir);
		assert_contains(r.log, "is a real directory, not a symlink");
		assert_contains(r.log, "move it away");
		run_fini(&r);
	}
	assert_dir_lists(fx.opt, "kafka");
	assert_false(exists(fx.cache));
	fixture_fini(&fx);
}

static void test_plan_touches_nothing(void **state)
{
	struct fixture fx;
	struct run r;
	char *p;

	(void)state;
	fixture_init(&fx, "plan");
	run_install(&r, fx.url1, fx.sha1, fx.install_dir, fx.cache, false);
	assert_true(r.ok && r.changed);
	assert_int_equal(r.n_changes, 1);
	p = xasprintf("install Kafka from %s into %s/" V1 " and link %s to it", fx.url1, fx.opt,
		      fx.install_dir);
	assert_string_equal(r.action, p);
	free(p);
	run_fini(&r);
	assert_false(exists(fx.opt));
	assert_false(exists(fx.cache));

	/* Installed: plan of the same is empty, plan of V2 names the old link. */
	install_ok(fx.url1, fx.sha1, fx.install_dir, fx.cache);
	run_install(&r, fx.url1, fx.sha1, fx.install_dir, fx.cache, false);
	assert_true(r.ok);
	assert_false(r.changed);
	assert_int_equal(r.n_changes, 0);
	run_fini(&r);
	run_install(&r, fx.url2, fx.sha2, fx.install_dir, fx.cache, false);
	assert_true(r.ok && r.changed);
	p = xasprintf("into %s/" V2 " and link %s to it, was %s/" V1, fx.opt, fx.install_dir,
		      fx.opt);
	assert_contains(r.action, p);
	free(p);
	run_fini(&r);
	assert_links_to(fx.install_dir, fx.opt, V1);
	assert_dir_lists(fx.opt, "kafka " V1);
	assert_dir_lists(fx.cache, V1 ".tgz");
	fixture_fini(&fx);
}

static void test_cache_reused_and_bad_cache_replaced(void **state)
{
	struct fixture fx;
	char *other, *p, *cached;
	FILE *f;

	(void)state;
	fixture_init(&fx, "cache");
	install_ok(fx.url1, fx.sha1, fx.install_dir, fx.cache);
	/* Another install_dir, the tarball gone from its URL: the cache serves. */
	other = xasprintf("%s-other/kafka", fx.opt);
	p = xasprintf("mv '%s/" V1 ".tgz' '%s/" V1 ".tgz.away'", fx.src, fx.src);
	assert_int_equal(system(p), 0);
	free(p);
	install_ok(fx.url1, fx.sha1, other, fx.cache);
	free(other);

	/* A cached file with the wrong bytes is downloaded again and replaced. */
	p = xasprintf("mv '%s/" V1 ".tgz.away' '%s/" V1 ".tgz'", fx.src, fx.src);
	assert_int_equal(system(p), 0);
	free(p);
	cached = xasprintf("%s/" V1 ".tgz", fx.cache);
	f = fopen(cached, "w");
	assert_non_null(f);
	fputs("not a tarball", f);
	fclose(f);
	other = xasprintf("%s-third/kafka", fx.opt);
	install_ok(fx.url1, fx.sha1, other, fx.cache);
	{
		char sha[129];

		file_sha512(cached, sha);
		assert_string_equal(sha, fx.sha1);
	}
	assert_dir_lists(fx.cache, V1 ".tgz");
	free(other);
	free(cached);
	fixture_fini(&fx);
}

/* A run killed midway (kill -9, power loss) leaves its temporary download
 * and unpack directory; the next install removes them, under a lock that
 * also turns a concurrent install away. */
static void test_leftovers_removed_and_lock(void **state)
{
	struct fixture fx;
	struct run r;
	char *p;
	int lock_fd;

	(void)state;
	fixture_init(&fx, "leftovers");
	p = xasprintf("mkdir -p '%s/.cdc-agent-unpack-Ab12Cd/" V1 "/libs' '%s' && "
		      "echo partial > '%s/" V1 ".tgz.part-Xy34Zw' && "
		      "echo mine > '%s/.cdc-agent-keep' && ln -s nowhere '%s.tmp'",
		      fx.opt, fx.cache, fx.cache, fx.opt, fx.install_dir);
	assert_int_equal(system(p), 0);
	free(p);

	lock_fd = open(fx.cache, O_RDONLY | O_DIRECTORY);
	assert_true(lock_fd >= 0);
	assert_int_equal(flock(lock_fd, LOCK_EX), 0);
	run_install(&r, fx.url1, fx.sha1, fx.install_dir, fx.cache, true);
	assert_false(r.ok);
	assert_int_equal(r.n_changes, 0);
	assert_contains(r.log, "another cdc-agent is installing Kafka");
	assert_contains(r.log, fx.cache);
	run_fini(&r);
	close(lock_fd);
	assert_dir_lists(fx.opt, ".cdc-agent-keep .cdc-agent-unpack-Ab12Cd kafka.tmp");

	install_ok(fx.url1, fx.sha1, fx.install_dir, fx.cache);
	assert_links_to(fx.install_dir, fx.opt, V1);
	assert_dir_lists(fx.opt, ".cdc-agent-keep kafka " V1);
	assert_dir_lists(fx.cache, V1 ".tgz");
	fixture_fini(&fx);
}

static void test_http_install_and_404(void **state)
{
	struct fixture fx;
	struct http_server srv;
	struct run r;
	char url[256];

	(void)state;
	fixture_init(&fx, "http");
	http_start(&srv, fx.src);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/" V1 ".tgz", srv.port);
	install_ok(url, fx.sha1, fx.install_dir, fx.cache);
	assert_links_to(fx.install_dir, fx.opt, V1);
	assert_int_equal(atomic_load(&srv.requests), 1);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/missing.tgz", srv.port);
	run_install(&r, url, fx.sha2, fx.install_dir, fx.cache, true);
	assert_false(r.ok);
	assert_int_equal(r.n_changes, 0);
	assert_contains(r.log, url);
	assert_contains(r.log, "HTTP status 404");
	run_fini(&r);
	http_stop(&srv);
	assert_links_to(fx.install_dir, fx.opt, V1);
	assert_dir_lists(fx.cache, V1 ".tgz");
	fixture_fini(&fx);
}

/* A mirror behind basic auth: the credentials reach the server but no log
 * line, change or marker. */
static void test_credentials_never_shown(void **state)
{
	struct fixture fx;
	struct http_server srv;
	struct run r;
	char url[256], shown[256], *p, *marker;

	(void)state;
	fixture_init(&fx, "creds");
	http_start(&srv, fx.src);
	srv.auth = "Authorization: Basic Y2RjOnMzY3JldA=="; /* cdc:s3cret */
	snprintf(url, sizeof(url), "http://cdc:s3cret@127.0.0.1:%d/" V1 ".tgz", srv.port);
	snprintf(shown, sizeof(shown), "http://***@127.0.0.1:%d/" V1 ".tgz", srv.port);
	run_install(&r, url, fx.sha1, fx.install_dir, fx.cache, true);
	assert_true(r.ok);
	assert_contains(r.action, shown);
	assert_null(strstr(r.action, "s3cret"));
	assert_contains(r.log, shown);
	assert_null(strstr(r.log, "s3cret"));
	run_fini(&r);
	p = xasprintf("%s/" KAFKA_DIST_MARKER, fx.install_dir);
	marker = read_text(p);
	assert_contains(marker, shown);
	assert_null(strstr(marker, "s3cret"));
	free(marker);
	free(p);

	/* Wrong password: the 401 is named, the password is not. */
	snprintf(url, sizeof(url), "http://cdc:wr0ng@127.0.0.1:%d/" V2 ".tgz", srv.port);
	run_install(&r, url, fx.sha2, fx.install_dir, fx.cache, true);
	assert_false(r.ok);
	assert_contains(r.log, "HTTP status 401");
	assert_null(strstr(r.log, "wr0ng"));
	run_fini(&r);
	http_stop(&srv);
	assert_links_to(fx.install_dir, fx.opt, V1);
	fixture_fini(&fx);
}

static void test_cut_download_keeps_old_install(void **state)
{
	struct fixture fx;
	struct http_server srv;
	struct run r;
	char url[256];

	(void)state;
	fixture_init(&fx, "cut");
	install_ok(fx.url1, fx.sha1, fx.install_dir, fx.cache);
	http_start(&srv, fx.src);
	atomic_store(&srv.truncate, true);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/" V2 ".tgz", srv.port);
	run_install(&r, url, fx.sha2, fx.install_dir, fx.cache, true);
	http_stop(&srv);
	assert_false(r.ok);
	assert_int_equal(r.n_changes, 0);
	assert_contains(r.log, "cannot download ");
	assert_contains(r.log, url);
	assert_contains(r.log, "bytes remaining");
	run_fini(&r);
	assert_links_to(fx.install_dir, fx.opt, V1);
	assert_dir_lists(fx.opt, "kafka " V1);
	assert_dir_lists(fx.cache, V1 ".tgz");
	fixture_fini(&fx);
}

static void test_nothing_configured(void **state)
{
	struct kafka_cfg cfg;
	struct change_list changes;
	bool changed = true;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	change_list_init(&changes, true, false);
	assert_true(kafka_install(&cfg, "/nonexistent", &changes, &changed));
	assert_false(changed);
	assert_int_equal(changes.n, 0);
	change_list_fini(&changes);
}

/* Sets or unsets (value NULL) an environment variable, keeping the old value. */
static char *env_swap(const char *name, const char *value) /* caller frees */
{
	const char *old = getenv(name);
	char *saved = old ? xstrdup(old) : NULL;

	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
	return saved;
}

static void env_restore(const char *name, char *saved)
{
	if (saved)
		setenv(name, saved, 1);
	else
		unsetenv(name);
	free(saved);
}

static void test_java_runtime_find(void **state)
{
	char *home = xasprintf("%s/jdk", work_dir);
	char *bin = xasprintf("%s/bin", home);
	char *java = xasprintf("%s/java", bin);
	char *empty = xasprintf("%s/empty-bin", work_dir);
	char *old_home, *old_path, *found = NULL;
	FILE *f;

	(void)state;
	assert_int_equal(mkdir(home, 0755), 0);
	assert_int_equal(mkdir(bin, 0755), 0);
	assert_int_equal(mkdir(empty, 0755), 0);
	f = fopen(java, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\n", f);
	fclose(f);
	old_home = env_swap("JAVA_HOME", home);
	old_path = env_swap("PATH", empty);

	/* JAVA_HOME wins, and must hold an executable java. */
	assert_false(java_runtime_find(&found));
	assert_null(found);
	assert_int_equal(chmod(java, 0755), 0);
	assert_true(java_runtime_find(&found));
	assert_string_equal(found, java);
	free(found);

	/* Without JAVA_HOME: PATH, skipping relative entries. */
	unsetenv("JAVA_HOME");
	assert_false(java_runtime_find(&found));
	setenv("PATH", "relative:", 1);
	assert_false(java_runtime_find(&found));
	{
		char *path = xasprintf("%s:%s", empty, bin);

		setenv("PATH", path, 1);
		free(path);
	}
	assert_true(java_runtime_find(&found));
	assert_string_equal(found, java);
	free(found);

	env_restore("PATH", old_path);
	env_restore("JAVA_HOME", old_home);
	free(empty);
	free(java);
	free(bin);
	free(home);
}

static void test_java_missing_names_package(void **state)
{
	char *log_path = xasprintf("%s/java-stderr.txt", work_dir);
	char *old_home = env_swap("JAVA_HOME", NULL);
	char *old_path = env_swap("PATH", "/nonexistent-a:/nonexistent-b");
	char *found = NULL, *log;
	int saved = dup(STDERR_FILENO);
	int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bool ok;

	(void)state;
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	close(fd);
	ok = java_runtime_find(&found);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	env_restore("PATH", old_path);
	env_restore("JAVA_HOME", old_home);

	log = read_text(log_path);
	fputs(log, stderr);
	assert_false(ok);
	assert_null(found);
	assert_contains(log, "openjdk-17-jre-headless");
	assert_contains(log, "/nonexistent-a:/nonexistent-b");
	free(log);
	free(log_path);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(work_dir))
		return -1;
	/* The loopback server must not be reached through a proxy. */
	setenv("no_proxy", "127.0.0.1,localhost", 1);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
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
		cmocka_unit_test(test_file_install_links),
		cmocka_unit_test(test_second_install_is_noop),
		cmocka_unit_test(test_upgrade_then_rollback),
		cmocka_unit_test(test_wrong_sha512_unpacks_nothing),
		cmocka_unit_test(test_unsafe_entries_refused),
		cmocka_unit_test(test_real_directory_refused),
		cmocka_unit_test(test_plan_touches_nothing),
		cmocka_unit_test(test_cache_reused_and_bad_cache_replaced),
		cmocka_unit_test(test_leftovers_removed_and_lock),
		cmocka_unit_test(test_http_install_and_404),
		cmocka_unit_test(test_credentials_never_shown),
		cmocka_unit_test(test_cut_download_keeps_old_install),
		cmocka_unit_test(test_nothing_configured),
		cmocka_unit_test(test_java_runtime_find),
		cmocka_unit_test(test_java_missing_names_package),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
