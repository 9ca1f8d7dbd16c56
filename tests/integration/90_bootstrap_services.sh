#!/usr/bin/env bash
# The whole seed runbook on a host that has only PostgreSQL (in a systemd
# container): `bootstrap` with the repo's cdc-agent.ini installs Kafka from
# its tarball (SHA-512 checked), runs ZooKeeper, Kafka, capture and apply as
# systemd units (over D-Bus), and rows replicate db1 -> db2.  A second
# bootstrap changes nothing and restarts nothing (unit start timestamps);
# a broken Kafka setting makes bootstrap fail with the journal lines that
# explain it.  MODE=kraft runs the same with a KRaft broker.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/container.sh"
. "$REPO_ROOT/tests/lib/seed.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v systemd-nspawn >/dev/null; then
	skip_or_fail "needs root and systemd-nspawn"
	finish
	exit
fi
seed_ports
seed_kafka_dist || { _fail "Kafka distribution built"; finish; exit; }

run_mode() { # zookeeper|kraft
	local mode=$1 out rc before after
	trap 'ct_shutdown' EXIT
	ct_boot "cdc-boot-$mode" || { _fail "$mode: container boots"; return; }
	seed_prepare || { _fail "$mode: seed database prepared"; ct_shutdown; return; }
	seed_install_agent "$CDC_AGENT" "s|^mode = .*|mode = $mode|" ||
		{ _fail "$mode: agent installed"; ct_shutdown; return; }
	agent() { ct_exec env ASAN_OPTIONS="${ASAN_OPTIONS:-}" /usr/local/bin/cdc-agent -c /etc/cdc-agent/cdc-agent.ini "$@"; }
	seed_psql db1 "INSERT INTO public.my_table (id, name) SELECT g, 'before ' || g FROM generate_series(1, 100) g" >/dev/null

	local t0=$(date +%s.%N)
	out=$(agent bootstrap 2>&1); rc=$?
	check_eq "$mode: bootstrap from a bare host succeeds" 0 "$rc"
	[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 40
	check_contains "$mode: it installed Kafka" "install Kafka" "$out"
	units="kafka.service cdc-capture@db1-to-db2.service cdc-apply@db1-to-db2.service"
	[ "$mode" = zookeeper ] && units="zookeeper.service $units"
	for u in $units; do
		check_eq "$mode: $u is active (over D-Bus)" '"active"' \
			"$(ct_exec busctl get-property org.freedesktop.systemd1 \
				"$(ct_exec busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager GetUnit s "$u" | awk '{print $2}' | tr -d '"')" \
				org.freedesktop.systemd1.Unit ActiveState | awk '{print $2}')"
	done
	seed_psql db1 "INSERT INTO public.my_table (id, name) SELECT g, 'after ' || g FROM generate_series(101, 200) g; UPDATE public.my_table SET name = 'changed' WHERE id <= 10; DELETE FROM public.my_table WHERE id > 190" >/dev/null
	local want got i
	want=$(seed_psql db1 "SELECT count(*) || md5(string_agg(id || name, ',' ORDER BY id)) FROM public.my_table")
	for i in $(seq 120); do
		got=$(seed_psql db2 "SELECT count(*) || md5(string_agg(id || name, ',' ORDER BY id)) FROM public.my_table" 2>/dev/null)
		[ "$got" = "$want" ] && break
		sleep 0.5
	done
	check_eq "$mode: rows replicate db1 -> db2 (snapshot and stream, row by row)" "$want" "$got"
	echo "# $mode: bootstrap to first replicated rows: $(echo "$(date +%s.%N) - $t0" | bc) s"
	# The sandboxed units can write their progress files (for status).
	sleep 1.5
	for i in capture apply; do
		out=$(ct_exec cat "/var/lib/cdc-agent/progress-$i-db1-to-db2.json" 2>&1)
		if grep -Eq '"events": [1-9].*"last_error": null' <<<"$out"; then
			_pass "$mode: $i's progress file counts events, with no error"
		else
			_fail "$mode: $i's progress file counts events, with no error" "$out"
		fi
	done

	before=$(for u in $units; do seed_unit_started_at "$u"; done)
	t0=$(date +%s.%N)
	out=$(agent bootstrap 2>&1); rc=$?
	echo "# $mode: no-change bootstrap: $(echo "$(date +%s.%N) - $t0" | bc) s"
	check_eq "$mode: second bootstrap succeeds" 0 "$rc"
	check_contains "$mode: and changes nothing" "bootstrap: nothing to change" "$out"
	after=$(for u in $units; do seed_unit_started_at "$u"; done)
	check_eq "$mode: and restarts nothing (start timestamps unchanged)" "$before" "$after"

	# A broken Kafka setting: bootstrap restarts Kafka, which fails, and says why.
	ct_exec sed -i 's/^\[kafka\]$/[kafka]\nheap = 1k/' /etc/cdc-agent/cdc-agent.ini
	out=$(agent bootstrap 2>&1); rc=$?
	check_eq "$mode: a broken Kafka setting fails bootstrap" 1 "$rc"
	check_contains "$mode: naming Kafka" "Kafka is not healthy" "$out"
	check_contains "$mode: with the journal lines that explain it" "heap" "$out"

	# teardown: asks first, then stops the pipeline's units and drops its slot.
	out=$(agent teardown db1-to-db2 2>&1); rc=$?
	check_eq "$mode: teardown without --yes changes nothing (exit 2)" 2 "$rc"
	check_eq "$mode: and the slot is still there" 1 "$(seed_psql db1 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'my_slot'")"
	out=$(agent teardown db1-to-db2 --yes 2>&1); rc=$?
	check_eq "$mode: teardown --yes succeeds" 0 "$rc"
	check_contains "$mode: it stops capture" "cdc-capture@db1-to-db2.service stopped" "$out"
	check_eq "$mode: and drops the slot" 0 "$(seed_psql db1 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'my_slot'")"
	ct_shutdown
	trap - EXIT
}

run_mode "${MODE:-zookeeper}"
[ -z "${MODE:-}" ] && run_mode kraft
finish
