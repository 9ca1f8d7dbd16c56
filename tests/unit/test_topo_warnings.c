/*
 * tests/unit/test_topo_warnings.c: agent/config/topo_warnings.c: which
 * hosts are this machine's, and check's warnings of connections that leave
 * it unencrypted (brokers under plaintext/sasl_plaintext, PostgreSQL
 * servers whose sslmode does not require TLS), at the key's line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "config/topo_warnings.h"

#include <stdlib.h>
#include <string.h>

#include "stderr_capture.h"

static void test_host_is_local(void **state)
{
	static const char *const local[] = { "localhost", "127.0.0.1", "127.3.2.1",
					     "::1",       "[::1]",     "/var/run/postgresql" };
	static const char *const remote[] = { "db1.example", "10.0.0.1",  "128.0.0.1",
					      "::2",         "[fe80::1]", "localhost.example",
					      "127.example" };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(local); i++)
		assert_true(topo_host_is_local(local[i]));
	for (size_t i = 0; i < ARRAY_LEN(remote); i++)
		assert_false(topo_host_is_local(remote[i]));
}

static void test_warnings(void **state)
{
	struct source_cfg src = { .name = "db1" };
	struct target_cfg tgt = { .name = "db2" };
	struct topology topo = {
		.path = "t.ini", .sources = &src, .n_sources = 1, .targets = &tgt, .n_targets = 1
	};
	char *err;

	(void)state;
	src.origin.line = 10;
	src.pg.host = "db1.example";
	src.pg.sslmode = PG_SSLMODE_PREFER;
	tgt.origin.line = 20;
	tgt.pg.host = "127.0.0.1";
	tgt.pg.admin_host = "/var/run/postgresql";
	topo.kafka.origin.line = 3;
	strlist_add(&topo.kafka.bootstrap_servers, "127.0.0.1:9092");
	strlist_add(&topo.kafka.bootstrap_servers, "[::1]:9093");
	strlist_add(&topo.kafka.bootstrap_servers, "kafka1.example:9092");
	topo.kafka.security_protocol = KAFKA_SECURITY_SASL_PLAINTEXT;

	capture_begin();
	assert_int_equal(topology_print_warnings(&topo), 2);
	err = capture_end();
	assert_non_null(strstr(err, "t.ini:3: warning: [kafka] bootstrap_servers: broker "
				    "kafka1.example:9092 is not on loopback and "
				    "security_protocol is sasl_plaintext"));
	assert_non_null(strstr(err, "t.ini:10: warning: [source db1] host db1.example is not on "
				    "loopback and sslmode is prefer"));
	free(err);

	/* TLS required on both roads: nothing to say. */
	topo.kafka.security_protocol = KAFKA_SECURITY_SASL_SSL;
	src.pg.sslmode = PG_SSLMODE_REQUIRE;
	capture_begin();
	assert_int_equal(topology_print_warnings(&topo), 0);
	err = capture_end();
	assert_string_equal(err, "");
	free(err);
	strlist_fini(&topo.kafka.bootstrap_servers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_is_local),
		cmocka_unit_test(test_warnings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
