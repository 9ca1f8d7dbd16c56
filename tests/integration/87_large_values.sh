#!/usr/bin/env bash
# Large values ([kafka] max_message_bytes, agent/config/kafka_limits.h), capture and
# apply as plain processes against PostgreSQL 15 and a ZooKeeper-mode broker
# configured as the agent renders it (templates/server.properties.*):
#   - with the default limit (64MB): a 50 MB text value (with characters JSON
#     escapes) and a 20 MB bytea are replicated, inserted and updated, rows
#     before and after them too: the ordered digest (md5 of every value) of
#     every table equal; capture's and apply's peak RSS measured
#     (/usr/bin/time -v, docs/BENCHMARKS.md "Large values");
#   - with max_message_bytes = 1MB: a 2 MB value stops capture at once:
#     FAILED in `status` within 30 s naming table and key, exit 65, no
#     reconnect loop (started again, it fails the same way), the slot not
#     confirmed past it and the rows after it not applied; the limit raised,
#     the topic created with the small limit is altered and everything
#     arrives, digest equal;
#   - a topic's max.message.bytes lowered by hand: the broker's refusal
#     stops capture the same way; started again, capture raises it.
# KEEP_WORK=1 keeps $WORK.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"

cleanup() {
	local p c
	[ "$TESTS_FAILED" -gt 0 ] && [ -n "${WORK:-}" ] && KEEP_WORK=1 && echo "# $TEST_NAME: kept $WORK"
	# The agents started under /usr/bin/time are its children.
	for p in "${CAPTURE_PIDS[@]}"; do
		for c in $(pgrep -P "$p" 2>/dev/null); do kill -9 "$c" 2>/dev/null; done
	done
	capture_env_down
}
trap cleanup EXIT

command -v python3 >/dev/null || { skip_or_fail "python3 is not installed"; finish; exit; }
[ -x /usr/bin/time ] || { skip_or_fail "/usr/bin/time is not installed"; finish; exit; }

# The broker as the agent renders it for the default limit (kafka_limits.h:
# batch = L + L/64 + 64 kB; socket.request.max.bytes = max(100 MiB, batch +
# 1 MiB)); tests/unit/test_render.c checks the rendered files say the same.
L=$((64 << 20))
BATCH=$((L + L / 64 + 65536))
REQUEST=$((BATCH + 1048576 > 104857600 ? BATCH + 1048576 : 104857600))
CAPTURE_KAFKA_PROPS="message.max.bytes=$BATCH replica.fetch.max.bytes=$BATCH socket.request.max.bytes=$REQUEST"
CAPTURE_PARTITIONS=1
capture_env_up "
CREATE TABLE big_text (id int PRIMARY KEY, v text);
CREATE TABLE big_bytea (id int PRIMARY KEY, v bytea);
CREATE TABLE lim (id int PRIMARY KEY, v text);
INSERT INTO big_text SELECT g, 'small ' || g FROM generate_series(1, 20) g;
INSERT INTO big_bytea SELECT g, decode(md5(g::text), 'hex') FROM generate_series(1, 20) g;
INSERT INTO lim SELECT g, 'before ' || g FROM generate_series(1, 10) g;
" < <(
	topology_source s1 pub1 slot1 large "public.big_text, public.big_bytea"
	topology_source s2 pub2 slot2 limited public.lim
	topology_target db2
	topology_pipeline p1 s1 db2
	topology_pipeline p2 s2 db2
) || { _fail "environment comes up"; finish; exit; }

# The same topology with a 1 MB limit, for pipeline p2.
T1=$WORK/topo-1mb.ini
sed '/^\[kafka\]$/a max_message_bytes = 1MB' "$T" >"$T1"
LIMIT_LINE=$(grep -n '^max_message_bytes' "$T1" | cut -d: -f1)

# Every value by its md5, in the order of id.
converged() { DIGEST_ROW="id || '=' || md5(v)" wait_converged "$2" "$1" db2; } # TABLE SECONDS
# KIND PIPELINE [TOPOLOGY]: started under /usr/bin/time -v (peak RSS at exit).
timed_start() {
	/usr/bin/time -v -o "$WORK/$1-$2.time" "$CDC_AGENT" -c "${3:-$T}" "$1" "$2" \
		>>"$WORK/$1-$2.log" 2>&1 &
	CAPTURE_PIDS[$1-$2]=$!
}
# Stops the agent under time (SIGTERM to it, not to time): its peak RSS in
# MiB into $RSS.  Not in a subshell: it waits for its child.
timed_stop() { # KIND PIPELINE
	local tp=${CAPTURE_PIDS[$1-$2]} child
	child=$(pgrep -P "$tp" | head -1)
	[ -n "$child" ] && kill -TERM "$child"
	wait "$tp" 2>/dev/null
	RSS=$(awk -F': ' '/Maximum resident set size/ {printf "%d", $2 / 1024}' "$WORK/$1-$2.time")
}

# ---- the default limit: 50 MB of text, 20 MB of bytea -----------------------
timed_start capture p1
timed_start apply p1
check "snapshot: big_text equal" converged big_text 90
check "snapshot: big_bytea equal" converged big_bytea 30

# 51 MB of text: md5 digits, with a quote, a backslash, a newline and a tab
# (escaped in the event's JSON) every 100; 21 MB of bytea.
pg_psql src db1 "
INSERT INTO big_text SELECT 1000, string_agg(md5(g::text) || CASE WHEN g % 100 = 0 THEN E'\"\\\\\n\t' ELSE '' END, '') FROM generate_series(1, 1600000) g;
INSERT INTO big_bytea SELECT 1000, string_agg(decode(md5(g::text), 'hex'), ''::bytea) FROM generate_series(1, 1300000) g;
INSERT INTO big_text SELECT g, 'after ' || g FROM generate_series(21, 40) g;
INSERT INTO big_bytea SELECT g, decode(md5(g::text), 'hex') FROM generate_series(21, 40) g;
" >/dev/null
check_eq "the text value is over 50 MB" t "$(pg_psql src db1 "SELECT octet_length(v) > 50000000 FROM big_text WHERE id = 1000")"
check_eq "the bytea value is over 20 MB" t "$(pg_psql src db1 "SELECT octet_length(v) > 20000000 FROM big_bytea WHERE id = 1000")"
check "a 50 MB text value and the rows after it: big_text equal" converged big_text 180
check "a 20 MB bytea value and the rows after it: big_bytea equal" converged big_bytea 120

# Updated to another large value (the event carries the new one only:
# REPLICA IDENTITY DEFAULT), then a small one.
pg_psql src db1 "
UPDATE big_text SET v = reverse(v) WHERE id = 1000;
UPDATE big_bytea SET v = v || '\\x00ff'::bytea WHERE id = 1000;
UPDATE big_text SET v = 'small again' WHERE id = 1;
" >/dev/null
check "large values updated: big_text equal" converged big_text 180
check "large values updated: big_bytea equal" converged big_bytea 120
check_not_contains "capture never reconnected" "reconnecting" "$(cat "$WORK/capture-p1.log")"
timed_stop capture p1
CAPTURE_RSS=$RSS
timed_stop apply p1
APPLY_RSS=$RSS
echo "# peak RSS with a 51 MB text and a 21 MB bytea value: capture ${CAPTURE_RSS} MiB, apply ${APPLY_RSS} MiB"
# About 5 copies of the largest value at most (pgoutput's message, the
# event, librdkafka's copy and its compression buffer; apply's fetch, its
# parameter): nothing quadratic.
check "capture's peak RSS under 400 MiB (${CAPTURE_RSS} MiB)" test "${CAPTURE_RSS:-9999}" -lt 400
check "apply's peak RSS under 400 MiB (${APPLY_RSS} MiB)" test "${APPLY_RSS:-9999}" -lt 400
[ -n "${RESULTS_DIR:-}" ] && echo "capture_rss_mib=$CAPTURE_RSS apply_rss_mib=$APPLY_RSS" >"$RESULTS_DIR/$TEST_NAME.rss"

# ---- a 1 MB limit: a 2 MB value stops capture at once --------------------------
capture_start_1mb() {
	"$CDC_AGENT" -c "$T1" capture p2 >>"$WORK/capture-p2.log" 2>&1 &
	CAPTURE_PIDS[p2]=$!
}
capture_start_1mb
"$CDC_AGENT" -c "$T1" apply p2 >>"$WORK/apply-p2.log" 2>&1 &
CAPTURE_PIDS[apply-p2]=$!
check "1 MB limit: rows before the large value equal" converged lim 90

LSN_BEFORE=$(pg_psql src db1 "SELECT pg_current_wal_insert_lsn()")
pg_psql src db1 "INSERT INTO lim SELECT 7000, string_agg(md5(g::text), '') FROM generate_series(1, 65536) g" >/dev/null
LSN_AFTER=$(pg_psql src db1 "SELECT pg_current_wal_insert_lsn()")
pg_psql src db1 "INSERT INTO lim SELECT g, 'after ' || g FROM generate_series(11, 20) g; UPDATE lim SET v = 'changed' WHERE id = 1" >/dev/null
T0=$SECONDS

# How PID ended within SECONDS: its exit code, or "running" (not in a
# subshell: it waits for its child).
ended() { # PID SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1"
			ENDED=$?
			return
		fi
		sleep 0.1
	done
	ENDED="running after $2 s"
}
# Exit 65: its unit does not restart it (RestartPreventExitStatus=65).
ended "${CAPTURE_PIDS[p2]}" 30
check_eq "a 2 MB value over the 1 MB limit: capture exits 65 within 30 s" 65 "$ENDED"
echo "# capture stopped $((SECONDS - T0)) s after the commit"
WANT="table public.lim: the change of key {\"id\":7000} is "
check_contains "its error names table and key" "$WANT" "$(cat "$WORK/capture-p2.log")"
check_contains "and the limit with its topology line" \
	"bytes, over [kafka] max_message_bytes = 1MB (topology $T1:$LIMIT_LINE)" "$(cat "$WORK/capture-p2.log")"
check_not_contains "capture did not reconnect to retry it" "reconnecting" "$(cat "$WORK/capture-p2.log")"

# p2 in `status --json`: STATE (pipeline and capture), the reason naming
# each WANT.
status_says() { # TOPOLOGY STATE WANT...
	"$CDC_AGENT" -c "$1" status --json >"$WORK/st.json" 2>"$WORK/st.err"
	python3 - "$WORK/st.json" "${@:2}" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
state, wants = sys.argv[2], sys.argv[3:]
p = next(x for x in doc["pipelines"] if x["name"] == "p2")
half = p["capture"]
bad = []
if p["state"] != state: bad.append("pipeline %s: %s" % (p["state"], p.get("reason")))
if half.get("state") != state: bad.append("capture %s: %s" % (half.get("state"), half.get("reason")))
for want in wants:
    if want not in (p.get("reason") or ""): bad.append("reason %r lacks %s" % (p.get("reason"), want))
if bad: print("\n".join(bad)); sys.exit(1)
PY
}
check "status: p2 FAILED, the reason naming table and key" \
	status_says "$T1" FAILED public.lim '{"id":7000}' max_message_bytes
"$CDC_AGENT" -c "$T1" status >"$WORK/st.txt" 2>&1
check_eq "status's table exits 1" 1 "$?"
check "and shows p2 FAILED" grep -Eq '^p2 +FAILED' "$WORK/st.txt"

CONFIRMED=$(pg_psql src db1 "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'slot2'")
check_eq "the slot is not confirmed past the large change ($CONFIRMED < $LSN_AFTER)" t \
	"$(pg_psql src db1 "SELECT '$CONFIRMED'::pg_lsn < '$LSN_AFTER'::pg_lsn")"
sleep 2
check_eq "rows after it are not applied" "10 before 1" \
	"$(pg_psql src db2 "SELECT count(*) || ' ' || min(v) FROM public.lim")"

# Started again (an operator's `systemctl start`): the same stop, quickly.
T0=$SECONDS
capture_start_1mb
ended "${CAPTURE_PIDS[p2]}" 30
check_eq "started again: it fails the same way within 30 s" 65 "$ENDED"
echo "# the restarted capture stopped after $((SECONDS - T0)) s"
check_eq "each start logged the refusal once" 2 "$(grep -c "$WANT" "$WORK/capture-p2.log")"
check "status still FAILED with the reason" \
	status_says "$T1" FAILED public.lim '{"id":7000}' max_message_bytes
check_eq "the slot still not confirmed past it" t \
	"$(pg_psql src db1 "SELECT confirmed_flush_lsn < '$LSN_AFTER'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'slot2'")"

# The limit raised (the default): the topic capture created with the 1 MB
# limit is altered, and everything arrives.
kill "${CAPTURE_PIDS[apply-p2]}" 2>/dev/null
wait "${CAPTURE_PIDS[apply-p2]}" 2>/dev/null
capture_start p2
apply_start p2
check "limit raised: the large value and the rows after it equal" converged lim 90
check_contains "the topic's max.message.bytes was raised" \
	"topic limited.public.lim: max.message.bytes $((1048576 + 16384 + 65536)) -> $BATCH" \
	"$(cat "$WORK/capture-p2.log")"
check "status: p2 RUNNING again" status_says "$T" RUNNING

# ---- the broker refuses it: a topic's limit lowered by hand -------------------
# Capture's own check passes (64MB), the broker answers MESSAGE_TOO_LARGE:
# the same stop, naming table and key, not a replay loop.
# (kafka-configs.sh's class; the unpacked distribution keeps libs/ only)
java -Xmx128m -XX:TieredStopAtLevel=1 -cp "$WORK/kafka/libs/*" kafka.admin.ConfigCommand \
	--bootstrap-server "127.0.0.1:$KP" --alter --entity-type topics --entity-name limited.public.lim \
	--add-config max.message.bytes=1000000 >"$WORK/kafka-configs.log" 2>&1
check_contains "the topic's limit lowered by hand" "Completed updating config" "$(cat "$WORK/kafka-configs.log")"
pg_psql src db1 "INSERT INTO lim SELECT 8000, string_agg(md5(g::text || 'x'), '') FROM generate_series(1, 65536) g; INSERT INTO lim VALUES (8001, 'after')" >/dev/null
ended "${CAPTURE_PIDS[p2]}" 30
check_eq "refused by the broker: capture exits 65 within 30 s" 65 "$ENDED"
check_contains "its error names table, key and Kafka's refusal" \
	"table public.lim: the change of key {\"id\":8000} is " "$(grep 'refused by Kafka as too large' "$WORK/capture-p2.log")"
check "status: p2 FAILED, the reason naming table and key" \
	status_says "$T" FAILED public.lim '{"id":8000}' 'refused by Kafka' 
capture_start p2
check "started again, the topic's limit raised back: equal" converged lim 90
finish
