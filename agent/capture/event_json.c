/*
 * agent/capture/event_json.c: Debezium-compatible change events as JSON.
 *
 * The type mapping is Debezium's default for PostgreSQL (time.precision.mode
 * adaptive, binary.handling.mode bytes, decimal.handling.mode precise with the
 * schema block; "string" without it, see topology.c decimal_default), with
 * one difference: an unconstrained numeric keeps its trailing zeros
 * ({"scale":3,"value":...} for 12.340) where Debezium strips them, so that
 * the value lands digit for digit, through apply or Debezium's JDBC sink.
 */
#include "capture/event_json.h"

#include "base/json_out.h"
#include "pg/pg_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEBEZIUM_VERSION "2.7.4.Final"
#define CONNECTOR "postgresql"

/* How a column's text form becomes its JSON value. */
enum value_form {
	FORM_NUMBER,      /* the text is a JSON number (NaN/Infinity become strings) */
	FORM_BOOL,
	FORM_STRING,
	FORM_BYTES,       /* bytea hex -> base64 */
	FORM_DATE,        /* days since epoch */
	FORM_TIME_MS,
	FORM_TIME_US,
	FORM_TS_MS,
	FORM_TS_US,
	FORM_TSTZ,        /* ISO-8601 UTC string */
	FORM_TIMETZ,
	FORM_INTERVAL,    /* microseconds */
	FORM_DECIMAL,     /* by decimal_mode */
	FORM_BIT_ONE,     /* bit(1): a boolean */
	FORM_BITS,        /* bit(n>1): io.debezium.data.Bits, little-endian bytes */
};

struct type_map {
	const char *pg;        /* typname */
	const char *connect;   /* Connect schema type */
	const char *name;      /* semantic type name, or NULL */
	enum value_form form;
};

static const struct type_map type_maps[] = {
	{ "int2", "int16", NULL, FORM_NUMBER },
	{ "int4", "int32", NULL, FORM_NUMBER },
	{ "int8", "int64", NULL, FORM_NUMBER },
	{ "oid", "int64", NULL, FORM_NUMBER },
	{ "float4", "float", NULL, FORM_NUMBER },
	{ "float8", "double", NULL, FORM_NUMBER },
	{ "bool", "boolean", NULL, FORM_BOOL },
	{ "json", "string", "io.debezium.data.Json", FORM_STRING },
	{ "jsonb", "string", "io.debezium.data.Json", FORM_STRING },
	{ "xml", "string", "io.debezium.data.Xml", FORM_STRING },
	{ "uuid", "string", "io.debezium.data.Uuid", FORM_STRING },
	{ "bytea", "bytes", NULL, FORM_BYTES },
	{ "date", "int32", "io.debezium.time.Date", FORM_DATE },
	{ "timestamptz", "string", "io.debezium.time.ZonedTimestamp", FORM_TSTZ },
	{ "timetz", "string", "io.debezium.time.ZonedTime", FORM_TIMETZ },
	{ "interval", "int64", "io.debezium.time.MicroDuration", FORM_INTERVAL },
	{ "numeric", "string", NULL, FORM_DECIMAL },
};

static const struct type_map text_map = { "", "string", NULL, FORM_STRING };
static const struct type_map time_ms = { "time", "int32", "io.debezium.time.Time", FORM_TIME_MS };
static const struct type_map time_us = { "time", "int64", "io.debezium.time.MicroTime",
					  FORM_TIME_US };
static const struct type_map ts_ms = { "timestamp", "int64", "io.debezium.time.Timestamp",
				       FORM_TS_MS };
static const struct type_map ts_us = { "timestamp", "int64", "io.debezium.time.MicroTimestamp",
				       FORM_TS_US };

/* bit(n) as Debezium writes it: a boolean for bit(1), else Bits (the JDBC
 * sink binds a BIT column only in these forms).  varbit stays a string:
 * Bits bytes cannot tell '0101' from '101'. */
static const struct type_map bit_one = { "bit", "boolean", NULL, FORM_BIT_ONE };
static const struct type_map bits_map = { "bit", "bytes", "io.debezium.data.Bits", FORM_BITS };

/* time(p) and timestamp(p) follow time.precision.mode=adaptive. */
static const struct type_map *type_map_for(const struct column_schema *col)
{
	bool millis = col->length >= 0 && col->length <= 3;

	if (strcmp(col->base_type, "bit") == 0 && col->length >= 1)
		return col->length == 1 ? &bit_one : &bits_map;
	if (strcmp(col->base_type, "time") == 0)
		return millis ? &time_ms : &time_us;
	if (strcmp(col->base_type, "timestamp") == 0)
		return millis ? &ts_ms : &ts_us;
	for (size_t i = 0; i < ARRAY_LEN(type_maps); i++)
		if (strcmp(type_maps[i].pg, col->base_type) == 0)
			return &type_maps[i];
	return &text_map;
}

/* ---- schema blocks -------------------------------------------------------- */

/* The source column's type, as Debezium's column.propagate.source.type
 * writes it ("VARCHAR", "_INT4" for int4[]), with length and scale: the
 * members, to go in the field's one "parameters" object. */
static void add_source_type_entries(struct strbuf *sb, const struct column_schema *col)
{
	strbuf_adds(sb, "\"" EVENT_PARAM_COLUMN_TYPE "\":\"");
	if (col->is_array)
		strbuf_adds(sb, "_");
	for (const char *p = col->base_type; *p; p++) {
		char up = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);

		if (up == '"' || up == '\\')
			strbuf_add(sb, "\\", 1);
		strbuf_add(sb, &up, 1);
	}
	strbuf_adds(sb, "\"");
	if (col->length >= 0)
		strbuf_addf(sb, ",\"" EVENT_PARAM_COLUMN_LENGTH "\":\"%d\"", col->length);
	if (col->scale >= 0)
		strbuf_addf(sb, ",\"" EVENT_PARAM_COLUMN_SCALE "\":\"%d\"", col->scale);
}

/* An enum's labels joined by ',' as one JSON string, as Debezium's
 * "allowed" parameter has them. */
static void add_enum_allowed(struct strbuf *sb, const struct column_schema *col)
{
	struct strbuf joined;

	strbuf_init(&joined);
	for (size_t i = 0; i < col->nlabels; i++) {
		if (i)
			strbuf_adds(&joined, ",");
		strbuf_adds(&joined, col->labels[i]);
	}
	json_out_string(sb, joined.data, joined.len);
	strbuf_fini(&joined);
}

/* The Connect schema of one scalar of col's type (an array's element too),
 * its object left open.  A Decimal's own parameters (scale, precision) and,
 * for a field's own schema (field_own), the source type go in one
 * "parameters" object: a second member of that name would hide the first
 * from every JSON reader (jansson and Jackson keep the last).  Returns
 * whether the source type was written. */
static bool add_scalar_schema(struct strbuf *sb, const struct event_options *fmt,
			      const struct column_schema *col, bool optional, bool field_own)
{
	const struct type_map *map = type_map_for(col);

	if (map->form == FORM_DECIMAL && fmt->decimal_mode == DECIMAL_PRECISE) {
		if (col->scale < 0) {
			strbuf_addf(sb,
				    "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"scale\"},"
				    "{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}],"
				    "\"optional\":%s,\"name\":\"io.debezium.data.VariableScaleDecimal\",\"version\":1,"
				    "\"doc\":\"Variable scaled decimal\"",
				    optional ? "true" : "false");
		} else {
			strbuf_addf(sb,
				    "{\"type\":\"bytes\",\"optional\":%s,\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,"
				    "\"parameters\":{\"scale\":\"%d\",\"connect.decimal.precision\":\"%d\"",
				    optional ? "true" : "false", col->scale, col->length);
			if (field_own) {
				strbuf_adds(sb, ",");
				add_source_type_entries(sb, col);
			}
			strbuf_adds(sb, "}");
			return field_own;
		}
		return false;
	}
	if (map->form == FORM_BITS) {
		strbuf_addf(sb,
			    "{\"type\":\"bytes\",\"optional\":%s,\"name\":\"io.debezium.data.Bits\",\"version\":1,"
			    "\"parameters\":{\"length\":\"%d\"",
			    optional ? "true" : "false", col->length);
		if (field_own) {
			strbuf_adds(sb, ",");
			add_source_type_entries(sb, col);
		}
		strbuf_adds(sb, "}");
		return field_own;
	}
	if (col->labels) { /* an enum: Debezium's Enum, its labels "allowed" */
		strbuf_addf(sb, "{\"type\":\"string\",\"optional\":%s,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
			    "\"parameters\":{\"allowed\":",
			    optional ? "true" : "false");
		add_enum_allowed(sb, col);
		if (field_own) {
			strbuf_adds(sb, ",");
			add_source_type_entries(sb, col);
		}
		strbuf_adds(sb, "}");
		return field_own;
	}
	if (map->form == FORM_INTERVAL && fmt->interval_string) {
		strbuf_addf(sb, "{\"type\":\"string\",\"optional\":%s,\"name\":\"io.debezium.time.Interval\",\"version\":1",
			    optional ? "true" : "false");
		return false;
	}
	strbuf_addf(sb, "{\"type\":\"%s\",\"optional\":%s",
		    map->form == FORM_DECIMAL && fmt->decimal_mode == DECIMAL_DOUBLE ? "double"
										 : map->connect,
		    optional ? "true" : "false");
	if (map->name)
		strbuf_addf(sb, ",\"name\":\"%s\",\"version\":1", map->name);
	return false;
}

static void add_field_schema(struct strbuf *sb, const struct event_options *fmt,
			     const struct column_schema *col)
{
	bool source_type_written = false;

	if (col->is_array) {
		strbuf_adds(sb, "{\"type\":\"array\",\"items\":");
		(void)add_scalar_schema(sb, fmt, col, true, false);
		strbuf_addf(sb, "},\"optional\":%s", col->optional ? "true" : "false");
	} else {
		source_type_written = add_scalar_schema(sb, fmt, col, col->optional, true);
	}
	if (!source_type_written) {
		strbuf_adds(sb, ",\"parameters\":{");
		add_source_type_entries(sb, col);
		strbuf_adds(sb, "}");
	}
	strbuf_adds(sb, ",\"field\":");
	json_out_cstring(sb, col->name);
	strbuf_adds(sb, "}");
}

/* A Struct schema of the given columns (all, or the key's). */
static char *struct_schema(const struct event_options *fmt, const struct event_table *et,
			   const char *suffix, bool key_only, bool optional, const char *field)
{
	const struct table_schema *ts = et->ts;
	size_t n = key_only ? ts->nkey : ts->ncols;
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_adds(&sb, "{\"type\":\"struct\",\"fields\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_adds(&sb, ",");
		add_field_schema(&sb, fmt, &ts->cols[key_only ? ts->key_cols[i] : i]);
	}
	strbuf_addf(&sb, "],\"optional\":%s,\"name\":", optional ? "true" : "false");
	{
		char *name = xasprintf("%s.%s", et->topic, suffix);

		json_out_cstring(&sb, name);
		free(name);
	}
	if (field) {
		strbuf_adds(&sb, ",\"field\":");
		json_out_cstring(&sb, field);
	}
	strbuf_adds(&sb, "}");
	return strbuf_detach(&sb);
}

static const char source_schema[] =
	"{\"type\":\"struct\",\"fields\":["
	"{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"
	"{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
	"{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
	"\"parameters\":{\"allowed\":\"true,last,false,incremental\"},\"default\":\"false\",\"field\":\"snapshot\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},"
	"{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ns\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"schema\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"txId\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"xmin\"}],"
	"\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Source\",\"field\":\"source\"}";

static const char transaction_schema[] =
	"{\"type\":\"struct\",\"fields\":["
	"{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
	"{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},"
	"{\"type\":\"int64\",\"optional\":false,\"field\":\"data_collection_order\"}],"
	"\"optional\":true,\"name\":\"event.block\",\"version\":1,\"field\":\"transaction\"}";

static char *envelope_schema(const struct event_options *fmt, const struct event_table *et)
{
	char *before = struct_schema(fmt, et, "Value", false, true, "before");
	char *after = struct_schema(fmt, et, "Value", false, true, "after");
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_addf(&sb, "{\"type\":\"struct\",\"fields\":[%s,%s,%s,%s,"
			 "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
			 "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},"
			 "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"},"
			 "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ns\"}],"
			 "\"optional\":false,\"name\":",
		    before, after, source_schema, transaction_schema);
	{
		char *name = xasprintf("%s.Envelope", et->topic);

		json_out_cstring(&sb, name);
		free(name);
	}
	strbuf_adds(&sb, ",\"version\":2}");
	free(before);
	free(after);
	return strbuf_detach(&sb);
}

/* One item of the cdc.columns header: name, exact type, nullability, key
 * position, and cdc-agent's extensions: the source's attribute number, its
 * default and the value older rows have (schema evolution), the user type's
 * definition ("udt") and a generated column's expression ("generated"). */
static void add_column_item(struct strbuf *sb, const struct column_schema *col, bool *first)
{
	strbuf_adds(sb, *first ? "{\"name\":" : ",{\"name\":");
	*first = false;
	json_out_cstring(sb, col->name);
	strbuf_adds(sb, ",\"type\":");
	json_out_cstring(sb, col->type_sql);
	strbuf_addf(sb, ",\"optional\":%s", col->optional ? "true" : "false");
	if (col->key_position)
		strbuf_addf(sb, ",\"key\":%d", col->key_position);
	if (col->attnum > 0)
		strbuf_addf(sb, ",\"attnum\":%d", col->attnum);
	if (col->default_expr) {
		strbuf_adds(sb, ",\"default\":");
		json_out_cstring(sb, col->default_expr);
	}
	if (col->missing) {
		strbuf_adds(sb, ",\"missing\":");
		json_out_cstring(sb, col->missing);
	}
	if (col->generated) {
		strbuf_adds(sb, ",\"generated\":");
		json_out_cstring(sb, col->generated);
	}
	if (col->udt) {
		strbuf_adds(sb, ",\"udt\":");
		strbuf_adds(sb, col->udt); /* compact JSON from jansson */
	}
	strbuf_adds(sb, "}");
}

/* The cdc.columns header (docs/DEBEZIUM_FORMAT.md): the description's
 * version (the LSN of the first change capture sent with it: apply never
 * goes back to an older one) and one item per column. */
static char *columns_header(const struct table_schema *ts)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_addf(&sb, EVENT_COLUMNS_PREFIX "{\"version\":%" PRIu64 ",\"columns\":", ts->version);
	event_columns_json(&sb, ts);
	strbuf_adds(&sb, "}");
	return strbuf_detach(&sb);
}

/* Every column of the table in attnum order: the generated ones too, where
 * they stand (a column whose attnum is unknown keeps its place). */
void event_columns_json(struct strbuf *sb, const struct table_schema *ts)
{
	size_t g = 0;
	bool first = true;

	strbuf_adds(sb, "[");
	for (size_t i = 0; i < ts->ncols; i++) {
		const struct column_schema *col = &ts->cols[i];

		while (g < ts->ngenerated && col->attnum > 0 &&
		       ts->generated_cols[g].attnum < col->attnum)
			add_column_item(sb, &ts->generated_cols[g++], &first);
		add_column_item(sb, col, &first);
	}
	while (g < ts->ngenerated)
		add_column_item(sb, &ts->generated_cols[g++], &first);
	strbuf_adds(sb, "]");
}

/* The source block's runs that do not change from event to event (see
 * struct event_table), so that add_source escapes no name per event. */
static void source_runs_new(const struct event_options *fmt, struct event_table *et)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_adds(&sb, "{\"version\":\"" DEBEZIUM_VERSION "\",\"connector\":\"" CONNECTOR
			 "\",\"name\":");
	json_out_cstring(&sb, fmt->server_name);
	strbuf_adds(&sb, ",\"ts_ms\":");
	et->source_head = strbuf_detach(&sb);
	strbuf_init(&sb);
	strbuf_adds(&sb, "\",\"db\":");
	json_out_cstring(&sb, fmt->db);
	strbuf_adds(&sb, ",\"sequence\":");
	et->source_db = strbuf_detach(&sb);
	strbuf_init(&sb);
	strbuf_adds(&sb, ",\"schema\":");
	json_out_cstring(&sb, et->ts->schema);
	strbuf_adds(&sb, ",\"table\":");
	json_out_cstring(&sb, et->ts->table);
	strbuf_adds(&sb, ",\"txId\":");
	et->source_table = strbuf_detach(&sb);
}

struct event_table *event_table_new(const struct event_options *fmt, const struct table_schema *ts)
{
	struct event_table *et = xcalloc(1, sizeof(*et));

	et->ts = ts;
	/* Debezium's name: characters Kafka refuses become '_' (util.h) */
	et->topic = kafka_topic_name(fmt->server_name, ts->schema, ts->table);
	if (fmt->schemas) {
		if (ts->nkey > 0)
			et->key_schema = struct_schema(fmt, et, "Key", true, false, NULL);
		et->value_schema = envelope_schema(fmt, et);
	}
	et->columns_header = columns_header(ts);
	source_runs_new(fmt, et);
	et->collection = xasprintf("%s.%s", ts->schema, ts->table);
	/* What every value of a column needs, found once per table rather than
	 * once per value (a strcmp walk and an escape scan per value). */
	et->cols = xcalloc(ts->ncols ? ts->ncols : 1, sizeof(*et->cols));
	for (size_t i = 0; i < ts->ncols; i++) {
		struct strbuf key;

		strbuf_init(&key);
		json_out_key(&key, ts->cols[i].name);
		et->cols[i].key = strbuf_detach(&key);
		et->cols[i].map = type_map_for(&ts->cols[i]);
		et->has_decimal = et->has_decimal || et->cols[i].map->form == FORM_DECIMAL;
	}
	return et;
}

void event_table_free(struct event_table *et)
{
	if (!et)
		return;
	free(et->topic);
	free(et->key_schema);
	free(et->value_schema);
	free(et->columns_header);
	free(et->source_head);
	free(et->source_db);
	free(et->source_table);
	free(et->collection);
	for (size_t i = 0; i < et->ts->ncols; i++)
		free(et->cols[i].key);
	free(et->cols);
	free(et);
}

/* ---- values --------------------------------------------------------------- */

static bool is_json_number(const char *s, size_t n)
{
	/* PostgreSQL prints NaN, Infinity and -Infinity for floats */
	return n > 0 && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) &&
	       !(n >= 2 && s[1] == 'I');
}

static void add_decimal(struct strbuf *sb, const struct event_options *fmt,
			const struct column_schema *col, const char *s, size_t n)
{
	unsigned char *bytes;
	size_t len;
	int scale;

	if (fmt->decimal_mode == DECIMAL_STRING) {
		json_out_string(sb, s, n);
	} else if (fmt->decimal_mode == DECIMAL_DOUBLE) {
		if (is_json_number(s, n))
			strbuf_add(sb, s, n);
		else
			json_out_string(sb, s, n);
	} else if (!pg_text_numeric_unscaled(s, n, &scale, &bytes, &len)) {
		strbuf_adds(sb, "null"); /* NaN has no Decimal form (as in Debezium) */
	} else {
		if (col->scale < 0) {
			strbuf_addf(sb, "{\"scale\":%d,\"value\":", scale);
			json_out_base64(sb, bytes, len);
			strbuf_adds(sb, "}");
		} else {
			json_out_base64(sb, bytes, len);
		}
		free(bytes);
	}
}

/* "101" as Debezium's Bits: the last character is bit 0; the bytes are
 * little-endian and as short as the highest bit set allows (Java's
 * BitSet.toByteArray), so '000' is no bytes at all. */
static void add_bits(struct strbuf *sb, const char *s, size_t n)
{
	unsigned char *bytes = xcalloc(n / 8 + 1, 1);
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		size_t bit = n - 1 - i;

		if (s[i] != '1')
			continue;
		bytes[bit / 8] |= (unsigned char)(1u << (bit % 8));
		if (bit / 8 + 1 > len)
			len = bit / 8 + 1;
	}
	json_out_base64(sb, bytes, len);
	free(bytes);
}

/* One scalar from its text form; anything the parsers do not recognise
 * (infinity dates, BC timestamps with zones) goes out as its text. */
static void add_scalar(struct strbuf *sb, const struct event_options *fmt,
		       const struct column_schema *col, const struct type_map *map, const char *s,
		       size_t n)
{
	char iso[64];
	int32_t days;
	int64_t v;
	unsigned char *bytes;
	size_t len;

	switch (map->form) {
	case FORM_NUMBER:
		if (is_json_number(s, n))
			strbuf_add(sb, s, n);
		else
			json_out_string(sb, s, n);
		return;
	case FORM_BOOL:
		strbuf_adds(sb, n > 0 && s[0] == 't' ? "true" : "false");
		return;
	case FORM_BYTES:
		if (pg_text_bytea(s, n, &bytes, &len)) {
			json_out_base64(sb, bytes, len);
			free(bytes);
			return;
		}
		break;
	case FORM_DATE:
		if (pg_text_date(s, n, &days)) {
			json_out_int(sb, days);
			return;
		}
		break;
	case FORM_TIME_MS:
	case FORM_TIME_US:
		if (pg_text_time(s, n, &v)) {
			json_out_int(sb, map->form == FORM_TIME_MS ? v / 1000 : v);
			return;
		}
		break;
	case FORM_TS_MS:
	case FORM_TS_US:
		if (pg_text_timestamp(s, n, &v)) {
			json_out_int(sb, map->form == FORM_TS_MS ? v / 1000 : v);
			return;
		}
		break;
	case FORM_TSTZ:
		if (pg_text_timestamptz_iso(s, n, col->length < 0 ? 6 : col->length, iso,
					    sizeof(iso))) {
			json_out_cstring(sb, iso);
			return;
		}
		break;
	case FORM_TIMETZ:
		if (pg_text_timetz_iso(s, n, iso, sizeof(iso))) {
			json_out_cstring(sb, iso);
			return;
		}
		break;
	case FORM_INTERVAL:
		if (fmt->interval_string)
			break; /* IntervalStyle iso_8601 text is Debezium's string form */
		if (pg_text_interval_micros(s, n, &v)) {
			json_out_int(sb, v);
			return;
		}
		break;
	case FORM_DECIMAL:
		add_decimal(sb, fmt, col, s, n);
		return;
	case FORM_BIT_ONE:
		strbuf_adds(sb, n > 0 && s[0] == '1' ? "true" : "false");
		return;
	case FORM_BITS:
		add_bits(sb, s, n);
		return;
	case FORM_STRING:
		break;
	}
	json_out_string(sb, s, n);
}

static void add_array(struct strbuf *sb, const struct event_options *fmt,
		      const struct column_schema *col, const struct type_map *map, const char *s,
		      size_t n)
{
	struct pg_array_iter it;
	const char *elem;
	size_t len;
	int r, i = 0;
	size_t mark = sb->len;

	if (!pg_array_iter_init(&it, s, n)) {
		json_out_string(sb, s, n);
		return;
	}
	strbuf_adds(sb, "[");
	while ((r = pg_array_iter_next(&it, &elem, &len)) == 1) {
		if (i++)
			strbuf_adds(sb, ",");
		if (elem)
			add_scalar(sb, fmt, col, map, elem, len);
		else
			strbuf_adds(sb, "null");
	}
	pg_array_iter_fini(&it);
	if (r < 0) { /* multi-dimensional or malformed: the text form */
		sb->len = mark;
		sb->data[mark] = '\0';
		json_out_string(sb, s, n);
		return;
	}
	strbuf_adds(sb, "]");
}

static void add_value(struct strbuf *sb, const struct event_options *fmt,
		      const struct column_schema *col, const struct type_map *map,
		      const struct pgoutput_value *v)
{
	switch (v->kind) {
	case PGOUTPUT_NULL:
		strbuf_adds(sb, "null");
		return;
	case PGOUTPUT_UNCHANGED:
		if ((map->form == FORM_BYTES || map->form == FORM_BITS) && !col->is_array)
			json_out_base64(sb, (const unsigned char *)EVENT_UNAVAILABLE_VALUE,
					strlen(EVENT_UNAVAILABLE_VALUE));
		else
			json_out_cstring(sb, EVENT_UNAVAILABLE_VALUE);
		return;
	case PGOUTPUT_TEXT:
	case PGOUTPUT_BINARY:
		if (col->is_array)
			add_array(sb, fmt, col, map, v->data, v->len);
		else
			add_scalar(sb, fmt, col, map, v->data, v->len);
		return;
	}
}

static void add_row(struct strbuf *sb, const struct event_options *fmt,
		    const struct event_table *et, const struct pgoutput_value *row, bool key_only)
{
	const struct table_schema *ts = et->ts;
	size_t n = key_only ? ts->nkey : ts->ncols;

	if (!row) {
		strbuf_adds(sb, "null");
		return;
	}
	strbuf_adds(sb, "{");
	for (size_t i = 0; i < n; i++) {
		size_t c = key_only ? ts->key_cols[i] : i;

		if (i)
			strbuf_adds(sb, ",");
		strbuf_adds(sb, et->cols[c].key);
		add_value(sb, fmt, &ts->cols[c], et->cols[c].map, &row[c]);
	}
	strbuf_adds(sb, "}");
}

bool event_key_json(struct strbuf *sb, const struct event_options *fmt,
		    const struct event_table *et, const struct pgoutput_value *row)
{
	if (et->ts->nkey == 0)
		return false;
	if (fmt->schemas) {
		strbuf_adds(sb, "{\"schema\":");
		strbuf_adds(sb, et->key_schema);
		strbuf_adds(sb, ",\"payload\":");
	}
	add_row(sb, fmt, et, row, true);
	if (fmt->schemas)
		strbuf_adds(sb, "}");
	return true;
}

/* "[\"123\",\"456\"]": Debezium's sequence, a JSON array inside a string. */
static void add_sequence(struct strbuf *sb, const struct event_source *src)
{
	if (!src->lsn) {
		strbuf_adds(sb, "null");
		return;
	}
	if (src->last_commit_lsn) {
		strbuf_adds(sb, "\"[\\\"");
		json_out_uint(sb, src->last_commit_lsn);
		strbuf_adds(sb, "\\\",\\\"");
	} else {
		strbuf_adds(sb, "\"[null,\\\"");
	}
	json_out_uint(sb, src->lsn);
	strbuf_adds(sb, "\\\"]\"");
}

/* Numbers by json_out_int rather than strbuf_addf: this block is written for
 * every event, and printf was a fifth of capture's CPU. */
static void add_source(struct strbuf *sb, const struct event_table *et,
		       const struct event_source *src)
{
	strbuf_adds(sb, et->source_head);
	json_out_int(sb, src->ts_ms);
	strbuf_adds(sb, ",\"snapshot\":\"");
	strbuf_adds(sb, src->snapshot);
	strbuf_adds(sb, et->source_db);
	add_sequence(sb, src);
	strbuf_adds(sb, ",\"ts_us\":");
	json_out_int(sb, src->ts_ms * 1000);
	strbuf_adds(sb, ",\"ts_ns\":");
	json_out_int(sb, src->ts_ms * 1000000);
	strbuf_adds(sb, et->source_table);
	if (src->txid >= 0)
		json_out_int(sb, src->txid);
	else
		strbuf_adds(sb, "null");
	strbuf_adds(sb, ",\"lsn\":");
	if (src->lsn)
		json_out_uint(sb, src->lsn);
	else
		strbuf_adds(sb, "null");
	strbuf_adds(sb, ",\"xmin\":null}");
}

/* Debezium's "<txId>:<LSN>" (PostgresTransactionMonitor.adjustTxId), as a
 * JSON string. */
static void add_txn_id(struct strbuf *sb, int64_t txid, uint64_t lsn)
{
	strbuf_adds(sb, "\"");
	json_out_int(sb, txid);
	strbuf_adds(sb, ":");
	json_out_uint(sb, lsn);
	strbuf_adds(sb, "\"");
}

/* {"id":...,"total_order":N,"data_collection_order":M} (the event.block
 * schema's field order), or null. */
static void add_transaction_block(struct strbuf *sb, const struct event_txn *txn)
{
	if (!txn) {
		strbuf_adds(sb, "null");
		return;
	}
	strbuf_adds(sb, "{\"id\":");
	add_txn_id(sb, txn->txid, txn->lsn);
	strbuf_adds(sb, ",\"total_order\":");
	json_out_int(sb, txn->total_order);
	strbuf_adds(sb, ",\"data_collection_order\":");
	json_out_int(sb, txn->collection_order);
	strbuf_adds(sb, "}");
}

void event_value_json(struct strbuf *sb, const struct event_options *fmt,
		      const struct event_table *et, char op, const struct pgoutput_value *before,
		      const struct pgoutput_value *after, const struct event_source *src,
		      int64_t now_ms)
{
	if (fmt->schemas) {
		strbuf_adds(sb, "{\"schema\":");
		strbuf_adds(sb, et->value_schema);
		strbuf_adds(sb, ",\"payload\":");
	}
	strbuf_adds(sb, "{\"before\":");
	add_row(sb, fmt, et, before, false);
	strbuf_adds(sb, ",\"after\":");
	add_row(sb, fmt, et, after, false);
	strbuf_adds(sb, ",\"source\":");
	add_source(sb, et, src);
	strbuf_adds(sb, ",\"transaction\":");
	add_transaction_block(sb, src->txn);
	strbuf_adds(sb, ",\"op\":\"");
	strbuf_add(sb, &op, 1);
	strbuf_adds(sb, "\",\"ts_ms\":");
	json_out_int(sb, now_ms);
	strbuf_adds(sb, ",\"ts_us\":");
	json_out_int(sb, now_ms * 1000);
	strbuf_adds(sb, ",\"ts_ns\":");
	json_out_int(sb, now_ms * 1000000);
	strbuf_adds(sb, "}");
	if (fmt->schemas)
		strbuf_adds(sb, "}");
}

bool event_text_json(struct strbuf *sb, const struct event_options *fmt,
		     const struct event_table *et, const struct pgoutput_value *row)
{
	bool any = false;

	if (fmt->decimal_mode != DECIMAL_PRECISE || !et->has_decimal || !row)
		return false;
	for (size_t i = 0; i < et->ts->ncols; i++) {
		const struct pgoutput_value *v = &row[i];

		/* numeric's text has an N or an I only in NaN and Infinity */
		if (et->cols[i].map->form != FORM_DECIMAL ||
		    (v->kind != PGOUTPUT_TEXT && v->kind != PGOUTPUT_BINARY) ||
		    (!memchr(v->data, 'N', v->len) && !memchr(v->data, 'I', v->len)))
			continue;
		strbuf_adds(sb, any ? "," : "{");
		strbuf_adds(sb, et->cols[i].key);
		json_out_string(sb, v->data, v->len);
		any = true;
	}
	if (any)
		strbuf_adds(sb, "}");
	return any;
}

bool event_unchanged_json(struct strbuf *sb, const struct event_table *et,
			  const struct pgoutput_value *row)
{
	bool any = false;

	for (size_t i = 0; row && i < et->ts->ncols; i++) {
		if (row[i].kind != PGOUTPUT_UNCHANGED)
			continue;
		strbuf_adds(sb, any ? "," : "[");
		json_out_cstring(sb, et->ts->cols[i].name);
		any = true;
	}
	if (any)
		strbuf_adds(sb, "]");
	return any;
}

/* ---- the transaction topic ------------------------------------------------ */

/* As documented in https://debezium.io/documentation/reference/connectors/
 * postgresql.html#postgresql-transaction-metadata ("Transaction metadata"),
 * docs/DEBEZIUM_FORMAT.md §1.7; 91_debezium_interop compares these records
 * with Debezium 3.6's own. */

/* JsonConverter's forms of SchemaFactory.java's transactionKeySchema and
 * transactionValueSchema (names unadjusted: schema.name.adjustment.mode
 * none); data_collections' items are the optional struct event.collection. */
static const char txn_key_schema[] =
	"{\"type\":\"struct\",\"fields\":["
	"{\"type\":\"string\",\"optional\":false,\"field\":\"id\"}],"
	"\"optional\":false,\"name\":\"io.debezium.connector.common.TransactionMetadataKey\","
	"\"version\":1}";

static const char txn_value_schema[] =
	"{\"type\":\"struct\",\"fields\":["
	"{\"type\":\"string\",\"optional\":false,\"field\":\"status\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"event_count\"},"
	"{\"type\":\"array\",\"items\":{\"type\":\"struct\",\"fields\":["
	"{\"type\":\"string\",\"optional\":false,\"field\":\"data_collection\"},"
	"{\"type\":\"int64\",\"optional\":false,\"field\":\"event_count\"}],"
	"\"optional\":true,\"name\":\"event.collection\",\"version\":1},"
	"\"optional\":true,\"field\":\"data_collections\"},"
	"{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"}],"
	"\"optional\":false,\"name\":\"io.debezium.connector.common.TransactionMetadataValue\","
	"\"version\":1}";

void event_txn_key_json(struct strbuf *sb, const struct event_options *fmt, int64_t txid,
			uint64_t lsn)
{
	if (fmt->schemas) {
		strbuf_adds(sb, "{\"schema\":");
		strbuf_adds(sb, txn_key_schema);
		strbuf_adds(sb, ",\"payload\":");
	}
	strbuf_adds(sb, "{\"id\":");
	add_txn_id(sb, txid, lsn);
	strbuf_adds(sb, "}");
	if (fmt->schemas)
		strbuf_adds(sb, "}");
}

/* The value's members in the schema's order: status, id, event_count,
 * data_collections, ts_ms. */
static void txn_value_head(struct strbuf *sb, const struct event_options *fmt,
			   const char *status, int64_t txid, uint64_t lsn)
{
	if (fmt->schemas) {
		strbuf_adds(sb, "{\"schema\":");
		strbuf_adds(sb, txn_value_schema);
		strbuf_adds(sb, ",\"payload\":");
	}
	strbuf_addf(sb, "{\"status\":\"%s\",\"id\":", status);
	add_txn_id(sb, txid, lsn);
}

static void txn_value_tail(struct strbuf *sb, const struct event_options *fmt, int64_t commit_ms)
{
	strbuf_adds(sb, ",\"ts_ms\":");
	json_out_int(sb, commit_ms);
	strbuf_adds(sb, "}");
	if (fmt->schemas)
		strbuf_adds(sb, "}");
}

void event_txn_begin_json(struct strbuf *sb, const struct event_options *fmt, int64_t txid,
			  uint64_t lsn, int64_t commit_ms)
{
	txn_value_head(sb, fmt, "BEGIN", txid, lsn);
	strbuf_adds(sb, ",\"event_count\":null,\"data_collections\":null");
	txn_value_tail(sb, fmt, commit_ms);
}

void event_txn_end_json(struct strbuf *sb, const struct event_options *fmt, int64_t txid,
			uint64_t lsn, int64_t commit_ms, int64_t event_count,
			const struct event_txn_count *tables, size_t ntables)
{
	txn_value_head(sb, fmt, "END", txid, lsn);
	strbuf_adds(sb, ",\"event_count\":");
	json_out_int(sb, event_count);
	strbuf_adds(sb, ",\"data_collections\":[");
	for (size_t i = 0; i < ntables; i++) {
		strbuf_adds(sb, i ? ",{\"data_collection\":" : "{\"data_collection\":");
		json_out_cstring(sb, tables[i].collection);
		strbuf_adds(sb, ",\"event_count\":");
		json_out_int(sb, tables[i].count);
		strbuf_adds(sb, "}");
	}
	strbuf_adds(sb, "]");
	txn_value_tail(sb, fmt, commit_ms);
}
