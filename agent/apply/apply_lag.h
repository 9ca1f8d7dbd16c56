/*
 * agent/apply/apply_lag.h: apply's stored offsets against Kafka's logs.
 *
 * The lag: the sum, over every partition of the pipeline's topics, of the
 * high watermark minus the next offset apply stored in the target
 * (cdc_agent.offsets, the offsets that count: they commit with the rows).
 *
 * A gap: a stored offset outside its partition's log (retention removed
 * records apply had not read, or the topic was made anew).  apply stops on
 * one (apply.c); only `cdc-agent accept-gap PIPELINE --yes` goes on past it.
 */
#ifndef CDC_APPLY_LAG_H
#define CDC_APPLY_LAG_H

#include "base/common.h"
#include "base/util.h"
#include "config/topology.h"

#include <stdint.h>

/* *lag: events in Kafka not yet applied.  false with why filled in when
 * Kafka or the target cannot be asked. */
MUST_CHECK bool apply_lag_events(const struct topology *topo, const struct pipeline_cfg *pipe,
				 int64_t *lag, struct strbuf *why);

/* Lists each partition of the pipeline whose stored offset lies outside its
 * log, on stdout; with confirmed, moves that offset to the log's start (apply
 * then goes on from there: the records in between are lost).  *gaps: how
 * many were found. */
MUST_CHECK bool apply_gap_accept(const struct topology *topo, const struct pipeline_cfg *pipe,
				 bool confirmed, int *gaps);

#endif
