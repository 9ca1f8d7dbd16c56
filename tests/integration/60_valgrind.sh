#!/usr/bin/env bash
# valgrind stays clean: the unit tests, and check/plan/bootstrap against a
# real cluster, with --leak-check=full and errors turned into failures.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/pg.sh"

if ! command -v valgrind >/dev/null; then
	skip_or_fail "valgrind is not installed"
	finish
	exit
fi
VG=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99)
WORK=$(mktemp -d /tmp/cdc-vg.XXXXXX)
trap 'pg_destroy_all; rm -rf "$WORK"' EXIT

for t in "$REPO_ROOT"/build/tests/test_*-rel; do
	[ -x "$t" ] || continue
	check "valgrind: $(basename "$t")" "${VG[@]}" "$t"
done

pg_cluster_create vg || { _fail "start cluster"; finish; exit; }
pg_psql vg postgres "CREATE DATABASE db1"
pg_psql vg db1 "CREATE TABLE public.t (id int PRIMARY KEY)"
(umask 077 && echo pw1 >"$WORK/a.pass" && echo pw2 >"$WORK/b.pass")
cat >"$WORK/topo.ini" <<INI
[agent]
manage_units = false
[source db1]
host = 127.0.0.1
port = $PG_PORT_vg
dbname = db1
user = cdc_user
password_file = $WORK/a.pass
admin_host = $PG_SOCK_vg
publication = pub
slot = slot1
tables = public.t
[target db2]
host = 127.0.0.1
port = $PG_PORT_vg
dbname = db2
user = db2_user
password_file = $WORK/b.pass
admin_host = $PG_SOCK_vg
[pipeline p]
source = db1
target = db2
INI
run_vg() { "${VG[@]}" "$REPO_ROOT/cdc-agent" -c "$WORK/topo.ini" "$@" >/dev/null 2>"$WORK/vg.err"; echo $?; }
check_eq "valgrind: check is clean" 0 "$(run_vg check)"
check_eq "valgrind: plan is clean (exit 2: changes pending)" 2 "$(run_vg plan)"
check_eq "valgrind: bootstrap is clean (exit 4: restart left to us)" 4 "$(run_vg bootstrap)"
check_eq "valgrind: --json plan is clean" 2 "$(run_vg --json plan)"
# status collected here (no agent answers; no broker: exit 1), and run for a
# few passes with its endpoints read, a reload, then SIGTERM.
SP=$(free_port)
sed -i "s/^manage_units = false$/&\nstatus_listen = 127.0.0.1:$SP\nreconcile_seconds = 5/" "$WORK/topo.ini"
check_eq "valgrind: status is clean (exit 1: no broker)" 1 "$(run_vg status)"
check_eq "valgrind: status --json is clean" 1 "$(run_vg --json status)"
"${VG[@]}" "$REPO_ROOT/cdc-agent" -c "$WORK/topo.ini" run >/dev/null 2>"$WORK/vg-run.err" &
vg_pid=$!
for i in $(seq 60); do curl -sf "http://127.0.0.1:$SP/status" >/dev/null && break; sleep 0.5; done
for path in /status /connectors '/connectors?expand=status' /connectors/source-db1/status /connectors/x/status /metrics /nope; do
	curl -s -o /dev/null "http://127.0.0.1:$SP$path"
done
check_contains "run serves Kafka Connect's connector list" '"sink-db2"' "$(curl -s "http://127.0.0.1:$SP/connectors")"
kill -HUP $vg_pid
sleep 6
kill -TERM $vg_pid
wait $vg_pid
check_eq "valgrind: run (passes, endpoints, reload, SIGTERM) is clean" 0 "$?"
grep -q "==[0-9]*==" "$WORK/vg-run.err" && cat "$WORK/vg-run.err"
sed -i 's/^port = .*/port = 99999/' "$WORK/topo.ini"
check_eq "valgrind: error paths of the loader are clean" 3 "$(run_vg check)"
[ -s "$WORK/vg.err" ] && cat "$WORK/vg.err"
finish
