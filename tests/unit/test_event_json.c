/*
 * tests/unit/test_event_json.c: agent/event_json.c's schema blocks.  Each
 * field's schema must be JSON every reader takes the same way: one
 * "parameters" object holding a Decimal's scale and precision together with
 * the source type (a second member of the name hid the scale from jansson
 * and Jackson, which keep the last).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "event_json.h"

#include <jansson.h>
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
	struct event_format fmt = { .server_name = "db1server", .db = "db1", .schemas = true,
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
	struct event_format fmt = { .server_name = "db1server", .db = "db1", .schemas = true,
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
	struct event_format fmt = { .server_name = "db1server", .db = "db1", .schemas = true };
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_parameters_object),
		cmocka_unit_test(test_debezium_forms),
		cmocka_unit_test(test_enum_and_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
