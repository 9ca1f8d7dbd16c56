#!/usr/bin/env bash
# runs-under-sanitizer
# The users and ACLs of a secured broker the agent runs (issue #16,
# kafka_access.c, through tests/kafka_access_driver): a ZooKeeper-mode
# broker with an authorizer (nothing allowed without an ACL), its clients'
# listener SASL_SSL (SCRAM-SHA-512), and an ADMIN listener (TLS, client
# certificates) whose super user is the agent's certificate (CN=cdc-agent).
#   - the first run generates the password files (0600), makes the users
#     (they log in afterwards) and the ACLs; a second run changes nothing;
#   - plan reports and does nothing; with the broker down, one line says
#     users and ACLs come once it runs;
#   - a topic_prefix changed moves the ACLs (old deleted, new created);
#   - capture and apply replicate table t under those ACLs (digest equal);
#   - capture as apply's user and apply as capture's are refused;
#   - a password ConfigCommand cannot carry is refused, naming the file
#     and the character class.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT
CAPTURE_PARTITIONS=2
DRIVER=$REPO_ROOT/build/tests/kafka_access_driver
case "$CDC_AGENT" in */asan/*) DRIVER=$DRIVER-asan ;; esac
[ -x "$DRIVER" ] || { _fail "$DRIVER is built (make integration-build)"; finish; exit; }

# CAPTURE_BROKER_START: kafka_start_zk_secured with the authorizer and a
# third listener, ADMIN on localhost:$AKP (the broker's certificate names
# localhost), for the agent; INTERNAL (plaintext, ANONYMOUS) stays a super
# user for the test's kcat.  No users: they are the module's to make.
access_broker() { # ZKPORT
	local tls=$WORK/tls
	IKP=$(free_port)
	AKP=$(free_port)
	kafka_tls_make "$tls" localhost &&
		kafka_start_zk_secured "$WORK/kafka" "$KP" "$IKP" "$1" "$tls" \
			zookeeper.session.timeout.ms=6000 \
			authorizer.class.name=kafka.security.authorizer.AclAuthorizer \
			allow.everyone.if.no.acl.found=false \
			"super.users=User:CN=cdc-agent;User:ANONYMOUS" \
			"listeners=INTERNAL://127.0.0.1:$IKP,SECURE://127.0.0.1:$KP,ADMIN://127.0.0.1:$AKP" \
			"advertised.listeners=INTERNAL://127.0.0.1:$IKP,SECURE://localhost:$KP,ADMIN://localhost:$AKP" \
			"listener.security.protocol.map=INTERNAL:PLAINTEXT,SECURE:SASL_SSL,ADMIN:SSL" \
			listener.name.admin.ssl.keystore.type=PEM \
			"listener.name.admin.ssl.keystore.location=$tls/broker-keystore.pem" \
			listener.name.admin.ssl.truststore.type=PEM \
			"listener.name.admin.ssl.truststore.location=$tls/ca.pem" \
			listener.name.admin.ssl.client.auth=required >/dev/null 2>&1
}

CAPTURE_BROKER_START=access_broker
CAPTURE_KAFKA_HOST=localhost
# The topology of a broker the agent installs and secures (dist, sasl_ssl:
# only there does bootstrap make users and password files), with the
# test's certificate for it (broker_cert_file, so ssl_ca_file may name
# the test's CA).  manage_units = false: nothing is installed.
CAPTURE_KAFKA_KEYS="dist = file:///nonexistent/kafka_2.13-3.9.2.tgz
sha512 = $(printf 'a%.0s' $(seq 128))
broker_cert_file = @WORK@/tls/broker.pem
broker_key_file = @WORK@/tls/broker.key
security_protocol = sasl_ssl
sasl_mechanism = scram-sha-512
ssl_ca_file = @WORK@/tls/ca.pem
ssl_cert_file = @WORK@/tls/client.pem
ssl_key_file = @WORK@/tls/client.key
"
up() {
	pg_cluster_create tgt || return 1
	capture_env_up "
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 300) g;
" < <(
		topology_source db1 my_publication my_slot db1server public.t
		topology_target db2 PORT="$PG_PORT_tgt" SOCK="$PG_SOCK_tgt"
		topology_pipeline p1 db1 db2 \
			"capture_kafka_user = capture-p1" \
			"capture_kafka_password_file = @WORK@/pass/capture-kafka.pass" \
			"apply_kafka_user = apply-p1" \
			"apply_kafka_password_file = @WORK@/pass/apply-kafka.pass"
	)
}
up || { _fail "environment comes up"; [ -n "${WORK:-}" ] && tail -n 20 "$WORK/bootstrap.log" "$WORK/kafka/kafka.log" 2>/dev/null | sed 's/^/    # /'; finish; exit; }
mkdir -p -m 700 "$WORK/pass" "$WORK/access"

# The module through the driver: MODE (plan, apply) on TOPOLOGY; output
# (the change list, then errors) in $OUT, exit code in $RC.
access() { # MODE [TOPOLOGY]
	OUT=$("$DRIVER" "$1" "${2:-$T}" "localhost:$AKP" "$WORK/tls/ca.pem" "$WORK/tls/client.pem" \
		"$WORK/tls/client.key" "$(command -v java)" "$WORK/kafka" "$WORK/access" 2>&1)
	RC=$?
}

# Whether USER logs in on the clients' listener with PASSWORD_FILE's password.
logs_in() { # USER PASSWORD_FILE
	timeout 20 kcat -b "localhost:$KP" -X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 \
		-X "sasl.username=$1" -X "sasl.password=$(head -n 1 "$2")" \
		-X "ssl.ca.location=$WORK/tls/ca.pem" -X "ssl.certificate.location=$WORK/tls/client.pem" \
		-X "ssl.key.location=$WORK/tls/client.key" -L -m 10 2>&1 | grep -q "^ 1 brokers:"
}

acl_lines() { grep -c "ACL" <<<"$OUT"; }

access plan
check_eq "plan, broker up, nothing made: exit 0" 0 "$RC"
check_contains "plan says the passwords would be generated" \
	"kafka: generate the password of capture of pipeline p1 (user capture-p1) in $WORK/pass/capture-kafka.pass" "$OUT"
check_contains "plan says the ACLs would be created" \
	"kafka: create ACL User:apply-p1 ALLOW READ on GROUP LITERAL 'cdc-agent.p1' from *" "$OUT"
check_eq "plan wrote no password file" "" "$(ls "$WORK/pass")"

access apply
check_eq "first run succeeds" 0 "$RC"
check_eq "first run: 2 passwords, 2 users, 8 ACLs (12 changes)" "12 changes" "$(tail -n 1 <<<"$OUT")"
check_contains "capture's ACLs: Write on its prefix" \
	"kafka: create ACL User:capture-p1 ALLOW WRITE on TOPIC PREFIXED 'db1server.' from *" "$OUT"
check_contains "a user made is said so" \
	"kafka: set the SCRAM-SHA-512 credentials of user apply-p1 (apply of pipeline p1) from $WORK/pass/apply-kafka.pass" "$OUT"
check_eq "password files: mode 600, owner root, one line of 43 base64url characters" \
	"600 root 1 1" \
	"$(stat -c '%a %U' "$WORK/pass/capture-kafka.pass") $(wc -l <"$WORK/pass/capture-kafka.pass") $(grep -cxE '[A-Za-z0-9_-]{43}' "$WORK/pass/apply-kafka.pass")"
check "capture-p1 logs in with its generated password" logs_in capture-p1 "$WORK/pass/capture-kafka.pass"
check "apply-p1 logs in with its generated password" logs_in apply-p1 "$WORK/pass/apply-kafka.pass"
check_eq "the work directory is left empty" "" "$(ls -A "$WORK/access")"
check_not_contains "no password in the driver's output" "$(cat "$WORK/pass/capture-kafka.pass")" "$OUT"

access apply
check_eq "second run changes nothing" "0 0 changes" "$RC $(tail -n 1 <<<"$OUT")"
access plan
check_eq "plan after it: nothing to do" "0 0 changes" "$RC $(tail -n 1 <<<"$OUT")"

# A user whose password changed is set again.
cp -p "$WORK/pass/apply-kafka.pass" "$WORK/apply-kafka.saved"
(umask 077 && echo 'a new\password, with=signs ' >"$WORK/pass/apply-kafka.pass")
access apply
check_eq "a changed password: the user is set again (1 change)" "0 1 changes" "$RC $(tail -n 1 <<<"$OUT")"
check "apply-p1 logs in with the changed password" logs_in apply-p1 "$WORK/pass/apply-kafka.pass"
cp -p "$WORK/apply-kafka.saved" "$WORK/pass/apply-kafka.pass"
access apply
check_eq "and back" "0 1 changes" "$RC $(tail -n 1 <<<"$OUT")"

# topic_prefix changed: the ACLs move.
sed 's/^topic_prefix = db1server/topic_prefix = moved/' "$T" >"$WORK/moved.ini"
access apply "$WORK/moved.ini"
check_eq "prefix changed: 7 ACLs deleted, 7 created" "0 7 7" \
	"$RC $(grep -c "delete ACL .*PREFIXED 'db1server.'" <<<"$OUT") $(grep -c "create ACL .*PREFIXED 'moved.'" <<<"$OUT")"
check_eq "the group's ACL stays" "" "$(grep GROUP <<<"$OUT")"
access apply "$WORK/moved.ini"
check_eq "moved: a second run changes nothing" "0 0 changes" "$RC $(tail -n 1 <<<"$OUT")"
access apply
check_eq "moved back" "0 14" "$RC $(acl_lines)"

# Replication under these ACLs.
converged() { wait_converged "$1" t tgt:db2; } # SECONDS
capture_start p1
apply_start p1
check "capture and apply under their ACLs: t equal in the target" converged 90
pg_psql src db1 "INSERT INTO t SELECT g, 'new ' || g FROM generate_series(301, 400) g" >/dev/null
check "changes too" converged 60
pipeline_stop p1

# Each role with the other's credentials: the broker refuses what it does.
# Runs ROLE of p1 with topology FILE for up to SECONDS; prints the exit
# code (or "running") and the log's error lines.
run_as() { # ROLE FILE SECONDS
	local log=$WORK/as-$1.log pid i rc=running
	"$CDC_AGENT" -c "$2" "$1" p1 >"$log" 2>&1 &
	pid=$!
	for ((i = 0; i < $3 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		grep -qi "authoriz" "$log" && break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null; else wait "$pid"; rc=$?; fi
	echo "exit: $rc"
	grep -iE "error|fail|refus|authoriz" "$log" | head -n 5
}
sed -e "s|^capture_kafka_user = .*|capture_kafka_user = apply-p1|" \
	-e "s|^capture_kafka_password_file = .*|capture_kafka_password_file = $WORK/pass/apply-kafka.pass|" \
	"$T" >"$WORK/swapped-capture.ini"
sed -e "s|^apply_kafka_user = .*|apply_kafka_user = capture-p1|" \
	-e "s|^apply_kafka_password_file = .*|apply_kafka_password_file = $WORK/pass/capture-kafka.pass|" \
	"$T" >"$WORK/swapped-apply.ini"
pg_psql src db1 "INSERT INTO t SELECT g, 'refused ' || g FROM generate_series(401, 410) g" >/dev/null
out=$(run_as capture "$WORK/swapped-capture.ini" 40)
check_contains "capture as apply's user: refused by the broker's authorizer" "uthoriz" "$out"
out=$(run_as apply "$WORK/swapped-apply.ini" 40)
check_contains "apply as capture's user: refused by the broker's authorizer" "uthoriz" "$out"

# A password ConfigCommand cannot carry.
(umask 077 && printf 'p\xc3\xa4ssword\n' >"$WORK/pass/bad.pass")
sed "s|^apply_kafka_password_file = .*|apply_kafka_password_file = $WORK/pass/bad.pass|" "$T" >"$WORK/bad.ini"
access plan "$WORK/bad.ini"
check_contains "a non-ASCII password is refused, naming the file and the class" \
	"password file $WORK/pass/bad.pass (apply of pipeline p1): the password holds non-ASCII bytes" "$OUT"
check_eq "... with exit 1" 1 "$RC"

# The broker down: plan says the users and ACLs come once it runs.
kafka_stop "$WORK/kafka" >/dev/null 2>&1
access plan
check_eq "plan, broker down: one line, exit 0" \
	"0 kafka: the SCRAM users and ACLs of capture and apply will be converged once the broker runs|1 changes" \
	"$RC $(paste -sd'|' <<<"$OUT")"

finish
