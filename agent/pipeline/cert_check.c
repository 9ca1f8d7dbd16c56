/*
 * agent/pipeline/cert_check.c: the topology's certificates read for their
 * expiry (cert_check.h), with libcrypto.
 */
#include "pipeline/cert_check.h"

#include "base/util.h"

#include <errno.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_SECONDS 86400

static struct cert_finding *finding_add(struct cert_findings *out, enum cert_state state,
					const char *path)
{
	struct cert_finding *f;

	out->items = xrealloc(out->items, (out->n + 1) * sizeof(*out->items));
	f = &out->items[out->n++];
	memset(f, 0, sizeof(*f));
	f->state = state;
	f->file = xstrdup(path);
	return f;
}

/* subject_text: name in RFC 2253's one-line form; caller frees. */
static char *subject_text(const X509_NAME *name)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data, *text;
	long len;

	if (!mem)
		return xstrdup("?");
	if (X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253) < 0) {
		BIO_free(mem);
		return xstrdup("?");
	}
	len = BIO_get_mem_data(mem, &data);
	text = len > 0 ? xstrndup(data, (size_t)len) : xstrdup("(empty subject)");
	BIO_free(mem);
	return text;
}

/* seconds_left: seconds from now to cert's notAfter (negative: past);
 * false when its time cannot be read. */
static bool seconds_left(X509 *cert, time_t now, int64_t *out)
{
	ASN1_TIME *from = ASN1_TIME_set(NULL, now);
	int days = 0, secs = 0;
	bool ok;

	ok = from && ASN1_TIME_diff(&days, &secs, from, X509_get0_notAfter(cert)) == 1;
	ASN1_TIME_free(from);
	*out = (int64_t)days * DAY_SECONDS + secs;
	return ok;
}

/* cert_judge: appends cert's finding, if it has one; whether it did. */
static bool cert_judge(X509 *cert, const char *path, time_t now, int warn_days,
		       struct cert_findings *out)
{
	struct cert_finding *f;
	int64_t left;

	if (!seconds_left(cert, now, &left)) {
		f = finding_add(out, CERT_UNREADABLE, path);
		f->subject = subject_text(X509_get_subject_name(cert));
		f->reason =
			xasprintf("certificate %s: its notAfter time cannot be read", f->subject);
		return true;
	}
	if (left >= (int64_t)warn_days * DAY_SECONDS)
		return false;
	f = finding_add(out, left <= 0 ? CERT_EXPIRED : CERT_NEAR, path);
	f->subject = subject_text(X509_get_subject_name(cert));
	f->days = left <= 0 ? (int)(-left / DAY_SECONDS)
			    : (int)((left + DAY_SECONDS - 1) / DAY_SECONDS);
	return true;
}

/* pem_end_reason: NULL when libcrypto's last error is the end of the PEM
 * blocks (no further BEGIN line), else why reading stopped (static). */
static const char *pem_end_reason(void)
{
	unsigned long err = ERR_peek_last_error();
	const char *why;

	if (err == 0 ||
	    (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE))
		return NULL;
	why = ERR_reason_error_string(err);
	return why ? why : "not a PEM certificate";
}

size_t cert_file_check(const char *path, time_t now, int warn_days, struct cert_findings *out)
{
	size_t before = out->n, n_certs = 0;
	const char *why;
	X509 *cert;
	BIO *bio;

	ERR_clear_error();
	bio = BIO_new_file(path, "r");
	if (!bio) {
		int e = errno;

		finding_add(out, CERT_UNREADABLE, path)->reason =
			xstrdup(e ? strerror(e) : "cannot be opened");
		ERR_clear_error();
		return out->n - before;
	}
	/* _AUX: "TRUSTED CERTIFICATE" blocks too, as OpenSSL's CA loading
	 * takes them; blocks of other kinds (keys, CRLs) are skipped. */
	while ((cert = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) != NULL) {
		n_certs++;
		cert_judge(cert, path, now, warn_days, out);
		X509_free(cert);
	}
	why = pem_end_reason();
	if (why)
		finding_add(out, CERT_UNREADABLE, path)->reason =
			xasprintf("certificate %zu of the file cannot be read: %s", n_certs + 1,
				  why);
	else if (n_certs == 0)
		finding_add(out, CERT_UNREADABLE, path)->reason =
			xstrdup("no PEM certificate in it");
	ERR_clear_error();
	BIO_free(bio);
	return out->n - before;
}

/* check_key: checks path (NULL: key unset) and locates its findings. */
static void check_key(const char *path, const char *section, const struct topo_origin *origin,
		      const char *kind, const char *key, time_t now, struct cert_findings *out)
{
	size_t first = out->n;

	if (!path)
		return;
	cert_file_check(path, now, CERT_WARN_DAYS, out);
	for (size_t i = first; i < out->n; i++) {
		out->items[i].section = xstrdup(section);
		out->items[i].key = key;
		out->items[i].line = topology_key_line(origin, kind, key);
	}
}

static void check_server(const struct pg_server_cfg *pg, const char *kind, const char *name,
			 const struct topo_origin *origin, time_t now, struct cert_findings *out)
{
	char *section = xasprintf("[%s %s]", kind, name);

	check_key(pg->sslrootcert, section, origin, kind, "sslrootcert", now, out);
	check_key(pg->sslcert, section, origin, kind, "sslcert", now, out);
	free(section);
}

void cert_check_topology(const struct topology *topo, time_t now, struct cert_findings *out)
{
	/* A cluster across hosts: a server's files are on the host that
	 * captures from or applies into it. */
	for (size_t i = 0; i < topo->n_sources; i++)
		if (topology_source_here(topo, &topo->sources[i]))
			check_server(&topo->sources[i].pg, "source", topo->sources[i].name,
				     &topo->sources[i].origin, now, out);
	for (size_t i = 0; i < topo->n_targets; i++)
		if (topology_target_here(topo, &topo->targets[i]))
			check_server(&topo->targets[i].pg, "target", topo->targets[i].name,
				     &topo->targets[i].origin, now, out);
	/* The CA bootstrap issues (ssl_ca_file derived) is renewed by it; not
	 * there yet before the first bootstrap, which is no finding. */
	if (!topo->kafka.broker_tls_generated || access(topo->kafka.ssl_ca_file, F_OK) == 0)
		check_key(topo->kafka.ssl_ca_file, "[kafka]", &topo->kafka.origin, "kafka",
			  "ssl_ca_file", now, out);
	check_key(topo->kafka.ssl_cert_file, "[kafka]", &topo->kafka.origin, "kafka",
		  "ssl_cert_file", now, out);
	check_key(topo->kafka.broker_cert_file, "[kafka]", &topo->kafka.origin, "kafka",
		  "broker_cert_file", now, out);
}

char *cert_finding_text(const struct cert_finding *f)
{
	struct strbuf sb;

	strbuf_init(&sb);
	if (f->section)
		strbuf_addf(&sb, "%s %s ", f->section, f->key);
	strbuf_addf(&sb, "%s: ", f->file);
	switch (f->state) {
	case CERT_NEAR:
		strbuf_addf(&sb, "certificate %s expires in %d day%s", f->subject, f->days,
			    f->days == 1 ? "" : "s");
		break;
	case CERT_EXPIRED:
		if (f->days == 0)
			strbuf_addf(&sb, "certificate %s expired less than a day ago", f->subject);
		else
			strbuf_addf(&sb, "certificate %s expired %d day%s ago", f->subject, f->days,
				    f->days == 1 ? "" : "s");
		break;
	case CERT_UNREADABLE:
		strbuf_addf(&sb, "unreadable: %s", f->reason);
		break;
	}
	return strbuf_detach(&sb);
}

bool cert_finding_is_error(const struct cert_finding *f)
{
	return f->state != CERT_NEAR;
}

void cert_findings_fini(struct cert_findings *findings)
{
	for (size_t i = 0; i < findings->n; i++) {
		free(findings->items[i].file);
		free(findings->items[i].subject);
		free(findings->items[i].reason);
		free(findings->items[i].section);
	}
	free(findings->items);
	findings->items = NULL;
	findings->n = 0;
}
