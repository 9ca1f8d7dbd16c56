/*
 * tests/unit/test_apply_event.c: apply's reading of change events
 * (agent/apply/apply_event.c, with agent/base/json_scan.c's reader): our
 * own events, Debezium's with and without the schema block, values by target
 * column type, an update's before row read apart from its after row; and
 * malformed input (every prefix of a real event, bad
 * escapes, bad UTF-8, deep nesting, trailing bytes), which must fail with a
 * message saying what and where, never crash.
 *
 * Input is copied into heap buffers of exactly its length (plus the NUL the
 * reader's contract asks for), so the sanitizer build catches reads past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "apply/apply_event.h"
#include "base/json_scan.h"
#include "base/util.h"
#include "pipeline/event_format.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* A heap copy of text with the sentinel NUL; caller frees. */
static char *dup_text(const char *text, size_t len)
{
	char *c = xmalloc(len + 1);

	memcpy(c, text, len);
	c[len] = '\0';
	return c;
}

/* ---- events ---- */

#define SRC "\"source\":{\"version\":\"2.7.4.Final\",\"connector\":\"postgresql\",\"name\":\"db1server\",\"ts_ms\":1704067260123,\"snapshot\":\"false\",\"db\":\"db1\",\"sequence\":\"[\\\"24023200\\\",\\\"24023360\\\"]\",\"ts_us\":1704067260123456,\"ts_ns\":1704067260123456000,\"schema\":\"public\",\"table\":\"my_table\",\"txId\":743,\"lsn\":24023360,\"xmin\":null},\"transaction\":null"
#define EV_C "{\"before\":null,\"after\":{\"id\":4,\"name\":\"dave\"}," SRC ",\"op\":\"c\",\"ts_ms\":1704067260456,\"ts_us\":1704067260456789,\"ts_ns\":1704067260456789012}"
#define EV_D "{\"before\":{\"id\":4,\"name\":null},\"after\":null," SRC ",\"op\":\"d\",\"ts_ms\":1}"
#define EV_T "{\"before\":null,\"after\":null," SRC ",\"op\":\"t\",\"ts_ms\":1}"
#define COLUMNS "[{\"name\":\"id\",\"type\":\"integer\",\"optional\":false,\"key\":1},{\"name\":\"name\",\"type\":\"text\",\"optional\":true}]"
#define ROW_SCHEMA "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},{\"type\":\"string\",\"optional\":true,\"field\":\"name\"}],\"optional\":true,\"name\":\"db1server.public.my_table.Value\",\"field\":\"%s\"}"
#define VALUE_SCHEMA "{\"type\":\"struct\",\"fields\":[" ROW_SCHEMA "," ROW_SCHEMA ",{\"type\":\"string\",\"optional\":false,\"field\":\"op\"}],\"optional\":false,\"name\":\"db1server.public.my_table.Envelope\",\"version\":2}"
#define KEY_SCHEMA "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"}],\"optional\":false,\"name\":\"db1server.public.my_table.Key\"}"

struct parse_input {
	const char *key, *value, *unchanged, *columns;
};

/* Parses exact-size heap copies of the input into ev. */
static bool parse(struct apply_event *ev, const struct parse_input *in, struct strbuf *why)
{
	char *k = in->key ? dup_text(in->key, strlen(in->key)) : NULL;
	char *v = in->value ? dup_text(in->value, strlen(in->value)) : NULL;
	char *u = in->unchanged ? dup_text(in->unchanged, strlen(in->unchanged)) : NULL;
	char *c = in->columns ? dup_text(in->columns, strlen(in->columns)) : NULL;
	bool ok;

	why->len = 0;
	why->data[0] = '\0';
	ok = apply_event_parse(k, k ? strlen(k) : 0, v, v ? strlen(v) : 0, u, u ? strlen(u) : 0, c,
			       c ? strlen(c) : 0, ev, why);
	free(k);
	free(v);
	free(u);
	free(c);
	return ok;
}

static const struct column_schema col_int = { .name = "id", .type_sql = "integer", .base_type = "int4", .length = -1, .scale = -1 };
static const struct column_schema col_text = { .name = "name", .type_sql = "text", .base_type = "text", .length = -1, .scale = -1 };

/* The field's value as text for col ("NULL"/"UNCHANGED" for those kinds);
 * caller frees. */
static char *value_of(const struct apply_event *ev, const char *name,
		      const struct column_schema *col)
{
	const struct event_field *f = apply_event_field(ev, name, 0);
	struct strbuf out, why;
	enum apply_value kind;

	assert_non_null(f);
	strbuf_init(&out);
	strbuf_init(&why);
	if (!apply_event_value(f, col, &out, &kind, &why))
		fail_msg("%s: %s", name, why.data);
	strbuf_fini(&why);
	if (kind == APPLY_VALUE_NULL)
		strbuf_adds(&out, "NULL");
	else if (kind == APPLY_VALUE_UNCHANGED)
		strbuf_adds(&out, "UNCHANGED");
	return strbuf_detach(&out);
}

static void expect_text(const struct apply_event *ev, const char *name,
			 const struct column_schema *col, const char *want)
{
	char *got = value_of(ev, name, col);

	assert_string_equal(got, want);
	free(got);
}

static int ev_setup(void **state)
{
	struct apply_event *ev = xmalloc(sizeof(*ev));

	apply_event_init(ev);
	*state = ev;
	return 0;
}

static int ev_teardown(void **state)
{
	apply_event_fini(*state);
	free(*state);
	return 0;
}

static void test_event_ours(void **state)
{
	struct apply_event *ev = *state;
	struct parse_input in = { .key = "{\"id\":4}", .value = EV_C, .columns = COLUMNS };
	struct strbuf why;

	strbuf_init(&why);
	for (int round = 0; round < 2; round++) { /* the second from the caches */
		assert_true(parse(ev, &in, &why));
		assert_int_equal(ev->op, 'c');
		assert_string_equal(ev->schema, "public");
		assert_string_equal(ev->table, "my_table");
		assert_int_equal(ev->nfields, 2);
		assert_true(ev->has_types);
		assert_string_equal(ev->fields[0].name, "id");
		assert_int_equal(ev->fields[0].key_position, 1);
		assert_false(ev->fields[0].optional);
		assert_string_equal(ev->fields[1].source_type, "text");
		assert_int_equal(ev->fields[1].key_position, 0);
		assert_true(ev->fields[1].optional);
		expect_text(ev, "id", &col_int, "4");
		expect_text(ev, "name", &col_text, "dave");
	}
	in.value = EV_D;
	assert_true(parse(ev, &in, &why));
	assert_int_equal(ev->op, 'd');
	expect_text(ev, "id", &col_int, "4");
	expect_text(ev, "name", &col_text, "NULL");
	in.value = EV_T;
	in.key = NULL;
	assert_true(parse(ev, &in, &why));
	assert_int_equal(ev->op, 't');
	in.value = NULL; /* tombstone */
	in.key = "{\"id\":4}";
	assert_true(parse(ev, &in, &why));
	assert_int_equal(ev->op, 0);
	/* an unchanged TOAST column: listed in the header, or the placeholder */
	in.value = "{\"before\":null,\"after\":{\"id\":4,\"name\":\"__debezium_unavailable_value\"},\"source\":{\"schema\":\"public\",\"table\":\"my_table\"},\"op\":\"u\"}";
	in.unchanged = "[\"name\"]";
	assert_true(parse(ev, &in, &why));
	assert_true(ev->fields[1].unchanged);
	expect_text(ev, "name", &col_text, "UNCHANGED");
	strbuf_fini(&why);
}

static void test_event_debezium(void **state)
{
	struct apply_event *ev = *state;
	char *value = xasprintf("{\"schema\":" VALUE_SCHEMA ",\"payload\":%s}", "before", "after",
				"{\"before\":null,\"after\":{\"id\":6,\"name\":\"sn\\u00e4p\"}," SRC ",\"op\":\"r\",\"ts_ms\":1}");
	struct parse_input in = {
		.key = "{\"schema\":" KEY_SCHEMA ",\"payload\":{\"id\":6}}",
		.value = value,
	};
	struct strbuf why;

	strbuf_init(&why);
	for (int round = 0; round < 2; round++) /* the second takes the schema block as known */
		assert_true(parse(ev, &in, &why));
	assert_int_equal(ev->op, 'r');
	assert_string_equal(ev->table, "my_table");
	assert_int_equal(ev->nfields, 2);
	assert_true(ev->has_types);
	assert_non_null(ev->fields[0].schema);
	assert_null(ev->fields[0].source_type);
	assert_int_equal(ev->fields[0].key_position, 1);
	assert_false(ev->fields[0].optional);
	expect_text(ev, "name", &col_text, "sn\xc3\xa4p");
	{
		char *type = apply_event_sql_type(&ev->fields[0]);

		assert_string_equal(type, "integer");
		free(type);
	}
	free(value);
	/* the known schema block followed by anything else is still checked */
	value = xasprintf("{\"schema\":" VALUE_SCHEMA "x,\"payload\":{}}", "before", "after");
	in.value = value;
	assert_false(parse(ev, &in, &why));
	assert_non_null(strstr(why.data, "expected ',' or '}'"));
	free(value);
	value = xasprintf("{\"schema\":" VALUE_SCHEMA, "before", "after");
	in.value = value;
	assert_false(parse(ev, &in, &why));
	assert_non_null(strstr(why.data, "unexpected end of text"));
	free(value);
	/* schemaless, no header: no types, key from the key's payload */
	in.key = "{\"id\":4}";
	in.value = EV_C;
	assert_true(parse(ev, &in, &why));
	assert_false(ev->has_types);
	assert_null(ev->fields[0].schema);
	assert_int_equal(ev->fields[0].key_position, 1);
	/* a key that disagrees with its row, or names a column it lacks */
	in.key = "{\"id\":6}";
	assert_false(parse(ev, &in, &why));
	assert_non_null(strstr(why.data, "the key's value of column id differs from the \"after\" row's"));
	in.key = "{\"id\":\"4\"}";
	assert_false(parse(ev, &in, &why));
	in.key = "{\"id\":4,\"tenant\":1}";
	assert_false(parse(ev, &in, &why));
	assert_non_null(strstr(why.data, "the key's column tenant is not in the \"after\" row"));
	strbuf_fini(&why);
}

static void test_values(void **state)
{
	struct apply_event *ev = *state;
	struct parse_input in = {
		.value = "{\"after\":{\"d\":19723,\"ts\":1704067260123456,\"b\":\"3q2+7w==\","
			 "\"n\":\"BNI=\",\"vs\":{\"scale\":3,\"value\":\"+w==\"},\"f\":1.10,"
			 "\"big\":123456789012345678901234567890,\"a\":[\"x\\\"y\",null,\"z\"],"
			 "\"ni\":[1,2],\"t\":true,\"iv\":1500000,\"s\":\"PT1S\"},"
			 "\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}",
	};
	struct column_schema date = { .name = "d", .base_type = "date", .length = -1, .scale = -1 };
	struct column_schema ts = { .name = "ts", .base_type = "timestamp", .length = 6, .scale = -1 };
	struct column_schema bytea = { .name = "b", .base_type = "bytea", .length = -1, .scale = -1 };
	struct column_schema num2 = { .name = "n", .base_type = "numeric", .length = 10, .scale = 2 };
	struct column_schema num = { .name = "n", .base_type = "numeric", .length = -1, .scale = -1 };
	struct column_schema f8 = { .name = "f", .base_type = "float8", .length = -1, .scale = -1 };
	struct column_schema texts = { .name = "a", .base_type = "text", .is_array = true, .length = -1, .scale = -1 };
	struct column_schema ints = { .name = "ni", .base_type = "int4", .is_array = true, .length = -1, .scale = -1 };
	struct column_schema b = { .name = "t", .base_type = "bool", .length = -1, .scale = -1 };
	struct column_schema iv = { .name = "iv", .base_type = "interval", .length = -1, .scale = -1 };
	struct strbuf why, out;
	enum apply_value kind;

	strbuf_init(&why);
	assert_true(parse(ev, &in, &why));
	expect_text(ev, "d", &date, "2024-01-01");
	expect_text(ev, "ts", &ts, "2024-01-01 00:01:00.123456");
	expect_text(ev, "b", &bytea, "\\xdeadbeef");
	expect_text(ev, "n", &num2, "12.34");
	expect_text(ev, "vs", &num, "-0.005");
	expect_text(ev, "f", &f8, "1.10");      /* its own digits */
	expect_text(ev, "big", &num, "123456789012345678901234567890");
	expect_text(ev, "a", &texts, "{\"x\\\"y\",NULL,\"z\"}");
	expect_text(ev, "a", &texts, "{\"x\\\"y\",NULL,\"z\"}"); /* read twice */
	expect_text(ev, "ni", &ints, "{\"1\",\"2\"}");
	expect_text(ev, "t", &b, "t");
	expect_text(ev, "iv", &iv, "0 days 1500000 microseconds");
	expect_text(ev, "s", &iv, "PT1S");
	/* a base64 decimal without a scale anywhere is an error, not a guess */
	strbuf_init(&out);
	assert_false(apply_event_value(apply_event_field(ev, "n", 0), &num, &out, &kind, &why));
	assert_non_null(strstr(why.data, "without a declared scale"));
	strbuf_fini(&out);
	strbuf_fini(&why);
}

static void expect_parse_fails(struct apply_event *ev, const struct parse_input *in,
			       const char *needle)
{
	struct strbuf why;

	strbuf_init(&why);
	if (parse(ev, in, &why))
		fail_msg("accepted: %s", in->value);
	if (!strstr(why.data, needle))
		fail_msg("\"%s\" does not say \"%s\"", why.data, needle);
	strbuf_fini(&why);
}

static void test_event_malformed(void **state)
{
	struct apply_event *ev = *state;
	struct parse_input in = { .key = "{\"id\":4}", .columns = COLUMNS };
	const char *full = EV_C;
	char prefix[sizeof(EV_C)];

	/* every strict prefix of a real event */
	for (size_t n = 0; n < strlen(full); n++) {
		memcpy(prefix, full, n);
		prefix[n] = '\0';
		in.value = prefix;
		expect_parse_fails(ev, &in, n == 0 ? "unexpected end of text" : "value is not a JSON object");
	}
	in.value = "not json at all";
	expect_parse_fails(ev, &in, "value is not a JSON object (expected an object at byte 0)");
	in.value = "[1]";
	expect_parse_fails(ev, &in, "expected an object at byte 0");
	in.value = EV_C " {}";
	expect_parse_fails(ev, &in, "text after the JSON value");
	in.value = "{\"after\":{\"id\":4},\"source\":{\"schema\":\"public\",\"table\":\"my_table\"},\"op\":\"x\"}";
	expect_parse_fails(ev, &in, "not a change event");
	in.value = "{\"after\":{\"id\":4},\"source\":{\"schema\":\"public\"},\"op\":\"c\"}";
	expect_parse_fails(ev, &in, "not a change event");
	in.value = "{\"after\":{\"id\":4},\"source\":{\"schema\":\"public\",\"table\":7},\"op\":\"c\"}";
	expect_parse_fails(ev, &in, "not a change event");
	in.value = "{\"after\":null,\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}";
	expect_parse_fails(ev, &in, "c event without an \"after\" row");
	in.value = "{\"before\":[1],\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"d\"}";
	expect_parse_fails(ev, &in, "d event without a");
	in.value = "{\"after\":{\"id\":4,\"id\":5},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}";
	expect_parse_fails(ev, &in, "column id appears twice in the row");
	/* with a header of as many columns: a repeated name is still found,
	 * whether the header's own names are distinct or not */
	in.columns = COLUMNS;
	expect_parse_fails(ev, &in, "column id appears twice in the row");
	in.columns = "[{\"name\":\"id\",\"type\":\"integer\"},{\"name\":\"id\",\"type\":\"integer\"}]";
	expect_parse_fails(ev, &in, "column id appears twice in the row");
	in.value = "{\"after\":{\"name\":\"x\",\"id\":4},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}";
	in.columns = COLUMNS; /* another order than the header's: described by name */
	{
		struct strbuf why;

		strbuf_init(&why);
		assert_true(parse(ev, &in, &why));
		assert_string_equal(apply_event_field(ev, "id", 0)->source_type, "integer");
		assert_int_equal(apply_event_field(ev, "id", 0)->key_position, 1);
		assert_false(apply_event_field(ev, "id", 0)->optional);
		assert_string_equal(apply_event_field(ev, "name", 1)->source_type, "text");
		assert_true(apply_event_field(ev, "name", 1)->optional);
		strbuf_fini(&why);
	}
	in.columns = NULL;
	in.value = "{\"after\":{\"id\":\"\\u0000\"},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}";
	expect_parse_fails(ev, &in, "\\u0000 is not allowed in a string at byte 16");
	in.value = "{\"schema\":{},\"payload\":7}";
	expect_parse_fails(ev, &in, "not a change event");
	in.value = EV_C;
	in.key = "{\"id\":";
	expect_parse_fails(ev, &in, "key is not a JSON object (unexpected end of text at byte 6)");
	in.key = "{\"schema\":{},\"payload\":[1]}";
	expect_parse_fails(ev, &in, "key is not a JSON object");
	in.key = "{\"id\":4}";
	in.columns = "[{\"name\":";
	expect_parse_fails(ev, &in, "cdc.columns header is not valid JSON");
	in.columns = COLUMNS;
	in.unchanged = "[\"name\"";
	expect_parse_fails(ev, &in, "cdc.unchanged header is not valid JSON");
	in.unchanged = NULL;
	/* and the reader still works after all that */
	{
		struct strbuf why;

		strbuf_init(&why);
		assert_true(parse(ev, &in, &why));
		expect_text(ev, "name", &col_text, "dave");
		strbuf_fini(&why);
	}
}

/* ---- values at PostgreSQL's limits ---- */

/* The record {"after":{"v":VALUE}} of table public.t, with a schema block
 * giving field v the schema field_schema when that is not NULL; caller
 * frees. */
static char *record_of(const char *field_schema, const char *value)
{
	if (!field_schema)
		return xasprintf("{\"before\":null,\"after\":{\"v\":%s},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}",
				 value);
	return xasprintf("{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"fields\":[%s],\"optional\":true,\"field\":\"after\"}],\"optional\":false,\"name\":\"x.Envelope\"},"
			 "\"payload\":{\"before\":null,\"after\":{\"v\":%s},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}}",
			 field_schema, value);
}

/* Converts value (JSON) for col, with field_schema (or none): true with
 * *out set (caller frees), or false with *out the reason (caller frees). */
static bool convert(struct apply_event *ev, const char *field_schema, const char *value,
		    const struct column_schema *col, char **out)
{
	char *record = record_of(field_schema, value);
	struct parse_input in = { .value = record };
	struct strbuf why, text;
	enum apply_value kind;
	bool ok;

	strbuf_init(&why);
	strbuf_init(&text);
	if (!parse(ev, &in, &why))
		fail_msg("record does not parse: %s", why.data);
	ok = apply_event_value(apply_event_field(ev, "v", 0), col, &text, &kind, &why);
	*out = strbuf_detach(ok ? &text : &why);
	strbuf_fini(ok ? &why : &text);
	free(record);
	return ok;
}

static void expect_converted(struct apply_event *ev, const char *field_schema, const char *value,
			 const struct column_schema *col, const char *want)
{
	char *got;

	if (!convert(ev, field_schema, value, col, &got))
		fail_msg("%.80s: refused: %s", value, got);
	if (strcmp(got, want) != 0)
		fail_msg("%.80s: got \"%.200s\" (%zu bytes), expected \"%.200s\" (%zu bytes)", value,
			 got, strlen(got), want, strlen(want));
	free(got);
}

static void expect_refused(struct apply_event *ev, const char *field_schema, const char *value,
			   const struct column_schema *col, const char *needle)
{
	char *got;

	if (convert(ev, field_schema, value, col, &got))
		fail_msg("%.80s: accepted as \"%.200s\"", value, got);
	if (!strstr(got, needle))
		fail_msg("%.80s: refused with \"%s\", expected it to say \"%s\"", value, got, needle);
	free(got);
}

/* Base64 of the minimal two's-complement bytes of the integer with these
 * decimal digits (BN's conversion: independent of apply's); caller frees. */
static char *unscaled_b64(const char *digits, bool negative)
{
	BIGNUM *bn = NULL;
	size_t n;
	unsigned char *bytes;
	char *b64;

	assert_true(BN_dec2bn(&bn, digits) > 0);
	n = (size_t)BN_num_bytes(bn) + 1;
	bytes = xcalloc(n, 1);
	assert_true(BN_bn2binpad(bn, bytes + 1, (int)n - 1) == (int)n - 1);
	if (negative) { /* two's complement of the magnitude */
		unsigned carry = 1;

		for (size_t k = n; k-- > 0;) {
			unsigned v = (unsigned)(unsigned char)~bytes[k] + carry;

			bytes[k] = (unsigned char)v;
			carry = v >> 8;
		}
	}
	/* minimal: drop a sign byte the next byte repeats */
	size_t skip = n > 1 && ((bytes[0] == 0 && !(bytes[1] & 0x80)) ||
				(bytes[0] == 0xff && (bytes[1] & 0x80)));
	b64 = xmalloc((n - skip + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)b64, bytes + skip, (int)(n - skip));
	BN_free(bn);
	free(bytes);
	return b64;
}

/* ndigits pseudo-random digits, the first not 0; caller frees. */
static char *some_digits(size_t ndigits, unsigned seed)
{
	char *d = xmalloc(ndigits + 1);

	for (size_t i = 0; i < ndigits; i++) {
		seed = seed * 1103515245 + 12345;
		d[i] = (char)('0' + (seed >> 16) % 10);
	}
	if (d[0] == '0')
		d[0] = '7';
	d[ndigits] = '\0';
	return d;
}

/* digits at scale as PostgreSQL's text ("-123.45"); caller frees. */
static char *scaled_text(const char *digits, size_t scale, bool negative)
{
	size_t n = strlen(digits);
	struct strbuf sb;

	strbuf_init(&sb);
	if (negative)
		strbuf_adds(&sb, "-");
	if (n > scale) {
		strbuf_add(&sb, digits, n - scale);
		if (scale) {
			strbuf_adds(&sb, ".");
			strbuf_adds(&sb, digits + n - scale);
		}
	} else {
		strbuf_adds(&sb, "0.");
		for (size_t i = n; i < scale; i++)
			strbuf_adds(&sb, "0");
		strbuf_adds(&sb, digits);
	}
	return strbuf_detach(&sb);
}

/* A decimal of ndigits digits at scale round-trips exactly, both signs,
 * as VariableScaleDecimal and as Decimal with the schema's scale
 * (every_form); else, for the largest, whose conversion costs most of this
 * file's time, positive as VariableScaleDecimal and negative as Decimal:
 * the form only says where the scale is, and the smaller sizes check each
 * form with each sign. */
static void expect_decimal_round_trip(struct apply_event *ev, size_t ndigits, size_t scale,
				      unsigned seed, bool every_form)
{
	static const struct column_schema num = { .name = "v", .base_type = "numeric", .length = -1, .scale = -1 };
	char *digits = some_digits(ndigits, seed);

	for (int negative = 0; negative < 2; negative++) {
		char *b64 = unscaled_b64(digits, negative);
		char *want = scaled_text(digits, scale, negative);
		char *vsd = xasprintf("{\"scale\":%zu,\"value\":\"%s\"}", scale, b64);
		char *value = xasprintf("\"%s\"", b64);
		char *schema = xasprintf("{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,\"parameters\":{\"scale\":\"%zu\"},\"field\":\"v\"}",
					 scale);

		if (every_form || !negative)
			expect_converted(ev, NULL, vsd, &num, want);
		if (every_form || negative)
			expect_converted(ev, schema, value, &num, want);
		free(b64);
		free(want);
		free(vsd);
		free(value);
		free(schema);
	}
	free(digits);
}

static void test_decimal_limits(void **state)
{
	struct apply_event *ev = *state;
	struct column_schema num = { .name = "v", .base_type = "numeric", .length = -1, .scale = -1 };
	struct column_schema num2 = { .name = "v", .base_type = "numeric", .length = 10, .scale = 2 };
	const char *dec2 = "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,\"parameters\":{\"scale\":\"2\"},\"field\":\"v\"}";
	char *digits, *b64, *value, *want;

	/* the 64-bit fast path, its edges and past them */
	expect_converted(ev, NULL, "{\"scale\":0,\"value\":\"BNI=\"}", &num, "1234");
	expect_converted(ev, NULL, "{\"scale\":0,\"value\":\"/w==\"}", &num, "-1");
	expect_converted(ev, NULL, "{\"scale\":0,\"value\":\"AA==\"}", &num, "0");
	expect_converted(ev, NULL, "{\"scale\":2,\"value\":\"AA==\"}", &num, "0.00");
	expect_converted(ev, NULL, "{\"scale\":0,\"value\":\"gAAAAAAAAAA=\"}", &num, "-9223372036854775808");
	expect_converted(ev, NULL, "{\"scale\":0,\"value\":\"f/////////8=\"}", &num, "9223372036854775807");
	expect_converted(ev, NULL, "{\"scale\":0,\"value\":\"AP//////////\"}", &num, "18446744073709551615");
	expect_converted(ev, NULL, "{\"scale\":0,\"value\":\"AQAAAAAAAAAA\"}", &num, "18446744073709551616");
	expect_converted(ev, NULL, "{\"scale\":4,\"value\":\"/wAAAAAAAAAA\"}", &num, "-1844674407370955.1616");
	expect_converted(ev, NULL, "{\"scale\":0,\"value\":\"gAAAAAAAAAAAAAAAAAAAAA==\"}", &num,
		     "-170141183460469231731687303715884105728");
	/* exact at 1000 digits, and at the most numeric holds: 131072 digits
	 * before the point and 16383 after (the old code kept 576 digits) */
	expect_decimal_round_trip(ev, 1000, 0, 1, true);
	expect_decimal_round_trip(ev, 1000, 500, 2, true);
	expect_decimal_round_trip(ev, 1000, 1000, 3, true);
	expect_decimal_round_trip(ev, 131072 + 16383, 16383, 4, false);
	/* negative scales (a Java BigDecimal's 1.2345E+7), and zero at one */
	expect_converted(ev, NULL, "{\"scale\":-3,\"value\":\"MDk=\"}", &num, "12345000");
	expect_converted(ev, NULL, "{\"scale\":-5,\"value\":\"AA==\"}", &num, "0");
	/* the largest scale */
	want = xasprintf("0.%0*d1234", 16379, 0);
	expect_converted(ev, NULL, "{\"scale\":16383,\"value\":\"BNI=\"}", &num, want);
	free(want);
	/* refused beyond it, saying why */
	expect_refused(ev, NULL, "{\"scale\":16384,\"value\":\"BNI=\"}", &num, "decimal scale 16384 is out of PostgreSQL's range (-131072 to 16383)");
	expect_refused(ev, NULL, "{\"scale\":-131073,\"value\":\"BNI=\"}", &num, "decimal scale -131073 is out of");
	expect_refused(ev, NULL, "{\"scale\":-9223372036854775808,\"value\":\"BNI=\"}", &num, "is out of PostgreSQL's range");
	expect_refused(ev, NULL, "{\"scale\":-131069,\"value\":\"BNI=\"}", &num,
		       "decimal of 4 digits at scale -131069 has 131073 digits before the point, more than PostgreSQL's numeric holds (131072)");
	want = xcalloc(131073, 1);
	memcpy(want, "1234", 4);
	memset(want + 4, '0', 131068);
	expect_converted(ev, NULL, "{\"scale\":-131068,\"value\":\"BNI=\"}", &num, want);
	free(want);
	digits = some_digits(131073, 5);
	b64 = unscaled_b64(digits, false);
	value = xasprintf("{\"scale\":0,\"value\":\"%s\"}", b64);
	expect_refused(ev, NULL, value, &num, "has 131073 digits before the point");
	free(value);
	value = xasprintf("{\"scale\":1,\"value\":\"%s\"}", b64);
	want = scaled_text(digits, 1, false);
	expect_converted(ev, NULL, value, &num, want);
	free(want);
	free(value);
	free(b64);
	free(digits);
	/* too long to be any numeric: refused before it is decoded */
	value = xmalloc(200000);
	strcpy(value, "{\"scale\":0,\"value\":\"");
	memset(value + strlen(value), 'A', 81644);
	strcpy(value + strlen("{\"scale\":0,\"value\":\"") + 81644, "\"}");
	expect_refused(ev, NULL, value, &num, "decimal of 81644 base64 characters is longer than the largest numeric (61230 bytes unscaled)");
	free(value);
	/* the schema's Decimal settles that "1234" is base64 (0xd76df8) */
	expect_converted(ev, dec2, "\"1234\"", &num, "-26588.24");
	expect_converted(ev, NULL, "\"1234\"", &num, "1234"); /* without: digits */
	expect_refused(ev, "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\",\"parameters\":{\"scale\":\"99999999999999999999\"},\"field\":\"v\"}",
		       "\"BNI=\"", &num, "decimal scale \"99999999999999999999\" in the schema block is not an integer");
	expect_refused(ev, "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\",\"parameters\":{\"scale\":\"2x\"},\"field\":\"v\"}",
		       "\"BNI=\"", &num, "decimal scale \"2x\" in the schema block is not an integer");
	/* not base64: blanks EVP_DecodeBlock would skip (and count), an
	 * empty value, a missing member */
	expect_refused(ev, NULL, "\"BNI=    \"", &num2, "is neither a decimal number nor base64");
	expect_refused(ev, NULL, "\"    BNI=\"", &num2, "is neither a decimal number nor base64");
	expect_refused(ev, dec2, "\"\"", &num2, "is neither a decimal number nor base64");
	expect_refused(ev, NULL, "{\"scale\":2}", &num, "without an integer \"scale\" and a base64 \"value\"");
	expect_refused(ev, NULL, "{\"scale\":2.5,\"value\":\"BNI=\"}", &num, "without an integer \"scale\"");
	{
		struct column_schema bytea = { .name = "v", .base_type = "bytea", .length = -1, .scale = -1 };

		expect_converted(ev, NULL, "\"3q2+7w==\"", &bytea, "\\xdeadbeef");
		expect_converted(ev, NULL, "\"\"", &bytea, "\\x");
		expect_refused(ev, NULL, "\"3q2+7w==    \"", &bytea, "bytea value is not base64");
	}
}

#define TIME_SCHEMA(name) "{\"type\":\"int64\",\"optional\":true,\"name\":\"" name "\",\"version\":1,\"field\":\"v\"}"

static void test_time_limits(void **state)
{
	struct apply_event *ev = *state;
	struct column_schema date = { .name = "v", .base_type = "date", .length = -1, .scale = -1 };
	struct column_schema time6 = { .name = "v", .base_type = "time", .length = 6, .scale = -1 };
	struct column_schema time3 = { .name = "v", .base_type = "time", .length = 3, .scale = -1 };
	struct column_schema ts6 = { .name = "v", .base_type = "timestamp", .length = 6, .scale = -1 };
	struct column_schema ts3 = { .name = "v", .base_type = "timestamp", .length = 3, .scale = -1 };
	struct column_schema iv = { .name = "v", .base_type = "interval", .length = -1, .scale = -1 };
	static const struct {
		const char *days, *text;
	} dates[] = {
		{ "0", "1970-01-01" },
		{ "-1", "1969-12-31" },
		{ "11016", "2000-02-29" },       /* leap: divisible by 400 */
		{ "-25509", "1900-02-28" },      /* not leap: by 100 */
		{ "-25508", "1900-03-01" },
		{ "19782", "2024-02-29" },
		{ "-719162", "0001-01-01" },
		{ "-719163", "0001-12-31 BC" },  /* no year 0 */
		{ "-719528", "0001-01-01 BC" },
		{ "-720930", "0005-02-29 BC" },  /* 5 BC is leap (year -4) */
		{ "-720929", "0005-03-01 BC" },
		{ "-735160", "0044-03-15 BC" },
		{ "-2440588", "4714-11-24 BC" }, /* PostgreSQL's first date */
		{ "2145042905", "5874897-12-31" }, /* and its last */
	};
	static const char *bad_days[] = {
		"9223372036854775807", "-9223372036854775808", "-2440589", "2145042906",
	};

	for (size_t i = 0; i < ARRAY_LEN(dates); i++)
		expect_converted(ev, NULL, dates[i].days, &date, dates[i].text);
	for (size_t i = 0; i < ARRAY_LEN(bad_days); i++) {
		char *needle = xasprintf("date %s (days since 1970-01-01) is out of PostgreSQL's range (4714-11-24 BC to 5874897-12-31)",
					 bad_days[i]);

		expect_refused(ev, NULL, bad_days[i], &date, needle);
		free(needle);
	}
	expect_converted(ev, TIME_SCHEMA("org.apache.kafka.connect.data.Date"), "-735160", &date, "0044-03-15 BC");
	/* numbers that are not integers would be read as something else */
	expect_refused(ev, NULL, "19723.5", &date, "date value 19723.5 is not an integer (of days)");
	expect_refused(ev, NULL, "1e3", &date, "date value 1e3 is not an integer");
	expect_refused(ev, NULL, "99999999999999999999", &date, "is not an integer");
	expect_refused(ev, NULL, "1.5", &iv, "interval value 1.5 is not an integer (of microseconds)");
	expect_converted(ev, NULL, "\"2024-01-31\"", &date, "2024-01-31"); /* text stays text */

	/* time of day: 00:00 to 24:00 in each unit */
	expect_converted(ev, NULL, "0", &time6, "00:00:00.000000");
	expect_converted(ev, NULL, "86400000000", &time6, "24:00:00.000000");
	expect_converted(ev, NULL, "45296789012", &time6, "12:34:56.789012");
	expect_refused(ev, NULL, "86400000001", &time6, "time 86400000001 (microseconds since midnight) is out of PostgreSQL's range (00:00:00 to 24:00:00)");
	expect_refused(ev, NULL, "-1", &time6, "time -1 (microseconds since midnight) is out of");
	expect_refused(ev, NULL, "9223372036854775807", &time6, "is out of PostgreSQL's range");
	expect_refused(ev, NULL, "-9223372036854775808", &time6, "is out of PostgreSQL's range");
	expect_converted(ev, NULL, "86400000", &time3, "24:00:00.000000");
	expect_refused(ev, NULL, "86400001", &time3, "time 86400001 (milliseconds since midnight)");
	expect_refused(ev, NULL, "9223372036854775807", &time3, "(milliseconds since midnight) is out of");
	expect_converted(ev, TIME_SCHEMA("io.debezium.time.Time"), "45296789", &time6, "12:34:56.789000");
	expect_converted(ev, TIME_SCHEMA("org.apache.kafka.connect.data.Time"), "1000", &time6, "00:00:01.000000");
	expect_converted(ev, TIME_SCHEMA("io.debezium.time.MicroTime"), "1000", &time3, "00:00:00.001000");
	expect_converted(ev, TIME_SCHEMA("io.debezium.time.NanoTime"), "1", &time6, "00:00:00.000000001");
	expect_converted(ev, TIME_SCHEMA("io.debezium.time.NanoTime"), "86400000000000", &time6, "24:00:00.000000000");
	expect_refused(ev, TIME_SCHEMA("io.debezium.time.NanoTime"), "86400000000001", &time6, "(nanoseconds since midnight)");

	/* timestamps: 4714-11-24 00:00:00 BC on, whole range of int64 micros
	 * after it, to 294276-12-31 23:59:59.999 in millis */
	expect_converted(ev, NULL, "1704067260123456", &ts6, "2024-01-01 00:01:00.123456");
	expect_converted(ev, NULL, "-1", &ts6, "1969-12-31 23:59:59.999999");
	expect_converted(ev, NULL, "-210866803200000000", &ts6, "4714-11-24 00:00:00.000000 BC");
	expect_converted(ev, NULL, "-62135596800000001", &ts6, "0001-12-31 23:59:59.999999 BC");
	expect_refused(ev, NULL, "-210866803200000001", &ts6,
		       "timestamp -210866803200000001 (microseconds since 1970-01-01 00:00:00) is out of PostgreSQL's range (4714-11-24 00:00:00 BC to 294276-12-31 23:59:59.999999)");
	expect_refused(ev, NULL, "-9223372036854775808", &ts6, "is out of PostgreSQL's range");
	expect_converted(ev, NULL, "9223372036854775807", &ts6, "294247-01-10 04:00:54.775807");
	expect_converted(ev, NULL, "9224318015999999", &ts3, "294276-12-31 23:59:59.999000");
	expect_refused(ev, NULL, "9224318016000000", &ts3, "timestamp 9224318016000000 (milliseconds since 1970-01-01 00:00:00) is out of");
	expect_refused(ev, NULL, "9223372036854775807", &ts3, "(milliseconds since 1970-01-01 00:00:00) is out of");
	expect_refused(ev, NULL, "-9223372036854775808", &ts3, "is out of PostgreSQL's range");
	expect_converted(ev, TIME_SCHEMA("org.apache.kafka.connect.data.Timestamp"), "1000", &ts6, "1970-01-01 00:00:01.000000");
	expect_converted(ev, TIME_SCHEMA("io.debezium.time.Timestamp"), "-1", &ts6, "1969-12-31 23:59:59.999000");
	expect_converted(ev, TIME_SCHEMA("io.debezium.time.MicroTimestamp"), "-1", &ts3, "1969-12-31 23:59:59.999999");
	expect_converted(ev, TIME_SCHEMA("io.debezium.time.NanoTimestamp"), "-1", &ts6, "1969-12-31 23:59:59.999999999");
	expect_converted(ev, TIME_SCHEMA("io.debezium.time.NanoTimestamp"), "9223372036854775807", &ts6, "2262-04-11 23:47:16.854775807");
	expect_converted(ev, TIME_SCHEMA("io.debezium.time.NanoTimestamp"), "-9223372036854775808", &ts6, "1677-09-21 00:12:43.145224192");
	/* intervals: any int64 of microseconds */
	expect_converted(ev, NULL, "-9223372036854775808", &iv, "-106751991 days -14454775808 microseconds");
	expect_converted(ev, NULL, "102567600000000", &iv, "1187 days 10800000000 microseconds");
}

/* cdc.text: the text of a value the event sends as null (NaN under
 * decimal_handling = precise), only for such a field. */
static void test_texts(void **state)
{
	struct apply_event *ev = *state;
	struct column_schema num = { .name = "n", .base_type = "numeric", .length = -1, .scale = -1 };
	struct parse_input in = {
		.value = "{\"after\":{\"id\":4,\"n\":null,\"a\":[\"AQ==\",null]},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}",
	};
	static const char *const bad[] = { "{\"id\":\"5\"}", "{\"x\":\"NaN\"}", "{\"n\":1}", "[\"n\"]", "{" };
	struct strbuf why, out;
	enum apply_value kind;

	strbuf_init(&why);
	strbuf_init(&out);
	assert_true(parse(ev, &in, &why));
	assert_true(apply_event_texts(ev, "{\"n\":\"NaN\"}", 11, &why));
	assert_true(apply_event_value(apply_event_field(ev, "n", 1), &num, &out, &kind, &why));
	assert_int_equal(kind, APPLY_VALUE_TEXT);
	assert_string_equal(out.data, "NaN");
	assert_true(parse(ev, &in, &why));
	assert_true(apply_event_texts(ev, "{\"a\":\"{0.1,NaN}\"}", 17, &why));
	assert_string_equal(apply_event_field(ev, "a", 2)->text, "{0.1,NaN}");
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_true(parse(ev, &in, &why));
		if (apply_event_texts(ev, bad[i], strlen(bad[i]), &why))
			fail_msg("%s: taken", bad[i]);
		assert_non_null(strstr(why.data, "cdc.text header"));
		why.len = 0;
		why.data[0] = '\0';
	}
	/* a parse forgets the last record's texts */
	assert_true(parse(ev, &in, &why));
	assert_null(apply_event_field(ev, "n", 1)->text);
	/* capture's cdc.columns starts with a word (Connect keeps it a string) */
	in.columns = EVENT_COLUMNS_PREFIX "[{\"name\":\"id\",\"type\":\"integer\",\"optional\":false,\"key\":1},"
		     "{\"name\":\"n\",\"type\":\"numeric(5,1)\",\"optional\":true}]";
	assert_true(parse(ev, &in, &why));
	assert_string_equal(apply_event_field(ev, "n", 1)->source_type, "numeric(5,1)");
	strbuf_fini(&why);
	strbuf_fini(&out);
}

#define BITS_SCHEMA(len) "{\"type\":\"bytes\",\"optional\":true,\"name\":\"io.debezium.data.Bits\",\"version\":1,\"parameters\":{\"length\":\"" len "\"},\"field\":\"v\"}"

/* Debezium's bit(n): a boolean for bit(1), else Bits' little-endian bytes. */
static void test_bits(void **state)
{
	struct apply_event *ev = *state;
	struct column_schema bit1 = { .name = "v", .base_type = "bit", .length = 1, .scale = -1 };
	struct column_schema bit3 = { .name = "v", .base_type = "bit", .length = 3, .scale = -1 };
	struct column_schema bit12 = { .name = "v", .base_type = "bit", .length = 12, .scale = -1 };

	expect_converted(ev, NULL, "true", &bit1, "1");
	expect_converted(ev, NULL, "false", &bit1, "0");
	expect_converted(ev, BITS_SCHEMA("3"), "\"BQ==\"", &bit3, "101");
	expect_converted(ev, BITS_SCHEMA("3"), "\"\"", &bit3, "000");
	expect_converted(ev, BITS_SCHEMA("12"), "\"AQg=\"", &bit12, "100000000001");
	/* without a schema block: n binary digits are the text, else Bits */
	expect_converted(ev, NULL, "\"101\"", &bit3, "101");
	expect_converted(ev, NULL, "\"BQ==\"", &bit3, "101");
	expect_converted(ev, NULL, "\"\"", &bit3, "000");
	expect_converted(ev, NULL, "\"AQg=\"", &bit12, "100000000001");
	expect_refused(ev, BITS_SCHEMA("2"), "\"BQ==\"", &bit3, "has bits beyond its length 2");
	expect_refused(ev, BITS_SCHEMA("x"), "\"BQ==\"", &bit3, "bit length \"x\" in the schema block");
	expect_refused(ev, BITS_SCHEMA("3"), "\"B?==\"", &bit3, "is not base64");
}

/* A header's generated columns become fields where the header has them
 * (the table is created in the source's order), never with a value; a
 * row that also has the column is refused; "udt" reaches the field. */
static void test_generated_and_udt(void **state)
{
	struct apply_event *ev = *state;
	struct parse_input in = {
		.key = "{\"id\":4}",
		.value = "{\"before\":null,\"after\":{\"id\":4,\"name\":\"dave\",\"m\":\"ok\"},\"source\":{\"schema\":\"public\",\"table\":\"my_table\"},\"op\":\"c\"}",
		.columns = "[{\"name\":\"id\",\"type\":\"integer\",\"optional\":false,\"key\":1},"
			   "{\"name\":\"g\",\"type\":\"integer\",\"optional\":true,\"generated\":\"(id * 2)\"},"
			   "{\"name\":\"name\",\"type\":\"text\",\"optional\":true},"
			   "{\"name\":\"m\",\"type\":\"mood\",\"optional\":true,\"udt\":{\"kind\":\"enum\",\"schema\":\"public\",\"name\":\"mood\",\"labels\":[\"ok\"]}},"
			   "{\"name\":\"last\",\"type\":\"text\",\"optional\":true,\"generated\":\"upper(name)\"}]",
	};
	struct strbuf why;

	strbuf_init(&why);
	for (int round = 0; round < 2; round++) { /* the second from the caches */
		assert_true(parse(ev, &in, &why));
		assert_int_equal(ev->nfields, 5);
		assert_string_equal(ev->fields[0].name, "id");
		assert_string_equal(ev->fields[1].name, "g");
		assert_string_equal(ev->fields[1].generated, "(id * 2)");
		assert_string_equal(ev->fields[1].source_type, "integer");
		assert_true(ev->fields[1].unchanged);
		expect_text(ev, "g", &col_int, "UNCHANGED");
		assert_string_equal(ev->fields[2].name, "name");
		assert_null(ev->fields[2].generated);
		expect_text(ev, "name", &col_text, "dave");
		assert_string_equal(ev->fields[3].name, "m");
		assert_non_null(ev->fields[3].udt);
		assert_string_equal(json_string_value(json_object_get(ev->fields[3].udt, "kind")), "enum");
		assert_null(ev->fields[0].udt);
		assert_string_equal(ev->fields[4].name, "last");
		assert_string_equal(ev->fields[4].generated, "upper(name)");
		assert_int_equal(ev->fields[4].key_position, 0);
	}
	/* the row carries a value for a column the header says is generated */
	in.value = "{\"before\":null,\"after\":{\"id\":4,\"g\":9,\"name\":\"dave\",\"m\":\"ok\"},\"source\":{\"schema\":\"public\",\"table\":\"my_table\"},\"op\":\"c\"}";
	assert_false(parse(ev, &in, &why));
	assert_non_null(strstr(why.data, "column g appears twice"));
	strbuf_fini(&why);
}

/* The header's object form (capture's since schema evolution): version,
 * attnum, default and missing per column; the array form still reads. */
static void test_columns_header_object(void **state)
{
	struct apply_event *ev = *state;
	struct parse_input in = {
		.key = "{\"id\":4}", .value = EV_C,
		.columns = "{\"version\":24023360,\"columns\":[{\"name\":\"id\",\"type\":\"integer\","
			   "\"optional\":false,\"key\":1,\"attnum\":1},{\"name\":\"name\",\"type\":\"text\","
			   "\"optional\":true,\"attnum\":3,\"default\":\"'x'::text\",\"missing\":\"x\"}]}"
	};
	struct strbuf why;

	strbuf_init(&why);
	assert_true(parse(ev, &in, &why));
	assert_true(ev->has_columns);
	assert_int_equal(ev->schema_version, 24023360);
	assert_false(ev->schema_trusted);
	assert_int_equal(ev->fields[0].attnum, 1);
	assert_int_equal(ev->fields[0].key_position, 1);
	assert_null(ev->fields[0].default_expr);
	assert_int_equal(ev->fields[1].attnum, 3);
	assert_string_equal(ev->fields[1].source_type, "text");
	assert_string_equal(ev->fields[1].default_expr, "'x'::text");
	assert_string_equal(ev->fields[1].missing, "x");
	/* an attnum out of int2's range is no attnum */
	in.columns = "{\"version\":1,\"columns\":[{\"name\":\"id\",\"attnum\":40000},{\"name\":\"name\",\"attnum\":-2}]}";
	assert_true(parse(ev, &in, &why));
	assert_int_equal(ev->fields[0].attnum, 0);
	assert_int_equal(ev->fields[1].attnum, 0);
	in.columns = COLUMNS;
	assert_true(parse(ev, &in, &why));
	assert_true(ev->has_columns);
	assert_int_equal(ev->schema_version, 0);
	assert_int_equal(ev->fields[1].attnum, 0);
	in.columns = NULL;
	assert_true(parse(ev, &in, &why));
	assert_false(ev->has_columns);
	strbuf_fini(&why);
}

/* An update's before row is read on demand, apart from the after row; the
 * cdc.unchanged header speaks of the after row only. */
static void test_before_row(void **state)
{
	static const char with_before[] =
		"{\"before\":{\"a\":1,\"b\":\"old\",\"c\":null},"
		"\"after\":{\"a\":2,\"b\":\"__debezium_unavailable_value\",\"c\":null},"
		"\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"u\"}";
	static const char without_before[] =
		"{\"before\":null,\"after\":{\"a\":2,\"b\":\"x\",\"c\":null},"
		"\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"u\"}";
	static const char unchanged[] = "[\"b\"]";
	struct apply_event ev;
	struct strbuf why;
	bool present;

	(void)state;
	apply_event_init(&ev);
	strbuf_init(&why);
	assert_true(apply_event_parse(NULL, 0, with_before, strlen(with_before), unchanged,
				      strlen(unchanged), NULL, 0, &ev, &why));
	assert_int_equal(ev.nfields, 3);
	assert_true(ev.fields[1].unchanged);
	assert_true(apply_event_before(&ev, &present, &why));
	assert_true(present);
	assert_int_equal(ev.nbefore, 3);
	assert_string_equal(ev.before[1].name, "b");
	assert_false(ev.before[1].unchanged);
	assert_int_equal(ev.before[1].value.len, 3);
	assert_memory_equal(ev.before[1].value.text, "old", 3);
	/* the after row is still there, as it was */
	assert_int_equal(ev.nfields, 3);
	assert_true(ev.fields[1].unchanged);
	assert_memory_equal(ev.fields[0].value.text, "2", 1);

	assert_true(apply_event_parse(NULL, 0, without_before, strlen(without_before), NULL, 0,
				      NULL, 0, &ev, &why));
	assert_true(apply_event_before(&ev, &present, &why));
	assert_false(present);
	strbuf_fini(&why);
	apply_event_fini(&ev);
}

#define T(f) cmocka_unit_test_setup_teardown(f, ev_setup, ev_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_event_ours),
		T(test_columns_header_object),
		T(test_generated_and_udt),
		T(test_event_debezium),
		T(test_values),
		T(test_decimal_limits),
		T(test_time_limits),
		T(test_bits),
		T(test_texts),
		T(test_event_malformed),
		cmocka_unit_test(test_before_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
