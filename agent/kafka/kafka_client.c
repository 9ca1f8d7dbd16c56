/*
 * agent/kafka/kafka_client.c: the librdkafka configurations of every Kafka client
 * the agent makes (kafka_client.h says which), each a table of settings
 * with a reason per line, on top of the settings all of them share.
 */
#include "kafka/kafka_client.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"
#include "config/kafka_limits.h"
#include "config/topology.h"
#include "kafka/kafka_log.h"

#include <inttypes.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* Sets name=value on conf, or logs what librdkafka said of it; role names
 * the client ("producer", "consumer", "probe"), brokers its cluster. */
static bool conf_set(rd_kafka_conf_t *conf, const char *brokers, const char *role,
		     const char *name, const char *value)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
		return true;
	log_error("kafka %s: %s setting %s=%s rejected: %s", brokers, role, name, value, errstr);
	return false;
}

/* A table of settings, in order; false at the first one refused. */
static bool conf_set_all(rd_kafka_conf_t *conf, const char *brokers, const char *role,
			 const char *const (*settings)[2], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!conf_set(conf, brokers, role, settings[i][0], settings[i][1]))
			return false; /* errors already logged */
	return true;
}

/* The password of cred as sasl.password: read from its file here, handed
 * to librdkafka (which keeps its own copy in the conf) and wiped, never
 * logged, not even when refused. */
static bool sasl_password_set(rd_kafka_conf_t *conf, const char *brokers, const char *role,
			      const struct kafka_credentials *cred)
{
	char errstr[512], *password = NULL;
	bool ok;

	if (!secret_read(cred->password_file, &password))
		return false; /* errors already logged */
	ok = rd_kafka_conf_set(conf, "sasl.password", password, errstr, sizeof(errstr)) ==
	     RD_KAFKA_CONF_OK;
	secret_free(password);
	if (!ok)
		log_error("kafka %s: %s setting sasl.password (from %s) rejected: %s", brokers, role,
			  cred->password_file, errstr);
	return ok;
}

/* OpenSSL's verdict on each certificate of a broker's chain, kept, but
 * with its reason: librdkafka alone says "certificate verify failed" for
 * a CA we do not trust and for a certificate of another name alike.
 * Called on librdkafka's threads; touches nothing but its arguments. */
static int tls_verify(rd_kafka_t *rk, const char *broker_name, int32_t broker_id,
		      int *x509_error, int depth, const char *buf, size_t size, char *errstr,
		      size_t errstr_size, void *opaque)
{
	(void)rk, (void)broker_id, (void)buf, (void)size, (void)opaque;
	if (*x509_error == 0)
		return 1;
	snprintf(errstr, errstr_size, "broker %s: certificate %s (depth %d): %s%s", broker_name,
		 depth == 0 ? "of the broker" : "of its chain", depth,
		 X509_verify_cert_error_string(*x509_error),
		 *x509_error == X509_V_ERR_HOSTNAME_MISMATCH ||
				 *x509_error == X509_V_ERR_IP_ADDRESS_MISMATCH
			 ? " (bootstrap_servers must name the broker as its certificate does)"
			 : " (is [kafka] ssl_ca_file the CA that signed the brokers' certificates?)");
	return 0;
}

/* The connection's security, from [kafka] and cred: TLS with the brokers'
 * names checked against their certificates, SASL as cred's user. */
static bool security_conf(rd_kafka_conf_t *conf, const struct kafka_cfg *cfg,
			  const struct kafka_credentials *cred, const char *brokers,
			  const char *role)
{
	enum kafka_security protocol = cfg->security_protocol;

	if (!conf_set(conf, brokers, role, "security.protocol", kafka_security_names[protocol]))
		return false; /* errors already logged */
	if (kafka_security_tls(protocol)) {
		const char *const files[][2] = {
			{ "ssl.ca.location", cfg->ssl_ca_file },
			{ "ssl.certificate.location", cfg->ssl_cert_file },
			{ "ssl.key.location", cfg->ssl_key_file },
		};

		/* A broker must hold a certificate for the name we reached it
		 * by, not just any the CA signed. */
		if (!conf_set(conf, brokers, role, "ssl.endpoint.identification.algorithm", "https"))
			return false; /* errors already logged */
		if (rd_kafka_conf_set_ssl_cert_verify_cb(conf, tls_verify) != RD_KAFKA_CONF_OK) {
			log_error("kafka %s: %s: this librdkafka has no TLS", brokers, role);
			return false;
		}
		for (size_t i = 0; i < ARRAY_LEN(files); i++)
			if (files[i][1] && !conf_set(conf, brokers, role, files[i][0], files[i][1]))
				return false; /* errors already logged */
	}
	if (!kafka_security_sasl(protocol))
		return true;
	if (!cred || !cred->user || !cred->password_file) {
		log_error("kafka %s: %s: security_protocol %s needs a user and a password_file, "
			  "and this client has none",
			  brokers, role, kafka_security_names[protocol]);
		return false;
	}
	return conf_set(conf, brokers, role, "sasl.mechanism",
			kafka_sasl_mechanism_rdkafka_names[cfg->sasl_mechanism]) &&
	       conf_set(conf, brokers, role, "sasl.username", cred->user) &&
	       sasl_password_set(conf, brokers, role, cred);
}

/* The settings of every client: the one place for what all connections to
 * the cluster share. */
static bool common_conf(rd_kafka_conf_t *conf, const struct kafka_cfg *cfg,
			const struct kafka_credentials *cred, const char *brokers,
			const char *role, const char *client_id)
{
	const char *const settings[][2] = {
		{ "bootstrap.servers", brokers },
		/* The brokers' logs and quotas, and our log lines (kafka_log.c),
		 * name the client. */
		{ "client.id", client_id },
		/* Requests go out whole, not held by Nagle's algorithm: over
		 * TLS librdkafka writes a request as several records, one
		 * write(2) each, and Nagle held the later ones until the
		 * broker's delayed ACK (~40 ms).  Each produce request then
		 * took ~50 ms, and capture's idempotent producer (one request
		 * in flight per partition, polling without sleep while a batch
		 * waits) spent 15-24 us/row in its broker thread: SASL_SSL
		 * 0.27-0.33x plaintext's rows/s; without Nagle 0.85x, 2.9
		 * us/row (`make bench-tls`, docs/BENCHMARKS.md).  Plaintext
		 * writes a request in one call: unchanged.  librdkafka 2.10
		 * made this its default. */
		{ "socket.nagle.disable", "true" },
	};

	if (!conf_set_all(conf, brokers, role, settings, ARRAY_LEN(settings)) ||
	    !security_conf(conf, cfg, cred, brokers, role))
		return false; /* errors already logged */
	/* librdkafka's own lines through log.c, never raw on stderr. */
	kafka_log_attach(conf);
	return true;
}

/* A new conf with the common settings and then the role's; NULL (logged)
 * when a setting was refused. */
static rd_kafka_conf_t *conf_build(const struct kafka_cfg *cfg,
				   const struct kafka_credentials *cred, const char *role,
				   const char *client_id, const char *const (*settings)[2],
				   size_t n)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char *brokers = strlist_join(&cfg->bootstrap_servers, ",");
	bool ok = common_conf(conf, cfg, cred, brokers, role, client_id) &&
		  conf_set_all(conf, brokers, role, settings, n);

	free(brokers);
	if (ok)
		return conf;
	rd_kafka_conf_destroy(conf);
	return NULL; /* errors already logged */
}

static void int_text(char *buf, size_t size, int64_t n)
{
	snprintf(buf, size, "%" PRId64, n);
}

bool kafka_client_producer_conf_new(const struct kafka_cfg *cfg,
				    const struct kafka_credentials *cred, const char *client_id,
				    rd_kafka_conf_t **out)
{
	char max_bytes[32], queue_kb[32];

	/* The request limit: one batch of the largest record fits. */
	int_text(max_bytes, sizeof(max_bytes), kafka_batch_limit(cfg));
	int_text(queue_kb, sizeof(queue_kb),
		 ((int64_t)KAFKA_PRODUCER_QUEUE_SOFT_BYTES + kafka_batch_limit(cfg)) / 1024 + 1);

	const char *const settings[][2] = {
		/* Events repeat their schema block and field names: lz4 (the
		 * default) shrinks them for the broker and the network. */
		{ "compression.codec", kafka_compression_names[cfg->compression] },
		/* The settings that follow from [kafka] max_message_bytes
		 * (kafka_limits.h): a batch of the largest record fits the
		 * request, and the queue holds it beside
		 * KAFKA_PRODUCER_QUEUE_SOFT_BYTES of others. */
		{ "message.max.bytes", max_bytes },
		{ "queue.buffering.max.kbytes", queue_kb },
		/* Retries can neither duplicate nor reorder messages. */
		{ "enable.idempotence", "true" },
		{ "acks", "all" },
		/* A key lands where Kafka's Java producer would put it. */
		{ "partitioner", "murmur2_random" },
		/* Never give up on a message while the brokers are away: capture
		 * must not lose anything.  The bounded queue below makes
		 * kafka_out_produce wait instead (backpressure). */
		{ "message.timeout.ms", "0" },
		{ "queue.buffering.max.messages", STR(KAFKA_PRODUCER_QUEUE_MESSAGES) },
		/* The broker's cost is mostly per request (each batch is
		 * validated, appended and fetched once): 5 ms made ~300-record
		 * batches at 60k rows/s and a broker busier than capture;
		 * 10-25 ms halved its CPU per row end to end
		 * (docs/BENCHMARKS.md), for that much more latency. */
		{ "linger.ms", "20" },
		/* Batches point at the queued messages (F_COPY made them ours
		 * already) instead of copying each once more: capture 0.6 us/row
		 * less at 88,000 rows/s (side by side, 3 pairs).  50 ms of
		 * linger showed no gain over 20 there. */
		{ "message.copy.max.bytes", "0" },
		/* batch.size (1 MB) needs no change: a record larger than it
		 * still goes, alone in its batch; message.max.bytes: above. */
		/* Topics come from kafka_out_ensure_topic with the configured
		 * partition count, never from the broker's defaults. */
		{ "allow.auto.create.topics", "false" },
		/* Resume within seconds of a broker's return, not librdkafka's 10 s. */
		{ "reconnect.backoff.max.ms", "2000" },
		/* Logs wait for rd_kafka_poll on capture's thread, where every
		 * other callback runs (kafka_out.c says why). */
		{ "log.queue", "true" },
	};

	*out = conf_build(cfg, cred, "producer", client_id, settings, ARRAY_LEN(settings));
	return *out != NULL;
}

bool kafka_client_consumer_conf_new(const struct kafka_cfg *cfg,
				    const struct kafka_credentials *cred, const char *client_id,
				    const char *group, rd_kafka_conf_t **out)
{
	char fetch_max[32], receive_max[32];

	/* A record of [kafka] max_message_bytes fits one fetch response
	 * (kafka_limits.h); max.partition.fetch.bytes stays 1 MiB: the
	 * broker returns a larger first batch of a partition whole. */
	int_text(fetch_max, sizeof(fetch_max), kafka_fetch_limit(cfg));
	int_text(receive_max, sizeof(receive_max), kafka_receive_limit(cfg));

	const char *const settings[][2] = {
		/* Only where Kafka's committed offsets go: apply joins no group
		 * (kafka_in.c). */
		{ "group.id", group },
		/* Apply stores each partition's next offset with the data it
		 * applied, in the target's transaction; Kafka's committed
		 * offsets are for monitoring, committed by apply itself. */
		{ "enable.auto.commit", "false" },
		{ "enable.auto.offset.store", "false" },
		/* Where no offset is stored, offsets_load starts at the
		 * beginning; a stored one outside the log is a gap that
		 * must stop apply (offset_gap), never a silent restart. */
		{ "auto.offset.reset", "error" },
		/* Partitions are assigned by apply itself (kafka_in.c), which
		 * asks for topics not there yet; a partition's new leader is
		 * found within 5 s. */
		{ "topic.metadata.refresh.interval.ms", "5000" },
		{ "allow.auto.create.topics", "false" },
		{ "fetch.max.bytes", fetch_max },
		{ "receive.message.max.bytes", receive_max },
	};

	*out = conf_build(cfg, cred, "consumer", client_id, settings, ARRAY_LEN(settings));
	return *out != NULL;
}

bool kafka_client_probe_conf_new(const struct kafka_cfg *cfg,
				 const struct kafka_credentials *cred, const char *client_id,
				 rd_kafka_conf_t **out)
{
	static const char *const settings[][2] = {
		/* Up to librdkafka's informational lines, which name why a
		 * connection failed (kafka_log_attach_quiet keeps that). */
		{ "log_level", "6" },
		/* A probe is a producer handle, whose metadata requests would
		 * have a broker with auto.create.topics.enable create a topic it
		 * asks about (status's lag of a pipeline capture has not started
		 * yet): created with the broker's partition count, capture then
		 * refuses it.  Topics are capture's to create. */
		{ "allow.auto.create.topics", "false" },
	};

	*out = conf_build(cfg, cred, "probe", client_id, settings, ARRAY_LEN(settings));
	/* A probe's failure is its result (the caller says why, with
	 * kafka_log_last_failure), not a log line: a broker that is down is
	 * what a probe finds out. */
	if (*out)
		kafka_log_attach_quiet(*out);
	return *out != NULL;
}
