#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR disable=SC2016 # '$1' in sh -c/awk is meant
# tests/integration/container_smoke.sh: does tests/lib/container.sh give the
# other tests a real, throwaway systemd? Boots one, talks D-Bus to it, checks
# its writes stay inside, runs a unit of ours and the Debian PostgreSQL cluster
# unit, then checks the shutdown leaves nothing behind on the host.
# Needs root. Ends with "N passed, N failed"; exit status 1 if any failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/container.sh
. "$here/../lib/container.sh"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
# check DESCRIPTION CMD...: one test result from CMD's exit status.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else ko "$what"; fi
}
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

# Whatever happens, power the container off and print the tally last.
finish() {
	local rc=$?
	trap - EXIT
	ct_shutdown
	# An unexpected error (set -e) must show in the tally too.
	((rc == 0 || rc == 1 && fail > 0)) || ko "aborted with exit status $rc (see above)"
	echo "timings: boot ${boot_s:-?}s, postgresql@15-main start ${pg_s:-?}s, shutdown ${down_s:-?}s"
	echo "$pass passed, $fail failed"
	((fail == 0)) || exit 1
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# A missing prerequisite is a failure, loudly, not a skip.
if [[ $EUID -ne 0 ]] || ! command -v systemd-nspawn >/dev/null; then
	ko "prerequisites: needs root and systemd-nspawn (apt-get install -y systemd-container)"
	exit 1
fi

# Host state the container must not change.
host_units() { find /etc/systemd/system -printf '%p -> %l\n' | sort | md5sum; }
units_before=$(host_units)
host_overlays() { awk '$3 == "overlay"' /proc/self/mounts | wc -l; }
overlays_before=$(host_overlays)

t0=$EPOCHREALTIME
if ! ct_boot cdc-smoke; then
	ko "boot: systemd-nspawn container reaches running/degraded"
	exit 1
fi
boot_s=$(elapsed "$t0")
ok "boot: container up in ${boot_s}s"
R=$CT_DIR nspawn_pid=$CT_NSPAWN_PID leader=$CT_LEADER cgroups=$CT_CGROUPS

# D-Bus: the container's own system bus and systemd answer.
out=$(ct_exec busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
	org.freedesktop.systemd1.Manager GetUnit s dbus.service 2>&1) || true
check "D-Bus: Manager.GetUnit dbus.service -> $out" \
	grep -qx 'o "/org/freedesktop/systemd1/unit/dbus_2eservice"' <<<"$out"

# Writes stay inside: /tmp is the container's own tmpfs, /var/tmp is on the
# overlay's tmpfs upper layer; neither may show up on the host.
marker=ct-smoke.$$.$RANDOM
for d in /tmp /var/tmp; do
	ct_exec sh -c 'echo smoke >"$1"' sh "$d/$marker"
	check "isolation: $d/$marker exists in the container" ct_exec test -f "$d/$marker"
	check "isolation: $d/$marker absent on the host" test ! -e "$d/$marker"
done

# A unit of ours: copy in, daemon-reload, start, read ActiveState over D-Bus.
unit=ct-smoke.service
src=$(mktemp)
cat >"$src" <<'EOF'
[Unit]
Description=container smoke test unit
[Service]
ExecStart=/bin/sleep infinity
EOF
ct_copy_in "$src" "/etc/systemd/system/$unit"
rm -f "$src"
check "unit: $unit absent from the host's /etc" test ! -e "/etc/systemd/system/$unit"
ct_exec systemctl daemon-reload
check "unit: systemctl start $unit" ct_exec systemctl start "$unit"
path=$(ct_exec busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
	org.freedesktop.systemd1.Manager GetUnit s "$unit" | sed -n 's/^o "\(.*\)"$/\1/p') || true
state=$(ct_exec busctl get-property org.freedesktop.systemd1 "${path:-/none}" \
	org.freedesktop.systemd1.Unit ActiveState 2>&1) || true
check "unit: ActiveState over D-Bus is $state" test "$state" = 's "active"'

# Debian's cluster unit on the overlay's copy of the host's cluster. The
# container shares the host's network, so 5432 must be free on the host.
pg=postgresql@15-main.service
if [[ ! -f /etc/postgresql/15/main/postgresql.conf ]]; then
	ko "postgresql: no 15/main cluster on the host (apt-get install -y postgresql)"
elif ss -Hltn '( sport = :5432 )' | grep -q .; then
	ko "postgresql: port 5432 busy on the host, cannot start $pg: $(ss -Hltnp '( sport = :5432 )' | head -n1)"
else
	t0=$EPOCHREALTIME
	if ct_exec systemctl start "$pg"; then
		pg_s=$(elapsed "$t0")
		ok "postgresql: systemctl start $pg in ${pg_s}s"
	else
		ko "postgresql: systemctl start $pg"
		ct_exec journalctl -u "$pg" --no-pager -n 20 || true
	fi
	check "postgresql: $pg is active" ct_exec systemctl -q is-active "$pg"
	out=$(ct_exec runuser -u postgres -- psql -XAtc 'select 42' 2>&1) || true
	check "postgresql: psql in the container answers ($out)" test "$out" = 42
	check "postgresql: listens on the host's 5432 (shared network)" \
		bash -c "ss -Hltn '( sport = :5432 )' | grep -q ."
	check "postgresql: host data dir untouched (no postmaster.pid)" \
		test ! -e /var/lib/postgresql/15/main/postmaster.pid
	check "postgresql: systemctl stop $pg" ct_exec systemctl stop "$pg"
	check "postgresql: 5432 free again on the host" \
		bash -c "! ss -Hltn '( sport = :5432 )' | grep -q ."
fi

# Shutdown: everything ct_boot made must be gone.
t0=$EPOCHREALTIME
ct_shutdown
down_s=$(elapsed "$t0")
ok "shutdown: ct_shutdown returned in ${down_s}s"
check "shutdown: systemd-nspawn ($nspawn_pid) gone" bash -c "! kill -0 $nspawn_pid 2>/dev/null"
check "shutdown: container init ($leader) gone" bash -c "! kill -0 $leader 2>/dev/null"
check "shutdown: no mount left under $R" \
	awk -v r="$R/" 'index($2 "/", r) == 1 { bad = 1 } END { exit bad }' /proc/self/mounts
check "shutdown: host overlay mounts back to $overlays_before" test "$(host_overlays)" = "$overlays_before"
check "shutdown: $R removed" test ! -e "$R"
for c in $cgroups; do
	check "shutdown: cgroup $c removed" test ! -e "$c"
done
ct_shutdown # a second call (and the EXIT trap's) must be a no-op
ok "shutdown: second ct_shutdown is a no-op"
check "host: /etc/systemd/system unchanged" test "$(host_units)" = "$units_before"
