/*
 * agent/kafka/kafka_in.c: the Kafka consumer of apply, around librdkafka.
 *
 * Its settings are kafka_client.c's.  It assigns itself every partition of
 * the topics (kafka_in.h says why), placed by the owner's on_assign.
 */
#include "kafka/kafka_in.h"

#include "base/log.h"
#include "kafka/kafka_client.h"
#include "kafka/kafka_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Kafka's committed offsets go out at most this often (kafka_in_commit). */
#define KAFKA_COMMIT_EVERY_MS 1000
/* Closing the consumer waits this long at most for the brokers (a stop
 * must end within 2 s). */
#define CONSUMER_CLOSE_MS 1000
/* A watermark query waits this long for the broker. */
#define WATERMARKS_TIMEOUT_MS 3000
/* The topics' metadata: the first request waits this long (a broker that
 * does not answer leaves the partitions to the next attempts, from
 * kafka_in_poll), later ones this long, this often while a topic is not
 * there yet (capture creates them at its start). */
#define METADATA_FIRST_TIMEOUT_MS 2000
#define METADATA_TIMEOUT_MS 500
#define METADATA_EVERY_MS 500
/* Topics still missing this long after the start are named, once. */
#define MISSING_SAY_MS 10000
/* Once assigned, the topics' partition counts are looked at this often: a
 * partition added to a topic (capture's producer writes to it within its
 * metadata refresh) is assigned too. */
#define PARTITIONS_CHECK_MS 5000

struct kafka_in {
	rd_kafka_t *rk;
	char *label;                  /* "apply PIPELINE", for messages */
	char *user;                   /* its SASL user; NULL: none (a certificate's principal) */
	char *group;                  /* its group (committed offsets) */
	struct kafka_in_hooks hooks;
	rd_kafka_topic_t **rkts;      /* the topics, one handle each */
	size_t ntopics;
	bool assigned;                /* partitions assigned once */
	int nparts;                   /* how many, the last time */
	bool grown;                   /* more partitions since (kafka_in_grown) */
	bool missing;                 /* a topic not there yet */
	bool refused;                 /* an ACL refused the topics' metadata (logged) */
	bool missing_said;
	int64_t started_ms, metadata_ms; /* mono_ms */
	rd_kafka_topic_partition_list_t *pending;    /* offsets to commit to Kafka */
	/* Partitions the owner could not place (the target away): assigned
	 * once it can (kafka_in_reassign). */
	rd_kafka_topic_partition_list_t *unassigned;
	int64_t committed_ms;         /* the last commit, mono_ms */
	/* Polled since the consumer's queue last ran empty (fetch_wake). */
	size_t polled_bytes, polled_records;
};

char *kafka_in_group(const char *pipeline)
{
	return xasprintf("cdc-agent.%s", pipeline);
}

/* A topic's metadata refused by an ACL: logged as kafka_in_refused does. */
static void metadata_refused(struct kafka_in *ki, const char *topic, rd_kafka_resp_err_t err)
{
	char doing[320];
	struct strbuf sb;

	snprintf(doing, sizeof(doing), "describing topic %s", topic);
	strbuf_init(&sb);
	kafka_acl_refusal(&sb, ki->user, doing, err, NULL, "Read and Describe on the topic");
	log_error("%s: %s; stopping", ki->label, sb.data);
	strbuf_fini(&sb);
	ki->refused = true;
}

/* Every partition of the topics there are, assigned at the offsets
 * on_assign gives.  No group membership: apply alone reads a pipeline's
 * topics (its lock in the target sees to that), and where each partition
 * starts is its own to say, so a group would only add waits (a join, and
 * after a crash the dead member's session timeout, 45 s).  Once assigned,
 * only notes more partitions (a topic that appeared, a partition added) for
 * kafka_in_grown. */
static void assign_all(struct kafka_in *ki, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_resp_err_t err;
	struct strbuf missing;

	ki->metadata_ms = mono_ms();
	/* Topics known locally: the handles made in kafka_in_new. */
	err = rd_kafka_metadata(ki->rk, 0, NULL, &md, timeout_ms);
	if (err) {
		log_debug("%s: no metadata from the brokers yet: %s", ki->label,
			  rd_kafka_err2str(err));
		return;
	}
	parts = rd_kafka_topic_partition_list_new(16);
	strbuf_init(&missing);
	for (size_t i = 0; i < ki->ntopics && !ki->refused; i++) {
		const char *name = rd_kafka_topic_name(ki->rkts[i]);
		const struct rd_kafka_metadata_topic *t = NULL;

		for (int j = 0; j < md->topic_cnt && !t; j++)
			if (strcmp(md->topics[j].topic, name) == 0)
				t = &md->topics[j];
		/* Once consuming, fetch errors say what went wrong. */
		if (t && kafka_err_is_acl(t->err) && !ki->assigned)
			metadata_refused(ki, name, t->err);
		else if (!t || t->err || t->partition_cnt < 1)
			strbuf_addf(&missing, "%s%s", missing.len ? ", " : "", name);
		else
			for (int p = 0; p < t->partition_cnt; p++)
				rd_kafka_topic_partition_list_add(parts, name, t->partitions[p].id);
	}
	rd_kafka_metadata_destroy(md);
	ki->missing = missing.len > 0;
	if (missing.len && !ki->missing_said && mono_ms() - ki->started_ms >= MISSING_SAY_MS) {
		log_warn("%s: waiting for topics %s (capture creates them at its start)", ki->label,
			 missing.data);
		ki->missing_said = true;
	}
	if (!ki->refused && parts->cnt > ki->nparts) {
		if (ki->assigned)
			log_info("%s: the topics have %d partitions now, %d before: assigning them all again",
				 ki->label, parts->cnt, ki->nparts);
		ki->nparts = parts->cnt;
		if (ki->unassigned)
			rd_kafka_topic_partition_list_destroy(ki->unassigned);
		ki->unassigned = parts;
		parts = NULL;
		if (ki->assigned) {
			ki->grown = true; /* the owner drops its batch first */
		} else {
			ki->assigned = true;
			if (!kafka_in_reassign(ki))
				log_debug("%s: partitions kept for the next assignment", ki->label);
		}
	}
	if (parts)
		rd_kafka_topic_partition_list_destroy(parts);
	strbuf_fini(&missing);
}

/* One of the hooks' bounds into conf; 0 (or less) leaves librdkafka's
 * default.  false (logged) when librdkafka refuses it. */
static bool conf_set_bound(rd_kafka_conf_t *conf, const char *label, const char *name, int value)
{
	char text[16], err[512];

	if (value <= 0)
		return true;
	snprintf(text, sizeof(text), "%d", value);
	if (rd_kafka_conf_set(conf, name, text, err, sizeof(err)) == RD_KAFKA_CONF_OK)
		return true;
	log_error("%s: %s: %s", label, name, err);
	return false;
}

bool kafka_in_new(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
		  const char *label, const char *group, const struct strlist *topics,
		  const struct kafka_in_hooks *hooks, struct kafka_in **out)
{
	struct kafka_in *ki;
	rd_kafka_conf_t *conf;
	char err[512];

	*out = NULL;
	if (!kafka_client_consumer_conf_new(cfg, cred, label, group, &conf))
		return false; /* errors already logged */
	ki = xcalloc(1, sizeof(*ki));
	ki->label = xstrdup(label);
	ki->user = cred && cred->user && kafka_security_sasl(cfg->security_protocol)
			   ? xstrdup(cred->user)
			   : NULL;
	ki->group = xstrdup(group);
	ki->hooks = *hooks;
	ki->started_ms = mono_ms();
	if (!conf_set_bound(conf, label, "queued.max.messages.kbytes", hooks->queue_kbytes) ||
	    !conf_set_bound(conf, label, "max.partition.fetch.bytes", hooks->partition_fetch_bytes) ||
	    !conf_set_bound(conf, label, "queued.min.messages", hooks->queue_messages)) {
		rd_kafka_conf_destroy(conf);
		kafka_in_free(ki);
		return false;
	}
	/* rd_kafka_new owns conf from here on, on success only. */
	ki->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!ki->rk) {
		log_error("%s: cannot create the Kafka consumer: %s", label, err);
		rd_kafka_conf_destroy(conf);
		kafka_in_free(ki);
		return false;
	}
	/* Errors come with the records, from rd_kafka_consumer_poll. */
	rd_kafka_poll_set_consumer(ki->rk);
	ki->rkts = xcalloc(topics->n ? topics->n : 1, sizeof(*ki->rkts));
	for (size_t i = 0; i < topics->n; i++) {
		ki->rkts[i] = rd_kafka_topic_new(ki->rk, topics->items[i], NULL);
		if (!ki->rkts[i]) {
			log_error("%s: cannot use topic %s: %s", label, topics->items[i],
				  rd_kafka_err2str(rd_kafka_last_error()));
			kafka_in_free(ki);
			return false;
		}
		ki->ntopics++;
	}
	/* A refusal is the owner's to see (kafka_in_denied). */
	assign_all(ki, METADATA_FIRST_TIMEOUT_MS);
	*out = ki;
	return true;
}

/* Closes the consumer, but waits for the brokers CONSUMER_CLOSE_MS at most. */
static void consumer_close(struct kafka_in *ki)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(ki->rk);
	rd_kafka_error_t *error = rd_kafka_consumer_close_queue(ki->rk, q);
	int64_t deadline = mono_ms() + CONSUMER_CLOSE_MS;
	bool closed = false;

	if (error) {
		log_warn("%s: cannot close the consumer: %s", ki->label,
			 rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
	while (!error && !(closed = rd_kafka_consumer_closed(ki->rk)) && mono_ms() < deadline)
		rd_kafka_event_destroy(rd_kafka_queue_poll(q, 100));
	rd_kafka_queue_destroy(q);
	for (size_t i = 0; i < ki->ntopics; i++)
		rd_kafka_topic_destroy(ki->rkts[i]);
	ki->ntopics = 0;
	if (closed) {
		rd_kafka_destroy(ki->rk);
	} else {
		/* rd_kafka_destroy would wait for the group's coordinator (the
		 * last commit) until its socket timeout, a minute: the handle
		 * is left to the process's exit, which follows. */
		log_warn("%s: the brokers did not answer within %d ms: stopping without the last commit of Kafka's offsets",
			 ki->label, CONSUMER_CLOSE_MS);
	}
	ki->rk = NULL;
}

void kafka_in_free(struct kafka_in *ki)
{
	if (!ki)
		return;
	if (ki->rk) {
		kafka_in_commit(ki, true);
		consumer_close(ki);
	}
	free(ki->rkts);
	if (ki->pending)
		rd_kafka_topic_partition_list_destroy(ki->pending);
	if (ki->unassigned)
		rd_kafka_topic_partition_list_destroy(ki->unassigned);
	free(ki->label);
	free(ki->user);
	free(ki->group);
	free(ki);
}

/* librdkafka's defaults of the prefetch bounds (queued.min.messages,
 * queued.max.messages.kbytes). */
#define QUEUE_RECORDS_DEFAULT 100000
#define QUEUE_KBYTES_DEFAULT 65536

/* The consumer's queue ran empty.  Where it had reached one of librdkafka's
 * prefetch bounds since it last did, the fetcher (librdkafka 2.0) stopped
 * fetching and nothing tells it the queue drained: it looks again when its
 * broker thread next wakes, up to a second later (apply under consistency
 * = transaction spent most of its time there).  A seek of each partition
 * to where it is (the last record polled + 1) wakes it; the queue is
 * empty, so no record is dropped and fetched again. */
static void fetch_wake(struct kafka_in *ki)
{
	size_t kb = ki->hooks.queue_kbytes > 0 ? (size_t)ki->hooks.queue_kbytes : QUEUE_KBYTES_DEFAULT;
	size_t records = ki->hooks.queue_messages > 0 ? (size_t)ki->hooks.queue_messages
						       : QUEUE_RECORDS_DEFAULT;
	bool neared = ki->polled_bytes >= kb * 1024 / 2 || ki->polled_records >= records / 2;
	rd_kafka_topic_partition_list_t *parts = NULL, *at;
	rd_kafka_error_t *err;

	ki->polled_bytes = ki->polled_records = 0;
	if (!neared)
		return;
	if (rd_kafka_assignment(ki->rk, &parts) || rd_kafka_position(ki->rk, parts)) {
		if (parts)
			rd_kafka_topic_partition_list_destroy(parts);
		return;
	}
	at = rd_kafka_topic_partition_list_new(parts->cnt);
	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].offset >= 0)
			rd_kafka_topic_partition_list_add(at, parts->elems[i].topic,
							  parts->elems[i].partition)->offset = parts->elems[i].offset;
	err = at->cnt ? rd_kafka_seek_partitions(ki->rk, at, 0) : NULL;
	if (err)
		rd_kafka_error_destroy(err);
	rd_kafka_topic_partition_list_destroy(at);
	rd_kafka_topic_partition_list_destroy(parts);
}

rd_kafka_message_t *kafka_in_poll(struct kafka_in *ki, int timeout_ms)
{
	rd_kafka_message_t *m;

	if (!ki->refused && mono_ms() - ki->metadata_ms >=
				    (ki->assigned && !ki->missing ? PARTITIONS_CHECK_MS
								  : METADATA_EVERY_MS))
		assign_all(ki, METADATA_TIMEOUT_MS);
	m = rd_kafka_consumer_poll(ki->rk, 0);
	if (!m) {
		fetch_wake(ki);
		if (timeout_ms > 0)
			m = rd_kafka_consumer_poll(ki->rk, timeout_ms);
	}
	if (m && !m->err) {
		ki->polled_bytes += m->len + m->key_len;
		ki->polled_records++;
	}
	return m;
}

void kafka_in_note(struct kafka_in *ki, const rd_kafka_message_t *m)
{
	kafka_in_note_next(ki, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
}

void kafka_in_note_next(struct kafka_in *ki, const char *topic, int32_t partition, int64_t next)
{
	rd_kafka_topic_partition_t *p;

	if (!ki->pending)
		ki->pending = rd_kafka_topic_partition_list_new(4);
	p = rd_kafka_topic_partition_list_find(ki->pending, topic, partition);
	if (!p)
		p = rd_kafka_topic_partition_list_add(ki->pending, topic, partition);
	p->offset = next;
}

void kafka_in_pause(struct kafka_in *ki, const char *topic, int32_t partition, bool pause)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);

	rd_kafka_topic_partition_list_add(list, topic, partition);
	if (pause)
		(void)rd_kafka_pause_partitions(ki->rk, list);
	else
		(void)rd_kafka_resume_partitions(ki->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
}

void kafka_in_commit(struct kafka_in *ki, bool now)
{
	if (!now && mono_ms() - ki->committed_ms < KAFKA_COMMIT_EVERY_MS)
		return;
	ki->committed_ms = mono_ms();
	if (!ki->pending)
		return;
	rd_kafka_commit(ki->rk, ki->pending, 1);
	rd_kafka_topic_partition_list_destroy(ki->pending);
	ki->pending = NULL;
}

bool kafka_in_reassign(struct kafka_in *ki)
{
	rd_kafka_topic_partition_list_t *parts = ki->unassigned;
	rd_kafka_resp_err_t err;

	ki->unassigned = NULL;
	if (!parts && (err = rd_kafka_assignment(ki->rk, &parts)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_error("%s: cannot read the consumer's assignment: %s", ki->label,
			  rd_kafka_err2str(err));
		return false;
	}
	if (!ki->hooks.on_assign(ki->hooks.ctx, parts)) {
		ki->unassigned = parts; /* for the next attempt */
		return false; /* errors already logged */
	}
	err = rd_kafka_assign(ki->rk, parts);
	if (err)
		log_error("%s: cannot assign the partitions again: %s", ki->label,
			  rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(parts);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void kafka_in_watermarks(struct kafka_in *ki, const char *topic, int32_t partition, int64_t *low,
			 int64_t *high)
{
	*low = -1;
	*high = -1;
	(void)rd_kafka_query_watermark_offsets(ki->rk, topic, partition, low, high,
					       WATERMARKS_TIMEOUT_MS);
}

bool kafka_in_refused(struct kafka_in *ki, const rd_kafka_message_t *m)
{
	const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
	char doing[320];
	const char *grant;
	struct strbuf sb;

	if (!kafka_err_is_acl(m->err))
		return false;
	if (m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
		snprintf(doing, sizeof(doing), "using consumer group %s", ki->group);
		grant = "Read on the group";
	} else if (m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED && topic) {
		snprintf(doing, sizeof(doing), "reading topic %s", topic);
		grant = "Read and Describe on the topic";
	} else if (m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
		snprintf(doing, sizeof(doing), "reading the pipeline's topics");
		grant = "Read and Describe on the pipeline's topics";
	} else {
		snprintf(doing, sizeof(doing), "a request of consumer group %s", ki->group);
		grant = "Read on the pipeline's topics and its group";
	}
	strbuf_init(&sb);
	/* A consumer's error: its payload is librdkafka's words. */
	kafka_acl_refusal(&sb, ki->user, doing, m->err, rd_kafka_message_errstr(m), grant);
	log_error("%s: %s; stopping", ki->label, sb.data);
	strbuf_fini(&sb);
	return true;
}

bool kafka_in_denied(const struct kafka_in *ki)
{
	return ki->refused;
}

bool kafka_in_grown(struct kafka_in *ki)
{
	bool grown = ki->grown;

	ki->grown = false;
	return grown;
}
