#!/usr/bin/env bash
# runs-under-sanitizer
# capture's bad inputs and snapshot modes: each a clear error naming the
# object, with nothing confirmed that Kafka did not take.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT

capture_env_up "
CREATE TABLE a (id int PRIMARY KEY, v text);
INSERT INTO a VALUES (1, 'x'), (2, 'y');
CREATE TABLE nokey (v text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
" < <(
	topology_source s_initial pub_a slot_initial initial "public.a, public.nokey"
	topology_source s_never pub_a slot_never never "public.a, public.nokey" "snapshot_mode = never"
	topology_source s_only pub_a slot_only only "public.a, public.nokey" "snapshot_mode = initial_only"
	topology_target db2
	topology_pipeline p_initial s_initial db2
	topology_pipeline p_never s_never db2
	topology_pipeline p_only s_only db2
) || { _fail "environment comes up"; finish; exit; }

slot_exists() { pg_psql src db1 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$1'"; }

# initial_only: snapshot, then exit 0 without streaming.
agent_run -c "$T" capture p_only
check_eq "initial_only: capture exits 0 after the snapshot" 0 "$AGENT_RC"
check_contains "initial_only: says it does not stream" "initial_only: snapshot done, not streaming" "$AGENT_ERR"
check_eq "initial_only: the snapshot is in Kafka" 2 "$(topic_count only.public.a)"

# never: no snapshot; changes made after the slot exists are streamed.
capture_start p_never
capture_start p_initial
check "initial: snapshot arrives" topic_wait initial.public.a 2 60
for _ in $(seq 40); do [ "$(slot_exists slot_never)" = 1 ] && break; sleep 0.25; done
pg_psql src db1 "INSERT INTO a VALUES (3, 'z'); INSERT INTO nokey VALUES ('k')" >/dev/null
check "never: the new row arrives" topic_wait never.public.a 1 60
check_eq "never: and only it (no snapshot)" 1 "$(topic_count never.public.a)"
check "a table with REPLICA IDENTITY FULL and no key streams" topic_wait initial.public.nokey 1 60
check_eq "its events have a null key" "NULL" \
	"$(timeout 30 kcat -b "127.0.0.1:$KP" -C -t initial.public.nokey -o beginning -e -q -Z -f '%k\n' | head -n 1)"

# A slot dropped under a running pipeline: the restart refuses to guess.
kill -TERM "${CAPTURE_PIDS[p_initial]}"; wait "${CAPTURE_PIDS[p_initial]}" 2>/dev/null
pg_psql src db1 "SELECT pg_drop_replication_slot('slot_initial')" >/dev/null
agent_run -c "$T" capture p_initial
check_eq "a dropped slot is an error" 1 "$AGENT_RC"
check_contains "that names the slot and the way out" "slot slot_initial is gone (dropped?) after capture had started" "$AGENT_ERR"
check_eq "and creates no slot behind the operator's back" 0 "$(slot_exists slot_initial)"
last_error() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["last_error"])' "$WORK/state/progress-capture-$1.json"; }
check_contains "the progress file keeps the error for status" "slot slot_initial is gone (dropped?)" "$(last_error p_initial)"
sed -i '/^topic_prefix = initial$/a snapshot_mode = when_needed' "$T"
capture_start p_initial
check "when_needed: a new slot and a new snapshot" topic_wait initial.public.a 5 60
kill -TERM "${CAPTURE_PIDS[p_initial]}"; wait "${CAPTURE_PIDS[p_initial]}" 2>/dev/null

# A missing publication.
pg_psql src db1 "ALTER PUBLICATION pub_a RENAME TO pub_gone" >/dev/null
agent_run -c "$T" capture p_only
check_eq "a missing publication is an error" 1 "$AGENT_RC"
check_contains "that names it" "publication pub_a does not exist in database db1 (run cdc-agent bootstrap)" "$AGENT_ERR"
pg_psql src db1 "ALTER PUBLICATION pub_gone RENAME TO pub_a" >/dev/null

# A wrong password.
cp "$WORK/db1.pass" "$WORK/db1.pass.good"
echo 'not the password' >"$WORK/db1.pass"
agent_run -c "$T" capture p_only
check_eq "a wrong password is an error" 1 "$AGENT_RC"
check_contains "that names the server and the role" "cannot connect to 127.0.0.1:$PG_PORT_src as cdc_user" "$AGENT_ERR"
check_not_contains "without the password" "not the password" "$AGENT_ERR"
check_contains "the progress file has the error" "cannot connect to 127.0.0.1:$PG_PORT_src as cdc_user" "$(last_error p_only)"
check_not_contains "without the password either" "not the password" "$(cat "$WORK"/state/progress-*.json)"
cp "$WORK/db1.pass.good" "$WORK/db1.pass"

# A topic that cannot be created: nothing starts.
sed -i 's/^partitions = 3$/partitions = 3\nreplication_factor = 3/' "$T"
pg_psql src db1 "SELECT pg_drop_replication_slot('slot_only')" >/dev/null
sed -i 's/^topic_prefix = only$/topic_prefix = only2/' "$T"
agent_run -c "$T" capture p_only
check_eq "a topic that cannot be created is an error" 1 "$AGENT_RC"
check_contains "that names the topic" "only2.public.a" "$AGENT_ERR"
check_eq "and no slot was created" 0 "$(slot_exists slot_only)"

agent_run -c "$T" capture nosuch
check_eq "an unknown pipeline is a topology error" 3 "$AGENT_RC"
finish
