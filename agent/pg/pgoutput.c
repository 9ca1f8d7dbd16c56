/*
 * agent/pg/pgoutput.c: decoder of pgoutput (protocol version 1) messages and of
 * the streaming replication framing around them.
 *
 * Every read goes through struct reader, which checks the remaining length
 * first; nothing else touches the input bytes.  Integers are big-endian.
 */
#include "pg/pgoutput.h"

#include "base/log.h"
#include "base/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of fixed-size parts, for bounds checks and the status update. */
#define XLOGDATA_HEADER_LEN 25 /* 'w', dataStart, walEnd, sendTime */
/* Smallest Relation column: flags, "" name, type OID, typmod. */
#define REL_COLUMN_MIN_LEN 10

struct reader {
	const unsigned char *p;
	size_t len;
	size_t pos;       /* invariant: pos <= len */
	const char *what; /* message type name, for errors */
};

static void reader_init(struct reader *r, const char *buf, size_t len, const char *what)
{
	r->p = (const unsigned char *)buf;
	r->len = len;
	r->pos = 0;
	r->what = what;
}

/* Malformed (not short) input: "pgoutput: Update message, offset 5: ...". */
static void PRINTF_LIKE(2, 3) bad(const struct reader *r, const char *fmt, ...)
{
	va_list ap;
	char *why;

	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	log_error("pgoutput: %s message, offset %zu: %s", r->what, r->pos, why);
	free(why);
}

static bool need(const struct reader *r, size_t n, const char *field)
{
	if (r->len - r->pos >= n)
		return true;
	log_error("pgoutput: truncated %s message: %s needs %zu bytes at offset %zu, %zu left",
		  r->what, field, n, r->pos, r->len - r->pos);
	return false;
}

static bool read_u8(struct reader *r, const char *field, uint8_t *out)
{
	if (!need(r, 1, field))
		return false;
	*out = r->p[r->pos++];
	return true;
}

static bool read_u16(struct reader *r, const char *field, uint16_t *out)
{
	if (!need(r, 2, field))
		return false;
	*out = (uint16_t)(r->p[r->pos] << 8 | r->p[r->pos + 1]);
	r->pos += 2;
	return true;
}

static bool read_u32(struct reader *r, const char *field, uint32_t *out)
{
	const unsigned char *b;

	if (!need(r, 4, field))
		return false;
	b = r->p + r->pos;
	*out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	r->pos += 4;
	return true;
}

/* A length: Int32 on the wire, negative only in malformed input. */
static bool read_len(struct reader *r, const char *field, uint32_t *out)
{
	size_t at = r->pos;

	if (!read_u32(r, field, out))
		return false;
	if (*out > INT32_MAX) {
		r->pos = at;
		bad(r, "%s is negative (%d)", field, (int32_t)*out);
		return false;
	}
	return true;
}

static bool read_u64(struct reader *r, const char *field, uint64_t *out)
{
	uint64_t v = 0;

	if (!need(r, 8, field))
		return false;
	for (int i = 0; i < 8; i++)
		v = v << 8 | r->p[r->pos + i];
	r->pos += 8;
	*out = v;
	return true;
}

/* Timestamps are signed on the wire (before 2000 is negative). */
static bool read_i64(struct reader *r, const char *field, int64_t *out)
{
	uint64_t v;

	if (!read_u64(r, field, &v))
		return false;
	*out = (int64_t)v;
	return true;
}

/* A NUL-terminated string, returned in place. */
static bool read_string(struct reader *r, const char *field, const char **out)
{
	const unsigned char *nul = memchr(r->p + r->pos, '\0', r->len - r->pos);

	if (!nul) {
		log_error("pgoutput: truncated %s message: %s at offset %zu has no terminating NUL",
			  r->what, field, r->pos);
		return false;
	}
	*out = (const char *)r->p + r->pos;
	r->pos = (size_t)(nul - r->p) + 1;
	return true;
}

/* n bytes in place. */
static bool read_bytes(struct reader *r, const char *field, size_t n, const char **out)
{
	if (!need(r, n, field))
		return false;
	*out = (const char *)r->p + r->pos;
	r->pos += n;
	return true;
}

/* Trailing bytes mean the sender speaks another format than we decode (e.g.
 * protocol version 2 adds fields): better stop than misread. */
static bool read_end(const struct reader *r)
{
	if (r->pos == r->len)
		return true;
	bad(r, "%zu byte(s) after the end of the message", r->len - r->pos);
	return false;
}

bool pgoutput_parse_xlogdata(const char *buf, size_t len, struct pgoutput_xlogdata *out)
{
	struct reader r;
	uint8_t tag;

	reader_init(&r, buf, len, "XLogData");
	if (!read_u8(&r, "message type", &tag))
		return false;
	if (tag != 'w') {
		r.pos = 0;
		bad(&r, "type byte is 0x%02x, not 'w'", tag);
		return false;
	}
	if (!read_u64(&r, "dataStart", &out->data_start) ||
	    !read_u64(&r, "walEnd", &out->wal_end) ||
	    !read_i64(&r, "sendTime", &out->send_time))
		return false;
	out->data = buf + XLOGDATA_HEADER_LEN;
	out->len = len - XLOGDATA_HEADER_LEN;
	return true;
}

bool pgoutput_parse_keepalive(const char *buf, size_t len, struct pgoutput_keepalive *out)
{
	struct reader r;
	uint8_t tag, reply;

	reader_init(&r, buf, len, "primary keepalive");
	if (!read_u8(&r, "message type", &tag))
		return false;
	if (tag != 'k') {
		r.pos = 0;
		bad(&r, "type byte is 0x%02x, not 'k'", tag);
		return false;
	}
	if (!read_u64(&r, "walEnd", &out->wal_end) ||
	    !read_i64(&r, "sendTime", &out->send_time) ||
	    !read_u8(&r, "replyRequested", &reply) || !read_end(&r))
		return false;
	out->reply_requested = reply != 0;
	return true;
}

static char *put_u64(char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (char)(v & 0xff);
	return p + 8;
}

void pgoutput_build_status_update(const struct pgoutput_status *st,
				  char out[PGOUTPUT_STATUS_UPDATE_LEN])
{
	char *p = out;

	*p++ = 'r';
	p = put_u64(p, st->written);
	p = put_u64(p, st->flushed);
	p = put_u64(p, st->applied);
	p = put_u64(p, (uint64_t)st->now);
	*p = st->reply_requested ? 1 : 0;
}

const char *pgoutput_msg_type_name(unsigned char type)
{
	switch (type) {
	case 'B': return "Begin";
	case 'C': return "Commit";
	case 'O': return "Origin";
	case 'R': return "Relation";
	case 'Y': return "Type";
	case 'I': return "Insert";
	case 'U': return "Update";
	case 'D': return "Delete";
	case 'T': return "Truncate";
	case 'M': return "Message";
	/* Protocol version 2 (streaming) and 3 (two-phase): never sent to us. */
	case 'S': return "Stream Start";
	case 'E': return "Stream Stop";
	case 'c': return "Stream Commit";
	case 'A': return "Stream Abort";
	case 'b': return "Begin Prepare";
	case 'P': return "Prepare";
	case 'K': return "Commit Prepared";
	case 'r': return "Rollback Prepared";
	case 'p': return "Stream Prepare";
	default: return "unknown";
	}
}

/* ---- relation cache: open addressing on the OID, linear probing ---- */

static size_t rel_slot(const struct pgoutput_decoder *dec, uint32_t oid)
{
	size_t mask = dec->rels_cap - 1;
	size_t i = (size_t)(oid * UINT32_C(2654435761)) & mask; /* Knuth's multiplicative hash */

	while (dec->rels[i] && dec->rels[i]->oid != oid)
		i = (i + 1) & mask;
	return i;
}

const struct pgoutput_relation *pgoutput_relation_find(const struct pgoutput_decoder *dec,
						       uint32_t oid)
{
	return dec->rels_cap ? dec->rels[rel_slot(dec, oid)] : NULL;
}

static void rel_free(struct pgoutput_relation *rel)
{
	if (!rel)
		return;
	for (uint16_t i = 0; i < rel->ncols; i++)
		free(rel->cols[i].name);
	free(rel->cols);
	free(rel->nspname);
	free(rel->relname);
	free(rel);
}

/* Keeps the table at most half full, so probes stay short. */
static void rels_grow(struct pgoutput_decoder *dec)
{
	struct pgoutput_relation **old = dec->rels;
	size_t old_cap = dec->rels_cap;

	if ((dec->rels_n + 1) * 2 <= dec->rels_cap)
		return;
	dec->rels_cap = old_cap ? old_cap * 2 : 16;
	dec->rels = xcalloc(dec->rels_cap, sizeof(*dec->rels));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			dec->rels[rel_slot(dec, old[i]->oid)] = old[i];
	free(old);
}

static bool rel_same(const struct pgoutput_relation *a, const struct pgoutput_relation *b)
{
	if (strcmp(a->nspname, b->nspname) != 0 || strcmp(a->relname, b->relname) != 0 ||
	    a->replident != b->replident || a->ncols != b->ncols)
		return false;
	for (uint16_t i = 0; i < a->ncols; i++) {
		const struct pgoutput_column *x = &a->cols[i], *y = &b->cols[i];

		if (strcmp(x->name, y->name) != 0 || x->type_oid != y->type_oid ||
		    x->typmod != y->typmod || x->key != y->key)
			return false;
	}
	return true;
}

/* Takes ownership of rel; returns whether it differs from the entry it replaces. */
static bool rel_install(struct pgoutput_decoder *dec, struct pgoutput_relation *rel)
{
	struct pgoutput_relation *old;
	size_t slot;
	bool changed;

	rels_grow(dec);
	slot = rel_slot(dec, rel->oid);
	old = dec->rels[slot];
	changed = !old || !rel_same(old, rel);
	rel->generation = old ? old->generation + 1 : 1;
	if (!old)
		dec->rels_n++;
	rel_free(old);
	dec->rels[slot] = rel;
	return changed;
}

void pgoutput_decoder_init(struct pgoutput_decoder *dec)
{
	memset(dec, 0, sizeof(*dec));
}

void pgoutput_decoder_fini(struct pgoutput_decoder *dec)
{
	for (size_t i = 0; i < dec->rels_cap; i++)
		rel_free(dec->rels[i]);
	free(dec->rels);
	free(dec->values);
	free(dec->trunc_rels);
	memset(dec, 0, sizeof(*dec));
}

/* ---- message bodies; r is positioned after the type byte ---- */

static bool decode_begin(struct reader *r, struct pgoutput_msg *out)
{
	return read_u64(r, "final LSN", &out->begin.final_lsn) &&
	       read_i64(r, "commit timestamp", &out->begin.commit_time) &&
	       read_u32(r, "xid", &out->begin.xid);
}

static bool decode_commit(struct reader *r, struct pgoutput_msg *out)
{
	return read_u8(r, "flags", &out->commit.flags) &&
	       read_u64(r, "commit LSN", &out->commit.commit_lsn) &&
	       read_u64(r, "end LSN", &out->commit.end_lsn) &&
	       read_i64(r, "commit timestamp", &out->commit.commit_time);
}

static bool decode_origin(struct reader *r, struct pgoutput_msg *out)
{
	return read_u64(r, "origin commit LSN", &out->origin.commit_lsn) &&
	       read_string(r, "origin name", &out->origin.name);
}

/* The wire says "" for pg_catalog, to save bytes. */
static const char *namespace_name(const char *wire)
{
	return wire[0] ? wire : "pg_catalog";
}

static bool decode_type(struct reader *r, struct pgoutput_msg *out)
{
	const char *nsp;

	if (!read_u32(r, "type OID", &out->pgtype.oid) || !read_string(r, "namespace", &nsp) ||
	    !read_string(r, "type name", &out->pgtype.name))
		return false;
	out->pgtype.nspname = namespace_name(nsp);
	return true;
}

static bool decode_columns(struct reader *r, struct pgoutput_relation *rel)
{
	for (uint16_t i = 0; i < rel->ncols; i++) {
		struct pgoutput_column *col = &rel->cols[i];
		const char *name;
		uint32_t typmod;
		uint8_t flags;

		if (!read_u8(r, "column flags", &flags) || !read_string(r, "column name", &name) ||
		    !read_u32(r, "column type OID", &col->type_oid) ||
		    !read_u32(r, "column type modifier", &typmod))
			return false;
		col->name = xstrdup(name);
		col->typmod = (int32_t)typmod;
		/* Bit 0 is the only flag PostgreSQL defines: part of the key. */
		col->key = flags & 1;
	}
	return true;
}

/* Builds the new entry completely before touching the cache, so a malformed
 * Relation message leaves the previous schema in place. */
static bool decode_relation(struct pgoutput_decoder *dec, struct reader *r,
			    struct pgoutput_msg *out)
{
	struct pgoutput_relation *rel = xcalloc(1, sizeof(*rel));
	const char *nsp, *name;
	uint8_t replident;

	if (!read_u32(r, "relation OID", &rel->oid) || !read_string(r, "namespace", &nsp) ||
	    !read_string(r, "relation name", &name) ||
	    !read_u8(r, "replica identity", &replident))
		goto fail;
	rel->nspname = xstrdup(namespace_name(nsp));
	rel->relname = xstrdup(name);
	if (!strchr("dnfi", replident) || replident == '\0') {
		r->pos--;
		bad(r, "replica identity of %s.%s is 0x%02x, not one of d, n, f, i", rel->nspname,
		    rel->relname, replident);
		goto fail;
	}
	rel->replident = (enum pgoutput_replident)replident;
	if (!read_u16(r, "column count", &rel->ncols))
		goto fail;
	/* Checked before allocating: a forged count must not make us allocate. */
	if ((r->len - r->pos) / REL_COLUMN_MIN_LEN < rel->ncols) {
		log_error("pgoutput: truncated %s message: %u columns need at least %zu bytes at offset %zu, %zu left",
			  r->what, rel->ncols, (size_t)rel->ncols * REL_COLUMN_MIN_LEN, r->pos,
			  r->len - r->pos);
		rel->ncols = 0;
		goto fail;
	}
	rel->cols = xcalloc(rel->ncols, sizeof(*rel->cols));
	if (!decode_columns(r, rel) || !read_end(r))
		goto fail;
	out->relation.changed = rel_install(dec, rel);
	out->relation.rel = rel;
	return true;
fail:
	rel_free(rel);
	return false;
}

static const struct pgoutput_relation *find_relation(const struct pgoutput_decoder *dec,
						     struct reader *r)
{
	const struct pgoutput_relation *rel;
	uint32_t oid;

	if (!read_u32(r, "relation OID", &oid))
		return NULL;
	rel = pgoutput_relation_find(dec, oid);
	if (!rel) {
		r->pos -= 4;
		bad(r, "relation OID %u has no Relation message before it", oid);
	}
	return rel;
}

static void reserve_values(struct pgoutput_decoder *dec, size_t n)
{
	if (n <= dec->values_cap)
		return;
	dec->values_cap = n < 64 ? 64 : n;
	free(dec->values);
	dec->values = xcalloc(dec->values_cap, sizeof(*dec->values));
}

/* TupleData into values[0..rel->ncols).  "unchanged" is only meaningful in an
 * Update's new tuple; anywhere else there is no stored value to keep. */
static bool decode_tuple(struct reader *r, const struct pgoutput_relation *rel,
			 bool allow_unchanged, struct pgoutput_value *values,
			 struct pgoutput_tuple *out)
{
	uint16_t ncols;

	if (!read_u16(r, "tuple column count", &ncols))
		return false;
	if (ncols != rel->ncols) {
		r->pos -= 2;
		bad(r, "tuple has %u columns but relation %s.%s has %u (missed Relation message?)",
		    ncols, rel->nspname, rel->relname, rel->ncols);
		return false;
	}
	for (uint16_t i = 0; i < ncols; i++) {
		struct pgoutput_value *v = &values[i];
		uint8_t kind;

		if (!read_u8(r, "column kind", &kind))
			return false;
		v->kind = (enum pgoutput_value_kind)kind;
		v->len = 0;
		v->data = NULL;
		switch (kind) {
		case PGOUTPUT_NULL:
			break;
		case PGOUTPUT_UNCHANGED:
			if (!allow_unchanged) {
				r->pos--;
				bad(r, "column %s of %s.%s is 'unchanged TOAST' outside an Update's new tuple",
				    rel->cols[i].name, rel->nspname, rel->relname);
				return false;
			}
			break;
		case PGOUTPUT_TEXT:
		case PGOUTPUT_BINARY:
			if (!read_len(r, "column value length", &v->len) ||
			    !read_bytes(r, "column value", v->len, &v->data))
				return false;
			break;
		default:
			r->pos--;
			bad(r, "column %s of %s.%s has kind 0x%02x, not one of n, u, t, b",
			    rel->cols[i].name, rel->nspname, rel->relname, kind);
			return false;
		}
	}
	out->ncols = ncols;
	out->values = values;
	return true;
}

/* The 'N', 'K' or 'O' byte before a TupleData. */
static bool expect_tuple_tag(struct reader *r, uint8_t tag, const char *allowed)
{
	if (strchr(allowed, tag) && tag != '\0')
		return true;
	r->pos--;
	bad(r, "tuple tag is 0x%02x, expected one of %s", tag, allowed);
	return false;
}

/* Insert, Update, Delete. */
static bool decode_change(struct pgoutput_decoder *dec, struct reader *r, uint8_t type,
			  struct pgoutput_msg *out)
{
	const struct pgoutput_relation *rel = find_relation(dec, r);
	struct pgoutput_value *old_vals, *new_vals;
	uint8_t tag;

	if (!rel)
		return false; /* errors already logged */
	/* Both tuples have rel->ncols columns: reserve once, so no realloc moves
	 * the first tuple while the second is decoded. */
	reserve_values(dec, 2 * (size_t)rel->ncols);
	old_vals = dec->values;
	new_vals = dec->values + rel->ncols;
	out->change.rel = rel;
	if (!read_u8(r, "tuple tag", &tag))
		return false;
	if (type == PGOUTPUT_INSERT)
		return expect_tuple_tag(r, tag, "N") &&
		       decode_tuple(r, rel, false, new_vals, &out->change.new_tuple);
	if (!expect_tuple_tag(r, tag, type == PGOUTPUT_DELETE ? "KO" : "KON"))
		return false;
	if (tag != 'N') {
		out->change.old_kind = (enum pgoutput_old_kind)tag;
		if (!decode_tuple(r, rel, false, old_vals, &out->change.old_tuple))
			return false;
		if (type == PGOUTPUT_DELETE)
			return true;
		if (!read_u8(r, "tuple tag", &tag) || !expect_tuple_tag(r, tag, "N"))
			return false;
	}
	return decode_tuple(r, rel, true, new_vals, &out->change.new_tuple);
}

static bool decode_truncate(struct pgoutput_decoder *dec, struct reader *r,
			    struct pgoutput_msg *out)
{
	uint32_t nrels;
	uint8_t options;

	if (!read_u32(r, "relation count", &nrels) || !read_u8(r, "options", &options))
		return false;
	if (options & ~(PGOUTPUT_TRUNCATE_CASCADE | PGOUTPUT_TRUNCATE_RESTART_IDENTITY)) {
		r->pos--;
		bad(r, "unknown option bits 0x%02x", options);
		return false;
	}
	/* Checked before allocating, as for Relation columns (and written so
	 * that nrels * 4 cannot overflow). */
	if ((r->len - r->pos) / 4 < nrels) {
		log_error("pgoutput: truncated %s message: %u relation OIDs need %llu bytes at offset %zu, %zu left",
			  r->what, nrels, (unsigned long long)nrels * 4, r->pos, r->len - r->pos);
		return false;
	}
	if (nrels > dec->trunc_cap) {
		dec->trunc_cap = nrels < 16 ? 16 : nrels;
		free(dec->trunc_rels);
		dec->trunc_rels = xcalloc(dec->trunc_cap, sizeof(*dec->trunc_rels));
	}
	for (uint32_t i = 0; i < nrels; i++)
		if (!(dec->trunc_rels[i] = find_relation(dec, r)))
			return false; /* errors already logged */
	out->truncate.options = options;
	out->truncate.nrels = nrels;
	out->truncate.rels = dec->trunc_rels;
	return true;
}

static bool decode_message(struct reader *r, struct pgoutput_msg *out)
{
	uint8_t flags;

	if (!read_u8(r, "flags", &flags) || !read_u64(r, "LSN", &out->message.lsn) ||
	    !read_string(r, "prefix", &out->message.prefix) ||
	    !read_len(r, "content length", &out->message.len) ||
	    !read_bytes(r, "content", out->message.len, &out->message.content))
		return false;
	out->message.transactional = flags & 1;
	return true;
}

bool pgoutput_decode(struct pgoutput_decoder *dec, const char *buf, size_t len,
		     struct pgoutput_msg *out)
{
	struct reader r;
	uint8_t type;
	bool ok;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		log_error("pgoutput: empty message, offset 0: no type byte");
		return false;
	}
	type = (uint8_t)buf[0];
	reader_init(&r, buf, len, pgoutput_msg_type_name(type));
	r.pos = 1;
	out->type = (enum pgoutput_msg_type)type;
	switch (type) {
	case PGOUTPUT_BEGIN:
		ok = decode_begin(&r, out);
		break;
	case PGOUTPUT_COMMIT:
		ok = decode_commit(&r, out);
		break;
	case PGOUTPUT_ORIGIN:
		ok = decode_origin(&r, out);
		break;
	case PGOUTPUT_RELATION:
		/* Checks its own end: it must not install a malformed entry. */
		return decode_relation(dec, &r, out);
	case PGOUTPUT_TYPE:
		ok = decode_type(&r, out);
		break;
	case PGOUTPUT_INSERT:
	case PGOUTPUT_UPDATE:
	case PGOUTPUT_DELETE:
		ok = decode_change(dec, &r, type, out);
		break;
	case PGOUTPUT_TRUNCATE:
		ok = decode_truncate(dec, &r, out);
		break;
	case PGOUTPUT_MESSAGE:
		ok = decode_message(&r, out);
		break;
	default:
		if (strcmp(r.what, "unknown") != 0)
			log_error("pgoutput: %s message ('%c') at offset 0 is not part of protocol version 1 (was streaming or two_phase enabled?)",
				  r.what, type);
		else if (isprint(type))
			log_error("pgoutput: unknown message type '%c' (0x%02x) at offset 0", type,
				  type);
		else
			log_error("pgoutput: unknown message type 0x%02x at offset 0", type);
		return false;
	}
	return ok && read_end(&r);
}
