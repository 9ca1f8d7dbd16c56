/*
 * agent/converge_lock.c: the host-wide convergence lock (converge_lock.h).
 */
#include "converge_lock.h"

#include "log.h"
#include "notify.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POLL_USEC (200 * 1000)

bool converge_lock_acquire(const char *state_dir, int *fd)
{
	char *path = xasprintf("%s/converge.lock", state_dir);
	time_t deadline = time(NULL) + CONVERGE_LOCK_WAIT_SEC;
	bool said = false;

	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create state directory %s: %s", state_dir, strerror(errno));
		free(path);
		return false;
	}
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0) {
		log_error("cannot open %s: %s", path, strerror(errno));
		free(path);
		return false;
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
