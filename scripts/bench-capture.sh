#!/usr/bin/env bash
# scripts/bench-capture.sh: capture throughput against pg_recvlogical's ceiling.
#
#   scripts/bench-capture.sh            (as root, after `make`; `make bench` runs it)
#
# On one machine, in one run: a private PostgreSQL 15 cluster, a ZooKeeper-mode
# Kafka broker and a bootstrapped topology (the test harness's tests/lib/*.sh;
# the broker stamps records with LogAppendTime).  For a
# narrow table (id int primary key, v int) and a wide one (21 columns of mixed
# types), each measurement:
#   1. drops the table's slots, truncates it, creates fresh pgoutput slots (the
#      same NOEXPORT_SNAPSHOT slot capture creates with snapshot_mode = never);
#   2. writes N rows in transactions of B rows and notes the end LSN;
#   3. times each consumer, one after the other, from its start until it has
#      consumed everything:
#        pg_recvlogical (pgoutput proto 1, to /dev/null) until it exits at
#          --endpos = that LSN: the ceiling, reading the same WAL;
#        cdc-agent capture (json_schemas = false, then true) until the slot's
#          confirmed_flush_lsn reaches that LSN (polled every 50 ms), which
#          capture only reports once Kafka acknowledged every event.
#      Capture's peak RSS (VmHWM) and CPU time are read just before SIGTERM.
#      Capture reports its flush LSN once a second, so the time of the last
#      record's append on the broker (its LogAppendTime, max over partitions)
#      is given too: the throughput without that reporting delay.
# Each measurement is repeated REPEAT times; the medians go into the section
# "## Capture throughput" of docs/BENCHMARKS.md (only that section is
# rewritten) and to stdout.
#
# Env: NARROW_ROWS (400000) NARROW_BATCH (50000) WIDE_ROWS (200000)
#      WIDE_BATCH (20000) REPEAT (3) CDC_AGENT (./cdc-agent)
#      PG_BIN (/usr/lib/postgresql/15/bin) BENCH_OUT (docs/BENCHMARKS.md)
#      BENCH_KEEP_LOGS=1 keeps a copy of the work directory (logs).
#      BENCH_PERF_DIR=DIR adds one capture run per table and JSON mode under
#      perf record (not timed); reports in DIR/perf-*.txt.
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CDC_AGENT=${CDC_AGENT:-$REPO_ROOT/cdc-agent}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
NARROW_ROWS=${NARROW_ROWS:-400000}
NARROW_BATCH=${NARROW_BATCH:-50000}
WIDE_ROWS=${WIDE_ROWS:-200000}
WIDE_BATCH=${WIDE_BATCH:-20000}
REPEAT=${REPEAT:-3}
BENCH_OUT=${BENCH_OUT:-$REPO_ROOT/docs/BENCHMARKS.md}
PARTITIONS=3 # of each topic
SECTION="## Capture throughput"
WAIT_MAX_SEC=600 # a consumer that takes longer than this fails the run

log() { printf 'bench-capture: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (clusters run as the postgres user)"
[ -x "$CDC_AGENT" ] || die "$CDC_AGENT missing: run make first"
[ -x "$PG_BIN/pg_recvlogical" ] || die "$PG_BIN/pg_recvlogical missing"
for v in NARROW_ROWS NARROW_BATCH WIDE_ROWS WIDE_BATCH REPEAT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done

# The test harness: pg.sh, kafka.sh and capture_env_down (stops what
# bench_env_up starts).  Its functions are not written for set -e: they are
# only called in || contexts here.
export PG_BIN REPO_ROOT CDC_AGENT
# shellcheck source=SCRIPTDIR/../tests/lib/capture_env.sh
. "$REPO_ROOT/tests/lib/capture_env.sh"

# capture_env_up of tests/lib/capture_env.sh, with a broker that stamps each
# record with its append time: PostgreSQL cluster "src", Kafka on $KP,
# topology $T, work directory $WORK.
bench_env_up() { # SQL run in db1 before bootstrap; topology body from stdin
	local dist zk
	WORK=$(mktemp -d /tmp/cdc-bench.XXXXXX)
	dist=$("$REPO_ROOT/scripts/kafka-dist.sh") || return 1
	kafka_unpack "$dist" "$WORK/kafka" >/dev/null || return 1
	zk=$(free_port)
	KP=$(free_port)
	while [ "$KP" = "$zk" ]; do KP=$(free_port); done
	zk_start "$WORK/kafka" "$zk" >/dev/null 2>>"$WORK/env.log" || return 1
	kafka_start_zk "$WORK/kafka" "$KP" "$zk" log.message.timestamp.type=LogAppendTime \
		>/dev/null 2>>"$WORK/env.log" || return 1
	pg_cluster_create src >>"$WORK/env.log" 2>&1 || return 1
	pg_psql src postgres "CREATE DATABASE db1" >/dev/null || return 1
	pg_psql src db1 "$1" >/dev/null || return 1
	(umask 077 && echo 'cdc pw' >"$WORK/db1.pass" && echo 'db2 pw' >"$WORK/db2.pass")
	T=$WORK/topo.ini
	{
		# manage_units = false: bootstrap provisions the databases only,
		# never this host (no service user, units or systemd calls).
		printf '[agent]\nstate_dir = %s/state\nmanage_units = false\n[kafka]\nbootstrap_servers = 127.0.0.1:%s\npartitions = %s\n' \
			"$WORK" "$KP" "$PARTITIONS"
		sed -e "s|@PORT@|$PG_PORT_src|g" -e "s|@SOCK@|$PG_SOCK_src|g" -e "s|@WORK@|$WORK|g"
	} >"$T"
	# The first bootstrap sets wal_level and asks for a restart (exit 4).
	"$CDC_AGENT" -c "$T" bootstrap >"$WORK/bootstrap-1.log" 2>&1
	pg_cluster_restart src || return 1
	"$CDC_AGENT" -c "$T" bootstrap >"$WORK/bootstrap.log" 2>&1
}

# The capture (and perf) running now, if any: cleared once they are waited
# for, so that the trap never signals a pid the system has reused.
CAP_PID=''
PERF_PID=''
PERF_FILE=''
stop_pid() { # PID EXE: SIGTERM, then SIGKILL after 5 s, if PID still runs EXE
	local i
	[ -n "$1" ] && [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ] || return 0
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < 50; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	stop_pid "$CAP_PID" "${AGENT_EXE:-}"
	stop_pid "$PERF_PID" "$(readlink -f "$(command -v perf)")"
	if [ "${BENCH_KEEP_LOGS:-}" = 1 ] && [ -n "${WORK:-}" ]; then
		# Logs and configuration, not the broker's data or the Kafka jars.
		mkdir -p "$WORK.kept" && tar -C "$WORK" --exclude=./kafka/kafka-logs \
			--exclude=./kafka/zk-data --exclude=./kafka/libs -cf - . | tar -C "$WORK.kept" -xf - &&
			log "logs kept in $WORK.kept"
	fi
	capture_env_down >/dev/null 2>&1
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { printf '%s' "$EPOCHREALTIME"; }
sql() { pg_psql src db1 "$1"; } # prints rows; non-zero on error

NARROW_DDL="CREATE TABLE narrow (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = off)"
WIDE_DDL="CREATE TABLE wide (
	id bigint PRIMARY KEY, account_id bigint, qty int, small smallint,
	price numeric(12,2), amount numeric, ratio double precision, score real,
	active boolean, flagged boolean, name text, email text, status varchar(20),
	note text, created_at timestamptz, updated_at timestamptz, day date,
	seen_at timestamp, payload jsonb, tags text[], uid uuid
) WITH (autovacuum_enabled = off)"
WIDE_NCOLS=21

insert_sql() { # TABLE FIRST LAST
	case $1 in
	narrow) echo "INSERT INTO narrow SELECT g, g FROM generate_series($2, $3) g" ;;
	wide) echo "INSERT INTO wide SELECT g, g % 1000, g % 97, (g % 300)::smallint,
		(g % 100000) / 100.0, g * 1.5, g / 7.0, g / 3.0, g % 2 = 0, g % 5 = 0,
		'name ' || g, 'user' || g || '@example.com', (ARRAY['new','paid','shipped'])[g % 3 + 1],
		md5(g::text), now() - g * interval '1 second', now(), current_date - (g % 365),
		localtimestamp, jsonb_build_object('k', g, 'tags', jsonb_build_array('a', 'b'),
		'nested', jsonb_build_object('x', g % 10)), ARRAY['t' || (g % 10), 'u'],
		md5(g::text)::uuid
		FROM generate_series($2, $3) g" ;;
	esac
}

# ---- environment ------------------------------------------------------------

env_failed() {
	local f
	for f in env.log bootstrap-1.log bootstrap.log; do
		[ -f "${WORK:-}/$f" ] && { echo "---- $f" >&2; tail -n 20 "$WORK/$f" >&2; }
	done
	die "environment did not come up (see above; BENCH_KEEP_LOGS=1 keeps the logs)"
}

LOAD_START=$(cut -d' ' -f1 /proc/loadavg) # other work on the machine skews the numbers

log "starting PostgreSQL and Kafka (ZooKeeper mode), bootstrapping the topology"
bench_env_up "$NARROW_DDL; $WIDE_DDL;
CREATE FUNCTION bench_wait_slot(s name, target pg_lsn, max_s float8) RETURNS numeric
LANGUAGE plpgsql AS \$\$
DECLARE deadline timestamptz := clock_timestamp() + max_s * interval '1 second';
BEGIN
	LOOP
		IF (SELECT confirmed_flush_lsn >= target FROM pg_replication_slots WHERE slot_name = s) THEN
			RETURN extract(epoch FROM clock_timestamp());
		END IF;
		EXIT WHEN clock_timestamp() >= deadline;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN NULL;
END \$\$;" <<'INI' || env_failed
[target db2]
host = 127.0.0.1
port = @PORT@
dbname = db2
user = db2_user
password_file = @WORK@/db2.pass
admin_host = @SOCK@

[source n0]
host = 127.0.0.1
port = @PORT@
dbname = db1
user = cdc_user
password_file = @WORK@/db1.pass
admin_host = @SOCK@
publication = bench_n0
slot = bench_n0
tables = public.narrow
topic_prefix = bn0
snapshot_mode = never
json_schemas = false

[source n1]
host = 127.0.0.1
port = @PORT@
dbname = db1
user = cdc_user
password_file = @WORK@/db1.pass
admin_host = @SOCK@
publication = bench_n1
slot = bench_n1
tables = public.narrow
topic_prefix = bn1
snapshot_mode = never
json_schemas = true

[source w0]
host = 127.0.0.1
port = @PORT@
dbname = db1
user = cdc_user
password_file = @WORK@/db1.pass
admin_host = @SOCK@
publication = bench_w0
slot = bench_w0
tables = public.wide
topic_prefix = bw0
snapshot_mode = never
json_schemas = false

[source w1]
host = 127.0.0.1
port = @PORT@
dbname = db1
user = cdc_user
password_file = @WORK@/db1.pass
admin_host = @SOCK@
publication = bench_w1
slot = bench_w1
tables = public.wide
topic_prefix = bw1
snapshot_mode = never
json_schemas = true

[pipeline n0]
source = n0
target = db2

[pipeline n1]
source = n1
target = db2

[pipeline w0]
source = w0
target = db2

[pipeline w1]
source = w1
target = db2
INI
# Our own copy: a rebuild of ./cdc-agent during the run changes nothing.
cp -p "$CDC_AGENT" "$WORK/cdc-agent"
CDC_AGENT=$WORK/cdc-agent
AGENT_EXE=$(readlink -f "$CDC_AGENT")
grep -q "bootstrap: nothing to change" "$WORK/bootstrap.log" ||
	{ cat "$WORK/bootstrap.log" >&2; die "bootstrap did not converge"; }

# pg_recvlogical connects like capture: TCP, as the replication role, SCRAM.
(umask 077 && printf '127.0.0.1:%s:*:cdc_user:%s\n' "$PG_PORT_src" "$(cat "$WORK/db1.pass")" >"$WORK/pgpass")
RECV_CONN="host=127.0.0.1 port=$PG_PORT_src dbname=db1 user=cdc_user replication=database"

# ---- consumers ----------------------------------------------------------------

# Prefixes capture's stderr lines with the time they were read.
stamp_lines() { local l; while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }

# With PERF_FILE set, capture runs under perf record (PERF_PID), which
# samples it until it exits.
capture_launch() { # PIPELINE LOG
	local i kids
	if [ -z "$PERF_FILE" ]; then
		"$CDC_AGENT" -c "$T" capture "$1" 2> >(stamp_lines >>"$2") >/dev/null &
		CAP_PID=$!
		return
	fi
	perf record -q -F 499 --call-graph dwarf,16384 -o "$PERF_FILE" -- \
		"$CDC_AGENT" -c "$T" capture "$1" 2> >(stamp_lines >>"$2") >/dev/null &
	PERF_PID=$!
	# perf's children: stamp_lines and, once perf is ready, capture.
	for ((i = 0; i < 500; i++)); do
		kids=()
		read -r -a kids 2>/dev/null <"/proc/$PERF_PID/task/$PERF_PID/children" || true
		for CAP_PID in "${kids[@]}"; do
			[ "$(readlink "/proc/$CAP_PID/exe" 2>/dev/null)" = "$AGENT_EXE" ] && return 0
		done
		sleep 0.01
	done
	CAP_PID=
	die "perf record did not start capture"
}

capture_stop() { # -> exit code of capture (0 under perf)
	local rc=0
	kill -TERM "$CAP_PID"
	if [ -n "$PERF_PID" ]; then
		wait "$PERF_PID" || true
		CAP_PID='' PERF_PID=''
		return 0
	fi
	wait "$CAP_PID" || rc=$?
	CAP_PID=''
	return "$rc"
}

# Waits until SLOT's confirmed_flush_lsn >= LSN while capture runs; prints the
# epoch (server clock, same host) at which it got there.
wait_confirmed() { # SLOT LSN DEADLINE_EPOCH LOG
	local t
	while :; do
		t=$(sql "SELECT bench_wait_slot('$1', '$2', 1.0)") || return 1
		[ -n "$t" ] && { printf '%s' "$t"; return 0; }
		kill -0 "$CAP_PID" 2>/dev/null || { log "capture died:"; tail -n 20 "$4" >&2; return 1; }
		awk -v d="$3" -v n="$(now)" 'BEGIN { exit !(n > d) }' &&
			{ log "slot $1 did not reach $2 within ${WAIT_MAX_SEC}s"; tail -n 20 "$4" >&2; return 1; }
	done
}

# The broker's append time (epoch s) of the last record on TOPIC: the max
# over its partitions of the last record's LogAppendTime.
last_append() { # TOPIC
	local p ms max=0
	for ((p = 0; p < PARTITIONS; p++)); do
		ms=$(timeout 60 kcat -b "127.0.0.1:$KP" -C -t "$1" -p "$p" -o -1 -c 1 -e -q -f '%T\n' 2>/dev/null) || ms=0
		[ "${ms:-0}" -gt "$max" ] && max=$ms
	done
	awk -v m="$max" 'BEGIN { printf "%.3f", m / 1000 }'
}

# CPU seconds (user + system) of PID's threads, or with "children" of its
# exited children it waited for: PostgreSQL's postmaster reaps every
# backend, so that counts walsenders once they exit.
cpu_of() { # PID [children]
	local stat
	stat=$(<"/proc/$1/stat")
	stat=${stat##*) } # from field 3 (state) on: utime is the 12th here, cutime the 14th
	awk -v s="$stat" -v hz="$CLK_TCK" -v ch="${2:-}" \
		'BEGIN { split(s, f, " "); printf "%.2f", (ch ? f[14] + f[15] : f[12] + f[13]) / hz }'
}
CLK_TCK=$(getconf CLK_TCK)
postmaster_pid() { head -n 1 "$(_pg_var src DIR)/data/postmaster.pid"; }
broker_pid() { cat "$WORK/kafka/kafka.pid"; }
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# CPU seconds the whole machine spent busy (all CPUs) since boot.
machine_cpu() { awk -v hz="$CLK_TCK" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat; }
# What the machine spent beyond the listed CPU seconds: other work on the
# machine (and the benchmark's own small helpers) during a run.
other_cpu() { # M0 M1 CPU_S...
	local m0=$1 m1=$2
	shift 2
	awk -v m="$(delta "$m0" "$m1")" -v l="$*" 'BEGIN { n = split(l, f, " "); for (i = 1; i <= n; i++) m -= f[i]; printf "%.2f", m }'
}

# Sets RESULT to "seconds peak_rss_kib cpu_seconds startup_seconds
# last_append_seconds walsender_cpu_s broker_cpu_s other_cpu_s" for one
# capture run (no subshell: the trap must know capture's pid).
RESULT=
run_capture() { # PIPELINE SLOT LSN TOPIC
	local pipe=$1 slot=$2 lsn=$3 t0 t1 hwm cpu startup logf deadline ta pm0 pm1 k0 k1 m0 m1
	logf=$WORK/capture-$pipe.log
	echo "---- run to $lsn" >>"$logf"
	pm0=$(cpu_of "$(postmaster_pid)" children)
	k0=$(cpu_of "$(broker_pid)")
	m0=$(machine_cpu)
	t0=$(now)
	deadline=$(awk -v a="$t0" -v b="$WAIT_MAX_SEC" 'BEGIN { printf "%.6f", a + b }')
	capture_launch "$pipe" "$logf"
	t1=$(wait_confirmed "$slot" "$lsn" "$deadline" "$logf") || die "capture $pipe did not confirm $lsn"
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$CAP_PID/status")
	cpu=$(cpu_of "$CAP_PID")
	k1=$(cpu_of "$(broker_pid)")
	capture_stop || die "capture $pipe exited with code $? on SIGTERM (see $logf)"
	slots_idle "'$slot'" # its walsender has exited: the postmaster counted its CPU
	pm1=$(cpu_of "$(postmaster_pid)" children)
	m1=$(machine_cpu)
	ta=$(last_append "$4")
	sleep 0.1 # let stamp_lines write the last lines
	startup=$(awk -v t0="$t0" -v run="---- run to $lsn" '
		$0 == run { on = 1; next }
		on && /streaming from slot/ { printf "%.3f", $1 - t0; found = 1; exit }
		END { if (!found) printf "nan" }' "$logf")
	RESULT=$(awk -v a="$t0" -v b="$t1" -v h="$hwm" -v c="$cpu" -v s="$startup" -v ta="$ta" \
		'BEGIN { printf "%.3f %d %s %s %.3f", b - a, h, c, s, ta - a }')
	RESULT="$RESULT $(delta "$pm0" "$pm1") $(delta "$k0" "$k1")"
	RESULT="$RESULT $(other_cpu "$m0" "$m1" "$cpu" "$(delta "$pm0" "$pm1")" "$(delta "$k0" "$k1")")"
}

# Sets RESULT to "seconds peak_rss_kib cpu_seconds - - walsender_cpu_s -
# other_cpu_s" for pg_recvlogical to --endpos.
run_recvlogical() { # SLOT PUBLICATION LSN
	local t0 t1 tf=$WORK/recvlogical.time pm0 pm1 m0 m1 cpu
	pm0=$(cpu_of "$(postmaster_pid)" children)
	m0=$(machine_cpu)
	t0=$(now)
	PGPASSFILE=$WORK/pgpass /usr/bin/time -f '%M %U %S' -o "$tf" \
		"$PG_BIN/pg_recvlogical" -d "$RECV_CONN" --slot "$1" --start --endpos "$3" \
		-o proto_version=1 -o publication_names="$2" -f /dev/null 2>>"$WORK/recvlogical.log" ||
		{ tail -n 20 "$WORK/recvlogical.log" >&2; die "pg_recvlogical failed"; }
	t1=$(now)
	slots_idle "'$1'"
	pm1=$(cpu_of "$(postmaster_pid)" children)
	m1=$(machine_cpu)
	cpu=$(awk -v tf="$(cat "$tf")" 'BEGIN { split(tf, f, " "); printf "%.2f", f[2] + f[3] }')
	RESULT=$(awk -v a="$t0" -v b="$t1" -v tf="$(cat "$tf")" -v c="$cpu" \
		'BEGIN { split(tf, f, " "); printf "%.3f %d %s - -", b - a, f[1], c }')
	RESULT="$RESULT $(delta "$pm0" "$pm1") - $(other_cpu "$m0" "$m1" "$cpu" "$(delta "$pm0" "$pm1")")"
}

# Waits until none of the slots is in use (a stopped consumer's walsender
# may take a moment to exit).
slots_idle() { # 'a', 'b', ...
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ($1) AND active")" = 0 ] && return 0
		sleep 0.1
	done
	die "slots $1 still active"
}

# ---- warm-up: capture creates its slots (snapshot_mode = never) and topics --

log "warm-up: each capture pipeline creates its slot and topic and streams a few rows"
for p in n0 n1 w0 w1; do
	capture_launch "$p" "$WORK/capture-$p.log"
	for ((i = 0; i < 600; i++)); do
		grep -q "streaming from slot" "$WORK/capture-$p.log" 2>/dev/null && break
		kill -0 "$CAP_PID" 2>/dev/null || { cat "$WORK/capture-$p.log" >&2; die "capture $p died"; }
		sleep 0.1
	done
	grep -q "created slot bench_$p" "$WORK/capture-$p.log" || die "capture $p did not create its slot"
	capture_stop || die "capture $p exited with code $? on SIGTERM"
done
sql "$(insert_sql narrow 1 20000); $(insert_sql wide 1 5000)" >/dev/null || die "warm-up rows"
WARM_LSN=$(sql "SELECT pg_current_wal_lsn()")
for p in n0 n1 w0 w1; do
	t=b$p.public.narrow
	[ "${p:0:1}" = w ] && t=b$p.public.wide
	run_capture "$p" "bench_$p" "$WARM_LSN" "$t"
	log "  warm-up $p: $RESULT"
done

# ---- measurements ----------------------------------------------------------

RESULTS=$WORK/results # lines: table rep consumer seconds rss_kib cpu_s startup_s last_append_s walsender_cpu_s broker_cpu_s other_cpu_s
: >"$RESULTS"
declare -A BYTES_PER_EVENT

# Fresh slots for TABLE's consumers, then ROWS rows written; sets LSN to the end.
LSN=
write_rows() { # TABLE ROWS BATCH LABEL
	local table=$1 rows=$2 batch=$3 prefix=${1:0:1} s e slots
	slots="'bench_${prefix}0', 'bench_${prefix}1', 'bench_${prefix}_recv'"
	slots_idle "$slots"
	sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ($slots)" >/dev/null
	sql "TRUNCATE $table" >/dev/null
	sql "CHECKPOINT" >/dev/null
	# What capture's CREATE_REPLICATION_SLOT ... NOEXPORT_SNAPSHOT makes.
	for s in "bench_${prefix}0" "bench_${prefix}1" "bench_${prefix}_recv"; do
		sql "SELECT pg_create_logical_replication_slot('$s', 'pgoutput')" >/dev/null
	done
	log "$table, $4: writing $rows rows in transactions of $batch"
	for ((s = 1; s <= rows; s += batch)); do
		e=$((s + batch - 1 < rows ? s + batch - 1 : rows))
		sql "$(insert_sql "$table" "$s" "$e")" >/dev/null
	done
	LSN=$(sql "SELECT pg_current_wal_lsn()")
	log "$table, $4: end LSN $LSN ($(sql "SELECT pg_size_pretty(pg_wal_lsn_diff('$LSN', confirmed_flush_lsn)) FROM pg_replication_slots WHERE slot_name = 'bench_${prefix}_recv'") of WAL)"
}

measure() { # TABLE ROWS BATCH REP
	local table=$1 rep=$4 prefix=${1:0:1} lsn
	write_rows "$1" "$2" "$3" "run $rep/$REPEAT"
	lsn=$LSN
	run_recvlogical "bench_${prefix}_recv" "bench_${prefix}0" "$lsn"
	log "  pg_recvlogical               s rss_kib cpu_s - - walsender_cpu_s - other_cpu_s: $RESULT"
	echo "$table $rep recvlogical $RESULT" >>"$RESULTS"
	run_capture "${prefix}0" "bench_${prefix}0" "$lsn" "b${prefix}0.public.$table"
	log "  capture json_schemas=false   s rss_kib cpu_s startup_s last_append_s walsender_cpu_s broker_cpu_s other_cpu_s: $RESULT"
	echo "$table $rep capture0 $RESULT" >>"$RESULTS"
	run_capture "${prefix}1" "bench_${prefix}1" "$lsn" "b${prefix}1.public.$table"
	log "  capture json_schemas=true    s rss_kib cpu_s startup_s last_append_s walsender_cpu_s broker_cpu_s other_cpu_s: $RESULT"
	echo "$table $rep capture1 $RESULT" >>"$RESULTS"
}

for ((rep = 1; rep <= REPEAT; rep++)); do
	measure narrow "$NARROW_ROWS" "$NARROW_BATCH" "$rep"
	measure wide "$WIDE_ROWS" "$WIDE_BATCH" "$rep"
done

# Optional: one more capture run per table and JSON mode under perf (not
# timed, not in the report): BENCH_PERF_DIR/perf-TABLE-schemasX.{data,txt}.
if [ -n "${BENCH_PERF_DIR:-}" ]; then
	command -v perf >/dev/null || die "BENCH_PERF_DIR needs perf (apt-get install linux-perf)"
	mkdir -p "$BENCH_PERF_DIR"
	for table in narrow wide; do
		prefix=${table:0:1}
		rows=$NARROW_ROWS batch=$NARROW_BATCH
		[ "$table" = wide ] && rows=$WIDE_ROWS batch=$WIDE_BATCH
		write_rows "$table" "$rows" "$batch" "profile"
		for j in 0 1; do
			f=$BENCH_PERF_DIR/perf-$table-schemas$j
			PERF_FILE=$f.data
			run_capture "$prefix$j" "bench_$prefix$j" "$LSN" "b$prefix$j.public.$table"
			PERF_FILE=
			log "  profiled capture json_schemas=$([ $j = 1 ] && echo true || echo false): $RESULT -> $f.txt"
			{
				echo "# CPU samples by thread"
				perf report -i "$f.data" --no-children --sort comm --stdio -g none 2>/dev/null
				echo "# by thread and library"
				perf report -i "$f.data" --no-children --sort comm,dso --stdio -g none \
					--percent-limit 1 2>/dev/null
				echo "# self time by thread, library and function"
				perf report -i "$f.data" --no-children --sort comm,dso,symbol --stdio -g none \
					--percent-limit 0.7 2>/dev/null
				echo "# inclusive time (self + callees) by function, % of all of capture's samples"
				perf report -i "$f.data" --children --sort symbol --stdio -g none \
					--percent-limit 2 2>/dev/null
			} >"$f.txt"
		done
	done
fi

# Size of one event (key + value + headers) on Kafka, last record of each topic.
for p in bn0 bn1 bw0 bw1; do
	t=$p.public.narrow
	[ "${p:1:1}" = w ] && t=$p.public.wide
	BYTES_PER_EVENT[$p]=$(timeout 60 kcat -b "127.0.0.1:$KP" -C -t "$t" -p 0 -o -1 -c 1 -e -q \
		-f '%K%s%h' 2>/dev/null | wc -c) || BYTES_PER_EVENT[$p]="?"
done

# ---- report ----------------------------------------------------------------

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { # TABLE CONSUMER COLUMN(4=s 5=rss 6=cpu 7=startup 8=last_append 9=walsender_cpu 10=broker_cpu 11=other_cpu) -> values, one a line
	awk -v t="$1" -v c="$2" -v k="$3" '$1 == t && $3 == c { print $k }' "$RESULTS"
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

GOAL_MET=true
GOAL_LINES=()
MAX_RSS=0
TABLE_ROWS=()
for table in narrow wide; do
	rows=$NARROW_ROWS ncols=2 prefix=n
	[ "$table" = wide ] && rows=$WIDE_ROWS ncols=$WIDE_NCOLS prefix=w
	base_rate=$(rate "$rows" "$(field "$table" recvlogical 4 | median)")
	for c in recvlogical capture0 capture1; do
		med_s=$(field "$table" "$c" 4 | median)
		med_rate=$(rate "$rows" "$med_s")
		runs=$(field "$table" "$c" 4 | awk -v n="$rows" '{ printf "%s%.0f", (NR > 1 ? " / " : ""), n / $1 }')
		rss_max_kib=$(field "$table" "$c" 5 | sort -g | tail -n 1)
		rss="$(mib "$(field "$table" "$c" 5 | median)") (max $(mib "$rss_max_kib"))"
		cpu=$(field "$table" "$c" 6 | median)
		wcpu=$(field "$table" "$c" 9 | median)
		ocpu=$(field "$table" "$c" 11 | median)
		if [ "$c" = recvlogical ]; then
			TABLE_ROWS+=("| $table ($ncols cols) | pg_recvlogical (ceiling) | $rows | $med_s | $med_rate | $runs | 1.00 | – | – | $rss | $cpu / $wcpu / – / $ocpu | – |")
			continue
		fi
		bcpu=$(field "$table" "$c" 10 | median)
		js=false
		[ "$c" = capture1 ] && js=true
		r=$(ratio "$med_rate" "$base_rate")
		app_s=$(field "$table" "$c" 8 | median)
		app_rate=$(rate "$rows" "$app_s")
		cpu="$cpu / $wcpu / $bcpu / $ocpu ($(awk -v a="$cpu" -v b="$wcpu" -v c="$bcpu" -v s="$app_s" \
			'BEGIN { printf "%.1f", (a + b + c) / s }') CPUs busy; capture $(awk -v c="$cpu" -v n="$rows" \
			'BEGIN { printf "%.1f", 1e6 * c / n }') µs/row)"
		bytes=${BYTES_PER_EVENT[b$prefix${c: -1}]}
		TABLE_ROWS+=("| $table ($ncols cols) | capture, json_schemas = $js | $rows | $med_s | $med_rate | $runs | **$r** | $app_s | $app_rate ($(ratio "$app_rate" "$base_rate")) | $rss | $cpu | $bytes |")
		((rss_max_kib > MAX_RSS)) && MAX_RSS=$rss_max_kib
		if awk -v r="$r" 'BEGIN { exit !(r >= 0.5) }'; then
			GOAL_LINES+=("- $table, json_schemas = $js: $r × pg_recvlogical's rate — met")
		else
			GOAL_LINES+=("- $table, json_schemas = $js: $r × pg_recvlogical's rate — **not met**")
			GOAL_MET=false
		fi
	done
done
if ((MAX_RSS < 64 * 1024)); then
	GOAL_LINES+=("- capture's peak RSS: $(mib "$MAX_RSS") MiB at most over all runs (limit 64 MiB) — met")
else
	GOAL_LINES+=("- capture's peak RSS: $(mib "$MAX_RSS") MiB at most over all runs (limit 64 MiB) — **not met**")
	GOAL_MET=false
fi
STARTUP=$(awk '$3 ~ /^capture/ { print $7 }' "$RESULTS" | median)

cmd="NARROW_ROWS=$NARROW_ROWS NARROW_BATCH=$NARROW_BATCH WIDE_ROWS=$WIDE_ROWS WIDE_BATCH=$WIDE_BATCH REPEAT=$REPEAT scripts/bench-capture.sh"
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_total=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kafka_v=$(cat /var/cache/cdc-agent/dist/kafka-dist.version 2>/dev/null || echo "?")
rdkafka_v=$(pkg-config --modversion rdkafka 2>/dev/null || echo "?")
pg_v=$("$PG_BIN/postgres" --version | awk '{ print $3 }')
# Read-only git (no index refresh): the commit, and whether agent/ differs from it.
agent_v=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
[ -z "$(git -C "$REPO_ROOT" --no-optional-locks status --porcelain -- agent 2>/dev/null)" ] ||
	agent_v="$agent_v + uncommitted changes in agent/"
agent_v="$agent_v, binary built $(date -u -r "$AGENT_EXE" '+%Y-%m-%d %H:%M UTC')"

SECTION_FILE=$WORK/section.md
{
	echo "$SECTION"
	echo
	echo "Produced by \`$cmd\`"
	echo "on $(date -u '+%Y-%m-%d %H:%M UTC'), agent at \`$agent_v\`."
	echo
	echo "Machine: $(nproc) CPUs ($cpu_model), $mem_total memory, $(uname -sr). PostgreSQL $pg_v"
	echo "(private cluster, \`fsync = off\`, defaults otherwise), Kafka $kafka_v (one broker, ZooKeeper mode,"
	echo "heap \`${KAFKA_HEAP_OPTS}\`, topics of $PARTITIONS partitions), librdkafka $rdkafka_v. Everything runs on"
	echo "this one machine: the broker, PostgreSQL's walsender and the consumer share its CPUs. Load"
	echo "average (1 min) when the run started: $LOAD_START."
	echo
	echo "Method: for each table and each of $REPEAT runs, fresh pgoutput slots are created, then the rows are"
	echo "written (\`INSERT ... SELECT generate_series\`, $NARROW_BATCH narrow / $WIDE_BATCH wide rows per transaction)"
	echo "and the end LSN noted. Each consumer in turn then reads that WAL from its own slot and is timed from"
	echo "its start (process start included) until it has consumed everything: \`pg_recvlogical --endpos\`"
	echo "(pgoutput proto 1 to /dev/null) until it exits; \`cdc-agent capture\` (\`snapshot_mode = never\`) until"
	echo "its slot's \`confirmed_flush_lsn\` reaches the end LSN (polled every 50 ms), which capture reports"
	echo "only for transactions Kafka acknowledged (\`acks = all\`, idempotent producer). Medians of $REPEAT runs;"
	echo "*runs* lists each run's rate."
	echo
	echo "- *s to last append*: from capture's start to the broker's append of the last record (its"
	echo "  LogAppendTime, latest over the partitions). Capture sends its flush LSN to PostgreSQL once a"
	echo "  second (\`STATUS_INTERVAL_SEC\`), so the confirmed time above lags the acknowledgements by up to"
	echo "  1 s; this column is the throughput without that delay."
	echo "- *peak RSS*: VmHWM of the consumer (capture: read just before SIGTERM; pg_recvlogical: GNU time)."
	echo "- *CPU s*: user + system time of the consumer process (all threads) / of its walsender (counted"
	echo "  by the postmaster when it exits) / of the Kafka broker's JVM / of everything else on the machine"
	echo "  (the benchmark's helpers, and other work: a check that nothing else competed) during the run;"
	echo "  *CPUs busy* is the sum of the first three over the time to the last append, out of $(nproc)."
	echo "- *bytes/event*: key + value + headers of one record on Kafka."
	echo "- capture's startup (process start to \`START_REPLICATION\`: connections, topic metadata) took"
	echo "  $STARTUP s (median), included in its times."
	echo
	echo "| table | consumer | rows | s to confirmed | rows/s | runs (rows/s) | × pg_recvlogical | s to last append | rows/s to last append (×) | peak RSS MiB | CPU s: consumer / walsender / broker / other | bytes/event |"
	echo "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|---:|"
	printf '%s\n' "${TABLE_ROWS[@]}"
	echo
	if $GOAL_MET; then
		echo "Goal (from the issue): capture at least half of pg_recvlogical's rate with RSS under 64 MiB — **met**:"
	else
		echo "Goal (from the issue): capture at least half of pg_recvlogical's rate with RSS under 64 MiB — **not met**:"
	fi
	echo
	printf '%s\n' "${GOAL_LINES[@]}"
} >"$SECTION_FILE"

# Rewrite only our section of BENCHMARKS.md (create the file if needed).
. "$REPO_ROOT/scripts/lib/bench-section.sh"
bench_write_section "$SECTION" "$SECTION_FILE" "$BENCH_OUT"
log "wrote section \"$SECTION\" of $BENCH_OUT"
cat "$SECTION_FILE"
