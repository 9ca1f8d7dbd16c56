/*
 * agent/pipeline/progress.c: the progress file of a capture or apply process.
 */
#include "pipeline/progress.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_MODE 0640
#define WRITE_INTERVAL_USEC 1000000
#define WARNING_INTERVAL_USEC 60000000

static char *progress_path(const char *state_dir, const char *kind, const char *pipeline)
{
	return xasprintf("%s/progress-%s-%s.json", state_dir, kind, pipeline);
}

/* jansson takes only UTF-8: a server's message in another encoding keeps its
 * ASCII and loses the rest. */
static json_t *json_text(const char *s)
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

static char *progress_json(const struct progress *p)
{
	json_t *root = json_object();
	char *text;

	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "pid", json_integer(p->pid));
	json_object_set_new(root, "events", json_integer((json_int_t)p->events));
	json_object_set_new(root, "last_event_usec", json_integer(p->last_event_usec));
	json_object_set_new(root, "updated_usec", json_integer(p->updated_usec));
	json_object_set_new(root, "last_error",
			    p->last_error ? json_text(p->last_error) : json_null());
	if (p->extra)
		json_object_update_missing(root, p->extra);
	text = json_dumps(root, JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text) {
		fputs("cdc-agent: error: out of memory\n", stderr);
		abort();
	}
	return text;
}

/* Writes without logging; *why says what failed. */
static bool progress_write_quiet(const char *state_dir, const char *kind, const char *pipeline,
				 const struct progress *p, struct strbuf *why)
{
	char *path, *text;
	size_t len;
	bool ok;

	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		strbuf_addf(why, "cannot create state directory %s: %s", state_dir,
			    strerror(errno));
		return false;
	}
	path = progress_path(state_dir, kind, pipeline);
	text = progress_json(p);
	len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	text[len] = '\0';
	ok = file_replace_quick(path, text, len, PROGRESS_MODE, why);
	free(text);
	free(path);
	return ok;
}

bool progress_write(const char *state_dir, const char *kind, const char *pipeline,
		    const struct progress *p)
{
	struct strbuf why;
	bool ok;

	strbuf_init(&why);
	ok = progress_write_quiet(state_dir, kind, pipeline, p, &why);
	if (!ok)
		log_error("progress of %s %s: %s", kind, pipeline, why.data);
	strbuf_fini(&why);
	return ok;
}

static int64_t json_int_field(json_t *root, const char *key, bool *ok)
{
	json_t *v = json_object_get(root, key);

	if (!json_is_integer(v)) {
		*ok = false;
		return 0;
	}
	return (int64_t)json_integer_value(v);
}

bool progress_read(const char *state_dir, const char *kind, const char *pipeline,
		   struct progress *p, bool *exists)
{
	char *path = progress_path(state_dir, kind, pipeline);
	json_error_t err;
	json_t *root, *error;
	bool ok = true;
	struct stat st;
	int fd;

	memset(p, 0, sizeof(*p));
	*exists = false;
	/* state_dir is the cdc-agent user's and the reader may be root (run,
	 * status): a link planted there is not followed. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno != ELOOP && access(path, F_OK) != 0) {
		free(path);
		return false; /* missing, or not ours to see: nothing logged */
	}
	*exists = true;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_error("%s: cannot read progress: %s", path,
			  fd < 0 && errno == ELOOP ? "a symbolic link (refused)"
			  : fd < 0		   ? strerror(errno)
						   : "not a regular file");
		if (fd >= 0)
			close(fd);
		free(path);
		return false;
	}
	root = json_loadfd(fd, 0, &err);
	close(fd);
	if (!root) {
		log_error("%s:%d: cannot read progress: %s", path, err.line, err.text);
		free(path);
		return false;
	}
	*exists = true;
	p->events = (uint64_t)json_int_field(root, "events", &ok);
	p->last_event_usec = json_int_field(root, "last_event_usec", &ok);
	p->updated_usec = json_int_field(root, "updated_usec", &ok);
	p->pid = (int)json_int_field(root, "pid", &ok);
	error = json_object_get(root, "last_error");
	if (json_is_string(error))
		p->last_error = xstrdup(json_string_value(error));
	else if (!json_is_null(error))
		ok = false;
	p->extra = json_deep_copy(root);
	for (const char *const *k = (const char *const[]){ "version", "pid", "events",
							    "last_event_usec", "updated_usec",
							    "last_error", NULL };
	     *k; k++)
		json_object_del(p->extra, *k);
	if (!ok) {
		log_error("%s: progress file lacks a field or has one of the wrong type", path);
		progress_fini(p);
	}
	json_decref(root);
	free(path);
	return ok;
}

void progress_fini(struct progress *p)
{
	free(p->last_error);
	json_decref(p->extra);
	memset(p, 0, sizeof(*p));
}

void progress_writer_init(struct progress_writer *w, const char *state_dir, const char *kind,
			  const char *pipeline)
{
	memset(w, 0, sizeof(*w));
	w->state_dir = xstrdup(state_dir);
	w->kind = xstrdup(kind);
	w->pipeline = xstrdup(pipeline);
	w->p.pid = (int)getpid();
	w->p.extra = json_object();
}

void progress_writer_set(struct progress_writer *w, const char *key, json_t *value)
{
	if (value)
		json_object_set_new(w->p.extra, key, value);
	else
		json_object_del(w->p.extra, key);
}

void progress_writer_tick(struct progress_writer *w, bool force)
{
	int64_t now = mono_usec();
	char error[512];
	struct strbuf why;

	if (!force && now < w->next_write)
		return;
	w->next_write = now + WRITE_INTERVAL_USEC;
	if (w->refresh)
		w->refresh(w, w->refresh_ctx);
	free(w->p.last_error);
	w->p.last_error = log_last_error(error, sizeof(error)) ? xstrdup(error) : NULL;
	w->p.updated_usec = wall_usec();
	strbuf_init(&why);
	if (!progress_write_quiet(w->state_dir, w->kind, w->pipeline, &w->p, &why) &&
	    now >= w->next_warning) {
		/* A warning, not an error: it would become the last error. */
		log_warn("progress of %s %s not written: %s", w->kind, w->pipeline, why.data);
		w->next_warning = now + WARNING_INTERVAL_USEC;
	}
	strbuf_fini(&why);
}

void progress_writer_fini(struct progress_writer *w, bool failed)
{
	char error[512];

	if (!w->kind)
		return;
	progress_writer_tick(w, true);
	if (failed && !w->p.last_error) {
		/* Failed without an error line (cannot happen by the idiom,
		 * but status must not show a failed process as fine). */
		snprintf(error, sizeof(error), "%s exited with an error", w->kind);
		w->p.last_error = xstrdup(error);
		if (!progress_write(w->state_dir, w->kind, w->pipeline, &w->p))
			log_warn("the last progress of %s %s is not written", w->kind, w->pipeline);
	}
	free(w->state_dir);
	free(w->kind);
	free(w->pipeline);
	free(w->p.last_error);
	json_decref(w->p.extra);
	memset(w, 0, sizeof(*w));
}
