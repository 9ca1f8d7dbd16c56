/*
 * agent/apply/apply_event.c: change events read back for apply.
 *
 * A record's value and key are read in place by json_scan (no tree: this is
 * apply's hot path).  What repeats from record to record and is only looked
 * up, a table's schema block and its cdc.columns header, is parsed by
 * jansson once per distinct text and kept (struct parsed_cache).
 */
#include "apply/apply_event.h"

#include "pg/pg_text.h"
#include "pipeline/event_format.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USEC_PER_SEC INT64_C(1000000)
#define USEC_PER_DAY (INT64_C(86400) * USEC_PER_SEC)
/* PostgreSQL's longest bit string (MaxAttrSize bytes of bits). */
#define BITS_MAX INT64_C(83886080)
/* The placeholder's bytes in base64, as Debezium sends it for bytea. */
#define PLACEHOLDER_BASE64 "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="

static const char *json_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* ---- parsed texts kept by their bytes ------------------------------------ */

static void parsed_cache_fini(struct parsed_cache *c)
{
	for (size_t i = 0; i < ARRAY_LEN(c->slots); i++) {
		free(c->slots[i].text);
		json_decref(c->slots[i].root);
		free(c->slots[i].infos);
	}
	memset(c, 0, sizeof(*c));
}

/* Whether every item of t has a name and no two share one. */
static bool infos_names_unique(const struct parsed_text *t)
{
	for (size_t i = 0; i < t->ninfos; i++) {
		if (!t->infos[i].name)
			return false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(t->infos[i].name, t->infos[j].name) == 0)
				return false;
	}
	return true;
}

/* The items of a cdc.columns tree, as column_info (each field of each
 * record is described from them: no jansson lookup per value). */
static void column_infos_read(struct parsed_text *t)
{
	/* An array of items, or {"version": N, "columns": [items]} */
	json_t *items = json_is_object(t->root) ? json_object_get(t->root, "columns") : t->root;
	json_t *version = json_is_object(t->root) ? json_object_get(t->root, "version") : NULL;
	json_t *item;
	size_t i;

	t->version = json_integer_value(version) > 0 ? (uint64_t)json_integer_value(version) : 0;
	t->ninfos = json_array_size(items);
	t->infos = xcalloc(t->ninfos ? t->ninfos : 1, sizeof(*t->infos));
	json_array_foreach(items, i, item) {
		struct column_info *ci = &t->infos[i];
		json_int_t attnum = json_integer_value(json_object_get(item, "attnum"));

		ci->name = json_str(item, "name");
		ci->type = json_str(item, "type");
		ci->key = (int)json_integer_value(json_object_get(item, "key"));
		ci->optional = json_is_true(json_object_get(item, "optional"));
		/* PostgreSQL's attribute numbers fit in an int2 */
		ci->attnum = attnum > 0 && attnum <= 32767 ? (int)attnum : 0;
		ci->default_expr = json_str(item, "default");
		ci->missing = json_str(item, "missing");
		ci->udt = json_is_object(json_object_get(item, "udt")) ? json_object_get(item, "udt")
									: NULL;
		ci->generated = json_str(item, "generated");
		t->ngenerated += ci->generated != NULL;
	}
	t->names_unique = infos_names_unique(t);
}

/* The parsed text, borrowed from the cache (valid until the cache replaces
 * it, at the earliest on the next call); NULL with *why set when text is
 * not JSON.  with_infos: a cdc.columns header (its items read out). */
static const struct parsed_text *parsed_cache_get(struct parsed_cache *c, const char *text,
						  size_t len, const char *what, bool with_infos,
						  struct strbuf *why)
{
	struct parsed_text *t;
	json_error_t err;
	json_t *root;
	size_t i;

	for (i = 0; i < ARRAY_LEN(c->slots); i++)
		if (c->slots[i].root && c->slots[i].len == len &&
		    memcmp(c->slots[i].text, text, len) == 0)
			return &c->slots[i];
	root = json_loadb(text, len, JSON_DECODE_ANY, &err);
	if (!root) {
		strbuf_addf(why, "%s is not valid JSON (%s at byte %d)", what, err.text, err.position);
		return NULL;
	}
	t = &c->slots[c->next];
	c->next = (c->next + 1) % ARRAY_LEN(c->slots);
	free(t->text);
	json_decref(t->root);
	free(t->infos);
	memset(t, 0, sizeof(*t));
	t->text = xmalloc(len ? len : 1);
	memcpy(t->text, text, len);
	t->len = len;
	t->root = root;
	if (with_infos)
		column_infos_read(t);
	return t;
}

/* ---- lookups by name ---------------------------------------------------- */

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

/* The object of list whose member `key` is name; tried first at index
 * hint, where it is when the list follows the row's order (ours does). */
static json_t *named_item(json_t *list, const char *key, const char *name, size_t hint)
{
	const char *n = json_str(json_array_get(list, hint), key);
	size_t i;
	json_t *item;

	if (n && strcmp(n, name) == 0)
		return json_array_get(list, hint);
	json_array_foreach(list, i, item) {
		n = json_str(item, key);
		if (n && strcmp(n, name) == 0)
			return item;
	}
	return NULL;
}

/* The item of cols named name (tried first at index hint), or NULL. */
static const struct column_info *column_info_find(const struct parsed_text *cols, const char *name,
						  size_t hint)
{
	if (!cols)
		return NULL;
	if (hint < cols->ninfos && cols->infos[hint].name && strcmp(cols->infos[hint].name, name) == 0)
		return &cols->infos[hint];
	for (size_t i = 0; i < cols->ninfos; i++)
		if (cols->infos[i].name && strcmp(cols->infos[i].name, name) == 0)
			return &cols->infos[i];
	return NULL;
}

static bool is_placeholder(const struct jscan_value *v)
{
	struct strbuf copy;
	struct jscan s;
	struct jscan_value item;
	bool more, found = false;

	if (v->kind == JSCAN_STRING)
		return jscan_is_string(v, EVENT_UNAVAILABLE_VALUE) ||
		       jscan_is_string(v, PLACEHOLDER_BASE64);
	if (v->kind != JSCAN_ARRAY || v->len > 128)
		return false;
	/* An array column's placeholder: an array of it alone.  A copy: the
	 * value is read again later. */
	strbuf_init(&copy);
	strbuf_add(&copy, v->text, v->len);
	jscan_init(&s, copy.data, copy.len);
	if (jscan_enter(&s, '[') && jscan_item(&s, &more) && more && jscan_value(&s, &item) &&
	    (jscan_is_string(&item, EVENT_UNAVAILABLE_VALUE) ||
	     jscan_is_string(&item, PLACEHOLDER_BASE64)) &&
	    jscan_item(&s, &more) && !more)
		found = true;
	strbuf_fini(&copy);
	return found;
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

static int key_position(const struct apply_event *ev, const char *name)
{
	for (size_t i = 0; i < ev->nkey_names; i++)
		if (strcmp(ev->key_names[i], name) == 0)
			return (int)i + 1;
	return 0;
}

/* ---- reading a record -------------------------------------------------- */

/* strcmp == 0, the first byte compared inline: most member names differ
 * there, and this runs for every member of every record. */
static inline bool name_is(const char *name, const char *literal)
{
	return name[0] == literal[0] && strcmp(name, literal) == 0;
}

/* The members of a change event (or of its JsonConverter envelope) that
 * apply reads; text NULL when absent.  The source block is read where it
 * lies (its schema and table), the rest kept to be read later. */
struct envelope {
	struct jscan_value schema, payload, op, before, after;
	const char *source_schema, *source_table; /* NULL unless strings */
	int64_t source_ts_ms;                     /* 0 unless an integer */
};

static struct jscan_value *envelope_member(struct envelope *e, const char *name)
{
	static const struct {
		const char *name;
		size_t offset;
	} members[] = {
		{ "schema", offsetof(struct envelope, schema) },
		{ "payload", offsetof(struct envelope, payload) },
		{ "op", offsetof(struct envelope, op) },
		{ "before", offsetof(struct envelope, before) },
		{ "after", offsetof(struct envelope, after) },
	};

	for (size_t i = 0; i < ARRAY_LEN(members); i++)
		if (name_is(name, members[i].name))
			return (struct jscan_value *)((char *)e + members[i].offset);
	return NULL;
}

/* The source block at the cursor: its schema and table. */
static bool read_source(struct jscan *s, struct envelope *e)
{
	struct jscan_value v;
	const char *name;
	bool more;

	e->source_schema = e->source_table = NULL;
	e->source_ts_ms = 0;
	if (jscan_peek(s) != '{')
		return jscan_value(s, &v); /* not an object: no schema, no table */
	if (!jscan_enter(s, '{'))
		return false;
	while (jscan_member(s, &name, &more) && more) {
		if (!jscan_value(s, &v))
			return false;
		if (name_is(name, "schema"))
			e->source_schema = v.kind == JSCAN_STRING ? v.text : NULL;
		else if (name_is(name, "table"))
			e->source_table = v.kind == JSCAN_STRING ? v.text : NULL;
		else if (name_is(name, "ts_ms") && !jscan_int64(&v, &e->source_ts_ms))
			e->source_ts_ms = 0;
	}
	return !s->error;
}

/* A schema block seen before is taken by its bytes (a few kB a record,
 * the same for every record of a table): no need to check them again. */
static bool read_known_schema(struct jscan *s, const struct parsed_cache *known,
			      struct jscan_value *v)
{
	for (size_t i = 0; known && i < ARRAY_LEN(known->slots); i++)
		if (known->slots[i].root &&
		    jscan_value_known(s, known->slots[i].text, known->slots[i].len, v))
			return true;
	return false;
}

/* The object at the cursor, its members apply reads kept (a repeated member:
 * the last one, as jansson), the others checked and skipped; known: the
 * schema blocks seen before, or NULL. */
static bool read_envelope(struct jscan *s, struct envelope *e, const struct parsed_cache *known)
{
	struct jscan_value other;
	const char *name;
	bool more;

	memset(e, 0, sizeof(*e));
	if (!jscan_enter(s, '{'))
		return false;
	while (jscan_member(s, &name, &more) && more) {
		struct jscan_value *slot = envelope_member(e, name);

		if (slot == &e->schema && read_known_schema(s, known, slot))
			continue;
		if (!slot && name_is(name, "source")) {
			if (!read_source(s, e))
				return false;
		} else if (!jscan_value(s, slot ? slot : &other)) {
			return false;
		}
	}
	return !s->error;
}

static void key_name_add(struct apply_event *ev, const char *name, const struct jscan_value *v)
{
	if (ev->nkey_names == ev->key_names_cap) {
		ev->key_names_cap = ev->key_names_cap ? ev->key_names_cap * 2 : 8;
		ev->key_names = xrealloc(ev->key_names, ev->key_names_cap * sizeof(*ev->key_names));
		ev->key_values = xrealloc(ev->key_values,
					  ev->key_names_cap * sizeof(*ev->key_values));
	}
	ev->key_values[ev->nkey_names] = *v;
	ev->key_names[ev->nkey_names++] = name;
}

/* The names of the object at the cursor, in order, as the key's columns;
 * *payload set to its "payload" member and *has_schema when it has a
 * "schema" (a JsonConverter envelope). */
static bool read_key_names(struct apply_event *ev, struct jscan *s, struct jscan_value *payload,
			   bool *has_schema)
{
	struct jscan_value v;
	const char *name;
	bool more;

	ev->nkey_names = 0;
	if (!jscan_enter(s, '{'))
		return false;
	while (jscan_member(s, &name, &more) && more) {
		if (!jscan_value(s, &v))
			return false;
		key_name_add(ev, name, &v);
		if (payload && strcmp(name, "payload") == 0)
			*payload = v;
		else if (has_schema && strcmp(name, "schema") == 0)
			*has_schema = true;
	}
	return !s->error;
}

static bool read_key(struct apply_event *ev, const void *key, size_t key_len, struct strbuf *why)
{
	struct jscan s;
	struct jscan_value payload = { 0 };
	bool has_schema = false;

	ev->key.len = 0;
	strbuf_add(&ev->key, key, key_len);
	jscan_init(&s, ev->key.data, ev->key.len);
	if (read_key_names(ev, &s, &payload, &has_schema) && jscan_finish(&s) && has_schema &&
	    payload.text) {
		if (payload.kind != JSCAN_OBJECT) {
			strbuf_adds(why, "key is not a JSON object (its payload is not one)");
			return false;
		}
		jscan_init_within(&s, &payload);
		(void)read_key_names(ev, &s, NULL, NULL); /* checked when skipped */
	}
	if (s.error) {
		strbuf_addf(why, "key is not a JSON object (%s at byte %zu)", s.error, s.error_pos);
		return false;
	}
	return true;
}

static struct event_field *field_add(struct apply_event *ev)
{
	if (ev->nfields == ev->fields_cap) {
		ev->fields_cap = ev->fields_cap ? ev->fields_cap * 2 : 16;
		ev->fields = xrealloc(ev->fields, ev->fields_cap * sizeof(*ev->fields));
	}
	memset(&ev->fields[ev->nfields], 0, sizeof(ev->fields[0]));
	return &ev->fields[ev->nfields++];
}

/* What the field's name tells from the schema block, the headers and the
 * key; i is its position in the row. */
static void field_describe(struct apply_event *ev, struct event_field *f, size_t i,
			   json_t *row_schema, const struct column_info *info)
{
	f->schema = row_schema ? named_item(row_schema, "field", f->name, i) : NULL;
	f->source_type = info ? info->type : NULL;
	f->attnum = info ? info->attnum : 0;
	f->default_expr = info ? info->default_expr : NULL;
	f->missing = info ? info->missing : NULL;
	f->key_position = key_position(ev, f->name);
	if (!f->key_position && info)
		f->key_position = info->key;
	f->optional = f->schema ? json_is_true(json_object_get(f->schema, "optional"))
		      : info	 ? info->optional
				 : true;
	f->unchanged = f->generated || name_listed(ev->unchanged, f->name) ||
		       is_placeholder(&f->value);
	f->udt = info ? info->udt : NULL;
	if (!f->schema && !f->source_type)
		ev->has_types = false;
}

/* The header's generated columns, which the row never has (pgoutput does
 * not send them), as fields where the header has them: the table is created
 * with them in the source's order.  Unchanged: no value of theirs is ever
 * written; the target computes them. */
static void generated_fields_add(struct apply_event *ev, const struct parsed_text *columns)
{
	static char null_text[] = "null";

	for (size_t i = 0; i < columns->ninfos; i++) {
		const struct column_info *info = &columns->infos[i];
		struct event_field *f;
		size_t at = i < ev->nfields ? i : ev->nfields;

		if (!info->generated || !info->name)
			continue;
		(void)field_add(ev);
		memmove(&ev->fields[at + 1], &ev->fields[at],
			(ev->nfields - 1 - at) * sizeof(ev->fields[0]));
		f = &ev->fields[at];
		memset(f, 0, sizeof(*f));
		f->name = info->name;
		f->value.kind = JSCAN_NULL;
		f->value.text = null_text;
		f->value.len = 4;
		f->generated = info->generated;
	}
}

static bool read_row(struct apply_event *ev, const struct jscan_value *row, json_t *row_schema,
		     const struct parsed_text *columns, struct strbuf *why)
{
	struct jscan s;
	const char *name;
	bool more, in_header_order;

	jscan_init_within(&s, row);
	if (!jscan_enter(&s, '{'))
		return false; /* cannot fail: checked when skipped */
	while (jscan_member(&s, &name, &more) && more) {
		struct event_field *f = field_add(ev);

		f->name = name;
		if (!jscan_value(&s, &f->value))
			return false; /* cannot fail: checked when skipped */
	}
	if (columns && columns->ngenerated)
		generated_fields_add(ev, columns);
	ev->has_types = true;
	/* Fields named as the header's items, in its order, are distinct when
	 * the header's names are: then no need to compare every pair. */
	in_header_order = columns && columns->names_unique && columns->ninfos == ev->nfields;
	for (size_t i = 0; i < ev->nfields; i++) {
		const struct column_info *info = column_info_find(columns, ev->fields[i].name, i);

		in_header_order = in_header_order && info == &columns->infos[i];
		field_describe(ev, &ev->fields[i], i, row_schema, info);
	}
	for (size_t i = 0; !in_header_order && i < ev->nfields; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(ev->fields[j].name, ev->fields[i].name) == 0) {
				strbuf_addf(why, "column %s appears twice in the row", ev->fields[i].name);
				return false;
			}
	return true;
}

static bool same_json_value(const struct jscan_value *a, const struct jscan_value *b)
{
	return a->kind == b->kind && a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

/* A record's key names the row it changes: each of the key's columns must
 * be in the row with the same value, else the record is refused (a hostile
 * or broken producer could otherwise pair key id=1 with a delete of id=2). */
static bool key_matches_row(const struct apply_event *ev, const char *row_name,
			    struct strbuf *why)
{
	for (size_t i = 0; i < ev->nkey_names; i++) {
		const struct event_field *f = apply_event_field(ev, ev->key_names[i], i);

		if (!f) {
			strbuf_addf(why, "the key's column %s is not in the \"%s\" row",
				    ev->key_names[i], row_name);
			return false;
		}
		if (!same_json_value(&ev->key_values[i], &f->value)) {
			strbuf_addf(why, "the key's value of column %s differs from the \"%s\" row's",
				    ev->key_names[i], row_name);
			return false;
		}
	}
	return true;
}

/* The record's value: the change event, or its JsonConverter envelope
 * (then *schema is the schema block's tree). */
static bool read_value(struct apply_event *ev, const void *value, size_t value_len,
		       struct envelope *e, json_t **schema, struct strbuf *why)
{
	const struct parsed_text *parsed;
	struct jscan s;

	*schema = NULL;
	ev->value.len = 0;
	strbuf_add(&ev->value, value, value_len);
	jscan_init(&s, ev->value.data, ev->value.len);
	if (!read_envelope(&s, e, &ev->schemas) || !jscan_finish(&s)) {
		strbuf_addf(why, "value is not a JSON object (%s at byte %zu)", s.error, s.error_pos);
		return false;
	}
	if (!e->schema.text || !e->payload.text)
		return true;
	parsed = parsed_cache_get(&ev->schemas, e->schema.text, e->schema.len, "schema block", false,
				  why);
	if (!parsed)
		return false; /* cannot happen: checked when skipped */
	*schema = parsed->root;
	if (e->payload.kind != JSCAN_OBJECT) {
		memset(e, 0, sizeof(*e));
		return true; /* no op: not a change event */
	}
	jscan_init_within(&s, &e->payload);
	return read_envelope(&s, e, NULL); /* cannot fail: checked when skipped */
}

/* An update's "before" row, kept to be read only when asked for
 * (apply_event_before): only a table without a key needs it. */
static void before_keep(struct apply_event *ev, const struct envelope *e, json_t *schema,
			const struct parsed_text *columns)
{
	if (ev->op != 'u' || e->before.kind != JSCAN_OBJECT || !e->before.text)
		return;
	ev->before_value = e->before;
	ev->before_row = &ev->before_value;
	ev->before_schema = struct_fields(schema, "before");
	ev->before_columns = columns;
}

bool apply_event_before(struct apply_event *ev, bool *present, struct strbuf *why)
{
	struct event_field *after = ev->fields;
	size_t nafter = ev->nfields, after_cap = ev->fields_cap;
	bool has_types = ev->has_types, ok;

	*present = ev->before_row != NULL;
	if (!*present)
		return true;
	/* read_row fills ev->fields: lend it the before row's array. */
	ev->fields = ev->before;
	ev->fields_cap = ev->before_cap;
	ev->nfields = 0;
	ok = read_row(ev, ev->before_row, ev->before_schema, ev->before_columns, why);
	/* cdc.unchanged names the after row's columns, not these */
	for (size_t i = 0; i < ev->nfields; i++)
		ev->fields[i].unchanged = is_placeholder(&ev->fields[i].value);
	ev->before = ev->fields;
	ev->before_cap = ev->fields_cap;
	ev->nbefore = ev->nfields;
	ev->fields = after;
	ev->fields_cap = after_cap;
	ev->nfields = nafter;
	ev->has_types = has_types;
	ev->before_row = NULL; /* read once */
	if (!ok && why->len == 0)
		strbuf_adds(why, "the \"before\" row is not a JSON object");
	return ok;
}

void apply_event_init(struct apply_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	strbuf_init(&ev->value);
	strbuf_init(&ev->key);
}

void apply_event_fini(struct apply_event *ev)
{
	free(ev->fields);
	free(ev->before);
	free(ev->key_names);
	free(ev->key_values);
	strbuf_fini(&ev->value);
	strbuf_fini(&ev->key);
	json_decref(ev->unchanged);
	json_decref(ev->texts);
	parsed_cache_fini(&ev->schemas);
	parsed_cache_fini(&ev->columns);
	memset(ev, 0, sizeof(*ev));
}

bool apply_event_parse(const void *key, size_t key_len, const void *value, size_t value_len,
		       const char *unchanged_hdr, size_t unchanged_len, const char *columns_hdr,
		       size_t columns_len, struct apply_event *ev, struct strbuf *why)
{
	struct envelope e;
	const struct parsed_text *columns = NULL;
	json_t *schema;
	const struct jscan_value *row;
	const char *row_name;
	json_error_t err;

	ev->op = 0;
	ev->schema = ev->table = NULL;
	ev->source_ts_ms = 0;
	ev->nfields = ev->nkey_names = 0;
	ev->nbefore = 0;
	ev->before_row = NULL;
	ev->has_types = false;
	ev->has_columns = false;
	ev->schema_version = 0;
	ev->schema_trusted = false; /* apply's to set, once the header's mac verifies */
	json_decref(ev->unchanged);
	ev->unchanged = NULL;
	json_decref(ev->texts);
	ev->texts = NULL;
	if (!value)
		return true; /* tombstone: the delete before it did the work */
	if (!read_value(ev, value, value_len, &e, &schema, why))
		return false;
	ev->schema = e.source_schema;
	ev->table = e.source_table;
	ev->source_ts_ms = e.source_ts_ms;
	if (e.op.kind != JSCAN_STRING || e.op.len != 1 || !strchr("curdt", e.op.text[0]) ||
	    !ev->schema || !ev->table) {
		strbuf_adds(why, "not a change event (no op c/u/r/d/t, or no source.schema and source.table)");
		return false;
	}
	ev->op = e.op.text[0];
	if (key && !read_key(ev, key, key_len, why))
		return false;
	if (columns_hdr) {
		size_t skip = event_columns_skip(columns_hdr, columns_len);

		columns = parsed_cache_get(&ev->columns, columns_hdr + skip, columns_len - skip,
					   EVENT_HEADER_COLUMNS " header", true, why);
		if (!columns)
			return false;
		ev->has_columns = true;
		ev->schema_version = columns->version;
	}
	if (unchanged_hdr) {
		ev->unchanged = json_loadb(unchanged_hdr, unchanged_len, 0, &err);
		if (!ev->unchanged) {
			strbuf_addf(why, EVENT_HEADER_UNCHANGED " header is not valid JSON (%s at byte %d)",
				    err.text, err.position);
			return false;
		}
	}
	if (ev->op == 't')
		return true;
	before_keep(ev, &e, schema, columns);
	row_name = ev->op == 'd' ? "before" : "after";
	row = ev->op == 'd' ? &e.before : &e.after;
	if (row->kind != JSCAN_OBJECT || !row->text) {
		strbuf_addf(why, "%c event without an \"%s\" row", ev->op, row_name);
		return false;
	}
	return read_row(ev, row, struct_fields(schema, row_name), columns, why) &&
	       key_matches_row(ev, row_name, why);
}

bool apply_event_texts(struct apply_event *ev, const char *hdr, size_t len, struct strbuf *why)
{
	json_error_t err;
	const char *name;
	json_t *text;

	if (!hdr || ev->op == 0 || ev->op == 't')
		return true;
	ev->texts = json_loadb(hdr, len, 0, &err);
	if (!json_is_object(ev->texts)) {
		strbuf_addf(why, EVENT_HEADER_TEXT " header is not a JSON object (%s)",
			    ev->texts ? "another JSON value" : err.text);
		return false;
	}
	json_object_foreach(ev->texts, name, text) {
		struct event_field *f = (struct event_field *)apply_event_field(ev, name, 0);

		/* a null, or an array with null elements in their place */
		if (!f || !json_is_string(text) ||
		    (f->value.kind != JSCAN_NULL && f->value.kind != JSCAN_ARRAY)) {
			strbuf_addf(why, EVENT_HEADER_TEXT " header names column %.64s, which the event does not send as a null or an array to replace with a text",
				    name);
			return false;
		}
		f->text = json_string_value(text);
	}
	return true;
}

const struct event_field *apply_event_field(const struct apply_event *ev, const char *name,
					    size_t hint)
{
	if (hint < ev->nfields && strcmp(ev->fields[hint].name, name) == 0)
		return &ev->fields[hint];
	for (size_t i = 0; i < ev->nfields; i++)
		if (strcmp(ev->fields[i].name, name) == 0)
			return &ev->fields[i];
	return NULL;
}

/* ---- SQL types for auto_create ------------------------------------------- */

/* From Debezium's column.propagate.source.type parameters. */
static char *type_from_params(json_t *params)
{
	const char *type = json_str(params, EVENT_PARAM_COLUMN_TYPE);
	const char *len = json_str(params, EVENT_PARAM_COLUMN_LENGTH);
	const char *scale = json_str(params, EVENT_PARAM_COLUMN_SCALE);
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

static bool parse_int_in(const char *s, int64_t lo, int64_t hi, int64_t *out);

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
		/* json, not jsonb: json keeps the text as it came, and a
		 * jsonb source sends text jsonb already normalized */
		{ "io.debezium.data.Json", "json" },
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

	if (name && strcmp(name, "io.debezium.data.Bits") == 0) {
		const char *len = json_str(json_object_get(schema, "parameters"), "length");
		int64_t n;

		return len && parse_int_in(len, 1, BITS_MAX, &n) ? xasprintf("bit(%" PRId64 ")", n)
								 : xstrdup("bit varying");
	}
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

/* PostgreSQL's ranges as days since 1970-01-01 (tests/integration/
 * 83_apply_values.sh checks them against a server): a date from
 * 4714-11-24 BC (Julian day 0) to 5874897-12-31, a timestamp from that day
 * to 294276-12-31 23:59:59.999999. */
#define DATE_MIN_DAYS INT64_C(-2440588)
#define DATE_MAX_DAYS INT64_C(2145042905)
#define TIMESTAMP_MAX_DAYS INT64_C(106762939)
#define DATE_RANGE "4714-11-24 BC to 5874897-12-31"
#define TIMESTAMP_RANGE "4714-11-24 00:00:00 BC to 294276-12-31 23:59:59.999999"
/* numeric: at most 131072 digits before the point (its weight, 32767
 * base-10000 digits) and 16383 after it (its display scale). */
#define NUMERIC_INT_DIGITS_MAX 131072
#define NUMERIC_SCALE_MAX 16383
/* Bytes of the largest unscaled value a numeric holds, 10^147455 - 1:
 * 489835 bits and the sign bit.  Longer input is refused before it is
 * decoded, which bounds the conversion's cost: quadratic in the length,
 * 0.1 s at this one (a few hundred nanoseconds up to 16 bytes). */
#define DECIMAL_BYTES_MAX 61230

#define MSEC_PER_SEC INT64_C(1000)
#define NSEC_PER_SEC INT64_C(1000000000)

/* 1970-01-01 + days -> y, m, d (H. Hinnant's civil_from_days); nothing
 * overflows for days within DATE_MIN_DAYS..DATE_MAX_DAYS. */
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

/* days (within the date range) as date input, "2024-01-31" or "0044-03-15"
 * for 44 BC: returns whether it is BC (the caller adds " BC" at the end,
 * where PostgreSQL's output has it). */
static bool add_civil_date(struct strbuf *out, int64_t days)
{
	int64_t y;
	int m, d;

	civil_from_days(days, &y, &m, &d);
	strbuf_addf(out, "%04" PRId64 "-%02d-%02d", y <= 0 ? 1 - y : y, m, d);
	return y <= 0;
}

static bool add_date(struct strbuf *out, int64_t days, struct strbuf *why)
{
	if (days < DATE_MIN_DAYS || days > DATE_MAX_DAYS) {
		strbuf_addf(why, "date %" PRId64 " (days since 1970-01-01) is out of PostgreSQL's range (" DATE_RANGE ")",
			    days);
		return false;
	}
	if (add_civil_date(out, days))
		strbuf_adds(out, " BC");
	return true;
}

static const char *tick_name(int64_t per_sec)
{
	return per_sec == MSEC_PER_SEC ? "milliseconds" :
	       per_sec == NSEC_PER_SEC ? "nanoseconds" : "microseconds";
}

/* ticks (per_sec a second) since midnight, within 0..24:00, as
 * "HH:MM:SS.ffffff" (nine fraction digits for nanoseconds). */
static void add_clock(struct strbuf *out, int64_t ticks, int64_t per_sec)
{
	int64_t secs = ticks / per_sec, frac = ticks % per_sec;

	if (per_sec == MSEC_PER_SEC)
		frac *= 1000;
	strbuf_addf(out, "%02d:%02d:%02d.%0*" PRId64, (int)(secs / 3600), (int)(secs / 60 % 60),
		    (int)(secs % 60), per_sec == NSEC_PER_SEC ? 9 : 6, frac);
}

static bool add_time_of_day(struct strbuf *out, int64_t ticks, int64_t per_sec,
			    struct strbuf *why)
{
	if (ticks < 0 || ticks > 86400 * per_sec) {
		strbuf_addf(why, "time %" PRId64 " (%s since midnight) is out of PostgreSQL's range (00:00:00 to 24:00:00)",
			    ticks, tick_name(per_sec));
		return false;
	}
	add_clock(out, ticks, per_sec);
	return true;
}

static bool add_timestamp(struct strbuf *out, int64_t ticks, int64_t per_sec, struct strbuf *why)
{
	int64_t per_day = 86400 * per_sec;
	int64_t days = ticks / per_day, tod = ticks % per_day;
	bool bc;

	if (tod < 0) {
		tod += per_day;
		days--;
	}
	if (days < DATE_MIN_DAYS || days > TIMESTAMP_MAX_DAYS) {
		strbuf_addf(why, "timestamp %" PRId64 " (%s since 1970-01-01 00:00:00) is out of PostgreSQL's range (" TIMESTAMP_RANGE ")",
			    ticks, tick_name(per_sec));
		return false;
	}
	bc = add_civil_date(out, days);
	strbuf_adds(out, " ");
	add_clock(out, tod, per_sec);
	if (bc)
		strbuf_adds(out, " BC");
	return true;
}

/* How many ticks a second an integer time value counts: the schema's
 * semantic name says; without one, the column's precision does, as for
 * Debezium's adaptive mode (milliseconds for precision 0..3). */
static int64_t time_ticks_per_sec(json_t *schema, const struct column_schema *col)
{
	static const struct {
		const char *name;
		int64_t per_sec;
	} names[] = {
		{ "io.debezium.time.Time", MSEC_PER_SEC },
		{ "io.debezium.time.Timestamp", MSEC_PER_SEC },
		{ "io.debezium.time.MicroTime", USEC_PER_SEC },
		{ "io.debezium.time.MicroTimestamp", USEC_PER_SEC },
		{ "io.debezium.time.NanoTime", NSEC_PER_SEC },
		{ "io.debezium.time.NanoTimestamp", NSEC_PER_SEC },
		{ "org.apache.kafka.connect.data.Time", MSEC_PER_SEC },
		{ "org.apache.kafka.connect.data.Timestamp", MSEC_PER_SEC },
	};
	const char *name = json_str(schema, "name");

	if (!name)
		return col->length >= 0 && col->length <= 3 ? MSEC_PER_SEC : USEC_PER_SEC;
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcmp(name, names[i].name) == 0)
			return names[i].per_sec;
	return USEC_PER_SEC;
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

/* "-12" from text, when it is an integer within lo..hi. */
static bool parse_int_in(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	bool negative = *s == '-';
	int64_t v = 0;

	s += negative;
	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > INT64_MAX / 10 - 9)
			return false; /* beyond any bound */
		v = v * 10 + (*s - '0');
	}
	if (*s)
		return false;
	*out = negative ? -v : v;
	return *out >= lo && *out <= hi;
}

/* Strict base64 (RFC 4648's alphabet, '=' only as the last one or two)
 * b64[0..n) into bytes (room for n / 4 * 3); false when it is not that.
 * EVP_DecodeBlock alone would skip blanks around it and count them. */
static bool base64_decode(const char *b64, size_t n, unsigned char *bytes, size_t *len)
{
	size_t pad;

	if (n % 4 != 0 || n > INT_MAX)
		return false;
	if (n == 0) {
		*len = 0;
		return true;
	}
	pad = b64[n - 1] != '=' ? 0 : b64[n - 2] != '=' ? 1 : 2;
	for (size_t i = 0; i < n - pad; i++) {
		char c = b64[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return false;
	}
	if (EVP_DecodeBlock(bytes, (const unsigned char *)b64, (int)n) != (int)(n / 4 * 3))
		return false;
	*len = n / 4 * 3 - pad;
	return true;
}

/* Writes count zeros. */
static void add_zeros(struct strbuf *out, size_t count)
{
	strbuf_grow(out, count);
	memset(out->data + out->len, '0', count);
	out->len += count;
	out->data[out->len] = '\0';
}

/* The big-endian magnitude mag[0..len) in decimal, most significant digit
 * first, no leading zeros ("0" for zero), into digits (room for
 * len * 5 / 2 + 21 bytes); returns how many digits. */
static size_t magnitude_digits(const unsigned char *mag, size_t len, char *digits)
{
	uint32_t *limbs;
	size_t nlimbs = 0, n = 0, first;
	char tmp[20];

	while (len > 0 && mag[0] == 0) {
		mag++;
		len--;
	}
	if (len <= 8) { /* the usual case: one uint64_t */
		uint64_t v = 0;

		for (size_t i = 0; i < len; i++)
			v = v << 8 | mag[i];
		do {
			tmp[n++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		for (size_t k = 0; k < n; k++)
			digits[k] = tmp[n - 1 - k];
		return n;
	}
	/* Base 10^9 limbs, least significant first, fed 32 bits at a time:
	 * limb * 2^32 + carry < 10^9 * 2^32 fits, and so does the next carry
	 * in 32 bits.  len bytes make at most 2.41 * len digits, len / 3 + 2
	 * limbs. */
	limbs = xmalloc((len / 3 + 2) * sizeof(*limbs));
	first = len % 4 ? len % 4 : 4;
	for (size_t i = 0; i < len;) {
		uint64_t carry = 0;

		for (size_t end = i + (i == 0 ? first : 4); i < end; i++)
			carry = carry << 8 | mag[i];
		for (size_t l = 0; l < nlimbs; l++) {
			uint64_t v = ((uint64_t)limbs[l] << 32) + carry;

			limbs[l] = (uint32_t)(v % 1000000000);
			carry = v / 1000000000;
		}
		while (carry) {
			limbs[nlimbs++] = (uint32_t)(carry % 1000000000);
			carry /= 1000000000;
		}
	}
	/* the top limb unpadded, the others nine digits each */
	for (uint32_t v = limbs[nlimbs - 1]; v; v /= 10)
		tmp[n++] = (char)('0' + v % 10);
	for (size_t k = 0; k < n; k++)
		digits[k] = tmp[n - 1 - k];
	for (size_t l = nlimbs - 1; l-- > 0; n += 9)
		for (int k = 8, v = (int)limbs[l]; k >= 0; k--, v /= 10)
			digits[n + (size_t)k] = (char)('0' + v % 10);
	free(limbs);
	return n;
}

/* Base64 of two's-complement big-endian bytes (Kafka Connect's Decimal)
 * at scale -> "-12.34"; exact for every value numeric holds, refused
 * beyond it. */
static bool add_decimal_bytes(struct strbuf *out, const char *b64, int64_t scale,
			      struct strbuf *why)
{
	size_t n = strlen(b64), len, ndigits, int_digits;
	unsigned char small_bytes[48], *bytes;
	char small_digits[160], *digits;
	bool negative, zero;

	if (scale < -NUMERIC_INT_DIGITS_MAX || scale > NUMERIC_SCALE_MAX) {
		strbuf_addf(why, "decimal scale %" PRId64 " is out of PostgreSQL's range (%d to %d)", scale,
			    -NUMERIC_INT_DIGITS_MAX, NUMERIC_SCALE_MAX);
		return false;
	}
	if (n / 4 * 3 > DECIMAL_BYTES_MAX + 2) {
		strbuf_addf(why, "decimal of %zu base64 characters is longer than the largest numeric (%d bytes unscaled)",
			    n, DECIMAL_BYTES_MAX);
		return false;
	}
	bytes = n / 4 * 3 <= sizeof(small_bytes) ? small_bytes : xmalloc(n / 4 * 3);
	if (!base64_decode(b64, n, bytes, &len) || len == 0) {
		if (bytes != small_bytes)
			free(bytes);
		strbuf_addf(why, "'%.64s'%s is neither a decimal number nor base64 of one", b64,
			    n > 64 ? "..." : "");
		return false;
	}
	negative = bytes[0] & 0x80;
	if (negative) { /* magnitude = two's complement */
		unsigned carry = 1;

		for (size_t k = len; k-- > 0;) {
			unsigned v = (unsigned)(unsigned char)~bytes[k] + carry;

			bytes[k] = (unsigned char)v;
			carry = v >> 8;
		}
	}
	digits = len * 5 / 2 + 21 <= sizeof(small_digits) ? small_digits : xmalloc(len * 5 / 2 + 21);
	ndigits = magnitude_digits(bytes, len, digits);
	if (bytes != small_bytes)
		free(bytes);
	zero = digits[0] == '0';
	int_digits = zero                      ? 0 :
		     scale <= 0                ? ndigits + (size_t)-scale :
		     ndigits > (size_t)scale   ? ndigits - (size_t)scale : 0;
	if (int_digits > NUMERIC_INT_DIGITS_MAX) {
		strbuf_addf(why, "decimal of %zu digits at scale %" PRId64 " has %zu digits before the point, more than PostgreSQL's numeric holds (%d)",
			    ndigits, scale, int_digits, NUMERIC_INT_DIGITS_MAX);
		if (digits != small_digits)
			free(digits);
		return false;
	}
	if (negative)
		strbuf_adds(out, "-");
	if (scale <= 0) {
		strbuf_add(out, digits, ndigits);
		if (!zero)
			add_zeros(out, (size_t)-scale);
	} else if (ndigits > (size_t)scale) {
		strbuf_add(out, digits, ndigits - (size_t)scale);
		strbuf_adds(out, ".");
		strbuf_add(out, digits + ndigits - (size_t)scale, (size_t)scale);
	} else {
		strbuf_adds(out, "0.");
		add_zeros(out, (size_t)scale - ndigits);
		strbuf_add(out, digits, ndigits);
	}
	if (digits != small_digits)
		free(digits);
	return true;
}

static bool add_bytea(struct strbuf *out, const char *b64, struct strbuf *why)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(b64), len;
	unsigned char *bytes = xmalloc(n / 4 * 3 + 1);
	char *p;

	if (!base64_decode(b64, n, bytes, &len)) {
		free(bytes);
		strbuf_adds(why, "bytea value is not base64");
		return false;
	}
	strbuf_grow(out, 2 + 2 * len);
	p = out->data + out->len;
	*p++ = '\\';
	*p++ = 'x';
	for (size_t i = 0; i < len; i++) {
		*p++ = hex[bytes[i] >> 4];
		*p++ = hex[bytes[i] & 15];
	}
	out->len += 2 + 2 * len;
	out->data[out->len] = '\0';
	free(bytes);
	return true;
}

/* Without a schema block: a bit(n) value is its text when it is n binary
 * digits, else Bits' base64 (which never is: padded, or shorter than n). */
static bool is_bit_text(const char *s, const struct column_schema *col)
{
	size_t n = strlen(s);

	if (strcmp(col->base_type, "bit") != 0 || col->length < 0 || n != (size_t)col->length)
		return strcmp(col->base_type, "varbit") == 0; /* capture sends varbit as text */
	return strspn(s, "01") == n;
}

static bool name_is_bits(json_t *schema)
{
	const char *name = json_str(schema, "name");

	return name && strcmp(name, "io.debezium.data.Bits") == 0;
}

/* Debezium's io.debezium.data.Bits: little-endian bytes, bit 0 the last
 * character; as many characters as the schema's "length" (else the
 * column's declared length, else the highest bit set). */
static bool add_bits(struct strbuf *out, const char *b64, json_t *schema,
		     const struct column_schema *col, struct strbuf *why)
{
	const char *text = json_str(json_object_get(schema, "parameters"), "length");
	size_t n = strlen(b64), len, highest = 0;
	unsigned char *bytes = xmalloc(n / 4 * 3 + 1);
	int64_t width = col->length;
	bool ok = true;

	if (!base64_decode(b64, n, bytes, &len)) {
		strbuf_addf(why, "bit value of column %s is not base64", col->name);
		ok = false;
	} else if (text && !parse_int_in(text, 1, BITS_MAX, &width)) {
		strbuf_addf(why, "bit length \"%.32s\" in the schema block is not an integer from 1 to %" PRId64,
			    text, BITS_MAX);
		ok = false;
	}
	for (size_t i = 0; ok && i < len * 8; i++)
		if (bytes[i / 8] & (1u << (i % 8)))
			highest = i + 1;
	if (ok && width < 0)
		width = (int64_t)highest;
	if (ok && (int64_t)highest > width) {
		strbuf_addf(why, "bit value of column %s has bits beyond its length %" PRId64, col->name,
			    width);
		ok = false;
	}
	for (int64_t i = width - 1; ok && i >= 0; i--)
		strbuf_adds(out, (size_t)i < len * 8 && (bytes[i / 8] & (1u << (i % 8))) ? "1" : "0");
	free(bytes);
	return ok;
}

/* Debezium's VariableScaleDecimal, {"scale":2,"value":"BNI="}: its members
 * read from a copy (a value may be read more than once). */
static bool add_variable_scale_decimal(struct strbuf *out, const struct jscan_value *v,
				       struct strbuf *why)
{
	struct strbuf copy;
	struct jscan s;
	struct jscan_value m;
	const char *name;
	bool more, ok, has_scale = false;
	int64_t scale = 0;
	char *value = NULL;

	strbuf_init(&copy);
	strbuf_add(&copy, v->text, v->len);
	jscan_init(&s, copy.data, copy.len);
	if (!jscan_enter(&s, '{')) { /* cannot fail: checked when skipped */
		strbuf_fini(&copy);
		return false;
	}
	while (jscan_member(&s, &name, &more) && more && jscan_value(&s, &m)) {
		if (strcmp(name, "value") == 0)
			value = m.kind == JSCAN_STRING ? m.text : NULL;
		else if (strcmp(name, "scale") == 0)
			has_scale = jscan_int64(&m, &scale);
	}
	if (!value || !has_scale) {
		strbuf_adds(why, "a variable scale decimal without an integer \"scale\" and a base64 \"value\"");
		ok = false;
	} else {
		ok = add_decimal_bytes(out, value, scale, why);
	}
	strbuf_fini(&copy);
	return ok;
}

/* The scale of a base64 decimal: the schema's "scale" parameter, else the
 * target column's. */
static bool decimal_scale(json_t *schema, const struct column_schema *col, int64_t *scale,
			  struct strbuf *why)
{
	const char *text = json_str(json_object_get(schema, "parameters"), "scale");

	if (text) {
		if (!parse_int_in(text, -INT32_MAX, INT32_MAX, scale)) {
			strbuf_addf(why, "decimal scale \"%.32s\" in the schema block is not an integer",
				    text);
			return false;
		}
		return true;
	}
	if (col->scale < 0) {
		strbuf_addf(why, "a base64 decimal for numeric column %s without a declared scale, and no schema block to say it",
			    col->name);
		return false;
	}
	*scale = col->scale;
	return true;
}

/* 'd', 't', 's', 'i' for a date, time, timestamp or interval type; 0. */
static int time_kind(const char *t)
{
	return strcmp(t, "date") == 0 ? 'd' : strcmp(t, "time") == 0 ? 't' :
	       strcmp(t, "timestamp") == 0 ? 's' : strcmp(t, "interval") == 0 ? 'i' : 0;
}

/* A number for a column of time_kind kind: an integer of days, of ticks
 * since midnight or 1970-01-01, or of microseconds. */
static bool add_time_number(struct strbuf *out, const struct jscan_value *v, int kind,
			    json_t *schema, const struct column_schema *col, struct strbuf *why)
{
	const char *t = col->base_type;
	int64_t n;

	if (!jscan_int64(v, &n)) {
		/* PostgreSQL would read the digits as something else */
		strbuf_addf(why, "%s value %.*s is not an integer (of %s)", t,
			    v->len > 64 ? 64 : (int)v->len, v->text,
			    kind == 'd' ? "days" : kind == 'i' ? "microseconds" :
			    tick_name(time_ticks_per_sec(schema, col)));
		return false;
	}
	switch (kind) {
	case 'd':
		return add_date(out, n, why);
	case 't':
		return add_time_of_day(out, n, time_ticks_per_sec(schema, col), why);
	case 's':
		return add_timestamp(out, n, time_ticks_per_sec(schema, col), why);
	default:
		/* Days and the rest, as PostgreSQL prints an interval of days
		 * ('1187 days 03:00:00', not '28491:00:00'); the microseconds
		 * cannot tell months, or 24 hours from a day (MicroDuration). */
		strbuf_addf(out, "%" PRId64 " days %" PRId64 " microseconds", n / USEC_PER_DAY,
			    n % USEC_PER_DAY);
		return true;
	}
}

static bool add_scalar(struct strbuf *out, const struct jscan_value *v, json_t *schema,
		       const struct column_schema *col, struct strbuf *why)
{
	const char *t = col->base_type;
	const char *s = v->kind == JSCAN_STRING ? v->text : NULL;

	bool bit = strcmp(t, "bit") == 0 || strcmp(t, "varbit") == 0;

	if (v->kind == JSCAN_TRUE || v->kind == JSCAN_FALSE) {
		/* bit(1) is a boolean in Debezium's events */
		if (bit)
			strbuf_adds(out, v->kind == JSCAN_TRUE ? "1" : "0");
		else
			strbuf_adds(out, v->kind == JSCAN_TRUE ? "t" : "f");
		return true;
	}
	if (bit && s && (name_is_bits(schema) || (!schema && !is_bit_text(s, col))))
		return add_bits(out, s, schema, col, why);
	if (strcmp(t, "bytea") == 0 && s)
		return add_bytea(out, s, why);
	if (strcmp(t, "numeric") == 0 || strcmp(t, "money") == 0) {
		const char *name = json_str(schema, "name");
		int64_t scale;

		if (v->kind == JSCAN_OBJECT)
			return add_variable_scale_decimal(out, v, why);
		/* base64 when the schema says Decimal ("1234" is base64 too),
		 * without a schema when it cannot be a number's text */
		if (s && ((name && strcmp(name, "org.apache.kafka.connect.data.Decimal") == 0) ||
			  !looks_numeric(s)))
			return decimal_scale(schema, col, &scale, why) &&
			       add_decimal_bytes(out, s, scale, why);
	}
	if (v->kind == JSCAN_NUMBER) {
		int kind = time_kind(t);

		if (kind)
			return add_time_number(out, v, kind, schema, col, why);
	}
	/* A number keeps its own digits (the type's input reads JSON's number
	 * syntax); a string its text; an object or array, in a column that is
	 * neither, its JSON text. */
	strbuf_add(out, v->text, v->len);
	return true;
}

/* A JSON array as an array literal: {"a b",NULL,"c"}.  Read from a copy (a
 * value may be read more than once). */
static bool add_array(struct strbuf *out, const struct jscan_value *v, json_t *schema,
		      const struct column_schema *col, struct strbuf *why)
{
	json_t *items = json_object_get(schema, "items");
	struct strbuf elem, copy;
	struct jscan s;
	struct jscan_value item;
	bool more, ok = true;

	if (v->kind != JSCAN_ARRAY)
		return add_scalar(out, v, schema, col, why);
	strbuf_init(&elem);
	strbuf_init(&copy);
	strbuf_add(&copy, v->text, v->len);
	jscan_init(&s, copy.data, copy.len);
	ok = jscan_enter(&s, '['); /* cannot fail: checked when skipped */
	strbuf_adds(out, "{");
	for (size_t i = 0; ok && jscan_item(&s, &more) && more && jscan_value(&s, &item); i++) {
		if (i)
			strbuf_adds(out, ",");
		if (item.kind == JSCAN_NULL) {
			strbuf_adds(out, "NULL");
			continue;
		}
		elem.len = 0;
		elem.data[0] = '\0';
		ok = add_scalar(&elem, &item, items, col, why);
		strbuf_adds(out, "\"");
		for (size_t k = 0; ok && k < elem.len; k++) {
			if (elem.data[k] == '"' || elem.data[k] == '\\')
				strbuf_adds(out, "\\");
			strbuf_add(out, &elem.data[k], 1);
		}
		strbuf_adds(out, "\"");
	}
	strbuf_adds(out, "}");
	strbuf_fini(&elem);
	strbuf_fini(&copy);
	return ok;
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
	if (f->text) { /* cdc.text: the value's own text (values go as parameters) */
		*kind = APPLY_VALUE_TEXT;
		strbuf_adds(out, f->text);
		return true;
	}
	if (f->value.kind == JSCAN_NULL) {
		*kind = APPLY_VALUE_NULL;
		return true;
	}
	*kind = APPLY_VALUE_TEXT;
	if (col->is_array)
		return add_array(out, &f->value, f->schema, col, why);
	return add_scalar(out, &f->value, f->schema, col, why);
}
