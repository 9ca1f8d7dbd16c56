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

#include <string.h>
#include <syslog.h>

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	const char *client = rk ? rd_kafka_name(rk) : "kafka";

	if (strcmp(fac, "FAIL") == 0)
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

void kafka_log_attach(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_log_cb(conf, on_log);
}
