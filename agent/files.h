/*
 * agent/files.h: reading secrets and rewriting files atomically.
 */
#ifndef CDC_FILES_H
#define CDC_FILES_H

#include "common.h"
#include "util.h"

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
 * Writes content to path only when the file's bytes differ: write a temp file
 * beside it, fsync, rename, fsync the directory, so a crash leaves either the
 * old or the new file.  An existing file's owner and mode are kept; a new file
 * gets new_mode.  *changed says whether anything was written.
 */
MUST_CHECK bool file_write_if_changed(const char *path, const char *content, size_t len,
				      mode_t new_mode, bool *changed);

/*
 * Replaces path with content through a temp file and rename(), so a reader
 * sees the old file or the new one, never a part.  No fsync: for small files
 * rewritten every second whose loss in a crash is harmless (progress), where
 * an fsync each time would make the disk flush for nothing.  Logs nothing:
 * on failure *why says what failed and the caller decides how loud it is.
 */
MUST_CHECK bool file_replace_quick(const char *path, const char *content, size_t len,
				   mode_t mode, struct strbuf *why);

#endif
