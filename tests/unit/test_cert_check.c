/*
 * tests/unit/test_cert_check.c: agent/pipeline/cert_check.c reads every
 * certificate of a PEM file for its expiry.  The certificates are made
 * here with libcrypto (a fresh EC key, notAfter relative to now) into a
 * temporary directory: near (10 days), far (60), expired (a day ago), a
 * file of two whose second is near, garbage, a missing file; and a
 * topology's keys give each finding its section, key and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "pipeline/cert_check.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY 86400L

static char dir[] = "/tmp/cdc-test-cert-XXXXXX";
static EVP_PKEY *key;

/* A self-signed certificate for cn valid until now + days. */
static X509 *make_cert(const char *cn, long days)
{
	X509 *cert = X509_new();
	X509_NAME *name;

	assert_non_null(cert);
	assert_int_equal(X509_set_version(cert, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), -30 * DAY));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), days * DAY));
	name = X509_get_subject_name(cert);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn, -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(cert, name), 1);
	assert_int_equal(X509_set_pubkey(cert, key), 1);
	assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
	return cert;
}

/* Writes dir/file with a certificate per (cn, days) pair; returns its path. */
static char *write_certs(const char *file, const char *cn1, long days1, const char *cn2, long days2)
{
	char *path = xasprintf("%s/%s", dir, file);
	FILE *f = fopen(path, "w");
	X509 *cert;

	assert_non_null(f);
	cert = make_cert(cn1, days1);
	assert_int_equal(PEM_write_X509(f, cert), 1);
	X509_free(cert);
	if (cn2) {
		cert = make_cert(cn2, days2);
		assert_int_equal(PEM_write_X509(f, cert), 1);
		X509_free(cert);
	}
	assert_int_equal(fclose(f), 0);
	return path;
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	key = EVP_EC_gen("P-256");
	return key ? 0 : -1;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	(void)state;
	EVP_PKEY_free(key);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static void test_near_far_expired(void **state)
{
	char *near = write_certs("near.pem", "near.example", 10, NULL, 0);
	char *far = write_certs("far.pem", "far.example", 60, NULL, 0);
	char *expired = write_certs("expired.pem", "old.example", -1, NULL, 0);
	struct cert_findings fs = { 0 };
	char *text;

	(void)state;
	assert_int_equal(cert_file_check(far, time(NULL), CERT_WARN_DAYS, &fs), 0);
	assert_int_equal(cert_file_check(near, time(NULL), CERT_WARN_DAYS, &fs), 1);
	assert_int_equal(fs.items[0].state, CERT_NEAR);
	assert_int_equal(fs.items[0].days, 10);
	assert_string_equal(fs.items[0].subject, "CN=near.example");
	assert_false(cert_finding_is_error(&fs.items[0]));
	text = cert_finding_text(&fs.items[0]);
	assert_non_null(strstr(text, "near.pem: certificate CN=near.example expires in 10 days"));
	free(text);

	assert_int_equal(cert_file_check(expired, time(NULL), CERT_WARN_DAYS, &fs), 1);
	assert_int_equal(fs.items[1].state, CERT_EXPIRED);
	assert_int_equal(fs.items[1].days, 1);
	assert_true(cert_finding_is_error(&fs.items[1]));
	text = cert_finding_text(&fs.items[1]);
	assert_non_null(strstr(text, "certificate CN=old.example expired 1 day ago"));
	free(text);
	/* The far one is near, seen from 40 days on. */
	assert_int_equal(cert_file_check(far, time(NULL) + 40 * DAY, CERT_WARN_DAYS, &fs), 1);
	assert_int_equal(fs.items[2].days, 20);
	cert_findings_fini(&fs);
	free(near);
	free(far);
	free(expired);
}

/* A CA file of several certificates: each is read, the second is near. */
static void test_second_of_two_is_near(void **state)
{
	char *both = write_certs("both.pem", "first.example", 365, "second.example", 5);
	struct cert_findings fs = { 0 };

	(void)state;
	assert_int_equal(cert_file_check(both, time(NULL), CERT_WARN_DAYS, &fs), 1);
	assert_int_equal(fs.items[0].state, CERT_NEAR);
	assert_string_equal(fs.items[0].subject, "CN=second.example");
	assert_int_equal(fs.items[0].days, 5);
	cert_findings_fini(&fs);
	free(both);
}

static void test_garbage_and_missing(void **state)
{
	char *garbage = xasprintf("%s/garbage.pem", dir);
	char *broken = xasprintf("%s/broken.pem", dir);
	char *missing = xasprintf("%s/missing.pem", dir);
	struct cert_findings fs = { 0 };
	FILE *f;
	char *text;

	(void)state;
	f = fopen(garbage, "w");
	assert_non_null(f);
	fputs("this is no certificate\n", f);
	fclose(f);
	f = fopen(broken, "w");
	assert_non_null(f);
	fputs("-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n", f);
	fclose(f);

	assert_int_equal(cert_file_check(garbage, time(NULL), CERT_WARN_DAYS, &fs), 1);
	assert_int_equal(cert_file_check(broken, time(NULL), CERT_WARN_DAYS, &fs), 1);
	assert_int_equal(cert_file_check(missing, time(NULL), CERT_WARN_DAYS, &fs), 1);
	for (size_t i = 0; i < fs.n; i++) {
		assert_int_equal(fs.items[i].state, CERT_UNREADABLE);
		assert_true(cert_finding_is_error(&fs.items[i]));
		assert_null(fs.items[i].subject);
	}
	text = cert_finding_text(&fs.items[0]);
	assert_non_null(strstr(text, "garbage.pem: unreadable: no PEM certificate in it"));
	free(text);
	text = cert_finding_text(&fs.items[1]);
	assert_non_null(strstr(text, "broken.pem: unreadable: certificate 1 of the file"));
	free(text);
	text = cert_finding_text(&fs.items[2]);
	assert_non_null(strstr(text, "missing.pem: unreadable: No such file"));
	free(text);
	cert_findings_fini(&fs);
	free(garbage);
	free(broken);
	free(missing);
}

/* A topology's keys: each finding names its section, key and line. */
static void test_topology_keys(void **state)
{
	char *near = write_certs("ca.pem", "ca.example", 3, NULL, 0);
	char *far = write_certs("client.pem", "client.example", 90, NULL, 0);
	char *expired = write_certs("kafka.pem", "kafka.example", -10, NULL, 0);
	struct source_cfg src = { .name = "db1" };
	struct topology topo = { .path = "topo.ini", .sources = &src, .n_sources = 1 };
	struct cert_findings fs = { 0 };
	char *text;

	(void)state;
	src.origin.line = 7;
	src.pg.sslrootcert = near;
	src.pg.sslcert = far;
	topo.kafka.origin.line = 2;
	topo.kafka.ssl_cert_file = expired;
	cert_check_topology(&topo, time(NULL), &fs);
	assert_int_equal(fs.n, 2);
	assert_string_equal(fs.items[0].section, "[source db1]");
	assert_string_equal(fs.items[0].key, "sslrootcert");
	assert_int_equal(fs.items[0].line, 7); /* key lines unset: the section's */
	text = cert_finding_text(&fs.items[0]);
	assert_non_null(strstr(text, "[source db1] sslrootcert /tmp/cdc-test-cert-"));
	assert_non_null(strstr(text, "certificate CN=ca.example expires in 3 days"));
	free(text);
	assert_string_equal(fs.items[1].section, "[kafka]");
	assert_string_equal(fs.items[1].key, "ssl_cert_file");
	assert_int_equal(fs.items[1].state, CERT_EXPIRED);
	assert_int_equal(fs.items[1].days, 10);
	cert_findings_fini(&fs);
	free(near);
	free(far);
	free(expired);
}

/* The broker's own certificate (broker_cert_file) is watched too; the CA
 * bootstrap issues is no finding before it exists (the first bootstrap
 * makes it). */
static void test_broker_files(void **state)
{
	char *near = write_certs("broker.pem", "kafka1.example", 5, NULL, 0);
	struct topology topo = { .path = "topo.ini" };
	struct cert_findings fs = { 0 };

	(void)state;
	topo.kafka.origin.line = 2;
	topo.kafka.broker_cert_file = near;
	topo.kafka.broker_tls_generated = true;
	topo.kafka.ssl_ca_file = "/nonexistent/kafka-tls/ca.pem";
	cert_check_topology(&topo, time(NULL), &fs);
	assert_int_equal(fs.n, 1);
	assert_string_equal(fs.items[0].key, "broker_cert_file");
	assert_int_equal(fs.items[0].state, CERT_NEAR);
	cert_findings_fini(&fs);

	/* Named by the operator, a missing CA file is a finding. */
	topo.kafka.broker_tls_generated = false;
	topo.kafka.broker_cert_file = NULL;
	cert_check_topology(&topo, time(NULL), &fs);
	assert_int_equal(fs.n, 1);
	assert_string_equal(fs.items[0].key, "ssl_ca_file");
	cert_findings_fini(&fs);
	free(near);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_near_far_expired),
		cmocka_unit_test(test_second_of_two_is_near),
		cmocka_unit_test(test_garbage_and_missing),
		cmocka_unit_test(test_topology_keys),
		cmocka_unit_test(test_broker_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
