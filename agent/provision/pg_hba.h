/*
 * agent/provision/pg_hba.h: the cdc-agent block in pg_hba.conf (see pg_hba.c).
 */
#ifndef CDC_PG_HBA_H
#define CDC_PG_HBA_H

#include "config/topology.h"

/* The block labelled label that lets server's pipeline role into dbname
 * from each hba_allow address: `host` lines, or `hostssl` when its sslmode
 * requires TLS.  Caller frees. */
char *pg_hba_block(const char *label, const struct pg_server_cfg *server, const char *dbname);

/* The pg_hba.conf text that has block (labelled label) where it must be:
 * current itself when the block is there, whole and ahead of every rule the
 * operator wrote; else current with the block moved or added first.
 * Caller frees. */
char *pg_hba_desired(const char *current, const char *block, const char *label);

#endif
