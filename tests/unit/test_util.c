/*
 * tests/unit/test_util.c: agent/base/util.c's pure helpers: Kafka topic names
 * as Debezium makes them (one '_' per UTF-16 code unit of a character Kafka
 * refuses), and the edit distance behind "did you mean" suggestions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"

#include <stdlib.h>

static void test_topic_names(void **state)
{
	char *s;

	(void)state;
	s = kafka_topic_name("db1", "Sales.EU", "Order Lines");
	assert_string_equal(s, "db1.Sales.EU.Order_Lines");
	free(s);
	/* one '_' per UTF-16 code unit, as Debezium's Java counts */
	s = kafka_topic_name("db1", "public", "café-\xF0\x9F\x98\x80!");
	assert_string_equal(s, "db1.public.caf_-___");
	free(s);
}

static void test_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(str_edit_distance("host", "hots"), 2);
	assert_int_equal(str_edit_distance("sorce", "source"), 1);
	assert_int_equal(str_edit_distance("", "abc"), 3);
	assert_int_equal(str_edit_distance("Port", "port"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topic_names),
		cmocka_unit_test(test_edit_distance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
