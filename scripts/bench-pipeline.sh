#!/usr/bin/env bash
# scripts/bench-pipeline.sh: end-to-end figures of cdc-agent (capture + Kafka +
# apply) against PostgreSQL's own logical replication, side by side in one run.
#
#   scripts/bench-pipeline.sh       (as root, after `make`; `make bench` runs it)
#
# On one machine, loopback only: one private PostgreSQL 15 cluster (db1 the
# source; db2 cdc-agent's target; db3 the target of a native subscription
# from db1; db4 cdc-agent's target with json_schemas = true), a ZooKeeper-mode
# Kafka broker (topics of 1 partition), and a topology bootstrapped by the
# agent (tests/lib/*.sh start the servers, as in tests/integration/80_pipeline.sh).
# Each system has its own tables, and only the system being measured runs:
# the other's processes are stopped (capture and apply) or its subscription
# disabled, and each run starts once the system has caught up (a TRUNCATE and
# a marker row written at the source have reached the target).
#
#   1. Throughput: ROWS rows (narrow table: id int primary key, v int) written
#      in transactions of TXN_ROWS rows as fast as one session can, timed from
#      the writer's first statement (server clock) to the commit of the last
#      row in the target (clock_timestamp() taken by a deferred constraint
#      trigger on that row, which fires at commit; same clock), so polling
#      adds nothing.  REPEAT runs per system, alternating; medians.
#      json_schemas = true: JSON_REPEAT runs (0 skips them).  [pipeline]
#      consistency = table (each table's changes in batches of their own, no
#      source transaction kept whole): TABLE_REPEAT runs, each paired with
#      p0's consistency = transaction run of the same repetition, back to
#      back, the order alternating; the median of the pairs' ratios is what
#      transactions cost (issue #17: at least 0.9).
#   2. Latency: pgbench writes rows at a fixed rate for LAT_SEC s, at LOW_RATE
#      rows/s (single-row transactions) and at half of native replication's
#      median throughput (LAT_TX_RATE transactions/s of rate/LAT_TX_RATE rows).
#      Each row carries ts = clock_timestamp() at its insert; in the target a
#      BEFORE INSERT trigger sets arrived = clock_timestamp() (ENABLE ALWAYS,
#      so it fires under the subscription too).  Latency to insert = arrived
#      - ts, for both; to commit = the target row's commit timestamp
#      (track_commit_timestamp = on) - ts, for cdc-agent only (native apply
#      stamps its commits with the origin's time); p50/p99 by percentile_cont
#      over every row of the run.
#   3. Peak RSS (VmHWM) of capture and apply, read before each SIGTERM; and the
#      CPU time of every process on the path during the throughput runs.
# The reference stack (BENCH_CONNECT, scripts/lib/bench-connect.sh): a Kafka
# Connect worker with Debezium's PostgreSQL source and JDBC sink, db1 -> db5,
# on the same broker, through the same runs: its worker is started once,
# with both connectors, timed to the first row in the target (start -> first
# row), and its connectors are stopped while the others run.  At the high
# latency rate, when its throughput is below that rate (its backlog would
# only grow), it runs at half of its own throughput instead, and the section
# says so.  Its CPU: the worker's JVM, its walsender, the sink's backends,
# the broker; peak RSS: the JVM's VmHWM.
# The results go into the section "## End-to-end pipeline" of
# docs/BENCHMARKS.md (only that section is rewritten) and to stdout.
#
# Both systems reach PostgreSQL over its Unix-domain socket (the
# subscription's conninfo and the topology's host name the socket directory),
# and each system first gets WARM_RUNS untimed throughput runs: Kafka's JVM
# spends its first few hundred thousand records compiling its hot paths (C1/C2
# compiler threads used more CPU than its request handlers in the first run),
# which a running broker has long done; "sustained" means after that.
#
# Env: ROWS (200000) TXN_ROWS (1000) REPEAT (3) JSON_REPEAT (REPEAT) TABLE_REPEAT (REPEAT) WARM_RUNS (2)
#      LAT_SEC (20) LAT_WARM_SEC (20: one untimed latency run per system at the
#      high rate first, when WARM_RUNS > 0) LOW_RATE (1000) LAT_TX_RATE (1000) CDC_AGENT (./cdc-agent)
#      PG_BIN (/usr/lib/postgresql/15/bin) BENCH_OUT (docs/BENCHMARKS.md)
#      BENCH_KEEP_LOGS=1 keeps a copy of the work directory (logs).
#      BENCH_CONNECT (auto): auto runs the Kafka Connect stack when
#      scripts/connect-dist.sh can build or find its worker (Java 17, mvn),
#      1 requires it, 0 leaves it out.  CONNECT_BENCH_HEAP (-Xms256m -Xmx2g);
#      CONNECT_SOURCE_PROPS, CONNECT_SINK_PROPS: more connector settings
#      (key=value lines, e.g. producer.override.batch.size=262144), listed in
#      the section.
#      BENCH_COMPRESSION: the topology's [kafka] compression (default: the
#      agent's, lz4).  BENCH_SAMPLE=1: during each cdc-agent latency run,
#      sample-*.log in the work directory gets, every 0.5 s, the rows written
#      at the source, in Kafka (high watermark) and in the target (where a
#      backlog sits); BENCH_SAMPLE=perf also records the whole machine (perf
#      record -a) for 5 s of it, and capture and apply with DWARF call
#      graphs; BENCH_SAMPLE=strace counts capture's and apply's system calls
#      for 5 s.  BENCH_BREAKDOWN=create|append: after each cdc-agent latency
#      run, p50/p90/p99 of each stage of a row's way (source insert ->
#      source commit -> the record's Kafka timestamp, capture's produce
#      call (create) or the broker's append (append) -> target insert ->
#      target commit).
#      BENCH_PERF (auto): 1, or auto when perf works here, adds one more
#      throughput run of cdc-agent, not timed, with apply and capture sampled
#      by perf record (perf-capture.data is kept, not summed up); where apply's CPU goes is summed up in the section, the full
#      report is BENCH_PERF_DIR/perf-apply.txt (default: the work directory,
#      removed at the end).  0 skips it.
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CDC_AGENT=${CDC_AGENT:-$REPO_ROOT/cdc-agent}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROWS=${ROWS:-200000}
TXN_ROWS=${TXN_ROWS:-1000}
REPEAT=${REPEAT:-3}
JSON_REPEAT=${JSON_REPEAT:-$REPEAT}
TABLE_REPEAT=${TABLE_REPEAT:-$REPEAT}
LAT_SEC=${LAT_SEC:-20}
LAT_WARM_SEC=${LAT_WARM_SEC:-20}
LOW_RATE=${LOW_RATE:-1000}
LAT_TX_RATE=${LAT_TX_RATE:-1000}
WARM_RUNS=${WARM_RUNS:-2}
BENCH_OUT=${BENCH_OUT:-$REPO_ROOT/docs/BENCHMARKS.md}
SECTION="## End-to-end pipeline"
WAIT_MAX_SEC=300 # a system that takes longer than this to deliver a run fails it

log() { printf 'bench-pipeline: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the cluster runs as the postgres user)"
[ -x "$CDC_AGENT" ] || die "$CDC_AGENT missing: run make first"
[ -x "$PG_BIN/pgbench" ] || die "$PG_BIN/pgbench missing"
for v in ROWS TXN_ROWS REPEAT LAT_SEC LAT_WARM_SEC LOW_RATE LAT_TX_RATE; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
[[ $JSON_REPEAT =~ ^[0-9]+$ ]] || die "JSON_REPEAT must be a number"
[[ $TABLE_REPEAT =~ ^[0-9]+$ ]] || die "TABLE_REPEAT must be a number"
[[ $WARM_RUNS =~ ^[0-9]+$ ]] || die "WARM_RUNS must be a number"
case ${BENCH_BREAKDOWN:-} in '' | create | append) ;; *) die "BENCH_BREAKDOWN must be create or append" ;; esac
BENCH_PERF=${BENCH_PERF:-auto}
case $BENCH_PERF in
auto) if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then BENCH_PERF=1; else BENCH_PERF=0; fi ;;
1) command -v perf >/dev/null || die "BENCH_PERF=1 needs perf (apt-get install linux-perf)" ;;
0) ;;
*) die "BENCH_PERF must be auto, 0 or 1" ;;
esac

# The test harness: pg.sh, kafka.sh and capture_env_down (stops what
# bench_env_up starts).  Its functions are not written for set -e: they are
# only called in || contexts here.
export PG_BIN REPO_ROOT CDC_AGENT
# shellcheck source=SCRIPTDIR/../tests/lib/capture_env.sh
. "$REPO_ROOT/tests/lib/capture_env.sh"
# shellcheck source=SCRIPTDIR/lib/bench-connect.sh
. "$REPO_ROOT/scripts/lib/bench-connect.sh"

# ---- processes we start, and cleanup -----------------------------------------

CAP_PID='' APP_PID='' PERF_PID='' PGBENCH_PID=''
AGENT_EXE=''
stop_pid() { # PID EXE: SIGTERM, then SIGKILL after 10 s, if PID still runs EXE
	local i
	[ -n "$1" ] && [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ] || return 0
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < 100; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	[ -n "$PGBENCH_PID" ] && stop_pid "$PGBENCH_PID" "$(readlink -f "$PG_BIN/pgbench")"
	[ -n "$PERF_PID" ] && { kill -INT "$PERF_PID" 2>/dev/null; wait "$PERF_PID" 2>/dev/null; }
	stop_pid "$CAP_PID" "$AGENT_EXE"
	stop_pid "$APP_PID" "$AGENT_EXE"
	connect_down >/dev/null 2>&1
	if [ "${BENCH_KEEP_LOGS:-}" = 1 ] && [ -n "${WORK:-}" ]; then
		cp -a "$WORK" "$WORK.kept" 2>/dev/null && log "logs kept in $WORK.kept"
	fi
	capture_env_down >/dev/null 2>&1
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { printf '%s' "$EPOCHREALTIME"; }
q() { pg_psql src "$1" "$2"; } # DB SQL: prints rows; non-zero on error
calc() { awk "BEGIN { $1 }"; }   # calc 'printf "%.1f", 1/3'

# ---- environment -----------------------------------------------------------------

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
T_BEGIN=$SECONDS

NARROW_COLS="id int PRIMARY KEY, v int"
LAT_COLS="id bigint PRIMARY KEY, v int, ts timestamptz DEFAULT clock_timestamp(), arrived timestamptz"
NOVAC="WITH (autovacuum_enabled = off)"
# Target side: the trigger that records each row's arrival (lat); a deferred
# trigger, so fired at commit, that notes when the last row of a throughput
# run committed (narrow: bench_done); bench_wait(query, max_s) runs the query
# until it returns a value (NULL after max_s).  Commit timestamps cannot time
# native replication: its apply worker stamps each transaction with the
# origin's commit time (replication origins), so they are only used for
# cdc-agent's latency to commit.
TARGET_SQL="
CREATE TABLE narrow ($NARROW_COLS) $NOVAC;
CREATE TABLE lat ($LAT_COLS) $NOVAC;
CREATE FUNCTION set_arrived() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN NEW.arrived := clock_timestamp(); RETURN NEW; END \$\$;
CREATE TRIGGER lat_arrived BEFORE INSERT ON lat FOR EACH ROW EXECUTE FUNCTION set_arrived();
ALTER TABLE lat ENABLE ALWAYS TRIGGER lat_arrived;
CREATE TABLE bench_done (tbl text, id bigint, at timestamptz);
CREATE FUNCTION note_done() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS \$\$
BEGIN INSERT INTO public.bench_done VALUES (TG_TABLE_NAME, NEW.id, clock_timestamp()); RETURN NULL; END \$\$;
CREATE CONSTRAINT TRIGGER narrow_done AFTER INSERT ON narrow DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW WHEN (NEW.id = $ROWS) EXECUTE FUNCTION note_done();
ALTER TABLE narrow ENABLE ALWAYS TRIGGER narrow_done;
CREATE FUNCTION bench_wait(q text, max_s float8) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE deadline timestamptz := clock_timestamp() + max_s * interval '1 second'; r float8;
BEGIN
	LOOP
		EXECUTE q INTO r;
		IF r IS NOT NULL THEN RETURN r; END IF;
		EXIT WHEN clock_timestamp() >= deadline;
		PERFORM pg_sleep(0.02);
	END LOOP;
	RETURN NULL;
END \$\$;"

log "starting PostgreSQL and Kafka (ZooKeeper mode, topics of 1 partition), bootstrapping the topology"
WORK=$(mktemp -d /tmp/cdc-bench-pipeline.XXXXXX)
connect_dist
bench_env_up() {
	local dist zk
	dist=$("$REPO_ROOT/scripts/kafka-dist.sh" 2>"$WORK/kafka-dist.log") || return 1
	kafka_unpack "$dist" "$WORK/kafka" >/dev/null || return 1
	zk=$(free_port)
	KP=$(free_port)
	while [ "$KP" = "$zk" ]; do KP=$(free_port); done
	zk_start "$WORK/kafka" "$zk" >>"$WORK/servers.log" 2>&1 || return 1
	kafka_start_zk "$WORK/kafka" "$KP" "$zk" >>"$WORK/servers.log" 2>&1 || return 1
	pg_cluster_create src >>"$WORK/servers.log" 2>&1 || return 1
	# The harness logs every statement (log_statement = all, with every
	# parameter): a benchmark must not.  Commit timestamps time the runs.
	q postgres "ALTER SYSTEM SET log_statement = 'none'" &&
		q postgres "ALTER SYSTEM SET log_connections = off" &&
		q postgres "ALTER SYSTEM SET track_commit_timestamp = on" &&
		q postgres "CREATE DATABASE db1" && q postgres "CREATE DATABASE db3" || return 1
	q db1 "CREATE TABLE narrow_cdc ($NARROW_COLS) $NOVAC;
		CREATE TABLE narrow_lr ($NARROW_COLS) $NOVAC;
		CREATE TABLE narrow_js ($NARROW_COLS) $NOVAC;
		CREATE TABLE narrow_tb ($NARROW_COLS) $NOVAC;
		CREATE TABLE lat_cdc (${LAT_COLS/id bigint/id bigint GENERATED BY DEFAULT AS IDENTITY}) $NOVAC;
		CREATE TABLE lat_lr (${LAT_COLS/id bigint/id bigint GENERATED BY DEFAULT AS IDENTITY}) $NOVAC;
		CREATE TABLE narrow_dbz ($NARROW_COLS) $NOVAC;
		CREATE TABLE lat_dbz (${LAT_COLS/id bigint/id bigint GENERATED BY DEFAULT AS IDENTITY}) $NOVAC;" \
		>/dev/null || return 1
	if [ "$BENCH_CONNECT" = 1 ]; then q postgres "CREATE DATABASE db5" >/dev/null || return 1; fi
	(umask 077 && echo 'cdc pw' >"$WORK/db1.pass" && echo 'tgt pw' >"$WORK/tgt.pass")
	T=$WORK/topo.ini
	# bootstrap must only provision the databases here: with manage_units
	# (agents that know it), it would also install users and systemd units
	# on this host.
	local units='' table_pipe='' tx_pipe=''
	grep -aq manage_units "$CDC_AGENT" && units='manage_units = false'
	# An agent that knows the key (else its apply was table's anyway).
	grep -aq 'needs source %s.s transaction_metadata' "$CDC_AGENT" &&
		table_pipe='consistency = table' tx_pipe='consistency = transaction'
	cat >"$T" <<EOF
[agent]
state_dir = $WORK/state
$units

[kafka]
bootstrap_servers = 127.0.0.1:$KP
partitions = 1
${BENCH_COMPRESSION:+compression = $BENCH_COMPRESSION}

[source s0]
host = $PG_SOCK_src
port = $PG_PORT_src
dbname = db1
user = cdc_user
password_file = $WORK/db1.pass
admin_host = $PG_SOCK_src
publication = bench_s0
slot = bench_s0
tables = public.narrow_cdc, public.lat_cdc
topic_prefix = b0
snapshot_mode = never
json_schemas = false

[source s1]
host = $PG_SOCK_src
port = $PG_PORT_src
dbname = db1
user = cdc_user
password_file = $WORK/db1.pass
admin_host = $PG_SOCK_src
publication = bench_s1
slot = bench_s1
tables = public.narrow_js
topic_prefix = b1
snapshot_mode = never
json_schemas = true

[target db2]
host = $PG_SOCK_src
port = $PG_PORT_src
dbname = db2
user = db2_user
password_file = $WORK/tgt.pass
admin_host = $PG_SOCK_src

[target db4]
host = $PG_SOCK_src
port = $PG_PORT_src
dbname = db4
user = db4_user
password_file = $WORK/tgt.pass
admin_host = $PG_SOCK_src

[pipeline p0]
source = s0
target = db2
$tx_pipe

[pipeline p1]
source = s1
target = db4
$tx_pipe

[source s2]
host = $PG_SOCK_src
port = $PG_PORT_src
dbname = db1
user = cdc_user
password_file = $WORK/db1.pass
admin_host = $PG_SOCK_src
publication = bench_s2
slot = bench_s2
tables = public.narrow_tb
topic_prefix = b2
snapshot_mode = never
json_schemas = false

[pipeline p2]
source = s2
target = db2
$table_pipe
EOF
	# Nothing but databases: refuse if the plan touches this host.
	"$CDC_AGENT" -c "$T" plan >"$WORK/plan.log" 2>&1
	if grep -q '^host:' "$WORK/plan.log"; then
		grep '^host:' "$WORK/plan.log" >&2
		log "bootstrap would change this host (above): refusing"
		return 1
	fi
	# The first bootstrap sets wal_level and asks for a restart (exit 4).
	"$CDC_AGENT" -c "$T" bootstrap >"$WORK/bootstrap-1.log" 2>&1
	pg_cluster_restart src || return 1
	"$CDC_AGENT" -c "$T" bootstrap >"$WORK/bootstrap.log" 2>&1
}
bench_env_up || { tail -n 30 "$WORK"/*.log >&2 2>/dev/null; die "environment did not come up"; }
grep -q "bootstrap: nothing to change" "$WORK/bootstrap.log" ||
	{ cat "$WORK/bootstrap.log" >&2; die "bootstrap did not converge"; }
[ "$(q db1 "SHOW track_commit_timestamp")" = on ] || die "track_commit_timestamp is not on"
# Our own copy: a rebuild of ./cdc-agent during the run changes nothing.
cp -p "$CDC_AGENT" "$WORK/cdc-agent"
AGENT_BUILT=$(date -u -r "$CDC_AGENT" '+%Y-%m-%d %H:%M UTC')
CDC_AGENT=$WORK/cdc-agent
AGENT_EXE=$(readlink -f "$CDC_AGENT")

# Target tables: the same for all three targets (named by the system's source
# table), owned by the target's user (apply only needs DML on them).
TARGETS=("db2 cdc db2_user" "db3 lr postgres" "db4 js db4_user")
[ "$BENCH_CONNECT" = 1 ] && TARGETS+=("db5 dbz postgres")
for t in "${TARGETS[@]}"; do
	read -r db sfx owner <<<"$t"
	sql=${TARGET_SQL//TABLE narrow (/TABLE narrow_$sfx (}
	sql=${sql//TABLE lat (/TABLE lat_$sfx (}
	sql=${sql//ON lat /ON lat_$sfx }
	sql=${sql//ON narrow /ON narrow_$sfx }
	sql=${sql//ALTER TABLE narrow /ALTER TABLE narrow_$sfx }
	sql=${sql//ALTER TABLE lat /ALTER TABLE lat_$sfx }
	q "$db" "$sql" >/dev/null || die "target tables in $db"
	if [ "$owner" != postgres ]; then
		q "$db" "ALTER TABLE narrow_$sfx OWNER TO $owner" >/dev/null
		[ "$sfx" = cdc ] && q "$db" "ALTER TABLE lat_$sfx OWNER TO $owner" >/dev/null
	fi
done

# consistency = table's target table, beside narrow_cdc in db2.
q db2 "CREATE TABLE narrow_tb ($NARROW_COLS) $NOVAC;
	CREATE CONSTRAINT TRIGGER narrow_done AFTER INSERT ON narrow_tb DEFERRABLE INITIALLY DEFERRED
		FOR EACH ROW WHEN (NEW.id = $ROWS) EXECUTE FUNCTION note_done();
	ALTER TABLE narrow_tb ENABLE ALWAYS TRIGGER narrow_done;
	ALTER TABLE narrow_tb OWNER TO db2_user" >/dev/null || die "narrow_tb in db2"

# Native logical replication, db1 -> db3.  The slot first, then the
# subscription without creating one: a subscription to the same cluster
# otherwise hangs in CREATE SUBSCRIPTION (../shared/TESTING.md).
q db1 "CREATE PUBLICATION lr_pub FOR TABLE narrow_lr, lat_lr" >/dev/null
q db1 "SELECT pg_create_logical_replication_slot('bench_lr', 'pgoutput')" >/dev/null
q db3 "CREATE SUBSCRIPTION lr_sub CONNECTION 'host=$PG_SOCK_src port=$PG_PORT_src dbname=db1 user=postgres'
	PUBLICATION lr_pub WITH (create_slot = false, slot_name = 'bench_lr', copy_data = false, enabled = false)" \
	>/dev/null || die "CREATE SUBSCRIPTION"

if [ "$BENCH_CONNECT" = 1 ]; then
	connect_setup "$PG_PORT_src" || die "Kafka Connect's role, slot, publication or topics"
fi

# ---- the systems ----------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)
cpu_of() { # PID[,PID...] -> CPU seconds (user + system, all threads, summed); 0 for one gone
	local stat p t=0
	for p in ${1//,/ }; do
		stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		t=$(awk -v s="$stat" -v hz="$CLK_TCK" -v t="$t" 'BEGIN { split(s, f, " "); printf "%.2f", t + (f[12] + f[13]) / hz }')
	done
	echo "$t"
}
# CPU seconds the whole machine spent busy (all CPUs) since boot.
machine_cpu() { awk -v hz="$CLK_TCK" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat; }
hwm_of() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
broker_pid() { cat "$WORK/kafka/kafka.pid"; }

RUNNING='' # cdc-p0 | cdc-p1 | cdc-p2 | lr | connect | ''
RSS_LOG=$WORK/rss # lines: phase pipeline capture_kib apply_kib
: >"$RSS_LOG"
PHASE='' STARTED_IN=''

cdc_start() { # PIPELINE (p0 | p1 | p2)
	local p=$1 src=s${1#p} i
	echo "---- start $(date -u +%T)" >>"$WORK/capture-$p.log"
	echo "---- start $(date -u +%T)" >>"$WORK/apply-$p.log"
	"$CDC_AGENT" -c "$T" capture "$p" >>"$WORK/capture-$p.log" 2>&1 &
	CAP_PID=$!
	# apply subscribes to topics capture creates at its start
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -c "streaming from slot" "$WORK/capture-$p.log")" -ge "$(grep -c -- "---- start" "$WORK/capture-$p.log")" ] && break
		kill -0 "$CAP_PID" 2>/dev/null || { tail -n 20 "$WORK/capture-$p.log" >&2; die "capture $p died"; }
		sleep 0.1
	done
	"$CDC_AGENT" -c "$T" apply "$p" >>"$WORK/apply-$p.log" 2>&1 &
	APP_PID=$!
	RUNNING=cdc-$p
	STARTED_IN=$PHASE
	log "  started capture $p (pid $CAP_PID) and apply $p (pid $APP_PID) [source $src]"
}
cdc_stop() {
	local p=${RUNNING#cdc-} rc=0
	echo "$STARTED_IN $p $(hwm_of "$CAP_PID") $(hwm_of "$APP_PID")" >>"$RSS_LOG"
	kill -TERM "$CAP_PID" "$APP_PID"
	wait "$CAP_PID" || rc=$?
	wait "$APP_PID" || rc=$((rc ? rc : $?))
	CAP_PID='' APP_PID='' RUNNING=''
	[ "$rc" = 0 ] || die "capture or apply $p exited with code $rc on SIGTERM (see $WORK/*-$p.log)"
}
lr_enable() {
	q db3 "ALTER SUBSCRIPTION lr_sub ENABLE" >/dev/null
	RUNNING=lr
}
lr_disable() {
	local i
	q db3 "ALTER SUBSCRIPTION lr_sub DISABLE" >/dev/null
	for ((i = 0; i < 100; i++)); do
		[ "$(q db1 "SELECT active FROM pg_replication_slots WHERE slot_name = 'bench_lr'")" = f ] && break
		sleep 0.1
	done
	RUNNING=''
}
stop_running() {
	case $RUNNING in
	cdc-*) cdc_stop ;;
	lr) lr_disable ;;
	connect) connect_halt || die "Kafka Connect's connectors did not stop (see $CONNECT_DIR/connect.log)"; RUNNING='' ;;
	esac
}
use_system() { # cdc-p0 | cdc-p1 | cdc-p2 | lr | connect
	[ "$RUNNING" = "$1" ] && return 0
	stop_running
	case $1 in
	cdc-*) cdc_start "${1#cdc-}" ;;
	lr) lr_enable ;;
	connect)
		connect_resume || die "Kafka Connect's connectors did not resume (see $CONNECT_DIR/connect.log)"
		RUNNING=connect
		;;
	esac
}
alive() { # the running system's processes still run (a subscription always does)
	case $RUNNING in
	cdc-*) kill -0 "$CAP_PID" 2>/dev/null && kill -0 "$APP_PID" 2>/dev/null ;;
	connect) _kl_alive "$(connect_pid)" ;;
	*) true ;;
	esac
}

# Runs QUERY in DB until it returns a value, and prints it.
wait_for() { # DB QUERY MAX_SEC WHAT
	local deadline=$((SECONDS + $3)) t
	while :; do
		t=$(q "$1" "SELECT bench_wait(\$q\$$2\$q\$, 1.0)") || return 1
		[ -n "$t" ] && { printf '%s' "$t"; return 0; }
		alive || { log "$RUNNING died"; tail -n 20 "$WORK"/*-"${RUNNING#cdc-}".log >&2; return 1; }
		((SECONDS < deadline)) || { log "$4 not in $1 within $3 s"; return 1; }
	done
}
wait_row() { wait_for "$1" "SELECT 1 FROM $2 WHERE id = $3" "$4" "row $3 of $2"; } # DB TABLE KEY MAX_SEC
# The commit time (epoch s) of row ROWS of a throughput run.
wait_done() { wait_for "$1" "SELECT extract(epoch FROM at) FROM bench_done WHERE tbl = '$2' AND id = $ROWS" "$3" "row $ROWS of $2"; }

MARK=0
# Empties TABLE at the source and waits until the truncate and a marker row
# after it reached the target: the system has caught up.
catch_up() { # SRC_TABLE DB DST_TABLE
	MARK=$((MARK + 1))
	q db1 "TRUNCATE $1; INSERT INTO $1 (id, v) VALUES (-$MARK, 0)" >/dev/null
	wait_row "$2" "$3" "-$MARK" "$WAIT_MAX_SEC" >/dev/null || die "$RUNNING did not catch up on $1"
	[ "$(q "$2" "SELECT count(*) FROM $3")" = 1 ] || die "$3 in $2 not emptied by the truncate"
	q "$2" "DELETE FROM bench_done" >/dev/null
}

# Server-side PIDs on the path, for CPU accounting.
# cdc-agent's path (capture apply walsender apply's-backend broker) of the
# running pipeline into target DB.
cdc_pids() { echo "$CAP_PID $APP_PID $(walsender_pid "bench_s${RUNNING#cdc-p}") $(apply_backend_pid "$1") $(broker_pid)"; }
walsender_pid() { q db1 "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$1'"; }
lr_worker_pid() { q db3 "SELECT pid FROM pg_stat_subscription WHERE subname = 'lr_sub' AND relid IS NULL"; }
apply_backend_pid() { q "$1" "SELECT pid FROM pg_stat_activity WHERE datname = '$1' AND application_name = 'cdc-agent' AND backend_type = 'client backend' LIMIT 1"; }

# ---- throughput ---------------------------------------------------------------

LOAD_SQL=$WORK/load.sql # ROWS rows in transactions of TXN_ROWS, table name @T@
{
	echo "SELECT extract(epoch FROM clock_timestamp());"
	for ((s = 1; s <= ROWS; s += TXN_ROWS)); do
		e=$((s + TXN_ROWS - 1 < ROWS ? s + TXN_ROWS - 1 : ROWS))
		echo "INSERT INTO @T@ SELECT g, g FROM generate_series($s, $e) g;"
	done
	echo "SELECT extract(epoch FROM clock_timestamp());"
} >"$LOAD_SQL"

TP=$WORK/throughput # lines: system rep seconds write_s cpu: agent_or_worker... (see below)
: >"$TP"
# One throughput run of the running system: SYSTEM LABEL SRC_TABLE DB DST_TABLE.
# Appends "LABEL rep seconds write_seconds cpu_a cpu_b cpu_c cpu_d cpu_e" to
# $TP, where the CPU seconds are: cdc-agent: capture apply walsender
# target-backend broker machine; native: - apply-worker walsender - - machine;
# Connect: JVM - walsender sink's-backends broker machine
# (machine: all CPUs busy, whatever ran, until the commit was seen).
throughput_run() {
	local sys=$1 label=$2 src=$3 db=$4 dst=$5 rep=$6 out t0 tw t1 n pids=() c0=() c1=() i m0
	use_system "$sys"
	catch_up "$src" "$db" "$dst"
	if [ "$sys" = lr ]; then
		pids=(0 "$(lr_worker_pid)" "$(walsender_pid bench_lr)" 0 0)
	elif [ "$sys" = connect ]; then
		pids=("$(connect_pid)" 0 "$(walsender_pid "$CONNECT_SLOT")" "$(connect_backends)" "$(broker_pid)")
	else
		read -r -a pids <<<"$(cdc_pids "$db")"
	fi
	for i in "${!pids[@]}"; do c0[i]=$(cpu_of "${pids[i]:-0}"); done
	m0=$(machine_cpu)
	out=$("$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres \
		-d db1 -f <(sed "s/@T@/$src/" "$LOAD_SQL")) || die "load on $src"
	t0=$(head -n 1 <<<"$out")
	tw=$(tail -n 1 <<<"$out")
	t1=$(wait_done "$db" "$dst" "$WAIT_MAX_SEC") || die "$label did not deliver row $ROWS"
	for i in "${!pids[@]}"; do c1[i]=$(calc "printf \"%.2f\", $(cpu_of "${pids[i]:-0}") - ${c0[i]}"); done
	c1+=("$(calc "printf \"%.2f\", $(machine_cpu) - $m0")")
	n=$(q "$db" "SELECT count(*) FROM $dst WHERE id > 0")
	[ "$n" = "$ROWS" ] || die "$label: $n rows in $dst, want $ROWS"
	echo "$label $rep $(calc "printf \"%.3f %.3f\", $t1 - $t0, $tw - $t0") ${c1[*]}" >>"$TP"
	log "  $label run $rep: $(calc "printf \"%.0f rows/s (%.2f s; source written in %.2f s)\", $ROWS / ($t1 - $t0), $t1 - $t0, $tw - $t0"); CPU s: ${c1[*]}"
}

log "warm-up: capture creates its slot and topics, apply assigns their partitions; the subscription starts"
PHASE=throughput
use_system cdc-p0
catch_up narrow_cdc db2 narrow_cdc
catch_up lat_cdc db2 lat_cdc
use_system lr
catch_up narrow_lr db3 narrow_lr
catch_up lat_lr db3 lat_lr
# Kafka Connect: its worker's one start, with both connectors, timed to the
# first row in the target.  A writer inserts 50 rows/s into lat_dbz from
# before the launch (Debezium, on its first start, streams from the WAL
# position it finds, so earlier rows are not sent); the time is from the
# launch (server clock) to the first row's insert into the target (its
# arrived column, same clock).
CONNECT_START='' CONNECT_REST=''
if [ "$BENCH_CONNECT" = 1 ]; then
	stop_running
	echo "INSERT INTO lat_dbz (v) VALUES (1);" >"$WORK/start-writer.sql"
	"$PG_BIN/pgbench" -n -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres -f "$WORK/start-writer.sql" -R 50 \
		-T "$WAIT_MAX_SEC" -c 1 db1 >"$WORK/pgbench-connect-start.log" 2>&1 &
	PGBENCH_PID=$!
	sleep 0.5
	t0=$(q db1 "SELECT extract(epoch FROM clock_timestamp())")
	connect_launch || die "the Kafka Connect worker did not start (see $CONNECT_DIR/connect.log)"
	CONNECT_REST=$(calc "printf \"%.1f\", $(now) - $t0")
	RUNNING=connect
	t1=$(wait_for db5 "SELECT extract(epoch FROM min(arrived)) FROM lat_dbz" "$WAIT_MAX_SEC" "Kafka Connect's first row") ||
		die "Kafka Connect delivered no row within $WAIT_MAX_SEC s (see $CONNECT_DIR/connect.log)"
	stop_pid "$PGBENCH_PID" "$(readlink -f "$PG_BIN/pgbench")" || true # its status: killed
	PGBENCH_PID=''
	CONNECT_START=$(calc "printf \"%.1f\", $t1 - $t0")
	log "  Kafka Connect: start -> first row $CONNECT_START s (REST API up after $CONNECT_REST s)"
	catch_up narrow_dbz db5 narrow_dbz
	catch_up lat_dbz db5 lat_dbz
fi

log "throughput: $WARM_RUNS untimed warm-up runs per system, then $REPEAT runs of $ROWS rows in transactions of $TXN_ROWS"
for ((rep = 1; rep <= WARM_RUNS; rep++)); do
	throughput_run cdc-p0 warm-cdc narrow_cdc db2 narrow_cdc "$rep"
	throughput_run lr warm-lr narrow_lr db3 narrow_lr "$rep"
	[ "$BENCH_CONNECT" = 1 ] && throughput_run connect warm-connect narrow_dbz db5 narrow_dbz "$rep"
done
# consistency = transaction (p0) and table (p2) run back to back as a pair,
# in alternating order (transaction first in odd repetitions, table first in
# even ones), so that neither always runs in the other's wake: the ratio
# is the median of the pairs' ratios.
for ((rep = 1; rep <= REPEAT; rep++)); do
	((rep <= TABLE_REPEAT && rep % 2 == 0)) && throughput_run cdc-p2 cdc_tb narrow_tb db2 narrow_tb "$rep"
	throughput_run cdc-p0 cdc narrow_cdc db2 narrow_cdc "$rep"
	((rep <= TABLE_REPEAT && rep % 2 == 1)) && throughput_run cdc-p2 cdc_tb narrow_tb db2 narrow_tb "$rep"
	throughput_run lr lr narrow_lr db3 narrow_lr "$rep"
	[ "$BENCH_CONNECT" = 1 ] && throughput_run connect connect narrow_dbz db5 narrow_dbz "$rep"
done
# BENCH_TP_ONLY=1: stop here (the throughput runs' lines above are the result).
[ "${BENCH_TP_ONLY:-0}" = 1 ] && { stop_running; exit 0; }
if ((JSON_REPEAT > 0)); then
	log "throughput with json_schemas = true: $JSON_REPEAT runs"
	for ((rep = 1; rep <= JSON_REPEAT; rep++)); do
		throughput_run cdc-p1 cdc_js narrow_js db4 narrow_js "$rep"
	done
fi

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
tp_col() { awk -v s="$1" -v k="$2" '$1 == s { print $k }' "$TP"; } # LABEL COLUMN
LR_SEC=$(tp_col lr 3 | median)
LR_RATE=$(calc "printf \"%.0f\", $ROWS / $LR_SEC")
HALF_RATE=$(calc "printf \"%.0f\", $LR_RATE / 2")
# Kafka Connect's high latency rate: half native's, unless its own throughput
# is below that (a run there only grows a backlog): then half its own.
CONNECT_HIGH=$HALF_RATE CONNECT_RATE=''
if [ "$BENCH_CONNECT" = 1 ]; then
	CONNECT_RATE=$(calc "printf \"%.0f\", $ROWS / $(tp_col connect 3 | median)")
	((CONNECT_RATE < HALF_RATE)) && CONNECT_HIGH=$(calc "printf \"%.0f\", $CONNECT_RATE / 2")
	CONNECT_HWM_TP=$(hwm_of "$(connect_pid)")
fi

# ---- latency --------------------------------------------------------------------

LAT=$WORK/latency # lines: rate system k achieved_rows/s rows p50i p99i maxi p50c p99c lag_ms path_us_per_row machine_busy per_process_us (a/b/...)
: >"$LAT"
PHASE=latency
latency_run() { # SYSTEM LABEL SRC_TABLE DB DST_TABLE RATE
	local sys=$1 label=$2 src=$3 db=$4 dst=$5 rate=$6 k txr last script stats src_stats lag
	local pids c0=0 c1=0 m0 m1 t0 t1 p cpu busy
	use_system "$sys"
	catch_up "$src" "$db" "$dst"
	if [ "$sys" = lr ]; then
		pids="$(lr_worker_pid) $(walsender_pid bench_lr)"
	elif [ "$sys" = connect ]; then
		pids="$(connect_pid) $(walsender_pid "$CONNECT_SLOT") $(connect_backends) $(broker_pid)"
	else
		pids=$(cdc_pids "$db")
	fi
	# LAT_TX_RATE transactions/s of k rows (single-row transactions up to that rate)
	k=$(calc "k = int($rate / $LAT_TX_RATE + 0.5); print (k < 1 ? 1 : k)")
	txr=$(calc "printf \"%.0f\", $rate / $k")
	script=$WORK/lat-$src-$k.sql
	if [ "$k" = 1 ]; then
		echo "INSERT INTO $src (v) VALUES (1);" >"$script"
	else
		echo "INSERT INTO $src (v) SELECT 1 FROM generate_series(1, $k);" >"$script"
	fi
	local each0=() each=() i=0 parts off0=''
	[ -n "${BENCH_BREAKDOWN:-}" ] && [[ $sys == cdc-* ]] && off0=$(kafka_end "$src")
	for p in $pids; do each0+=("$(cpu_of "$p")"); done
	c0=$(IFS=+; calc "print ${each0[*]}")
	m0=$(machine_cpu) t0=$(now)
	"$PG_BIN/pgbench" -n -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres -f "$script" -R "$txr" \
		-T "$LAT_SEC" -c 4 -j 2 db1 >"$WORK/pgbench-$label-$rate.log" 2>&1 &
	PGBENCH_PID=$!
	[ -n "${BENCH_SAMPLE:-}" ] && [[ $sys == cdc-* ]] && sample_backlog "$src" "$db" "$dst" >"$WORK/sample-$label-$rate.log" 2>&1 &
	wait "$PGBENCH_PID" || { cat "$WORK/pgbench-$label-$rate.log" >&2; die "pgbench"; }
	PGBENCH_PID=''
	lag=$(sed -n 's/^rate limit schedule lag: avg \([0-9.]*\).*/\1/p' "$WORK/pgbench-$label-$rate.log")
	last=$(q db1 "SELECT max(id) FROM $src")
	src_stats=$(q db1 "SELECT count(*) || ' ' || round((count(*) / extract(epoch FROM max(ts) - min(ts)))::numeric)
		FROM $src WHERE id > 0")
	wait_row "$db" "$dst" "$last" "$WAIT_MAX_SEC" >/dev/null || die "$label did not deliver row $last at $rate rows/s"
	# CPU of the path per row, and of the whole machine, from the first
	# write until the last row arrived
	for p in $pids; do each+=("$(calc "printf \"%.1f\", 1e6 * ($(cpu_of "$p") - ${each0[i]}) / $((LAT_SEC * rate))")"); i=$((i + 1)); done
	c1=$c0
	for p in "${!each[@]}"; do c1=$(calc "print $c1 + ${each[p]} * $((LAT_SEC * rate)) / 1e6"); done
	parts=$(IFS=/; echo "${each[*]}")
	m1=$(machine_cpu) t1=$(now)
	stats=$(q "$db" "SELECT concat_ws(' ', count(*),
			round(percentile_cont(0.5) WITHIN GROUP (ORDER BY i)::numeric, 1),
			round(percentile_cont(0.99) WITHIN GROUP (ORDER BY i)::numeric, 1), round(max(i)::numeric, 1),
			round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c)::numeric, 1),
			round(percentile_cont(0.99) WITHIN GROUP (ORDER BY c)::numeric, 1))
		FROM (SELECT 1000 * extract(epoch FROM pg_xact_commit_timestamp(xmin) - ts) c,
			1000 * extract(epoch FROM arrived - ts) i FROM $dst WHERE id > 0) l")
	[ "${stats%% *}" = "${src_stats%% *}" ] || die "$label: ${stats%% *} rows arrived of ${src_stats%% *}"
	cpu=$(calc "printf \"%.1f\", 1e6 * ($c1 - $c0) / ${src_stats%% *}")
	busy=$(calc "printf \"%.2f\", ($m1 - $m0) / ($t1 - $t0)")
	echo "$rate $label $k ${src_stats#* } $stats ${lag:-?} $cpu $busy $parts" >>"$LAT"
	[ -n "$off0" ] && breakdown "$src" "$db" "$dst" "$off0" "$label" "$rate"
	log "  $label at $rate rows/s ($txr tx/s of $k rows; pgbench lag ${lag:-?} ms): rows achieved-rows/s p50 p99 max (ms to insert) p50 p99 (ms to commit): ${src_stats% *} ${src_stats#* } ${stats#* }"
}

# BENCH_BREAKDOWN=create|append: after each cdc-agent latency run, where each
# row's milliseconds went, by stage: the source's insert to its commit
# (commit timestamps: track_commit_timestamp), on to the record's timestamp
# in Kafka, on to its insert in the target (the arrived trigger), on to the
# target's commit.  The record's timestamp is capture's produce call
# (CreateTime, create) or the broker's append (LogAppendTime, append: the
# topic is set so before the latency runs); p50 / p99 of each stage over
# the run's rows.
kafka_end() { kcat -b "127.0.0.1:$KP" -Q -t "b0.public.$1:0:-1" 2>/dev/null | awk '{ print $NF }'; }
breakdown() { # SRC_TABLE DB DST_TABLE OFFSET LABEL RATE
	local f=$WORK/breakdown-$5-$6
	kcat -C -b "127.0.0.1:$KP" -t "b0.public.$1" -p 0 -o "$4" -e -q -f '%k\t%T\n' 2>/dev/null |
		sed -n 's/^{"id":\([0-9]*\)}\t/\1\t/p' >"$f.kafka"
	q db1 "COPY (SELECT id, ts, pg_xact_commit_timestamp(xmin) FROM $1 WHERE id > 0) TO STDOUT" >"$f.src"
	q "$2" "SET client_min_messages = warning; CREATE TABLE IF NOT EXISTS bd_src (id bigint, ts timestamptz, committed timestamptz);
		CREATE TABLE IF NOT EXISTS bd_kafka (id bigint, ms bigint); TRUNCATE bd_src, bd_kafka" >/dev/null
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres -d "$2" \
		-c "COPY bd_src FROM STDIN" <"$f.src" >/dev/null
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres -d "$2" \
		-c "COPY bd_kafka FROM STDIN" <"$f.kafka" >/dev/null
	q "$2" "WITH r AS (SELECT 1000 * extract(epoch FROM s.committed - s.ts) a,
			extract(epoch FROM s.committed) * 1000 b0, k.ms::float8 kms,
			1000 * extract(epoch FROM d.arrived) c1,
			1000 * extract(epoch FROM pg_xact_commit_timestamp(d.xmin)) d1,
			1000 * extract(epoch FROM pg_xact_commit_timestamp(d.xmin) - s.ts) tot
		FROM bd_src s JOIN bd_kafka k USING (id) JOIN $3 d USING (id)),
	st AS (SELECT '1 insert->src commit' st, a v FROM r UNION ALL
		SELECT '2 src commit->kafka ts', kms - b0 FROM r UNION ALL
		SELECT '3 kafka ts->tgt insert', c1 - kms FROM r UNION ALL
		SELECT '4 tgt insert->tgt commit', d1 - c1 FROM r UNION ALL
		SELECT '5 total', tot FROM r)
	SELECT st || ': p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY v)::numeric, 2) ||
		' p90 ' || round(percentile_cont(0.9) WITHIN GROUP (ORDER BY v)::numeric, 2) ||
		' p99 ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY v)::numeric, 2) || ' (' || count(*) || ' rows)'
	FROM st GROUP BY st ORDER BY st" |
		sed "s/^/  breakdown $5 at $6 rows\/s ($BENCH_BREAKDOWN time): /" >&2
}

# BENCH_SAMPLE=1: every 0.5 s during a cdc-agent latency run, where rows are:
# written at the source, in Kafka (high watermark), applied in the target.
perf_of() { # NAME PID: 5 s of PID with call graphs, into perf-NAME-<time>.data
	timeout -s INT 5 perf record -q -F 499 --call-graph dwarf,8192 -p "$2" -o "$WORK/perf-$1-$(date +%s).data"
}
sample_backlog() { # SRC_TABLE DB DST_TABLE
	local end=$((SECONDS + LAT_SEC + 5)) s k t
	[ "$BENCH_SAMPLE" = strace ] && [ "$(basename "$1")" = lat_cdc ] &&
		(sleep 3; timeout -s INT 5 strace -c -f -p "$APP_PID" -o "$WORK/strace-apply-$(date +%s).txt" &
		 timeout -s INT 5 strace -c -f -p "$CAP_PID" -o "$WORK/strace-capture-$(date +%s).txt"; wait) >/dev/null 2>&1 &
	[ "$BENCH_SAMPLE" = perf ] && [ "$(basename "$1")" = lat_cdc ] &&
		(sleep 3; perf record -q -a -g -F 499 -o "$WORK/perf-sys-$(date +%s).data" -- sleep 5 &
		 perf_of capture "$CAP_PID" & perf_of apply "$APP_PID" & wait) >/dev/null 2>&1 &
	while ((SECONDS < end)); do
		s=$(q db1 "SELECT count(*) FROM $1 WHERE id > 0")
		k=$(kcat -b "127.0.0.1:$KP" -Q -t "b0.public.$1:0:-1" 2>/dev/null | awk '{ print $NF }')
		t=$(q "$2" "SELECT count(*) FROM $3 WHERE id > 0")
		echo "$(date +%T.%N | cut -c1-10) source $s kafka_hw $k target $t"
		sleep 0.5
	done
}
if [ "${BENCH_BREAKDOWN:-}" = append ]; then
	java -cp "$WORK/kafka/libs/*" kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KP" --alter --entity-type topics \
		--entity-name b0.public.lat_cdc --add-config message.timestamp.type=LogAppendTime >>"$WORK/servers.log" 2>&1 ||
		die "could not set LogAppendTime on b0.public.lat_cdc"
fi
# BENCH_AB=OTHER_BINARY: instead of the latency runs, AB_PAIRS (3)
# pairs of latency runs at LOW_RATE, this agent then the other, alternating,
# printing each process's CPU per row: for comparing two builds side by side.
# AB_TP (0) pairs of throughput runs (ROWS rows) come first, alternating too.
if [ -n "${BENCH_AB:-}" ]; then
	cp -p "$BENCH_AB" "$WORK/cdc-agent-b"
	for ((rep = 1; rep <= ${AB_TP:-0}; rep++)); do
		for bin in "$WORK/cdc-agent" "$WORK/cdc-agent-b"; do
			stop_running
			CDC_AGENT=$bin AGENT_EXE=$(readlink -f "$bin")
			throughput_run cdc-p0 "tp$rep-${bin##*/}" narrow_cdc db2 narrow_cdc "$rep"
		done
	done
	for ((rep = 1; rep <= ${AB_PAIRS:-3}; rep++)); do
		for bin in "$WORK/cdc-agent" "$WORK/cdc-agent-b"; do
			stop_running
			CDC_AGENT=$bin AGENT_EXE=$(readlink -f "$bin")
			latency_run cdc-p0 "ab$rep-${bin##*/}" lat_cdc db2 lat_cdc "$LOW_RATE"
			# its line of $LAT: ... p99c lag cpu busy capture/apply/walsender/backend/broker
			tail -n 1 "$LAT" | awk -v b="${bin##*/}" '{ printf "AB %s us/row: %s (capture/apply/walsender/backend/broker) sum %s; machine CPUs busy %s\n", b, $14, $12, $13 }' >&2
		done
	done
	stop_running
	exit 0
fi
# The JVM compiles again for the latency runs' shape (hundreds of small
# requests a second rather than a few large ones): its C2 compiler thread
# used 3-6 % of the machine during untimed-warm-up-less latency runs.  One
# untimed run per system at the high rate, as WARM_RUNS does for throughput.
if ((WARM_RUNS > 0)); then
	log "latency warm-up: $LAT_WARM_SEC s per system at $HALF_RATE rows/s, not recorded"
	LAT_SEC_MEASURED=$LAT_SEC LAT_SEC=$LAT_WARM_SEC
	latency_run cdc-p0 warm-cdc lat_cdc db2 lat_cdc "$HALF_RATE"
	latency_run lr warm-lr lat_lr db3 lat_lr "$HALF_RATE"
	[ "$BENCH_CONNECT" = 1 ] && latency_run connect warm-connect lat_dbz db5 lat_dbz "$CONNECT_HIGH"
	LAT_SEC=$LAT_SEC_MEASURED
fi
log "latency: $LAT_SEC s at $LOW_RATE rows/s and at $HALF_RATE rows/s (half of native's $LR_RATE rows/s)"
for rate in "$LOW_RATE" "$HALF_RATE"; do
	latency_run cdc-p0 cdc lat_cdc db2 lat_cdc "$rate"
	latency_run lr lr lat_lr db3 lat_lr "$rate"
	if [ "$BENCH_CONNECT" = 1 ]; then
		r=$rate
		[ "$rate" = "$HALF_RATE" ] && r=$CONNECT_HIGH
		latency_run connect connect lat_dbz db5 lat_dbz "$r"
	fi
done
stop_running
if [ "$BENCH_CONNECT" = 1 ]; then
	CONNECT_HWM=$(hwm_of "$(connect_pid)")
	connect_down
fi

# ---- optional profile of apply --------------------------------------------------

PERF_LINES=()
PERF_RATE=''
if [ "$BENCH_PERF" = 1 ]; then
	BENCH_PERF_DIR=${BENCH_PERF_DIR:-$WORK/perf}
	mkdir -p "$BENCH_PERF_DIR"
	PHASE=perf
	use_system cdc-p0
	catch_up narrow_cdc db2 narrow_cdc
	f=$BENCH_PERF_DIR/perf-apply
	perf record -q -F 999 --call-graph dwarf,8192 -p "$APP_PID" -o "$f.data" 2>"$WORK/perf.log" &
	PERF_PID=$!
	perf record -q -F 999 --call-graph dwarf,8192 -p "$CAP_PID" -o "$BENCH_PERF_DIR/perf-capture.data" 2>"$WORK/perf-capture.log" &
	PERF_CAP_PID=$!
	sleep 1
	t0=$(q db1 "SELECT extract(epoch FROM clock_timestamp())")
	"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres \
		-d db1 -f <(sed "s/@T@/narrow_cdc/" "$LOAD_SQL") >/dev/null || die "load"
	t1=$(wait_done db2 narrow_cdc "$WAIT_MAX_SEC") || die "profiled run did not deliver"
	kill -INT "$PERF_PID" "$PERF_CAP_PID"
	wait "$PERF_PID" || true
	wait "$PERF_CAP_PID" || true
	PERF_PID=''
	PERF_RATE=$(calc "printf \"%.0f\", $ROWS / ($t1 - $t0)")
	log "  profiled run (not in the table): $PERF_RATE rows/s under perf"
	stop_running
	{
		echo "# apply, sampled at 999 Hz during one throughput run ($ROWS rows)"
		echo "# self time by thread and library"
		perf report -i "$f.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null
		echo "# self time by function (main thread)"
		perf report -i "$f.data" --comms cdc-agent --no-children --sort dso,symbol --stdio -g none \
			--percent-limit 0.5 2>/dev/null
		echo "# inclusive time (self + callees) by function (main thread)"
		perf report -i "$f.data" --comms cdc-agent --children --sort symbol --stdio -g none \
			--percent-limit 1.5 2>/dev/null
	} >"$f.txt"
	# Share of the main thread's samples with each function on the stack
	# (inclusive; a sample counts in every bucket it touches).
	mapfile -t PERF_LINES < <(perf script -i "$f.data" --comms cdc-agent -F ip,sym 2>/dev/null | awk '
		function flush() { if (n) { tot++; for (k in seen) c[k]++ } delete seen; n = 0 }
		function hit(re, name) { if (s ~ re) seen[name] = 1 }
		/^[[:space:]]*$/ { flush(); next }
		{
			n = 1; s = $2
			hit("^apply_event_parse", "`apply_event_parse` (JSON of the record read back)")
			hit("^json_loadb", "`json_loadb` (jansson parsing value, key and `cdc.columns` header)")
			hit("^json_delete", "`json_delete` (freeing the parsed trees)")
			hit("^group_add", "`group_add` (values converted, rows grouped)")
			hit("^strlist_contains", "`strlist_contains` (group_add: is this key already in the statement? a linear scan)")
			hit("^group_flush", "`group_flush` (statement text built and sent; waiting for PostgreSQL is off-CPU, not sampled)")
			hit("^(PQ|pq)", "libpq")
			hit("^table_check", "`table_check` (event fingerprint vs table)")
			hit("^rd_kafka_message_headers", "`rd_kafka_message_headers`")
			hit("^rd_kafka_consumer_poll", "`rd_kafka_consumer_poll`")
			hit("^(__vfprintf|__vsnprintf)", "printf family (`strbuf_addf`)")
			hit("^(malloc|_int_malloc|__GI___libc_malloc|_int_free|cfree|__GI___libc_free)", "malloc/free")
		}
		END { flush(); for (k in c) if (c[k] / tot >= 0.01) printf "%.1f%% %s\n", 100 * c[k] / tot, k; printf "100%% of %d samples of apply'"'"'s main thread\n", tot }' |
		sort -rn | sed 's/^/- /')
	log "  apply profile: $f.txt"
fi

# ---- report -----------------------------------------------------------------------

rate_of() { calc "printf \"%.0f\", $ROWS / $1"; }
runs_of() { tp_col "$1" 3 | awk -v n="$ROWS" '{ printf "%s%.0f", (NR > 1 ? " / " : ""), n / $1 }'; }
us_row() { calc "printf \"%.1f\", 1e6 * $1 / $ROWS"; }
CDC_SEC=$(tp_col cdc 3 | median)
CDC_RATE=$(rate_of "$CDC_SEC")
RATIO=$(calc "printf \"%.2f\", $CDC_RATE / $LR_RATE")
TP_ROWS=()
tp_row() { # LABEL NAME
	local s r cpu busy
	s=$(tp_col "$1" 3 | median)
	r=$(rate_of "$s")
	if [ "$1" = lr ]; then
		cpu="apply worker $(us_row "$(tp_col lr 6 | median)") · walsender $(us_row "$(tp_col lr 7 | median)")"
	elif [ "$1" = connect ]; then
		cpu="Connect JVM $(us_row "$(tp_col "$1" 5 | median)") · walsender $(us_row "$(tp_col "$1" 7 | median)") · sink's backends $(us_row "$(tp_col "$1" 8 | median)") · broker $(us_row "$(tp_col "$1" 9 | median)")"
	else
		cpu="capture $(us_row "$(tp_col "$1" 5 | median)") · apply $(us_row "$(tp_col "$1" 6 | median)") · walsender $(us_row "$(tp_col "$1" 7 | median)") · apply's backend $(us_row "$(tp_col "$1" 8 | median)") · broker $(us_row "$(tp_col "$1" 9 | median)")"
	fi
	busy=$(calc "printf \"%.2f\", $(tp_col "$1" 10 | median) / $s")
	TP_ROWS+=("| $2 | $s | $(tp_col "$1" 4 | median) | **$r** | $(runs_of "$1") | $(calc "printf \"%.2f\", $r / $LR_RATE") | $cpu | $busy |")
}
tp_row lr "native logical replication (CREATE SUBSCRIPTION)"
tp_row cdc "cdc-agent, json_schemas = false"
((JSON_REPEAT > 0)) && tp_row cdc_js "cdc-agent, json_schemas = true"
((TABLE_REPEAT > 0)) && tp_row cdc_tb "cdc-agent, json_schemas = false, consistency = table"
[ "$BENCH_CONNECT" = 1 ] && tp_row connect "Kafka Connect + Debezium (PostgreSQL source, JDBC sink)"
bold() { [ "$1" = met ] && echo met || echo "**not met**"; }
path_us() { awk -v s="$1" '$1 == s { print $5 + $6 + $7 + $8 + $9 }' "$TP" | median | awk -v n="$ROWS" '{ printf "%.1f", 1e6 * $1 / n }'; }
TABLE_LINE=''
if ((TABLE_REPEAT > 0)); then
	# Each pair's ratio (table's seconds over transaction's: rows/s of
	# transaction over table's), then their median.
	TX_RATIO=$(awk '$1 == "cdc" { tx[$2] = $3 } $1 == "cdc_tb" { tb[$2] = $3 }
		END { for (r in tb) if (r in tx) print tb[r] / tx[r] }' "$TP" | median)
	TX_RATIO=$(calc "printf \"%.2f\", $TX_RATIO")
	TX_GOAL=$(calc "print ($TX_RATIO >= 0.9) ? \"met\" : \"not met\"")
	TABLE_LINE="Cost of \`consistency = transaction\` (issue #17: at least 0.9 × \`consistency = table\`'s throughput,
in the same run): the two ran as $TABLE_REPEAT pairs, back to back, the order alternating (transaction
first in odd pairs, table first in even ones); each pair's ratio is transaction's rows/s over
table's, and the figure is their median: **$TX_RATIO** (pairs: $(awk '$1 == "cdc" { tx[$2] = $3 } $1 == "cdc_tb" { tb[$2] = $3 }
		END { for (r = 1; r in tb; r++) if (r in tx) printf "%s%.2f", (r > 1 ? " / " : ""), tb[r] / tx[r] }' "$TP")) — $(bold "$TX_GOAL").
The path's CPU per row, which a shared machine disturbs less than the time (capture, apply,
walsender, apply's backend and broker, medians): transaction $(path_us cdc) µs, table $(path_us cdc_tb) µs."
fi

LAT_ROWS=()
LAT_LABELS="cdc lr"
[ "$BENCH_CONNECT" = 1 ] && LAT_LABELS="cdc lr connect"
for rate in "$LOW_RATE" "$HALF_RATE"; do
	for label in $LAT_LABELS; do
		r=$rate
		if [ "$label" = connect ] && [ "$rate" = "$HALF_RATE" ] && [ "$CONNECT_HIGH" != "$HALF_RATE" ]; then
			LAT_ROWS+=("| $rate | Kafka Connect | – | – | – | – | falls behind: its throughput, $CONNECT_RATE rows/s, is below this rate (a run here only grows a backlog); at half its throughput instead: | | | | | | |")
			r=$CONNECT_HIGH
		fi
		read -r _ _ k ach n p50i p99i mxi p50c p99c lag cpu busy parts < <(awk -v r="$r" -v l="$label" '$1 == r && $2 == l' "$LAT")
		name="cdc-agent"
		[ "$label" = lr ] && name="native" p50c="–" p99c="–"
		[ "$label" = connect ] && name="Kafka Connect"
		LAT_ROWS+=("| $r | $name | $k | $n | $ach | $lag | $p50i | $p99i | $mxi | **$p50c** | **$p99c** | $cpu ($parts) | $busy |")
	done
done
lat_col() { awk -v r="$1" -v l="$2" -v k="$3" '$1 == r && $2 == l { print $k }' "$LAT"; }
CDC_P99_HALF=$(lat_col "$HALF_RATE" cdc 10)

mib() { calc "printf \"%.1f\", $1 / 1024"; }
rss_max() { awk -v ph="$1" -v p="$2" -v k="$3" '$1 == ph && $2 == p && $k > m { m = $k } END { print m + 0 }' "$RSS_LOG"; }
RSS_LINE="capture $(mib "$(rss_max throughput p0 3)") MiB, apply $(mib "$(rss_max throughput p0 4)") MiB over the throughput runs (json_schemas = false)"
((JSON_REPEAT > 0)) && RSS_LINE="$RSS_LINE; capture $(mib "$(rss_max throughput p1 3)") MiB, apply $(mib "$(rss_max throughput p1 4)") MiB with json_schemas = true"
RSS_LINE="$RSS_LINE; capture $(mib "$(rss_max latency p0 3)") MiB, apply $(mib "$(rss_max latency p0 4)") MiB over the latency runs"
[ "$BENCH_CONNECT" = 1 ] &&
	RSS_LINE="$RSS_LINE; the Kafka Connect worker's JVM $(mib "$CONNECT_HWM_TP") MiB after the throughput runs, $(mib "$CONNECT_HWM") MiB at the end (heap \`$CONNECT_BENCH_HEAP\`, connect-standalone.sh's: G1 sizes it within those bounds)"

FLOOR_TP=$(calc "print ($CDC_RATE >= $LR_RATE / 2) ? \"met\" : \"not met\"")
FLOOR_LAT=$(calc "print ($CDC_P99_HALF < 1000) ? \"met\" : \"not met\"")
GOAL=$(calc "print ($CDC_RATE >= $LR_RATE) ? \"met\" : \"not met\"")
FLOOR="not met"
[ "$FLOOR_TP" = met ] && [ "$FLOOR_LAT" = met ] && FLOOR=met

cmd="BENCH_CONNECT=$BENCH_CONNECT ROWS=$ROWS TXN_ROWS=$TXN_ROWS REPEAT=$REPEAT JSON_REPEAT=$JSON_REPEAT TABLE_REPEAT=$TABLE_REPEAT WARM_RUNS=$WARM_RUNS LAT_SEC=$LAT_SEC LOW_RATE=$LOW_RATE LAT_TX_RATE=$LAT_TX_RATE scripts/bench-pipeline.sh"
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_total=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kafka_v=$(cat /var/cache/cdc-agent/dist/kafka-dist.version 2>/dev/null || echo "?")
rdkafka_v=$(pkg-config --modversion rdkafka 2>/dev/null || echo "?")
pg_v=$("$PG_BIN/postgres" --version | awk '{ print $3 }')
# Read-only git: the commit, and whether agent/ differs from it.
agent_v=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
[ -z "$(git -C "$REPO_ROOT" --no-optional-locks status --porcelain -- agent 2>/dev/null)" ] ||
	agent_v="$agent_v + uncommitted changes in agent/"
agent_v="$agent_v, binary built $AGENT_BUILT"
LOAD_END=$(cut -d' ' -f1 /proc/loadavg)

SECTION_FILE=$WORK/section.md
{
	echo "$SECTION"
	echo
	echo "Produced by \`$cmd\`"
	echo "on $(date -u '+%Y-%m-%d %H:%M UTC') (whole run: $((SECONDS - T_BEGIN)) s), agent at \`$agent_v\`."
	echo
	echo "Machine: \`nproc\` = $(nproc) ($cpu_model), $mem_total memory, $(uname -sr). PostgreSQL $pg_v"
	echo "(one private cluster, \`fsync = off\`, \`track_commit_timestamp = on\`, statement logging off,"
	echo "defaults otherwise), Kafka $kafka_v (one broker, ZooKeeper mode, heap \`${KAFKA_HEAP_OPTS}\`, topics"
	echo "of 1 partition), librdkafka $rdkafka_v. Everything shares the machine's CPUs: source, targets,"
	echo "broker, capture and apply; and the machine is shared with other work (other builds and tests may"
	echo "run alongside: figures are noisy, which is why comparisons alternate within one run). Load average"
	echo "(1 min) at the start: $LOAD_START; at the end: $LOAD_END."
	echo
	echo "Method. db1 is the source; cdc-agent (\`capture\` + \`apply\`, bootstrapped by the agent) replicates"
	echo "its tables to db2 (db4 with \`json_schemas = true\`); PostgreSQL's own logical replication replicates"
	echo "other tables of db1 to db3 (\`CREATE SUBSCRIPTION\` with defaults on a slot made beforehand,"
	echo "same cluster). Both reach PostgreSQL over its Unix-domain socket (the subscription's conninfo, the"
	echo "topology's \`host\`). Only the system measured runs (capture and apply stopped, or the subscription"
	echo "disabled), and a run starts once it has caught up (a TRUNCATE and a marker row have reached the"
	echo "target). Each system first gets $WARM_RUNS untimed throughput run(s): a fresh Kafka JVM spends its"
	echo "first few hundred thousand records compiling (its C1/C2 compiler threads used more CPU than its"
	echo "request handlers in the first run), which a running broker has long done; and, before the latency"
	echo "runs, one untimed $LAT_WARM_SEC s latency run each at the high rate (the JVM compiles again for that shape:"
	echo "its C2 compiler thread took 3-6 % of the machine during latency runs without it)."
	echo
	echo "- *Throughput*: $ROWS rows into \`(id int primary key, v int)\`, $TXN_ROWS rows per transaction"
	echo "  (\`INSERT ... SELECT generate_series\`), one session as fast as it goes; timed from the writer's"
	echo "  first statement to the commit of the last row in the target (\`clock_timestamp()\` in a deferred"
	echo "  constraint trigger on that row, which fires at commit; same clock, no polling in the figure)."
	echo "  Median of $REPEAT runs ($JSON_REPEAT with \`json_schemas = true\`, $TABLE_REPEAT with \`consistency = table\`); *runs* lists each run."
	echo "  *CPU µs/row* is the CPU time of each process on the path during the run (medians) divided by"
	echo "  the rows; *machine CPUs busy*: CPU time of the whole machine (everything, the writer and"
	echo "  PostgreSQL's other processes included) over the run's time, out of $(nproc)."
	echo "- *Latency*: pgbench (\`-c 4 -j 2 -R\`) writes for $LAT_SEC s at a fixed rate, in transactions of *k*"
	echo "  rows (single-row transactions at up to $LAT_TX_RATE rows/s, else $LAT_TX_RATE transactions/s); each row"
	echo "  carries \`ts = clock_timestamp()\` from its insert. *to insert* = \`arrived\` - ts, set by a"
	echo "  BEFORE INSERT trigger on the target (ENABLE ALWAYS, so it fires under the subscription too)."
	echo "  *to commit* = the target row's commit timestamp (\`track_commit_timestamp\`) - ts: cdc-agent only,"
	echo "  since native apply stamps its commits with the origin's commit time; it commits each source"
	echo "  transaction right after applying it, so its *to insert* is within µs of its commit, while"
	echo "  cdc-agent commits a batch (up to 5000 records or 200 ms). Percentiles (\`percentile_cont\`) over"
	echo "  every row of the run. The high rate is half of native replication's median throughput above."
	echo "  *lag*: pgbench's mean schedule lag (the writer keeping its rate). *path CPU µs/row*: CPU time of"
	echo "  the replication path from the first write until the last row arrived, over the rows; in brackets"
	echo "  each process's (cdc-agent: capture/apply/walsender/apply's backend/broker; native: apply"
	echo "  worker/walsender$([ "$BENCH_CONNECT" = 1 ] && echo "; Kafka Connect: JVM/walsender/sink's backends/broker")); *machine CPUs"
	echo "  busy*: the whole machine's CPU time over that time (writer included), out of $(nproc)."
	echo "- *Peak RSS*: VmHWM of the process, read just before its SIGTERM."
	if [ "$BENCH_CONNECT" = 1 ]; then
		echo "- *Kafka Connect*, the reference stack: one standalone worker (\`ConnectStandalone\`, JVM"
		echo "  \`$CONNECT_BENCH_HEAP\` with G1 as \`connect-standalone.sh\`, JsonConverter with schemas for keys"
		echo "  and values; $CONNECT_VERSIONS_LINE) on the same broker, with Debezium's PostgreSQL source"
		echo "  (\`plugin.name = pgoutput\`, its own slot and publication made beforehand, \`snapshot.mode = no_data\`)"
		echo "  and its JDBC sink (\`insert.mode = upsert\`, \`delete.enabled\`, \`primary.key.mode = record_key\`,"
		echo "  tables made beforehand in db5); both carry truncates (\`skipped.operations = none\`,"
		echo "  \`truncate.enabled\`: each run empties its tables by TRUNCATE); every other setting is"
		echo "  Debezium's and Connect's default (so the source waits \`poll.interval.ms\` = 500 ms when it finds"
		echo "  its queue empty, and the sink writes \`batch.size\` = 500 rows a statement at most). Both reach"
		echo "  PostgreSQL over TCP on loopback (JDBC has no Unix-domain sockets). The worker starts once:"
		echo "  *start → first row* is the time from its launch, with both connectors on its command line, to"
		echo "  the first row in the target, a writer inserting 50 rows/s from before the launch (the"
		echo "  source streams from the WAL position it finds at its first start); between its runs its"
		echo "  connectors are stopped (\`PUT /connectors/NAME/stop\`: tasks shut down, the slot let go), the"
		echo "  JVM keeps running and what it compiled. Same warm-up runs as the others. *CPU µs/row*: the"
		echo "  worker's JVM (both connectors and their Kafka clients), its walsender, the sink's backends"
		echo "  in db5, the broker."
		[ -n "${CONNECT_SOURCE_PROPS:-}${CONNECT_SINK_PROPS:-}" ] &&
			echo "  Settings added for this run: source \`$(echo ${CONNECT_SOURCE_PROPS:-none})\`; sink \`$(echo ${CONNECT_SINK_PROPS:-none})\`."
	fi
	echo
	echo "| system | s (median) | source written in s | rows/s | runs (rows/s) | × native | CPU µs/row | machine CPUs busy |"
	echo "|---|---:|---:|---:|---|---:|---|---:|"
	printf '%s\n' "${TP_ROWS[@]}"
	[ -n "$TABLE_LINE" ] && { echo; echo "$TABLE_LINE"; }
	echo
	echo "| rows/s | system | k | rows | achieved rows/s | lag ms | p50 ms to insert | p99 ms to insert | max ms to insert | p50 ms to commit | p99 ms to commit | path CPU µs/row | machine CPUs busy |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${LAT_ROWS[@]}"
	echo
	echo "Peak RSS: $RSS_LINE."
	echo
	if [ "$BENCH_CONNECT" = 1 ]; then
		read -r cb_n cb_b <<<"$(topic_batches dbz.public.narrow_dbz)"
		read -r ab_n ab_b <<<"$(topic_batches b0.public.narrow_cdc)"
		echo "Kafka Connect, start → first row: **$CONNECT_START s** (its REST API answered after $CONNECT_REST s); its"
		echo "throughput: $CONNECT_RATE rows/s = $(calc "printf \"%.2f\", $CONNECT_RATE / $LR_RATE") × native's, $(calc "printf \"%.2f\", $CONNECT_RATE / $CDC_RATE") × cdc-agent's. In the"
		echo "broker's log of the throughput table, its records take $cb_b bytes each (JSON with schemas, key"
		echo "and value) in batches of $cb_n records on average (a produce request carries one batch of the"
		echo "partition: Connect's producer has \`batch.size\` 16 KiB unless overridden, and one request in"
		echo "flight for a source task); cdc-agent's (json_schemas = false, ${BENCH_COMPRESSION:-lz4}): $ab_b bytes a record, $ab_n a batch."
		echo
	fi
	echo "Floor (from the issue): half of native logical replication's throughput, with p99 under one"
	echo "second at half its rate — **$FLOOR**:"
	echo
	echo "- throughput: cdc-agent $CDC_RATE rows/s = $RATIO × native's $LR_RATE rows/s (floor 0.5) — $(bold "$FLOOR_TP")"
	echo "- p99 at $HALF_RATE rows/s (half of native's rate): $CDC_P99_HALF ms to commit (floor 1000 ms) — $(bold "$FLOOR_LAT")"
	echo "  (native replication itself at that rate, with the writer running alongside: p99 $(lat_col "$HALF_RATE" lr 7) ms to insert)"
	echo
	echo "Goal (from the issue): match or beat native logical replication's throughput — $(bold "$GOAL")"
	echo "($RATIO × native)."
	if ((${#PERF_LINES[@]})); then
		echo
		echo "Where apply's CPU goes: one more cdc-agent throughput run (not in the table; $PERF_RATE rows/s"
		echo "under perf), apply sampled at 999 Hz by \`perf record --call-graph dwarf\`; share of its main thread's"
		echo "samples with the function on the stack (inclusive, so the lines overlap):"
		echo
		printf '%s\n' "${PERF_LINES[@]}"
	fi
} >"$SECTION_FILE"

# Rewrite only our section of BENCHMARKS.md (create the file if needed).
. "$REPO_ROOT/scripts/lib/bench-section.sh"
bench_write_section "$SECTION" "$SECTION_FILE" "$BENCH_OUT"
log "wrote section \"$SECTION\" of $BENCH_OUT"
cat "$SECTION_FILE"
