/*
 * tests/unit/test_kafka_client.c: the librdkafka configurations of the
 * agent's Kafka clients (kafka_client.c), read back with rd_kafka_conf_get:
 * the settings every client shares, each role's own, sizes that follow
 * [kafka] max_message_bytes, a refused setting named with its value, and
 * the connection's security (TLS, SASL with a pipeline's credentials) in
 * every client.
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
#include <sys/stat.h>
#include <unistd.h>

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

/* The role's conf for cfg as cred; false, with *conf NULL, when refused. */
static bool try_build(enum role role, const struct kafka_cfg *cfg,
		      const struct kafka_credentials *cred, const char *id, rd_kafka_conf_t **conf)
{
	*conf = (rd_kafka_conf_t *)cfg; /* must be replaced */
	switch (role) {
	case PRODUCER:
		return kafka_client_producer_conf_new(cfg, cred, id, conf);
	case CONSUMER:
		return kafka_client_consumer_conf_new(cfg, cred, id, "cdc-agent.p1", conf);
	case PROBE:
		return kafka_client_probe_conf_new(cfg, cred, id, conf);
	}
	return false;
}

static rd_kafka_conf_t *build_as(enum role role, const struct kafka_cfg *cfg,
				 const struct kafka_credentials *cred, const char *id)
{
	rd_kafka_conf_t *conf;

	assert_true(try_build(role, cfg, cred, id, &conf));
	assert_non_null(conf);
	return conf;
}

static rd_kafka_conf_t *build(enum role role, const struct kafka_cfg *cfg, const char *id)
{
	return build_as(role, cfg, NULL, id);
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

/* name is not set on conf (librdkafka knows no value for it). */
static void assert_unset(const rd_kafka_conf_t *conf, const char *name)
{
	char value[512];
	size_t size = sizeof(value);

	if (rd_kafka_conf_get(conf, name, value, &size) == RD_KAFKA_CONF_OK && value[0])
		fail_msg("%s: %s, expected it unset", name, value);
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
		assert_setting(conf, "security.protocol", "plaintext");
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
	assert_setting(conf, "log_level", "6");
	assert_setting(conf, "enable.idempotence", "false");
	assert_setting(conf, "allow.auto.create.topics", "false");
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
	assert_false(kafka_client_producer_conf_new(&cfg, NULL, "capture p1", &conf));
	err = capture_end();
	assert_null(conf);
	snprintf(want, sizeof(want), "kafka k1:9092,k2:9093: producer setting message.max.bytes=%" PRId64
		 " rejected", kafka_batch_limit(&cfg));
	if (!strstr(err, want))
		fail_msg("log \"%s\" lacks \"%s\"", err, want);
	free(err);

	conf = (rd_kafka_conf_t *)&cfg;
	capture_begin();
	assert_false(kafka_client_consumer_conf_new(&cfg, NULL, "apply p1", "g", &conf));
	err = capture_end();
	assert_null(conf);
	snprintf(want, sizeof(want), "consumer setting fetch.max.bytes=%" PRId64 " rejected",
		 kafka_fetch_limit(&cfg));
	if (!strstr(err, want))
		fail_msg("log \"%s\" lacks \"%s\"", err, want);
	free(err);
	strlist_fini(&cfg.bootstrap_servers);
}

/* A private temporary directory with a password file (0600) in it. */
struct secrets {
	char dir[64];
	char password_file[128];
};

static void secrets_make(struct secrets *s, const char *password)
{
	FILE *f;

	snprintf(s->dir, sizeof(s->dir), "/tmp/test_kafka_client.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->password_file, sizeof(s->password_file), "%s/capture.pass", s->dir);
	f = fopen(s->password_file, "w");
	assert_non_null(f);
	fprintf(f, "%s\nsecond line, not the password\n", password);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(s->password_file, 0600), 0);
}

static void secrets_remove(struct secrets *s)
{
	unlink(s->password_file);
	rmdir(s->dir);
}

/* sasl_ssl with a CA and a client certificate: every client (producer,
 * consumer, probe) gets the protocol, the files, hostname verification and
 * the credentials it was given, the password read from its file. */
static void test_security_in_every_client(void **state)
{
	struct kafka_cfg cfg;
	struct secrets sec;
	struct kafka_credentials cred = { .user = "capture-p1" };

	(void)state;
	secrets_make(&sec, "s3cret pw");
	cred.password_file = sec.password_file;
	cfg_init(&cfg, 0);
	cfg.security_protocol = KAFKA_SECURITY_SASL_SSL;
	cfg.sasl_mechanism = KAFKA_SASL_SCRAM_SHA_512;
	cfg.ssl_ca_file = "/etc/cdc-agent/kafka-ca.pem";
	cfg.ssl_cert_file = "/etc/cdc-agent/client.pem";
	cfg.ssl_key_file = "/etc/cdc-agent/client.key";
	for (int r = PRODUCER; r <= PROBE; r++) {
		rd_kafka_conf_t *conf = build_as((enum role)r, &cfg, &cred, role_names[r]);

		assert_setting(conf, "security.protocol", "sasl_ssl");
		assert_setting(conf, "ssl.endpoint.identification.algorithm", "https");
		assert_setting(conf, "ssl.ca.location", "/etc/cdc-agent/kafka-ca.pem");
		assert_setting(conf, "ssl.certificate.location", "/etc/cdc-agent/client.pem");
		assert_setting(conf, "ssl.key.location", "/etc/cdc-agent/client.key");
		assert_setting(conf, "sasl.mechanism", "SCRAM-SHA-512");
		assert_setting(conf, "sasl.username", "capture-p1");
		assert_setting(conf, "sasl.password", "s3cret pw");
		rd_kafka_conf_destroy(conf);
	}
	/* scram-sha-256 over plaintext: no TLS settings */
	cfg.security_protocol = KAFKA_SECURITY_SASL_PLAINTEXT;
	cfg.sasl_mechanism = KAFKA_SASL_SCRAM_SHA_256;
	cfg.ssl_ca_file = cfg.ssl_cert_file = cfg.ssl_key_file = NULL;
	for (int r = PRODUCER; r <= PROBE; r++) {
		rd_kafka_conf_t *conf = build_as((enum role)r, &cfg, &cred, role_names[r]);

		assert_setting(conf, "security.protocol", "sasl_plaintext");
		assert_setting(conf, "sasl.mechanism", "SCRAM-SHA-256");
		assert_unset(conf, "ssl.ca.location");
		rd_kafka_conf_destroy(conf);
	}
	secrets_remove(&sec);
	strlist_fini(&cfg.bootstrap_servers);
}

/* ssl without SASL: TLS settings, hostname verification, no SASL user. */
static void test_ssl_without_sasl(void **state)
{
	struct kafka_cfg cfg;

	(void)state;
	cfg_init(&cfg, 0);
	cfg.security_protocol = KAFKA_SECURITY_SSL;
	cfg.ssl_ca_file = "/etc/cdc-agent/kafka-ca.pem";
	for (int r = PRODUCER; r <= PROBE; r++) {
		rd_kafka_conf_t *conf = build((enum role)r, &cfg, role_names[r]);

		assert_setting(conf, "security.protocol", "ssl");
		assert_setting(conf, "ssl.endpoint.identification.algorithm", "https");
		assert_setting(conf, "ssl.ca.location", "/etc/cdc-agent/kafka-ca.pem");
		assert_unset(conf, "sasl.username");
		rd_kafka_conf_destroy(conf);
	}
	strlist_fini(&cfg.bootstrap_servers);
}

/* SASL without credentials, or with a password file gone: refused, the log
 * saying why, and never the password. */
static void test_sasl_refusals(void **state)
{
	struct kafka_cfg cfg;
	struct secrets sec;
	struct kafka_credentials cred = { .user = "apply-p1" };
	rd_kafka_conf_t *conf;
	char *err;

	(void)state;
	secrets_make(&sec, "hunter2");
	cfg_init(&cfg, 0);
	cfg.security_protocol = KAFKA_SECURITY_SASL_SSL;
	for (int r = PRODUCER; r <= PROBE; r++) {
		capture_begin();
		assert_false(try_build((enum role)r, &cfg, NULL, role_names[r], &conf));
		err = capture_end();
		assert_null(conf);
		if (!strstr(err, "security_protocol sasl_ssl needs a user and a password_file"))
			fail_msg("log \"%s\" lacks the missing credentials", err);
		free(err);
	}
	cred.password_file = sec.password_file;
	conf = build_as(CONSUMER, &cfg, &cred, "apply p1");
	rd_kafka_conf_destroy(conf);
	secrets_remove(&sec);
	capture_begin();
	assert_false(try_build(CONSUMER, &cfg, &cred, "apply p1", &conf));
	err = capture_end();
	assert_null(conf);
	if (!strstr(err, sec.password_file) || strstr(err, "hunter2"))
		fail_msg("log \"%s\" should name %s, without the password", err,
			 sec.password_file);
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
		cmocka_unit_test(test_security_in_every_client),
		cmocka_unit_test(test_ssl_without_sasl),
		cmocka_unit_test(test_sasl_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
