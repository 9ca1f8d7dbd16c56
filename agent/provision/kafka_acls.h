/*
 * agent/provision/kafka_acls.h: the ACLs of the agent's Kafka users on the
 * brokers the agent runs (issue #16; the users themselves: kafka_access.h).
 *
 * Read from the code, each role's every request, and the right Kafka
 * checks for it (PREFIXED "<topic_prefix>.": every topic a source
 * produces to is topology_topic's "<topic_prefix>.<schema>.<table>";
 * LITERAL: the group by its name):
 *
 *   principal     resource                         operation        why
 *   capture user  Topic PREFIXED <topic_prefix>.   Describe         metadata: partition counts, leaders,
 *                                                                   which topics exist (kafka_out.c)
 *                                                  Create           CreateTopics of a table's topic
 *                                                                   (kafka_out_ensure_topic)
 *                                                  DescribeConfigs  max.message.bytes read back
 *                                                  AlterConfigs     max.message.bytes raised
 *                                                  Write            Produce; also InitProducerId of
 *                                                                   the idempotent producer: Kafka
 *                                                                   >= 2.8 (KIP-679) takes Write on
 *                                                                   any topic for it, so no Cluster
 *                                                                   IdempotentWrite
 *   apply user    Topic PREFIXED <topic_prefix>.   Read             Fetch; OffsetCommit (kafka_in.c,
 *                                                                   Kafka's offsets for monitoring)
 *                                                  Describe         metadata of its topics,
 *                                                                   ListOffsets (watermarks: lag,
 *                                                                   accept-gap, gaps), OffsetFetch
 *                                                                   (Read implies it; named so that a
 *                                                                   reader of the ACLs sees it)
 *   apply user    Group LITERAL cdc-agent.<pipeline> Read           OffsetCommit (Kafka's offsets,
 *                                                                   for monitoring: apply joins no
 *                                                                   group), FindCoordinator
 *                                                                   (Read implies Describe)
 *
 * The probes need nothing more: status and run's health check ask for
 * metadata as the first pipeline's capture user (a login is enough),
 * status's lag and accept-gap ListOffsets as the pipeline's apply user.
 * No Cluster right is
 * granted.  A PREFIXED "a." also covers the topics of a source whose
 * topic_prefix begins "a." (say "a.b"): give sources prefixes where none
 * begins with another's and a dot.
 *
 * Convergence is by the agent's users (every capture_kafka_user and
 * apply_kafka_user of the topology): the ACLs on their principals
 * (User:<name>, any host) that the table above does not want are deleted,
 * those it wants and the brokers lack are created.  A user the topology
 * no longer names keeps its credentials and ACLs (nothing here knows of
 * it).
 */
#ifndef CDC_KAFKA_ACLS_H
#define CDC_KAFKA_ACLS_H

#include "base/changes.h"
#include "base/common.h"
#include "base/util.h"
#include "config/topology.h"

#include <librdkafka/rdkafka.h>

/* The ACLs on the principals of users (the agent's user names) brought to
 * the set the table above wants for topo, through rk (the admin's client;
 * brokers names it in errors): DescribeAcls of each principal, extra ones
 * deleted, then missing ones created.  Every action one
 * change_record(changes, "kafka", ...) line.  Plan mode (apply false):
 * what would be done, nothing done. */
MUST_CHECK bool kafka_acls_converge(const struct topology *topo, rd_kafka_t *rk,
				    const char *brokers, const struct strlist *users, bool apply,
				    struct change_list *changes);

#endif
