#!/usr/bin/env bash
# scripts/bench-tls.sh: what Kafka over SASL_SSL costs cdc-agent's pipeline
# (issue #16): the same pipeline through one broker's plaintext listener and
# through its SASL_SSL one, side by side in one run.
#
#   scripts/bench-tls.sh       (as root, after `make`; `make bench` and
#                               `make bench-tls` run it)
#
# On one machine, loopback only: a private PostgreSQL 15 cluster (db1 the
# source, db2 the target), one ZooKeeper-mode Kafka broker (topics of 1
# partition) with two listeners, as tests/lib/kafka.sh's
# kafka_start_zk_secured makes them for tests 77 and 79:
#   - PLAINTEXT on 127.0.0.1:IPORT;
#   - SASL_SSL on localhost:PORT: TLS 1.3 only (ssl.enabled.protocols), the
#     broker's certificate signed by a test CA and naming localhost,
#     client certificates required (mutual TLS), SCRAM-SHA-512 users
#     capture-p0 and apply-p0 with their password files.
# Two topologies differ only in [kafka] (bootstrap_servers, and for sasl_ssl
# security_protocol, sasl_mechanism, ssl_ca_file, ssl_cert_file,
# ssl_key_file, reached as localhost so the agent's hostname verification
# is on) and in the pipeline's Kafka users: one state directory, one slot,
# one pair of topics and one consumer group serve both, so only the
# connection differs.
#
# The method and workload are bench-pipeline.sh's cdc-agent throughput runs
# (json_schemas = false): ROWS rows into (id int primary key, v int) in
# transactions of TXN_ROWS rows, one session as fast as it goes, timed from
# the writer's first statement (server clock) to the commit of the last row
# in the target (a deferred constraint trigger on that row); each run starts
# once the pipeline has caught up (a TRUNCATE and a marker row reached the
# target), so connecting, the TLS handshakes and the SCRAM logins are not in
# the time.  Capture and apply are restarted with the other topology between
# runs; WARM_RUNS untimed runs per listener first (the broker's JVM compiles
# its hot paths, the TLS ones included), then REPEAT runs each, the two
# listeners alternating (and which goes first alternating too); medians.
# CPU time of capture, apply, the walsender, apply's backend and the broker
# over each run, per row, and of capture's and apply's threads by name (the
# agent's main thread, librdkafka's rdk:main and rdk:broker<id>); peak RSS
# (VmHWM) of capture and apply, read before each SIGTERM.  The results go into the section "## Kafka over SASL_SSL: the
# cost of TLS" of docs/BENCHMARKS.md (only that section is rewritten) and to
# stdout.
#
# Env: ROWS (200000) TXN_ROWS (1000) REPEAT (3) WARM_RUNS (2) CDC_AGENT
#      (./cdc-agent) PG_BIN (/usr/lib/postgresql/15/bin) BENCH_OUT
#      (docs/BENCHMARKS.md) BENCH_KEEP_LOGS=1 keeps a copy of the work
#      directory (logs).  BENCH_PERF_DIR=DIR: the last timed run of each
#      listener also records capture with perf (call graphs) into
#      DIR/perf-capture-plain.data and perf-capture-tls.data (for a look
#      at where capture's CPU goes: those runs are slowed by perf).
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CDC_AGENT=${CDC_AGENT:-$REPO_ROOT/cdc-agent}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROWS=${ROWS:-200000}
TXN_ROWS=${TXN_ROWS:-1000}
REPEAT=${REPEAT:-3}
WARM_RUNS=${WARM_RUNS:-2}
BENCH_OUT=${BENCH_OUT:-$REPO_ROOT/docs/BENCHMARKS.md}
SECTION="## Kafka over SASL_SSL: the cost of TLS"
WAIT_MAX_SEC=300 # a run not delivered in this time fails

log() { printf 'bench-tls: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the cluster runs as the postgres user)"
[ -x "$CDC_AGENT" ] || die "$CDC_AGENT missing: run make first"
command -v openssl >/dev/null || die "openssl missing (the test certificates)"
for v in ROWS TXN_ROWS REPEAT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
[[ $WARM_RUNS =~ ^[0-9]+$ ]] || die "WARM_RUNS must be a number"

# The test harness (pg.sh, kafka.sh, capture_env_down).  Its functions are
# not written for set -e: they are only called in || contexts here.
export PG_BIN REPO_ROOT CDC_AGENT
# shellcheck source=SCRIPTDIR/../tests/lib/capture_env.sh
. "$REPO_ROOT/tests/lib/capture_env.sh"

# ---- processes we start, and cleanup -----------------------------------------

CAP_PID='' APP_PID='' AGENT_EXE='' PERF_PID=''
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
	[ -n "$PERF_PID" ] && { kill -INT "$PERF_PID" 2>/dev/null; wait "$PERF_PID" 2>/dev/null; }
	stop_pid "$CAP_PID" "$AGENT_EXE"
	stop_pid "$APP_PID" "$AGENT_EXE"
	if [ "${BENCH_KEEP_LOGS:-}" = 1 ] && [ -n "${WORK:-}" ]; then
		cp -a "$WORK" "$WORK.kept" 2>/dev/null && log "logs kept in $WORK.kept"
	fi
	capture_env_down >/dev/null 2>&1
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

q() { pg_psql src "$1" "$2"; } # DB SQL: prints rows; non-zero on error
calc() { awk "BEGIN { $1 }"; }   # calc 'printf "%.1f", 1/3'

# ---- environment -----------------------------------------------------------------

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
T_BEGIN=$SECONDS
NARROW_COLS="id int PRIMARY KEY, v int"
NOVAC="WITH (autovacuum_enabled = off)"
# Target side, as in bench-pipeline.sh: a deferred trigger, fired at commit,
# notes when the last row of a run committed; bench_wait(query, max_s) runs
# the query until it returns a value (NULL after max_s).
TARGET_SQL="
CREATE TABLE narrow ($NARROW_COLS) $NOVAC;
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

# The topology of listener MODE (plain | tls): the same but for [kafka] and
# the pipeline's Kafka users (which plaintext refuses).
topology() { # MODE
	local kafka users=''
	if [ "$1" = tls ]; then
		kafka="bootstrap_servers = localhost:$KP
security_protocol = sasl_ssl
sasl_mechanism = scram-sha-512
ssl_ca_file = $WORK/tls/ca.pem
ssl_cert_file = $WORK/tls/client.pem
ssl_key_file = $WORK/tls/client.key"
		users="capture_kafka_user = capture-p0
capture_kafka_password_file = $WORK/capture-kafka.pass
apply_kafka_user = apply-p0
apply_kafka_password_file = $WORK/apply-kafka.pass"
	else
		kafka="bootstrap_servers = 127.0.0.1:$IKP"
	fi
	cat <<EOF
[agent]
state_dir = $WORK/state
manage_units = false

[kafka]
$kafka
partitions = 1

[source s0]
host = $PG_SOCK_src
port = $PG_PORT_src
dbname = db1
user = cdc_user
password_file = $WORK/db1.pass
admin_host = $PG_SOCK_src
publication = bench_s0
slot = bench_s0
tables = public.narrow
topic_prefix = b0
snapshot_mode = never
json_schemas = false

[target db2]
host = $PG_SOCK_src
port = $PG_PORT_src
dbname = db2
user = db2_user
password_file = $WORK/tgt.pass
admin_host = $PG_SOCK_src

[pipeline p0]
source = s0
target = db2
$users
EOF
}

log "starting PostgreSQL and Kafka (plaintext and SASL_SSL listeners), bootstrapping the topology"
WORK=$(mktemp -d /tmp/cdc-bench-tls.XXXXXX)
bench_env_up() {
	local dist zk
	dist=$("$REPO_ROOT/scripts/kafka-dist.sh" 2>"$WORK/kafka-dist.log") || return 1
	kafka_unpack "$dist" "$WORK/kafka" >/dev/null || return 1
	zk=$(free_port)
	KP=$(free_port)
	while [ "$KP" = "$zk" ]; do KP=$(free_port); done
	IKP=$(free_port)
	while [ "$IKP" = "$KP" ] || [ "$IKP" = "$zk" ]; do IKP=$(free_port); done
	kafka_tls_make "$WORK/tls" localhost >>"$WORK/servers.log" 2>&1 || return 1
	zk_start "$WORK/kafka" "$zk" >>"$WORK/servers.log" 2>&1 || return 1
	kafka_start_zk_secured "$WORK/kafka" "$KP" "$IKP" "$zk" "$WORK/tls" \
		listener.name.secure.ssl.enabled.protocols=TLSv1.3 >>"$WORK/servers.log" 2>&1 || return 1
	(umask 077 && echo 'cdc pw' >"$WORK/db1.pass" && echo 'tgt pw' >"$WORK/tgt.pass" &&
		printf '%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$WORK/capture-kafka.pass" &&
		printf '%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$WORK/apply-kafka.pass")
	kafka_scram_user "$WORK/kafka" "$IKP" capture-p0 "$WORK/capture-kafka.pass" >>"$WORK/servers.log" 2>&1 &&
		kafka_scram_user "$WORK/kafka" "$IKP" apply-p0 "$WORK/apply-kafka.pass" >>"$WORK/servers.log" 2>&1 ||
		return 1
	pg_cluster_create src >>"$WORK/servers.log" 2>&1 || return 1
	# The harness logs every statement: a benchmark must not.  Commit
	# timestamps on as in bench-pipeline.sh, so the source costs the same.
	q postgres "ALTER SYSTEM SET log_statement = 'none'" &&
		q postgres "ALTER SYSTEM SET log_connections = off" &&
		q postgres "ALTER SYSTEM SET track_commit_timestamp = on" &&
		q postgres "CREATE DATABASE db1" || return 1
	q db1 "CREATE TABLE narrow ($NARROW_COLS) $NOVAC" >/dev/null || return 1
	topology plain >"$WORK/topo-plain.ini"
	topology tls >"$WORK/topo-tls.ini"
	# Nothing but databases: refuse if the plan touches this host.
	"$CDC_AGENT" -c "$WORK/topo-plain.ini" plan >"$WORK/plan.log" 2>&1
	if grep -q '^host:' "$WORK/plan.log"; then
		grep '^host:' "$WORK/plan.log" >&2
		log "bootstrap would change this host (above): refusing"
		return 1
	fi
	# The first bootstrap sets wal_level and asks for a restart (exit 4).
	"$CDC_AGENT" -c "$WORK/topo-plain.ini" bootstrap >"$WORK/bootstrap-1.log" 2>&1
	pg_cluster_restart src || return 1
	"$CDC_AGENT" -c "$WORK/topo-plain.ini" bootstrap >"$WORK/bootstrap.log" 2>&1
	# The other topology must want nothing more: the same databases.
	"$CDC_AGENT" -c "$WORK/topo-tls.ini" bootstrap >"$WORK/bootstrap-tls.log" 2>&1
}
bench_env_up || { tail -n 30 "$WORK"/*.log >&2 2>/dev/null; die "environment did not come up"; }
for f in bootstrap bootstrap-tls; do
	grep -q "bootstrap: nothing to change" "$WORK/$f.log" ||
		{ cat "$WORK/$f.log" >&2; die "$f did not converge"; }
done
# What the SASL_SSL listener negotiates (the OpenSSL library librdkafka uses
# here; hostname and chain checked as the agent does).
TLS_INFO=$(timeout 20 openssl s_client -connect "127.0.0.1:$KP" -servername localhost \
	-verify_hostname localhost -verify_return_error -CAfile "$WORK/tls/ca.pem" \
	-cert "$WORK/tls/client.pem" -key "$WORK/tls/client.key" -brief </dev/null 2>&1 |
	sed -n 's/^Protocol version: //p; s/^Ciphersuite: //p' | paste -sd' ')
[[ $TLS_INFO == TLSv1.3\ * ]] || die "the SASL_SSL listener did not negotiate TLS 1.3 (got: ${TLS_INFO:-nothing})"
# Our own copy: a rebuild of ./cdc-agent during the run changes nothing.
cp -p "$CDC_AGENT" "$WORK/cdc-agent"
AGENT_BUILT=$(date -u -r "$CDC_AGENT" '+%Y-%m-%d %H:%M UTC')
CDC_AGENT=$WORK/cdc-agent
AGENT_EXE=$(readlink -f "$CDC_AGENT")
# The target table, owned by the target's user (apply only needs DML on it).
q db2 "$TARGET_SQL" >/dev/null || die "target table in db2"
q db2 "ALTER TABLE narrow OWNER TO db2_user" >/dev/null

# ---- the pipeline, on one listener or the other -------------------------------

CLK_TCK=$(getconf CLK_TCK)
cpu_of() { # PID -> CPU seconds (user + system, all threads); 0 if gone
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	stat=${stat##*) }
	awk -v s="$stat" -v hz="$CLK_TCK" 'BEGIN { split(s, f, " "); printf "%.2f", (f[12] + f[13]) / hz }'
}
# CPU seconds the whole machine spent busy (all CPUs) since boot.
machine_cpu() { awk -v hz="$CLK_TCK" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat; }
# "name seconds" per thread name of PID (threads of one name summed):
# where in capture and apply the CPU goes (librdkafka names its threads
# rdk:main, rdk:broker<id>, ...).
threads_of() { # PID
	local t stat
	for t in /proc/"$1"/task/*; do
		stat=$(cat "$t/stat" 2>/dev/null) || continue
		printf '%s %s\n' "$(cat "$t/comm" 2>/dev/null | tr ' ' _)" "${stat##*) }"
	done | awk -v hz="$CLK_TCK" '{ c[$1] += ($13 + $14) / hz } END { for (n in c) printf "%s %.2f\n", n, c[n] }'
}
hwm_of() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
broker_pid() { cat "$WORK/kafka/kafka.pid"; }
walsender_pid() { q db1 "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'bench_s0'"; }
apply_backend_pid() { q db2 "SELECT pid FROM pg_stat_activity WHERE datname = 'db2' AND application_name = 'cdc-agent' AND backend_type = 'client backend' LIMIT 1"; }

RUNNING='' # plain | tls | ''
RSS_LOG=$WORK/rss # lines: mode timed capture_kib apply_kib
: >"$RSS_LOG"
TIMED=0 # the processes running served a timed run

cdc_start() { # MODE
	local m=$1 i
	echo "---- start $(date -u +%T)" >>"$WORK/capture-$m.log"
	"$CDC_AGENT" -c "$WORK/topo-$m.ini" capture p0 >>"$WORK/capture-$m.log" 2>&1 &
	CAP_PID=$!
	# apply subscribes to topics capture creates at its start
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -c "streaming from slot" "$WORK/capture-$m.log")" -ge "$(grep -c -- "---- start" "$WORK/capture-$m.log")" ] && break
		kill -0 "$CAP_PID" 2>/dev/null || { tail -n 20 "$WORK/capture-$m.log" >&2; die "capture ($m) died"; }
		sleep 0.1
	done
	"$CDC_AGENT" -c "$WORK/topo-$m.ini" apply p0 >>"$WORK/apply-$m.log" 2>&1 &
	APP_PID=$!
	RUNNING=$m TIMED=0
	log "  started capture (pid $CAP_PID) and apply (pid $APP_PID) on the $m listener"
}
cdc_stop() {
	local rc=0
	echo "$RUNNING $TIMED $(hwm_of "$CAP_PID") $(hwm_of "$APP_PID")" >>"$RSS_LOG"
	kill -TERM "$CAP_PID" "$APP_PID"
	wait "$CAP_PID" || rc=$?
	wait "$APP_PID" || rc=$((rc ? rc : $?))
	CAP_PID='' APP_PID='' RUNNING=''
	[ "$rc" = 0 ] || die "capture or apply exited with code $rc on SIGTERM (see $WORK/*.log)"
}
use_mode() { # MODE
	[ "$RUNNING" = "$1" ] && return 0
	[ -n "$RUNNING" ] && cdc_stop
	cdc_start "$1"
}

# Runs QUERY in db2 until it returns a value, and prints it.
wait_for() { # QUERY MAX_SEC WHAT
	local deadline=$((SECONDS + $2)) t
	while :; do
		t=$(q db2 "SELECT bench_wait(\$q\$$1\$q\$, 1.0)") || return 1
		[ -n "$t" ] && { printf '%s' "$t"; return 0; }
		kill -0 "$CAP_PID" 2>/dev/null && kill -0 "$APP_PID" 2>/dev/null ||
			{ log "capture or apply ($RUNNING) died"; tail -n 20 "$WORK"/*-"$RUNNING".log >&2; return 1; }
		((SECONDS < deadline)) || { log "$3 not in db2 within $2 s"; return 1; }
	done
}

MARK=0
# Empties the table at the source and waits until the truncate and a marker
# row after it reached the target: the pipeline has caught up.
catch_up() {
	MARK=$((MARK + 1))
	q db1 "TRUNCATE narrow; INSERT INTO narrow (id, v) VALUES (-$MARK, 0)" >/dev/null
	wait_for "SELECT 1 FROM narrow WHERE id = -$MARK" "$WAIT_MAX_SEC" "marker row -$MARK" >/dev/null ||
		die "$RUNNING did not catch up"
	[ "$(q db2 "SELECT count(*) FROM narrow")" = 1 ] || die "narrow in db2 not emptied by the truncate"
	q db2 "DELETE FROM bench_done" >/dev/null
}

LOAD_SQL=$WORK/load.sql # ROWS rows in transactions of TXN_ROWS
{
	echo "SELECT extract(epoch FROM clock_timestamp());"
	for ((s = 1; s <= ROWS; s += TXN_ROWS)); do
		e=$((s + TXN_ROWS - 1 < ROWS ? s + TXN_ROWS - 1 : ROWS))
		echo "INSERT INTO narrow SELECT g, g FROM generate_series($s, $e) g;"
	done
	echo "SELECT extract(epoch FROM clock_timestamp());"
} >"$LOAD_SQL"

TH=$WORK/threads # lines: label process thread_name cpu_seconds
: >"$TH"
TP=$WORK/throughput # lines: label rep seconds write_s cpu: capture apply walsender backend broker machine
: >"$TP"
throughput_run() { # MODE LABEL REP
	local m=$1 label=$2 rep=$3 out t0 tw t1 n pids=() c0=() c1=() i m0 p pid
	use_mode "$m"
	catch_up
	pids=("$CAP_PID" "$APP_PID" "$(walsender_pid)" "$(apply_backend_pid)" "$(broker_pid)")
	for i in "${!pids[@]}"; do c0[i]=$(cpu_of "${pids[i]:-0}"); done
	threads_of "$CAP_PID" >"$WORK/th0-capture"
	threads_of "$APP_PID" >"$WORK/th0-apply"
	if [ -n "${BENCH_PERF_DIR:-}" ] && [ "$rep" = "$REPEAT" ] && [[ $label != warm-* ]]; then
		perf record -q -F 999 -g -p "$CAP_PID" -o "$BENCH_PERF_DIR/perf-capture-$m.data" >/dev/null 2>&1 &
		PERF_PID=$!
	fi
	m0=$(machine_cpu)
	out=$("$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres \
		-d db1 -f "$LOAD_SQL") || die "load"
	t0=$(head -n 1 <<<"$out")
	tw=$(tail -n 1 <<<"$out")
	t1=$(wait_for "SELECT extract(epoch FROM at) FROM bench_done WHERE tbl = 'narrow' AND id = $ROWS" \
		"$WAIT_MAX_SEC" "row $ROWS") || die "$label did not deliver row $ROWS"
	for i in "${!pids[@]}"; do c1[i]=$(calc "printf \"%.2f\", $(cpu_of "${pids[i]:-0}") - ${c0[i]}"); done
	c1+=("$(calc "printf \"%.2f\", $(machine_cpu) - $m0")")
	if [ -n "$PERF_PID" ]; then
		kill -INT "$PERF_PID"
		wait "$PERF_PID" || true
		PERF_PID=''
	fi
	for p in capture apply; do
		[ "$p" = capture ] && pid=$CAP_PID || pid=$APP_PID
		threads_of "$pid" | awk -v l="$label" -v p="$p" 'NR == FNR { b[$1] = $2; next }
			{ printf "%s %s %s %.2f\n", l, p, $1, $2 - b[$1] }' "$WORK/th0-$p" - >>"$TH"
	done
	n=$(q db2 "SELECT count(*) FROM narrow WHERE id > 0")
	[ "$n" = "$ROWS" ] || die "$label: $n rows in db2, want $ROWS"
	[[ $label == warm-* ]] || TIMED=1
	echo "$label $rep $(calc "printf \"%.3f %.3f\", $t1 - $t0, $tw - $t0") ${c1[*]}" >>"$TP"
	log "  $label run $rep: $(calc "printf \"%.0f rows/s (%.2f s; source written in %.2f s)\", $ROWS / ($t1 - $t0), $t1 - $t0, $tw - $t0"); CPU s (capture apply walsender backend broker machine): ${c1[*]}"
}

log "warm-up: capture creates its slot's topics, apply assigns their partitions, on each listener"
use_mode plain
catch_up
use_mode tls
catch_up
log "throughput: $WARM_RUNS untimed runs per listener, then $REPEAT each of $ROWS rows in transactions of $TXN_ROWS, alternating"
# Which listener goes first alternates from one round to the next, so a
# drift of the shared machine falls on both alike.
round() { # LABEL_PREFIX REP
	local order=(plain tls) m
	(($2 % 2)) || order=(tls plain)
	for m in "${order[@]}"; do throughput_run "$m" "$1$m" "$2"; done
}
for ((rep = 1; rep <= WARM_RUNS; rep++)); do round warm- "$rep"; done
for ((rep = 1; rep <= REPEAT; rep++)); do round '' "$rep"; done
cdc_stop

# ---- report -----------------------------------------------------------------------

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
tp_col() { awk -v s="$1" -v k="$2" '$1 == s { print $k }' "$TP"; } # LABEL COLUMN
us_row() { calc "printf \"%.1f\", 1e6 * $1 / $ROWS"; }
mib() { calc "printf \"%.1f\", $1 / 1024"; }
rss_max() { awk -v m="$1" -v k="$2" '$1 == m && $2 == 1 && $k > x { x = $k } END { print x + 0 }' "$RSS_LOG"; }
declare -A SEC RATE CPU
for m in plain tls; do
	SEC[$m]=$(tp_col "$m" 3 | median)
	RATE[$m]=$(calc "printf \"%.0f\", $ROWS / ${SEC[$m]}")
	for k in 5 6 7 8 9; do CPU[$m.$k]=$(us_row "$(tp_col "$m" "$k" | median)"); done
	CPU[$m.path]=$(calc "printf \"%.1f\", ${CPU[$m.5]} + ${CPU[$m.6]} + ${CPU[$m.7]} + ${CPU[$m.8]} + ${CPU[$m.9]}")
done
RATIO=$(calc "printf \"%.2f\", ${RATE[tls]} / ${RATE[plain]}")
runs_of() { tp_col "$1" 3 | awk -v n="$ROWS" '{ printf "%s%.0f", (NR > 1 ? " / " : ""), n / $1 }'; }
TP_ROWS=()
for m in plain tls; do
	name="plaintext (127.0.0.1, no TLS, no SASL)"
	[ "$m" = tls ] && name="SASL_SSL (localhost, TLS 1.3, SCRAM-SHA-512, client certificate)"
	busy=$(calc "printf \"%.2f\", $(tp_col "$m" 10 | median) / ${SEC[$m]}")
	TP_ROWS+=("| $name | ${SEC[$m]} | **${RATE[$m]}** | $(runs_of "$m") | $(calc "printf \"%.2f\", ${RATE[$m]} / ${RATE[plain]}") | ${CPU[$m.5]} | ${CPU[$m.6]} | ${CPU[$m.9]} | ${CPU[$m.7]} · ${CPU[$m.8]} | ${CPU[$m.path]} | $busy | $(mib "$(rss_max "$m" 3)") / $(mib "$(rss_max "$m" 4)") |")
done
d() { calc "printf \"%+.1f\", ${CPU[tls.$1]} - ${CPU[plain.$1]}"; } # KEY: tls - plain, µs/row
# A thread's CPU per row, median over the timed runs of MODE ("0.0" if none).
thread_us() { # MODE PROCESS THREAD
	local v
	v=$(awk -v l="$1" -v p="$2" -v t="$3" '$1 == l && $2 == p && $3 == t { print $4 }' "$TH" | median)
	us_row "${v:-0}"
}
# "name plain → tls" per thread of PROCESS that used 0.1 µs/row or more in
# either run (the main thread is cdc-agent's; rdk:* are librdkafka's).
threads_line() { # PROCESS
	local t a b out=''
	for t in $(awk -v p="$1" '$2 == p && $1 !~ /^warm-/ { print $3 }' "$TH" | sort -u); do
		a=$(thread_us plain "$1" "$t") b=$(thread_us tls "$1" "$t")
		calc "exit !($a >= 0.1 || $b >= 0.1)" || continue
		[ "$t" = cdc-agent ] && t="main thread"
		out+="${out:+, }$t $a → $b"
	done
	printf '%s' "$out"
}
CAP_RDK_D=0
for t in $(awk '$2 == "capture" && $3 ~ /^rdk:broker[0-9]/ { print $3 }' "$TH" | sort -u); do
	CAP_RDK_D=$(calc "print $CAP_RDK_D + $(thread_us tls capture "$t") - $(thread_us plain capture "$t")")
done
SPIN_NOTE=''
calc "exit !($CAP_RDK_D > 0.5 * (${CPU[tls.5]} - ${CPU[plain.5]}) && $CAP_RDK_D >= 1)" &&
	SPIN_NOTE=" Of capture's, $(calc "printf \"%+.1f\", $CAP_RDK_D") µs/row are in librdkafka's thread of the broker connection, not in the agent's code (\"Kafka over SASL_SSL: capture's producer thread\" below)."

cmd="ROWS=$ROWS TXN_ROWS=$TXN_ROWS REPEAT=$REPEAT WARM_RUNS=$WARM_RUNS scripts/bench-tls.sh"
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
aes=no
grep -qw aes /proc/cpuinfo && aes=yes
kafka_v=$(cat /var/cache/cdc-agent/dist/kafka-dist.version 2>/dev/null || echo "?")
rdkafka_v=$(pkg-config --modversion rdkafka 2>/dev/null || echo "?")
ossl_v=$(openssl version | awk '{ print $2 }')
java_v=$(java -version 2>&1 | awk -F'"' '/version/ { print $2; exit }')
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
	echo "Produced by \`$cmd\` (\`make bench-tls\`; \`make bench\` runs it too)"
	echo "on $(date -u '+%Y-%m-%d %H:%M UTC') (whole run: $((SECONDS - T_BEGIN)) s), agent at \`$agent_v\`."
	echo
	echo "Machine: \`nproc\` = $(nproc) ($cpu_model, AES instructions: $aes), $(uname -sr), shared with"
	echo "other jobs (load average, 1 min: $LOAD_START at the start, $LOAD_END at the end): read the two rows"
	echo "of this run against each other, not against other sections' figures. PostgreSQL $pg_v (one private"
	echo "cluster, \`fsync = off\`), Kafka $kafka_v on Java $java_v (one broker, ZooKeeper mode, heap"
	echo "\`${KAFKA_HEAP_OPTS}\`, 2 network and 2 I/O threads, topics of 1 partition), librdkafka $rdkafka_v"
	echo "with OpenSSL $ossl_v; compression lz4 (the agent's default)."
	echo
	echo "Method. The cdc-agent throughput runs of \"End-to-end pipeline\" (\`json_schemas = false\`): $ROWS"
	echo "rows into \`(id int primary key, v int)\`, $TXN_ROWS rows per transaction, one session as fast as it"
	echo "goes, timed from the writer's first statement to the commit of the last row in the target. One"
	echo "broker has two listeners: PLAINTEXT on 127.0.0.1, and SASL_SSL on localhost (only TLS 1.3 enabled;"
	echo "\`openssl s_client\` negotiated \`$TLS_INFO\` there; the broker's certificate names localhost and"
	echo "the agent checks it, client certificates required, SCRAM-SHA-512 users for capture and apply, as in"
	echo "tests/integration/79_kafka_secured.sh). Two topologies differ only in \`[kafka]\` and the pipeline's"
	echo "Kafka users: one slot, one pair of topics, one consumer group, so only the connection differs."
	echo "Capture and apply restart on the other listener between runs, and a run starts once the pipeline"
	echo "has caught up, so connecting, handshakes and SCRAM logins are outside the times. $WARM_RUNS untimed"
	echo "runs per listener first, then $REPEAT each, alternating (which goes first alternates too); medians."
	echo "*CPU µs/row*: each process's CPU time (user + system, all threads) during the run over the rows"
	echo "(medians); *path*: their sum. *Peak RSS*: VmHWM over the timed runs, read before each SIGTERM."
	echo
	echo "| listener | s (median) | rows/s | runs (rows/s) | × plaintext | capture µs/row | apply µs/row | broker µs/row | walsender · apply's backend µs/row | path µs/row | machine CPUs busy | peak RSS MiB capture / apply |"
	echo "|---|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---|"
	printf '%s\n' "${TP_ROWS[@]}"
	echo
	echo "CPU µs/row by thread (plaintext → SASL_SSL, medians): capture: $(threads_line capture);"
	echo "apply: $(threads_line apply)."
	echo
	echo "The cost of TLS, this run: SASL_SSL moved $RATIO × plaintext's rows/s; per row, capture"
	echo "$(d 5) µs, apply $(d 6) µs, the broker $(d 9) µs (the whole path $(d path) µs on plaintext's"
	echo "${CPU[plain.path]}).$SPIN_NOTE What TLS itself adds is per byte: capture's producer encrypts"
	echo "each request (AES-GCM under TLS 1.3), the broker decrypts it and encrypts its fetch responses,"
	echo "which apply's consumer decrypts, and over TLS the broker cannot hand a fetch's log segment to the"
	echo "socket with \`sendfile\` but copies it through the JVM. The records are lz4-compressed batches, so"
	echo "few bytes are encrypted per row; SCRAM (4096 iterations) and the handshakes are paid once per"
	echo "connection, outside the times."
} >"$SECTION_FILE"

# Rewrite only our section of BENCHMARKS.md (create the file if needed).
. "$REPO_ROOT/scripts/lib/bench-section.sh"
bench_write_section "$SECTION" "$SECTION_FILE" "$BENCH_OUT"
log "wrote section \"$SECTION\" of $BENCH_OUT"
cat "$SECTION_FILE"
