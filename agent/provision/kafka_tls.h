/*
 * agent/provision/kafka_tls.h: the TLS files of the broker the agent
 * installs, made and kept in one directory (e.g. /etc/cdc-agent/kafka-tls).
 *
 * A private CA (EC P-256, 10 years) signs an internal certificate, the
 * broker's own identity on its INTERNAL and CONTROLLER listeners and the
 * agent's admin identity, and, unless the topology names one, the
 * certificate of the clients' listener.  Every file is checked at each
 * call and rewritten only when it is missing, unusable, about to expire or
 * no longer what is wanted: a second call with the same want changes
 * nothing.  Every key is EC P-256, written as PKCS#8 ("BEGIN PRIVATE KEY"),
 * the only form Kafka's PEM keystores read.
 */
#ifndef CDC_KAFKA_TLS_H
#define CDC_KAFKA_TLS_H

#include "base/changes.h"
#include "base/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Subject CN of the internal certificate, its whole subject: Kafka's
 * principal is then "User:CN=cdc-agent-broker", the super user. */
#define KAFKA_TLS_BROKER_CN "cdc-agent-broker"
/* The generated CA certificate, 0644 root:group: clients trust it. */
#define KAFKA_TLS_CA        "ca.pem"
/* Its key, 0600, owner root. */
#define KAFKA_TLS_CA_KEY    "ca.key"
/* Key (PKCS#8) + certificate + CA certificate, 0640 root:group: keystore of
 * the broker's INTERNAL and CONTROLLER listeners (mutual TLS on 127.0.0.1)
 * and the agent's own admin identity. */
#define KAFKA_TLS_INTERNAL  "internal.pem"
/* Key (PKCS#8) + certificate chain, 0640 root:group: keystore of the
 * clients' SASL_SSL listener. */
#define KAFKA_TLS_LISTENER  "listener.pem"

/* Days before its end from which a certificate is renewed. */
#define KAFKA_TLS_RENEW_DAYS 30
#define KAFKA_TLS_CA_DAYS    3650
#define KAFKA_TLS_LEAF_DAYS  730

struct kafka_tls_want {
	const char *dir;          /* made 0755 root:group if missing (ca.pem is for everyone) */
	const char *const *hosts; /* names clients use for this broker (from
					* bootstrap_servers): the SANs of the
					* generated listener certificate */
	size_t n_hosts;
	const char *broker_cert_file; /* PEM certificate (+ chain); NULL: generate
					* one signed by ca.pem */
	const char *broker_key_file;  /* its private key (any unencrypted PEM form) */
	gid_t group;                  /* the kafka group, which must read the keystores */
	bool apply;                   /* false (plan): report what would change, write
					* nothing */
};

/*
 * Makes dir's files what want says.  Each file written (or, in plan mode,
 * that would be) is one change under component "kafka" naming it and why
 * ("created", "re-issued: SANs changed", ...), and sets *changed (or-ed:
 * never cleared).  A file of dir that is a symbolic link is refused, never
 * followed.  A named certificate whose key does not match it, that is
 * expired or not yet valid, or a named file that cannot be read is refused
 * with an error naming the file, in plan mode too.
 */
MUST_CHECK bool kafka_tls_ensure(const struct kafka_tls_want *want, struct change_list *changes,
				 bool *changed);

#endif
