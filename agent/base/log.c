/*
 * agent/base/log.c: leveled logging to stderr (the journal, under systemd; lines
 * stamped with the time anywhere else).
 */
#include "base/log.h"

#include "base/util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* Writes a message whose text may hold what a record or a server sent:
 * continuation lines (a server's DETAIL, a name with a line break) are
 * indented, so no line of the log can pass for one of the agent's own, and
 * other control characters are shown as '?' (no terminal escapes). */
static void put_message(const char *prefix, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);
	size_t len = strlen(msg);
	struct strbuf line;

	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0'; /* libpq's messages end with one */
	strbuf_init(&line);
	strbuf_adds(&line, prefix);
	for (const char *p = msg; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\n')
			strbuf_adds(&line, "\n    ");
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			strbuf_adds(&line, "?");
		else
			strbuf_add(&line, p, 1);
	}
	strbuf_adds(&line, "\n");
	fputs(line.data, stderr); /* one write: stderr is unbuffered */
	strbuf_fini(&line);
	free(msg);
}

/* The journal stamps each line itself; a file or a pipe does not.  systemd
 * says stderr is the journal by JOURNAL_STREAM=DEV:INODE of that stream
 * (systemd.exec(5)); a stderr redirected elsewhere has another identity. */
static bool stamp_lines;
static pthread_once_t stamp_once = PTHREAD_ONCE_INIT;

static void stamp_decide(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	stamp_lines = !(stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
			fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
			(unsigned long long)st.st_ino == ino);
}

/* "2026-12-04T19:20:01.123Z " (UTC, milliseconds) when lines are stamped,
 * else "". */
static void stamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	pthread_once(&stamp_once, stamp_decide);
	buf[0] = '\0';
	if (!stamp_lines || clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm))
		return;
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n > 0)
		snprintf(buf + n, len - n, ".%03ldZ ", ts.tv_nsec / 1000000);
}

static void log_vprint(enum log_level level, const char *fmt, va_list ap)
{
	char prefix[64], time[32];

	if (level == LOG_LVL_ERROR)
		keep_last_error("", fmt, ap);
	if (level < current_level)
		return;
	stamp(time, sizeof(time));
	snprintf(prefix, sizeof(prefix), "%scdc-agent: %s: ", time, level_names[level]);
	put_message(prefix, fmt, ap);
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

/* Not stamped: "FILE:LINE: error:" is the compilers' form, which editors
 * and the operator's eye jump to. */
void log_error_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char where[512];

	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d: ", file, line);
	else
		snprintf(where, sizeof(where), "%s: ", file);
	va_start(ap, fmt);
	keep_last_error(where, fmt, ap);
	snprintf(where + strlen(where), sizeof(where) - strlen(where), "error: ");
	put_message(where, fmt, ap);
	va_end(ap);
}

void log_warn_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char where[512];

	if (LOG_LVL_WARN < current_level)
		return;
	snprintf(where, sizeof(where), "%s:%d: warning: ", file, line);
	va_start(ap, fmt);
	put_message(where, fmt, ap);
	va_end(ap);
}
