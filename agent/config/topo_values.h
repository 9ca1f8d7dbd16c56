/*
 * agent/config/topo_values.h: the value types of topology keys and their parsers.
 *
 * Each parser checks one value and stores it in its field; on error it fills
 * err with a message (without FILE:LINE, which the caller adds) and leaves the
 * field untouched.
 */
#ifndef CDC_TOPO_VALUES_H
#define CDC_TOPO_VALUES_H

#include "base/common.h"
#include "base/util.h"

#include <stdint.h>

enum value_type {
	V_STRING,      /* char *: any non-empty text */
	V_INT,         /* int within [min, max] */
	V_PORT,        /* int 1..65535 */
	V_BOOL,        /* bool: true/false, yes/no, on/off, 1/0 */
	V_ENUM,        /* an enum (stored as int): its value, by its name in enum_values */
	V_HOST,        /* char *: host name, IP address or absolute socket directory */
	V_ADDRESS,     /* char *: a host's name or IP address (no socket directory, no port) */
	V_PG_NAME,     /* char *: unquoted PostgreSQL identifier (publication, role) */
	V_SLOT,        /* char *: replication slot name */
	V_TABLES,      /* struct table_specs: names and patterns, comma-separated */
	V_ABS_PATH,    /* char *: absolute normalized path, safe characters (safe_path_valid) */
	V_HEAP,        /* char *: JVM heap size: digits and an optional k/m/g (heap_size_valid) */
	V_SECRET_FILE, /* char *: absolute path of a file only its owner can read */
	V_SECRET_FILE_NEW, /* char *: as V_SECRET_FILE, or missing: a password bootstrap
			      generates (kafka_access.c) */
	V_CERT_FILE,   /* char *: absolute path of a readable regular file (a PEM certificate) */
	V_KEY_FILE,    /* char *: as V_SECRET_FILE, for a private key (libpq refuses others) */
	V_URL,         /* char *: http://, https:// or file:// URL */
	V_SHA512,      /* char *: 128 hex digits, stored lower case */
	V_HOSTPORTS,   /* struct strlist: host:port, comma-separated */
	V_CIDRS,       /* struct strlist: address/prefix, comma-separated */
	V_TOPIC_PART,  /* char *: characters Kafka allows in topic names */
	V_UNIT,        /* char *: systemd service name (".service" appended if missing) */
	V_LISTEN,      /* char *: loopback IP:port to listen on, or "off" (stored as NULL) */
	V_SIZE,        /* int64_t bytes: a number with PostgreSQL's unit (B, kB, MB, GB, TB);
			  min -1 also takes "-1" (unset) */
};

struct key_spec {
	const char *name;
	enum value_type type;
	size_t offset;                   /* of the field in the section's struct */
	bool required;
	const char *default_value;       /* parsed like a written value; NULL: none */
	const char *const *enum_values;  /* V_ENUM: the enum's name table, by value */
	size_t n_enum_values;            /* V_ENUM: its length (the enum's _COUNT) */
	int min, max;                    /* V_INT; V_SIZE: min, and max (bytes) if > 0 */
	/* What the key does, for cdc-agent.ini(5) (topo_doc.c): sentences,
	 * `key` set in bold; type, default and range come from the fields
	 * above, so the text does not repeat them. */
	const char *description;
};

MUST_CHECK bool value_parse(const struct key_spec *spec, const char *text, void *field,
			    struct strbuf *err);
/* After value_parse failed on a value of several lines (continuation
 * lines joined with '\n'): how many line breaks precede the line at
 * fault (0 for one-line values); reading it resets it. */
int value_error_newlines(void);
/* Frees what value_parse stored in field (no-op for scalars). */
void value_free(const struct key_spec *spec, void *field);
/* Appends the value held in field as one line of text, the same for equal
 * values ("(unset)" for a NULL string): what the pipeline digests hash. */
void value_text(const struct key_spec *spec, const void *field, struct strbuf *out);

/* A size as PostgreSQL writes it: digits, then B, kB, MB, GB or TB (powers
 * of 1024, case as PostgreSQL spells them); digits alone are bare_unit bytes
 * each, or an error when bare_unit is 0.  Negative sizes are refused. */
MUST_CHECK bool size_parse(const char *s, int64_t bare_unit, int64_t *bytes, struct strbuf *err);

/* Longest path safe_path_valid takes. */
#define SAFE_PATH_MAX 1024

/*
 * A path that may go into a systemd unit, a Java command line or a
 * properties file as it is: absolute, only A-Z a-z 0-9 . _ + - and /
 * (no space, quote, '%', '$', backslash, control or non-ASCII byte), normalized
 * (no '//', '.' or '..' component, no trailing '/') and not "/" itself.
 */
bool safe_path_valid(const char *s, struct strbuf *err);
/* A JVM heap size for -Xms/-Xmx: [0-9]+[kKmMgG]?, not zero, nothing else. */
bool heap_size_valid(const char *s, struct strbuf *err);

struct table_ref;
struct table_spec;

/* PostgreSQL's longest identifier: NAMEDATALEN - 1 bytes. */
#define PG_NAME_MAX 63

/* An identifier as `tables` reads it back: as it is when it is a plain
 * lower-case identifier ([a-z_][a-z0-9_]*), else in double quotes ('"'
 * doubled), as quote_ident() does (keywords aside).  Caller frees. */
char *pg_ident_text(const char *ident);
/* schema.table, each with pg_ident_text: the one spelling of a table in
 * logs, status, metrics and capture's state files ("public.t" stays as it
 * always was; "Sales.EU"."Order Lines" is unambiguous).  Caller frees. */
char *table_name_text(const char *schema, const char *table);
char *table_ref_text(const struct table_ref *t);
/* One table name as `tables` spells it, without pattern or '!' (e.g.
 * `cdc-agent snapshot`'s argument); a name without schema is public's. */
MUST_CHECK bool table_name_parse(const char *s, struct table_ref *out, struct strbuf *err);
/* Whether the catalog's schema.table is what spec names or matches. */
bool table_spec_matches(const struct table_spec *spec, const char *schema, const char *table);
/* '*': any run of bytes, '?': any one character; nothing else is special. */
bool glob_match(const char *pattern, const char *s);

bool host_valid(const char *s, struct strbuf *err);

#endif
