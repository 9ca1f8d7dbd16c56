/*
 * agent/status/status.h: the state of a deployment as one JSON document: the
 * components (ZooKeeper, Kafka, PostgreSQL servers), every pipeline's
 * units, progress, lag and slot, and the slots no pipeline reads.  Its
 * schema is documented in docs/STATUS.md; `status --json` prints it,
 * `status` renders it as a table, `run` serves it over HTTP (status_http.c)
 * in its own shape and in Kafka Connect's and Prometheus's.
 */
#ifndef CDC_STATUS_H
#define CDC_STATUS_H

#include "base/common.h"
#include "config/topology.h"

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

/* ---- reading a document (the table, the HTTP shapes, run) ---- */

/* v's string, or dflt when v is not a string. */
const char *status_str(const json_t *v, const char *dflt);

/* The element of doc's array key whose field is the string value (NULL if
 * none), e.g. status_find(doc, "pipelines", "name", "db1-to-db2"). */
const json_t *status_find(const json_t *doc, const char *key, const char *field,
			  const char *value);

/* What a pipeline's capture or apply "half" is doing, from its unit and
 * the supervisor's view (or, with no unit, its progress file). */
enum process_state {
	PROCESS_RUNNING,
	PROCESS_STOPPED,  /* stopped by an operator */
	PROCESS_FAILED,   /* failed, or the supervisor gave up on it */
	PROCESS_STARTING, /* activating, restarting, not started yet */
	PROCESS_UNKNOWN,  /* systemd could not be asked; no unit and no progress */
};
enum process_state status_process_state(const json_t *half);


#endif
