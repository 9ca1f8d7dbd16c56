/*
 * agent/kafka/kafka_log.h: librdkafka's own log lines through the agent's logger
 * (levels mapped, one line each, control characters made harmless), never
 * raw "%3|1700000000.123|FAIL|..." lines on stderr.
 */
#ifndef CDC_KAFKA_LOG_H
#define CDC_KAFKA_LOG_H

#include "base/common.h"
#include "base/util.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* Sets conf's log callback; kafka_client.c does, for every client the
 * agent makes. */
void kafka_log_attach(rd_kafka_conf_t *conf);

/* A probe's callback instead (kafka_client.c's probe conf): every line at
 * debug level, the failures kept for kafka_log_last_failure. */
void kafka_log_attach_quiet(rd_kafka_conf_t *conf);

/* The last broker connection failure any client of this process logged
 * (librdkafka's "FAIL" lines, kept at debug level) since the monotonic
 * time since (mono_seconds(); 0: ever), with the reason of a refused
 * certificate when that was the failure, copied into buf; false when none
 * came.  For an error that would otherwise only say that no answer came. */
bool kafka_log_last_failure(double since, char *buf, size_t size);

/* A refusal by the brokers' authorizer (TOPIC_, GROUP_, CLUSTER_ or
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED): an ACL that no retry gets past
 * until an operator grants it. */
bool kafka_err_is_acl(rd_kafka_resp_err_t err);

/* Appends to out the words of every refusal by ACL, one way for capture,
 * apply and the probes: "the brokers refused user USER DOING: not
 * authorized by an ACL (DETAIL); grant the user GRANT".  user NULL: a
 * client without SASL ("this client (its certificate's principal)");
 * doing: what was refused ("writing topic t"); detail: librdkafka's words
 * (a trailing period dropped), NULL for err's name. */
void kafka_acl_refusal(struct strbuf *out, const char *user, const char *doing,
		       rd_kafka_resp_err_t err, const char *detail, const char *grant);

#endif
