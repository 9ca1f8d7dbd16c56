/*
 * agent/base/files.c: reading secrets and rewriting files atomically.
 */
#include "base/files.h"

#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/random.h>
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

/* ---- writes that never follow a link ------------------------------------
 *
 * The agent runs as root and writes into directories other users own
 * (pg_hba.conf's belongs to postgres, state_dir to cdc-agent).  Such a user
 * can plant a symlink or a file at any name there, so: the directory is
 * opened once (its last component not followed) and every name is used
 * relative to it; the destination is inspected without following it and
 * refused when it is a link, not a regular file or has other hard links;
 * the temporary file has a random name and is created with O_EXCL |
 * O_NOFOLLOW (a planted name is never reused); owner and mode are set on
 * the descriptor before renameat() puts it in place.
 */

#define TMP_TAG ".cdc-agent-"
#define TMP_RANDOM 10
#define TMP_TRIES 100

/* Splits path into its directory and last component (both caller frees). */
static void path_split(const char *path, char **dir, char **name)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		*dir = xstrdup(".");
		*name = xstrdup(path);
	} else {
		*dir = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
		*name = xstrdup(slash + 1);
	}
}

/* Opens dir without following a link at its last component; logs, naming
 * path, why not.  Returns the descriptor or -1. */
static int dir_open(const char *dir, const char *path, bool *missing)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (missing)
		*missing = false;
	if (fd >= 0)
		return fd;
	if (missing && errno == ENOENT) {
		*missing = true;
		return -1;
	}
	if ((errno == ELOOP || errno == ENOTDIR) && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode) &&
	    strcmp(dir, path) == 0)
		log_error("refusing directory %s: it is a symbolic link (the agent does not follow "
			  "links where it writes as root); remove it or name the real directory",
			  dir);
	else if ((errno == ELOOP || errno == ENOTDIR) && lstat(dir, &st) == 0 &&
		 S_ISLNK(st.st_mode))
		log_error("refusing %s: its directory %s is a symbolic link (the agent does not "
			  "follow links where it writes as root); name the real directory",
			  path, dir);
	else
		log_error("cannot open the directory of %s (%s): %s", path, dir, strerror(errno));
	return -1;
}

/*
 * Inspects name in dirfd without following it: *exists, and *st when it
 * does.  A link, anything but a regular file, or a file with another hard
 * link (a name planted for a file elsewhere) is refused, naming path.
 */
static bool dest_inspect(int dirfd, const char *name, const char *path, struct stat *st,
			 bool *exists)
{
	*exists = false;
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return true;
		log_error("cannot inspect %s: %s", path, strerror(errno));
		return false;
	}
	if (S_ISLNK(st->st_mode)) {
		char target[256];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

		target[n > 0 ? n : 0] = '\0';
		log_error("refusing %s: it is a symbolic link (to %s); the agent does not follow "
			  "links where it writes as root: remove it",
			  path, n > 0 ? target : "?");
		return false;
	}
	if (!S_ISREG(st->st_mode)) {
		log_error("refusing %s: not a regular file", path);
		return false;
	}
	if (st->st_nlink > 1) {
		log_error("refusing %s: it has %ju hard links (a link to a file elsewhere is not "
			  "rewritten through); make it a file of its own",
			  path, (uintmax_t)st->st_nlink);
		return false;
	}
	*exists = true;
	return true;
}

/* Reads name in dirfd, which dest_inspect found as *st; the file opened must
 * still be that one.  *out NUL-terminated, caller frees. */
static bool read_at(int dirfd, const char *name, const char *path, const struct stat *st,
		    char **out, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat now;
	struct strbuf sb;
	char chunk[8192];
	ssize_t n;

	if (fd < 0) {
		log_error("cannot open %s: %s", path, strerror(errno));
		return false;
	}
	if (fstat(fd, &now) != 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
		log_error("refusing %s: it was replaced while the agent read it", path);
		close(fd);
		return false;
	}
	strbuf_init(&sb);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("cannot read %s: %s", path, strerror(errno));
			close(fd);
			strbuf_fini(&sb);
			return false;
		}
		strbuf_add(&sb, chunk, (size_t)n);
	}
	close(fd);
	if (len)
		*len = sb.len;
	*out = strbuf_detach(&sb);
	return true;
}

/* Writes all of buf to fd. */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Creates a temporary file beside name in dirfd under a fresh random name
 * (*tmp, caller frees), never opening anything that was already there. */
static int tmp_create(int dirfd, const char *name, char **tmp)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	for (int attempt = 0; attempt < TMP_TRIES; attempt++) {
		unsigned char rnd[TMP_RANDOM];
		char suffix[TMP_RANDOM + 1];
		int fd;

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		for (size_t i = 0; i < TMP_RANDOM; i++)
			suffix[i] = chars[rnd[i] % (sizeof(chars) - 1)];
		suffix[TMP_RANDOM] = '\0';
		*tmp = xasprintf(".%s" TMP_TAG "%s", name, suffix);
		fd = openat(dirfd, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		free(*tmp);
		*tmp = NULL;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/*
 * Puts content at name in dirfd: a fresh temporary file, owner and mode set
 * on it (old's when old is given, else this process's and mode), synced
 * when sync, renamed into place.  On failure *why says what failed (the
 * path named) and no temporary file is left.
 */
static bool replace_at(int dirfd, const char *dir, const char *name, const char *content,
		       size_t len, const struct stat *old, mode_t mode, bool sync,
		       struct strbuf *why)
{
	char *tmp = NULL;
	int fd = tmp_create(dirfd, name, &tmp);
	const char *failed = NULL;
	struct stat st;

	if (fd < 0) {
		strbuf_addf(why, "cannot create a temporary file for %s/%s: %s", dir, name,
			    strerror(errno));
		return false;
	}
	if (!write_all(fd, content, len))
		failed = "write";
	else if (old && fstat(fd, &st) == 0 &&
		 (st.st_uid != old->st_uid || st.st_gid != old->st_gid) &&
		 fchown(fd, old->st_uid, old->st_gid) != 0)
		failed = "give the old owner to";
	/* After fchown, which clears set-id bits; exact, whatever the umask. */
	else if (fchmod(fd, old ? old->st_mode & 07777 : mode) != 0)
		failed = "set the mode of";
	else if (sync && fsync(fd) != 0)
		failed = "fsync";
	if (close(fd) != 0 && !failed)
		failed = "write";
	if (!failed && renameat(dirfd, tmp, dirfd, name) != 0)
		failed = "rename into place";
	if (!failed && sync && fsync(dirfd) != 0) {
		strbuf_addf(why, "cannot fsync the directory %s: %s", dir, strerror(errno));
		free(tmp);
		return false;
	}
	if (failed) {
		strbuf_addf(why, "cannot %s %s/%s: %s", failed, dir, tmp, strerror(errno));
		unlinkat(dirfd, tmp, 0);
	}
	free(tmp);
	return !failed;
}

bool file_read_nofollow(const char *path, char **out, size_t *len, bool *exists)
{
	char *dir, *name;
	bool missing, ok = false;
	int dirfd;

	*exists = false;
	path_split(path, &dir, &name);
	dirfd = dir_open(dir, path, &missing);
	if (dirfd < 0) {
		ok = missing;
		goto out;
	}
	ok = file_read_at(dirfd, dir, name, out, len, exists);
	close(dirfd);
out:
	free(dir);
	free(name);
	return ok;
}

bool file_read_at(int dirfd, const char *dir, const char *name, char **out, size_t *len,
		  bool *exists)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct stat st;
	bool ok = dest_inspect(dirfd, name, path, &st, exists) &&
		  (!*exists || read_at(dirfd, name, path, &st, out, len));

	free(path);
	return ok; /* on failure, errors already logged */
}

bool file_write_if_changed_at(int dirfd, const char *dir, const char *name,
			      const char *content, size_t len, mode_t new_mode, bool *changed)
{
	char *path = xasprintf("%s/%s", dir, name), *old = NULL;
	size_t old_len = 0;
	struct stat st;
	struct strbuf why;
	bool exists, ok;

	*changed = false;
	if (!dest_inspect(dirfd, name, path, &st, &exists) ||
	    (exists && !read_at(dirfd, name, path, &st, &old, &old_len))) {
		free(path);
		return false; /* errors already logged */
	}
	if (exists && old_len == len && memcmp(old, content, len) == 0) {
		free(old);
		free(path);
		return true;
	}
	free(old);
	strbuf_init(&why);
	ok = replace_at(dirfd, dir, name, content, len, exists ? &st : NULL, new_mode, true, &why);
	if (!ok)
		log_error("%s", why.data);
	*changed = ok;
	strbuf_fini(&why);
	free(path);
	return ok;
}

bool file_replace_at(int dirfd, const char *dir, const char *name, const char *content, size_t len,
		     uid_t uid, gid_t gid, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct stat st, want;
	struct strbuf why;
	bool exists, ok;

	if (!dest_inspect(dirfd, name, path, &st, &exists)) {
		free(path);
		return false; /* errors already logged */
	}
	/* replace_at gives the temporary file an old file's owner and mode. */
	memset(&want, 0, sizeof(want));
	want.st_uid = uid;
	want.st_gid = gid;
	want.st_mode = mode;
	strbuf_init(&why);
	ok = replace_at(dirfd, dir, name, content, len, &want, mode, true, &why);
	if (!ok)
		log_error("%s", why.data);
	strbuf_fini(&why);
	free(path);
	return ok;
}

bool file_write_if_changed(const char *path, const char *content, size_t len,
			   mode_t new_mode, bool *changed)
{
	char *dir, *name;
	int dirfd;
	bool ok = false;

	*changed = false;
	path_split(path, &dir, &name);
	dirfd = dir_open(dir, path, NULL);
	if (dirfd >= 0) {
		ok = file_write_if_changed_at(dirfd, dir, name, content, len, new_mode, changed);
		close(dirfd);
	}
	free(dir);
	free(name);
	return ok; /* on failure, errors already logged */
}

bool file_replace_quick(const char *path, const char *content, size_t len, mode_t mode,
			struct strbuf *why)
{
	char *dir, *name;
	int dirfd;
	struct stat st;
	bool ok = false;

	path_split(path, &dir, &name);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0) {
		strbuf_addf(why, "cannot open the directory %s: %s", dir, strerror(errno));
	} else if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
		strbuf_addf(why, "refusing %s: it is a symbolic link", path);
	} else {
		ok = replace_at(dirfd, dir, name, content, len, NULL, mode, false, why);
	}
	if (dirfd >= 0)
		close(dirfd);
	free(dir);
	free(name);
	return ok;
}

/*
 * Opens (creates with mode 0700 when create) a directory only this
 * process's user may change: not a link, owned by the effective uid, not
 * writable by group or others; anything else is refused, naming it.  *fd is
 * -1 when it is missing and create is false (true is returned).
 */
static bool private_dir_open(const char *path, bool create, int *fd)
{
	struct stat st;
	bool missing;

	*fd = -1;
	if (create && mkdir(path, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create directory %s: %s", path, strerror(errno));
		return false;
	}
	*fd = dir_open(path, path, &missing);
	if (*fd < 0 && missing && create)
		log_error("cannot open directory %s: it vanished after its creation", path);
	if (*fd < 0)
		return missing && !create; /* missing: nothing in it yet; else logged */
	if (fstat(*fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		log_error("refusing directory %s: owned by uid %u with mode %04o; the agent keeps "
			  "its own state only in a directory of its user (uid %u) that nobody else "
			  "may write (chown %u %s; chmod 700 %s)",
			  path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			  (unsigned)geteuid(), (unsigned)geteuid(), path, path);
		close(*fd);
		*fd = -1;
		return false;
	}
	return true;
}

bool state_private_open(const char *state_dir, bool create, int *fd, char **dir)
{
	bool ok;

	*dir = xasprintf("%s/" STATE_PRIVATE_SUBDIR, state_dir);
	if (create && mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create state directory %s: %s", state_dir, strerror(errno));
		return false;
	}
	ok = private_dir_open(*dir, create, fd);
	return ok; /* on failure, errors already logged */
}
