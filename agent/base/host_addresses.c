/* base/host_addresses.c: the IP addresses of this host's interfaces, with
 * or without netlink (host_addresses.h). */
#include "base/host_addresses.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_IPV4_ADDRESSES 256

static void add_address(struct strlist *out, int family, const void *addr)
{
	char text[INET6_ADDRSTRLEN];

	if (inet_ntop(family, addr, text, sizeof(text)) && !strlist_contains(out, text))
		strlist_add(out, text);
}

static bool from_getifaddrs(struct strlist *out)
{
	struct ifaddrs *ifa = NULL;

	if (getifaddrs(&ifa) != 0)
		return false;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			add_address(out, AF_INET,
				    &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr);
		else if (i->ifa_addr->sa_family == AF_INET6)
			add_address(out, AF_INET6,
				    &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr);
	}
	freeifaddrs(ifa);
	return true;
}

/* Every IPv4 address of every interface (the kernel lists each, labels
 * aside), through an ordinary AF_INET socket. */
static bool from_siocgifconf(struct strlist *out)
{
	struct ifreq *reqs = xcalloc(MAX_IPV4_ADDRESSES, sizeof(*reqs));
	struct ifconf ifc = { .ifc_len = MAX_IPV4_ADDRESSES * (int)sizeof(*reqs), .ifc_req = reqs };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && ioctl(fd, SIOCGIFCONF, &ifc) == 0;

	if (fd >= 0)
		close(fd);
	for (size_t i = 0; ok && i < (size_t)ifc.ifc_len / sizeof(*reqs); i++)
		if (reqs[i].ifr_addr.sa_family == AF_INET)
			add_address(out, AF_INET,
				    &((struct sockaddr_in *)(void *)&reqs[i].ifr_addr)->sin_addr);
	free(reqs);
	return ok;
}

/* /proc/net/if_inet6: "<32 hex digits> <index> <prefix> <scope> <flags> <name>". */
static void from_proc_if_inet6(struct strlist *out)
{
	FILE *f = fopen("/proc/net/if_inet6", "re");
	char hex[33];

	if (!f)
		return; /* no IPv6 on this host */
	while (fscanf(f, "%32s %*s %*s %*s %*s %*s", hex) == 1) {
		unsigned char addr[16];
		bool ok = strlen(hex) == 32;

		for (size_t i = 0; ok && i < 16; i++) {
			unsigned int byte;

			ok = sscanf(hex + 2 * i, "%2x", &byte) == 1;
			addr[i] = (unsigned char)byte;
		}
		if (ok)
			add_address(out, AF_INET6, addr);
	}
	fclose(f);
}

bool host_addresses_without_netlink(struct strlist *out)
{
	if (!from_siocgifconf(out))
		return false;
	from_proc_if_inet6(out);
	return true;
}

bool host_addresses(struct strlist *out)
{
	int saved;

	if (from_getifaddrs(out))
		return true;
	saved = errno;
	if (host_addresses_without_netlink(out))
		return true;
	errno = saved;
	return false;
}
