#!/usr/bin/env bash
# runs-under-sanitizer
# Capture and apply through a Kafka that takes only SASL_SSL (issue #16,
# point 1): the clients' listener wants TLS with a client certificate
# (mutual TLS) and SCRAM-SHA-512; the broker's certificate names localhost
# only; capture and apply of pipeline p1 are users of their own, each with
# a password file.  Source and target are clusters of their own that take
# TCP only over TLS: pg_hba.conf has no TCP line but bootstrap's hostssl
# ... scram-sha-256 lines, and [source]/[target] connect to localhost with
# sslmode = verify-full and the test CA (tests/lib/pg.sh, PG_TLS_CA).
#   - the snapshot and a load reach the target (row digest equal), and no
#     password is in a log;
#   - while capture and apply run, the servers see their connections
#     (capture's query and replication connections, apply's) as TLS
#     (pg_stat_ssl), and a plain connection (sslmode=disable) of either
#     user, with its right password, is refused ("no encryption");
#   - refused, each with an error naming the cause: a client without
#     credentials (security_protocol plaintext), a wrong password, a CA
#     that did not sign the broker's certificate, and the broker reached by
#     an address its certificate does not name (127.0.0.1); status's probe
#     names the cause too;
#   - the broker enforces ACLs, each user allowed its own half only:
#     capture run as apply's user and apply as capture's stop at once,
#     failed (exit 1, progress kind kafka_authorization), naming the user,
#     the topic or group, that an ACL refused it and what to grant;
#   - after the refusals, the pipeline goes on: nothing lost.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT
CAPTURE_PARTITIONS=2

secured_env_up --pg-tls || { _fail "environment comes up"; [ -n "${WORK:-}" ] && tail -n 20 "$WORK/bootstrap.log" "$WORK/kafka/kafka.log" 2>/dev/null | sed 's/^/    # /'; finish; exit; }

converged() { wait_converged "$1" t tgt:db2; } # SECONDS

capture_start p1
apply_start p1
check "snapshot through SASL_SSL: t equal in the target" converged 90
pg_psql src db1 "
INSERT INTO t SELECT g, 'new ' || g FROM generate_series(301, 500) g;
UPDATE t SET v = v || ' (updated)' WHERE id % 7 = 0;
DELETE FROM t WHERE id % 11 = 0;
" >/dev/null
check "changes through SASL_SSL: t equal in the target" converged 60

# PostgreSQL over TLS only: the sole TCP lines are bootstrap's hostssl
# lines (pg.sh writes none with PG_TLS_CA), and the servers see capture's
# and apply's connections, made while they run, as TLS.
tcp_hba_lines() { # CLUSTER
	grep -v '^#' "$(_pg_var "$1" DIR)/data/pg_hba.conf" | grep -v '^local' | grep -v '^$'
}
check_eq "source: TCP only through the agent's hostssl scram-sha-256 lines" \
	"$(printf 'hostssl\tdb1\tcdc_user\t%s\tscram-sha-256\n' 127.0.0.1/32 ::1/128)" "$(tcp_hba_lines src)"
check_eq "target: TCP only through the agent's hostssl scram-sha-256 lines" \
	"$(printf 'hostssl\tdb2\tdb2_user\t%s\tscram-sha-256\n' 127.0.0.1/32 ::1/128)" "$(tcp_hba_lines tgt)"
ssl_sessions() { # CLUSTER ROLE: the role's connections, and how many use TLS
	pg_psql "$1" postgres "SELECT count(*) || ' ' || count(*) FILTER (WHERE s.ssl)
		FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = '$2'"
}
check_eq "capture's query and replication connections use TLS" "2 2" "$(ssl_sessions src cdc_user)"
check_eq "capture's walsender (pg_stat_replication) uses TLS" "1 1" \
	"$(pg_psql src postgres "SELECT count(*) || ' ' || count(*) FILTER (WHERE s.ssl)
		FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.usename = 'cdc_user'")"
# apply's connection, and under consistency = transaction a second one that
# adds enum labels while the first holds the open transaction
check_eq "apply's connections all use TLS" yes \
	"$(ssl_sessions tgt db2_user | awk '{ print ($1 >= 1 && $1 == $2) ? "yes" : $0 }')"

# A plain connection of the same user, with its right password, is refused;
# the same with verify-full gets in (so the password is not the cause).
(umask 077 && printf 'localhost:*:*:cdc_user:cdc pw\nlocalhost:*:*:db2_user:db2 pw\n' >"$WORK/pgpass")
login() { # CLUSTER DB ROLE SSLMODE [CONNINFO...]: psql over TCP, prints its answer
	"$PG_BIN/psql" -X -A -t -c "SELECT 'in'" "host=localhost port=$(_pg_var "$1" PORT) dbname=$2 user=$3 \
sslmode=$4 sslrootcert=$SECURED_PG_CA/ca.crt passfile=$WORK/pgpass ${*:5}" 2>&1
}
no_hba="no pg_hba.conf entry for host \"127.0.0.1\", user"
check_eq "capture's user over TLS (verify-full) gets in" in "$(login src db1 cdc_user verify-full)"
check_contains "capture's user with sslmode=disable is refused (no encryption)" \
	"$no_hba \"cdc_user\", database \"db1\", no encryption" "$(login src db1 cdc_user disable)"
check_contains "... its replication connection too" \
	"$no_hba \"cdc_user\", database \"db1\", no encryption" \
	"$(login src db1 cdc_user disable replication=database)"
check_eq "apply's user over TLS (verify-full) gets in" in "$(login tgt db2 db2_user verify-full)"
check_contains "apply's user with sslmode=disable is refused (no encryption)" \
	"$no_hba \"db2_user\", database \"db2\", no encryption" "$(login tgt db2 db2_user disable)"

# status probes the brokers as the first pipeline's capture user.
check_eq "status reaches the SASL_SSL broker (healthy, no error)" "True None" \
	"$("$CDC_AGENT" -c "$T" status --json 2>/dev/null | python3 -c 'import json, sys
c = [c for c in json.load(sys.stdin)["components"] if c["name"] == "kafka"][0]
print(c["healthy"], c["error"])')"
pipeline_stop p1
check_not_contains "no password in capture's or apply's log" "s3cret" \
	"$(cat "$WORK/capture-p1.log" "$WORK/apply-p1.log" "$WORK/bootstrap.log")"
check_eq "the agent's command lines hold no password" "" \
	"$(grep -l 's3[c]ret' /proc/[0-9]*/cmdline 2>/dev/null)"

# A variant of the topology: every line matching SED's address changed.
variant() { # NAME SED-SCRIPT
	sed "$2" "$T" >"$WORK/$1.ini"
}

# Runs ROLE (capture or apply) of p1 with topology FILE until its log holds
# TEXT or SECONDS pass, then stops it; prints the log's error lines.
refused() { # ROLE FILE SECONDS TEXT
	local log=$WORK/refused-$1-$(basename "$2" .ini).log pid i
	: >"$log"
	"$CDC_AGENT" -c "$2" "$1" p1 >"$log" 2>&1 &
	pid=$!
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qF -- "$4" "$log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	grep -iE "error|fail|refus" "$log" | head -n 5
}

variant no-credentials 's/^security_protocol = .*/security_protocol = plaintext/; /^ssl_\|^sasl_\|_kafka_/d'
check_contains "a client without credentials (plaintext) is refused, naming the protocol" \
	"incorrect security.protocol configuration" \
	"$(refused capture "$WORK/no-credentials.ini" 45 "security.protocol")"

variant wrong-password "s|^apply_kafka_password_file = .*|apply_kafka_password_file = $WORK/wrong-kafka.pass|"
check_contains "a wrong password is refused by SASL" \
	"Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512" \
	"$(refused apply "$WORK/wrong-password.ini" 30 "invalid credentials")"

variant other-ca "s|^ssl_ca_file = .*|ssl_ca_file = $WORK/tls/other-ca.pem|"
# The broker sends its CA with its certificate: OpenSSL finds a
# self-signed one that ssl_ca_file does not hold.
check_contains "a broker certificate from an untrusted CA is refused, saying so" \
	"self-signed certificate in certificate chain (is [kafka] ssl_ca_file the CA that signed the brokers' certificates?)" \
	"$(refused capture "$WORK/other-ca.ini" 30 "ssl_ca_file the CA")"

variant by-address "s|^bootstrap_servers = localhost:|bootstrap_servers = 127.0.0.1:|"
check_contains "a broker reached by a name its certificate lacks is refused, saying so" \
	"certificate of the broker (depth 0): IP address mismatch (bootstrap_servers must name the broker as its certificate does)" \
	"$(refused capture "$WORK/by-address.ini" 30 "address mismatch")"

# status's probe says why the brokers refused it (as the first pipeline's
# capture user), not only that no answer came.
status_kafka_error() { # TOPOLOGY
	"$CDC_AGENT" -c "$1" status --json 2>/dev/null | python3 -c 'import json, sys
print([c for c in json.load(sys.stdin)["components"] if c["name"] == "kafka"][0]["error"])'
}
variant wrong-capture-password "s|^capture_kafka_password_file = .*|capture_kafka_password_file = $WORK/wrong-kafka.pass|"
check_contains "status names a wrong password as the cause" \
	"the brokers' last failure: sasl_ssl://localhost:$KP/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512" \
	"$(status_kafka_error "$WORK/wrong-capture-password.ini")"
check_contains "status names a certificate of another name as the cause" \
	"the brokers' last failure: sasl_ssl://127.0.0.1:$KP/bootstrap: Certificate (subject=/CN=localhost, issuer=/CN=cdc-test-ca) verification callback failed: broker 127.0.0.1:$KP: certificate of the broker (depth 0): IP address mismatch (bootstrap_servers must name the broker as its certificate does)" \
	"$(status_kafka_error "$WORK/by-address.ini")"

# The brokers enforce ACLs (capture_env.sh secured_user): each user may do
# its own half only.  Refused by an ACL, capture and apply stop at once,
# failed (exit 1, no retry), saying whose request on which topic or group
# was refused and what to grant.
# Runs ROLE of p1 with topology FILE until it exits (SECONDS at most);
# prints its exit code, its error lines and the error kind of its
# progress file.
acl_refused() { # ROLE FILE SECONDS
	local log=$WORK/acl-$1.log pid i rc running=
	"$CDC_AGENT" -c "$2" "$1" p1 >"$log" 2>&1 &
	pid=$!
	for ((i = 0; i < $3 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && { running=1; kill "$pid"; }
	wait "$pid"
	rc=$?
	[ -n "$running" ] && rc="none: still running after $3 s"
	echo "exit $rc"
	grep -E "error" "$log" | head -n 5
	python3 -c 'import json, sys
print("kind", (json.load(open(sys.argv[1])).get("error") or {}).get("kind"))' \
		"$WORK/state/progress-$1-p1.json"
}
variant capture-as-apply "s|^capture_kafka_user = .*|capture_kafka_user = apply-p1|; s|^capture_kafka_password_file = .*|capture_kafka_password_file = $WORK/apply-kafka.pass|"
out=$(acl_refused capture "$WORK/capture-as-apply.ini" 60)
check_contains "capture as apply's user stops, failed (exit 1)" "exit 1" "$out"
check_contains "capture names the user, the topic and the ACL" \
	"capture p1: kafka localhost:$KP: the brokers refused user apply-p1 creating topic db1server.public.t: not authorized by an ACL (" \
	"$out"
check_contains "capture says what to grant" "; grant the user Create on the topic (or on the cluster)" "$out"
check_contains "capture's progress: kind kafka_authorization (status: FAILED)" \
	"kind kafka_authorization" "$out"

variant apply-as-capture "s|^apply_kafka_user = .*|apply_kafka_user = capture-p1|; s|^apply_kafka_password_file = .*|apply_kafka_password_file = $WORK/capture-kafka.pass|"
out=$(acl_refused apply "$WORK/apply-as-capture.ini" 60)
check_contains "apply as capture's user stops, failed (exit 1)" "exit 1" "$out"
check_contains "apply names the user, the group and the ACL, and what to grant" \
	"apply p1: the brokers refused user capture-p1 using consumer group cdc-agent.p1: not authorized by an ACL (FindCoordinator response error: Group authorization failed); grant the user Read on the group; stopping" \
	"$out"
check_contains "apply's progress: kind kafka_authorization" "kind kafka_authorization" "$out"

# The refused clients changed nothing: the pipeline goes on.
pg_psql src db1 "INSERT INTO t SELECT g, 'after ' || g FROM generate_series(501, 600) g" >/dev/null
capture_start p1
apply_start p1
check "after the refusals: t equal in the target" converged 90
pipeline_stop p1

finish
