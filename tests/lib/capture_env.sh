# tests/lib/capture_env.sh: a source cluster, a ZooKeeper-mode Kafka broker and
# a bootstrapped topology, for the capture and pipeline tests.
#   CAPTURE_AGENT_KEYS: more lines for [agent] (each ending in a newline);
#   CAPTURE_KAFKA_KEYS: more lines for [kafka] (each ending in a newline);
#   CAPTURE_KAFKA_PROPS: more key=value broker settings (words);
#   CAPTURE_BROKER_START: a function that starts the broker on $KP instead,
#     given the ZooKeeper port, with $WORK made (secured_broker below);
#   CAPTURE_KAFKA_HOST: the host of bootstrap_servers (127.0.0.1).
#   @WORK@ in CAPTURE_AGENT_KEYS and CAPTURE_KAFKA_KEYS is $WORK, as in
#   the sections on stdin.
#   capture_env_up TABLES_SQL   -> $WORK, $T (topology), $KP (broker port)
#       the sections after [agent] and [kafka] come on stdin, usually from
#       tests/lib/topology.sh:  capture_env_up SQL < <(topology_both_formats T)
#   secured_env_up [--pg-tls] [KAFKA_KEY_LINES]  (77, 79) a target cluster tgt
#       and capture_env_up with secured_broker: table t (300 rows) of db1 in
#       pipeline p1 to db2, capture and apply as SCRAM users with their
#       password files; the lines (each ending in a newline) go first in
#       [kafka].  --pg-tls: src and tgt serve TLS with certificates for
#       localhost from a test CA, $SECURED_PG_CA/ca.crt (pg.sh, PG_TLS_CA),
#       and [source]/[target] connect to localhost with sslmode = verify-full
#       and that CA, so that TCP lets them in only through bootstrap's
#       hostssl lines
#   capture_start PIPELINE      -> background capture, pid in CAPTURE_PIDS[PIPELINE]
#   apply_start PIPELINE        -> background apply, pid in CAPTURE_PIDS[apply-PIPELINE]
#   pipeline_stop PIPELINE      SIGTERM to both, waits for them
#   table_digest DB FROM [ROW [ORDER]]
#       count:md5 of every row of FROM (a table, public. unless qualified, or
#       a parenthesized query), each row as the SQL expression ROW (_r::text:
#       the whole row, aliased _r so that no column named t shadows it), in
#       the order of ORDER (id); DB is a database of the cluster src, or
#       CLUSTER:DB
#   wait_converged SECONDS FROM DB...
#       until FROM has db1's digest in every DB; prints them all if it
#       never does.  DIGEST_ROW, DIGEST_ORDER: ROW and ORDER above;
#       DIGEST_SOURCE: what is read in db1 instead of FROM
#   broker_start, broker_kill_restart: the broker again (after kill -9)
#   log_wait FILE TEXT SECONDS [COUNT]: until FILE holds TEXT COUNT times
#   topic_count TOPIC           -> number of records in TOPIC now
#   topic_dump TOPIC FILE       -> one JSON line per record: p, o, key, value, headers
. "$(dirname "${BASH_SOURCE[0]}")/pg.sh"
. "$(dirname "${BASH_SOURCE[0]}")/kafka.sh"
. "$(dirname "${BASH_SOURCE[0]}")/topology.sh"

declare -A CAPTURE_PIDS

capture_env_down() {
	local p
	# The agents capture_env started, and those the test started itself
	# (its background jobs: an apply it had yet to stop when it was cut short).
	for p in "${CAPTURE_PIDS[@]}" $(jobs -p); do kill -9 "$p" 2>/dev/null; done
	[ -n "${WORK:-}" ] && { kafka_stop "$WORK/kafka" >/dev/null 2>&1; zk_stop "$WORK/kafka" >/dev/null 2>&1; }
	pg_destroy_all
	[ -n "${WORK:-}" ] && [ -z "${KEEP_WORK:-}" ] && rm -rf "$WORK"
	[ -n "${SECURED_PG_CA:-}" ] && [ -z "${KEEP_WORK:-}" ] && rm -rf "$SECURED_PG_CA"
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
	if [ -n "${CAPTURE_BROKER_START:-}" ]; then
		"$CAPTURE_BROKER_START" "$zk" || return 1
	else
		# shellcheck disable=SC2086 # CAPTURE_KAFKA_PROPS: more key=value words
		kafka_start_zk "$WORK/kafka" "$KP" "$zk" zookeeper.session.timeout.ms=6000 ${CAPTURE_KAFKA_PROPS:-} >/dev/null 2>&1 || return 1
	fi
	pg_cluster_create src || return 1
	pg_psql src postgres "CREATE DATABASE db1" >/dev/null
	pg_psql src db1 "$1" >/dev/null || return 1
	(umask 077 && echo 'cdc pw' >"$WORK/db1.pass" && echo 'db2 pw' >"$WORK/db2.pass")
	T=$WORK/topo.ini
	{
		printf '[agent]\nstate_dir = %s/state\nmanage_units = false\n%s[kafka]\nbootstrap_servers = %s:%s\npartitions = %s\n%s' "$WORK" "${CAPTURE_AGENT_KEYS:-}" "${CAPTURE_KAFKA_HOST:-127.0.0.1}" "$KP" "${CAPTURE_PARTITIONS:-3}" "${CAPTURE_KAFKA_KEYS:-}"
		cat
	} | topology_fill src "$WORK" >"$T"
	"$CDC_AGENT" -c "$T" bootstrap >/dev/null 2>&1
	pg_cluster_restart src
	"$CDC_AGENT" -c "$T" bootstrap >"$WORK/bootstrap.log" 2>&1
}

capture_start() {
	"$CDC_AGENT" -c "$T" capture "$1" >>"$WORK/capture-$1.log" 2>&1 &
	CAPTURE_PIDS[$1]=$!
}

apply_start() {
	"$CDC_AGENT" -c "$T" apply "$1" >>"$WORK/apply-$1.log" 2>&1 &
	CAPTURE_PIDS[apply-$1]=$!
}

table_digest() { # [CLUSTER:]DB FROM [ROW [ORDER]]
	local cluster=src db=$1 from=$2
	[[ $db == *:* ]] && cluster=${db%%:*} db=${db#*:}
	[[ $from == *.* || $from == "("* ]] || from=public.$from
	pg_psql "$cluster" "$db" "SELECT count(*) || ':' || coalesce(md5(string_agg(${3:-_r::text}, '|' ORDER BY ${4:-id})), '-') FROM $from _r" 2>&1
}

# A source whose digest cannot be read never counts as converged.
wait_converged() { # SECONDS FROM DB...
	local i want db all from=$2 row=${DIGEST_ROW:-_r::text} order=${DIGEST_ORDER:-id}
	local dbs=("${@:3}")
	for ((i = 0; i < $1 * 2; i++)); do
		if want=$(table_digest db1 "${DIGEST_SOURCE:-$from}" "$row" "$order"); then
			all=1
			for db in "${dbs[@]}"; do
				[ "$(table_digest "$db" "$from" "$row" "$order")" = "$want" ] || { all=; break; }
			done
			[ -n "$all" ] && return 0
		fi
		sleep 0.5
	done
	echo "db1 $(table_digest db1 "${DIGEST_SOURCE:-$from}" "$row" "$order")"
	for db in "${dbs[@]}"; do echo "$db $(table_digest "$db" "$from" "$row" "$order")"; done
	return 1
}

# SIGTERM to capture and apply of PIPELINE (as systemd's stop does), and
# waits for both to exit.
# CAPTURE_BROKER_START for a secured broker: SASL_SSL with client
# certificates on localhost:$KP (the certificate names localhost only),
# PLAINTEXT on 127.0.0.1:$IKP for the broker itself and the test's tools;
# SCRAM-SHA-512 users capture-p1 and apply-p1 with their password files
# and ACLs (secured_user), and $WORK/wrong-kafka.pass for refusals.
secured_broker() { # ZKPORT
	IKP=$(free_port)
	while [ "$IKP" = "$KP" ] || [ "$IKP" = "$1" ]; do IKP=$(free_port); done
	kafka_tls_make "$WORK/tls" localhost &&
		kafka_start_zk_secured "$WORK/kafka" "$KP" "$IKP" "$1" "$WORK/tls" \
			zookeeper.session.timeout.ms=6000 >/dev/null 2>&1 || return 1
	(umask 077 && echo 'capture s3cret' >"$WORK/capture-kafka.pass" &&
		echo 'apply s3cret' >"$WORK/apply-kafka.pass" &&
		echo 'not the password' >"$WORK/wrong-kafka.pass")
	# One after the other: at once they took no less time on 2 cores.
	secured_user capture && secured_user apply
}

# The user ROLE-p1 with its password file and its ACLs, no more than it
# needs (the broker enforces them): capture creates its topic (validated
# first by bootstrap's plan), raises its max.message.bytes (AlterConfigs
# after DescribeConfigs) and writes it (Write lets it be an idempotent
# producer too); apply reads the topic and the transaction topic
# (consistency = transaction) and joins group cdc-agent.p1 (Read; Describe
# for status's probes).
SECURED_TOPIC=db1server.public.t
secured_user() { # capture|apply
	kafka_scram_user "$WORK/kafka" "$IKP" "$1-p1" "$WORK/$1-kafka.pass" || return 1
	if [ "$1" = capture ]; then
		kafka_acl "$WORK/kafka" "$IKP" --allow-principal User:capture-p1 \
			--topic "$SECURED_TOPIC" --topic db1server.transaction \
			--operation Create --operation Write \
			--operation Describe --operation DescribeConfigs --operation AlterConfigs
	else
		kafka_acl "$WORK/kafka" "$IKP" --allow-principal User:apply-p1 \
			--topic "$SECURED_TOPIC" --topic db1server.transaction \
			--group cdc-agent.p1 --operation Read \
			--operation Describe
	fi
}

secured_env_up() { # [--pg-tls] [KAFKA_KEY_LINES]
	local tls=() to_localhost=
	if [ "${1:-}" = --pg-tls ]; then
		shift
		# Made before $WORK (capture_env_up) for tgt, which comes first.
		SECURED_PG_CA=$(mktemp -d /tmp/cdc-pgca.XXXXXX) &&
			pg_tls_ca "$SECURED_PG_CA" || return 1
		PG_TLS_CA=$SECURED_PG_CA
		tls=("sslmode = verify-full" "sslrootcert = $SECURED_PG_CA/ca.crt")
		to_localhost='s/^host = 127.0.0.1$/host = localhost/'
	fi
	CAPTURE_BROKER_START=secured_broker
	CAPTURE_KAFKA_HOST=localhost
	CAPTURE_KAFKA_KEYS="${1:-}security_protocol = sasl_ssl
sasl_mechanism = scram-sha-512
ssl_ca_file = @WORK@/tls/ca.pem
ssl_cert_file = @WORK@/tls/client.pem
ssl_key_file = @WORK@/tls/client.key
"
	pg_cluster_create tgt || return 1
	capture_env_up "
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 300) g;
" < <(
		{
			topology_source db1 my_publication my_slot db1server public.t "${tls[@]}"
			topology_target db2 PORT="$PG_PORT_tgt" SOCK="$PG_SOCK_tgt" "${tls[@]}"
		} | sed "$to_localhost" # the name the certificates carry
		topology_pipeline p1 db1 db2 \
			"capture_kafka_user = capture-p1" \
			"capture_kafka_password_file = @WORK@/capture-kafka.pass" \
			"apply_kafka_user = apply-p1" \
			"apply_kafka_password_file = @WORK@/apply-kafka.pass"
	)
}

pipeline_stop() { # PIPELINE
	kill "${CAPTURE_PIDS[$1]}" "${CAPTURE_PIDS[apply-$1]}" 2>/dev/null
	wait "${CAPTURE_PIDS[$1]}" "${CAPTURE_PIDS[apply-$1]}" 2>/dev/null
}

# The broker started again on the same directory and port, retried while
# ZooKeeper still holds the registration of a broker that died.
broker_start() {
	local zk i
	zk=$(sed -n 's/^zookeeper.connect=127.0.0.1://p' "$WORK/kafka/server.properties")
	for i in $(seq 1 10); do
		kafka_start_zk "$WORK/kafka" "$KP" "$zk" zookeeper.session.timeout.ms=6000 \
			>>"$WORK/broker-restart.log" 2>&1 && return 0
		sleep 2
	done
	return 1
}

# kill -9 of the broker, then broker_start.
broker_kill_restart() { # [SECONDS between]
	kill -9 "$(cat "$WORK/kafka/kafka.pid")" 2>/dev/null
	sleep "${1:-2}"
	broker_start
}

# Until FILE holds TEXT (fixed string) COUNT times; says what it missed.
log_wait() { # FILE TEXT SECONDS [COUNT]
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(grep -cF -- "$2" "$1" 2>/dev/null)" -ge "${4:-1}" ] && return 0
		sleep 0.1
	done
	echo "not in $1 within $3 s: $2"
	tail -n 5 "$1"
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
