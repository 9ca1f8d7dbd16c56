#!/usr/bin/env bash
# scripts/install-deps.sh: installs what building, testing and the demo need
# on a Debian 12 machine, and nothing when it is all there already (so
# `make test` can call it every time).  Needs root only when something is
# missing.  Why each package is needed: README.md, "Dependencies".
set -euo pipefail

PACKAGES=(
	gcc make pkg-config                      # build
	libpq-dev librdkafka-dev libcurl4-openssl-dev libsystemd-dev
	libjansson-dev libssl-dev libarchive-dev libmicrohttpd-dev # the agent's libraries
	libcmocka-dev valgrind                   # unit tests, memory checks
	man-db groff-base                        # the manual pages rendered by the fast lane
	postgresql                               # real servers for tests and the demo
	systemd systemd-container dbus           # a real systemd, booted with nspawn
	kcat python3 curl                        # tests: Kafka client; free ports; HTTP
	openjdk-17-jre-headless maven            # the Kafka broker built from Maven Central
	ansible-core                             # the Ansible wrapper (playbooks/) and its test
	openssh-server openssh-client iproute2   # tests/lib/fleet.sh: containers on a bridge, reached over SSH
	clang libclang-rt-14-dev                 # libFuzzer for `make fuzz` (make test replays with gcc)
	dpkg-dev debhelper lintian               # `make deb` and its test (no fakeroot: Rules-Requires-Root: no)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
	case $pkg in
	# A JDK and Maven may come from elsewhere (e.g. an SDK image): use them.
	openjdk-17-jre-headless) command -v java >/dev/null && continue ;;
	maven) command -v mvn >/dev/null && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root or: apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# openssh-server is for the test containers (tests/lib/fleet.sh starts it in
# each): its postinst must not start sshd on this host, nor enable it for the
# containers that share this host's network. Debian's policy-rc.d (101:
# "action forbidden") for the install, unless the host has one of its own.
policy=
if [[ " ${missing[*]} " == *" openssh-server "* && ! -e /usr/sbin/policy-rc.d ]]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\n# install-deps.sh: no service starts during the install\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
	systemctl disable ssh.service >/dev/null 2>&1 || true
fi
