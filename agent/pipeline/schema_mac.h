/*
 * agent/pipeline/schema_mac.h: authenticated schema headers.
 *
 * Capture describes each table in a cdc.columns header; apply turns that
 * description into DDL on the target, and some of it is SQL (column
 * defaults, domain CHECKs, generation expressions).  Anyone who can write to
 * the pipeline's topics could forge such a header, so capture signs it:
 * cdc.columns.mac = hex HMAC-SHA256(key, topic "\n" header).  The key is 32
 * random bytes in <state_dir>/schema-<pipeline>.key, mode 0600, made on
 * first use by capture or apply (both run as the agent's user; Kafka's
 * producers cannot read it).  Apply executes a header's expressions only
 * when its mac verifies.
 */
#ifndef CDC_SCHEMA_MAC_H
#define CDC_SCHEMA_MAC_H

#include "base/common.h"

#include <stddef.h>

struct schema_mac;

/* The pipeline's key, read from state_dir or made there (atomically: two
 * processes starting together end with one key).  A key file that is a
 * link, not owned by this user, readable by others or malformed is refused,
 * naming it.  Caller frees with schema_mac_free(). */
MUST_CHECK bool schema_mac_open(const char *state_dir, const char *pipeline,
				struct schema_mac **out);
void schema_mac_free(struct schema_mac *m);

/* Lowercase hex HMAC-SHA256 of topic "\n" text; caller frees. */
char *schema_mac_sign(const struct schema_mac *m, const char *topic, const char *text,
		      size_t len);
/* Whether mac (mac_len bytes, hex) is text's for topic (constant time). */
bool schema_mac_verify(const struct schema_mac *m, const char *topic, const char *text,
		       size_t len, const char *mac, size_t mac_len);

#endif
