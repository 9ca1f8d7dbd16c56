#!/usr/bin/env bash
# Smoke test of the Kafka test harness: for ZooKeeper mode and KRaft mode,
# start a single broker from our Maven-built distribution, produce 3 messages
# with kcat to a new topic, consume them back, stop everything.
# Prints the duration of each step; exit 0 on success, 1 with a message otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/harness.sh
. "$ROOT/tests/lib/harness.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/kafka.sh
. "$ROOT/tests/lib/kafka.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafka-smoke.XXXXXX")
KEEP=${KEEP:-0}   # KEEP=1 leaves $WORK (logs) behind for debugging

# Always stop what we started, even on failure or Ctrl-C.
cleanup() {
    local rc=$?
    kafka_stop "$WORK/zk" || true
    zk_stop "$WORK/zk" || true
    kafka_stop "$WORK/kraft" || true
    if [[ $rc -ne 0 || $KEEP == 1 ]]; then
        echo "kafka_smoke: logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

fail() { echo "kafka_smoke: FAIL: $*" >&2; _fail "$*"; finish; exit 1; }

# step NAME CMD...: run CMD in this shell (so background servers stay ours), time it.
step() {
    local name=$1 t0; shift
    t0=${EPOCHREALTIME/,/.}
    "$@" || fail "$name"
    _pass "$name"
    printf 'kafka_smoke: %-34s %6.1fs\n' "$name" \
        "$(awk -v a="$t0" -v b="${EPOCHREALTIME/,/.}" 'BEGIN{print b-a}')"
}

# Two distinct free ports (free_port may hand out the same one twice).
two_ports() {
    local a b
    a=$(free_port)
    b=$(free_port)
    while [[ $b == "$a" ]]; do b=$(free_port); done
    echo "$a $b"
}

build_dist() { DIST=$("$ROOT/scripts/kafka-dist.sh"); [[ -f $DIST ]]; }

# Produce 3 keyed messages to a new topic, read them back, compare.
roundtrip() { # port topic
    local port=$1 topic=$2 want got
    want=$'k1:m1\nk2:m2\nk3:m3'
    printf '%s\n' "$want" | timeout 30 kcat -b "127.0.0.1:$port" -P -t "$topic" -K : \
        || { echo "produce to $topic failed" >&2; return 1; }
    got=$(timeout 30 kcat -b "127.0.0.1:$port" -C -t "$topic" -o beginning -c 3 -e -q \
          -f '%k:%s\n') || { echo "consume from $topic failed" >&2; return 1; }
    [[ $got == "$want" ]] || { printf 'expected:\n%s\ngot:\n%s\n' "$want" "$got" >&2; return 1; }
}

step "build/cached dist" build_dist
echo "kafka_smoke: dist $DIST"

# --- ZooKeeper mode ---
read -r ZKPORT KPORT <<<"$(two_ports)"
step "zk: unpack" kafka_unpack "$DIST" "$WORK/zk"
step "zk: start zookeeper :$ZKPORT" zk_start "$WORK/zk" "$ZKPORT"
step "zk: start broker :$KPORT" kafka_start_zk "$WORK/zk" "$KPORT" "$ZKPORT"
step "zk: produce+consume 3 msgs" roundtrip "$KPORT" "smoke-zk-$$"
step "zk: stop broker" kafka_stop "$WORK/zk"
step "zk: stop zookeeper" zk_stop "$WORK/zk"

# --- KRaft mode ---
read -r KPORT CPORT <<<"$(two_ports)"
step "kraft: unpack" kafka_unpack "$DIST" "$WORK/kraft"
step "kraft: format+start broker :$KPORT" kafka_start_kraft "$WORK/kraft" "$KPORT" "$CPORT"
step "kraft: produce+consume 3 msgs" roundtrip "$KPORT" "smoke-kraft-$$"
step "kraft: stop broker" kafka_stop "$WORK/kraft"

finish
