/*
 * agent/capture/capture.h: `cdc-agent capture PIPELINE`: the pipeline's source, from
 * its logical replication slot (pgoutput) to Debezium-compatible events on
 * Kafka, with the slot's confirmed LSN advanced only past transactions whose
 * every event Kafka has acknowledged.
 */
#ifndef CDC_CAPTURE_H
#define CDC_CAPTURE_H

#include "base/common.h"
#include "config/topology.h"

enum capture_end {
	CAPTURE_END_OK,      /* SIGTERM/SIGINT, or initial_only's snapshot done */
	CAPTURE_END_FAILED,  /* an error it cannot retry (logged): starting again may help */
	CAPTURE_END_REFUSED, /* a change too large for Kafka ([kafka] max_message_bytes),
			      * logged with table, key and size: every start meets it again */
};

/* Runs until SIGTERM/SIGINT or an error it cannot retry (logged).
 * snapshot_mode=initial_only returns after the snapshot. */
MUST_CHECK enum capture_end capture_run(const struct topology *topo,
					const struct pipeline_cfg *pipe);

#endif
