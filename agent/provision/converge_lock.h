/*
 * agent/provision/converge_lock.h: one convergence at a time on a host.  `bootstrap`
 * and a pass of `run` change the same servers, units and files; run with
 * an older topology loaded could undo what a bootstrap just did.  Both take
 * an exclusive flock on <state_dir>/root/converge.lock (released by the
 * kernel if the process dies), in root's own directory (files.h,
 * state_private_open): state_dir belongs to the cdc-agent user.
 */
#ifndef CDC_CONVERGE_LOCK_H
#define CDC_CONVERGE_LOCK_H

#include "base/common.h"

/* Waits for the lock (up to CONVERGE_LOCK_WAIT_SEC, feeding the watchdog);
 * *fd is the lock to hand to converge_lock_release.  Creates state_dir and
 * its root/ (mode 0700) if missing; a link, or a directory or lock file not
 * the agent's own, is refused. */
#define CONVERGE_LOCK_WAIT_SEC 600
MUST_CHECK bool converge_lock_acquire(const char *state_dir, int *fd);
void converge_lock_release(int fd);

#endif
