/*
 * agent/base/common.h: conventions shared by every file of cdc-agent.
 *
 * Error idiom (one, everywhere): a function that can fail returns bool and is
 * marked MUST_CHECK.  The callee logs the root cause (naming the file, line,
 * setting or server at fault) and returns false; callers only propagate, with
 * the comment "errors already logged".  Only main.c turns results into exit
 * codes and calls exit().
 *
 * Ownership: functions named X_new return heap objects freed by the matching
 * X_free; X_init/X_fini set up and tear down embedded objects; functions that
 * return a char * the caller must free() say "caller frees" in their comment.
 */
#ifndef CDC_COMMON_H
#define CDC_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#define MUST_CHECK __attribute__((warn_unused_result))
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes: documented in README.md and `cdc-agent --help`. */
enum exit_code {
	EXIT_OK = 0,               /* done; for plan: nothing to change */
	EXIT_ERROR = 1,            /* a server, file or command failed */
	EXIT_CHANGES_PENDING = 2,  /* plan: bootstrap would change something; teardown
				    * and accept-gap: --yes is needed to do it */
	EXIT_BAD_CONFIG = 3,       /* the topology file is invalid */
	EXIT_RESTART_REQUIRED = 4, /* PostgreSQL needs a restart the agent could not do */
	EXIT_USAGE = 64,           /* bad command line (as sysexits' EX_USAGE) */
	EXIT_REFUSED_INPUT = 65    /* apply stopped on a record or a gap, capture on a change
				    * too large for Kafka (as EX_DATAERR): their units do not
				    * restart on it */
};

#endif
