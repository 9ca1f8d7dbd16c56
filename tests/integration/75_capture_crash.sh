#!/usr/bin/env bash
# capture loses nothing when things break under load.  A pgbench writer (two
# clients) commits inserts, updates and deletes into public.items and, in
# the same transactions, records each change in an unpublished ledger
# (seq, xid, op, row_id, value); one transaction in ten does the same and
# then rolls back (its rows carry ids >= 1e9 and negative values).  Meanwhile:
#   1. capture is killed with SIGKILL 6 times, 1-3 s apart, and restarted;
#   2. PostgreSQL is restarted under capture (pg_ctl restart -m fast), then
#      stopped for 3 s and started again;
#   3. the Kafka broker is stopped for ~12 s and started again on the same
#      directory and port, with a 10000-row transaction committed meanwhile;
#      capture's RSS is sampled every 0.5 s.
# After each phase, once the slot's confirmed LSN has passed the last
# commit, the topic is read back (kcat -J -Z) and tests/lib/ledger_check.py
# shows: every ledger entry has its event (op, key, value, txId), no event
# lacks a ledger entry (nothing uncommitted), per key the events follow the
# ledger's order, and the latest record per key reproduces the table (md5 of
# "id:v" lines by id, the table's computed in SQL).  Duplicates are allowed
# and counted.  KEEP=1 keeps the logs (they are kept anyway on failure).
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"

PIPE=p1
SLOT=crash_slot
TOPIC=crash.public.items
RATE=${CRASH_RATE:-150}   # transactions per second, both pgbench clients together
BG_PIDS=()

cleanup() {
	local p
	[ -n "${WORK:-}" ] && touch "$WORK/stop-writer" "$WORK/stop-rss" 2>/dev/null
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	if [ -n "${WORK:-}" ] && { [ "${KEEP:-0}" = 1 ] || [ "$TESTS_FAILED" -gt 0 ]; }; then
		KEPT=$(mktemp -d /tmp/cdc-75-logs.XXXXXX)
		cp "$WORK"/*.log "$WORK"/*.txt "$WORK"/*.tsv "$KEPT"/ 2>/dev/null
		[ -f "$WORK/topic.json" ] && gzip -1 -c "$WORK/topic.json" >"$KEPT/topic.json.gz"
		cp "$WORK/kafka/kafka.log" "$KEPT/kafka-server.log" 2>/dev/null
		cp "${PG_DIR_src:-/nonexistent}/server.log" "$KEPT/pg-server.log" 2>/dev/null
		echo "# $TEST_NAME: logs kept in $KEPT"
	fi
	capture_env_down
}
trap cleanup EXIT

for tool in java kcat python3; do
	command -v "$tool" >/dev/null || { skip_or_fail "$tool is not installed"; finish; exit; }
done
[ -x "$PG_BIN/pgbench" ] || { skip_or_fail "pgbench is not installed ($PG_BIN)"; finish; exit; }

T0=$SECONDS
capture_env_up "
CREATE TABLE items (id int PRIMARY KEY, v bigint NOT NULL);
CREATE TABLE ledger (seq bigserial PRIMARY KEY, xid bigint, op char(1) NOT NULL,
	row_id int NOT NULL, value bigint);
CREATE SEQUENCE id_seq START 501;
CREATE SEQUENCE val_seq START 1000000;
CREATE SEQUENCE abort_seq;
INSERT INTO items SELECT g, g FROM generate_series(1, 500) g;
INSERT INTO ledger (op, row_id, value) SELECT 'r', id, v FROM items ORDER BY id;

-- One to three changes on random rows, each recorded in the ledger by the
-- same transaction.  Ids come from id_seq and are never reused.
CREATE FUNCTION cdc_step() RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE r float8; k int; nv bigint; top int;
BEGIN
	FOR i IN 1 .. 1 + floor(random() * 3)::int LOOP
		r := random();
		nv := nextval('val_seq');
		IF r < 0.45 THEN
			k := nextval('id_seq');
			INSERT INTO items VALUES (k, nv);
			INSERT INTO ledger (xid, op, row_id, value) VALUES (txid_current(), 'c', k, nv);
		ELSE
			SELECT last_value INTO top FROM id_seq;
			k := 1 + floor(random() * top)::int;
			IF r < 0.85 THEN
				UPDATE items SET v = nv WHERE id = k;
				IF FOUND THEN
					INSERT INTO ledger (xid, op, row_id, value) VALUES (txid_current(), 'u', k, nv);
				END IF;
			ELSE
				DELETE FROM items WHERE id = k;
				IF FOUND THEN
					INSERT INTO ledger (xid, op, row_id, value) VALUES (txid_current(), 'd', k, NULL);
				END IF;
			END IF;
		END IF;
	END LOOP;
END \$\$;

-- What a transaction that will roll back adds: an insert, an update and a
-- delete, all marked (id >= 1e9, negative values).
CREATE FUNCTION cdc_doomed() RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE n bigint := nextval('abort_seq'); top int;
BEGIN
	SELECT last_value INTO top FROM id_seq;
	INSERT INTO items VALUES (1000000000 + n, -n);
	UPDATE items SET v = -n WHERE id = 1 + floor(random() * top)::int;
	DELETE FROM items WHERE id = 1 + floor(random() * top)::int;
END \$\$;

-- One big transaction of N inserts.
CREATE FUNCTION cdc_bulk(n int) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE k int; nv bigint;
BEGIN
	FOR i IN 1 .. n LOOP
		k := nextval('id_seq');
		nv := nextval('val_seq');
		INSERT INTO items VALUES (k, nv);
		INSERT INTO ledger (xid, op, row_id, value) VALUES (txid_current(), 'c', k, nv);
	END LOOP;
END \$\$;
" < <(
	topology_source db1 crash_pub crash_slot crash public.items
	topology_target db2
	topology_pipeline p1 db1 db2
) || { _fail "environment (PostgreSQL, Kafka, bootstrap) comes up"; finish; exit; }
check_contains "bootstrap converged before capture" "bootstrap: nothing to change" "$(cat "$WORK/bootstrap.log")"
# The binary as it is now: a rebuild of the tree during the run must not
# mix builds between restarts.
cp "$CDC_AGENT" "$WORK/cdc-agent" && CDC_AGENT=$WORK/cdc-agent
ZKP=$(sed -n 's/^zookeeper.connect=127.0.0.1://p' "$WORK/kafka/server.properties")
LOG=$WORK/capture-$PIPE.log
echo "# $TEST_NAME: environment up in $((SECONDS - T0)) s"

# ---- helpers -----------------------------------------------------------------

sql() { pg_psql src db1 "$1"; }

# The writer: pgbench bursts until $WORK/stop-writer exists (or $WORK is
# gone: the loop must not outlive the test).  A burst whose
# clients lose the server (restart) ends; the next one reconnects.
printf 'SELECT cdc_step();\n' >"$WORK/step.sql"
printf 'BEGIN;\nSELECT cdc_step();\nSELECT cdc_doomed();\nROLLBACK;\n' >"$WORK/abort.sql"
writer_start() {
	rm -f "$WORK/stop-writer"
	(
		while [ -d "$WORK" ] && [ ! -e "$WORK/stop-writer" ]; do
			"$PG_BIN/pgbench" -n -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres \
				-c 2 -j 2 -T 2 -R "$RATE" --max-tries=10 \
				-f "$WORK/step.sql@9" -f "$WORK/abort.sql@1" db1 \
				>>"$WORK/pgbench.log" 2>&1 || sleep 0.3
		done
	) &
	WRITER_PID=$!
	BG_PIDS+=("$WRITER_PID")
}
writer_stop() {
	touch "$WORK/stop-writer"
	wait "$WRITER_PID"
}

capture_pid() { echo "${CAPTURE_PIDS[$PIPE]}"; }
capture_alive() { kill -0 "$(capture_pid)" 2>/dev/null; }

# Exits of capture the test did not cause.  A supervisor (systemd) would
# restart it, and so does this test (so that the loss checks still mean
# something), but each one fails the next check_capture_up.
UNEXPECTED_EXITS=() # all of them, for the summary
PENDING_EXITS=()    # not yet reported by check_capture_up
capture_ensure() { # WHEN
	local rc
	capture_alive && return 0
	wait "$(capture_pid)"
	rc=$?
	UNEXPECTED_EXITS+=("$1: exit $rc")
	PENDING_EXITS+=("$1: exit $rc")
	echo "# $TEST_NAME: capture had exited by itself ($1, exit $rc); restarted" >&2
	{ echo "---- capture restarted by the test after it exited by itself ($1, exit $rc)"; } >>"$LOG"
	capture_start "$PIPE"
	return 1
}

# Passes when capture never exited by itself since the last such check.
check_capture_up() { # WHAT
	capture_ensure "$1" || true
	if [ "${#PENDING_EXITS[@]}" -eq 0 ]; then
		_pass "capture keeps running $1"
	else
		_fail "capture keeps running $1" "$(printf 'exited by itself: %s\n' "${PENDING_EXITS[@]}"; grep -E 'error|warn' "$LOG" | tail -n 10)"
	fi
	PENDING_EXITS=()
}

slot_confirmed() {
	sql "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'"
}

# Waits until the slot confirms everything written so far: capture has had
# every committed change acknowledged by Kafka.
caught_up() { # SECONDS
	local target i
	target=$(sql "SELECT pg_current_wal_lsn()")
	for ((i = 0; i < $1 * 2; i++)); do
		capture_ensure "catching up" || true
		[ "$(sql "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] &&
			return 0
		sleep 0.5
	done
	echo "slot $SLOT confirmed $(slot_confirmed), wanted $target"
	return 1
}

# Reads the topic and the ledger, and asserts on ledger_check.py's counts.
verify() { # PHASE
	local phase=$1 out digest t
	t=$SECONDS
	topic_dump "$TOPIC" "$WORK/topic.json"
	sql "COPY (SELECT seq, xid, op, row_id, value FROM ledger) TO STDOUT" >"$WORK/ledger.tsv"
	sql "COPY (SELECT id, v FROM items ORDER BY id) TO STDOUT" >"$WORK/table.tsv"
	digest=$(sql "SELECT md5(coalesce(string_agg(id || ':' || v, E'\n' ORDER BY id), '')) FROM items")
	if ! out=$(python3 "$REPO_ROOT/tests/lib/ledger_check.py" "$WORK/topic.json" \
		"$WORK/ledger.tsv" "$WORK/table.tsv" 2>"$WORK/check-$phase.txt"); then
		_fail "$phase: ledger_check.py runs" "$(cat "$WORK/check-$phase.txt")"
		return
	fi
	local -A r=()
	local line k v
	while IFS='=' read -r k v; do [ -n "$k" ] && r[$k]=$v; done <<<"$out"
	line="records=${r[records]:-?} events=${r[events]:-?} tombstones=${r[tombstones]:-?}"
	line+=" duplicates=${r[duplicates]:-?} ledger c/u/d/r=${r[ledger_c]:-?}/${r[ledger_u]:-?}/${r[ledger_d]:-?}/${r[ledger_r]:-?}"
	line+=" rolled-back txns so far=$(sql "SELECT last_value FROM abort_seq") (read+check $((SECONDS - t)) s)"
	echo "# $TEST_NAME: $phase: $line"
	echo "$phase: $line" >>"$WORK/summary.txt"
	local details
	details=$(cat "$WORK/check-$phase.txt")
	check_eq "$phase: every record has a key and carries its own row" 0 "${r[bad]:-?}"
	if [ "${r[missing]:-?}" = 0 ]; then _pass "$phase: every committed change in the ledger has its event"
	else _fail "$phase: every committed change in the ledger has its event (${r[missing]:-?} missing)" "$details"; fi
	if [ "${r[unexpected]:-?}" = 0 ]; then _pass "$phase: every event is a committed change of the ledger"
	else _fail "$phase: every event is a committed change of the ledger (${r[unexpected]:-?} are not)" "$details"; fi
	check_eq "$phase: no event of a rolled-back transaction" 0 "${r[aborted]:-?}"
	check_eq "$phase: each key stays on one partition" 0 "${r[split_keys]:-?}"
	if [ "${r[order_errors]:-?}" = 0 ]; then _pass "$phase: per key, events follow the commit order"
	else _fail "$phase: per key, events follow the commit order (${r[order_errors]:-?} keys differ)" "$details"; fi
	check_eq "$phase: a deleted key ends with a tombstone" 0 "${r[deleted_no_tomb]:-?}"
	if [ "${r[kafka_digest]:-?}" = "$digest" ]; then _pass "$phase: the latest record per key reproduces the table (md5 $digest)"
	else _fail "$phase: the latest record per key reproduces the table" "table md5 $digest, Kafka md5 ${r[kafka_digest]:-?}"$'\n'"$details"; fi
	[ "${r[events]:-0}" -gt "${LAST_EVENTS:-0}" ] && _pass "$phase: new events arrived" ||
		_fail "$phase: new events arrived" "events: ${r[events]:-?}, before: ${LAST_EVENTS:-0}"
	LAST_EVENTS=${r[events]:-0}
	DUPS[$phase]=${r[duplicates]:-?}
}
declare -A DUPS

# ---- phase 1: SIGKILL under load ------------------------------------------------

capture_start "$PIPE"
for ((i = 0; i < 120; i++)); do
	grep -q "snapshot of public.items: 500 rows acknowledged by Kafka" "$LOG" && break
	sleep 0.5
done
check_contains "the initial snapshot is acknowledged" "snapshot of public.items: 500 rows" "$(cat "$LOG")"

P1=$SECONDS
writer_start
sleep 1
KILLS=0
for ((i = 0; i < 6; i++)); do
	sleep $((1 + RANDOM % 3))
	capture_ensure "before kill $((i + 1))" || true
	pid=${CAPTURE_PIDS[$PIPE]}
	# (stderr: no "Killed" job notice from bash)
	{ kill -9 "$pid"; wait "$pid"; :; } 2>/dev/null
	KILLS=$((KILLS + 1))
	capture_start "$PIPE"
done
sleep 2
writer_stop
echo "# $TEST_NAME: phase 1: $KILLS kills in $((SECONDS - P1)) s of load"
check_eq "capture was killed with SIGKILL under load 6 times" 6 "$KILLS"
check_capture_up "between the kills (each exit was a kill)"
# Not through check (a subshell): caught_up may restart capture, and the pid
# must reach us.
if caught_up 90 >"$WORK/caught-up.txt"; then _pass "capture catches up after the kills"
else _fail "capture catches up after the kills" "$(cat "$WORK/caught-up.txt")"; fi
check_capture_up "while catching up after the kills"
verify kill-9

# ---- phase 2: PostgreSQL restarted under capture ---------------------------------

P2=$SECONDS
RECONNECTS_BEFORE=$(grep -c "reconnecting to" "$LOG")
LEDGER_BEFORE=$(sql "SELECT count(*) FROM ledger")
writer_start
sleep 2
if pg_cluster_restart src; then _pass "pg_ctl restart -m fast under load"
else _fail "pg_ctl restart -m fast under load" "$(tail -n 20 "$PG_DIR_src/server.log")"; fi
sleep 2
check_capture_up "across pg_ctl restart -m fast"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR_src/data" -w -m fast stop >/dev/null
sleep 3
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR_src/data" -l "$PG_DIR_src/server.log" -w start >/dev/null
sleep 3
check_capture_up "across PostgreSQL down for 3 s"
writer_stop
echo "# $TEST_NAME: phase 2: $((SECONDS - P2)) s"
RECONNECTS=$(($(grep -c "reconnecting to" "$LOG") - RECONNECTS_BEFORE))
[ "$RECONNECTS" -ge 2 ] && _pass "capture logged a reconnect warning for each PostgreSQL restart ($RECONNECTS)" ||
	_fail "capture logged a reconnect warning for each PostgreSQL restart" "$(grep -E 'warn|error' "$LOG" | tail -n 20)"
check "the writer committed during phase 2" test "$(sql "SELECT count(*) FROM ledger")" -gt "$LEDGER_BEFORE"
if caught_up 90 >"$WORK/caught-up.txt"; then _pass "capture catches up after the PostgreSQL restarts"
else _fail "capture catches up after the PostgreSQL restarts" "$(cat "$WORK/caught-up.txt")"; fi
check_capture_up "while catching up after the PostgreSQL restarts"
verify pg-restart

# ---- phase 3: the Kafka broker away ----------------------------------------------

rm -f "$WORK/stop-rss"
CPID=$(capture_pid)
(
	while [ -d "$WORK" ] && [ ! -e "$WORK/stop-rss" ] && [ -r "/proc/$CPID/status" ]; do
		echo "$(date +%s.%N) $(awk '/^VmRSS:/ {print $2}' "/proc/$CPID/status")"
		sleep 0.5
	done
) >"$WORK/rss.txt" 2>/dev/null &
BG_PIDS+=("$!")
RSS_PID=$!
writer_start
sleep 2
RSS_BEFORE=$(awk '/^VmRSS:/ {print $2}' "/proc/$CPID/status")
ts=$SECONDS
kafka_stop "$WORK/kafka"
STOP_S=$((SECONDS - ts))
OUTAGE_START=$SECONDS
LEDGER_A=$(sql "SELECT count(*) FROM ledger")
sql "SELECT cdc_bulk(10000)" >/dev/null
# Acks that came in before the broker went are reported within a status
# interval (1 s): the confirmed LSN must not move after that.
sleep 2
CONFIRMED_A=$(slot_confirmed)
sleep 10
check_capture_up "while the broker is away"
CONFIRMED_B=$(slot_confirmed)
LEDGER_B=$(sql "SELECT count(*) FROM ledger")
check_eq "the slot confirms nothing Kafka has not acknowledged (held at $CONFIRMED_A)" "$CONFIRMED_A" "$CONFIRMED_B"
check "the source keeps committing meanwhile (ledger $LEDGER_A -> $LEDGER_B, a 10000-row transaction among them)" \
	test "$LEDGER_B" -ge $((LEDGER_A + 10000))
ts=$SECONDS
if kafka_start_zk "$WORK/kafka" "$KP" "$ZKP" >>"$WORK/kafka-restart.log" 2>&1; then
	_pass "the broker restarts on its directory and port"
else
	_fail "the broker restarts on its directory and port" "$(cat "$WORK/kafka-restart.log")"
fi
START_S=$((SECONDS - ts))
OUTAGE_S=$((SECONDS - OUTAGE_START + STOP_S))
sleep 2
writer_stop
if caught_up 120 >"$WORK/caught-up.txt"; then _pass "capture catches up after the broker is back"
else _fail "capture catches up after the broker is back" "$(cat "$WORK/caught-up.txt")"; fi
touch "$WORK/stop-rss"
wait "$RSS_PID"
check_capture_up "after the broker is back, while catching up"
RSS_PEAK=$(awk 'NF == 2 && $2 > m {m = $2} END {print m + 0}' "$WORK/rss.txt")
RSS_N=$(wc -l <"$WORK/rss.txt")
echo "# $TEST_NAME: phase 3: broker stop ${STOP_S} s, start ${START_S} s, outage ~${OUTAGE_S} s; capture RSS before ${RSS_BEFORE} kB, peak ${RSS_PEAK} kB over $RSS_N samples"
check "capture's RSS stays under 256 MiB while the broker is away (peak $((RSS_PEAK / 1024)) MiB)" \
	test "$RSS_PEAK" -gt 0 -a "$RSS_PEAK" -lt $((256 * 1024))
check_contains "capture logged the brokers down" "all brokers are down" "$(cat "$LOG")"
check_contains "capture logged the backpressure" "producer queue full" "$(cat "$LOG")"
# Deliveries resume in place, or (when the returning broker first answers
# without the topic, and librdkafka fails the queued messages "Unknown
# partition") capture starts its session again from the confirmed LSN.
resumed_after_outage() { # after the outage: a delivery again, or a new session after "Unknown partition"
	awk '/all brokers are down/ { out = 1 }
	     out && /messages are delivered again/ { ok = 1 }
	     out && /not delivered: Local: Unknown partition/ { lost = 1 }
	     lost && /streaming from slot/ { ok = 1 }
	     END { exit !ok }' "$LOG"
}
check "capture logged the deliveries resuming" resumed_after_outage
verify kafka-outage

# ---- all phases --------------------------------------------------------------------

[ "${#UNEXPECTED_EXITS[@]}" -gt 0 ] && printf "# $TEST_NAME: capture exited by itself: %s\n" "${UNEXPECTED_EXITS[@]}"
ERRORS=$(grep -c 'AddressSanitizer\|runtime error' "$LOG")
check_eq "no sanitizer report in capture's log" 0 "$ERRORS"
echo "# $TEST_NAME: duplicates (cumulative): after kill -9 ${DUPS[kill-9]:-?}, after PostgreSQL restarts ${DUPS[pg-restart]:-?}, after the Kafka outage ${DUPS[kafka-outage]:-?}; total $((SECONDS - T0)) s"
finish
