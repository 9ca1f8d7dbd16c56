#!/usr/bin/env bash
# The long-running agent (`cdc-agent run` under cdc-agent.service) in a
# systemd container with the seed topology: it reaches READY; a kill -9 of
# kafka and of a capture unit (made unable to restart itself) is repaired and
# no row is lost (row-by-row digest); a unit stopped on purpose stays
# stopped; SIGHUP with one more table adds it to the publication and the
# pipeline; an invalid topology on SIGHUP keeps the one in force; the status
# endpoints answer in Kafka Connect's and Prometheus's shapes (read with
# curl) and `status` prints its table and JSON; a record apply cannot go
# past leaves its unit failed (exit 65) and status FAILED, with no retry
# loop, until the operator acts; SIGTERM stops it cleanly.
# runs-under-sanitizer
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
trap 'ct_shutdown' EXIT
PERIOD=5
CAPTURE=cdc-capture@db1-to-db2.service
APPLY=cdc-apply@db1-to-db2.service
INI=/etc/cdc-agent/cdc-agent.ini

agent() { ct_exec env ASAN_OPTIONS="${ASAN_OPTIONS:-}" /usr/local/bin/cdc-agent -c $INI "$@"; }
unit_prop() { ct_exec systemctl show -p "$2" --value "$1"; }
digest() { # DB TABLE
	seed_psql "$1" "SELECT count(*) || md5(coalesce(string_agg(id || ':' || coalesce(name, '~'), ',' ORDER BY id), '')) FROM $2" 2>/dev/null
}
# Waits until db2's TABLE equals db1's, row by row; prints the last digests.
converged() { # TABLE SECONDS
	local want got i
	for i in $(seq $(($2 * 2))); do
		want=$(digest db1 "$1")
		got=$(digest db2 "$1")
		[ -n "$want" ] && [ "$got" = "$want" ] && return 0
		sleep 0.5
	done
	echo "db1: $want db2: $got"
	return 1
}
wait_for() { # SECONDS COMMAND...
	local t=$1 i
	shift
	for i in $(seq $((t * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
	return 1
}
unit_is() { [ "$(unit_prop "$1" ActiveState)" = "$2" ]; }
http() { curl -sS --max-time 5 "http://127.0.0.1:$SP$1"; }
load() { # FROM TO: rows written while something is being broken
	seed_psql db1 "INSERT INTO public.my_table (id, name) SELECT g, 'row ' || g FROM generate_series($1, $2) g;
		UPDATE public.my_table SET name = name || '+' WHERE id % 7 = 0 AND id BETWEEN $1 AND $2;
		DELETE FROM public.my_table WHERE id % 11 = 0 AND id BETWEEN $1 AND $2" >/dev/null
}

ct_boot cdc-run || { _fail "container boots"; finish; exit; }
seed_prepare || { _fail "seed database prepared"; finish; exit; }
seed_psql db1 "CREATE TABLE public.other_table (id int PRIMARY KEY, name text)" >/dev/null
seed_install_agent "$CDC_AGENT" \
	"s|^state_dir = .*|&\nreconcile_seconds = $PERIOD\nstatus_listen = 127.0.0.1:$SP|" ||
	{ _fail "agent installed in the container"; finish; exit; }
load 1 200

# LeakSanitizer cannot run inside the units' sandbox (no ptrace): under the
# sanitizer build, units check memory errors only; the agent's leaks are
# checked below by running it by hand.
if [[ $CDC_AGENT == */asan/* ]]; then
	for u in cdc-agent.service cdc-capture@.service cdc-apply@.service; do
		ct_exec sh -c "mkdir -p /run/systemd/system/$u.d && printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' >/run/systemd/system/$u.d/asan.conf"
	done
fi
# bootstrap installs cdc-agent.service with the rest; the operator enables it.
out=$(agent bootstrap 2>&1) || { _fail "bootstrap" "$(tail -n 30 <<<"$out"; ct_exec journalctl -u $CAPTURE --no-pager | tail -n 20)"; finish; exit; }
ct_exec systemctl enable cdc-agent.service >/dev/null 2>&1
t0=$(date +%s.%N)
check "systemctl start cdc-agent.service returns (Type=notify: after READY=1)" \
	ct_exec systemctl start cdc-agent.service
echo "# agent start to READY (nothing to change): $(echo "$(date +%s.%N) - $t0" | bc) s"
check_eq "the agent is active" active "$(unit_prop cdc-agent.service ActiveState)"
check_contains "its STATUS= says it converged" "converged" "$(unit_prop cdc-agent.service StatusText)"
check "rows replicate db1 -> db2" converged public.my_table 60

# --- the sandbox it ran in: rated by systemd in the container, as loaded ----
check_eq "the agent runs under ProtectSystem=strict" strict "$(unit_prop cdc-agent.service ProtectSystem)"
for u in cdc-agent.service:25 kafka.service:17 zookeeper.service:17 $CAPTURE:17 $APPLY:17; do
	sec=$(ct_exec systemd-analyze security --threshold="${u#*:}" "${u%:*}" 2>&1); rc=$?
	echo "# $(grep -o 'Overall exposure level for .*: [0-9.]*' <<<"$sec")"
	check_eq "systemd-analyze security rates ${u%:*} at most ${u#*:} tenths" 0 "$rc"
done
for u in cdc-agent.service $CAPTURE $APPLY; do
	check_eq "$u: no core files (LimitCORE=0)" 0 "$(unit_prop "$u" LimitCORE)"
done
# A non-dumpable process's /proc/PID files belong to root: capture runs as
# cdc-agent and made itself non-dumpable before reading its password file.
pid=$(unit_prop $CAPTURE MainPID)
check_eq "capture runs as cdc-agent" cdc-agent "$(ct_exec ps -o user= -p "$pid" | tr -d ' ')"
check_eq "and is not dumpable (/proc/PID/environ owned by root)" root \
	"$(ct_exec stat -c %U "/proc/$pid/environ")"

# --- status endpoints, read with curl --------------------------------------
wait_for 20 sh -c "curl -sf http://127.0.0.1:$SP/connectors/source-db1/status | grep -q RUNNING"
out=$(http /connectors)
check_eq "GET /connectors lists the runbook's connector names" '["source-db1","sink-db2"]' \
	"$(python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), separators=(",", ":")))' <<<"$out")"
out=$(http /connectors/source-db1/status)
check_eq "GET /connectors/source-db1/status has Kafka Connect's shape" \
	"source-db1 RUNNING source 0 RUNNING 127.0.0.1:$SP" \
	"$(python3 -c 'import json,sys; d=json.load(sys.stdin); t=d["tasks"][0]; print(d["name"], d["connector"]["state"], d["type"], t["id"], t["state"], d["connector"]["worker_id"])' <<<"$out")"
out=$(http /connectors/sink-db2/status)
check_contains "GET /connectors/sink-db2/status is the sink" '"type": "sink"' "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SP/connectors/nope/status")
check_eq "an unknown connector is a 404" 404 "$code"
out=$(http /metrics)
check_contains "GET /metrics: Prometheus text" "# TYPE cdc_agent_slot_retained_wal_bytes gauge" "$out"
check_contains "with the slot's retained WAL" 'cdc_agent_slot_retained_wal_bytes{source="db1",slot="my_slot",pipeline="db1-to-db2"}' "$out"
check_contains "and the reconcile counter" "cdc_agent_reconciles_total" "$out"
if command -v promtool >/dev/null; then
	check "promtool accepts /metrics" sh -c "curl -s http://127.0.0.1:$SP/metrics | promtool check metrics"
fi
out=$(http /status)
check_eq "GET /status: the documented JSON" "1 RUNNING True" \
	"$(python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["pipelines"][0]; print(d["schema_version"], p["state"], p["slot"]["retained_bytes"] >= 0)' <<<"$out")"
out=$(agent status 2>&1); rc=$?
check_eq "status exits 0 when everything runs" 0 "$rc"
check_contains "status prints the pipeline's line" "db1-to-db2       RUNNING" "$out"
out=$(agent status --json 2>&1)
check_eq "status --json is the agent's document" "True" \
	"$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["agent"]["reconciles"] >= 1)' <<<"$out")"

# --- kill -9 of kafka: systemd's Restart= and the agent bring it back --------
before=$(unit_prop kafka.service ActiveEnterTimestampMonotonic)
ct_exec systemctl kill -s KILL kafka.service
load 201 400
check "kafka is active again after kill -9" wait_for 60 sh -c \
	"[ \"\$(nsenter -t $CT_LEADER -a systemctl show -p ActiveEnterTimestampMonotonic --value kafka.service)\" != $before ] && nsenter -t $CT_LEADER -a systemctl is-active -q kafka.service"
load 401 500
check "no row lost across the kafka kill (row by row)" converged public.my_table 120

# --- kill -9 of capture, with its own Restart= off: only the agent repairs it
ct_exec sh -c 'mkdir -p /run/systemd/system/cdc-capture@.service.d &&
	printf "[Service]\nRestart=no\n" >/run/systemd/system/cdc-capture@.service.d/test-no-restart.conf &&
	systemctl daemon-reload'
ct_exec systemctl kill -s KILL $CAPTURE
check "capture is failed after kill -9 (Restart=no)" wait_for 10 unit_is $CAPTURE failed
load 501 700
check "the agent starts the failed capture again" wait_for $((PERIOD * 4)) unit_is $CAPTURE active
check_contains "and says so in its journal" "start $CAPTURE (it had failed)" \
	"$(ct_exec journalctl -u cdc-agent.service --no-pager -o cat)"
load 701 800
check "no row lost across the capture kill (row by row)" converged public.my_table 120

# --- a unit stopped on purpose stays stopped --------------------------------
ct_exec systemctl stop $APPLY
sleep $((PERIOD * 3))
check_eq "apply stopped by the operator stays stopped over 3 reconciles" inactive \
	"$(unit_prop $APPLY ActiveState)"
out=$(http /connectors/sink-db2/status)
check_contains "Kafka Connect's view says STOPPED" '"state": "STOPPED"' "$out"
out=$(agent status 2>&1); rc=$?
check_eq "status exits 1 when a pipeline is not RUNNING" 1 "$rc"
check_contains "status shows it, with the reason" "apply stopped by an operator" "$out"
ct_exec systemctl start $APPLY
check "no row lost once the operator starts it again" converged public.my_table 120

# --- SIGHUP: one more table ----------------------------------------------------
seed_psql db1 "INSERT INTO public.other_table SELECT g, 'other ' || g FROM generate_series(1, 50) g" >/dev/null
ct_exec sed -i 's/^tables = public.my_table$/tables = public.my_table, public.other_table/' $INI
ct_exec systemctl reload cdc-agent.service
check "SIGHUP adds the table to the publication" wait_for 30 sh -c \
	"[ \"\$(nsenter -t $CT_LEADER -a runuser -u postgres -- psql -X -A -t -p $SEED_PG_PORT -d db1 -c \"SELECT count(*) FROM pg_publication_tables WHERE pubname = 'my_publication' AND tablename = 'other_table'\")\" = 1 ]"
seed_psql db1 "INSERT INTO public.other_table SELECT g, 'other ' || g FROM generate_series(51, 80) g" >/dev/null
check "and to the pipeline: its rows reach db2 (snapshot and stream)" converged public.other_table 120
check "my_table still replicates" converged public.my_table 60

# --- a slot no pipeline reads: reported (journal once, status, metrics), kept --
seed_psql db1 "SELECT pg_create_logical_replication_slot('old_slot', 'pgoutput')" >/dev/null
check "the agent warns about the orphan slot" wait_for $((PERIOD * 4)) sh -c \
	"nsenter -t $CT_LEADER -a journalctl -u cdc-agent.service -o cat | grep -q 'slot old_slot on source db1 belongs to no pipeline'"
sleep $((PERIOD * 2 + 1))
check_eq "once, not at every collection" 1 \
	"$(ct_exec journalctl -u cdc-agent.service -o cat | grep -c 'slot old_slot on source db1 belongs to no pipeline')"
check_contains "/metrics has it with an empty pipeline label" \
	'cdc_agent_slot_retained_wal_bytes{source="db1",slot="old_slot",pipeline=""}' "$(http /metrics)"
check_contains "status lists it among its warnings" "slot old_slot on source db1 has no pipeline" "$(agent status 2>&1)"
check_eq "and it is never dropped by the agent" 1 \
	"$(seed_psql db1 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'old_slot'")"
seed_psql db1 "SELECT pg_drop_replication_slot('old_slot')" >/dev/null

# --- an invalid topology on SIGHUP keeps the one in force ----------------------
ct_exec cp $INI /etc/cdc-agent/good.ini
ct_exec sed -i 's/^\[agent\]$/[agent]\nbogus_key = 1/' $INI
ct_exec systemctl reload cdc-agent.service
sleep 2
check_eq "the agent survives an invalid topology on reload" active "$(unit_prop cdc-agent.service ActiveState)"
check_contains "and names the file, line and key at fault" "cdc-agent.ini:7: error: unknown key 'bogus_key'" \
	"$(ct_exec journalctl -u cdc-agent.service --no-pager -o cat | grep bogus_key)"
check_contains "its STATUS= says the previous topology runs" "reload FAILED" \
	"$(unit_prop cdc-agent.service StatusText)"
ct_exec cp /etc/cdc-agent/good.ini $INI

# --- one convergence at a time: bootstrap waits for the lock run holds ---------
ct_exec sh -c 'flock /var/lib/cdc-agent/root/converge.lock sleep 4 >/dev/null 2>&1 &'
sleep 0.5
out=$(agent bootstrap 2>&1); rc=$?
check_eq "bootstrap waits for a held convergence lock, then succeeds" 0 "$rc"
check_contains "and says what it waits for" "waiting for another cdc-agent (bootstrap or run)" "$out"

# --- a record apply cannot go past: left failed, status FAILED, no retry loop ----
printf '{"id":1}\t{"before":null,"after":{"id":1,"name":"x"},"source":{"schema":"public","table":"victim"},"op":"c"}\n' |
	kcat -b "127.0.0.1:$KP" -P -t db1server.public.my_table -p 0 -K $'\t'
check "apply stops on a record naming another table: its unit fails" wait_for 60 unit_is $APPLY failed
check_eq "with exit code 65, which its unit does not restart on" 65 "$(unit_prop $APPLY ExecMainStatus)"
inv=$(unit_prop $APPLY InvocationID)
sleep $((PERIOD * 3))
check_eq "the agent leaves it failed over 3 reconciles, never starting it again" "failed $inv" \
	"$(unit_prop $APPLY ActiveState) $(unit_prop $APPLY InvocationID)"
check_contains "and says why in its journal" "$APPLY stopped on input it cannot go past (exit 65" \
	"$(ct_exec journalctl -u cdc-agent.service --no-pager -o cat)"
out=$(agent status 2>&1); rc=$?
check_eq "status exits 1" 1 "$rc"
check_contains "status says the pipeline FAILED" "db1-to-db2       FAILED" "$out"
check_contains "Kafka Connect's view of the sink says FAILED" '"state": "FAILED"' "$(http /connectors/sink-db2/status)"
# The operator skips the record (its offset is in apply's journal) and starts apply.
off=$(ct_exec journalctl -u $APPLY --no-pager -o cat | sed -n 's/.*partition 0 offset \([0-9]*\): refused: .*/\1/p' | tail -n 1)
check "apply's error names the record's offset" test -n "$off"
seed_psql db2 "INSERT INTO cdc_agent.offsets (pipeline, topic, partition, next_offset)
	VALUES ('db1-to-db2', 'db1server.public.my_table', 0, ${off:-0} + 1)
	ON CONFLICT (pipeline, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset" >/dev/null
ct_exec systemctl start $APPLY
load 2001 2100
check "no row lost once the operator skips it and starts apply" converged public.my_table 120

# --- what the agent costs (docs/BENCHMARKS.md) ----------------------------------
out=$(http /status)
echo "# agent: $(python3 -c 'import json,sys; a=json.load(sys.stdin)["agent"]; print("rss %.1f MiB, reconciles %d, last reconcile %.3f s wall %.3f s cpu" % (a["rss_bytes"]/1048576, a["reconciles"], a["last_reconcile_seconds"], a["last_reconcile_cpu_seconds"]))' <<<"$out")"

pid=$(unit_prop cdc-agent.service MainPID)
echo "# agent: cpu total $(ct_exec awk '{printf "%.2f", ($14 + $15) / 100}' /proc/$pid/stat) s (user+sys) over $(python3 -c 'import json,sys; print(json.load(sys.stdin)["agent"]["reconciles"])' <<<"$out") reconciles"
ct_exec journalctl -u cdc-agent.service -o cat | grep " took " | sed "s/^/# slow pass: /" | tail -n 5
[ "$TESTS_FAILED" -gt 0 ] &&
	ct_exec journalctl -u cdc-agent.service -u $APPLY -u $CAPTURE --no-pager -o short-monotonic | tail -n 80 | sed 's/^/# journal: /'
# --- SIGTERM ----------------------------------------------------------------------
ct_exec systemctl stop cdc-agent.service
check_eq "SIGTERM: the agent exits cleanly" "inactive success" \
	"$(unit_prop cdc-agent.service ActiveState) $(unit_prop cdc-agent.service Result)"
check_eq "and the pipeline keeps running without it" active "$(unit_prop $CAPTURE ActiveState)"
out=$(agent status --json 2>/dev/null)
check_eq "status without the agent collects the document itself" "False RUNNING True" \
	"$(python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["pipelines"][0]; print("agent" in d, p["state"], p["apply"]["lag_events"] >= 0)' <<<"$out")"
check_contains "and its table says the agent is not running" "the agent is not running" "$(agent status 2>&1)"
# By hand (no NOTIFY_SOCKET, no sandbox): one pass, then SIGTERM; under the
# sanitizer build this is the leak check of run's whole loop and reload.
out=$(ct_exec sh -c "/usr/local/bin/cdc-agent -v -c $INI run >/tmp/run.log 2>&1 & pid=\$!; sleep 12; curl -s http://127.0.0.1:$SP/status >/tmp/byhand.json; kill -HUP \$pid; sleep 8; kill -TERM \$pid; wait \$pid; echo rc=\$?; cat /tmp/run.log")
check_contains "run by hand: a reload, then SIGTERM exits 0" "rc=0" "$out"
check_not_contains "and no sanitizer report" "Sanitizer" "$out"
check_contains "it reconciled after the reload" "reconcile (reload)" "$out"
echo "# agent by hand (no sandbox): $(ct_exec cat /tmp/byhand.json | python3 -c 'import json,sys; a=json.load(sys.stdin)["agent"]; print("rss %.1f MiB, last reconcile %.3f s wall %.3f s cpu" % (a["rss_bytes"]/1048576, a["last_reconcile_seconds"], a["last_reconcile_cpu_seconds"]))')"
ct_shutdown
trap - EXIT
finish
