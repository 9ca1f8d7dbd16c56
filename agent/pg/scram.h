/*
 * agent/pg/scram.h: checks a stored SCRAM-SHA-256 verifier against a password.
 *
 * PostgreSQL stores "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
 * (RFC 5802/7677).  The salt is random, so two verifiers of one password
 * differ; recomputing the keys with the stored salt is how the agent knows
 * whether a role's password already converged without ever setting it again.
 */
#ifndef CDC_SCRAM_H
#define CDC_SCRAM_H

#include "base/common.h"

/* True when verifier was made from password.  Passwords are compared as
 * their raw bytes: right for ASCII, and for non-ASCII text that SASLprep
 * leaves unchanged (NFKC-normalised, no mapped characters). */
bool scram_verifier_matches(const char *verifier, const char *password);

#endif
