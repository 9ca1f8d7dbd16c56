/*
 * agent/config/topo_warnings.h: what `check` warns of in a valid topology.
 *
 * A warning does not make a topology invalid (check's exit code stays 0):
 * it names a choice the operator may have made on purpose but should know
 * the price of.  Printed as FILE:LINE: warning: ... at the key concerned.
 */
#ifndef CDC_TOPO_WARNINGS_H
#define CDC_TOPO_WARNINGS_H

#include "base/common.h"
#include "config/topology.h"

#include <stddef.h>

/* Whether host (a name, an address, "[::1]", or a socket directory) is
 * this machine's loopback or a Unix socket: localhost, 127.0.0.0/8, ::1. */
bool topo_host_is_local(const char *host);

/* Prints every warning of topo: brokers reached in plaintext off loopback
 * (security_protocol plaintext or sasl_plaintext), PostgreSQL servers
 * reached off loopback with an sslmode that does not require TLS.  Returns
 * how many were printed. */
size_t topology_print_warnings(const struct topology *topo);

#endif
