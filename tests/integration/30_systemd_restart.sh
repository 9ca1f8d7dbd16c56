#!/usr/bin/env bash
# runs-under-sanitizer
# The seed runbook's first step on a real systemd host: Debian's PostgreSQL
# 15/main with default settings, the repo's own cdc-agent.ini.  plan lists the
# changes; bootstrap makes them and restarts postgresql@15-main.service over
# D-Bus (the job followed to its end); the second bootstrap changes nothing
# and restarts nothing; logical decoding works.  The admin connection uses
# peer authentication over the socket, as `sudo -u postgres psql` does.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/container.sh"
. "$REPO_ROOT/tests/lib/seed.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v systemd-nspawn >/dev/null; then
	skip_or_fail "needs root and systemd-nspawn"
	finish
	exit
fi
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
	skip_or_fail "port 5432 is busy on this machine; the container's PostgreSQL needs it"
	finish
	exit
fi
trap 'ct_shutdown' EXIT
ct_boot cdc-restart-test || { _fail "container boots"; finish; exit; }
seed_prepare || { _fail "seed database prepared"; finish; exit; }

# The container has its own /tmp, where CI's clone may live: copy in.
ct_copy_in "$CDC_AGENT" /usr/local/sbin/cdc-agent
# This test is about PostgreSQL's restart: the services are 90_bootstrap's.
sed 's/^\[agent\]$/[agent]\nmanage_units = false/' "$REPO_ROOT/cdc-agent.ini" >"$REPO_ROOT/build/restart-test.ini"
ct_copy_in "$REPO_ROOT/build/restart-test.ini" /etc/cdc-agent/cdc-agent.ini
agent() { ct_exec env ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" /usr/local/sbin/cdc-agent "$@"; }

out=$(agent plan 2>&1); rc=$?
check_eq "plan on a default server exits 2" 2 "$rc"
check_contains "plan names the Debian unit it would restart" \
	"restart postgresql@15-main.service (wal_level: replica -> logical)" "$out"
before=$(seed_unit_started_at postgresql@15-main.service)

out=$(agent bootstrap 2>&1); rc=$?
check_eq "bootstrap succeeds, restart included" 0 "$rc"
check_contains "bootstrap reports the restart" "source db1: changed: restart postgresql@15-main.service" "$out"
check_eq "wal_level is logical after the restart" logical "$(seed_psql db1 'SHOW wal_level')"
after=$(seed_unit_started_at postgresql@15-main.service)
check "the unit was restarted (start timestamp moved)" test "$before" != "$after"

out=$(agent bootstrap 2>&1); rc=$?
check_eq "second bootstrap exits 0" 0 "$rc"
check_contains "second bootstrap changes nothing" "bootstrap: nothing to change" "$out"
check_not_contains "and reports no change" "changed:" "$out"
check_eq "and restarts nothing" "$after" "$(seed_unit_started_at postgresql@15-main.service)"
out=$(agent plan 2>&1); rc=$?
check_eq "plan afterwards exits 0" 0 "$rc"

check "cdc_user creates a pgoutput slot over TCP with its password" \
	ct_exec env PGPASSWORD="$SEED_DB1_PASSWORD" psql -X \
	-d "host=127.0.0.1 dbname=db1 user=cdc_user replication=database" \
	-c "CREATE_REPLICATION_SLOT probe LOGICAL pgoutput"
check "db2_user writes into db2 over TCP" \
	ct_exec env PGPASSWORD="$SEED_DB2_PASSWORD" psql -X -h 127.0.0.1 -U db2_user -d db2 \
	-c "CREATE TABLE t (id int PRIMARY KEY)"
seed_psql db1 "SELECT pg_drop_replication_slot('probe')" >/dev/null

# A unit that cannot restart is an error naming it, not exit 4.
seed_psql db1 "ALTER SYSTEM SET wal_level = replica" >/dev/null
ct_exec systemctl restart postgresql@15-main.service
ct_exec sh -c 'mkdir -p /etc/systemd/system/postgresql@15-main.service.d &&
	printf "[Service]\nExecStartPre=/bin/false\n" >/etc/systemd/system/postgresql@15-main.service.d/broken.conf &&
	systemctl daemon-reload'
out=$(agent bootstrap 2>&1); rc=$?
check_eq "a failing restart exits 1" 1 "$rc"
check_contains "and says which unit failed and how" "restart of postgresql@15-main.service ended with result 'failed'" "$out"
finish
