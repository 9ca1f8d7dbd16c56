/*
 * agent/pg/column_type.c: a record's column type, parsed and resolved by the
 * target's catalog (see column_type.h).
 */
#include "pg/column_type.h"

#include "pg/pgsql.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A modifier: digits only (typmods are never negative), at most 9 of them. */
static bool mod_read(const char **p, int *out)
{
	const char *s = *p;
	long v = 0;
	int n = 0;

	while (*s == ' ')
		s++;
	while (*s >= '0' && *s <= '9' && n < 10) {
		v = v * 10 + (*s++ - '0');
		n++;
	}
	if (n == 0 || n > 9)
		return false;
	while (*s == ' ')
		s++;
	*out = (int)v;
	*p = s;
	return true;
}

/* "(m1[,m2])" at *p. */
static bool mods_read(const char **p, struct column_type *t)
{
	const char *s = *p + 1;

	for (;;) {
		if (t->nmods == COLUMN_TYPE_MAX_MODS || !mod_read(&s, &t->mods[t->nmods]))
			return false;
		t->nmods++;
		if (*s == ')')
			break;
		if (*s++ != ',')
			return false;
	}
	*p = s + 1;
	return true;
}

/* A double-quoted identifier at *p, copied with its quotes into base. */
static bool quoted_read(const char **p, struct strbuf *base)
{
	const char *s = *p + 1;

	strbuf_add(base, "\"", 1);
	for (;; s++) {
		if (*s == '\0')
			return false;
		if (*s == '"' && s[1] != '"')
			break;
		if (*s == '"')
			strbuf_add(base, s++, 1); /* "" stands for one quote */
		strbuf_add(base, s, 1);
	}
	strbuf_add(base, "\"", 1);
	*p = s + 1;
	return true;
}

static bool unquoted_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c == '.' || c >= 0x80;
}

/* Base name with runs of spaces folded to one and no space at either end. */
static char *base_folded(const char *s)
{
	struct strbuf sb;

	strbuf_init(&sb);
	for (; *s; s++) {
		if (*s == ' ' && (sb.len == 0 || s[1] == ' ' || s[1] == '\0'))
			continue;
		strbuf_add(&sb, s, 1);
	}
	return strbuf_detach(&sb);
}

bool column_type_parse(const char *text, struct column_type *t, struct strbuf *why)
{
	struct strbuf base;
	const char *p = text;
	bool ok = true;

	memset(t, 0, sizeof(*t));
	if (strlen(text) > COLUMN_TYPE_MAX_TEXT) {
		strbuf_addf(why, "type name longer than %d characters", COLUMN_TYPE_MAX_TEXT);
		return false;
	}
	strbuf_init(&base);
	while (ok && *p && *p != '[') {
		if (*p == '"')
			ok = quoted_read(&p, &base);
		else if (*p == '(')
			ok = base.len > 0 && t->nmods == 0 && mods_read(&p, t);
		else if (*p == ' ' || unquoted_char((unsigned char)*p))
			strbuf_add(&base, p++, 1);
		else
			ok = false;
	}
	/* Array dimensions end the text: "[]" each, at most 6 (PostgreSQL's). */
	while (ok && *p) {
		ok = p[0] == '[' && p[1] == ']' && t->array_dims < 6;
		t->array_dims++;
		p += 2;
	}
	t->base = base_folded(base.data);
	strbuf_fini(&base);
	if (ok && t->base[0] == '\0')
		ok = false;
	if (!ok)
		strbuf_addf(why, "'%s' is not a type name (a name, integer modifiers, [])", text);
	return ok;
}

void column_type_fini(struct column_type *t)
{
	free(t->base);
	memset(t, 0, sizeof(*t));
}

/* interval's generic modifiers are (fields, precision): interval(3), as
 * format_type writes it, means all fields at precision 3. */
#define INTERVAL_FULL_RANGE 0x7FFF

bool column_type_resolve(PGconn *db, const char *label, const struct column_type *t, char **sql,
			 struct strbuf *why)
{
	const char *params[] = { t->base };
	struct strbuf sb;
	PGresult *res;
	bool interval;

	*sql = NULL;
	if (!pgsql_query(db, label,
			 "SELECT quote_ident(n.nspname) || '.' || quote_ident(t.typname), "
			 "n.nspname = 'pg_catalog' AND t.typname = 'interval', t.typtype = 'p' "
			 "FROM pg_catalog.pg_type t "
			 "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
			 "WHERE t.oid = pg_catalog.to_regtype($1)",
			 1, params, &res)) {
		strbuf_addf(why, "the target could not look up type '%s'", t->base);
		return false;
	}
	if (PQntuples(res) != 1 || PQgetvalue(res, 0, 2)[0] == 't') {
		strbuf_addf(why, "the target has no type '%s'", t->base);
		PQclear(res);
		return false;
	}
	strbuf_init(&sb);
	strbuf_adds(&sb, PQgetvalue(res, 0, 0));
	interval = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (interval && t->nmods == 1)
		strbuf_addf(&sb, "(%d,%d)", INTERVAL_FULL_RANGE, t->mods[0]);
	else if (t->nmods == 1)
		strbuf_addf(&sb, "(%d)", t->mods[0]);
	else if (t->nmods == 2)
		strbuf_addf(&sb, "(%d,%d)", t->mods[0], t->mods[1]);
	for (int i = 0; i < t->array_dims; i++)
		strbuf_adds(&sb, "[]");
	*sql = strbuf_detach(&sb);
	return true;
}
