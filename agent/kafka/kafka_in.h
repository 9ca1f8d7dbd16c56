/*
 * agent/kafka/kafka_in.h: the Kafka consumer of apply (librdkafka), beside
 * capture's producer (kafka_out.h).
 *
 * Every partition of the pipeline's topics, assigned by kafka_in itself
 * (no group membership: no join to wait for) from the brokers' metadata;
 * a topic that appears later, or a partition added, is noted for the owner
 * (kafka_in_grown).  Where each partition starts is the owner's to
 * say: apply starts at the next offset stored with the data in the target,
 * so kafka_in asks the owner's on_assign.  Partitions it cannot place (the
 * target away) stay unassigned, kept for kafka_in_reassign.  Kafka's
 * committed offsets (in the pipeline's group) are for monitoring only: the
 * owner notes what it applied (kafka_in_note) and they go to Kafka at most
 * once a second (kafka_in_commit) and at kafka_in_free.
 *
 * Single-threaded: the hooks run on the caller's thread, inside
 * kafka_in_poll, kafka_in_reassign and kafka_in_free.
 */
#ifndef CDC_KAFKA_IN_H
#define CDC_KAFKA_IN_H

#include "base/common.h"
#include "base/util.h"
#include "config/topology.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>

struct kafka_in;

/* Where the partitions start; ctx is the owner's. */
struct kafka_in_hooks {
	/* Partitions assigned: sets each one's .offset, where it starts.
	 * false (logged) when it cannot say now: they are kept unassigned
	 * for kafka_in_reassign. */
	bool (*on_assign)(void *ctx, rd_kafka_topic_partition_list_t *parts);
	void *ctx;
	/* librdkafka's prefetch bound (queued.max.messages.kbytes); 0: its
	 * default, 64 MiB.  An owner that buffers records itself lowers it. */
	int queue_kbytes;
	/* max.partition.fetch.bytes; 0: its default, 1 MiB.  It bounds a
	 * partition's compressed bytes in one fetch response, which lz4
	 * inflates many times over (JSON with its schema block: ~15 times),
	 * all at once, before the queue bound is looked at again. */
	int partition_fetch_bytes;
	/* queued.min.messages, its other bound (by count); 0: its default,
	 * 100000.  Small records cost more in librdkafka's own structures
	 * than in payload. */
	int queue_messages;
};

/* The consumer group of a pipeline's apply, "cdc-agent.PIPELINE", where
 * its offsets are committed for monitoring; caller frees. */
char *kafka_in_group(const char *pipeline);

/* A consumer for cfg's brokers, as cred (kafka_client.h), committing in
 * group, of every partition of topics (assigned here when the brokers
 * answer at once, else from kafka_in_poll); label names it to the brokers
 * (client.id) and in log lines.  hooks (copied) must stay valid until
 * kafka_in_free.  *out is freed with kafka_in_free. */
MUST_CHECK bool kafka_in_new(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
			     const char *label, const char *group, const struct strlist *topics,
			     const struct kafka_in_hooks *hooks, struct kafka_in **out);

/* Commits the offsets noted and closes the consumer, waiting for the
 * brokers one second at most: a stop must end within 2 s. */
void kafka_in_free(struct kafka_in *ki);

/* The next record, error or event, waiting up to timeout_ms; NULL when
 * none came (topics not all there yet: their metadata asked again, twice a
 * second).  A queue that ran dry after half a prefetch bound was polled
 * wakes librdkafka's fetcher (kafka_in.c says why).  Caller rd_kafka_message_destroy()s it. */
rd_kafka_message_t *kafka_in_poll(struct kafka_in *ki, int timeout_ms);

/* m was applied (its offset stored): its partition's next offset goes to
 * Kafka with the next commit. */
void kafka_in_note(struct kafka_in *ki, const rd_kafka_message_t *m);

/* The same by topic and partition: next is the partition's next offset. */
void kafka_in_note_next(struct kafka_in *ki, const char *topic, int32_t partition, int64_t next);

/* Stops (pause) or restarts fetching of one partition: the owner holds
 * enough of it.  Fetching resumes after the last record kafka_in_poll
 * returned of it. */
void kafka_in_pause(struct kafka_in *ki, const char *topic, int32_t partition, bool pause);

/* Commits the offsets noted (asynchronously): at once when now, else when
 * the last commit is a second old (each commit is a write to the broker's
 * offsets topic, and batches can be many a second). */
void kafka_in_commit(struct kafka_in *ki, bool now);

/* Starts every partition again (those kept unassigned, or else those
 * assigned) at the offsets on_assign gives: what the consumer fetched past
 * them is dropped.  false (logged) when on_assign or librdkafka failed;
 * partitions on_assign could not place are kept for the next attempt. */
MUST_CHECK bool kafka_in_reassign(struct kafka_in *ki);

/* Whether m, an error kafka_in_poll returned, is a refusal by the brokers'
 * ACLs (joining the group, reading or describing a topic): then logged at
 * error level, naming the user, the group or topic and what to grant;
 * every new attempt would meet it again, so the owner stops, failed. */
bool kafka_in_refused(struct kafka_in *ki, const rd_kafka_message_t *m);
/* Whether the topics have more partitions than were assigned (a topic
 * appeared, a partition was added; once true, then false until they grow
 * again): the owner drops what it fetched and did not apply, and calls
 * kafka_in_reassign, which assigns them all. */
bool kafka_in_grown(struct kafka_in *ki);
/* Whether an ACL refused the topics' metadata (logged at error level as
 * kafka_in_refused does): the owner stops, failed. */
bool kafka_in_denied(const struct kafka_in *ki);

/* The partition's log start and end (high watermark), asked of the broker;
 * -1 each when it did not answer. */
void kafka_in_watermarks(struct kafka_in *ki, const char *topic, int32_t partition, int64_t *low,
			 int64_t *high);

#endif
