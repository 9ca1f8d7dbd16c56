/*
 * agent/apply/apply.h: `cdc-agent apply PIPELINE`: the pipeline's Kafka topics
 * applied to the target PostgreSQL, with exactly-once effect: each batch of
 * rows and the offsets it consumed commit in one target transaction, and a
 * restart resumes from the offsets stored there, not from Kafka's.
 */
#ifndef CDC_APPLY_H
#define CDC_APPLY_H

#include "base/common.h"
#include "config/topology.h"

enum apply_end {
	APPLY_END_STOPPED, /* SIGTERM/SIGINT */
	APPLY_END_FAILED,  /* a server or Kafka failed: starting again may help */
	APPLY_END_REFUSED, /* a record (or a gap) it cannot go past, logged with topic,
			    * partition and offset: starting again cannot help */
};

/* Runs until SIGTERM/SIGINT or an error it must stop on. */
MUST_CHECK enum apply_end apply_run(const struct topology *topo, const struct pipeline_cfg *pipe);

#endif
