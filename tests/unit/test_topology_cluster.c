/*
 * tests/unit/test_topology_cluster.c: a Kafka cluster across hosts in the
 * topology (issue #19): [kafka_node] sections, [agent] address,
 * capture_address and apply_address, min_insync_replicas; what each host
 * recognises as its own part; the derived bootstrap servers, quorum voters
 * and cluster id; the conflicts check refuses with their FILE:LINE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/util.h"
#include "config/topology.h"
#include "stderr_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char work_dir[] = "/tmp/cdc-unit-cluster.XXXXXX";

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* The cluster of test 42/43: three nodes, the databases on a fourth host.
 * %s: the password files' directory (twice). */
static const char *const cluster =
	"[agent]\n"                                       /* 1 */
	"address = 10.77.1.11\n"                          /* 2 */
	"[kafka]\n"                                       /* 3 */
	"mode = kraft\n"                                  /* 4 */
	"dist = file:///tmp/k.tgz\n"                      /* 5 */
	"sha512 = " /* 128 hex digits */
	"00000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"000000000000000000000000000000000000000000000000\n" /* 6 */
	"replication_factor = 3\n"                        /* 7 */
	"min_insync_replicas = 2\n"                       /* 8 */
	"[kafka_node k1]\n"                               /* 9 */
	"address = 10.77.1.11\n"                          /* 10 */
	"id = 1\n"                                        /* 11 */
	"rack = r1\n"                                     /* 12 */
	"[kafka_node k2]\n"                               /* 13 */
	"address = 10.77.1.12\n"                          /* 14 */
	"id = 2\n"                                        /* 15 */
	"[kafka_node k3]\n"                               /* 16 */
	"address = 10.77.1.13\n"                          /* 17 */
	"id = 3\n"                                        /* 18 */
	"port = 9192\n"                                   /* 19 */
	"[source db1]\n"                                  /* 20 */
	"host = 127.0.0.1\n"                              /* 21 */
	"capture_address = 10.77.1.14\n"                  /* 22 */
	"dbname = db1\n"
	"user = cdc_user\n"
	"password_file = %s/db1.pass\n"
	"publication = pub\n"
	"slot = slot1\n"
	"tables = public.t\n"
	"[target db2]\n"                                  /* 29 */
	"host = 127.0.0.1\n"
	"apply_address = 10.77.1.14\n"
	"dbname = db2\n"
	"user = db2_user\n"
	"password_file = %s/db2.pass\n"
	"[pipeline p]\n"
	"source = db1\n"
	"target = db2\n";

static struct topology *load_text(const char *text, bool *ok, char **errors)
{
	char *path = xasprintf("%s/topo.ini", work_dir);
	char *body = xasprintf(text, work_dir, work_dir);
	struct topology *topo = NULL;

	write_file(path, body, 0644);
	capture_begin();
	*ok = topology_load(path, &topo);
	*errors = capture_end();
	free(body);
	free(path);
	return topo;
}

/* cluster with one line replaced (from must be in it). */
static char *edited(const char *from, const char *to)
{
	const char *at = strstr(cluster, from);

	assert_non_null(at);
	return xasprintf("%.*s%s%s", (int)(at - cluster), cluster, to, at + strlen(from));
}

static void test_cluster_parses_and_derives(void **state)
{
	bool ok;
	char *errors, *voters, id[23], id2[23];
	struct topology *topo = load_text(cluster, &ok, &errors);

	(void)state;
	assert_true(ok);
	assert_true(topology_is_cluster(topo));
	assert_int_equal(topo->n_kafka_nodes, 3);
	assert_string_equal(topo->kafka_nodes[0].name, "k1");
	assert_int_equal(topo->kafka_nodes[1].port, 9092); /* default */
	assert_int_equal(topo->kafka_nodes[2].port, 9192);
	assert_string_equal(topo->kafka_nodes[0].rack, "r1");
	assert_null(topo->kafka_nodes[1].rack);
	assert_int_equal(topo->kafka.min_insync_replicas, 2);
	/* bootstrap_servers unset: every node, in file order */
	assert_int_equal(topo->kafka.bootstrap_servers.n, 3);
	assert_string_equal(topo->kafka.bootstrap_servers.items[0], "10.77.1.11:9092");
	assert_string_equal(topo->kafka.bootstrap_servers.items[2], "10.77.1.13:9192");
	voters = topology_quorum_voters(topo, 1234);
	assert_string_equal(voters, "1@10.77.1.11:9093,2@10.77.1.12:9093,3@10.77.1.13:9193");
	free(voters);
	/* one id for every host, a Kafka Uuid's form */
	topology_cluster_id(topo, id);
	assert_int_equal(strlen(id), 22);
	assert_true(id[0] != '-');
	assert_int_equal(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
			 22);
	topology_cluster_id(topo, id2);
	assert_string_equal(id, id2);
	/* [agent] address 10.77.1.11: node k1, nothing of the pipeline */
	assert_ptr_equal(topology_self_node(topo), &topo->kafka_nodes[0]);
	assert_true(topology_runs_kafka(topo));
	assert_false(topology_source_here(topo, &topo->sources[0]));
	assert_false(topology_target_here(topo, &topo->targets[0]));
	assert_false(topology_runs_capture(topo, &topo->pipelines[0]));
	assert_false(topology_runs_apply(topo, &topo->pipelines[0]));
	topology_free(topo);
	free(errors);
}

static void test_each_host_its_part(void **state)
{
	bool ok;
	char *errors;
	struct topology *topo = load_text(cluster, &ok, &errors);
	const char *pg_host[] = { "127.0.0.1", "10.77.1.14", "pg" };
	const char *node3[] = { "10.77.1.13" };
	const char *none[] = { "10.77.1.99", "somewhere" };

	(void)state;
	assert_true(ok);
	/* the databases' host: capture, apply and their provisioning; no node */
	topology_self_set(topo, pg_host, ARRAY_LEN(pg_host));
	assert_null(topology_self_node(topo));
	assert_false(topology_runs_kafka(topo));
	assert_true(topology_source_here(topo, &topo->sources[0]));
	assert_true(topology_target_here(topo, &topo->targets[0]));
	assert_true(topology_runs_capture(topo, &topo->pipelines[0]));
	assert_true(topology_runs_apply(topo, &topo->pipelines[0]));
	/* node 3 */
	topology_self_set(topo, node3, 1);
	assert_ptr_equal(topology_self_node(topo), &topo->kafka_nodes[2]);
	assert_false(topology_runs_capture(topo, &topo->pipelines[0]));
	/* a host the topology does not name: nothing */
	topology_self_set(topo, none, 2);
	assert_null(topology_self_node(topo));
	assert_false(topology_runs_kafka(topo));
	assert_false(topology_runs_apply(topo, &topo->pipelines[0]));
	assert_false(topology_is_self(topo, NULL));
	topology_free(topo);
	free(errors);
}

/* No [kafka_node]: today's single host, everything here. */
static void test_single_host_unchanged(void **state)
{
	bool ok;
	char *errors, *voters;
	const char *elsewhere[] = { "192.0.2.1" };
	struct topology *topo;
	char *text = xstrdup(cluster);

	(void)state;
	/* cut the nodes, the placement keys and the [kafka] cluster keys */
	free(text);
	text = xasprintf("[kafka]\nmode = kraft\n%s", strstr(cluster, "[source db1]"));
	{
		char *cut = strstr(text, "capture_address = 10.77.1.14\n");

		memmove(cut, cut + strlen("capture_address = 10.77.1.14\n"),
			strlen(cut + strlen("capture_address = 10.77.1.14\n")) + 1);
		cut = strstr(text, "apply_address = 10.77.1.14\n");
		memmove(cut, cut + strlen("apply_address = 10.77.1.14\n"),
			strlen(cut + strlen("apply_address = 10.77.1.14\n")) + 1);
	}
	topo = load_text(text, &ok, &errors);
	assert_true(ok);
	assert_false(topology_is_cluster(topo));
	assert_int_equal(topo->kafka.min_insync_replicas, 1);
	assert_int_equal(topo->kafka.bootstrap_servers.n, 1);
	assert_string_equal(topo->kafka.bootstrap_servers.items[0], "127.0.0.1:9092");
	voters = topology_quorum_voters(topo, 9093);
	assert_string_equal(voters, "1@127.0.0.1:9093");
	free(voters);
	/* whatever the host's addresses, every part is this host's */
	topology_self_set(topo, elsewhere, 1);
	assert_true(topology_runs_capture(topo, &topo->pipelines[0]));
	assert_true(topology_runs_apply(topo, &topo->pipelines[0]));
	assert_true(topology_source_here(topo, &topo->sources[0]));
	assert_false(topology_runs_kafka(topo)); /* no dist */
	assert_null(topology_self_node(topo));
	topology_free(topo);
	free(errors);
	free(text);
}

struct refusal {
	const char *from, *to; /* the edit of cluster */
	const char *message;   /* in the errors, FILE:LINE included */
};

static void test_conflicts_refused(void **state)
{
	static const struct refusal cases[] = {
		{ "id = 2\n", "id = 1\n",
		  "topo.ini:15: error: kafka_node k2 has id 1, as does kafka_node k1 (line 9)" },
		{ "address = 10.77.1.12\n", "address = 10.77.1.11\n",
		  "topo.ini:14: error: kafka_node k2 is on host 10.77.1.11, as is kafka_node k1" },
		{ "replication_factor = 3\n", "replication_factor = 4\n",
		  "topo.ini:7: error: replication_factor 4 is more than the 3 [kafka_node]s" },
		{ "min_insync_replicas = 2\n", "min_insync_replicas = 4\n",
		  "topo.ini:8: error: min_insync_replicas 4 is more than replication_factor 3" },
		{ "mode = kraft\n", "mode = zookeeper\n",
		  "topo.ini:4: error: [kafka_node] sections (line 9) make a KRaft cluster" },
		{ "capture_address = 10.77.1.14\n", "",
		  "topo.ini:20: error: source db1 lacks capture_address" },
		{ "apply_address = 10.77.1.14\n", "",
		  "topo.ini:29: error: target db2 lacks apply_address" },
		{ "id = 3\n", "id = 0\n", "topo.ini:18: error: id:" },
		{ "address = 10.77.1.13\n", "address = /var/run\n",
		  "topo.ini:17: error: address: '/var/run' is not a host name or an IP address" },
		{ "rack = r1\n", "rack = r 1\n", "topo.ini:12: error: rack:" },
		{ "dist = file:///tmp/k.tgz\n", "managed = false\n",
		  "[kafka_node] is a node the agent runs; [kafka] has managed = false" },
		{ "[kafka_node k3]\n", "[kafka_node k3]\nbogus = 1\n",
		  "topo.ini:17: error: unknown key 'bogus' in [kafka_node k3]" },
		{ "[kafka_node k2]\n", "[kafka_node k1]\n",
		  "topo.ini:13: error: duplicate section [kafka_node k1] (first at line 9)" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		bool ok;
		char *errors, *text = edited(cases[i].from, cases[i].to);
		struct topology *topo = load_text(text, &ok, &errors);

		if (ok || !strstr(errors, cases[i].message))
			fail_msg("case %zu: want \"%s\", got ok=%d:\n%s", i, cases[i].message, ok,
				 errors);
		topology_free(topo);
		free(errors);
		free(text);
	}
}

/* min_insync_replicas above replication_factor is refused on a single
 * host too; a cluster's zookeeper section and security are refused. */
static void test_single_host_min_isr(void **state)
{
	bool ok;
	char *errors;
	char *text = xasprintf("[kafka]\nmin_insync_replicas = 2\n%s",
			       strstr(cluster, "[target db2]"));
	struct topology *topo;

	(void)state;
	topo = load_text(text, &ok, &errors);
	assert_false(ok);
	assert_non_null(strstr(errors, "topo.ini:2: error: min_insync_replicas 2 is more than replication_factor 1"));
	topology_free(topo);
	free(errors);
	free(text);
	text = edited("[kafka_node k1]\n", "security_protocol = sasl_ssl\n[zookeeper]\n[kafka_node k1]\n");
	topo = load_text(text, &ok, &errors);
	assert_false(ok);
	assert_non_null(strstr(errors, "a cluster of [kafka_node]s speaks plaintext for now"));
	assert_non_null(strstr(errors, "[zookeeper] with [kafka_node] sections"));
	topology_free(topo);
	free(errors);
	free(text);
}

/* A node named by host name is this host when the host name is. */
static void test_self_by_name(void **state)
{
	bool ok;
	char *errors, *text = edited("address = 10.77.1.12\n", "address = Kafka-2.example\n");
	struct topology *topo = load_text(text, &ok, &errors);
	const char *self[] = { "kafka-2.example" };
	const char *other[] = { "10.77.1.012" };

	(void)state;
	assert_true(ok);
	topology_self_set(topo, self, 1);
	assert_ptr_equal(topology_self_node(topo), &topo->kafka_nodes[1]);
	topology_self_set(topo, other, 1);
	assert_null(topology_self_node(topo));
	topology_free(topo);
	free(errors);
	free(text);
}

/* A server's password file is on its capture's or apply's host: another
 * host of the cluster loads the topology without it; that host does not. */
static void test_files_of_other_hosts(void **state)
{
	bool ok;
	char *errors, *text = edited("password_file = %s/db1.pass\n",
				     "password_file = %s/none/db1.pass\n");
	char *there;
	struct topology *topo = load_text(text, &ok, &errors);

	(void)state;
	assert_true(ok); /* [agent] address 10.77.1.11: a Kafka node */
	assert_non_null(strstr(topo->sources[0].pg.password_file, "/none/db1.pass"));
	topology_free(topo);
	free(errors);
	there = xasprintf("%.*saddress = 10.77.1.14\n%s", (int)(strstr(text, "address = ") - text),
			  text, strstr(text, "address = ") + strlen("address = 10.77.1.11\n"));
	topo = load_text(there, &ok, &errors);
	assert_false(ok);
	assert_non_null(strstr(errors, "topo.ini:25: error: password_file: "));
	assert_non_null(strstr(errors, "/none/db1.pass"));
	topology_free(topo);
	free(errors);
	free(there);
	free(text);
}

static int setup(void **state)
{
	char *p;

	(void)state;
	if (!mkdtemp(work_dir))
		return -1;
	p = xasprintf("%s/db1.pass", work_dir);
	write_file(p, "secret\n", 0600);
	free(p);
	p = xasprintf("%s/db2.pass", work_dir);
	write_file(p, "secret\n", 0600);
	free(p);
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", work_dir);
	int rc;

	(void)state;
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cluster_parses_and_derives),
		cmocka_unit_test(test_each_host_its_part),
		cmocka_unit_test(test_single_host_unchanged),
		cmocka_unit_test(test_conflicts_refused),
		cmocka_unit_test(test_single_host_min_isr),
		cmocka_unit_test(test_self_by_name),
		cmocka_unit_test(test_files_of_other_hosts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
