/*
 * agent/pipeline/event_counts.c: events by table and op, and capture's file of them.
 */
#include "pipeline/event_counts.h"

#include "base/files.h"
#include "base/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define COUNTS_MODE 0600

const char event_op_codes[EVENT_OPS + 1] = "cudrt";

void event_counts_init(struct event_counts *c)
{
	memset(c, 0, sizeof(*c));
}

void event_counts_fini(struct event_counts *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->t[i].table);
	free(c->t);
	memset(c, 0, sizeof(*c));
}

size_t event_counts_index(struct event_counts *c, const char *table)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->t[i].table, table) == 0)
			return i;
	c->t = xrealloc(c->t, (c->n + 1) * sizeof(*c->t));
	memset(&c->t[c->n], 0, sizeof(c->t[c->n]));
	c->t[c->n].table = xstrdup(table);
	return c->n++;
}

struct event_count *event_counts_get(struct event_counts *c, const char *table)
{
	size_t i = event_counts_index(c, table);

	return &c->t[i];
}

uint64_t event_counts_total(const struct event_counts *c)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < c->n; i++)
		for (int op = 0; op < EVENT_OPS; op++)
			sum += c->t[i].op[op];
	return sum;
}

json_t *event_counts_json(const struct event_counts *c)
{
	json_t *o = json_object();

	for (size_t i = 0; i < c->n; i++) {
		json_t *t = json_object();

		for (int op = 0; op < EVENT_OPS; op++) {
			char key[2] = { event_op_codes[op], '\0' };

			json_object_set_new(t, key, json_integer((json_int_t)c->t[i].op[op]));
		}
		json_object_set_new(o, c->t[i].table, t);
	}
	return o;
}

bool event_counts_add_json(struct event_counts *c, const json_t *o, struct strbuf *why)
{
	const char *table, *key;
	json_t *t, *v;

	if (!json_is_object(o)) {
		strbuf_adds(why, "the counts are not an object");
		return false;
	}
	json_object_foreach((json_t *)o, table, t) {
		if (!json_is_object(t)) {
			strbuf_addf(why, "the counts of %s are not an object", table);
			return false;
		}
		json_object_foreach(t, key, v)
			if (strlen(key) != 1 || event_op_index(key[0]) < 0 || !json_is_integer(v) ||
			    json_integer_value(v) < 0) {
				strbuf_addf(why, "%s: \"%s\" is not an op with a count", table, key);
				return false;
			}
	}
	json_object_foreach((json_t *)o, table, t) {
		struct event_count *e = event_counts_get(c, table);

		json_object_foreach(t, key, v)
			e->op[event_op_index(key[0])] += (uint64_t)json_integer_value(v);
	}
	return true;
}

void event_deltas_add_slow(struct event_deltas *d, size_t table, int op)
{
	struct event_delta *e = NULL;

	if (d->n == 0) {
		memset(&d->first, 0, sizeof(d->first));
		d->first.table = table;
		d->n = 1;
		d->first.op[op]++;
		return;
	}
	for (size_t i = 0; i + 1 < d->n; i++)
		if (d->more[i].table == table)
			e = &d->more[i];
	if (!e) {
		if (d->n - 1 == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 4;
			d->more = xrealloc(d->more, d->cap * sizeof(*d->more));
		}
		e = &d->more[d->n++ - 1];
		memset(e, 0, sizeof(*e));
		e->table = table;
	}
	e->op[op]++;
}

static void delta_apply(const struct event_delta *e, struct event_counts *c)
{
	for (int op = 0; op < EVENT_OPS; op++)
		c->t[e->table].op[op] += e->op[op];
}

void event_deltas_apply(const struct event_deltas *d, struct event_counts *c)
{
	if (d->n == 0)
		return;
	delta_apply(&d->first, c);
	for (size_t i = 0; i + 1 < d->n; i++)
		delta_apply(&d->more[i], c);
}

void event_deltas_clear(struct event_deltas *d)
{
	free(d->more);
	memset(d, 0, sizeof(*d));
}

/* ---- the file ---- */

bool event_counts_load(const char *state_dir, const char *source, struct event_counts *c,
		       uint64_t *lsn, char **path)
{
	json_error_t err;
	json_t *root;
	char *text = NULL;
	const char *l;
	unsigned hi, lo;
	struct strbuf why;
	bool exists, ok;

	*lsn = 0;
	*path = xasprintf("%s/events-capture-%s.json", state_dir, source);
	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create state directory %s: %s", state_dir, strerror(errno));
		return false;
	}
	if (!file_read_nofollow(*path, &text, NULL, &exists))
		return false; /* errors already logged */
	if (!exists)
		return true; /* a new pipeline: nothing counted yet */
	root = json_loads(text, 0, &err);
	free(text);
	if (!root) {
		log_error("%s:%d: cannot read the event counts: %s", *path, err.line, err.text);
		return false;
	}
	strbuf_init(&why);
	l = json_string_value(json_object_get(root, "lsn"));
	ok = l && sscanf(l, "%X/%X", &hi, &lo) == 2;
	if (!ok)
		strbuf_adds(&why, "no \"lsn\" of the form X/X");
	else
		ok = event_counts_add_json(c, json_object_get(root, "events_by_table"), &why);
	if (ok)
		*lsn = (uint64_t)hi << 32 | lo;
	else
		log_error("%s: cannot read the event counts: %s (delete the file to count from 0)",
			  *path, why.data);
	strbuf_fini(&why);
	json_decref(root);
	return ok;
}

bool event_counts_save(const char *path, const struct event_counts *c, uint64_t lsn,
		       struct strbuf *why)
{
	json_t *root = json_object();
	char *text;
	bool ok;

	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "lsn", json_sprintf("%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn));
	json_object_set_new(root, "events_by_table", event_counts_json(c));
	text = json_dumps(root, JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text) {
		fputs("cdc-agent: error: out of memory\n", stderr);
		abort();
	}
	ok = file_replace_quick(path, text, strlen(text), COUNTS_MODE, why);
	free(text);
	return ok;
}
