/*
 * agent/pipeline/health.c: component health beyond systemd's "active".
 */
#include "pipeline/health.h"

#include "config/kafka_limits.h"
#include "kafka/kafka_client.h"
#include "kafka/kafka_log.h"
#include "pg/pgsql.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS 3000
/* The probes' name to the brokers (client.id). */
#define PROBE_CLIENT_ID "cdc-agent-probe"

/* Sends ruok to host:port, true when the answer is imok. */
static bool zk_ruok(const char *hostport, struct strbuf *why)
{
	char *host = xstrdup(hostport), *colon = strrchr(host, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char answer[8] = { 0 };
	int fd = -1;
	bool ok = false;

	if (colon)
		*colon = '\0';
	if (colon && getaddrinfo(host, colon + 1, &hints, &ai) == 0 &&
	    (fd = socket(ai->ai_family, SOCK_STREAM, 0)) >= 0 &&
	    connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 && write(fd, "ruok", 4) == 4) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		size_t got = 0;

		while (got < 4 && poll(&pfd, 1, PROBE_TIMEOUT_MS) > 0) {
			ssize_t n = read(fd, answer + got, sizeof(answer) - 1 - got);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		ok = strncmp(answer, "imok", 4) == 0;
	}
	if (!ok)
		strbuf_addf(why, "ZooKeeper %s did not answer ruok with imok%s", hostport,
			    answer[0] ? "" : " (no answer; is 4lw.commands.whitelist=ruok set?)");
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	free(host);
	return ok;
}

bool health_zookeeper(const struct strlist *connect, struct strbuf *why)
{
	for (size_t i = 0; i < connect->n; i++)
		if (!zk_ruok(connect->items[i], why))
			return false;
	return true;
}

rd_kafka_t *health_kafka_client(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
				struct strbuf *why)
{
	rd_kafka_conf_t *conf;
	char err[256];
	rd_kafka_t *rk;

	if (!kafka_client_probe_conf_new(cfg, cred, PROBE_CLIENT_ID, &conf)) {
		strbuf_addf(why, "librdkafka refused a setting of the probe's client (logged)");
		return NULL;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		strbuf_addf(why, "cannot create a Kafka client: %s", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* Appends why the brokers refused a probe that started at since, when a
 * connection failure said it (TLS, SASL, a plaintext client at a TLS
 * listener): "no answer" alone does not tell an operator what to fix. */
static void why_add_cause(struct strbuf *why, double since)
{
	char cause[512];

	if (kafka_log_last_failure(since, cause, sizeof(cause)))
		strbuf_addf(why, "; the brokers' last failure: %s", cause);
}

bool health_kafka(const struct kafka_cfg *cfg, const struct kafka_credentials *cred, int brokers,
		  struct strbuf *why)
{
	double since = mono_seconds();
	rd_kafka_t *rk = health_kafka_client(cfg, cred, why);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	bool ok = false;

	if (!rk)
		return false;
	err = rd_kafka_metadata(rk, 0, NULL, &md, PROBE_TIMEOUT_MS);
	if (err) {
		strbuf_addf(why, "Kafka %s does not answer a metadata request: %s",
			    cfg->bootstrap_servers.items[0], rd_kafka_err2str(err));
		why_add_cause(why, since);
	} else if (md->broker_cnt < brokers)
		strbuf_addf(why, "Kafka has %d broker(s), expected %d", md->broker_cnt, brokers);
	else
		ok = true;
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	return ok;
}

bool health_kafka_cluster(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
			  const struct strlist *prefixes, struct kafka_cluster_health *out,
			  struct strbuf *why)
{
	double since = mono_seconds();
	rd_kafka_t *rk = health_kafka_client(cfg, cred, why);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;

	memset(out, 0, sizeof(*out));
	out->controller_id = -1;
	if (!rk)
		return false;
	err = rd_kafka_metadata(rk, 1, NULL, &md, PROBE_TIMEOUT_MS);
	if (err) {
		strbuf_addf(why, "Kafka %s does not answer a metadata request: %s",
			    cfg->bootstrap_servers.items[0], rd_kafka_err2str(err));
		why_add_cause(why, since);
		rd_kafka_destroy(rk);
		return false;
	}
	/* KRaft lists the brokers registered and not fenced: those up. */
	out->brokers_up = md->broker_cnt;
	out->broker_ids = xcalloc((size_t)md->broker_cnt + 1, sizeof(int32_t));
	for (int i = 0; i < md->broker_cnt; i++)
		out->broker_ids[i] = md->brokers[i].id;
	for (int t = 0; t < md->topic_cnt; t++) {
		const struct rd_kafka_metadata_topic *mt = &md->topics[t];
		struct kafka_topic_health *th;
		bool ours = false;

		for (size_t p = 0; p < prefixes->n && !ours; p++)
			ours = strncmp(mt->topic, prefixes->items[p], strlen(prefixes->items[p])) == 0;
		if (!ours)
			continue;
		out->topics = xrealloc(out->topics, (out->n_topics + 1) * sizeof(*out->topics));
		th = &out->topics[out->n_topics++];
		memset(th, 0, sizeof(*th));
		th->topic = xstrdup(mt->topic);
		th->partitions = mt->partition_cnt;
		for (int p = 0; p < mt->partition_cnt; p++) {
			const struct rd_kafka_metadata_partition *mp = &mt->partitions[p];

			if (mp->leader < 0 || mp->err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
				th->offline++;
			else if (mp->isr_cnt < mp->replica_cnt)
				th->under_replicated++;
		}
	}
	rd_kafka_metadata_destroy(md);
	out->controller_id = rd_kafka_controllerid(rk, PROBE_TIMEOUT_MS);
	rd_kafka_destroy(rk);
	return true;
}

void kafka_cluster_health_fini(struct kafka_cluster_health *h)
{
	for (size_t i = 0; i < h->n_topics; i++)
		free(h->topics[i].topic);
	free(h->topics);
	free(h->broker_ids);
	memset(h, 0, sizeof(*h));
}

bool kafka_cluster_broker_up(const struct kafka_cluster_health *h, int32_t id)
{
	for (int i = 0; i < h->brokers_up; i++)
		if (h->broker_ids[i] == id)
			return true;
	return false;
}

/* Whether md lists topic (with no error of its own). */
static bool metadata_has_topic(const struct rd_kafka_metadata *md, const char *topic)
{
	for (int i = 0; i < md->topic_cnt; i++)
		if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err)
			return true;
	return false;
}

/* Asks the brokers to validate the creation of topic (validate_only: nothing
 * is created); true when it could be created or exists already. */
static bool topic_creatable(rd_kafka_t *rk, const struct kafka_cfg *cfg, const char *user,
			    const char *topic, const char *prefix, struct strbuf *why)
{
	rd_kafka_NewTopic_t *nt;
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **results;
	char errstr[512], max_bytes[32];
	double since = mono_seconds();
	size_t n = 0;
	bool ok = false;

	nt = rd_kafka_NewTopic_new(topic, cfg->partitions, cfg->replication_factor, errstr,
				   sizeof(errstr));
	if (!nt) {
		strbuf_addf(why, "%stopic %s: %s\n", prefix, topic, errstr);
		return false;
	}
	snprintf(max_bytes, sizeof(max_bytes), "%" PRId64, kafka_batch_limit(cfg));
	opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	if (rd_kafka_NewTopic_set_config(nt, "max.message.bytes", max_bytes) ||
	    rd_kafka_AdminOptions_set_validate_only(opts, 1, errstr, sizeof(errstr)) ||
	    rd_kafka_AdminOptions_set_request_timeout(opts, PROBE_TIMEOUT_MS, errstr,
						      sizeof(errstr))) {
		strbuf_addf(why, "%stopic %s: librdkafka refused the request's options\n", prefix,
			    topic);
		rd_kafka_AdminOptions_destroy(opts);
		rd_kafka_NewTopic_destroy(nt);
		return false;
	}
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
	ev = rd_kafka_queue_poll(q, PROBE_TIMEOUT_MS + 1000);
	res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
	if (!ev) {
		strbuf_addf(why, "%stopic %s is missing and the brokers did not answer whether it could be created", prefix, topic);
		why_add_cause(why, since);
		strbuf_adds(why, "\n");
	} else if (rd_kafka_event_error(ev) || !res) {
		strbuf_addf(why, "%stopic %s is missing and cannot be created: %s\n", prefix, topic,
			    rd_kafka_event_error_string(ev));
	} else {
		rd_kafka_resp_err_t err;
		const char *text;

		results = rd_kafka_CreateTopics_result_topics(res, &n);
		err = n == 1 ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
		text = n == 1 ? rd_kafka_topic_result_error_string(results[0]) : NULL;
		ok = err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
		if (kafka_err_is_acl(err)) {
			char doing[320];

			snprintf(doing, sizeof(doing), "creating topic %s", topic);
			strbuf_adds(why, prefix);
			kafka_acl_refusal(why, user, doing, err, text,
					  "Create on the topic (or on the cluster)");
			strbuf_adds(why, "\n");
		} else if (!ok)
			strbuf_addf(why,
				    "%stopic %s is missing and cannot be created (%d partitions, replication factor %d, max.message.bytes %s): %s%s%s\n",
				    prefix, topic, cfg->partitions, cfg->replication_factor, max_bytes,
				    rd_kafka_err2str(err), text && *text ? ": " : "",
				    text && *text ? text : "");
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_NewTopic_destroy(nt);
	return ok;
}

bool health_kafka_access(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
			 const char *who, char *const *topics, size_t n_topics, bool create,
			 struct strbuf *why)
{
	double since = mono_seconds();
	char *brokers = strlist_join(&cfg->bootstrap_servers, ",");
	char *prefix = xasprintf("Kafka %s, %s as user %s: ", brokers, who,
				 cred && cred->user ? cred->user : "(none)");
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;
	bool ok = true;

	strbuf_adds(why, prefix);
	rk = health_kafka_client(cfg, cred, why);
	if (!rk) {
		strbuf_adds(why, "\n");
		free(prefix);
		free(brokers);
		return false;
	}
	why->len -= strlen(prefix);
	why->data[why->len] = '\0';
	err = rd_kafka_metadata(rk, 1, NULL, &md, PROBE_TIMEOUT_MS);
	if (err) {
		strbuf_addf(why, "%sno answer to a metadata request: %s", prefix,
			    rd_kafka_err2str(err));
		why_add_cause(why, since);
		strbuf_adds(why, "\n");
		ok = false;
	}
	for (size_t i = 0; !err && i < n_topics; i++) {
		if (metadata_has_topic(md, topics[i]))
			continue;
		if (!create) {
			strbuf_addf(why, "%stopic %s is missing (or the user may not describe it)\n",
				    prefix, topics[i]);
			ok = false;
		} else if (!topic_creatable(rk, cfg, cred ? cred->user : NULL, topics[i], prefix,
					    why))
			ok = false;
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	free(prefix);
	free(brokers);
	return ok;
}

bool health_capture(const struct source_cfg *src, struct strbuf *why)
{
	PGconn *conn = pgsql_connect("health", &src->pg, PG_AS_USER, NULL);
	const char *params[] = { src->slot };
	char *active = NULL;
	bool ok;

	if (!conn) {
		strbuf_addf(why, "cannot connect to source %s", src->name);
		return false;
	}
	ok = pgsql_query_value(conn, "health",
			       "SELECT active FROM pg_replication_slots WHERE slot_name = $1", 1,
			       params, &active) &&
	     active && strcmp(active, "t") == 0;
	if (!ok)
		strbuf_addf(why, "slot %s of source %s is %s", src->slot, src->name,
			    active ? "not being read (capture not streaming)" : "missing");
	free(active);
	PQfinish(conn);
	return ok;
}

bool health_apply(const struct pipeline_cfg *pipe, struct strbuf *why)
{
	PGconn *conn = pgsql_connect("health", &pipe->target->pg, PG_AS_USER, NULL);
	const char *params[] = { pipe->name };
	char *held = NULL;
	bool ok;

	if (!conn) {
		strbuf_addf(why, "cannot connect to target %s", pipe->target->name);
		return false;
	}
	ok = pgsql_query_value(conn, "health",
			       "SELECT count(*) FROM pg_locks l WHERE " APPLY_LOCK_HELD_SQL, 1, params,
			       &held) &&
	     held && strcmp(held, "0") != 0;
	if (!ok)
		strbuf_addf(why, "apply of pipeline %s does not hold its lock in target %s (apply not connected)",
			    pipe->name, pipe->target->name);
	free(held);
	PQfinish(conn);
	return ok;
}
