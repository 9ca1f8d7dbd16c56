#!/usr/bin/env bash
# runs-under-sanitizer
# Provisioning against real PostgreSQL clusters with default settings:
# plan shows the changes, bootstrap makes them (restart path included),
# logical decoding works afterwards, a second bootstrap changes nothing,
# and drift (password, attributes, table list) converges.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/pg.sh"
. "$(dirname "$0")/../lib/topology.sh"

WORK=$(mktemp -d /tmp/cdc-provision.XXXXXX)
trap 'pg_destroy_all; rm -rf "$WORK"' EXIT

pg_cluster_create src || { _fail "start source cluster"; finish; exit; }
pg_cluster_create tgt || { _fail "start target cluster"; finish; exit; }
pg_psql src postgres "CREATE DATABASE db1"
pg_psql src db1 "CREATE TABLE public.my_table (id int PRIMARY KEY, name text)"
pg_psql src db1 "CREATE TABLE public.other (id int PRIMARY KEY)"
pg_psql src db1 "CREATE TABLE public.no_key (v text)"
# An operator's higher value must survive.
echo "max_wal_senders = 20" >>"$PG_DIR_src/data/postgresql.conf"
# Besides log_statement = all (tests/lib/pg.sh), every other way a server
# logs a statement's text: sampling by duration on the source, sampling by
# transaction on the target.  The secrets check at the end reads both logs.
printf '%s\n' "log_min_duration_sample = 0" "log_statement_sample_rate = 1" \
	>>"$PG_DIR_src/data/postgresql.conf"
echo "log_transaction_sample_rate = 1" >>"$PG_DIR_tgt/data/postgresql.conf"
# pg_stat_statements keeps the text of utility statements (track_utility):
# an ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...' would sit in its view.
echo "shared_preload_libraries = 'pg_stat_statements'" >>"$PG_DIR_src/data/postgresql.conf"
pg_cluster_restart src
pg_cluster_restart tgt
pg_psql src postgres "CREATE EXTENSION pg_stat_statements" >/dev/null

umask 077
echo 'cdc pass 1' >"$WORK/db1.pass"
echo 'db2 secret' >"$WORK/db2.pass"

write_topology() { # $1 = tables of db1
	{
		printf '[agent]\nmanage_units = false\n\n'
		topology_source db1 my_publication my_slot db1server "$1" "service = postgresql@test-db1"
		topology_target db2 PORT="$PG_PORT_tgt" SOCK="$PG_SOCK_tgt"
		topology_pipeline db1-to-db2 db1 db2
	} | topology_fill src "$WORK" >"$WORK/topo.ini"
}
write_topology public.my_table
T=$WORK/topo.ini

agent_run -c "$T" check
check_eq "check accepts the topology" 0 "$AGENT_RC"

# --- plan on a default server: changes listed, nothing changed ---------
agent_run -c "$T" plan
check_eq "plan exits 2 when changes are pending" 2 "$AGENT_RC"
check_contains "plan lists wal_level" "source db1: set wal_level = logical (configured: replica)" "$AGENT_OUT"
check_contains "plan lists the role" "create role cdc_user (LOGIN REPLICATION" "$AGENT_OUT"
check_contains "plan lists the publication" "create publication my_publication for table public.my_table" "$AGENT_OUT"
check_contains "plan lists the restart" "restart postgresql@test-db1.service (wal_level: replica -> logical)" "$AGENT_OUT"
check_contains "plan lists the target database" "target db2: create database db2" "$AGENT_OUT"
check_contains "plan lists pg_hba entries" "allow role cdc_user into database db1 from 127.0.0.1/32, ::1/128" "$AGENT_OUT"
check_not_contains "plan does not lower max_wal_senders" "max_wal_senders" "$AGENT_OUT"
check_eq "plan changed nothing (wal_level)" replica "$(pg_psql src db1 'SHOW wal_level')"
check_eq "plan changed nothing (role)" 0 "$(pg_psql src db1 "SELECT count(*) FROM pg_roles WHERE rolname = 'cdc_user'")"
check_eq "plan changed nothing (database)" 0 "$(pg_psql tgt postgres "SELECT count(*) FROM pg_database WHERE datname = 'db2'")"

agent_run -c "$T" --json plan
check "plan --json is valid JSON with the changes" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["mode"] == "plan" and d["ok"] and not d["changed"], d
assert any(c["action"].startswith("set wal_level") for c in d["changes"]), d' "$AGENT_OUT"

# --- bootstrap: no systemd bus here, so the restart is left to us -------
agent_run -c "$T" bootstrap
check_eq "bootstrap exits 4 when a restart is needed and no bus is reachable" 4 "$AGENT_RC"
check_contains "bootstrap says which service to restart" "restart postgresql@test-db1.service yourself" "$AGENT_ERR"
check_contains "bootstrap reports its changes" "source db1: changed: create role cdc_user" "$AGENT_OUT"
check_eq "role exists with REPLICATION LOGIN" "t|t" "$(pg_psql src db1 "SELECT rolreplication, rolcanlogin FROM pg_roles WHERE rolname = 'cdc_user'")"
check_eq "password stored as SCRAM" "t" "$(pg_psql src db1 "SELECT rolpassword ~ '^SCRAM-SHA-256[$]' FROM pg_authid WHERE rolname = 'cdc_user'")"
check_eq "publication has exactly the table" "public.my_table" "$(pg_psql src db1 "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = 'my_publication'")"
check_eq "SELECT granted" t "$(pg_psql src db1 "SELECT has_table_privilege('cdc_user', 'public.my_table', 'SELECT')")"
check_eq "wal_level waits for the restart" "logical|t" "$(pg_psql src db1 "SELECT f.setting, s.pending_restart FROM pg_file_settings f JOIN pg_settings s USING (name) WHERE name = 'wal_level' ORDER BY f.seqno DESC LIMIT 1")"
check_eq "target database created" 1 "$(pg_psql tgt postgres "SELECT count(*) FROM pg_database WHERE datname = 'db2'")"
check_eq "target user has all privileges on db2" t "$(pg_psql tgt db2 "SELECT has_database_privilege('db2_user', 'db2', 'CREATE') AND has_schema_privilege('db2_user', 'public', 'CREATE')")"

pg_cluster_restart src
agent_run -c "$T" bootstrap
check_eq "bootstrap after the restart succeeds" 0 "$AGENT_RC"
check_eq "bootstrap after the restart changes nothing" "bootstrap: nothing to change" "$AGENT_OUT"
check_eq "wal_level is logical" logical "$(pg_psql src db1 'SHOW wal_level')"
check_eq "operator's max_wal_senders kept" 20 "$(pg_psql src db1 'SHOW max_wal_senders')"

agent_run -c "$T" plan
check_eq "plan after bootstrap exits 0" 0 "$AGENT_RC"
agent_run -c "$T" --json bootstrap
check "second bootstrap --json says changed=false" python3 -c '
import json, sys
d = json.loads(sys.argv[1]); assert d["ok"] and not d["changed"] and d["changes"] == [], d' "$AGENT_OUT"

# --- logical decoding works for the replication role over TCP ----------
repl="host=127.0.0.1 port=$PG_PORT_src dbname=db1 user=cdc_user replication=database"
check "cdc_user creates a pgoutput slot over a replication connection" \
	env PGPASSWORD='cdc pass 1' "$PG_BIN/psql" -X -d "$repl" -c "CREATE_REPLICATION_SLOT probe_slot LOGICAL pgoutput"
pg_psql src db1 "INSERT INTO public.my_table VALUES (1, 'one')"
check_eq "the slot decodes the insert through the publication" 1 \
	"$(pg_psql src db1 "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('probe_slot', NULL, NULL, 'proto_version', '1', 'publication_names', 'my_publication') WHERE substr(data, 1, 1) = 'I'")"
pg_psql src db1 "SELECT pg_drop_replication_slot('probe_slot')" >/dev/null
check "db2_user logs in to db2 over TCP" \
	env PGPASSWORD='db2 secret' "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PG_PORT_tgt" -U db2_user -d db2 -c "CREATE TABLE t (id int)"

# --- drift converges -----------------------------------------------------
echo 'cdc pass 2' >"$WORK/db1.pass"
pg_psql src db1 "ALTER ROLE cdc_user NOREPLICATION"
agent_run -c "$T" bootstrap
check_eq "bootstrap repairs drift" 0 "$AGENT_RC"
check_contains "changed password converges" "set the password of role cdc_user" "$AGENT_OUT"
check_contains "lost attribute converges" "alter role cdc_user: grant LOGIN REPLICATION" "$AGENT_OUT"
check "new password works" env PGPASSWORD='cdc pass 2' "$PG_BIN/psql" -X -d "$repl" -c "IDENTIFY_SYSTEM"
check_fails "old password no longer works" env PGPASSWORD='cdc pass 1' "$PG_BIN/psql" -X -d "$repl" -c "IDENTIFY_SYSTEM"

write_topology "public.my_table, public.other"
agent_run -c "$T" bootstrap
check_contains "a table added to the topology joins the publication" "add table public.other to publication my_publication" "$AGENT_OUT"
write_topology "public.other"
agent_run -c "$T" bootstrap
check_contains "a table removed from the topology leaves the publication" "drop table public.my_table from publication my_publication" "$AGENT_OUT"
check_eq "publication follows the topology" "public.other" "$(pg_psql src db1 "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = 'my_publication'")"
agent_run -c "$T" bootstrap
check_eq "and converges" "bootstrap: nothing to change" "$AGENT_OUT"

# --- a table that would break the source is refused --------------------
write_topology "public.other, public.no_key"
agent_run -c "$T" bootstrap
check_eq "a table without key or replica identity fails bootstrap" 1 "$AGENT_RC"
TABLES_LINE=$(grep -n '^tables = ' "$T" | cut -d: -f1) # the line the error must name
check_contains "and the error names the file, line and table" "$T:$TABLES_LINE: error: source db1: table public.no_key has no primary key and REPLICA IDENTITY DEFAULT" "$AGENT_ERR"
check_eq "and the publication is untouched" "public.other" "$(pg_psql src db1 "SELECT string_agg(schemaname || '.' || tablename, ',') FROM pg_publication_tables WHERE pubname = 'my_publication'")"
write_topology "public.other, public.missing"
agent_run -c "$T" bootstrap
check_contains "a missing table is named" "$T:$TABLES_LINE: error: source db1: table public.missing does not exist in database db1" "$AGENT_ERR"

# --- secrets: nowhere in the server logs or in agent output -------------
logs=$(cat "$PG_DIR_src/server.log" "$PG_DIR_tgt/server.log")
check_not_contains "no password in the server logs" "cdc pass" "$logs"
check_not_contains "no password in the server logs (target)" "db2 secret" "$logs"
check_not_contains "no SCRAM verifier in the server logs" 'SCRAM-SHA-256$' "$logs"
check_eq "no SCRAM verifier kept by pg_stat_statements" "0|true" \
	"$(pg_psql src postgres "SELECT count(*) FILTER (WHERE query ~ 'SCRAM-SHA-256[$]') || '|' || (count(*) > 0) FROM pg_stat_statements")"
check_contains "the server did log statements (log_statement=all)" "statement: SELECT" "$logs"
check_contains "the source did log sampled durations (log_min_duration_sample)" "duration: " \
	"$(cat "$PG_DIR_src/server.log")"
check_contains "the target did log sampled transactions (log_transaction_sample_rate)" \
	"duration: " "$(cat "$PG_DIR_tgt/server.log")"

finish
