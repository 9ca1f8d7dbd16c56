#!/usr/bin/env bash
# `bootstrap` against a Kafka the agent does not run (issue #16, "Done
# when"), on a host that has only PostgreSQL (a systemd container set up as
# 90's): the test runs ZooKeeper and a broker outside the container, whose
# clients' listener takes only SASL_SSL with SCRAM-SHA-512 and whose
# certificate names localhost only (the name the container reaches it by:
# the container shares this machine's network; hostname verification on);
# the topology has [kafka] managed = false, the CA and per-pipeline users
# with password files under /etc/cdc-agent (capture and apply units see
# neither /tmp nor /home), each user granted its half by ACL (the
# cluster's authorizer denies the rest).
#   - bootstrap succeeds and says the cluster answers both users; no
#     kafka.service or zookeeper.service unit file exists in the container
#     nor is loaded, nothing is installed in /opt/kafka, no java runs there;
#   - capture and apply units are active, rows reach the target (snapshot
#     and stream, row digest equal);
#   - a second bootstrap changes nothing and restarts nothing;
#   - status shows kafka external and healthy, the pipeline RUNNING, and no
#     password is in the journal;
#   - the cluster named by 127.0.0.1 (not in its certificate): plan fails,
#     naming the mismatch (hostname verification is on).
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/container.sh"
. "$REPO_ROOT/tests/lib/seed.sh"
. "$REPO_ROOT/tests/lib/kafka.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v systemd-nspawn >/dev/null; then
	skip_or_fail "needs root and systemd-nspawn"
	finish
	exit
fi
seed_ports
seed_kafka_dist || { _fail "Kafka distribution built"; finish; exit; }
IKP=$(free_port)
while [[ " $SEED_PG_PORT $ZKP $KP $SP " == *" $IKP "* ]]; do IKP=$(free_port); done
WORK=$(mktemp -d /tmp/cdc-ext48.XXXXXX)
down() {
	ct_shutdown
	kafka_stop "$WORK/kafka" >/dev/null 2>&1
	zk_stop "$WORK/kafka" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap down EXIT
PIPE=db1-to-db2
CAPTURE=cdc-capture@$PIPE.service
APPLY=cdc-apply@$PIPE.service
INI=/etc/cdc-agent/cdc-agent.ini

# The cluster: SASL_SSL (SCRAM-SHA-512, no client certificate) on
# localhost:$KP for clients, PLAINTEXT on 127.0.0.1:$IKP for the broker
# itself and for creating the users.
(umask 077 && echo 'capture s3cret' >"$WORK/capture.pass" && echo 'apply s3cret' >"$WORK/apply.pass")
t0=$(date +%s.%N)
if ! kafka_unpack "$SEED_DIST" "$WORK/kafka" ||
	! zk_start "$WORK/kafka" "$ZKP" >/dev/null 2>&1 ||
	! kafka_tls_make "$WORK/tls" localhost ||
	! kafka_start_zk_secured "$WORK/kafka" "$KP" "$IKP" "$ZKP" "$WORK/tls" \
		listener.name.secure.ssl.client.auth=none >/dev/null 2>&1 ||
	! kafka_scram_user "$WORK/kafka" "$IKP" capture-db1 "$WORK/capture.pass" ||
	! kafka_scram_user "$WORK/kafka" "$IKP" apply-db1 "$WORK/apply.pass" ||
	# The cluster's authorizer denies what no ACL allows: each user its half,
	# as the operator of such a cluster grants it.
	! kafka_acl "$WORK/kafka" "$IKP" --allow-principal User:capture-db1 \
		--topic db1server.public.my_table --topic db1server.transaction \
		--operation Create --operation Write \
		--operation Describe --operation DescribeConfigs --operation AlterConfigs ||
	! kafka_acl "$WORK/kafka" "$IKP" --allow-principal User:apply-db1 \
		--topic db1server.public.my_table --topic db1server.transaction \
		--group cdc-agent.db1-to-db2 --operation Read \
		--operation Describe; then
	_fail "the SASL_SSL cluster comes up" "$(tail -n 20 "$WORK/kafka/kafka.log" "$WORK/kafka/zk.log" 2>/dev/null)"
	finish
	exit
fi
echo "# cluster up in $(echo "$(date +%s.%N) - $t0" | bc) s"

ct_boot cdc-ext || { _fail "container boots"; finish; exit; }
seed_prepare || { _fail "seed database prepared"; finish; exit; }
# The repo's topology with the cluster above instead of the broker bootstrap
# would install: no mode, dist, sha512, install_dir or [zookeeper].
seed_install_agent "$CDC_AGENT" \
	'/^mode = \|^install_dir = \|^dist = \|^sha512 = /d' \
	'/^\[zookeeper\]$/,/^connect = /d' \
	's|^\[kafka\]$|[kafka]\nmanaged = false\nsecurity_protocol = sasl_ssl\nsasl_mechanism = scram-sha-512\nssl_ca_file = /etc/cdc-agent/kafka-ca.pem|' \
	"s|^bootstrap_servers = .*|bootstrap_servers = localhost:$KP|" \
	's/^;\(capture_kafka_user\|capture_kafka_password_file\|apply_kafka_user\|apply_kafka_password_file\) = /\1 = /' ||
	{ _fail "agent installed in the container"; finish; exit; }
ct_copy_in "$WORK/tls/ca.pem" /etc/cdc-agent/kafka-ca.pem &&
	ct_copy_in "$WORK/capture.pass" /etc/cdc-agent/capture-db1.kafka.pass &&
	ct_copy_in "$WORK/apply.pass" /etc/cdc-agent/apply-db1.kafka.pass ||
	{ _fail "Kafka CA and password files copied in"; finish; exit; }

agent() { ct_exec env ASAN_OPTIONS="${ASAN_OPTIONS:-}" /usr/local/bin/cdc-agent -c $INI "$@"; }
unit_prop() { ct_exec systemctl show -p "$2" --value "$1"; }
digest() { # DB
	seed_psql "$1" "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM public.my_table t" 2>&1
}

out=$(agent check 2>&1)
rc=$?
check_eq "check accepts the topology (managed = false, sasl_ssl)" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 20 | sed 's/^/    # /'
seed_psql db1 "INSERT INTO public.my_table (id, name) SELECT g, 'before ' || g FROM generate_series(1, 100) g" >/dev/null

t0=$(date +%s.%N)
out=$(agent bootstrap 2>&1)
rc=$?
check_eq "bootstrap succeeds" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 40 | sed 's/^/    # /'
check_contains "it checked the cluster as both users" \
	"kafka: the cluster (managed = false) answers every pipeline's capture and apply" "$out"
check_not_contains "it installed no Kafka" "install Kafka" "$out"

for u in kafka.service zookeeper.service; do
	check_eq "no $u: systemd has no file for it" "not-found " \
		"$(unit_prop "$u" LoadState) $(unit_prop "$u" FragmentPath)"
	check_eq "no $u among the unit files" "" \
		"$(ct_exec systemctl list-unit-files --no-legend "$u" 2>&1)"
done
check_eq "no unit file of Kafka's anywhere systemd looks" "" \
	"$(ct_exec sh -c 'for d in /etc/systemd /run/systemd /usr/local/lib/systemd /usr/lib/systemd; do
		[ ! -d "$d" ] || find "$d" -name "kafka*" -o -name "zookeeper*"; done' 2>&1)"
check_eq "nothing installed in /opt/kafka" "absent" "$(ct_exec sh -c 'test -e /opt/kafka || echo absent')"
for u in $CAPTURE $APPLY; do
	check_eq "$u is active" active "$(unit_prop "$u" ActiveState)"
done
procs=$(ct_exec ps -e -o comm=)
check_contains "ps in the container sees the agent's units" cdc-agent "$procs"
check_not_contains "and no java process" java "$procs"

seed_psql db1 "INSERT INTO public.my_table (id, name) SELECT g, 'after ' || g FROM generate_series(101, 200) g;
	UPDATE public.my_table SET name = 'changed' WHERE id <= 10;
	DELETE FROM public.my_table WHERE id > 190" >/dev/null
want=$(digest db1)
for i in $(seq 120); do
	got=$(digest db2)
	[ "$got" = "$want" ] && break
	sleep 0.5
done
check_eq "rows replicate db1 -> db2 through the SASL_SSL cluster (row digest)" "$want" "$got"
echo "# bootstrap to first replicated rows: $(echo "$(date +%s.%N) - $t0" | bc) s"

before=$(for u in $CAPTURE $APPLY; do seed_unit_started_at "$u"; done)
out=$(agent bootstrap 2>&1)
check_eq "a second bootstrap succeeds" 0 "$?"
check_contains "and changes nothing" "bootstrap: nothing to change" "$out"
after=$(for u in $CAPTURE $APPLY; do seed_unit_started_at "$u"; done)
check_eq "and restarts nothing (start timestamps unchanged)" "$before" "$after"

# status: the pipeline turns RUNNING once both halves reported progress.
for i in $(seq 40); do
	out=$(agent status 2>&1) && break
	sleep 0.5
done
check_eq "status exits 0 (every pipeline RUNNING)" 0 "$(agent status >/dev/null 2>&1; echo $?)"
check_contains "status prints the pipeline RUNNING" "$PIPE       RUNNING" "$out"
check_eq "status prints kafka external and healthy" \
	"kafka (external) - ok" "$(awk '$1 == "kafka" { print $1, $2, $3, $4 }' <<<"$out")"
check_not_contains "status lists no zookeeper" "zookeeper" "$out"
check_eq "status --json: kafka external, healthy, no unit; the pipeline RUNNING" \
	"True True None None RUNNING" \
	"$(agent status --json 2>/dev/null | python3 -c 'import json, sys
d = json.load(sys.stdin)
c = [c for c in d["components"] if c["name"] == "kafka"][0]
print(c.get("external"), c["healthy"], c["error"], c["unit"], d["pipelines"][0]["state"])')"
check_eq "no password in the container's journal" 0 \
	"$(ct_exec journalctl --no-pager -q 2>/dev/null | grep -c 's3cret')"

# Hostname verification is on: the same cluster reached by an address its
# certificate does not name is refused, and plan says why.
ct_exec sh -c "sed 's/^bootstrap_servers = localhost:/bootstrap_servers = 127.0.0.1:/' $INI >/etc/cdc-agent/by-address.ini"
out=$(ct_exec /usr/local/bin/cdc-agent -c /etc/cdc-agent/by-address.ini plan 2>&1)
check_eq "plan with the broker named by 127.0.0.1 fails" 1 "$?"
check_contains "naming the certificate's name mismatch" "IP address mismatch" "$out"

finish
