/*
 * agent/base/json_scan.c: the in-place JSON reader (see json_scan.h).
 */
#include "base/json_scan.h"

#include "base/util.h"

#include <string.h>

static bool fail(struct jscan *s, const char *at, const char *why)
{
	if (!s->error) {
		s->error = at >= s->end ? "unexpected end of text" : why;
		s->error_pos = (size_t)((at > s->end ? s->end : at) - s->start);
	}
	return false;
}

void jscan_init(struct jscan *s, char *text, size_t len)
{
	s->p = s->start = text;
	s->end = text + len;
	s->depth = 0;
	s->error = NULL;
	s->error_pos = 0;
	s->first = false;
}

void jscan_init_within(struct jscan *s, const struct jscan_value *v)
{
	v->text[v->len] = '\0';
	jscan_init(s, v->text, v->len);
}

static void skip_ws(struct jscan *s)
{
	while (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')
		s->p++;
}

/* The 4 hex digits at p, or -1. */
static long hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int d = hex_digit_value(p[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0; /* overlong */
	else if (c == 0xED)
		hi = 0x9F; /* surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

static char *put_utf8(char *dst, unsigned long cp)
{
	if (cp < 0x80) {
		*dst++ = (char)cp;
	} else if (cp < 0x800) {
		*dst++ = (char)(0xC0 | (cp >> 6));
		*dst++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*dst++ = (char)(0xE0 | (cp >> 12));
		*dst++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*dst++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*dst++ = (char)(0xF0 | (cp >> 18));
		*dst++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*dst++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*dst++ = (char)(0x80 | (cp & 0x3F));
	}
	return dst;
}

/* A \uXXXX escape (surrogate pairs joined) at *src (on the 'u'); the code
 * point, or -1 after logging the fault. */
static long unicode_escape(struct jscan *s, const char **src)
{
	const char *p = *src;
	long cp = hex4(p + 1), lo;

	if (cp < 0)
		return fail(s, p, "invalid \\u escape"), -1;
	p += 5;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return fail(s, p - 6, "lone low surrogate in \\u escape"), -1;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (p[0] != '\\' || p[1] != 'u' || (lo = hex4(p + 2)) < 0xDC00 || lo > 0xDFFF)
			return fail(s, p - 6, "high surrogate without its low surrogate"), -1;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		p += 6;
	}
	if (cp == 0)
		return fail(s, p - 6, "\\u0000 is not allowed in a string"), -1;
	*src = p;
	return cp;
}

/* The string at the cursor (on its '"'); with write, unescaped in place and
 * NUL-terminated into *out and *len. */
static bool read_string(struct jscan *s, bool write, char **out, size_t *len)
{
	const char *src = s->p + 1;
	char *dst = s->p + 1;
	char *begin = dst;

	/* Fast path: until the first escape or non-ASCII byte, the text is its
	 * own unescaped form (dst == src), so there is nothing to copy.  Most
	 * strings of an event (names, ISO times, decimals) end here. */
	while ((unsigned char)*src >= 0x20 && (unsigned char)*src < 0x80 && *src != '"' &&
	       *src != '\\')
		src++;
	dst += src - begin;
	for (;;) {
		unsigned char c = (unsigned char)*src;

		if (c == '"')
			break;
		if (c == '\\') {
			static const char plain[] = "\"\\/bfnrt", as[] = "\"\\/\b\f\n\r\t";
			const char *e = src[1] ? strchr(plain, src[1]) : NULL;

			if (e) {
				if (write)
					*dst++ = as[e - plain];
				src += 2;
			} else if (src[1] == 'u') {
				const char *u = src + 1;
				long cp = unicode_escape(s, &u);

				if (cp < 0)
					return false;
				if (write)
					dst = put_utf8(dst, (unsigned long)cp);
				src = u;
			} else {
				return fail(s, src, "invalid escape in a string");
			}
		} else if (c < 0x20) {
			return fail(s, src, "control character in a string");
		} else if (c < 0x80) {
			if (write)
				*dst++ = (char)c;
			src++;
		} else {
			size_t n = utf8_len((const unsigned char *)src);

			if (n == 0)
				return fail(s, src, "invalid UTF-8 in a string");
			if (write) {
				memmove(dst, src, n);
				dst += n;
			}
			src += n;
		}
	}
	if (write) {
		*dst = '\0'; /* at or before the closing quote, already read */
		*out = begin;
		*len = (size_t)(dst - begin);
	}
	s->p = (char *)src + 1;
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool read_number(struct jscan *s)
{
	const char *p = s->p;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (is_digit(*p))
		while (is_digit(*p))
			p++;
	else
		return fail(s, p, "invalid number");
	if (*p == '.') {
		if (!is_digit(*++p))
			return fail(s, p, "invalid number");
		while (is_digit(*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return fail(s, p, "invalid number");
		while (is_digit(*p))
			p++;
	}
	s->p = (char *)p;
	return true;
}

static bool read_literal(struct jscan *s, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(s->p, word, n) != 0)
		return fail(s, s->p, "invalid literal");
	s->p += n;
	return true;
}

static bool skip_container(struct jscan *s);

/* One value at the cursor (white space skipped before it); strings are
 * unescaped only with write; containers are skipped, never rewritten. */
static bool read_any(struct jscan *s, bool write, struct jscan_value *v)
{
	char *begin;

	skip_ws(s);
	begin = s->p;
	v->text = begin;
	switch (*begin) {
	case '"':
		v->kind = JSCAN_STRING;
		if (!read_string(s, write, &v->text, &v->len))
			return false;
		return true;
	case '{':
	case '[':
		v->kind = *begin == '{' ? JSCAN_OBJECT : JSCAN_ARRAY;
		if (!skip_container(s))
			return false;
		break;
	case 't':
		v->kind = JSCAN_TRUE;
		if (!read_literal(s, "true"))
			return false;
		break;
	case 'f':
		v->kind = JSCAN_FALSE;
		if (!read_literal(s, "false"))
			return false;
		break;
	case 'n':
		v->kind = JSCAN_NULL;
		if (!read_literal(s, "null"))
			return false;
		break;
	default:
		v->kind = JSCAN_NUMBER;
		if (*begin != '-' && !is_digit(*begin))
			return fail(s, begin, "expected a value");
		if (!read_number(s))
			return false;
	}
	v->len = (size_t)(s->p - begin);
	return true;
}

/* Checks and skips the object or array at the cursor. */
static bool skip_container(struct jscan *s)
{
	char close = *s->p == '{' ? '}' : ']';
	bool object = close == '}';
	struct jscan_value v;

	if (++s->depth > JSCAN_MAX_DEPTH)
		return fail(s, s->p, "nested too deeply");
	s->p++;
	skip_ws(s);
	if (*s->p == close) {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		if (object) {
			skip_ws(s);
			if (*s->p != '"')
				return fail(s, s->p, "expected a member name");
			if (!read_any(s, false, &v))
				return false;
			skip_ws(s);
			if (*s->p != ':')
				return fail(s, s->p, "expected ':'");
			s->p++;
		}
		if (!read_any(s, false, &v))
			return false;
		skip_ws(s);
		if (*s->p == ',') {
			s->p++;
			continue;
		}
		if (*s->p != close)
			return fail(s, s->p, object ? "expected ',' or '}'" : "expected ',' or ']'");
		s->p++;
		s->depth--;
		return true;
	}
}

bool jscan_value(struct jscan *s, struct jscan_value *v)
{
	s->first = false;
	return !s->error && read_any(s, true, v);
}

bool jscan_value_known(struct jscan *s, const char *known, size_t len, struct jscan_value *v)
{
	if (s->error || len == 0 || (known[0] != '{' && known[0] != '['))
		return false;
	skip_ws(s);
	if ((size_t)(s->end - s->p) < len || memcmp(s->p, known, len) != 0)
		return false;
	v->kind = known[0] == '{' ? JSCAN_OBJECT : JSCAN_ARRAY;
	v->text = s->p;
	v->len = len;
	s->p += len;
	s->first = false;
	return true;
}

bool jscan_enter(struct jscan *s, char open)
{
	if (s->error)
		return false;
	skip_ws(s);
	if (*s->p != open)
		return fail(s, s->p, open == '{' ? "expected an object" : "expected an array");
	if (++s->depth > JSCAN_MAX_DEPTH)
		return fail(s, s->p, "nested too deeply");
	s->p++;
	s->first = true;
	return true;
}

/* Before the next member or item: ',' (unless first) or the closing byte. */
static bool next_in_container(struct jscan *s, char close, bool *more)
{
	bool first = s->first;

	if (s->error)
		return false;
	s->first = false;
	skip_ws(s);
	if (*s->p == close) {
		s->p++;
		s->depth--;
		*more = false;
		return true;
	}
	if (!first) {
		if (*s->p != ',')
			return fail(s, s->p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
		s->p++;
	}
	*more = true;
	return true;
}

bool jscan_member(struct jscan *s, const char **name, bool *more)
{
	char *text;
	size_t len;

	if (!next_in_container(s, '}', more) || !*more)
		return !s->error;
	skip_ws(s);
	if (*s->p != '"')
		return fail(s, s->p, "expected a member name");
	if (!read_string(s, true, &text, &len))
		return false;
	*name = text;
	skip_ws(s);
	if (*s->p != ':')
		return fail(s, s->p, "expected ':'");
	s->p++;
	return true;
}

bool jscan_item(struct jscan *s, bool *more)
{
	return next_in_container(s, ']', more);
}

char jscan_peek(struct jscan *s)
{
	skip_ws(s);
	return *s->p;
}

bool jscan_finish(struct jscan *s)
{
	if (s->error)
		return false;
	skip_ws(s);
	if (s->p != s->end)
		return fail(s, s->p, "text after the JSON value");
	return true;
}

bool jscan_int64(const struct jscan_value *v, int64_t *out)
{
	const char *p = v->text, *end = v->text + v->len;
	bool negative = p < end && *p == '-';
	uint64_t n = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

	if (v->kind != JSCAN_NUMBER)
		return false;
	if (negative)
		p++;
	if (p == end)
		return false;
	for (; p < end; p++) {
		if (!is_digit(*p) || n > (limit - (uint64_t)(*p - '0')) / 10)
			return false; /* a fraction or exponent, or too big */
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*out = negative ? (int64_t)(0 - n) : (int64_t)n;
	return true;
}

bool jscan_is_string(const struct jscan_value *v, const char *s)
{
	return v->kind == JSCAN_STRING && strlen(s) == v->len && memcmp(v->text, s, v->len) == 0;
}
