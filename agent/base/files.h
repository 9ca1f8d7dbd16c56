/*
 * agent/base/files.h: reading secrets and rewriting files atomically.
 */
#ifndef CDC_FILES_H
#define CDC_FILES_H

#include "base/common.h"
#include "base/util.h"

#include <sys/types.h>

/* Reads a whole file; *out is NUL-terminated, caller frees. */
MUST_CHECK bool file_read_all(const char *path, char **out, size_t *len);

/*
 * Checks that a secret file exists, is a regular file and is not readable,
 * writable or executable by group or others.  On failure *why names the
 * problem (static string or errno text copied into why_buf).
 */
bool secret_file_is_private(const char *path, char *why_buf, size_t why_len);

/* Reads the first line of a secret file (newline stripped); caller frees
 * with secret_free(), which wipes it. */
MUST_CHECK bool secret_read(const char *path, char **secret);
void secret_free(char *secret);

/*
 * Root writes never follow links.  The agent writes as root into
 * directories other users own (pg_hba.conf's is postgres's, state_dir is
 * cdc-agent's), where any name may be a planted link.  So every write and
 * read below opens the file's directory without following a link at its
 * last component and uses names relative to it; a destination that is a
 * symbolic link, not a regular file or has another hard link is refused
 * with an error naming it; the new content goes to a temporary file with a
 * random name created with O_EXCL | O_NOFOLLOW, gets its owner and mode on
 * the descriptor, and is renamed into place.
 */

/*
 * Writes content to path only when the file's bytes differ: a temp file
 * beside it, fsync, rename, fsync the directory, so a crash leaves either the
 * old or the new file.  An existing file's owner and mode are kept; a new file
 * gets new_mode (exactly, whatever the umask).  *changed says whether
 * anything was written.
 */
MUST_CHECK bool file_write_if_changed(const char *path, const char *content, size_t len,
				      mode_t new_mode, bool *changed);
/* The same for name in the directory dirfd (opened as dir, for messages). */
MUST_CHECK bool file_write_if_changed_at(int dirfd, const char *dir, const char *name,
					 const char *content, size_t len, mode_t new_mode,
					 bool *changed);

/* Replaces name in dirfd (opened as dir, for messages) with content
 * whatever it held, owned by uid:gid with exactly mode: the owner and mode
 * are set on the temporary file before the rename, so the content is never
 * readable by more than mode allows.  Synced as above; a link or anything
 * but a regular file at name is refused. */
MUST_CHECK bool file_replace_at(int dirfd, const char *dir, const char *name, const char *content,
				size_t len, uid_t uid, gid_t gid, mode_t mode);

/* Reads a whole file without following a link (refused as above); a missing
 * file or directory is *exists = false and true.  *out NUL-terminated,
 * caller frees. */
MUST_CHECK bool file_read_nofollow(const char *path, char **out, size_t *len, bool *exists);
MUST_CHECK bool file_read_at(int dirfd, const char *dir, const char *name, char **out,
			     size_t *len, bool *exists);

/*
 * Replaces path with content through a temp file and rename(), so a reader
 * sees the old file or the new one, never a part.  No fsync: for small files
 * rewritten every second whose loss in a crash is harmless (progress), where
 * an fsync each time would make the disk flush for nothing.  Logs nothing:
 * on failure *why says what failed and the caller decides how loud it is.
 */
MUST_CHECK bool file_replace_quick(const char *path, const char *content, size_t len,
				   mode_t mode, struct strbuf *why);

/*
 * The agent's (root's) own state: <state_dir>/root, a private_dir_open
 * directory.  state_dir belongs to the cdc-agent user (capture and apply
 * write their progress there), who may rename or plant anything in it, but
 * cannot change what is inside a directory of root's.  *dir is its path
 * (caller frees, also on failure).
 */
#define STATE_PRIVATE_SUBDIR "root"
MUST_CHECK bool state_private_open(const char *state_dir, bool create, int *fd, char **dir);

#endif
