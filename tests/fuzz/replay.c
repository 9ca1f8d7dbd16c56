/*
 * tests/fuzz/replay.c: runs a fuzz target over every file of its corpus,
 * once, without libFuzzer: what `make test` builds with gcc and ASan+UBSan
 * (build/tests/test_fuzz_TARGET-asan) so the suite checks the corpus under
 * the sanitizers without needing clang.
 *
 *   test_fuzz_TARGET-asan [DIR|FILE]...   default: tests/fuzz/corpus/TARGET
 *
 * Each input runs in a child process, so a crash names its file and the
 * leak check runs per input.  Prints cmocka's summary lines, which
 * tests/run.sh counts: the whole corpus of a target is one test.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME=\"target\""
#endif

static int run_one(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long size;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		dprintf(STDERR_FILENO, "%s: cannot read: %s\n", path, strerror(errno));
		return 1;
	}
	/* A copy of exactly size bytes, as libFuzzer passes: an overread is seen. */
	data = malloc(size ? (size_t)size : 1);
	if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
		dprintf(STDERR_FILENO, "%s: cannot read: %s\n", path, strerror(errno));
		return 1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)size);
	free(data);
	return 0;
}

/* Runs path in a child; true when it exited 0. */
static bool run_isolated(const char *path)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return false;
	}
	if (pid == 0)
		exit(run_one(path)); /* exit, not _exit: the leak check runs at exit */
	if (waitpid(pid, &status, 0) != pid)
		return false;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFSIGNALED(status))
		printf("[  FAILED  ] fuzz_%s: %s: killed by signal %d\n", FUZZ_NAME, path,
		       WTERMSIG(status));
	else
		printf("[  FAILED  ] fuzz_%s: %s: exit status %d\n", FUZZ_NAME, path,
		       WEXITSTATUS(status));
	return false;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir (sorted), or dir itself if it is a file. */
static void run_path(const char *path, int *ran, int *failed)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;

	if (stat(path, &st) != 0) {
		printf("[  FAILED  ] fuzz_%s: %s: %s\n", FUZZ_NAME, path, strerror(errno));
		(*failed)++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*ran)++;
		*failed += !run_isolated(path);
		return;
	}
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char *p;

		if (e->d_name[0] == '.')
			continue;
		if (asprintf(&p, "%s/%s", path, e->d_name) < 0)
			abort();
		names = realloc(names, (n + 1) * sizeof(*names));
		if (!names)
			abort();
		names[n++] = p;
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			(*ran)++;
			*failed += !run_isolated(names[i]);
		}
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	const char *default_dir = "tests/fuzz/corpus/" FUZZ_NAME;
	int ran = 0, failed = 0;

	if (LLVMFuzzerInitialize(&argc, &argv) != 0)
		return 1;
	printf("[==========] fuzz_%s: replaying its corpus under the sanitizers\n", FUZZ_NAME);
	if (argc < 2)
		run_path(default_dir, &ran, &failed);
	for (int i = 1; i < argc; i++)
		run_path(argv[i], &ran, &failed);
	if (ran == 0) {
		printf("[  FAILED  ] fuzz_%s: no input found\n", FUZZ_NAME);
		failed = 1;
	}
	printf("[==========] fuzz_%s: %d input(s) replayed, %d failed\n", FUZZ_NAME, ran, failed);
	if (failed) {
		printf("[  FAILED  ] 1 test(s), listed above\n");
		return 1;
	}
	printf("[       OK ] fuzz_%s\n[  PASSED  ] 1 test(s).\n", FUZZ_NAME);
	return 0;
}
