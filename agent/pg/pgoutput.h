/*
 * agent/pg/pgoutput.h: decoder of pgoutput logical replication messages
 * (protocol version 1, as PostgreSQL 15 sends them) and of the streaming
 * replication framing around them: XLogData, primary keepalive, standby
 * status update.
 *
 * Pure: no I/O and no clock.  The bytes come from the network, so every
 * length is bounds-checked; malformed or truncated input is logged with the
 * message type and byte offset and makes the function return false, without
 * ever reading outside [buf, buf + len).
 *
 * Lifetimes (the hot path allocates only when the relation cache or the
 * decoder's scratch arrays grow):
 *   - strings and column values of a decoded message point into the caller's
 *     buffer: valid as long as that buffer;
 *   - tuple value arrays and the relation list of a Truncate belong to the
 *     decoder: valid until the next pgoutput_decode() on that decoder;
 *   - relations belong to the decoder's cache: valid until a Relation message
 *     for the same OID is decoded (the entry is replaced) or until
 *     pgoutput_decoder_fini().
 */
#ifndef CDC_PGOUTPUT_H
#define CDC_PGOUTPUT_H

#include "base/common.h"

#include <stdint.h>

/* Wire timestamps count microseconds since 2000-01-01 00:00:00 UTC; add this
 * to get microseconds since the Unix epoch. */
#define PGOUTPUT_EPOCH_UNIX_USEC INT64_C(946684800000000)


/* ---- Streaming replication framing (inside CopyData) ---- */

/* XLogData ('w'): a chunk of WAL; in logical replication one pgoutput message. */
struct pgoutput_xlogdata {
	uint64_t data_start; /* LSN where the data starts */
	uint64_t wal_end;    /* the server's current end of WAL */
	int64_t send_time;   /* server clock when sent */
	const char *data;    /* the pgoutput message, points into buf */
	size_t len;
};

MUST_CHECK bool pgoutput_parse_xlogdata(const char *buf, size_t len,
					struct pgoutput_xlogdata *out);

/* Primary keepalive ('k'). */
struct pgoutput_keepalive {
	uint64_t wal_end;     /* the server's current end of WAL */
	int64_t send_time;    /* server clock when sent */
	bool reply_requested; /* answer now, or the server times the client out */
};

MUST_CHECK bool pgoutput_parse_keepalive(const char *buf, size_t len,
					 struct pgoutput_keepalive *out);

/* Standby status update ('r').  LSNs are "last byte + 1": pass the end LSN
 * of what was written / flushed / applied; the slot's confirmed_flush follows
 * flushed, so it must never run ahead of what the target has durably stored. */
struct pgoutput_status {
	uint64_t written;
	uint64_t flushed;
	uint64_t applied;
	int64_t now;          /* client clock, wire timestamp */
	bool reply_requested; /* ask the server to answer with a keepalive */
};

#define PGOUTPUT_STATUS_UPDATE_LEN 34
void pgoutput_build_status_update(const struct pgoutput_status *st,
				  char out[PGOUTPUT_STATUS_UPDATE_LEN]);

/* ---- pgoutput messages ---- */

/* The message types of protocol version 1; values are the wire bytes. */
enum pgoutput_msg_type {
	PGOUTPUT_BEGIN = 'B',
	PGOUTPUT_COMMIT = 'C',
	PGOUTPUT_ORIGIN = 'O',
	PGOUTPUT_RELATION = 'R',
	PGOUTPUT_TYPE = 'Y',
	PGOUTPUT_INSERT = 'I',
	PGOUTPUT_UPDATE = 'U',
	PGOUTPUT_DELETE = 'D',
	PGOUTPUT_TRUNCATE = 'T',
	PGOUTPUT_MESSAGE = 'M', /* pg_logical_emit_message(); the apply side skips it */
};

/* "Insert", "Stream Start", ...; "unknown" for bytes that name no message. */
const char *pgoutput_msg_type_name(unsigned char type);

/* relreplident of pg_class. */
enum pgoutput_replident {
	PGOUTPUT_REPLIDENT_DEFAULT = 'd', /* primary key */
	PGOUTPUT_REPLIDENT_NOTHING = 'n',
	PGOUTPUT_REPLIDENT_FULL = 'f',    /* every column; old tuples come whole */
	PGOUTPUT_REPLIDENT_INDEX = 'i',   /* a chosen unique index */
};

struct pgoutput_column {
	char *name;
	uint32_t type_oid;
	int32_t typmod; /* -1: none */
	bool key;       /* part of the replica identity (all columns under FULL) */
};

/* A Relation message, as cached by the decoder. */
struct pgoutput_relation {
	uint32_t oid;
	char *nspname; /* "pg_catalog" where the wire has "" */
	char *relname;
	enum pgoutput_replident replident;
	uint16_t ncols; /* published columns only: no dropped or generated ones */
	struct pgoutput_column *cols;
	unsigned generation; /* 1 for the first Relation message for oid, +1 for each next */
};

/* One column of a tuple. */
enum pgoutput_value_kind {
	PGOUTPUT_NULL = 'n',      /* SQL NULL; in a key ('K') tuple also "not a key column" */
	PGOUTPUT_UNCHANGED = 'u', /* TOASTed value an Update left as is: not sent; the
				   * apply side must keep the stored value, not write one */
	PGOUTPUT_TEXT = 't',      /* text output form in data/len */
	PGOUTPUT_BINARY = 'b',    /* binary send form; only with the 'binary' option */
};

struct pgoutput_value {
	enum pgoutput_value_kind kind;
	uint32_t len;     /* TEXT, BINARY: bytes at data */
	const char *data; /* TEXT, BINARY: into the input buffer, not NUL-terminated;
			   * otherwise NULL */
};

struct pgoutput_tuple {
	uint16_t ncols; /* == rel->ncols; 0: tuple absent */
	const struct pgoutput_value *values;
};

/* Which old tuple an Update or Delete carries. */
enum pgoutput_old_kind {
	PGOUTPUT_OLD_NONE = 0,   /* Update that changed no replica identity column */
	PGOUTPUT_OLD_KEY = 'K',  /* replica identity columns; the others are NULL */
	PGOUTPUT_OLD_FULL = 'O', /* REPLICA IDENTITY FULL: the whole old row */
};

#define PGOUTPUT_TRUNCATE_CASCADE 1
#define PGOUTPUT_TRUNCATE_RESTART_IDENTITY 2

/* A decoded message: type selects the member of the union. */
struct pgoutput_msg {
	enum pgoutput_msg_type type;
	union {
		struct {
			uint64_t final_lsn; /* LSN of the commit record */
			int64_t commit_time;
			uint32_t xid;
		} begin;
		struct {
			uint8_t flags; /* unused, 0 */
			uint64_t commit_lsn;
			uint64_t end_lsn; /* end of the commit record: confirm this one */
			int64_t commit_time;
		} commit;
		struct {
			uint64_t commit_lsn; /* of the transaction on the origin server */
			const char *name;
		} origin;
		struct {
			const struct pgoutput_relation *rel; /* the new cache entry */
			bool changed; /* first one for the OID, or names, identity or columns
				       * differ from the entry it replaced (pgoutput also
				       * re-sends unchanged relations, e.g. after TRUNCATE) */
		} relation;
		struct {
			uint32_t oid;
			const char *nspname; /* "pg_catalog" where the wire has "" */
			const char *name;
		} pgtype;
		/* Insert: new_tuple.  Update: new_tuple, and old_tuple if old_kind is
		 * not PGOUTPUT_OLD_NONE.  Delete: old_tuple (old_kind K or O). */
		struct {
			const struct pgoutput_relation *rel;
			enum pgoutput_old_kind old_kind;
			struct pgoutput_tuple old_tuple;
			struct pgoutput_tuple new_tuple;
		} change;
		struct {
			uint8_t options; /* PGOUTPUT_TRUNCATE_* bits */
			uint32_t nrels;
			const struct pgoutput_relation *const *rels; /* includes CASCADE's */
		} truncate;
		struct {
			bool transactional; /* false: sent at once, outside Begin/Commit */
			uint64_t lsn;       /* end of the message's WAL record */
			const char *prefix;
			uint32_t len;
			const char *content; /* into the input buffer */
		} message;
	};
};

/* Decoder state: the relation cache and scratch space.  Embedded object. */
struct pgoutput_decoder {
	struct pgoutput_relation **rels; /* open addressing by OID, NULL: free */
	size_t rels_cap;                 /* 0 or a power of two */
	size_t rels_n;
	struct pgoutput_value *values; /* room for the old and the new tuple */
	size_t values_cap;
	const struct pgoutput_relation **trunc_rels;
	size_t trunc_cap;
};

void pgoutput_decoder_init(struct pgoutput_decoder *dec);
void pgoutput_decoder_fini(struct pgoutput_decoder *dec);

/* Decodes one pgoutput message (the data of an XLogData) into *out.
 * Relation messages update the cache; Insert, Update, Delete and Truncate
 * for an OID without a cached Relation are errors.  On failure the cache is
 * unchanged and *out is unspecified. */
MUST_CHECK bool pgoutput_decode(struct pgoutput_decoder *dec, const char *buf, size_t len,
				struct pgoutput_msg *out);

/* The cached relation with that OID, or NULL. */
const struct pgoutput_relation *pgoutput_relation_find(const struct pgoutput_decoder *dec,
						       uint32_t oid);

#endif
