/*
 * tests/kafka_out_driver.c: drives agent/kafka/kafka_out.c against a real broker
 * for tests/integration/55_kafka_out.sh.
 *
 *   kafka_out_driver ensure BROKERS TOPIC PARTITIONS REPLICATION_FACTOR
 *   kafka_out_driver produce BROKERS TOPIC COUNT KEYS
 *   kafka_out_driver outage BROKERS TOPIC COUNT KEYS DIR
 *   kafka_out_driver partition COUNT        (keys on stdin, one a line)
 *
 * Message i has key "key-<i % KEYS>" and value "<i>", so per-key order and
 * exactly-once delivery can be read back with kcat.  outage produces the
 * first half and waits for its acks, creates DIR/half (the script then
 * kills the broker), produces a quarter at a slow pace while the broker
 * goes away, waits for DIR/back (the broker is up again), produces the
 * rest and flushes.  produce and outage print
 *   produced N delivered N failed N duplicate_acks N outstanding N
 *   peak_outstanding N       (the most messages unacknowledged at once;
 *                             for outage: after the first half's acks)
 * and exit 0 only if every message was acked as delivered, exactly once.
 */
#include "base/log.h"
#include "base/util.h"
#include "kafka/kafka_out.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tally {
	unsigned char *acks; /* acks received, by message number */
	long count;
	long delivered;
	long failed;
	long duplicates;
};

/* The most messages waiting for an ack at once: shows that the outage
 * really held messages back. */
static size_t peak_outstanding;

static void note_peak(const struct kafka_out *ko)
{
	if (kafka_out_outstanding(ko) > peak_outstanding)
		peak_outstanding = kafka_out_outstanding(ko);
}

static void on_ack(void *ack_ctx, void *ack_token, bool delivered, const char *error)
{
	struct tally *t = ack_ctx;
	long i = (long)(uintptr_t)ack_token;

	if (t->acks[i]++)
		t->duplicates++;
	if (delivered) {
		t->delivered++;
	} else {
		t->failed++;
		if (t->failed <= 3)
			fprintf(stderr, "driver: message %ld not delivered: %s\n", i, error);
	}
}

static bool open_producer(const char *brokers, struct tally *t, struct kafka_out **ko)
{
	struct kafka_cfg cfg = { 0 };
	char *list = xstrdup(brokers), *save = NULL;
	bool ok;

	for (char *b = strtok_r(list, ",", &save); b; b = strtok_r(NULL, ",", &save))
		strlist_add(&cfg.bootstrap_servers, b);
	ok = kafka_out_new(&cfg, NULL, "kafka_out_driver", on_ack, t, ko);
	strlist_fini(&cfg.bootstrap_servers);
	free(list);
	return ok;
}

static bool produce_range(struct kafka_out *ko, const char *topic, long from, long to, long keys,
			  int pause_ms)
{
	char key[32], value[32];

	for (long i = from; i < to; i++) {
		int klen = snprintf(key, sizeof(key), "key-%ld", i % keys);
		int vlen = snprintf(value, sizeof(value), "%ld", i);

		if (!kafka_out_produce(ko, topic, key, (size_t)klen, value, (size_t)vlen,
				       (void *)(uintptr_t)i))
			return false; /* errors already logged */
		note_peak(ko);
		kafka_out_poll(ko, pause_ms);
	}
	return true;
}

static bool wait_for_file(struct kafka_out *ko, const char *path, int timeout_s)
{
	for (int i = 0; i < timeout_s * 10; i++) {
		if (access(path, F_OK) == 0)
			return true;
		note_peak(ko);
		kafka_out_poll(ko, 100);
	}
	log_error("driver: %s did not appear within %d s", path, timeout_s);
	return false;
}

static bool touch(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		log_error("driver: cannot create %s", path);
		return false;
	}
	fclose(f);
	return true;
}

static int run_produce(int argc, char **argv, bool outage)
{
	const char *brokers = argv[2], *topic = argv[3];
	struct tally t = { 0 };
	struct kafka_out *ko;
	long keys = atol(argv[5]);
	bool ok;

	t.count = atol(argv[4]);
	if (t.count < 4 || keys < 1 || (outage && argc != 7)) {
		fprintf(stderr, "driver: bad arguments\n");
		return 2;
	}
	t.acks = xcalloc((size_t)t.count, 1);
	if (!open_producer(brokers, &t, &ko)) {
		free(t.acks);
		return 1;
	}
	if (!outage) {
		ok = produce_range(ko, topic, 0, t.count, keys, 0) && kafka_out_flush(ko, 30000);
	} else {
		char *half = xasprintf("%s/half", argv[6]), *back = xasprintf("%s/back", argv[6]);
		long h = t.count / 2, q = t.count * 3 / 4;

		ok = produce_range(ko, topic, 0, h, keys, 0) && kafka_out_flush(ko, 30000);
		peak_outstanding = 0; /* from here on: what the outage held back */
		ok = ok && touch(half) && produce_range(ko, topic, h, q, keys, 1) &&
		     wait_for_file(ko, back, 60) && produce_range(ko, topic, q, t.count, keys, 0) &&
		     kafka_out_flush(ko, 60000);
		free(half);
		free(back);
	}
	printf("produced %ld delivered %ld failed %ld duplicate_acks %ld outstanding %zu\n",
	       t.count, t.delivered, t.failed, t.duplicates, kafka_out_outstanding(ko));
	printf("peak_outstanding %zu\n", peak_outstanding);
	kafka_out_free(ko);
	free(t.acks);
	return ok && t.delivered == t.count && t.failed == 0 && t.duplicates == 0 ? 0 : 1;
}

static int run_ensure(char **argv)
{
	struct tally t = { 0 };
	struct kafka_out *ko;
	bool ok;

	if (!open_producer(argv[2], &t, &ko))
		return 1;
	ok = kafka_out_ensure_topic(ko, argv[3], atoi(argv[4]), atoi(argv[5]), 20000);
	kafka_out_free(ko);
	return ok ? 0 : 1;
}

static int run_partition(char **argv)
{
	int n = atoi(argv[2]);
	char line[4096];

	while (fgets(line, sizeof(line), stdin)) {
		size_t len = strcspn(line, "\n");

		printf("%d\n", kafka_out_partition_for_key(line, len, n));
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "";

	if (!strcmp(verb, "ensure") && argc == 6)
		return run_ensure(argv);
	if (!strcmp(verb, "produce") && argc == 6)
		return run_produce(argc, argv, false);
	if (!strcmp(verb, "outage") && argc == 7)
		return run_produce(argc, argv, true);
	if (!strcmp(verb, "partition") && argc == 3)
		return run_partition(argv);
	fprintf(stderr, "usage: kafka_out_driver ensure|produce|outage|partition ARGS "
			"(see tests/kafka_out_driver.c)\n");
	return 2;
}
