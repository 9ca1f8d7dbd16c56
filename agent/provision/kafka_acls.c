/*
 * agent/provision/kafka_acls.c: the ACLs of the agent's Kafka users
 * converged (kafka_acls.h has the table and its reasons).
 */
#include "provision/kafka_acls.h"

#include "base/log.h"
#include "base/util.h"
#include "kafka/kafka_in.h"

#include <stdlib.h>
#include <string.h>

#define ADMIN_TIMEOUT_MS 15000

/* One ACL binding, as compared here (host and permission are always "*"
 * and ALLOW for the wanted ones). */
struct acl {
	rd_kafka_ResourceType_t type;
	char *name;
	rd_kafka_ResourcePatternType_t pattern;
	char *principal;
	char *host;
	rd_kafka_AclOperation_t op;
	rd_kafka_AclPermissionType_t permission;
};

struct acl_set {
	struct acl *items;
	size_t n, cap;
};

static bool acl_equal(const struct acl *a, const struct acl *b)
{
	return a->type == b->type && a->pattern == b->pattern && a->op == b->op &&
	       a->permission == b->permission && strcmp(a->name, b->name) == 0 &&
	       strcmp(a->principal, b->principal) == 0 && strcmp(a->host, b->host) == 0;
}

static bool acl_set_has(const struct acl_set *set, const struct acl *a)
{
	for (size_t i = 0; i < set->n; i++)
		if (acl_equal(&set->items[i], a))
			return true;
	return false;
}

/* Adds a copy of a unless set has it. */
static void acl_set_add(struct acl_set *set, const struct acl *a)
{
	struct acl *c;

	if (acl_set_has(set, a))
		return;
	if (set->n == set->cap) {
		set->cap = set->cap ? 2 * set->cap : 16;
		set->items = xrealloc(set->items, set->cap * sizeof(*set->items));
	}
	c = &set->items[set->n++];
	*c = *a;
	c->name = xstrdup(a->name);
	c->principal = xstrdup(a->principal);
	c->host = xstrdup(a->host);
}

static void acl_set_fini(struct acl_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->items[i].name);
		free(set->items[i].principal);
		free(set->items[i].host);
	}
	free(set->items);
}

/* A wanted binding: ALLOW from any host. */
static void want(struct acl_set *set, const char *user, rd_kafka_ResourceType_t type,
		 const char *name, rd_kafka_ResourcePatternType_t pattern, rd_kafka_AclOperation_t op)
{
	char *principal = xasprintf("User:%s", user);
	struct acl a = { .type = type,
			 .name = (char *)name,
			 .pattern = pattern,
			 .principal = principal,
			 .host = "*",
			 .op = op,
			 .permission = RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW };

	acl_set_add(set, &a);
	free(principal);
}

/* The table of kafka_acls.h, for every pipeline. */
static void acls_wanted(const struct topology *topo, struct acl_set *set)
{
	static const rd_kafka_AclOperation_t capture_ops[] = {
		RD_KAFKA_ACL_OPERATION_DESCRIBE,         RD_KAFKA_ACL_OPERATION_CREATE,
		RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS, RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS,
		RD_KAFKA_ACL_OPERATION_WRITE,
	};
	static const rd_kafka_AclOperation_t apply_ops[] = {
		RD_KAFKA_ACL_OPERATION_READ,
		RD_KAFKA_ACL_OPERATION_DESCRIBE,
	};

	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];
		/* Every topic of the source begins so, as topology_topic names
		 * them ("<prefix>.<schema>.<table>", the prefix's characters
		 * as Kafka takes them): "<prefix>.." less its last dot. */
		char *prefix = kafka_topic_name(p->source->topic_prefix, "", "");
		char *group = kafka_in_group(p->name);

		prefix[strlen(prefix) - 1] = '\0';
		/* Fan-out: only a source's first pipeline has a capture user
		 * (topology.c); each pipeline's apply user reads the topics. */
		for (size_t o = 0; p->capture_kafka.user && o < ARRAY_LEN(capture_ops); o++)
			want(set, p->capture_kafka.user, RD_KAFKA_RESOURCE_TOPIC, prefix,
			     RD_KAFKA_RESOURCE_PATTERN_PREFIXED, capture_ops[o]);
		for (size_t o = 0; p->apply_kafka.user && o < ARRAY_LEN(apply_ops); o++)
			want(set, p->apply_kafka.user, RD_KAFKA_RESOURCE_TOPIC, prefix,
			     RD_KAFKA_RESOURCE_PATTERN_PREFIXED, apply_ops[o]);
		if (p->apply_kafka.user)
			want(set, p->apply_kafka.user, RD_KAFKA_RESOURCE_GROUP, group,
			     RD_KAFKA_RESOURCE_PATTERN_LITERAL, RD_KAFKA_ACL_OPERATION_READ);
		free(prefix);
		free(group);
	}
}

/* "User:apply-p1 ALLOW Read on Topic PREFIXED 'db1.' from *" */
static char *acl_text(const struct acl *a)
{
	return xasprintf("%s %s %s on %s %s '%s' from %s", a->principal,
			 rd_kafka_AclPermissionType_name(a->permission),
			 rd_kafka_AclOperation_name(a->op), rd_kafka_ResourceType_name(a->type),
			 rd_kafka_ResourcePatternType_name(a->pattern), a->name, a->host);
}

/* Waits for the answer of an admin request on q; NULL (logged) if none. */
static rd_kafka_event_t *admin_answer(rd_kafka_queue_t *q, const char *brokers, const char *what)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 2000);

	if (!ev) {
		log_error("kafka %s: no answer to %s", brokers, what);
		return NULL;
	}
	if (rd_kafka_event_error(ev)) {
		log_error("kafka %s: %s failed: %s", brokers, what, rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);
	char errstr[256];

	if (rd_kafka_AdminOptions_set_request_timeout(opts, ADMIN_TIMEOUT_MS, errstr,
						      sizeof(errstr)))
		log_warn("kafka: admin request timeout refused: %s", errstr);
	return opts;
}

/* The brokers' ACLs on principal, added to set. */
static bool acls_describe(rd_kafka_t *rk, const char *brokers, const char *principal,
			  struct acl_set *set)
{
	char errstr[256];
	rd_kafka_AclBindingFilter_t *filter = rd_kafka_AclBindingFilter_new(
		RD_KAFKA_RESOURCE_ANY, NULL, RD_KAFKA_RESOURCE_PATTERN_ANY, principal, NULL,
		RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY, errstr, sizeof(errstr));
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	char *what = xasprintf("DescribeAcls of %s", principal);
	bool ok = false;

	if (!filter) {
		log_error("kafka: %s: %s", what, errstr);
		free(what);
		return false;
	}
	opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBEACLS);
	q = rd_kafka_queue_new(rk);
	rd_kafka_DescribeAcls(rk, filter, opts, q);
	ev = admin_answer(q, brokers, what);
	if (ev) {
		size_t n = 0;
		const rd_kafka_AclBinding_t **b = rd_kafka_DescribeAcls_result_acls(
			rd_kafka_event_DescribeAcls_result(ev), &n);

		for (size_t i = 0; i < n; i++) {
			struct acl a = {
				.type = rd_kafka_AclBinding_restype(b[i]),
				.name = (char *)rd_kafka_AclBinding_name(b[i]),
				.pattern = rd_kafka_AclBinding_resource_pattern_type(b[i]),
				.principal = (char *)rd_kafka_AclBinding_principal(b[i]),
				.host = (char *)rd_kafka_AclBinding_host(b[i]),
				.op = rd_kafka_AclBinding_operation(b[i]),
				.permission = rd_kafka_AclBinding_permission_type(b[i]),
			};

			acl_set_add(set, &a);
		}
		rd_kafka_event_destroy(ev);
		ok = true;
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_AclBinding_destroy(filter);
	free(what);
	return ok;
}

/* Creates the n bindings of add. */
static bool acls_create(rd_kafka_t *rk, const char *brokers, const struct acl *add, size_t n)
{
	rd_kafka_AclBinding_t **b = xcalloc(n + 1, sizeof(*b));
	rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATEACLS);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev = NULL;
	char errstr[256];
	bool ok = true;

	for (size_t i = 0; i < n && ok; i++) {
		b[i] = rd_kafka_AclBinding_new(add[i].type, add[i].name, add[i].pattern,
					       add[i].principal, add[i].host, add[i].op,
					       add[i].permission, errstr, sizeof(errstr));
		if (!b[i]) {
			log_error("kafka: an ACL of %s: %s", add[i].principal, errstr);
			ok = false;
		}
	}
	if (ok) {
		rd_kafka_CreateAcls(rk, b, n, opts, q);
		ev = admin_answer(q, brokers, "CreateAcls");
		ok = ev != NULL;
	}
	if (ev) {
		size_t got = 0;
		const rd_kafka_acl_result_t **res =
			rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &got);

		for (size_t i = 0; i < got; i++) {
			const rd_kafka_error_t *e = rd_kafka_acl_result_error(res[i]);

			if (e) {
				char *text = acl_text(&add[i < n ? i : 0]);

				log_error("kafka %s: ACL %s not created: %s", brokers, text,
					  rd_kafka_error_string(e));
				free(text);
				ok = false;
			}
		}
		rd_kafka_event_destroy(ev);
	}
	for (size_t i = 0; i < n; i++)
		if (b[i])
			rd_kafka_AclBinding_destroy(b[i]);
	free(b);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	return ok;
}

/* Deletes the n bindings of del, each by a filter that matches it alone. */
static bool acls_delete(rd_kafka_t *rk, const char *brokers, const struct acl *del, size_t n)
{
	rd_kafka_AclBindingFilter_t **f = xcalloc(n + 1, sizeof(*f));
	rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETEACLS);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev = NULL;
	char errstr[256];
	bool ok = true;

	for (size_t i = 0; i < n && ok; i++) {
		f[i] = rd_kafka_AclBindingFilter_new(del[i].type, del[i].name, del[i].pattern,
						     del[i].principal, del[i].host, del[i].op,
						     del[i].permission, errstr, sizeof(errstr));
		if (!f[i]) {
			log_error("kafka: an ACL of %s: %s", del[i].principal, errstr);
			ok = false;
		}
	}
	if (ok) {
		rd_kafka_DeleteAcls(rk, f, n, opts, q);
		ev = admin_answer(q, brokers, "DeleteAcls");
		ok = ev != NULL;
	}
	if (ev) {
		size_t got = 0;
		const rd_kafka_DeleteAcls_result_response_t **res =
			rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(ev),
							     &got);

		for (size_t i = 0; i < got; i++) {
			const rd_kafka_error_t *e = rd_kafka_DeleteAcls_result_response_error(res[i]);

			if (e) {
				char *text = acl_text(&del[i < n ? i : 0]);

				log_error("kafka %s: ACL %s not deleted: %s", brokers, text,
					  rd_kafka_error_string(e));
				free(text);
				ok = false;
			}
		}
		rd_kafka_event_destroy(ev);
	}
	for (size_t i = 0; i < n; i++)
		if (f[i])
			rd_kafka_AclBinding_destroy(f[i]);
	free(f);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	return ok;
}

bool kafka_acls_converge(const struct topology *topo, rd_kafka_t *rk, const char *brokers,
			 const struct strlist *users, bool apply, struct change_list *changes)
{
	struct acl_set wanted = { 0 }, have = { 0 }, add = { 0 }, del = { 0 };
	bool ok = true;

	acls_wanted(topo, &wanted);
	for (size_t i = 0; i < users->n && ok; i++) {
		char *principal = xasprintf("User:%s", users->items[i]);

		ok = acls_describe(rk, brokers, principal, &have);
		free(principal);
	}
	if (!ok)
		goto out; /* errors already logged */
	for (size_t i = 0; i < have.n; i++)
		if (!acl_set_has(&wanted, &have.items[i]))
			acl_set_add(&del, &have.items[i]);
	for (size_t i = 0; i < wanted.n; i++)
		if (!acl_set_has(&have, &wanted.items[i]))
			acl_set_add(&add, &wanted.items[i]);
	for (size_t i = 0; i < del.n; i++) {
		char *text = acl_text(&del.items[i]);

		change_record(changes, "kafka", "delete ACL %s", text);
		free(text);
	}
	for (size_t i = 0; i < add.n; i++) {
		char *text = acl_text(&add.items[i]);

		change_record(changes, "kafka", "create ACL %s", text);
		free(text);
	}
	/* Deletions first: between the two, a user has less, never more. */
	if (apply && del.n && !acls_delete(rk, brokers, del.items, del.n))
		ok = false;
	if (apply && ok && add.n && !acls_create(rk, brokers, add.items, add.n))
		ok = false;
out:
	acl_set_fini(&wanted);
	acl_set_fini(&have);
	acl_set_fini(&add);
	acl_set_fini(&del);
	return ok;
}
