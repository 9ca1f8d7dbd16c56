/*
 * agent/kafka/kafka_out.c: the Kafka producer of capture, around librdkafka.
 *
 * All of librdkafka's callbacks are served on the caller's thread by
 * rd_kafka_poll (logs too, through log.queue), so the counters and flags
 * below need no locking and our log_* functions are never called from
 * librdkafka's threads.  Its settings are kafka_client.c's, a reason per
 * line.
 */
#include "kafka/kafka_out.h"

#include "base/log.h"
#include "base/util.h"
#include "config/kafka_limits.h"
#include "kafka/kafka_client.h"
#include "kafka/kafka_log.h"

#include <librdkafka/rdkafka.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* While kafka_out_produce waits for room in the queue, it says so after
 * this long, once per wait. */
#define BACKPRESSURE_WARN_MS 10000

struct kafka_out {
	rd_kafka_t *rk;
	char *brokers;                /* bootstrap list, "host:port,...", for messages */
	char *label;                  /* the client's name ("capture p1"), for messages */
	char *user;                   /* its SASL user; NULL: none (a certificate's principal) */
	kafka_ack_fn on_ack;
	void *ack_ctx;
	size_t outstanding;           /* accepted by producev, not yet acked */
	bool fatal;                   /* fatal producer error seen and logged */
	bool refused;                 /* a request refused by the brokers' ACLs (logged) */
	bool brokers_down;            /* "all brokers down" logged; no delivery since */
	rd_kafka_resp_err_t last_err; /* last broker error logged; 0 after a delivery */
	bool failing;                 /* a failed delivery logged; no delivery since */
	rd_kafka_topic_t **known;     /* kafka_out_know_topics: handles kept while ko lives */
	size_t n_known;
	/* topic name -> index in known: librdkafka finds a topic given by
	 * name by a scan of every topic it has, per message. */
	struct strmap known_idx;
	size_t queued_bytes;          /* keys and values accepted, not yet acked */
	int64_t batch_limit;          /* topics' max.message.bytes (kafka_limits.h) */
	int min_insync_replicas;      /* topics' min.insync.replicas; 1: the brokers' default */
	struct kafka_too_large too_large; /* the first record refused as too large */
};

/* The process's stop flag (kafka_out_stop_on); NULL: none. */
static const volatile sig_atomic_t *stop_flag;

void kafka_out_stop_on(const volatile sig_atomic_t *flag)
{
	stop_flag = flag;
}

static bool stopping(void)
{
	return stop_flag && *stop_flag;
}

/* A request the brokers' ACLs refused: said once at error level, naming
 * the user, what was refused and what to grant; the producer is done
 * (kafka_out_failed), since sending again meets the same ACL. */
static void note_refused(struct kafka_out *ko, rd_kafka_resp_err_t err, const char *detail,
			 const char *doing, const char *grant)
{
	struct strbuf sb;

	strbuf_init(&sb);
	kafka_acl_refusal(&sb, ko->user, doing, err, detail, grant);
	log_error("%s: kafka %s: %s", ko->label, ko->brokers, sb.data);
	strbuf_fini(&sb);
	ko->refused = true;
}

/* Logs the fatal error once; librdkafka keeps failing every call after it. */
static void note_fatal(struct kafka_out *ko)
{
	char why[512];
	rd_kafka_resp_err_t err;

	if (ko->fatal)
		return;
	ko->fatal = true;
	err = rd_kafka_fatal_error(ko->rk, why, sizeof(why));
	/* The idempotent producer's id (InitProducerId) refused. */
	if (kafka_err_is_acl(err))
		note_refused(ko, err, why, "getting an idempotent producer id",
			     "Write on the pipeline's topics (or IdempotentWrite on the cluster)");
	else
		log_error("kafka %s: fatal producer error: %s: %s; the producer must be recreated",
			  ko->brokers, rd_kafka_err2name(err), why);
}

/* Keeps the first record refused as too large (by librdkafka or a broker)
 * for kafka_out_too_large. */
static void note_too_large(struct kafka_out *ko, const char *topic, const void *key,
			   size_t key_len, size_t size)
{
	if (ko->too_large.refused)
		return;
	ko->too_large.refused = true;
	snprintf(ko->too_large.topic, sizeof(ko->too_large.topic), "%s", topic);
	ko->too_large.key_len = key_len < sizeof(ko->too_large.key) ? key_len
								    : sizeof(ko->too_large.key) - 1;
	if (key)
		memcpy(ko->too_large.key, key, ko->too_large.key_len);
	else
		ko->too_large.key_len = 0;
	ko->too_large.key[ko->too_large.key_len] = '\0';
	ko->too_large.size = size;
}

/* Errors librdkafka recovers from by itself (brokers away, connections
 * lost) are logged once per change of state, not at every reconnection
 * attempt; a delivery resets the state (on_delivery). */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_out *ko = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		note_fatal(ko);
	} else if (kafka_err_is_acl(err)) {
		/* A topic's metadata refused (its messages fail with it, each
		 * then said by on_delivery): once. */
		if (!ko->refused)
			note_refused(ko, err, reason, "describing a topic",
				     "Describe and Write on the pipeline's topics");
	} else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		if (!ko->brokers_down)
			log_warn("kafka %s: all brokers are down (%s); retrying until one is back",
				 ko->brokers, reason);
		ko->brokers_down = true;
	} else if (err == (int)ko->last_err) {
		log_debug("kafka %s: %s", ko->brokers, reason);
	} else {
		log_warn("kafka %s: %s", ko->brokers, reason);
		ko->last_err = err;
	}
}

/* One delivery report per message accepted by producev, including those
 * that failed for good: they reach on_ack as not delivered. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct kafka_out *ko = opaque;
	const char *error = NULL;

	(void)rk;
	ko->outstanding--;
	ko->queued_bytes -= msg->len + msg->key_len;
	if (msg->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
		note_too_large(ko, rd_kafka_topic_name(msg->rkt), msg->key, msg->key_len,
			       msg->len + msg->key_len);
	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (ko->brokers_down || ko->last_err || ko->failing)
			log_info("kafka %s: messages are delivered again", ko->brokers);
		ko->brokers_down = false;
		ko->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
		ko->failing = false;
	} else {
		/* Not rd_kafka_message_errstr: for a producer it reads the payload. */
		error = rd_kafka_err2str(msg->err);
		/* A fatal error or a shutdown fails the whole queue: one line
		 * says it, on_ack hears about each message. */
		if (kafka_err_is_acl(msg->err) && !ko->refused) {
			char doing[320];

			snprintf(doing, sizeof(doing), "writing topic %s",
				 rd_kafka_topic_name(msg->rkt));
			note_refused(ko, msg->err, error, doing, "Write on the topic");
		} else if (!ko->failing && !ko->refused)
			log_error("kafka %s: message to topic %s partition %d not delivered: %s "
				  "(further failures logged at debug level until a delivery)",
				  ko->brokers, rd_kafka_topic_name(msg->rkt), (int)msg->partition,
				  error);
		else
			log_debug("kafka %s: message to topic %s partition %d not delivered: %s",
				  ko->brokers, rd_kafka_topic_name(msg->rkt), (int)msg->partition,
				  error);
		ko->failing = true;
	}
	ko->on_ack(ko->ack_ctx, msg->_private, msg->err == RD_KAFKA_RESP_ERR_NO_ERROR, error);
}

/* The producer's settings are kafka_client.c's; the callbacks are ours. */
static bool producer_conf(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
			  const char *client_id, struct kafka_out *ko, rd_kafka_conf_t **out)
{
	if (!kafka_client_producer_conf_new(cfg, cred, client_id, out))
		return false; /* errors already logged */
	rd_kafka_conf_set_opaque(*out, ko);
	rd_kafka_conf_set_error_cb(*out, on_error);
	rd_kafka_conf_set_dr_msg_cb(*out, on_delivery);
	return true;
}

bool kafka_out_new(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
		   const char *client_id, kafka_ack_fn on_ack, void *ack_ctx, struct kafka_out **out)
{
	struct kafka_out *ko;
	rd_kafka_conf_t *conf;
	char errstr[512];

	*out = NULL;
	if (cfg->bootstrap_servers.n == 0) {
		log_error("kafka: no bootstrap_servers to produce to");
		return false;
	}
	ko = xcalloc(1, sizeof(*ko));
	ko->brokers = strlist_join(&cfg->bootstrap_servers, ",");
	ko->label = xstrdup(client_id);
	ko->user = cred && cred->user && kafka_security_sasl(cfg->security_protocol)
			   ? xstrdup(cred->user)
			   : NULL;
	ko->on_ack = on_ack;
	ko->ack_ctx = ack_ctx;
	ko->batch_limit = kafka_batch_limit(cfg);
	ko->min_insync_replicas = cfg->min_insync_replicas;
	if (!producer_conf(cfg, cred, client_id, ko, &conf)) {
		kafka_out_free(ko);
		return false; /* errors already logged */
	}
	/* rd_kafka_new owns conf from here on, on success only. */
	ko->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!ko->rk) {
		log_error("kafka %s: cannot create the producer: %s", ko->brokers, errstr);
		rd_kafka_conf_destroy(conf);
		kafka_out_free(ko);
		return false;
	}
	rd_kafka_set_log_queue(ko->rk, NULL); /* the main queue, served by rd_kafka_poll */
	*out = ko;
	return true;
}

void kafka_out_free(struct kafka_out *ko)
{
	if (!ko)
		return;
	if (ko->rk && ko->outstanding > 0) {
		/* rd_kafka_destroy would drop them without a report: purge
		 * them so each comes back to on_ack as not delivered.  This
		 * line says it for all of them (failing: no line each). */
		log_warn("kafka %s: %zu message(s) unacknowledged at shutdown, reported as not "
			 "delivered",
			 ko->brokers, ko->outstanding);
		ko->failing = true;
		rd_kafka_purge(ko->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(ko->rk, 5000);
		if (ko->outstanding > 0)
			log_error("kafka %s: %zu message(s) got no report at shutdown", ko->brokers,
				  ko->outstanding);
	}
	for (size_t i = 0; i < ko->n_known; i++)
		rd_kafka_topic_destroy(ko->known[i]);
	free(ko->known);
	strmap_fini(&ko->known_idx);
	if (ko->rk)
		rd_kafka_destroy(ko->rk);
	free(ko->brokers);
	free(ko->label);
	free(ko->user);
	free(ko);
}

bool kafka_out_know_topics(struct kafka_out *ko, const struct strlist *topics, int timeout_ms)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;

	ko->known = xrealloc(ko->known, (ko->n_known + topics->n + 1) * sizeof(*ko->known));
	for (size_t i = 0; i < topics->n; i++) {
		size_t len = strlen(topics->items[i]), have;
		rd_kafka_topic_t *rkt;

		if (strmap_get(&ko->known_idx, topics->items[i], len, &have))
			continue;
		rkt = rd_kafka_topic_new(ko->rk, topics->items[i], NULL);
		if (!rkt)
			continue;
		strmap_put(&ko->known_idx, topics->items[i], len, ko->n_known);
		ko->known[ko->n_known++] = rkt;
	}
	/* One answer for all topics updates every handle at once. */
	err = rd_kafka_metadata(ko->rk, 1, NULL, &md, timeout_ms);
	if (err) {
		log_warn("kafka %s: no metadata for the %zu topics: %s (each is looked up when first produced to)",
			 ko->brokers, topics->n, rd_kafka_err2str(err));
		return false;
	}
	rd_kafka_metadata_destroy(md);
	return true;
}

/* Waits for the admin result on q, serving the main queue meanwhile so that
 * "all brokers down" and other errors are logged as they happen.  NULL if
 * nothing came within timeout_ms. */
static rd_kafka_event_t *admin_wait(struct kafka_out *ko, rd_kafka_queue_t *q, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;
	rd_kafka_event_t *ev;

	do {
		ev = rd_kafka_queue_poll(q, 100);
		rd_kafka_poll(ko->rk, 0);
		if (ev)
			return ev;
	} while (mono_ms() < deadline && !stopping());
	return NULL;
}

/* The answer to CreateTopics for our one topic. */
static bool create_result(struct kafka_out *ko, rd_kafka_event_t *ev, const char *topic,
			  int partitions, int replication_factor, bool *existed)
{
	const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
	const rd_kafka_topic_result_t **results;
	rd_kafka_resp_err_t err;
	const char *why;
	size_t n = 0;

	if (rd_kafka_event_error(ev) || !res) {
		log_error("kafka %s: cannot create topic %s: %s", ko->brokers, topic,
			  rd_kafka_event_error_string(ev));
		return false;
	}
	results = rd_kafka_CreateTopics_result_topics(res, &n);
	err = n == 1 ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
	why = n == 1 ? rd_kafka_topic_result_error_string(results[0]) : NULL;
	if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		*existed = true;
		return true;
	}
	if (kafka_err_is_acl(err)) {
		char doing[320];

		snprintf(doing, sizeof(doing), "creating topic %s", topic);
		note_refused(ko, err, why, doing, "Create on the topic (or on the cluster)");
		return false;
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_error("kafka %s: cannot create topic %s (%d partitions, replication "
			  "factor %d): %s%s%s",
			  ko->brokers, topic, partitions, replication_factor, rd_kafka_err2str(err),
			  why && *why ? ": " : "", why && *why ? why : "");
		return false;
	}
	log_info("kafka %s: created topic %s (%d partitions, replication factor %d, "
		 "max.message.bytes %" PRId64 ")",
		 ko->brokers, topic, partitions, replication_factor, ko->batch_limit);
	return true;
}

/* Creates topic; *existed tells TOPIC_ALREADY_EXISTS (a success) apart. */
static bool create_topic(struct kafka_out *ko, const char *topic, int partitions,
			 int replication_factor, int timeout_ms, bool *existed)
{
	rd_kafka_NewTopic_t *nt;
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	char errstr[512], max_bytes[32];
	double asked;
	bool ok = false;

	*existed = false;
	nt = rd_kafka_NewTopic_new(topic, partitions, replication_factor, errstr, sizeof(errstr));
	if (!nt) {
		log_error("kafka %s: cannot create topic %s: %s", ko->brokers, topic, errstr);
		return false;
	}
	snprintf(max_bytes, sizeof(max_bytes), "%" PRId64, ko->batch_limit);
	if (rd_kafka_NewTopic_set_config(nt, "max.message.bytes", max_bytes)) {
		log_error("kafka %s: cannot create topic %s: max.message.bytes %s refused",
			  ko->brokers, topic, max_bytes);
		rd_kafka_NewTopic_destroy(nt);
		return false;
	}
	/* [kafka] min_insync_replicas above 1 (a cluster): with acks=all a
	 * write is acknowledged once that many replicas hold it, so a broker
	 * away loses nothing.  1 leaves the brokers' default (a cluster of
	 * one's own may have set another). */
	snprintf(max_bytes, sizeof(max_bytes), "%d", ko->min_insync_replicas);
	if (ko->min_insync_replicas > 1 && replication_factor >= ko->min_insync_replicas &&
	    rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", max_bytes)) {
		log_error("kafka %s: cannot create topic %s: min.insync.replicas %s refused",
			  ko->brokers, topic, max_bytes);
		rd_kafka_NewTopic_destroy(nt);
		return false;
	}
	opts = rd_kafka_AdminOptions_new(ko->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	/* The broker may take its time to create the partitions: the
	 * operation timeout stays below the request's so that its answer,
	 * not our timeout, ends the wait. */
	if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof(errstr)) ||
	    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms * 3 / 4, errstr,
							sizeof(errstr))) {
		log_error("kafka %s: cannot create topic %s: timeout %d ms: %s", ko->brokers,
			  topic, timeout_ms, errstr);
		rd_kafka_AdminOptions_destroy(opts);
		rd_kafka_NewTopic_destroy(nt);
		return false;
	}
	q = rd_kafka_queue_new(ko->rk);
	/* librdkafka says an identical failure again at most every 30 s:
	 * one of that long before the request still is its cause. */
	asked = mono_seconds() - 35;
	rd_kafka_CreateTopics(ko->rk, &nt, 1, opts, q);
	ev = admin_wait(ko, q, timeout_ms + 1000);
	if (ev) {
		ok = create_result(ko, ev, topic, partitions, replication_factor, existed);
		rd_kafka_event_destroy(ev);
	} else {
		char cause[512];

		if (kafka_log_last_failure(asked, cause, sizeof(cause)))
			log_error("kafka %s: cannot create topic %s: no answer within %d ms; the "
				  "brokers' last failure: %s",
				  ko->brokers, topic, timeout_ms, cause);
		else
			log_error("kafka %s: cannot create topic %s: no answer within %d ms",
				  ko->brokers, topic, timeout_ms);
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_NewTopic_destroy(nt);
	return ok;
}

/* A request on topic's configuration refused by ACL (reading it when
 * describe, else changing it). */
static void config_refused(struct kafka_out *ko, const char *topic, bool describe,
			   rd_kafka_resp_err_t err, const char *detail)
{
	char doing[320];

	snprintf(doing, sizeof(doing), "%s the configuration of topic %s",
		 describe ? "reading" : "changing (max.message.bytes)", topic);
	note_refused(ko, err, detail, doing,
		     describe ? "DescribeConfigs on the topic" : "AlterConfigs on the topic");
}

/* An admin request on topic's configuration (DescribeConfigs or
 * AlterConfigs, by op) and its answer; NULL (logged) if none came. */
static rd_kafka_event_t *config_request(struct kafka_out *ko, const char *topic,
					rd_kafka_ConfigResource_t *res, rd_kafka_admin_op_t op,
					int timeout_ms)
{
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(ko->rk, op);
	rd_kafka_queue_t *q = rd_kafka_queue_new(ko->rk);
	rd_kafka_event_t *ev;
	char errstr[512];

	if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof(errstr)))
		log_warn("kafka %s: topic %s: timeout %d ms: %s", ko->brokers, topic, timeout_ms,
			 errstr);
	if (op == RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS)
		rd_kafka_DescribeConfigs(ko->rk, &res, 1, opts, q);
	else
		rd_kafka_AlterConfigs(ko->rk, &res, 1, opts, q);
	ev = admin_wait(ko, q, timeout_ms + 1000);
	if (!ev)
		log_error("kafka %s: topic %s: no answer about its configuration within %d ms",
			  ko->brokers, topic, timeout_ms);
	else if (kafka_err_is_acl(rd_kafka_event_error(ev))) {
		config_refused(ko, topic, op == RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS,
			       rd_kafka_event_error(ev), rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		ev = NULL;
	} else if (rd_kafka_event_error(ev)) {
		log_error("kafka %s: topic %s: %s of its configuration failed: %s", ko->brokers,
			  topic, op == RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS ? "reading" : "changing",
			  rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		ev = NULL;
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	return ev;
}

/* The one resource of a configs result, or NULL (logged) when it failed. */
static const rd_kafka_ConfigResource_t *config_result(struct kafka_out *ko, const char *topic,
						      rd_kafka_event_t *ev, bool describe)
{
	const rd_kafka_ConfigResource_t **res;
	size_t n = 0;

	if (describe)
		res = rd_kafka_DescribeConfigs_result_resources(
			rd_kafka_event_DescribeConfigs_result(ev), &n);
	else
		res = rd_kafka_AlterConfigs_result_resources(
			rd_kafka_event_AlterConfigs_result(ev), &n);
	if (n == 1 && kafka_err_is_acl(rd_kafka_ConfigResource_error(res[0]))) {
		config_refused(ko, topic, describe, rd_kafka_ConfigResource_error(res[0]),
			       rd_kafka_ConfigResource_error_string(res[0]));
		return NULL;
	}
	if (n != 1 || rd_kafka_ConfigResource_error(res[0])) {
		log_error("kafka %s: topic %s: %s its configuration failed: %s", ko->brokers, topic,
			  describe ? "reading" : "changing",
			  n == 1 ? rd_kafka_ConfigResource_error_string(res[0]) : "no answer for it");
		return NULL;
	}
	return res[0];
}

/* AlterConfigs replaces a topic's whole dynamic configuration (librdkafka
 * 2.0 has no IncrementalAlterConfigs): the new one is every value the
 * topic sets (source DYNAMIC_TOPIC_CONFIG) with max.message.bytes raised.
 * false (logged) when a value cannot be carried over (a sensitive one
 * reads as NULL). */
static bool raised_config(struct kafka_out *ko, const char *topic,
			  const rd_kafka_ConfigResource_t *now, const char *max_bytes,
			  rd_kafka_ConfigResource_t *out)
{
	size_t n;
	const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(now, &n);

	for (size_t i = 0; i < n; i++) {
		const char *name = rd_kafka_ConfigEntry_name(entries[i]);
		const char *value = rd_kafka_ConfigEntry_value(entries[i]);

		if (rd_kafka_ConfigEntry_source(entries[i]) !=
			    RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG ||
		    strcmp(name, "max.message.bytes") == 0)
			continue;
		if (!value) {
			log_error("kafka %s: topic %s: cannot raise max.message.bytes without "
				  "losing its setting %s (its value is not readable); raise it by "
				  "hand to %s",
				  ko->brokers, topic, name, max_bytes);
			return false;
		}
		rd_kafka_ConfigResource_set_config(out, name, value);
	}
	rd_kafka_ConfigResource_set_config(out, "max.message.bytes", max_bytes);
	return true;
}

/* An existing topic takes records of [kafka] max_message_bytes: its
 * max.message.bytes is raised to the batch limit when lower (logged as a
 * change), left alone when higher. */
static bool topic_max_message_ensure(struct kafka_out *ko, const char *topic, int timeout_ms)
{
	rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_ConfigResource_t *alter = NULL;
	rd_kafka_event_t *ev = config_request(ko, topic, res, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS,
					      timeout_ms);
	const rd_kafka_ConfigResource_t *now = ev ? config_result(ko, topic, ev, true) : NULL;
	const rd_kafka_ConfigEntry_t **entries;
	long long current = -1;
	char max_bytes[32];
	size_t n = 0;
	bool ok = false;

	entries = now ? rd_kafka_ConfigResource_configs(now, &n) : NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "max.message.bytes") == 0 &&
		    rd_kafka_ConfigEntry_value(entries[i]))
			current = strtoll(rd_kafka_ConfigEntry_value(entries[i]), NULL, 10);
	snprintf(max_bytes, sizeof(max_bytes), "%" PRId64, ko->batch_limit);
	if (!now) {
		/* errors already logged */
	} else if (current < 0) {
		log_error("kafka %s: topic %s: its configuration has no max.message.bytes",
			  ko->brokers, topic);
	} else if (current >= ko->batch_limit) {
		log_debug("kafka %s: topic %s takes records of %lld bytes", ko->brokers, topic,
			  current);
		ok = true;
	} else {
		alter = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
		ok = raised_config(ko, topic, now, max_bytes, alter);
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_ConfigResource_destroy(res);
	if (!alter)
		return ok;
	ev = ok ? config_request(ko, topic, alter, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, timeout_ms)
		: NULL;
	ok = ev && config_result(ko, topic, ev, false);
	if (ok)
		log_info("kafka %s: topic %s: max.message.bytes %lld -> %s ([kafka] "
			 "max_message_bytes and its room, agent/config/kafka_limits.h)",
			 ko->brokers, topic, current, max_bytes);
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_ConfigResource_destroy(alter);
	return ok;
}

/* The partition count of an existing topic.  Right after creation a broker
 * may not know the topic yet: UNKNOWN_TOPIC_OR_PART is retried until
 * timeout_ms. */
static bool topic_partition_count(struct kafka_out *ko, const char *topic, int timeout_ms,
				  int *count)
{
	long long deadline = mono_ms() + timeout_ms;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(ko->rk, topic, NULL);
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;
	int left;

	if (!rkt) {
		log_error("kafka %s: topic %s: %s", ko->brokers, topic,
			  rd_kafka_err2str(rd_kafka_last_error()));
		return false;
	}
	for (;;) {
		left = (int)(deadline - mono_ms());
		/* In slices, to look at the stop flag between them. */
		err = rd_kafka_metadata(ko->rk, 0, rkt, &md, left > 1000 ? 1000 : left > 100 ? left : 100);
		if (err == RD_KAFKA_RESP_ERR__TIMED_OUT && mono_ms() < deadline && !stopping())
			continue;
		if (err) {
			log_error("kafka %s: cannot read the metadata of topic %s: %s", ko->brokers,
				  topic, rd_kafka_err2str(err));
			break;
		}
		err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__BAD_MSG;
		/* Partitions are listed even while a leader is being elected. */
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR ||
		    (err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
		     md->topics[0].partition_cnt > 0)) {
			*count = md->topics[0].partition_cnt;
			rd_kafka_metadata_destroy(md);
			rd_kafka_topic_destroy(rkt);
			return true;
		}
		rd_kafka_metadata_destroy(md);
		if (kafka_err_is_acl(err)) {
			char doing[320];

			snprintf(doing, sizeof(doing), "describing topic %s", topic);
			note_refused(ko, err, NULL, doing, "Describe on the topic");
			break;
		}
		if (err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || mono_ms() >= deadline) {
			log_error("kafka %s: cannot read the metadata of topic %s: %s", ko->brokers,
				  topic, rd_kafka_err2str(err));
			break;
		}
		rd_kafka_poll(ko->rk, 200);
	}
	rd_kafka_topic_destroy(rkt);
	return false;
}

bool kafka_out_topic_names(struct kafka_out *ko, int timeout_ms, struct strlist *names,
			   struct strbuf *why)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err = rd_kafka_metadata(ko->rk, 1, NULL, &md, timeout_ms);

	if (err) {
		strbuf_addf(why, "kafka %s: no metadata: %s", ko->brokers, rd_kafka_err2str(err));
		return false;
	}
	for (int i = 0; i < md->topic_cnt; i++)
		if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
			strlist_add(names, md->topics[i].topic);
	rd_kafka_metadata_destroy(md);
	return true;
}

bool kafka_out_ensure_topic(struct kafka_out *ko, const char *topic, int partitions,
			    int replication_factor, int timeout_ms)
{
	bool existed;
	int count;

	if (!create_topic(ko, topic, partitions, replication_factor, timeout_ms, &existed))
		return false; /* errors already logged */
	if (!existed)
		return true;
	if (!topic_partition_count(ko, topic, timeout_ms, &count) ||
	    !topic_max_message_ensure(ko, topic, timeout_ms))
		return false; /* errors already logged */
	if (count < partitions) {
		log_error("kafka %s: topic %s exists with %d partition(s), fewer than the %d "
			  "configured; add partitions to it or lower the configured count",
			  ko->brokers, topic, count, partitions);
		return false;
	}
	if (count > partitions)
		log_warn("kafka %s: topic %s exists with %d partitions, more than the %d "
			 "configured: keys are placed over all %d",
			 ko->brokers, topic, count, partitions, count);
	else
		log_debug("kafka %s: topic %s exists with %d partitions", ko->brokers, topic,
			  count);
	return true;
}

bool kafka_out_produce(struct kafka_out *ko, const char *topic, const void *key, size_t key_len,
		       const void *value, size_t value_len, void *ack_token)
{
	return kafka_out_produce_headers(ko, topic, key, key_len, value, value_len, NULL, 0,
					 ack_token);
}

/* A new header list, or NULL for none; owned by the message once queued. */
static rd_kafka_headers_t *headers_new(const struct kafka_header *headers, size_t n)
{
	rd_kafka_headers_t *hdrs;

	if (n == 0)
		return NULL;
	hdrs = rd_kafka_headers_new(n);
	for (size_t i = 0; i < n; i++)
		rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value,
				    (ssize_t)headers[i].len);
	return hdrs;
}

/* One producev. */
static rd_kafka_resp_err_t queue_one(struct kafka_out *ko, const char *topic, const void *key,
				     size_t key_len, const void *value, size_t value_len,
				     const struct kafka_header *headers, size_t n_headers,
				     void *ack_token)
{
	/* librdkafka only reads the payload (F_COPY); its API wants void *. */
	void *payload = (void *)(uintptr_t)value;
	rd_kafka_headers_t *hdrs = headers_new(headers, n_headers);
	rd_kafka_resp_err_t err;
	int32_t partition;
	size_t idx;

	/* RD_KAFKA_MSG_F_COPY: a message may wait in the queue for as long
	 * as the brokers are away, while the caller reuses its buffers (the
	 * decoded WAL record) at once. */
	/* Records without a key (a table without one, a truncate) go to
	 * partition 0: the partitioner would scatter them at random, and a
	 * keyless table's changes must stay in their order. */
	partition = key ? RD_KAFKA_PARTITION_UA : 0;
	if (strmap_get(&ko->known_idx, topic, strlen(topic), &idx))
		/* by its handle: given by name, librdkafka scans every topic
		 * it has to find it, per message */
		err = rd_kafka_producev(ko->rk, RD_KAFKA_V_RKT(ko->known[idx]),
					RD_KAFKA_V_PARTITION(partition),
					RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					RD_KAFKA_V_KEY(key, key ? key_len : 0),
					RD_KAFKA_V_VALUE(payload, value ? value_len : 0),
					RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(ack_token),
					RD_KAFKA_V_END);
	else
		err = rd_kafka_producev(ko->rk, RD_KAFKA_V_TOPIC(topic),
					RD_KAFKA_V_PARTITION(partition),
					RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					RD_KAFKA_V_KEY(key, key ? key_len : 0),
					RD_KAFKA_V_VALUE(payload, value ? value_len : 0),
					RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(ack_token),
					RD_KAFKA_V_END);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR && hdrs)
		rd_kafka_headers_destroy(hdrs); /* not queued: still ours */
	return err;
}

bool kafka_out_produce_headers(struct kafka_out *ko, const char *topic, const void *key,
			       size_t key_len, const void *value, size_t value_len,
			       const struct kafka_header *headers, size_t n_headers, void *ack_token)
{
	long long waiting_since = 0;
	bool warned = false;
	rd_kafka_resp_err_t err;
	size_t bytes = (key ? key_len : 0) + (value ? value_len : 0);

	for (;;) {
		if (kafka_out_failed(ko)) {
			if (!ko->refused)
				note_fatal(ko);
			log_error("kafka %s: cannot queue a message for topic %s: the producer "
				  "failed (%s above)",
				  ko->brokers, topic, ko->refused ? "refused by an ACL" : "fatal error");
			return false;
		}
		/* KAFKA_PRODUCER_QUEUE_SOFT_BYTES, or a large record alone. */
		if (ko->queued_bytes == 0 ||
		    ko->queued_bytes + bytes <= KAFKA_PRODUCER_QUEUE_SOFT_BYTES) {
			err = queue_one(ko, topic, key, key_len, value, value_len, headers,
					n_headers, ack_token);
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
				ko->outstanding++;
				ko->queued_bytes += bytes;
				if (warned)
					log_info("kafka %s: queue has room again", ko->brokers);
				return true;
			}
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				break;
		}
		if (stopping()) {
			log_info("kafka %s: stopping while the producer queue is full (%zu messages "
				 "unacknowledged)",
				 ko->brokers, ko->outstanding);
			return false;
		}
		/* Backpressure: acks free queue space, and only rd_kafka_poll
		 * serves them (RD_KAFKA_MSG_F_BLOCK would wait without serving
		 * them, forever on a single thread). */
		if (!waiting_since)
			waiting_since = mono_ms();
		else if (!warned && mono_ms() - waiting_since >= BACKPRESSURE_WARN_MS) {
			log_warn("kafka %s: producer queue full for %d s (%zu messages "
				 "unacknowledged): capture waits for the brokers",
				 ko->brokers, BACKPRESSURE_WARN_MS / 1000, ko->outstanding);
			warned = true;
		}
		rd_kafka_poll(ko->rk, 100);
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		note_fatal(ko);
		return false;
	}
	if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
		note_too_large(ko, topic, key, key ? key_len : 0, bytes);
	if (kafka_err_is_acl(err)) {
		char doing[320];

		snprintf(doing, sizeof(doing), "writing topic %s", topic);
		note_refused(ko, err, NULL, doing, "Write on the topic");
		return false;
	}
	log_error("kafka %s: cannot queue a message for topic %s: %s", ko->brokers, topic,
		  rd_kafka_err2str(err));
	return false;
}

void kafka_out_poll(struct kafka_out *ko, int timeout_ms)
{
	rd_kafka_poll(ko->rk, timeout_ms);
}

bool kafka_out_flush(struct kafka_out *ko, int timeout_ms)
{
	/* Sends lingering messages at once and serves acks until none are
	 * left or the time is up. */
	rd_kafka_flush(ko->rk, timeout_ms);
	if (ko->outstanding == 0)
		return true;
	log_error("kafka %s: %zu message(s) still unacknowledged after %d ms%s", ko->brokers,
		  ko->outstanding, timeout_ms, ko->brokers_down ? " (all brokers are down)" : "");
	return false;
}

const struct kafka_too_large *kafka_out_too_large(const struct kafka_out *ko)
{
	return ko->too_large.refused ? &ko->too_large : NULL;
}

size_t kafka_out_outstanding(const struct kafka_out *ko)
{
	return ko->outstanding;
}

bool kafka_out_failed(const struct kafka_out *ko)
{
	return ko->fatal || ko->refused ||
	       rd_kafka_fatal_error(ko->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

bool kafka_out_refused(const struct kafka_out *ko)
{
	return ko->refused;
}

/* Kafka's Utils.murmur2 (clients/.../common/utils/Utils.java): MurmurHash2,
 * 32 bits, seed 0x9747b28c, little-endian blocks. */
static uint32_t murmur2(const unsigned char *data, size_t len)
{
	const uint32_t m = 0x5bd1e995;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;
	size_t i;

	for (i = 0; i + 4 <= len; i += 4) {
		uint32_t k = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
			     (uint32_t)data[i + 2] << 16 | (uint32_t)data[i + 3] << 24;

		k *= m;
		k ^= k >> 24;
		k *= m;
		h *= m;
		h ^= k;
	}
	switch (len & 3) {
	case 3:
		h ^= (uint32_t)data[i + 2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)data[i + 1] << 8;
		/* fall through */
	case 1:
		h ^= data[i];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return h;
}

int kafka_out_partition_for_key(const void *key, size_t len, int partition_count)
{
	if (!key || partition_count < 1)
		return -1;
	/* Utils.toPositive: the sign bit cleared, not the absolute value. */
	return (int)((murmur2(key, len) & 0x7fffffffu) % (uint32_t)partition_count);
}

void kafka_out_queue(const struct kafka_out *ko, size_t *messages, size_t *max_messages)
{
	*messages = ko->rk ? (size_t)rd_kafka_outq_len(ko->rk) : 0;
	*max_messages = KAFKA_PRODUCER_QUEUE_MESSAGES;
}
