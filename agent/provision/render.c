/*
 * agent/provision/render.c: rendering templates/ and units/ into configuration files.
 *
 * Deliberately tiny: {{name}} substitution, nothing else.  Every way a
 * template can be wrong (unknown name, malformed or unterminated placeholder)
 * is an error with the template's FILE:LINE, and every error of the file is
 * printed before the render fails.
 */
#include "provision/render.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"
#include "config/topo_values.h"

#include <arpa/inet.h>
#include <ctype.h>
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

/* ---- placeholder types --------------------------------------------------- */

/*
 * What a value may be.  The topology already checked what it holds, but a
 * value also comes from the environment (the agent's own path, java's, the
 * KRaft cluster id kept in state_dir) and lands in a unit file or a Java
 * command line, where a space, a quote or a '%' changes what systemd runs:
 * every placeholder is checked against its type again when it is rendered.
 */
enum render_type {
	RT_PATH,        /* safe_path_valid: absolute, normalized, safe characters, not "/" */
	RT_PATH_LIST,   /* RT_PATHs, each with an optional leading '-', one space apart */
	RT_PORT,        /* 1..65535, plain digits */
	RT_NUMBER,      /* digits, at most 9 */
	RT_HOST,        /* host name, IPv4 or IPv6 address ([v6] too) */
	RT_HOSTPORTS,   /* host:port, comma-separated */
	RT_LISTENERS,   /* PLAINTEXT://host:port */
	RT_HEAP,        /* heap_size_valid */
	RT_CLUSTER_ID,  /* 22 base64url characters, not starting with '-' */
	RT_MODE_PREFIX, /* "" or "#<mode> mode only: " (kafka.service's two modes) */
	RT_SECURITY_PREFIX, /* "" or "#<kind> broker only: " (plaintext or secured) */
	RT_VOTERS,      /* KRaft's controller.quorum.voters: id@host:port, comma-separated */
	RT_RACK,        /* broker.rack: A-Z a-z 0-9 . _ -, 1 to 64 */
	RT_RACK_PREFIX, /* "" or "#no rack: " */
};

static const struct {
	const char *name;
	enum render_type type;
} placeholder_types[] = {
	{ "agent_bin", RT_PATH },
	{ "config", RT_PATH },
	{ "state_dir", RT_PATH },
	{ "config_dir", RT_PATH },
	{ "agent_writable_paths", RT_PATH_LIST },
	{ "java", RT_PATH },
	{ "install_dir", RT_PATH },
	{ "kafka_data_dir", RT_PATH },
	{ "zookeeper_data_dir", RT_PATH },
	{ "data_dir", RT_PATH },
	{ "kafka_heap", RT_HEAP },
	{ "zookeeper_connect", RT_HOSTPORTS },
	{ "zookeeper_address", RT_HOST },
	{ "zookeeper_port", RT_PORT },
	{ "bind_address", RT_HOST },
	{ "port", RT_PORT },
	{ "controller_port", RT_PORT },
	{ "node_id", RT_NUMBER },
	{ "message_max_bytes", RT_NUMBER },
	{ "socket_request_max_bytes", RT_NUMBER },
	{ "cluster_id", RT_CLUSTER_ID },
	{ "listeners", RT_LISTENERS },
	{ "if_kraft", RT_MODE_PREFIX },
	{ "if_zookeeper", RT_MODE_PREFIX },
	{ "listener", RT_HOSTPORTS },
	{ "internal_port", RT_PORT },
	{ "tls_dir", RT_PATH },
	{ "if_secure", RT_SECURITY_PREFIX },
	{ "if_plaintext", RT_SECURITY_PREFIX },
	{ "controller_voters", RT_VOTERS },
	{ "controller_listener", RT_HOSTPORTS },
	{ "rack", RT_RACK },
	{ "if_rack", RT_RACK_PREFIX },
	{ "internal_replication_factor", RT_NUMBER },
	{ "internal_min_isr", RT_NUMBER },
	{ "min_insync_replicas", RT_NUMBER },
};

static bool port_text_valid(const char *s, size_t n, struct strbuf *err)
{
	long v = 0;

	for (size_t i = 0; i < n && v <= 65535; i++) {
		if (!isdigit((unsigned char)s[i])) {
			v = 0;
			break;
		}
		v = v * 10 + (s[i] - '0');
	}
	if (n == 0 || n > 5 || s[0] == '0' || v < 1 || v > 65535) {
		strbuf_addf(err, "'%.*s' is not a port (1 to 65535)", (int)n, s);
		return false;
	}
	return true;
}

static bool host_text_valid(const char *s, struct strbuf *err);

/* host:port (host may be [v6]); n bytes of s. */
static bool hostport_text_valid(const char *s, size_t n, struct strbuf *err)
{
	char *copy = xstrndup(s, n), *colon = strrchr(copy, ':');
	bool ok;

	if (!colon || colon == copy) {
		strbuf_addf(err, "'%s' is not host:port", copy);
		free(copy);
		return false;
	}
	*colon = '\0';
	ok = host_text_valid(copy, err) && port_text_valid(colon + 1, strlen(colon + 1), err);
	free(copy);
	return ok;
}

/* A host name, IPv4 or IPv6 address (also [v6]) for a unit or properties
 * file: no socket directory, no port. */
static bool host_text_valid(const char *s, struct strbuf *err)
{
	size_t len = strlen(s);
	unsigned char addr[16];

	if (len > 2 && s[0] == '[' && s[len - 1] == ']') {
		char *inner = xstrndup(s + 1, len - 2);
		bool ok = inet_pton(AF_INET6, inner, addr) == 1;

		free(inner);
		if (ok)
			return true;
	} else if (len > 0 && s[0] != '/' && strcspn(s, "[]/") == len && host_valid(s, err)) {
		return true; /* a host name or an address; no socket directory */
	}
	if (err->len == 0)
		strbuf_addf(err, "'%s' is not a host name or an IP address", s);
	return false;
}

bool render_value_valid(const char *name, const char *value, struct strbuf *err)
{
	size_t i, len = strlen(value);
	const char *p;

	for (i = 0; i < ARRAY_LEN(placeholder_types); i++)
		if (strcmp(placeholder_types[i].name, name) == 0)
			break;
	if (i == ARRAY_LEN(placeholder_types)) {
		strbuf_addf(err, "{{%s}} has no declared type "
			    "(agent/provision/render.c, placeholder_types)",
			    name);
		return false;
	}
	switch (placeholder_types[i].type) {
	case RT_PATH:
		return safe_path_valid(value, err);
	case RT_PATH_LIST:
		if (len == 0 || value[0] == ' ' || value[len - 1] == ' ' || strstr(value, "  ")) {
			strbuf_adds(err, "not a list of paths one space apart");
			return false;
		}
		for (p = value; *p;) {
			size_t n = strcspn(p, " ");
			char *item = xstrndup(p[0] == '-' ? p + 1 : p, p[0] == '-' ? n - 1 : n);
			bool ok = safe_path_valid(item, err);

			free(item);
			if (!ok)
				return false;
			p += n + (p[n] == ' ');
		}
		return true;
	case RT_PORT:
		return port_text_valid(value, len, err);
	case RT_NUMBER:
		if (len == 0 || len > 9 || strspn(value, "0123456789") != len) {
			strbuf_addf(err, "'%s' is not a number", value);
			return false;
		}
		return true;
	case RT_HOST:
		return host_text_valid(value, err);
	case RT_HOSTPORTS:
		if (len == 0) {
			strbuf_adds(err, "empty list of host:port");
			return false;
		}
		for (p = value; ; p += strcspn(p, ",") + 1) {
			if (!hostport_text_valid(p, strcspn(p, ","), err))
				return false;
			if (!p[strcspn(p, ",")])
				return true;
		}
	case RT_LISTENERS:
		if (strncmp(value, "PLAINTEXT://", 12) != 0) {
			strbuf_addf(err, "'%s' is not PLAINTEXT://host:port", value);
			return false;
		}
		return hostport_text_valid(value + 12, len - 12, err);
	case RT_HEAP:
		return heap_size_valid(value, err);
	case RT_CLUSTER_ID:
		if (len != 22 || value[0] == '-' ||
		    strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != len) {
			strbuf_addf(err, "'%s' is not a KRaft cluster id (22 base64url characters, "
				    "not starting with '-')", value);
			return false;
		}
		return true;
	case RT_MODE_PREFIX:
		if (strcmp(value, "") == 0 || strcmp(value, "#kraft mode only: ") == 0 ||
		    strcmp(value, "#zookeeper mode only: ") == 0)
			return true;
		strbuf_addf(err, "'%s' is not \"\", \"#kraft mode only: \" or "
			    "\"#zookeeper mode only: \"", value);
		return false;
	case RT_VOTERS:
		/* id@host:port, comma-separated: the controllers' addresses */
		for (const char *v = value;;) {
			size_t item = strcspn(v, ","), id = strspn(v, "0123456789");

			if (id == 0 || id > 10 || id >= item || v[id] != '@') {
				strbuf_addf(err, "'%s' is not id@host:port, comma-separated", value);
				return false;
			}
			if (!hostport_text_valid(v + id + 1, item - id - 1, err))
				return false;
			if (!v[item])
				return true;
			v += item + 1;
		}
	case RT_RACK:
		if (len == 0 || len > 64 ||
		    strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len) {
			strbuf_addf(err, "'%s' is not a rack (A-Z a-z 0-9 . _ -, 1 to 64)", value);
			return false;
		}
		return true;
	case RT_RACK_PREFIX:
		if (strcmp(value, "") == 0 || strcmp(value, "#no rack: ") == 0)
			return true;
		strbuf_addf(err, "'%s' is not \"\" or \"#no rack: \"", value);
		return false;
	case RT_SECURITY_PREFIX:
		if (strcmp(value, "") == 0 || strcmp(value, "#secured broker only: ") == 0 ||
		    strcmp(value, "#plaintext broker only: ") == 0)
			return true;
		strbuf_addf(err, "'%s' is not \"\", \"#secured broker only: \" or "
			    "\"#plaintext broker only: \"", value);
		return false;
	}
	strbuf_adds(err, "internal error: unknown placeholder type");
	return false;
}

void render_unit_escape(const char *value, struct strbuf *sb)
{
	for (const char *c = value; *c; c++)
		strbuf_add(sb, *c == '%' ? "%%" : c, *c == '%' ? 2 : 1);
}

/* is_unit_file: systemd reads this template's output (units/: *.service),
 * where '%' starts a specifier. */
static bool is_unit_file(const char *path)
{
	return str_ends_with(path, ".service");
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
		struct strbuf err;

		strbuf_init(&err);
		if (!render_value_valid(key, value, &err)) {
			log_error_at(path, line, "the value of {{%s}} is refused: %s", key,
				     err.data);
		} else if (is_unit_file(path)) {
			render_unit_escape(value, sb);
			ok = true;
		} else {
			strbuf_adds(sb, value);
			ok = true;
		}
		strbuf_fini(&err);
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
