/*
 * agent/pipeline/health.c: component health beyond systemd's "active".
 */
#include "pipeline/health.h"

#include "kafka/kafka_client.h"
#include "kafka/kafka_in.h"
#include "kafka/kafka_log.h"
#include "pg/pgsql.h"

#include <arpa/inet.h>
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

bool health_apply(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
		  const char *pipeline, struct strbuf *why)
{
	double since = mono_seconds();
	rd_kafka_t *rk = health_kafka_client(cfg, cred, why);
	const struct rd_kafka_group_list *groups = NULL;
	char *group = kafka_in_group(pipeline);
	rd_kafka_resp_err_t err;
	bool ok = false;

	if (!rk) {
		free(group);
		return false;
	}
	err = rd_kafka_list_groups(rk, group, &groups, PROBE_TIMEOUT_MS);
	if (err) {
		strbuf_addf(why, "cannot describe consumer group %s: %s", group, rd_kafka_err2str(err));
		why_add_cause(why, since);
	} else if (groups->group_cnt < 1 || strcmp(groups->groups[0].state, "Stable") != 0 ||
		 groups->groups[0].member_cnt < 1)
		strbuf_addf(why, "consumer group %s has no stable member (apply not consuming)", group);
	else
		ok = true;
	if (groups)
		rd_kafka_group_list_destroy(groups);
	rd_kafka_destroy(rk);
	free(group);
	return ok;
}
