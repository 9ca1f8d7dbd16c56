/*
 * agent/provision/pg_settings.h: the server settings logical decoding needs.
 */
#ifndef CDC_PG_SETTINGS_H
#define CDC_PG_SETTINGS_H

#include "provision/pg_step.h"

/* Makes wal_level = logical and max_replication_slots / max_wal_senders at
 * least the source's values (never lowering a higher one) through ALTER
 * SYSTEM, and max_slot_wal_keep_size the source's when it sets one (a
 * reload applies it).  Adds to restart_reasons each setting whose running
 * value waits for a restart ("wal_level: replica -> logical"). */
MUST_CHECK bool pg_settings_converge(const struct pg_step_ctx *ctx, PGconn *admin,
				     const struct source_cfg *src,
				     struct strlist *restart_reasons);

#endif
