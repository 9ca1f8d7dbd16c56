#!/usr/bin/env bash
# scripts/bench-snapshot.sh: capture's initial snapshot against native copy_data.
#
#   scripts/bench-snapshot.sh            (as root, after `make`; `make bench` runs it)
#
# On one machine, in one run: a private PostgreSQL 15 cluster and a
# ZooKeeper-mode Kafka broker (the test harness's tests/lib/*.sh), a table
# narrow (id int primary key, v int) of ROWS rows in db1, an empty copy of it
# in db2.  Each of REPEAT runs times, one after the other, on a quiet source:
#   - native: CREATE SUBSCRIPTION ... WITH (copy_data = true) in db2 (its slot
#     made beforehand, as a subscription to the same cluster needs), from the
#     command until the table's sync state is 'r' (ready), polled every 20 ms;
#     then the subscription is dropped and the copy truncated;
#   - capture: `cdc-agent capture` with snapshot_mode = initial_only and
#     json_schemas = false, from its start until it exits (it exits once Kafka
#     acknowledged every row of the snapshot), its slot dropped and its state
#     files removed before; and capture's own rate, from its log line
#     "initial snapshot starts" to "snapshot of public.narrow: N rows
#     acknowledged" (connections, slot creation and topic metadata left out).
#   - pipeline: capture as above and `cdc-agent apply` started together,
#     until every row is in db2's (truncated) table, read from apply's
#     offsets in the target; CPU of capture, apply and PostgreSQL.
# Medians go into the section "## Initial snapshot" of docs/BENCHMARKS.md
# (only that section is rewritten) and to stdout.
#
# Env: ROWS (1000000) REPEAT (3)
#      CDC_AGENT (./cdc-agent) PG_BIN (/usr/lib/postgresql/15/bin)
#      BENCH_OUT (docs/BENCHMARKS.md)
#      BENCH_PERF=FILE: the warm-up capture runs under perf record, to FILE
#      COMPARE_AGENT=PATH: another cdc-agent binary (an older build) run after
#        capture in each run, alike, and reported beside it
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CDC_AGENT=${CDC_AGENT:-$REPO_ROOT/cdc-agent}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROWS=${ROWS:-1000000}
REPEAT=${REPEAT:-3}
BENCH_OUT=${BENCH_OUT:-$REPO_ROOT/docs/BENCHMARKS.md}
SECTION="## Initial snapshot"
WAIT_MAX_SEC=600

log() { printf 'bench-snapshot: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (clusters run as the postgres user)"
[ -x "$CDC_AGENT" ] || die "$CDC_AGENT missing: run make first"
for v in ROWS REPEAT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done

export PG_BIN REPO_ROOT CDC_AGENT
# shellcheck source=SCRIPTDIR/../tests/lib/capture_env.sh
. "$REPO_ROOT/tests/lib/capture_env.sh"

CAP_PID='' APP_PID=''
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [ -n "$APP_PID" ]; then
		pkill -KILL -P "$APP_PID" 2>/dev/null
		kill -KILL "$APP_PID" 2>/dev/null
		wait "$APP_PID" 2>/dev/null
	fi
	if [ -n "$CAP_PID" ]; then # our child (time, capture), not waited for yet
		pkill -KILL -P "$CAP_PID" 2>/dev/null
		kill -KILL "$CAP_PID" 2>/dev/null
		wait "$CAP_PID" 2>/dev/null
	fi
	capture_env_down >/dev/null 2>&1
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { printf '%s' "$EPOCHREALTIME"; }
q() { pg_psql src "$1" "$2"; }

DDL="CREATE TABLE narrow (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = off)"
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
log "starting PostgreSQL and Kafka, bootstrapping the topology"
capture_env_up "$DDL; INSERT INTO narrow SELECT g, g FROM generate_series(1, $ROWS) g" <<INI ||
[target db2]
host = 127.0.0.1
port = @PORT@
dbname = db2
user = db2_user
password_file = @WORK@/db2.pass
admin_host = @SOCK@

[source s0]
host = 127.0.0.1
port = @PORT@
dbname = db1
user = cdc_user
password_file = @WORK@/db1.pass
admin_host = @SOCK@
publication = bench_snap
slot = bench_snap
tables = public.narrow
topic_prefix = bs0
snapshot_mode = initial_only
json_schemas = false

[pipeline s0]
source = s0
target = db2
INI
	die "environment did not come up"
grep -q "bootstrap: nothing to change" "$WORK/bootstrap.log" ||
	{ cat "$WORK/bootstrap.log" >&2; die "bootstrap did not converge"; }
cp -p "$CDC_AGENT" "$WORK/cdc-agent"
CDC_AGENT=$WORK/cdc-agent
if [ -n "${COMPARE_AGENT:-}" ]; then
	[ -x "$COMPARE_AGENT" ] || die "COMPARE_AGENT $COMPARE_AGENT is not an executable"
	cp -p "$COMPARE_AGENT" "$WORK/compare-agent"
fi

q db2 "$DDL; GRANT ALL ON narrow TO db2_user" >/dev/null || die "target table"
q db1 "CREATE PUBLICATION lr_snap FOR TABLE narrow" >/dev/null || die "publication"
q db2 "CREATE FUNCTION bench_wait_ready(max_s float8) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE deadline timestamptz := clock_timestamp() + max_s * interval '1 second';
BEGIN
	LOOP
		IF (SELECT count(*) = 1 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel) THEN
			RETURN extract(epoch FROM clock_timestamp());
		END IF;
		EXIT WHEN clock_timestamp() >= deadline;
		PERFORM pg_sleep(0.02);
	END LOOP;
	RETURN NULL;
END \$\$" >/dev/null || die "wait function"

# CPU seconds of the cluster's exited backends (the postmaster's reaped
# children): a run's backends, walsender and workers once they are gone.
CLK_TCK=$(getconf CLK_TCK)
pg_cpu() {
	local stat
	stat=$(<"/proc/$(head -n 1 "$(_pg_var src DIR)/data/postmaster.pid")/stat")
	stat=${stat##*) }
	awk -v s="$stat" -v hz="$CLK_TCK" 'BEGIN { split(s, f, " "); printf "%.2f", (f[14] + f[15]) / hz }'
}

# CPU seconds of the broker (its JVM, threads included) so far.
broker_cpu() {
	local stat
	stat=$(<"/proc/$(cat "$WORK/kafka/kafka.pid")/stat")
	stat=${stat##*) }
	awk -v s="$stat" -v hz="$CLK_TCK" 'BEGIN { split(s, f, " "); printf "%.2f", (f[12] + f[13]) / hz }'
}

RESULTS=$WORK/results # lines: rep kind seconds [capture_own_seconds capture_cpu_s] pg_cpu_s (last)
: >"$RESULTS"

run_native() { # REP
	local t0 t1 p0
	p0=$(pg_cpu)
	q db1 "SELECT pg_create_logical_replication_slot('lr_snap', 'pgoutput')" >/dev/null
	t0=$(now)
	q db2 "CREATE SUBSCRIPTION lr_snap CONNECTION 'host=$PG_SOCK_src port=$PG_PORT_src dbname=db1 user=postgres'
		PUBLICATION lr_snap WITH (create_slot = false, slot_name = 'lr_snap', copy_data = true)" >/dev/null ||
		die "CREATE SUBSCRIPTION"
	t1=$(q db2 "SELECT bench_wait_ready($WAIT_MAX_SEC)")
	[ -n "$t1" ] || die "native copy did not finish"
	[ "$(q db2 "SELECT count(*) FROM narrow")" = "$ROWS" ] || die "native copy: wrong row count"
	q db2 "DROP SUBSCRIPTION lr_snap" >/dev/null
	sleep 0.5 # the sync and apply workers exit
	awk -v a="$t0" -v b="$t1" -v r="$1" -v p="$(awk -v a="$p0" -v b="$(pg_cpu)" 'BEGIN { print b - a }')" \
		'BEGIN { printf "%s native %.3f %.2f\n", r, b - a, p }' >>"$RESULTS"
	q db2 "TRUNCATE narrow" >/dev/null
}

run_capture() { # REP [KIND AGENT]
	local t0 t1 logf=$WORK/${2:-capture}-$1.log own n kind=${2:-capture} agent=${3:-$CDC_AGENT} p0
	q db1 "SELECT pg_drop_replication_slot('bench_snap') FROM pg_replication_slots WHERE slot_name = 'bench_snap'" >/dev/null
	rm -f "$WORK/state/capture-s0.json" "$WORK/state/events-capture-s0.json"
	sleep 0.2 # the slot's last walsender has exited
	p0=$(pg_cpu)
	t0=$(now)
	local perf=()
	[ "$1" = 0 ] && [ -n "${BENCH_PERF:-}" ] && perf=(perf record -q -F 499 --call-graph dwarf,16384 -o "$BENCH_PERF" --)
	/usr/bin/time -f '%U %S %M' -o "$WORK/time-$1" "${perf[@]}" "$agent" -c "$T" capture s0 2> >(while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done >"$logf") >/dev/null &
	CAP_PID=$!
	wait "$CAP_PID" || die "capture exited with $? (see $logf)"
	CAP_PID=''
	t1=$(now)
	sleep 0.5 # the log reader's last lines, capture's backends gone
	n=$(awk '/snapshot of public.narrow: [0-9]+ rows acknowledged/ { for (i = 1; i <= NF; i++) if ($i == "rows") print $(i - 1) }' "$logf")
	[ "$n" = "$ROWS" ] || { tail -n 20 "$logf" >&2; die "capture snapshot: $n rows, not $ROWS"; }
	own=$(awk '/initial snapshot starts/ { s = $1 } /rows acknowledged by Kafka/ { e = $1 } END { printf "%.3f", e - s }' "$logf")
	awk -v a="$t0" -v b="$t1" -v r="$1" -v o="$own" -v t="$(cat "$WORK/time-$1")" -v k="$kind" \
		-v p="$(awk -v a="$p0" -v b="$(pg_cpu)" 'BEGIN { print b - a }')" \
		'BEGIN { split(t, f, " "); printf "%s %s %.3f %s %.2f %.2f %d\n", r, k, b - a, o, f[1] + f[2], p, f[3] }' >>"$RESULTS"
}

# The whole pipeline: capture (initial_only) and apply started together,
# from their start until the target holds every row.  Done is read from
# apply's offsets in the target (they commit with the rows): the sum of
# next offsets moves by ROWS, since each run's capture appends ROWS records
# to the topic and apply goes on from where the last run left it.
offsets_sum() { q db2 "SELECT coalesce(sum(next_offset), 0) FROM cdc_agent.offsets WHERE pipeline = 's0'" 2>/dev/null || echo 0; }
# Apply's stored offsets moved to the end of the topic's partitions: the
# records of the capture-only runs are not the pipeline's to apply.
offsets_to_end() {
	local p end
	q db2 "SELECT 1 FROM cdc_agent.offsets" >/dev/null 2>&1 || return 0 # the first run: none yet
	for ((p = 0; p < 3; p++)); do
		end=$(kcat -b "127.0.0.1:$KP" -Q -t "bs0.public.narrow:$p:-1" 2>/dev/null | awk '/offset/ { print $NF }')
		[[ $end =~ ^[0-9]+$ ]] || die "end of partition $p unknown"
		q db2 "INSERT INTO cdc_agent.offsets (pipeline, topic, partition, next_offset)
			VALUES ('s0', 'bs0.public.narrow', $p, $end) ON CONFLICT (pipeline, topic, partition)
			DO UPDATE SET next_offset = EXCLUDED.next_offset" >/dev/null
	done
}
run_pipeline() { # REP [KIND AGENT]
	local t0 t1 kind=${2:-pipeline} agent=${3:-$CDC_AGENT} s0 want p0 k0 k1 i
	local logf=$WORK/$kind-$1.log alog=$WORK/$kind-apply-$1.log
	q db1 "SELECT pg_drop_replication_slot('bench_snap') FROM pg_replication_slots WHERE slot_name = 'bench_snap'" >/dev/null
	rm -f "$WORK/state/capture-s0.json" "$WORK/state/events-capture-s0.json"
	q db2 "TRUNCATE narrow" >/dev/null
	offsets_to_end
	s0=$(offsets_sum)
	want=$((s0 + ROWS))
	sleep 0.2
	p0=$(pg_cpu)
	k0=$(broker_cpu)
	t0=$(now)
	/usr/bin/time -f '%U %S %M' -o "$WORK/atime-$1" "$agent" -c "$T" apply s0 2>"$alog" >/dev/null &
	APP_PID=$!
	/usr/bin/time -f '%U %S %M' -o "$WORK/ptime-$1" "$agent" -c "$T" capture s0 2>"$logf" >/dev/null &
	CAP_PID=$!
	for ((i = 0; i < WAIT_MAX_SEC * 20; i++)); do
		[ "$(offsets_sum)" -ge "$want" ] && break
		kill -0 "$APP_PID" 2>/dev/null || break
		sleep 0.05
	done
	t1=$(now)
	k1=$(broker_cpu)
	[ "$(offsets_sum)" -ge "$want" ] || { tail -n 20 "$alog" >&2; die "pipeline: the target did not get every row"; }
	wait "$CAP_PID" || die "capture exited with $? (see $logf)"
	CAP_PID=''
	pkill -TERM -P "$APP_PID" 2>/dev/null
	wait "$APP_PID" || die "apply exited with $? (see $alog)"
	APP_PID=''
	sleep 0.5
	[ "$(q db2 "SELECT count(*) FROM narrow")" = "$ROWS" ] || die "pipeline: wrong row count in the target"
	q db2 "TRUNCATE narrow" >/dev/null # native copies into an empty table
	awk -v a="$t0" -v b="$t1" -v r="$1" -v c="$(cat "$WORK/ptime-$1")" -v d="$(cat "$WORK/atime-$1")" -v k="$kind" \
		-v p="$(awk -v a="$p0" -v b="$(pg_cpu)" 'BEGIN { print b - a }')" \
		-v kc="$(awk -v a="$k0" -v b="$k1" 'BEGIN { print b - a }')" \
		'BEGIN { split(c, f, " "); split(d, g, " "); printf "%s %s %.3f %.2f %.2f %.2f %.2f %d %d\n", r, k, b - a, f[1] + f[2], g[1] + g[2], p, kc, f[3], g[3] }' >>"$RESULTS"
}

# Warm-up: the topic exists, the table is in the page cache.
log "warm-up"
run_pipeline 0 # first: apply starts at the beginning of the empty topic
run_capture 0
for ((rep = 1; rep <= REPEAT; rep++)); do
	run_native "$rep"
	run_capture "$rep"
	run_pipeline "$rep"
	[ -z "${COMPARE_AGENT:-}" ] || run_capture "$rep" compare "$WORK/compare-agent"
	[ -z "${COMPARE_AGENT:-}" ] || run_pipeline "$rep" compare-pipeline "$WORK/compare-agent"
	log "run $rep/$REPEAT: $(awk -v r="$rep" '$1 == r' "$RESULTS" | tr '\n' ' ')"
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { awk -v k="$1" -v c="$2" '$1 > 0 && $2 == k { print $c }' "$RESULTS"; }
mib_max() { sort -g | awk '{ m = $1 } END { printf "%.1f", m / 1024 }'; } # KiB -> the largest, MiB
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
NATIVE_S=$(field native 3 | median)
CAP_S=$(field capture 3 | median)
CPU_S=$(field capture 5 | median)
PG_CAP=$(field capture 6 | median)
PG_NATIVE=$(field native 4 | median)
us_row() { awk -v c="$1" -v n="$ROWS" 'BEGIN { printf "%.2f", 1e6 * c / n }'; }
OWN_S=$(field capture 4 | median)
PIPE_S=$(field pipeline 3 | median)
PIPE_CCPU=$(field pipeline 4 | median)
PIPE_ACPU=$(field pipeline 5 | median)
PIPE_PG=$(field pipeline 6 | median)
PIPE_BROKER=$(field pipeline 7 | median)
PIPE_RATIO=$(awk -v a="$NATIVE_S" -v b="$PIPE_S" 'BEGIN { printf "%.2f", a / b }')
RATIO=$(awk -v a="$NATIVE_S" -v b="$CAP_S" 'BEGIN { printf "%.2f", a / b }')
OWN_RATIO=$(awk -v a="$NATIVE_S" -v b="$OWN_S" 'BEGIN { printf "%.2f", a / b }')
runs() { field "$1" "$2" | awk '{ printf "%s%s", (NR > 1 ? " / " : ""), $1 }'; }
agent_v=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
[ -z "$(git -C "$REPO_ROOT" --no-optional-locks status --porcelain -- agent 2>/dev/null)" ] ||
	agent_v="$agent_v + uncommitted changes in agent/"

SECTION_FILE=$WORK/section.md
{
	echo "$SECTION"
	echo
	echo "Produced by \`ROWS=$ROWS REPEAT=$REPEAT scripts/bench-snapshot.sh\`"
	echo "on $(date -u '+%Y-%m-%d %H:%M UTC'), agent at \`$agent_v\`; $(nproc) CPUs, load average (1 min)"
	echo "$LOAD_START at the start. One table \`narrow (id int primary key, v int)\` of $ROWS rows, copied on a"
	echo "quiet source: natively (\`CREATE SUBSCRIPTION ... copy_data = true\` into an empty table of another"
	echo "database of the same cluster, until the table's sync state is ready) and by \`cdc-agent capture\`"
	echo "(\`snapshot_mode = initial_only\`, \`json_schemas = false\`, a topic of 3 partitions, until it exits:"
	echo "every row acknowledged by Kafka). *capture's own* counts from its log's \"initial snapshot starts\" to"
	echo "the table's \"rows acknowledged by Kafka\" (connections, slot and topic metadata left out)."
	echo "Medians of $REPEAT runs."
	echo
	echo "| copy | s | rows/s | runs (s) | × native |"
	echo "|---|---:|---:|---|---:|"
	echo "| native copy_data | $NATIVE_S | $(rate "$NATIVE_S") | $(runs native 3) | 1.00 |"
	echo "| cdc-agent capture, process start to exit | $CAP_S | $(rate "$CAP_S") | $(runs capture 3) | **$RATIO** |"
	echo "| cdc-agent capture, its own snapshot | $OWN_S | $(rate "$OWN_S") | $(runs capture 4) | $OWN_RATIO |"
	echo "| cdc-agent capture + apply, start to every row in the target | $PIPE_S | $(rate "$PIPE_S") | $(runs pipeline 3) | **$PIPE_RATIO** |"
	echo
	echo "The whole pipeline (capture and apply started together into an empty target table, until apply's"
	echo "offsets in the target, which commit with the rows, passed every record): CPU capture $PIPE_CCPU s"
	echo "($(us_row "$PIPE_CCPU") µs/row), apply $PIPE_ACPU s ($(us_row "$PIPE_ACPU") µs/row), PostgreSQL $PIPE_PG s"
	echo "($(us_row "$PIPE_PG") µs/row: source and target backends), the Kafka broker $PIPE_BROKER s ($(us_row "$PIPE_BROKER") µs/row;"
	echo "runs: capture $(runs pipeline 4); apply $(runs pipeline 5); PostgreSQL $(runs pipeline 6); broker $(runs pipeline 7))."
	echo
	echo "Peak RSS (\`/usr/bin/time\`'s maximum resident set size, the largest of the runs): capture"
	echo "$(field capture 7 | mib_max) MiB alone, capture $(field pipeline 8 | mib_max) MiB and apply $(field pipeline 9 | mib_max) MiB in the pipeline."
	echo
	echo "Capture's CPU time (user + system, the whole process): $CPU_S s, $(us_row "$CPU_S") µs/row"
	echo "(runs: $(runs capture 5) s). On a shared machine the CPU time is the steadier figure."
	echo "PostgreSQL's CPU time (the run's backends, walsender and workers, read once they exited):"
	echo "$PG_CAP s for capture's snapshot (runs: $(runs capture 6)), $PG_NATIVE s for native copy_data"
	echo "(runs: $(runs native 4); the publisher's and the subscriber's side)."
	if [ -n "${COMPARE_AGENT:-}" ]; then
		c_s=$(field compare 3 | median) c_own=$(field compare 4 | median) c_cpu=$(field compare 5 | median)
		echo
		echo "Compared, alike in the same runs (\`COMPARE_AGENT\`, $(basename "$COMPARE_AGENT")): start to exit $c_s s"
		echo "($(runs compare 3)), its own snapshot $c_own s ($(rate "$c_own") rows/s, runs $(runs compare 4)), CPU $c_cpu s,"
		echo "$(us_row "$c_cpu") µs/row (runs $(runs compare 5)); PostgreSQL's CPU $(field compare 6 | median) s (runs $(runs compare 6))."
		cp_s=$(field compare-pipeline 3 | median)
		echo "Its pipeline (capture + apply): $cp_s s ($(runs compare-pipeline 3)), × native $(awk -v a="$NATIVE_S" -v b="$cp_s" 'BEGIN { printf "%.2f", a / b }');"
		echo "CPU capture $(field compare-pipeline 4 | median) s, apply $(field compare-pipeline 5 | median) s, PostgreSQL $(field compare-pipeline 6 | median) s,"
		echo "the broker $(field compare-pipeline 7 | median) s."
	fi
} >"$SECTION_FILE"

. "$REPO_ROOT/scripts/lib/bench-section.sh"
bench_write_section "$SECTION" "$SECTION_FILE" "$BENCH_OUT"
log "wrote section \"$SECTION\" of $BENCH_OUT"
cat "$SECTION_FILE"
