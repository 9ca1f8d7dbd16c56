/*
 * agent/provision/kafka_access.h: who may do what on the brokers the agent
 * runs (issue #16): each pipeline's capture and apply log in with SCRAM
 * as users of their own, with passwords the agent generates, and the
 * broker's authorizer lets each do exactly what it does, no more.
 *
 * Users.  A user exists when it logs in: each converge probes every
 * user with its password (a metadata request on [kafka]
 * bootstrap_servers, as kafka_client_probe_conf_new makes clients); a user
 * the brokers refuse for authentication is (re)made by Kafka's
 * ConfigCommand (kafka_scram_cmd.h: a child, no password in argv) and
 * probed again.
 *
 * ACLs.  What each role may do: the table in kafka_acls.h, a reason for
 * every line.
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
 * topology wants for the agent's users (kafka_acls.h) compared with
 * DescribeAcls; missing ones created, extra ones on those users'
 * principals deleted.
 * Every action one change_record(changes, "kafka", ...) line; a second
 * call changes nothing.  Plan mode (apply false): what would be done,
 * nothing done; when the broker does not answer the admin yet, one line
 * saying users and ACLs will be converged once it runs.  A topology
 * without a sasl_* security_protocol has no users: nothing to do. */
MUST_CHECK bool kafka_access_converge(const struct topology *topo,
				      const struct kafka_access_admin *adm, bool apply,
				      struct change_list *changes);

#endif
