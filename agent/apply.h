/*
 * agent/apply.h: `cdc-agent apply PIPELINE`: the pipeline's Kafka topics
 * applied to the target PostgreSQL, with exactly-once effect: each batch of
 * rows and the offsets it consumed commit in one target transaction, and a
 * restart resumes from the offsets stored there, not from Kafka's.
 */
#ifndef CDC_APPLY_H
#define CDC_APPLY_H

#include "common.h"
#include "topology.h"

/* Runs until SIGTERM/SIGINT (true) or an error it must stop on (false,
 * logged with topic, partition and offset where a record is at fault). */
MUST_CHECK bool apply_run(const struct topology *topo, const struct pipeline_cfg *pipe);

#endif
