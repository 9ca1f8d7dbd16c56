/*
 * agent/kafka/kafka_log.c: librdkafka's log lines at the agent's levels.
 *
 * librdkafka logs with syslog levels.  Broker connection failures ("FAIL",
 * level 3) are retried by librdkafka itself and reach the agent again as
 * errors (the producer's error callback, the consumer's error events),
 * which log each change of state once: here they are debug detail, not an
 * "error" that would become the process's last error in status.  So is a
 * fatal error refused by the brokers' ACLs: the producer says it once,
 * naming the user and what to grant (kafka_acl_refusal, below, the one
 * wording of every refusal by ACL).
 */
#include "kafka/kafka_log.h"

#include "base/log.h"
#include "base/util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

/* The last connection failure of any client (librdkafka's threads log it)
 * and the last certificate refused (tls_verify's reason, which the failure
 * line itself only calls "certificate verify failed"): what an error that
 * could otherwise only say "no answer" names as the cause. */
struct failure {
	char text[512];
	double at; /* mono_seconds() when logged; 0: never */
};

static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;
static struct failure last_failure, last_certificate;

/* Keeps buf when fac is a failure's; true for a connection failure ("FAIL",
 * retried by librdkafka: debug detail, see above). */
static bool remember(const char *fac, const char *buf)
{
	struct failure *f = strcmp(fac, "FAIL") == 0	    ? &last_failure
			    : strcmp(fac, "SSLCERTVRFY") == 0 ? &last_certificate
							      : NULL;

	if (!f)
		return false;
	/* "[thrd:sasl_ssl://host:port/bootstrap]: " says the thread, and the
	 * line goes on with the broker's name anyway. */
	if (strncmp(buf, "[thrd:", 6) == 0 && strstr(buf, "]: "))
		buf = strstr(buf, "]: ") + 3;
	pthread_mutex_lock(&failure_lock);
	snprintf(f->text, sizeof(f->text), "%s", buf);
	f->at = mono_seconds();
	pthread_mutex_unlock(&failure_lock);
	return f == &last_failure;
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	const char *client = rk ? rd_kafka_name(rk) : "kafka";

	if (remember(fac, buf) ||
	    (strcmp(fac, "FATAL") == 0 && strstr(buf, "uthorization failed")))
		log_debug("librdkafka %s: %s: %s", client, fac, buf);
	else if (level <= LOG_ERR)
		log_error("librdkafka %s: %s: %s", client, fac, buf);
	else if (level == LOG_WARNING)
		log_warn("librdkafka %s: %s: %s", client, fac, buf);
	else if (level == LOG_NOTICE)
		log_info("librdkafka %s: %s: %s", client, fac, buf);
	else
		log_debug("librdkafka %s: %s: %s", client, fac, buf);
}

/* A probe's lines: all at debug level (its failure is its result, which
 * its caller reports), the failures kept all the same. */
static void on_log_quiet(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)level;
	(void)remember(fac, buf);
	log_debug("librdkafka %s: %s: %s", rk ? rd_kafka_name(rk) : "kafka", fac, buf);
}

bool kafka_log_last_failure(double since, char *buf, size_t size)
{
	bool failed, refused;

	pthread_mutex_lock(&failure_lock);
	failed = last_failure.at > 0 && last_failure.at >= since;
	refused = last_certificate.at > 0 && last_certificate.at >= since;
	/* librdkafka's own line for a refused certificate ("certificate verify
	 * failed: ... verify that ssl.ca.location is correctly configured")
	 * says less than tls_verify's reason (kafka_client.c). */
	if (refused && (!failed || strstr(last_failure.text, "certificate verify failed")))
		snprintf(buf, size, "%s", last_certificate.text);
	else if (failed || refused)
		snprintf(buf, size, "%s", failed ? last_failure.text : last_certificate.text);
	else
		snprintf(buf, size, "%s", "");
	pthread_mutex_unlock(&failure_lock);
	return buf[0] != '\0';
}

void kafka_log_attach_quiet(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_log_cb(conf, on_log_quiet);
}

void kafka_log_attach(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_log_cb(conf, on_log);
}

bool kafka_err_is_acl(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
	       err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
	       err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
	       err == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

void kafka_acl_refusal(struct strbuf *out, const char *user, const char *doing,
		       rd_kafka_resp_err_t err, const char *detail, const char *grant)
{
	size_t len;

	if (!detail || !*detail)
		detail = rd_kafka_err2name(err);
	len = strlen(detail);
	if (len > 0 && detail[len - 1] == '.')
		len--;
	if (user)
		strbuf_addf(out, "the brokers refused user %s", user);
	else
		strbuf_adds(out, "the brokers refused this client (its certificate's principal)");
	strbuf_addf(out, " %s: not authorized by an ACL (%.*s); grant the %s %s", doing, (int)len,
		    detail, user ? "user" : "client", grant);
}