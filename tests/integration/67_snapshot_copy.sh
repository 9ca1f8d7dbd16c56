#!/usr/bin/env bash
# The initial snapshot at COPY speed (issue #18), capture and apply as plain
# processes:
#   - capture copies its tables with COPY (SELECT ...) TO STDOUT, several at
#     once over connections that share the slot's exported snapshot, while
#     writes go on at the source: every table converges, values with tabs,
#     newlines, carriage returns, backslashes, the text \N, empty strings and
#     NULLs unchanged through COPY's text format both ways;
#   - the snapshot's first row is marked "first" and its last "last", once each;
#   - apply loads the snapshot rows with COPY ... FROM STDIN (the target's
#     statement log) into the empty target tables;
#   - then, with target rows made stale by hand, `cdc-agent snapshot p1
#     public.odd --wait`: its rows (op r) meet keys the target has, the COPY
#     fails on them, the batch is applied again with upserts: converged;
#   - the progress file's snapshot member: every table done, its rows.
# runs-under-sanitizer
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap 'kill "${WRITER_PID:-}" 2>/dev/null; capture_env_down' EXIT
CAPTURE_PARTITIONS=2
ROWS=20000

capture_env_up "
CREATE TABLE odd (id int PRIMARY KEY, v text, n numeric, ts timestamptz);
INSERT INTO odd SELECT g, CASE g % 8
		WHEN 0 THEN E'tab\\there' WHEN 1 THEN E'line\\nbreak' WHEN 2 THEN E'back\\\\slash\\\\N'
		WHEN 3 THEN '\\N' WHEN 4 THEN '' WHEN 5 THEN NULL WHEN 6 THEN E'cr\\r\\x01ctl'
		ELSE 'plain ' || g END,
	g / 7.0, '2024-01-31 12:00:00+00'::timestamptz + g * interval '1 minute'
	FROM generate_series(1, $ROWS) g;
CREATE TABLE small (id int PRIMARY KEY, v int);
INSERT INTO small SELECT g, g FROM generate_series(1, 300) g;
CREATE TABLE empty_t (id int PRIMARY KEY, v int);
CREATE TABLE nokey (x int, y text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
INSERT INTO nokey SELECT g % 10, E'k\\t' || g FROM generate_series(1, 500) g;
ANALYZE;
" < <(
	topology_source db1 my_publication my_slot db1server \
		"public.odd, public.small, public.empty_t, public.nokey" "json_schemas = false"
	topology_target db2
	topology_pipeline p1 db1 db2
) || { _fail "environment comes up"; finish; exit; }
CLOG=$WORK/capture-p1.log
ALOG=$WORK/apply-p1.log
SERVER_LOG=$(_pg_var src DIR)/server.log

# Writes while the snapshot runs: updates of odd and inserts into small.
writer() {
	local i
	for ((i = 1; ; i++)); do
		pg_psql src db1 "UPDATE odd SET v = v || '+' WHERE id = $((i * 37 % ROWS + 1));
			INSERT INTO small VALUES ($((1000 + i)), $i)" >/dev/null 2>&1 || return
		sleep 0.05
	done
}
writer &
WRITER_PID=$!
capture_start p1
apply_start p1
check "capture: the snapshot over 4 connections" log_wait "$CLOG" "4 table(s) over 4 connection(s)" 60
check "capture: every table's snapshot acknowledged" log_wait "$CLOG" "rows acknowledged by Kafka" 120 4
check "capture: odd's row estimate from the catalog" log_wait "$CLOG" "snapshot of public.odd starts (about $ROWS rows)" 5
sleep 1
kill "$WRITER_PID" 2>/dev/null
wait "$WRITER_PID" 2>/dev/null
WRITER_PID=

for t in odd small; do
	check "$t converges (values through COPY both ways)" wait_converged 120 "$t" db2
done
DIGEST_ORDER="x, y" check "nokey converges" wait_converged 60 nokey db2
check_eq "odd: the text \\N is not NULL in the target" 2500 \
	"$(pg_psql src db2 "SELECT count(*) FROM odd WHERE left(v, 2) = '\\N'")"

check "apply: snapshot rows by COPY FROM STDIN" \
	grep -q 'statement: COPY "public"."odd" ("id", "v", "n", "ts") FROM STDIN' "$SERVER_LOG"
check_fails "apply: no COPY met a key (empty target)" \
	grep -q "a create met a key the target already has" "$ALOG"
check "capture: COPY TO STDOUT at the source" \
	grep -q 'statement: COPY (SELECT "id", "v", "n", "ts" FROM ONLY "public"."odd") TO STDOUT' "$SERVER_LOG"

markers=$(for t in odd small empty_t nokey; do
	timeout 60 kcat -b "127.0.0.1:$KP" -C -t "db1server.public.$t" -o beginning -e -q 2>/dev/null
done | grep -o '"snapshot":"[a-z]*"' | sort | uniq -c | awk '{ printf "%s %s;", $2, $1 }')
check_contains "one snapshot row marked first" '"snapshot":"first" 1;' "$markers"
check_contains "one snapshot row marked last" '"snapshot":"last" 1;' "$markers"

progress_ok() {
	python3 - "$WORK/state/progress-capture-p1.json" "$ROWS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["snapshot"]
rows = {t["table"]: t["rows"] for t in s["tables"]}
assert not s["running"] and s["tables_done"] == 4 and s["tables_remaining"] == 0, s
assert rows["public.odd"] == int(sys.argv[2]) and rows["public.empty_t"] == 0, rows
assert rows["public.nokey"] == 500 and rows["public.small"] >= 300, rows
PY
}
check "progress: every table done with its rows" progress_ok

# Stale rows in the target; the table's snapshot again, on demand.
pg_psql src db2 "UPDATE odd SET v = 'stale' WHERE id % 10 = 1" >/dev/null
check "snapshot on demand of odd: done" timeout 120 "$CDC_AGENT" -c "$T" snapshot p1 public.odd --wait
check "odd converges again (the stale rows rewritten)" wait_converged 60 odd db2
check "apply: its rows met keys the target has: applied with upserts" \
	grep -q "a create met a key the target already has" "$ALOG"
check "no error in capture's log" bash -c "! grep ': error:' '$CLOG'"
check "no error in apply's log" bash -c "! grep ': error:' '$ALOG'"

pipeline_stop p1
finish
