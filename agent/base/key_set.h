/*
 * agent/base/key_set.h: the keys of the rows apply gathers into one statement.
 *
 * A set of byte strings that is filled, emptied and filled again for every
 * group of rows (thousands of keys a second).  Keys are copied into one
 * arena and slots carry the generation they were filled in, so adding a key
 * allocates nothing once the set has grown, and emptying it is a counter
 * increment (no free per key, no clearing of the slots).
 */
#ifndef CDC_KEY_SET_H
#define CDC_KEY_SET_H

#include "base/common.h"
#include "base/util.h"

#include <stdint.h>

/* 16 bytes: a group's slots (16384 for 5000 keys) are probed at random, so
 * their size is what the lookups cost in cache misses. */
struct key_slot {
	uint32_t gen;      /* filled in this generation; stale otherwise */
	uint32_t hash;
	uint32_t offset;   /* of the key in the arena */
	uint32_t len;
};

/* key_set_init/key_set_fini own everything. */
struct key_set {
	struct key_slot *slots;
	size_t cap;        /* a power of two, or 0 */
	size_t n;          /* keys of the current generation */
	uint32_t gen;      /* the current generation, from 1 */
	struct strbuf arena;
};

void key_set_init(struct key_set *ks);
void key_set_fini(struct key_set *ks);

/* Empties the set, keeping its memory. */
void key_set_clear(struct key_set *ks);

MUST_CHECK bool key_set_contains(const struct key_set *ks, const char *key, size_t len);

/* Adds a copy of key[0..len); false when the set holds it already.  The
 * keys of one generation may total up to 4 GiB (apply's groups hold 5000
 * rows). */
bool key_set_add(struct key_set *ks, const char *key, size_t len);

#endif
