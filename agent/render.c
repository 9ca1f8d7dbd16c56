/*
 * agent/render.c: rendering templates/ and units/ into configuration files.
 *
 * Deliberately tiny: {{name}} substitution, nothing else.  Every way a
 * template can be wrong (unknown name, malformed or unterminated placeholder)
 * is an error with the template's FILE:LINE, and every error of the file is
 * printed before the render fails.
 */
#include "render.h"

#include "files.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The environment variable naming the directory of templates/ and units/. */
#define RENDER_DATA_DIR_ENV "CDC_AGENT_DATA_DIR"

/* Edit distance up to which an unknown name gets a "did you mean". */
#define RENDER_SUGGEST_DISTANCE 2

void render_vars_init(struct render_vars *vars)
{
	vars->items = NULL;
	vars->n = 0;
}

void render_vars_fini(struct render_vars *vars)
{
	for (size_t i = 0; i < vars->n; i++) {
		free(vars->items[i].name);
		free(vars->items[i].value);
	}
	free(vars->items);
	vars->items = NULL;
	vars->n = 0;
}

void render_vars_add(struct render_vars *vars, const char *name, const char *value)
{
	for (size_t i = 0; i < vars->n; i++) {
		if (strcmp(vars->items[i].name, name) == 0) {
			free(vars->items[i].value);
			vars->items[i].value = xstrdup(value);
			return;
		}
	}
	vars->items = xrealloc(vars->items, (vars->n + 1) * sizeof(*vars->items));
	vars->items[vars->n].name = xstrdup(name);
	vars->items[vars->n].value = xstrdup(value);
	vars->n++;
}

const char *render_vars_get(const struct render_vars *vars, const char *name)
{
	for (size_t i = 0; i < vars->n; i++)
		if (strcmp(vars->items[i].name, name) == 0)
			return vars->items[i].value;
	return NULL;
}

/* valid_name: lower-case letters, digits and '_', at least one.  Anything else
 * between braces is a typo ("{{ port }}", "{{Port}}") rather than a new name. */
static bool valid_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* closest_name: the variable nearest to name, for "did you mean"; NULL if none
 * is close enough. */
static const char *closest_name(const struct render_vars *vars, const char *name)
{
	const char *best = NULL;
	size_t best_d = RENDER_SUGGEST_DISTANCE + 1;

	for (size_t i = 0; i < vars->n; i++) {
		size_t d = str_edit_distance(name, vars->items[i].name);

		if (d < best_d) {
			best_d = d;
			best = vars->items[i].name;
		}
	}
	return best;
}

/* count_lines: newlines in [from, to), to keep the template's line number. */
static int count_lines(const char *from, const char *to)
{
	int n = 0;

	for (; from < to; from++)
		n += *from == '\n';
	return n;
}

/* substitute: appends the value of the placeholder name (n bytes) found at
 * path:line to sb, or logs why it cannot and returns false. */
static bool substitute(const char *path, int line, const char *name, size_t n,
		       const struct render_vars *vars, struct strbuf *sb)
{
	char *key = xstrndup(name, n);
	const char *value, *hint;
	bool ok = false;

	if (!valid_name(key, n)) {
		log_error_at(path, line,
			     "bad placeholder {{%s}}: a name is lower-case letters, digits and _",
			     key);
	} else if (!(value = render_vars_get(vars, key))) {
		hint = closest_name(vars, key);
		log_error_at(path, line, "unknown placeholder {{%s}}%s%s%s", key,
			     hint ? " (did you mean {{" : "", hint ? hint : "", hint ? "}}?)" : "");
	} else if (strpbrk(value, "\r\n")) {
		/* A line break would smuggle extra lines (directives, properties)
		 * into the file: refuse rather than render them. */
		log_error_at(path, line, "the value of {{%s}} contains a line break", key);
	} else {
		strbuf_adds(sb, value);
		ok = true;
	}
	free(key);
	return ok;
}

bool render_template(const char *template_path, const struct render_vars *vars, char **out)
{
	struct strbuf sb;
	char *text;
	size_t len;
	const char *p;
	int line = 1;
	bool ok = true;

	if (!file_read_all(template_path, &text, &len))
		return false; /* errors already logged */
	if (strlen(text) != len) {
		log_error_at(template_path, 0, "contains a NUL byte: a template is text");
		free(text);
		return false;
	}
	strbuf_init(&sb);
	p = text;
	while (*p) {
		const char *open = strstr(p, "{{"), *name, *eol, *close;

		if (!open) {
			strbuf_adds(&sb, p);
			break;
		}
		line += count_lines(p, open);
		strbuf_add(&sb, p, (size_t)(open - p));
		name = open + 2;
		/* A placeholder never spans lines: look for "}}" on this one. */
		eol = name + strcspn(name, "\n");
		close = memmem(name, (size_t)(eol - name), "}}", 2);
		if (!close) {
			log_error_at(template_path, line, "unterminated {{ (no }} on the same line)");
			ok = false;
			p = eol;
			continue;
		}
		if (!substitute(template_path, line, name, (size_t)(close - name), vars, &sb))
			ok = false; /* errors already logged; keep looking for more */
		p = close + 2;
	}
	free(text);
	if (!ok) {
		strbuf_fini(&sb);
		return false;
	}
	*out = strbuf_detach(&sb);
	return true;
}

/* file_equals: whether dest exists and holds exactly content (*same); false
 * only when dest exists but cannot be read. */
static bool file_equals(const char *dest, const char *content, size_t len, bool *same)
{
	struct stat st;
	char *old;
	size_t old_len;

	*same = false;
	if (stat(dest, &st) != 0) {
		if (errno == ENOENT)
			return true;
		log_error("cannot stat %s: %s", dest, strerror(errno));
		return false;
	}
	if (!file_read_all(dest, &old, &old_len))
		return false; /* errors already logged */
	*same = old_len == len && memcmp(old, content, len) == 0;
	free(old);
	return true;
}

bool render_to_file(const char *template_path, const struct render_vars *vars,
		    const char *dest, mode_t mode, bool apply, struct change_list *changes,
		    const char *component, bool *changed)
{
	char *content;
	size_t len;
	bool same, written, ok = true;

	*changed = false;
	if (!render_template(template_path, vars, &content))
		return false; /* errors already logged */
	len = strlen(content);
	if (!file_equals(dest, content, len, &same)) {
		free(content);
		return false; /* errors already logged */
	}
	if (!same) {
		*changed = true;
		change_record(changes, component, "write %s", dest);
		if (apply)
			ok = file_write_if_changed(dest, content, len, mode, &written);
	}
	free(content);
	return ok; /* on failure, errors already logged */
}

/* has_data_dirs: whether dir holds both templates/ and units/. */
static bool has_data_dirs(const char *dir)
{
	static const char *const subdirs[] = { "templates", "units" };
	struct stat st;

	for (size_t i = 0; i < ARRAY_LEN(subdirs); i++) {
		char *p = xasprintf("%s/%s", dir, subdirs[i]);
		bool is_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);

		free(p);
		if (!is_dir)
			return false;
	}
	return true;
}

const char *render_templates_dir(void)
{
	static char found[PATH_MAX];
	const char *env = getenv(RENDER_DATA_DIR_ENV);
	char exe[PATH_MAX], *slash, *candidates[2];
	ssize_t n;
	const char *result = NULL;

	/* Set explicitly: that directory or an error, never a silent fallback. */
	if (env && env[0]) {
		if (has_data_dirs(env)) {
			snprintf(found, sizeof(found), "%s", env);
			return found;
		}
		log_error("%s=%s: no templates/ and units/ directories there", RENDER_DATA_DIR_ENV,
			  env);
		return NULL;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe));
	if (n < 0 || (size_t)n >= sizeof(exe)) {
		log_error("cannot find the agent's executable through /proc/self/exe: %s; set %s "
			  "to the directory holding templates/ and units/",
			  n < 0 ? strerror(errno) : "path too long", RENDER_DATA_DIR_ENV);
		return NULL;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	candidates[0] = xasprintf("%s/../share/cdc-agent", exe); /* make install */
	candidates[1] = xstrdup(exe);                             /* the repository */
	for (size_t i = 0; i < ARRAY_LEN(candidates) && !result; i++) {
		if (!has_data_dirs(candidates[i]))
			continue;
		if (!realpath(candidates[i], found))
			snprintf(found, sizeof(found), "%s", candidates[i]);
		result = found;
	}
	if (!result)
		log_error("no templates/ and units/ directories in %s or %s; set %s to the "
			  "directory holding them",
			  candidates[0], candidates[1], RENDER_DATA_DIR_ENV);
	free(candidates[0]);
	free(candidates[1]);
	return result;
}
