/*
 * agent/pg/pg_text.c: PostgreSQL's text output forms parsed into event values.
 */
#include "pg/pg_text.h"

#include "base/util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define USEC_PER_SEC INT64_C(1000000)
#define USEC_PER_DAY (INT64_C(86400) * USEC_PER_SEC)

/* Reads exactly digits decimal digits. */
static bool read_digits(const char **p, const char *end, int digits, int *out)
{
	int v = 0;

	for (int i = 0; i < digits; i++) {
		if (*p >= end || !isdigit((unsigned char)**p))
			return false;
		v = v * 10 + (*(*p)++ - '0');
	}
	*out = v;
	return true;
}

static bool expect_char(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD" with 4 to 9 year digits (PostgreSQL's years have at most
 * 7; more could overflow); BC handled by the callers. */
static bool parse_ymd(const char **p, const char *end, int64_t *days)
{
	int64_t year = 0;
	int digits = 0, month, day;

	while (*p < end && isdigit((unsigned char)**p)) {
		if (++digits > 9)
			return false;
		year = year * 10 + (*(*p)++ - '0');
	}
	if (digits < 4 || !expect_char(p, end, '-') || !read_digits(p, end, 2, &month) ||
	    !expect_char(p, end, '-') || !read_digits(p, end, 2, &day) || month < 1 ||
	    month > 12 || day < 1 || day > 31)
		return false;
	*days = days_from_civil(year, month, day);
	return true;
}

/* "HH:MM:SS[.ffffff]" */
static bool parse_hms(const char **p, const char *end, int64_t *micros)
{
	int h, m, s, frac = 0, frac_digits = 0;

	if (!read_digits(p, end, 2, &h) || !expect_char(p, end, ':') ||
	    !read_digits(p, end, 2, &m) || !expect_char(p, end, ':') ||
	    !read_digits(p, end, 2, &s))
		return false;
	if (*p < end && **p == '.') {
		(*p)++;
		while (*p < end && isdigit((unsigned char)**p)) {
			if (frac_digits < 6) {
				frac = frac * 10 + (**p - '0');
				frac_digits++;
			}
			(*p)++;
		}
		if (frac_digits == 0)
			return false;
		while (frac_digits++ < 6)
			frac *= 10;
	}
	*micros = ((int64_t)h * 3600 + m * 60 + s) * USEC_PER_SEC + frac;
	return true;
}

static bool ends_with_bc(const char *s, size_t n)
{
	return n >= 3 && memcmp(s + n - 3, " BC", 3) == 0;
}

/* BC year 1 is year 0 of the proleptic calendar: shift the parsed days. */
static int64_t bc_days(int64_t days_as_ad, const char *s)
{
	int64_t year = strtoll(s, NULL, 10);
	int64_t ad_start = days_from_civil(year, 1, 1);
	int64_t bc_start = days_from_civil(1 - year, 1, 1);

	return days_as_ad - ad_start + bc_start;
}

bool pg_text_date(const char *s, size_t n, int32_t *days)
{
	const char *p = s, *end = s + n;
	bool bc = ends_with_bc(s, n);
	int64_t d;

	if (bc)
		end -= 3;
	if (!parse_ymd(&p, end, &d) || p != end)
		return false;
	if (bc)
		d = bc_days(d, s);
	if (d < INT32_MIN || d > INT32_MAX)
		return false;
	*days = (int32_t)d;
	return true;
}

bool pg_text_time(const char *s, size_t n, int64_t *micros)
{
	const char *p = s, *end = s + n;

	return parse_hms(&p, end, micros) && p == end;
}

bool pg_text_timestamp(const char *s, size_t n, int64_t *micros)
{
	const char *p = s, *end = s + n;
	bool bc = ends_with_bc(s, n);
	int64_t days, tod;

	if (bc)
		end -= 3;
	if (!parse_ymd(&p, end, &days) || !expect_char(&p, end, ' ') ||
	    !parse_hms(&p, end, &tod) || p != end)
		return false;
	if (bc)
		days = bc_days(days, s);
	/* PostgreSQL's last years (294247 to 294276 AD) overflow int64
	 * microseconds since 1970: the caller sends those as text */
	if (days < INT64_MIN / USEC_PER_DAY || days > (INT64_MAX - tod) / USEC_PER_DAY)
		return false;
	*micros = days * USEC_PER_DAY + tod;
	return true;
}

/* The caller's fixed buffer an ISO string is written into: these run for
 * every timestamp of every event, so no allocation and no printf. */
struct iso_out {
	char *buf;
	size_t len, cap; /* cap counts the NUL */
	bool ok;         /* false once something did not fit */
};

static void iso_put(struct iso_out *o, const char *s, size_t n)
{
	if (!o->ok || o->len + n + 1 > o->cap) {
		o->ok = false;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* v as exactly width digits (zero-padded; v < 10^width). */
static void iso_put_digits(struct iso_out *o, int v, int width)
{
	char d[8];

	for (int i = width - 1; i >= 0; i--, v /= 10)
		d[i] = (char)('0' + v % 10);
	iso_put(o, d, (size_t)width);
}

/* Copies "HH:MM:SS[.ffffff]" from p, as Java's ISO formatters print it:
 * fraction trimmed of trailing zeros, absent when zero. */
static bool copy_hms(const char **p, const char *end, struct iso_out *o)
{
	const char *start = *p;
	int64_t micros;
	const char *frac_end;

	if (!parse_hms(p, end, &micros))
		return false;
	frac_end = *p;
	if (frac_end - start > 8) {
		while (frac_end > start + 9 && frac_end[-1] == '0')
			frac_end--;
		if (frac_end == start + 9)
			frac_end = start + 8;
	}
	iso_put(o, start, (size_t)(frac_end - start));
	return true;
}

/* "+00" -> "Z", "+05:30" -> "+05:30", "-08" -> "-08:00". */
static bool copy_offset(const char **p, const char *end, struct iso_out *o)
{
	int h, m = 0, sec = 0;
	char sign;

	if (*p >= end || (**p != '+' && **p != '-'))
		return false;
	sign = *(*p)++;
	if (!read_digits(p, end, 2, &h))
		return false;
	if (*p < end && **p == ':' && (!expect_char(p, end, ':') || !read_digits(p, end, 2, &m)))
		return false;
	if (*p < end && **p == ':' && (!expect_char(p, end, ':') || !read_digits(p, end, 2, &sec)))
		return false;
	if (h == 0 && m == 0 && sec == 0) {
		iso_put(o, "Z", 1);
	} else {
		iso_put(o, &sign, 1);
		iso_put_digits(o, h, 2);
		iso_put(o, ":", 1);
		iso_put_digits(o, m, 2);
		if (sec) {
			iso_put(o, ":", 1);
			iso_put_digits(o, sec, 2);
		}
	}
	return *p == end;
}

bool pg_text_timestamptz_iso(const char *s, size_t n, int digits, char *out, size_t out_len)
{
	const char *p = s, *end = s + n, *hms;
	struct iso_out o = { out, 0, out_len, out_len > 0 };
	int64_t days, micros;

	if (ends_with_bc(s, n))
		return false; /* ISO needs a signed year; rare enough to send as text */
	if (!parse_ymd(&p, end, &days) || !expect_char(&p, end, ' '))
		return false;
	hms = p;
	if (!parse_hms(&p, end, &micros))
		return false;
	iso_put(&o, s, (size_t)(hms - s - 1));
	iso_put(&o, "T", 1);
	iso_put(&o, hms, 8);
	if (digits > 0) {
		static const int drop[] = { 1000000, 100000, 10000, 1000, 100, 10, 1 };
		int k = digits > 6 ? 6 : digits;

		/* the first k of the fraction's 6 digits */
		iso_put(&o, ".", 1);
		iso_put_digits(&o, (int)(micros % USEC_PER_SEC) / drop[k], k);
	}
	return copy_offset(&p, end, &o) && o.ok;
}

bool pg_text_timetz_iso(const char *s, size_t n, char *out, size_t out_len)
{
	const char *p = s, *end = s + n;
	struct iso_out o = { out, 0, out_len, out_len > 0 };

	return copy_hms(&p, end, &o) && copy_offset(&p, end, &o) && o.ok;
}

bool pg_text_interval_micros(const char *s, size_t n, int64_t *micros)
{
	const char *p = s, *end = s + n;
	double months = 0, days = 0, seconds = 0;
	bool in_time = false;

	if (!expect_char(&p, end, 'P'))
		return false;
	while (p < end) {
		char *num_end;
		char buf[64];
		size_t len = 0;
		double v;

		if (*p == 'T') {
			in_time = true;
			p++;
			continue;
		}
		while (p + len < end && len < sizeof(buf) - 1 &&
		       (isdigit((unsigned char)p[len]) || p[len] == '.' || p[len] == '-'))
			len++;
		if (len == 0 || p + len >= end)
			return false;
		memcpy(buf, p, len);
		buf[len] = '\0';
		v = strtod(buf, &num_end);
		if (*num_end)
			return false;
		p += len;
		switch (*p++) {
		case 'Y': months += v * 12; break;
		case 'M': if (in_time) seconds += v * 60; else months += v; break;
		case 'W': days += v * 7; break;
		case 'D': days += v; break;
		case 'H': seconds += v * 3600; break;
		case 'S': seconds += v; break;
		default: return false;
		}
	}
	{
		double us = ((months * (365.25 / 12) + days) * 86400 + seconds) * 1e6;

		/* intervals reach 178 million years: beyond int64 microseconds
		 * (and converting such a double would be undefined) */
		if (!(us > -9223372036854775808.0 && us < 9223372036854775808.0))
			return false;
		*micros = (int64_t)us;
	}
	return true;
}

bool pg_text_numeric_unscaled(const char *s, size_t n, int *scale, unsigned char **bytes,
			      size_t *len)
{
	/* Big-endian magnitude, grown by multiply-and-add per decimal digit. */
	unsigned char *mag = xcalloc(n + 2, 1);
	size_t cap = n + 2, used = 1;
	bool negative = false, seen_point = false, any_digit = false;
	int frac_digits = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (i == 0 && (c == '-' || c == '+')) {
			negative = c == '-';
			continue;
		}
		if (c == '.' && !seen_point) {
			seen_point = true;
			continue;
		}
		if (!isdigit((unsigned char)c)) {
			free(mag);
			return false; /* NaN, Infinity, exponent: not a Decimal */
		}
		any_digit = true;
		frac_digits += seen_point;
		{
			unsigned carry = (unsigned)(c - '0');

			for (size_t k = 0; k < used; k++) {
				unsigned v = mag[cap - 1 - k] * 10u + carry;

				mag[cap - 1 - k] = (unsigned char)(v & 0xff);
				carry = v >> 8;
			}
			if (carry)
				mag[cap - 1 - used++] = (unsigned char)carry;
		}
	}
	if (!any_digit) {
		free(mag);
		return false;
	}
	{
		unsigned char *start = mag + cap - used;
		unsigned char *out;
		size_t out_len;
		bool pad;

		while (used > 1 && start[0] == 0) {
			start++;
			used--;
		}
		if (negative) { /* two's complement of the magnitude */
			unsigned carry = 1;
			bool zero = used == 1 && start[0] == 0;

			for (size_t k = used; k-- > 0;) {
				unsigned v = (unsigned)(unsigned char)~start[k] + carry;

				start[k] = (unsigned char)v;
				carry = v >> 8;
			}
			pad = !zero && !(start[0] & 0x80);
			if (zero)
				negative = false;
		} else {
			pad = start[0] & 0x80;
		}
		out_len = used + (pad ? 1 : 0);
		out = xmalloc(out_len);
		if (pad)
			out[0] = negative ? 0xff : 0x00;
		memcpy(out + (pad ? 1 : 0), start, used);
		/* Minimal form: drop redundant sign bytes. */
		while (out_len > 1 && ((out[0] == 0x00 && !(out[1] & 0x80)) ||
				       (out[0] == 0xff && (out[1] & 0x80)))) {
			memmove(out, out + 1, --out_len);
		}
		*bytes = out;
		*len = out_len;
	}
	*scale = frac_digits;
	free(mag);
	return true;
}

bool pg_text_bytea(const char *s, size_t n, unsigned char **bytes, size_t *len)
{
	unsigned char *out;

	if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n - 2) % 2 != 0)
		return false;
	out = xmalloc((n - 2) / 2 + 1);
	for (size_t i = 2; i < n; i += 2) {
		int hi = hex_digit_value(s[i]), lo = hex_digit_value(s[i + 1]);

		if (hi < 0 || lo < 0) {
			free(out);
			return false;
		}
		out[(i - 2) / 2] = (unsigned char)(hi << 4 | lo);
	}
	*bytes = out;
	*len = (n - 2) / 2;
	return true;
}

bool pg_array_iter_init(struct pg_array_iter *it, const char *s, size_t n)
{
	it->buf = NULL;
	it->cap = 0;
	if (n < 2 || s[0] != '{' || s[n - 1] != '}')
		return false;
	it->p = s + 1;
	it->end = s + n - 1;
	return true;
}

static void iter_put(struct pg_array_iter *it, size_t at, char c)
{
	if (at + 1 >= it->cap) {
		it->cap = it->cap ? it->cap * 2 : 64;
		it->buf = xrealloc(it->buf, it->cap);
	}
	it->buf[at] = c;
}

int pg_array_iter_next(struct pg_array_iter *it, const char **elem, size_t *len)
{
	size_t n = 0;

	if (it->p >= it->end)
		return 0;
	if (*it->p == '{')
		return -1; /* multi-dimensional arrays are sent as text by the caller */
	if (*it->p == '"') {
		it->p++;
		while (it->p < it->end && *it->p != '"') {
			if (*it->p == '\\' && it->p + 1 < it->end)
				it->p++;
			iter_put(it, n++, *it->p++);
		}
		if (it->p >= it->end)
			return -1;
		it->p++; /* closing quote */
		iter_put(it, n, '\0');
		*elem = it->buf;
	} else {
		const char *start = it->p;

		while (it->p < it->end && *it->p != ',')
			it->p++;
		n = (size_t)(it->p - start);
		if (n == 4 && memcmp(start, "NULL", 4) == 0) {
			*elem = NULL;
		} else {
			for (size_t i = 0; i < n; i++)
				iter_put(it, i, start[i]);
			iter_put(it, n, '\0');
			*elem = it->buf;
		}
	}
	*len = n;
	if (it->p < it->end) {
		if (*it->p != ',')
			return -1;
		it->p++;
	}
	return 1;
}

void pg_array_iter_fini(struct pg_array_iter *it)
{
	free(it->buf);
	it->buf = NULL;
}

/* ---- COPY's text format ------------------------------------------------------ */

bool pg_copy_text_split(char *s, size_t n, size_t ncols, const char **data, size_t *len)
{
	char *end = s + n, *r = s;
	size_t col = 0;

	if (n > 0 && end[-1] == '\n')
		end--;
	if (ncols == 0)
		return r == end;
	for (;;) {
		char *start = r, *w = r;

		if (col == ncols)
			return false; /* more fields than columns */
		/* \N alone: NULL */
		if (end - r >= 2 && r[0] == '\\' && r[1] == 'N' && (end - r == 2 || r[2] == '\t')) {
			data[col] = NULL;
			len[col] = 0;
			r += 2;
		} else {
			while (r < end && *r != '\t') {
				char ch = *r++;

				if (ch == '\\' && r < end) {
					ch = *r++;
					switch (ch) {
					case 'b': ch = '\b'; break;
					case 'f': ch = '\f'; break;
					case 'n': ch = '\n'; break;
					case 'r': ch = '\r'; break;
					case 't': ch = '\t'; break;
					case 'v': ch = '\v'; break;
					default: break; /* \\ and the delimiter: the character */
					}
				}
				*w++ = ch;
			}
			data[col] = start;
			len[col] = (size_t)(w - start);
		}
		col++;
		if (r == end)
			return col == ncols;
		r++; /* the tab */
	}
}

void pg_copy_text_escape(struct strbuf *out, const char *text, size_t n)
{
	const char *end = text + n;

	while (text < end) {
		const char *p = text;
		char esc[2] = { '\\', 0 };

		while (p < end && *p != '\\' && *p != '\n' && *p != '\r' && *p != '\t')
			p++;
		strbuf_add(out, text, (size_t)(p - text));
		if (p == end)
			break;
		esc[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : *p == '\t' ? 't' : '\\';
		strbuf_add(out, esc, 2);
		text = p + 1;
	}
}
