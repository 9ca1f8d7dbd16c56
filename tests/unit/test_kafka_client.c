/*
 * tests/unit/test_kafka_client.c: the librdkafka configurations of the
 * agent's Kafka clients (kafka_client.c), read back with rd_kafka_conf_get:
 * the settings every client shares, each role's own, sizes that follow
 * [kafka] max_message_bytes, and a refused setting named with its value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "config/kafka_limits.h"
#include "config/topology.h"
#include "kafka/kafka_client.h"

#include "stderr_capture.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum role { PRODUCER, CONSUMER, PROBE };

static const char *const role_names[] = { "producer", "consumer", "probe" };

/* cfg with two brokers and [kafka] max_message_bytes = max (0: the
 * default). */
static void cfg_init(struct kafka_cfg *cfg, int64_t max)
{
	memset(cfg, 0, sizeof(*cfg));
	strlist_add(&cfg->bootstrap_servers, "k1:9092");
	strlist_add(&cfg->bootstrap_servers, "k2:9093");
	cfg->max_message_bytes = max;
}

static rd_kafka_conf_t *build(enum role role, const struct kafka_cfg *cfg, const char *id)
{
	rd_kafka_conf_t *conf = (rd_kafka_conf_t *)cfg; /* must be replaced */
	bool ok = false;

	switch (role) {
	case PRODUCER:
		ok = kafka_client_producer_conf_new(cfg, id, &conf);
		break;
	case CONSUMER:
		ok = kafka_client_consumer_conf_new(cfg, id, "cdc-agent.p1", &conf);
		break;
	case PROBE:
		ok = kafka_client_probe_conf_new(cfg, id, &conf);
		break;
	}
	assert_true(ok);
	assert_non_null(conf);
	return conf;
}

/* conf's value of name, as librdkafka prints it. */
static const char *get(const rd_kafka_conf_t *conf, const char *name)
{
	static char value[512];
	size_t size = sizeof(value);

	if (rd_kafka_conf_get(conf, name, value, &size) != RD_KAFKA_CONF_OK)
		fail_msg("setting %s unknown to librdkafka", name);
	return value;
}

static void assert_setting(const rd_kafka_conf_t *conf, const char *name, const char *want)
{
	const char *have = get(conf, name);

	if (strcmp(have, want) != 0)
		fail_msg("%s: %s, expected %s", name, have, want);
}

static void assert_setting_int(const rd_kafka_conf_t *conf, const char *name, int64_t want)
{
	char text[32];

	snprintf(text, sizeof(text), "%" PRId64, want);
	assert_setting(conf, name, text);
}

/* Every client: the brokers, its name, librdkafka's logs through log.c. */
static void test_common_settings_in_every_client(void **state)
{
	struct kafka_cfg cfg;
	rd_kafka_conf_t *plain = rd_kafka_conf_new();
	char *default_log_cb = xstrdup(get(plain, "log_cb")); /* librdkafka's own printer */

	(void)state;
	rd_kafka_conf_destroy(plain);
	cfg_init(&cfg, 0);
	for (int r = PRODUCER; r <= PROBE; r++) {
		char id[32];
		rd_kafka_conf_t *conf;

		snprintf(id, sizeof(id), "unit %s", role_names[r]);
		conf = build((enum role)r, &cfg, id);
		assert_setting(conf, "bootstrap.servers", "k1:9092,k2:9093");
		assert_setting(conf, "client.id", id);
		/* kafka_log.c's, not librdkafka's printer on stderr */
		assert_string_not_equal(get(conf, "log_cb"), default_log_cb);
		rd_kafka_conf_destroy(conf);
	}
	free(default_log_cb);
	strlist_fini(&cfg.bootstrap_servers);
}

static void test_producer_settings(void **state)
{
	struct kafka_cfg cfg;
	rd_kafka_conf_t *conf;

	(void)state;
	cfg_init(&cfg, 0);
	cfg.compression = 0;
	while (kafka_compression_names[cfg.compression] &&
	       strcmp(kafka_compression_names[cfg.compression], "zstd") != 0)
		cfg.compression++;
	assert_non_null(kafka_compression_names[cfg.compression]);
	conf = build(PRODUCER, &cfg, "capture p1");
	assert_setting(conf, "enable.idempotence", "true");
	assert_setting(conf, "acks", "-1"); /* "all" */
	assert_setting(conf, "partitioner", "murmur2_random");
	assert_setting(conf, "message.timeout.ms", "0");
	assert_setting_int(conf, "queue.buffering.max.messages", KAFKA_PRODUCER_QUEUE_MESSAGES);
	assert_setting(conf, "linger.ms", "20");
	assert_setting(conf, "message.copy.max.bytes", "0");
	assert_setting(conf, "allow.auto.create.topics", "false");
	assert_setting(conf, "reconnect.backoff.max.ms", "2000");
	assert_setting(conf, "log.queue", "true");
	assert_setting(conf, "compression.codec", "zstd");
	rd_kafka_conf_destroy(conf);
	strlist_fini(&cfg.bootstrap_servers);
}

static void test_consumer_settings(void **state)
{
	struct kafka_cfg cfg;
	rd_kafka_conf_t *conf;

	(void)state;
	cfg_init(&cfg, 0);
	conf = build(CONSUMER, &cfg, "apply p1");
	assert_setting(conf, "group.id", "cdc-agent.p1");
	assert_setting(conf, "enable.auto.commit", "false");
	assert_setting(conf, "enable.auto.offset.store", "false");
	assert_setting(conf, "auto.offset.reset", "error");
	assert_setting(conf, "topic.metadata.refresh.interval.ms", "5000");
	assert_setting(conf, "allow.auto.create.topics", "false");
	/* not the producer's */
	assert_setting(conf, "enable.idempotence", "false");
	rd_kafka_conf_destroy(conf);
	strlist_fini(&cfg.bootstrap_servers);
}

static void test_probe_settings(void **state)
{
	struct kafka_cfg cfg;
	rd_kafka_conf_t *conf;

	(void)state;
	cfg_init(&cfg, 0);
	conf = build(PROBE, &cfg, "cdc-agent-probe");
	assert_setting(conf, "log_level", "0");
	assert_setting(conf, "enable.idempotence", "false");
	rd_kafka_conf_destroy(conf);
	strlist_fini(&cfg.bootstrap_servers);
}

/* Sizes come from kafka_limits.c, for the smallest, the default and the
 * largest max_message_bytes the topology takes. */
static void test_sizes_follow_max_message_bytes(void **state)
{
	const int64_t limits[] = { KAFKA_MAX_MESSAGE_MIN, 0, KAFKA_MAX_MESSAGE_DEFAULT,
				   KAFKA_MAX_MESSAGE_MAX };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(limits); i++) {
		struct kafka_cfg cfg;
		rd_kafka_conf_t *conf;
		int64_t batch;

		cfg_init(&cfg, limits[i]);
		batch = kafka_batch_limit(&cfg);
		assert_true(batch > kafka_record_limit(&cfg));
		conf = build(PRODUCER, &cfg, "capture p1");
		assert_setting_int(conf, "message.max.bytes", batch);
		assert_setting_int(conf, "queue.buffering.max.kbytes",
				   ((int64_t)KAFKA_PRODUCER_QUEUE_SOFT_BYTES + batch) / 1024 + 1);
		rd_kafka_conf_destroy(conf);
		conf = build(CONSUMER, &cfg, "apply p1");
		assert_setting_int(conf, "fetch.max.bytes", kafka_fetch_limit(&cfg));
		assert_true(kafka_fetch_limit(&cfg) >= batch);
		assert_setting_int(conf, "receive.message.max.bytes", kafka_receive_limit(&cfg));
		rd_kafka_conf_destroy(conf);
		strlist_fini(&cfg.bootstrap_servers);
	}
}

/* Past what librdkafka takes (message.max.bytes at most 1000000000,
 * fetch.max.bytes 2147483135): refused, and the log names the setting, the
 * value and the client. */
static void test_refused_setting_named(void **state)
{
	struct kafka_cfg cfg;
	rd_kafka_conf_t *conf = (rd_kafka_conf_t *)&cfg;
	char want[128], *err;

	(void)state;
	cfg_init(&cfg, 2120000000);
	capture_begin();
	assert_false(kafka_client_producer_conf_new(&cfg, "capture p1", &conf));
	err = capture_end();
	assert_null(conf);
	snprintf(want, sizeof(want), "kafka k1:9092,k2:9093: producer setting message.max.bytes=%" PRId64
		 " rejected", kafka_batch_limit(&cfg));
	if (!strstr(err, want))
		fail_msg("log \"%s\" lacks \"%s\"", err, want);
	free(err);

	conf = (rd_kafka_conf_t *)&cfg;
	capture_begin();
	assert_false(kafka_client_consumer_conf_new(&cfg, "apply p1", "g", &conf));
	err = capture_end();
	assert_null(conf);
	snprintf(want, sizeof(want), "consumer setting fetch.max.bytes=%" PRId64 " rejected",
		 kafka_fetch_limit(&cfg));
	if (!strstr(err, want))
		fail_msg("log \"%s\" lacks \"%s\"", err, want);
	free(err);
	strlist_fini(&cfg.bootstrap_servers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_common_settings_in_every_client),
		cmocka_unit_test(test_producer_settings),
		cmocka_unit_test(test_consumer_settings),
		cmocka_unit_test(test_probe_settings),
		cmocka_unit_test(test_sizes_follow_max_message_bytes),
		cmocka_unit_test(test_refused_setting_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
