/*
 * tests/unit/test_kafka_out.c: the producer's key placement against Kafka's
 * own murmur2 vectors and librdkafka's partitioner, and the producer's
 * promises that need no broker (refusals, no silent drop at shutdown).
 * Its settings: test_kafka_client.c.  Against a real broker:
 * tests/integration/55_kafka_out.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "kafka/kafka_client.h"
#include "kafka/kafka_out.h"

#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Kafka's UtilsTest.testMurmur2, the values Utils.murmur2 must return
 * (apache/kafka, clients/src/test/java/org/apache/kafka/common/utils/
 * UtilsTest.java, read at commit 1eb7644349cb07139d6a3c1ad1986979647cac99).
 */
static const struct {
	const char *key;
	int32_t murmur2;
} kafka_vectors[] = {
	{ "21", -973932308 },
	{ "foobar", -790332482 },
	{ "a-little-bit-long-string", -985981536 },
	{ "a-little-bit-longer-string", -1486304829 },
	{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
	{ "abc", 479470107 },
};

/* BuiltInPartitioner.partitionForKey: Utils.toPositive(murmur2(key)) % n,
 * where toPositive clears the sign bit. */
static int java_partition(int32_t murmur2, int n)
{
	return (int)(((uint32_t)murmur2 & 0x7fffffffu) % (uint32_t)n);
}

static void test_partition_matches_kafka_vectors(void **state)
{
	static const int counts[] = { 1, 2, 3, 6, 7, 12, 100, 1000, INT_MAX };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(kafka_vectors); i++) {
		const char *key = kafka_vectors[i].key;

		for (size_t j = 0; j < ARRAY_LEN(counts); j++)
			assert_int_equal(kafka_out_partition_for_key(key, strlen(key), counts[j]),
					 java_partition(kafka_vectors[i].murmur2, counts[j]));
	}
}

static void test_partition_edges(void **state)
{
	(void)state;
	assert_int_equal(kafka_out_partition_for_key(NULL, 0, 6), -1);
	assert_int_equal(kafka_out_partition_for_key("k", 1, 0), -1);
	assert_int_equal(kafka_out_partition_for_key("k", 1, -3), -1);
	assert_int_equal(kafka_out_partition_for_key("k", 1, 1), 0);
	/* An empty key is a key (hashed), not a missing one. */
	assert_in_range(kafka_out_partition_for_key("", 0, 6), 0, 5);
}

/* librdkafka's murmur2 partitioner is the one murmur2_random uses for a
 * non-NULL key; it ignores its topic and opaque arguments. */
static void test_partition_matches_librdkafka(void **state)
{
	static const int counts[] = { 1, 3, 6, 7, 64, 1000 };
	unsigned char bytes[67];
	char key[32];
	unsigned seed = 12345;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		int n = snprintf(key, sizeof(key), "key-%d", i);

		for (size_t j = 0; j < ARRAY_LEN(counts); j++)
			assert_int_equal(kafka_out_partition_for_key(key, (size_t)n, counts[j]),
					 rd_kafka_msg_partitioner_murmur2(NULL, key, (size_t)n,
									  counts[j], NULL, NULL));
	}
	/* Every tail length, bytes with the high bit set (Java's signed bytes). */
	for (size_t len = 0; len <= sizeof(bytes); len++) {
		for (size_t b = 0; b < len; b++)
			bytes[b] = (unsigned char)(rand_r(&seed) & 0xff);
		for (size_t j = 0; j < ARRAY_LEN(counts); j++) {
			int32_t want = rd_kafka_msg_partitioner_murmur2(NULL, bytes, len, counts[j],
									NULL, NULL);

			assert_int_equal(kafka_out_partition_for_key(bytes, len, counts[j]), want);
		}
	}
}

struct acks {
	int delivered;
	int failed;
	int seen[4]; /* by token */
};

static void count_ack(void *ack_ctx, void *ack_token, bool delivered, const char *error)
{
	struct acks *acks = ack_ctx;
	uintptr_t token = (uintptr_t)ack_token;

	assert_true(token < ARRAY_LEN(acks->seen));
	acks->seen[token]++;
	if (delivered) {
		assert_null(error);
		acks->delivered++;
	} else {
		assert_non_null(error);
		acks->failed++;
	}
}

static void test_new_needs_brokers(void **state)
{
	struct kafka_cfg cfg = { 0 };
	struct kafka_out *ko = (struct kafka_out *)&cfg;
	struct acks acks = { 0 };

	(void)state;
	assert_false(kafka_out_new(&cfg, NULL, "unit", count_ack, &acks, &ko));
	assert_null(ko);
}

/* Port 1 on loopback refuses connections: messages can only wait.  Freeing
 * the producer must report each of them, not drop them. */
static void test_unacked_messages_reported_at_free(void **state)
{
	struct kafka_cfg cfg = { 0 };
	struct kafka_out *ko;
	struct acks acks = { 0 };
	size_t queued, queue_max;
	char *big;

	(void)state;
	strlist_add(&cfg.bootstrap_servers, "127.0.0.1:1");
	cfg.max_message_bytes = 1 << 20; /* [kafka] max_message_bytes = 1MB */
	assert_true(kafka_out_new(&cfg, NULL, "unit", count_ack, &acks, &ko));
	assert_null(kafka_out_too_large(ko));
	assert_true(kafka_out_produce(ko, "t", "k1", 2, "v1", 2, (void *)(uintptr_t)0));
	assert_true(kafka_out_produce(ko, "t", "k1", 2, NULL, 0, (void *)(uintptr_t)1));
	assert_true(kafka_out_produce(ko, "t", NULL, 0, "v3", 2, (void *)(uintptr_t)2));
	assert_int_equal(kafka_out_outstanding(ko), 3);
	/* the bound reported is the one the producer was configured with */
	kafka_out_queue(ko, &queued, &queue_max);
	assert_true(queued >= 3); /* and whatever events wait for a poll */
	assert_int_equal(queue_max, KAFKA_PRODUCER_QUEUE_MESSAGES);

	/* Larger than message.max.bytes (the 1MB limit and its room): refused
	 * at once, never acked, and told as too large with topic and key. */
	big = xcalloc(1, 2000000);
	assert_false(kafka_out_produce(ko, "t", "k", 1, big, 2000000, (void *)(uintptr_t)3));
	free(big);
	assert_int_equal(kafka_out_outstanding(ko), 3);
	assert_non_null(kafka_out_too_large(ko));
	assert_string_equal(kafka_out_too_large(ko)->topic, "t");
	assert_string_equal(kafka_out_too_large(ko)->key, "k");
	assert_int_equal(kafka_out_too_large(ko)->size, 2000001);

	assert_false(kafka_out_flush(ko, 300));
	assert_false(kafka_out_failed(ko));
	assert_int_equal(acks.delivered + acks.failed, 0);
	kafka_out_free(ko);
	assert_int_equal(acks.delivered, 0);
	assert_int_equal(acks.failed, 3);
	assert_int_equal(acks.seen[0], 1);
	assert_int_equal(acks.seen[1], 1);
	assert_int_equal(acks.seen[2], 1);
	assert_int_equal(acks.seen[3], 0);
	strlist_fini(&cfg.bootstrap_servers);
}

/* With the default limit (64 MiB) a 20 MB record is queued even behind
 * others (librdkafka's own queue bound would refuse it forever); past the
 * 8 MiB the producer keeps to, it waits for the queue to drain (here: for
 * ever, so the stop flag ends the wait). */
static void test_large_record_queued(void **state)
{
	static volatile sig_atomic_t stop;
	struct kafka_cfg cfg = { 0 };
	struct kafka_out *ko;
	struct acks acks = { 0 };
	size_t len = 20 << 20;
	char *big = xcalloc(1, len);

	(void)state;
	strlist_add(&cfg.bootstrap_servers, "127.0.0.1:1");
	assert_true(kafka_out_new(&cfg, NULL, "unit", count_ack, &acks, &ko));
	assert_true(kafka_out_produce(ko, "t", "k1", 2, "v1", 2, (void *)(uintptr_t)0));
	stop = 1;
	kafka_out_stop_on(&stop);
	/* 20 MB behind 4 bytes: over the 8 MiB, it waits (the flag ends it) */
	assert_false(kafka_out_produce(ko, "t", "k2", 2, big, len, (void *)(uintptr_t)1));
	assert_int_equal(kafka_out_outstanding(ko), 1);
	assert_null(kafka_out_too_large(ko));
	kafka_out_free(ko);
	assert_int_equal(acks.failed, 1);
	/* alone in the queue: taken */
	assert_true(kafka_out_new(&cfg, NULL, "unit", count_ack, &acks, &ko));
	assert_true(kafka_out_produce(ko, "t", "k2", 2, big, len, (void *)(uintptr_t)1));
	assert_int_equal(kafka_out_outstanding(ko), 1);
	kafka_out_free(ko);
	kafka_out_stop_on(NULL);
	assert_int_equal(acks.failed, 2);
	free(big);
	strlist_fini(&cfg.bootstrap_servers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partition_matches_kafka_vectors),
		cmocka_unit_test(test_partition_edges),
		cmocka_unit_test(test_partition_matches_librdkafka),
		cmocka_unit_test(test_new_needs_brokers),
		cmocka_unit_test(test_unacked_messages_reported_at_free),
		cmocka_unit_test(test_large_record_queued),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
