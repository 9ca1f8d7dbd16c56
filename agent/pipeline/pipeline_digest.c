/*
 * agent/pipeline/pipeline_digest.c: per-pipeline configuration digests (rule in
 * pipeline_digest.h).
 */
#include "pipeline/pipeline_digest.h"

#include "base/util.h"
#include "config/topo_values.h"
#include "pipeline/progress.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *sha256_hex(const char *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char *hex;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1)
		n = 0; /* "" never equals a digest: the process counts as stale */
	hex = xmalloc(2 * n + 1);
	hex_encode(md, n, hex);
	return hex;
}

char *pipeline_config_digest(const struct topology *topo, const struct pipeline_cfg *pipe,
			     const char *kind)
{
	struct strbuf text;
	char *hex;

	strbuf_init(&text);
	strbuf_addf(&text, "process=%s\nstate_dir=%s\n", kind, topo->agent.state_dir);
	topology_section_text("kafka", NULL, &topo->kafka, &text);
	topology_section_text("source", pipe->source->name, pipe->source, &text);
	/* With patterns, the tables they select now: a table that appears
	 * and matches makes the running processes stale (restarted). */
	if (!pipe->source->tables_static) {
		strbuf_adds(&text, "resolved_tables=");
		for (size_t i = 0; i < pipe->source->tables.n; i++) {
			char *name = table_ref_text(&pipe->source->tables.items[i]);

			strbuf_addf(&text, "%s%s", i ? "," : "", name);
			free(name);
		}
		strbuf_adds(&text, "\n");
	}
	topology_section_text("pipeline", pipe->name, pipe, &text);
	/* Fan-out: apply verifies with the capturing pipeline's schema key,
	 * so a reorder that moves capture restarts it.  Absent for the
	 * capturing pipeline: a one-pipeline digest is unchanged. */
	if (topology_capture_pipeline(topo, pipe) != pipe)
		strbuf_addf(&text, "captured_by=%s\n", topology_capture_pipeline(topo, pipe)->name);
	if (strcmp(kind, "apply") == 0)
		topology_section_text("target", pipe->target->name, pipe->target, &text);
	hex = sha256_hex(text.data, text.len);
	strbuf_fini(&text);
	return hex;
}

json_t *pipeline_config_digest_json(const struct topology *topo, const struct pipeline_cfg *pipe,
				    const char *kind)
{
	char *hex = pipeline_config_digest(topo, pipe, kind);
	json_t *j = json_string(hex);

	free(hex);
	return j;
}

/* Whether pid is alive and runs `... capture|apply PIPELINE` (a pid from a
 * file left by a process that died may have been given to another).  Under
 * cdc-agent.service's ProtectProc=invisible the agent cannot read another
 * user's /proc/PID: a live pid then counts as the process (holding a drop
 * one pass too long is harmless; dropping a streamed table is not).  Read
 * quietly: the process may end while we look. */
static bool runs_process(int pid, const char *kind, const char *pipeline)
{
	char path[64], args[4096];
	FILE *f;
	size_t len;
	bool kind_seen = false, found = false;

	if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	len = fread(args, 1, sizeof(args) - 1, f);
	fclose(f);
	args[len] = '\0';
	for (size_t i = 0; i < len && !found; i += strlen(args + i) + 1) {
		found = kind_seen && strcmp(args + i, pipeline) == 0;
		kind_seen = strcmp(args + i, kind) == 0;
	}
	return found;
}

enum process_config pipeline_process_config(const struct topology *topo,
					    const struct pipeline_cfg *pipe, const char *kind,
					    int main_pid, char **reported)
{
	struct progress pr;
	bool exists = false;
	const char *have;
	char *want;
	enum process_config verdict;

	if (reported)
		*reported = NULL;
	if (!progress_read(topo->agent.state_dir, kind, pipe->name, &pr, &exists))
		return PROCESS_CONFIG_UNKNOWN;
	if (main_pid ? pr.pid != main_pid : !runs_process(pr.pid, kind, pipe->name)) {
		progress_fini(&pr);
		return PROCESS_CONFIG_UNKNOWN;
	}
	have = json_string_value(json_object_get(pr.extra, "config_digest"));
	want = pipeline_config_digest(topo, pipe, kind);
	verdict = have && strcmp(have, want) == 0 ? PROCESS_CONFIG_CURRENT : PROCESS_CONFIG_STALE;
	if (reported && have)
		*reported = xstrdup(have);
	free(want);
	progress_fini(&pr);
	return verdict;
}
