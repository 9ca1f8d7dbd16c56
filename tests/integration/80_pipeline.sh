#!/usr/bin/env bash
# End to end: db1 -> capture -> Kafka -> apply -> db2 (schema block) and db3
# (no schema block), as plain processes.  db2 and db3 must equal db1 row by
# row (an ordered digest of every row) after: the snapshot, a mixed
# insert/update/delete/truncate load, every common type, primary-key changes,
# an unchanged TOASTed value, a column added at the source, a backlog of
# 200,000 rows (capture's and apply's peak RSS under 64 MiB), and repeated
# kill -9 of capture, apply and the Kafka broker during load.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT
# One partition per topic: a TRUNCATE event has no key, so with several
# partitions its order against other keys' changes is not defined (as with
# Debezium); see docs/ARCHITECTURE.md.
CAPTURE_PARTITIONS=1

. "$REPO_ROOT/tests/lib/types_table.sh"

capture_env_up "
CREATE TABLE my_table (id int PRIMARY KEY, name text);
INSERT INTO my_table SELECT g, 'row ' || g FROM generate_series(1, 500) g;
CREATE TABLE types_t ($TYPES_COLS);
INSERT INTO types_t VALUES (1, $TYPES_ROW);
CREATE TABLE toast_t (id int PRIMARY KEY, big text, n int);
INSERT INTO toast_t SELECT 1, string_agg(md5(g::text), ''), 0 FROM generate_series(1, 4000) g;
" < <(topology_both_formats "public.my_table, public.types_t, public.toast_t") ||
	{ _fail "environment comes up"; finish; exit; }

# Waits until TABLE has the same digest in db1 and in each target DB.
converged() { wait_converged "$2" "$1" db2 db3; } # TABLE SECONDS

for p in p1 p2; do capture_start "$p"; apply_start "$p"; done
check "snapshot: my_table equal in db2 and db3" converged my_table 90
check "snapshot: every type equal" converged types_t 30
check "snapshot: TOASTed row equal" converged toast_t 30

pg_psql src db1 "
INSERT INTO my_table SELECT g, 'new ' || g FROM generate_series(501, 600) g;
UPDATE my_table SET name = name || ' (updated)' WHERE id % 7 = 0;
DELETE FROM my_table WHERE id % 11 = 0;
UPDATE my_table SET id = id + 10000 WHERE id % 13 = 0;
INSERT INTO types_t VALUES (2, $TYPES_ROW), (3, $TYPES_ROW);
UPDATE types_t SET nul = 'now set', n = 99.99 WHERE id = 1;
UPDATE toast_t SET n = n + 1;
" >/dev/null
check "mixed load and key changes: my_table equal" converged my_table 60
check "types inserted and updated: equal" converged types_t 30
check "unchanged TOASTed value kept in the targets" converged toast_t 30

pg_psql src db1 "TRUNCATE my_table; INSERT INTO my_table VALUES (1, 'after truncate')" >/dev/null
check "truncate then insert: equal" converged my_table 60

pg_psql src db1 "ALTER TABLE my_table ADD COLUMN extra int; INSERT INTO my_table VALUES (2, 'with extra', 42)" >/dev/null
check "a column added at the source reaches the targets" converged my_table 60
check_eq "the targets gained the column" "integer" \
	"$(pg_psql src db2 "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.my_table'::regclass AND attname = 'extra'")"

# Memory (issue #18): a backlog of 200,000 rows (written in transactions of
# 10,000 while apply is stopped, all of it in Kafka before apply starts
# again) through both formats, table mode.  Capture's and apply's peak RSS
# stays under 64 MiB: with the schema block each record is ~1.5 kB, and
# librdkafka's default prefetch (64 MiB of records; 1 MiB of lz4 a fetch,
# ~15 MiB inflated) took apply p1 to ~100 MiB on such a backlog.
for p in p1 p2; do kill "${CAPTURE_PIDS[apply-$p]}"; wait "${CAPTURE_PIDS[apply-$p]}" 2>/dev/null; done
for ((s = 100001; s <= 300000; s += 10000)); do
	pg_psql src db1 "INSERT INTO my_table SELECT g, 'bulk ' || g, g FROM generate_series($s, $((s + 9999))) g" >/dev/null
done
LSN=$(pg_psql src db1 "SELECT pg_current_wal_lsn()")
in_kafka() { # capture confirms a position once Kafka acknowledged what came before it
	[ "$(pg_psql src db1 "SELECT count(*) FROM pg_replication_slots
		WHERE slot_name IN ('my_slot', 'plain_slot') AND confirmed_flush_lsn >= '$LSN'")" = 2 ]
}
wait_in_kafka() { local i; for ((i = 0; i < 240; i++)); do in_kafka && return 0; sleep 0.5; done; return 1; }
check "the backlog is in Kafka" wait_in_kafka
for p in p1 p2; do apply_start "$p"; done
check "backlog of 200000 rows: my_table equal" converged my_table 180
for k in p1 apply-p1 p2 apply-p2; do
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/${CAPTURE_PIDS[$k]}/status" 2>/dev/null)
	what=${k/apply-/apply }
	check "peak RSS of ${what/#p/capture p} ${hwm:-?} kB < 64 MiB" test "${hwm:-999999999}" -lt 65536
done

# Progress for status (agent/pipeline/progress.c): pid, events, a recent source
# commit, and a write within the last seconds.
progress() { # KIND PIPELINE
	python3 -c 'import json,sys,time
p = json.load(open(sys.argv[1])); now = time.time() * 1e6
print(p["pid"], p["events"] > 0, 0 < now - p["last_event_usec"] < 600e6, now - p["updated_usec"] < 3e6, p["last_error"])' \
		"$WORK/state/progress-$1-$2.json"
}
sleep 1.5
check_eq "capture p1 publishes its progress" "${CAPTURE_PIDS[p1]} True True True None" "$(progress capture p1)"
check_eq "apply p2 publishes its progress" "${CAPTURE_PIDS[apply-p2]} True True True None" "$(progress apply p2)"

# A second apply of a pipeline (say started by hand beside its unit) stops at
# once, loudly: apply joins no consumer group, so its lock in the target is
# what keeps it the only one reading the pipeline's partitions.
SECOND=$(timeout 30 "$CDC_AGENT" -c "$T" apply p1 2>&1)
check_eq "a second apply of p1 exits 1" 1 "$?"
check_contains "it names the apply that holds the target" "another apply of pipeline p1 is writing to target db2 (it holds the pipeline's lock there: backend " "$SECOND"
check "the first apply of p1 still runs" kill -0 "${CAPTURE_PIDS[apply-p1]}"

# A partition added to a topic by hand: apply assigns it itself (no group
# rebalance would), within 5 s, and reads every partition again from the
# offsets stored in the target.
if [ -x "$REPO_ROOT/build/tests/kafka_admin_driver" ]; then
	check "a partition added to p1's topic of my_table" "$REPO_ROOT/build/tests/kafka_admin_driver" \
		create-partitions "127.0.0.1:$KP" db1server.public.my_table 4
	check "apply p1 assigns it" log_wait "$WORK/apply-p1.log" "apply p1: the topics have " 30
	pg_psql src db1 "INSERT INTO my_table SELECT g, 'grown ' || g FROM generate_series(701, 800) g" >/dev/null
	check "after the partition was added: my_table equal" converged my_table 60
else
	skip_or_fail "build/tests/kafka_admin_driver is not built (make test builds it)"
fi

# Crashes during load: kill -9 capture, apply and the broker, restart them.
(
	for i in $(seq 1 300); do
		pg_psql src db1 "INSERT INTO my_table VALUES ($((1000 + i)), 'load $i', $i);
			UPDATE my_table SET extra = extra + 1 WHERE id = $((1000 + i / 2));
			DELETE FROM my_table WHERE id = $((1000 + i / 3)) AND $i % 5 = 0" >/dev/null
		sleep 0.02
	done
) &
LOAD=$!
for round in 1 2 3; do
	sleep 1.5
	kill -9 "${CAPTURE_PIDS[p1]}" "${CAPTURE_PIDS[apply-p2]}" 2>/dev/null
	sleep 0.5
	capture_start p1
	apply_start p2
	sleep 1.5
	kill -9 "${CAPTURE_PIDS[p2]}" "${CAPTURE_PIDS[apply-p1]}" 2>/dev/null
	sleep 0.5
	capture_start p2
	apply_start p1
done
check "the broker comes back after kill -9" broker_kill_restart 2
wait "$LOAD"
# A process that exits (capture gives up on a delivery failure while the
# broker is away) is started again as systemd's Restart=on-failure would, for
# as long as the tables have not converged; not in a subshell, so the pids
# stay tracked.
supervised_converged() { # TABLE SECONDS
	local i p
	for ((i = 0; i < $2; i++)); do
		for p in p1 p2; do
			kill -0 "${CAPTURE_PIDS[$p]}" 2>/dev/null ||
				{ echo "# restarting capture $p (it exited)"; capture_start "$p"; }
			kill -0 "${CAPTURE_PIDS[apply-$p]}" 2>/dev/null ||
				{ echo "# restarting apply $p (it exited)"; apply_start "$p"; }
		done
		converged "$1" 1 >"$WORK/converged.out" && return 0
	done
	cat "$WORK/converged.out"
	return 1
}
if supervised_converged my_table 120; then
	_pass "after kill -9 of capture, apply and Kafka during load: my_table equal"
else
	_fail "after kill -9 of capture, apply and Kafka during load: my_table equal" "$(cat "$WORK/converged.out")"
fi
check "types still equal" converged types_t 30
check_not_contains "no apply stopped on a record" "offset" "$(grep -h 'error' "$WORK"/apply-*.log)"
finish
