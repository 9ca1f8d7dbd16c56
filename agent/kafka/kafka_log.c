/*
 * agent/kafka/kafka_log.c: librdkafka's log lines at the agent's levels.
 *
 * librdkafka logs with syslog levels.  Broker connection failures ("FAIL",
 * level 3) are retried by librdkafka itself and reach the agent again as
 * errors (the producer's error callback, the consumer's error events),
 * which log each change of state once: here they are debug detail, not an
 * "error" that would become the process's last error in status.
 */
#include "kafka/kafka_log.h"

#include "base/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

/* The last connection failure of any client (librdkafka's threads log it):
 * what an error that could otherwise only say "no answer" names as the
 * cause, e.g. a client that speaks plaintext to a TLS listener. */
static pthread_mutex_t last_failure_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_failure[512];

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	const char *client = rk ? rd_kafka_name(rk) : "kafka";

	if (strcmp(fac, "FAIL") == 0) {
		pthread_mutex_lock(&last_failure_lock);
		snprintf(last_failure, sizeof(last_failure), "%s", buf);
		pthread_mutex_unlock(&last_failure_lock);
		log_debug("librdkafka %s: %s: %s", client, fac, buf);
	}
	else if (level <= LOG_ERR)
		log_error("librdkafka %s: %s: %s", client, fac, buf);
	else if (level == LOG_WARNING)
		log_warn("librdkafka %s: %s: %s", client, fac, buf);
	else if (level == LOG_NOTICE)
		log_info("librdkafka %s: %s: %s", client, fac, buf);
	else
		log_debug("librdkafka %s: %s: %s", client, fac, buf);
}

bool kafka_log_last_failure(char *buf, size_t size)
{
	pthread_mutex_lock(&last_failure_lock);
	snprintf(buf, size, "%s", last_failure);
	pthread_mutex_unlock(&last_failure_lock);
	return buf[0] != '\0';
}

void kafka_log_attach(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_log_cb(conf, on_log);
}
