/*
 * agent/capture/capture_ground.c: the publication and the topics as capture needs
 * them (capture_ground.h).
 */
#include "capture/capture_ground.h"

#include "base/log.h"
#include "config/topo_values.h"
#include "pg/pgsql.h"

#include <stdlib.h>
#include <string.h>

/* Kafka's metadata request waits at most this long: the check runs between
 * stream messages, and a broker that does not answer is not the ground's
 * fault (producing says so). */
#define METADATA_TIMEOUT_MS 3000

static void why_add(struct strbuf *why, const char *fmt, const char *a, const char *b)
{
	if (why->len > 0)
		strbuf_adds(why, "; ");
	strbuf_addf(why, fmt, a, b);
}

/* The publication's tables against the topology's; false when it could not
 * be asked (logged). */
static bool publication_compare(PGconn *sql, const struct source_cfg *src, const char *label,
				struct strbuf *why, struct strbuf *extra)
{
	const char *params[] = { src->publication };
	struct strset published = { 0 }, listed = { 0 };
	PGresult *res;

	/* Its own list of tables (a partitioned table is a member itself), and
	 * whether a partitioned one's changes would come as its partitions'
	 * (publish_via_partition_root off): then they reach no topic. */
	if (!pgsql_query(sql, label,
			 "SELECT n.nspname, c.relname, c.relkind = 'p' AND NOT p.pubviaroot "
			 "FROM pg_publication p JOIN pg_publication_rel pr ON pr.prpubid = p.oid "
			 "JOIN pg_class c ON c.oid = pr.prrelid "
			 "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.pubname = $1",
			 1, params, &res))
		return false; /* errors already logged */
	for (int i = 0; i < PQntuples(res); i++) {
		char *name = table_name_text(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));

		if (strcmp(PQgetvalue(res, i, 2), "t") == 0)
			why_add(why, "publication %s sends partitioned table %s's changes as its "
				"partitions' (publish_via_partition_root is off)",
				src->publication, name);
		strset_add(&published, name);
		free(name);
	}
	for (size_t i = 0; i < src->tables.n; i++) {
		char *name = table_ref_text(&src->tables.items[i]);

		strset_add(&listed, name);
		if (!strset_contains(&published, name))
			why_add(why, "table %s is not in publication %s", name, src->publication);
		free(name);
	}
	for (int i = 0; i < PQntuples(res); i++) {
		char *name = table_name_text(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));

		if (!strset_contains(&listed, name))
			why_add(extra, "publication %s has table %s that the topology does not list",
				src->publication, name);
		free(name);
	}
	PQclear(res);
	strset_fini(&published);
	strset_fini(&listed);
	return true;
}

/* Every table's topic exists, and the transaction topic; false when Kafka did not answer (why says). */
static bool topics_compare(struct kafka_out *ko, const struct source_cfg *src,
			   struct strbuf *why, struct strbuf *unknown)
{
	struct strlist names = { 0 };

	if (!kafka_out_topic_names(ko, METADATA_TIMEOUT_MS, &names, unknown))
		return false;
	struct strset have = { 0 };

	for (size_t i = 0; i < names.n; i++)
		strset_add(&have, names.items[i]);
	for (size_t i = 0; i < src->tables.n; i++) {
		char *topic = topology_topic(src, &src->tables.items[i]);

		if (!strset_contains(&have, topic))
			why_add(why, "topic %s does not exist%s", topic,
				" (capture creates topics at start: restart it, or create the topic)");
		free(topic);
	}
	{
		char *topic = topology_transaction_topic(src);

		if (topic && !strset_contains(&have, topic))
			why_add(why, "topic %s does not exist%s", topic,
				" (capture creates topics at start: restart it, or create the topic)");
		free(topic);
	}
	strset_fini(&have);
	strlist_fini(&names);
	return true;
}

enum ground capture_ground_check(PGconn *sql, struct kafka_out *ko, const struct source_cfg *src,
				 const char *label, struct strbuf *extra_seen, const char **kind,
				 struct strbuf *why)
{
	struct strbuf unknown, extra;
	bool asked, extra_again;

	strbuf_init(&extra);
	if (!publication_compare(sql, src, label, why, &extra)) {
		strbuf_fini(&extra);
		return GROUND_UNKNOWN; /* errors already logged */
	}
	/* A table the topology no longer lists stays published until the pass
	 * that restarted this capture drops it (docs/ARCHITECTURE.md, held
	 * drops): wrong only when the next check still finds it. */
	extra_again = extra.len > 0 && strcmp(extra.data, extra_seen->data) == 0;
	strbuf_fini(extra_seen);
	strbuf_init(extra_seen);
	strbuf_adds(extra_seen, extra.data);
	if (extra_again)
		why_add(why, "%s%s", extra.data, "");
	else if (extra.len > 0)
		log_info("%s: %s (its changes are ignored; the next pass of the agent drops it)",
			 label, extra.data);
	strbuf_fini(&extra);
	if (why->len > 0) {
		*kind = "publication";
		return GROUND_WRONG;
	}
	strbuf_init(&unknown);
	asked = topics_compare(ko, src, why, &unknown);
	if (!asked)
		strbuf_adds(why, unknown.data);
	strbuf_fini(&unknown);
	if (!asked)
		return GROUND_UNKNOWN;
	*kind = "topic";
	return why->len > 0 ? GROUND_WRONG : GROUND_OK;
}
