/*
 * agent/config/topo_values.c: parsers for the value types of topology keys.
 */
#include "config/topo_values.h"

#include "base/files.h"
#include "config/topology.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static bool parse_int(const char *s, long min, long max, long *out, struct strbuf *err)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0') {
		strbuf_addf(err, "'%s' is not a whole number", s);
		if (strstr(s, " #"))
			strbuf_adds(err, " (inline comments start with ';')");
		return false;
	}
	if (v < min || v > max) {
		strbuf_addf(err, "%ld is out of range %ld..%ld", v, min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool parse_bool(const char *s, bool *out, struct strbuf *err)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	strbuf_addf(err, "'%s' is not a boolean (use true or false)", s);
	return false;
}

/* parse_enum: s by its name in values (an enum's name table, n long,
 * indexed by value): the value is the name's index, whatever the enum's
 * order.  A hole in the table (no name) is no value. */
static bool parse_enum(const char *s, const char *const *values, size_t n, int *out,
		       struct strbuf *err)
{
	for (size_t i = 0; i < n; i++) {
		if (values[i] && strcmp(s, values[i]) == 0) {
			*out = (int)i;
			return true;
		}
	}
	strbuf_addf(err, "'%s' is not one of:", s);
	for (size_t i = 0, shown = 0; i < n; i++)
		if (values[i])
			strbuf_addf(err, "%s %s", shown++ ? "," : "", values[i]);
	return false;
}

static bool is_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-') || (label == 0 && c == '-') || ++label > 63)
			return false;
	}
	return s[len - 1] != '-';
}

bool host_valid(const char *s, struct strbuf *err)
{
	unsigned char addr[16];

	if (s[0] == '/')
		return true; /* a Unix-domain socket directory */
	if (inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1)
		return true;
	if (strchr(s, ':') && !strchr(strchr(s, ':') + 1, ':')) {
		strbuf_addf(err, "'%s' is not a host: put the port in its own key", s);
		return false;
	}
	if (is_hostname(s) && !isdigit((unsigned char)s[strlen(s) - 1]))
		return true;
	strbuf_addf(err, "'%s' is not a host name, an IP address or a socket directory", s);
	return false;
}

/* A host of the cluster (V_ADDRESS): where a Kafka node, a capture or an
 * apply runs; it goes into listeners, so no socket directory. */
static bool address_valid(const char *s, struct strbuf *err)
{
	if (s[0] == '/') {
		strbuf_addf(err, "'%s' is not a host name or an IP address", s);
		return false;
	}
	return host_valid(s, err);
}

/* An unquoted PostgreSQL identifier (V_PG_NAME). */
static bool pg_name_valid(const char *s, struct strbuf *err)
{
	size_t len = strlen(s);

	if (len == 0 || len > PG_NAME_MAX) {
		strbuf_addf(err, "'%s' must be 1 to %d bytes long", s, PG_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isupper(c)) {
			char *lower = xstrdup(s);

			for (char *p = lower; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			strbuf_addf(err,
				    "'%s' has upper-case letters, which PostgreSQL folds to lower case; write '%s'",
				    s, lower);
			free(lower);
			return false;
		}
		if (!(islower(c) || c == '_' || (i > 0 && (isdigit(c) || c == '$')))) {
			strbuf_addf(err,
				    "'%s' is not a plain PostgreSQL identifier (a-z, 0-9, _ and $, not starting with a digit)",
				    s);
			return false;
		}
	}
	return true;
}

static bool slot_valid(const char *s, struct strbuf *err)
{
	size_t len = strlen(s);

	if (len == 0 || len > PG_NAME_MAX) {
		strbuf_addf(err, "slot name '%s' must be 1 to %d characters", s, PG_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(islower(c) || isdigit(c) || c == '_')) {
			strbuf_addf(err,
				    "slot name '%s' may contain only lower-case letters, digits and underscores",
				    s);
			return false;
		}
	}
	return true;
}

/* Splits a comma- or space-separated list into trimmed, non-empty items. */
static void split_list(const char *s, struct strlist *out)
{
	char *copy = xstrdup(s), *save = NULL;

	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save))
		strlist_add(out, tok);
	free(copy);
}

/* The catalogs (pg_*, information_schema) and the agent's own schema on the
 * target (cdc_agent: apply's offsets) are never a pipeline's tables: apply
 * writes only to the tables listed, so listing none of these keeps every
 * record away from them. */
static bool schema_replicable(const char *schema, struct strbuf *err)
{
	if (strncmp(schema, "pg_", 3) == 0 || strcmp(schema, "information_schema") == 0 ||
	    strcmp(schema, "cdc_agent") == 0) {
		strbuf_addf(err, "schema %s is reserved (%s): its tables cannot be replicated", schema,
			    strcmp(schema, "cdc_agent") == 0 ? "the agent's own, on targets"
							     : "PostgreSQL's catalog");
		return false;
	}
	return true;
}

/* ---- table names and patterns -------------------------------------------- */

char *pg_ident_text(const char *ident)
{
	bool plain = ident[0] != '\0' && !(ident[0] >= '0' && ident[0] <= '9');
	struct strbuf sb;

	for (const char *p = ident; plain && *p; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
	if (plain)
		return xstrdup(ident);
	strbuf_init(&sb);
	strbuf_add(&sb, "\"", 1);
	for (const char *p = ident; *p; p++) {
		if (*p == '"')
			strbuf_add(&sb, "\"", 1);
		strbuf_add(&sb, p, 1);
	}
	strbuf_add(&sb, "\"", 1);
	return strbuf_detach(&sb);
}

char *table_name_text(const char *schema, const char *table)
{
	char *s = pg_ident_text(schema), *t = pg_ident_text(table);
	char *name = xasprintf("%s.%s", s, t);

	free(s);
	free(t);
	return name;
}

char *table_ref_text(const struct table_ref *t)
{
	return table_name_text(t->schema, t->table);
}

bool glob_match(const char *pattern, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*pattern == '*') {
			star = pattern++;
			resume = s;
		} else if (*pattern == '?' || *pattern == *s) {
			/* '?' takes a whole UTF-8 character */
			if (*pattern == '?')
				while ((unsigned char)s[1] >= 0x80 && (unsigned char)s[1] < 0xC0)
					s++;
			pattern++;
			s++;
		} else if (star) {
			pattern = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

bool table_spec_matches(const struct table_spec *spec, const char *schema, const char *table)
{
	return (spec->schema_glob ? glob_match(spec->schema, schema)
				  : strcmp(spec->schema, schema) == 0) &&
	       (spec->table_glob ? glob_match(spec->table, table) : strcmp(spec->table, table) == 0);
}

/* Whether s is valid UTF-8 (PostgreSQL's names are text of the database's
 * encoding; the topology is UTF-8).  *bad: offset of the first bad byte. */
static bool utf8_valid(const char *s, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
			 : (*p & 0xF8) == 0xF0 ? 3 : 4;

		if (n == 4 || (n == 1 && *p < 0xC2)) {
			*bad = (size_t)((const char *)p - s);
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80) {
				*bad = (size_t)((const char *)p - s);
				return false;
			}
		}
		p += n + 1;
	}
	return true;
}

static bool list_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* One part of a name at *pos (schema or table): a quoted identifier, or an
 * unquoted one folded to lower case, which may hold '*' and '?' when
 * patterns are allowed (*glob says whether it did).  item: the whole item,
 * for messages. */
static bool name_part_parse(const char *s, size_t *pos, bool patterns, char **out, bool *glob,
			    const char *what, struct strbuf *err)
{
	struct strbuf sb;
	size_t i = *pos;

	strbuf_init(&sb);
	*glob = false;
	if (s[i] == '"') {
		for (i++;; i++) {
			if (s[i] == '\0' || s[i] == '\n') {
				strbuf_addf(err, "%s name %.*s has no closing double quote", what,
					    (int)(i - *pos), s + *pos);
				goto fail;
			}
			if (s[i] == '"' && s[i + 1] == '"') {
				strbuf_add(&sb, "\"", 1);
				i++;
			} else if (s[i] == '"') {
				i++;
				break;
			} else if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
				strbuf_addf(err, "%s name %.*s has control character 0x%02x", what,
					    (int)(i - *pos), s + *pos, (unsigned char)s[i]);
				goto fail;
			} else {
				strbuf_add(&sb, s + i, 1);
			}
		}
		if (sb.len == 0) {
			strbuf_addf(err, "%s name \"\" is empty", what);
			goto fail;
		}
	} else {
		size_t start = i;

		for (; s[i] && s[i] != '.' && s[i] != '"' && !list_separator(s[i]); i++) {
			unsigned char c = (unsigned char)s[i];
			bool first = i == start;

			if (patterns && (c == '*' || c == '?')) {
				*glob = true;
			} else if (!(isalpha(c) || c == '_' || c >= 0x80 ||
				     (!first && (isdigit(c) || c == '$')))) {
				size_t end = i;

				while (s[end] && s[end] != '.' && !list_separator(s[end]))
					end++;
				strbuf_addf(err,
					    "'%.*s' is not a plain PostgreSQL identifier (letters, digits, _ and $, not starting with a digit): write it in double quotes",
					    (int)(end - start), s + start);
				if (!patterns && (c == '*' || c == '?'))
					strbuf_adds(err, " (patterns are only allowed in [source] tables)");
				goto fail;
			}
			strbuf_add(&sb, (const char *)&c, 1);
			if (c < 0x80)
				sb.data[sb.len - 1] = (char)tolower(c); /* as PostgreSQL folds */
		}
		if (sb.len == 0) {
			strbuf_addf(err, "%s name missing", what);
			if (s[i] == '"')
				strbuf_addf(err, " (a quote inside an unquoted name: quote the whole name)");
			goto fail;
		}
	}
	if (sb.len > PG_NAME_MAX) {
		strbuf_addf(err, "%s name %.*s is longer than PostgreSQL's %d bytes", what,
			    (int)(i - *pos), s + *pos, PG_NAME_MAX);
		goto fail;
	}
	*pos = i;
	*out = strbuf_detach(&sb);
	return true;
fail:
	strbuf_fini(&sb);
	return false;
}

/* One item of a list at *pos: [!]schema.table. */
static bool table_item_parse(const char *s, size_t *pos, bool patterns, struct table_spec *out,
			     struct strbuf *err)
{
	size_t i = *pos, start = *pos;

	memset(out, 0, sizeof(*out));
	if (patterns && s[i] == '!') {
		out->exclude = true;
		i++;
	}
	if (!name_part_parse(s, &i, patterns, &out->schema, &out->schema_glob, "schema", err))
		return false;
	if (s[i] != '.') {
		if (s[i] == '\0' || list_separator(s[i]))
			strbuf_addf(err, "table '%.*s' has no schema; did you mean public.%.*s?",
				    (int)(i - start), s + start, (int)(i - start), s + start);
		else
			strbuf_addf(err, "unexpected '%c' after '%.*s' (names with dots or quotes go in double quotes)",
				    s[i], (int)(i - start), s + start);
		goto fail;
	}
	i++;
	if (!name_part_parse(s, &i, patterns, &out->table, &out->table_glob, "table", err))
		goto fail;
	if (s[i] && !list_separator(s[i])) {
		size_t end = i;

		while (s[end] && !list_separator(s[end]))
			end++;
		strbuf_addf(err, "'%.*s' is not schema.table (names with dots or quotes go in double quotes)",
			    (int)(end - start), s + start);
		goto fail;
	}
	if (!out->schema_glob && !schema_replicable(out->schema, err))
		goto fail;
	*pos = i;
	return true;
fail:
	free(out->schema);
	free(out->table);
	out->schema = out->table = NULL;
	return false;
}

bool table_name_parse(const char *s, struct table_ref *out, struct strbuf *err)
{
	struct table_spec spec;
	size_t pos = 0, bad;
	char *full = NULL;

	if (!utf8_valid(s, &bad)) {
		strbuf_addf(err, "'%s' is not UTF-8 (byte %zu)", s, bad + 1);
		return false;
	}
	/* a name without schema is public's, as search_path would have it */
	if (!strchr(s, '.') || (s[0] == '"' && !strstr(s, "\"."))) {
		full = xasprintf("public.%s", s);
		s = full;
	}
	if (!table_item_parse(s, &pos, false, &spec, err) || s[pos] != '\0') {
		if (s[pos] != '\0' && err->len == 0)
			strbuf_addf(err, "'%s' is not one table name", s);
		free(full);
		return false;
	}
	out->schema = spec.schema;
	out->table = spec.table;
	free(full);
	return true;
}

static void specs_free(struct table_specs *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].schema);
		free(list->items[i].table);
	}
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

static bool spec_same(const struct table_spec *a, const struct table_spec *b)
{
	return a->exclude == b->exclude && a->schema_glob == b->schema_glob &&
	       a->table_glob == b->table_glob && strcmp(a->schema, b->schema) == 0 &&
	       strcmp(a->table, b->table) == 0;
}

/* The text of a spec as written canonically: [!]schema.table, quoted
 * where a name needs it (patterns never do).  Caller frees. */
static char *spec_text(const struct table_spec *t)
{
	char *s = t->schema_glob ? xstrdup(t->schema) : pg_ident_text(t->schema);
	char *n = t->table_glob ? xstrdup(t->table) : pg_ident_text(t->table);
	char *text = xasprintf("%s%s.%s", t->exclude ? "!" : "", s, n);

	free(s);
	free(n);
	return text;
}

static int error_newlines;

int value_error_newlines(void)
{
	int n = error_newlines;

	error_newlines = 0;
	return n;
}

/* The items of `tables`; each item's line is the number of line breaks
 * before it (topology.c turns that into the file's line). */
static bool parse_tables(const char *s, struct table_specs *out, struct strbuf *err)
{
	struct table_specs list = { 0 };
	size_t pos = 0, bad, cap = 0;
	int newlines = 0;

	if (!utf8_valid(s, &bad)) {
		strbuf_addf(err, "byte 0x%02x at position %zu is not UTF-8", (unsigned char)s[bad],
			    bad + 1);
		return false;
	}
	for (;;) {
		struct table_spec spec;

		while (s[pos] && list_separator(s[pos]))
			newlines += s[pos++] == '\n';
		if (!s[pos])
			break;
		if (!table_item_parse(s, &pos, true, &spec, err))
			goto fail;
		spec.line = newlines;
		for (size_t j = 0; j < list.n; j++) {
			if (spec_same(&spec, &list.items[j])) {
				char *text = spec_text(&spec);

				strbuf_addf(err, "table %s is listed twice", text);
				free(text);
				free(spec.schema);
				free(spec.table);
				goto fail;
			}
		}
		if (list.n == cap) {
			cap = cap ? cap * 2 : 16;
			list.items = xrealloc(list.items, cap * sizeof(*list.items));
		}
		list.items[list.n++] = spec;
	}
	if (list.n == 0) {
		strbuf_adds(err, "no table listed");
		goto fail;
	}
	specs_free(out);
	*out = list;
	return true;
fail:
	error_newlines = newlines; /* the line of the item at fault */
	specs_free(&list);
	return false;
}

static bool hostport_valid(const char *s, struct strbuf *err)
{
	const char *colon = strrchr(s, ':');
	char *host;
	long port;
	bool ok;

	if (!colon) {
		strbuf_addf(err, "'%s' has no port (write host:port)", s);
		return false;
	}
	if (s[0] == '[' && colon > s && colon[-1] == ']')
		host = xstrndup(s + 1, (size_t)(colon - s - 2));
	else
		host = xstrndup(s, (size_t)(colon - s));
	ok = host[0] != '/' && host_valid(host, err) &&
	     parse_int(colon + 1, 1, 65535, &port, err);
	free(host);
	return ok;
}

static bool cidr_valid(const char *s, struct strbuf *err)
{
	const char *slash = strchr(s, '/');
	unsigned char addr[16];
	char *ip;
	long bits;
	int family;
	bool ok;

	if (!slash) {
		strbuf_addf(err, "'%s' is not address/prefix (e.g. 127.0.0.1/32)", s);
		return false;
	}
	ip = xstrndup(s, (size_t)(slash - s));
	family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	ok = inet_pton(family, ip, addr) == 1;
	if (!ok)
		strbuf_addf(err, "'%s' is not an IP address", ip);
	else if (!(ok = parse_int(slash + 1, 0, family == AF_INET ? 32 : 128, &bits, err))) {
		err->len = 0;
		err->data[0] = '\0';
		strbuf_addf(err, "'%s': prefix length must be 0..%d", s, family == AF_INET ? 32 : 128);
	}
	free(ip);
	return ok;
}

static bool parse_checked_list(const char *s, bool (*item_valid)(const char *, struct strbuf *),
			       struct strlist *out, struct strbuf *err)
{
	struct strlist items = { 0 };

	split_list(s, &items);
	if (items.n == 0) {
		strbuf_adds(err, "empty list");
		return false;
	}
	for (size_t i = 0; i < items.n; i++) {
		if (!item_valid(items.items[i], err)) {
			strlist_fini(&items);
			return false;
		}
	}
	strlist_fini(out);
	*out = items;
	return true;
}

static bool url_valid(const char *s, struct strbuf *err)
{
	static const char *const schemes[] = { "http://", "https://", "file:///" };

	for (size_t i = 0; i < ARRAY_LEN(schemes); i++)
		if (strncmp(s, schemes[i], strlen(schemes[i])) == 0 && s[strlen(schemes[i])])
			return true;
	strbuf_addf(err, "'%s' is not an http://, https:// or file:/// URL", s);
	return false;
}

static bool sha512_valid(const char *s, struct strbuf *err)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i])) {
			strbuf_addf(err, "SHA-512 digest has a non-hex character at position %zu",
				    i + 1);
			return false;
		}
	}
	if (len != 128) {
		strbuf_addf(err, "SHA-512 digest has %zu hex digits, expected 128", len);
		return false;
	}
	return true;
}

static bool topic_part_valid(const char *s, struct strbuf *err)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(isalnum(c) || c == '.' || c == '_' || c == '-')) {
			strbuf_addf(err,
				    "'%s' has '%c', which Kafka topic names cannot contain (use a-z, A-Z, 0-9, . _ -)",
				    s, c);
			return false;
		}
	}
	if (len == 0 || len > 200) {
		strbuf_addf(err, "'%s' must be 1 to 200 characters", s);
		return false;
	}
	return true;
}

static bool unit_valid(const char *s, struct strbuf *err)
{
	for (const char *p = s; *p; p++) {
		if (!(isalnum((unsigned char)*p) || strchr(":-_.\\@", *p))) {
			strbuf_addf(err, "'%s' is not a systemd unit name", s);
			return false;
		}
	}
	return true;
}

bool size_parse(const char *s, int64_t bare_unit, int64_t *bytes, struct strbuf *err)
{
	static const struct { const char *name; int64_t bytes; } units[] = {
		{ "B", 1 }, { "kB", 1LL << 10 }, { "MB", 1LL << 20 }, { "GB", 1LL << 30 },
		{ "TB", 1LL << 40 },
	};
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || !isdigit((unsigned char)s[0])) {
		strbuf_addf(err, "'%s' is not a size (a whole number and B, kB, MB, GB or TB, e.g. 10GB)",
			    s);
		return false;
	}
	for (size_t i = 0; i <= ARRAY_LEN(units); i++) {
		int64_t unit = i < ARRAY_LEN(units) ? units[i].bytes : bare_unit;

		if (i < ARRAY_LEN(units) ? strcmp(end, units[i].name) != 0 : *end || !unit)
			continue;
		if (n > INT64_MAX / unit) {
			strbuf_addf(err, "'%s' is too large", s);
			return false;
		}
		*bytes = n * unit;
		return true;
	}
	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		if (strcasecmp(end, units[i].name) == 0) {
			strbuf_addf(err, "'%s': units are written as PostgreSQL does: %.*s%s",
				    s, (int)(end - s), s, units[i].name);
			return false;
		}
	}
	strbuf_addf(err, "'%s' is not a size: %s (a whole number and B, kB, MB, GB or TB, e.g. 10GB)",
		    s, *end ? "unknown unit" : "no unit");
	return false;
}

static bool parse_size(const struct key_spec *spec, const char *s, int64_t *out,
		       struct strbuf *err)
{
	if (spec->min < 0 && strcmp(s, "-1") == 0) {
		*out = -1;
		return true;
	}
	if (s[0] == '-') {
		strbuf_addf(err, "'%s' is negative%s", s,
			    spec->min < 0 ? " (-1 leaves it unset)" : "");
		return false;
	}
	if (!size_parse(s, 0, out, err))
		return false;
	/* max set: a bounded size (both bounds in bytes) */
	if (spec->max > 0 && (*out < spec->min || *out > spec->max)) {
		strbuf_addf(err, "'%s' is out of range: from %dMB to %dMB", s, spec->min >> 20,
			    spec->max >> 20);
		return false;
	}
	return true;
}

static bool store_string(const char *s, bool (*check)(const char *, struct strbuf *),
			 char **field, struct strbuf *err)
{
	if (check && !check(s, err))
		return false;
	free(*field);
	*field = xstrdup(s);
	return true;
}

static bool secret_file_valid(const char *s, struct strbuf *err)
{
	char why[256];

	/* Its path also goes into cdc-agent.service's ReadWritePaths=. */
	if (!safe_path_valid(s, err))
		return false;
	if (!secret_file_is_private(s, why, sizeof(why))) {
		strbuf_addf(err, "password file %s: %s", s, why);
		return false;
	}
	return true;
}

/* A password file bootstrap makes when it is missing (the Kafka users'):
 * as secret_file_valid, or absent. */
static bool secret_file_new_valid(const char *s, struct strbuf *err)
{
	struct stat st;

	if (!safe_path_valid(s, err))
		return false;
	if (lstat(s, &st) != 0 && errno == ENOENT)
		return true;
	return secret_file_valid(s, err);
}

/* A TLS private key: libpq refuses one that group or others may read. */
static bool key_file_valid(const char *s, struct strbuf *err)
{
	char why[256];

	/* Its path also goes into cdc-agent.service's ReadWritePaths=. */
	if (!safe_path_valid(s, err))
		return false;
	if (!secret_file_is_private(s, why, sizeof(why))) {
		strbuf_addf(err, "key file %s: %s", s, why);
		return false;
	}
	return true;
}

/* A certificate (or CA bundle): public, but it must be there and readable
 * now rather than fail each connection later. */
static bool cert_file_valid(const char *s, struct strbuf *err)
{
	struct stat st;

	if (!safe_path_valid(s, err))
		return false;
	if (stat(s, &st) != 0 || access(s, R_OK) != 0) {
		strbuf_addf(err, "certificate file %s: %s", s, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		strbuf_addf(err, "certificate file %s: not a regular file", s);
		return false;
	}
	return true;
}

/* The status endpoints have no authentication: they may only listen on a
 * loopback address (127.0.0.0/8 or [::1]), where only local users reach them. */
static bool listen_valid(const char *s, struct strbuf *err)
{
	const char *colon = strrchr(s, ':');
	char *host;
	bool loopback;

	if (!hostport_valid(s, err))
		return false;
	host = xstrndup(s, (size_t)(colon - s));
	loopback = strcmp(host, "[::1]") == 0 || strncmp(host, "127.", 4) == 0;
	if (loopback && host[0] == '1') {
		struct in_addr a;

		loopback = inet_pton(AF_INET, host, &a) == 1;
	}
	free(host);
	if (!loopback)
		strbuf_addf(err, "'%s' is not a loopback address (127.0.0.1:PORT or [::1]:PORT; "
			    "the endpoints have no authentication)", s);
	return loopback;
}

/* Names a refused byte: itself when printable ASCII, else its hex value. */
static void describe_byte(struct strbuf *err, unsigned char c)
{
	if (c > ' ' && c < 0x7f)
		strbuf_addf(err, "'%c'", c);
	else if (c == ' ')
		strbuf_adds(err, "a space");
	else
		strbuf_addf(err, "byte 0x%02x", c);
}

bool safe_path_valid(const char *s, struct strbuf *err)
{
	size_t len = strlen(s);

	if (s[0] != '/') {
		strbuf_addf(err, "'%s' is not an absolute path", s);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(isascii(c) && (isalnum(c) || strchr("._/+-", c)))) {
			strbuf_adds(err, "path has ");
			describe_byte(err, c);
			strbuf_addf(err, " at position %zu: paths may use only A-Z a-z 0-9 . _ + - and /", i + 1);
			return false;
		}
	}
	if (len > SAFE_PATH_MAX) {
		strbuf_addf(err, "path is longer than %d characters", SAFE_PATH_MAX);
		return false;
	}
	if (len == 1) {
		strbuf_adds(err, "'/' is the whole file system: name a directory under it");
		return false;
	}
	if (s[len - 1] == '/') {
		strbuf_addf(err, "'%s' ends with '/': write it without", s);
		return false;
	}
	for (const char *p = s; *p; ) {
		const char *comp = p + 1, *end = comp + strcspn(comp, "/");
		size_t n = (size_t)(end - comp);

		if (n == 0 || (n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.')) {
			strbuf_addf(err, "'%s' is not normalized (it has %s): write the path it means",
				    s, n == 0 ? "'//'" : n == 1 ? "a '.' component" : "a '..' component");
			return false;
		}
		p = end;
	}
	return true;
}

bool heap_size_valid(const char *s, struct strbuf *err)
{
	size_t digits = strspn(s, "0123456789");
	bool ok = digits > 0 && digits <= 12 && (s[digits] == '\0' ||
						(strchr("kKmMgG", s[digits]) && s[digits + 1] == '\0'));

	if (ok && strspn(s, "0") == digits)
		ok = false; /* no heap of size zero */
	if (!ok)
		strbuf_addf(err, "'%s' is not a JVM heap size (digits and an optional k, m or g, "
			    "e.g. 512m or 1g; nothing else)", s);
	return ok;
}

bool value_parse(const struct key_spec *spec, const char *text, void *field, struct strbuf *err)
{
	long n;

	if (text[0] == '\0') {
		strbuf_adds(err, "empty value");
		return false;
	}
	switch (spec->type) {
	case V_STRING:
		return store_string(text, NULL, field, err);
	case V_INT:
		if (!parse_int(text, spec->min, spec->max, &n, err))
			return false;
		*(int *)field = (int)n;
		return true;
	case V_PORT:
		if (!parse_int(text, 1, 65535, &n, err))
			return false;
		*(int *)field = (int)n;
		return true;
	case V_BOOL:
		return parse_bool(text, field, err);
	case V_ENUM:
		return parse_enum(text, spec->enum_values, spec->n_enum_values, field, err);
	case V_HOST:
		return store_string(text, host_valid, field, err);
	case V_ADDRESS:
		return store_string(text, address_valid, field, err);
	case V_PG_NAME:
		return store_string(text, pg_name_valid, field, err);
	case V_SLOT:
		return store_string(text, slot_valid, field, err);
	case V_TABLES:
		value_free(spec, field);
		return parse_tables(text, field, err);
	case V_ABS_PATH:
		return store_string(text, safe_path_valid, field, err);
	case V_HEAP:
		return store_string(text, heap_size_valid, field, err);
	case V_SECRET_FILE:
		return store_string(text, secret_file_valid, field, err);
	case V_SECRET_FILE_NEW:
		return store_string(text, secret_file_new_valid, field, err);
	case V_CERT_FILE:
		return store_string(text, cert_file_valid, field, err);
	case V_KEY_FILE:
		return store_string(text, key_file_valid, field, err);
	case V_URL:
		return store_string(text, url_valid, field, err);
	case V_SHA512:
		if (!store_string(text, sha512_valid, field, err))
			return false;
		for (char *p = *(char **)field; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		return true;
	case V_HOSTPORTS:
		return parse_checked_list(text, hostport_valid, field, err);
	case V_CIDRS:
		return parse_checked_list(text, cidr_valid, field, err);
	case V_TOPIC_PART:
		return store_string(text, topic_part_valid, field, err);
	case V_LISTEN:
		if (strcmp(text, "off") == 0) {
			free(*(char **)field);
			*(char **)field = NULL;
			return true;
		}
		return store_string(text, listen_valid, field, err);
	case V_SIZE:
		return parse_size(spec, text, field, err);
	case V_UNIT:
		if (!unit_valid(text, err))
			return false;
		free(*(char **)field);
		*(char **)field = str_ends_with(text, ".service") ? xstrdup(text)
								   : xasprintf("%s.service", text);
		return true;
	}
	strbuf_adds(err, "internal error: unknown value type");
	return false;
}

void value_free(const struct key_spec *spec, void *field)
{
	switch (spec->type) {
	case V_INT:
	case V_PORT:
	case V_BOOL:
	case V_ENUM:
	case V_SIZE:
		return;
	case V_TABLES:
		specs_free(field);
		return;
	case V_HOSTPORTS:
	case V_CIDRS:
		strlist_fini(field);
		return;
	default:
		free(*(char **)field);
		*(char **)field = NULL;
		return;
	}
}

void value_text(const struct key_spec *spec, const void *field, struct strbuf *out)
{
	switch (spec->type) {
	case V_INT:
	case V_PORT:
		strbuf_addf(out, "%d", *(const int *)field);
		return;
	case V_BOOL:
		strbuf_adds(out, *(const bool *)field ? "true" : "false");
		return;
	case V_ENUM:
		strbuf_adds(out, spec->enum_values[*(const int *)field]); /* a parsed value */
		return;
	case V_SIZE:
		strbuf_addf(out, "%lld", (long long)*(const int64_t *)field);
		return;
	case V_TABLES: {
		const struct table_specs *list = field;

		for (size_t i = 0; i < list->n; i++) {
			char *text = spec_text(&list->items[i]);

			strbuf_addf(out, "%s%s", i ? "," : "", text);
			free(text);
		}
		return;
	}
	case V_HOSTPORTS:
	case V_CIDRS: {
		const struct strlist *list = field;

		for (size_t i = 0; i < list->n; i++)
			strbuf_addf(out, "%s%s", i ? "," : "", list->items[i]);
		return;
	}
	default:
		strbuf_adds(out, *(char *const *)field ? *(char *const *)field : "(unset)");
		return;
	}
}
