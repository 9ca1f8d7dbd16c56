#!/usr/bin/env bash
# Apply reconnects to its target, and SIGTERM ends capture and apply within
# 2 s whatever they wait for (issue #13, point 4).  Plain processes; the
# target is a cluster of its own, so that it can restart while the source
# goes on.
#   - the target restarted (pg_ctl restart -m fast), then stopped for 10 s,
#     under a continuous load: apply stays up, says "reconnecting" in its
#     progress file and its log, resumes by itself; nothing lost (digest
#     equal), nothing applied twice (no create meets its own key again);
#   - SIGTERM, timed, for: apply consuming; capture streaming; apply blocked
#     in a query (another session holds LOCK TABLE ... ACCESS EXCLUSIVE on a
#     target table); apply waiting to reconnect (target stopped); capture and
#     apply with the broker away (capture with events unacknowledged);
#     capture waiting to reconnect (source stopped); capture in the initial
#     snapshot of a 400k-row table.  Each exits 0 within 2 s, and the
#     processes started again bring the digests to equal.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap 'kill $WRITER $LOCKER 2>/dev/null; capture_env_down' EXIT
CAPTURE_PARTITIONS=2
WRITER= LOCKER=
BIG_ROWS=400000

pg_cluster_create tgt || { _fail "target cluster comes up"; finish; exit; }
capture_env_up "
CREATE TABLE load_t (id int PRIMARY KEY, v int NOT NULL, note text);
INSERT INTO load_t SELECT g, 0, 'seed ' || g FROM generate_series(1, 1000) g;
CREATE TABLE big (id int PRIMARY KEY, pad text);
INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, $BIG_ROWS) g;
" < <(
	topology_source db1 load_pub load_slot db1server public.load_t
	topology_source bigsrc big_pub big_slot bigserver public.big
	topology_target db2 PORT="$PG_PORT_tgt" SOCK="$PG_SOCK_tgt"
	topology_target db3 PORT="$PG_PORT_tgt" SOCK="$PG_SOCK_tgt"
	topology_pipeline p1 db1 db2
	topology_pipeline p2 bigsrc db3
) || { _fail "environment comes up"; finish; exit; }

# An ordered digest of every row, db1 against TDB of the target cluster.
converged() { wait_converged "$3" "$2" "tgt:$1"; } # TDB TABLE SECONDS
# SIGTERM to the process KEY of CAPTURE_PIDS; checks it is gone within 2 s
# and exited 0, printing the time.  A process that already died counts as a
# failure (it did not wait: it gave up).
sigterm_check() { # WHAT KEY
	local pid=${CAPTURE_PIDS[$2]} t0 ms rc
	if ! kill -0 "$pid" 2>/dev/null || grep -q '^Z' <(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null); then
		_fail "$1: the process was still running before SIGTERM"
		return
	fi
	t0=$(date +%s%N)
	kill -TERM "$pid"
	while [ -e "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] &&
		[ $(($(date +%s%N) - t0)) -lt 10000000000 ]; do
		sleep 0.02
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || [ ! -e "/proc/$pid" ]; then
		wait "$pid"
		rc=$?
	else
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		rc=killed
	fi
	echo "# $1: SIGTERM -> gone in $ms ms (exit $rc)"
	if [ "$rc" = 0 ] && [ "$ms" -le 2000 ]; then
		_pass "$1: SIGTERM ends it within 2 s, exit 0 ($ms ms)"
	else
		_fail "$1: SIGTERM ends it within 2 s, exit 0" "took $ms ms, exit $rc; last lines:"$'\n'"$(tail -n 5 "$WORK/${3:-}" 2>/dev/null)"
	fi
}
# A continuous load on db1: one session inserting new keys and updating
# others, 50 statements a second.
writer_start() { # FIRST_ID
	local i n=$1
	for ((i = n; i < n + 6000; i++)); do
		echo "INSERT INTO load_t VALUES ($i, 0, 'w $i'); UPDATE load_t SET v = v + 1 WHERE id = $((i % 900 + 1)); SELECT pg_sleep(0.02);"
	done >"$WORK/writer-$n.sql"
	"$PG_BIN/psql" -X -q -o /dev/null -h "$PG_SOCK_src" -p "$PG_PORT_src" -U postgres -d db1 \
		-f "$WORK/writer-$n.sql" >/dev/null 2>&1 &
	WRITER=$!
}
writer_stop() { kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null; WRITER=; }
tgt_ctl() { # pg_ctl ACTION on the target cluster
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR_tgt/data" -l "$PG_DIR_tgt/server.log" \
		-w -m fast "$@" >/dev/null
}
src_ctl() {
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR_src/data" -l "$PG_DIR_src/server.log" \
		-w -m fast "$@" >/dev/null
}
state() { # KIND PIPELINE: the progress file's "state"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("state"))' \
		"$WORK/state/progress-$1-$2.json" 2>/dev/null
}

capture_start p1
apply_start p1
check "start: load_t equal in the target" converged db2 load_t 90

# ---- the target restarted, then stopped for 10 s, under load ----
writer_start 100000
sleep 2
mark=$(wc -l <"$WORK/apply-p1.log")
tgt_ctl restart
check "target restarted: apply says it reconnects" log_wait "$WORK/apply-p1.log" "reconnecting to target db2 (127.0.0.1:$PG_PORT_tgt) in " 30
check "target restarted: apply reconnects by itself" log_wait "$WORK/apply-p1.log" "reconnected to target db2" 30
sleep 2
tgt_ctl stop
sleep 3
check_eq "target stopped: apply's progress says reconnecting" "reconnecting" "$(state apply p1)"
sleep 7
tgt_ctl start
check "target back after 10 s: apply reconnects by itself" log_wait "$WORK/apply-p1.log" "reconnected to target db2" 45 2
sleep 2
check "apply is still the same process" kill -0 "${CAPTURE_PIDS[apply-p1]}"
check_eq "apply's progress says consuming again" "consuming" "$(state apply p1)"
tail -n +"$mark" "$WORK/apply-p1.log" >"$WORK/apply-reconnects.log"
echo "# apply's waits: $(grep -c 'reconnecting to target' "$WORK/apply-reconnects.log")"
check_not_contains "nothing applied twice: no create met its own key again" "a create met a key" \
	"$(cat "$WORK/apply-reconnects.log")"

# ---- SIGTERM in every state ----
sigterm_check "apply consuming (under load)" apply-p1 apply-p1.log
apply_start p1
sleep 2
sigterm_check "capture streaming (under load)" p1 capture-p1.log
capture_start p1
sleep 2

# apply blocked in a query: the target table locked by another session.
"$PG_BIN/psql" -X -q -h "$PG_SOCK_tgt" -p "$PG_PORT_tgt" -U postgres -d db2 \
	-c "BEGIN; LOCK TABLE public.load_t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);" >/dev/null 2>&1 &
LOCKER=$!
blocked() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(pg_psql tgt postgres "SELECT count(*) FROM pg_stat_activity WHERE usename = 'db2_user' AND wait_event_type = 'Lock'")" -ge 1 ] && return 0
		sleep 0.1
	done
	return 1
}
check "apply waits for the lock" blocked
sleep 1
sigterm_check "apply blocked in a query (table locked)" apply-p1 apply-p1.log
kill "$LOCKER" 2>/dev/null
pg_psql tgt postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE%'" >/dev/null
wait "$LOCKER" 2>/dev/null
LOCKER=
apply_start p1
sleep 2

# apply waiting to reconnect: the target stopped.
mark=$(grep -c "reconnecting to target" "$WORK/apply-p1.log")
tgt_ctl stop
check "target stopped: apply waits to reconnect" log_wait "$WORK/apply-p1.log" "reconnecting to target db2" 30 $((mark + 1))
sleep 1.5
sigterm_check "apply waiting to reconnect (target stopped)" apply-p1 apply-p1.log
tgt_ctl start
apply_start p1
writer_stop
check "after the target's restarts and SIGTERMs: load_t equal" converged db2 load_t 90

# ---- the broker away ----
kill -9 "$(cat "$WORK/kafka/kafka.pid")"
sleep 1
pg_psql src db1 "INSERT INTO load_t SELECT g, 1, 'broker away' FROM generate_series(200001, 200500) g;
	UPDATE load_t SET v = v + 1 WHERE id <= 100" >/dev/null
sleep 3
sigterm_check "capture with the broker away and events unacknowledged" p1 capture-p1.log
sigterm_check "apply with the broker away" apply-p1 apply-p1.log
check "the broker comes back" broker_start
capture_start p1
apply_start p1
check "after SIGTERM with the broker away: load_t equal" converged db2 load_t 120

# ---- the source stopped: capture waits to reconnect ----
mark=$(grep -c "reconnecting to" "$WORK/capture-p1.log")
src_ctl stop
check "source stopped: capture waits to reconnect" log_wait "$WORK/capture-p1.log" "reconnecting to" 30 $((mark + 1))
sleep 1.5
sigterm_check "capture waiting to reconnect (source stopped)" p1 capture-p1.log
src_ctl start
capture_start p1
pg_psql src db1 "UPDATE load_t SET v = v + 1 WHERE id % 3 = 0" >/dev/null
check "after SIGTERM with the source away: load_t equal" converged db2 load_t 90

# ---- capture in the initial snapshot of a large table ----
capture_start p2
check "capture p2 starts its initial snapshot" log_wait "$WORK/capture-p2.log" "initial snapshot starts" 60
sleep 0.5
sigterm_check "capture in the initial snapshot of $BIG_ROWS rows" p2 capture-p2.log
check_not_contains "the snapshot was cut short" "snapshot of public.big: " "$(cat "$WORK/capture-p2.log")"
capture_start p2
apply_start p2
pg_psql src db1 "UPDATE big SET pad = 'changed' WHERE id % 1000 = 0" >/dev/null
check "after SIGTERM in the snapshot: big equal" converged db3 big 150
check "load_t still equal" converged db2 load_t 30
check_not_contains "no apply stopped on a record" "refused" "$(grep -hv 'Connection refused' "$WORK"/apply-*.log)"
finish
