/*
 * agent/kafka_log.h: librdkafka's own log lines through the agent's logger
 * (levels mapped, one line each, control characters made harmless), never
 * raw "%3|1700000000.123|FAIL|..." lines on stderr.
 */
#ifndef CDC_KAFKA_LOG_H
#define CDC_KAFKA_LOG_H

#include <librdkafka/rdkafka.h>

/* Sets conf's log callback; every client the agent makes calls this. */
void kafka_log_attach(rd_kafka_conf_t *conf);

#endif
