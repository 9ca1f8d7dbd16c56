/*
 * agent/provision/kafka_tls.c: the broker's CA, internal and listener
 * certificates (kafka_tls.h), with libcrypto's OpenSSL 3 API.
 *
 * Every file is read and judged before anything is made: a usable CA is
 * kept, a leaf is re-issued only for a reason (missing, unreadable, key not
 * its certificate's, not the current CA's, expiring, SANs or subject not
 * the wanted ones), so a converged directory costs reads only.  Files are
 * read and written at the directory's descriptor without following links
 * (file_replace_at: owner and mode set before the rename), and every buffer
 * that held a key is wiped before it is freed.
 */
#include "provision/kafka_tls.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COMPONENT            "kafka"
#define DAY_SECONDS          86400L
/* A keystore is a key and a few certificates: anything larger is not one. */
#define MAX_PEM_BYTES        (1L << 20)
/* 0755: capture and apply (user cdc-agent) read ca.pem in it; the keys are
 * protected by their own modes. */
#define DIR_MODE             0755
#define CA_MODE              0644
#define CA_KEY_MODE          0600
#define KEYSTORE_MODE        0640
/* Certificates start an hour back: a broker whose clock is a little behind
 * the agent's must not find its new certificate not yet valid. */
#define BACKDATE_SECONDS     3600L
#define LISTENER_CN_FALLBACK "cdc-agent-listener"

/* A file's bytes, read or made: keys are in them, so wiped when freed. */
struct secret_buf {
	char *data;
	size_t len;
};

static void secret_buf_wipe(struct secret_buf *b)
{
	if (b->data) {
		OPENSSL_cleanse(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

struct tls_run {
	const struct kafka_tls_want *want;
	struct change_list *changes;
	bool *changed;
	int dirfd; /* -1: the directory is missing (plan mode) */
};

struct ca {
	X509 *cert;
	EVP_PKEY *key;
};

/* Allocation failure in libcrypto is out of memory, as xmalloc's. */
static void *need(void *p)
{
	if (!p) {
		log_error("out of memory in libcrypto");
		abort();
	}
	return p;
}

/* The same for libcrypto's calls that return a count or 1 on success. */
static void need_ok(int result)
{
	if (result <= 0)
		need(NULL);
}

/* Logs what failed with libcrypto's reason, and clears its queue. */
static void crypto_error(const char *what)
{
	unsigned long err = ERR_peek_last_error();
	const char *why = err ? ERR_reason_error_string(err) : NULL;

	log_error("cannot %s: %s", what, why ? why : "libcrypto failed");
	ERR_clear_error();
}

/* Keys must be unencrypted: no prompt on a terminal for a passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* ---- reading ------------------------------------------------------------ */

/* Reads the regular file open at fd (path names it) whole. */
static bool fd_read(int fd, const char *path, struct secret_buf *out)
{
	struct stat st;
	size_t got = 0, size;

	if (fstat(fd, &st) != 0) {
		log_error("cannot inspect %s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("refusing %s: not a regular file", path);
		return false;
	}
	if (st.st_size > MAX_PEM_BYTES) {
		log_error("refusing %s: %jd bytes, more than a PEM file of a key and its "
			  "certificates can be (%ld)",
			  path, (intmax_t)st.st_size, MAX_PEM_BYTES);
		return false;
	}
	size = (size_t)st.st_size;
	out->data = xmalloc(size + 1);
	while (got < size) {
		ssize_t n = read(fd, out->data + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("cannot read %s: %s", path, strerror(errno));
			out->len = size;
			secret_buf_wipe(out);
			return false;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	out->len = got;
	out->data[got] = '\0';
	return true;
}

/*
 * Reads name of the run's directory without following a link: a link,
 * anything but a regular file or a file with another hard link is refused,
 * naming it.  Missing (or the directory missing) is *exists false; *st is
 * the file's owner and mode.
 */
static bool dir_file_read(struct tls_run *r, const char *name, struct secret_buf *out,
			  struct stat *st, bool *exists)
{
	char *path;
	bool ok;
	int fd;

	*exists = false;
	if (r->dirfd < 0)
		return true;
	path = xasprintf("%s/%s", r->want->dir, name);
	fd = openat(r->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ok = errno == ENOENT;
		if (errno == ELOOP)
			log_error("refusing %s: it is a symbolic link; the agent does not follow "
				  "links where it writes as root: remove it",
				  path);
		else if (!ok)
			log_error("cannot open %s: %s", path, strerror(errno));
		free(path);
		return ok;
	}
	ok = fd_read(fd, path, out);
	if (ok && fstat(fd, st) != 0) {
		log_error("cannot inspect %s: %s", path, strerror(errno));
		ok = false;
	}
	if (ok && st->st_nlink > 1) {
		log_error("refusing %s: it has %ju hard links (a link to a file elsewhere is not "
			  "rewritten through); make it a file of its own",
			  path, (uintmax_t)st->st_nlink);
		ok = false;
	}
	if (!ok)
		secret_buf_wipe(out);
	close(fd);
	free(path);
	*exists = ok;
	return ok;
}

/* Reads a file the topology names (links followed: the operator's choice). */
static bool named_file_read(const char *path, struct secret_buf *out)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	bool ok;

	if (fd < 0) {
		log_error("cannot open %s: %s", path, strerror(errno));
		return false;
	}
	ok = fd_read(fd, path, out);
	close(fd);
	return ok;
}

/* The first private key of text, or NULL (an encrypted key is none). */
static EVP_PKEY *key_parse(const struct secret_buf *text)
{
	BIO *bio = need(BIO_new_mem_buf(text->data, (int)text->len));
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);

	BIO_free(bio);
	ERR_clear_error();
	return key;
}

/* Every certificate of text, in order, into certs (a new stack); false
 * (*why static) when one cannot be read or there is none. */
static bool certs_parse(const struct secret_buf *text, STACK_OF(X509) **certs, const char **why)
{
	BIO *bio = need(BIO_new_mem_buf(text->data, (int)text->len));
	unsigned long err;
	X509 *cert;

	*certs = need(sk_X509_new_null());
	ERR_clear_error();
	while ((cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL)
		need_ok(sk_X509_push(*certs, cert));
	BIO_free(bio);
	/* Reading ends at the first block that is no certificate: fine when
	 * there is no further BEGIN line, else that block is broken. */
	err = ERR_peek_last_error();
	ERR_clear_error();
	*why = NULL;
	if (err && !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE))
		*why = "a certificate of it cannot be read";
	else if (sk_X509_num(*certs) == 0)
		*why = "no PEM certificate in it";
	return *why == NULL;
}

/* NULL when cert is valid now and for renew_days more, else why not. */
static const char *validity_why(X509 *cert, long renew_days)
{
	time_t now = time(NULL), later = now + renew_days * DAY_SECONDS;
	int from = X509_cmp_time(X509_get0_notBefore(cert), &now);
	int until = X509_cmp_time(X509_get0_notAfter(cert), &now);

	if (from == 0 || until == 0)
		return "its validity dates cannot be read";
	if (from > 0)
		return "not yet valid";
	if (until < 0)
		return "expired";
	if (renew_days > 0 && X509_cmp_time(X509_get0_notAfter(cert), &later) < 0)
		return "expires within 30 days";
	return NULL;
}

/* cert's subject in RFC 2253's form; caller frees. */
static char *subject_text(X509 *cert)
{
	BIO *mem = need(BIO_new(BIO_s_mem()));
	char *data, *text;
	long len;

	if (X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0)
		len = 0;
	else
		len = BIO_get_mem_data(mem, &data);
	text = len > 0 ? xstrndup(data, (size_t)len) : xstrdup("(empty subject)");
	BIO_free(mem);
	return text;
}

/* ---- subject alternative names ------------------------------------------ */

/* A host name as a SAN may hold it: labels of letters, digits, '-' and '_'
 * (no wildcard, nothing a name list could be split at). */
static bool dns_name_ok(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (c == '-' && label > 0)))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

/* A SAN as the sets compare it: "DNS:" lowercased, "IP:" in full form;
 * caller frees. */
static char *san_text(const GENERAL_NAME *g)
{
	struct strbuf sb;

	strbuf_init(&sb);
	if (g->type == GEN_DNS) {
		const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
		int n = ASN1_STRING_length(g->d.dNSName);

		strbuf_adds(&sb, "DNS:");
		for (int k = 0; k < n; k++) {
			char c = (char)d[k];

			c = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
			strbuf_add(&sb, c >= 0x20 && c < 0x7f ? &c : "?", 1);
		}
	} else if (g->type == GEN_IPADD) {
		const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
		int n = ASN1_STRING_length(g->d.iPAddress);

		strbuf_adds(&sb, "IP:");
		if (n == 4) {
			strbuf_addf(&sb, "%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
		} else {
			for (int k = 0; k + 1 < n; k += 2)
				strbuf_addf(&sb, "%s%x", k ? ":" : "", d[k] << 8 | d[k + 1]);
		}
	} else {
		strbuf_addf(&sb, "other:%d", g->type);
	}
	return strbuf_detach(&sb);
}

/* host without the brackets of an IPv6 address ("[::1]"); caller frees. */
static char *host_bare(const char *host)
{
	size_t len = strlen(host);

	return len >= 2 && host[0] == '[' && host[len - 1] == ']' ? xstrndup(host + 1, len - 2)
								  : xstrdup(host);
}

/* Appends host (a DNS name or an IP address) to gens and its text to
 * texts, unless texts has it already; false, logged, when it is neither. */
static bool san_add(GENERAL_NAMES *gens, struct strlist *texts, const char *host)
{
	char *bare = host_bare(host), *text;
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(bare);
	GENERAL_NAME *g;

	ERR_clear_error();
	if (ip) {
		g = need(GENERAL_NAME_new());
		GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
	} else if (dns_name_ok(bare)) {
		ASN1_IA5STRING *s = need(ASN1_IA5STRING_new());

		need_ok(ASN1_STRING_set(s, bare, -1));
		g = need(GENERAL_NAME_new());
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
	} else {
		log_error("cannot name broker host \"%s\" in a certificate: neither a host name "
			  "nor an IP address",
			  host);
		free(bare);
		return false;
	}
	text = san_text(g);
	if (strlist_contains(texts, text)) {
		GENERAL_NAME_free(g);
	} else {
		need_ok(sk_GENERAL_NAME_push(gens, g));
		strlist_add(texts, text);
	}
	free(text);
	free(bare);
	return true;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void texts_sort(struct strlist *texts)
{
	if (texts->n > 1)
		qsort(texts->items, texts->n, sizeof(*texts->items), str_cmp);
}

/* gens as sorted unique texts (san_text); gens NULL is the empty set. */
static void san_texts(const GENERAL_NAMES *gens, struct strlist *out)
{
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		char *text = san_text(sk_GENERAL_NAME_value(gens, i));

		if (!strlist_contains(out, text))
			strlist_add(out, text);
		free(text);
	}
	texts_sort(out);
}

/* Whether cert's SANs are the set want. */
static bool sans_equal(X509 *cert, const struct strlist *want)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	struct strlist have = { 0 };
	bool same;

	ERR_clear_error();
	san_texts(gens, &have);
	GENERAL_NAMES_free(gens);
	same = have.n == want->n;
	for (size_t i = 0; same && i < have.n; i++)
		same = strcmp(have.items[i], want->items[i]) == 0;
	strlist_fini(&have);
	return same;
}

/* ---- making ------------------------------------------------------------- */

static bool ext_add(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	bool ok = ext && X509_add_ext(cert, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	return ok;
}

/* A random positive 128-bit serial number. */
static bool serial_set(X509 *cert)
{
	unsigned char b[16];
	BIGNUM *bn;
	bool ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return false;
	b[0] = (unsigned char)((b[0] & 0x7f) | 0x40);
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok;
}

/*
 * A certificate for key with subject CN=cn, valid days from an hour ago,
 * signed by issuer (issuer_key) or self-signed (issuer NULL): a CA when
 * gens is NULL, else a TLS server and client leaf with those SANs.
 */
static X509 *cert_make(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long days,
		       const GENERAL_NAMES *gens)
{
	X509 *cert = need(X509_new());
	X509_NAME *name = need(X509_NAME_new());
	X509V3_CTX ctx;
	bool ok;

	ok = X509_set_version(cert, X509_VERSION_3) == 1 && serial_set(cert) &&
	     X509_gmtime_adj(X509_getm_notBefore(cert), -BACKDATE_SECONDS) &&
	     X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) == 1 &&
	     X509_set_subject_name(cert, name) == 1 &&
	     X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name) == 1 &&
	     X509_set_pubkey(cert, key) == 1;
	X509_NAME_free(name);
	if (ok) {
		X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
		/* An issuer without a key identifier (a CA put there by hand)
		 * gives none to name. */
		ok = ext_add(cert, &ctx, NID_subject_key_identifier, "hash") &&
		     ((issuer && !X509_get0_subject_key_id(issuer)) ||
		      ext_add(cert, &ctx, NID_authority_key_identifier, "keyid:always"));
	}
	if (ok && !gens)
		ok = ext_add(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE") &&
		     ext_add(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	else if (ok)
		ok = ext_add(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
		     ext_add(cert, &ctx, NID_key_usage, "critical,digitalSignature") &&
		     ext_add(cert, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") &&
		     X509_add1_ext_i2d(cert, NID_subject_alt_name, (void *)gens, 0,
				       X509V3_ADD_DEFAULT) == 1;
	if (ok)
		ok = X509_sign(cert, issuer_key, EVP_sha256()) > 0;
	if (!ok) {
		crypto_error(gens ? "make a broker certificate" : "make the broker's CA");
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* The memory BIO's bytes as one exact copy; frees the BIO (which wipes
 * its own buffer). */
static void bio_take(BIO *bio, struct secret_buf *out)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);

	out->len = n > 0 ? (size_t)n : 0;
	out->data = xmalloc(out->len + 1);
	if (out->len)
		memcpy(out->data, data, out->len);
	out->data[out->len] = '\0';
	BIO_free(bio);
}

/* A keystore's text: key as PKCS#8 ("BEGIN PRIVATE KEY", the form Kafka's
 * PEM keystore reads), then the certificates in order.  key NULL: the
 * certificates alone. */
static bool pem_text(EVP_PKEY *key, X509 *const *certs, size_t n, struct secret_buf *out)
{
	BIO *bio = need(BIO_new(BIO_s_mem()));
	bool ok = !key || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1;

	for (size_t i = 0; ok && i < n; i++)
		ok = PEM_write_bio_X509(bio, certs[i]) == 1;
	bio_take(bio, out);
	if (!ok) {
		secret_buf_wipe(out);
		crypto_error("write a key or certificate as PEM");
	}
	return ok;
}

static EVP_PKEY *key_make(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");

	if (!key)
		crypto_error("make an EC P-256 key");
	return key;
}

/* ---- the directory and its files ---------------------------------------- */

/* Creates the directories above path (0755) that are missing. */
static bool parents_make(const char *path)
{
	char *copy = xstrdup(path);
	bool ok = true;

	for (char *p = copy + 1; ok && *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
			log_error("cannot create %s: %s", copy, strerror(errno));
			ok = false;
		}
		*p = '/';
	}
	free(copy);
	return ok;
}

/* Owner and mode of the directory, on its descriptor: a link is never
 * chowned through. */
static bool dir_set(int fd, const char *dir, const struct stat *st, gid_t group)
{
	if ((st->st_uid != geteuid() || st->st_gid != group) && fchown(fd, geteuid(), group) != 0) {
		log_error("cannot give directory %s to group %u: %s", dir, (unsigned)group,
			  strerror(errno));
		return false;
	}
	if (fchmod(fd, DIR_MODE) != 0) {
		log_error("cannot set the mode of directory %s: %s", dir, strerror(errno));
		return false;
	}
	return true;
}

/*
 * Opens the directory into r->dirfd, made root:group 0755 when missing
 * (with its parents); an existing one must be this user's (root's), its
 * group and mode are set when they differ.  In plan mode a missing one
 * leaves r->dirfd -1.
 */
static bool dir_ready(struct tls_run *r)
{
	const char *dir = r->want->dir;
	struct stat st;

	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (r->dirfd < 0 && errno == ENOENT) {
		change_record(r->changes, COMPONENT, "create directory %s (root:%u, mode %04o)",
			      dir, (unsigned)r->want->group, (unsigned)DIR_MODE);
		*r->changed = true;
		if (!r->want->apply)
			return true;
		if (!parents_make(dir))
			return false; /* errors already logged */
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			log_error("cannot create directory %s: %s", dir, strerror(errno));
			return false;
		}
		r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (r->dirfd >= 0 && fstat(r->dirfd, &st) == 0)
			return dir_set(r->dirfd, dir, &st, r->want->group);
	}
	if (r->dirfd < 0) {
		bool link = errno == ELOOP || errno == ENOTDIR;

		log_error("cannot open directory %s: %s%s", dir, strerror(errno),
			  link && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)
				  ? " (a symbolic link: refused, the agent keeps the broker's "
				    "keys only in a real directory)"
				  : "");
		return false;
	}
	if (fstat(r->dirfd, &st) != 0) {
		log_error("cannot inspect directory %s: %s", dir, strerror(errno));
		return false;
	}
	if (st.st_uid != geteuid()) {
		log_error("refusing directory %s: owned by uid %u; the broker's keys are kept only "
			  "in a directory of the agent's user (uid %u)",
			  dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return false;
	}
	if (st.st_gid == r->want->group && (st.st_mode & 07777) == DIR_MODE)
		return true;
	change_record(r->changes, COMPONENT,
		      "set directory %s to root:%u, mode %04o (was %u:%u %04o)", dir,
		      (unsigned)r->want->group, (unsigned)DIR_MODE, (unsigned)st.st_uid,
		      (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777));
	*r->changed = true;
	return !r->want->apply || dir_set(r->dirfd, dir, &st, r->want->group);
}

/* Records "write DIR/NAME: why" and, when applying, writes content owned
 * by this user (root) and gid with mode.  content NULL in plan mode. */
static bool put(struct tls_run *r, const char *name, const char *why,
		const struct secret_buf *content, gid_t gid, mode_t mode)
{
	change_record(r->changes, COMPONENT, "write %s/%s: %s", r->want->dir, name, why);
	*r->changed = true;
	if (!r->want->apply)
		return true;
	return file_replace_at(r->dirfd, r->want->dir, name, content->data, content->len, geteuid(),
			       gid, mode);
}

/* A file kept for its content: rewritten with the same bytes when its
 * owner or mode is not the wanted one. */
static bool keep(struct tls_run *r, const char *name, const struct secret_buf *content,
		 const struct stat *st, gid_t gid, mode_t mode)
{
	char *why;
	bool ok;

	if (st->st_uid == geteuid() && st->st_gid == gid && (st->st_mode & 07777) == mode)
		return true;
	why = xasprintf("owner %u:%u, mode %04o (was %u:%u %04o)", (unsigned)geteuid(),
			(unsigned)gid, (unsigned)mode, (unsigned)st->st_uid, (unsigned)st->st_gid,
			(unsigned)(st->st_mode & 07777));
	ok = put(r, name, why, content, gid, mode);
	free(why);
	return ok;
}

/* ---- the CA ------------------------------------------------------------- */

/* NULL when the CA files are usable (ca->cert and ca->key then set), else
 * why not (static). */
static const char *ca_judge(const struct secret_buf *cert_text, bool cert_exists,
			    const struct secret_buf *key_text, bool key_exists, struct ca *ca)
{
	STACK_OF(X509) *certs = NULL;
	const char *why;

	if (!cert_exists)
		return KAFKA_TLS_CA " is missing";
	if (!key_exists)
		return KAFKA_TLS_CA_KEY " is missing";
	if (!certs_parse(cert_text, &certs, &why)) {
		sk_X509_pop_free(certs, X509_free);
		return KAFKA_TLS_CA " cannot be read";
	}
	ca->cert = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	ca->key = key_parse(key_text);
	if (!ca->key)
		why = KAFKA_TLS_CA_KEY " cannot be read";
	else if (X509_check_ca(ca->cert) < 1)
		why = KAFKA_TLS_CA " is not a CA certificate";
	else if (X509_check_private_key(ca->cert, ca->key) != 1)
		why = KAFKA_TLS_CA_KEY " is not the key of " KAFKA_TLS_CA;
	else if ((why = validity_why(ca->cert, KAFKA_TLS_RENEW_DAYS)) != NULL)
		why = strcmp(why, "expires within 30 days") == 0 ? "the CA expires within 30 days"
		      : strcmp(why, "expired") == 0              ? "the CA expired"
								 : "the CA is not valid now";
	ERR_clear_error();
	if (why) {
		X509_free(ca->cert);
		EVP_PKEY_free(ca->key);
		ca->cert = NULL;
		ca->key = NULL;
	}
	return why;
}

/* Makes a new CA into ca and both its files' texts. */
static bool ca_make(struct ca *ca, struct secret_buf *cert_text, struct secret_buf *key_text)
{
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1], *cn;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		crypto_error("draw random bytes");
		return false;
	}
	hex_encode(rnd, sizeof(rnd), hex);
	cn = xasprintf("cdc-agent CA %s", hex);
	ca->key = key_make();
	ca->cert = ca->key ? cert_make(cn, ca->key, NULL, ca->key, KAFKA_TLS_CA_DAYS, NULL) : NULL;
	free(cn);
	return ca->cert && pem_text(ca->key, NULL, 0, key_text) &&
	       pem_text(NULL, &ca->cert, 1, cert_text); /* on failure, errors already logged */
}

/* Keeps a usable CA or makes a new one (*made). */
static bool ca_ensure(struct tls_run *r, struct ca *ca, bool *made)
{
	struct secret_buf cert_text = { 0 }, key_text = { 0 };
	struct stat cert_st, key_st;
	bool cert_exists, key_exists, ok = false;
	const char *why;
	char *reason = NULL;

	*made = false;
	if (!dir_file_read(r, KAFKA_TLS_CA, &cert_text, &cert_st, &cert_exists) ||
	    !dir_file_read(r, KAFKA_TLS_CA_KEY, &key_text, &key_st, &key_exists))
		goto out; /* errors already logged */
	why = ca_judge(&cert_text, cert_exists, &key_text, key_exists, ca);
	if (!why) {
		ok = keep(r, KAFKA_TLS_CA_KEY, &key_text, &key_st, getegid(), CA_KEY_MODE) &&
		     keep(r, KAFKA_TLS_CA, &cert_text, &cert_st, r->want->group, CA_MODE);
		goto out;
	}
	*made = true;
	reason =
		!cert_exists && !key_exists ? xstrdup("created") : xasprintf("re-created: %s", why);
	secret_buf_wipe(&cert_text);
	secret_buf_wipe(&key_text);
	if (r->want->apply && !ca_make(ca, &cert_text, &key_text))
		goto out; /* errors already logged */
	/* The key first: a crash between the two leaves a certificate that
	 * is not the key's, found unusable and made again at the next call. */
	ok = put(r, KAFKA_TLS_CA_KEY, reason, &key_text, getegid(), CA_KEY_MODE) &&
	     put(r, KAFKA_TLS_CA, reason, &cert_text, r->want->group, CA_MODE);
out:
	free(reason);
	secret_buf_wipe(&cert_text);
	secret_buf_wipe(&key_text);
	return ok;
}

/* ---- the leaves --------------------------------------------------------- */

struct leaf_want {
	const char *name; /* KAFKA_TLS_INTERNAL or KAFKA_TLS_LISTENER */
	const char *cn;
	const GENERAL_NAMES *gens;
	struct strlist sans; /* gens as san_texts */
	bool exact_subject;  /* the subject must be CN=cn alone */
};

/* NULL when text is a keystore of leaf's that can stay, else why not
 * (static): its key and certificate, issued by ca, valid 30 days more, the
 * wanted SANs (and subject), followed by ca's certificate. */
static const char *leaf_judge(const struct secret_buf *text, const struct ca *ca,
			      const struct leaf_want *leaf)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = key_parse(text);
	const char *why = NULL;
	X509 *cert = NULL;

	if (!key)
		why = "its key cannot be read";
	else if (!certs_parse(text, &certs, &why))
		why = "its certificate cannot be read";
	else if (X509_check_private_key((cert = sk_X509_value(certs, 0)), key) != 1)
		why = "its key is not its certificate's";
	else if (X509_check_issued(ca->cert, cert) != X509_V_OK ||
		 X509_verify(cert, X509_get0_pubkey(ca->cert)) != 1)
		why = "not signed by the current CA";
	else if ((why = validity_why(cert, KAFKA_TLS_RENEW_DAYS)) != NULL)
		;
	else if (!sans_equal(cert, &leaf->sans))
		why = "SANs changed";
	else if (leaf->exact_subject) {
		X509_NAME *name = need(X509_NAME_new());

		if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					       (const unsigned char *)leaf->cn, -1, -1, 0) != 1 ||
		    X509_NAME_cmp(name, X509_get_subject_name(cert)) != 0)
			why = "its subject is not CN=" KAFKA_TLS_BROKER_CN " alone";
		X509_NAME_free(name);
	}
	if (!why && (sk_X509_num(certs) != 2 || X509_cmp(sk_X509_value(certs, 1), ca->cert) != 0))
		why = "its chain is not the current CA";
	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return why;
}

/* Keeps leaf's file or issues it again (ca_new: the CA was just made). */
static bool leaf_ensure(struct tls_run *r, const struct ca *ca, bool ca_new,
			const struct leaf_want *leaf)
{
	struct secret_buf text = { 0 };
	struct stat st;
	bool exists, ok = false;
	const char *why;
	char *reason;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;

	if (!dir_file_read(r, leaf->name, &text, &st, &exists))
		return false; /* errors already logged */
	if (!exists) {
		reason = xstrdup("created");
	} else if (ca_new) {
		reason = xstrdup("re-issued: new CA");
	} else if ((why = leaf_judge(&text, ca, leaf)) != NULL) {
		reason = xasprintf("re-issued: %s", why);
	} else {
		ok = keep(r, leaf->name, &text, &st, r->want->group, KEYSTORE_MODE);
		secret_buf_wipe(&text);
		return ok;
	}
	secret_buf_wipe(&text);
	if (r->want->apply) {
		X509 *chain[2];

		key = key_make();
		cert = key ? cert_make(leaf->cn, key, ca->cert, ca->key, KAFKA_TLS_LEAF_DAYS,
				       leaf->gens)
			   : NULL;
		chain[0] = cert;
		chain[1] = ca->cert;
		if (!cert || !pem_text(key, chain, 2, &text))
			goto out; /* errors already logged */
	}
	ok = put(r, leaf->name, reason, &text, r->want->group, KEYSTORE_MODE);
out:
	free(reason);
	X509_free(cert);
	EVP_PKEY_free(key);
	secret_buf_wipe(&text);
	return ok;
}

/*
 * The listener's keystore from the topology's files: their key as PKCS#8,
 * then every certificate of cert_file.  Refused, naming the file, when one
 * cannot be read, the key is not the certificate's, or the certificate is
 * expired or not yet valid.
 */
static bool named_assemble(const char *cert_file, const char *key_file, struct secret_buf *out)
{
	struct secret_buf cert_text = { 0 }, key_text = { 0 };
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	const char *why;
	char *subject = NULL;
	bool ok = false;

	if (!named_file_read(cert_file, &cert_text) || !named_file_read(key_file, &key_text))
		goto out; /* errors already logged */
	if (!certs_parse(&cert_text, &certs, &why)) {
		log_error("broker_cert_file %s: %s", cert_file, why);
		goto out;
	}
	key = key_parse(&key_text);
	if (!key) {
		log_error("broker_key_file %s: no private key can be read from it (it must be PEM, "
			  "unencrypted)",
			  key_file);
		goto out;
	}
	subject = subject_text(sk_X509_value(certs, 0));
	if (X509_check_private_key(sk_X509_value(certs, 0), key) != 1) {
		ERR_clear_error();
		log_error("broker_key_file %s is not the key of the certificate %s of "
			  "broker_cert_file %s",
			  key_file, subject, cert_file);
		goto out;
	}
	why = validity_why(sk_X509_value(certs, 0), 0);
	if (why) {
		log_error("broker_cert_file %s: its certificate %s is %s", cert_file, subject, why);
		goto out;
	}
	if (validity_why(sk_X509_value(certs, 0), KAFKA_TLS_RENEW_DAYS))
		log_warn("broker_cert_file %s: its certificate %s expires within %d days",
			 cert_file, subject, KAFKA_TLS_RENEW_DAYS);
	{
		size_t n = (size_t)sk_X509_num(certs);
		X509 **list = xcalloc(n, sizeof(*list));

		for (size_t i = 0; i < n; i++)
			list[i] = sk_X509_value(certs, (int)i);
		ok = pem_text(key, list, n, out);
		free(list);
	}
out:
	free(subject);
	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(key);
	secret_buf_wipe(&cert_text);
	secret_buf_wipe(&key_text);
	ERR_clear_error();
	return ok;
}

/* The listener assembled from named files: written when its bytes differ. */
static bool named_ensure(struct tls_run *r, const struct secret_buf *want_text)
{
	struct secret_buf text = { 0 };
	struct stat st;
	bool exists, ok;
	char *reason;

	if (!dir_file_read(r, KAFKA_TLS_LISTENER, &text, &st, &exists))
		return false; /* errors already logged */
	if (exists && text.len == want_text->len &&
	    CRYPTO_memcmp(text.data, want_text->data, text.len) == 0) {
		ok = keep(r, KAFKA_TLS_LISTENER, &text, &st, r->want->group, KEYSTORE_MODE);
		secret_buf_wipe(&text);
		return ok;
	}
	secret_buf_wipe(&text);
	reason = xasprintf("%s from %s and %s", exists ? "re-assembled" : "assembled",
			   r->want->broker_cert_file, r->want->broker_key_file);
	ok = put(r, KAFKA_TLS_LISTENER, reason, want_text, r->want->group, KEYSTORE_MODE);
	free(reason);
	return ok;
}

/* The SANs of a leaf: hosts, then localhost and 127.0.0.1, each once. */
static bool leaf_want_init(struct leaf_want *leaf, const char *name, const char *cn,
			   const char *const *hosts, size_t n_hosts, bool exact_subject)
{
	GENERAL_NAMES *gens = need(sk_GENERAL_NAME_new_null());
	bool ok = true;

	leaf->name = name;
	leaf->cn = cn;
	leaf->exact_subject = exact_subject;
	leaf->gens = gens;
	for (size_t i = 0; ok && i < n_hosts; i++)
		ok = san_add(gens, &leaf->sans, hosts[i]);
	ok = ok && san_add(gens, &leaf->sans, "localhost") &&
	     san_add(gens, &leaf->sans, "127.0.0.1");
	texts_sort(&leaf->sans);
	return ok; /* on failure, errors already logged */
}

static void leaf_want_fini(struct leaf_want *leaf)
{
	GENERAL_NAMES_free((GENERAL_NAMES *)leaf->gens);
	strlist_fini(&leaf->sans);
}

bool kafka_tls_ensure(const struct kafka_tls_want *want, struct change_list *changes, bool *changed)
{
	struct tls_run r = { .want = want, .changes = changes, .changed = changed, .dirfd = -1 };
	struct leaf_want internal = { 0 }, listener = { 0 };
	struct secret_buf named = { 0 };
	struct ca ca = { 0 };
	char *first = host_bare(want->n_hosts ? want->hosts[0] : "localhost");
	bool ok = false, ca_new = false;

	ERR_clear_error();
	/* A CN has at most 64 characters; clients check the SANs anyway. */
	if (!leaf_want_init(&internal, KAFKA_TLS_INTERNAL, KAFKA_TLS_BROKER_CN, NULL, 0, true) ||
	    !leaf_want_init(&listener, KAFKA_TLS_LISTENER,
			    strlen(first) <= 64 ? first : LISTENER_CN_FALLBACK, want->hosts,
			    want->n_hosts, false))
		goto out; /* errors already logged */
	if (!want->broker_cert_file != !want->broker_key_file) {
		log_error("[kafka] broker_cert_file and broker_key_file are named together: "
			  "only %s is",
			  want->broker_cert_file ? "broker_cert_file" : "broker_key_file");
		goto out;
	}
	if (want->broker_cert_file &&
	    !named_assemble(want->broker_cert_file, want->broker_key_file, &named))
		goto out; /* errors already logged */
	ok = dir_ready(&r) && ca_ensure(&r, &ca, &ca_new) &&
	     leaf_ensure(&r, &ca, ca_new, &internal) &&
	     (named.data ? named_ensure(&r, &named) : leaf_ensure(&r, &ca, ca_new, &listener));
out:
	leaf_want_fini(&internal);
	leaf_want_fini(&listener);
	free(first);
	secret_buf_wipe(&named);
	X509_free(ca.cert);
	EVP_PKEY_free(ca.key);
	if (r.dirfd >= 0)
		close(r.dirfd);
	ERR_clear_error();
	return ok; /* on failure, errors already logged */
}
