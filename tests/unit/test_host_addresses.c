/*
 * tests/unit/test_host_addresses.c: agent/base/host_addresses.c, this
 * host's interface addresses: with netlink (getifaddrs) and without (the
 * units' RestrictAddressFamilies= leaves it out), the same IPv4 addresses,
 * loopback's among them, and nothing the full list lacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/host_addresses.h"

#include <string.h>

static void test_same_addresses_without_netlink(void **state)
{
	struct strlist full = { 0 }, fallback = { 0 };

	(void)state;
	assert_true(host_addresses(&full));
	assert_true(host_addresses_without_netlink(&fallback));
	assert_true(strlist_contains(&full, "127.0.0.1"));
	assert_true(strlist_contains(&fallback, "127.0.0.1"));
	for (size_t i = 0; i < fallback.n; i++)
		assert_true(strlist_contains(&full, fallback.items[i]));
	for (size_t i = 0; i < full.n; i++)
		if (!strchr(full.items[i], ':')) /* IPv4: SIOCGIFCONF lists every one */
			assert_true(strlist_contains(&fallback, full.items[i]));
	for (size_t i = 0; i < full.n; i++) /* once each */
		for (size_t j = i + 1; j < full.n; j++)
			assert_string_not_equal(full.items[i], full.items[j]);
	strlist_fini(&full);
	strlist_fini(&fallback);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_addresses_without_netlink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
