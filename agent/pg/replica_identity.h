/*
 * agent/pg/replica_identity.h: whether a table's REPLICA IDENTITY lets its
 * changes be replicated, and what to tell the operator when it does not.
 *
 * Pure functions: plan/bootstrap (pg_source.c) judge the catalog's
 * relreplident, capture judges the identity of each Relation message.
 */
#ifndef CDC_REPLICA_IDENTITY_H
#define CDC_REPLICA_IDENTITY_H

#include "base/common.h"
#include "base/util.h"

enum identity_verdict {
	IDENTITY_OK,               /* DEFAULT with a primary key, FULL, USING INDEX */
	IDENTITY_NO_KEY_DEFAULT,   /* DEFAULT and no primary key: old rows carry nothing */
	IDENTITY_NOTHING_WITH_PK,  /* NOTHING although a primary key could identify rows */
	IDENTITY_NOTHING_NO_PK,    /* NOTHING and no primary key */
	IDENTITY_INDEX_GONE,       /* USING INDEX, and that index was dropped */
};

/* relreplident as pg_class has it ('d', 'n', 'f', 'i'); has_pk: the table
 * has a primary key; has_index: an index is marked indisreplident. */
enum identity_verdict replica_identity_judge(char relreplident, bool has_pk, bool has_index);

/* Appends why the table cannot be replicated and the ALTER TABLE that fixes
 * it; shown names the table for people ("s.t"), quoted is its SQL name
 * ("s"."t", what the ALTER TABLE needs).  Nothing for IDENTITY_OK. */
void replica_identity_explain(struct strbuf *out, enum identity_verdict v, const char *shown,
			      const char *quoted);

#endif
