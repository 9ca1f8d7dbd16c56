/*
 * agent/status/status_table.c: the status document as the table `cdc-agent status`
 * prints: one line per component and per pipeline, then what needs a look.
 */
#include "status/status.h"

#include "base/util.h"

#include <string.h>

/* "12.5 MiB", "-" when v is not a number. */
static void human_bytes(const json_t *v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double b = json_is_integer(v) ? (double)json_integer_value(v) : -1;
	size_t u = 0;

	if (b < 0) {
		snprintf(buf, len, "-");
		return;
	}
	while (b >= 1024 && u + 1 < ARRAY_LEN(units)) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static void number_or_dash(const json_t *v, const char *fmt, char *buf, size_t len)
{
	if (json_is_number(v))
		snprintf(buf, len, fmt, json_number_value(v));
	else
		snprintf(buf, len, "-");
}

/* The state status.c decided; in an older document, the unit's
 * supervision or its systemd state. */
static const char *half_state(const json_t *half)
{
	const json_t *unit = json_object_get(half, "unit");

	if (json_is_string(json_object_get(half, "state")))
		return json_string_value(json_object_get(half, "state"));

	if (json_is_null(unit) || !unit)
		return json_is_integer(json_object_get(half, "pid")) ? "process" : "-";
	return status_str(json_object_get(unit, "supervision"),
		      status_str(json_object_get(unit, "active"), "-"));
}

static void print_components(const json_t *doc, FILE *out)
{
	const json_t *c;
	size_t i;

	fprintf(out, "%-12s %-20s %-18s %s\n", "COMPONENT", "UNIT", "STATE", "HEALTH");
	json_array_foreach(json_object_get(doc, "components"), i, c) {
		const json_t *unit = json_object_get(c, "unit");
		char state[64];

		snprintf(state, sizeof(state), "%s/%s", status_str(json_object_get(unit, "active"), "-"),
			 status_str(json_object_get(unit, "sub"), "-"));
		fprintf(out, "%-12s %-20s %-18s %s\n", status_str(json_object_get(c, "name"), "?"),
			status_str(json_object_get(unit, "unit"),
				   json_is_true(json_object_get(c, "external")) ? "(external)"
										: "(not managed)"),
			json_is_object(unit) ? state : "-",
			json_is_true(json_object_get(c, "healthy"))
				? "ok"
				: status_str(json_object_get(c, "error"), "unhealthy"));
	}
}

/* "  schema changes: 3, last: table public.t: column d added (integer)" */
static void print_schema_changes(const json_t *apply, FILE *out)
{
	json_int_t n = json_integer_value(json_object_get(apply, "schema_changes_total"));
	const json_t *last = json_object_get(apply, "last_schema_change");

	if (n <= 0)
		return;
	fprintf(out, "  schema changes: %lld", (long long)n);
	if (json_is_object(last))
		fprintf(out, ", last: %s", status_str(json_object_get(last, "change"), "?"));
	fprintf(out, "\n");
}

static void print_pipeline(const json_t *p, FILE *out)
{
	const json_t *capture = json_object_get(p, "capture"), *apply = json_object_get(p, "apply");
	const json_t *slot = json_object_get(p, "slot");
	char rate_c[32], rate_a[32], rates[64], lag[32], retained[32], age[32];
	/* Why the pipeline is in its state, else the last error logged. */
	const char *err = status_str(json_object_get(p, "reason"),
				 status_str(json_object_get(capture, "last_error"),
					    status_str(json_object_get(apply, "last_error"), "-")));

	number_or_dash(json_object_get(capture, "events_per_sec"), "%.1f", rate_c, sizeof(rate_c));
	number_or_dash(json_object_get(apply, "events_per_sec"), "%.1f", rate_a, sizeof(rate_a));
	snprintf(rates, sizeof(rates), "%s/%s", rate_c, rate_a);
	number_or_dash(json_object_get(apply, "lag_events"), "%.0f", lag, sizeof(lag));
	human_bytes(json_object_get(slot, "retained_bytes"), retained, sizeof(retained));
	number_or_dash(json_object_get(capture, "last_event_age_sec"), "%.0f s", age, sizeof(age));
	fprintf(out, "%-16s %-12s %-22s %-22s %-14s %-10s %-11s %-10s %s\n",
		status_str(json_object_get(p, "name"), "?"), status_str(json_object_get(p, "state"), "?"),
		half_state(capture), half_state(apply), rates, lag, retained, age, err);
	print_schema_changes(apply, out);
	if (json_is_string(json_object_get(capture, "captured_by")))
		fprintf(out, "  captured by pipeline %s\n",
			json_string_value(json_object_get(capture, "captured_by")));
}

/* "cluster: 2/3 brokers up (down: k3), controller 1, 40 partitions, 12
 * under-replicated, 0 offline" (issue #19); nothing without the member. */
static void print_cluster(const json_t *doc, FILE *out)
{
	const json_t *c = json_object_get(doc, "cluster"), *b;
	char up[32], expected[32], controller[32], parts[32], under[32], offline[32];
	struct strbuf down;
	size_t i;

	if (!json_is_object(c))
		return;
	if (json_is_string(json_object_get(c, "error"))) {
		fprintf(out, "cluster: %s\n", json_string_value(json_object_get(c, "error")));
		return;
	}
	number_or_dash(json_object_get(c, "brokers_up"), "%.0f", up, sizeof(up));
	number_or_dash(json_object_get(c, "brokers_expected"), "%.0f", expected, sizeof(expected));
	number_or_dash(json_object_get(c, "controller_id"), "%.0f", controller, sizeof(controller));
	number_or_dash(json_object_get(c, "partitions"), "%.0f", parts, sizeof(parts));
	number_or_dash(json_object_get(c, "under_replicated_partitions"), "%.0f", under,
		       sizeof(under));
	number_or_dash(json_object_get(c, "offline_partitions"), "%.0f", offline, sizeof(offline));
	strbuf_init(&down);
	json_array_foreach(json_object_get(c, "brokers"), i, b)
		if (!json_is_true(json_object_get(b, "up")))
			strbuf_addf(&down, "%s%s", down.len ? ", " : " (down: ",
				    status_str(json_object_get(b, "name"), "?"));
	fprintf(out,
		"cluster: %s/%s brokers up%s%s, controller %s, %s partitions, %s under-replicated, %s offline\n",
		up, expected, down.data, down.len ? ")" : "", controller, parts, under, offline);
	strbuf_fini(&down);
}

void status_print_table(const json_t *doc, FILE *out)
{
	const json_t *item;
	size_t i;

	print_components(doc, out);
	print_cluster(doc, out);
	fprintf(out, "\n%-16s %-12s %-22s %-22s %-14s %-10s %-11s %-10s %s\n", "PIPELINE", "STATE",
		"CAPTURE", "APPLY", "EVENTS/S C/A", "APPLY LAG", "SLOT WAL", "LAST EVENT",
		"REASON / LAST ERROR");
	json_array_foreach(json_object_get(doc, "pipelines"), i, item)
		print_pipeline(item, out);
	json_array_foreach(json_object_get(doc, "pipelines_elsewhere"), i, item)
		fprintf(out, "%-16s on other hosts: capture %s, apply %s\n",
			status_str(json_object_get(item, "name"), "?"),
			status_str(json_object_get(item, "capture_host"), "?"),
			status_str(json_object_get(item, "apply_host"), "?"));
	if (json_array_size(json_object_get(doc, "warnings")) > 0)
		fprintf(out, "\nWARNINGS\n");
	json_array_foreach(json_object_get(doc, "warnings"), i, item)
		fprintf(out, "  %s\n", json_string_value(item));
}
