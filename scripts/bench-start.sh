#!/usr/bin/env bash
# scripts/bench-start.sh: start -> first row (issue 18 point 2): how long after
# capture and apply are started the first row written at the source reaches
# the target, on a broker that is already running.
#
#   scripts/bench-start.sh              (after `make`; `make bench` runs it)
#
# On one machine: a private PostgreSQL 15 cluster (db1 the source, db2 the
# target), a ZooKeeper-mode Kafka broker (topics of 3 partitions) and a
# topology bootstrapped by the agent (tests/lib/*.sh, as the integration
# tests do), one pipeline p1 of table t.  A first start, untimed, creates the
# slot, the topics and the target table's rows; then STARTS timed starts:
# before each, the pair has run a short load (LOAD_ROWS rows, applied), and
# is stopped with SIGTERM (systemd's stop) or, for the last KILLS starts,
# killed with -9 (a crash) and started again at once (systemd restarts a
# crashed unit within a fraction of a second).  Each start launches capture
# and apply together and inserts one row at the source right away; the time
# is from the launch to the row's insert into the target, read from the
# target row itself (its column arrived defaults to clock_timestamp(); the
# same clock).  The results go into the section "## Start to first row" of
# docs/BENCHMARKS.md (only that section is rewritten) and to stdout.
#
# Env: STARTS (5) KILLS (2) LOAD_ROWS (20000) CDC_AGENT (./cdc-agent)
#      PG_BIN (/usr/lib/postgresql/15/bin) BENCH_OUT (docs/BENCHMARKS.md)
#      KEEP_WORK=1 keeps the work directory (its logs) and says where.
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CDC_AGENT=${CDC_AGENT:-$REPO_ROOT/cdc-agent}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
STARTS=${STARTS:-5}
KILLS=${KILLS:-2}
LOAD_ROWS=${LOAD_ROWS:-20000}
BENCH_OUT=${BENCH_OUT:-$REPO_ROOT/docs/BENCHMARKS.md}
SECTION="## Start to first row"
WAIT_MAX_SEC=120
export REPO_ROOT CDC_AGENT PG_BIN

. "$REPO_ROOT/tests/lib/capture_env.sh"
. "$REPO_ROOT/scripts/lib/bench-section.sh"
# set +e: the cleanup must go on past a process already gone (errexit)
trap 'set +e; [ -n "${KEEP_WORK:-}" ] && echo "bench-start: logs in $WORK" >&2; capture_env_down' EXIT
CAPTURE_AGENT_KEYS=$'status_listen = off\n'

capture_env_up "CREATE TABLE t (id int PRIMARY KEY, v int);" <<'INI' ||
[source s1]
host = 127.0.0.1
port = @PORT@
admin_host = @SOCK@
dbname = db1
user = cdc_user
password_file = @WORK@/db1.pass
publication = pub_s1
slot = slot_s1
tables = public.t
json_schemas = false

[target db2]
host = 127.0.0.1
port = @PORT@
admin_host = @SOCK@
dbname = db2
user = db2_user
password_file = @WORK@/db2.pass

[pipeline p1]
source = s1
target = db2
INI
	{ echo "bench-start: environment did not come up" >&2; exit 1; }
grep -q "bootstrap: nothing to change" "$WORK/bootstrap.log" ||
	{ cat "$WORK/bootstrap.log" >&2; echo "bench-start: bootstrap did not converge" >&2; exit 1; }
# The target table, made here for its column arrived (apply writes id and v).
pg_psql src db2 "CREATE TABLE t (id int PRIMARY KEY, v int, arrived timestamptz DEFAULT clock_timestamp());
	ALTER TABLE t OWNER TO db2_user" >/dev/null

start_pair() {
	echo "---- start $(date -u +%T.%N)" >>"$WORK/capture-p1.log"
	echo "---- start $(date -u +%T.%N)" >>"$WORK/apply-p1.log"
	capture_start p1
	apply_start p1
}
stop_pair() { # TERM | KILL
	kill "-$1" "${CAPTURE_PIDS[p1]}" "${CAPTURE_PIDS[apply-p1]}" 2>/dev/null || true
	wait "${CAPTURE_PIDS[p1]}" "${CAPTURE_PIDS[apply-p1]}" 2>/dev/null || true
}
# Until row KEY is in the target; prints its arrival (epoch seconds).
wait_row() { # KEY
	local i t
	for ((i = 0; i < WAIT_MAX_SEC * 10; i++)); do
		t=$(pg_psql src db2 "SELECT extract(epoch FROM arrived) FROM t WHERE id = $1")
		[ -n "$t" ] && { printf '%s' "$t"; return 0; }
		sleep 0.1
	done
	echo "bench-start: row $1 not in the target within $WAIT_MAX_SEC s" >&2
	tail -n 20 "$WORK/capture-p1.log" "$WORK/apply-p1.log" >&2
	return 1
}
# LOAD_ROWS rows in transactions of 100, applied.
load() { # BASE
	pg_psql src db1 "DO \$\$ BEGIN
  FOR r IN 0..$((LOAD_ROWS / 100 - 1)) LOOP
    INSERT INTO t SELECT g, g FROM generate_series($1 + r * 100, $1 + r * 100 + 99) g;
    COMMIT;
  END LOOP;
END \$\$;" >/dev/null
	wait_row $(($1 + LOAD_ROWS - 1)) >/dev/null
}

echo "bench-start: first start (slot, topics), untimed"
start_pair
pg_psql src db1 "INSERT INTO t VALUES (0, 0)" >/dev/null
wait_row 0 >/dev/null || exit 1

declare -a HOW SECS
for ((s = 1; s <= STARTS; s++)); do
	load $((s * 1000000)) || exit 1
	how=TERM
	((s > STARTS - KILLS)) && how=KILL
	stop_pair "$how"
	t0=$EPOCHREALTIME
	start_pair
	pg_psql src db1 "INSERT INTO t VALUES (-$s, 0)" >/dev/null
	t1=$(wait_row "-$s") || exit 1
	HOW[s]=$how
	SECS[s]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	echo "bench-start: start $s after $([ "$how" = TERM ] && echo SIGTERM || echo 'kill -9'): first row in ${SECS[s]} s"
done
stop_pair TERM

sec=$(mktemp)
{
	echo "$SECTION"
	echo
	echo "\`scripts/bench-start.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores, commit $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')):"
	echo "capture and apply of one pipeline (a table, topics of 3 partitions) started together on a"
	echo "running broker, one row inserted at the source at once; the time from the launch to that"
	echo "row's insert into the target. Before each start the pair applied $LOAD_ROWS rows and was"
	echo "stopped with SIGTERM, or killed with -9 and started again at once."
	echo
	echo "| start | stopped by | start -> first row, s |"
	echo "|---|---|---:|"
	for ((s = 1; s <= STARTS; s++)); do
		echo "| $s | $([ "${HOW[s]}" = TERM ] && echo SIGTERM || echo 'kill -9') | ${SECS[s]} |"
	done
	echo
	echo "Before (82f11d5, apply a member of the consumer group \`cdc-agent.<pipeline>\`), in this"
	echo "script: 0.19, 0.24, 0.27 s after SIGTERM, 44.82 and 44.36 s after kill -9: the new member's"
	echo "join waited for the dead one until its session timed out (45 s). apply now assigns itself"
	echo "every partition and joins no group (docs/ARCHITECTURE.md, Apply): then 0.27-0.40 s after"
	echo "SIGTERM and 0.91-1.18 s after kill -9, where capture resent the load's rows it had not yet"
	echo "confirmed to the slot (one standby status a second); a moved confirmed LSN now goes out"
	echo "0.2 s after the last status. What remains is capture's start (connect, slot, topics, the"
	echo "first change decoded: 0.1-0.3 s in its log), after a kill -9 the changes resent, the"
	echo "producer's linger (20 ms) and apply's first batch; on this 2-core machine shared with other"
	echo "runs it varies run to run."
} >"$sec"
cat "$sec"
bench_write_section "$SECTION" "$sec" "$BENCH_OUT"
rm -f "$sec"
