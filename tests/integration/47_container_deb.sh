#!/usr/bin/env bash
# The Debian package (issue #20): `make deb` builds it twice (two versions,
# lintian without error); in a fresh systemd container with only Debian's
# PostgreSQL, `apt-get install ./cdc-agent_*.deb` installs it (users from
# its sysusers.d file, nothing started), `cdc-agent bootstrap` with the
# package's example topology (the seed runbook's) runs the pipeline and rows
# replicate; a second bootstrap changes nothing.  With cdc-agent.service
# running and rows being written, the newer build installed over it restarts
# capture, apply and cdc-agent.service on the new binary (ZooKeeper and
# Kafka untouched) and every row arrives.  `apt-get purge` removes the
# units, the users, the binary and /usr/share/cdc-agent and keeps the data
# directories; with CDC_AGENT_PURGE_DATA=yes it removes those too.
# apt-get runs offline: the container is an overlay of this machine's root,
# where every library the package depends on is installed already.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/container.sh"
. "$REPO_ROOT/tests/lib/seed.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v systemd-nspawn >/dev/null; then
	skip_or_fail "needs root and systemd-nspawn"
	finish
	exit
fi
if ! command -v dpkg-buildpackage >/dev/null || ! [ -x /usr/bin/dh ]; then
	skip_or_fail "needs dpkg-dev and debhelper (scripts/install-deps.sh)"
	finish
	exit
fi
seed_ports
seed_kafka_dist || { _fail "Kafka distribution built"; finish; exit; }

# ---- two builds ---------------------------------------------------------------
base=0.$(git -C "$REPO_ROOT" rev-list --count HEAD)
V1=$base+test1 V2=$base+test2
DEBS=$(mktemp -d /tmp/cdc-deb.XXXXXX)
trap 'ct_shutdown; rm -rf "$DEBS"' EXIT
for v in $V1 $V2; do
	t0=$(date +%s.%N)
	out=$(make -C "$REPO_ROOT" --no-print-directory deb DEB_VERSION="$v" 2>&1); rc=$?
	echo "# make deb DEB_VERSION=$v: $(echo "$(date +%s.%N) - $t0" | bc) s"
	check_eq "make deb DEB_VERSION=$v succeeds (lintian: no error)" 0 "$rc"
	[ "$rc" = 0 ] || { printf '%s\n' "$out" | tail -n 30; finish; exit; }
	cp "$REPO_ROOT/build/deb/cdc-agent_${v}_"*.deb "$DEBS/"
	rm -f "$REPO_ROOT/build/deb/"*_"${v}"_* # test builds do not pile up there
done
check_not_contains "lintian reports no error" $'\nE: ' "$out"
deb1=$(ls "$DEBS"/cdc-agent_"$V1"_*.deb) deb2=$(ls "$DEBS"/cdc-agent_"$V2"_*.deb)
depends=$(dpkg-deb -f "$deb1" Depends)
for lib in libpq5 librdkafka1 libsystemd0 libjansson4; do
	check_contains "Depends (from the shared libraries) names $lib" "$lib" "$depends"
done

# ---- install into a fresh container ---------------------------------------------
ct_boot cdc-deb || { _fail "container boots"; finish; exit; }
seed_prepare || { _fail "seed database prepared"; finish; exit; }
apt_get() { # [ENV=VALUE...] -- ARGS...
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	ct_exec env DEBIAN_FRONTEND=noninteractive "${envs[@]}" apt-get -y -q -o Dpkg::Use-Pty=0 "$@"
}
ct_copy_in "$deb1" "/root/$(basename "$deb1")"
ct_copy_in "$deb2" "/root/$(basename "$deb2")"
out=$(apt_get -- install "/root/$(basename "$deb1")" 2>&1); rc=$?
check_eq "apt-get install ./cdc-agent_${V1}_*.deb succeeds offline" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 20
check_eq "the package is installed" "install ok installed $V1" \
	"$(ct_exec dpkg-query -W -f '${Status} ${Version}' cdc-agent)"
check_eq "/usr/bin/cdc-agent --version is the package's" "cdc-agent $V1" "$(ct_exec cdc-agent --version)"
for u in cdc-agent kafka; do
	check_eq "system user $u created by the package (sysusers.d)" "/nonexistent:/usr/sbin/nologin" \
		"$(ct_exec getent passwd "$u" | cut -d: -f6,7)"
done
check "units and templates in /usr/share/cdc-agent" ct_exec test -f /usr/share/cdc-agent/units/cdc-capture@.service \
	-a -f /usr/share/cdc-agent/templates/server.properties.zookeeper
check_eq "nothing rendered or started by the install" "" \
	"$(ct_exec sh -c 'ls /etc/systemd/system/cdc-* /etc/systemd/system/kafka.service 2>/dev/null')"

# The package's example topology is the seed runbook's; this run's ports and
# Kafka tarball.
ct_exec sed -e "s|^sha512 = .*|sha512 = $SEED_SHA|" -e "s|^dist = .*|dist = file://$SEED_DIST|" \
	-e "s|^port = 5432|port = $SEED_PG_PORT|" \
	-e "s|^bootstrap_servers = .*|bootstrap_servers = 127.0.0.1:$KP|" \
	-e "s|^connect = .*|connect = 127.0.0.1:$ZKP|" \
	-e "s|^\[agent\]|[agent]\nstatus_listen = 127.0.0.1:$SP|" \
	/usr/share/cdc-agent/cdc-agent.ini.example >"$CT_DIR/root/etc/cdc-agent/cdc-agent.ini"
chmod 0644 "$CT_DIR/root/etc/cdc-agent/cdc-agent.ini"

# ---- bootstrap -------------------------------------------------------------------
digest() { seed_psql "$1" "SELECT count(*) || ' ' || md5(string_agg(id || name, ',' ORDER BY id)) FROM public.my_table" 2>/dev/null; }
converged() { # SECONDS: db2 equals db1 (sets GOT, WANT)
	local i
	WANT=$(digest db1)
	for i in $(seq $(($1 * 2))); do
		GOT=$(digest db2)
		[ "$GOT" = "$WANT" ] && return 0
		sleep 0.5
	done
	return 1
}
seed_psql db1 "INSERT INTO public.my_table (id, name) SELECT g, 'before ' || g FROM generate_series(1, 100) g" >/dev/null
t0=$(date +%s.%N)
out=$(ct_exec cdc-agent bootstrap 2>&1); rc=$?
echo "# bootstrap: $(echo "$(date +%s.%N) - $t0" | bc) s"
check_eq "bootstrap with the example topology succeeds" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 40
check_not_contains "it finds the package's users (creates none)" "create system user" "$out"
check_contains "it renders the units with the package's binary" "ExecStart=/usr/bin/cdc-agent" \
	"$(ct_exec cat /etc/systemd/system/cdc-capture@.service)"
seed_psql db1 "INSERT INTO public.my_table (id, name) SELECT g, 'after ' || g FROM generate_series(101, 200) g; UPDATE public.my_table SET name = 'changed' WHERE id <= 10" >/dev/null
converged 60
check_eq "rows replicate db1 -> db2 (count and digest)" "$WANT" "$GOT"
out=$(ct_exec cdc-agent bootstrap 2>&1); rc=$?
check_eq "a second bootstrap succeeds" 0 "$rc"
check_contains "and has nothing to change (the package does not fight it)" "bootstrap: nothing to change" "$out"
check "systemctl enable --now cdc-agent.service" ct_exec systemctl enable --now cdc-agent.service

# ---- upgrade under load ----------------------------------------------------------
AGENT_UNITS="cdc-capture@db1-to-db2.service cdc-apply@db1-to-db2.service cdc-agent.service"
KAFKA_UNITS="zookeeper.service kafka.service"
props() { # UNIT...: MainPID and ActiveEnterTimestamp of each
	local u
	for u in "$@"; do
		echo "$u $(ct_exec systemctl show -p MainPID --value "$u") $(seed_unit_started_at "$u")"
	done
}
before=$(props $AGENT_UNITS)
kafka_before=$(props $KAFKA_UNITS)
# 300 transactions of a row each, ~10 s: before, during and after the restarts.
seed_psql db1 "DO \$\$ BEGIN FOR i IN 1001..1300 LOOP
	INSERT INTO public.my_table (id, name) VALUES (i, 'during ' || i); COMMIT; PERFORM pg_sleep(0.03);
	END LOOP; END \$\$" >/dev/null &
writer=$!
sleep 2
t0=$(date +%s.%N)
out=$(apt_get -- install "/root/$(basename "$deb2")" 2>&1); rc=$?
echo "# upgrade (with the restarts): $(echo "$(date +%s.%N) - $t0" | bc) s"
check_eq "apt-get install of the newer build succeeds" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 20
wait "$writer"
check_eq "the newer build is installed" "install ok installed $V2" \
	"$(ct_exec dpkg-query -W -f '${Status} ${Version}' cdc-agent)"
after=$(props $AGENT_UNITS)
for u in $AGENT_UNITS; do
	b=$(grep "^$u " <<<"$before") a=$(grep "^$u " <<<"$after")
	check "$u restarted (MainPID and ActiveEnterTimestamp changed)" \
		test "$(cut -d' ' -f2 <<<"$b")" != "$(cut -d' ' -f2 <<<"$a")" -a \
		"$(cut -d' ' -f3- <<<"$b")" != "$(cut -d' ' -f3- <<<"$a")"
	check_eq "$u is active" active "$(ct_exec systemctl is-active "$u")"
	pid=$(cut -d' ' -f2 <<<"$a")
	check_eq "$u runs the new binary (/proc/$pid/exe)" /usr/bin/cdc-agent \
		"$(ct_exec readlink "/proc/$pid/exe")"
done
check_eq "ZooKeeper and Kafka were not restarted" "$kafka_before" "$(props $KAFKA_UNITS)"
check_eq "cdc-agent --version is the newer build's" "cdc-agent $V2" "$(ct_exec cdc-agent --version)"
converged 60
check_eq "every row written during the upgrade arrives (count and digest)" "$WANT" "$GOT"
check_contains "all 500 of them" "500 " "$GOT"
out=$(ct_exec cdc-agent plan 2>&1); rc=$?
check_eq "plan after the upgrade: nothing to change (exit 0)" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 20

# ---- purge -----------------------------------------------------------------------
DATA_DIRS="/var/lib/cdc-agent /var/lib/kafka /var/lib/zookeeper /etc/cdc-agent /opt/kafka"
out=$(apt_get -- purge cdc-agent 2>&1); rc=$?
check_eq "apt-get purge cdc-agent succeeds" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 20
check_eq "the package is gone" "" "$(ct_exec dpkg-query -W -f '${Status}' cdc-agent 2>/dev/null)"
check_eq "binary and /usr/share/cdc-agent gone" "" \
	"$(ct_exec sh -c 'ls -d /usr/bin/cdc-agent /usr/share/cdc-agent 2>/dev/null')"
check_eq "the rendered unit files and their enable links gone" "" \
	"$(ct_exec sh -c 'ls /etc/systemd/system/cdc-* /etc/systemd/system/kafka.service \
		/etc/systemd/system/zookeeper.service /etc/systemd/system/*.wants/cdc-* \
		/etc/systemd/system/*.wants/kafka.service /etc/systemd/system/*.wants/zookeeper.service 2>/dev/null')"
check_eq "no unit of theirs loaded" "" \
	"$(ct_exec systemctl list-units --all --plain --no-legend 'cdc-*' kafka.service zookeeper.service)"
for u in cdc-agent kafka; do
	check_fails "user $u gone" ct_exec getent passwd "$u"
	check_fails "group $u gone" ct_exec getent group "$u"
done
for d in $DATA_DIRS; do
	check "$d kept" ct_exec test -d "$d"
done
check "Kafka's log segments kept" ct_exec sh -c 'ls -d /var/lib/kafka/db1server.public.my_table-0'
check_eq "db2's rows untouched" "$WANT" "$(digest db2)"

# ---- purge with CDC_AGENT_PURGE_DATA=yes ---------------------------------------------
out=$(apt_get -- install "/root/$(basename "$deb2")" 2>&1) || printf '%s\n' "$out" | tail -n 20
out=$(apt_get CDC_AGENT_PURGE_DATA=yes -- purge cdc-agent 2>&1); rc=$?
check_eq "apt-get purge with CDC_AGENT_PURGE_DATA=yes succeeds" 0 "$rc"
for d in $DATA_DIRS /var/cache/cdc-agent; do
	check "$d removed" ct_exec test ! -e "$d"
done
check "PostgreSQL's cluster untouched" ct_exec test -d /var/lib/postgresql/15/main/base
ct_shutdown
finish
