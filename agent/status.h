/*
 * agent/status.h: the state of a deployment as one JSON document: the
 * components (ZooKeeper, Kafka, PostgreSQL servers), every pipeline's
 * units, progress, lag and slot, and the slots no pipeline reads.  Its
 * schema is documented in docs/STATUS.md; `status --json` prints it,
 * `status` renders it as a table, `run` serves it over HTTP (status_http.c)
 * in its own shape and in Kafka Connect's and Prometheus's.
 */
#ifndef CDC_STATUS_H
#define CDC_STATUS_H

#include "common.h"
#include "topology.h"

#include <jansson.h>
#include <stdio.h>

#define STATUS_SCHEMA_VERSION 1

struct supervisor;

/* Asks every server and systemd; never fails (what cannot be asked is
 * reported in the document).  sup: run's supervisor (NULL for the status
 * verb); prev: the previous document, for events/s (NULL: rates from the
 * processes' own progress files).  Caller json_decref()s. */
json_t *status_collect(const struct topology *topo, struct supervisor *sup, const json_t *prev);

/* The table `cdc-agent status` prints. */
void status_print_table(const json_t *doc, FILE *out);

/* Kafka Connect's names for a pipeline's two halves: "source-<source>" and
 * "sink-<target>" (as the runbook named its connectors; "sink-<pipeline>"
 * when several pipelines share a target).  Caller frees. */
char *status_connector_name(const struct topology *topo, const struct pipeline_cfg *pipe,
			    bool source);

#endif
