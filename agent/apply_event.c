/*
 * agent/apply_event.c: change events read back for apply.
 */
#include "apply_event.h"

#include "event_json.h"
#include "pg_text.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USEC_PER_SEC INT64_C(1000000)
#define USEC_PER_DAY (INT64_C(86400) * USEC_PER_SEC)
/* The placeholder's bytes in base64, as Debezium sends it for bytea. */
#define PLACEHOLDER_BASE64 "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="

static const char *json_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The "fields" of the struct field named name in a Struct schema. */
static json_t *struct_fields(json_t *schema, const char *name)
{
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(schema, "fields"), i, f) {
		const char *fname = json_str(f, "field");

		if (fname && strcmp(fname, name) == 0)
			return json_object_get(f, "fields");
	}
	return NULL;
}

static json_t *field_schema(json_t *fields, const char *name)
{
	size_t i;
	json_t *f;

	json_array_foreach(fields, i, f) {
		const char *fname = json_str(f, "field");

		if (fname && strcmp(fname, name) == 0)
			return f;
	}
	return NULL;
}

static bool is_placeholder(json_t *v)
{
	const char *s = json_string_value(v);

	if (json_is_array(v) && json_array_size(v) == 1)
		s = json_string_value(json_array_get(v, 0));
	return s && (strcmp(s, EVENT_UNAVAILABLE_VALUE) == 0 || strcmp(s, PLACEHOLDER_BASE64) == 0);
}

static bool name_listed(json_t *list, const char *name)
{
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
		if (json_string_value(item) && strcmp(json_string_value(item), name) == 0)
			return true;
	return false;
}

/* Key positions from the key's payload, in its field order. */
static int key_position(json_t *key_payload, const char *name)
{
	const char *k;
	json_t *v;
	int pos = 0;

	json_object_foreach(key_payload, k, v) {
		pos++;
		if (strcmp(k, name) == 0)
			return pos;
	}
	return 0;
}

static json_t *column_info(json_t *columns, const char *name)
{
	size_t i;
	json_t *c;

	json_array_foreach(columns, i, c) {
		const char *cname = json_str(c, "name");

		if (cname && strcmp(cname, name) == 0)
			return c;
	}
	return NULL;
}

static bool parse_fields(struct apply_event *ev, json_t *row, json_t *row_schema,
			 json_t *key_payload, json_t *unchanged)
{
	const char *name;
	json_t *v;
	size_t n = 0;

	ev->nfields = json_object_size(row);
	ev->fields = xcalloc(ev->nfields ? ev->nfields : 1, sizeof(*ev->fields));
	ev->has_types = true;
	json_object_foreach(row, name, v) {
		struct event_field *f = &ev->fields[n++];
		json_t *info = column_info(ev->columns, name);

		f->name = name;
		f->value = v;
		f->schema = field_schema(row_schema, name);
		f->source_type = info ? json_str(info, "type") : NULL;
		f->key_position = key_position(key_payload, name);
		if (!f->key_position && info)
			f->key_position = (int)json_integer_value(json_object_get(info, "key"));
		f->optional = f->schema ? json_is_true(json_object_get(f->schema, "optional"))
			      : info     ? json_is_true(json_object_get(info, "optional"))
					 : true;
		f->unchanged = name_listed(unchanged, name) || is_placeholder(v);
		if (!f->schema && !f->source_type)
			ev->has_types = false;
	}
	return true;
}

bool apply_event_parse(const void *key, size_t key_len, const void *value, size_t value_len,
		       const char *unchanged_hdr, size_t unchanged_len, const char *columns_hdr,
		       size_t columns_len, struct apply_event *ev, struct strbuf *why)
{
	json_error_t err;
	json_t *payload, *schema = NULL, *source, *row, *key_payload = NULL, *unchanged = NULL;
	const char *op;

	memset(ev, 0, sizeof(*ev));
	if (!value)
		return true; /* tombstone: the delete before it did the work */
	ev->value_root = json_loadb(value, value_len, 0, &err);
	if (!ev->value_root || !json_is_object(ev->value_root)) {
		strbuf_addf(why, "value is not a JSON object (%s at byte %d)",
			    ev->value_root ? "not an object" : err.text, err.position);
		return false;
	}
	payload = ev->value_root;
	if (json_object_get(payload, "payload") && json_object_get(payload, "schema")) {
		schema = json_object_get(payload, "schema");
		payload = json_object_get(payload, "payload");
	}
	op = json_str(payload, "op");
	source = json_object_get(payload, "source");
	ev->schema = json_str(source, "schema");
	ev->table = json_str(source, "table");
	ev->source_ts_ms = json_integer_value(json_object_get(source, "ts_ms"));
	if (!op || strlen(op) != 1 || !strchr("curdt", op[0]) || !ev->schema || !ev->table) {
		strbuf_adds(why, "not a change event (no op c/u/r/d/t, or no source.schema and source.table)");
		return false;
	}
	ev->op = op[0];
	if (key) {
		ev->key_root = json_loadb(key, key_len, 0, &err);
		key_payload = json_object_get(ev->key_root, "payload");
		if (!key_payload || !json_object_get(ev->key_root, "schema"))
			key_payload = ev->key_root;
		if (!json_is_object(key_payload)) {
			strbuf_adds(why, "key is not a JSON object");
			return false;
		}
	}
	if (columns_hdr)
		ev->columns = json_loadb(columns_hdr, columns_len, 0, &err);
	if (unchanged_hdr)
		unchanged = json_loadb(unchanged_hdr, unchanged_len, 0, &err);
	if (ev->op == 't') {
		json_decref(unchanged);
		return true;
	}
	row = json_object_get(payload, ev->op == 'd' ? "before" : "after");
	if (!json_is_object(row)) {
		json_decref(unchanged);
		strbuf_addf(why, "%s event without an \"%s\" row", op, ev->op == 'd' ? "before" : "after");
		return false;
	}
	parse_fields(ev, row, struct_fields(schema, ev->op == 'd' ? "before" : "after"), key_payload,
		     unchanged);
	json_decref(unchanged);
	return true;
}

void apply_event_fini(struct apply_event *ev)
{
	free(ev->fields);
	json_decref(ev->value_root);
	json_decref(ev->key_root);
	json_decref(ev->columns);
	memset(ev, 0, sizeof(*ev));
}

const struct event_field *apply_event_field(const struct apply_event *ev, const char *name)
{
	for (size_t i = 0; i < ev->nfields; i++)
		if (strcmp(ev->fields[i].name, name) == 0)
			return &ev->fields[i];
	return NULL;
}

/* ---- SQL types for auto_create ------------------------------------------- */

/* From Debezium's column.propagate.source.type parameters. */
static char *type_from_params(json_t *params)
{
	const char *type = json_str(params, "__debezium.source.column.type");
	const char *len = json_str(params, "__debezium.source.column.length");
	const char *scale = json_str(params, "__debezium.source.column.scale");
	bool array = type && type[0] == '_';
	struct strbuf sb;

	if (!type)
		return NULL;
	strbuf_init(&sb);
	for (const char *p = type + (array ? 1 : 0); *p; p++) {
		char c = (char)tolower((unsigned char)*p);

		strbuf_add(&sb, &c, 1);
	}
	if (len && scale && strcmp(sb.data, "numeric") == 0)
		strbuf_addf(&sb, "(%s,%s)", len, scale);
	else if (len && (strcmp(sb.data, "varchar") == 0 || strcmp(sb.data, "bpchar") == 0 ||
			 strcmp(sb.data, "numeric") == 0 || strcmp(sb.data, "bit") == 0 ||
			 strcmp(sb.data, "varbit") == 0 || strncmp(sb.data, "time", 4) == 0))
		strbuf_addf(&sb, "(%s)", len);
	if (array)
		strbuf_adds(&sb, "[]");
	return strbuf_detach(&sb);
}

/* From the Connect schema alone (Debezium's defaults, no source types). */
static char *type_from_schema(json_t *schema)
{
	static const struct {
		const char *name;
		const char *sql;
	} named[] = {
		{ "io.debezium.time.Date", "date" },
		{ "io.debezium.time.Time", "time(3)" },
		{ "io.debezium.time.MicroTime", "time" },
		{ "io.debezium.time.Timestamp", "timestamp(3)" },
		{ "io.debezium.time.MicroTimestamp", "timestamp" },
		{ "io.debezium.time.ZonedTimestamp", "timestamptz" },
		{ "io.debezium.time.ZonedTime", "timetz" },
		{ "io.debezium.time.MicroDuration", "interval" },
		{ "io.debezium.data.Json", "jsonb" },
		{ "io.debezium.data.Uuid", "uuid" },
		{ "io.debezium.data.Xml", "xml" },
		{ "io.debezium.data.VariableScaleDecimal", "numeric" },
	};
	static const struct {
		const char *type;
		const char *sql;
	} plain[] = {
		{ "int16", "smallint" }, { "int32", "integer" }, { "int64", "bigint" },
		{ "float", "real" },     { "double", "double precision" },
		{ "boolean", "boolean" }, { "string", "text" }, { "bytes", "bytea" },
	};
	const char *name = json_str(schema, "name"), *type = json_str(schema, "type");

	if (name && strcmp(name, "org.apache.kafka.connect.data.Decimal") == 0) {
		json_t *params = json_object_get(schema, "parameters");
		const char *p = json_str(params, "connect.decimal.precision");
		const char *s = json_str(params, "scale");

		return p && s ? xasprintf("numeric(%s,%s)", p, s) : xstrdup("numeric");
	}
	for (size_t i = 0; name && i < ARRAY_LEN(named); i++)
		if (strcmp(name, named[i].name) == 0)
			return xstrdup(named[i].sql);
	if (type && strcmp(type, "array") == 0) {
		char *item = type_from_schema(json_object_get(schema, "items"));
		char *sql = item ? xasprintf("%s[]", item) : NULL;

		free(item);
		return sql;
	}
	for (size_t i = 0; type && i < ARRAY_LEN(plain); i++)
		if (strcmp(type, plain[i].type) == 0)
			return xstrdup(plain[i].sql);
	return NULL;
}

char *apply_event_sql_type(const struct event_field *f)
{
	char *t;

	if (f->source_type)
		return xstrdup(f->source_type);
	if (!f->schema)
		return NULL;
	t = type_from_params(json_object_get(f->schema, "parameters"));
	return t ? t : type_from_schema(f->schema);
}

/* ---- values --------------------------------------------------------------- */

/* 1970-01-01 + days -> y, m, d (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static void add_date(struct strbuf *out, int64_t days)
{
	int64_t y;
	int m, d;

	civil_from_days(days, &y, &m, &d);
	if (y <= 0)
		strbuf_addf(out, "%04" PRId64 "-%02d-%02d BC", 1 - y, m, d);
	else
		strbuf_addf(out, "%04" PRId64 "-%02d-%02d", y, m, d);
}

static void add_time_of_day(struct strbuf *out, int64_t micros)
{
	strbuf_addf(out, "%02d:%02d:%02d.%06d", (int)(micros / (3600 * USEC_PER_SEC)),
		    (int)(micros / (60 * USEC_PER_SEC) % 60), (int)(micros / USEC_PER_SEC % 60),
		    (int)(micros % USEC_PER_SEC));
}

static void add_timestamp(struct strbuf *out, int64_t micros)
{
	int64_t days = micros / USEC_PER_DAY, tod = micros % USEC_PER_DAY;

	if (tod < 0) {
		tod += USEC_PER_DAY;
		days--;
	}
	add_date(out, days);
	strbuf_adds(out, " ");
	add_time_of_day(out, tod);
}

/* Whether an integer time value counts milliseconds (Debezium's Time and
 * Timestamp, which adaptive mode uses for precision 0..3) or microseconds. */
static bool counts_millis(json_t *schema, const struct column_schema *col)
{
	const char *name = json_str(schema, "name");

	if (name)
		return strcmp(name, "io.debezium.time.Time") == 0 ||
		       strcmp(name, "io.debezium.time.Timestamp") == 0;
	return col->length >= 0 && col->length <= 3;
}

static bool looks_numeric(const char *s)
{
	if (strcmp(s, "NaN") == 0 || strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0)
		return true;
	if (*s == '-' || *s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s) || *s == '.')
		s++;
	return *s == '\0';
}

/* Base64 of two's-complement big-endian bytes at scale -> "-12.34". */
static bool add_decimal_bytes(struct strbuf *out, const char *b64, int scale, struct strbuf *why)
{
	size_t n = strlen(b64), len;
	unsigned char *bytes = xmalloc(n / 4 * 3 + 3);
	int decoded = EVP_DecodeBlock(bytes, (const unsigned char *)b64, (int)n);
	bool negative;
	/* The unscaled value in base 10^9 limbs, little-endian. */
	uint32_t limbs[64] = { 0 };
	size_t nlimbs = 1;
	char digits[600];
	int nd = 0;

	if (decoded < 0 || n % 4 != 0) {
		free(bytes);
		strbuf_addf(why, "'%s' is neither a decimal number nor base64", b64);
		return false;
	}
	len = (size_t)decoded - (n >= 1 && b64[n - 1] == '=') - (n >= 2 && b64[n - 2] == '=');
	negative = len > 0 && (bytes[0] & 0x80);
	if (negative) { /* magnitude = two's complement */
		unsigned carry = 1;

		for (size_t k = len; k-- > 0;) {
			unsigned v = (unsigned)(unsigned char)~bytes[k] + carry;

			bytes[k] = (unsigned char)v;
			carry = v >> 8;
		}
	}
	for (size_t i = 0; i < len; i++) {
		uint64_t carry = bytes[i];

		for (size_t l = 0; l < nlimbs; l++) {
			uint64_t v = (uint64_t)limbs[l] * 256 + carry;

			limbs[l] = (uint32_t)(v % 1000000000);
			carry = v / 1000000000;
		}
		if (carry && nlimbs < ARRAY_LEN(limbs))
			limbs[nlimbs++] = (uint32_t)carry;
	}
	free(bytes);
	for (size_t l = 0; l < nlimbs; l++)
		for (int k = 0; k < 9 && nd < (int)sizeof(digits); k++) {
			digits[nd++] = (char)('0' + limbs[l] % 10);
			limbs[l] /= 10;
		}
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	while (nd <= scale)
		digits[nd++] = '0';
	if (negative)
		strbuf_adds(out, "-");
	for (int i = nd - 1; i >= 0; i--) {
		strbuf_add(out, &digits[i], 1);
		if (i == scale && scale > 0)
			strbuf_adds(out, ".");
	}
	return true;
}

static bool add_bytea(struct strbuf *out, const char *b64, struct strbuf *why)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(b64);
	unsigned char *bytes = xmalloc(n / 4 * 3 + 3);
	int decoded = EVP_DecodeBlock(bytes, (const unsigned char *)b64, (int)n);
	size_t len;

	if (decoded < 0 || n % 4 != 0) {
		free(bytes);
		strbuf_adds(why, "bytea value is not base64");
		return false;
	}
	len = (size_t)decoded - (n >= 1 && b64[n - 1] == '=') - (n >= 2 && b64[n - 2] == '=');
	strbuf_adds(out, "\\x");
	for (size_t i = 0; i < len; i++) {
		char pair[2] = { hex[bytes[i] >> 4], hex[bytes[i] & 15] };

		strbuf_add(out, pair, 2);
	}
	free(bytes);
	return true;
}

/* A JSON number as its text. */
static void add_number(struct strbuf *out, json_t *v)
{
	if (json_is_integer(v)) {
		strbuf_addf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else {
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));

		strbuf_adds(out, text ? text : "NaN");
		free(text);
	}
}

static bool add_scalar(struct strbuf *out, json_t *v, json_t *schema,
		       const struct column_schema *col, struct strbuf *why)
{
	const char *t = col->base_type;
	const char *s = json_string_value(v);

	if (json_is_boolean(v)) {
		strbuf_adds(out, json_is_true(v) ? "t" : "f");
		return true;
	}
	if (strcmp(t, "bytea") == 0 && s)
		return add_bytea(out, s, why);
	if (strcmp(t, "numeric") == 0 || strcmp(t, "money") == 0) {
		json_t *params = json_object_get(schema, "parameters");
		const char *scale_text = json_str(params, "scale");
		int scale = scale_text ? atoi(scale_text) : col->scale;

		if (json_is_object(v)) /* VariableScaleDecimal */
			return add_decimal_bytes(out, json_str(v, "value") ? json_str(v, "value") : "",
						 (int)json_integer_value(json_object_get(v, "scale")),
						 why);
		if (s && !looks_numeric(s)) {
			if (scale < 0) {
				strbuf_addf(why, "a base64 decimal for numeric column %s without a declared scale, and no schema block to say it",
					    col->name);
				return false;
			}
			return add_decimal_bytes(out, s, scale, why);
		}
	}
	if (json_is_integer(v)) {
		int64_t n = json_integer_value(v);

		if (strcmp(t, "date") == 0) {
			add_date(out, n);
			return true;
		}
		if (strcmp(t, "time") == 0) {
			add_time_of_day(out, counts_millis(schema, col) ? n * 1000 : n);
			return true;
		}
		if (strcmp(t, "timestamp") == 0) {
			add_timestamp(out, counts_millis(schema, col) ? n * 1000 : n);
			return true;
		}
		if (strcmp(t, "interval") == 0) {
			strbuf_addf(out, "%" PRId64 " microseconds", n);
			return true;
		}
	}
	if (json_is_number(v)) {
		add_number(out, v);
		return true;
	}
	if (s) {
		strbuf_adds(out, s);
		return true;
	}
	{
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		strbuf_adds(out, text ? text : "");
		free(text);
	}
	return true;
}

/* A JSON array as an array literal: {"a b",NULL,"c"}. */
static bool add_array(struct strbuf *out, json_t *v, json_t *schema,
		      const struct column_schema *col, struct strbuf *why)
{
	json_t *items = json_object_get(schema, "items");
	struct strbuf elem;
	size_t i;
	json_t *item;

	if (!json_is_array(v))
		return add_scalar(out, v, schema, col, why);
	strbuf_init(&elem);
	strbuf_adds(out, "{");
	json_array_foreach(v, i, item) {
		if (i)
			strbuf_adds(out, ",");
		if (json_is_null(item)) {
			strbuf_adds(out, "NULL");
			continue;
		}
		elem.len = 0;
		elem.data[0] = '\0';
		if (!add_scalar(&elem, item, items, col, why)) {
			strbuf_fini(&elem);
			return false;
		}
		strbuf_adds(out, "\"");
		for (size_t k = 0; k < elem.len; k++) {
			if (elem.data[k] == '"' || elem.data[k] == '\\')
				strbuf_adds(out, "\\");
			strbuf_add(out, &elem.data[k], 1);
		}
		strbuf_adds(out, "\"");
	}
	strbuf_adds(out, "}");
	strbuf_fini(&elem);
	return true;
}

bool apply_event_value(const struct event_field *f, const struct column_schema *col,
		       struct strbuf *out, enum apply_value *kind, struct strbuf *why)
{
	out->len = 0;
	out->data[0] = '\0';
	if (f->unchanged) {
		*kind = APPLY_VALUE_UNCHANGED;
		return true;
	}
	if (json_is_null(f->value)) {
		*kind = APPLY_VALUE_NULL;
		return true;
	}
	*kind = APPLY_VALUE_TEXT;
	if (col->is_array)
		return add_array(out, f->value, f->schema, col, why);
	return add_scalar(out, f->value, f->schema, col, why);
}
