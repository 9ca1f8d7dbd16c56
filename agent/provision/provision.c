/*
 * agent/provision/provision.c: plan and bootstrap of the PostgreSQL side of a topology.
 *
 * Sources first (their restart is the slow, disruptive part and should be
 * known early), then targets.  A failing section does not stop the others:
 * the operator sees every problem of the run at once, and each section's
 * steps are idempotent, so the next run picks up where this one stopped.
 */
#include "provision/provision.h"

#include "base/changes.h"
#include "base/log.h"
#include "base/util.h"
#include "pipeline/health.h"
#include "pipeline/pipeline_digest.h"
#include "pipeline/table_select.h"
#include "provision/converge_lock.h"
#include "provision/host.h"
#include "provision/pg_source.h"
#include "provision/pg_target.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_json(const struct change_list *changes, const struct provision_result *res)
{
	json_t *root = json_object(), *list = json_array();
	char *text;

	for (size_t i = 0; i < changes->n; i++)
		json_array_append_new(list, json_pack("{s:s, s:s}", "component",
						      changes->items[i].component, "action",
						      changes->items[i].action));
	json_object_set_new(root, "mode", json_string(changes->apply ? "bootstrap" : "plan"));
	json_object_set_new(root, "ok", json_boolean(!res->failed));
	json_object_set_new(root, "changed", json_boolean(changes->apply && changes->n > 0));
	json_object_set_new(root, "restart_needed", json_boolean(res->restart_needed));
	json_object_set_new(root, "changes", list);
	text = json_dumps(root, JSON_INDENT(2));
	if (text)
		puts(text);
	free(text);
	json_decref(root);
}

static void print_summary(const struct change_list *changes, const struct provision_result *res)
{
	const char *verb = changes->apply ? "bootstrap" : "plan";

	if (res->failed)
		printf("%s: failed after %zu change%s (see the errors above)\n", verb, changes->n,
		       changes->n == 1 ? "" : "s");
	else if (changes->n == 0)
		printf("%s: nothing to change\n", verb);
	else if (changes->apply)
		printf("%s: %zu change%s made%s\n", verb, changes->n, changes->n == 1 ? "" : "s",
		       res->restart_needed ? "; a restart is still needed (see above)" : "");
	else
		printf("%s: %zu change%s pending\n", verb, changes->n, changes->n == 1 ? "" : "s");
}

/* Whether a capture of src runs with an older configuration than the
 * topology's: it may still stream a table the topology removed. */
static bool capture_outdated(const struct topology *topo, const struct source_cfg *src)
{
	for (size_t i = 0; i < topo->n_pipelines; i++)
		if (topo->pipelines[i].source == src &&
		    pipeline_process_config(topo, &topo->pipelines[i], "capture", 0, NULL) ==
			    PROCESS_CONFIG_STALE)
			return true;
	return false;
}

/* The tables whose drop waited for a capture restart, once the host step
 * has restarted it; still deferred (and said so) while it has not. */
static bool drops_after_restart(const struct topology *topo, const bool *held,
				struct change_list *changes)
{
	bool ok = true;

	for (size_t i = 0; i < topo->n_sources; i++) {
		if (!held[i])
			continue;
		if (changes->apply && capture_outdated(topo, &topo->sources[i]))
			log_warn("source %s: tables removed from the topology stay in publication %s "
				 "until its capture runs the new configuration (next pass)",
				 topo->sources[i].name, topo->sources[i].publication);
		else if (!pg_source_drop_removed(&topo->sources[i], changes))
			ok = false;
	}
	return ok;
}

/* [kafka] managed = false: a cluster of its own, which bootstrap neither
 * installs nor starts, so plan and bootstrap check what capture and apply
 * will need of it: it answers each pipeline's capture and apply as their
 * users, and each of capture's topics exists or could be created by
 * capture's user.  Every failure logged, naming the brokers, the user, the
 * topic and the broker's words. */
static bool kafka_external_verify(const struct topology *topo)
{
	struct strbuf why;
	bool ok = true;

	strbuf_init(&why);
	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];
		const struct source_cfg *src = p->source;
		size_t n = src->tables_resolved ? src->tables.n : 0;
		char **topics = xcalloc(n + 2, sizeof(char *));
		char *who_c = xasprintf("capture of pipeline %s", p->name);
		char *who_a = xasprintf("apply of pipeline %s", p->name);

		for (size_t t = 0; t < n; t++)
			topics[t] = topology_topic(src, &src->tables.items[t]);
		topics[n] = topology_transaction_topic(src); /* NULL: none */
		n += topics[n] != NULL;
		why.len = 0;
		why.data[0] = '\0';
		/* Both roles checked: each failure is its own line. */
		/* Fan-out: a later pipeline of a source has no capture of its own. */
		bool capture_ok = !topology_captures(topo, p) ||
				  health_kafka_access(&topo->kafka, &p->capture_kafka, who_c,
						      topics, n, true, &why);
		bool apply_ok = health_kafka_access(&topo->kafka, &p->apply_kafka, who_a, NULL, 0,
						    false, &why);

		if (!capture_ok || !apply_ok) {
			ok = false;
			if (why.len && why.data[why.len - 1] == '\n')
				why.data[--why.len] = '\0';
			log_error("%s", why.data);
		}
		for (size_t t = 0; t < n; t++)
			free(topics[t]);
		free(topics);
		free(who_c);
		free(who_a);
	}
	if (ok)
		log_info("kafka: the cluster (managed = false) answers every pipeline's capture and "
			 "apply; their topics exist or can be created");
	strbuf_fini(&why);
	return ok;
}

/* Whether any part of a cluster's topology is this host's. */
static bool host_has_part(const struct topology *topo)
{
	if (topology_self_node(topo))
		return true;
	for (size_t i = 0; i < topo->n_sources; i++)
		if (topology_source_here(topo, &topo->sources[i]))
			return true;
	for (size_t i = 0; i < topo->n_targets; i++)
		if (topology_target_here(topo, &topo->targets[i]))
			return true;
	return false;
}

/* Whether this host needs src's tables: it provisions src, or runs an
 * apply of it (whose digest names the tables resolved). */
static bool source_needed_here(const struct topology *topo, const struct source_cfg *src)
{
	if (topology_source_here(topo, src))
		return true;
	for (size_t i = 0; i < topo->n_pipelines; i++)
		if (topo->pipelines[i].source == src && topology_runs_apply(topo, &topo->pipelines[i]))
			return true;
	return false;
}

void provision_converge_held(struct topology *topo, struct supervisor *sup,
			     struct change_list *changes, struct provision_result *res)
{
	double t0 = mono_seconds();
	bool *held = xcalloc(topo->n_sources + 1, sizeof(bool)), any_held = false;

	if (!sup && topology_is_cluster(topo) && !host_has_part(topo)) {
		char *names = strlist_join(&topo->self, ", ");

		/* Said, not failed: a host may be in the fleet before its part
		 * is in the topology. */
		log_warn("this host (%s) runs no part of the topology: no [kafka_node] address, "
			 "capture_address or apply_address is one of its addresses (or [agent] address)",
			 names);
		free(names);
	}

	res->failed = false;
	res->restart_needed = false;
	res->host_seconds = 0;
	res->pg_seconds = 0;
	res->n_changes = 0;
	for (size_t i = 0; i < topo->n_sources; i++) {
		enum restart_outcome restart;
		char *label;
		bool resolved;

		/* A cluster across hosts: the host of capture_address
		 * provisions the source (topology_source_here). */
		if (!source_needed_here(topo, &topo->sources[i]))
			continue;
		label = xasprintf("source %s", topo->sources[i].name);

		/* Patterns first: the publication, the grants and the
		 * pipelines' digests (host step) all follow the catalog now. */
		resolved = table_select_resolve_as(&topo->sources[i], label, PG_AS_ADMIN);
		free(label);
		if (!resolved) {
			res->failed = true;
			continue; /* errors already logged */
		}
		if (!topology_source_here(topo, &topo->sources[i]))
			continue; /* resolved for a local apply's digest only */
		if (!pg_source_converge(&topo->sources[i],
					capture_outdated(topo, &topo->sources[i]), changes,
					&restart, &held[i]))
			res->failed = true;
		if (restart == RESTART_IMPOSSIBLE)
			res->restart_needed = true;
		any_held = any_held || held[i];
	}
	for (size_t i = 0; i < topo->n_targets; i++)
		if (topology_target_here(topo, &topo->targets[i]) &&
		    !pg_target_converge(&topo->targets[i], changes))
			res->failed = true;
	res->pg_seconds = mono_seconds() - t0;
	/* A cluster the agent does not run is checked before anything of the
	 * pipelines' (units, processes) is done; a failure stops only that.
	 * Not by run's passes (sup set): a cluster briefly away must not stop
	 * the supervision of capture and apply, whose own errors say it. */
	if (!topo->kafka.managed && !sup && !kafka_external_verify(topo))
		res->failed = true;
	/* Services come after the databases they connect to, and only once
	 * those converged (a restart still pending would fail capture). */
	if (topo->agent.manage_units && !res->failed && !res->restart_needed) {
		t0 = mono_seconds();
		if (!host_converge(topo, sup, changes))
			res->failed = true;
		res->host_seconds = mono_seconds() - t0;
	}
	/* Last: a table leaves its publication only once no capture that may
	 * stream it runs (the host step restarted it, or it is not running). */
	if (any_held && !res->failed && !drops_after_restart(topo, held, changes))
		res->failed = true;
	free(held);
	res->n_changes = changes->n;
}

/* provision_converge_held under the converge lock (none for plan). */
static void provision_converge(struct topology *topo, struct supervisor *sup,
			       struct change_list *changes, struct provision_result *res)
{
	int lock = -1;

	/* plan changes nothing and needs no lock. */
	if (changes->apply && !converge_lock_acquire(topo->agent.state_dir, &lock)) {
		memset(res, 0, sizeof(*res));
		res->failed = true;
		return; /* errors already logged */
	}
	provision_converge_held(topo, sup, changes, res);
	converge_lock_release(lock);
}

void provision_run(struct topology *topo, bool apply, bool json,
		   struct provision_result *res)
{
	struct change_list changes;

	change_list_init(&changes, apply, !json);
	provision_converge(topo, NULL, &changes, res);
	if (json)
		print_json(&changes, res);
	else
		print_summary(&changes, res);
	change_list_fini(&changes);
}
