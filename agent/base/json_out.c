/*
 * agent/base/json_out.c: appending JSON text to a strbuf.
 */
#include "base/json_out.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_out_string(struct strbuf *sb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	strbuf_add(sb, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		strbuf_add(sb, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': strbuf_add(sb, "\\\"", 2); break;
		case '\\': strbuf_add(sb, "\\\\", 2); break;
		case '\n': strbuf_add(sb, "\\n", 2); break;
		case '\r': strbuf_add(sb, "\\r", 2); break;
		case '\t': strbuf_add(sb, "\\t", 2); break;
		case '\b': strbuf_add(sb, "\\b", 2); break;
		case '\f': strbuf_add(sb, "\\f", 2); break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			strbuf_add(sb, esc, 6);
		}
	}
	strbuf_add(sb, s + run, n - run);
	strbuf_add(sb, "\"", 1);
}

void json_out_cstring(struct strbuf *sb, const char *s)
{
	json_out_string(sb, s, strlen(s));
}

void json_out_key(struct strbuf *sb, const char *key)
{
	json_out_cstring(sb, key);
	strbuf_add(sb, ":", 1);
}

void json_out_uint(struct strbuf *sb, uint64_t v)
{
	char digits[20]; /* UINT64_MAX has 20 */
	size_t i = sizeof(digits);

	/* By hand: printf's machinery costs more than the digits on the event
	 * hot path (several numbers per event). */
	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	strbuf_add(sb, digits + i, sizeof(digits) - i);
}

void json_out_int(struct strbuf *sb, int64_t v)
{
	if (v < 0) {
		strbuf_add(sb, "-", 1);
		json_out_uint(sb, -(uint64_t)v); /* INT64_MIN too */
		return;
	}
	json_out_uint(sb, (uint64_t)v);
}

void json_out_base64(struct strbuf *sb, const unsigned char *bytes, size_t n)
{
	size_t cap = 4 * ((n + 2) / 3) + 1;
	unsigned char *out = xmalloc(cap);
	int len = EVP_EncodeBlock(out, bytes, (int)n);

	strbuf_add(sb, "\"", 1);
	strbuf_add(sb, (const char *)out, (size_t)len);
	strbuf_add(sb, "\"", 1);
	free(out);
}
