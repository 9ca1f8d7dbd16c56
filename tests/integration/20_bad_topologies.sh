#!/usr/bin/env bash
# runs-under-sanitizer
# Every file in tests/topologies/bad/ starts with "; expect: LINE: MESSAGE".
# `check` must print exactly that error at FILE:LINE and exit 3, and `plan`
# must refuse the file without opening a connection to any server: the
# files point at a TCP listener that counts the connections it receives.
. "$(dirname "$0")/../lib/harness.sh"

WORK=$(mktemp -d /tmp/cdc-bad.XXXXXX)
LISTENER_PID=
trap '[ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

(umask 077 && echo secret >"$WORK/db1.pass" && echo secret >"$WORK/db2.pass")
echo secret >"$WORK/open.pass" && chmod 644 "$WORK/open.pass"

python3 - "$WORK" <<'PY' &
import socket, sys, os
work = sys.argv[1]
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(os.path.join(work, "port.tmp"), "w").write(str(s.getsockname()[1]))
os.rename(os.path.join(work, "port.tmp"), os.path.join(work, "port"))
n = 0
while True:
    c, _ = s.accept(); n += 1; c.close()
    open(os.path.join(work, "connections"), "w").write(str(n))
PY
LISTENER_PID=$!
for _ in $(seq 50); do [ -f "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")

count=0
for src in "$REPO_ROOT"/tests/topologies/bad/*.ini; do
	name=$(basename "$src")
	f="$WORK/$name"
	sed -e "s|@DIR@|$WORK|g" -e "s|@PORT@|$PORT|g" "$src" >"$f"
	expect=$(sed -n '1s/^; expect: //p' "$f")
	line=${expect%%: *} msg=${expect#*: }
	if [ "$line" = 0 ]; then want="$f: error: $msg"; else want="$f:$line: error: $msg"; fi

	agent_run -c "$f" check
	check_eq "$name: check exits 3" 3 "$AGENT_RC"
	check_contains "$name: error at FILE:LINE" "$want" "$AGENT_ERR"
	agent_run -c "$f" plan
	check_eq "$name: plan refuses it (exit 3)" 3 "$AGENT_RC"
	count=$((count + 1))
done
check "at least twenty bad files were tried ($count)" test "$count" -ge 20
check_eq "no server was contacted" "" "$(cat "$WORK/connections" 2>/dev/null)"

# The same listener does see the agent when the file is valid, so the
# check above can fail.
good="$WORK/good.ini"
sed -e '/^; expect/d' -e "s|@DIR@|$WORK|g" -e "s|@PORT@|$PORT|g" \
	"$REPO_ROOT/tests/topologies/bad/13-pipeline-unknown-source.ini" | sed 's/^source = db3/source = db1/' >"$good"
agent_run -c "$good" check
check_eq "the corrected file passes check" 0 "$AGENT_RC"
agent_run -c "$good" plan
check_eq "plan on it fails to talk to the fake server" 1 "$AGENT_RC"
check "and the listener saw a connection" test -s "$WORK/connections"

# teardown: without --yes it only says what it would do (exit 2), touching
# no server and no unit; with --yes a failure is a failure (exit 1), not 2.
# manage_units = false: the host's systemd is never asked.
torn="$WORK/teardown.ini"
{ printf '[agent]\nmanage_units = false\n\n'; cat "$good"; } >"$torn"
rm -f "$WORK/connections"
agent_run -c "$torn" teardown p1
check_eq "teardown without --yes exits 2" 2 "$AGENT_RC"
check_contains "and says to add --yes" "run again with --yes" "$AGENT_OUT"
check_eq "and contacts no server" "" "$(cat "$WORK/connections" 2>/dev/null)"
agent_run -c "$torn" teardown p1 --yes
check_eq "teardown --yes that cannot drop the slot exits 1" 1 "$AGENT_RC"
check "and it did try the source" test -s "$WORK/connections"
agent_run -c "$torn" teardown p9
check_eq "teardown of an unknown pipeline exits 3" 3 "$AGENT_RC"

# All errors of a file at once, not only the first.
cat >"$WORK/many.ini" <<INI
[source db1]
hots = x
port = 0
[target]
[pipline p]
INI
agent_run -c "$WORK/many.ini" check
check_contains "several errors: unknown key" "many.ini:2: error: unknown key 'hots'" "$AGENT_ERR"
check_contains "several errors: bad port" "many.ini:3: error: port: 0 is out of range" "$AGENT_ERR"
check_contains "several errors: unnamed section" "many.ini:4: error: section [target] needs a name" "$AGENT_ERR"
check_contains "several errors: misspelt section" "many.ini:5: error: unknown section [pipline p] (did you mean 'pipeline'?)" "$AGENT_ERR"
check_contains "several errors: missing keys" "many.ini:1: error: [source db1] lacks the required key 'host'" "$AGENT_ERR"

# Warnings of a valid file (check still exits 0), each at its key's
# FILE:LINE: a certificate near expiry (the second of a CA file), a file
# with no certificate, a broker and a server reached unencrypted off
# loopback.  status lists the certificates among its warnings.
openssl_cert() { # NAME DAYS
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1.test" \
		-days "$2" -keyout "$WORK/$1.key" -out "$WORK/$1.pem" 2>/dev/null
}
openssl_cert far 400 && openssl_cert near 10 || _fail "certificates made with openssl"
cat "$WORK/far.pem" "$WORK/near.pem" >"$WORK/ca.pem"
echo "no certificate" >"$WORK/garbage.pem"
warn="$WORK/warn.ini"
cat >"$warn" <<INI
[agent]
manage_units = false
state_dir = $WORK/state

[kafka]
bootstrap_servers = 127.0.0.1:$PORT, broker1.example:9092

[source db1]
host = 127.0.0.1
port = $PORT
dbname = db1
user = cdc_user
password_file = $WORK/db1.pass
publication = my_publication
slot = my_slot
tables = public.my_table
sslrootcert = $WORK/ca.pem

[target db2]
host = 192.0.2.7
port = $PORT
dbname = db2
user = db2_user
password_file = $WORK/db2.pass
sslrootcert = $WORK/garbage.pem

[pipeline p1]
source = db1
target = db2
INI
agent_run -c "$warn" check
check_eq "warnings leave check's exit code 0" 0 "$AGENT_RC"
check_contains "a certificate near expiry, at its key" \
	"warn.ini:17: warning: [source db1] sslrootcert $WORK/ca.pem: certificate CN=near.test expires in 10 days" "$AGENT_ERR"
check_contains "a certificate file with none, at its key" \
	"warn.ini:25: warning: [target db2] sslrootcert $WORK/garbage.pem: unreadable: no PEM certificate in it" "$AGENT_ERR"
check_contains "a plaintext broker off loopback, at bootstrap_servers" \
	"warn.ini:6: warning: [kafka] bootstrap_servers: broker broker1.example:9092 is not on loopback and security_protocol is plaintext" "$AGENT_ERR"
check_not_contains "but not the loopback broker" "broker 127.0.0.1" "$AGENT_ERR"
check_contains "a server off loopback without TLS required, at host" \
	"warn.ini:20: warning: [target db2] host 192.0.2.7 is not on loopback and sslmode is prefer" "$AGENT_ERR"
check_not_contains "the far certificate is no warning" "far.test" "$AGENT_ERR"
# status asks the fake listener (refused at once); its warnings name the
# certificates, an unreadable file as an error.
sed -i -e 's/192.0.2.7/127.0.0.1/' -e 's/, broker1.example:9092//' "$warn"
agent_run -c "$warn" status --json
check_contains "status warns of the certificate near expiry" \
	"\"[source db1] sslrootcert $WORK/ca.pem: certificate CN=near.test expires in 10 days\"" "$AGENT_OUT"
check_contains "and of the unreadable file, as an error" \
	"\"error: [target db2] sslrootcert $WORK/garbage.pem: unreadable: no PEM certificate in it\"" "$AGENT_OUT"

agent_run -c "$WORK/absent.ini" check
check_eq "a missing topology file exits 3" 3 "$AGENT_RC"
check_contains "and names the file" "absent.ini: error: cannot open topology: No such file or directory" "$AGENT_ERR"

agent_run -c "$REPO_ROOT/cdc-agent.ini" frobnicate
check_eq "an unknown verb exits 64" 64 "$AGENT_RC"
finish
