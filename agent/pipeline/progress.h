/*
 * agent/pipeline/progress.h: how far capture and apply got, for the agent and
 * `cdc-agent status`: a small JSON file per process in [agent] state_dir,
 * <state_dir>/progress-<kind>-<pipeline>.json, kind "capture" or "apply".
 *
 * The processes run as the cdc-agent user and the agent as root, so a file
 * (mode 0640) is the simplest channel both can use without a socket.
 */
#ifndef CDC_PROGRESS_H
#define CDC_PROGRESS_H

#include "base/common.h"

#include <jansson.h>
#include <stdint.h>

struct progress {
	uint64_t events;           /* events produced (capture) or applied (apply) since the process started */
	int64_t last_event_usec;   /* CLOCK_REALTIME of the last event's source commit (capture: commit time from pgoutput; apply: the event's source ts_ms); 0: none yet */
	int64_t updated_usec;      /* when the process last wrote the file */
	int pid;
	char *last_error;          /* last error the process logged, or NULL */
	/* More members of the file's top object, each owned by the part of the
	 * process that sets it (config digest, state, snapshot, counters):
	 * written as they are, read back whole; an owned reference, may be
	 * NULL (nothing more). Keys must not be the ones above. */
	json_t *extra;
};

/* <state_dir>/progress-<kind>-<pipeline>.json, kind "capture" or "apply".
 * Written atomically (files.c), mode 0640, at most once a second from the
 * process's loop, and once at exit with last_error set if it failed. */
MUST_CHECK bool progress_write(const char *state_dir, const char *kind, const char *pipeline,
			       const struct progress *p);
/* false with nothing logged when the file does not exist (*exists=false);
 * caller frees with progress_fini. */
MUST_CHECK bool progress_read(const char *state_dir, const char *kind, const char *pipeline,
			      struct progress *p, bool *exists);
void progress_fini(struct progress *p);

/*
 * What a capture or apply process keeps: the hot path only bumps the
 * counters (progress_writer_event); progress_writer_tick writes the file
 * when a second has passed.  A failed write is a warning, at most one a
 * minute, never an error: monitoring must not stop the pipeline.
 */
struct progress_writer {
	char *state_dir, *kind, *pipeline;
	struct progress p;
	int64_t next_write;        /* CLOCK_MONOTONIC usec */
	int64_t next_warning;
	/* Called just before each write (may be NULL): members that cost
	 * something to build (counts by table) are set there, once a second,
	 * not at every tick. */
	void (*refresh)(struct progress_writer *w, void *ctx);
	void *refresh_ctx;
};

void progress_writer_init(struct progress_writer *w, const char *state_dir, const char *kind,
			  const char *pipeline);
/* Sets (value not NULL, reference stolen) or removes one member of the
 * file's extra members; written at the next tick. */
void progress_writer_set(struct progress_writer *w, const char *key, json_t *value);
/* One event; source_usec is its source commit time (0: unknown). */
static inline void progress_writer_event(struct progress_writer *w, int64_t source_usec)
{
	w->p.events++;
	if (source_usec > 0)
		w->p.last_event_usec = source_usec;
}
/* Writes the file when a second has passed since the last write, or now
 * when force is set. */
void progress_writer_tick(struct progress_writer *w, bool force);
/* The last write (with the process's last error when failed) and cleanup. */
void progress_writer_fini(struct progress_writer *w, bool failed);

#endif
