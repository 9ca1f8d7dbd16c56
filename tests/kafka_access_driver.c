/*
 * tests/kafka_access_driver.c: kafka_access.c on its own, for
 * 76_kafka_access.sh.
 *
 *   kafka_access_driver plan|apply TOPOLOGY ADMIN_BROKER CA CERT KEY JAVA KAFKA_HOME WORK_DIR
 *
 * Loads TOPOLOGY, then kafka_access_passwords_ensure and
 * kafka_access_converge, the admin reaching ADMIN_BROKER by TLS with CERT
 * and KEY (CA: the brokers' CA).  Prints the change list, one
 * "kafka: ACTION" line each, then "N changes"; exit 0 when both succeeded.
 */
#include "base/changes.h"
#include "base/util.h"
#include "config/topology.h"
#include "provision/kafka_access.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct topology *topo = NULL;
	struct kafka_cfg admin = { 0 };
	struct change_list changes;
	bool apply, ok;

	if (argc != 10 || (strcmp(argv[1], "plan") && strcmp(argv[1], "apply"))) {
		fprintf(stderr, "usage: kafka_access_driver plan|apply TOPOLOGY ADMIN_BROKER CA CERT "
				"KEY JAVA KAFKA_HOME WORK_DIR\n");
		return 64;
	}
	apply = strcmp(argv[1], "apply") == 0;
	if (!topology_load(argv[2], &topo))
		return 3;
	strlist_add(&admin.bootstrap_servers, argv[3]);
	admin.security_protocol = KAFKA_SECURITY_SSL;
	admin.ssl_ca_file = argv[4];
	admin.ssl_cert_file = argv[5];
	admin.ssl_key_file = argv[6];

	struct kafka_access_admin adm = {
		.admin = &admin, .java = argv[7], .kafka_home = argv[8], .work_dir = argv[9]
	};

	change_list_init(&changes, apply, false);
	ok = kafka_access_passwords_ensure(topo, apply, &changes);
	ok = ok && kafka_access_converge(topo, &adm, apply, &changes);
	for (size_t i = 0; i < changes.n; i++)
		printf("%s: %s\n", changes.items[i].component, changes.items[i].action);
	printf("%zu changes\n", changes.n);
	change_list_fini(&changes);
	strlist_fini(&admin.bootstrap_servers);
	topology_free(topo);
	return ok ? 0 : 1;
}
