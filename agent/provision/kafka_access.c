/*
 * agent/provision/kafka_access.c: the Kafka password files and SCRAM users
 * of capture and apply on the brokers the agent runs, then their ACLs
 * (kafka_acls.c); kafka_access.h says which and why.
 */
#include "provision/kafka_access.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"
#include "kafka/kafka_client.h"
#include "kafka/kafka_log.h"
#include "provision/kafka_acls.h"
#include "provision/kafka_scram_cmd.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* A probe's login: a SASL refusal comes within a second; a broker that
 * does not answer in this long is down. */
#define LOGIN_TIMEOUT_MS 6000
/* Credentials set through ZooKeeper reach the broker soon after
 * ConfigCommand returns: the probe after it waits this long for them. */
#define LOGIN_AFTER_SET_MS 15000
#define CLIENT_ID "cdc-agent-access"

/* ---- passwords -------------------------------------------------------- */

/* The class of characters of password that ConfigCommand's
 * --add-config-file cannot carry (it reads a java.util.Properties file,
 * as ISO-8859-1, one line), or NULL when it can carry them all. */
static const char *password_uncarried(const char *password)
{
	for (const unsigned char *p = (const unsigned char *)password; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return "control characters";
		if (*p >= 0x80)
			return "non-ASCII bytes (ConfigCommand reads its file as ISO-8859-1)";
	}
	return NULL;
}

static void base64url(const unsigned char *in, size_t n, char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = alphabet[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = alphabet[v & 63];
	}
	out[o] = '\0';
}

/* A new password in path: 32 random bytes, base64url, one line, 0600. */
static bool password_generate(const char *path)
{
	unsigned char raw[32];
	char text[64];
	bool changed, ok;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		log_error("password file %s: no random bytes: %s", path, strerror(errno));
		return false;
	}
	base64url(raw, sizeof(raw), text);
	strcat(text, "\n");
	ok = file_write_if_changed(path, text, strlen(text), 0600, &changed);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(text, sizeof(text));
	return ok; /* on failure, errors already logged */
}

/* One password file: generated when missing, checked when present. */
static bool password_ensure(const struct pipeline_cfg *p, const char *role,
			    const struct kafka_credentials *cred, bool apply,
			    struct change_list *changes)
{
	struct stat st;
	char *password = NULL;
	const char *uncarried;

	if (!cred->password_file)
		return true;
	if (stat(cred->password_file, &st) != 0 && errno == ENOENT) {
		change_record(changes, "kafka",
			      "generate the password of %s of pipeline %s (user %s) in %s", role,
			      p->name, cred->user ? cred->user : "(none)", cred->password_file);
		return !apply || password_generate(cred->password_file);
	}
	if (!secret_read(cred->password_file, &password))
		return false; /* errors already logged */
	uncarried = password_uncarried(password);
	secret_free(password);
	if (uncarried) {
		log_error("password file %s (%s of pipeline %s): the password holds %s: Kafka's "
			  "ConfigCommand cannot set it; use printable ASCII, or remove the file and "
			  "bootstrap generates one",
			  cred->password_file, role, p->name, uncarried);
		return false;
	}
	return true;
}

bool kafka_access_passwords_ensure(const struct topology *topo, bool apply,
				   struct change_list *changes)
{
	bool ok = true;

	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];

		if (!password_ensure(p, "capture", &p->capture_kafka, apply, changes))
			ok = false;
		if (!password_ensure(p, "apply", &p->apply_kafka, apply, changes))
			ok = false;
	}
	return ok;
}

/* ---- logins ------------------------------------------------------------ */

enum login_result { LOGIN_OK, LOGIN_REFUSED, LOGIN_FAILED };

/* What a probe's error callback saw. */
struct login_seen {
	bool refused;          /* an authentication failure */
	char reason[512];
};

static void login_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct login_seen *seen = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
	    err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED) {
		seen->refused = true;
		snprintf(seen->reason, sizeof(seen->reason), "%s", reason);
	}
}

/* A client of cfg as cred (NULL: the admin, by its certificate); NULL
 * (logged) when it could not be made. */
static rd_kafka_t *client_new(const struct kafka_cfg *cfg, const struct kafka_credentials *cred,
			      struct login_seen *seen)
{
	rd_kafka_conf_t *conf;
	char err[256];
	rd_kafka_t *rk;

	if (!kafka_client_probe_conf_new(cfg, cred, CLIENT_ID, &conf))
		return NULL; /* errors already logged */
	if (seen) {
		rd_kafka_conf_set_opaque(conf, seen);
		rd_kafka_conf_set_error_cb(conf, login_on_error);
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		log_error("kafka: cannot create a Kafka client: %s", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* Whether cred logs in to cfg's brokers (a metadata answer) within
 * timeout_ms; LOGIN_REFUSED as soon as the brokers refuse it for
 * authentication; LOGIN_FAILED with *why otherwise. */
static enum login_result login_probe(const struct kafka_cfg *cfg,
				     const struct kafka_credentials *cred, int timeout_ms,
				     struct strbuf *why)
{
	struct login_seen seen = { 0 };
	double since = mono_seconds();
	int64_t deadline = mono_ms() + timeout_ms;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	rd_kafka_t *rk = client_new(cfg, cred, &seen);
	char cause[512];

	if (!rk) {
		strbuf_adds(why, "no client (logged)");
		return LOGIN_FAILED;
	}
	/* Short metadata requests, the error callback served between them:
	 * a refusal ends the wait, it does not last until the timeout. */
	while (mono_ms() < deadline) {
		err = rd_kafka_metadata(rk, 0, NULL, &md, 500);
		if (!err)
			break;
		rd_kafka_poll(rk, 0);
		if (seen.refused)
			break;
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	if (!err)
		return LOGIN_OK;
	if (seen.refused) {
		strbuf_adds(why, seen.reason);
		return LOGIN_REFUSED;
	}
	strbuf_addf(why, "no answer to a metadata request: %s", rd_kafka_err2str(err));
	if (kafka_log_last_failure(since, cause, sizeof(cause)))
		strbuf_addf(why, "; the brokers' last failure: %s", cause);
	return LOGIN_FAILED;
}

/* ---- users ------------------------------------------------------------- */

/* One user of the agent's: its credentials and who it is. */
struct access_user {
	const struct kafka_credentials *cred;
	char *who;                   /* "capture of pipeline p1" */
};

struct access_users {
	struct access_user *items;
	size_t n;
};

static void access_users_fini(struct access_users *users)
{
	for (size_t i = 0; i < users->n; i++)
		free(users->items[i].who);
	free(users->items);
}

/* Whether ConfigCommand's command line and SCRAM can name user: not
 * empty, no control character, not an option's look. */
static bool user_name_valid(const char *user, const char *who)
{
	if (!*user || *user == '-') {
		log_error("kafka: %s: user name '%s' cannot be given to ConfigCommand (empty or "
			  "beginning with '-')", who, user);
		return false;
	}
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			log_error("kafka: %s: the user name holds control characters", who);
			return false;
		}
	return true;
}

/* The agent's users, each once; false (logged) when one name comes with
 * two password files (each converge would set the other's password). */
static bool access_users_collect(const struct topology *topo, struct access_users *users)
{
	bool ok = true;

	users->items = xcalloc(2 * topo->n_pipelines + 1, sizeof(*users->items));
	users->n = 0;
	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];
		const struct kafka_credentials *creds[] = { &p->capture_kafka, &p->apply_kafka };
		const char *roles[] = { "capture", "apply" };

		for (size_t r = 0; r < 2; r++) {
			const struct kafka_credentials *c = creds[r];
			bool seen = false;
			char *who;

			if (!c->user || !c->password_file)
				continue;
			who = xasprintf("%s of pipeline %s", roles[r], p->name);
			for (size_t u = 0; u < users->n; u++) {
				if (strcmp(users->items[u].cred->user, c->user) != 0)
					continue;
				seen = true;
				if (strcmp(users->items[u].cred->password_file, c->password_file)) {
					log_error("kafka: user %s has two password files: %s (%s) and "
						  "%s (%s)",
						  c->user, users->items[u].cred->password_file,
						  users->items[u].who, c->password_file, who);
					ok = false;
				}
			}
			if (seen || !user_name_valid(c->user, who)) {
				if (!seen)
					ok = false; /* errors already logged */
				free(who);
				continue;
			}
			users->items[users->n].cred = c;
			users->items[users->n++].who = who;
		}
	}
	return ok;
}

/* One user: logs in, or is (re)made and then logs in. */
static bool user_converge(const struct topology *topo, const struct kafka_access_admin *adm,
			  const struct access_user *u, bool apply, struct change_list *changes)
{
	const char *mechanism = kafka_sasl_mechanism_rdkafka_names[topo->kafka.sasl_mechanism];
	char *brokers = strlist_join(&topo->kafka.bootstrap_servers, ",");
	struct strbuf why;
	enum login_result r;
	bool ok = false;

	strbuf_init(&why);
	if (!apply && access(u->cred->password_file, F_OK) != 0) {
		/* plan before the password is generated: the user cannot
		 * exist with it */
		change_record(changes, "kafka", "set the %s credentials of user %s (%s) from %s",
			      mechanism, u->cred->user, u->who, u->cred->password_file);
		ok = true;
		goto out;
	}
	r = login_probe(&topo->kafka, u->cred, LOGIN_TIMEOUT_MS, &why);
	if (r == LOGIN_OK) {
		ok = true;
		goto out;
	}
	if (r == LOGIN_FAILED) {
		log_error("kafka %s: %s as user %s: %s", brokers, u->who, u->cred->user, why.data);
		goto out;
	}
	change_record(changes, "kafka", "set the %s credentials of user %s (%s) from %s (%s)",
		      mechanism, u->cred->user, u->who, u->cred->password_file, why.data);
	if (!apply) {
		ok = true;
		goto out;
	}
	if (!kafka_scram_user_set(adm, mechanism, u->cred))
		goto out; /* errors already logged */
	why.len = 0;
	why.data[0] = '\0';
	r = login_probe(&topo->kafka, u->cred, LOGIN_TIMEOUT_MS, &why);
	/* The credentials travel to the brokers through ZooKeeper (or the
	 * metadata log): a refusal right after may be one from before. */
	for (int64_t until = mono_ms() + LOGIN_AFTER_SET_MS;
	     r == LOGIN_REFUSED && mono_ms() < until;) {
		usleep(500 * 1000);
		why.len = 0;
		why.data[0] = '\0';
		r = login_probe(&topo->kafka, u->cred, LOGIN_TIMEOUT_MS, &why);
	}
	ok = r == LOGIN_OK;
	if (!ok)
		log_error("kafka %s: %s as user %s, its credentials just set: %s", brokers, u->who,
			  u->cred->user, why.data);
out:
	strbuf_fini(&why);
	free(brokers);
	return ok;
}

bool kafka_access_converge(const struct topology *topo, const struct kafka_access_admin *adm,
			   bool apply, struct change_list *changes)
{
	struct access_users users = { 0 };
	struct strlist names = { 0 };
	char *brokers = NULL;
	struct strbuf why;
	rd_kafka_t *rk = NULL;
	bool ok;

	if (!kafka_security_sasl(topo->kafka.security_protocol))
		return true; /* no users, nobody to grant anything */
	if (topo->kafka.sasl_mechanism == KAFKA_SASL_PLAIN) {
		log_error("kafka: sasl_mechanism plain: the agent makes SCRAM users only (the brokers "
			  "it runs take scram-sha-512)");
		return false;
	}
	strbuf_init(&why);
	brokers = strlist_join(&adm->admin->bootstrap_servers, ",");
	ok = access_users_collect(topo, &users);
	if (!ok)
		goto out; /* errors already logged */
	/* The admin first: without its broker, nothing can be known. */
	if (login_probe(adm->admin, NULL, LOGIN_TIMEOUT_MS, &why) != LOGIN_OK) {
		if (!apply) {
			change_record(changes, "kafka",
				      "the SCRAM users and ACLs of capture and apply will be "
				      "converged once the broker runs");
			goto out;
		}
		log_error("kafka %s: the admin (the agent, by its certificate): %s", brokers,
			  why.data);
		ok = false;
		goto out;
	}
	for (size_t i = 0; i < users.n; i++) {
		if (!user_converge(topo, adm, &users.items[i], apply, changes))
			ok = false;
		strlist_add(&names, users.items[i].cred->user);
	}
	rk = client_new(adm->admin, NULL, NULL);
	if (!rk || !kafka_acls_converge(topo, rk, brokers, &names, apply, changes))
		ok = false; /* errors already logged */
out:
	if (rk)
		rd_kafka_destroy(rk);
	strlist_fini(&names);
	access_users_fini(&users);
	strbuf_fini(&why);
	free(brokers);
	return ok;
}
