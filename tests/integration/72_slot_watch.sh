#!/usr/bin/env bash
# runs-under-sanitizer
# WAL safety against a real PostgreSQL, through tests/slot_watch_driver.c
# (slot_watch_collect's reports, one line each): a slot nobody reads
# retains more WAL as WAL is written, its warning flips at
# slot_warn_retained, a slot no pipeline owns is reported as an orphan and
# left in place, a reader makes a slot active and its lag drop, an
# unreachable source is one report with libpq's error; and
# max_slot_wal_keep_size converges through bootstrap with a reload, no
# restart, a second bootstrap changing nothing.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/pg.sh"
. "$(dirname "$0")/../lib/topology.sh"

WORK=$(mktemp -d /tmp/cdc-slot-watch.XXXXXX)
RECV_PID=
trap '[ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null; pg_destroy_all; rm -rf "$WORK"' EXIT

# The driver in the build of the agent under test.
DRIVER=$REPO_ROOT/build/tests/slot_watch_driver
case "$CDC_AGENT" in */asan/*) DRIVER=$DRIVER-asan ;; esac
if make -s -C "$REPO_ROOT" "${DRIVER#"$REPO_ROOT"/}" >"$WORK/build.log" 2>&1 && [ -x "$DRIVER" ]; then
	_pass "the test driver builds"
else
	_fail "the test driver builds" "$(cat "$WORK/build.log")"
	finish
	exit
fi

pg_cluster_create src || { _fail "start the source cluster"; finish; exit; }
pg_psql src postgres "CREATE DATABASE db1" >/dev/null
pg_psql src db1 "CREATE TABLE my_table (id int PRIMARY KEY, v text)" >/dev/null
DOWN_PORT=$(free_port)
(umask 077 && echo 'cdc pw' >"$WORK/db1.pass" && echo 'db2 pw' >"$WORK/db2.pass")

write_topology() { # KEEP_SIZE
	{
		printf '[agent]\nstate_dir = %s/state\nmanage_units = false\n\n' "$WORK"
		topology_source db1 my_publication my_slot "" public.my_table \
			"max_slot_wal_keep_size = $1" "slot_warn_retained = 8MB"
		topology_target db2
		topology_pipeline p1 db1 db2
	} | topology_fill src "$WORK" >"$WORK/topo.ini"
	# The watch's topology also has a source nobody listens for.
	cat "$WORK/topo.ini" - >"$WORK/watch.ini" <<INI

[source down]
host = 127.0.0.1
port = $DOWN_PORT
dbname = db9
user = cdc_user
password_file = $WORK/db1.pass
publication = p
slot = down_slot
tables = public.t

[pipeline p2]
source = down
target = db2
INI
}

# The field NAME of the report of SLOT.
field() { # SLOT NAME
	sed -n "/ slot=$1 /s/.* $2=\([^ ]*\).*/\1/p" "$WORK/report"
}
watch() { "$DRIVER" "$WORK/watch.ini" >"$WORK/report" 2>"$WORK/report.err"; }

write_topology 64MB
"$CDC_AGENT" -c "$WORK/topo.ini" bootstrap >"$WORK/bootstrap1.log" 2>&1
pg_cluster_restart src # wal_level: the one restart, by hand (no systemd here)
agent_run -c "$WORK/topo.ini" bootstrap
check_eq "bootstrap after the restart changes nothing" "bootstrap: nothing to change" "$AGENT_OUT"
check_eq "max_slot_wal_keep_size is the topology's" 64MB "$(pg_psql src db1 "SHOW max_slot_wal_keep_size")"

watch
check_eq "the watch itself succeeds" 0 "$?"
check_eq "the topology's slot not created yet is reported missing" \
	"source=db1 slot=my_slot pipeline=p1 exists=0 active=0 retained=-1 lag=-1 wal_status=- safe=-1 warn=0 error=" \
	"$(grep ' slot=my_slot ' "$WORK/report")"
check_contains "an unreachable source is one report with libpq's error" \
	"source=down slot=down_slot pipeline=p2 exists=0" "$(grep '^source=down ' "$WORK/report")"
check_contains "which names the refused connection" "Connection refused" \
	"$(sed -n '/ slot=down_slot /s/.* error=//p' "$WORK/report")"
check_eq "nothing logged for it" "" "$(cat "$WORK/report.err")"

# Slots as capture creates them, and ones the topology does not know.
pg_psql src db1 "SELECT pg_create_logical_replication_slot('my_slot', 'pgoutput')" >/dev/null
pg_psql src db1 "SELECT pg_create_logical_replication_slot('old_slot', 'pgoutput')" >/dev/null
pg_psql src db1 "SELECT pg_create_logical_replication_slot('other_plugin', 'test_decoding')" >/dev/null
pg_psql src postgres "SELECT pg_create_logical_replication_slot('other_db', 'pgoutput')" >/dev/null
watch
check_eq "the slot exists now" 1 "$(field my_slot exists)"
check_eq "nobody reads it" 0 "$(field my_slot active)"
check_eq "its WAL is reserved" reserved "$(field my_slot wal_status)"
check "with max_slot_wal_keep_size set, safe_wal_size is known" test "$(field my_slot safe)" -gt 0
check_eq "and below 8MB it does not warn" 0 "$(field my_slot warn)"
check_eq "the orphan pgoutput slot of db1 is reported without pipeline" "db1 -" \
	"$(sed -n '/ slot=old_slot /s/source=\([^ ]*\) .* pipeline=\([^ ]*\) .*/\1 \2/p' "$WORK/report")"
check_eq "a test_decoding slot or another database's slot is not the source's" "" \
	"$(grep -E ' slot=(other_plugin|other_db) ' "$WORK/report")"
before=$(field my_slot retained)

# About 20 MB of WAL that no one reads.
pg_psql src db1 "CREATE TABLE filler AS SELECT g, repeat('x', 300) AS pad FROM generate_series(1, 60000) g" >/dev/null
watch
after=$(field my_slot retained)
check "retained WAL grows while nobody reads the slot ($before -> $after)" test "$after" -gt "$((before + 8 * 1024 * 1024))"
check_eq "past slot_warn_retained (8MB) the slot warns" 1 "$(field my_slot warn)"
check_eq "so does the orphan" 1 "$(field old_slot warn)"
check_eq "the orphan still exists" old_slot \
	"$(pg_psql src db1 "SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'old_slot'")"

# Memory: the release build under valgrind (the asan run covers the rest).
if [ "${DRIVER%-asan}" = "$DRIVER" ] && command -v valgrind >/dev/null; then
	check "valgrind: slot_watch_collect with an orphan and an unreachable source is clean" \
		valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=99 "$DRIVER" "$WORK/watch.ini"
fi

# A reader: the slot is active and its confirmed lag drops.
lag=$(field my_slot lag)
"$PG_BIN/pg_recvlogical" -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres -d db1 --slot my_slot \
	--start -o proto_version=1 -o publication_names=my_publication -s 1 -F 1 -f /dev/null \
	>"$WORK/recv.log" 2>&1 &
RECV_PID=$!
for _ in $(seq 50); do
	watch
	[ "$(field my_slot active)" = 1 ] && [ "$(field my_slot lag)" -lt "$lag" ] && break
	sleep 0.2
done
check_eq "read by a walsender, the slot is active" 1 "$(field my_slot active)"
check "and its confirmed lag dropped ($lag -> $(field my_slot lag))" test "$(field my_slot lag)" -lt "$lag"
kill "$RECV_PID" 2>/dev/null
wait "$RECV_PID" 2>/dev/null
RECV_PID=

# max_slot_wal_keep_size: a reload setting, so no restart.
started=$(pg_psql src db1 "SELECT pg_postmaster_start_time()")
write_topology 128MB
agent_run -c "$WORK/topo.ini" bootstrap
check_eq "bootstrap with a new max_slot_wal_keep_size exits 0 (no restart wanted)" 0 "$AGENT_RC"
check_contains "and reports the change" "set max_slot_wal_keep_size = 128MB (configured: 64MB)" "$AGENT_OUT"
for _ in $(seq 25); do
	[ "$(pg_psql src db1 "SHOW max_slot_wal_keep_size")" = 128MB ] && break
	sleep 0.2
done
check_eq "the server runs with it after the reload" 128MB "$(pg_psql src db1 "SHOW max_slot_wal_keep_size")"
check_eq "the server was not restarted" "$started" "$(pg_psql src db1 "SELECT pg_postmaster_start_time()")"
agent_run -c "$WORK/topo.ini" bootstrap
check_eq "a second bootstrap changes nothing" "bootstrap: nothing to change" "$AGENT_OUT"
agent_run -c "$WORK/topo.ini" plan
check_eq "and plan agrees (exit 0)" 0 "$AGENT_RC"

# -1: the agent leaves the server's value alone.
write_topology -1
agent_run -c "$WORK/topo.ini" bootstrap
check_eq "max_slot_wal_keep_size = -1 is not managed" "bootstrap: nothing to change" "$AGENT_OUT"
check_eq "old_slot is still there at the end" 1 \
	"$(pg_psql src db1 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'old_slot'")"
finish
