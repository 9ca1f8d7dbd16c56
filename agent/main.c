/*
 * agent/main.c: the command line: global options, the verb table, and the
 * mapping of results to exit codes (the only place that decides them).
 */
#include "apply/apply.h"
#include "apply/apply_lag.h"
#include "base/common.h"
#include "base/log.h"
#include "capture/capture.h"
#include "capture/capture_snapshot.h"
#include "config/topo_doc.h"
#include "config/topo_warnings.h"
#include "config/topology.h"
#include "pipeline/cert_check.h"
#include "provision/host.h"
#include "provision/provision.h"
#include "run/run.h"
#include "status/status.h"
#include "status/status_fetch.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#ifndef CDC_AGENT_VERSION
#define CDC_AGENT_VERSION "0.0.0-dev"
#endif

#define DEFAULT_TOPOLOGY "/etc/cdc-agent/cdc-agent.ini"

struct cli_options {
	const char *topology_path;
	bool json;
	bool yes;
	bool wait;
	int argc;          /* verb arguments after the verb */
	char **argv;
};

struct verb {
	const char *name;
	const char *args;
	int nargs;          /* positional arguments after the verb */
	const char *summary;
	int (*run)(const struct cli_options *opts);
};

static int verb_check(const struct cli_options *opts);
static int verb_plan(const struct cli_options *opts);
static int verb_bootstrap(const struct cli_options *opts);
static int verb_capture(const struct cli_options *opts);
static int verb_apply(const struct cli_options *opts);
static int verb_teardown(const struct cli_options *opts);
static int verb_accept_gap(const struct cli_options *opts);
static int verb_run(const struct cli_options *opts);
static int verb_status(const struct cli_options *opts);
static int verb_snapshot(const struct cli_options *opts);

static const struct verb verbs[] = {
	{ "check", "", 0, "validate the topology; print every error as FILE:LINE", verb_check },
	{ "plan", "[--json]", 0, "show what bootstrap would change, changing nothing", verb_plan },
	{ "bootstrap", "[--json]", 0, "make this host match the topology; report each change",
	  verb_bootstrap },
	{ "run", "", 0, "long-running agent under systemd (reconcile, supervise)", verb_run },
	{ "status", "[--json]", 0, "components, units and pipelines with their lag", verb_status },
	{ "capture", "PIPELINE", 1, "stream the source's changes to Kafka", verb_capture },
	{ "apply", "PIPELINE", 1, "apply the pipeline's Kafka topics to the target", verb_apply },
	{ "teardown", "PIPELINE --yes", 1, "stop a pipeline's units and drop its slot", verb_teardown },
	{ "accept-gap", "PIPELINE --yes", 1, "let apply go on past records lost to retention",
	  verb_accept_gap },
	{ "snapshot", "PIPELINE TABLE [--wait]", 2,
	  "snapshot one table again while capture streams", verb_snapshot },
};

static void print_usage(FILE *out)
{
	fprintf(out,
		"usage: cdc-agent [-c FILE] [-v|-q] VERB [ARGS]\n"
		"       cdc-agent --help | --version\n\n"
		"Makes PostgreSQL -> Kafka -> PostgreSQL change data capture true on this host,\n"
		"as the topology FILE (default %s) describes.\n\n"
		"Verbs:\n",
		DEFAULT_TOPOLOGY);
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
		fprintf(out, "  %-10s %-24s %s\n", verbs[i].name, verbs[i].args,
			verbs[i].summary);
	fprintf(out,
		"\nOptions:\n"
		"  -c, --config FILE  topology file\n"
		"  -v, --verbose      also log debug lines\n"
		"  -q, --quiet        log errors only\n"
		"      --json         machine-readable output (plan, bootstrap, status)\n"
		"      --wait         snapshot: follow it until the table is done\n"
		"\nExit codes:\n"
		"  0  done (plan: nothing to change; status: every pipeline RUNNING)\n"
		"  1  a server, file or command failed (status: something is not RUNNING)\n"
		"  2  plan: bootstrap would change something; teardown without --yes;\n"
		"     accept-gap without --yes: there are gaps\n"
		"  3  the topology is invalid\n"
		"  4  PostgreSQL must be restarted and the agent could not do it\n"
		" 64  bad command line\n"
		" 65  apply: a record or gap it cannot go past; capture: a change too large\n"
		"     for Kafka (their units do not restart on it)\n");
}

static bool load_topology(const struct cli_options *opts, struct topology **topo)
{
	return topology_load(opts->topology_path, topo);
}

/* check_warnings: what check prints beside a valid topology, never
 * failing it: unencrypted connections off loopback (topo_warnings.h),
 * certificates near expiry, expired or unreadable (at the key naming the
 * file). */
static void check_warnings(const struct topology *topo)
{
	struct cert_findings found = { 0 };

	topology_print_warnings(topo);
	cert_check_topology(topo, time(NULL), &found);
	for (size_t i = 0; i < found.n; i++) {
		char *text = cert_finding_text(&found.items[i]);

		log_warn_at(topo->path, found.items[i].line, "%s", text);
		free(text);
	}
	cert_findings_fini(&found);
}

static int verb_check(const struct cli_options *opts)
{
	struct topology *topo;

	if (!load_topology(opts, &topo))
		return EXIT_BAD_CONFIG; /* errors already printed */
	check_warnings(topo);
	printf("%s: ok (%zu source%s, %zu target%s, %zu pipeline%s)\n", topo->path,
	       topo->n_sources, topo->n_sources == 1 ? "" : "s", topo->n_targets,
	       topo->n_targets == 1 ? "" : "s", topo->n_pipelines,
	       topo->n_pipelines == 1 ? "" : "s");
	topology_free(topo);
	return EXIT_OK;
}

static int provision_exit_code(const struct provision_result *res, bool apply)
{
	if (res->failed)
		return EXIT_ERROR;
	if (res->restart_needed)
		return EXIT_RESTART_REQUIRED;
	if (!apply && res->n_changes > 0)
		return EXIT_CHANGES_PENDING;
	return EXIT_OK;
}

static int run_provision(const struct cli_options *opts, bool apply)
{
	struct topology *topo;
	struct provision_result res;

	if (!load_topology(opts, &topo))
		return EXIT_BAD_CONFIG;
	provision_run(topo, apply, opts->json, &res);
	topology_free(topo);
	return provision_exit_code(&res, apply);
}

static int verb_plan(const struct cli_options *opts)
{
	return run_provision(opts, false);
}

static int verb_bootstrap(const struct cli_options *opts)
{
	return run_provision(opts, true);
}

static bool teardown_confirmed;
static enum teardown_result teardown_result;

static bool teardown_run(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	teardown_result = host_teardown(topo, pipe, teardown_confirmed);
	return teardown_result == TEARDOWN_DONE;
}

/* Loads the topology and finds the pipeline named on the command line. */
static int with_pipeline(const struct cli_options *opts,
			 bool (*run)(const struct topology *, const struct pipeline_cfg *))
{
	struct topology *topo;
	const struct pipeline_cfg *pipe = NULL;
	bool ok;

	if (!load_topology(opts, &topo))
		return EXIT_BAD_CONFIG;
	for (size_t i = 0; i < topo->n_pipelines; i++)
		if (strcmp(topo->pipelines[i].name, opts->argv[0]) == 0)
			pipe = &topo->pipelines[i];
	if (!pipe) {
		log_error_at(topo->path, 0, "no [pipeline %s] in the topology", opts->argv[0]);
		topology_free(topo);
		return EXIT_BAD_CONFIG;
	}
	ok = run(topo, pipe);
	topology_free(topo);
	return ok ? EXIT_OK : EXIT_ERROR;
}

static enum capture_end capture_end;
static bool capture_elsewhere;

static bool capture_verb_run(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	const struct pipeline_cfg *cap = topology_capture_pipeline(topo, pipe);

	/* Fan-out: one capture per source, its first pipeline's; a second
	 * reader of the slot would only fail, or steal it between restarts. */
	if (cap != pipe) {
		log_error_at(topo->path, pipe->origin.line,
			     "pipeline %s has no capture: source %s is captured by pipeline %s, the first [pipeline] of that source; run `cdc-agent capture %s`",
			     pipe->name, pipe->source_name, cap->name, cap->name);
		capture_elsewhere = true;
		return false;
	}
	capture_end = capture_run(topo, pipe);
	return capture_end == CAPTURE_END_OK;
}

/* A change too large for Kafka exits 65, as apply's refused record: its
 * unit does not restart on it (RestartPreventExitStatus=), run's
 * supervisor leaves it failed, status says FAILED with the reason. */
static int verb_capture(const struct cli_options *opts)
{
	int rc = with_pipeline(opts, capture_verb_run);

	if (rc == EXIT_ERROR && capture_elsewhere)
		return EXIT_USAGE;
	return rc == EXIT_ERROR && capture_end == CAPTURE_END_REFUSED ? EXIT_REFUSED_INPUT : rc;
}

static enum apply_end apply_end;

static bool apply_verb_run(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	apply_end = apply_run(topo, pipe);
	return apply_end == APPLY_END_STOPPED;
}

/* A record apply cannot go past exits 65, which its unit does not restart
 * on (RestartPreventExitStatus=): the unit is failed, and status says so. */
static int verb_apply(const struct cli_options *opts)
{
	int rc = with_pipeline(opts, apply_verb_run);

	return rc == EXIT_ERROR && apply_end == APPLY_END_REFUSED ? EXIT_REFUSED_INPUT : rc;
}

/* Without --yes: says what it would do and exits 2 (like plan); a
 * teardown that failed exits 1. */
static int verb_teardown(const struct cli_options *opts)
{
	int rc;

	teardown_confirmed = opts->yes;
	rc = with_pipeline(opts, teardown_run);
	if (rc == EXIT_ERROR && teardown_result == TEARDOWN_UNCONFIRMED)
		return EXIT_CHANGES_PENDING;
	return rc;
}

static bool gap_confirmed;
static int gaps_found;

static bool accept_gap_run(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	return apply_gap_accept(topo, pipe, gap_confirmed, &gaps_found);
}

/* Without --yes: lists the gaps and exits 2 when there are any (like plan). */
static int verb_accept_gap(const struct cli_options *opts)
{
	int rc;

	gap_confirmed = opts->yes;
	rc = with_pipeline(opts, accept_gap_run);
	return rc == EXIT_OK && gaps_found > 0 && !opts->yes ? EXIT_CHANGES_PENDING : rc;
}

static const char *snapshot_table;
static bool snapshot_wait;
static enum snapshot_request_result snapshot_result;

static bool snapshot_verb_run(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	snapshot_result = snapshot_request(topo, pipe, snapshot_table, snapshot_wait);
	return snapshot_result == SNAPSHOT_REQUEST_OK;
}

/* A table that is not the pipeline's is a bad argument (64). */
static int verb_snapshot(const struct cli_options *opts)
{
	int rc;

	snapshot_table = opts->argv[1];
	snapshot_wait = opts->wait;
	rc = with_pipeline(opts, snapshot_verb_run);
	return rc == EXIT_ERROR && snapshot_result == SNAPSHOT_REQUEST_BAD_TABLE ? EXIT_USAGE : rc;
}

static int verb_run(const struct cli_options *opts)
{
	switch (run_agent(opts->topology_path)) {
	case RUN_END_STOPPED:
		return EXIT_OK;
	case RUN_END_BAD_TOPOLOGY:
		return EXIT_BAD_CONFIG;
	case RUN_END_FAILED:
		break;
	}
	return EXIT_ERROR;
}

/* Every pipeline RUNNING (or SNAPSHOTTING: working as it should) and every
 * component healthy. */
static bool status_all_good(const json_t *doc)
{
	const json_t *item;
	size_t i;

	json_array_foreach(json_object_get(doc, "pipelines"), i, item) {
		const char *state = status_str(json_object_get(item, "state"), "?");

		if (strcmp(state, "RUNNING") != 0 && strcmp(state, "SNAPSHOTTING") != 0)
			return false;
	}
	json_array_foreach(json_object_get(doc, "components"), i, item)
		if (!json_is_true(json_object_get(item, "healthy")))
			return false;
	return true;
}

/*
 * The agent serves the topology it has loaded; an edit it has not loaded yet
 * (its next pass does, or the file is invalid) would leave the edited
 * pipelines out of the table without a word.  Says so, and which pipelines
 * the agent does not run yet; false then (something is pending).
 */
static bool status_topology_current(json_t *doc, const struct topology *topo)
{
	const char *served = json_string_value(
		json_object_get(json_object_get(doc, "agent"), "topology_sha512"));
	json_t *warnings = json_object_get(doc, "warnings");

	if (!served || strcmp(served, topo->sha512) == 0)
		return true;
	if (!json_is_array(warnings)) {
		warnings = json_array();
		json_object_set_new(doc, "warnings", warnings);
	}
	json_array_append_new(warnings,
			      json_sprintf("the agent runs topology %.12s..., not %s as it is now "
					   "(%.12s...): an edit it has not loaded yet, or an invalid one",
					   served, topo->path, topo->sha512));
	for (size_t i = 0; i < topo->n_pipelines; i++)
		if (!status_find(doc, "pipelines", "name", topo->pipelines[i].name))
			json_array_append_new(warnings,
					      json_sprintf("pipeline %s is in %s but not yet run by the agent",
							   topo->pipelines[i].name, topo->path));
	return false;
}

/* The running agent's document when it answers, else one collected here. */
static int verb_status(const struct cli_options *opts)
{
	struct topology *topo;
	json_t *doc = NULL;
	bool good, current;

	if (!load_topology(opts, &topo))
		return EXIT_BAD_CONFIG;
	if (topo->agent.status_listen)
		doc = status_fetch(topo->agent.status_listen);
	if (!doc)
		doc = status_collect(topo, NULL, NULL);
	current = status_topology_current(doc, topo);
	if (opts->json) {
		char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		puts(text ? text : "null");
		free(text);
	} else {
		status_print_table(doc, stdout);
		if (!json_is_object(json_object_get(doc, "agent")))
			printf("\n(the agent is not running: collected by this command; events/s "
			       "need the agent)\n");
	}
	good = current && status_all_good(doc);
	json_decref(doc);
	topology_free(topo);
	return good ? EXIT_OK : EXIT_ERROR;
}

static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "yes", no_argument, NULL, 'y' },
		{ "wait", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_options opts = { .topology_path = DEFAULT_TOPOLOGY };
	const struct verb *verb;
	int c;

	/* Every verb may read password files: no core dump of this process,
	 * and no ptrace or /proc/PID/mem by other processes of the same user
	 * (as LimitCORE=0 in the units, for a run by hand too).  Before
	 * anything is read.  RLIMIT_CORE 0 as well: with fs.suid_dumpable = 2
	 * the kernel still dumps a non-dumpable process. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 }) != 0) {
		fprintf(stderr, "cdc-agent: cannot keep the process from core dumps: %s\n",
			strerror(errno));
		return EXIT_ERROR;
	}

	/* Options may come before or after the verb (GNU getopt permutes). */
	while ((c = getopt_long(argc, argv, "c:vqh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts.topology_path = optarg;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'q':
			log_set_level(LOG_LVL_ERROR);
			break;
		case 'j':
			opts.json = true;
			break;
		case 'y':
			opts.yes = true;
			break;
		case 'w':
			opts.wait = true;
			break;
		case 'h':
			print_usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("cdc-agent %s\n", CDC_AGENT_VERSION);
			return EXIT_OK;
		default:
			print_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "cdc-agent: no verb given\n\n");
		print_usage(stderr);
		return EXIT_USAGE;
	}
	/* Hidden, not a user's verb: the keys of cdc-agent.ini(5) in roff,
	 * which `make man` builds from the schema (topo_doc.h). */
	if (strcmp(argv[optind], "schema-roff") == 0 && optind + 1 == argc)
		return topo_doc_roff(stdout) ? EXIT_OK : EXIT_ERROR;
	verb = find_verb(argv[optind]);
	if (!verb) {
		fprintf(stderr, "cdc-agent: unknown verb '%s' (see cdc-agent --help)\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	opts.argc = argc - optind - 1;
	opts.argv = argv + optind + 1;
	if (opts.argc != verb->nargs) {
		fprintf(stderr, "cdc-agent: usage: cdc-agent %s %s\n", verb->name, verb->args);
		return EXIT_USAGE;
	}
	return verb->run(&opts);
}
