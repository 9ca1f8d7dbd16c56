/*
 * agent/provision/kafka_install.c: installs the Kafka distribution on this host
 * (download, SHA-512 check, unpack, link) and finds the Java runtime it needs.
 *
 * Every write goes to a temporary name first and is renamed into place when
 * complete, so an interrupted run leaves the old state or the new one, never
 * a mix: the download to <cache_dir>/<name>.part-XXXXXX, the unpack to
 * <parent>/.cdc-agent-unpack-XXXXXX/<top>, the link to <install_dir>.tmp.
 * What a killed run leaves of these is removed by the next one, under a lock
 * on cache_dir that also keeps two installs from racing.
 * Nothing is unpacked before the digest matches, and the file descriptor that
 * was hashed is the one unpacked, so the checked bytes are the installed ones.
 */
#include "provision/kafka_install.h"

#include "base/log.h"
#include "base/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CDC_AGENT_VERSION
#define CDC_AGENT_VERSION "0.0.0-dev"
#endif

#define SHA512_HEX_LEN 128
#define COMPONENT "kafka"
/* Temporary names, each followed by mkstemp's 6 characters; only this file
 * makes them, so it may remove them. */
#define PART_TAG ".part-"
#define UNPACK_TAG ".cdc-agent-unpack-"

/* A mirror that accepts the connection but stops sending must not hang
 * bootstrap: below LOW_SPEED_BYTES per second for LOW_SPEED_SEC, it fails. */
#define CONNECT_TIMEOUT_SEC 30L
#define LOW_SPEED_BYTES 1024L
#define LOW_SPEED_SEC 60L
/* Far above any Kafka release (~120 MB); stops a wrong URL filling the disk. */
#define MAX_DIST_BYTES ((curl_off_t)4 << 30)

/* Archive entries are unpacked with these modes at most: no set-id bits and
 * nothing writable by group or others, whatever the tarball says. */
#define MAX_PERM 0755

/* ---- paths ------------------------------------------------------------ */

static char *path_dirname(const char *path) /* caller frees */
{
	char *copy = xstrdup(path);
	char *dir = xstrdup(dirname(copy));

	free(copy);
	return dir;
}

static char *path_basename(const char *path) /* caller frees */
{
	char *copy = xstrdup(path);
	char *base = xstrdup(basename(copy));

	free(copy);
	return base;
}

/* mkdir -p with mode 0755 for the directories it creates. */
static bool mkdir_p(const char *path)
{
	char *copy = xstrdup(path);
	size_t len = strlen(copy);
	struct stat st;
	bool ok = true;

	/* Each prefix that ends before a '/', then the whole path. */
	for (size_t i = 1; ok && i <= len; i++) {
		if (copy[i] != '/' && copy[i] != '\0')
			continue;
		copy[i] = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
			log_error("cannot create directory %s: %s", copy, strerror(errno));
			ok = false;
		} else if (stat(copy, &st) != 0 || !S_ISDIR(st.st_mode)) {
			log_error("cannot create directory %s: a file of that name is in the way",
				  copy);
			ok = false;
		}
		if (i < len)
			copy[i] = '/';
	}
	free(copy);
	return ok;
}

/* A rename or a new name is durable only once its directory is synced. */
static bool fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok = fd >= 0 && fsync(fd) == 0;

	if (!ok)
		log_error("cannot fsync directory %s: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

static int fsync_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	int fd;

	(void)st;
	(void)ftw;
	if (type == FTW_SL)
		return 0; /* a symlink lives in its directory, synced as such */
	if (type != FTW_F && type != FTW_D) {
		log_error("cannot read %s to fsync it", path);
		return 1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (type == FTW_D ? O_DIRECTORY : 0));
	if (fd < 0 || fsync(fd) != 0) {
		log_error("cannot fsync %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	return 0;
}

/* fsyncs every file and directory under root, so that the rename that
 * publishes the tree cannot reach the disk before its contents. */
static bool fsync_tree(const char *root)
{
	int rc = nftw(root, fsync_one, 32, FTW_PHYS);

	if (rc == -1)
		log_error("cannot walk %s to fsync it: %s", root, strerror(errno));
	return rc == 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) != 0)
		log_warn("cannot remove %s: %s", path, strerror(errno));
	return 0; /* best effort: remove what can be */
}

/* rm -rf of a directory this file created; never follows symlinks. */
static void remove_tree(const char *root)
{
	nftw(root, remove_one, 32, FTW_DEPTH | FTW_PHYS);
}

/* ---- what is installed ------------------------------------------------ */

/* Whether dir was unpacked from a tarball with digest sha512 (its marker
 * says so).  Missing directory or marker: false, silently, as probes are. */
static bool dir_has_dist(const char *dir, const char *sha512)
{
	char *marker = xasprintf("%s/" KAFKA_DIST_MARKER, dir);
	char buf[SHA512_HEX_LEN + 1];
	FILE *f = fopen(marker, "r");
	bool same = false;

	if (f) {
		same = fread(buf, 1, SHA512_HEX_LEN, f) == SHA512_HEX_LEN &&
		       strncasecmp(buf, sha512, SHA512_HEX_LEN) == 0;
		fclose(f);
	}
	free(marker);
	return same;
}

/* Reads install_dir as the symlink it must be: *target is what it points to,
 * made absolute (caller frees), or NULL when install_dir does not exist. */
static bool link_read(const char *install_dir, char **target)
{
	struct stat st;
	char buf[PATH_MAX];
	ssize_t n;

	*target = NULL;
	if (lstat(install_dir, &st) != 0) {
		if (errno == ENOENT)
			return true;
		log_error("cannot inspect install_dir %s: %s", install_dir, strerror(errno));
		return false;
	}
	if (!S_ISLNK(st.st_mode)) {
		log_error("install_dir %s is a %s, not a symlink: cdc-agent unpacks each Kafka "
			  "version beside it and links %s to the one in use; move it away "
			  "(e.g. mv %s %s.old) and run again",
			  install_dir, S_ISDIR(st.st_mode) ? "real directory" : "file",
			  install_dir, install_dir, install_dir);
		return false;
	}
	n = readlink(install_dir, buf, sizeof(buf) - 1);
	if (n < 0) {
		log_error("cannot read symlink %s: %s", install_dir, strerror(errno));
		return false;
	}
	buf[n] = '\0';
	if (buf[0] == '/') {
		*target = xstrdup(buf);
	} else {
		char *parent = path_dirname(install_dir);

		*target = xasprintf("%s/%s", parent, buf);
		free(parent);
	}
	return true;
}

/* Points install_dir at target atomically: a new link under a temporary
 * name renamed over the old one, so readers see the old or the new. */
static bool link_switch(const char *install_dir, const char *target)
{
	char *tmp = xasprintf("%s.tmp", install_dir);
	char *parent = path_dirname(install_dir);
	struct stat st;
	bool ok = false;

	if (lstat(tmp, &st) == 0) {
		/* Left by an interrupted run; anything but a link is not ours. */
		if (!S_ISLNK(st.st_mode)) {
			log_error("%s is in the way of switching %s: not a symlink; remove it", tmp,
				  install_dir);
			goto out;
		}
		if (unlink(tmp) != 0) {
			log_error("cannot remove stale %s: %s", tmp, strerror(errno));
			goto out;
		}
	}
	if (symlink(target, tmp) != 0) {
		log_error("cannot create symlink %s -> %s: %s", tmp, target, strerror(errno));
		goto out;
	}
	if (rename(tmp, install_dir) != 0) {
		log_error("cannot rename %s to %s: %s", tmp, install_dir, strerror(errno));
		unlink(tmp);
		goto out;
	}
	ok = fsync_dir(parent);
	if (ok)
		log_info("%s -> %s", install_dir, target);
out:
	free(parent);
	free(tmp);
	return ok;
}

/* ---- the tarball: name, digest, download ------------------------------ */

/* The file name at the end of the URL's path ("kafka_2.13-3.9.2.tgz"), or
 * NULL when there is none usable as a file name; caller frees. */
static char *url_file_name(const char *url)
{
	const char *p = strstr(url, "://");
	const char *end, *start;

	if (!p)
		return NULL;
	p += 3;
	end = p + strcspn(p, "?#");
	start = end;
	while (start > p && start[-1] != '/')
		start--;
	if (start == p || start == end || start[0] == '.')
		return NULL; /* no path, a directory, or a hidden name */
	for (const char *c = start; c < end; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-", *c))
			return NULL;
	return xstrndup(start, (size_t)(end - start));
}

/* url as messages, changes and the marker show it: credentials in it
 * (https://user:password@mirror/...) replaced by "***"; caller frees. */
static char *url_shown(const char *url)
{
	const char *host = strstr(url, "://");
	const char *at;
	size_t authority;

	if (!host)
		return xstrdup(url);
	host += 3;
	authority = strcspn(host, "/?#");
	at = memrchr(host, '@', authority);
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s***%s", (int)(host - url), url, at);
}

/* The URL's file name without its archive extension ("kafka_2.13-3.9.2"):
 * the Apache tarballs' top directory, a guess until the tarball is read.
 * NULL if the URL gives no name; caller frees. */
static char *url_stem(const char *url)
{
	static const char *const exts[] = { ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz",
					    ".tar.zst", ".tar" };
	char *name = url_file_name(url);

	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(exts); i++) {
		if (str_ends_with(name, exts[i]) && strlen(name) > strlen(exts[i])) {
			name[strlen(name) - strlen(exts[i])] = '\0';
			return name;
		}
	}
	free(name);
	return NULL;
}

static void digest_hex(EVP_MD_CTX *md, char hex[SHA512_HEX_LEN + 1])
{
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(md, raw, &len) != 1 || len * 2 != SHA512_HEX_LEN) {
		/* Cannot happen with SHA-512; an empty digest never matches. */
		hex[0] = '\0';
		return;
	}
	hex_encode(raw, len, hex);
}

static bool digest_equal(const char *a, const char *b)
{
	return strlen(a) == SHA512_HEX_LEN && strlen(b) == SHA512_HEX_LEN &&
	       strncasecmp(a, b, SHA512_HEX_LEN) == 0;
}

static EVP_MD_CTX *sha512_new(void)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!md || EVP_DigestInit_ex(md, EVP_sha512(), NULL) != 1) {
		fputs("cdc-agent: error: cannot set up SHA-512 (libcrypto)\n", stderr);
		abort();
	}
	return md;
}

/* SHA-512 of the file open at fd (read from its start). */
static bool fd_sha512(int fd, const char *path, char hex[SHA512_HEX_LEN + 1])
{
	EVP_MD_CTX *md = sha512_new();
	char buf[65536];
	ssize_t n;
	bool ok = true;

	if (lseek(fd, 0, SEEK_SET) != 0) {
		log_error("cannot rewind %s: %s", path, strerror(errno));
		ok = false;
	}
	while (ok && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("cannot read %s: %s", path, strerror(errno));
			ok = false;
		} else {
			EVP_DigestUpdate(md, buf, (size_t)n);
		}
	}
	if (ok)
		digest_hex(md, hex);
	EVP_MD_CTX_free(md);
	return ok;
}

struct download {
	int fd;            /* the temporary file */
	EVP_MD_CTX *md;    /* hashes what is written, as it is written */
	int write_errno;   /* why writing fd failed, 0 if it did not */
};

static size_t download_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct download *dl = arg;
	size_t len = size * nmemb, done = 0;

	while (done < len) {
		ssize_t n = write(dl->fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			dl->write_errno = errno;
			return 0; /* libcurl stops with CURLE_WRITE_ERROR */
		}
		done += (size_t)n;
	}
	EVP_DigestUpdate(dl->md, data, len);
	return len;
}

/*
 * Downloads url into fd (an empty file at tmp_path), hashing on the way;
 * messages name it as shown.  libcurl reads the proxy from the environment
 * itself (http_proxy, https_proxy, no_proxy, ALL_PROXY), as curl(1) does.
 */
static bool download(const char *url, const char *shown, int fd, const char *tmp_path,
		     char hex[SHA512_HEX_LEN + 1])
{
	struct download dl = { .fd = fd, .md = sha512_new(), .write_errno = 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *curl = curl_easy_init();
	char *effective = NULL, *effective_shown = NULL;
	long status = 0;
	CURLcode rc;
	bool ok = false;

	if (!curl) {
		log_error("cannot download %s: libcurl failed to initialize", shown);
		EVP_MD_CTX_free(dl.md);
		return false;
	}
	/* Redirects may not lead to file://: a server must not pick local files. */
	if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_SEC) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_SEC) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, MAX_DIST_BYTES) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, "cdc-agent/" CDC_AGENT_VERSION) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, download_write) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &dl) != CURLE_OK) {
		log_error("cannot download %s: this libcurl lacks a needed option (7.85 or later "
			  "is required)",
			  shown);
		goto out;
	}
	log_info("downloading %s", shown);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
	/* Only worth naming when redirected. */
	if (effective && strcmp(effective, url) != 0)
		effective_shown = url_shown(effective);
	if (rc == CURLE_WRITE_ERROR && dl.write_errno) {
		log_error("cannot download %s: writing %s failed: %s", shown, tmp_path,
			  strerror(dl.write_errno));
	} else if (rc == CURLE_HTTP_RETURNED_ERROR) {
		log_error("cannot download %s: the server answered HTTP status %ld%s%s", shown,
			  status, effective_shown ? " at " : "",
			  effective_shown ? effective_shown : "");
	} else if (rc != CURLE_OK) {
		log_error("cannot download %s: %s (curl error %d)%s%s", shown,
			  errbuf[0] ? errbuf : curl_easy_strerror(rc), (int)rc,
			  effective_shown ? "; redirected to " : "",
			  effective_shown ? effective_shown : "");
	} else if (status != 0 && (status < 200 || status > 299)) {
		/* file:// has no status; http(s) must end in success. */
		log_error("cannot download %s: the server answered HTTP status %ld", shown,
			  status);
	} else {
		digest_hex(dl.md, hex);
		ok = true;
	}
out:
	free(effective_shown);
	curl_easy_cleanup(curl);
	EVP_MD_CTX_free(dl.md);
	return ok;
}

/*
 * Opens the tarball of url with the digest sha512: the copy in cache_dir (an
 * existing directory) when it still has that digest, else a fresh download,
 * kept in cache_dir once it verifies.  *fd is then open on the verified file
 * (caller closes).  shown is url as messages may show it (url_shown()).
 */
static bool tarball_get(const char *url, const char *shown, const char *sha512,
			const char *cache_dir, int *fd)
{
	char *name = url_file_name(url);
	char *cached, *tmp = NULL;
	char hex[SHA512_HEX_LEN + 1];
	bool ok = false;

	*fd = -1;
	if (!name) /* no file name in the URL: the digest names the file */
		name = xasprintf("kafka-%.16s.tgz", sha512);
	cached = xasprintf("%s/%s", cache_dir, name);

	*fd = open(cached, O_RDONLY | O_CLOEXEC);
	if (*fd >= 0) {
		if (fd_sha512(*fd, cached, hex) && digest_equal(hex, sha512) &&
		    lseek(*fd, 0, SEEK_SET) == 0) {
			log_info("using %s (SHA-512 matches)", cached);
			ok = true;
			goto out;
		}
		log_warn("cached %s does not have the SHA-512 of %s; downloading it again", cached,
			 shown);
		close(*fd);
		*fd = -1;
	} else if (errno != ENOENT) {
		log_warn("cannot open cached %s (%s); downloading %s again", cached,
			 strerror(errno), shown);
	}

	tmp = xasprintf("%s/%s" PART_TAG "XXXXXX", cache_dir, name);
	*fd = mkostemp(tmp, O_CLOEXEC);
	if (*fd < 0) {
		log_error("cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(*fd, 0644) != 0) {
		log_error("cannot chmod %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (!download(url, shown, *fd, tmp, hex))
		goto fail; /* errors already logged */
	if (!digest_equal(hex, sha512)) {
		log_error("%s: SHA-512 mismatch: expected %s, got %s; the download was deleted "
			  "and nothing was unpacked",
			  shown, sha512, hex);
		goto fail;
	}
	if (fsync(*fd) != 0) {
		log_error("cannot fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, cached) != 0) {
		log_error("cannot rename %s to %s: %s", tmp, cached, strerror(errno));
		goto fail;
	}
	if (!fsync_dir(cache_dir))
		goto out_close; /* errors already logged; the verified file is kept */
	ok = true;
	goto out;
fail:
	unlink(tmp);
out_close:
	close(*fd);
	*fd = -1;
out:
	free(tmp);
	free(cached);
	free(name);
	return ok;
}

/* ---- unpacking -------------------------------------------------------- */

/* tar -C dir . writes "./x" entries: the same as "x". */
static const char *entry_name(struct archive_entry *entry)
{
	const char *p = archive_entry_pathname(entry);

	if (!p)
		return "";
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	return strcmp(p, ".") == 0 ? "" : p;
}

/* A hard link's target, as entry_name() cleans names. */
static const char *hardlink_name(const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	return p;
}

/* Why path (an entry's name, or a hard link's target) cannot be unpacked
 * under top, or NULL when it can. */
static const char *entry_path_problem(const char *path, const char *top)
{
	size_t top_len = strlen(top);

	if (path[0] == '/')
		return "absolute path";
	for (const char *c = path; *c; c += strcspn(c, "/"), c += *c == '/') {
		if (strncmp(c, "..", 2) == 0 && (c[2] == '/' || c[2] == '\0'))
			return "'..' in the path";
	}
	if (strncmp(path, top, top_len) != 0 || (path[top_len] != '/' && path[top_len] != '\0'))
		return "outside the tarball's top directory";
	return NULL;
}

/*
 * Whether a symlink named path (already checked) pointing to target resolves
 * inside the top directory.  ".." is allowed only leading the target: the
 * directories it climbs are then real ones, so counting is exact, and every
 * name after it is inside the tree (a link among them is checked itself).
 */
static bool symlink_stays_inside(const char *path, const char *target)
{
	int depth = 0; /* of the link's directory; the top directory is 1 */
	bool leading = true;

	if (target[0] == '/' || target[0] == '\0')
		return false;
	for (const char *c = path; *c; c++)
		depth += *c == '/' && c[1] != '/' && c[1] != '\0';
	for (const char *c = target; *c; c += strcspn(c, "/"), c += *c == '/') {
		size_t len = strcspn(c, "/");

		if (len == 0 || (len == 1 && c[0] == '.'))
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			if (!leading || --depth < 1)
				return false;
		} else {
			leading = false;
			depth++;
		}
	}
	return true;
}

static struct archive *archive_reader_new(int fd, const char *url)
{
	struct archive *in = archive_read_new();

	if (!in) {
		fputs("cdc-agent: error: out of memory (libarchive)\n", stderr);
		abort();
	}
	/* Tar only, with the compressions Kafka has shipped and may ship. */
	archive_read_support_format_tar(in);
	archive_read_support_filter_gzip(in);
	archive_read_support_filter_bzip2(in);
	archive_read_support_filter_xz(in);
	archive_read_support_filter_zstd(in);
	if (lseek(fd, 0, SEEK_SET) != 0 || archive_read_open_fd(in, fd, 65536) != ARCHIVE_OK) {
		log_error("cannot read the tarball of %s: %s", url,
			  archive_error_string(in) ? archive_error_string(in) : strerror(errno));
		archive_read_free(in);
		return NULL;
	}
	return in;
}

static bool copy_entry_data(struct archive *in, struct archive *out, const char *url,
			    const char *name)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;

	while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
		if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_OK) {
			log_error("cannot unpack %s from %s: %s", name, url, archive_error_string(out));
			return false;
		}
	}
	if (r != ARCHIVE_EOF) {
		log_error("cannot read %s in the tarball of %s: %s", name, url,
			  archive_error_string(in));
		return false;
	}
	return true;
}

/*
 * Why an entry may not be unpacked under top, logged; entries are refused,
 * not skipped: a tarball that tries to write outside its directory is not
 * the one that should be installed.
 */
static bool entry_check(struct archive_entry *entry, const char *name, const char *top,
			const char *url)
{
	const char *hardlink = archive_entry_hardlink(entry);
	const char *problem = entry_path_problem(name, top);
	mode_t type = archive_entry_filetype(entry);

	if (problem) {
		log_error("refusing the tarball of %s: entry '%s': %s", url, name, problem);
		return false;
	}
	if (hardlink) {
		problem = entry_path_problem(hardlink_name(hardlink), top);
		if (problem) {
			log_error("refusing the tarball of %s: hard link '%s' -> '%s': %s", url,
				  name, hardlink, problem);
			return false;
		}
	} else if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(entry);

		if (!target || !symlink_stays_inside(name, target)) {
			log_error("refusing the tarball of %s: symlink '%s' -> '%s' points outside "
				  "its top directory '%s'",
				  url, name, target ? target : "", top);
			return false;
		}
	} else if (type != AE_IFREG && type != AE_IFDIR) {
		log_error("refusing the tarball of %s: entry '%s' is not a file, directory or "
			  "link",
			  url, name);
		return false;
	}
	return true;
}

/*
 * Reads every header of the tarball at fd before anything is written: the
 * top directory (what the versioned directory will be called, from the
 * first entry) and that every entry stays under it.  *top: caller frees.
 */
static bool tarball_check(int fd, const char *url, char **top)
{
	struct archive *in = archive_reader_new(fd, url);
	struct archive_entry *entry;
	bool ok = true;
	int r;

	*top = NULL;
	if (!in)
		return false; /* errors already logged */
	while (ok && (r = archive_read_next_header(in, &entry)) != ARCHIVE_EOF) {
		const char *name = entry_name(entry);

		if (r < ARCHIVE_WARN) {
			log_error("cannot read the tarball of %s: %s", url, archive_error_string(in));
			ok = false;
		} else if (name[0] == '\0') {
			continue; /* "./" itself */
		} else if (!*top) {
			*top = xstrndup(name, strcspn(name, "/"));
			if (name[0] == '/' || strcmp(*top, "..") == 0) {
				log_error("refusing the tarball of %s: entry '%s' would land outside "
					  "the install directory",
					  url, name);
				ok = false;
			}
		}
		if (ok && *top)
			ok = entry_check(entry, name, *top, url);
	}
	if (ok && !*top) {
		log_error("the tarball of %s is empty", url);
		ok = false;
	}
	archive_read_free(in);
	if (!ok) {
		free(*top);
		*top = NULL;
	}
	return ok;
}

/* Checks one entry again (tarball_check read the same bytes; this guards
 * the code, not the data) and rewrites it to land under root. */
static bool entry_prepare(struct archive_entry *entry, const char *name, const char *root,
			  const char *top, const char *url)
{
	const char *hardlink = archive_entry_hardlink(entry);
	char *full;

	if (!entry_check(entry, name, top, url))
		return false; /* errors already logged */
	if (hardlink) {
		full = xasprintf("%s/%s", root, hardlink_name(hardlink));
		archive_entry_set_hardlink(entry, full);
		free(full);
	}
	/* Owner rights kept so that the tree can be read back to fsync it. */
	archive_entry_set_perm(entry, (archive_entry_perm(entry) & MAX_PERM) |
					      (archive_entry_filetype(entry) == AE_IFDIR ? 0700
											  : 0400));
	full = xasprintf("%s/%s", root, name);
	archive_entry_set_pathname(entry, full);
	free(full);
	return true;
}

/* Unpacks the tarball at fd into root, every entry under top. */
static bool tarball_extract(int fd, const char *url, const char *root, const char *top)
{
	struct archive *in = archive_reader_new(fd, url);
	struct archive *out;
	struct archive_entry *entry;
	bool ok = true;
	int r;

	if (!in)
		return false; /* errors already logged */
	out = archive_write_disk_new();
	if (!out) {
		fputs("cdc-agent: error: out of memory (libarchive)\n", stderr);
		abort();
	}
	/* Owners are not restored: the files belong to the agent's user (root),
	 * in a fresh mkdtemp directory of root's.  The SECURE flags back the
	 * checks of entry_prepare(): no entry through a link, none with '..'.
	 * Not SECURE_NOABSOLUTEPATHS: entry_prepare() itself rebases every
	 * name (checked relative, absolute ones refused) onto the absolute
	 * staging root, which that flag would refuse. */
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
						    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						    ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	while (ok && (r = archive_read_next_header(in, &entry)) != ARCHIVE_EOF) {
		char *name;

		if (r < ARCHIVE_WARN) {
			log_error("cannot read the tarball of %s: %s", url,
				  archive_error_string(in));
			ok = false;
			break;
		}
		name = xstrdup(entry_name(entry));
		if (name[0] == '\0') {
			free(name);
			continue; /* "./" itself */
		}
		ok = entry_prepare(entry, name, root, top, url);
		if (ok && archive_write_header(out, entry) < ARCHIVE_WARN) {
			log_error("cannot unpack %s from %s: %s", name, url,
				  archive_error_string(out));
			ok = false;
		}
		if (ok && archive_entry_size(entry) > 0)
			ok = copy_entry_data(in, out, url, name);
		if (ok && archive_write_finish_entry(out) < ARCHIVE_WARN) {
			log_error("cannot unpack %s from %s: %s", name, url,
				  archive_error_string(out));
			ok = false;
		}
		free(name);
	}
	/* Closing sets the directories' final modes and times. */
	if (archive_write_close(out) != ARCHIVE_OK && ok) {
		log_error("cannot finish unpacking %s: %s", url, archive_error_string(out));
		ok = false;
	}
	archive_write_free(out);
	archive_read_free(in);
	return ok;
}

static bool marker_write(const char *dir, const char *sha512, const char *url)
{
	char *path = xasprintf("%s/" KAFKA_DIST_MARKER, dir);
	char *text = xasprintf("%s  %s\n", sha512, url);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	size_t len = strlen(text);
	bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;

	if (!ok)
		log_error("cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(text);
	free(path);
	return ok;
}

/*
 * Unpacks the verified tarball at fd into parent/top: first into a fresh
 * directory beside it, then synced and renamed into place.  On failure the
 * unpack directory is removed and parent/top was never created.
 */
static bool tarball_unpack(int fd, const char *url, const char *sha512, const char *parent,
			   const char *top)
{
	char *staging = xasprintf("%s/" UNPACK_TAG "XXXXXX", parent);
	char *root = NULL, *unpacked = NULL, *dest = xasprintf("%s/%s", parent, top);
	struct stat st;
	bool ok = false;

	if (!mkdtemp(staging)) {
		log_error("cannot create a directory like %s: %s", staging, strerror(errno));
		free(staging);
		free(dest);
		return false;
	}
	/* libarchive's symlink guard checks every component of the path, so
	 * it gets one without any (/opt may well be a link). */
	root = realpath(staging, NULL);
	if (!root) {
		log_error("cannot resolve %s: %s", staging, strerror(errno));
		goto out;
	}
	unpacked = xasprintf("%s/%s", root, top);
	log_info("unpacking %s into %s", url, dest);
	if (!tarball_extract(fd, url, root, top))
		goto out; /* errors already logged */
	if (lstat(unpacked, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_error("refusing the tarball of %s: its top entry '%s' is not a directory", url,
			  top);
		goto out;
	}
	if (!marker_write(unpacked, sha512, url) || !fsync_tree(root))
		goto out; /* errors already logged */
	if (rename(unpacked, dest) != 0) {
		log_error("cannot rename %s to %s: %s", unpacked, dest, strerror(errno));
		goto out;
	}
	ok = fsync_dir(parent);
out:
	remove_tree(staging); /* empty after the rename */
	free(unpacked);
	free(root);
	free(staging);
	free(dest);
	return ok;
}

/* ---- kafka_install ---------------------------------------------------- */

/* One install at a time per cache_dir (one per host): a flock on the
 * directory itself, released when *lock_fd is closed. */
static bool install_lock(const char *cache_dir, int *lock_fd)
{
	*lock_fd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*lock_fd < 0) {
		log_error("cannot open %s: %s", cache_dir, strerror(errno));
		return false;
	}
	if (flock(*lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			log_error("another cdc-agent is installing Kafka with cache %s (it holds "
				  "a lock on the directory); run again once it is done",
				  cache_dir);
		else
			log_error("cannot lock %s: %s", cache_dir, strerror(errno));
		close(*lock_fd);
		*lock_fd = -1;
		return false;
	}
	return true;
}

/* Removes, from dir, what an install killed midway (SIGKILL, power loss)
 * left there: names that end with tag and 6 more characters. */
static void leftovers_remove(const char *dir, const char *tag)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return; /* nothing to clean; the step that needs dir says why */
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), tag_len = strlen(tag);
		char *path;

		if (len < tag_len + 6 ||
		    strncmp(de->d_name + len - 6 - tag_len, tag, tag_len) != 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		log_info("removing %s, left by an interrupted install", path);
		remove_tree(path);
		free(path);
	}
	closedir(d);
}

/* ", was /opt/kafka_2.13-3.9.1" when install_dir pointed elsewhere. */
static char *was_text(const char *current)
{
	return current ? xasprintf(", was %s", current) : xstrdup("");
}

/* A directory unpacked from this tarball already exists (an earlier run, or
 * a rollback): only the link moves. */
static bool link_only(const struct kafka_cfg *cfg, const char *shown, const char *versioned,
		      const char *current, struct change_list *changes, bool *changed)
{
	char *was = was_text(current);

	change_record(changes, COMPONENT, "link %s to %s (Kafka from %s, unpacked earlier%s)",
		      cfg->install_dir, versioned, shown, was);
	free(was);
	*changed = true;
	return !changes->apply || link_switch(cfg->install_dir, versioned);
}

/* A directory of that name that this tarball did not produce: ours to
 * refuse, not to replace (it may be in use). */
static bool versioned_in_the_way(const char *versioned, const char *url)
{
	struct stat st;

	if (lstat(versioned, &st) != 0)
		return false;
	log_error("%s exists but was not unpacked from %s (no %s with its SHA-512); move it "
		  "away (e.g. mv %s %s.old) and run again",
		  versioned, url, KAFKA_DIST_MARKER, versioned, versioned);
	return true;
}

static bool install_apply(const struct kafka_cfg *cfg, const char *shown, const char *cache_dir,
			  const char *parent, const char *current, struct change_list *changes,
			  bool *changed)
{
	char *top = NULL, *versioned = NULL, *link_name = path_basename(cfg->install_dir);
	char *was = was_text(current);
	bool ok = false;
	int fd = -1, lock_fd = -1;

	if (!mkdir_p(cache_dir) || !mkdir_p(parent) || !install_lock(cache_dir, &lock_fd))
		goto out; /* errors already logged */
	leftovers_remove(cache_dir, PART_TAG);
	leftovers_remove(parent, UNPACK_TAG);
	if (!tarball_get(cfg->dist, shown, cfg->sha512, cache_dir, &fd))
		goto out; /* errors already logged */
	if (!tarball_check(fd, shown, &top))
		goto out; /* errors already logged */
	if (strcmp(top, link_name) == 0) {
		log_error("the tarball of %s unpacks into '%s', the name of install_dir %s: choose "
			  "another install_dir",
			  shown, top, cfg->install_dir);
		goto out;
	}
	versioned = xasprintf("%s/%s", parent, top);
	if (dir_has_dist(versioned, cfg->sha512)) {
		ok = link_only(cfg, shown, versioned, current, changes, changed);
		goto out;
	}
	if (versioned_in_the_way(versioned, shown))
		goto out; /* errors already logged */
	change_record(changes, COMPONENT, "install Kafka from %s into %s and link %s to it%s",
		      shown, versioned, cfg->install_dir, was);
	*changed = true;
	ok = tarball_unpack(fd, shown, cfg->sha512, parent, top) &&
	     link_switch(cfg->install_dir, versioned);
out:
	if (fd >= 0)
		close(fd);
	if (lock_fd >= 0)
		close(lock_fd);
	free(versioned);
	free(top);
	free(was);
	free(link_name);
	return ok;
}

bool kafka_install(const struct kafka_cfg *cfg, const char *cache_dir,
		   struct change_list *changes, bool *changed)
{
	char *current = NULL, *parent = NULL, *stem = NULL, *guess = NULL, *was = NULL;
	char *shown;
	bool ok = false;

	*changed = false;
	if (!cfg->dist)
		return true; /* Kafka is not the agent's to install */
	shown = url_shown(cfg->dist);
	if (!cfg->sha512 || strlen(cfg->sha512) != SHA512_HEX_LEN || !cfg->install_dir ||
	    cfg->install_dir[0] != '/' || !cache_dir || !cache_dir[0]) {
		log_error("[kafka] dist %s needs sha512 (128 hex digits), an absolute install_dir "
			  "and a cache directory",
			  shown);
		goto out;
	}
	if (!link_read(cfg->install_dir, &current))
		goto out; /* errors already logged */
	if (current && dir_has_dist(current, cfg->sha512)) {
		log_debug("Kafka from %s is installed: %s -> %s", shown, cfg->install_dir,
			  current);
		ok = true;
		goto out;
	}

	parent = path_dirname(cfg->install_dir);
	stem = url_stem(cfg->dist);
	guess = stem ? xasprintf("%s/%s", parent, stem) : NULL;
	if (guess && strcmp(guess, cfg->install_dir) != 0 && dir_has_dist(guess, cfg->sha512)) {
		/* No need for the tarball: the directory says what it holds. */
		ok = link_only(cfg, shown, guess, current, changes, changed);
	} else if (changes->apply) {
		ok = install_apply(cfg, shown, cache_dir, parent, current, changes, changed);
	} else if (guess && strcmp(guess, cfg->install_dir) != 0 &&
		   versioned_in_the_way(guess, shown)) {
		ok = false; /* errors already logged; bootstrap would refuse it too */
	} else {
		was = was_text(current);
		change_record(changes, COMPONENT, "install Kafka from %s into %s/%s and link %s to "
			      "it%s",
			      shown, parent, stem ? stem : "<the tarball's top directory>",
			      cfg->install_dir, was);
		*changed = true;
		ok = true;
	}
out:
	free(was);
	free(guess);
	free(stem);
	free(parent);
	free(current);
	free(shown);
	return ok;
}

/* ---- Java ------------------------------------------------------------- */

static bool is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

bool java_runtime_find(char **java_path)
{
	const char *home = getenv("JAVA_HOME");
	const char *path = getenv("PATH");
	char *dirs, *save = NULL;

	*java_path = NULL;
	if (home && home[0]) {
		char *java = xasprintf("%s/bin/java", home);

		if (is_executable_file(java)) {
			*java_path = java;
			return true;
		}
		log_error("JAVA_HOME is %s but %s is not an executable file: point JAVA_HOME at "
			  "a Java runtime, or unset it to use java from PATH (Debian package "
			  "openjdk-17-jre-headless)",
			  home, java);
		free(java);
		return false;
	}
	if (!path || !path[0])
		path = "/usr/local/bin:/usr/bin:/bin";
	dirs = xstrdup(path);
	for (char *dir = strtok_r(dirs, ":", &save); dir && !*java_path;
	     dir = strtok_r(NULL, ":", &save)) {
		char *java;

		if (dir[0] != '/')
			continue; /* relative entries depend on the working directory */
		java = xasprintf("%s/java", dir);
		if (is_executable_file(java))
			*java_path = java;
		else
			free(java);
	}
	free(dirs);
	if (*java_path)
		return true;
	log_error("no Java runtime for Kafka: JAVA_HOME is not set and there is no executable "
		  "java in PATH (%s); install the Debian package openjdk-17-jre-headless "
		  "(apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
		  path);
	return false;
}
