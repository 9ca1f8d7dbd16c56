# tests/lib/capture_env.sh: a source cluster, a ZooKeeper-mode Kafka broker and
# a bootstrapped topology, for the capture tests.
#   CAPTURE_AGENT_KEYS: more lines for [agent] (each ending in a newline);
#   CAPTURE_KAFKA_KEYS: more lines for [kafka] (each ending in a newline);
#   CAPTURE_KAFKA_PROPS: more key=value broker settings (words).
#   capture_env_up TABLES_SQL   -> $WORK, $T (topology), $KP (broker port)
#   capture_start PIPELINE      -> background capture, pid in CAPTURE_PIDS[PIPELINE]
#   topic_count TOPIC           -> number of records in TOPIC now
#   topic_dump TOPIC FILE       -> one JSON line per record: p, o, key, value, headers
. "$(dirname "${BASH_SOURCE[0]}")/pg.sh"
. "$(dirname "${BASH_SOURCE[0]}")/kafka.sh"

declare -A CAPTURE_PIDS

capture_env_down() {
	local p
	# The agents capture_env started, and those the test started itself
	# (its background jobs: an apply it had yet to stop when it was cut short).
	for p in "${CAPTURE_PIDS[@]}" $(jobs -p); do kill -9 "$p" 2>/dev/null; done
	[ -n "${WORK:-}" ] && { kafka_stop "$WORK/kafka" >/dev/null 2>&1; zk_stop "$WORK/kafka" >/dev/null 2>&1; }
	pg_destroy_all
	[ -n "${WORK:-}" ] && [ -z "${KEEP_WORK:-}" ] && rm -rf "$WORK"
}

capture_env_up() { # SQL run in db1 before bootstrap; topology body from stdin
	local dist zk
	WORK=$(mktemp -d /tmp/cdc-capture.XXXXXX)
	dist=$("$REPO_ROOT/scripts/kafka-dist.sh") || return 1
	kafka_unpack "$dist" "$WORK/kafka" >/dev/null || return 1
	zk=$(free_port)
	KP=$(free_port)
	while [ "$KP" = "$zk" ]; do KP=$(free_port); done
	zk_start "$WORK/kafka" "$zk" >/dev/null 2>&1 || return 1
	# A short ZooKeeper session lets a broker killed with -9 register again soon.
	# shellcheck disable=SC2086 # CAPTURE_KAFKA_PROPS: more key=value words
	kafka_start_zk "$WORK/kafka" "$KP" "$zk" zookeeper.session.timeout.ms=6000 ${CAPTURE_KAFKA_PROPS:-} >/dev/null 2>&1 || return 1
	pg_cluster_create src || return 1
	pg_psql src postgres "CREATE DATABASE db1" >/dev/null
	pg_psql src db1 "$1" >/dev/null || return 1
	(umask 077 && echo 'cdc pw' >"$WORK/db1.pass" && echo 'db2 pw' >"$WORK/db2.pass")
	T=$WORK/topo.ini
	{
		printf '[agent]\nstate_dir = %s/state\nmanage_units = false\n%s[kafka]\nbootstrap_servers = 127.0.0.1:%s\npartitions = %s\n%s' "$WORK" "${CAPTURE_AGENT_KEYS:-}" "$KP" "${CAPTURE_PARTITIONS:-3}" "${CAPTURE_KAFKA_KEYS:-}"
		sed -e "s|@PORT@|$PG_PORT_src|g" -e "s|@SOCK@|$PG_SOCK_src|g" -e "s|@WORK@|$WORK|g"
	} >"$T"
	"$CDC_AGENT" -c "$T" bootstrap >/dev/null 2>&1
	pg_cluster_restart src
	"$CDC_AGENT" -c "$T" bootstrap >"$WORK/bootstrap.log" 2>&1
}

capture_start() {
	"$CDC_AGENT" -c "$T" capture "$1" >>"$WORK/capture-$1.log" 2>&1 &
	CAPTURE_PIDS[$1]=$!
}

# kill -9 of the broker, then a restart on the same directory and port,
# retried while ZooKeeper still holds the dead broker's registration.
broker_kill_restart() {
	local zk i
	zk=$(sed -n 's/^zookeeper.connect=127.0.0.1://p' "$WORK/kafka/server.properties")
	kill -9 "$(cat "$WORK/kafka/kafka.pid")" 2>/dev/null
	sleep "${1:-2}"
	for i in $(seq 1 10); do
		kafka_start_zk "$WORK/kafka" "$KP" "$zk" zookeeper.session.timeout.ms=6000 \
			>>"$WORK/broker-restart.log" 2>&1 && return 0
		sleep 2
	done
	return 1
}

topic_count() {
	timeout 60 kcat -b "127.0.0.1:$KP" -C -t "$1" -o beginning -e -q -f 'x\n' 2>/dev/null | wc -l
}

# Waits until TOPIC holds at least N records (up to SECONDS).
topic_wait() { # TOPIC N SECONDS
	local i
	for ((i = 0; i < $3 * 2; i++)); do
		[ "$(topic_count "$1")" -ge "$2" ] && return 0
		sleep 0.5
	done
	return 1
}

topic_dump() {
	timeout 120 kcat -b "127.0.0.1:$KP" -C -t "$1" -o beginning -e -q -Z -J >"$2" 2>/dev/null
}
