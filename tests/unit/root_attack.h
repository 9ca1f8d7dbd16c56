/*
 * tests/unit/root_attack.h: the stage of the link attacks on root's writes
 * (test_files.c, test_converge_lock.c): a work directory with a root-only
 * victim file and a directory of nobody's, links planted as nobody, the
 * victim checked intact.  Header-only, each unit test being one .c file:
 * include after <cmocka.h>, "util.h" and the system headers it needs
 * (<grp.h>, <pwd.h>, <stdio.h>, <stdlib.h>, <sys/stat.h>, <sys/wait.h>,
 * <unistd.h>); run the tests with setup/teardown around them, fresh before
 * each.
 */
#ifndef CDC_TEST_ROOT_ATTACK_H
#define CDC_TEST_ROOT_ATTACK_H

static char work_dir[] = "/tmp/cdc-root-attack.XXXXXX";
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
		fprintf(stderr, "needs root and a user 'nobody'\n");
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

#endif
