/*
 * agent/provision.h: plan and bootstrap of the PostgreSQL side of a topology.
 */
#ifndef CDC_PROVISION_H
#define CDC_PROVISION_H

#include "common.h"
#include "topology.h"

struct provision_result {
	bool failed;          /* some step failed (logged) */
	bool restart_needed;  /* a server must be restarted and the agent could not */
	size_t n_changes;     /* changes made (bootstrap) or pending (plan) */
};

/* Converges every [source] and [target] (apply) or lists what that would
 * change (plan).  Prints the changes as text, or as JSON on stdout. */
void provision_run(const struct topology *topo, bool apply, bool json,
		   struct provision_result *res);

#endif
