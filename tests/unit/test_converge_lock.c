/*
 * tests/unit/test_converge_lock.c: the convergence lock
 * (agent/provision/converge_lock.c) never follows a link, tested as the attack is
 * made (root_attack.h): as nobody, links planted at the lock file and at
 * root's directory in state_dir; a lock directory or file others own or
 * may write is refused, and the root-only file the links point at keeps
 * its content, owner and mode.  Run as root, like the agent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "provision/converge_lock.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_lock_links_are_not_followed, fresh),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
