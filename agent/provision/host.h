/*
 * agent/provision/host.h: the host part of bootstrap: Kafka installed, ZooKeeper and
 * Kafka configured and running under systemd, the pipelines' capture and
 * apply units enabled, running and healthy.
 */
#ifndef CDC_HOST_H
#define CDC_HOST_H

#include "base/changes.h"
#include "base/common.h"
#include "config/topology.h"

struct supervisor;

/* Converges the host (changes->apply) or records what that would change.
 * Stops at the first failure, logged with the component and its cause;
 * the changes recorded so far say what was already done.
 * sup NULL (bootstrap): every unit of the topology is started.  With a
 * supervisor (run): stopped units are started only as its rule says, and
 * units left as they are get no health wait (status reports them). */
MUST_CHECK bool host_converge(const struct topology *topo, struct supervisor *sup,
			      struct change_list *changes);

enum teardown_result {
	TEARDOWN_DONE,
	TEARDOWN_UNCONFIRMED, /* no confirm: said what it would do, did nothing */
	TEARDOWN_FAILED,      /* logged; what was done before is printed */
};

/* Stops the pipeline's capture and apply units (with [agent] manage_units;
 * nothing disables them), then drops its source slot (the slot left behind is what fills disks with WAL).
 * Without confirm it only says what it would do, touching nothing. */
MUST_CHECK enum teardown_result host_teardown(const struct topology *topo,
					      const struct pipeline_cfg *pipe, bool confirm);

#endif
