/*
 * agent/pipeline/health.h: is each component really up, not just "active" to
 * systemd?  ZooKeeper answers ruok, the broker answers a metadata request
 * with the expected broker count, capture holds its slot, apply its lock in
 * the target.  Each check returns false with *why filled in.
 */
#ifndef CDC_HEALTH_H
#define CDC_HEALTH_H

#include "base/common.h"
#include "base/util.h"
#include "config/topology.h"

#include <librdkafka/rdkafka.h>

/* A short-lived client for probes (metadata, groups, watermarks), as cred
 * (topology_probe_credentials says whose); NULL with why filled in on
 * failure; caller rd_kafka_destroy()s. */
rd_kafka_t *health_kafka_client(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
				struct strbuf *why);

/* Every server of connect answers "ruok" with "imok". */
bool health_zookeeper(const struct strlist *connect, struct strbuf *why);
/* The cluster answers a metadata request and has at least brokers brokers. */
bool health_kafka(const struct kafka_cfg *cfg, const struct kafka_credentials *cred, int brokers,
		  struct strbuf *why);
/* The cluster as the brokers' metadata tells it (issue #19): brokers
 * up, the controller, and per topic whose name starts with one of
 * prefixes its partitions under-replicated (fewer in-sync replicas than
 * replicas) and offline (no leader). */
struct kafka_topic_health {
	char *topic;
	int partitions;
	int under_replicated;
	int offline;
};
struct kafka_cluster_health {
	int brokers_up;
	int32_t *broker_ids;       /* of the brokers up, brokers_up of them */
	int controller_id;         /* -1: unknown */
	struct kafka_topic_health *topics;
	size_t n_topics;
};
/* false with *why filled when the brokers do not answer. */
bool health_kafka_cluster(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
			  const struct strlist *prefixes, struct kafka_cluster_health *out,
			  struct strbuf *why);
void kafka_cluster_health_fini(struct kafka_cluster_health *h);
/* Whether broker id is among h's brokers up. */
bool kafka_cluster_broker_up(const struct kafka_cluster_health *h, int32_t id);

/* A cluster the agent does not run ([kafka] managed = false), as cred
 * (who: "capture of pipeline p1", for the messages): it answers a
 * metadata request, and each of topics exists or, with create, could be
 * created by cred (CreateTopics with validate_only: the broker checks the
 * right and the settings, [kafka] partitions, replication_factor and
 * max.message.bytes, without creating).  false with every failure in
 * *why, one a line, each naming the brokers, the user, the topic and the
 * broker's error text. */
bool health_kafka_access(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
			 const char *who, char *const *topics, size_t n_topics, bool create,
			 struct strbuf *why);
/* The source's slot exists and a walsender (capture) is reading it. */
bool health_capture(const struct source_cfg *src, struct strbuf *why);
/* apply's lock in its target (apply.c): a session-level advisory lock on
 * a 64-bit hash of the pipeline's name, the statement's parameter $1. */
#define APPLY_LOCK_KEY_SQL "hashtextextended('cdc-agent apply ' || $1, 0)"
/* The row of pg_locks l that is that lock, granted, in this database. */
#define APPLY_LOCK_HELD_SQL                                                                      \
	"l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = "              \
	"(SELECT oid FROM pg_database WHERE datname = current_database()) AND "                 \
	"l.classid::int8 = (" APPLY_LOCK_KEY_SQL " >> 32) & 4294967295 AND "                      \
	"l.objid::int8 = " APPLY_LOCK_KEY_SQL " & 4294967295"
/* apply of pipe holds its lock in the target (it is connected there and
 * the only apply of pipe; it has no group membership to look at). */
bool health_apply(const struct pipeline_cfg *pipe, struct strbuf *why);

#endif
