#!/usr/bin/env bash
# Health states that do not lie (docs/STATUS.md "States"): `cdc-agent run`
# as a plain process (manage_units = false) serving status on a free loopback
# port, capture and apply started by the test.  Each failure must show the
# same state within 30 s in the `status` table and its exit code, in
# `status --json`, in GET /connectors/NAME/status and in /metrics:
#   - healthy: RUNNING, idle and under load;
#   - a table dropped from the publication by hand: capture FAILED naming it
#     (and RUNNING again once it is back);
#   - a target table locked ACCESS EXCLUSIVE by another session while rows
#     arrive: apply STALLED (stall_seconds = 5), RUNNING once released;
#   - a change bigger than [kafka] max_message_bytes: capture FAILED at
#     once, the reason saying it is too large;
#   - apply killed with -9 and not restarted: FAILED.
# KEEP_WORK=1 keeps $WORK.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"

RUN_PID=
LOCK_PID=
LOAD_PID=
cleanup() {
	for p in $LOAD_PID $LOCK_PID $RUN_PID; do kill "$p" 2>/dev/null; done
	[ "$TESTS_FAILED" -gt 0 ] && [ -n "${WORK:-}" ] && KEEP_WORK=1 && echo "# $TEST_NAME: kept $WORK"
	capture_env_down
}
trap cleanup EXIT

for tool in curl python3; do
	command -v "$tool" >/dev/null || { skip_or_fail "$tool is not installed"; finish; exit; }
done

SP=$(free_port)
URL=http://127.0.0.1:$SP
CAPTURE_PARTITIONS=1
# Records of at most 1 MB, so a 2 MB row is refused (87_large_values tests
# the rest of it).
CAPTURE_KAFKA_KEYS=$'max_message_bytes = 1MB\n'
# stall_seconds small for the test; no reconcile after the first (it would
# put the publication right by itself).
CAPTURE_AGENT_KEYS=$(printf 'stall_seconds = 5\nreconcile_seconds = 86400\nstatus_listen = 127.0.0.1:%s\n_' "$SP")
CAPTURE_AGENT_KEYS=${CAPTURE_AGENT_KEYS%_}
capture_env_up "
CREATE TABLE t (id int PRIMARY KEY, name text);
CREATE TABLE u (id int PRIMARY KEY, name text);
CREATE TABLE big (id int PRIMARY KEY, payload text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g;
" < <(
	topology_source s1 pub1 slot1 db1server "public.t, public.u"
	topology_source s2 pub2 slot2 bigserver public.big
	topology_target db2
	topology_target db3
	topology_pipeline p1 s1 db2
	topology_pipeline p2 s2 db3
) || { _fail "environment comes up"; finish; exit; }

"$CDC_AGENT" -c "$T" run >"$WORK/run.log" 2>&1 &
RUN_PID=$!
for p in p1 p2; do capture_start "$p"; apply_start "$p"; done

# All four outputs at once; prints what disagrees.  The exit code of
# `status` must be 0 exactly when every pipeline is RUNNING/SNAPSHOTTING.
# PIPELINE PROCESS PIPELINE_STATE PROCESS_STATE CONNECTOR REASON_REGEX
outputs_say() {
	local rc
	"$CDC_AGENT" -c "$T" status >"$WORK/st.txt" 2>"$WORK/st.err"
	rc=$?
	"$CDC_AGENT" -c "$T" status --json >"$WORK/st.json" 2>>"$WORK/st.err"
	curl -s --max-time 10 "$URL/connectors/$5/status" >"$WORK/conn.json"
	curl -s --max-time 10 "$URL/metrics" >"$WORK/metrics.txt"
	python3 - "$WORK" "$rc" "$@" <<'PY'
import json, re, sys
work, rc, pipe, proc, pstate, hstate, conn, regex = sys.argv[1:]
bad = []
doc = json.load(open(work + "/st.json"))
p = next(x for x in doc["pipelines"] if x["name"] == pipe)
half = p[proc]
if p["state"] != pstate: bad.append("json: pipeline %s, not %s (%s)" % (p["state"], pstate, p.get("reason")))
if half.get("state") != hstate: bad.append("json: %s %s, not %s (%s)" % (proc, half.get("state"), hstate, half.get("reason")))
if regex and not re.search(regex, half.get("reason") or "", re.I): bad.append("json: %s reason %r lacks /%s/" % (proc, half.get("reason"), regex))
good = all(x["state"] in ("RUNNING", "SNAPSHOTTING") for x in doc["pipelines"]) and all(c["healthy"] for c in doc["components"])
if (int(rc) == 0) != good: bad.append("status exit code %s with states %s" % (rc, [x["state"] for x in doc["pipelines"]]))
if pstate != "RUNNING" and int(rc) == 0: bad.append("status exit code 0 with %s %s" % (pipe, pstate))
line = next((l for l in open(work + "/st.txt") if l.split()[:1] == [pipe]), "")
if line.split()[1:2] != [pstate]: bad.append("table: %r" % line)
if regex and pstate == p["state"] and p["reason"] == half.get("reason") and not re.search(regex, line, re.I): bad.append("table reason: %r" % line)
c = json.load(open(work + "/conn.json"))
task = c["tasks"][0]
want = {"RUNNING": "RUNNING", "SNAPSHOTTING": "RUNNING", "STALLED": "FAILED", "FAILED": "FAILED", "STOPPED": "STOPPED"}.get(hstate, "UNASSIGNED")
if task["state"] != want or c["connector"]["state"] != want: bad.append("connect: %s, not %s" % (task["state"], want))
if want == "FAILED" and not re.search(regex, task.get("trace", ""), re.I): bad.append("connect: trace %r lacks /%s/" % (task.get("trace"), regex))
m = open(work + "/metrics.txt").read()
for metric in ('cdc_agent_pipeline_state{pipeline="%s",state="%s"} 1' % (pipe, pstate),
               'cdc_agent_process_state{pipeline="%s",process="%s",state="%s"} 1' % (pipe, proc, hstate)):
    if metric not in m: bad.append("metrics lack " + metric)
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
}

# Polls outputs_say for up to SECONDS (30: the promise of the issue).
within() { # SECONDS ARGS...
	local deadline=$((SECONDS + $1)) t0=$SECONDS
	shift
	while :; do
		if outputs_say "$@" >"$WORK/say.out" 2>&1; then
			# What it said, for the log (stdout of check is not shown).
			python3 -c 'import json, sys
p = next(x for x in json.load(open(sys.argv[1]))["pipelines"] if x["name"] == sys.argv[2])
print("after %s s: %s %s, %s %s (%s)" % (sys.argv[4], sys.argv[2], p["state"], sys.argv[3],
      p[sys.argv[3]]["state"], p[sys.argv[3]].get("reason")))' \
				"$WORK/st.json" "$1" "$2" "$((SECONDS - t0))" >>"$WORK/said.log"
			return 0
		fi
		[ "$SECONDS" -ge "$deadline" ] && { cat "$WORK/say.out"; return 1; }
		sleep 1
	done
}

# ---- healthy ---------------------------------------------------------------
# Start-up (snapshot, first collections) is not what is measured: 90 s.
check "healthy and idle: p1 RUNNING everywhere, exit code 0" \
	within 90 p1 apply RUNNING RUNNING sink-db2 ""
check "healthy and idle: p2 RUNNING" within 30 p2 capture RUNNING RUNNING source-s2 ""
(
	for i in $(seq 1 600); do
		pg_psql src db1 "INSERT INTO t SELECT g, 'load' FROM generate_series($((1000 + i * 20)), $((1019 + i * 20))) g" >/dev/null
		sleep 0.05
	done
) &
LOAD_PID=$!
sleep 8
check "under load: p1 RUNNING" within 5 p1 apply RUNNING RUNNING sink-db2 ""
sleep 6
check "still under load, a collection later: p1 RUNNING" within 5 p1 capture RUNNING RUNNING source-s1 ""
kill "$LOAD_PID" 2>/dev/null
wait "$LOAD_PID" 2>/dev/null
LOAD_PID=

# ---- a table missing from the publication, and a refused record -----------
pg_psql src db1 "ALTER PUBLICATION pub1 DROP TABLE public.u" >/dev/null
pg_psql src db1 "INSERT INTO big SELECT 1, string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 62500) g" >/dev/null
check "table dropped from the publication: capture FAILED naming it" \
	within 30 p1 capture FAILED FAILED source-s1 'table public\.u is not in publication pub1'
check "a change over max_message_bytes: capture FAILED, the reason says too large" \
	within 30 p2 capture FAILED FAILED source-s2 'too large'
check_contains "errors by kind counted in /metrics" \
	'cdc_agent_errors_total{pipeline="p2",process="capture",kind="too_large"} 1' "$(cat "$WORK/metrics.txt")"
pg_psql src db1 "ALTER PUBLICATION pub1 ADD TABLE public.u" >/dev/null
check "the table back in the publication: p1 RUNNING again" \
	within 30 p1 capture RUNNING RUNNING source-s1 ""

# ---- a hung target -----------------------------------------------------------
pg_psql src db2 "BEGIN; LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120)" \
	>/dev/null 2>&1 &
LOCK_PID=$!
sleep 1
pg_psql src db1 "INSERT INTO t SELECT g, 'while locked' FROM generate_series(100001, 100500) g" >/dev/null
check "target table locked while rows arrive: apply STALLED" \
	within 30 p1 apply STALLED STALLED sink-db2 'pending|has not written its progress'
pg_psql src db2 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
kill "$LOCK_PID" 2>/dev/null
LOCK_PID=
check "lock released: apply RUNNING again" within 30 p1 apply RUNNING RUNNING sink-db2 ""

# ---- a process gone ------------------------------------------------------------
kill -9 "${CAPTURE_PIDS[apply-p1]}"
check "apply killed with -9: FAILED" within 30 p1 apply FAILED FAILED sink-db2 'exited'
sed 's/^/# said: /' "$WORK/said.log"
finish
