/*
 * agent/pipeline/progress_health.h: what a capture or apply process says about its
 * own health in its progress file (members of progress_writer_set, shapes
 * in docs/STATUS.md "The progress file"):
 *   "state": what it is doing ("starting", "snapshotting", "streaming",
 *            "consuming", "reconnecting", "stopping");
 *   "error": the error it is retrying, {kind, message, since_usec, repeats},
 *            kept while the same kind repeats, null once it is over;
 *   "errors_by_kind": {kind: N} since the process started.
 * status.c turns these into FAILED (the same error again and again) or a
 * reason (status_state.c).
 */
#ifndef CDC_PROGRESS_HEALTH_H
#define CDC_PROGRESS_HEALTH_H

#include "pipeline/progress.h"

/* Error kinds (the label of cdc_agent_errors_total). */
#define ERROR_SOURCE_CONNECTION "source_connection"
#define ERROR_TARGET_CONNECTION "target_connection"
#define ERROR_KAFKA_DELIVERY "kafka_delivery"
#define ERROR_REFUSED_RECORD "refused_record"
#define ERROR_PUBLICATION "publication"
#define ERROR_TOPIC "topic"
#define ERROR_REPLICA_IDENTITY "replica_identity" /* a table's identity identifies no row */
/* capture: a change over [kafka] max_message_bytes; standing (FAILED at once) */
#define ERROR_TOO_LARGE "too_large"
/* capture or apply: the brokers' ACLs refused its user; standing (it exits) */
#define ERROR_KAFKA_AUTHORIZATION "kafka_authorization"
/* apply, consistency = transaction: a source transaction has not moved for
 * long while records came; standing (FAILED at once) until it moves */
#define ERROR_TXN_STALL "transaction_stall"

void progress_state_set(struct progress_writer *w, const char *state);

/* The process met an error of kind (again): "error" keeps its since_usec
 * and counts repeats while the kind stays the same; message NULL: the last
 * error line logged.  Counted in errors_by_kind. */
void progress_error_note(struct progress_writer *w, const char *kind, const char *message);

/* The error is over if it is of kind (NULL: any kind). */
void progress_error_clear(struct progress_writer *w, const char *kind);

/* The kind of the error being retried, or NULL. */
const char *progress_error_kind(const struct progress_writer *w);

#endif
