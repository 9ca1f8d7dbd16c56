#!/usr/bin/env bash
# scripts/bench-txn.sh: one large source transaction (issue #17, "Done when":
# a 2M-row transaction is never seen partly applied by a poller, and apply's
# peak RSS during it stays under 128 MiB).
#
#   scripts/bench-txn.sh            (as root, after `make`; `make bench` runs it)
#
# On one machine, loopback only: a private PostgreSQL 15 cluster (db1 the
# source, db2 the target), a ZooKeeper-mode Kafka broker (topics of
# PARTITIONS partitions) and a topology bootstrapped by the agent
# (tests/lib/*.sh, as the integration tests do).  Pipeline p1 ([pipeline]
# consistency = transaction) replicates table big_tx; p2
# (consistency = table) replicates big_tb, a table of its own, as the
# comparison.  Only the pipeline measured runs (its capture and apply
# started as processes), and a run starts once it has caught up (a marker
# row inserted and deleted at the source has come and gone in the target).
#
# A run: a poller on the target (one session: a PL/pgSQL loop of SELECT
# count(*), each statement with a snapshot of its own as any READ COMMITTED
# reader's, no pause by default) counts its polls and notes every count that is
# neither 0 nor BIG_ROWS, until it sees BIG_ROWS; meanwhile one source
# transaction inserts BIG_ROWS rows into (id int primary key, v int)
# (INSERT ... SELECT generate_series).  The time is from the source
# transaction's commit to the commit in the target of its last row
# (track_commit_timestamp: both from the rows' xmin, the same clock; under
# consistency = transaction the target commits the whole transaction at
# once).  Peak RSS: VmHWM of capture and apply, read just before SIGTERM.
# The results go into the section "## One large source transaction" of
# docs/BENCHMARKS.md (only that section is rewritten) and to stdout.  The
# exit code is 1 if the poller under consistency = transaction saw a
# partial state (after the section is written).
#
# Env: BIG_ROWS (2000000) TABLE_RUN (1: also the consistency = table run; 0
#      skips it) PARTITIONS (3) JSON_SCHEMAS (true, the agent's default)
#      POLL_PAUSE_MS (0: the poller polls without pause; a pause leaves the
#      CPUs to the pipeline) WAIT_MAX_SEC (900) CDC_AGENT (./cdc-agent)
#      PG_BIN (/usr/lib/postgresql/15/bin) BENCH_OUT (docs/BENCHMARKS.md)
#      KEEP_WORK=1 keeps the work directory (its logs) and says where.
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CDC_AGENT=${CDC_AGENT:-$REPO_ROOT/cdc-agent}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BIG_ROWS=${BIG_ROWS:-2000000}
TABLE_RUN=${TABLE_RUN:-1}
PARTITIONS=${PARTITIONS:-3}
JSON_SCHEMAS=${JSON_SCHEMAS:-true}
WAIT_MAX_SEC=${WAIT_MAX_SEC:-900}
POLL_PAUSE_MS=${POLL_PAUSE_MS:-0}
BENCH_OUT=${BENCH_OUT:-$REPO_ROOT/docs/BENCHMARKS.md}
SECTION="## One large source transaction"
RSS_GOAL_KIB=131072 # 128 MiB, the issue's bound for apply

log() { printf 'bench-txn: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the cluster runs as the postgres user)"
[ -x "$CDC_AGENT" ] || die "$CDC_AGENT missing: run make first"
for v in BIG_ROWS PARTITIONS WAIT_MAX_SEC; do
	[[ ${!v} =~ ^[1-9][0-9]{0,8}$ ]] || die "$v must be a positive integer"
done
[[ $POLL_PAUSE_MS =~ ^[0-9]{1,6}$ ]] || die "POLL_PAUSE_MS must be a number"
[[ $TABLE_RUN =~ ^[01]$ ]] || die "TABLE_RUN must be 0 or 1"
[[ $JSON_SCHEMAS =~ ^(true|false)$ ]] || die "JSON_SCHEMAS must be true or false"

export REPO_ROOT CDC_AGENT PG_BIN
export CAPTURE_PARTITIONS=$PARTITIONS
# shellcheck source=SCRIPTDIR/../tests/lib/capture_env.sh
. "$REPO_ROOT/tests/lib/capture_env.sh"
# shellcheck source=SCRIPTDIR/lib/bench-section.sh
. "$REPO_ROOT/scripts/lib/bench-section.sh"

POLL_PID=''
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	[ -n "$POLL_PID" ] && { kill "$POLL_PID" 2>/dev/null; wait "$POLL_PID" 2>/dev/null; }
	if [ -n "${KEEP_WORK:-}" ] && [ -n "${WORK:-}" ]; then log "logs in $WORK"; fi
	capture_env_down >/dev/null 2>&1
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

q() { pg_psql src "$1" "$2"; } # DB SQL: prints rows; non-zero on error
calc() { awk "BEGIN { $1 }"; }   # calc 'printf "%.1f", 1/3'

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
T_BEGIN=$SECONDS
COLS="id int PRIMARY KEY, v int"
NOVAC="WITH (autovacuum_enabled = off)"
# Two agents on one host: no status listener to share a port.
CAPTURE_AGENT_KEYS=$'status_listen = off\n'

log "starting PostgreSQL and Kafka (ZooKeeper mode, topics of $PARTITIONS partitions), bootstrapping the topology"
capture_env_up "CREATE TABLE big_tx ($COLS) $NOVAC; CREATE TABLE big_tb ($COLS) $NOVAC;" <<INI ||
[source s1]
host = @SOCK@
port = @PORT@
admin_host = @SOCK@
dbname = db1
user = cdc_user
password_file = @WORK@/db1.pass
publication = pub_s1
slot = slot_s1
tables = public.big_tx
topic_prefix = t1
snapshot_mode = never
json_schemas = $JSON_SCHEMAS

[source s2]
host = @SOCK@
port = @PORT@
admin_host = @SOCK@
dbname = db1
user = cdc_user
password_file = @WORK@/db1.pass
publication = pub_s2
slot = slot_s2
tables = public.big_tb
topic_prefix = t2
snapshot_mode = never
json_schemas = $JSON_SCHEMAS

[target db2]
host = @SOCK@
port = @PORT@
admin_host = @SOCK@
dbname = db2
user = db2_user
password_file = @WORK@/db2.pass

[pipeline p1]
source = s1
target = db2
consistency = transaction

[pipeline p2]
source = s2
target = db2
consistency = table
INI
	die "environment did not come up"
grep -q "bootstrap: nothing to change" "$WORK/bootstrap.log" ||
	{ cat "$WORK/bootstrap.log" >&2; die "bootstrap did not converge"; }
# The harness logs every statement: a benchmark must not.  Commit
# timestamps time the runs.
q postgres "ALTER SYSTEM SET log_statement = 'none'" >/dev/null &&
	q postgres "ALTER SYSTEM SET log_connections = off" >/dev/null &&
	q postgres "ALTER SYSTEM SET track_commit_timestamp = on" >/dev/null &&
	pg_cluster_restart src || die "cluster settings"
[ "$(q db1 "SHOW track_commit_timestamp")" = on ] || die "track_commit_timestamp is not on"
# Our own copy: a rebuild of ./cdc-agent during the run changes nothing.
cp -p "$CDC_AGENT" "$WORK/cdc-agent"
AGENT_BUILT=$(date -u -r "$CDC_AGENT" '+%Y-%m-%d %H:%M UTC')
AGENT_VERSION=$("$CDC_AGENT" --version 2>/dev/null | head -n 1)
CDC_AGENT=$WORK/cdc-agent

# Target tables (apply needs only DML on them), and the poller: one
# statement a poll, each with its own snapshot (a VOLATILE function under
# READ COMMITTED), until it sees WANT rows or MAX_S have passed.  It returns
# its polls, the distinct partial counts (neither 0 nor WANT) and the first
# ten of them, and when it first saw a row.
q db2 "CREATE TABLE big_tx ($COLS) $NOVAC; CREATE TABLE big_tb ($COLS) $NOVAC;
	ALTER TABLE big_tx OWNER TO db2_user; ALTER TABLE big_tb OWNER TO db2_user;
CREATE FUNCTION bench_poll(tbl regclass, want bigint, max_s float8, pause_s float8) RETURNS text
LANGUAGE plpgsql AS \$\$
DECLARE deadline timestamptz := clock_timestamp() + max_s * interval '1 second';
	n bigint; polls bigint := 0; seen bigint[] := '{}'; first float8; done boolean := false;
BEGIN
	LOOP
		EXECUTE format('SELECT count(*) FROM %s', tbl) INTO n;
		polls := polls + 1;
		IF n <> 0 AND first IS NULL THEN first := extract(epoch FROM clock_timestamp()); END IF;
		IF n = want THEN done := true; EXIT; END IF;
		IF n <> 0 AND NOT n = ANY (seen) THEN seen := seen || n; END IF;
		EXIT WHEN clock_timestamp() >= deadline;
		IF pause_s > 0 THEN PERFORM pg_sleep(pause_s); END IF;
	END LOOP;
	RETURN concat_ws(' ', done, polls, cardinality(seen), coalesce(first, 0),
		coalesce(nullif(array_to_string(seen[1:10], ','), ''), '-'));
END \$\$;" >/dev/null || die "target tables in db2"

hwm_of() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { calc "printf \"%.1f\", $1 / 1024"; }

CAP_PID='' APP_PID='' CAP_KIB=0 APP_KIB=0
pair_start() { # PIPELINE
	local i
	echo "---- start $(date -u +%T.%N)" >>"$WORK/capture-$1.log"
	capture_start "$1"
	CAP_PID=${CAPTURE_PIDS[$1]}
	# apply subscribes to the topics capture creates at its start
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -c "streaming from slot" "$WORK/capture-$1.log")" -ge "$(grep -c -- "---- start" "$WORK/capture-$1.log")" ] && break
		kill -0 "$CAP_PID" 2>/dev/null || { tail -n 20 "$WORK/capture-$1.log" >&2; die "capture $1 died"; }
		sleep 0.1
	done
	apply_start "$1"
	APP_PID=${CAPTURE_PIDS[apply-$1]}
	log "  started capture $1 (pid $CAP_PID) and apply $1 (pid $APP_PID)"
}
# Notes their VmHWM in CAP_KIB and APP_KIB and stops both with SIGTERM
# (not in a subshell: it waits for them).
pair_stop() { # PIPELINE
	local rc=0
	CAP_KIB=$(hwm_of "$CAP_PID") APP_KIB=$(hwm_of "$APP_PID")
	kill -TERM "$CAP_PID" "$APP_PID"
	wait "$CAP_PID" || rc=$?
	wait "$APP_PID" || rc=$((rc ? rc : $?))
	[ "$rc" = 0 ] || die "capture or apply $1 exited with code $rc on SIGTERM (see $WORK/*-$1.log)"
	CAP_PID='' APP_PID=''
}
alive() { kill -0 "$CAP_PID" 2>/dev/null && kill -0 "$APP_PID" 2>/dev/null; }
# Until SQL in db2 prints WANT (the pair still running), up to WAIT_MAX_SEC.
wait_value() { # SQL WANT WHAT
	local deadline=$((SECONDS + WAIT_MAX_SEC))
	until [ "$(q db2 "$1" 2>/dev/null)" = "$2" ]; do
		alive || { tail -n 20 "$WORK"/*.log >&2; die "capture or apply died waiting for $3"; }
		((SECONDS < deadline)) || die "$3 not in db2 within $WAIT_MAX_SEC s"
		sleep 0.2
	done
}

RESULTS=() PARTIAL_TX=''
APPLY_TX_KIB=0
# One run: MODE PIPELINE TABLE.  Appends a row to RESULTS.
run() {
	local mode=$1 p=$2 t=$3 done polls partials first examples src_commit tgt_commit secs rate
	pair_start "$p"
	# Caught up: a marker row in, then out again.
	q db1 "INSERT INTO $t VALUES (-1, 0)" >/dev/null
	wait_value "SELECT count(*) FROM $t WHERE id = -1" 1 "the marker row of $t"
	q db1 "DELETE FROM $t" >/dev/null
	wait_value "SELECT count(*) FROM $t" 0 "the marker's delete in $t"
	PGAPPNAME=bench-poller "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCK_src" -p "$PG_PORT_src" \
		-U postgres -d db2 -c "SET max_parallel_workers_per_gather = 0" \
		-c "SELECT bench_poll('$t', $BIG_ROWS, $WAIT_MAX_SEC, $POLL_PAUSE_MS / 1000.0)" >"$WORK/poll-$p.txt" 2>&1 &
	POLL_PID=$!
	wait_value "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bench-poller' AND state = 'active'" 1 "the poller"
	log "  $mode: one transaction of $BIG_ROWS rows into $t"
	q db1 "INSERT INTO $t SELECT g, g FROM generate_series(1, $BIG_ROWS) g" >/dev/null || die "the source transaction"
	wait "$POLL_PID" || { cat "$WORK/poll-$p.txt" >&2; die "the poller failed"; }
	POLL_PID=''
	read -r done polls partials first examples <"$WORK/poll-$p.txt"
	[ "$done" = t ] || die "$mode: $t in db2 did not reach $BIG_ROWS rows within $WAIT_MAX_SEC s"
	pair_stop "$p"
	src_commit=$(q db1 "SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM $t LIMIT 1")
	tgt_commit=$(q db2 "SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin))) FROM $t")
	[ -n "$src_commit" ] && [ -n "$tgt_commit" ] || die "$mode: no commit timestamps"
	secs=$(calc "printf \"%.2f\", $tgt_commit - $src_commit")
	rate=$(calc "printf \"%.0f\", $BIG_ROWS / ($tgt_commit - $src_commit)")
	[ "$first" = 0 ] || FIRST_ROWS[$mode]=$(calc "printf \"%.2f\", $first - $src_commit")
	RESULTS+=("| consistency = $mode | $BIG_ROWS | $secs | $rate | $polls | $partials | $(mib "$APP_KIB") | $(mib "$CAP_KIB") |")
	log "  $mode: $secs s to target commit ($rate rows/s), $polls polls, $partials partial states seen (first: $examples), apply VmHWM $APP_KIB kB, capture $CAP_KIB kB"
	if [ "$mode" = transaction ]; then
		PARTIAL_TX=$partials APPLY_TX_KIB=$APP_KIB
		[ "$partials" = 0 ] || log "  ERROR: the poller saw part of the transaction: $examples"
	fi
}
declare -A FIRST_ROWS
run transaction p1 big_tx
((TABLE_RUN)) && run table p2 big_tb

# ---- report -----------------------------------------------------------------------

GOAL="**not met**"
((APPLY_TX_KIB < RSS_GOAL_KIB)) && GOAL=met
PARTIAL_LINE="none"
[ "$PARTIAL_TX" = 0 ] || PARTIAL_LINE="**$PARTIAL_TX** (a failure)"
cmd="BIG_ROWS=$BIG_ROWS TABLE_RUN=$TABLE_RUN PARTITIONS=$PARTITIONS JSON_SCHEMAS=$JSON_SCHEMAS POLL_PAUSE_MS=$POLL_PAUSE_MS scripts/bench-txn.sh"
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_total=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kafka_v=$(cat /var/cache/cdc-agent/dist/kafka-dist.version 2>/dev/null || echo "?")
rdkafka_v=$(pkg-config --modversion rdkafka 2>/dev/null || echo "?")
pg_v=$("$PG_BIN/postgres" --version | awk '{ print $3 }')
# Read-only git: the commit, and whether agent/ differs from it.
agent_v=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
[ -z "$(git -C "$REPO_ROOT" --no-optional-locks status --porcelain -- agent 2>/dev/null)" ] ||
	agent_v="$agent_v + uncommitted changes in agent/"
agent_v="$agent_v, \`${AGENT_VERSION:-?}\`, binary built $AGENT_BUILT"
LOAD_END=$(cut -d' ' -f1 /proc/loadavg)

SECTION_FILE=$WORK/section.md
{
	echo "$SECTION"
	echo
	echo "Produced by \`$cmd\`"
	echo "on $(date -u '+%Y-%m-%d %H:%M UTC') (whole run: $((SECONDS - T_BEGIN)) s), agent at $agent_v."
	echo
	echo "Machine: \`nproc\` = $(nproc) ($cpu_model), $mem_total memory, $(uname -sr). PostgreSQL $pg_v"
	echo "(one private cluster, \`fsync = off\`, \`track_commit_timestamp = on\`, statement logging off),"
	echo "Kafka $kafka_v (one broker, ZooKeeper mode, topics of $PARTITIONS partitions), librdkafka $rdkafka_v."
	echo "Everything shares the machine's CPUs, the poller included, and the machine is shared with other"
	echo "work (other builds and tests may run alongside: times are noisy; what this measures is the"
	echo "partial states and the peak RSS). Load average (1 min) at the start: $LOAD_START; at the end: $LOAD_END."
	echo
	echo "Method (issue #17: a 2M-row single transaction is never seen partly applied by a poller, and"
	echo "apply's peak RSS during it stays under 128 MiB). One source transaction inserts $BIG_ROWS rows"
	echo "into \`(id int primary key, v int)\` (\`INSERT ... SELECT generate_series\`); cdc-agent"
	echo "(\`capture\` + \`apply\`, bootstrapped by the agent, \`json_schemas = $JSON_SCHEMAS\`) replicates it to"
	if ((TABLE_RUN)); then
		echo "another database of the cluster, with \`[pipeline] consistency = transaction\` and,"
		echo "on a table of its own with only that pipeline running, \`consistency = table\`. A poller on the"
	else
		echo "another database of the cluster, with \`[pipeline] consistency = transaction\`. A poller on the"
	fi
	pause="without pause"
	((POLL_PAUSE_MS)) && pause="with $POLL_PAUSE_MS ms between polls"
	echo "target runs \`SELECT count(*)\` in a loop $pause (one session, each statement with its"
	echo "own READ COMMITTED snapshot) from before the source transaction until it sees all the rows;"
	echo "*partial states seen*: distinct counts it saw that were neither 0 nor $BIG_ROWS. *s to target"
	echo "commit*: from the source transaction's commit to the target's commit of its last row (both"
	echo "commit timestamps, the same clock). *Peak RSS*: VmHWM, read just before SIGTERM."
	echo
	echo "| mode | rows | s to target commit | rows/s | polls | partial states seen | apply peak RSS MiB | capture peak RSS MiB |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${RESULTS[@]}"
	echo
	if [ -n "${FIRST_ROWS[table]:-}" ]; then
		echo "Under \`consistency = table\` the first rows were visible in the target ${FIRST_ROWS[table]} s after the"
		echo "source commit; under \`consistency = transaction\`, all of them at once."
		echo
	fi
	echo "Partial states seen under \`consistency = transaction\`: $PARTIAL_LINE. Goal (from the issue): apply's"
	echo "peak RSS under 128 MiB during the transaction — $GOAL ($(mib "$APPLY_TX_KIB") MiB)."
} >"$SECTION_FILE"

bench_write_section "$SECTION" "$SECTION_FILE" "$BENCH_OUT"
log "wrote section \"$SECTION\" of $BENCH_OUT"
cat "$SECTION_FILE"
[ "$PARTIAL_TX" = 0 ] || die "the poller saw part of the transaction under consistency = transaction"
