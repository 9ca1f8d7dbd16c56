/*
 * agent/config/kafka_limits.c: the Kafka sizes derived from [kafka]
 * max_message_bytes (kafka_limits.h says which is which, and why).
 */
#include "config/kafka_limits.h"

#include "config/topology.h"

#include <stdio.h>

#define KB ((int64_t)1024)
#define MB (1024 * KB)

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

int64_t kafka_record_limit(const struct kafka_cfg *cfg)
{
	return cfg && cfg->max_message_bytes > 0 ? cfg->max_message_bytes
						 : KAFKA_MAX_MESSAGE_DEFAULT;
}

int64_t kafka_batch_limit(const struct kafka_cfg *cfg)
{
	int64_t l = kafka_record_limit(cfg);

	return l + l / 64 + 64 * KB;
}

int64_t kafka_fetch_limit(const struct kafka_cfg *cfg)
{
	/* 50 MiB: librdkafka's and Kafka's default, kept for small limits. */
	return max64(50 * MB, kafka_batch_limit(cfg));
}

int64_t kafka_receive_limit(const struct kafka_cfg *cfg)
{
	/* 100000000: librdkafka's default. */
	return max64(100000000, kafka_fetch_limit(cfg) + 64 * KB);
}

int64_t kafka_request_limit(const struct kafka_cfg *cfg)
{
	/* 100 MiB: Kafka's default socket.request.max.bytes. */
	return max64(100 * MB, kafka_batch_limit(cfg) + MB);
}

size_t kafka_record_size(size_t key_len, size_t value_len, const size_t *header_lens,
			 size_t n_headers)
{
	size_t n = KAFKA_RECORD_OVERHEAD + key_len + value_len;

	for (size_t i = 0; i < n_headers; i++)
		n += header_lens[i] + 16; /* name and varints: names are short */
	return n;
}

void kafka_size_text(int64_t bytes, char *buf, size_t size)
{
	if (bytes > 0 && bytes % MB == 0)
		snprintf(buf, size, "%lldMB", (long long)(bytes / MB));
	else if (bytes > 0 && bytes % KB == 0)
		snprintf(buf, size, "%lldkB", (long long)(bytes / KB));
	else
		snprintf(buf, size, "%lld bytes", (long long)bytes);
}
