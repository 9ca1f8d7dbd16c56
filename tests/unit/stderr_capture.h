/*
 * tests/unit/stderr_capture.h: captures what the code under test logs to
 * stderr, so a test can check its error messages.  Header-only: each unit
 * test is one .c file.  Include after <cmocka.h> and "util.h".
 */
#ifndef CDC_TEST_STDERR_CAPTURE_H
#define CDC_TEST_STDERR_CAPTURE_H

#include <stdio.h>
#include <unistd.h>

static int saved_stderr = -1;
static FILE *capture_file;

/* Sends stderr to a temp file until capture_end(). */
static void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

/* Restores stderr; returns what was written to it (caller frees). */
static char *capture_end(void)
{
	struct strbuf sb;
	char chunk[4096];
	size_t n;

	fflush(stderr);
	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	rewind(capture_file);
	strbuf_init(&sb);
	while ((n = fread(chunk, 1, sizeof(chunk), capture_file)) > 0)
		strbuf_add(&sb, chunk, n);
	fclose(capture_file);
	return strbuf_detach(&sb);
}

#endif
