#!/usr/bin/env bash
# Incremental snapshots (agent/capture/capture_snapshot.c), capture and apply as plain
# processes under a steady write load (pgbench):
#   - a 150k-row table added to a running pipeline is snapshotted in chunks
#     while the other tables keep streaming (events of another table between
#     the new table's first and last snapshot event), then streamed; source
#     and target digests equal;
#   - capture killed -9 mid-snapshot resumes after its last saved chunk;
#   - a table without a key is refused by name, the others go on;
#   - a table removed from the pipeline (still in the publication) gets no
#     event after capture's restart, and its snapshot state is dropped;
#   - `cdc-agent snapshot PIPELINE TABLE --wait` under load leaves the digest
#     equal; a table not in the pipeline is refused naming it (exit 64).
# The only restarts by hand play h1's unit restart after a topology change.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap 'kill "${WRITER_PID:-}" 2>/dev/null; capture_env_down' EXIT
CAPTURE_PARTITIONS=1
BIG_ROWS=150000

capture_env_up "
CREATE TABLE a (id int PRIMARY KEY, v int);
INSERT INTO a SELECT g, 0 FROM generate_series(1, 2000) g;
CREATE TABLE c (id int PRIMARY KEY, v int);
INSERT INTO c SELECT g, 0 FROM generate_series(1, 100) g;
CREATE TABLE big (id int PRIMARY KEY, v int, pad text);
INSERT INTO big SELECT g, 0, md5(g::text) FROM generate_series(1, $BIG_ROWS) g;
CREATE TABLE nokey (x int, y text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
INSERT INTO nokey VALUES (1, 'one');
" < <(
	topology_source db1 my_publication my_slot db1server "public.a, public.c" "json_schemas = false"
	topology_target db2
	topology_pipeline p1 db1 db2
) || { _fail "environment comes up"; finish; exit; }
CLOG=$WORK/capture-p1.log

converged() { wait_converged "$2" "$1" db2; } # TABLE SECONDS
set_tables() { sed -i "s/^tables = .*/tables = $1/" "$T"; }
topic_values() { # TOPIC FILE: one record value a line (no schema block: small)
	timeout 120 kcat -b "127.0.0.1:$KP" -C -t "$1" -o beginning -e -q -f '%s\n' >"$2" 2>/dev/null
}
r_count() { # TOPIC: op "r" records in it
	topic_values "$1" "$WORK/r_count.json"
	grep -c '"op":"r"' "$WORK/r_count.json"
}

# A steady load on a and big (updates, ranges, deletes, re-inserts), one
# transaction each, from before the table is added until told to stop.
cat >"$WORK/step.sql" <<'SQL'
\set k random(1, 150000)
\set a random(1, 2000)
BEGIN;
UPDATE big SET v = v + 1 WHERE id = :k;
UPDATE big SET v = v + 1 WHERE id BETWEEN :k AND :k + 20;
DELETE FROM big WHERE id = :k + 7;
INSERT INTO big (id, v, pad) VALUES (:k + 7, 0, 'again') ON CONFLICT (id) DO UPDATE SET v = big.v + 100;
DELETE FROM big WHERE id = :k + 3;
UPDATE a SET v = v + 1 WHERE id = :a;
DELETE FROM a WHERE id = :a + 1;
INSERT INTO a (id, v) VALUES (:a + 1, 0) ON CONFLICT (id) DO UPDATE SET v = a.v + 1;
COMMIT;
SQL
writer_start() {
	"$PG_BIN/pgbench" -n -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres -c 1 -T 600 -R 150 \
		-f "$WORK/step.sql" db1 >>"$WORK/pgbench.log" 2>&1 &
	WRITER_PID=$!
}
writer_stop() { kill -TERM "$WRITER_PID" 2>/dev/null; wait "$WRITER_PID" 2>/dev/null; WRITER_PID=; }

capture_start p1
apply_start p1
check "initial snapshot: a equal" converged a 90
check "initial snapshot: c equal" converged c 30
writer_start

# ---- a table added to the running pipeline -----------------------------------------
sleep 2
set_tables "public.a, public.c, public.big, public.nokey"
"$CDC_AGENT" -c "$T" bootstrap >"$WORK/bootstrap2.log" 2>&1
check_contains "bootstrap adds big to the publication" "big" "$(cat "$WORK/bootstrap2.log")"
pipeline_stop p1 # as systemd's restart does
T0=$SECONDS
capture_start p1
apply_start p1
check "the snapshot of big starts incrementally" log_wait "$CLOG" "incremental snapshot of public.big starts" 60

# kill -9 once a chunk is saved (and before the table is done).
saved_chunk() {
	python3 - "$WORK/state/capture-db1.json" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
for e in st.get("incremental", []):
    if e["table"] == "public.big" and e.get("last_key"):
        print(e["rows"]); sys.exit(0)
sys.exit(1)
PY
}
for ((i = 0; i < 240; i++)); do saved_chunk >/dev/null && break; sleep 0.25; done
ROWS_AT_KILL=$(saved_chunk)
if [ -n "$ROWS_AT_KILL" ] && ! grep -q "incremental snapshot of public.big done" "$CLOG"; then
	_pass "capture is killed -9 mid-snapshot ($ROWS_AT_KILL rows saved)"
else
	_fail "capture is killed -9 mid-snapshot" "saved: '${ROWS_AT_KILL}'; $(grep 'public.big' "$CLOG")"
fi
{ kill -9 "${CAPTURE_PIDS[p1]}"; wait "${CAPTURE_PIDS[p1]}"; :; } 2>/dev/null
capture_start p1
check "after kill -9 the snapshot resumes after its last saved chunk" \
	log_wait "$CLOG" "incremental snapshot of public.big starts after its last saved chunk" 60
check "the snapshot of big completes" log_wait "$CLOG" "incremental snapshot of public.big done" 150
check "a table without a key is refused by name" \
	log_wait "$CLOG" "cannot snapshot table public.nokey incrementally" 30
echo "# $TEST_NAME: big snapshotted in $((SECONDS - T0)) s: $(grep 'snapshot of public.big done' "$CLOG")"
sleep 2
writer_stop
check "big: snapshot and changes equal in db2" converged big 120
check "a: still equal" converged a 60

topic_values db1server.public.big "$WORK/big.json"
topic_values db1server.public.a "$WORK/a.json"
interleave() {
	python3 - "$WORK/big.json" "$WORK/a.json" "$BIG_ROWS" <<'PY'
import json, sys
def events(path):
    out = []
    for line in open(path):
        if line.strip():  # tombstones are empty lines
            out.append(json.loads(line))
    return out
big = [e for e in events(sys.argv[1]) if e["op"] == "r"]
inc = [e for e in big if e["source"]["snapshot"] == "incremental"]
other = [e for e in big if e["source"]["snapshot"] != "incremental"]
if not inc or other:
    print(f"incremental r events: {len(inc)}, other r events: {len(other)}"); sys.exit(1)
lo, hi = min(e["ts_ms"] for e in inc), max(e["ts_ms"] for e in inc)
# committed after the first read and sent before the last: streamed meanwhile
a = [e for e in events(sys.argv[2])
     if e["op"] in "cud" and lo <= e["source"]["ts_ms"] and e["ts_ms"] <= hi]
rows = int(sys.argv[3])
print(f"{len(inc)} incremental reads of big over {hi - lo} ms; {len(a)} changes of a in between")
if not a:
    sys.exit(1)
# Resumed, not started again: at most what 32 unsaved chunks re-read.
if len(inc) > rows + 32 * 1024:
    print("too many reads: the snapshot started over"); sys.exit(1)
PY
}
if out=$(interleave 2>&1); then _pass "big came as incremental reads while a kept streaming: $out"
else _fail "big came as incremental reads while a kept streaming" "$out"; fi

# ---- a table removed from the pipeline (still in the publication) --------------------------
pipeline_stop p1 # as systemd's restart does
set_tables "public.a, public.big"
mv "$CLOG" "$CLOG.1"
capture_start p1
apply_start p1
check "capture streams again after the removal" log_wait "$CLOG" "streaming from slot" 30
C_BEFORE=$(topic_count db1server.public.c)
pg_psql src db1 "UPDATE c SET v = v + 1; INSERT INTO c VALUES (1000, 1)" >/dev/null
pg_psql src db1 "INSERT INTO a VALUES (100000, 42)" >/dev/null
check "a change after the removed table's changes arrives" converged a 60
check_eq "no event on the removed table's topic" "$C_BEFORE" "$(topic_count db1server.public.c)"
check_contains "capture says it ignores the removed table" "ignoring table public.c" "$(cat "$CLOG")"
check_not_contains "the removed table's snapshot state is dropped" "public.c\"" \
	"$(cat "$WORK/state/capture-db1.json")"

# ---- on demand --------------------------------------------------------------------------
# (kcat -e reads to the end of a partition: not while the writer writes)
A_READS=$(r_count db1server.public.a)
writer_start
sleep 1
out=$("$CDC_AGENT" -c "$T" snapshot p1 public.nope 2>&1)
check_eq "snapshot of a table not in the pipeline: exit 64" 64 "$?"
check_contains "the refusal names the table" "public.nope" "$out"
out=$(timeout 120 "$CDC_AGENT" -c "$T" snapshot p1 public.a --wait 2>&1)
rc=$?
check_eq "snapshot p1 public.a --wait: exit 0" 0 "$rc"
check_contains "it says requested" "requested" "$out"
check_contains "it follows the snapshot to its end" "snapshot of public.a done" "$out"

check_contains "capture logged the request" "snapshot of public.a requested" "$(cat "$CLOG")"
check_not_contains "capture logged no error but the keyless table (before the SIGTERM below)" "error" \
	"$(grep -v 'public.nokey' "$CLOG")"

# SIGTERM while snapshotting ends capture within 2 s; after the restart the
# snapshot goes on.
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$st" ] && [[ $st != Z* ]]; }
"$CDC_AGENT" -c "$T" snapshot p1 public.big >/dev/null 2>&1
if log_wait "$CLOG" "incremental snapshot of public.big starts (on_demand" 30 &&
	! grep -q "incremental snapshot of public.big done" "$CLOG"; then
	t0=$(date +%s%N)
	kill -TERM "${CAPTURE_PIDS[p1]}"
	for ((i = 0; i < 100; i++)); do alive "${CAPTURE_PIDS[p1]}" || break; sleep 0.02; done
	ms=$((($(date +%s%N) - t0) / 1000000))
	wait "${CAPTURE_PIDS[p1]}" 2>/dev/null
	if [ "$ms" -le 2000 ]; then _pass "SIGTERM while snapshotting: capture ended in $ms ms"
	else _fail "SIGTERM while snapshotting: capture ended within 2 s" "$ms ms"; fi
else
	_fail "SIGTERM while snapshotting: an on-demand snapshot of big was running" "$(grep 'public.big' "$CLOG")"
fi
capture_start p1
check "the interrupted on-demand snapshot completes after the restart" \
	log_wait "$CLOG" "incremental snapshot of public.big done" 120
sleep 2
writer_stop
check "after the on-demand snapshot under load: a equal" converged a 60
check "big still equal" converged big 60
A_READS2=$(r_count db1server.public.a)
check "the on-demand snapshot sent a's rows again" test "$A_READS2" -gt "${A_READS:-0}"
finish
