/*
 * agent/apply/apply_lag.c: apply's lag in events (see apply_lag.h).
 */
#include "apply/apply_lag.h"
#include "pipeline/table_select.h"

#include "base/log.h"
#include "kafka/kafka_log.h"
#include "pg/pgsql.h"
#include "pipeline/health.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAG_TIMEOUT_MS 3000

struct stored_offset {
	char *topic;
	int partition;
	int64_t next;
};

/* The offsets apply committed in the target for pipe; *out caller frees
 * (stored_offsets_free). A target without the table yet has none. */
static bool stored_offsets(const struct pipeline_cfg *pipe, struct stored_offset **out, size_t *n,
			   struct strbuf *why)
{
	/* Quiet: the status is collected every 10 s, and an unreachable target
	 * is a state it reports (why), not a line for the journal each time. */
	char *error = NULL;
	PGconn *conn = pgsql_connect_quiet("status", &pipe->target->pg, PG_AS_USER, NULL, &error);
	const char *params[] = { pipe->name };
	PGresult *res = NULL;
	char *table = NULL;
	bool ok;

	*out = NULL;
	*n = 0;
	if (!conn) {
		strbuf_addf(why, "cannot connect to target %s: %s", pipe->target->name,
			    error ? error : "unknown error");
		free(error);
		return false;
	}
	ok = pgsql_query_value(conn, "status", "SELECT to_regclass('cdc_agent.offsets')::text", 0,
			       NULL, &table);
	/* No table yet: apply has not committed anything. */
	if (!ok || !table || !pgsql_query(conn, "status",
					 "SELECT topic, partition, next_offset FROM "
					 "cdc_agent.offsets WHERE pipeline = $1",
					 1, params, &res)) {
		if (ok && table)
			strbuf_addf(why, "cannot read apply's offsets in target %s",
				    pipe->target->name);
		ok = ok && !table;
		free(table);
		PQfinish(conn);
		return ok;
	}
	free(table);
	*n = (size_t)PQntuples(res);
	*out = xcalloc(*n ? *n : 1, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		(*out)[i].topic = xstrdup(PQgetvalue(res, (int)i, 0));
		(*out)[i].partition = atoi(PQgetvalue(res, (int)i, 1));
		(*out)[i].next = strtoll(PQgetvalue(res, (int)i, 2), NULL, 10);
	}
	PQclear(res);
	PQfinish(conn);
	return true;
}

static void stored_offsets_free(struct stored_offset *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(o[i].topic);
	free(o);
}

/* Where apply resumes on (topic, partition); -1: nothing stored (it starts
 * from the beginning, the low watermark). */
static int64_t stored_next(const struct stored_offset *o, size_t n, const char *topic,
			   int partition)
{
	for (size_t i = 0; i < n; i++)
		if (o[i].partition == partition && strcmp(o[i].topic, topic) == 0)
			return o[i].next;
	return -1;
}

/* Adds to why that the brokers' ACLs refused user (the probe's) doing
 * something with topic. */
static void topic_refused(struct strbuf *why, const char *user, const char *doing,
			  const char *topic, rd_kafka_resp_err_t err)
{
	char what[320];

	snprintf(what, sizeof(what), "%s of topic %s", doing, topic);
	kafka_acl_refusal(why, user, what, err, NULL, "Describe on the topic");
}

/* Adds the lag of every partition of topic; a topic not created yet adds 0,
 * one the probe's user may not describe is an error. */
static bool topic_lag(rd_kafka_t *rk, const char *user, const char *topic,
		      const struct stored_offset *o, size_t n, int64_t *lag, struct strbuf *why)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, LAG_TIMEOUT_MS);
	bool ok = err == RD_KAFKA_RESP_ERR_NO_ERROR;

	if (!ok)
		strbuf_addf(why, "Kafka metadata of %s: %s", topic, rd_kafka_err2str(err));
	else if (md->topic_cnt == 1 && kafka_err_is_acl(md->topics[0].err)) {
		topic_refused(why, user, "reading the metadata", topic, md->topics[0].err);
		ok = false;
	}
	for (int p = 0; ok && md->topic_cnt == 1 && md->topics[0].err == 0 &&
			p < md->topics[0].partition_cnt;
	     p++) {
		int64_t low, high, next = stored_next(o, n, topic, p);

		err = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, LAG_TIMEOUT_MS);
		if (kafka_err_is_acl(err)) {
			topic_refused(why, user, "reading the offsets", topic, err);
			ok = false;
		} else if (err) {
			strbuf_addf(why, "Kafka watermarks of %s[%d]: %s", topic, p,
				    rd_kafka_err2str(err));
			ok = false;
		} else {
			*lag += high - (next < low ? low : next);
		}
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return ok;
}

/* With patterns, the source's tables are the catalog's: asked once per
 * topology loaded (run's passes keep them current). */
static bool pipeline_tables_known(const struct pipeline_cfg *pipe, struct strbuf *why)
{
	if (pipe->source->tables_resolved)
		return true;
	if (table_select_resolve_as(pipe->source, "status", PG_AS_USER))
		return true;
	strbuf_addf(why, "the tables of source %s could not be read from its catalog",
		    pipe->source->name);
	return false;
}

bool apply_lag_events(const struct topology *topo, const struct pipeline_cfg *pipe,
		      int64_t *lag, struct strbuf *why)
{
	struct stored_offset *o;
	size_t n;
	rd_kafka_t *rk;
	bool ok = true;

	*lag = 0;
	if (!pipeline_tables_known(pipe, why) || !stored_offsets(pipe, &o, &n, why))
		return false;
	rk = health_kafka_client(&topo->kafka, topology_probe_credentials(topo, pipe), why);
	ok = rk != NULL;
	for (size_t i = 0; ok && i < pipe->source->tables.n; i++) {
		char *topic = topology_topic(pipe->source, &pipe->source->tables.items[i]);

		ok = topic_lag(rk, topology_probe_credentials(topo, pipe)->user, topic, o, n, lag,
			       why);
		free(topic);
	}
	if (rk)
		rd_kafka_destroy(rk);
	stored_offsets_free(o, n);
	return ok;
}

/* Whether topic is one of the pipeline's (the source's tables known). */
static bool pipeline_topic(const struct pipeline_cfg *pipe, const char *topic)
{
	bool found = false;

	for (size_t i = 0; !found && i < pipe->source->tables.n; i++) {
		char *t = topology_topic(pipe->source, &pipe->source->tables.items[i]);

		found = strcmp(t, topic) == 0;
		free(t);
	}
	return found;
}

/* Moves the stored offset of o to low, if it is still o->next. */
static bool gap_skip(const struct pipeline_cfg *pipe, const struct stored_offset *o, int64_t low)
{
	char part[16], from[32], to[32];
	const char *params[] = { pipe->name, o->topic, part, from, to };
	const char *label = "accept-gap";
	PGconn *conn = pgsql_connect(label, &pipe->target->pg, PG_AS_USER, NULL);
	PGresult *res;
	bool ok;

	if (!conn)
		return false; /* errors already logged */
	snprintf(part, sizeof(part), "%d", o->partition);
	snprintf(from, sizeof(from), "%lld", (long long)o->next);
	snprintf(to, sizeof(to), "%lld", (long long)low);
	if (pgsql_query(conn, label,
			"UPDATE cdc_agent.offsets SET next_offset = $5, applied_at = now() "
			"WHERE pipeline = $1 AND topic = $2 AND partition = $3 AND next_offset = $4",
			5, params, &res)) {
		ok = strcmp(PQcmdTuples(res), "1") == 0;
		if (!ok)
			log_error("%s: topic %s partition %d: the stored offset moved meanwhile (is apply running?): nothing changed",
				  label, o->topic, o->partition);
		PQclear(res);
	} else {
		ok = false; /* errors already logged */
	}
	PQfinish(conn);
	return ok;
}

bool apply_gap_accept(const struct topology *topo, const struct pipeline_cfg *pipe,
		      bool confirmed, int *gaps)
{
	struct stored_offset *o = NULL;
	struct strbuf why;
	size_t n = 0;
	rd_kafka_t *rk = NULL;
	bool ok;

	*gaps = 0;
	strbuf_init(&why);
	ok = pipeline_tables_known(pipe, &why) && stored_offsets(pipe, &o, &n, &why) && (rk = health_kafka_client(&topo->kafka, topology_probe_credentials(topo, pipe), &why));
	for (size_t i = 0; ok && i < n; i++) {
		int64_t low, high;
		rd_kafka_resp_err_t err;

		if (!pipeline_topic(pipe, o[i].topic))
			continue;
		err = rd_kafka_query_watermark_offsets(rk, o[i].topic, o[i].partition, &low, &high,
						       LAG_TIMEOUT_MS);
		if (kafka_err_is_acl(err)) {
			topic_refused(&why, topology_probe_credentials(topo, pipe)->user,
				      "reading the offsets", o[i].topic, err);
			ok = false;
			break;
		}
		if (err) {
			strbuf_addf(&why, "Kafka watermarks of %s[%d]: %s", o[i].topic,
				    o[i].partition, rd_kafka_err2str(err));
			ok = false;
			break;
		}
		if (o[i].next >= low && o[i].next <= high)
			continue;
		(*gaps)++;
		printf("topic %s partition %d: stored offset %lld is outside the log (%lld..%lld): %s\n",
		       o[i].topic, o[i].partition, (long long)o[i].next, (long long)low,
		       (long long)high,
		       confirmed ? "moved to the log's start; the records in between are lost"
				 : "would move to the log's start (--yes)");
		if (confirmed && !gap_skip(pipe, &o[i], low))
			ok = false;
	}
	if (!ok && why.len)
		log_error("accept-gap %s: %s", pipe->name, why.data);
	if (rk)
		rd_kafka_destroy(rk);
	stored_offsets_free(o, n);
	strbuf_fini(&why);
	return ok;
}
