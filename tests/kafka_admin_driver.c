/*
 * tests/kafka_admin_driver.c: what kcat cannot do, for the integration tests.
 *
 *   kafka_admin_driver delete-records BROKER TOPIC PARTITION BEFORE
 *   kafka_admin_driver create-partitions BROKER TOPIC COUNT
 *
 * delete-records deletes the partition's records below offset BEFORE
 * (Kafka's DeleteRecords, as retention would), so the log then starts at
 * BEFORE; create-partitions grows the topic to COUNT partitions (an
 * operator's kafka-topics.sh --alter --partitions).  Exit 0 on success.
 * Its client is configured as the agent's probes are (kafka_client.c).
 */
#include "base/util.h"
#include "config/topology.h"
#include "kafka/kafka_client.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A client configured as the agent's probes are; NULL (said) on failure. */
static rd_kafka_t *client_new(const char *broker)
{
	char err[512];
	struct kafka_cfg cfg = { 0 };
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;

	strlist_add(&cfg.bootstrap_servers, broker);
	if (!kafka_client_probe_conf_new(&cfg, NULL, "kafka_admin_driver", &conf)) {
		strlist_fini(&cfg.bootstrap_servers);
		return NULL; /* errors already logged */
	}
	strlist_fini(&cfg.bootstrap_servers);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "rd_kafka_new: %s\n", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

static int create_partitions(const char *broker, const char *topic, int count)
{
	char err[512];
	rd_kafka_t *rk = client_new(broker);
	rd_kafka_NewPartitions_t *np;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	int rc = 1;

	if (!rk)
		return 1;
	np = rd_kafka_NewPartitions_new(topic, (size_t)count, err, sizeof(err));
	if (!np) {
		fprintf(stderr, "NewPartitions: %s\n", err);
		rd_kafka_destroy(rk);
		return 1;
	}
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreatePartitions(rk, &np, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 30000);
	if (!ev) {
		fprintf(stderr, "CreatePartitions: no answer in 30 s\n");
	} else if (rd_kafka_event_error(ev)) {
		fprintf(stderr, "CreatePartitions: %s\n", rd_kafka_event_error_string(ev));
	} else {
		size_t n;
		const rd_kafka_topic_result_t **res = rd_kafka_CreatePartitions_result_topics(
			rd_kafka_event_CreatePartitions_result(ev), &n);

		if (n == 1 && !rd_kafka_topic_result_error(res[0])) {
			printf("%s now has %d partitions\n", topic, count);
			rc = 0;
		} else {
			fprintf(stderr, "CreatePartitions: %s\n",
				n ? rd_kafka_topic_result_error_string(res[0]) : "no result");
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_NewPartitions_destroy(np);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

static int delete_records(const char *broker, const char *topic, int partition, long long before)
{
	char err[512];
	struct kafka_cfg cfg = { 0 };
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_DeleteRecords_t *del;
	rd_kafka_event_t *ev;
	const rd_kafka_topic_partition_list_t *res;
	int rc = 1;

	strlist_add(&cfg.bootstrap_servers, broker);
	if (!kafka_client_probe_conf_new(&cfg, NULL, "kafka_admin_driver", &conf)) {
		strlist_fini(&cfg.bootstrap_servers);
		return 1; /* errors already logged */
	}
	strlist_fini(&cfg.bootstrap_servers);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "rd_kafka_new: %s\n", err);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	q = rd_kafka_queue_new(rk);
	parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, topic, partition)->offset = before;
	del = rd_kafka_DeleteRecords_new(parts);
	rd_kafka_DeleteRecords(rk, &del, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 30000);
	if (!ev) {
		fprintf(stderr, "DeleteRecords: no answer in 30 s\n");
	} else if (rd_kafka_event_error(ev)) {
		fprintf(stderr, "DeleteRecords: %s\n", rd_kafka_event_error_string(ev));
	} else {
		res = rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
		if (res && res->cnt == 1 && !res->elems[0].err) {
			printf("%s[%d] now starts at %lld\n", topic, partition,
			       (long long)res->elems[0].offset);
			rc = 0;
		} else {
			fprintf(stderr, "DeleteRecords: %s\n",
				res && res->cnt ? rd_kafka_err2str(res->elems[0].err) : "no result");
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_DeleteRecords_destroy(del);
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "delete-records") == 0)
		return delete_records(argv[2], argv[3], atoi(argv[4]), atoll(argv[5]));
	if (argc == 5 && strcmp(argv[1], "create-partitions") == 0)
		return create_partitions(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: kafka_admin_driver delete-records BROKER TOPIC PARTITION BEFORE\n"
			"       kafka_admin_driver create-partitions BROKER TOPIC COUNT\n");
	return 64;
}
