/*
 * tests/unit/test_event_json.c: agent/capture/event_json.c's events.  First a table
 * of cases run by one loop: a column's type, a decoded value (text form,
 * NULL or unchanged TOAST), the op and the options (decimal_handling,
 * interval handling, json_schemas) -> the row in the event, the field's
 * schema, the cdc.text and cdc.unchanged headers; every event parsed as
 * JSON without duplicate members.  Then the schema blocks: each field's
 * schema must be JSON every reader takes the same way: one "parameters"
 * object holding a Decimal's scale and precision together with the source
 * type (a second member of the name hid the scale from jansson and
 * Jackson, which keep the last).  Last, transaction metadata: the
 * "transaction" block by a table of cases, and the BEGIN/END records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "capture/event_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct column_schema column(const char *name, const char *base, bool array, int length,
				   int scale, int key)
{
	struct column_schema c = {
		.name = (char *)name, .type_sql = (char *)base, .base_type = (char *)base,
		.is_array = array, .length = length, .scale = scale, .optional = key == 0,
		.key_position = key,
	};

	return c;
}

/* ---- one column, one value: a table of cases ---- */

#define SCHEMAS 1          /* json_schemas: the schema block */
#define INTERVAL_STRING 2  /* interval_handling = string */
#define ENUM_LABELS 4      /* the column's type is an enum: sad, happy */

/* A value left unchanged (TOASTed, not sent by the update). */
static const char UNCHANGED[] = "(unchanged)";

struct value_case {
	const char *type;          /* base_type of column "v" (beside key "id" int4) */
	bool array;
	int length, scale;
	const char *value;         /* text form; NULL: SQL NULL; UNCHANGED */
	char op;                   /* 'c', 'u', 'r': in "after"; 'd': in "before" */
	int decimal;               /* enum decimal_mode */
	int opts;
	const char *want_row;      /* the row's JSON */
	const char *want_schema;   /* with SCHEMAS: v's field schema */
	const char *want_text;     /* the cdc.text header; NULL: none */
};

#define ROW(v) "{\"id\":1,\"v\":" v "}"
#define FIELD(type, rest) "{\"type\":\"" type "\",\"optional\":true," rest "\"field\":\"v\"}"
#define SRC_TYPE(t) "\"parameters\":{\"__debezium.source.column.type\":\"" t "\"},"
#define LOGICAL(name, t) "\"name\":\"" name "\",\"version\":1," SRC_TYPE(t)

static const struct value_case value_cases[] = {
	/* integers, exact at their limits */
	{ "int2", false, -1, -1, "-7", 'c', 0, 0, ROW("-7"), NULL, NULL },
	{ "int4", false, -1, -1, "2147483647", 'c', 0, SCHEMAS, ROW("2147483647"),
	  FIELD("int32", SRC_TYPE("INT4")), NULL },
	{ "int8", false, -1, -1, "-9223372036854775808", 'r', 0, 0, ROW("-9223372036854775808"),
	  NULL, NULL },
	{ "oid", false, -1, -1, "4294967295", 'u', 0, 0, ROW("4294967295"), NULL, NULL },
	/* floats: PostgreSQL's digits; NaN and infinities as JsonConverter writes them */
	{ "float4", false, -1, -1, "3.5", 'c', 0, SCHEMAS, ROW("3.5"),
	  FIELD("float", SRC_TYPE("FLOAT4")), NULL },
	{ "float8", false, -1, -1, "1.25e+300", 'c', 0, 0, ROW("1.25e+300"), NULL, NULL },
	{ "float8", false, -1, -1, "NaN", 'c', 0, 0, ROW("\"NaN\""), NULL, NULL },
	{ "float8", false, -1, -1, "-Infinity", 'd', 0, 0, ROW("\"-Infinity\""), NULL, NULL },
	/* numeric, precise: base64 unscaled bytes; scale in the schema or the value */
	{ "numeric", false, 10, 2, "9.99", 'c', DECIMAL_PRECISE, SCHEMAS, ROW("\"A+c=\""),
	  FIELD("bytes", "\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,"
			 "\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":\"10\","
			 "\"__debezium.source.column.type\":\"NUMERIC\","
			 "\"__debezium.source.column.length\":\"10\","
			 "\"__debezium.source.column.scale\":\"2\"},"), NULL },
	{ "numeric", false, -1, -1, "12.340", 'c', DECIMAL_PRECISE, SCHEMAS,
	  ROW("{\"scale\":3,\"value\":\"MDQ=\"}"),
	  "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,"
	  "\"field\":\"scale\"},{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}],"
	  "\"optional\":true,\"name\":\"io.debezium.data.VariableScaleDecimal\",\"version\":1,"
	  "\"doc\":\"Variable scaled decimal\"," SRC_TYPE("NUMERIC") "\"field\":\"v\"}", NULL },
	{ "numeric", false, -1, -1, "-0.5", 'u', DECIMAL_PRECISE, 0,
	  ROW("{\"scale\":1,\"value\":\"+w==\"}"), NULL, NULL },
	/* precise has no NaN: null in the event, the text in cdc.text */
	{ "numeric", false, -1, -1, "NaN", 'c', DECIMAL_PRECISE, 0, ROW("null"), NULL,
	  "{\"v\":\"NaN\"}" },
	{ "numeric", false, 10, 2, "9.99", 'c', DECIMAL_STRING, 0, ROW("\"9.99\""), NULL, NULL },
	{ "numeric", false, -1, -1, "NaN", 'c', DECIMAL_STRING, 0, ROW("\"NaN\""), NULL, NULL },
	{ "numeric", false, -1, -1, "Infinity", 'd', DECIMAL_STRING, 0, ROW("\"Infinity\""), NULL,
	  NULL },
	{ "numeric", false, 10, 2, "9.99", 'c', DECIMAL_DOUBLE, 0, ROW("9.99"), NULL, NULL },
	{ "numeric", false, -1, -1, "NaN", 'c', DECIMAL_DOUBLE, 0, ROW("\"NaN\""), NULL, NULL },
	/* text: escaped, UTF-8 kept */
	{ "text", false, -1, -1, "h\xc3\xa9llo \"q\" \\ \n\x01", 'c', 0, 0,
	  ROW("\"h\xc3\xa9llo \\\"q\\\" \\\\ \\n\\u0001\""), NULL, NULL },
	{ "varchar", false, 40, -1, "ab", 'r', 0, SCHEMAS, ROW("\"ab\""),
	  FIELD("string", "\"parameters\":{\"__debezium.source.column.type\":\"VARCHAR\","
			  "\"__debezium.source.column.length\":\"40\"},"), NULL },
	{ "bytea", false, -1, -1, "\\xdeadbeef", 'c', 0, SCHEMAS, ROW("\"3q2+7w==\""),
	  FIELD("bytes", SRC_TYPE("BYTEA")), NULL },
	{ "bool", false, -1, -1, "t", 'c', 0, SCHEMAS, ROW("true"),
	  FIELD("boolean", SRC_TYPE("BOOL")), NULL },
	{ "bool", false, -1, -1, "f", 'd', 0, 0, ROW("false"), NULL, NULL },
	/* dates and times: Debezium's adaptive time.precision.mode */
	{ "date", false, -1, -1, "2024-01-02", 'c', 0, SCHEMAS, ROW("19724"),
	  FIELD("int32", LOGICAL("io.debezium.time.Date", "DATE")), NULL },
	{ "date", false, -1, -1, "1969-12-31", 'c', 0, 0, ROW("-1"), NULL, NULL },
	{ "time", false, -1, -1, "12:34:56", 'c', 0, SCHEMAS, ROW("45296000000"),
	  FIELD("int64", LOGICAL("io.debezium.time.MicroTime", "TIME")), NULL },
	{ "time", false, 3, -1, "12:34:56.789", 'c', 0, SCHEMAS, ROW("45296789"),
	  FIELD("int32", "\"name\":\"io.debezium.time.Time\",\"version\":1,"
			 "\"parameters\":{\"__debezium.source.column.type\":\"TIME\","
			 "\"__debezium.source.column.length\":\"3\"},"), NULL },
	{ "timestamp", false, -1, -1, "2024-01-02 03:04:05.123456", 'u', 0, SCHEMAS,
	  ROW("1704164645123456"),
	  FIELD("int64", LOGICAL("io.debezium.time.MicroTimestamp", "TIMESTAMP")), NULL },
	{ "timestamp", false, 3, -1, "2024-01-02 03:04:05.123", 'c', 0, 0, ROW("1704164645123"),
	  NULL, NULL },
	{ "timestamptz", false, -1, -1, "2024-01-02 03:04:05.123456+00", 'c', 0, SCHEMAS,
	  ROW("\"2024-01-02T03:04:05.123456Z\""),
	  FIELD("string", LOGICAL("io.debezium.time.ZonedTimestamp", "TIMESTAMPTZ")), NULL },
	{ "timetz", false, -1, -1, "12:34:56+05:30", 'c', 0, SCHEMAS, ROW("\"12:34:56+05:30\""),
	  FIELD("string", LOGICAL("io.debezium.time.ZonedTime", "TIMETZ")), NULL },
	{ "interval", false, -1, -1, "P1DT2H", 'c', 0, SCHEMAS, ROW("93600000000"),
	  FIELD("int64", LOGICAL("io.debezium.time.MicroDuration", "INTERVAL")), NULL },
	{ "interval", false, -1, -1, "P1DT2H", 'c', 0, SCHEMAS | INTERVAL_STRING, ROW("\"P1DT2H\""),
	  FIELD("string", LOGICAL("io.debezium.time.Interval", "INTERVAL")), NULL },
	/* json and jsonb: their text as a string */
	{ "json", false, -1, -1, "{\"a\": 1}", 'c', 0, SCHEMAS, ROW("\"{\\\"a\\\": 1}\""),
	  FIELD("string", LOGICAL("io.debezium.data.Json", "JSON")), NULL },
	{ "jsonb", false, -1, -1, "[1, 2]", 'd', 0, 0, ROW("\"[1, 2]\""), NULL, NULL },
	/* arrays: JSON arrays of the element's form, NULL elements null */
	{ "int4", true, -1, -1, "{1,NULL,3}", 'c', 0, SCHEMAS, ROW("[1,null,3]"),
	  "{\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true},"
	  "\"optional\":true," SRC_TYPE("_INT4") "\"field\":\"v\"}", NULL },
	{ "text", true, -1, -1, "{x,\"y z\",NULL}", 'c', 0, 0, ROW("[\"x\",\"y z\",null]"), NULL,
	  NULL },
	{ "numeric", true, 10, 2, "{1.50,NaN}", 'c', DECIMAL_STRING, 0, ROW("[\"1.50\",\"NaN\"]"),
	  NULL, NULL },
	{ "numeric", true, -1, -1, "{1.5,NaN}", 'c', DECIMAL_PRECISE, 0,
	  ROW("[{\"scale\":1,\"value\":\"Dw==\"},null]"), NULL,
	  "{\"v\":\"{1.5,NaN}\"}" },
	/* uuid, an enum, a type without a Connect form (its text) */
	{ "uuid", false, -1, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 'c', 0, SCHEMAS,
	  ROW("\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\""),
	  FIELD("string", LOGICAL("io.debezium.data.Uuid", "UUID")), NULL },
	{ "mood", false, -1, -1, "happy", 'c', 0, SCHEMAS | ENUM_LABELS, ROW("\"happy\""),
	  FIELD("string", "\"name\":\"io.debezium.data.Enum\",\"version\":1,"
			  "\"parameters\":{\"allowed\":\"sad,happy\","
			  "\"__debezium.source.column.type\":\"MOOD\"},"), NULL },
	{ "inet", false, -1, -1, "10.0.0.1", 'c', 0, SCHEMAS, ROW("\"10.0.0.1\""),
	  FIELD("string", SRC_TYPE("INET")), NULL },
	/* NULL and unchanged TOAST (Debezium's placeholder; cdc.unchanged names it) */
	{ "text", false, -1, -1, NULL, 'c', 0, SCHEMAS, ROW("null"),
	  FIELD("string", SRC_TYPE("TEXT")), NULL },
	{ "int4", false, -1, -1, NULL, 'd', 0, 0, ROW("null"), NULL, NULL },
	{ "text", false, -1, -1, UNCHANGED, 'u', 0, 0,
	  ROW("\"" EVENT_UNAVAILABLE_VALUE "\""), NULL, NULL },
	{ "jsonb", false, -1, -1, UNCHANGED, 'u', 0, SCHEMAS,
	  ROW("\"" EVENT_UNAVAILABLE_VALUE "\""),
	  FIELD("string", LOGICAL("io.debezium.data.Json", "JSONB")), NULL },
};

static struct pgoutput_value value_of(const char *text)
{
	if (!text)
		return (struct pgoutput_value){ .kind = PGOUTPUT_NULL };
	if (text == UNCHANGED)
		return (struct pgoutput_value){ .kind = PGOUTPUT_UNCHANGED };
	return (struct pgoutput_value){ .kind = PGOUTPUT_TEXT, .data = text,
					.len = (uint32_t)strlen(text) };
}

static void expect_fragment(size_t i, const char *json, const char *want)
{
	if (!strstr(json, want))
		fail_msg("case %zu lacks %s in %s", i, want, json);
}

/* The event of one case: op, the row in before or after, the schema. */
static void expect_value_event(size_t i, const struct value_case *c, const struct event_options *fmt,
			       const struct event_table *et, const struct pgoutput_value *row)
{
	struct event_source src = { .ts_ms = 1, .snapshot = c->op == 'r' ? "true" : "false",
				    .txid = -1 };
	char op_member[16], *want;
	struct strbuf sb;
	json_error_t err;
	json_t *v;

	strbuf_init(&sb);
	event_value_json(&sb, fmt, et, c->op, c->op == 'd' ? row : NULL, c->op == 'd' ? NULL : row,
			 &src, 1);
	v = json_loads(sb.data, JSON_REJECT_DUPLICATES, &err);
	if (!v)
		fail_msg("case %zu: not JSON without duplicate members (%s): %s", i, err.text, sb.data);
	json_decref(v);
	want = c->op == 'd' ? xasprintf("\"before\":%s,\"after\":null", c->want_row)
			    : xasprintf("\"before\":null,\"after\":%s", c->want_row);
	expect_fragment(i, sb.data, want);
	free(want);
	snprintf(op_member, sizeof(op_member), "\"op\":\"%c\"", c->op);
	expect_fragment(i, sb.data, op_member);
	if (c->want_schema)
		expect_fragment(i, sb.data, c->want_schema);
	if ((fmt->schemas != 0) != (strstr(sb.data, "{\"schema\":{") == sb.data))
		fail_msg("case %zu: schema block %s: %s", i, fmt->schemas ? "missing" : "unasked", sb.data);
	strbuf_fini(&sb);
}

/* The headers beside the event: cdc.text, cdc.unchanged; and the key. */
static void expect_value_headers(size_t i, const struct value_case *c,
				 const struct event_options *fmt, const struct event_table *et,
				 const struct pgoutput_value *row)
{
	struct strbuf sb;
	bool any;

	strbuf_init(&sb);
	any = event_text_json(&sb, fmt, et, row);
	if (any != (c->want_text != NULL) || (any && strcmp(sb.data, c->want_text) != 0))
		fail_msg("case %zu: cdc.text %s, want %s", i, any ? sb.data : "none",
			 c->want_text ? c->want_text : "none");
	sb.len = 0;
	any = event_unchanged_json(&sb, et, row);
	if (any != (c->value == UNCHANGED) || (any && strcmp(sb.data, "[\"v\"]") != 0))
		fail_msg("case %zu: cdc.unchanged %s", i, any ? sb.data : "none");
	sb.len = 0;
	assert_true(event_key_json(&sb, fmt, et, row));
	expect_fragment(i, sb.data, "\"id\":1}");
	strbuf_fini(&sb);
}

static void test_value_table(void **state)
{
	char *labels[] = { "sad", "happy" };

	(void)state;
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		const struct value_case *c = &value_cases[i];
		struct column_schema cols[] = {
			column("id", "int4", false, -1, -1, 1),
			column("v", c->type, c->array, c->length, c->scale, 0),
		};
		size_t key = 0;
		struct table_schema ts = { .oid = 1, .schema = "public", .table = "t", .ncols = 2,
					   .cols = cols, .nkey = 1, .key_cols = &key };
		struct event_options fmt = { .server_name = "db1server", .db = "db1",
					    .schemas = c->opts & SCHEMAS, .decimal_mode = c->decimal,
					    .interval_string = c->opts & INTERVAL_STRING };
		struct pgoutput_value row[] = { value_of("1"), value_of(c->value) };
		struct event_table *et;

		if (c->opts & ENUM_LABELS) {
			cols[1].labels = labels;
			cols[1].nlabels = 2;
		}
		et = event_table_new(&fmt, &ts);
		expect_value_event(i, c, &fmt, et, row);
		expect_value_headers(i, c, &fmt, et, row);
		event_table_free(et);
	}
}

/* ---- schema blocks ---- */

/* The "after" struct's field named name in a value schema. */
static json_t *after_field(json_t *schema, const char *name)
{
	size_t i, j;
	json_t *f, *g;

	json_array_foreach(json_object_get(schema, "fields"), i, f) {
		if (strcmp(json_string_value(json_object_get(f, "field")), "after") != 0)
			continue;
		json_array_foreach(json_object_get(f, "fields"), j, g)
			if (strcmp(json_string_value(json_object_get(g, "field")), name) == 0)
				return g;
	}
	return NULL;
}

static const char *param(json_t *field, const char *name)
{
	return json_string_value(json_object_get(json_object_get(field, "parameters"), name));
}

static void test_one_parameters_object(void **state)
{
	struct column_schema cols[] = {
		column("id", "int4", false, -1, -1, 1),
		column("price", "numeric", false, 10, 2, 0),
		column("prices", "numeric", true, 10, 2, 0),
		column("any", "numeric", false, -1, -1, 0),
	};
	size_t key = 0;
	struct table_schema ts = { .oid = 1, .schema = "public", .table = "t", .ncols = 4,
				   .cols = cols, .nkey = 1, .key_cols = &key };
	struct event_options fmt = { .server_name = "db1server", .db = "db1", .schemas = true,
				    .decimal_mode = DECIMAL_PRECISE };
	struct event_table *et;
	json_error_t err;
	json_t *schema, *f;

	(void)state;
	et = event_table_new(&fmt, &ts);
	schema = json_loads(et->value_schema, JSON_REJECT_DUPLICATES, &err);
	if (!schema)
		fail_msg("value schema is not JSON without duplicate members: %s", err.text);
	f = after_field(schema, "price");
	assert_non_null(f);
	assert_string_equal(param(f, "scale"), "2");
	assert_string_equal(param(f, "connect.decimal.precision"), "10");
	assert_string_equal(param(f, "__debezium.source.column.type"), "NUMERIC");
	assert_string_equal(param(f, "__debezium.source.column.scale"), "2");
	f = after_field(schema, "prices");
	assert_string_equal(param(f, "__debezium.source.column.type"), "_NUMERIC");
	assert_string_equal(
		param(json_object_get(f, "items"), "scale"), "2");
	f = after_field(schema, "any");
	assert_string_equal(json_string_value(json_object_get(f, "name")),
			    "io.debezium.data.VariableScaleDecimal");
	assert_string_equal(param(f, "__debezium.source.column.type"), "NUMERIC");
	json_decref(schema);
	event_table_free(et);
}

/* Debezium's forms for what its JDBC sink binds by type: bit(1) a boolean,
 * bit(n) io.debezium.data.Bits (little-endian, last character = bit 0,
 * no trailing zero bytes); an unconstrained numeric keeps its scale. */
static void test_debezium_forms(void **state)
{
	struct column_schema cols[] = {
		column("id", "int4", false, -1, -1, 1),
		column("b1", "bit", false, 1, -1, 0),
		column("b3", "bit", false, 3, -1, 0),
		column("b12", "bit", false, 12, -1, 0),
		column("z", "bit", false, 3, -1, 0),
		column("nu", "numeric", false, -1, -1, 0),
	};
	struct pgoutput_value row[] = {
		{ .kind = PGOUTPUT_TEXT, .data = "1", .len = 1 },
		{ .kind = PGOUTPUT_TEXT, .data = "1", .len = 1 },
		{ .kind = PGOUTPUT_TEXT, .data = "101", .len = 3 },
		{ .kind = PGOUTPUT_TEXT, .data = "100000000001", .len = 12 },
		{ .kind = PGOUTPUT_TEXT, .data = "000", .len = 3 },
		{ .kind = PGOUTPUT_TEXT, .data = "12.340", .len = 6 },
	};
	size_t key = 0;
	struct table_schema ts = { .oid = 1, .schema = "public", .table = "t", .ncols = 6,
				   .cols = cols, .nkey = 1, .key_cols = &key };
	struct event_options fmt = { .server_name = "db1server", .db = "db1", .schemas = true,
				    .decimal_mode = DECIMAL_PRECISE };
	struct event_source src = { .ts_ms = 1, .snapshot = "false", .txid = -1 };
	struct event_table *et;
	struct strbuf sb;
	json_error_t err;
	json_t *v, *after, *f;

	(void)state;
	et = event_table_new(&fmt, &ts);
	strbuf_init(&sb);
	event_value_json(&sb, &fmt, et, 'c', NULL, row, &src, 1);
	v = json_loads(sb.data, JSON_REJECT_DUPLICATES, &err);
	if (!v)
		fail_msg("value is not JSON: %s", err.text);
	f = after_field(json_object_get(v, "schema"), "b1");
	assert_string_equal(json_string_value(json_object_get(f, "type")), "boolean");
	f = after_field(json_object_get(v, "schema"), "b3");
	assert_string_equal(json_string_value(json_object_get(f, "name")), "io.debezium.data.Bits");
	assert_string_equal(param(f, "length"), "3");
	assert_string_equal(param(f, "__debezium.source.column.type"), "BIT");
	after = json_object_get(json_object_get(v, "payload"), "after");
	assert_true(json_is_true(json_object_get(after, "b1")));
	assert_string_equal(json_string_value(json_object_get(after, "b3")), "BQ==");  /* 0x05 */
	assert_string_equal(json_string_value(json_object_get(after, "b12")), "AQg="); /* 01 08 */
	assert_string_equal(json_string_value(json_object_get(after, "z")), "");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(after, "nu"), "scale")), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(after, "nu"), "value")),
			    "MDQ="); /* 12340 */
	json_decref(v);
	/* no cdc.text without NaN or Infinity; with them, their text */
	sb.len = 0;
	assert_false(event_text_json(&sb, &fmt, et, row));
	row[5] = (struct pgoutput_value){ .kind = PGOUTPUT_TEXT, .data = "NaN", .len = 3 };
	assert_true(event_text_json(&sb, &fmt, et, row));
	assert_string_equal(sb.data, "{\"nu\":\"NaN\"}");
	sb.len = 0;
	event_value_json(&sb, &fmt, et, 'c', NULL, row, &src, 1);
	assert_non_null(strstr(sb.data, "\"nu\":null"));
	strbuf_fini(&sb);
	event_table_free(et);
}

/* An enum's field schema is Debezium's io.debezium.data.Enum with its
 * labels "allowed" (arrays: the items'), in the one parameters object; the
 * cdc.columns header lists generated columns where their attnum puts them,
 * with their expression, and user types with their definition. */
static void test_enum_and_header(void **state)
{
	char *labels[] = { "sad", "o\"k", "happy" };
	struct column_schema cols[] = {
		column("id", "int4", false, -1, -1, 1),
		column("m", "mood", false, -1, -1, 0),
		column("ms", "mood", true, -1, -1, 0),
		column("total", "numeric", false, -1, -1, 0),
	};
	struct column_schema gen = column("doubled", "numeric", false, -1, -1, 0);
	size_t key = 0;
	struct table_schema ts = { .oid = 1, .schema = "public", .table = "t", .ncols = 4,
				   .cols = cols, .nkey = 1, .key_cols = &key, .ngenerated = 1,
				   .generated_cols = &gen };
	struct event_options fmt = { .server_name = "db1server", .db = "db1", .schemas = true };
	struct event_table *et;
	json_error_t err;
	json_t *schema, *f, *header, *root;
	const char *udt = "{\"kind\":\"enum\",\"schema\":\"public\",\"name\":\"mood\",\"labels\":[\"sad\",\"o\\\"k\",\"happy\"]}";

	(void)state;
	for (int i = 0; i < 4; i++)
		cols[i].attnum = i < 3 ? i + 1 : 5;
	for (int i = 1; i <= 2; i++) {
		cols[i].labels = labels;
		cols[i].nlabels = 3;
		cols[i].udt = (char *)udt;
	}
	gen.attnum = 4;
	gen.generated = "(total * (2)::numeric)";
	et = event_table_new(&fmt, &ts);
	schema = json_loads(et->value_schema, JSON_REJECT_DUPLICATES, &err);
	if (!schema)
		fail_msg("value schema is not JSON without duplicate members: %s", err.text);
	f = after_field(schema, "m");
	assert_string_equal(json_string_value(json_object_get(f, "name")), "io.debezium.data.Enum");
	assert_string_equal(json_string_value(json_object_get(f, "type")), "string");
	assert_string_equal(param(f, "allowed"), "sad,o\"k,happy");
	assert_string_equal(param(f, "__debezium.source.column.type"), "MOOD");
	f = after_field(schema, "ms");
	assert_string_equal(json_string_value(json_object_get(f, "type")), "array");
	assert_string_equal(param(json_object_get(f, "items"), "allowed"), "sad,o\"k,happy");
	assert_null(after_field(schema, "doubled"));
	json_decref(schema);

	/* after the word that keeps it a string for Kafka Connect */
	assert_memory_equal(et->columns_header, EVENT_COLUMNS_PREFIX, strlen(EVENT_COLUMNS_PREFIX));
	root = json_loads(et->columns_header + strlen(EVENT_COLUMNS_PREFIX), JSON_REJECT_DUPLICATES, &err);
	if (!root)
		fail_msg("cdc.columns is not JSON: %s", err.text);
	/* {"version": N, "columns": [...]}: the items carry their attnums */
	header = json_object_get(root, "columns");
	assert_int_equal(json_array_size(header), 5);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(header, 3), "attnum")), 4);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(header, 4), "attnum")), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(header, 3), "name")),
			    "doubled");
	assert_string_equal(json_string_value(json_object_get(json_array_get(header, 3), "generated")),
			    "(total * (2)::numeric)");
	assert_string_equal(json_string_value(json_object_get(json_array_get(header, 4), "name")),
			    "total");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(header, 1), "udt"), "kind")),
			    "enum");
	assert_int_equal(json_array_size(json_object_get(
				 json_object_get(json_array_get(header, 2), "udt"), "labels")),
			 3);
	assert_null(json_object_get(json_array_get(header, 0), "udt"));
	json_decref(root);
	event_table_free(et);
}

/* ---- transaction metadata: the block and the transaction topic's records ---- */

/* The "transaction" block of a change event, as Debezium's
 * provide.transaction.metadata writes it (debezium.io, PostgreSQL connector,
 * "Transaction metadata"): with and without the schema block, and null for
 * a snapshot row or with the option off. */
struct txn_case {
	int opts;                 /* SCHEMAS */
	char op;
	bool has_txn;
	struct event_txn txn;
	const char *want;         /* the payload's run from "transaction" to "op" */
};

static const struct txn_case txn_cases[] = {
	{ 0, 'c', true, { 571, 53195832, 1, 1 },
	  "\"transaction\":{\"id\":\"571:53195832\",\"total_order\":1,\"data_collection_order\":1},\"op\":\"c\"" },
	{ SCHEMAS, 'u', true, { 4294967295LL, 18446744073709551615ULL, 1000001, 7 },
	  "\"transaction\":{\"id\":\"4294967295:18446744073709551615\",\"total_order\":1000001,"
	  "\"data_collection_order\":7},\"op\":\"u\"" },
	{ 0, 'd', true, { 2, 3, 2, 1 },
	  "\"transaction\":{\"id\":\"2:3\",\"total_order\":2,\"data_collection_order\":1},\"op\":\"d\"" },
	{ SCHEMAS, 't', true, { 9, 10, 3, 3 },
	  "\"transaction\":{\"id\":\"9:10\",\"total_order\":3,\"data_collection_order\":3},\"op\":\"t\"" },
	/* snapshot rows and transaction_metadata = false: null, as before */
	{ SCHEMAS, 'r', false, { 0, 0, 0, 0 }, "\"transaction\":null,\"op\":\"r\"" },
	{ 0, 'c', false, { 0, 0, 0, 0 }, "\"transaction\":null,\"op\":\"c\"" },
};

static void test_transaction_block_table(void **state)
{
	struct column_schema cols[] = { column("id", "int4", false, -1, -1, 1) };
	size_t key = 0;
	struct table_schema ts = { .oid = 1, .schema = "s1", .table = "a", .ncols = 1,
				   .cols = cols, .nkey = 1, .key_cols = &key };
	struct pgoutput_value row[] = { value_of("2") };

	(void)state;
	for (size_t i = 0; i < sizeof(txn_cases) / sizeof(txn_cases[0]); i++) {
		const struct txn_case *c = &txn_cases[i];
		struct event_options fmt = { .server_name = "db1server", .db = "db1",
					    .schemas = c->opts & SCHEMAS };
		struct event_source src = { .ts_ms = 1, .snapshot = c->op == 'r' ? "true" : "false",
					    .txid = 571, .lsn = 53195832,
					    .txn = c->has_txn ? &c->txn : NULL };
		struct event_table *et = event_table_new(&fmt, &ts);
		struct strbuf sb;
		json_error_t err;
		json_t *v, *payload, *block, *f;
		size_t j;

		strbuf_init(&sb);
		event_value_json(&sb, &fmt, et, c->op, c->op == 'd' ? row : NULL,
				 c->op == 'd' || c->op == 't' ? NULL : row, &src, 1);
		expect_fragment(i, sb.data, c->want);
		v = json_loads(sb.data, JSON_REJECT_DUPLICATES, &err);
		if (!v)
			fail_msg("case %zu: not JSON (%s): %s", i, err.text, sb.data);
		payload = fmt.schemas ? json_object_get(v, "payload") : v;
		block = json_object_get(payload, "transaction");
		if (c->has_txn) { /* the types of SchemaFactory's event.block */
			assert_true(json_is_string(json_object_get(block, "id")));
			assert_true(json_is_integer(json_object_get(block, "total_order")));
			assert_true(json_is_integer(json_object_get(block, "data_collection_order")));
			assert_int_equal(json_object_size(block), 3);
		} else {
			assert_true(json_is_null(block));
		}
		/* the schema block declares it: optional struct event.block v1 */
		json_array_foreach(json_object_get(json_object_get(v, "schema"), "fields"), j, f) {
			if (strcmp(json_string_value(json_object_get(f, "field")), "transaction") != 0)
				continue;
			assert_string_equal(json_string_value(json_object_get(f, "name")), "event.block");
			assert_true(json_is_true(json_object_get(f, "optional")));
			assert_int_equal(json_integer_value(json_object_get(f, "version")), 1);
			assert_int_equal(json_array_size(json_object_get(f, "fields")), 3);
		}
		json_decref(v);
		strbuf_fini(&sb);
		event_table_free(et);
	}
}

/* BEGIN and END records and their key, compared with the documented
 * example byte for byte without the schema block; with it, the schemas of
 * SchemaFactory.java (TransactionMetadataKey/Value, event.collection). */
static void test_transaction_records(void **state)
{
	struct event_options plain = { .server_name = "db1server", .db = "db1" };
	struct event_options schemas = { .server_name = "db1server", .db = "db1", .schemas = true };
	const struct event_txn_count tables[] = { { "s1.a", 1 }, { "s2.a", 1 } };
	const struct event_txn_count odd[] = { { "we\"ird.t\\", 3 } };
	struct strbuf sb;
	json_error_t err;
	json_t *v, *fields, *dc;

	(void)state;
	strbuf_init(&sb);
	event_txn_key_json(&sb, &plain, 571, 53195829);
	assert_string_equal(sb.data, "{\"id\":\"571:53195829\"}");
	sb.len = 0;
	event_txn_begin_json(&sb, &plain, 571, 53195829, 1486500577125);
	assert_string_equal(sb.data, "{\"status\":\"BEGIN\",\"id\":\"571:53195829\",\"event_count\":null,"
				     "\"data_collections\":null,\"ts_ms\":1486500577125}");
	sb.len = 0;
	event_txn_end_json(&sb, &plain, 571, 53195832, 1486500577691, 2, tables, 2);
	assert_string_equal(sb.data, "{\"status\":\"END\",\"id\":\"571:53195832\",\"event_count\":2,"
				     "\"data_collections\":[{\"data_collection\":\"s1.a\",\"event_count\":1},"
				     "{\"data_collection\":\"s2.a\",\"event_count\":1}],"
				     "\"ts_ms\":1486500577691}");
	sb.len = 0;
	event_txn_end_json(&sb, &plain, 1, 2, 3, 3, odd, 1);
	assert_non_null(strstr(sb.data, "\"data_collection\":\"we\\\"ird.t\\\\\""));

	/* with the schema block */
	sb.len = 0;
	event_txn_key_json(&sb, &schemas, 571, 53195829);
	v = json_loads(sb.data, JSON_REJECT_DUPLICATES, &err);
	if (!v)
		fail_msg("key not JSON (%s): %s", err.text, sb.data);
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "schema"), "name")),
			    "io.debezium.connector.common.TransactionMetadataKey");
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "payload"), "id")),
			    "571:53195829");
	json_decref(v);
	sb.len = 0;
	event_txn_begin_json(&sb, &schemas, 571, 53195829, 1486500577125);
	v = json_loads(sb.data, JSON_REJECT_DUPLICATES, &err);
	if (!v)
		fail_msg("BEGIN not JSON (%s): %s", err.text, sb.data);
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "schema"), "name")),
			    "io.debezium.connector.common.TransactionMetadataValue");
	fields = json_object_get(json_object_get(v, "schema"), "fields");
	assert_int_equal(json_array_size(fields), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(fields, 0), "field")), "status");
	assert_string_equal(json_string_value(json_object_get(json_array_get(fields, 2), "type")), "int64");
	assert_true(json_is_true(json_object_get(json_array_get(fields, 2), "optional")));
	dc = json_array_get(fields, 3);
	assert_string_equal(json_string_value(json_object_get(dc, "type")), "array");
	assert_string_equal(json_string_value(json_object_get(json_object_get(dc, "items"), "name")),
			    "event.collection");
	assert_true(json_is_true(json_object_get(dc, "optional")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(fields, 4), "field")), "ts_ms");
	assert_true(json_is_null(json_object_get(json_object_get(v, "payload"), "event_count")));
	assert_true(json_is_null(json_object_get(json_object_get(v, "payload"), "data_collections")));
	json_decref(v);
	sb.len = 0;
	event_txn_end_json(&sb, &schemas, 571, 53195832, 1486500577691, 2, tables, 2);
	v = json_loads(sb.data, JSON_REJECT_DUPLICATES, &err);
	if (!v)
		fail_msg("END not JSON (%s): %s", err.text, sb.data);
	assert_non_null(strstr(sb.data, ",\"payload\":{\"status\":\"END\",\"id\":\"571:53195832\",\"event_count\":2,"));
	assert_int_equal(json_array_size(json_object_get(json_object_get(v, "payload"), "data_collections")), 2);
	json_decref(v);
	strbuf_fini(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_table),
		cmocka_unit_test(test_one_parameters_object),
		cmocka_unit_test(test_debezium_forms),
		cmocka_unit_test(test_enum_and_header),
		cmocka_unit_test(test_transaction_block_table),
		cmocka_unit_test(test_transaction_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
