/*
 * agent/config/kafka_limits.h: every Kafka size that follows from [kafka]
 * max_message_bytes (L, the largest record capture produces), in one place so
 * that capture's producer, the topics it creates, apply's consumer and the
 * broker the agent installs agree (README, "Large values"):
 *
 *   record   L                  capture refuses a bigger change itself,
 *                               before producing (kafka_record_fits)
 *   batch    L + L/64 + 64 kB   topic max.message.bytes, the broker's
 *                               message.max.bytes and replica.fetch.max.bytes,
 *                               the producer's message.max.bytes (its request
 *                               limit): one record in its batch and request,
 *                               with room for the framing and for a codec that
 *                               cannot shrink it (lz4, zstd store such blocks
 *                               raw, a few bytes per 64 kB)
 *   fetch    max(50 MiB, batch)  the consumer's fetch.max.bytes (the broker
 *                               returns a first batch bigger than the
 *                               per-partition limit anyway, KIP-74)
 *   receive  max(100 MB, fetch + 64 kB)  the consumer's
 *                               receive.message.max.bytes (librdkafka wants
 *                               fetch + 512 at least)
 *   request  max(100 MiB, batch + 1 MiB)  the broker's socket.request.max.bytes
 *                               (a produce request holds the batch)
 */
#ifndef CDC_KAFKA_LIMITS_H
#define CDC_KAFKA_LIMITS_H

#include "base/common.h"

#include <stddef.h>
#include <stdint.h>

/* [kafka] max_message_bytes: default and bounds (topology.c says why). */
#define KAFKA_MAX_MESSAGE_DEFAULT ((int64_t)64 << 20)
#define KAFKA_MAX_MESSAGE_MIN (1 << 20)
#define KAFKA_MAX_MESSAGE_MAX (512 << 20)

/* What librdkafka adds to a record's key, value and headers on the wire at
 * most (its RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD is smaller). */
#define KAFKA_RECORD_OVERHEAD 128

struct kafka_cfg;

/* L: cfg's max_message_bytes, or the default for a cfg without one (0). */
int64_t kafka_record_limit(const struct kafka_cfg *cfg);
int64_t kafka_batch_limit(const struct kafka_cfg *cfg);
int64_t kafka_fetch_limit(const struct kafka_cfg *cfg);
int64_t kafka_receive_limit(const struct kafka_cfg *cfg);
int64_t kafka_request_limit(const struct kafka_cfg *cfg);

/* The size of one record as librdkafka counts it against message.max.bytes
 * (an upper bound): key, value, each header's name and value, overhead. */
size_t kafka_record_size(size_t key_len, size_t value_len, const size_t *header_lens,
			 size_t n_headers);

/* bytes as a topology would write it: "64MB", "1536kB", "1000 bytes". */
void kafka_size_text(int64_t bytes, char *buf, size_t size);

#endif
