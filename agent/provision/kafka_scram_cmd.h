/*
 * agent/provision/kafka_scram_cmd.h: a Kafka user's SCRAM credentials set
 * (issue #16; who the users are and when they are set: kafka_access.h).
 *
 * librdkafka 2.0 has no AlterUserScramCredentials, so a user is (re)made
 * by Kafka's own kafka.admin.ConfigCommand, run as a child (the
 * distribution's java), reaching the brokers as the admin (a super user by
 * its TLS certificate).  The password goes through a file
 * (--add-config-file), the admin's TLS settings through another
 * (--command-config), both mode 0600 in a root-only work_dir and removed
 * when the child is done: no password in argv.  The child's output is
 * kept, shown on a failure, with the password blotted out should it
 * appear there.
 */
#ifndef CDC_KAFKA_SCRAM_CMD_H
#define CDC_KAFKA_SCRAM_CMD_H

#include "base/common.h"
#include "config/topology.h"
#include "provision/kafka_access.h"

/* The SCRAM credentials (mechanism, e.g. SCRAM-SHA-512) of cred's user set
 * to its password, by ConfigCommand as the admin. */
MUST_CHECK bool kafka_scram_user_set(const struct kafka_access_admin *adm, const char *mechanism,
				     const struct kafka_credentials *cred);

#endif
