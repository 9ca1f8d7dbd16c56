/*
 * tests/fuzz/fuzz_pgoutput.c: the pgoutput decoder on a stream of messages.
 *
 * The input is a sequence of messages, each a 2-byte big-endian length then
 * that many bytes (a last, shorter one takes what is left), all decoded by
 * one decoder, as capture decodes a replication stream: Relation messages
 * fill its cache and later Insert, Update, Delete and Truncate messages use
 * it.  A message whose first byte is 'w' is a CopyData's XLogData, whose data
 * is then decoded; 'k' a primary keepalive; anything else a pgoutput message
 * itself.  Every byte a decoded message points at is read (ASan sees what is
 * outside the input) and the promises of pgoutput.h are checked.
 */
#include "fuzz.h"

#include "pg/pgoutput.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGES 256

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

static volatile unsigned char sink;

static void touch(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sink ^= (unsigned char)p[i];
}

static void touch_str(const char *s)
{
	FUZZ_CHECK(s, "a decoded string is NULL");
	touch(s, strlen(s) + 1);
}

static void check_relation(const struct pgoutput_decoder *dec, const struct pgoutput_relation *rel)
{
	FUZZ_CHECK(rel, "a change without its relation");
	FUZZ_CHECK(pgoutput_relation_find(dec, rel->oid) == rel,
		   "relation %u is not the cache's entry for its OID", rel->oid);
	touch_str(rel->nspname);
	touch_str(rel->relname);
	FUZZ_CHECK(rel->nspname[0] != '\0', "empty namespace (pg_catalog expected)");
	FUZZ_CHECK(strchr("dnfi", (int)rel->replident) && rel->replident,
		   "replica identity 0x%02x", (unsigned)rel->replident);
	FUZZ_CHECK(rel->generation >= 1, "generation 0");
	for (uint16_t i = 0; i < rel->ncols; i++)
		touch_str(rel->cols[i].name);
}

static void check_tuple(const struct pgoutput_relation *rel, const struct pgoutput_tuple *t,
			bool allow_unchanged)
{
	if (t->ncols == 0)
		return;
	FUZZ_CHECK(t->ncols == rel->ncols, "tuple of %u columns for a relation of %u", t->ncols,
		   rel->ncols);
	for (uint16_t i = 0; i < t->ncols; i++) {
		const struct pgoutput_value *v = &t->values[i];

		switch (v->kind) {
		case PGOUTPUT_NULL:
			break;
		case PGOUTPUT_UNCHANGED:
			FUZZ_CHECK(allow_unchanged, "'unchanged' outside an Update's new tuple");
			break;
		case PGOUTPUT_TEXT:
		case PGOUTPUT_BINARY:
			FUZZ_CHECK(v->data || v->len == 0, "value without data");
			touch(v->data, v->len);
			break;
		default:
			fuzz_fail("value kind 0x%02x", (unsigned)v->kind);
		}
	}
}

static void check_msg(const struct pgoutput_decoder *dec, const struct pgoutput_msg *m)
{
	switch (m->type) {
	case PGOUTPUT_ORIGIN:
		touch_str(m->origin.name);
		break;
	case PGOUTPUT_RELATION:
		check_relation(dec, m->relation.rel);
		break;
	case PGOUTPUT_TYPE:
		touch_str(m->pgtype.nspname);
		touch_str(m->pgtype.name);
		break;
	case PGOUTPUT_INSERT:
	case PGOUTPUT_UPDATE:
	case PGOUTPUT_DELETE:
		check_relation(dec, m->change.rel);
		if (m->type == PGOUTPUT_INSERT)
			FUZZ_CHECK(m->change.old_kind == PGOUTPUT_OLD_NONE, "Insert with an old tuple");
		if (m->type == PGOUTPUT_DELETE)
			FUZZ_CHECK(m->change.old_kind != PGOUTPUT_OLD_NONE &&
				   m->change.old_tuple.ncols == m->change.rel->ncols,
				   "Delete without its old tuple");
		else
			FUZZ_CHECK(m->change.new_tuple.ncols == m->change.rel->ncols,
				   "Insert or Update without its new tuple");
		check_tuple(m->change.rel, &m->change.old_tuple, false);
		check_tuple(m->change.rel, &m->change.new_tuple, m->type == PGOUTPUT_UPDATE);
		break;
	case PGOUTPUT_TRUNCATE:
		for (uint32_t i = 0; i < m->truncate.nrels; i++)
			check_relation(dec, m->truncate.rels[i]);
		break;
	case PGOUTPUT_MESSAGE:
		touch_str(m->message.prefix);
		touch(m->message.content, m->message.len);
		break;
	default:
		break;
	}
	(void)pgoutput_msg_type_name((unsigned char)m->type);
}

static void decode_one(struct pgoutput_decoder *dec, const char *buf, size_t len)
{
	struct pgoutput_msg m;

	if (len && buf[0] == 'w') {
		struct pgoutput_xlogdata x;

		if (!pgoutput_parse_xlogdata(buf, len, &x))
			return;
		FUZZ_CHECK(x.data >= buf && x.data + x.len == buf + len,
			   "XLogData's data is not the rest of its buffer");
		buf = x.data;
		len = x.len;
	} else if (len && buf[0] == 'k') {
		struct pgoutput_keepalive k;

		if (pgoutput_parse_keepalive(buf, len, &k))
			FUZZ_CHECK(len == 18, "a keepalive of %zu bytes parsed (it has 18)", len);
		return;
	}
	if (pgoutput_decode(dec, buf, len, &m))
		check_msg(dec, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgoutput_decoder dec;
	size_t pos = 0;

	pgoutput_decoder_init(&dec);
	for (int n = 0; n < MAX_MESSAGES && pos < size; n++) {
		size_t len = 0;
		char *msg;

		if (size - pos >= 2) {
			len = (size_t)data[pos] << 8 | data[pos + 1];
			pos += 2;
		}
		if (len > size - pos)
			len = size - pos;
		/* Each message in its own allocation of exactly its length, as
		 * libpq hands them: reading past one is an overflow ASan sees. */
		msg = malloc(len ? len : 1);
		if (!msg)
			abort();
		memcpy(msg, data + pos, len);
		decode_one(&dec, msg, len);
		free(msg);
		pos += len;
		if (size - pos < 2 && pos < size)
			break; /* a lone trailing byte */
	}
	pgoutput_decoder_fini(&dec);
	return 0;
}
