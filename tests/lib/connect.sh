# shellcheck shell=bash
# tests/lib/connect.sh: a standalone Kafka Connect worker (built by
# scripts/connect-dist.sh) against a test broker, and its REST API.
# Source it after kafka.sh (it uses _kl_launch/_kl_stop_pidfile/_kl_alive).
#
#   connect_start DIST DIR BROKER_PORT REST_PORT [key=value...]
#       worker.properties in DIR (JsonConverter, schemas.enable=true for keys
#       and values as Connect's stock properties; offsets in DIR), log in
#       DIR/connect.log; returns when the REST API answers
#   connect_create URL NAME CONFIG_JSON   POST /connectors; prints the answer on failure
#   connect_wait_running URL NAME SECONDS connector and every task RUNNING (prints
#                                         the status, with the trace, on failure)
#   connect_task_state URL NAME           state of task 0 (RUNNING, FAILED, ...)
#   connect_stop DIR
#
# Tunables: CONNECT_HEAP_OPTS (-Xms128m -Xmx512m), CONNECT_START_TIMEOUT (s, 120).
: "${CONNECT_HEAP_OPTS:=-Xms128m -Xmx512m}"
: "${CONNECT_JVM_OPTS:=-XX:+UseSerialGC -XX:TieredStopAtLevel=1}"
: "${CONNECT_START_TIMEOUT:=120}"

_cn_log() { printf 'connect.sh: %s\n' "$*" >&2; }

connect_start() { # DIST DIR BROKER_PORT REST_PORT [key=value...]
	local dist=$1 dir=$2 kport=$3 rport=$4 pid deadline=$((SECONDS + CONNECT_START_TIMEOUT))
	shift 4
	[[ -f $dist/.complete ]] || { _cn_log "ERROR: $dist is no complete Connect build"; return 1; }
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
	{
		echo "bootstrap.servers=127.0.0.1:$kport"
		echo "listeners=http://127.0.0.1:$rport"
		echo "key.converter=org.apache.kafka.connect.json.JsonConverter"
		echo "value.converter=org.apache.kafka.connect.json.JsonConverter"
		echo "key.converter.schemas.enable=true"
		echo "value.converter.schemas.enable=true"
		echo "offset.storage.file.filename=$dir/offsets"
		echo "offset.flush.interval.ms=1000"
		echo "plugin.path=$dist/plugins"
		# Debezium's connectors declare themselves in META-INF/services: no
		# classpath scan (it costs tens of seconds on 2 cores).
		echo "plugin.discovery=service_load"
		printf '%s\n' "$@"
	} >"$dir/worker.properties"
	_kl_launch "$dir/connect.log" "$dir/connect.pid" "$CONNECT_HEAP_OPTS $CONNECT_JVM_OPTS" \
		-Dlog4j.configuration="file:$dist/config/log4j.properties" \
		-cp "$dist/libs/*" org.apache.kafka.connect.cli.ConnectStandalone "$dir/worker.properties"
	pid=$(<"$dir/connect.pid")
	while ((SECONDS < deadline)); do
		_kl_alive "$pid" || { _kl_fail "Connect exited during startup" "$dir/connect.log"; return 1; }
		if curl -sf "http://127.0.0.1:$rport/connectors" >/dev/null 2>&1; then
			_cn_log "connect up on 127.0.0.1:$rport (pid $pid)"
			return 0
		fi
		sleep 0.5
	done
	_kl_fail "Connect's REST API gave no answer on 127.0.0.1:$rport within ${CONNECT_START_TIMEOUT}s" "$dir/connect.log"
	connect_stop "$dir"
	return 1
}

connect_create() { # URL NAME CONFIG_JSON
	local out
	out=$(python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "config": json.loads(sys.argv[2])}))' "$2" "$3" |
		curl -s -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @- "$1/connectors")
	case ${out##*$'\n'} in
	201 | 200) return 0 ;;
	*) _cn_log "ERROR: POST /connectors ($2): ${out}"; return 1 ;;
	esac
}

# "CONNECTOR_STATE TASK0_STATE" (or "? ?" when the worker does not know it yet).
_cn_states() { # URL NAME
	curl -s "$1/connectors/$2/status" 2>/dev/null | python3 -c 'import json,sys
try:
    s = json.load(sys.stdin)
    t = s.get("tasks") or [{"state": "?"}]
    print(s["connector"]["state"], " ".join(x["state"] for x in t))
except Exception:
    print("? ?")'
}

connect_task_state() { _cn_states "$1" "$2" | awk '{print $2}'; }

connect_wait_running() { # URL NAME SECONDS
	local i st
	for ((i = 0; i < $3 * 2; i++)); do
		st=$(_cn_states "$1" "$2")
		case " $st " in
		*" FAILED "*) break ;;
		" RUNNING RUNNING ") return 0 ;;
		esac
		sleep 0.5
	done
	echo "connector $2: $st"
	curl -s "$1/connectors/$2/status" | head -c 1500
	return 1
}

connect_stop() { _kl_stop_pidfile "$1/connect.pid" connect; }
