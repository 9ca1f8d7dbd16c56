/*
 * agent/provision/pg_hba.h: the cdc-agent block in pg_hba.conf (see pg_hba.c).
 */
#ifndef CDC_PG_HBA_H
#define CDC_PG_HBA_H

/* The pg_hba.conf text that has block (labelled label) where it must be:
 * current itself when the block is there, whole and ahead of every rule the
 * operator wrote; else current with the block moved or added first.
 * Caller frees. */
char *pg_hba_desired(const char *current, const char *block, const char *label);

#endif
