/*
 * tests/fuzz/fuzz_common.c: helpers shared by the fuzz targets (fuzz.h).
 */
#include "fuzz.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void fuzz_quiet_logs(void)
{
	FILE *devnull;

	if (getenv("FUZZ_VERBOSE"))
		return;
	devnull = fopen("/dev/null", "w");
	if (devnull)
		stderr = devnull; /* glibc: stderr is an assignable FILE * */
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(STDERR_FILENO, "fuzz invariant broken: %s\n", msg);
	abort();
}
