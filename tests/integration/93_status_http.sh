#!/usr/bin/env bash
# runs-under-sanitizer
# The status endpoints (agent/status/status_http.c) attacked, through
# tests/status_http_driver.c (the server of `cdc-agent run` with a canned
# document; no PostgreSQL, Kafka or systemd): a Host header that is not a
# loopback name or the listen address is refused (DNS rebinding from a
# browser), so is any method but GET/HEAD (the body unread) and an
# overlong URL; 40 slow connections (tests/lib/slowloris.py: a request head
# one byte a second) from another address, then from 40 addresses, do not
# keep a normal client from its answer, and are cut within the 2 s head
# deadline; from the client's own address they delay it only until the
# deadline; refusals make at most one log line per 10 s.  KEEP=1 keeps $WORK.
. "$(dirname "$0")/../lib/harness.sh"

KEEP=${KEEP:-0}
WORK=$(mktemp -d /tmp/cdc-status-http.XXXXXX)
DRV_PID=
ATTACK_PID=
cleanup() {
	[ -n "$ATTACK_PID" ] && kill "$ATTACK_PID" 2>/dev/null
	[ -n "$DRV_PID" ] && kill "$DRV_PID" 2>/dev/null && wait "$DRV_PID" 2>/dev/null
	if [ "$KEEP" = 1 ] || [ "$TESTS_FAILED" -gt 0 ]; then
		echo "# $TEST_NAME: logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

for tool in curl python3; do
	if ! command -v "$tool" >/dev/null; then
		skip_or_fail "$tool is not installed"
		finish
		exit
	fi
done
# The driver in the build of the agent under test.
DRIVER=$REPO_ROOT/build/tests/status_http_driver
case "$CDC_AGENT" in */asan/*) DRIVER=$DRIVER-asan ;; esac
if make -s -C "$REPO_ROOT" "${DRIVER#"$REPO_ROOT"/}" >"$WORK/build.log" 2>&1 && [ -x "$DRIVER" ]; then
	_pass "the test driver builds"
else
	_fail "the test driver builds" "$(cat "$WORK/build.log")"
	finish
	exit
fi

# A document of about 200 KB: a long answer still goes out whole.
python3 - "$WORK/doc.json" <<'EOF'
import json, sys
doc = {"schema_version": 1, "host": "test", "components": [], "orphan_slots": [],
       "pipelines": [{"name": "db1-to-db2", "source": "db1", "target": "db2",
                      "state": "RUNNING",
                      "connectors": {"source": "source-db1", "sink": "sink-db2"},
                      "capture": None, "apply": None, "slot": None}],
       "warnings": ["warning %d: %s" % (i, "x" * 80) for i in range(2000)]}
json.dump(doc, open(sys.argv[1], "w"))
EOF
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
t_start=$(date +%s)
"$DRIVER" "127.0.0.1:$PORT" "$WORK/doc.json" >"$WORK/driver.out" 2>"$WORK/driver.err" &
DRV_PID=$!
for _ in $(seq 50); do grep -q ready "$WORK/driver.out" 2>/dev/null && break; sleep 0.1; done
if ! grep -q ready "$WORK/driver.out"; then
	_fail "the driver serves" "$(cat "$WORK/driver.err")"
	finish
	exit
fi

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
same_doc() {
	curl -sS --max-time 5 "$URL/status" -o "$WORK/got.json" &&
		python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
			"$WORK/doc.json" "$WORK/got.json"
}
check "GET /status answers the whole published document (200 KB)" same_doc

# A raw request: prints the status code of the answer.  $1: the request head.
raw_code() {
	printf "$1" | python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
print(s.recv(100).split()[1].decode())' "$PORT"
}

# ---- Host: loopback names and the listen address; anything else is refused.
# The first refusal is logged at once: what the client sent goes to the log
# made printable.
check_eq "Host: with control characters is refused (421)" 421 \
	"$(raw_code 'GET /status HTTP/1.1\r\nHost: \033]0;evil\007\r\nConnection: close\r\n\r\n')"
check "... and logged without them" python3 -c \
	'import sys; t = open(sys.argv[1], "rb").read(); sys.exit(not (b"Host" in t and b"\033" not in t and b"\007" not in t))' \
	"$WORK/driver.err"
for host in localhost "localhost:$PORT" LocalHost 127.0.0.1 "127.0.0.1:$PORT" "127.1.2.3:$PORT" \
	"[::1]" "[::1]:$PORT"; do
	check_eq "Host: $host is accepted" 200 "$(code -H "Host: $host" "$URL/status")"
done
for host in evil.example "evil.example:$PORT" "localhost:1" "127.0.0.1:1$PORT" \
	localhost.evil.example 127.0.0.1.evil.example "127.0.0.1:$PORT@evil.example" \
	"127.0.0.1:" 2130706433 0x7f.1 127.1 "[::2]" "[::1" "localhost." "10.0.0.1:$PORT"; do
	check_eq "Host: $host is refused (421)" 421 "$(code -H "Host: $host" "$URL/status")"
done
body=$(curl -s --max-time 5 -H "Host: evil.example" "$URL/metrics")
check_contains "a refused Host gets a short body saying why" "not this endpoint" "$body"
check_not_contains "... and no status" "cdc_agent_up" "$body"
check_eq "an HTTP/1.1 request without Host is refused (400)" 400 "$(code -H 'Host:' "$URL/status")"
check_eq "an HTTP/1.0 request without Host is answered (no browser sends one)" 200 \
	"$(raw_code 'GET /status HTTP/1.0\r\n\r\n')"
check_eq "an empty Host is refused" 421 \
	"$(raw_code 'GET /status HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n')"

# ---- Methods: GET and HEAD only; a body is not read.
check_eq "HEAD /status is answered" 200 "$(code -I "$URL/status")"
for m in POST PUT DELETE PATCH OPTIONS TRACE; do
	check_eq "$m is refused (405)" 405 "$(code -X "$m" "$URL/status")"
done
check_contains "405 says which methods are allowed" "Allow: GET, HEAD" \
	"$(curl -s -D - -o /dev/null --max-time 5 -X DELETE "$URL/status" | tr -d '\r')"
# 64 MB through a pipe: curl gives up at once when the answer comes first.
t0=$(date +%s.%N)
c=$(head -c 67108864 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	-H 'Expect:' --data-binary @- "$URL/status")
t=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
check_eq "POST of 64 MB is refused (405)" 405 "$c"
check "... in under 3 s (the body is not read; took ${t} s)" python3 -c "import sys; sys.exit($t >= 3)"

# ---- URLs: bounded.
long=$(head -c 600 /dev/zero | tr '\0' a)
check_eq "a 600-byte path is refused (414)" 414 "$(code "$URL/$long")"
huge=$(head -c 40000 /dev/zero | tr '\0' a)
c=$(code "$URL/$huge")
check "a 40 KB path is refused (got $c)" test "$c" = 414 -o "$c" = 431
check_eq "the endpoint still answers" 200 "$(code "$URL/status")"

# ---- Slow clients.  $1: COUNT SECONDS SOURCES [--reconnect]; the report in $WORK/attack.
attack() {
	python3 "$REPO_ROOT/tests/lib/slowloris.py" "$PORT" "$@" >"$WORK/attack" 2>&1 &
	ATTACK_PID=$!
}
attack_done() { # not in $(): the job is this shell's child
	wait "$ATTACK_PID"
	ATTACK_PID=
}
max_age() { sed -n 's/.* max_age \([0-9.]*\).*/\1/p' "$WORK/attack"; }
timed_get() { # MAX_SECONDS: 200 within that time, or fails
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time "$1" "$URL/status" |
		tee -a "$WORK/timed" | grep -q '^200 '
}

# 40 slow connections from 127.0.0.2 (reconnecting when cut): the per-address
# limit keeps most out, the rest are cut at the head deadline.
attack 40 8 127.0.0.2 --reconnect
sleep 2
check "a normal client gets its answer within 2 s under attack from 127.0.0.2 (1)" timed_get 2
sleep 1.5
check "... (2)" timed_get 2
sleep 1.5
check "... (3)" timed_get 2
attack_done
out=$(cat "$WORK/attack")
check "the slow connections were cut within the head deadline (2 s, seen at 1 s ticks): $out" \
	python3 -c "import sys; sys.exit(not (0 < float('$(max_age)') <= 3.5))"

# 40 slow connections from 40 addresses: they fill the connection limit; a
# client waits in the listen backlog at most until they are cut.
srcs=$(seq -s, -f '127.0.1.%g' 1 40)
attack 40 8 "$srcs" --reconnect
sleep 2
check "a normal client gets its answer within 2 s under attack from 40 addresses (1)" timed_get 2
sleep 0.5
check "... (2)" timed_get 2
attack_done
out=$(cat "$WORK/attack")
check "the slow connections were cut within the head deadline: $out" \
	python3 -c "import sys; sys.exit(not (0 < float('$(max_age)') <= 3.5))"

# 40 slow connections from the client's own address, not reconnecting: the
# client is refused while they are held, and answered once they are cut.
attack 40 6 127.0.0.1
# The attacker needs a moment to open its 40 (on a loaded machine, more
# than 0.5 s once in CI): asked again for up to 2 s until refused.
for _ in $(seq 8); do
	sleep 0.25
	c=$(code "$URL/status")
	[ "$c" != 200 ] && break
done
check "a client sharing the attacker's address is refused while the per-address limit is full (got '$c')" \
	test "$c" != 200
t0=$(date +%s.%N)
ok=
for _ in $(seq 20); do
	[ "$(code --max-time 1 "$URL/status")" = 200 ] && ok=1 && break
	sleep 0.25
done
t=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
check "... and answered once they are cut, within 3 s (took ${t} s)" \
	python3 -c "import sys; sys.exit(not ('$ok' and $t <= 3))"
attack_done

# ---- The log: refusals summarised, at most one line per 10 s (+ the last at stop).
kill "$DRV_PID"
wait "$DRV_PID"
rc=$?
DRV_PID=
check_eq "the driver stops cleanly" 0 "$rc"
elapsed=$(($(date +%s) - t_start))
lines=$(grep -c 'refus' "$WORK/driver.err")
check "refusals made at most $((elapsed / 10 + 2)) log lines in ${elapsed} s (got $lines)" \
	test "$lines" -le $((elapsed / 10 + 2))
check_eq "every log line is the agent's own (none per connection from libmicrohttpd)" "" \
	"$(grep -Ev '^([0-9T:.Z-]+ )?cdc-agent: ' "$WORK/driver.err")"
check_contains "a summary counts the refusals by reason" "connections over the limits" \
	"$(cat "$WORK/driver.err")"
finish
