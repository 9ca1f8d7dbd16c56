/*
 * tests/fuzz/fuzz_apply_event.c: apply's reader of Kafka records
 * (apply_event_parse) and its conversion of every field to PostgreSQL text
 * input (apply_event_value) for every column type, and apply_event_sql_type.
 *
 * Input:
 *   3 bytes   a column of any type the table below knows, with any length
 *             and scale: byte 0 picks the type (bit 7 flips "array"),
 *             byte 1 the length, byte 2 the scale (see variant_column)
 *   records   separated by 0x1e (RS); each record's parts separated by 0x1f
 *             (US), in this order: value, key, cdc.unchanged header,
 *             cdc.columns header.  An empty or absent value is a tombstone
 *             (NULL), an empty or absent key no key, an absent header no
 *             header (an empty one is an empty header).
 * The records go through one struct apply_event, as apply reads a
 * partition: its caches of schema blocks and cdc.columns headers carry over
 * from record to record.  Every field of a parsed record is converted for
 * every type of the table and for the input's own column; the text must be
 * a C string (libpq sends it as one) and the same when read twice.
 */
#include "fuzz.h"

#include "apply/apply_event.h"
#include "base/util.h"
#include "pg/column_type.h"

#include <stdlib.h>
#include <string.h>

#define MAX_RECORDS 16

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

#define COL(sql, base, array, len, sc) \
	{ .name = "c", .type_sql = sql, .base_type = base, .is_array = array, \
	  .length = len, .scale = sc, .optional = true }

/* What table_schema.c makes of the catalog: base_type is the typname of the
 * (element) type, length and scale decoded from the type modifier. */
/* A record's type as auto_create and auto_evolve read it: parsed, it must
 * hold only a name of safe characters, integer modifiers and dimensions. */
static void check_column_type(const char *text)
{
	struct column_type t;
	struct strbuf why;

	strbuf_init(&why);
	if (column_type_parse(text, &t, &why)) {
		bool quoted = false, safe = true;

		/* Outside double quotes: words, digits, '_', '$', '.', spaces. */
		for (const char *p = t.base; *p; p++) {
			if (*p == '"')
				quoted = !quoted;
			else if (!quoted && strchr("();,'-/*[]\n\r\t\\", *p))
				safe = false;
		}
		FUZZ_CHECK(t.base[0] != '\0' && t.nmods <= COLUMN_TYPE_MAX_MODS &&
				   t.array_dims <= 6 && safe && !quoted,
			   "type '%s' parsed to base '%s'", text, t.base);
	} else {
		FUZZ_CHECK(why.len > 0, "type '%s' refused without a reason", text);
	}
	column_type_fini(&t);
	strbuf_fini(&why);
}

static struct column_schema columns[] = {
	COL("smallint", "int2", false, -1, -1),
	COL("integer", "int4", false, -1, -1),
	COL("bigint", "int8", false, -1, -1),
	COL("numeric", "numeric", false, -1, -1),
	COL("numeric(10,2)", "numeric", false, 10, 2),
	COL("numeric(5,0)", "numeric", false, 5, 0),
	COL("numeric(1000,1000)", "numeric", false, 1000, 1000),
	COL("numeric(5,-2)", "numeric", false, 5, 2046), /* a negative scale, as typmod_decode reads it */
	COL("money", "money", false, -1, -1),
	COL("text", "text", false, -1, -1),
	COL("character varying(20)", "varchar", false, 20, -1),
	COL("character varying", "varchar", false, -1, -1),
	COL("character(3)", "bpchar", false, 3, -1),
	COL("boolean", "bool", false, -1, -1),
	COL("date", "date", false, -1, -1),
	COL("time without time zone", "time", false, -1, -1),
	COL("time(0) without time zone", "time", false, 0, -1),
	COL("time(3) without time zone", "time", false, 3, -1),
	COL("time(6) without time zone", "time", false, 6, -1),
	COL("time with time zone", "timetz", false, -1, -1),
	COL("timestamp without time zone", "timestamp", false, -1, -1),
	COL("timestamp(3) without time zone", "timestamp", false, 3, -1),
	COL("timestamp(6) without time zone", "timestamp", false, 6, -1),
	COL("timestamp with time zone", "timestamptz", false, -1, -1),
	COL("interval", "interval", false, -1, -1),
	COL("bytea", "bytea", false, -1, -1),
	COL("uuid", "uuid", false, -1, -1),
	COL("json", "json", false, -1, -1),
	COL("jsonb", "jsonb", false, -1, -1),
	COL("real", "float4", false, -1, -1),
	COL("double precision", "float8", false, -1, -1),
	COL("bit(8)", "bit", false, 8, -1),
	COL("bit varying", "varbit", false, -1, -1),
	COL("box", "box", false, -1, -1),
	COL("point", "point", false, -1, -1),
	COL("inet", "inet", false, -1, -1),
	COL("cidr", "cidr", false, -1, -1),
	COL("macaddr", "macaddr", false, -1, -1),
	COL("xml", "xml", false, -1, -1),
	COL("tsvector", "tsvector", false, -1, -1),
	COL("oid", "oid", false, -1, -1),
	COL("mood", "mood", false, -1, -1), /* an enum */
	COL("integer[]", "int4", true, -1, -1),
	COL("bigint[]", "int8", true, -1, -1),
	COL("text[]", "text", true, -1, -1),
	COL("character varying(20)[]", "varchar", true, 20, -1),
	COL("numeric[]", "numeric", true, -1, -1),
	COL("numeric(10,2)[]", "numeric", true, 10, 2),
	COL("boolean[]", "bool", true, -1, -1),
	COL("date[]", "date", true, -1, -1),
	COL("time(3) without time zone[]", "time", true, 3, -1),
	COL("timestamp without time zone[]", "timestamp", true, -1, -1),
	COL("timestamp(3) without time zone[]", "timestamp", true, 3, -1),
	COL("timestamp with time zone[]", "timestamptz", true, -1, -1),
	COL("interval[]", "interval", true, -1, -1),
	COL("bytea[]", "bytea", true, -1, -1),
	COL("uuid[]", "uuid", true, -1, -1),
	COL("jsonb[]", "jsonb", true, -1, -1),
	COL("double precision[]", "float8", true, -1, -1),
};

/* -1..126 in steps of 1, then 0..2032 in steps of 16: every small value and
 * some past PostgreSQL's limits. */
static int modifier(uint8_t b)
{
	return b < 128 ? (int)b - 1 : (b - 128) * 16;
}

static struct column_schema variant_column(const uint8_t hdr[3])
{
	struct column_schema col = columns[(hdr[0] & 0x7f) % ARRAY_LEN(columns)];

	if (hdr[0] & 0x80)
		col.is_array = !col.is_array;
	col.length = modifier(hdr[1]);
	col.scale = modifier(hdr[2]);
	col.type_sql = "variant";
	return col;
}

static bool convert(const struct event_field *f, const struct column_schema *col,
		    struct strbuf *out, struct strbuf *why, enum apply_value *kind)
{
	why->len = 0;
	why->data[0] = '\0';
	if (!apply_event_value(f, col, out, kind, why)) {
		FUZZ_CHECK(why->len > 0, "column %s (%s): conversion failed without saying why",
			   f->name, col->type_sql);
		return false;
	}
	FUZZ_CHECK(*kind != APPLY_VALUE_TEXT || strlen(out->data) == out->len,
		   "column %s (%s): the text holds a NUL byte", f->name, col->type_sql);
	return true;
}

static void check_fields(const struct apply_event *ev, const struct column_schema *variant)
{
	struct strbuf out, again, why;
	enum apply_value kind, kind2;

	strbuf_init(&out);
	strbuf_init(&again);
	strbuf_init(&why);
	for (size_t i = 0; i < ev->nfields; i++) {
		const struct event_field *f = &ev->fields[i];
		char *sql = apply_event_sql_type(f);

		FUZZ_CHECK(apply_event_field(ev, f->name, i) == f &&
			   apply_event_field(ev, f->name, i + 1) == f,
			   "field %s is not found as itself (a duplicate name?)", f->name);
		if (sql)
			check_column_type(sql);
		free(sql);
		for (size_t c = 0; c < ARRAY_LEN(columns); c++)
			(void)convert(f, &columns[c], &out, &why, &kind);
		/* A value may be read more than once (apply retries a batch row
		 * by row): the second reading must give the same text. */
		if (convert(f, variant, &out, &why, &kind)) {
			FUZZ_CHECK(convert(f, variant, &again, &why, &kind2),
				   "column %s (%s): read twice, failed the second time", f->name,
				   variant->base_type);
			FUZZ_CHECK(kind == kind2 && out.len == again.len &&
				   memcmp(out.data, again.data, out.len) == 0,
				   "column %s (%s): read twice, '%s' then '%s'", f->name,
				   variant->base_type, out.data, again.data);
		}
	}
	strbuf_fini(&out);
	strbuf_fini(&again);
	strbuf_fini(&why);
}

/* The part of [p, end) before the next sep, or all of it; *next after it,
 * or NULL when there was no sep. */
static const uint8_t *split(const uint8_t *p, const uint8_t *end, uint8_t sep, size_t *len,
			    const uint8_t **next)
{
	const uint8_t *s = memchr(p, sep, (size_t)(end - p));

	*len = (size_t)((s ? s : end) - p);
	*next = s ? s + 1 : NULL;
	return p;
}

/* Exactly n bytes in their own allocation (ASan sees an overread), or NULL
 * for absent; *owned to free. */
static const char *part_copy(const uint8_t *p, size_t n, bool present, char **owned)
{
	*owned = NULL;
	if (!present)
		return NULL;
	*owned = malloc(n ? n : 1);
	if (!*owned)
		abort();
	memcpy(*owned, p, n);
	return *owned;
}

static void one_record(struct apply_event *ev, const uint8_t *p, const uint8_t *end,
		       const struct column_schema *variant)
{
	const uint8_t *part[4] = { NULL }, *next = p;
	size_t len[4] = { 0 };
	bool present[4] = { false };
	char *owned[4];
	const char *copy[4];
	struct strbuf why;

	for (int i = 0; i < 4 && next; i++) {
		part[i] = split(next, end, 0x1f, &len[i], &next);
		present[i] = true;
	}
	present[0] = present[0] && len[0] > 0; /* Kafka: an empty payload is NULL */
	present[1] = present[1] && len[1] > 0;
	for (int i = 0; i < 4; i++)
		copy[i] = part_copy(part[i], len[i], present[i], &owned[i]);
	strbuf_init(&why);
	if (apply_event_parse(copy[1], len[1], copy[0], len[0], copy[2], len[2], copy[3], len[3],
			      ev, &why)) {
		FUZZ_CHECK(ev->op == 0 || strchr("curdt", ev->op), "op %c", ev->op);
		FUZZ_CHECK(ev->op == 0 || (ev->schema && ev->table), "a change without its table");
		check_fields(ev, variant);
	} else {
		FUZZ_CHECK(why.len > 0, "a record refused without saying why");
	}
	strbuf_fini(&why);
	for (int i = 0; i < 4; i++)
		free(owned[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apply_event ev;
	struct column_schema variant;
	const uint8_t *p, *end = data + size, *next;
	size_t len;

	if (size < 3)
		return -1;
	variant = variant_column(data);
	apply_event_init(&ev);
	p = data + 3;
	for (int n = 0; n < MAX_RECORDS && p; n++) {
		const uint8_t *rec = split(p, end, 0x1e, &len, &next);

		one_record(&ev, rec, rec + len, &variant);
		p = next;
	}
	apply_event_fini(&ev);
	return 0;
}
