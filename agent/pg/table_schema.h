/*
 * agent/pg/table_schema.h: a captured table's columns as the catalog describes
 * them: exact types (name, length, scale), nullability and the key that
 * identifies a row on Kafka (the replica identity index, else the primary
 * key; none for a table without either).  Capture reads it once per table and again when pgoutput sends a
 * changed Relation message.
 *
 * User types travel with their definition (struct column_schema's udt:
 * enums with their labels, domains with base and constraints, ranges,
 * multiranges, extension types), and generated columns, which pgoutput does
 * not send, with their expression (docs/DEBEZIUM_FORMAT.md, "cdc-agent's
 * extensions"): apply makes the target's from them (agent/apply/apply_types.c).
 */
#ifndef CDC_TABLE_SCHEMA_H
#define CDC_TABLE_SCHEMA_H

#include "base/common.h"

#include <libpq-fe.h>
#include <stdint.h>

struct column_schema {
	char *name;
	uint32_t type_oid;
	char *type_sql;   /* format_type(): "numeric(10,2)", "character varying(40)", "integer[]" */
	char *base_type;  /* typname of the (element, domain base) type: "numeric", "varchar", "int4" */
	bool is_array;
	int length;       /* varchar/char/bit n, numeric precision, time precision; -1: none */
	int scale;        /* numeric scale; -1: none */
	bool optional;    /* nullable */
	int key_position; /* 1-based position in the key; 0: not a key column */
	int attnum;       /* the source's attribute number (a rename keeps it); 0: unknown */
	char *default_expr; /* pg_get_expr of its default, or NULL */
	char *missing;    /* the value rows older than the column have (attmissingval,
			   * as text), or NULL: they were rewritten, or it has none */
	char *udt;        /* JSON of a user type's definition (enum, domain, range,
			   * multirange, extension type; of the element of an
			   * array), or NULL: built in, or a type the target must have */
	char **labels;    /* enum columns (and arrays, domains of one): its labels */
	size_t nlabels;
	char *generated;  /* generated columns: the expression (pg_get_expr) */
};

struct table_schema {
	uint32_t oid;
	char *schema;
	char *table;
	char relkind;                 /* pg_class.relkind: 'r' table, 'p' partitioned */
	size_t ncols;                 /* columns a publication sends: not dropped, not generated */
	struct column_schema *cols;   /* in attnum order */
	size_t nkey;
	size_t *key_cols;             /* indexes into cols, in key order */
	uint64_t version;             /* capture: the LSN at which it loaded this
				       * description (cdc.columns "version") */
	size_t nenum_cols;            /* columns with labels (enum values to check) */
	size_t ngenerated;            /* generated columns (STORED): never sent, */
	struct column_schema *generated_cols; /* in attnum order; only their schema */
};

/* Loads the schema of the table with that OID (or, when oid is 0, named
 * schema.table).  *out is new; caller frees with table_schema_free(). */
MUST_CHECK bool table_schema_load(PGconn *conn, const char *label, uint32_t oid, const char *schema,
				  const char *table, struct table_schema **out);
/* The schema of a relation as a pgoutput Relation message describes it
 * (column names, order, types and modifiers: authoritative for the stream,
 * whatever DDL ran since), completed from the catalog with type names,
 * nullability and the key.  Caller frees. */
struct pgoutput_relation;
MUST_CHECK bool table_schema_from_relation(PGconn *conn, const char *label,
					   const struct pgoutput_relation *rel,
					   struct table_schema **out);
void table_schema_free(struct table_schema *ts);

/* Loads again the definitions of the columns' user types (enum labels
 * added since), in place. */
MUST_CHECK bool table_schema_types_reload(PGconn *conn, const char *label, struct table_schema *ts);

struct pgoutput_value;
/* Whether every enum value of row (the table's columns, text forms) is one
 * of the labels ts knows: false when one is not (a label added since). */
bool table_schema_labels_known(const struct table_schema *ts, const struct pgoutput_value *row);

/* Index of the generated column named name, or -1. */
int table_schema_generated(const struct table_schema *ts, const char *name);

/* Index of the column named name, or -1. */
int table_schema_column(const struct table_schema *ts, const char *name);

#endif
