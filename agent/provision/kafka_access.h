/*
 * agent/provision/kafka_access.h: who may do what on the brokers the agent
 * runs (issue #16): each pipeline's capture and apply log in with SCRAM
 * as users of their own, with passwords the agent generates, and the
 * broker's authorizer lets each do exactly what it does, no more.
 *
 * Users.  librdkafka 2.0 has no AlterUserScramCredentials, so a user is
 * (re)made by Kafka's own kafka.admin.ConfigCommand, run as a child (the
 * distribution's java), reaching the brokers as the admin (a super user by
 * its TLS certificate).  The password goes through a file
 * (--add-config-file), the admin's TLS settings through another
 * (--command-config), both mode 0600 in a root-only work_dir and removed
 * when the child is done: no password in argv.  The child's output is
 * kept, shown on a failure, with the password blotted out should it
 * appear there.  A user exists when it logs in: each converge probes every
 * user with its password (a metadata request on [kafka]
 * bootstrap_servers, as kafka_client_probe_conf_new makes clients); a user
 * the brokers refuse for authentication is (re)made and probed again.
 *
 * ACLs.  Read from the code, each role's every request, and the right
 * Kafka checks for it (PREFIXED "<topic_prefix>.": every topic a source
 * produces to is topology_topic's "<topic_prefix>.<schema>.<table>";
 * LITERAL: the group by its name):
 *
 *   principal     resource                         operation        why
 *   capture user  Topic PREFIXED <topic_prefix>.   Describe         metadata: partition counts, leaders,
 *                                                                   which topics exist (kafka_out.c)
 *                                                  Create           CreateTopics of a table's topic
 *                                                                   (kafka_out_ensure_topic)
 *                                                  DescribeConfigs  max.message.bytes read back
 *                                                  AlterConfigs     max.message.bytes raised
 *                                                  Write            Produce; also InitProducerId of
 *                                                                   the idempotent producer: Kafka
 *                                                                   >= 2.8 (KIP-679) takes Write on
 *                                                                   any topic for it, so no Cluster
 *                                                                   IdempotentWrite
 *   apply user    Topic PREFIXED <topic_prefix>.   Read             Fetch; OffsetCommit (kafka_in.c,
 *                                                                   Kafka's offsets for monitoring)
 *                                                  Describe         metadata of the subscription,
 *                                                                   ListOffsets (watermarks: lag,
 *                                                                   accept-gap, gaps), OffsetFetch
 *                                                                   (Read implies it; named so that a
 *                                                                   reader of the ACLs sees it)
 *   apply user    Group LITERAL cdc-agent.<pipeline> Read           JoinGroup/SyncGroup/Heartbeat/
 *                                                                   LeaveGroup, OffsetCommit,
 *                                                                   FindCoordinator and DescribeGroups
 *                                                                   (health_apply; Read implies
 *                                                                   Describe)
 *
 * The probes need nothing more: status and run's health check ask for
 * metadata as the first pipeline's capture user (a login is enough),
 * status's lag and accept-gap ListOffsets as the pipeline's apply user,
 * health_apply describes the group as apply.  No Cluster right is
 * granted.  A PREFIXED "a." also covers the topics of a source whose
 * topic_prefix begins "a." (say "a.b"): give sources prefixes where none
 * begins with another's and a dot.
 *
 * Convergence is by the agent's users (every capture_kafka_user and
 * apply_kafka_user of the topology): the ACLs on their principals
 * (User:<name>, any host) that the table above does not want are deleted,
 * those it wants and the brokers lack are created.  A user the topology
 * no longer names keeps its credentials and ACLs (nothing here knows of
 * it).
 */
#ifndef CDC_KAFKA_ACCESS_H
#define CDC_KAFKA_ACCESS_H

#include "base/changes.h"
#include "base/common.h"
#include "config/topology.h"

struct kafka_access_admin {
	const struct kafka_cfg *admin; /* reaches the broker as a super user, e.g. security_protocol
					* ssl to 127.0.0.1:<internal port> with ssl_cert_file,
					* ssl_key_file (PKCS#8: Java reads no other) and ssl_ca_file;
					* plaintext or ssl */
	const char *java;              /* absolute path of java */
	const char *kafka_home;        /* the unpacked Kafka distribution (libs/ holds the jars) */
	const char *work_dir;          /* a root-only directory for the short-lived command
					* config files */
};

/* Every pipeline's capture_kafka/apply_kafka password_file that does not
 * exist yet is generated (32 random bytes, base64url, one line, mode 0600,
 * owner root; host.c then gives it to the cdc-agent user).  An existing
 * password that ConfigCommand's syntax cannot carry (control characters,
 * non-ASCII bytes: the file is read as ISO-8859-1) is refused naming the
 * file and the character class.  Plan mode (apply false) reports, writes
 * nothing. */
MUST_CHECK bool kafka_access_passwords_ensure(const struct topology *topo, bool apply,
					      struct change_list *changes);

/* Users: each pipeline's capture and apply user logs in on [kafka]
 * bootstrap_servers with its password; one that is refused for
 * authentication is (re)created by ConfigCommand and probed again; other
 * failures are errors naming the broker and the cause.  ACLs: the set the
 * topology wants for the agent's users (above) compared with DescribeAcls;
 * missing ones created, extra ones on those users' principals deleted.
 * Every action one change_record(changes, "kafka", ...) line; a second
 * call changes nothing.  Plan mode (apply false): what would be done,
 * nothing done; when the broker does not answer the admin yet, one line
 * saying users and ACLs will be converged once it runs.  A topology
 * without a sasl_* security_protocol has no users: nothing to do. */
MUST_CHECK bool kafka_access_converge(const struct topology *topo,
				      const struct kafka_access_admin *adm, bool apply,
				      struct change_list *changes);

#endif
