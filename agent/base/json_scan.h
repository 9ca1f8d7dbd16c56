/*
 * agent/base/json_scan.h: a small in-place JSON reader for apply's hot path.
 *
 * jansson builds a tree of the whole record (an allocation per value and per
 * key) and that was three quarters of apply's CPU.  This reader walks one
 * JSON text held in a buffer the caller owns and may modify, builds nothing:
 * objects and arrays the caller enters are read member by member; strings
 * read as values are unescaped in place and NUL-terminated, so they are C
 * strings for as long as the buffer lives; an object or array not entered is
 * checked and skipped, and its raw text (left untouched) is kept, to be read
 * later from a copy.  Every byte of the text is checked against RFC 8259
 * (strings must be valid UTF-8 and must not hold \u0000, as jansson requires),
 * whichever parts the caller reads: a malformed text is an error, with its
 * byte offset.
 */
#ifndef CDC_JSON_SCAN_H
#define CDC_JSON_SCAN_H

#include "base/common.h"

#include <stdint.h>

#define JSCAN_MAX_DEPTH 512

enum jscan_kind {
	JSCAN_NULL,
	JSCAN_FALSE,
	JSCAN_TRUE,
	JSCAN_NUMBER,  /* text: its literal digits, not NUL-terminated */
	JSCAN_STRING,  /* text: unescaped, NUL-terminated; len excludes the NUL */
	JSCAN_OBJECT,  /* text: the raw JSON text, untouched, not NUL-terminated */
	JSCAN_ARRAY,   /* likewise */
};

struct jscan_value {
	enum jscan_kind kind;
	char *text;       /* in the scanned buffer */
	size_t len;
};

/* The reader's state: a cursor over a caller-owned buffer. */
struct jscan {
	char *p;
	char *end;
	char *start;
	int depth;
	bool first;         /* just inside a container: no ',' before the next */
	const char *error;  /* static text of the first error, or NULL */
	size_t error_pos;   /* its byte offset in the text */
};

/* Starts reading text[0..len).  text[len] must be readable and NUL (a
 * sentinel: the reader then needs no bound check per byte); the caller
 * keeps text alive and lets the reader rewrite it. */
void jscan_init(struct jscan *s, char *text, size_t len);

/* When the text at the cursor (after white space) begins with known, the
 * text of an object or array already known to be valid JSON, reads it as
 * that value without checking its bytes again (a valid object or array is
 * never the start of another valid value) and returns true; else reads
 * nothing and returns false. */
bool jscan_value_known(struct jscan *s, const char *known, size_t len, struct jscan_value *v);

/* Starts reading, in place, an object or array that jscan_value skipped
 * (and so checked) earlier.  The byte after it becomes the sentinel: read
 * the enclosing text to its end before entering any of its parts. */
void jscan_init_within(struct jscan *s, const struct jscan_value *v);

/* Reads the value at the cursor into *v (see enum jscan_kind). */
MUST_CHECK bool jscan_value(struct jscan *s, struct jscan_value *v);

/* Enters the object ('{') or array ('[') at the cursor; false (an error)
 * when the value there is something else. */
MUST_CHECK bool jscan_enter(struct jscan *s, char open);

/* The next member of the entered object: *name (unescaped, NUL-terminated)
 * with the cursor on its value, which the caller must then read with
 * jscan_value or jscan_enter; *more is false at the closing '}'. */
MUST_CHECK bool jscan_member(struct jscan *s, const char **name, bool *more);

/* The next item of the entered array, the cursor on it; *more is false at
 * the closing ']'. */
MUST_CHECK bool jscan_item(struct jscan *s, bool *more);

/* The next byte that is not white space ('\0' at the end): what kind of
 * value comes next. */
char jscan_peek(struct jscan *s);

/* After the top-level value: only white space may follow. */
MUST_CHECK bool jscan_finish(struct jscan *s);

/* A number value as an int64: false when it is not an integer literal or
 * does not fit. */
bool jscan_int64(const struct jscan_value *v, int64_t *out);

/* Whether a value is the string s. */
bool jscan_is_string(const struct jscan_value *v, const char *s);

#endif
