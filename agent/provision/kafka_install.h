/*
 * agent/provision/kafka_install.h: installs the Kafka distribution on this host
 * (download, SHA-512 check, unpack, link) and finds the Java runtime it needs.
 *
 * Layout, for install_dir = /opt/kafka and a tarball whose top directory is
 * kafka_2.13-3.9.2:
 *
 *   /var/cache/cdc-agent/dist/kafka_2.13-3.9.2.tgz   the verified tarball (cache_dir)
 *   /opt/kafka_2.13-3.9.2/                           unpacked, never modified again
 *   /opt/kafka_2.13-3.9.2/.cdc-agent-dist.sha512     the tarball's digest and URL
 *   /opt/kafka -> /opt/kafka_2.13-3.9.2              switched atomically
 *
 * The digest file is what makes a rerun free: when install_dir links to a
 * directory unpacked from a tarball with the configured SHA-512, nothing is
 * read, downloaded or written.  Old versions are left in place (a rollback is
 * a link switch); removing them is the operator's call.
 */
#ifndef CDC_KAFKA_INSTALL_H
#define CDC_KAFKA_INSTALL_H

#include "base/changes.h"
#include "base/common.h"
#include "config/topology.h"

/* Name of the digest file written into each unpacked directory. */
#define KAFKA_DIST_MARKER ".cdc-agent-dist.sha512"

/*
 * Converges install_dir to cfg->dist (verified against cfg->sha512), caching
 * the tarball in cache_dir (created if missing).  Records at most one change
 * in changes, under component "kafka"; in plan mode (changes->apply false)
 * that is all it does: no download, no file written.  *changed says whether a
 * change was recorded (made in apply mode, pending in plan mode).
 *
 * Refuses, whatever the mode, an install_dir that is a real directory or file
 * rather than a symlink.  A failure at any point (download, digest, unpack)
 * leaves the previous version and the link as they were.  cfg->dist NULL
 * means Kafka is not installed by the agent: nothing to do.
 */
MUST_CHECK bool kafka_install(const struct kafka_cfg *cfg, const char *cache_dir,
			      struct change_list *changes, bool *changed);

/*
 * Finds the java the broker will run: $JAVA_HOME/bin/java when JAVA_HOME is
 * set (as Kafka's own scripts do, no fallback), else the first executable
 * java in PATH.  *java_path: caller frees.  Fails naming what was searched
 * and the Debian package to install (openjdk-17-jre-headless).
 */
MUST_CHECK bool java_runtime_find(char **java_path);

#endif
