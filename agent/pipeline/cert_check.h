/*
 * agent/pipeline/cert_check.h: the certificates the topology names, read
 * for their expiry.
 *
 * Every certificate file of the topology (a [source]'s or [target]'s
 * sslrootcert and sslcert, [kafka]'s ssl_ca_file and ssl_cert_file) is read
 * with libcrypto, every certificate of a PEM file (a CA file often holds
 * several).  A certificate that expires within CERT_WARN_DAYS, one expired
 * and a file that holds no readable certificate are findings: `status`
 * lists them among its warnings, `check` prints them as FILE:LINE:
 * warning: ... at the key that names the file.  A connection fails on an
 * expired certificate with a TLS error that seldom names the file; this
 * says which, a month ahead.
 */
#ifndef CDC_CERT_CHECK_H
#define CDC_CERT_CHECK_H

#include "base/common.h"
#include "config/topology.h"

#include <stddef.h>
#include <time.h>

#define CERT_WARN_DAYS 30

enum cert_state {
	CERT_NEAR,       /* expires within the warning's days */
	CERT_EXPIRED,    /* notAfter is past */
	CERT_UNREADABLE, /* the file cannot be read or holds no readable certificate */
};

struct cert_finding {
	enum cert_state state;
	char *file;      /* the certificate file */
	char *subject;   /* the certificate's subject (RFC 2253); NULL when unreadable */
	int days;        /* CERT_NEAR: days left (rounded up); CERT_EXPIRED: days since */
	char *reason;    /* CERT_UNREADABLE: why; else NULL */
	char *section;   /* "[source db1]", "[kafka]"; NULL when the file was read alone */
	const char *key; /* the topology key naming the file (static); NULL alone */
	int line;        /* the key's line in the topology; 0 alone */
};

struct cert_findings {
	struct cert_finding *items;
	size_t n;
};

/* Reads every certificate of path (PEM) and appends a finding (section,
 * key and line unset) for each one that expires within warn_days of now
 * or has expired, or one for the file when it cannot be read or holds no
 * certificate or a broken one.  Returns the number appended. */
size_t cert_file_check(const char *path, time_t now, int warn_days, struct cert_findings *out);

/* Checks every certificate file topo names (CERT_WARN_DAYS), appending
 * findings with their section, key and line. */
void cert_check_topology(const struct topology *topo, time_t now, struct cert_findings *out);

/* A finding in words, without its FILE:LINE: "[kafka] ssl_ca_file
 * /etc/ca.pem: certificate CN=ca expires in 10 days".  Caller frees. */
char *cert_finding_text(const struct cert_finding *f);

/* Whether f is an error (expired, unreadable) rather than a warning. */
bool cert_finding_is_error(const struct cert_finding *f);

void cert_findings_fini(struct cert_findings *findings);

#endif
