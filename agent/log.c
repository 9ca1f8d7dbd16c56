/*
 * agent/log.c: leveled logging to stderr (the journal, under systemd).
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static enum log_level current_level = LOG_LVL_INFO;

static const char *const level_names[] = {
	[LOG_LVL_DEBUG] = "debug",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_WARN] = "warning",
	[LOG_LVL_ERROR] = "error",
};

void log_set_level(enum log_level level)
{
	current_level = level;
}

/* The last error line, for the progress file (`status` shows it).  A lock:
 * librdkafka may log from its own threads. */
static pthread_mutex_t last_error_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_error[512];

static void keep_last_error(const char *prefix, const char *fmt, va_list ap)
{
	va_list copy;
	int n;

	va_copy(copy, ap);
	pthread_mutex_lock(&last_error_lock);
	n = snprintf(last_error, sizeof(last_error), "%s", prefix);
	if (n >= 0 && (size_t)n < sizeof(last_error))
		vsnprintf(last_error + n, sizeof(last_error) - (size_t)n, fmt, copy);
	pthread_mutex_unlock(&last_error_lock);
	va_end(copy);
}

bool log_last_error(char *buf, size_t len)
{
	bool any;

	pthread_mutex_lock(&last_error_lock);
	any = last_error[0] != '\0';
	snprintf(buf, len, "%s", last_error);
	pthread_mutex_unlock(&last_error_lock);
	return any;
}

static void log_vprint(enum log_level level, const char *fmt, va_list ap)
{
	if (level == LOG_LVL_ERROR)
		keep_last_error("", fmt, ap);
	if (level < current_level)
		return;
	fprintf(stderr, "cdc-agent: %s: ", level_names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

#define DEFINE_LOG_FN(fn, level)               \
	void fn(const char *fmt, ...)          \
	{                                      \
		va_list ap;                    \
		va_start(ap, fmt);             \
		log_vprint(level, fmt, ap);    \
		va_end(ap);                    \
	}

DEFINE_LOG_FN(log_debug, LOG_LVL_DEBUG)
DEFINE_LOG_FN(log_info, LOG_LVL_INFO)
DEFINE_LOG_FN(log_warn, LOG_LVL_WARN)
DEFINE_LOG_FN(log_error, LOG_LVL_ERROR)

void log_error_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char where[512];

	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d: ", file, line);
	else
		snprintf(where, sizeof(where), "%s: ", file);
	fprintf(stderr, "%serror: ", where);
	va_start(ap, fmt);
	keep_last_error(where, fmt, ap);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
