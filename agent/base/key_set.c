/*
 * agent/base/key_set.c: see key_set.h.
 */
#include "base/key_set.h"

#include <stdlib.h>
#include <string.h>

void key_set_init(struct key_set *ks)
{
	memset(ks, 0, sizeof(*ks));
	ks->gen = 1;
	strbuf_init(&ks->arena);
}

void key_set_fini(struct key_set *ks)
{
	free(ks->slots);
	strbuf_fini(&ks->arena);
	memset(ks, 0, sizeof(*ks));
}

void key_set_clear(struct key_set *ks)
{
	ks->n = 0;
	ks->arena.len = 0;
	if (++ks->gen == 0) { /* wrapped: stale slots would look current */
		memset(ks->slots, 0, ks->cap * sizeof(*ks->slots));
		ks->gen = 1;
	}
}

/* The slot holding key, or the free slot where it would go. */
static struct key_slot *slot_for(const struct key_set *ks, const char *key, size_t len,
				 uint32_t hash)
{
	size_t i = hash & (ks->cap - 1);

	for (;; i = (i + 1) & (ks->cap - 1)) {
		struct key_slot *s = &ks->slots[i];

		if (s->gen != ks->gen)
			return s;
		if (s->hash == hash && s->len == len &&
		    memcmp(ks->arena.data + s->offset, key, len) == 0)
			return s;
	}
}

bool key_set_contains(const struct key_set *ks, const char *key, size_t len)
{
	return ks->cap && slot_for(ks, key, len, (uint32_t)hash_bytes(key, len))->gen == ks->gen;
}

/* Doubles the slots (at least 64), moving the current keys over. */
static void grow(struct key_set *ks)
{
	struct key_set bigger = *ks;

	bigger.cap = ks->cap ? ks->cap * 2 : 64;
	bigger.slots = xcalloc(bigger.cap, sizeof(*bigger.slots));
	for (size_t i = 0; i < ks->cap; i++)
		if (ks->slots[i].gen == ks->gen)
			*slot_for(&bigger, ks->arena.data + ks->slots[i].offset, ks->slots[i].len,
				  ks->slots[i].hash) = ks->slots[i];
	free(ks->slots);
	*ks = bigger;
}

bool key_set_add(struct key_set *ks, const char *key, size_t len)
{
	uint32_t hash = (uint32_t)hash_bytes(key, len);
	struct key_slot *s;

	if ((ks->n + 1) * 2 > ks->cap)
		grow(ks);
	s = slot_for(ks, key, len, hash);
	if (s->gen == ks->gen)
		return false;
	if (ks->arena.len + len > UINT32_MAX)
		abort(); /* cannot happen: a key fits in a btree entry (~2.7 kB,
			  * compressed), and a group has at most 5000 */
	*s = (struct key_slot){ ks->gen, hash, (uint32_t)ks->arena.len, (uint32_t)len };
	strbuf_add(&ks->arena, key, len);
	ks->n++;
	return true;
}
