/*
 * tests/unit/test_kafka_tls.c: agent/provision/kafka_tls.c makes and keeps
 * the broker's TLS files.  A fresh directory gets all four with their
 * modes and group, chains that verify against ca.pem, the internal
 * certificate's subject exactly CN=cdc-agent-broker; a second call changes
 * nothing; new hosts re-issue the listener alone; an expiring CA re-issues
 * everything; plan mode writes nothing; named files are assembled (key as
 * PKCS#8) or refused naming the file (key of another certificate, expired);
 * a link planted at ca.key is refused, its target untouched; an IPv6 host
 * and names given twice make each SAN once.  The named certificates are
 * made here with libcrypto.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/changes.h"
#include "base/files.h"
#include "base/util.h"
#include "provision/kafka_tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stderr_capture.h"

#define DAY      86400L
/* Any group will do for root: the files must carry the one passed. */
#define TEST_GID 4242

static char base[] = "/tmp/cdc-test-kafka-tls-XXXXXX";
static char *dir;
static gid_t group;

static int setup(void **state)
{
	(void)state;
	strcpy(base + strlen(base) - 6, "XXXXXX");
	if (!mkdtemp(base))
		return -1;
	dir = xasprintf("%s/etc/kafka-tls", base);
	group = geteuid() == 0 ? TEST_GID : getgid();
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", base);

	(void)state;
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(dir);
	return 0;
}

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static char *bytes_of(const char *name)
{
	char *path = path_of(name), *text;
	size_t len;

	assert_true(file_read_all(path, &text, &len));
	free(path);
	return text;
}

/* Runs kafka_tls_ensure; returns the changes' actions joined by '\n'
 * (caller frees) and *changed. */
static char *ensure(const char *const *hosts, size_t n, const char *cert, const char *key,
		    bool apply, bool expect_ok, bool *changed)
{
	struct kafka_tls_want want = {
		.dir = dir,
		.hosts = hosts,
		.n_hosts = n,
		.broker_cert_file = cert,
		.broker_key_file = key,
		.group = group,
		.apply = apply,
	};
	struct change_list changes;
	struct strlist lines = { 0 };
	char *text;

	change_list_init(&changes, apply, false);
	*changed = false;
	assert_int_equal(kafka_tls_ensure(&want, &changes, changed), expect_ok);
	for (size_t i = 0; i < changes.n; i++) {
		assert_string_equal(changes.items[i].component, "kafka");
		strlist_add(&lines, changes.items[i].action);
	}
	text = strlist_join(&lines, "\n");
	strlist_fini(&lines);
	change_list_fini(&changes);
	return text;
}

static void assert_mode(const char *name, mode_t mode, gid_t gid)
{
	char *path = name ? path_of(name) : xstrdup(dir);
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_gid, gid);
	free(path);
}

static STACK_OF(X509) * certs_of(const char *name)
{
	char *path = path_of(name);
	FILE *f = fopen(path, "r");
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509 *cert;

	assert_non_null(f);
	while ((cert = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(certs, cert);
	fclose(f);
	free(path);
	return certs;
}

static EVP_PKEY *key_of(const char *name)
{
	char *path = path_of(name);
	FILE *f = fopen(path, "r");
	EVP_PKEY *key;

	assert_non_null(f);
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	assert_non_null(key);
	fclose(f);
	free(path);
	return key;
}

/* The keystore name's chain verifies against ca.pem for purpose, its key
 * is its certificate's, its key is PKCS#8. */
static void assert_keystore(const char *name, int purpose)
{
	STACK_OF(X509) *ca = certs_of(KAFKA_TLS_CA), *certs = certs_of(name);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	EVP_PKEY *key = key_of(name);
	char *text = bytes_of(name);

	assert_int_equal(sk_X509_num(ca), 1);
	assert_int_equal(sk_X509_num(certs), 2);
	assert_int_equal(X509_STORE_add_cert(store, sk_X509_value(ca, 0)), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, sk_X509_value(certs, 0), certs), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	assert_int_equal(X509_verify_cert(ctx), 1);
	assert_int_equal(X509_check_private_key(sk_X509_value(certs, 0), key), 1);
	assert_non_null(strstr(text, "-----BEGIN PRIVATE KEY-----"));
	assert_true(strncmp(text, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	free(text);
	EVP_PKEY_free(key);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(ca, X509_free);
}

/* The SANs of name's certificate as "DNS:x,IP:y" in the certificate's order. */
static char *sans_of(const char *name)
{
	STACK_OF(X509) *certs = certs_of(name);
	GENERAL_NAMES *gens =
		X509_get_ext_d2i(sk_X509_value(certs, 0), NID_subject_alt_name, NULL, NULL);
	struct strbuf sb;

	strbuf_init(&sb);
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *d;

		if (g->type == GEN_DNS) {
			strbuf_addf(&sb, "%sDNS:%s", i ? "," : "",
				    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else {
			assert_int_equal(g->type, GEN_IPADD);
			assert_int_equal(ASN1_STRING_length(g->d.iPAddress), 4);
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			strbuf_addf(&sb, "%sIP:%u.%u.%u.%u", i ? "," : "", d[0], d[1], d[2], d[3]);
		}
	}
	GENERAL_NAMES_free(gens);
	sk_X509_pop_free(certs, X509_free);
	return strbuf_detach(&sb);
}

static char *subject_of(const char *name)
{
	STACK_OF(X509) *certs = certs_of(name);
	BIO *mem = BIO_new(BIO_s_mem());
	char *data, *text;
	long len;

	assert_true(X509_NAME_print_ex(mem, X509_get_subject_name(sk_X509_value(certs, 0)), 0,
				       XN_FLAG_RFC2253) >= 0);
	len = BIO_get_mem_data(mem, &data);
	text = xstrndup(data, (size_t)len);
	BIO_free(mem);
	sk_X509_pop_free(certs, X509_free);
	return text;
}

static const char *const hosts1[] = { "broker.example.com", "10.1.2.3" };
static const char *const hosts2[] = { "broker.example.com", "kafka.example.com" };

static void test_fresh_then_unchanged(void **state)
{
	bool changed;
	char *text, *expect, *ca, *ca_key, *internal, *listener, *again;

	(void)state;
	text = ensure(hosts1, 2, NULL, NULL, true, true, &changed);
	assert_true(changed);
	expect = xasprintf("create directory %s (root:%u, mode 0755)\n"
			   "write %s/ca.key: created\nwrite %s/ca.pem: created\n"
			   "write %s/internal.pem: created\nwrite %s/listener.pem: created",
			   dir, (unsigned)group, dir, dir, dir, dir);
	assert_string_equal(text, expect);
	free(expect);
	free(text);

	assert_mode(NULL, 0755, group);
	assert_mode(KAFKA_TLS_CA, 0644, group);
	assert_mode(KAFKA_TLS_CA_KEY, 0600, getegid());
	assert_mode(KAFKA_TLS_INTERNAL, 0640, group);
	assert_mode(KAFKA_TLS_LISTENER, 0640, group);
	assert_keystore(KAFKA_TLS_INTERNAL, X509_PURPOSE_SSL_SERVER);
	assert_keystore(KAFKA_TLS_INTERNAL, X509_PURPOSE_SSL_CLIENT);
	assert_keystore(KAFKA_TLS_LISTENER, X509_PURPOSE_SSL_SERVER);
	text = bytes_of(KAFKA_TLS_CA_KEY);
	assert_true(strncmp(text, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	free(text);
	text = subject_of(KAFKA_TLS_CA);
	assert_true(strncmp(text, "CN=cdc-agent CA ", 16) == 0);
	assert_int_equal(strlen(text), 16 + 16);
	free(text);

	text = subject_of(KAFKA_TLS_INTERNAL);
	assert_string_equal(text, "CN=" KAFKA_TLS_BROKER_CN);
	free(text);
	text = sans_of(KAFKA_TLS_INTERNAL);
	assert_string_equal(text, "DNS:localhost,IP:127.0.0.1");
	free(text);
	text = subject_of(KAFKA_TLS_LISTENER);
	assert_string_equal(text, "CN=broker.example.com");
	free(text);
	text = sans_of(KAFKA_TLS_LISTENER);
	assert_string_equal(text, "DNS:broker.example.com,IP:10.1.2.3,DNS:localhost,IP:127.0.0.1");
	free(text);

	/* Again: nothing recorded, nothing written. */
	ca = bytes_of(KAFKA_TLS_CA);
	ca_key = bytes_of(KAFKA_TLS_CA_KEY);
	internal = bytes_of(KAFKA_TLS_INTERNAL);
	listener = bytes_of(KAFKA_TLS_LISTENER);
	text = ensure(hosts1, 2, NULL, NULL, true, true, &changed);
	assert_false(changed);
	assert_string_equal(text, "");
	free(text);
	/* The same hosts in another order and case are the same SAN set. */
	{
		const char *const shuffled[] = { "10.1.2.3", "Broker.Example.COM", "localhost" };

		text = ensure(shuffled, 3, NULL, NULL, true, true, &changed);
		assert_false(changed);
		assert_string_equal(text, "");
		free(text);
	}
	again = bytes_of(KAFKA_TLS_CA);
	assert_string_equal(again, ca);
	free(again);
	again = bytes_of(KAFKA_TLS_CA_KEY);
	assert_string_equal(again, ca_key);
	free(again);
	again = bytes_of(KAFKA_TLS_INTERNAL);
	assert_string_equal(again, internal);
	free(again);
	again = bytes_of(KAFKA_TLS_LISTENER);
	assert_string_equal(again, listener);
	free(again);

	/* Other hosts: the listener alone is issued again. */
	text = ensure(hosts2, 2, NULL, NULL, true, true, &changed);
	assert_true(changed);
	expect = xasprintf("write %s/listener.pem: re-issued: SANs changed", dir);
	assert_string_equal(text, expect);
	free(expect);
	free(text);
	text = sans_of(KAFKA_TLS_LISTENER);
	assert_string_equal(
		text, "DNS:broker.example.com,DNS:kafka.example.com,DNS:localhost,IP:127.0.0.1");
	free(text);
	assert_keystore(KAFKA_TLS_LISTENER, X509_PURPOSE_SSL_SERVER);
	again = bytes_of(KAFKA_TLS_CA);
	assert_string_equal(again, ca);
	free(again);
	again = bytes_of(KAFKA_TLS_INTERNAL);
	assert_string_equal(again, internal);
	free(again);
	again = bytes_of(KAFKA_TLS_LISTENER);
	assert_string_not_equal(again, listener);
	free(again);

	/* A mode changed by hand is set back, the content kept. */
	{
		char *path = path_of(KAFKA_TLS_CA_KEY);

		assert_int_equal(chmod(path, 0644), 0);
		free(path);
	}
	text = ensure(hosts2, 2, NULL, NULL, true, true, &changed);
	assert_true(changed);
	assert_non_null(strstr(text, "ca.key: owner"));
	assert_null(strchr(text, '\n'));
	free(text);
	assert_mode(KAFKA_TLS_CA_KEY, 0600, getegid());
	again = bytes_of(KAFKA_TLS_CA_KEY);
	assert_string_equal(again, ca_key);
	free(again);

	free(ca);
	free(ca_key);
	free(internal);
	free(listener);
}

static void test_plan_writes_nothing(void **state)
{
	struct stat st;
	bool changed;
	char *text, *expect, *listener, *again;

	(void)state;
	text = ensure(hosts1, 2, NULL, NULL, false, true, &changed);
	assert_true(changed);
	expect = xasprintf("create directory %s (root:%u, mode 0755)\n"
			   "write %s/ca.key: created\nwrite %s/ca.pem: created\n"
			   "write %s/internal.pem: created\nwrite %s/listener.pem: created",
			   dir, (unsigned)group, dir, dir, dir, dir);
	assert_string_equal(text, expect);
	free(expect);
	free(text);
	assert_int_equal(lstat(dir, &st), -1);

	free(ensure(hosts1, 2, NULL, NULL, true, true, &changed));
	listener = bytes_of(KAFKA_TLS_LISTENER);
	text = ensure(hosts2, 2, NULL, NULL, false, true, &changed);
	assert_true(changed);
	expect = xasprintf("write %s/listener.pem: re-issued: SANs changed", dir);
	assert_string_equal(text, expect);
	free(expect);
	free(text);
	again = bytes_of(KAFKA_TLS_LISTENER);
	assert_string_equal(again, listener);
	free(again);
	free(listener);
}

/* A self-signed CA for days (negative: expired) with key, into dir. */
static void write_ca(const char *cert_path, const char *key_path, long days)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	X509_NAME *name = X509_get_subject_name(cert);
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	FILE *f;

	assert_non_null(key);
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
	X509_gmtime_adj(X509_getm_notBefore(cert), -400 * DAY);
	X509_gmtime_adj(X509_getm_notAfter(cert), days * DAY);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"old CA", -1,
				   -1, 0);
	X509_set_issuer_name(cert, name);
	X509_set_pubkey(cert, key);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
	f = fopen(cert_path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, cert), 1);
	fclose(f);
	f = fopen(key_path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void test_expiring_ca_renews_all(void **state)
{
	char *cert_path = path_of(KAFKA_TLS_CA), *key_path = path_of(KAFKA_TLS_CA_KEY);
	char *text, *expect;
	bool changed;

	(void)state;
	free(ensure(hosts1, 2, NULL, NULL, true, true, &changed));
	write_ca(cert_path, key_path, 10);
	text = ensure(hosts1, 2, NULL, NULL, true, true, &changed);
	assert_true(changed);
	expect = xasprintf("write %s/ca.key: re-created: the CA expires within 30 days\n"
			   "write %s/ca.pem: re-created: the CA expires within 30 days\n"
			   "write %s/internal.pem: re-issued: new CA\n"
			   "write %s/listener.pem: re-issued: new CA",
			   dir, dir, dir, dir);
	assert_string_equal(text, expect);
	free(expect);
	free(text);
	assert_keystore(KAFKA_TLS_INTERNAL, X509_PURPOSE_SSL_CLIENT);
	assert_keystore(KAFKA_TLS_LISTENER, X509_PURPOSE_SSL_SERVER);
	text = subject_of(KAFKA_TLS_CA);
	assert_true(strncmp(text, "CN=cdc-agent CA ", 16) == 0);
	free(text);

	/* A leaf signed by another CA (the key of ca.pem swapped along). */
	write_ca(cert_path, key_path, 400);
	text = ensure(hosts1, 2, NULL, NULL, true, true, &changed);
	expect = xasprintf("write %s/internal.pem: re-issued: not signed by the current CA\n"
			   "write %s/listener.pem: re-issued: not signed by the current CA",
			   dir, dir);
	assert_string_equal(text, expect);
	free(expect);
	free(text);
	assert_keystore(KAFKA_TLS_INTERNAL, X509_PURPOSE_SSL_CLIENT);
	free(cert_path);
	free(key_path);
}

/* A broker certificate for cn signed by a CA of its own; its key written
 * as SEC1 ("BEGIN EC PRIVATE KEY"), notAfter now + days. */
static void write_named(const char *cert_path, const char *key_path, const char *cn, long days)
{
	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	X509_NAME *name = X509_get_subject_name(cert), *issuer = X509_NAME_new();
	FILE *f;

	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 9);
	X509_gmtime_adj(X509_getm_notBefore(cert), -400 * DAY);
	X509_gmtime_adj(X509_getm_notAfter(cert), days * DAY);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC, (const unsigned char *)"Their CA",
				   -1, -1, 0);
	X509_set_issuer_name(cert, issuer);
	X509_set_pubkey(cert, key);
	assert_true(X509_sign(cert, ca_key, EVP_sha256()) > 0);
	f = fopen(cert_path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, cert), 1);
	fclose(f);
	if (key_path) {
		BIO *bio = BIO_new_file(key_path, "w");

		assert_non_null(bio);
		assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL,
								      NULL),
				 1);
		BIO_free(bio);
	}
	X509_NAME_free(issuer);
	X509_free(cert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

static void test_named_files(void **state)
{
	char *cert_path = xasprintf("%s/broker.crt", base),
	     *key_path = xasprintf("%s/broker.key", base);
	char *other_cert = xasprintf("%s/other.crt", base),
	     *old_cert = xasprintf("%s/old.crt", base);
	char *text, *expect, *log;
	STACK_OF(X509) * certs;
	EVP_PKEY *key;
	bool changed;

	(void)state;
	write_named(cert_path, key_path, "named.example.com", 300);
	{
		char *raw;
		size_t len;

		assert_true(file_read_all(key_path, &raw, &len));
		assert_non_null(strstr(raw, "BEGIN EC PRIVATE KEY"));
		free(raw);
	}
	text = ensure(hosts1, 2, cert_path, key_path, true, true, &changed);
	assert_true(changed);
	expect = xasprintf("write %s/listener.pem: assembled from %s and %s", dir, cert_path,
			   key_path);
	assert_non_null(strstr(text, expect));
	free(expect);
	free(text);
	text = bytes_of(KAFKA_TLS_LISTENER);
	assert_true(strncmp(text, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	assert_null(strstr(text, "EC PRIVATE KEY"));
	free(text);
	assert_mode(KAFKA_TLS_LISTENER, 0640, group);
	certs = certs_of(KAFKA_TLS_LISTENER);
	key = key_of(KAFKA_TLS_LISTENER);
	assert_int_equal(sk_X509_num(certs), 1);
	assert_int_equal(X509_check_private_key(sk_X509_value(certs, 0), key), 1);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	text = subject_of(KAFKA_TLS_LISTENER);
	assert_string_equal(text, "CN=named.example.com");
	free(text);
	/* Again: unchanged. */
	text = ensure(hosts1, 2, cert_path, key_path, true, true, &changed);
	assert_false(changed);
	assert_string_equal(text, "");
	free(text);

	/* A key that is not the certificate's: refused, naming both files. */
	write_named(other_cert, NULL, "other.example.com", 300);
	capture_begin();
	text = ensure(hosts1, 2, other_cert, key_path, true, false, &changed);
	log = capture_end();
	assert_string_equal(text, "");
	assert_non_null(strstr(log, key_path));
	assert_non_null(strstr(log, other_cert));
	assert_non_null(strstr(log, "is not the key of"));
	free(log);
	free(text);

	/* An expired certificate: refused, naming it, in plan mode too. */
	write_named(old_cert, key_path, "old.example.com", -2);
	capture_begin();
	text = ensure(hosts1, 2, old_cert, key_path, false, false, &changed);
	log = capture_end();
	assert_non_null(strstr(log, old_cert));
	assert_non_null(strstr(log, "expired"));
	free(log);
	free(text);
	/* A file that is missing or no PEM. */
	capture_begin();
	text = ensure(hosts1, 2, key_path, key_path, true, false, &changed);
	log = capture_end();
	assert_non_null(strstr(log, "no PEM certificate"));
	free(log);
	free(text);

	/* Back to a generated listener: issued by the CA again. */
	text = ensure(hosts1, 2, NULL, NULL, true, true, &changed);
	expect = xasprintf("write %s/listener.pem: re-issued: not signed by the current CA", dir);
	assert_string_equal(text, expect);
	free(expect);
	free(text);
	assert_keystore(KAFKA_TLS_LISTENER, X509_PURPOSE_SSL_SERVER);
	free(cert_path);
	free(key_path);
	free(other_cert);
	free(old_cert);
}

static void test_link_not_followed(void **state)
{
	char *victim = xasprintf("%s/victim", base), *link = path_of(KAFKA_TLS_CA_KEY);
	char *text, *log, *content;
	size_t len;
	struct stat st;
	bool changed;
	FILE *f;

	(void)state;
	f = fopen(victim, "w");
	assert_non_null(f);
	fputs("not a key\n", f);
	fclose(f);
	assert_int_equal(chmod(victim, 0600), 0);
	{
		char *parent = xasprintf("%s/etc", base);

		assert_int_equal(mkdir(parent, 0755), 0);
		free(parent);
	}
	assert_int_equal(mkdir(dir, 0750), 0);
	assert_int_equal(symlink(victim, link), 0);
	capture_begin();
	text = ensure(hosts1, 2, NULL, NULL, true, false, &changed);
	log = capture_end();
	assert_non_null(strstr(log, link));
	assert_non_null(strstr(log, "symbolic link"));
	free(log);
	free(text);
	assert_true(file_read_all(victim, &content, &len));
	assert_string_equal(content, "not a key\n");
	free(content);
	assert_int_equal(lstat(victim, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* A bad host is refused before anything is touched. */
	{
		const char *const bad[] = { "evil.example,DNS:other" };

		capture_begin();
		text = ensure(bad, 1, NULL, NULL, true, false, &changed);
		log = capture_end();
		assert_non_null(strstr(log, "evil.example,DNS:other"));
		free(log);
		free(text);
	}
	free(victim);
	free(link);
}

/* An IPv6 host in brackets, names given twice (in other case too): each
 * SAN once, the CN without brackets. */
static void test_ipv6_and_duplicates(void **state)
{
	const char *const hosts[] = { "[::1]", "LocalHost", "localhost", "127.0.0.1" };
	STACK_OF(X509) *certs;
	GENERAL_NAMES *gens;
	bool changed;
	char *text;

	(void)state;
	free(ensure(hosts, 4, NULL, NULL, true, true, &changed));
	assert_true(changed);
	certs = certs_of(KAFKA_TLS_LISTENER);
	gens = X509_get_ext_d2i(sk_X509_value(certs, 0), NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
	assert_int_equal(X509_check_ip_asc(sk_X509_value(certs, 0), "::1", 0), 1);
	assert_int_equal(X509_check_host(sk_X509_value(certs, 0), "localhost", 0, 0, NULL), 1);
	GENERAL_NAMES_free(gens);
	sk_X509_pop_free(certs, X509_free);
	text = subject_of(KAFKA_TLS_LISTENER);
	assert_string_equal(text, "CN=::1");
	free(text);
	text = ensure(hosts, 4, NULL, NULL, true, true, &changed);
	assert_false(changed);
	assert_string_equal(text, "");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_then_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiring_ca_renews_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_and_duplicates, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
