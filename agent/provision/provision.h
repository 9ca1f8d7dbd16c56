/*
 * agent/provision/provision.h: plan and bootstrap of the PostgreSQL side of a topology.
 */
#ifndef CDC_PROVISION_H
#define CDC_PROVISION_H

#include "base/changes.h"
#include "base/common.h"
#include "config/topology.h"

struct provision_result {
	bool failed;          /* some step failed (logged) */
	bool restart_needed;  /* a server must be restarted and the agent could not */
	size_t n_changes;     /* changes made (bootstrap) or pending (plan) */
	double pg_seconds;    /* wall time of the PostgreSQL part */
	double host_seconds;  /* wall time of the host part (0 when not run) */
};

struct supervisor;

/* Converges every [source] and [target], then (when [agent] manage_units)
 * the host, recording each change in changes (changes->apply: make them).
 * sup: see host_converge().  The caller holds the converge lock (run: it
 * checks the topology file under the lock, so a bootstrap that finished
 * before is seen, and one that starts after waits; provision_run takes it
 * itself). */
void provision_converge_held(struct topology *topo, struct supervisor *sup,
			     struct change_list *changes, struct provision_result *res);

/* Converges every [source] and [target] (apply) or lists what that would
 * change (plan).  Prints the changes as text, or as JSON on stdout. */
void provision_run(struct topology *topo, bool apply, bool json,
		   struct provision_result *res);

#endif
