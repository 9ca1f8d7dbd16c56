/*
 * agent/base/log.h: leveled logging to stderr.
 *
 * Never pass a secret (password, SCRAM verifier, conninfo with a password) to
 * these functions: log lines end up in the journal and in CI output.
 */
#ifndef CDC_LOG_H
#define CDC_LOG_H

#include "base/common.h"

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_set_level(enum log_level level);
void log_debug(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* An error located in a file: "FILE:LINE: error: message", as compilers do. */
void log_error_at(const char *file, int line, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* A warning located in a file: "FILE:LINE: warning: message". */
void log_warn_at(const char *file, int line, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Copies the last error logged by this process (without the "cdc-agent:
 * error: " prefix) into buf; false when none was. */
bool log_last_error(char *buf, size_t len);

#endif
