/*
 * agent/capture.h: `cdc-agent capture PIPELINE`: the pipeline's source, from
 * its logical replication slot (pgoutput) to Debezium-compatible events on
 * Kafka, with the slot's confirmed LSN advanced only past transactions whose
 * every event Kafka has acknowledged.
 */
#ifndef CDC_CAPTURE_H
#define CDC_CAPTURE_H

#include "common.h"
#include "topology.h"

/* Runs until SIGTERM/SIGINT (true) or an error it cannot retry (false,
 * logged).  snapshot_mode=initial_only returns after the snapshot. */
MUST_CHECK bool capture_run(const struct topology *topo, const struct pipeline_cfg *pipe);

#endif
