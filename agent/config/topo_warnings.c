/*
 * agent/config/topo_warnings.c: check's warnings of a valid topology
 * (topo_warnings.h): unencrypted connections that leave this machine.
 *
 * Records on Kafka are what apply writes into the target, and capture's
 * schema headers become its DDL (only after their mac verifies): who can
 * read or write the brokers' traffic can read the source's rows and forge
 * the target's.  A PostgreSQL connection without TLS carries the rows and
 * the SCRAM exchange in clear.
 */
#include "config/topo_warnings.h"

#include "base/log.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

bool topo_host_is_local(const char *host)
{
	struct in6_addr v6;
	struct in_addr v4;
	size_t len = strlen(host);

	if (host[0] == '/' || strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
		char *inner = xstrndup(host + 1, len - 2);
		bool local = inet_pton(AF_INET6, inner, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);

		free(inner);
		return local;
	}
	return inet_pton(AF_INET6, host, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

/* The host of a broker's host:port (validated at load); caller frees. */
static char *broker_host(const char *hostport)
{
	const char *colon = strrchr(hostport, ':');

	return colon ? xstrndup(hostport, (size_t)(colon - hostport)) : xstrdup(hostport);
}

static size_t warn_kafka(const struct topology *topo)
{
	const struct kafka_cfg *k = &topo->kafka;
	int line = topology_key_line(&k->origin, "kafka", "bootstrap_servers");
	size_t n = 0;

	if (kafka_security_tls(k->security_protocol))
		return 0;
	for (size_t i = 0; i < k->bootstrap_servers.n; i++) {
		char *host = broker_host(k->bootstrap_servers.items[i]);

		if (!topo_host_is_local(host)) {
			log_warn_at(topo->path, line,
				    "[kafka] bootstrap_servers: broker %s is not on loopback and "
				    "security_protocol is %s (no encryption): anyone who reaches "
				    "it can read the records and forge them, and apply writes them "
				    "into the target (use ssl or sasl_ssl)",
				    k->bootstrap_servers.items[i],
				    kafka_security_names[k->security_protocol]);
			n++;
		}
		free(host);
	}
	return n;
}

/* warn_pg: a server reached off loopback without TLS required; key is the
 * key naming that host (host, admin_host). */
static size_t warn_pg(const struct topology *topo, const char *kind, const char *name,
		      const struct topo_origin *origin, const struct pg_server_cfg *pg,
		      const char *key, const char *host)
{
	if (!host || topo_host_is_local(host) || pg_server_tls_required(pg))
		return 0;
	log_warn_at(topo->path, topology_key_line(origin, kind, key),
		    "[%s %s] %s %s is not on loopback and sslmode is %s (TLS not required): "
		    "rows and logins may cross the network unencrypted (use sslmode require, "
		    "verify-ca or verify-full)",
		    kind, name, key, host, pg_sslmode_names[pg->sslmode]);
	return 1;
}

static size_t warn_server(const struct topology *topo, const char *kind, const char *name,
			  const struct topo_origin *origin, const struct pg_server_cfg *pg)
{
	return warn_pg(topo, kind, name, origin, pg, "host", pg->host) +
	       warn_pg(topo, kind, name, origin, pg, "admin_host", pg->admin_host);
}

size_t topology_print_warnings(const struct topology *topo)
{
	size_t n = warn_kafka(topo);

	for (size_t i = 0; i < topo->n_sources; i++)
		n += warn_server(topo, "source", topo->sources[i].name, &topo->sources[i].origin,
				 &topo->sources[i].pg);
	for (size_t i = 0; i < topo->n_targets; i++)
		n += warn_server(topo, "target", topo->targets[i].name, &topo->targets[i].origin,
				 &topo->targets[i].pg);
	return n;
}
