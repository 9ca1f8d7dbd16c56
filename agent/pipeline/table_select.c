/*
 * agent/pipeline/table_select.c: a source's tables resolved against its catalog
 * (table_select.h).
 */
#include "pipeline/table_select.h"

#include "base/log.h"
#include "base/util.h"
#include "config/topo_values.h"

#include <stdlib.h>
#include <string.h>

/* Tables a pattern may select: not the catalogs, not the agent's own
 * schema, not a partition (its root is the table: docs/ARCHITECTURE.md),
 * not temporary or unlogged (logical decoding has no changes of theirs). */
static const char catalog_sql[] =
	"SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
	"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	"WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p' "
	"AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'cdc_agent') "
	"ORDER BY n.nspname, c.relname";

struct selection {
	struct table_list list;
	size_t cap;
	struct strmap names;  /* table_name_text -> index */
	struct strmap topics; /* topology_topic_key -> index */
	bool ok;
};

static int tables_line(const struct source_cfg *src)
{
	return topology_key_line(&src->origin, "source", "tables");
}

static void select_add(struct selection *sel, const struct source_cfg *src, const char *schema,
		       const char *table, int line)
{
	struct table_ref ref = { (char *)schema, (char *)table };
	char *name = table_ref_text(&ref), *topic, *key;
	size_t other;

	if (strmap_get(&sel->names, name, strlen(name), &other)) {
		free(name);
		return; /* named and matched, or matched twice */
	}
	topic = topology_topic(src, &ref);
	key = topology_topic_key(topic);
	if (strmap_get(&sel->topics, key, strlen(key), &other)) {
		char *oname = table_ref_text(&sel->list.items[other]);
		char *otopic = topology_topic(src, &sel->list.items[other]);

		if (strcmp(otopic, topic) == 0)
			log_error_at(src->origin.file, line,
				     "tables: tables %s and %s of database %s would both go to Kafka topic %s (characters outside a-z A-Z 0-9 . _ - become '_', as Debezium names topics): exclude one of them ('!'), or replicate it through another [source] with its own topic_prefix",
				     oname, name, src->pg.dbname, topic);
		else
			log_error_at(src->origin.file, line,
				     "tables: the topics of tables %s and %s of database %s, %s and %s, collide in Kafka ('.' and '_' are the same to it): exclude one of them ('!'), or replicate it through another [source] with its own topic_prefix",
				     oname, name, src->pg.dbname, otopic, topic);
		free(otopic);
		free(oname);
		sel->ok = false;
	} else {
		if (sel->list.n == sel->cap) {
			sel->cap = sel->cap ? sel->cap * 2 : 64;
			sel->list.items = xrealloc(sel->list.items, sel->cap * sizeof(struct table_ref));
		}
		sel->list.items[sel->list.n].schema = xstrdup(schema);
		sel->list.items[sel->list.n].table = xstrdup(table);
		strmap_put(&sel->topics, key, strlen(key), sel->list.n);
		strmap_put(&sel->names, name, strlen(name), sel->list.n);
		sel->list.n++;
	}
	free(key);
	free(topic);
	free(name);
}

/* Says which tables joined and left since the last resolution. */
static void log_difference(const char *label, const struct table_list *before,
			   const struct table_list *after)
{
	struct strset old = { 0 }, now = { 0 };

	for (size_t i = 0; i < before->n; i++) {
		char *name = table_ref_text(&before->items[i]);

		strset_add(&old, name);
		free(name);
	}
	for (size_t i = 0; i < after->n; i++) {
		char *name = table_ref_text(&after->items[i]);

		strset_add(&now, name);
		if (!strset_contains(&old, name))
			log_info("%s: table %s joins: a pattern of tables now matches it", label, name);
		free(name);
	}
	for (size_t i = 0; i < before->n; i++) {
		char *name = table_ref_text(&before->items[i]);

		if (!strset_contains(&now, name))
			log_info("%s: table %s leaves: no pattern of tables matches it any more", label,
				 name);
		free(name);
	}
	strset_fini(&old);
	strset_fini(&now);
}

/* table_select_resolve_as over conn. */
static bool table_select_resolve(PGconn *conn, const char *label, struct source_cfg *src)
{
	struct table_specs *specs = &src->table_specs;
	struct selection sel = { .ok = true };
	size_t *matched = xcalloc(specs->n + 1, sizeof(size_t));
	PGresult *res;

	if (src->tables_static) {
		free(matched);
		return true;
	}
	if (!pgsql_query(conn, label, catalog_sql, 0, NULL, &res)) {
		free(matched);
		return false; /* errors already logged */
	}
	for (size_t i = 0; i < specs->n; i++) {
		const struct table_spec *t = &specs->items[i];

		if (!t->exclude && !t->schema_glob && !t->table_glob)
			select_add(&sel, src, t->schema, t->table, t->line);
	}
	for (int r = 0; r < PQntuples(res); r++) {
		const char *schema = PQgetvalue(res, r, 0), *table = PQgetvalue(res, r, 1);
		bool excluded = false;
		int line = 0; /* of the first pattern that matches it */

		for (size_t i = 0; i < specs->n; i++) {
			const struct table_spec *t = &specs->items[i];

			if (!(t->schema_glob || t->table_glob || t->exclude) ||
			    !table_spec_matches(t, schema, table))
				continue;
			matched[i]++;
			excluded = excluded || t->exclude;
			if (!t->exclude && !line)
				line = t->line;
		}
		if (line && !excluded)
			select_add(&sel, src, schema, table, line);
	}
	PQclear(res);
	/* Said once (run resolves at every pass), again after it matched. */
	for (size_t i = 0; i < specs->n; i++) {
		struct table_spec *t = &specs->items[i];

		if (t->exclude || !(t->schema_glob || t->table_glob))
			continue;
		if (matched[i] == 0 && !t->warned)
			log_warn_at(src->origin.file, t->line,
				    "tables: pattern %s.%s matches no table of database %s",
				    t->schema, t->table, src->pg.dbname);
		t->warned = matched[i] == 0;
	}
	if (sel.ok && sel.list.n == 0) {
		log_error_at(src->origin.file, tables_line(src),
			     "tables: no table of database %s matches the patterns of [source %s]",
			     src->pg.dbname, src->name);
		sel.ok = false;
	}
	if (sel.ok) {
		if (src->tables_resolved)
			log_difference(label, &src->tables, &sel.list);
		table_list_fini(&src->tables);
		src->tables = sel.list;
		src->tables_resolved = true;
	} else {
		table_list_fini(&sel.list);
	}
	strmap_fini(&sel.names);
	strmap_fini(&sel.topics);
	free(matched);
	return sel.ok;
}

bool table_select_resolve_as(struct source_cfg *src, const char *label, enum pg_role role)
{
	PGconn *conn;
	bool ok;

	if (src->tables_static)
		return true;
	conn = pgsql_connect(label, &src->pg, role, src->pg.dbname);
	ok = conn && table_select_resolve(conn, label, src);
	PQfinish(conn);
	return ok;
}
