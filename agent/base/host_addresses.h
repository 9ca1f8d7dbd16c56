/* base/host_addresses.h: the IP addresses of this host's interfaces. */
#ifndef CDC_BASE_HOST_ADDRESSES_H
#define CDC_BASE_HOST_ADDRESSES_H

#include "base/common.h"
#include "base/util.h"

/*
 * Appends each IPv4 and IPv6 address of this host's interfaces to out, as
 * text (inet_ntop), once each.  Without netlink (a unit's
 * RestrictAddressFamilies= leaves AF_NETLINK out, so getifaddrs fails) it
 * asks an AF_INET socket (SIOCGIFCONF) and reads /proc/net/if_inet6.
 * false: none could be listed (errno set, nothing logged).
 */
MUST_CHECK bool host_addresses(struct strlist *out);
/* The fallback alone (SIOCGIFCONF, /proc/net/if_inet6): tests run it. */
MUST_CHECK bool host_addresses_without_netlink(struct strlist *out);

#endif
