/*
 * tests/unit/test_log.c: log lines are stamped with the time except on the
 * journal, and "FILE:LINE: error:" lines never are.  Each case runs in a
 * child process: whether stderr is the journal is decided once per process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/log.h"
#include "base/util.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum stderr_kind { STDERR_PIPE, STDERR_JOURNAL, STDERR_OTHER_JOURNAL };

/* What a child logs with stderr on a pipe that is (or is not) the stream
 * JOURNAL_STREAM names; caller frees. */
static char *child_logs(enum stderr_kind kind)
{
	int fds[2];
	pid_t pid;
	char buf[4096];
	ssize_t n;
	size_t used = 0;
	int status;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct stat st;
		char env[64];

		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		fstat(STDERR_FILENO, &st);
		snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino + (kind == STDERR_OTHER_JOURNAL));
		if (kind == STDERR_PIPE)
			unsetenv("JOURNAL_STREAM");
		else
			setenv("JOURNAL_STREAM", env, 1);
		log_info("hello %d", 1);
		log_error_at("t.ini", 3, "bad %s", "key");
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + used, sizeof(buf) - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return xstrdup(buf);
}

static bool matches(const char *text, const char *pattern)
{
	regex_t re;
	bool ok;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	ok = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static void test_stamped_off_the_journal(void **state)
{
	char *out = child_logs(STDERR_PIPE);

	(void)state;
	assert_true(matches(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
				 "cdc-agent: info: hello 1$"));
	assert_true(matches(out, "^t\\.ini:3: error: bad key$"));
	free(out);
}

static void test_plain_on_the_journal(void **state)
{
	char *out = child_logs(STDERR_JOURNAL);

	(void)state;
	assert_true(matches(out, "^cdc-agent: info: hello 1$"));
	free(out);
}

/* A JOURNAL_STREAM inherited by a process whose stderr was redirected
 * names another stream: the lines are stamped. */
static void test_inherited_journal_stream_is_not_ours(void **state)
{
	char *out = child_logs(STDERR_OTHER_JOURNAL);

	(void)state;
	assert_true(matches(out, "^[0-9-]{10}T[0-9:.]{12}Z cdc-agent: info: hello 1$"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamped_off_the_journal),
		cmocka_unit_test(test_plain_on_the_journal),
		cmocka_unit_test(test_inherited_journal_stream_is_not_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
