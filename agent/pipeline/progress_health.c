/*
 * agent/pipeline/progress_health.c: a process's state and the error it retries, as
 * members of its progress file (progress_health.h).
 */
#include "pipeline/progress_health.h"

#include "base/log.h"
#include "base/util.h"

#include <string.h>
#include <time.h>

void progress_state_set(struct progress_writer *w, const char *state)
{
	progress_writer_set(w, "state", json_string(state));
}

/* jansson takes only UTF-8: a server's message in another encoding keeps
 * its ASCII. */
static json_t *text_json(const char *s)
{
	json_t *j = json_string(s);
	char *ascii;

	if (j)
		return j;
	ascii = xstrdup(s);
	for (char *p = ascii; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(ascii);
	free(ascii);
	return j;
}

void progress_error_note(struct progress_writer *w, const char *kind, const char *message)
{
	json_t *old = json_object_get(w->p.extra, "error");
	json_t *by_kind = json_object_get(w->p.extra, "errors_by_kind");
	const char *old_kind = json_string_value(json_object_get(old, "kind"));
	bool same = old_kind && strcmp(old_kind, kind) == 0;
	char last[512];
	json_t *err;

	if (!message)
		message = log_last_error(last, sizeof(last)) ? last : kind;
	err = json_pack("{s:s, s:o, s:I, s:I}", "kind", kind, "message", text_json(message),
			"since_usec",
			same ? json_integer_value(json_object_get(old, "since_usec"))
			     : (json_int_t)wall_usec(),
			"repeats",
			same ? json_integer_value(json_object_get(old, "repeats")) + 1 : (json_int_t)1);
	progress_writer_set(w, "error", err);
	if (!json_is_object(by_kind)) {
		by_kind = json_object();
		progress_writer_set(w, "errors_by_kind", by_kind);
	}
	json_object_set_new(by_kind, kind,
			    json_integer(json_integer_value(json_object_get(by_kind, kind)) + 1));
}

void progress_error_clear(struct progress_writer *w, const char *kind)
{
	const char *now = progress_error_kind(w);

	if (now && (!kind || strcmp(now, kind) == 0))
		progress_writer_set(w, "error", json_null());
}

const char *progress_error_kind(const struct progress_writer *w)
{
	return json_string_value(json_object_get(json_object_get(w->p.extra, "error"), "kind"));
}
