/*
 * agent/log.c: leveled logging to stderr (the journal, under systemd).
 */
#include "log.h"

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

static void log_vprint(enum log_level level, const char *fmt, va_list ap)
{
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

	if (line > 0)
		fprintf(stderr, "%s:%d: error: ", file, line);
	else
		fprintf(stderr, "%s: error: ", file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
