/*
 * agent/pipeline/pipeline_digest.h: the configuration a capture or apply process
 * runs with, as a digest, and whether the running process has the
 * topology's.
 *
 * capture and apply read the topology once, at start.  Each writes the
 * digest of the values it uses into its progress file ("config_digest");
 * the agent compares it with the digest of the topology in force to know
 * which process runs an older configuration: that one is restarted, and
 * a table it may still stream stays in its publication until then.
 */
#ifndef CDC_PIPELINE_DIGEST_H
#define CDC_PIPELINE_DIGEST_H

#include "base/common.h"
#include "config/topology.h"

#include <jansson.h>

/* Hex SHA-256 over the canonical text (topology_section_text) of every
 * value the process of kind ("capture" or "apply") of pipe uses: [agent]
 * state_dir, [kafka], the [source] and the [pipeline]; for apply also the
 * [target]; and the tables the source's patterns select (table_select.h);
 * for a pipeline that does not capture its source (fan-out), the name of
 * the one that does.  Other pipelines' sections do not enter.  Caller
 * frees. */
char *pipeline_config_digest(const struct topology *topo, const struct pipeline_cfg *pipe,
			     const char *kind);

/* The same as a JSON string (a new reference), for the progress file. */
json_t *pipeline_config_digest_json(const struct topology *topo, const struct pipeline_cfg *pipe,
				    const char *kind);

enum process_config {
	PROCESS_CONFIG_CURRENT, /* runs with the topology's digest */
	PROCESS_CONFIG_STALE,   /* runs with another one (or none: an older agent) */
	PROCESS_CONFIG_UNKNOWN, /* no such process runs, or it has not reported yet */
};

/* What the running process of kind of pipe reports in its progress file,
 * against the topology's digest.  main_pid: the unit's MainPID when systemd
 * was asked (the file must be that process's), 0 when not known (the pid in
 * the file must then be alive and, when /proc shows it, run `capture|apply
 * PIPELINE`).  *reported
 * (may be NULL) receives the digest read, or NULL; caller frees. */
enum process_config pipeline_process_config(const struct topology *topo,
					    const struct pipeline_cfg *pipe, const char *kind,
					    int main_pid, char **reported);

#endif
