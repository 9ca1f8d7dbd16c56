/*
 * agent/capture/capture_ground.h: capture checks the ground it stands on, at start
 * and every GROUND_CHECK_SECONDS while it streams: the publication holds
 * exactly the source's tables (a table missing from it is not decoded at
 * all: its changes would be lost without a word), and every table's topic
 * exists in Kafka.  What capture does with a verdict: docs/ARCHITECTURE.md
 * "Capture", "Its ground".
 */
#ifndef CDC_CAPTURE_GROUND_H
#define CDC_CAPTURE_GROUND_H

#include "base/common.h"
#include "base/util.h"
#include "config/topology.h"
#include "kafka/kafka_out.h"

#include <libpq-fe.h>

#define GROUND_CHECK_SECONDS 10

enum ground {
	GROUND_OK,
	GROUND_WRONG,   /* *kind and *why say what: "publication" or "topic" */
	GROUND_UNKNOWN, /* a server did not answer (logged, or in *why): no verdict */
};

/* sql: a normal connection to the source; ko: capture's producer;
 * extra_seen: what the previous check found published beyond the topology
 * (kept by the caller, "" at first).  On GROUND_WRONG, *kind is
 * "publication" or "topic" and why names every table at fault, e.g. "table
 * public.big is not in publication p"; a table published beyond the
 * topology is wrong only when two checks in a row find it. */
enum ground capture_ground_check(PGconn *sql, struct kafka_out *ko, const struct source_cfg *src,
				 const char *label, struct strbuf *extra_seen, const char **kind,
				 struct strbuf *why);

#endif
