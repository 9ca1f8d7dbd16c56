/*
 * agent/base/json_out.h: appending JSON text to a strbuf, for the event hot path.
 *
 * Events are written here rather than built as jansson trees because a value
 * must keep PostgreSQL's own digits (a float8 printed back from a double
 * would change them; jansson has no raw-number type) and because a tree
 * costs an allocation per field on every row.  jansson is used where JSON
 * is read (apply) or is small (--json reports).
 */
#ifndef CDC_JSON_OUT_H
#define CDC_JSON_OUT_H

#include "base/util.h"

#include <stdint.h>

/* A JSON string literal of n bytes of UTF-8 text, escaped. */
void json_out_string(struct strbuf *sb, const char *s, size_t n);
/* Same for a NUL-terminated string. */
void json_out_cstring(struct strbuf *sb, const char *s);
/* "key": */
void json_out_key(struct strbuf *sb, const char *key);
/* A number, without printf. */
void json_out_int(struct strbuf *sb, int64_t v);
void json_out_uint(struct strbuf *sb, uint64_t v);
/* A JSON string holding the base64 of n bytes (JsonConverter's bytes form). */
void json_out_base64(struct strbuf *sb, const unsigned char *bytes, size_t n);

#endif
