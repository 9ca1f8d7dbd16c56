#!/usr/bin/env bash
# The Debezium-like metrics (docs/STATUS.md) on /metrics of `cdc-agent run`,
# with capture and apply as plain processes (manage_units = false):
# - snapshot progress while the initial snapshot runs (progress file) and
#   after it (tables done/remaining, rows per table);
# - milliseconds behind source: 0 when idle and caught up (while
#   last_event_age_seconds grows), > 0 while apply is held back;
# - events since the pipeline was created, by table and op, equal to the
#   changes made: across a SIGTERM restart of both, kill -9 of apply under
#   load and kill -9 of capture under load (whose replay puts duplicates in
#   Kafka but is counted once);
# - the producer queue;
# - every metric the Grafana dashboard (docs/grafana/cdc-agent.json) queries
#   has a sample.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT
CAPTURE_PARTITIONS=1
BIG=300000

capture_env_up "
CREATE TABLE big (id int PRIMARY KEY);
INSERT INTO big SELECT g FROM generate_series(1, $BIG) g;
CREATE TABLE my_table (id int PRIMARY KEY, name text);
INSERT INTO my_table SELECT g, 'row ' || g FROM generate_series(1, 500) g;
CREATE TABLE t2 (id int PRIMARY KEY, v int);
INSERT INTO t2 SELECT g, g FROM generate_series(1, 300) g;
" < <(
	topology_source db1 my_publication my_slot db1server "public.big, public.my_table, public.t2"
	topology_target db2
	topology_pipeline p1 db1 db2
) || { _fail "environment comes up"; finish; exit; }

SP=$(free_port)
sed -i "s/^manage_units = false$/&\nstatus_listen = 127.0.0.1:$SP/" "$T"
"$CDC_AGENT" -c "$T" run >>"$WORK/run.log" 2>&1 &
CAPTURE_PIDS[run]=$!

# Polls CMD (every half second) until it succeeds or SECONDS pass.
wait_for() { # SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.5
	done
}
same() { local want; want=$(table_digest db1 "$1") && [ "$(table_digest db2 "$1")" = "$want" ]; }
converged() { same big && same my_table && same t2; }
# A member of the progress file: python expression over p.
pj() { # KIND EXPR
	python3 - "$WORK/state/progress-$1-p1.json" "$2" <<'PY' 2>/dev/null
import json, sys
p = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))
PY
}
metrics() { curl -s --max-time 5 "http://127.0.0.1:$SP/metrics"; }
# The value of one sample, named with its labels as rendered.
mval() { metrics | grep -F "$1 " | head -n 1 | awk '{print $2}'; }
metric_is() { [ "$(mval "$1")" = "$2" ]; }
metric_gt0() {
	local v
	v=$(mval "$1")
	[ -n "$v" ] && awk -v v="$v" 'BEGIN { exit !(v > 0) }'
}
BEHIND='cdc_agent_milliseconds_behind_source{pipeline="p1",process'
TOTAL='cdc_agent_pipeline_events_total{pipeline="p1",process'

# ---- the initial snapshot ----
capture_start p1
snapshot_running() {
	[ "$(pj capture 'p["snapshot"]["running"] and p["snapshot"]["tables_remaining"] >= 1 and p["snapshot"]["tables"][0]["rows"] > 0 and not p["snapshot"]["tables"][0]["done"]')" = True ]
}
# The small tables, copied at once beside it, may be done already.
check "snapshot progress while it runs: rows of the first table, not done yet" wait_for 60 snapshot_running
apply_start p1
check "snapshot applied: the targets converge" wait_for 120 converged
check "snapshot done: 3 tables done" wait_for 40 metric_is 'cdc_agent_snapshot_tables_done{pipeline="p1"}' 3
check_eq "snapshot done: none remaining" 0 "$(mval 'cdc_agent_snapshot_tables_remaining{pipeline="p1"}')"
check_eq "snapshot done: not running" 0 "$(mval 'cdc_agent_snapshot_running{pipeline="p1"}')"
check_eq "snapshot rows of public.big" "$BIG" "$(mval 'cdc_agent_snapshot_rows{pipeline="p1",table="public.big"}')"
check_eq "snapshot rows of public.t2" 300 "$(mval 'cdc_agent_snapshot_rows{pipeline="p1",table="public.t2"}')"

# ---- behind source: 0 when idle and caught up ----
check "capture idle and caught up: 0 ms behind source" wait_for 40 metric_is "$BEHIND=\"capture\"}" 0
check "apply idle and caught up: 0 ms behind source" wait_for 40 metric_is "$BEHIND=\"apply\"}" 0
age=$(mval 'cdc_agent_last_event_age_seconds{pipeline="p1",process="capture"}')
age_grew() {
	awk -v a="$(mval 'cdc_agent_last_event_age_seconds{pipeline="p1",process="capture"}')" -v b="$age" 'BEGIN { exit !(a > b) }'
}
check "while idle, last_event_age_seconds grows (the next collection)" wait_for 30 age_grew
check_eq "... and behind source stays 0 for capture" 0 "$(mval "$BEHIND=\"capture\"}")"
check_eq "... and for apply" 0 "$(mval "$BEHIND=\"apply\"}")"

# ---- kill -9 of apply under load, held back while rows arrive ----
load() { # FIRST_ID COUNT: a transaction per row (an insert, an update), 5 ms apart
	local i
	for ((i = $1; i < $1 + $2; i++)); do
		echo "BEGIN; INSERT INTO my_table VALUES ($i, 'load $i'); UPDATE t2 SET v = v + 1 WHERE id = $((100 + i % 50)); COMMIT; SELECT pg_sleep(0.005);"
	done | "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres -d db1 >/dev/null
}
load 1000 300 &
LOAD=$!
sleep 1
kill -9 "${CAPTURE_PIDS[apply-p1]}"
wait "$LOAD"
check "apply held back while rows arrive: behind source > 0" wait_for 40 metric_gt0 "$BEHIND=\"apply\"}"
check "... while capture is caught up: 0" wait_for 40 metric_is "$BEHIND=\"capture\"}" 0
check_eq "producer queue bound" 100000 "$(mval 'cdc_agent_producer_queue_max_messages{pipeline="p1"}')"
check "producer queue use is served" metric_is 'cdc_agent_producer_queue_messages{pipeline="p1"}' 0
apply_start p1
check "apply back after kill -9: the targets converge" wait_for 120 converged
check "apply caught up again: 0 ms behind source" wait_for 40 metric_is "$BEHIND=\"apply\"}" 0

pg_psql src db1 "UPDATE my_table SET name = name || '!' WHERE id <= 50; DELETE FROM t2 WHERE id <= 20" >/dev/null
# Every change since the slot was made: snapshot reads, then the changes.
EXPECTED="public.big r $BIG
public.my_table c 300
public.my_table r 500
public.my_table u 50
public.t2 d 20
public.t2 r 300
public.t2 u 300"
by_table() { # PROCESS: "table op count" lines of the non-zero samples
	metrics | sed -n "s/^cdc_agent_table_events_total{pipeline=\"p1\",process=\"$1\",table=\"\([^\"]*\)\",op=\"\(.\)\"} \([0-9]*\)$/\1 \2 \3/p" |
		awk '$3 != 0' | sort
}
counts_are() { [ "$(by_table "$1")" = "$2" ]; }
total_of() { echo "$1" | awk '{ s += $3 } END { print s }'; }
check "the last changes reach the target" wait_for 40 converged
check "... capture's events by table and op equal the changes" wait_for 40 counts_are capture "$EXPECTED"
check "... apply's equal them too (its replay counted once)" wait_for 40 counts_are apply "$EXPECTED"
[ "$(by_table apply)" = "$EXPECTED" ] || echo "# apply: $(by_table apply | tr '\n' ' ')"
check_eq "capture's events since the pipeline was created" "$(total_of "$EXPECTED")" "$(mval "$TOTAL=\"capture\"}")"
check_eq "apply's events since the pipeline was created" "$(total_of "$EXPECTED")" "$(mval "$TOTAL=\"apply\"}")"

# ---- a restart of both keeps the counts ----
kill -TERM "${CAPTURE_PIDS[p1]}" "${CAPTURE_PIDS[apply-p1]}"
wait "${CAPTURE_PIDS[p1]}" "${CAPTURE_PIDS[apply-p1]}"
capture_start p1
apply_start p1
restarted_with() { # KIND PID TOTAL
	[ "$(pj "$1" 'str(p["pid"]) + " " + str(p.get("events_total"))')" = "$2 $3" ]
}
check "capture restarted: its progress still counts every event" \
	wait_for 30 restarted_with capture "${CAPTURE_PIDS[p1]}" "$(total_of "$EXPECTED")"
check "apply restarted: its progress still counts every event" \
	wait_for 30 restarted_with apply "${CAPTURE_PIDS[apply-p1]}" "$(total_of "$EXPECTED")"

# ---- kill -9 of capture under load: its replay is counted once ----
first=2000
for round in 1 2 3; do
	load "$first" 300 &
	LOAD=$!
	sleep 1.5
	kill -9 "${CAPTURE_PIDS[p1]}"
	wait "$LOAD"
	capture_start p1
	first=$((first + 300))
	check "round $round: capture back after kill -9: the targets converge" wait_for 120 converged
	# Kafka has duplicates when capture replayed events it had sent.
	records=$(topic_count db1server.public.my_table)
	made=$((500 + 300 * round + 300 + 50))
	[ "$records" -gt "$made" ] && break
	echo "# round $round: no replay seen ($records records for $made changes); again"
done
check "capture's kill -9 replayed events (Kafka holds more records than changes)" test "$records" -gt "$made"
EXPECTED="public.big r $BIG
public.my_table c $((300 + 300 * round))
public.my_table r 500
public.my_table u 50
public.t2 d 20
public.t2 r 300
public.t2 u $((300 + 300 * round))"
check "capture's events by table and op still equal the changes" wait_for 40 counts_are capture "$EXPECTED"
[ "$(by_table capture)" = "$EXPECTED" ] || echo "# capture: $(by_table capture | tr '\n' ' ')"
check "capture's events since the pipeline was created: each change once" \
	wait_for 40 metric_is "$TOTAL=\"capture\"}" "$(total_of "$EXPECTED")"
apply_at_least() { [ "$(mval "$TOTAL=\"apply\"}")" -ge "$(total_of "$EXPECTED")" ] 2>/dev/null; }
check "apply counts every record it applied (the duplicates too)" wait_for 40 apply_at_least

# ---- the dashboard queries only metrics that are served ----
metrics >"$WORK/metrics.txt"
if missing=$(python3 "$REPO_ROOT/tests/lib/dashboard_metrics.py" "$REPO_ROOT/docs/grafana/cdc-agent.json" "$WORK/metrics.txt"); then
	_pass "every metric the Grafana dashboard queries is served"
else
	_fail "every metric the Grafana dashboard queries is served" "missing: $missing"
fi
kill -TERM "${CAPTURE_PIDS[run]}" 2>/dev/null
finish
