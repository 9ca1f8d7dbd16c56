#!/usr/bin/env bash
# The Ansible module cdc_agent (playbooks/roles/cdc_agent/library) against a
# real PostgreSQL cluster and the real agent, with no systemd: check mode is
# plan (changed iff exit 2), plan reads the would-be topology when given
# one, bootstrap's exit 4 (a restart the agent cannot do here) is a failure
# naming the service, an invalid topology fails with its FILE:LINE, and once
# converged, bootstrap and check mode both report changed=false.
# The whole playbook in a systemd container: 95_ansible.sh.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/pg.sh"
. "$(dirname "$0")/../lib/topology.sh"

if ! PATH=/usr/local/bin:/usr/bin:/bin command -v ansible >/dev/null; then
	skip_or_fail "ansible is not installed (apt-get install ansible-core)"
	finish
	exit
fi
if [ "$(id -u)" -ne 0 ]; then
	skip_or_fail "needs root (private clusters run as postgres)"
	finish
	exit
fi
WORK=$(mktemp -d /tmp/cdc-ansible-module.XXXXXX)
trap 'pg_destroy_all; rm -rf "$WORK"' EXIT
pg_cluster_create src || { _fail "start the cluster"; finish; exit; }
pg_psql src postgres "CREATE DATABASE db1"
pg_psql src db1 "CREATE TABLE public.my_table (id int PRIMARY KEY, name text)"
pg_psql src db1 "CREATE TABLE public.other (id int PRIMARY KEY)"
(umask 077 && echo 'module-test-pass' >"$WORK/db1.pass" && echo 'module-test-pass2' >"$WORK/db2.pass")

topology() { # TABLES
	{
		printf '[agent]\nmanage_units = false\n\n'
		topology_source db1 my_publication my_slot "" "$1" "service = postgresql@test-db1.service"
		topology_target db2
		topology_pipeline db1-to-db2 db1 db2
	} | topology_fill src "$WORK"
}
topology public.my_table >"$WORK/topo.ini"

# module ARGS... (ansible options, e.g. --check): runs the module on this host
# (with $MOD_EXTRA added to its arguments); sets MOD_STATUS (SUCCESS, CHANGED
# or FAILED), MOD (its JSON result) and MOD_OUT (all of ansible's output).
module() {
	local out
	out=$(env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent \
		ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_LOCAL_TEMP="$WORK/tmp" \
		ANSIBLE_REMOTE_TEMP="$WORK/tmp" \
		ansible localhost -i localhost, -c local -e ansible_python_interpreter=/usr/bin/python3 \
		-M "$REPO_ROOT/playbooks/roles/cdc_agent/library" -m cdc_agent \
		-a "binary=$CDC_AGENT config=$WORK/topo.ini ${MOD_EXTRA:-}" "$@" 2>&1)
	MOD_OUT=$out
	MOD_STATUS=$(printf '%s\n' "$out" | sed -n 's/^localhost | \([A-Z]*\).*/\1/p' | head -n 1)
	MOD=$(printf '%s\n' "$out" | sed -n '/^localhost | /,$p' | sed '1s/^.*=> //')
}
field() { # PYTHON-EXPRESSION over r (the result)
	printf '%s' "$MOD" | python3 -c "import json,sys; r=json.load(sys.stdin); print($1)" 2>/dev/null
}

module --check
check_eq "check mode: plan says changes are pending (changed)" CHANGED "$MOD_STATUS"
check_eq "with plan's exit code 2 as exit_code (not rc, which Ansible takes as a failure)" 2 "$(field "r['exit_code']")"
check_contains "and the planned changes" "set wal_level = logical" "$(field "r['changes']")"
check_eq "and nothing changed" replica "$(pg_psql src postgres "SHOW wal_level")"

module
check_eq "bootstrap with a restart it cannot do (no systemd bus): the task fails" FAILED "$MOD_STATUS"
check_eq "on the agent's exit 4" 4 "$(field "r['exit_code']")"
check_contains "saying PostgreSQL must be restarted" "PostgreSQL must be restarted and the agent could not do it" "$(field "r['msg']")"
check_contains "and naming the service" "postgresql@test-db1.service" "$(field "r['msg']")"
check_eq "changes were made before it stopped (changed)" True "$(field "r['changed']")"

pg_cluster_restart src
module
check_eq "after the operator's restart, bootstrap succeeds" 0 "$(field "r['exit_code']")"
[ "$(field "r['exit_code']")" = 0 ] || printf '%s\n' "$MOD" | head -n 30
module
check_eq "a second bootstrap reports changed=false" SUCCESS "$MOD_STATUS"
check_eq "with no changes" "[]" "$(field "r['changes']")"
module --check
check_eq "check mode then reports changed=false" SUCCESS "$MOD_STATUS"
check_eq "having planned against the installed topology" config "$(field "r['planned_against']")"

# The would-be topology (what the template task would write): plan reads it
# at the installed path, in a mount namespace of its own.
topology "public.my_table, public.other" >"$WORK/new.ini"
before=$(md5sum "$WORK/topo.ini")
MOD_EXTRA="topology={{ lookup('file', '$WORK/new.ini') }}" module --check --diff
check_eq "check mode with a new topology: changed" CHANGED "$MOD_STATUS"
check_eq "planned against that topology" topology "$(field "r['planned_against']")"
check_contains "its changes" "add table public.other to publication my_publication" "$(field "r['changes']")"
check_contains "shown as a diff" "+ source db1: add table public.other to publication my_publication" "$MOD_OUT"
check_eq "the installed topology is untouched" "$before" "$(md5sum "$WORK/topo.ini")"
check_eq "and so is the publication" "public.my_table" \
	"$(pg_psql src db1 "SELECT string_agg(schemaname || '.' || tablename, ',') FROM pg_publication_tables WHERE pubname = 'my_publication'")"
check_eq "no mount is left behind" "" "$(grep -F "$WORK" /proc/self/mounts)"

check "the module's DOCUMENTATION, EXAMPLES and RETURN parse (ansible-doc)" \
	env ANSIBLE_LOCAL_TEMP="$WORK/tmp" ansible-doc -M "$REPO_ROOT/playbooks/roles/cdc_agent/library" cdc_agent

# An invalid topology: exit 3 with every error as FILE:LINE.
sed -i 's/^tables = /tabels = /' "$WORK/topo.ini"
module
check_eq "an invalid topology fails the task" FAILED "$MOD_STATUS"
check_eq "on the agent's exit 3" 3 "$(field "r['exit_code']")"
check_contains "naming the file and line" "$WORK/topo.ini:" "$(field "r['msg']")"
finish
