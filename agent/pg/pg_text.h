/*
 * agent/pg/pg_text.h: PostgreSQL's text output forms, parsed into the values
 * Debezium's events carry.  The connections that produce the text run with
 * DateStyle=ISO, IntervalStyle=iso_8601, TimeZone=UTC and
 * extra_float_digits=3 (see capture.c), which these parsers assume.
 *
 * Inputs are (pointer, length) pairs that need not be NUL-terminated; every
 * parser returns false on text it does not recognise.
 */
#ifndef CDC_PG_TEXT_H
#define CDC_PG_TEXT_H

#include "base/common.h"
#include "base/util.h"

#include <stdint.h>

/* "2024-01-31" (optionally " BC") -> days since 1970-01-01. */
bool pg_text_date(const char *s, size_t n, int32_t *days);
/* "12:34:56[.ffffff]" -> microseconds since midnight. */
bool pg_text_time(const char *s, size_t n, int64_t *micros);
/* "2024-01-31 12:34:56[.ffffff]" -> microseconds since the epoch. */
bool pg_text_timestamp(const char *s, size_t n, int64_t *micros);
/* "2024-01-31 12:34:56[.ffffff]+00" (TimeZone UTC) -> "2024-01-31T12:34:56.ffffffZ"
 * into out (at least 40 bytes), with exactly `digits` fraction digits (the
 * column's precision, as Debezium's ZonedTimestamp; none when 0). */
bool pg_text_timestamptz_iso(const char *s, size_t n, int digits, char *out, size_t out_len);
/* "12:34:56[.ffffff]+00[:30]" -> "12:34:56[.ffffff]Z" or "...+00:30". */
bool pg_text_timetz_iso(const char *s, size_t n, char *out, size_t out_len);
/* ISO 8601 interval "P1Y2M3DT4H5M6.5S" -> microseconds, months counted as
 * 365.25/12 days (Debezium's MicroDuration). */
bool pg_text_interval_micros(const char *s, size_t n, int64_t *micros);
/* "-12.340" -> scale 3 and the unscaled value -12340 as minimal big-endian
 * two's-complement bytes (Kafka Connect's Decimal).  *bytes: caller frees. */
bool pg_text_numeric_unscaled(const char *s, size_t n, int *scale, unsigned char **bytes,
			      size_t *len);
/* "\x0a0b" -> bytes; caller frees. */
bool pg_text_bytea(const char *s, size_t n, unsigned char **bytes, size_t *len);

/* COPY's text format (a COPY TO STDOUT's row, without options): the line
 * s[0..n), its newline included or not, split at its tabs into ncols
 * fields, each unescaped in place (\\, \b \f \n \r \t \v; a backslash
 * before any other character stands for that character); a field that is
 * \N alone is SQL NULL (data NULL).  Each data[i], len[i] points into s; false
 * when the line has another number of fields. */
bool pg_copy_text_split(char *s, size_t n, size_t ncols, const char **data, size_t *len);
/* Appends text[0..n) to out as a field of COPY's text format: backslash,
 * newline, carriage return and tab escaped. */
void pg_copy_text_escape(struct strbuf *out, const char *text, size_t n);

/* Walks the elements of a one-dimensional array literal "{1,NULL,"a b"}". */
struct pg_array_iter {
	const char *p, *end;
	char *buf;      /* the current element, unescaped; owned by the iterator */
	size_t cap;
};

bool pg_array_iter_init(struct pg_array_iter *it, const char *s, size_t n);
/* Next element: returns 1 with *elem and *len (*elem NULL for SQL NULL), 0 at
 * the end, -1 on malformed input. */
int pg_array_iter_next(struct pg_array_iter *it, const char **elem, size_t *len);
void pg_array_iter_fini(struct pg_array_iter *it);

#endif
