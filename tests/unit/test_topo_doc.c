/*
 * tests/unit/test_topo_doc.c: cdc-agent.ini(5) against the schema.  Every
 * section and key of the schema has a description; the keys of the page
 * `make man` built (build/man/cdc-agent.ini.5), read back from its roff,
 * are the schema's, section by section and in order; the writer refuses a
 * key without a description and keeps roff's control characters text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "config/topo_doc.h"
#include "config/topo_values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stderr_capture.h"

/* The page `make man` builds; tests run from the repository's root. */
#define MAN_PAGE "build/man/cdc-agent.ini.5"

static size_t schema_sections(struct topo_schema_section *out, size_t max)
{
	size_t n = 0;

	while (n < max && topology_schema_section(n, &out[n]))
		n++;
	assert_true(n > 0 && n < max);
	return n;
}

static void test_every_key_described(void **state)
{
	struct topo_schema_section secs[32];
	size_t n = schema_sections(secs, ARRAY_LEN(secs));
	struct strbuf missing;

	(void)state;
	strbuf_init(&missing);
	for (size_t i = 0; i < n; i++) {
		if (!secs[i].description || !secs[i].description[0])
			strbuf_addf(&missing, "[%s] ", secs[i].kind);
		for (size_t k = 0; k < secs[i].n_keys; k++) {
			const char *d = secs[i].keys[k].description;

			if (!d || !d[0] || d[strlen(d) - 1] != '.')
				strbuf_addf(&missing, "[%s] %s ", secs[i].kind,
					    secs[i].keys[k].name);
		}
	}
	/* Names what lacks a description (or its final full stop). */
	assert_string_equal(missing.data ? missing.data : "", "");
	strbuf_fini(&missing);
}

/* Roff text back to plain: \- is '-', \% and \& are nothing. */
static void unescape(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++) {
		if (r[0] == '\\' && (r[1] == '%' || r[1] == '&')) {
			r++;
			continue;
		}
		if (r[0] == '\\' && r[1] == '-')
			r++;
		*w++ = *r;
	}
	*w = '\0';
}

/* "kind key\n" for every key entry of the page: a `.TP` whose tag line is
 * `.B key`, under the last `.SS "[kind ...]"` heading. */
static void page_keys(FILE *page, struct strbuf *out)
{
	char line[4096], kind[64] = "";
	bool tag_next = false;

	while (fgets(line, sizeof(line), page)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, ".SS \"[", 6) == 0) {
			size_t len = strcspn(line + 6, " ]\"");

			assert_true(len < sizeof(kind));
			memcpy(kind, line + 6, len);
			kind[len] = '\0';
		} else if (strncmp(line, ".SH", 3) == 0) {
			kind[0] = '\0';
		} else if (tag_next && strncmp(line, ".B ", 3) == 0 && kind[0]) {
			unescape(line);
			strbuf_addf(out, "%s %s\n", kind, line + 3);
		}
		tag_next = strcmp(line, ".TP") == 0;
	}
}

static void test_page_keys_are_the_schemas(void **state)
{
	struct topo_schema_section secs[32];
	size_t n = schema_sections(secs, ARRAY_LEN(secs));
	struct strbuf want, got;
	FILE *page = fopen(MAN_PAGE, "r");

	(void)state;
	if (!page)
		fail_msg("cannot open %s: run `make man` (unit-build does) from the repository's root",
			 MAN_PAGE);
	strbuf_init(&want);
	strbuf_init(&got);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < secs[i].n_keys; k++)
			strbuf_addf(&want, "%s %s\n", secs[i].kind, secs[i].keys[k].name);
	page_keys(page, &got);
	fclose(page);
	assert_non_null(got.data);
	assert_string_equal(got.data, want.data);
	strbuf_fini(&want);
	strbuf_fini(&got);
}

/* What topo_doc_roff_sections writes for secs, or NULL when it refused. */
static char *roff_of(const struct topo_schema_section *secs, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	bool ok;

	assert_non_null(out);
	ok = topo_doc_roff_sections(out, secs, n);
	fclose(out);
	if (!ok) {
		free(text);
		return NULL;
	}
	return text;
}

static const char *const planted_names[] = { "one", "two-three" };

static void test_roff_escapes(void **state)
{
	static const struct key_spec keys[] = {
		{ "dotted", V_ENUM, 0, false, "two-three", planted_names, 2, 0, 0,
		  ".starts with a dot, holds a back\\slash and `code-name`. Then 'quotes'." },
		{ "needed", V_INT, 0, true, NULL, NULL, 0, 1, 9, "Required." },
		{ "sized", V_SIZE, 0, false, "-1", NULL, 0, -1, 0, "A size." },
	};
	struct topo_schema_section sec = { "planted", true, "Its description.", keys,
					   ARRAY_LEN(keys) };
	char *text = roff_of(&sec, 1);

	(void)state;
	assert_non_null(text);
	assert_non_null(strstr(text, ".SS \"[planted \\fINAME\\fP]\"\nIts description.\n"));
	assert_non_null(strstr(text, ".TP\n.B dotted\n\\&.starts with a dot, holds a "
				     "back\\eslash and \\fB\\%code\\-name\\fR.\nThen 'quotes'.\n"));
	assert_non_null(strstr(text, "either \\fB\\%one\\fR or \\fB\\%two\\-three\\fR; "
				     "\\fIdefault:\\fR \\fB\\%two\\-three\\fR."));
	assert_non_null(strstr(text, "an integer from 1 to 9; \\fIrequired\\fR."));
	assert_non_null(strstr(text, "\\fB\\-1\\fR or a size"));
	free(text);
}

static void test_roff_refuses_undescribed(void **state)
{
	static const struct key_spec keys[] = {
		{ "fine", V_STRING, 0, false, NULL, NULL, 0, 0, 0, "Described." },
		{ "bare", V_STRING, 0, false, NULL, NULL, 0, 0, 0, "" },
		{ "null", V_STRING, 0, false, NULL, NULL, 0, 0, 0, NULL },
	};
	struct topo_schema_section sec = { "planted", false, "Its description.", keys,
					   ARRAY_LEN(keys) };
	char *text, *err;

	(void)state;
	capture_begin();
	text = roff_of(&sec, 1);
	err = capture_end();
	assert_null(text);
	assert_non_null(strstr(err, "[planted] bare has no description"));
	assert_non_null(strstr(err, "[planted] null has no description"));
	assert_null(strstr(err, "fine"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key_described),
		cmocka_unit_test(test_page_keys_are_the_schemas),
		cmocka_unit_test(test_roff_escapes),
		cmocka_unit_test(test_roff_refuses_undescribed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
