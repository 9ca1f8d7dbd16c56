/*
 * tests/unit/test_column_type.c: agent/pg/column_type.c's parser, the only part
 * of a record's type that reaches the target (as a to_regtype parameter):
 * format_type's and Debezium's spellings split into base name, integer
 * modifiers and array dimensions; anything else (SQL injected into a type,
 * expressions as modifiers, stray punctuation) refused.  Resolution by the
 * catalog is tested against a real server (tests/integration/86_apply_hostile.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg/column_type.h"

#include <string.h>

static void expect_type(const char *text, const char *base, int nmods, int m0, int m1, int dims)
{
	struct column_type t;
	struct strbuf why;

	strbuf_init(&why);
	if (!column_type_parse(text, &t, &why))
		fail_msg("'%s' refused: %s", text, why.data);
	assert_string_equal(t.base, base);
	assert_int_equal(t.nmods, nmods);
	if (nmods > 0)
		assert_int_equal(t.mods[0], m0);
	if (nmods > 1)
		assert_int_equal(t.mods[1], m1);
	assert_int_equal(t.array_dims, dims);
	column_type_fini(&t);
	strbuf_fini(&why);
}

static void expect_refused(const char *text)
{
	struct column_type t;
	struct strbuf why;

	strbuf_init(&why);
	if (column_type_parse(text, &t, &why))
		fail_msg("'%s' accepted as base '%s'", text, t.base);
	assert_non_null(strstr(why.data, "is not a type name") ? why.data
			: strstr(why.data, "longer than")      ? why.data
							       : NULL);
	column_type_fini(&t);
	strbuf_fini(&why);
}

static void test_format_type_spellings(void **state)
{
	(void)state;
	expect_type("integer", "integer", 0, 0, 0, 0);
	expect_type("text[]", "text", 0, 0, 0, 1);
	expect_type("character varying(10)", "character varying", 1, 10, 0, 0);
	expect_type("numeric(10,2)", "numeric", 2, 10, 2, 0);
	expect_type("numeric( 10 , 2 )[][]", "numeric", 2, 10, 2, 2);
	expect_type("timestamp(3) with time zone", "timestamp with time zone", 1, 3, 0, 0);
	expect_type("time(6) without time zone[]", "time without time zone", 1, 6, 0, 1);
	expect_type("double precision", "double precision", 0, 0, 0, 0);
	expect_type("public.mood", "public.mood", 0, 0, 0, 0);
	expect_type("\"My Schema\".\"my \"\"odd\"\" type\"", "\"My Schema\".\"my \"\"odd\"\" type\"",
		    0, 0, 0, 0);
	expect_type("\"char\"", "\"char\"", 0, 0, 0, 0);
	expect_type("bit(3)", "bit", 1, 3, 0, 0);
	expect_type("interval(3)", "interval", 1, 3, 0, 0);
}

static void test_debezium_spellings(void **state)
{
	(void)state;
	expect_type("varchar(255)", "varchar", 1, 255, 0, 0);
	expect_type("timestamptz(6)", "timestamptz", 1, 6, 0, 0);
	expect_type("int4[]", "int4", 0, 0, 0, 1);
}

static void test_injection_refused(void **state)
{
	(void)state;
	expect_refused("text, primary key (id)); CREATE TABLE public.injected AS SELECT current_user; --");
	expect_refused("int -- comment");
	expect_refused("int /* x */");
	expect_refused("numeric(1+1)");
	expect_refused("numeric(-1)");
	expect_refused("numeric(1,2,3)");
	expect_refused("numeric(1)(2)");
	expect_refused("varchar(9999999999)");
	expect_refused("text[1]");
	expect_refused("text[] x");
	expect_refused("[]");
	expect_refused("(3)");
	expect_refused("");
	expect_refused("   ");
	expect_refused("\"unterminated");
	expect_refused("text;");
	expect_refused("text'");
	expect_refused("int\n");
	expect_refused("int[][][][][][][]");
}

/* Words pass the parser (to_regtype then refuses them: "text not null"
 * names no type), but nothing of them reaches SQL text. */
static void test_words_left_to_catalog(void **state)
{
	(void)state;
	expect_type("text not null default 1", "text not null default 1", 0, 0, 0, 0);
}

static void test_long_text_refused(void **state)
{
	char text[COLUMN_TYPE_MAX_TEXT + 2];

	(void)state;
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	expect_refused(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_type_spellings),
		cmocka_unit_test(test_debezium_spellings),
		cmocka_unit_test(test_injection_refused),
		cmocka_unit_test(test_words_left_to_catalog),
		cmocka_unit_test(test_long_text_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
