/*
 * agent/topo_values.c: parsers for the value types of topology keys.
 */
#include "topo_values.h"

#include "files.h"
#include "topology.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes. */
#define PG_NAME_MAX 63

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

static bool parse_enum(const char *s, const char *const *values, int *out, struct strbuf *err)
{
	for (int i = 0; values[i]; i++) {
		if (strcmp(s, values[i]) == 0) {
			*out = i;
			return true;
		}
	}
	strbuf_addf(err, "'%s' is not one of:", s);
	for (int i = 0; values[i]; i++)
		strbuf_addf(err, "%s %s", i ? "," : "", values[i]);
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

bool pg_name_valid(const char *s, struct strbuf *err)
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

static bool table_ref_parse(const char *item, struct table_ref *out, struct strbuf *err)
{
	const char *dot = strchr(item, '.');

	if (!dot) {
		strbuf_addf(err, "table '%s' has no schema; did you mean public.%s?", item, item);
		return false;
	}
	out->schema = xstrndup(item, (size_t)(dot - item));
	out->table = xstrdup(dot + 1);
	if (!pg_name_valid(out->schema, err) || !pg_name_valid(out->table, err) ||
	    !schema_replicable(out->schema, err)) {
		free(out->schema);
		free(out->table);
		return false;
	}
	return true;
}

static bool parse_tables(const char *s, struct table_list *out, struct strbuf *err)
{
	struct strlist items = { 0 };
	struct table_list list = { 0 };
	bool ok = true;

	split_list(s, &items);
	if (items.n == 0) {
		strbuf_adds(err, "no table listed");
		ok = false;
	}
	list.items = xcalloc(items.n, sizeof(struct table_ref));
	for (size_t i = 0; ok && i < items.n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(items.items[i], items.items[j]) == 0) {
				strbuf_addf(err, "table %s is listed twice", items.items[i]);
				ok = false;
			}
		}
		if (ok && !table_ref_parse(items.items[i], &list.items[list.n], err))
			ok = false;
		else if (ok)
			list.n++;
	}
	strlist_fini(&items);
	if (!ok) {
		for (size_t i = 0; i < list.n; i++) {
			free(list.items[i].schema);
			free(list.items[i].table);
		}
		free(list.items);
		return false;
	}
	*out = list;
	return true;
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
		return parse_enum(text, spec->enum_values, field, err);
	case V_HOST:
		return store_string(text, host_valid, field, err);
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
	case V_TABLES: {
		struct table_list *list = field;

		for (size_t i = 0; i < list->n; i++) {
			free(list->items[i].schema);
			free(list->items[i].table);
		}
		free(list->items);
		list->items = NULL;
		list->n = 0;
		return;
	}
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
		strbuf_adds(out, spec->enum_values[*(const int *)field]);
		return;
	case V_SIZE:
		strbuf_addf(out, "%lld", (long long)*(const int64_t *)field);
		return;
	case V_TABLES: {
		const struct table_list *list = field;

		for (size_t i = 0; i < list->n; i++)
			strbuf_addf(out, "%s%s.%s", i ? "," : "", list->items[i].schema,
				    list->items[i].table);
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
