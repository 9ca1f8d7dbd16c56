# shellcheck shell=bash
# scripts/lib/bench-connect.sh: the reference stack in scripts/bench-pipeline.sh,
# a standalone Kafka Connect worker (scripts/connect-dist.sh builds it) with
# Debezium's PostgreSQL source (pgoutput) and its JDBC sink, db1 -> db5.
# Sourced by bench-pipeline.sh after tests/lib/capture_env.sh (it uses
# _kl_launch, _kl_alive and _kl_stop_pidfile of tests/lib/kafka.sh, and the
# script's q, log, die, now).
#
#   connect_dist               BENCH_CONNECT auto|1|0 -> CONNECT_DIST, BENCH_CONNECT 1|0
#   connect_setup PG_PORT      its role, slot, publication, files; db5 made by the caller
#   connect_launch             the worker with both connectors (their files on its
#                              command line, as connect-standalone takes them)
#   connect_resume / connect_halt   PUT /connectors/NAME/resume | stop, both
#                              connectors, until they run or the slot is let go
#   connect_pid, connect_backends   for CPU accounting
#   connect_down               stops the worker
#
# Between its runs the connectors are stopped (Connect's STOPPED state: tasks
# shut down, the replication connection and the sink's pool closed), not the
# worker: the JVM keeps what it compiled, as a long-running worker would.
#
# Settings: what the issue asks (upsert, deletes with the record key,
# JsonConverter with schemas, pgoutput, its own slot and publication) and
# truncates carried (the runs empty their tables by TRUNCATE); everything else
# is Debezium's and Connect's default (connect-standalone.properties' flush
# interval; plugin.discovery=service_load, which Kafka recommends, saves a
# classpath scan of tens of seconds at start).  The JVM: connect-standalone's
# defaults (kafka-run-class.sh's heap and G1 settings).  CONNECT_SOURCE_PROPS
# and CONNECT_SINK_PROPS (key=value lines) add to the connectors' settings.
: "${CONNECT_BENCH_HEAP:=-Xms256m -Xmx2g}"
: "${CONNECT_BENCH_JVM:=-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15}"
CONNECT_SLOT=bench_dbz
CONNECT_PUB=bench_dbz
CONNECT_TOPICS="dbz.public.narrow_dbz,dbz.public.lat_dbz"
CONNECT_DIR='' CONNECT_URL='' CONNECT_VERSIONS_LINE=''

connect_dist() {
	case ${BENCH_CONNECT:-auto} in
	0) BENCH_CONNECT=0; return 0 ;;
	1 | auto) ;;
	*) die "BENCH_CONNECT must be auto, 0 or 1" ;;
	esac
	if CONNECT_DIST=$("$REPO_ROOT/scripts/connect-dist.sh" 2>"$WORK/connect-dist.log"); then
		CONNECT_VERSIONS_LINE=$(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }' "$CONNECT_DIST/VERSIONS")
		BENCH_CONNECT=1
		return 0
	fi
	[ "${BENCH_CONNECT:-auto}" = 1 ] && { tail -n 5 "$WORK/connect-dist.log" >&2; die "BENCH_CONNECT=1 but no Connect worker could be built"; }
	log "no Kafka Connect worker (scripts/connect-dist.sh: $(tail -n 1 "$WORK/connect-dist.log")): its rows are left out"
	BENCH_CONNECT=0
}

# Its role (TCP with a password: JDBC has no Unix-domain sockets), slot
# (made beforehand, as native replication's), publication, and its files.
# The broker creates its topics (auto.create.topics.enable, 1 partition) at
# the source's first record or the sink's first metadata request.
connect_setup() { # PG_PORT
	local hba=$PG_DIR_src/data/pg_hba.conf
	CONNECT_DIR=$WORK/connect
	mkdir -p "$CONNECT_DIR" && chmod 700 "$CONNECT_DIR" || return 1
	CONNECT_PW=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	# The password reaches psql on stdin, never its argv.
	printf "CREATE ROLE connect_user LOGIN SUPERUSER REPLICATION PASSWORD '%s';\n" "$CONNECT_PW" |
		"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK_src" -p "$1" -U postgres -d postgres >/dev/null || return 1
	{
		echo "host all connect_user 127.0.0.1/32 scram-sha-256"
		echo "host replication connect_user 127.0.0.1/32 scram-sha-256"
		cat "$hba"
	} >"$hba.new" && cat "$hba.new" >"$hba" && rm -f "$hba.new" || return 1
	q postgres "SELECT pg_reload_conf()" >/dev/null &&
		q db1 "CREATE PUBLICATION $CONNECT_PUB FOR TABLE narrow_dbz, lat_dbz" >/dev/null &&
		q db1 "SELECT pg_create_logical_replication_slot('$CONNECT_SLOT', 'pgoutput')" >/dev/null || return 1
	CONNECT_REST_PORT=$(free_port)
	CONNECT_URL=http://127.0.0.1:$CONNECT_REST_PORT
	(
		umask 077
		cat >"$CONNECT_DIR/worker.properties" <<EOF
bootstrap.servers=127.0.0.1:$KP
listeners=http://127.0.0.1:$CONNECT_REST_PORT
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=$CONNECT_DIR/offsets
offset.flush.interval.ms=10000
plugin.path=$CONNECT_DIST/plugins
plugin.discovery=service_load
EOF
		cat >"$CONNECT_DIR/source.properties" <<EOF
name=dbz-source
connector.class=io.debezium.connector.postgresql.PostgresConnector
tasks.max=1
database.hostname=127.0.0.1
database.port=$1
database.user=connect_user
database.password=$CONNECT_PW
database.dbname=db1
topic.prefix=dbz
plugin.name=pgoutput
slot.name=$CONNECT_SLOT
publication.name=$CONNECT_PUB
publication.autocreate.mode=disabled
table.include.list=public.narrow_dbz,public.lat_dbz
snapshot.mode=no_data
skipped.operations=none
EOF
		cat >"$CONNECT_DIR/sink.properties" <<EOF
name=dbz-sink
connector.class=io.debezium.connector.jdbc.JdbcSinkConnector
tasks.max=1
topics=$CONNECT_TOPICS
connection.url=jdbc:postgresql://127.0.0.1:$1/db5
connection.username=connect_user
connection.password=$CONNECT_PW
insert.mode=upsert
delete.enabled=true
primary.key.mode=record_key
truncate.enabled=true
collection.name.format=\${source.table}
EOF
		# Extra settings, one key=value a line (producer.override.*,
		# consumer.override.* included): the section lists them.
		[ -n "${CONNECT_SOURCE_PROPS:-}" ] && printf '%s\n' "$CONNECT_SOURCE_PROPS" >>"$CONNECT_DIR/source.properties"
		[ -n "${CONNECT_SINK_PROPS:-}" ] && printf '%s\n' "$CONNECT_SINK_PROPS" >>"$CONNECT_DIR/sink.properties"
		true
	)
}

connect_pid() { cat "$CONNECT_DIR/connect.pid" 2>/dev/null; }

# Starts the worker with both connectors; returns once its REST API answers.
connect_launch() {
	local pid i
	_kl_launch "$CONNECT_DIR/connect.log" "$CONNECT_DIR/connect.pid" "$CONNECT_BENCH_HEAP $CONNECT_BENCH_JVM" \
		-Dlog4j.configuration="file:$CONNECT_DIST/config/log4j.properties" \
		-cp "$CONNECT_DIST/libs/*" org.apache.kafka.connect.cli.ConnectStandalone \
		"$CONNECT_DIR/worker.properties" "$CONNECT_DIR/source.properties" "$CONNECT_DIR/sink.properties"
	pid=$(connect_pid)
	for ((i = 0; i < 1200; i++)); do
		_kl_alive "$pid" || { tail -n 30 "$CONNECT_DIR/connect.log" >&2; return 1; }
		curl -sf "$CONNECT_URL/connectors" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# "CONNECTOR_STATE TASK_STATES..." of NAME ("? ?" before the worker knows it).
connect_state() {
	curl -s "$CONNECT_URL/connectors/$1/status" 2>/dev/null | python3 -c 'import json, sys
try:
    s = json.load(sys.stdin)
    print(s["connector"]["state"], " ".join(t["state"] for t in s.get("tasks") or []) or "-")
except Exception:
    print("? ?")'
}

connect_wait_state() { # WANT ("RUNNING RUNNING" | "STOPPED -") SECONDS
	local i n st
	for ((i = 0; i < $2 * 5; i++)); do
		n=0
		for c in dbz-source dbz-sink; do
			st=$(connect_state "$c")
			[ "$st" = "$1" ] && n=$((n + 1))
			case " $st " in *" FAILED "*)
				curl -s "$CONNECT_URL/connectors/$c/status" | head -c 2000 >&2
				return 1 ;;
			esac
		done
		[ "$n" = 2 ] && return 0
		sleep 0.2
	done
	log "Connect's connectors not \"$1\" within $2 s: $(connect_state dbz-source) / $(connect_state dbz-sink)"
	return 1
}

connect_put() { # NAME stop|resume
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$CONNECT_URL/connectors/$1/$2")
	case $code in 200 | 202 | 204) ;; *) log "PUT /connectors/$1/$2: HTTP $code"; return 1 ;; esac
}

connect_resume() {
	connect_put dbz-source resume && connect_put dbz-sink resume && connect_wait_state "RUNNING RUNNING" 120
}

# Stops both connectors and waits until the slot is let go.
connect_halt() {
	local i
	connect_put dbz-source stop && connect_put dbz-sink stop && connect_wait_state "STOPPED -" 120 || return 1
	for ((i = 0; i < 300; i++)); do
		[ "$(q db1 "SELECT active FROM pg_replication_slots WHERE slot_name = '$CONNECT_SLOT'")" = f ] && return 0
		sleep 0.1
	done
	log "slot $CONNECT_SLOT still active after Connect's connectors stopped"
	return 1
}

# The sink's connections to db5 (its pool), comma-separated.
connect_backends() {
	q db5 "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE datname = 'db5'
		AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
}

connect_down() { [ -n "$CONNECT_DIR" ] && _kl_stop_pidfile "$CONNECT_DIR/connect.pid" connect; }

# "RECORDS_PER_BATCH BYTES_PER_RECORD" of TOPIC's partition 0 over the run,
# from the broker's log segments (v2 record batch headers: batchLength at
# byte 8, recordsCount at byte 57); bytes as stored (after compression).
topic_batches() { # TOPIC
	python3 - "$WORK/kafka/kafka-logs/$1-0" <<'PYEOF'
import glob, struct, sys
n = recs = size = 0
for f in glob.glob(sys.argv[1] + "/*.log"):
    b = open(f, "rb").read()
    i = 0
    while i + 61 <= len(b):
        length = struct.unpack(">i", b[i + 8:i + 12])[0]
        n += 1
        recs += struct.unpack(">i", b[i + 57:i + 61])[0]
        size += 12 + length
        i += 12 + length
print("%.0f %.0f" % (recs / n, size / recs) if n and recs else "? ?")
PYEOF
}
