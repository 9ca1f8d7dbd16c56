/*
 * agent/files.c: reading secrets and rewriting files atomically.
 */
#include "files.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool file_read_all(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct strbuf sb;
	char chunk[8192];
	size_t n;

	if (!f) {
		log_error("cannot open %s: %s", path, strerror(errno));
		return false;
	}
	strbuf_init(&sb);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		strbuf_add(&sb, chunk, n);
	if (ferror(f)) {
		log_error("cannot read %s: %s", path, strerror(errno));
		fclose(f);
		strbuf_fini(&sb);
		return false;
	}
	fclose(f);
	if (len)
		*len = sb.len;
	*out = strbuf_detach(&sb);
	return true;
}

bool secret_file_is_private(const char *path, char *why_buf, size_t why_len)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(why_buf, why_len, "%s", strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why_buf, why_len, "not a regular file");
		return false;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(why_buf, why_len,
			 "mode %04o lets group or others read it; chmod 600 it",
			 (unsigned)(st.st_mode & 07777));
		return false;
	}
	if (access(path, R_OK) != 0) {
		snprintf(why_buf, why_len, "%s", strerror(errno));
		return false;
	}
	return true;
}

bool secret_read(const char *path, char **secret)
{
	char *content;
	size_t len;

	if (!file_read_all(path, &content, &len))
		return false; /* errors already logged */
	content[strcspn(content, "\r\n")] = '\0';
	if (content[0] == '\0') {
		log_error("password file %s is empty", path);
		secret_free(content);
		return false;
	}
	*secret = content;
	return true;
}

void secret_free(char *secret)
{
	if (!secret)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

/* Returns true when path holds exactly content (false if missing). */
static bool file_has_content(const char *path, const char *content, size_t len)
{
	char *old;
	size_t old_len;
	bool same;
	FILE *f = fopen(path, "rb");

	if (!f)
		return false;
	fclose(f);
	if (!file_read_all(path, &old, &old_len))
		return false;
	same = old_len == len && memcmp(old, content, len) == 0;
	free(old);
	return same;
}

static bool fsync_parent_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	bool ok = fd >= 0 && fsync(fd) == 0;

	if (fd >= 0)
		close(fd);
	if (!ok)
		log_error("cannot fsync the directory of %s: %s", path, strerror(errno));
	free(copy);
	return ok;
}

bool file_write_if_changed(const char *path, const char *content, size_t len,
			   mode_t new_mode, bool *changed)
{
	struct stat st;
	bool exists = stat(path, &st) == 0;
	char *tmp;
	int fd;
	bool ok = false;

	*changed = false;
	if (file_has_content(path, content, len))
		return true;

	tmp = xasprintf("%s.cdc-agent.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, new_mode);
	if (fd < 0) {
		log_error("cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return false;
	}
	if (write(fd, content, len) != (ssize_t)len) {
		log_error("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (exists && (fchown(fd, st.st_uid, st.st_gid) != 0 ||
		       fchmod(fd, st.st_mode & 07777) != 0)) {
		log_error("cannot give %s the owner and mode of %s: %s", tmp, path,
			  strerror(errno));
		goto out;
	}
	if (fsync(fd) != 0) {
		log_error("cannot fsync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		log_error("cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	ok = fsync_parent_dir(path);
	*changed = true;
out:
	close(fd);
	if (!*changed)
		unlink(tmp);
	free(tmp);
	return ok;
}

bool file_replace_quick(const char *path, const char *content, size_t len, mode_t mode,
			struct strbuf *why)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const char *failed = NULL;

	if (fd < 0) {
		strbuf_addf(why, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return false;
	}
	/* The mode asked for, whatever the umask (UMask=0077 in the units). */
	if (fchmod(fd, mode) != 0)
		failed = "chmod";
	if (!failed && write(fd, content, len) != (ssize_t)len)
		failed = "write";
	if (close(fd) != 0 && !failed)
		failed = "write";
	if (!failed && rename(tmp, path) != 0)
		failed = "rename";
	if (failed) {
		strbuf_addf(why, "cannot %s %s: %s", failed, tmp, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return !failed;
}
