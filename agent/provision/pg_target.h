/*
 * agent/provision/pg_target.h: provisioning of a [target]: the user, the database and
 * the grants of the seed runbook, and pg_hba entries for the user.
 */
#ifndef CDC_PG_TARGET_H
#define CDC_PG_TARGET_H

#include "base/changes.h"
#include "config/topology.h"

MUST_CHECK bool pg_target_converge(const struct target_cfg *tgt, struct change_list *changes);

#endif
