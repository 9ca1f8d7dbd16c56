/*
 * tests/unit/test_topo_values.c: agent/config/topo_values.c's table names: the
 * spelling of schema.table (quoted only where needed), parsing it (quoted
 * names kept, unquoted folded to lower case, no pattern), and the glob
 * patterns of a tables list (by character, not byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "config/topo_values.h"
#include "config/topology.h"

#include <stdlib.h>

static void test_table_names(void **state)
{
	struct table_ref ref;
	struct strbuf err;
	char *s;

	(void)state;
	s = table_name_text("public", "my_table");
	assert_string_equal(s, "public.my_table");
	free(s);
	s = table_name_text("Sales.EU", "we\"ird");
	assert_string_equal(s, "\"Sales.EU\".\"we\"\"ird\"");
	free(s);
	s = table_name_text("public", "café");
	assert_string_equal(s, "public.\"café\"");
	free(s);
	strbuf_init(&err);
	assert_true(table_name_parse("\"Sales.EU\".\"Order Lines\"", &ref, &err));
	assert_string_equal(ref.schema, "Sales.EU");
	assert_string_equal(ref.table, "Order Lines");
	free(ref.schema);
	free(ref.table);
	assert_true(table_name_parse("Orders", &ref, &err));
	assert_string_equal(ref.schema, "public");
	assert_string_equal(ref.table, "orders");
	free(ref.schema);
	free(ref.table);
	assert_true(table_name_parse("\"a.b\"", &ref, &err));
	assert_string_equal(ref.schema, "public");
	assert_string_equal(ref.table, "a.b");
	free(ref.schema);
	free(ref.table);
	assert_false(table_name_parse("public.t*", &ref, &err));
	strbuf_fini(&err);
	assert_true(glob_match("order_*", "order_lines"));
	assert_true(glob_match("*", ""));
	assert_true(glob_match("t?", "té"));
	assert_false(glob_match("t?", "tée"));
	assert_true(glob_match("a*b*c", "axxbyyc"));
	assert_false(glob_match("a*b*c", "axxbyy"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
