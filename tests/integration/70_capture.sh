#!/usr/bin/env bash
# runs-under-sanitizer
# capture against a real PostgreSQL and a real Kafka broker: snapshot, then
# streamed inserts, updates (a primary-key change too), deletes with
# tombstones, truncate, every common type, an unchanged TOASTed value and a
# 100k-row transaction; events read back with kcat and compared with
# Debezium's format field by field (docs/DEBEZIUM_FORMAT.md), with and
# without the JsonConverter schema block.  Then: a restart does not snapshot
# again, and SIGTERM ends capture cleanly with the slot confirmed.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT

TYPES_COLS="id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision,
	n numeric(10,2), nu numeric, b boolean, t text, vc varchar(20), j json, jb jsonb, u uuid,
	by bytea, d date, tm time, ts timestamp, tz timestamptz, tz3 timestamptz(3), iv interval,
	ai int[], at text[], nul text"
TYPES_ROW="7, 9007199254740993, 1.5, 3.25, 12.34, 12.340, true, E'h\u00e9llo \"q\"\n', 'abc',
	'{\"a\": 1}', '{\"b\": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x0102ff',
	'2024-01-01', '13:51:30.123456', '2024-01-01 12:34:56.789012', '2024-01-01 00:00:00+00',
	'2024-01-01 00:00:00.5+00', '1 year 2 mons 3 days 04:05:06.78', '{1,2,NULL}', '{\"a b\",c}', NULL"

capture_env_up "
CREATE TABLE my_table (id int PRIMARY KEY, name text);
INSERT INTO my_table VALUES (1, 'one'), (2, 'two'), (3, 'three');
CREATE TABLE types_t ($TYPES_COLS);
INSERT INTO types_t VALUES (1, $TYPES_ROW);
CREATE TABLE toast_t (id int PRIMARY KEY, big text, n int);
INSERT INTO toast_t SELECT 1, string_agg(md5(g::text), ''), 0 FROM generate_series(1, 4000) g;
CREATE TABLE big_t (id int PRIMARY KEY, v int);
" < <(
	topology_source db1 my_publication my_slot db1server "public.my_table, public.types_t, public.toast_t"
	topology_source plain plain_pub plain_slot plain "public.my_table, public.big_t" "json_schemas = false"
	topology_target db2
	topology_pipeline p1 db1 db2
	topology_pipeline p2 plain db2
) || { _fail "environment (PostgreSQL, Kafka, bootstrap) comes up"; finish; exit; }
check_contains "bootstrap converged before capture" "bootstrap: nothing to change" "$(cat "$WORK/bootstrap.log")"

capture_start p1
capture_start p2
check "snapshot of my_table reaches Kafka" topic_wait db1server.public.my_table 3 60
check "snapshot of types_t reaches Kafka" topic_wait db1server.public.types_t 1 30
check "snapshot of my_table reaches the schemaless topic" topic_wait plain.public.my_table 3 30

pg_psql src db1 "
INSERT INTO my_table VALUES (4, 'four');
UPDATE my_table SET name = 'uno' WHERE id = 1;
UPDATE my_table SET id = 20 WHERE id = 2;
DELETE FROM my_table WHERE id = 3;
INSERT INTO types_t VALUES (2, $TYPES_ROW);
UPDATE toast_t SET n = n + 1;
" >/dev/null
pg_psql src db1 "TRUNCATE my_table" >/dev/null
pg_psql src db1 "INSERT INTO big_t SELECT g, g FROM generate_series(1, 100000) g" >/dev/null

# my_table: 3 r + c + u + (d, tombstone, c) + d + tombstone + t = 11
check "streamed my_table events reach Kafka" topic_wait db1server.public.my_table 11 60
check "the 100k-row transaction reaches Kafka" topic_wait plain.public.big_t 100000 120
check "the TOAST update reaches Kafka" topic_wait db1server.public.toast_t 2 30
for t in my_table types_t toast_t; do topic_dump "db1server.public.$t" "$WORK/$t.json"; done
topic_dump plain.public.my_table "$WORK/plain_my_table.json"
topic_dump plain.public.big_t "$WORK/big_t.json"

check "events match Debezium's format field by field" python3 "$REPO_ROOT/tests/lib/check_events.py" "$WORK"

# A restart streams on without a new snapshot.
kill -TERM "${CAPTURE_PIDS[p1]}"
wait "${CAPTURE_PIDS[p1]}"
check_eq "capture exits 0 on SIGTERM" 0 "$?"
check_eq "its last progress: every event counted, no error" "True None" \
	"$(python3 -c 'import json,sys; p = json.load(open(sys.argv[1])); print(p["events"] >= 11, p["last_error"])' "$WORK/state/progress-capture-p1.json")"
confirmed=$(pg_psql src db1 "SELECT confirmed_flush_lsn >= (SELECT max(lsn) FROM (SELECT pg_current_wal_lsn() lsn) x) - 1000000 FROM pg_replication_slots WHERE slot_name = 'my_slot'")
check_eq "the slot's confirmed LSN advanced past the streamed transactions" t "$confirmed"
capture_start p1
pg_psql src db1 "INSERT INTO my_table VALUES (5, 'five')" >/dev/null
check "after a restart new changes still arrive" topic_wait db1server.public.my_table 12 60
topic_dump db1server.public.my_table "$WORK/my_table.json"
check_eq "and no table is snapshotted again" 3 \
	"$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if (json.loads(l)["payload"] or "").find("\"op\":\"r\"") >= 0))' "$WORK/my_table.json")"
check_contains "capture logged its snapshot" "snapshot of public.my_table: 3 rows acknowledged by Kafka" "$(cat "$WORK/capture-p1.log")"
finish
