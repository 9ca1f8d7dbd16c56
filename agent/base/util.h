/*
 * agent/base/util.h: small helpers: allocation, growable strings, string lists.
 *
 * Allocation failure aborts the process (xmalloc and friends): the agent has
 * no sensible way to continue without memory, and systemd restarts it.
 */
#ifndef CDC_UTIL_H
#define CDC_UTIL_H

#include "base/common.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);                  /* caller frees */
char *xstrndup(const char *s, size_t n);       /* caller frees */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2); /* caller frees */
/* The n bytes of b as 2n lowercase hex digits and a NUL, into out. */
void hex_encode(const unsigned char *b, size_t n, char *out);
char *xvasprintf(const char *fmt, va_list ap) PRINTF_LIKE(1, 0); /* caller frees */

/* A growable NUL-terminated string; strbuf_init/strbuf_fini own .data. */
struct strbuf {
	char *data;
	size_t len;
	size_t cap;
};

void strbuf_init(struct strbuf *sb);
void strbuf_fini(struct strbuf *sb);
/* Makes room for extra more bytes and the NUL (realloc when short). */
void strbuf_grow(struct strbuf *sb, size_t extra);
/* Inline: events are built from many short pieces, most of them literals
 * whose strlen the compiler folds. */
static inline void strbuf_add(struct strbuf *sb, const char *s, size_t n)
{
	if (sb->len + n + 1 > sb->cap)
		strbuf_grow(sb, n);
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}
static inline void strbuf_adds(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) PRINTF_LIKE(2, 3);
char *strbuf_detach(struct strbuf *sb);        /* caller frees the result */

/* A list of owned strings; strlist_fini frees every item. */
struct strlist {
	char **items;
	size_t n;
};

void strlist_add(struct strlist *list, const char *s); /* copies s */
bool strlist_contains(const struct strlist *list, const char *s);
/* The items joined with sep ("a,b"); caller frees. */
char *strlist_join(const struct strlist *list, const char *sep);
void strlist_fini(struct strlist *list);

/* FNV-1a of len bytes: the hash of strset and key_set. */
uint64_t hash_bytes(const void *data, size_t len);

/* A set of owned strings with constant-time lookup (open addressing);
 * strset_fini frees every item. */
struct strset {
	char **slots;
	size_t cap;   /* 0 or a power of two */
	size_t n;
};

/* Adds a copy of s; returns false if it was already there. */
bool strset_add(struct strset *set, const char *s);
bool strset_contains(const struct strset *set, const char *s);
void strset_fini(struct strset *set);

/* A map from owned strings to indexes, constant-time lookup (open
 * addressing): the per-event lookups of capture and apply (a table by OID,
 * a route by topic) must not grow with the number of tables. */
struct strmap_slot {
	char *key;    /* NULL: empty */
	size_t len;
	size_t value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap;   /* 0 or a power of two */
	size_t n;
};

/* Sets key (len bytes, any content) to value, replacing an earlier value. */
void strmap_put(struct strmap *map, const void *key, size_t len, size_t value);
/* Whether key is set; *value receives it. */
bool strmap_get(const struct strmap *map, const void *key, size_t len, size_t *value);
void strmap_fini(struct strmap *map);

/* The Kafka topic of a table as Debezium names it: prefix.schema.table with
 * every character outside [a-zA-Z0-9._-] replaced by '_' (one per UTF-16
 * code unit, as Debezium's Java does: two for a character beyond U+FFFF).
 * Caller frees. */
char *kafka_topic_name(const char *prefix, const char *schema, const char *table);

/* Trims ASCII white space in place; returns s. */
char *str_trim(char *s);
bool str_ends_with(const char *s, const char *suffix);
/* Levenshtein edit distance, for "did you mean" suggestions. */
size_t str_edit_distance(const char *a, const char *b);

/* The value of a hexadecimal digit (either case), or -1.  Inline: bytea
 * and JSON escapes decode with it byte by byte. */
static inline int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Clocks, named by the clock: mono_* (CLOCK_MONOTONIC) for durations and
 * deadlines, which must not jump with the time of day; wall_*
 * (CLOCK_REALTIME) for timestamps read by others (events, status). */
int64_t mono_usec(void);
int64_t mono_ms(void);
double mono_seconds(void);
int64_t wall_usec(void);
int64_t wall_ms(void);

#endif
