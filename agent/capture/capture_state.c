/*
 * agent/capture/capture_state.c: the snapshot progress of a source, on disk.
 */
#include "capture/capture_state.h"

#include "base/files.h"
#include "base/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool capture_state_load(const char *state_dir, const char *source, struct capture_state *st)
{
	json_error_t err;
	json_t *root, *done;
	size_t i;
	json_t *item;
	char *text = NULL;
	bool exists;

	memset(st, 0, sizeof(*st));
	st->path = xasprintf("%s/capture-%s.json", state_dir, source);
	st->incremental = json_array();
	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create state directory %s: %s", state_dir, strerror(errno));
		return false;
	}
	/* Not through a link: capture may run as root by hand in a state_dir
	 * the cdc-agent user owns (files.h). */
	if (!file_read_nofollow(st->path, &text, NULL, &exists))
		return false; /* errors already logged */
	if (!exists)
		return true; /* first run */
	root = json_loads(text, 0, &err);
	free(text);
	if (!root) {
		log_error("%s:%d: cannot read capture state: %s", st->path, err.line, err.text);
		return false;
	}
	st->exists = true;
	done = json_object_get(root, "snapshot_done");
	json_array_foreach(done, i, item)
		if (json_is_string(item))
			strlist_add(&st->snapshot_done, json_string_value(item));
	json_array_foreach(json_object_get(root, "incremental"), i, item)
		if (json_is_object(item))
			json_array_append(st->incremental, item);
	json_decref(root);
	return true;
}

bool capture_state_save(struct capture_state *st)
{
	json_t *root = json_object(), *done = json_array();
	char *text;
	bool changed, ok;

	for (size_t i = 0; i < st->snapshot_done.n; i++)
		json_array_append_new(done, json_string(st->snapshot_done.items[i]));
	json_object_set_new(root, "version", json_integer(2));
	json_object_set_new(root, "snapshot_done", done);
	json_object_set(root, "incremental", st->incremental);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	ok = text && file_write_if_changed(st->path, text, strlen(text), 0600, &changed);
	free(text);
	if (ok)
		st->exists = true;
	return ok;
}

void capture_state_fini(struct capture_state *st)
{
	free(st->path);
	strlist_fini(&st->snapshot_done);
	json_decref(st->incremental);
	memset(st, 0, sizeof(*st));
}
