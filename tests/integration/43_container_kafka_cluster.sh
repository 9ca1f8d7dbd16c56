#!/usr/bin/env bash
# A Kafka cluster across three hosts (issue #19), bootstrapped by the agent
# alone (no Ansible): three systemd containers with their own addresses on a
# private bridge (10.77.1.0/24, tests/lib/fleet.sh), one topology file on
# all of them with three [kafka_node]s (KRaft, broker and controller each),
# replication_factor 3 and min_insync_replicas 2; k1 also holds PostgreSQL
# (db1, db2), capture and apply.  Each host's bootstrap converges only its
# own part: a node each, the pipeline on k1 only.  The topic has 3 replicas
# and min.insync.replicas 2; rows replicate.  With k3's broker stopped,
# status reports 2 of 3 brokers up and under-replicated partitions, rows
# still replicate (acks=all, 2 in sync); k3 back, nothing is
# under-replicated and the digests are equal.  A second bootstrap on every
# host changes nothing.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/fleet.sh"
. "$REPO_ROOT/tests/lib/seed.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v systemd-nspawn >/dev/null; then
	skip_or_fail "needs root and systemd-nspawn"
	finish
	exit
fi
seed_kafka_dist || { _fail "Kafka distribution built"; finish; exit; }
WORK=$(mktemp -d /tmp/cdc-cluster.XXXXXX)
trap 'fleet_down; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
# Three JVMs and PostgreSQL: room in each tmpfs for Kafka's logs.
CT_TMPFS_SIZE=${CT_TMPFS_SIZE:-3g}
fleet_up f43 10.77.1.1/24 10.77.1.11 k1 k2 k3 || { _fail "fleet of three containers up"; finish; exit; }
HOSTS="k1 k2 k3"
PIPE=db1-to-db2
TOPIC=db1server.public.my_table

agent() { # HOST ARGS...: the agent on HOST
	local h=$1
	shift
	fleet_exec "$h" env ASAN_OPTIONS="${ASAN_OPTIONS:-}" /usr/local/bin/cdc-agent \
		-c /etc/cdc-agent/cdc-agent.ini "$@"
}
psql_k1() { # DB SQL
	fleet_exec k1 runuser -u postgres -- psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}
digest() { # DB
	psql_k1 "$1" "SELECT count(*) || md5(string_agg(id || name, ',' ORDER BY id)) FROM public.my_table" 2>/dev/null
}
wait_equal() { # the target's digest becomes the source's (60 s)
	local want got i
	want=$(digest db1)
	for i in $(seq 120); do
		got=$(digest db2)
		[ "$got" = "$want" ] && break
		sleep 0.5
	done
	printf '%s\n%s\n' "$want" "$got"
}
cluster() { # HOST FIELD: status --json's cluster.FIELD on HOST
	agent "$1" --json status 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin).get("cluster",{}).get(sys.argv[1]))' "$2"
}

# One topology for every host.
TOPO=$(mktemp)
cat >"$TOPO" <<EOF
[agent]
state_dir = /var/lib/cdc-agent
[kafka]
mode = kraft
replication_factor = 3
min_insync_replicas = 2
heap = 256m
dist = file://$SEED_DIST
sha512 = $SEED_SHA
[kafka_node k1]
address = 10.77.1.11
id = 1
rack = r1
[kafka_node k2]
address = 10.77.1.12
id = 2
rack = r2
[kafka_node k3]
address = 10.77.1.13
id = 3
rack = r3
[source db1]
capture_address = 10.77.1.11
host = 127.0.0.1
dbname = db1
user = cdc_user
password_file = /etc/cdc-agent/db1.pass
admin_host = /var/run/postgresql
publication = my_publication
slot = my_slot
tables = public.my_table
topic_prefix = db1server
[target db2]
apply_address = 10.77.1.11
host = 127.0.0.1
dbname = db2
user = db2_user
password_file = /etc/cdc-agent/db2.pass
admin_host = /var/run/postgresql
[pipeline $PIPE]
source = db1
target = db2
EOF
chmod 0644 "$TOPO"
for h in $HOSTS; do
	R=$(fleet_root "$h")
	fleet_copy_in "$h" "$CDC_AGENT" /usr/local/bin/cdc-agent &&
		mkdir -p "$R/usr/local/share/cdc-agent" "$R/etc/cdc-agent" &&
		cp -r "$REPO_ROOT/units" "$REPO_ROOT/templates" "$R/usr/local/share/cdc-agent/" &&
		fleet_copy_in "$h" "$TOPO" /etc/cdc-agent/cdc-agent.ini ||
		_fail "$h: agent and topology installed"
done
rm -f "$TOPO"
# PostgreSQL and the password files on k1 alone: the others have none.
fleet_exec k1 systemctl start postgresql@15-main.service || _fail "k1: PostgreSQL started"
psql_k1 postgres "CREATE DATABASE db1" >/dev/null
psql_k1 db1 "CREATE TABLE public.my_table (id int PRIMARY KEY, name text)" >/dev/null
fleet_exec k1 sh -c "umask 077 && printf 'cdc_pass\n' >/etc/cdc-agent/db1.pass && printf 'db2_pass\n' >/etc/cdc-agent/db2.pass"
psql_k1 db1 "INSERT INTO public.my_table SELECT g, 'before ' || g FROM generate_series(1, 200) g" >/dev/null

for h in $HOSTS; do
	out=$(agent "$h" check 2>&1)
	check_eq "$h: check accepts the cluster topology (no password file on k2, k3)" 0 "$?"
	[ "$h" = k1 ] || check "$h: without the password files" fleet_exec "$h" test ! -e /etc/cdc-agent/db1.pass
done

# The nodes together: each waits for a quorum of controllers.
declare -A pid=()
for h in $HOSTS; do
	agent "$h" bootstrap >"$WORK/bootstrap.$h" 2>&1 &
	pid[$h]=$!
done
for h in $HOSTS; do
	wait "${pid[$h]}"
	rc=$?
	check_eq "$h: bootstrap of its part succeeds" 0 "$rc"
	[ "$rc" = 0 ] || tail -n 40 "$WORK/bootstrap.$h"
done
out=$(cat "$WORK/bootstrap.k2")
check_contains "k2: its node started" "start kafka.service" "$out"
check "k2: no pipeline unit started there" bash -c "! grep -Eq 'start cdc-(capture|apply)@' <<<\"\$1\"" _ "$out"
out=$(cat "$WORK/bootstrap.k1")
check_contains "k1: capture started there" "start cdc-capture@$PIPE.service" "$out"
check_contains "k1: apply started there" "start cdc-apply@$PIPE.service" "$out"

out=$(fleet_exec k2 cat /etc/cdc-agent/server.properties)
check_contains "k2: node.id 2" $'\nnode.id=2\n' "$out"
check_contains "k2: every node votes" "controller.quorum.voters=1@10.77.1.11:9093,2@10.77.1.12:9093,3@10.77.1.13:9093" "$out"
check_contains "k2: listens on its own address" "listeners=PLAINTEXT://10.77.1.12:9092,CONTROLLER://10.77.1.12:9093" "$out"
check_contains "k2: its rack" $'\nbroker.rack=r2\n' "$out"
check_contains "k2: offsets topic replicated 3 times" "offsets.topic.replication.factor=3" "$out"
check_eq "one cluster id on every node" 1 "$(for h in $HOSTS; do fleet_exec "$h" sh -c 'grep -h cluster.id /var/lib/kafka/meta.properties'; done | sort -u | wc -l)"
fleet_exec k2 systemctl is-active --quiet "cdc-capture@$PIPE.service"
check "k2: no capture running there" test "$?" -ne 0

mapfile -t res < <(wait_equal)
check_eq "rows replicate db1 -> db2 through the cluster" "${res[0]}" "${res[1]}"

# The topic: 3 replicas on 3 brokers, min.insync.replicas 2.
out=$(timeout 20 kcat -b 10.77.1.11:9092 -L -t "$TOPIC" 2>&1)
check_contains "the cluster lists 3 brokers" "3 brokers:" "$out"
check "the topic's partition has 3 replicas, all in sync" grep -Eq 'replicas: [123],[123],[123], isrs: [123],[123],[123]' <<<"$out"
out=$(fleet_exec k1 sh -c "java -Xmx128m -cp '/opt/kafka/libs/*' kafka.admin.ConfigCommand --bootstrap-server 10.77.1.11:9092 --entity-type topics --entity-name $TOPIC --describe" 2>&1)
check_contains "the topic has min.insync.replicas=2" "min.insync.replicas=2" "$out"

check_eq "status: 3 brokers up" 3 "$(cluster k1 brokers_up)"
check_eq "status: 3 expected" 3 "$(cluster k1 brokers_expected)"
check_eq "status: nothing under-replicated" 0 "$(cluster k1 under_replicated_partitions)"
ctl=$(cluster k2 controller_id)
check "status on k2 names a controller ($ctl)" grep -Eq '^[123]$' <<<"$ctl"

# One broker away: under-replicated, still writable (2 in sync).
fleet_exec k3 systemctl stop kafka.service
for i in $(seq 60); do
	[ "$(cluster k1 under_replicated_partitions)" != 0 ] && break
	sleep 1
done
out=$(agent k1 status 2>&1)
check_contains "status shows 2 of 3 brokers up, k3 down" "2/3 brokers up (down: k3)" "$out"
check "status shows under-replicated partitions" bash -c "grep -Eq '[1-9][0-9]* under-replicated' <<<\"\$1\"" _ "$out"
check_contains "and warns of them" "under-replicated (2 broker(s) up of 3)" "$out"
check_eq "status --json: 2 brokers up" 2 "$(cluster k1 brokers_up)"
psql_k1 db1 "INSERT INTO public.my_table SELECT g, 'during ' || g FROM generate_series(201, 400) g; UPDATE public.my_table SET name = 'changed' WHERE id <= 50" >/dev/null
mapfile -t res < <(wait_equal)
check_eq "rows replicate with one broker away" "${res[0]}" "${res[1]}"

fleet_exec k3 systemctl start kafka.service
for i in $(seq 90); do
	[ "$(cluster k1 under_replicated_partitions)" = 0 ] && [ "$(cluster k1 brokers_up)" = 3 ] && break
	sleep 1
done
check_eq "k3 back: 3 brokers up" 3 "$(cluster k1 brokers_up)"
check_eq "and nothing under-replicated" 0 "$(cluster k1 under_replicated_partitions)"
out=$(agent k1 status 2>&1)
check_contains "the pipeline is RUNNING" "RUNNING" "$out"
psql_k1 db1 "DELETE FROM public.my_table WHERE id > 380" >/dev/null
mapfile -t res < <(wait_equal)
check_eq "source and target digests equal at the end" "${res[0]}" "${res[1]}"

for h in $HOSTS; do
	out=$(agent "$h" bootstrap 2>&1)
	check_eq "$h: second bootstrap succeeds" 0 "$?"
	check_contains "$h: and changes nothing" "bootstrap: nothing to change" "$out"
done
finish
