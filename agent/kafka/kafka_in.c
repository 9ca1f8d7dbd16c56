/*
 * agent/kafka/kafka_in.c: the Kafka consumer of apply, around librdkafka.
 *
 * Its settings are kafka_client.c's.  Rebalances are served by our own
 * callback (librdkafka calls it inside rd_kafka_consumer_poll and while
 * closing), which lets the owner place each partition before it is
 * assigned.
 */
#include "kafka/kafka_in.h"

#include "base/log.h"
#include "kafka/kafka_client.h"
#include "kafka/kafka_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Kafka's committed offsets go out at most this often (kafka_in_commit). */
#define KAFKA_COMMIT_EVERY_MS 1000
/* Leaving the consumer group on a stop waits this long at most for the
 * brokers (a stop must end within 2 s); past it, the group notices the
 * member gone by its session timeout. */
#define CONSUMER_CLOSE_MS 1000
/* A watermark query waits this long for the broker. */
#define WATERMARKS_TIMEOUT_MS 3000

struct kafka_in {
	rd_kafka_t *rk;
	char *label;                  /* "apply PIPELINE", for messages */
	char *user;                   /* its SASL user; NULL: none (a certificate's principal) */
	char *group;                  /* its consumer group */
	struct kafka_in_hooks hooks;
	rd_kafka_topic_partition_list_t *pending;    /* offsets to commit to Kafka */
	/* Partitions assigned while the owner could not place them: assigned
	 * once it can (kafka_in_reassign). */
	rd_kafka_topic_partition_list_t *unassigned;
	int64_t committed_ms;         /* the last commit, mono_ms */
};

char *kafka_in_group(const char *pipeline)
{
	return xasprintf("cdc-agent.%s", pipeline);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kafka_in *ki = opaque;

	if (ki->unassigned) {
		rd_kafka_topic_partition_list_destroy(ki->unassigned);
		ki->unassigned = NULL;
	}
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (!ki->hooks.on_assign(ki->hooks.ctx, parts)) {
			/* Kept for kafka_in_reassign, when the owner can
			 * place them (the target back). */
			ki->unassigned = rd_kafka_topic_partition_list_copy(parts);
			rd_kafka_assign(rk, NULL);
			return;
		}
		rd_kafka_assign(rk, parts);
	} else {
		ki->hooks.on_revoke(ki->hooks.ctx);
		kafka_in_commit(ki, true);
		rd_kafka_assign(rk, NULL);
	}
}

/* Subscribes to the topics (librdkafka assigns their partitions later,
 * through on_rebalance). */
static bool subscribe(struct kafka_in *ki, const struct strlist *topics)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)topics->n);
	rd_kafka_resp_err_t err;

	for (size_t i = 0; i < topics->n; i++)
		rd_kafka_topic_partition_list_add(list, topics->items[i], RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(ki->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_error("%s: cannot subscribe to the pipeline's topics: %s", ki->label,
			  rd_kafka_err2str(err));
		return false;
	}
	return true;
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
	if (hooks->queue_kbytes > 0) {
		char kb[16];

		snprintf(kb, sizeof(kb), "%d", hooks->queue_kbytes);
		if (rd_kafka_conf_set(conf, "queued.max.messages.kbytes", kb, err, sizeof(err)) !=
		    RD_KAFKA_CONF_OK) {
			log_error("%s: queued.max.messages.kbytes: %s", label, err);
			rd_kafka_conf_destroy(conf);
			kafka_in_free(ki);
			return false;
		}
	}
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_opaque(conf, ki);
	/* rd_kafka_new owns conf from here on, on success only. */
	ki->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!ki->rk) {
		log_error("%s: cannot create the Kafka consumer: %s", label, err);
		rd_kafka_conf_destroy(conf);
		kafka_in_free(ki);
		return false;
	}
	/* Rebalances and errors come with the records, from
	 * rd_kafka_consumer_poll. */
	rd_kafka_poll_set_consumer(ki->rk);
	if (!subscribe(ki, topics)) {
		kafka_in_free(ki);
		return false; /* errors already logged */
	}
	*out = ki;
	return true;
}

/* Leaves the consumer group, so that the next apply gets the partitions at
 * once, but waits for the brokers CONSUMER_CLOSE_MS at most. */
static void consumer_close(struct kafka_in *ki)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(ki->rk);
	rd_kafka_error_t *error = rd_kafka_consumer_close_queue(ki->rk, q);
	int64_t deadline = mono_ms() + CONSUMER_CLOSE_MS;
	bool closed = false;

	if (error) {
		log_warn("%s: cannot leave the consumer group: %s", ki->label,
			 rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
	while (!error && !(closed = rd_kafka_consumer_closed(ki->rk)) && mono_ms() < deadline) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);

		if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
			on_rebalance(ki->rk, rd_kafka_event_error(ev),
				     rd_kafka_event_topic_partition_list(ev), ki);
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	if (closed) {
		rd_kafka_destroy(ki->rk);
	} else {
		/* rd_kafka_destroy would wait for the group's coordinator (the
		 * LeaveGroup and the last commit) until its socket timeout, a
		 * minute: the handle is left to the process's exit, which
		 * follows. */
		log_warn("%s: the brokers did not answer within %d ms: stopping without leaving the consumer group (its session timeout frees the partitions)",
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
	if (ki->pending)
		rd_kafka_topic_partition_list_destroy(ki->pending);
	if (ki->unassigned)
		rd_kafka_topic_partition_list_destroy(ki->unassigned);
	free(ki->label);
	free(ki->user);
	free(ki->group);
	free(ki);
}

rd_kafka_message_t *kafka_in_poll(struct kafka_in *ki, int timeout_ms)
{
	return rd_kafka_consumer_poll(ki->rk, timeout_ms);
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
		snprintf(doing, sizeof(doing), "joining consumer group %s", ki->group);
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
