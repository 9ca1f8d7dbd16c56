#!/usr/bin/env bash
# A secured single host from bare (in a systemd container): the seed
# topology with [kafka] security_protocol = sasl_ssl and a Kafka user per
# capture and apply.  bootstrap issues a CA and the broker's certificates,
# renders a broker whose clients' listener takes only SASL_SSL with
# SCRAM-SHA-512 and whose own listener (INTERNAL, loopback) takes only TLS
# with a client certificate, creates the SCRAM users and their ACLs, and
# rows replicate.  The broker refuses plaintext, a wrong password, and what
# the ACLs do not grant (capture's user reading, apply's user writing).  A
# second bootstrap changes nothing.  MODE=kraft|zookeeper runs one mode.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/container.sh"
. "$REPO_ROOT/tests/lib/seed.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v systemd-nspawn >/dev/null; then
	skip_or_fail "needs root and systemd-nspawn"
	finish
	exit
fi
seed_ports
seed_kafka_dist || { _fail "Kafka distribution built"; finish; exit; }
PIPE=db1-to-db2
WORK=$(mktemp -d /tmp/cdc-secured.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# kcat on the host as USER with PASSWORD over SASL_SSL, trusting the CA the
# agent issued (copied out of the container).
kcat_as() { # USER PASSWORD kcat-args...
	local user=$1 pw=$2
	shift 2
	timeout 20 kcat -b "127.0.0.1:$KP" -X security.protocol=SASL_SSL \
		-X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username="$user" \
		-X sasl.password="$pw" -X ssl.ca.location="$WORK/ca.pem" "$@"
}

run_mode() { # zookeeper|kraft
	local mode=$1 out rc before after units want got i cpw apw topic
	trap 'ct_shutdown; rm -rf "$WORK"' EXIT
	ct_boot "cdc-sec-$mode" || { _fail "$mode: container boots"; return; }
	seed_prepare || { _fail "$mode: seed database prepared"; ct_shutdown; return; }
	ct_exec sh -c "umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' >/etc/cdc-agent/capture.kafka.pass &&
		head -c 24 /dev/urandom | base64 | tr '+/' '-_' >/etc/cdc-agent/apply.kafka.pass"
	seed_install_agent "$CDC_AGENT" "s|^mode = .*|mode = $mode|" \
		's|^\[kafka\]$|[kafka]\nsecurity_protocol = sasl_ssl|' \
		"s|^target = db2$|target = db2\ncapture_kafka_user = capture-$PIPE\ncapture_kafka_password_file = /etc/cdc-agent/capture.kafka.pass\napply_kafka_user = apply-$PIPE\napply_kafka_password_file = /etc/cdc-agent/apply.kafka.pass|" ||
		{ _fail "$mode: agent installed"; ct_shutdown; return; }
	agent() { ct_exec env ASAN_OPTIONS="${ASAN_OPTIONS:-}" /usr/local/bin/cdc-agent -c /etc/cdc-agent/cdc-agent.ini "$@"; }
	seed_psql db1 "INSERT INTO public.my_table (id, name) SELECT g, 'before ' || g FROM generate_series(1, 100) g" >/dev/null

	out=$(agent check 2>&1)
	check_eq "$mode: check accepts the secured topology" 0 "$?"
	out=$(agent bootstrap 2>&1); rc=$?
	check_eq "$mode: bootstrap of a secured host from bare succeeds" 0 "$rc"
	[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 40
	check_contains "$mode: it issued the CA" "kafka-tls/ca.pem" "$out"
	check_contains "$mode: it created capture's SCRAM user" "capture-$PIPE" "$out"
	check_contains "$mode: and ACLs" "ACL" "$out"

	# Listeners: SASL_SSL for clients, TLS on loopback for the broker; no plaintext.
	out=$(ct_exec cat /etc/cdc-agent/server.properties)
	check_contains "$mode: clients' listener is SASL_SSL" "listeners=SASL_SSL://127.0.0.1:$KP,INTERNAL://127.0.0.1:$((KP + 2))" "$out"
	check "$mode: no listener is plaintext" bash -c "! grep -E '^(listeners|listener.security.protocol.map)=.*PLAINTEXT' <<<\"\$1\"" _ "$out"
	check_contains "$mode: an authorizer is on" "allow.everyone.if.no.acl.found=false" "$out"
	check_eq "$mode: the CA key is root's alone" "600 root root" "$(ct_exec stat -c '%a %U %G' /etc/cdc-agent/kafka-tls/ca.key)"
	check_eq "$mode: the broker's keystore is readable by kafka only" "640 root kafka" "$(ct_exec stat -c '%a %U %G' /etc/cdc-agent/kafka-tls/internal.pem)"
	ct_exec cat /etc/cdc-agent/kafka-tls/ca.pem >"$WORK/ca.pem"
	cpw=$(ct_exec cat /etc/cdc-agent/capture.kafka.pass)
	apw=$(ct_exec cat /etc/cdc-agent/apply.kafka.pass)

	units="kafka.service cdc-capture@$PIPE.service cdc-apply@$PIPE.service"
	[ "$mode" = zookeeper ] && units="zookeeper.service $units"
	seed_psql db1 "INSERT INTO public.my_table (id, name) SELECT g, 'after ' || g FROM generate_series(101, 200) g; UPDATE public.my_table SET name = 'changed' WHERE id <= 10; DELETE FROM public.my_table WHERE id > 190" >/dev/null
	want=$(seed_psql db1 "SELECT count(*) || md5(string_agg(id || name, ',' ORDER BY id)) FROM public.my_table")
	for i in $(seq 120); do
		got=$(seed_psql db2 "SELECT count(*) || md5(string_agg(id || name, ',' ORDER BY id)) FROM public.my_table" 2>/dev/null)
		[ "$got" = "$want" ] && break
		sleep 0.5
	done
	check_eq "$mode: rows replicate db1 -> db2 through the secured broker" "$want" "$got"

	# What the broker refuses.
	topic=db1server.public.my_table
	out=$(timeout 15 kcat -b "127.0.0.1:$KP" -L -m 5 2>&1)
	check "$mode: a plaintext client gets no metadata" bash -c "! grep -q 'topic \"$topic\"' <<<\"\$1\"" _ "$out"
	out=$(kcat_as "capture-$PIPE" wrong -L -m 10 2>&1)
	check_contains "$mode: a wrong password is refused" "uthentication" "$out"
	out=$(kcat_as "capture-$PIPE" "$cpw" -L -t "$topic" 2>&1)
	check_contains "$mode: capture's user sees its topic" "topic \"$topic\"" "$out"
	out=$(kcat_as "capture-$PIPE" "$cpw" -C -t "$topic" -o beginning -c 1 -e 2>&1)
	check_contains "$mode: capture's user may not read its topic (ACL)" "uthoriz" "$out"
	out=$(echo forged | kcat_as "apply-$PIPE" "$apw" -P -t "$topic" 2>&1)
	check_contains "$mode: apply's user may not write to it (ACL)" "uthoriz" "$out"
	out=$(kcat_as "apply-$PIPE" "$apw" -C -t "$topic" -o beginning -c 1 -e -G other-group "$topic" 2>&1)
	check_contains "$mode: apply's user may not join another group (ACL)" "uthoriz" "$out"
	check_eq "$mode: and the forged record never reached the target" "$want" \
		"$(seed_psql db2 "SELECT count(*) || md5(string_agg(id || name, ',' ORDER BY id)) FROM public.my_table")"

	out=$(agent status 2>&1)
	check_contains "$mode: status says the pipeline runs" "RUNNING" "$out"

	before=$(for u in $units; do seed_unit_started_at "$u"; done)
	out=$(agent bootstrap 2>&1); rc=$?
	check_eq "$mode: second bootstrap succeeds" 0 "$rc"
	check_contains "$mode: and changes nothing" "bootstrap: nothing to change" "$out"
	[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 20
	after=$(for u in $units; do seed_unit_started_at "$u"; done)
	check_eq "$mode: and restarts nothing (start timestamps unchanged)" "$before" "$after"
	ct_shutdown
	trap 'rm -rf "$WORK"' EXIT
}

run_mode "${MODE:-zookeeper}"
[ -z "${MODE:-}" ] && run_mode kraft
finish
