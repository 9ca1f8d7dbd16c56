/*
 * agent/apply_lag.h: how far apply is behind Kafka: the sum, over every
 * partition of the pipeline's topics, of the high watermark minus the next
 * offset apply stored in the target (cdc_agent.offsets, the offsets that
 * count: they commit with the rows).
 */
#ifndef CDC_APPLY_LAG_H
#define CDC_APPLY_LAG_H

#include "common.h"
#include "topology.h"
#include "util.h"

#include <stdint.h>

/* *lag: events in Kafka not yet applied.  false with why filled in when
 * Kafka or the target cannot be asked. */
MUST_CHECK bool apply_lag_events(const struct topology *topo, const struct pipeline_cfg *pipe,
				 int64_t *lag, struct strbuf *why);

#endif
