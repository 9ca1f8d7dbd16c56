#!/usr/bin/env bash
# shellcheck disable=SC2016 # $1 in sh -c and awk programs is meant literally
# tests/integration/container_smoke.sh: does tests/lib/container.sh give the
# other tests a real, throwaway systemd? Boots one, talks D-Bus to it, checks
# its writes stay inside, runs a unit of ours and the Debian PostgreSQL cluster
# unit, then checks the shutdown leaves nothing behind on the host.
# Needs root. Counts and output through tests/lib/harness.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/harness.sh
. "$ROOT/tests/lib/harness.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/container.sh
. "$ROOT/tests/lib/container.sh"

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Whatever happens, power the container off; the tally comes last.
on_exit() {
	local rc=$?
	trap - EXIT
	ct_shutdown
	# An unexpected error (set -e) must show in the tally too.
	((rc == 0)) || _fail "aborted with exit status $rc (see above)"
	echo "# $TEST_NAME timings: boot ${boot_s:-?}s," \
		"postgresql@15-main start ${pg_s:-?}s, shutdown ${down_s:-?}s"
	finish || exit 1
}
trap on_exit EXIT

if [[ $EUID -ne 0 ]] || ! command -v systemd-nspawn >/dev/null; then
	skip_or_fail "needs root and systemd-nspawn (apt-get install -y systemd-container)"
	exit 0
fi

# Host state the container must not change.
host_units() { find /etc/systemd/system -printf '%p -> %l\n' | sort | md5sum; }
units_before=$(host_units)
host_overlays() { awk '$3 == "overlay"' /proc/self/mounts | wc -l; }
overlays_before=$(host_overlays)

t0=$(now)
if ! ct_boot cdc-smoke; then
	_fail "boot: systemd-nspawn container reaches running/degraded"
	exit 0
fi
boot_s=$(elapsed "$t0")
_pass "boot: container up in ${boot_s}s"
R=$CT_DIR nspawn_pid=$CT_NSPAWN_PID leader=$CT_LEADER cgroups=$CT_CGROUPS

# D-Bus: the container's own system bus and systemd answer.
out=$(ct_exec busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
	org.freedesktop.systemd1.Manager GetUnit s dbus.service 2>&1) || true
check_eq "D-Bus: Manager.GetUnit dbus.service" \
	'o "/org/freedesktop/systemd1/unit/dbus_2eservice"' "$out"

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
check_eq "unit: ActiveState over D-Bus" 's "active"' "$state"

# Debian's cluster unit on the overlay's copy of the host's cluster. The
# container shares the host's network, so 5432 must be free on the host.
pg=postgresql@15-main.service
port_busy() { ss -Hltn '( sport = :5432 )' | grep -q .; }
if [[ ! -f /etc/postgresql/15/main/postgresql.conf ]]; then
	skip_or_fail "postgresql: no 15/main cluster on the host (apt-get install -y postgresql)"
elif port_busy; then
	_fail "postgresql: port 5432 busy on the host, cannot start $pg" \
		"$(ss -Hltnp '( sport = :5432 )')"
else
	t0=$(now)
	if out=$(ct_exec systemctl start "$pg" 2>&1); then
		pg_s=$(elapsed "$t0")
		_pass "postgresql: systemctl start $pg in ${pg_s}s"
	else
		_fail "postgresql: systemctl start $pg" \
			"$out$(ct_exec journalctl -u "$pg" --no-pager -n 20 2>&1)"
	fi
	check "postgresql: $pg is active" ct_exec systemctl -q is-active "$pg"
	out=$(ct_exec runuser -u postgres -- psql -XAtc 'select 42' 2>&1) || true
	check_eq "postgresql: psql in the container answers" 42 "$out"
	check "postgresql: listens on the host's 5432 (shared network)" port_busy
	check "postgresql: host data dir untouched (no postmaster.pid)" \
		test ! -e /var/lib/postgresql/15/main/postmaster.pid
	check "postgresql: systemctl stop $pg" ct_exec systemctl stop "$pg"
	check_fails "postgresql: 5432 free again on the host" port_busy
fi

# Shutdown: everything ct_boot made must be gone.
t0=$(now)
ct_shutdown
down_s=$(elapsed "$t0")
_pass "shutdown: ct_shutdown returned in ${down_s}s"
check_fails "shutdown: systemd-nspawn ($nspawn_pid) gone" kill -0 "$nspawn_pid"
check_fails "shutdown: container init ($leader) gone" kill -0 "$leader"
check "shutdown: no mount left under $R" \
	awk -v r="$R/" 'index($2 "/", r) == 1 { bad = 1 } END { exit bad }' /proc/self/mounts
check_eq "shutdown: host overlay mounts" "$overlays_before" "$(host_overlays)"
check "shutdown: $R removed" test ! -e "$R"
for c in $cgroups; do
	check "shutdown: cgroup $c removed" test ! -e "$c"
done
ct_shutdown # a second call (and the EXIT trap's) must be a no-op
_pass "shutdown: second ct_shutdown is a no-op"
check_eq "host: /etc/systemd/system unchanged" "$units_before" "$(host_units)"
