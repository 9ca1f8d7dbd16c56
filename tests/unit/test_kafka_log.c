/*
 * tests/unit/test_kafka_log.c: the words of a refusal by the brokers' ACLs
 * (kafka_log.c's kafka_acl_refusal, shared by capture, apply and the
 * probes): the user or the client, what was refused, librdkafka's words
 * without their period, and what to grant; which errors are refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "kafka/kafka_log.h"

#include <librdkafka/rdkafka.h>
#include <string.h>

struct refusal_case {
	const char *user, *doing;
	rd_kafka_resp_err_t err;
	const char *detail, *grant, *want;
};

static const struct refusal_case refusal_cases[] = {
	{ "capture-p1", "writing topic db1server.public.t",
	  RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "Broker: Topic authorization failed",
	  "Write on the topic",
	  "the brokers refused user capture-p1 writing topic db1server.public.t: not authorized "
	  "by an ACL (Broker: Topic authorization failed); grant the user Write on the topic" },
	/* librdkafka's sentence ends in a period: not before ")" */
	{ "apply-p1", "joining consumer group cdc-agent.p1",
	  RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
	  "FindCoordinator response error: Group authorization failed.", "Read on the group",
	  "the brokers refused user apply-p1 joining consumer group cdc-agent.p1: not authorized "
	  "by an ACL (FindCoordinator response error: Group authorization failed); grant the "
	  "user Read on the group" },
	/* no words of librdkafka's: the error's name */
	{ "u", "describing topic t", RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, NULL,
	  "Describe on the topic",
	  "the brokers refused user u describing topic t: not authorized by an ACL "
	  "(TOPIC_AUTHORIZATION_FAILED); grant the user Describe on the topic" },
	{ "u", "creating topic t", RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "",
	  "Create on the topic (or on the cluster)",
	  "the brokers refused user u creating topic t: not authorized by an ACL "
	  "(TOPIC_AUTHORIZATION_FAILED); grant the user Create on the topic (or on the cluster)" },
	/* no SASL user: a client known by its certificate */
	{ NULL, "getting an idempotent producer id", RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED,
	  "Broker: Cluster authorization failed", "IdempotentWrite on the cluster",
	  "the brokers refused this client (its certificate's principal) getting an idempotent "
	  "producer id: not authorized by an ACL (Broker: Cluster authorization failed); grant "
	  "the client IdempotentWrite on the cluster" },
};

static void test_refusal_words(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refusal_cases) / sizeof(refusal_cases[0]); i++) {
		const struct refusal_case *c = &refusal_cases[i];
		struct strbuf sb;

		strbuf_init(&sb);
		strbuf_adds(&sb, "capture p1: "); /* appended, after the caller's words */
		kafka_acl_refusal(&sb, c->user, c->doing, c->err, c->detail, c->grant);
		assert_string_equal(sb.data + strlen("capture p1: "), c->want);
		assert_memory_equal(sb.data, "capture p1: ", strlen("capture p1: "));
		strbuf_fini(&sb);
	}
}

static void test_acl_errors(void **state)
{
	(void)state;
	assert_true(kafka_err_is_acl(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
	assert_true(kafka_err_is_acl(RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED));
	assert_true(kafka_err_is_acl(RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED));
	assert_true(kafka_err_is_acl(RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED));
	/* a wrong password is no ACL: SASL's, said by the connection's failure */
	assert_false(kafka_err_is_acl(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED));
	assert_false(kafka_err_is_acl(RD_KAFKA_RESP_ERR__AUTHENTICATION));
	assert_false(kafka_err_is_acl(RD_KAFKA_RESP_ERR_NO_ERROR));
	assert_false(kafka_err_is_acl(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
	assert_false(kafka_err_is_acl(RD_KAFKA_RESP_ERR__FATAL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_words),
		cmocka_unit_test(test_acl_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
