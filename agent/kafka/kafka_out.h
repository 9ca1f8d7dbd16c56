/*
 * agent/kafka/kafka_out.h: the Kafka producer of capture (librdkafka).
 *
 * Nothing is ever lost: the producer is idempotent (acks=all), never gives
 * up on a message while the brokers are away (message.timeout.ms=0), and
 * applies backpressure instead, because its queue is bounded and
 * kafka_out_produce() waits for room.  Every message accepted by
 * kafka_out_produce() is reported exactly once to the ack callback, as
 * delivered or not; capture advances its confirmed LSN only on the former.
 *
 * Single-threaded: callbacks (acks, librdkafka's logs and errors) run on the
 * caller's thread, inside kafka_out_poll, _produce, _flush, _ensure_topic
 * and _free.
 */
#ifndef CDC_KAFKA_OUT_H
#define CDC_KAFKA_OUT_H

#include "base/common.h"
#include "config/topology.h"

#include <signal.h>

struct kafka_out;

/* For a process that must stop promptly on a signal: from here on, waits
 * (for room in the queue, a topic's creation or metadata) end as soon as
 * *flag is set; kafka_out_produce then returns false without on_ack for
 * that message. */
void kafka_out_stop_on(const volatile sig_atomic_t *flag);

/* One message's fate: delivered (written to all in-sync replicas) or not,
 * with the reason in error (NULL when delivered). */
typedef void (*kafka_ack_fn)(void *ack_ctx, void *ack_token, bool delivered, const char *error);

/* A producer for cfg's brokers, as cred (kafka_client.h); client_id names
 * it to the brokers.  on_ack
 * (with ack_ctx) hears about each message.  Connects lazily: an unreachable
 * broker is not an error here.  *out is freed with kafka_out_free. */
MUST_CHECK bool kafka_out_new(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
			      const char *client_id, kafka_ack_fn on_ack, void *ack_ctx,
			      struct kafka_out **out);

/* Messages still outstanding are reported as not delivered (they may have
 * reached the broker: resending is safe, losing is not), so ack_ctx must
 * still be valid.  Call kafka_out_flush first to finish them. */
void kafka_out_free(struct kafka_out *ko);

/* Creates topic with that many partitions and replicas unless it exists; an
 * existing topic must have at least `partitions` (more is only a warning:
 * keys then land elsewhere than with the configured count). */
MUST_CHECK bool kafka_out_ensure_topic(struct kafka_out *ko, const char *topic, int partitions,
				       int replication_factor, int timeout_ms);

/* Adds the name of every topic the cluster knows to names, from one
 * metadata request for all topics (asking for a topic by name could create
 * it where brokers auto-create topics).  false, not logged, with *why, when
 * the cluster did not answer within timeout_ms. */
MUST_CHECK bool kafka_out_topic_names(struct kafka_out *ko, int timeout_ms, struct strlist *names,
				      struct strbuf *why);

/* Makes the producer know topics (their partitions and leaders) before the
 * first message to each: librdkafka otherwise looks a new topic up on its
 * one-second timer, a second per table when a snapshot goes through many.
 * false (warned) when the cluster did not answer: producing still works. */
bool kafka_out_know_topics(struct kafka_out *ko, const struct strlist *topics, int timeout_ms);

/* Queues one message for topic; key NULL lets the partitioner pick at
 * random, value NULL is a tombstone.  Both are copied.  While the queue is
 * full this serves acks and waits (backpressure, without limit).  Returns
 * false only on a permanent error or a fatal producer error; then on_ack
 * is not called for ack_token. */
MUST_CHECK bool kafka_out_produce(struct kafka_out *ko, const char *topic, const void *key,
				  size_t key_len, const void *value, size_t value_len,
				  void *ack_token);

/* One record header (copied). */
struct kafka_header {
	const char *name;
	const void *value;
	size_t len;
};

/* kafka_out_produce with headers on the record. */
MUST_CHECK bool kafka_out_produce_headers(struct kafka_out *ko, const char *topic, const void *key,
					  size_t key_len, const void *value, size_t value_len,
					  const struct kafka_header *headers, size_t n_headers,
					  void *ack_token);

/* Serves acks, logs and errors for up to timeout_ms (0: what is ready). */
void kafka_out_poll(struct kafka_out *ko, int timeout_ms);

/* Waits up to timeout_ms until every message is acked; false (logged) if
 * some remain. */
MUST_CHECK bool kafka_out_flush(struct kafka_out *ko, int timeout_ms);

/* A record Kafka refused as too large (MSG_SIZE_TOO_LARGE, from librdkafka
 * at once or from a broker in its delivery report): never worth sending
 * again.  The key is the record's, cut to fit. */
struct kafka_too_large {
	bool refused;
	char topic[256];
	char key[1024];
	size_t key_len;
	size_t size;          /* key and value bytes */
};

/* The first record refused as too large since the producer was made, or
 * NULL. */
const struct kafka_too_large *kafka_out_too_large(const struct kafka_out *ko);

/* Messages accepted and not yet acked. */
size_t kafka_out_outstanding(const struct kafka_out *ko);

/* The producer queue's use for the metrics: messages queued or in flight
 * (rd_kafka_outq_len: also delivery reports not yet served) against the
 * queue.buffering.max.messages bound. */
void kafka_out_queue(const struct kafka_out *ko, size_t *messages, size_t *max_messages);

/* A fatal producer error was seen (logged), or a refusal by the brokers'
 * ACLs (kafka_out_refused): stop producing; after a fatal error, free and
 * start over from the last delivered position. */
bool kafka_out_failed(const struct kafka_out *ko);

/* The brokers' ACLs refused a request of the producer (logged once each,
 * naming its user, the topic and what to grant: kafka_acl_refusal): every
 * new producer would meet the same refusal, so its owner stops, failed,
 * until an operator grants it. */
bool kafka_out_refused(const struct kafka_out *ko);

/* The partition Kafka's Java producer (and librdkafka's murmur2 partitioners)
 * choose for a key: toPositive(murmur2(key)) % partition_count.  -1 for a
 * NULL key (placed at random) or a partition_count below 1. */
int kafka_out_partition_for_key(const void *key, size_t len, int partition_count);

#endif
