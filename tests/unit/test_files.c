/*
 * tests/unit/test_files.c: root writes never follow links (agent/base/files.c),
 * tested as the attack is made (root_attack.h).  Run as root, like the
 * agent: an unprivileged user (nobody) owns the directory written into, as
 * postgres owns pg_hba.conf's and cdc-agent owns state_dir, and plants
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

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"

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
#include "root_attack.h"

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

#ifndef TEST_OLD_API_ONLY
/* file_replace_at: owner and mode exactly as asked whatever was there (a
 * keystore's 0644 goes back to 0640), a link at the name refused. */
static void test_replace_at(void **state)
{
	int dirfd = open(user_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *dest = xasprintf("%s/internal.pem", user_dir), *link, *err, *text;
	struct stat st;

	(void)state;
	assert_true(dirfd >= 0);
	write_file(dest, "old\n", evil_uid, evil_gid, 0644);
	assert_true(
		file_replace_at(dirfd, user_dir, "internal.pem", "new\n", 4, 0, evil_gid, 0640));
	assert_int_equal(lstat(dest, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, evil_gid);
	assert_int_equal(st.st_mode & 07777, 0640);
	text = read_text(dest);
	assert_string_equal(text, "new\n");
	free(text);
	link = xasprintf("%s/ca.key", user_dir);
	plant_link(victim, link);
	capture_begin();
	assert_false(file_replace_at(dirfd, user_dir, "ca.key", "key\n", 4, 0, 0, 0600));
	err = capture_end();
	assert_non_null(strstr(err, link));
	assert_non_null(strstr(err, "symbolic link"));
	free(err);
	assert_victim_intact();
	close(dirfd);
	free(link);
	free(dest);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_planted_tmp_link_is_not_followed, fresh),
		cmocka_unit_test_setup(test_destination_link_is_refused, fresh),
		cmocka_unit_test_setup(test_write_if_changed_contract, fresh),
#ifndef TEST_OLD_API_ONLY
		cmocka_unit_test_setup(test_hard_link_and_dir_link_refused, fresh),
		cmocka_unit_test_setup(test_state_private_open, fresh),
		cmocka_unit_test_setup(test_replace_at, fresh),
#endif
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
