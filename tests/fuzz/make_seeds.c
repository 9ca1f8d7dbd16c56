/*
 * tests/fuzz/make_seeds.c: writes the seed inputs of the pgoutput and
 * apply_event corpora from real bytes: the pgoutput messages a PostgreSQL
 * 15 server sent (tests/unit/pgoutput_fixtures.h, captured by
 * tests/unit/make_pgoutput_fixtures.sh), and the Kafka records the agent's
 * own capture code (event_json.c) makes of them, in every event format.
 *
 *   make build/fuzz/make_seeds && build/fuzz/make_seeds tests/fuzz/corpus
 *
 * Writes seed-* files into CORPUS/pgoutput and CORPUS/apply_event; `make
 * fuzz` then merges what the fuzzer finds beside them.  The catalog's part
 * of a table's schema (type names, nullability, key) is filled in here from
 * the fixture tables' definitions, as table_schema.c would read them.
 */
#include "base/util.h"
#include "capture/event_json.h"
#include "pg/pgoutput.h"
#include "pg/table_schema.h"

#include "../unit/pgoutput_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;

static void write_seed(const char *target, const char *name, const void *data, size_t len)
{
	char *path = xasprintf("%s/%s/seed-%s", dir, target, name);
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	free(path);
}

/* ---- pgoutput: length-prefixed messages -------------------------------- */

static void add_framed(struct strbuf *sb, const void *data, size_t len)
{
	char hdr[2] = { (char)(len >> 8), (char)len };

	strbuf_add(sb, hdr, 2);
	strbuf_add(sb, data, len);
}

static void put_u64(char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (char)(v & 0xff);
}

static void pgoutput_seeds(void)
{
	struct strbuf all, wrapped, step;
	const char *cur = NULL;
	size_t n = ARRAY_LEN(pgoutput_fixtures);

	strbuf_init(&all);
	strbuf_init(&wrapped);
	strbuf_init(&step);
	for (size_t i = 0; i < n; i++) {
		const struct pgoutput_fixture *fx = &pgoutput_fixtures[i];
		char *x = xmalloc(25 + fx->len);

		add_framed(&all, fx->data, fx->len);
		/* As capture receives it: XLogData around the message. */
		x[0] = 'w';
		put_u64(x + 1, fx->lsn);
		put_u64(x + 9, fx->lsn + 0x100);
		put_u64(x + 17, UINT64_C(768000000000000));
		memcpy(x + 25, fx->data, fx->len);
		add_framed(&wrapped, x, 25 + fx->len);
		free(x);
	}
	{
		char k[18] = { 'k' };

		put_u64(k + 1, UINT64_C(0x1547E58));
		put_u64(k + 9, UINT64_C(768000000000000));
		k[17] = 1;
		add_framed(&wrapped, k, sizeof(k));
	}
	write_seed("pgoutput", "stream", all.data, all.len);
	write_seed("pgoutput", "stream-xlogdata", wrapped.data, wrapped.len);
	/* Each step alone, after the Relation and Type messages sent before it. */
	for (size_t i = 0; i < n; i++) {
		if (cur && strcmp(cur, pgoutput_fixtures[i].step) == 0)
			continue;
		cur = pgoutput_fixtures[i].step;
		step.len = 0;
		for (size_t j = 0; j < i; j++)
			if (strchr("RY", pgoutput_fixtures[j].data[0]))
				add_framed(&step, pgoutput_fixtures[j].data, pgoutput_fixtures[j].len);
		for (size_t j = i; j < n && strcmp(pgoutput_fixtures[j].step, cur) == 0; j++)
			add_framed(&step, pgoutput_fixtures[j].data, pgoutput_fixtures[j].len);
		write_seed("pgoutput", cur, step.data, step.len);
	}
	strbuf_fini(&all);
	strbuf_fini(&wrapped);
	strbuf_fini(&step);
}

/* ---- apply_event: the records capture makes of the same stream ---------- */

/* The fixture tables' types (make_pgoutput_fixtures.sh): OID -> typname. */
static const struct {
	uint32_t oid;
	const char *base, *sql;
	bool array;
} types[] = {
	{ 16, "bool", "boolean", false },     { 17, "bytea", "bytea", false },
	{ 20, "int8", "bigint", false },      { 21, "int2", "smallint", false },
	{ 23, "int4", "integer", false },     { 25, "text", "text", false },
	{ 114, "json", "json", false },       { 700, "float4", "real", false },
	{ 701, "float8", "double precision", false }, { 869, "inet", "inet", false },
	{ 1009, "text", "text[]", true },     { 1042, "bpchar", "character", false },
	{ 1043, "varchar", "character varying", false }, { 1082, "date", "date", false },
	{ 1083, "time", "time without time zone", false },
	{ 1184, "timestamptz", "timestamp with time zone", false },
	{ 1186, "interval", "interval", false }, { 1700, "numeric", "numeric", false },
	{ 2950, "uuid", "uuid", false },      { 3802, "jsonb", "jsonb", false },
};

static void column_from(struct column_schema *col, const struct pgoutput_column *pc)
{
	const char *base = "mood", *sql = "mood"; /* the one enum */
	bool array = false;
	int typmod = pc->typmod;

	for (size_t i = 0; i < ARRAY_LEN(types); i++)
		if (types[i].oid == pc->type_oid) {
			base = types[i].base;
			sql = types[i].sql;
			array = types[i].array;
		}
	memset(col, 0, sizeof(*col));
	col->name = xstrdup(pc->name);
	col->type_oid = pc->type_oid;
	col->base_type = xstrdup(base);
	col->is_array = array;
	col->length = col->scale = -1;
	if (typmod >= 0 && strcmp(base, "numeric") == 0) {
		col->length = ((typmod - 4) >> 16) & 0xffff;
		col->scale = (typmod - 4) & 0x7ff;
		col->type_sql = xasprintf("numeric(%d,%d)", col->length, col->scale);
	} else if (typmod >= 0 && (strcmp(base, "varchar") == 0 || strcmp(base, "bpchar") == 0)) {
		col->length = typmod - 4;
		col->type_sql = xasprintf("%s(%d)", sql, col->length);
	} else {
		col->type_sql = xstrdup(sql);
	}
	col->optional = !pc->key;
	col->key_position = 0;
}

static struct table_schema *schema_from(const struct pgoutput_relation *rel)
{
	struct table_schema *ts = xcalloc(1, sizeof(*ts));

	ts->oid = rel->oid;
	ts->schema = xstrdup(rel->nspname);
	ts->table = xstrdup(rel->relname);
	ts->ncols = rel->ncols;
	ts->cols = xcalloc(rel->ncols ? rel->ncols : 1, sizeof(*ts->cols));
	ts->key_cols = xcalloc(rel->ncols ? rel->ncols : 1, sizeof(*ts->key_cols));
	for (uint16_t i = 0; i < rel->ncols; i++) {
		column_from(&ts->cols[i], &rel->cols[i]);
		if (rel->cols[i].key && rel->replident != PGOUTPUT_REPLIDENT_FULL) {
			ts->key_cols[ts->nkey++] = i;
			ts->cols[i].key_position = (int)ts->nkey;
		}
	}
	return ts;
}

/* One record: value US key US unchanged US columns, as fuzz_apply_event.c reads it. */
static void add_record(struct strbuf *sb, const struct event_options *fmt,
		       const struct event_table *et, char op, const struct pgoutput_tuple *before,
		       const struct pgoutput_tuple *after)
{
	const struct pgoutput_value *row = after && after->ncols ? after->values
					   : before && before->ncols ? before->values
								    : NULL;
	struct event_source src = { .ts_ms = 1704067260456, .snapshot = "false", .txid = 730,
				    .lsn = UINT64_C(0x1545458), .last_commit_lsn = 0 };
	struct strbuf part;

	strbuf_init(&part);
	if (sb->len > 3)
		strbuf_adds(sb, "\x1e");
	event_value_json(sb, fmt, et, op, before && before->ncols ? before->values : NULL,
			 after && after->ncols ? after->values : NULL, &src, 1704067260999);
	strbuf_adds(sb, "\x1f");
	if (row && event_key_json(&part, fmt, et, row))
		strbuf_add(sb, part.data, part.len);
	strbuf_adds(sb, "\x1f");
	part.len = 0;
	if (after && after->ncols && event_unchanged_json(&part, et, after->values))
		strbuf_add(sb, part.data, part.len);
	else
		strbuf_adds(sb, "[]");
	strbuf_adds(sb, "\x1f");
	strbuf_adds(sb, et->columns_header);
	strbuf_fini(&part);
}

static void apply_seeds(const struct event_options *fmt, const char *fmt_name)
{
	struct pgoutput_decoder dec;
	struct pgoutput_msg m;
	struct event_table *tables[16] = { NULL };
	struct table_schema *schemas[16] = { NULL };
	uint32_t oids[16] = { 0 };
	size_t ntables = 0;
	struct strbuf sb;
	/* The column the harness adds: numeric(10,2). */
	static const char header[3] = { 4, 11, 3 };

	pgoutput_decoder_init(&dec);
	strbuf_init(&sb);
	for (size_t i = 0; i < ARRAY_LEN(pgoutput_fixtures); i++) {
		const struct pgoutput_fixture *fx = &pgoutput_fixtures[i];
		struct event_table *et = NULL;
		char name[96];

		if (!pgoutput_decode(&dec, (const char *)fx->data, fx->len, &m))
			exit(1);
		if (m.type == PGOUTPUT_RELATION) {
			size_t t;

			for (t = 0; t < ntables && oids[t] != m.relation.rel->oid; t++)
				;
			if (t == ntables)
				ntables++;
			event_table_free(tables[t]);
			table_schema_free(schemas[t]);
			oids[t] = m.relation.rel->oid;
			schemas[t] = schema_from(m.relation.rel);
			tables[t] = event_table_new(fmt, schemas[t]);
			continue;
		}
		if (m.type != PGOUTPUT_INSERT && m.type != PGOUTPUT_UPDATE &&
		    m.type != PGOUTPUT_DELETE)
			continue;
		for (size_t t = 0; t < ntables; t++)
			if (oids[t] == m.change.rel->oid)
				et = tables[t];
		sb.len = 0;
		strbuf_add(&sb, header, 3);
		add_record(&sb, fmt, et,
			   m.type == PGOUTPUT_INSERT ? 'c' : m.type == PGOUTPUT_UPDATE ? 'u' : 'd',
			   &m.change.old_tuple, &m.change.new_tuple);
		if (m.type == PGOUTPUT_DELETE) { /* and the tombstone after it */
			strbuf_adds(&sb, "\x1e\x1f");
			(void)event_key_json(&sb, fmt, et, m.change.old_tuple.values);
		}
		snprintf(name, sizeof(name), "%s-%02zu-%s-%c", fmt_name, i, fx->step, (char)m.type);
		write_seed("apply_event", name, sb.data, sb.len);
		/* A truncate of the same table, once per format and table. */
		if (i == 3) {
			sb.len = 3;
			add_record(&sb, fmt, et, 't', NULL, NULL);
			snprintf(name, sizeof(name), "%s-truncate", fmt_name);
			write_seed("apply_event", name, sb.data, sb.len);
		}
	}
	for (size_t t = 0; t < ntables; t++) {
		event_table_free(tables[t]);
		table_schema_free(schemas[t]);
	}
	pgoutput_decoder_fini(&dec);
	strbuf_fini(&sb);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		bool schemas;
		int decimal;
		bool interval_string;
	} formats[] = {
		{ "plain", false, DECIMAL_STRING, true },
		{ "schemas", true, DECIMAL_STRING, true },
		{ "schemas-precise", true, DECIMAL_PRECISE, false },
		{ "plain-double", false, DECIMAL_DOUBLE, false },
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 64;
	}
	dir = argv[1];
	pgoutput_seeds();
	for (size_t i = 0; i < ARRAY_LEN(formats); i++) {
		struct event_options fmt = { .server_name = "db1server", .db = "db1",
					    .schemas = formats[i].schemas,
					    .decimal_mode = formats[i].decimal,
					    .interval_string = formats[i].interval_string };

		apply_seeds(&fmt, formats[i].name);
	}
	return 0;
}
