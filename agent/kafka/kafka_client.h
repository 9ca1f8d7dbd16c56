/*
 * agent/kafka/kafka_client.h: every librdkafka configuration the agent makes, in
 * one place: capture's producer (kafka_out.c), apply's consumer
 * (kafka_in.c) and the short-lived probes of health, status and accept-gap
 * (health.c).
 *
 * Each builder starts with the settings common to every client
 * (kafka_client.c, common_conf): the brokers of [kafka] bootstrap_servers,
 * the client's name, librdkafka's logs through log.c, and the connection's
 * security: [kafka] security_protocol, its ssl_* files with the brokers'
 * host names verified, and under SASL the credentials the caller passes
 * (a pipeline's capture_kafka or apply_kafka; a probe's are
 * topology_probe_credentials').  The password is read from its file into
 * the conf and the buffer wiped; it is never logged.  Then come the role's own
 * settings, a table with a reason per line; sizes come from kafka_limits.c.
 * A setting librdkafka refuses is logged naming the setting and the value.
 *
 * What needs the client's own object (its opaque, delivery report, error and
 * rebalance callbacks) is set by the module that owns the client, on the conf
 * it got from here, before rd_kafka_new.
 */
#ifndef CDC_KAFKA_CLIENT_H
#define CDC_KAFKA_CLIENT_H

#include "base/common.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>

struct kafka_cfg;
struct kafka_credentials;

/* The producer's bound on queued messages (queue.buffering.max.messages;
 * kafka_out_queue reports it). */
#define KAFKA_PRODUCER_QUEUE_MESSAGES 100000

/* 8 MiB of payload is ~150 ms of narrow events at 95k rows/s, and keeps
 * capture's peak RSS near 44 MiB: with 16, a capture faster than the broker
 * filled it and peaked at 65 MiB on wide rows (docs/BENCHMARKS.md, "Capture
 * throughput").  kafka_out_produce keeps to it; librdkafka's own bound
 * (queue.buffering.max.kbytes) is this plus the largest batch, since
 * librdkafka never queues a message bigger than its bound (it would report
 * QUEUE_FULL forever): a large record waits until the queue has room for it
 * or is empty. */
#define KAFKA_PRODUCER_QUEUE_SOFT_BYTES ((size_t)8 << 20)

/* Each builder returns a new conf in *out: the caller's, until rd_kafka_new
 * takes it (on success only; rd_kafka_conf_destroy otherwise).  false
 * (logged) with *out NULL when librdkafka refused a setting or a password
 * file could not be read.  cred: who the client is under a sasl_*
 * security_protocol (NULL: nobody, an error then).  client_id names the
 * client to the brokers (client.id) and in librdkafka's log lines. */

/* Capture's producer: idempotent, never gives up on a message, bounded
 * queue, [kafka] compression, sizes from max_message_bytes. */
MUST_CHECK bool kafka_client_producer_conf_new(const struct kafka_cfg *cfg,
					       const struct kafka_credentials *cred,
					       const char *client_id, rd_kafka_conf_t **out);

/* Apply's consumer, a member of group: offsets neither committed nor
 * stored by librdkafka (apply stores them with the data), fetch and receive
 * sizes from max_message_bytes. */
MUST_CHECK bool kafka_client_consumer_conf_new(const struct kafka_cfg *cfg,
					       const struct kafka_credentials *cred,
					       const char *client_id, const char *group,
					       rd_kafka_conf_t **out);

/* A probe or an admin request (metadata, groups, watermarks, records
 * deleted): quiet, since a probe's failure is its result, not a log line. */
MUST_CHECK bool kafka_client_probe_conf_new(const struct kafka_cfg *cfg,
					    const struct kafka_credentials *cred,
					    const char *client_id, rd_kafka_conf_t **out);

#endif
