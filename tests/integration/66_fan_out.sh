#!/usr/bin/env bash
# runs-under-sanitizer
# Fan-out (issue #19, point 3): one source feeds two pipelines, p1 into db2
# (cluster src) and p2 into db3 (cluster tgt).  p1, the first pipeline of
# the source, captures it; p2 has only an apply, with its own consumer group
# and offsets.  Plain processes (capture p1, apply p1, apply p2):
#   - snapshot, then a load of inserts/updates/deletes on a keyed and a
#     keyless table: both targets' digests equal the source's, also after
#     kill -9 of apply p2 and of capture p1 mid-load;
#   - the pipelines are independent: apply p2 stopped, p1 converges alone;
#     each target's cdc_agent.offsets holds its own pipeline only;
#   - `capture p2` is refused naming p1; status shows p2's capture as p1's
#     ("captured_by"); teardown p1 is refused while p2 reads the source,
#     teardown p2 keeps the slot;
#   - check refuses two pipelines of the source into one database, and
#     capture keys on p2;
#   - a target changed behind apply's back is seen by the digest check
#     (the test can fail), then put back.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap 'kill $LOAD 2>/dev/null; capture_env_down' EXIT
LOAD=

pg_cluster_create tgt || { _fail "target cluster comes up"; finish; exit; }
capture_env_up "
CREATE TABLE a (id int PRIMARY KEY, v text, n int);
INSERT INTO a SELECT g, 'row ' || g, g FROM generate_series(1, 400) g;
CREATE TABLE k (id int, v text);
ALTER TABLE k REPLICA IDENTITY FULL;
INSERT INTO k SELECT g % 50, 'k ' || g FROM generate_series(1, 200) g;
" < <(
	topology_source db1 my_publication my_slot db1server "public.a, public.k"
	topology_target db2
	topology_target db3 PORT="$PG_PORT_tgt" SOCK="$PG_SOCK_tgt"
	topology_pipeline p1 db1 db2
	topology_pipeline p2 db1 db3
) || { _fail "environment comes up (bootstrap of a fan-out topology)"; cat "$WORK/bootstrap.log" 2>/dev/null; finish; exit; }

# Both targets against db1: a keyed table by id, the keyless one by row.
both() { wait_converged "$2" "$1" db2 tgt:db3; } # TABLE SECONDS
both_k() { DIGEST_ORDER=_r::text wait_converged "$1" k db2 tgt:db3; } # SECONDS

agent_run -c "$T" check
check_eq "check accepts one source in two pipelines" 0 "$AGENT_RC"

capture_start p1
apply_start p1
apply_start p2
agent_run -c "$T" capture p2
check_eq "capture p2 is refused (exit 64)" 64 "$AGENT_RC"
check_contains "it names the pipeline that captures" \
	"pipeline p2 has no capture: source db1 is captured by pipeline p1" "$AGENT_ERR"
check "capture p1 still runs" kill -0 "${CAPTURE_PIDS[p1]}"

check "snapshot: a equal in db2 and db3" both a 90
check "snapshot: keyless k equal in db2 and db3" both_k 30

# Load; apply p2 and capture p1 killed -9 on the way and started again.
(
	for i in $(seq 1 240); do
		pg_psql src db1 "INSERT INTO a VALUES ($((1000 + i)), 'load $i', $i);
			UPDATE a SET v = v || '+', n = n + 1 WHERE id = $((i % 400 + 1));
			DELETE FROM a WHERE id = $((1000 + i / 2)) AND $i % 3 = 0;
			INSERT INTO k VALUES ($((i % 50)), 'load $i');
			UPDATE k SET v = v || '+' WHERE ctid = (SELECT min(ctid) FROM k WHERE id = $((i % 50)));
			DELETE FROM k WHERE ctid = (SELECT max(ctid) FROM k WHERE id = $(((i + 7) % 50))) AND $i % 4 = 0" >/dev/null
		sleep 0.02
	done
) &
LOAD=$!
sleep 2
kill -9 "${CAPTURE_PIDS[apply-p2]}" 2>/dev/null
sleep 1
apply_start p2
sleep 2
kill -9 "${CAPTURE_PIDS[p1]}" 2>/dev/null
sleep 1
capture_start p1
wait "$LOAD"
LOAD=
check "after the load and kill -9 of apply p2 and capture p1: a equal in both" both a 90
check "and keyless k equal in both" both_k 30

# Independent pipelines: p2 stopped, p1 goes on alone; p2 catches up later.
kill "${CAPTURE_PIDS[apply-p2]}"
wait "${CAPTURE_PIDS[apply-p2]}" 2>/dev/null
pg_psql src db1 "INSERT INTO a SELECT g, 'while p2 is stopped', g FROM generate_series(5001, 5100) g" >/dev/null
check "with apply p2 stopped, db2 converges" wait_converged 60 a db2
check_fails "and db3 does not have the rows" wait_converged 2 a tgt:db3
apply_start p2
check "apply p2 started again: db3 converges" both a 60
check_eq "db2's offsets are p1's only" "p1" \
	"$(pg_psql src db2 "SELECT string_agg(DISTINCT pipeline, ',') FROM cdc_agent.offsets")"
check_eq "db3's offsets are p2's only" "p2" \
	"$(pg_psql tgt db3 "SELECT string_agg(DISTINCT pipeline, ',') FROM cdc_agent.offsets")"

# The digest check can fail: a row changed behind apply's back in db3.
pg_psql tgt db3 "UPDATE a SET v = v || ' (broken)' WHERE id = 2" >/dev/null
check_fails "a row changed in db3 makes the digests differ" wait_converged 3 a tgt:db3
pg_psql tgt db3 "UPDATE a SET v = left(v, -length(' (broken)')) WHERE id = 2" >/dev/null
check "put back: equal again" both a 10

# status: p2's capture half is p1's capture.
agent_run -c "$T" --json status
check_eq "status: p2's capture is captured by p1, with p1's capture pid" \
	"p1 ${CAPTURE_PIDS[p1]} None" \
	"$(python3 -c 'import json,sys
d = json.loads(sys.stdin.read()); p = {x["name"]: x for x in d["pipelines"]}
c2, c1 = p["p2"]["capture"], p["p1"]["capture"]
print(c2.get("captured_by"), c2.get("pid"), c1.get("captured_by"))' <<<"$AGENT_OUT" 2>&1)"
agent_run -c "$T" status
check_contains "the status table says so" "captured by pipeline p1" "$AGENT_OUT"

# teardown: p1 refused while p2 reads its source; p2 leaves the slot.
agent_run -c "$T" teardown p1 --yes
check_eq "teardown p1 is refused (exit 1)" 1 "$AGENT_RC"
check_contains "naming the pipeline that still reads the source" \
	"teardown p1: pipeline(s) p2 also read source db1" "$AGENT_ERR"
agent_run -c "$T" teardown p2
check_eq "teardown p2 without --yes: exit 2" 2 "$AGENT_RC"
check_contains "it would keep the slot" "slot my_slot of source db1 stays" "$AGENT_OUT"
agent_run -c "$T" teardown p2 --yes
check_eq "teardown p2 --yes: exit 0" 0 "$AGENT_RC"
check_eq "the slot is still there" "1" \
	"$(pg_psql src db1 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'my_slot'")"

# check's refusals of real conflicts, at FILE:LINE.
bad=$WORK/same-db.ini
sed '/^\[pipeline p2\]/,$ s/^target = db3$/target = db2/' "$T" >"$bad"
line=$(awk '/^\[pipeline p2\]/ { s = 1 } s && /^target = / { print NR; exit }' "$bad")
agent_run -c "$bad" check
check_eq "two pipelines of db1 into db2: check exits 3" 3 "$AGENT_RC"
check_contains "the error at p2's target" \
	"$bad:$line: error: pipelines p1 and p2 both replicate source db1 into database db2" "$AGENT_ERR"
bad=$WORK/capture-keys.ini
{ cat "$T"; echo "capture_kafka_user = capture-p2"; } >"$bad"
agent_run -c "$bad" check
check_eq "capture keys on p2: check exits 3" 3 "$AGENT_RC"
check_contains "the error says who captures" \
	"$bad:$(wc -l <"$bad"): error: pipeline p2: capture_kafka_user is for the pipeline that captures source db1, which is p1" \
	"$AGENT_ERR"
finish
