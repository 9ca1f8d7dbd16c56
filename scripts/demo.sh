#!/usr/bin/env bash
# scripts/demo.sh (make demo): the seed runbook on this machine, in a
# throwaway systemd container (nothing on the host changes; needs root).
#
# The container starts as the runbook does: Debian's PostgreSQL 15/main with
# default settings and db1.public.my_table.  `cdc-agent bootstrap` with the
# repo's cdc-agent.ini then does the rest: PostgreSQL configured (and
# restarted over D-Bus), roles, publication, db2; Kafka installed from its
# tarball (SHA-512 checked); ZooKeeper, Kafka, capture and apply running as
# systemd units.  Rows written to db1 are shown arriving in db2, and a
# second bootstrap changes nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/lib/container.sh"
. "$ROOT/tests/lib/seed.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
AGENT=/usr/local/bin/cdc-agent
INI=/etc/cdc-agent/cdc-agent.ini

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it boots a systemd container)" >&2
	exit 1
fi
for port in 5432 2181 9092 8083; do
	if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
		echo "demo: port $port is in use on this machine; the container's services need it" >&2
		exit 1
	fi
done
say "building the Kafka distribution tarball from Maven Central (cached after the first run)"
DIST=$("$ROOT/scripts/kafka-dist.sh")
SHA=$(cut -d' ' -f1 "$DIST.sha512")

trap ct_shutdown EXIT
say "booting a throwaway systemd container"
ct_boot cdc-demo
say "the runbook's starting point: PostgreSQL 15/main with defaults, db1.public.my_table"
seed_prepare
seed_psql db1 "INSERT INTO public.my_table (id, name) VALUES (1, 'written before bootstrap')"
seed_psql db1 "SHOW wal_level" | sed 's/^/wal_level = /'
# Installed into the container as a package would (it has its own /tmp).
ct_copy_in "$ROOT/cdc-agent" "$AGENT"
mkdir -p "$CT_DIR/root/usr/local/share/cdc-agent"
cp -r "$ROOT/units" "$ROOT/templates" "$CT_DIR/root/usr/local/share/cdc-agent/"
sed -e "s|^sha512 = .*|sha512 = $SHA|" -e "s|^dist = .*|dist = file://$DIST|" \
	"$ROOT/cdc-agent.ini" >"$ROOT/build/demo.ini"
ct_copy_in "$ROOT/build/demo.ini" "$INI"

say "cdc-agent check"
ct_exec "$AGENT" -c "$INI" check
say "cdc-agent plan (exit 2: changes pending)"
ct_exec "$AGENT" -c "$INI" plan || [ $? -eq 2 ]
say "cdc-agent bootstrap"
ct_exec "$AGENT" -c "$INI" bootstrap
say "units, as systemd reports them"
ct_exec systemctl --no-pager list-units 'zookeeper.service' 'kafka.service' 'cdc-*' | head -n 8

say "writing rows into db1.public.my_table"
seed_psql db1 "INSERT INTO public.my_table (id, name) VALUES (2, 'two'), (3, 'three'); UPDATE public.my_table SET name = 'uno' WHERE id = 1"
seed_psql db1 "SELECT id, name FROM public.my_table ORDER BY id"
say "... and watching them arrive in db2.public.my_table"
for _ in $(seq 60); do
	[ "$(seed_psql db2 "SELECT count(*) FROM public.my_table WHERE name IN ('uno', 'two', 'three')" 2>/dev/null)" = 3 ] && break
	sleep 0.5
done
seed_psql db2 "SELECT id, name FROM public.my_table ORDER BY id"

say "cdc-agent bootstrap, again: nothing to change"
ct_exec "$AGENT" -c "$INI" bootstrap
say "the long-running agent: systemctl enable --now cdc-agent.service (READY once converged)"
ct_exec systemctl enable --now cdc-agent.service 2>&1 | grep -v '^Created symlink' || true
ct_exec systemctl show -p StatusText --value cdc-agent.service
say "the runbook's habit still works: curl http://localhost:8083/connectors/source-db1/status"
for _ in $(seq 30); do curl -sf http://127.0.0.1:8083/connectors/source-db1/status && break; sleep 0.5; done
echo
say "cdc-agent status"
ct_exec "$AGENT" -c "$INI" status || true
say "done; the container is removed"
