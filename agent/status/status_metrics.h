/*
 * agent/status/status_metrics.h: the status document in Prometheus's text
 * exposition format (GET /metrics).  Names and labels: docs/STATUS.md.
 */
#ifndef CDC_STATUS_METRICS_H
#define CDC_STATUS_METRICS_H

#include "base/util.h"

#include <jansson.h>

void status_metrics_render(const json_t *doc, struct strbuf *out);

#endif
