#!/usr/bin/env bash
# runs-under-sanitizer
# Root writes never follow links (agent/base/files.c), done as the attack is: the
# postgres user, who owns pg_hba.conf's directory, plants links there, and a
# user who owns state_dir (as cdc-agent does once bootstrap gave it away;
# here postgres plays it) plants links at the lock; then the real
# `cdc-agent bootstrap` runs as root against a real cluster.  The root-only
# file the links point at keeps its content, owner and mode, nothing is
# created through a link, and the error names the refused path.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/pg.sh"
. "$(dirname "$0")/../lib/topology.sh"

WORK=$(mktemp -d /tmp/cdc-rootwrites.XXXXXX)
trap 'pg_destroy_all; rm -rf "$WORK"' EXIT
chmod 0755 "$WORK"

pg_cluster_create src || { _fail "start the cluster"; finish; exit; }
pg_psql src postgres "CREATE DATABASE db1"
pg_psql src db1 "CREATE TABLE public.t (id int PRIMARY KEY)"
# No restart pending, so bootstrap's outcome is the files' alone.
echo "wal_level = logical" >>"$PG_DIR_src/data/postgresql.conf"
pg_cluster_restart src

HBA=$PG_DIR_src/data/pg_hba.conf
HIDDEN=$WORK/root-only              # root's, 0700: postgres cannot see in
VICTIM=$HIDDEN/victim
STATE=$WORK/state                   # the unprivileged user's, as state_dir is cdc-agent's
mkdir -m 0700 "$HIDDEN" "$STATE"
printf 'root secret\n' >"$VICTIM"
chmod 0600 "$VICTIM"
chown postgres: "$STATE"

umask 077
echo 'cdc pass 1' >"$WORK/db1.pass"
echo 'db2 pass' >"$WORK/db2.pass"
{
	printf '[agent]\nmanage_units = false\nstate_dir = %s\n\n' "$STATE"
	topology_source db1 my_publication my_slot db1server public.t
	topology_target db2
	topology_pipeline p1 db1 db2
} | topology_fill src "$WORK" >"$WORK/topo.ini"
T=$WORK/topo.ini

as_postgres() { runuser -u postgres -- "$@"; }
# content, owner and mode, as one line
file_facts() { printf '%s|%s' "$(cat "$1" 2>/dev/null)" "$(stat -c '%U:%G %a %F' "$1" 2>&1)"; }
VICTIM_FACTS=$(file_facts "$VICTIM")
check_victim() { check_eq "$1: the root-only file is unchanged (content, owner, mode)" \
	"$VICTIM_FACTS" "$(file_facts "$VICTIM")"; }
HBA_MODE=$(stat -c '%U:%G %a' "$HBA")

# --- 1. the reported attack: pg_hba.conf.cdc-agent.tmp -> a root-only file ---
check "postgres plants pg_hba.conf.cdc-agent.tmp" as_postgres ln -s "$VICTIM" "$HBA.cdc-agent.tmp"
# and the lock, in the state directory it owns
check "the state_dir owner plants converge.lock" as_postgres ln -s "$HIDDEN/created-by-lock" "$STATE/converge.lock"
agent_run -c "$T" bootstrap
check_eq "bootstrap succeeds beside the planted links" 0 "$AGENT_RC"
check_victim "planted temp file"
check_eq "nothing is created through the planted lock" "absent" \
	"$([ -e "$HIDDEN/created-by-lock" ] && echo present || echo absent)"
check_contains "pg_hba.conf got the block" "# BEGIN cdc-agent source db1" "$(cat "$HBA")"
check_eq "pg_hba.conf kept its owner and mode" "$HBA_MODE" "$(stat -c '%U:%G %a' "$HBA")"
check_eq "pg_hba.conf is a regular file" "regular file" "$(stat -c '%F' "$HBA")"
check_eq "the lock is taken in root's own directory" "root:root 700 directory" \
	"$(stat -c '%U:%G %a %F' "$STATE/root" 2>&1)"
check_eq "no temporary file is left beside pg_hba.conf" "" \
	"$(ls -A "$(dirname "$HBA")" | grep -F 'cdc-agent' | grep -vx 'pg_hba.conf.cdc-agent.tmp')"
agent_run -c "$T" bootstrap
check_eq "a second bootstrap changes nothing" "0|bootstrap: nothing to change" \
	"$AGENT_RC|$AGENT_OUT"

# --- 2. pg_hba.conf itself a link to the root-only file -----------------------
as_postgres mv "$HBA" "$HBA.real"
check "postgres links pg_hba.conf to the root-only file" as_postgres ln -s "$VICTIM" "$HBA"
agent_run -c "$T" bootstrap
check_eq "bootstrap fails" 1 "$AGENT_RC"
check_contains "the error names the refused path" "$HBA" "$AGENT_ERR"
check_contains "and says why" "symbolic link" "$AGENT_ERR"
check_victim "linked pg_hba.conf"
check_eq "the link is left as it was" "symbolic link" "$(stat -c '%F' "$HBA")"
agent_run -c "$T" plan
check_eq "plan refuses to read through it too" "1" "$AGENT_RC"
check_contains "naming it" "$HBA" "$AGENT_ERR"
as_postgres rm "$HBA"
as_postgres mv "$HBA.real" "$HBA"

# --- 3. the lock's directory planted by the state_dir owner --------------------
rm -rf "$STATE/root"
check "the state_dir owner plants root/ as a link" as_postgres ln -s "$HIDDEN" "$STATE/root"
agent_run -c "$T" bootstrap
check_eq "bootstrap refuses a linked lock directory" 1 "$AGENT_RC"
check_contains "naming it" "$STATE/root" "$AGENT_ERR"
check_eq "nothing is created in the link's target" "victim" "$(ls -A "$HIDDEN")"
as_postgres rm "$STATE/root"
as_postgres mkdir -m 0700 "$STATE/root"
agent_run -c "$T" bootstrap
check_eq "bootstrap refuses a lock directory of another user" 1 "$AGENT_RC"
check_contains "naming it" "$STATE/root" "$AGENT_ERR"
as_postgres rmdir "$STATE/root"
agent_run -c "$T" bootstrap
check_eq "with the plant removed, bootstrap works again" "0|bootstrap: nothing to change" \
	"$AGENT_RC|$AGENT_OUT"
check_victim "end of the lock cases"

# --- 4. the server's user points hba_file at a file of root's ------------------
# The path comes from the server (SHOW hba_file); its user can set it.
ROOT_HBA=$WORK/root-hba.conf
sed '/# BEGIN cdc-agent/,/# END cdc-agent/d' "$HBA" >"$ROOT_HBA"
chmod 0644 "$ROOT_HBA"
ROOT_HBA_FACTS=$(file_facts "$ROOT_HBA")
as_postgres sh -c "echo \"hba_file = '$ROOT_HBA'\" >>'$PG_DIR_src/data/postgresql.conf'"
pg_cluster_restart src
check_eq "the server now names root's file" "$ROOT_HBA" "$(pg_psql src postgres 'SHOW hba_file')"
agent_run -c "$T" bootstrap
check_eq "bootstrap refuses to edit it" 1 "$AGENT_RC"
check_contains "naming it and why" "refusing $ROOT_HBA (the server's hba_file): it belongs to uid 0" \
	"$AGENT_ERR"
check_eq "root's file is unchanged (content, owner, mode)" "$ROOT_HBA_FACTS" "$(file_facts "$ROOT_HBA")"

finish
