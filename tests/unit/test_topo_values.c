/*
 * tests/unit/test_topo_values.c: agent/config/topo_values.c's table names: the
 * spelling of schema.table (quoted only where needed), parsing it (quoted
 * names kept, unquoted folded to lower case, no pattern), and the glob
 * patterns of a tables list (by character, not byte); the TLS file values
 * (a certificate must be a readable file, a key one only its owner reads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "config/topo_values.h"
#include "config/topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void write_mode(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("-----BEGIN X-----\n", f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* Parses text as a value of type; on failure, want must be in the error. */
static void expect_file_value(enum value_type type, const char *text, const char *want)
{
	struct key_spec spec = { "sslkey", type, 0, false, NULL, NULL, 0, 0, 0, NULL };
	char *field = NULL;
	struct strbuf err;
	bool ok;

	strbuf_init(&err);
	ok = value_parse(&spec, text, &field, &err);
	if (!want) {
		if (!ok)
			fail_msg("%s refused: %s", text, err.data);
		assert_string_equal(field, text);
	} else {
		assert_false(ok);
		assert_null(field);
		if (!strstr(err.data, want))
			fail_msg("want '%s' in: %s", want, err.data);
	}
	value_free(&spec, &field);
	strbuf_fini(&err);
}

static void test_tls_file_values(void **state)
{
	char dir[] = "/tmp/cdc-unit-tls.XXXXXX";
	char *crt, *key, *loose, *none;

	(void)state;
	assert_non_null(mkdtemp(dir));
	crt = xasprintf("%s/ca.crt", dir);
	key = xasprintf("%s/c.key", dir);
	loose = xasprintf("%s/loose.key", dir);
	none = xasprintf("%s/none.crt", dir);
	write_mode(crt, 0644);
	write_mode(key, 0600);
	write_mode(loose, 0644);
	expect_file_value(V_CERT_FILE, crt, NULL);
	expect_file_value(V_KEY_FILE, key, NULL);
	expect_file_value(V_KEY_FILE, loose, "mode 0644 lets group or others read it; chmod 600 it");
	expect_file_value(V_KEY_FILE, loose, "key file /tmp/cdc-unit-tls.");
	expect_file_value(V_CERT_FILE, none, "No such file or directory");
	expect_file_value(V_CERT_FILE, dir, "not a regular file");
	expect_file_value(V_CERT_FILE, "ca.crt", "not an absolute path");
	expect_file_value(V_KEY_FILE, "/etc/a b.key", "path has a space");
	unlink(crt);
	unlink(key);
	unlink(loose);
	rmdir(dir);
	free(crt);
	free(key);
	free(loose);
	free(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_names),
		cmocka_unit_test(test_tls_file_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
