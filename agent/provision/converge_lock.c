/*
 * agent/provision/converge_lock.c: the host-wide convergence lock (converge_lock.h).
 */
#include "provision/converge_lock.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"
#include "systemd/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POLL_USEC (200 * 1000)

/* Opens <state_dir>/root/converge.lock: no link followed, and only a lock
 * file of the agent's own user that nobody else may write is taken. */
static bool lock_open(const char *state_dir, char **path, int *fd)
{
	char *dir = NULL;
	int dirfd = -1;
	struct stat st;

	*fd = -1;
	if (!state_private_open(state_dir, true, &dirfd, &dir)) {
		*path = xasprintf("%s/converge.lock", dir);
		free(dir);
		return false; /* errors already logged */
	}
	*path = xasprintf("%s/converge.lock", dir);
	free(dir);
	*fd = openat(dirfd, "converge.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		     0600);
	close(dirfd);
	if (*fd < 0) {
		log_error("cannot open %s: %s%s", *path, strerror(errno),
			  errno == ELOOP ? " (a symbolic link: refused; remove it)" : "");
		return false;
	}
	if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022)) {
		log_error("refusing lock file %s: not a regular file of uid %u that only it may "
			  "write (uid %u, mode %04o); remove it",
			  *path, (unsigned)geteuid(), (unsigned)st.st_uid,
			  (unsigned)(st.st_mode & 07777));
		close(*fd);
		*fd = -1;
		return false;
	}
	return true;
}

bool converge_lock_acquire(const char *state_dir, int *fd)
{
	char *path = NULL;
	time_t deadline = time(NULL) + CONVERGE_LOCK_WAIT_SEC;
	bool said = false;

	if (!lock_open(state_dir, &path, fd)) {
		free(path);
		return false; /* errors already logged */
	}
	while (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK || time(NULL) >= deadline) {
			log_error("%s: %s", path,
				  errno == EWOULDBLOCK
					  ? "another cdc-agent (bootstrap or run) held it for too long"
					  : strerror(errno));
			close(*fd);
			free(path);
			return false;
		}
		if (!said)
			log_info("waiting for another cdc-agent (bootstrap or run) to finish on this "
				 "host (%s)", path);
		said = true;
		notify_heartbeat();
		usleep(POLL_USEC);
	}
	free(path);
	return true;
}

void converge_lock_release(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the flock */
}
