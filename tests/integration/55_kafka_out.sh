#!/usr/bin/env bash
# agent/kafka/kafka_out.c against a real broker (KRaft, one node), through
# tests/kafka_out_driver.c: topic creation (idempotent, partition count
# checked, impossible replication factor refused), 10000 keyed messages all
# acked and read back in per-key order on the partitions
# kafka_out_partition_for_key predicts, and a broker killed (SIGKILL) and
# restarted mid-stream without loss or duplicates.  KEEP=1 keeps $WORK.
# shellcheck source-path=SCRIPTDIR source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/kafka.sh
. "$(dirname "$0")/../lib/kafka.sh"

PKGS="libpq rdkafka libcurl libsystemd jansson libcrypto"
KEEP=${KEEP:-0}
WORK=$(mktemp -d /tmp/cdc-kafka-out.XXXXXX)
cleanup() {
	kafka_stop "$WORK/k" || true
	if [ "$KEEP" = 1 ] || [ "$TESTS_FAILED" -gt 0 ]; then
		echo "# $TEST_NAME: logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

for tool in java kcat cc; do
	if ! command -v "$tool" >/dev/null; then
		skip_or_fail "$tool is not installed"
		finish
		exit
	fi
done

# The driver: from the Makefile's rule when there is one, else built here
# with the Makefile's flags against the release objects.
build_driver() {
	if make -s -C "$REPO_ROOT" build/tests/kafka_out_driver 2>/dev/null; then
		DRIVER=$REPO_ROOT/build/tests/kafka_out_driver
		return
	fi
	local objs=() o
	DRIVER=$WORK/kafka_out_driver
	make -s -C "$REPO_ROOT" cdc-agent || return
	for o in "$REPO_ROOT"/build/rel/*.o; do
		[ "${o##*/}" = main.o ] || objs+=("$o")
	done
	# shellcheck disable=SC2046,SC2086 # word splitting wanted
	cc -std=c11 -D_GNU_SOURCE -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
		-Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral -O2 \
		$(pkg-config --cflags $PKGS) -I"$REPO_ROOT/agent" -o "$DRIVER" \
		"$REPO_ROOT/tests/kafka_out_driver.c" "${objs[@]}" $(pkg-config --libs $PKGS)
}
# Not through check: that runs in a subshell, and DRIVER must reach us.
if build_driver >"$WORK/build.log" 2>&1 && [ -x "$DRIVER" ]; then
	_pass "the test driver builds"
else
	_fail "the test driver builds" "$(cat "$WORK/build.log")"
	finish
	exit
fi
DIST=$("$REPO_ROOT/scripts/kafka-dist.sh") || DIST=
if [ -z "$DIST" ] || ! kafka_unpack "$DIST" "$WORK/k"; then
	_fail "the Kafka distribution (scripts/kafka-dist.sh) unpacks"
	finish
	exit
fi

PORT=$(free_port)
CPORT=$(free_port)
while [ "$CPORT" = "$PORT" ]; do CPORT=$(free_port); done
B=127.0.0.1:$PORT
# A restarted node waits out its previous incarnation's broker session
# (9 s by default) before it serves: keep that short.
BROKER_PROPS=(broker.heartbeat.interval.ms=500 broker.session.timeout.ms=2000)
if ! kafka_start_kraft "$WORK/k" "$PORT" "$CPORT" "${BROKER_PROPS[@]}"; then
	_fail "the broker starts"
	finish
	exit
fi

# driver VERB ARGS...: stdout in $OUT, stderr in $ERR, exit code in $RC.
driver() {
	"$DRIVER" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	OUT=$(cat "$WORK/out") ERR=$(cat "$WORK/err")
}

# Lines "partition key value" of a whole topic.
read_topic() {
	timeout 60 kcat -b "$B" -C -t "$1" -o beginning -e -q -f '%p %k %s\n'
}

# The partition count the brokers report for a topic.
partition_count() {
	timeout 20 kcat -b "$B" -L -t "$1" 2>/dev/null | grep -c '^ *partition [0-9]*,'
}

# Messages whose value is not above the previous one of the same key.
out_of_order() {
	awk '{ if (($2 in last) && $3 + 0 <= last[$2]) bad++; last[$2] = $3 + 0 }
	     END { print bad + 0 }' "$1"
}

# Values read back compared with 0..N-1, each exactly once.
values_exactly_once() { # file n
	awk '{ print $3 }' "$1" | sort -n | diff -q - <(seq 0 $(($2 - 1))) >/dev/null
}

# --- topics ---
driver ensure "$B" orders 6 1
check_eq "ensure_topic creates a topic" 0 "$RC"
# max.message.bytes: the default [kafka] max_message_bytes (64MB) and its
# room (agent/config/kafka_limits.h)
check_contains "and says so" "created topic orders (6 partitions, replication factor 1, max.message.bytes 68222976)" "$ERR"
check_eq "the topic has 6 partitions" 6 "$(partition_count orders)"
driver ensure "$B" orders 6 1
check_eq "ensure_topic on the existing topic succeeds (idempotent)" 0 "$RC"
check_not_contains "and creates nothing" "created topic" "$ERR"
check_not_contains "nor changes its max.message.bytes" "max.message.bytes" "$ERR"
driver ensure "$B" orders 8 1
check_eq "an existing topic with fewer partitions than configured is an error" 1 "$RC"
check_contains "naming topic and counts" \
	"topic orders exists with 6 partition(s), fewer than the 8 configured" "$ERR"
driver ensure "$B" orders 3 1
check_eq "an existing topic with more partitions is accepted" 0 "$RC"
check_contains "with a warning" "warning: kafka $B: topic orders exists with 6 partitions, more than the 3" "$ERR"
driver ensure "$B" wide 6 3
check_eq "replication factor 3 on a 1-broker cluster is an error" 1 "$RC"
check_contains "naming topic and cause" \
	"cannot create topic wide (6 partitions, replication factor 3): Broker: Invalid replication factor" "$ERR"
check_eq "and no such topic exists" 0 "$(partition_count wide)"

# --- 10000 keyed messages ---
driver produce "$B" orders 10000 1000
check_eq "10000 messages: all acked as delivered, once each" \
	"produced 10000 delivered 10000 failed 0 duplicate_acks 0 outstanding 0" "$(head -n 1 <<<"$OUT")"
check_eq "the driver exits 0" 0 "$RC"
read_topic orders >"$WORK/orders.txt"
check_eq "10000 messages read back" 10000 "$(wc -l <"$WORK/orders.txt")"
check "each exactly once" values_exactly_once "$WORK/orders.txt" 10000
check_eq "in per-key order" 0 "$(out_of_order "$WORK/orders.txt")"
awk '{ print $2 }' "$WORK/orders.txt" | "$DRIVER" partition 6 >"$WORK/predicted.txt"
check_eq "each on the partition kafka_out_partition_for_key predicts" 0 \
	"$(paste -d ' ' "$WORK/orders.txt" "$WORK/predicted.txt" | awk '$1 != $4 { n++ } END { print n + 0 }')"
check_eq "over all 6 partitions" 6 "$(awk '{ print $1 }' "$WORK/orders.txt" | sort -u | wc -l)"

# --- the broker killed and restarted mid-stream ---
# The driver produces 5000 messages (acked), then 2500 at a slow pace while
# we SIGKILL the broker (some in flight, the rest queued), waits until it is
# back, produces 2500 more and flushes.
driver ensure "$B" outage 6 1
mkdir "$WORK/sig"
"$DRIVER" outage "$B" outage 10000 1000 "$WORK/sig" >"$WORK/out" 2>"$WORK/err" &
DRIVER_PID=$!
for _ in $(seq 300); do
	[ -e "$WORK/sig/half" ] || ! kill -0 "$DRIVER_PID" 2>/dev/null && break
	sleep 0.1
done
check "the driver reached the middle of the stream" test -e "$WORK/sig/half"
kill -KILL "$(cat "$WORK/k/kafka.pid")"
kafka_stop "$WORK/k"
sleep 2 # the driver goes on producing into its queue
# Not through check: the broker must be our child, for kafka_stop to reap.
if kafka_start_kraft "$WORK/k" "$PORT" "$CPORT" "${BROKER_PROPS[@]}"; then
	_pass "the broker restarts"
else
	_fail "the broker restarts"
fi
touch "$WORK/sig/back"
wait "$DRIVER_PID"
RC=$?
OUT=$(cat "$WORK/out") ERR=$(cat "$WORK/err")
check_eq "across the outage: all acked as delivered, once each" \
	"produced 10000 delivered 10000 failed 0 duplicate_acks 0 outstanding 0" "$(head -n 1 <<<"$OUT")"
PEAK=$(sed -n 's/^peak_outstanding //p' <<<"$OUT")
check "the outage held messages back (peak unacknowledged: ${PEAK:-?})" test "${PEAK:-0}" -ge 1000
check_eq "the driver exits 0 after the outage" 0 "$RC"
check_eq "'all brokers are down' is logged once" 1 "$(grep -c 'all brokers are down' <<<"$ERR")"
check_eq "and the recovery once" 1 "$(grep -c 'messages are delivered again' <<<"$ERR")"
read_topic outage >"$WORK/outage.txt"
check_eq "10000 messages read back" 10000 "$(wc -l <"$WORK/outage.txt")"
check "each exactly once: none lost, none duplicated (idempotence)" \
	values_exactly_once "$WORK/outage.txt" 10000
check_eq "in per-key order" 0 "$(out_of_order "$WORK/outage.txt")"
[ "$TESTS_FAILED" -gt 0 ] && printf '%s\n' "$ERR" | sed 's/^/    # driver: /'
finish
