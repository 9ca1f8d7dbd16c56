#!/usr/bin/env bash
# Issue #19's fleet: four systemd containers with their own addresses on a
# private bridge (tests/lib/fleet.sh): k1, k2, k3 the Kafka nodes (each a
# broker and a KRaft controller, 256 MiB heaps, replication factor 3,
# min.insync.replicas 2), pg the PostgreSQL host with source db1 and target
# db2, capture and apply.  ansible-playbook on this host converges them over
# SSH (playbooks/site.yml, inventory groups cdc_brokers, cdc_controllers,
# cdc_sources, cdc_targets): --check --diff on the bare fleet changes nothing,
# the first run converges every host with one topology, rows replicate.
# Under a write load one broker stops (status shows under-replicated
# partitions while it is away) and starts again, later the active
# controller's node stops and starts again; the target's digest ends equal
# to the source's.  A second play reports changed=0 on every host, its Kafka
# nodes rolled one at a time with the cluster whole between them.
# SHOW_PLAYS=1 prints every ansible-playbook run's output.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/fleet.sh"
. "$REPO_ROOT/tests/lib/seed.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v systemd-nspawn >/dev/null; then
	skip_or_fail "needs root and systemd-nspawn"
	finish
	exit
fi
if ! command -v ansible-playbook >/dev/null || [ ! -x /usr/sbin/sshd ]; then
	skip_or_fail "needs ansible-playbook and sshd (scripts/install-deps.sh)"
	finish
	exit
fi
# The containers see this host's files as they are when they boot: the
# tarball must exist before.
seed_kafka_dist || { _fail "Kafka distribution built"; finish; exit; }
trap fleet_down EXIT

HOSTS="k1 k2 k3 pg"
fleet_up f42 10.77.0.1/24 10.77.0.11 $HOSTS || { _fail "fleet boots (4 containers, SSH)"; finish; exit; }
_pass "fleet boots: 4 containers on 10.77.0.0/24, SSH to each"
check_eq "each container has its own address and name" "k2 10.77.0.12" \
	"$(fleet_ssh k2 'echo $(hostname) $(ip -4 -o addr show dev host0 | awk "{print \$4}" | cut -d/ -f1)')"

# ---- the PostgreSQL host: Debian's 15/main, db1 with a table -----------------------
pg() { # DB SQL
	fleet_exec pg runuser -u postgres -- psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}
fleet_exec pg systemctl start postgresql@15-main.service || { _fail "PostgreSQL starts on pg"; finish; exit; }
pg postgres "CREATE DATABASE db1" >/dev/null
pg db1 "CREATE TABLE public.load (id int PRIMARY KEY, n int NOT NULL, v text)" >/dev/null

# ---- the inventory: groups and host variables, one topology ------------------------
PW1="s3cret-db1-$RANDOM$RANDOM" PW2="s3cret-db2-$RANDOM$RANDOM"
INV=$FLEET_DIR/inventory
mkdir -p "$INV/group_vars"
cat >"$INV/hosts.yml" <<EOF
cdc_agent:
  vars:
    ansible_become: false   # root over SSH already (the containers have no sudo)
  children:
    cdc_brokers:
      hosts:
        k1: {cdc_agent_address: $(fleet_addr k1), cdc_agent_node_id: 1, cdc_agent_rack: r1}
        k2: {cdc_agent_address: $(fleet_addr k2), cdc_agent_node_id: 2, cdc_agent_rack: r2}
        k3: {cdc_agent_address: $(fleet_addr k3), cdc_agent_node_id: 3, cdc_agent_rack: r3}
    cdc_controllers:
      hosts: {k1: null, k2: null, k3: null}
    cdc_sources:
      hosts:
        pg: {cdc_agent_address: $(fleet_addr pg), cdc_agent_capture: [db1]}
    cdc_targets:
      hosts:
        pg: {cdc_agent_apply: [db2]}
EOF
cat >"$INV/group_vars/cdc_agent.yml" <<EOF
cdc_agent_src_dir: $REPO_ROOT
cdc_agent_binary_src: $CDC_AGENT
cdc_agent_agent:
  state_dir: /var/lib/cdc-agent
cdc_agent_kafka:
  mode: kraft
  install_dir: /opt/kafka
  partitions: 3
  replication_factor: 3
  min_insync_replicas: 2
  heap: 256m
  dist: file://$SEED_DIST
  sha512: $SEED_SHA
cdc_agent_sources:
  db1: {host: 127.0.0.1, port: 5432, dbname: db1, user: cdc_user, admin_user: postgres,
        admin_host: /var/run/postgresql, publication: pub1, slot: slot1,
        tables: [public.load], topic_prefix: db1server}
cdc_agent_targets:
  db2: {host: 127.0.0.1, port: 5432, dbname: db2, user: db2_user, admin_user: postgres,
        admin_host: /var/run/postgresql, insert_mode: upsert, auto_create: true}
cdc_agent_pipelines:
  db1-to-db2: {source: db1, target: db2}
cdc_agent_passwords: {db1: $PW1, db2: $PW2}
EOF

fleet_ansible_env
ALL_OUT=
play() { # ARGS...: PLAY_OUT, PLAY_RC
	PLAY_OUT=$(ansible-playbook -i "$INV" "$REPO_ROOT/playbooks/site.yml" "$@" 2>&1)
	PLAY_RC=$?
	[ -z "${SHOW_PLAYS:-}" ] || printf '%s\n' "$PLAY_OUT" | sed 's/^/    | /'
	ALL_OUT+=$PLAY_OUT$'\n'
}
changed_of() { # HOST: its changed= in the last play's recap ("" if absent)
	printf '%s\n' "$PLAY_OUT" | sed -n "s/^$1 *:.* changed=\([0-9]*\) .*/\1/p"
}
recap_all_zero() { # every host in the recap, changed=0 failed=0 unreachable=0
	local h
	for h in $HOSTS; do
		printf '%s\n' "$PLAY_OUT" | grep -Eq "^$h +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0" || return 1
	done
}
status_json() { # HOST: cdc-agent status --json there
	fleet_exec "$1" /usr/local/bin/cdc-agent status --json 2>/dev/null
}
cluster_field() { # HOST KEY: one field of status's cluster
	status_json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("cluster", {}).get(sys.argv[1], ""))' "$2" 2>/dev/null
}
cluster_wait() { # KEY VALUE TRIES: pg's KEY polled every 2 s until it is VALUE; prints the last
	local v i
	for ((i = 0; i < $3; i++)); do
		v=$(cluster_field pg "$1")
		[ "$v" = "$2" ] && break
		sleep 2
	done
	echo "$v"
}

# ---- --check --diff on the bare fleet: everything would change, nothing does -------
play --check --diff
check_eq "--check --diff on the bare fleet succeeds" 0 "$PLAY_RC"
[ "$PLAY_RC" = 0 ] || printf '%s\n' "$PLAY_OUT" | tail -n 30
for h in $HOSTS; do
	check "--check: $h would change (changed=$(changed_of $h))" test "$(changed_of $h)" -gt 0
done
check_eq "--check installs nothing anywhere" "" \
	"$(for h in $HOSTS; do fleet_exec $h sh -c 'ls -d /usr/local/bin/cdc-agent /etc/cdc-agent 2>/dev/null'; done)"

# ---- first run ------------------------------------------------------------------
pg db1 "INSERT INTO public.load SELECT g, 0, md5(g::text) FROM generate_series(1, 100) g" >/dev/null
t0=$SECONDS
play
echo "# first run: $((SECONDS - t0)) s"
check_eq "the first run succeeds" 0 "$PLAY_RC"
[ "$PLAY_RC" = 0 ] || printf '%s\n' "$PLAY_OUT" | grep -E 'fatal|FAILED|msg' | head -n 20
check_contains "Kafka nodes first, together on a first install" "PLAY [cdc-agent, Kafka nodes (first install, together)]" "$PLAY_OUT"
sums=$(for h in $HOSTS; do fleet_exec $h md5sum /etc/cdc-agent/cdc-agent.ini | cut -d' ' -f1; done | sort -u)
check_eq "one topology on every host" 1 "$(printf '%s\n' "$sums" | grep -c .)"
check_contains "its Kafka nodes are the inventory's" "[kafka_node k3]"$'\n'"address = 10.77.0.13"$'\n'"id = 3"$'\n'"rack = r3" \
	"$(fleet_exec k1 cat /etc/cdc-agent/cdc-agent.ini)"
check_contains "capture runs on pg's address" "capture_address = 10.77.0.14" "$(fleet_exec k1 cat /etc/cdc-agent/cdc-agent.ini)"
for h in k1 k2 k3; do
	check_eq "$h runs Kafka" active "$(fleet_exec $h systemctl is-active kafka.service)"
	check_eq "$h has no password file" "" "$(fleet_exec $h sh -c 'ls /etc/cdc-agent/*.pass 2>/dev/null')"
done
check_eq "pg runs capture and apply" "active active" \
	"$(echo $(fleet_exec pg systemctl is-active cdc-capture@db1-to-db2.service cdc-apply@db1-to-db2.service))"
check_eq "pg has both password files, 0600, cdc-agent's" "600 cdc-agent /etc/cdc-agent/db1.pass 600 cdc-agent /etc/cdc-agent/db2.pass" \
	"$(echo $(fleet_exec pg stat -c '%a %U %n' /etc/cdc-agent/db1.pass /etc/cdc-agent/db2.pass))"
check_eq "status on pg: three brokers up" "3/3" "$(cluster_field pg brokers_up)/$(cluster_field pg brokers_expected)"

digest() { # DB
	pg "$1" "SELECT count(*) || ' ' || coalesce(md5(string_agg(id || ':' || n || ':' || coalesce(v, ''), '|' ORDER BY id)), '') FROM public.load" 2>/dev/null
}
wait_equal() { # SECONDS: the target's digest equals the source's
	local end=$((SECONDS + $1)) a b
	while ((SECONDS < end)); do
		a=$(digest db1) b=$(digest db2)
		[ -n "$a" ] && [ "$a" = "$b" ] && return 0
		sleep 2
	done
	echo "db1: $a"$'\n'"db2: $b"
	return 1
}
check "the snapshot reaches db2 (digests equal)" wait_equal 180

# ---- a write load; a broker away, then the controller's node ----------------------
LOAD_END=$FLEET_DIR/load.end
writer() {
	local i=1
	while [ ! -e "$LOAD_END" ]; do
		pg db1 "INSERT INTO public.load SELECT g, 0, md5(g::text) FROM generate_series($((i * 50 + 1000)), $((i * 50 + 1049))) g;
			UPDATE public.load SET n = n + 1 WHERE id % 13 = $((i % 13));
			DELETE FROM public.load WHERE id % 101 = $((i % 101)) AND id > 1000" >/dev/null || echo "writer: batch $i failed" >&2
		i=$((i + 1))
		sleep 0.2
	done
	echo "$i" >"$LOAD_END.batches"
}
writer &
WRITER=$!
trap 'touch "$LOAD_END"; wait $WRITER 2>/dev/null; fleet_down' EXIT
sleep 10

# The broker of k2 away: the supervisor leaves a unit an operator stopped alone.
fleet_exec k2 systemctl stop kafka.service
urp=0
for _ in $(seq 60); do
	urp=$(cluster_field pg under_replicated_partitions)
	[ -n "$urp" ] && [ "$urp" -gt 0 ] && break
	sleep 2
done
check "status shows under-replicated partitions while k2's broker is away ($urp)" test "${urp:-0}" -gt 0
# (a stopped broker leaves the cluster's metadata once its session ends)
up=$(cluster_wait brokers_up 2 30)
check_eq "and two brokers up" 2 "$up"
sleep 10
fleet_exec k2 systemctl start kafka.service
urp=$(cluster_wait under_replicated_partitions 0 90)
check_eq "k2 back: no partition under-replicated" 0 "$urp"

sleep 5
ctl=$(cluster_field pg controller_id)
check "status names the active controller ($ctl)" test -n "$ctl"
ctl_host=k${ctl:-1}
fleet_exec "$ctl_host" systemctl stop kafka.service
for _ in $(seq 30); do
	new=$(cluster_field pg controller_id)
	[ -n "$new" ] && [ "$new" != "$ctl" ] && break
	sleep 2
done
check "another controller takes over ($ctl -> $new)" test -n "$new" -a "$new" != "$ctl"
sleep 10
fleet_exec "$ctl_host" systemctl start kafka.service
sleep 10
touch "$LOAD_END"
wait $WRITER
echo "# load: $(cat "$LOAD_END.batches" 2>/dev/null) batches"
check "after the load the target's digest equals the source's" wait_equal 240
check_eq "the pipeline is RUNNING on pg" "db1-to-db2 RUNNING" \
	"$(status_json pg | python3 -c 'import json,sys; d=json.load(sys.stdin); [print(p.get("name"), p.get("state")) for p in d.get("pipelines", [])]' 2>/dev/null)"

# ---- a second play: nothing to change anywhere -------------------------------------
for _ in $(seq 60); do
	[ "$(cluster_field pg under_replicated_partitions)" = 0 ] && [ "$(cluster_field pg brokers_up)" = 3 ] && break
	sleep 2
done
t0=$SECONDS
play -v
echo "# second run: $((SECONDS - t0)) s"
check_eq "the second run succeeds" 0 "$PLAY_RC"
check "and reports changed=0 on every host" recap_all_zero
# (-v: what changed, e.g. bootstrap's list of changes)
recap_all_zero || printf '%s\n' "$PLAY_OUT" | grep -E '^(changed|fatal)' | cut -c1-1500 | head -n 20
check_contains "its Kafka nodes rolled one at a time" "PLAY [cdc-agent, Kafka nodes (one at a time)]" "$PLAY_OUT"
check_eq "each waiting for the whole cluster" 3 \
	"$(printf '%s\n' "$PLAY_OUT" | grep -c 'TASK \[cdc_agent : Kafka cluster whole again')"

check_not_contains "db1's password never appears in ansible's output" "$PW1" "$ALL_OUT"
check_not_contains "db2's password never appears in ansible's output" "$PW2" "$ALL_OUT"
finish
