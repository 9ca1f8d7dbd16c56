#!/usr/bin/env bash
# scripts/bench-agent.sh: what the long-running agent costs.
#
#   scripts/bench-agent.sh        (as root, after `make`; `make bench` runs it)
#
# In a systemd container (tests/lib/container.sh) with the seed topology:
# bootstrap, then cdc-agent.service (`run`, reconcile_seconds = PERIOD) for
# DURATION seconds while pgbench writes RATE rows/s into db1.my_table.  Read
# side by side over the same window: the agent's CPU per reconcile pass (its
# own getrusage figure, from GET /status after every pass), wall time per
# pass, its total CPU (passes + status collections + HTTP) and peak RSS
# (VmHWM), and the same CPU and RSS figures of the pipeline's capture and
# apply processes.  Writes the section "## Agent footprint" of
# docs/BENCHMARKS.md and prints it.
#
# Env: DURATION (120) PERIOD (5) RATE (200) CDC_AGENT (./cdc-agent)
#      BENCH_OUT (docs/BENCHMARKS.md)
set -euo pipefail
export LC_ALL=C
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CDC_AGENT=${CDC_AGENT:-$REPO_ROOT/cdc-agent}
DURATION=${DURATION:-120}
PERIOD=${PERIOD:-5}
RATE=${RATE:-200}
BENCH_OUT=${BENCH_OUT:-$REPO_ROOT/docs/BENCHMARKS.md}
SECTION="## Agent footprint"
INI=/etc/cdc-agent/cdc-agent.ini

log() { printf 'bench-agent: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (it boots a systemd container)"
[ -x "$CDC_AGENT" ] || die "$CDC_AGENT missing: run make first"

. "$REPO_ROOT/tests/lib/container.sh"
. "$REPO_ROOT/tests/lib/seed.sh"
. "$REPO_ROOT/scripts/lib/bench-section.sh"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SEED_PG_PORT=$(free_port) ZKP=$(free_port) KP=$(free_port) SP=$(free_port)
DIST=$("$REPO_ROOT/scripts/kafka-dist.sh")
SHA=$(cut -d' ' -f1 "$DIST.sha512")
WORK=$(mktemp -d /tmp/cdc-bench-agent.XXXXXX)
trap 'ct_shutdown; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# "<cpu seconds> <VmHWM KiB> <VmRSS KiB>" of a unit's main process.
proc_stats() { # UNIT
	local pid
	pid=$(ct_exec systemctl show -p MainPID --value "$1")
	ct_exec sh -c "awk '{printf \"%.2f \", (\$14 + \$15) / 100}' /proc/$pid/stat;
		awk '/^VmHWM/ {printf \"%s \", \$2} /^VmRSS/ {print \$2}' /proc/$pid/status"
}

ct_boot cdc-bench-agent || die "container did not boot"
seed_prepare || die "seed database"
ct_copy_in "$CDC_AGENT" /usr/local/bin/cdc-agent
mkdir -p "$CT_DIR/root/usr/local/share/cdc-agent"
cp -r "$REPO_ROOT/units" "$REPO_ROOT/templates" "$CT_DIR/root/usr/local/share/cdc-agent/"
sed -e "s|^sha512 = .*|sha512 = $SHA|" -e "s|^dist = .*|dist = file://$DIST|" \
	-e "s|^port = 5432|port = $SEED_PG_PORT|" \
	-e "s|^bootstrap_servers = .*|bootstrap_servers = 127.0.0.1:$KP|" \
	-e "s|^connect = .*|connect = 127.0.0.1:$ZKP|" \
	-e "s|^state_dir = .*|&\nreconcile_seconds = $PERIOD\nstatus_listen = 127.0.0.1:$SP|" \
	"$REPO_ROOT/cdc-agent.ini" >"$WORK/agent.ini"
ct_copy_in "$WORK/agent.ini" $INI
log "bootstrap"
ct_exec /usr/local/bin/cdc-agent -c $INI bootstrap >"$WORK/bootstrap.log" 2>&1 ||
	{ tail -n 30 "$WORK/bootstrap.log"; die "bootstrap failed"; }
ct_exec systemctl start cdc-agent.service || die "cdc-agent.service did not start"

# The load: one INSERT ... ON CONFLICT UPDATE per transaction at RATE/s.
ct_exec sh -c "printf '\\\\set id random(1, 100000)\nINSERT INTO public.my_table (id, name) VALUES (:id, md5(:id::text)) ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = now();\n' >/tmp/load.sql"
load_before=$(cut -d' ' -f1 /proc/loadavg)
before_agent=$(proc_stats cdc-agent.service)
before_capture=$(proc_stats cdc-capture@db1-to-db2.service)
before_apply=$(proc_stats cdc-apply@db1-to-db2.service)
log "load: $RATE rows/s for $DURATION s; reconcile every $PERIOD s"
ct_exec runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -n -p "$SEED_PG_PORT" -f /tmp/load.sql \
	-R "$RATE" -T "$DURATION" db1 >"$WORK/pgbench.log" 2>&1 &
load_pid=$!
last=0
: >"$WORK/passes"
end=$((SECONDS + DURATION))
while [ $SECONDS -lt $end ]; do
	curl -s --max-time 5 "http://127.0.0.1:$SP/status" >"$WORK/status.json" || true
	python3 - "$WORK/status.json" "$last" >>"$WORK/passes" <<'PY' || true
import json, sys
a = json.load(open(sys.argv[1]))["agent"]
if a["last_reconcile_usec"] != int(sys.argv[2]):
    print(a["last_reconcile_usec"], a["last_reconcile_seconds"], a["last_reconcile_cpu_seconds"], a["rss_bytes"])
PY
	last=$(tail -n 1 "$WORK/passes" | cut -d' ' -f1)
	last=${last:-0}
	sleep 1
done
wait $load_pid || die "pgbench failed: $(tail -n 5 "$WORK/pgbench.log")"
after_agent=$(proc_stats cdc-agent.service)
after_capture=$(proc_stats cdc-capture@db1-to-db2.service)
after_apply=$(proc_stats cdc-apply@db1-to-db2.service)
rows=$(seed_psql db1 "SELECT count(*) FROM public.my_table")
load_after=$(cut -d' ' -f1 /proc/loadavg)

python3 - "$WORK/passes" "$DURATION" "$before_agent" "$after_agent" "$before_capture" \
	"$after_capture" "$before_apply" "$after_apply" "$RATE" "$PERIOD" "$rows" "$load_before" "$load_after" >"$WORK/section.md" <<'PY'
import statistics, sys, datetime, os
passes = [l.split() for l in open(sys.argv[1]) if l.strip()]
dur = float(sys.argv[2])
def delta(b, a):
    b, a = b.split(), a.split()
    return float(a[0]) - float(b[0]), int(a[1]) / 1024
agent_cpu, agent_hwm = delta(sys.argv[3], sys.argv[4])
cap_cpu, cap_hwm = delta(sys.argv[5], sys.argv[6])
app_cpu, app_hwm = delta(sys.argv[7], sys.argv[8])
rate, period, rows = sys.argv[9], sys.argv[10], sys.argv[11]
wall = [float(p[1]) for p in passes]
cpu = [float(p[2]) for p in passes]
ms = lambda v: "%.1f ms" % (v * 1000)
now = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
print("## Agent footprint")
print()
print("Produced by `scripts/bench-agent.sh` (`make bench`) on %s, %d CPUs, in a systemd-nspawn" % (now, os.cpu_count()))
print("container with the seed topology (ZooKeeper mode): `cdc-agent run` under cdc-agent.service")
print("reconciling every %s s for %.0f s while pgbench wrote %s upserts/s into db1.my_table" % (period, dur, rate))
print("(%s rows at the end); capture and apply measured over the same window. The machine's" % rows)
print("1-minute load average was %s at the start and %s at the end." % (sys.argv[12], sys.argv[13]))
print()
print("| process | CPU over the window | share of one core | peak RSS (VmHWM) |")
print("|---|---:|---:|---:|")
for name, c, h in (("cdc-agent run", agent_cpu, agent_hwm), ("capture", cap_cpu, cap_hwm), ("apply", app_cpu, app_hwm)):
    print("| %s | %.2f s | %.2f %% | %.1f MiB |" % (name, c, 100 * c / dur, h))
print()
if cpu:
    print("Reconcile passes seen: %d. CPU per pass (the agent's getrusage): median %s, max %s;" % (len(cpu), ms(statistics.median(cpu)), ms(max(cpu))))
    print("wall time per pass: median %s, max %s (PostgreSQL queries, D-Bus calls; no unit needed" % (ms(statistics.median(wall)), ms(max(wall))))
    print("a start). The rest of the agent's CPU is its status collections (every 10 s: Kafka")
    print("metadata and watermarks, the slot query, the target's offsets) and the HTTP polling of")
    print("this script. Side by side: the agent used %.2f× the CPU of capture + apply at this rate." % (agent_cpu / max(cap_cpu + app_cpu, 1e-9)))
PY
bench_write_section "$SECTION" "$WORK/section.md" "$BENCH_OUT"
log "wrote section \"$SECTION\" of $BENCH_OUT"
cat "$WORK/section.md"
