/*
 * agent/base/util.c: allocation wrappers, growable strings, string lists.
 */
#include "base/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(void)
{
	fputs("cdc-agent: error: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	va_list copy;
	char *p;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		out_of_memory();
	p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void strbuf_init(struct strbuf *sb)
{
	sb->cap = 64;
	sb->len = 0;
	sb->data = xmalloc(sb->cap);
	sb->data[0] = '\0';
}

void strbuf_fini(struct strbuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	while (sb->len + extra + 1 > sb->cap)
		sb->cap *= 2;
	sb->data = xrealloc(sb->data, sb->cap);
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	size_t room = sb->cap - sb->len;
	va_list ap;
	int n;

	/* Format straight into the free space: one pass when it fits, which
	 * is nearly always on the event hot path. */
	va_start(ap, fmt);
	n = vsnprintf(sb->data + sb->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	if ((size_t)n >= room) {
		strbuf_grow(sb, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	sb->len += (size_t)n;
}

char *strbuf_detach(struct strbuf *sb)
{
	char *s = sb->data;

	sb->data = NULL;
	sb->len = sb->cap = 0;
	return s;
}

void strlist_add(struct strlist *list, const char *s)
{
	list->items = xrealloc(list->items, (list->n + 1) * sizeof(char *));
	list->items[list->n++] = xstrdup(s);
}

bool strlist_contains(const struct strlist *list, const char *s)
{
	for (size_t i = 0; i < list->n; i++)
		if (strcmp(list->items[i], s) == 0)
			return true;
	return false;
}

char *strlist_join(const struct strlist *list, const char *sep)
{
	struct strbuf sb;

	strbuf_init(&sb);
	for (size_t i = 0; i < list->n; i++)
		strbuf_addf(&sb, "%s%s", i ? sep : "", list->items[i]);
	return strbuf_detach(&sb);
}

void strlist_fini(struct strlist *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

uint64_t hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* The slot holding s, or the free slot where it would go. */
static size_t strset_slot(const struct strset *set, const char *s)
{
	size_t i = (size_t)hash_bytes(s, strlen(s)) & (set->cap - 1);

	while (set->slots[i] && strcmp(set->slots[i], s) != 0)
		i = (i + 1) & (set->cap - 1);
	return i;
}

bool strset_contains(const struct strset *set, const char *s)
{
	return set->cap && set->slots[strset_slot(set, s)] != NULL;
}

bool strset_add(struct strset *set, const char *s)
{
	size_t i;

	if ((set->n + 1) * 2 > set->cap) {
		struct strset bigger = { xcalloc(set->cap ? set->cap * 2 : 64, sizeof(char *)),
					 set->cap ? set->cap * 2 : 64, set->n };

		for (size_t k = 0; k < set->cap; k++)
			if (set->slots[k])
				bigger.slots[strset_slot(&bigger, set->slots[k])] = set->slots[k];
		free(set->slots);
		*set = bigger;
	}
	i = strset_slot(set, s);
	if (set->slots[i])
		return false;
	set->slots[i] = xstrdup(s);
	set->n++;
	return true;
}

static size_t strmap_slot(const struct strmap *map, const void *key, size_t len)
{
	size_t i = (size_t)hash_bytes(key, len) & (map->cap - 1);

	while (map->slots[i].key &&
	       (map->slots[i].len != len || memcmp(map->slots[i].key, key, len) != 0))
		i = (i + 1) & (map->cap - 1);
	return i;
}

bool strmap_get(const struct strmap *map, const void *key, size_t len, size_t *value)
{
	size_t i;

	if (!map->cap)
		return false;
	i = strmap_slot(map, key, len);
	if (!map->slots[i].key)
		return false;
	*value = map->slots[i].value;
	return true;
}

void strmap_put(struct strmap *map, const void *key, size_t len, size_t value)
{
	size_t i;

	if ((map->n + 1) * 2 > map->cap) {
		size_t cap = map->cap ? map->cap * 2 : 64;
		struct strmap bigger = { xcalloc(cap, sizeof(struct strmap_slot)), cap, map->n };

		for (size_t k = 0; k < map->cap; k++)
			if (map->slots[k].key)
				bigger.slots[strmap_slot(&bigger, map->slots[k].key,
							 map->slots[k].len)] = map->slots[k];
		free(map->slots);
		*map = bigger;
	}
	i = strmap_slot(map, key, len);
	if (!map->slots[i].key) {
		map->slots[i].key = xmalloc(len + 1);
		memcpy(map->slots[i].key, key, len);
		map->slots[i].key[len] = '\0';
		map->slots[i].len = len;
		map->n++;
	}
	map->slots[i].value = value;
}

void strmap_fini(struct strmap *map)
{
	for (size_t i = 0; i < map->cap; i++)
		free(map->slots[i].key);
	free(map->slots);
	map->slots = NULL;
	map->cap = map->n = 0;
}

/* Appends part with Debezium's replacements (kafka_topic_name). */
static void topic_part_add(struct strbuf *sb, const char *part)
{
	for (const unsigned char *p = (const unsigned char *)part; *p; p++) {
		unsigned char c = *p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-') {
			strbuf_add(sb, (const char *)p, 1);
		} else if (c < 0x80) {
			strbuf_add(sb, "_", 1);
		} else if (c >= 0xC0) {
			/* a UTF-8 lead byte: one code unit, two from U+10000 */
			strbuf_adds(sb, c >= 0xF0 ? "__" : "_");
		}
		/* continuation bytes (0x80-0xBF) belong to the character before */
	}
}

char *kafka_topic_name(const char *prefix, const char *schema, const char *table)
{
	struct strbuf sb;

	strbuf_init(&sb);
	topic_part_add(&sb, prefix);
	strbuf_add(&sb, ".", 1);
	topic_part_add(&sb, schema);
	strbuf_add(&sb, ".", 1);
	topic_part_add(&sb, table);
	return strbuf_detach(&sb);
}

void strset_fini(struct strset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
	set->slots = NULL;
	set->cap = set->n = 0;
}

char *str_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		memmove(s, s + 1, strlen(s));
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

bool str_ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

size_t str_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof(size_t));
	size_t result;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) ==
					      tolower((unsigned char)b[j - 1])
					      ? 0
					      : 1;
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	result = row[lb];
	free(row);
	return result;
}

static int64_t clock_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mono_usec(void)
{
	return clock_usec(CLOCK_MONOTONIC);
}

int64_t mono_ms(void)
{
	return clock_usec(CLOCK_MONOTONIC) / 1000;
}

double mono_seconds(void)
{
	return (double)clock_usec(CLOCK_MONOTONIC) / 1e6;
}

int64_t wall_usec(void)
{
	return clock_usec(CLOCK_REALTIME);
}

int64_t wall_ms(void)
{
	return clock_usec(CLOCK_REALTIME) / 1000;
}

void hex_encode(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}
