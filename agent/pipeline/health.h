/*
 * agent/pipeline/health.h: is each component really up, not just "active" to
 * systemd?  ZooKeeper answers ruok, the broker answers a metadata request
 * with the expected broker count, capture holds its slot, apply has joined
 * its consumer group.  Each check returns false with *why filled in.
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
/* The consumer group cdc-agent.<pipeline> is Stable with a member. */
bool health_apply(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
		  const char *pipeline, struct strbuf *why);

#endif
