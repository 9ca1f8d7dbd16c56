/*
 * tests/unit/test_files.c: root writes never follow links (agent/files.c,
 * agent/converge_lock.c), tested as the attack is made.  Run as root, like
 * the agent: an unprivileged user (nobody) owns the directory written into,
 * as postgres owns pg_hba.conf's and cdc-agent owns state_dir, and plants
 * links there from a child process that took its uid; the agent's own
 * functions then run, and the root-only file the links point at must keep
 * its content, owner and mode.  Also: the write-if-changed contract itself
 * (old owner and mode kept, the "changed" signal, exact mode of a new file).
 *
 * Built with -DTEST_OLD_API_ONLY it uses only the functions the code had
 * before links were refused, so it can be run against that code (it fails).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "converge_lock.h"
#include "files.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stderr_capture.h"

static char work_dir[] = "/tmp/cdc-files.XXXXXX";
static char *root_only;  /* work_dir/root-only: root's, 0700 */
static char *victim;     /* root_only/victim: root's 0600 file the links aim at */
static char *user_dir;   /* work_dir/user: nobody's directory the agent writes into */
static uid_t evil_uid;
static gid_t evil_gid;

static void write_file(const char *path, const char *text, uid_t uid, gid_t gid, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chown(path, uid, gid), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return xstrdup(buf);
}

/* The victim as the attack found it: "root secret", root's, mode 0600. */
static void assert_victim_intact(void)
{
	struct stat st;
	char *text = read_text(victim);

	assert_non_null(text);
	assert_string_equal(text, "root secret\n");
	free(text);
	assert_int_equal(lstat(victim, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

/* As the unprivileged user: ln -s target linkpath (what the attacker does). */
static void plant_link(const char *target, const char *linkpath)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(evil_gid) != 0 || setuid(evil_uid) != 0)
			_exit(2);
		_exit(symlink(target, linkpath) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int setup(void **state)
{
	struct passwd *pw = getpwnam("nobody");

	(void)state;
	if (geteuid() != 0 || !pw) {
		fprintf(stderr, "test_files: needs root and a user 'nobody'\n");
		return -1;
	}
	evil_uid = pw->pw_uid;
	evil_gid = pw->pw_gid;
	if (!mkdtemp(work_dir))
		return -1;
	if (chmod(work_dir, 0755) != 0)
		return -1;
	root_only = xasprintf("%s/root-only", work_dir);
	victim = xasprintf("%s/victim", root_only);
	user_dir = xasprintf("%s/user", work_dir);
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf %s", work_dir);
	int rc = system(cmd);

	(void)state;
	free(cmd);
	free(root_only);
	free(victim);
	free(user_dir);
	return rc == 0 ? 0 : -1;
}

/* Fresh per test: root_only with the victim, user_dir (nobody's, 0755). */
static int fresh(void **state)
{
	char *cmd = xasprintf("rm -rf %s %s", root_only, user_dir);
	int rc = system(cmd);

	(void)state;
	free(cmd);
	if (rc != 0 || mkdir(root_only, 0700) != 0 || mkdir(user_dir, 0755) != 0 ||
	    chown(user_dir, evil_uid, evil_gid) != 0)
		return -1;
	write_file(victim, "root secret\n", 0, 0, 0600);
	return 0;
}

/* The reported attack: pg_hba.conf.cdc-agent.tmp -> a root-only file. */
static void test_planted_tmp_link_is_not_followed(void **state)
{
	char *dest = xasprintf("%s/pg_hba.conf", user_dir);
	char *tmp = xasprintf("%s.cdc-agent.tmp", dest);
	char *quick_tmp = xasprintf("%s.tmp", dest);
	struct stat st;
	bool changed;
	char *text;

	(void)state;
	write_file(dest, "old\n", evil_uid, evil_gid, 0640);
	plant_link(victim, tmp);
	plant_link(victim, quick_tmp);

	assert_true(file_write_if_changed(dest, "new\n", 4, 0600, &changed));
	assert_true(changed);
	assert_victim_intact();
	text = read_text(dest);
	assert_string_equal(text, "new\n");
	free(text);
	/* The old owner and mode are kept. */
	assert_int_equal(lstat(dest, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_uid, evil_uid);
	assert_int_equal(st.st_gid, evil_gid);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* file_replace_quick (progress files) neither. */
	{
		struct strbuf why;

		strbuf_init(&why);
		assert_true(file_replace_quick(dest, "quick\n", 6, 0640, &why));
		strbuf_fini(&why);
		assert_victim_intact();
	}
	free(quick_tmp);
	free(tmp);
	free(dest);
}

/* A destination that is itself a link is refused, naming it. */
static void test_destination_link_is_refused(void **state)
{
	char *dest = xasprintf("%s/last-bootstrap.sha512", user_dir);
	struct stat st;
	bool changed = true;
	char *err;

	(void)state;
	plant_link(victim, dest);
	capture_begin();
	assert_false(file_write_if_changed(dest, "new\n", 4, 0600, &changed));
	err = capture_end();
	assert_false(changed);
	assert_non_null(strstr(err, dest));
	assert_non_null(strstr(err, "symbolic link"));
	free(err);
	assert_victim_intact();
	/* The link is left as it was (the operator sees what was planted). */
	assert_int_equal(lstat(dest, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	{
		struct strbuf why;

		strbuf_init(&why);
		assert_false(file_replace_quick(dest, "quick\n", 6, 0640, &why));
		assert_non_null(strstr(why.data, dest));
		strbuf_fini(&why);
	}
	assert_victim_intact();
	free(dest);
}

/* A link at the lock file, or at the directory it lives in, is never
 * followed to create or open a file; a planted lock directory is refused. */
static void test_lock_links_are_not_followed(void **state)
{
	char *state_dir = xasprintf("%s/state", user_dir);
	char *lock = xasprintf("%s/converge.lock", state_dir);
	char *created = xasprintf("%s/created-by-lock", root_only);
	char *private_dir = xasprintf("%s/root", state_dir);
	char *private_lock = xasprintf("%s/converge.lock", private_dir);
	struct stat st;
	int fd = -1;
	char *err;

	(void)state;
	/* state_dir as bootstrap leaves it: the service user's, 0700. */
	assert_int_equal(mkdir(state_dir, 0700), 0);
	assert_int_equal(chown(state_dir, evil_uid, evil_gid), 0);
	plant_link(created, lock);
	plant_link(victim, private_dir);

	capture_begin();
	assert_false(converge_lock_acquire(state_dir, &fd));
	err = capture_end();
	assert_non_null(strstr(err, private_dir));
	free(err);
	assert_int_equal(lstat(created, &st), -1); /* no file made through the link */
	assert_victim_intact();

	/* A lock directory the service user made itself is refused too. */
	assert_int_equal(unlink(private_dir), 0);
	assert_int_equal(mkdir(private_dir, 0700), 0);
	assert_int_equal(chown(private_dir, evil_uid, evil_gid), 0);
	capture_begin();
	assert_false(converge_lock_acquire(state_dir, &fd));
	err = capture_end();
	assert_non_null(strstr(err, private_dir));
	free(err);

	/* root's own directory: the lock is taken there, a link in it refused. */
	assert_int_equal(rmdir(private_dir), 0);
	assert_true(converge_lock_acquire(state_dir, &fd));
	converge_lock_release(fd);
	assert_int_equal(lstat(private_dir, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(lstat(private_lock, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(unlink(private_lock), 0);
	assert_int_equal(symlink(created, private_lock), 0);
	capture_begin();
	assert_false(converge_lock_acquire(state_dir, &fd));
	err = capture_end();
	assert_non_null(strstr(err, private_lock));
	free(err);
	assert_int_equal(lstat(created, &st), -1);
	/* A lock file others may write is refused. */
	assert_int_equal(unlink(private_lock), 0);
	write_file(private_lock, "", evil_uid, evil_gid, 0666);
	capture_begin();
	assert_false(converge_lock_acquire(state_dir, &fd));
	err = capture_end();
	assert_non_null(strstr(err, private_lock));
	free(err);

	free(private_lock);
	free(private_dir);
	free(created);
	free(lock);
	free(state_dir);
}

/* The contract kept: same bytes, nothing written; a new file gets exactly
 * its mode, whatever the umask. */
static void test_write_if_changed_contract(void **state)
{
	char *dest = xasprintf("%s/unit.service", root_only);
	struct stat st1, st2;
	bool changed = true;
	mode_t old_umask = umask(077);

	(void)state;
	assert_true(file_write_if_changed(dest, "a\n", 2, 0644, &changed));
	assert_true(changed);
	assert_int_equal(lstat(dest, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0644);
	assert_true(file_write_if_changed(dest, "a\n", 2, 0600, &changed));
	assert_false(changed);
	assert_int_equal(lstat(dest, &st2), 0);
	assert_true(st1.st_ino == st2.st_ino);
	assert_true(file_write_if_changed(dest, "b\n", 2, 0600, &changed));
	assert_true(changed);
	assert_int_equal(lstat(dest, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0644); /* the old mode, not new_mode */
	umask(old_umask);
	/* No temporary file is left behind. */
	{
		char *cmd = xasprintf("test $(ls -A %s | wc -l) -eq 2", root_only);

		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	free(dest);
}

#ifndef TEST_OLD_API_ONLY
/* Other refusals: a hard link to a file elsewhere, a directory that is a
 * link; reads do not follow links either. */
static void test_hard_link_and_dir_link_refused(void **state)
{
	char *hard = xasprintf("%s/pg_hba.conf", user_dir);
	char *dir_link = xasprintf("%s/conf", user_dir);
	char *via_dir = xasprintf("%s/victim", dir_link);
	char *read_link = xasprintf("%s/kraft-cluster-id", user_dir);
	bool changed, exists = true;
	char *err, *out = NULL;

	(void)state;
	/* As with fs.protected_hardlinks = 0 (then nobody could make it). */
	assert_int_equal(link(victim, hard), 0);
	capture_begin();
	assert_false(file_write_if_changed(hard, "new\n", 4, 0600, &changed));
	err = capture_end();
	assert_non_null(strstr(err, hard));
	assert_non_null(strstr(err, "hard link"));
	free(err);
	assert_int_equal(unlink(hard), 0);

	plant_link(root_only, dir_link);
	capture_begin();
	assert_false(file_write_if_changed(via_dir, "new\n", 4, 0600, &changed));
	err = capture_end();
	assert_non_null(strstr(err, dir_link));
	free(err);
	assert_victim_intact();

	plant_link(victim, read_link);
	capture_begin();
	assert_false(file_read_nofollow(read_link, &out, NULL, &exists));
	err = capture_end();
	assert_non_null(strstr(err, read_link));
	free(err);
	assert_null(out);

	/* Missing: exists false, not an error. */
	assert_true(file_read_nofollow(victim, &out, NULL, &exists));
	assert_true(exists);
	assert_string_equal(out, "root secret\n");
	free(out);
	free(via_dir);
	via_dir = xasprintf("%s/missing", root_only);
	assert_true(file_read_nofollow(via_dir, &out, NULL, &exists));
	assert_false(exists);

	free(read_link);
	free(via_dir);
	free(dir_link);
	free(hard);
}

/* state_private_open: missing without create is no error; created root's. */
static void test_state_private_open(void **state)
{
	char *state_dir = xasprintf("%s/state2", user_dir);
	char *dir = NULL;
	int fd = 5;

	(void)state;
	assert_true(state_private_open(state_dir, false, &fd, &dir));
	assert_int_equal(fd, -1);
	free(dir);
	assert_true(state_private_open(state_dir, true, &fd, &dir));
	assert_true(fd >= 0);
	close(fd);
	free(dir);
	free(state_dir);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_planted_tmp_link_is_not_followed, fresh),
		cmocka_unit_test_setup(test_destination_link_is_refused, fresh),
		cmocka_unit_test_setup(test_lock_links_are_not_followed, fresh),
		cmocka_unit_test_setup(test_write_if_changed_contract, fresh),
#ifndef TEST_OLD_API_ONLY
		cmocka_unit_test_setup(test_hard_link_and_dir_link_refused, fresh),
		cmocka_unit_test_setup(test_state_private_open, fresh),
#endif
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
