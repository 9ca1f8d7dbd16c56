/*
 * tests/unit/test_schema_mac.c: the schema key is made once (0600) and
 * read back by a second opener; a mac verifies only for its own topic and
 * bytes; key files that are links, readable by others or malformed are
 * refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "pipeline/schema_mac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char header[] = "[{\"name\":\"id\",\"type\":\"integer\",\"optional\":false,\"key\":1}]";

static char *make_dir(void)
{
	char *dir = xstrdup("/tmp/cdc-unit-mac.XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void remove_dir(char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(dir);
}

static void test_key_made_once_and_private(void **state)
{
	(void)state;
	char *dir = make_dir(), *path = xasprintf("%s/schema-p1.key", dir);
	struct schema_mac *a = NULL, *b = NULL;
	struct stat st;

	assert_true(schema_mac_open(dir, "p1", &a));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(schema_mac_open(dir, "p1", &b));
	char *mac = schema_mac_sign(a, "db1.public.t", header, strlen(header));

	assert_int_equal(strlen(mac), 64);
	assert_true(schema_mac_verify(b, "db1.public.t", header, strlen(header), mac, strlen(mac)));
	free(mac);
	schema_mac_free(a);
	schema_mac_free(b);
	free(path);
	remove_dir(dir);
}

static void test_mac_binds_topic_and_bytes(void **state)
{
	(void)state;
	char *dir = make_dir();
	struct schema_mac *m = NULL, *other = NULL;
	char forged[sizeof(header)];

	assert_true(schema_mac_open(dir, "p1", &m));
	assert_true(schema_mac_open(dir, "p2", &other));
	char *mac = schema_mac_sign(m, "db1.public.t", header, strlen(header));

	memcpy(forged, header, sizeof(header));
	forged[12] = 'x';
	assert_false(schema_mac_verify(m, "db1.public.u", header, strlen(header), mac, 64));
	assert_false(schema_mac_verify(m, "db1.public.t", forged, strlen(forged), mac, 64));
	assert_false(schema_mac_verify(other, "db1.public.t", header, strlen(header), mac, 64));
	assert_false(schema_mac_verify(m, "db1.public.t", header, strlen(header), mac, 63));
	assert_false(schema_mac_verify(m, "db1.public.t", header, strlen(header), "zz", 2));
	mac[0] = mac[0] == '0' ? '1' : '0';
	assert_false(schema_mac_verify(m, "db1.public.t", header, strlen(header), mac, 64));
	free(mac);
	schema_mac_free(m);
	schema_mac_free(other);
	remove_dir(dir);
}

static void test_bad_key_files_refused(void **state)
{
	(void)state;
	char *dir = make_dir(), *path = xasprintf("%s/schema-p1.key", dir);
	struct schema_mac *m = NULL;
	FILE *f;

	/* a link, even to a good key */
	assert_true(schema_mac_open(dir, "p9", &m));
	schema_mac_free(m);
	char *good = xasprintf("%s/schema-p9.key", dir);

	assert_int_equal(symlink(good, path), 0);
	assert_false(schema_mac_open(dir, "p1", &m));
	assert_int_equal(unlink(path), 0);
	/* readable by others */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	assert_false(schema_mac_open(dir, "p1", &m));
	/* private but malformed */
	assert_int_equal(chmod(path, 0600), 0);
	assert_true(schema_mac_open(dir, "p1", &m));
	schema_mac_free(m);
	f = fopen(path, "w");
	fputs("not a key\n", f);
	fclose(f);
	assert_false(schema_mac_open(dir, "p1", &m));
	free(good);
	free(path);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_made_once_and_private),
		cmocka_unit_test(test_mac_binds_topic_and_bytes),
		cmocka_unit_test(test_bad_key_files_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
