/*
 * agent/status/status_http.h: the agent's HTTP endpoints (libmicrohttpd, one
 * thread of its own), on a loopback address ([agent] status_listen):
 *   GET /status                     the status document (docs/STATUS.md)
 *   GET /connectors                 Kafka Connect's list of connector names
 *   GET /connectors?expand=status   ... with each one's status
 *   GET /connectors/NAME/status     Kafka Connect's connector status shape
 *   GET /metrics                    Prometheus text format
 * They serve the last document `run` published: a request never waits on
 * a server, and a slow scraper cannot slow the reconcile loop.  Clients are
 * not trusted (docs/STATUS.md "Limits"): Host must name this endpoint, only
 * GET and HEAD, short paths, connections limited per address and in all,
 * a request head not complete 2 s after connecting is cut; refusals are
 * logged at most once per 10 s, summarised.
 */
#ifndef CDC_STATUS_HTTP_H
#define CDC_STATUS_HTTP_H

#include "base/common.h"

#include <jansson.h>

struct status_http;

/* Listens on listen ("127.0.0.1:8083", "[::1]:8083"); *out is freed by
 * status_http_stop. */
MUST_CHECK bool status_http_start(const char *listen, struct status_http **out);
/* Serves doc from now on (takes the caller's reference). */
void status_http_publish(struct status_http *h, json_t *doc);
void status_http_stop(struct status_http *h);

/* Kafka Connect's GET /connectors/NAME/status body for connector name in
 * doc, or NULL when no pipeline has it.  worker_id: "host:port".  Caller
 * json_decref()s.  (Exposed for the unit tests.) */
json_t *status_connect_shape(const json_t *doc, const char *name, const char *worker_id);

/* Whether an HTTP Host header value names the endpoint listening on listen
 * ("127.0.0.1:8083"): localhost, an address of 127.0.0.0/8 or [::1]
 * written out, or listen's host; with no port or listen's port.  (Exposed
 * for the unit tests.) */
bool status_http_host_allowed(const char *host, const char *listen);

#endif
