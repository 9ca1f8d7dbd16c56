#!/usr/bin/env bash
# runs-under-sanitizer
# apply on events it did not write: Debezium's own (with and without the
# schema block, literal examples from docs/DEBEZIUM_FORMAT.md), and bad
# input: a malformed record, an unknown table with auto_create off, a row
# the target refuses, a column dropped at the source.  Each bad record stops
# the pipeline with an error naming topic, partition and offset, and nothing
# of its batch is applied.  The pipeline bad keeps consistency = table:
# under transaction (the default) records without capture's cdc.txn header,
# as these, are applied as they come, in target transactions closed at
# 200 ms, so what a "batch" holds there depends on the machine's speed.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT
CAPTURE_PARTITIONS=1

capture_env_up "CREATE TABLE my_table (id int PRIMARY KEY, name text)" < <(
	topology_source db1 my_publication my_slot dbz public.my_table
	topology_source other my_publication other_slot bad public.my_table
	topology_target db2
	topology_target db3 "auto_create = false"
	topology_source ins my_publication ins_slot ins public.my_table
	topology_target db4 "insert_mode = insert"
	topology_pipeline ins ins db4
	topology_pipeline dbz db1 db2
	topology_pipeline bad other db3 "consistency = table"
) || { _fail "environment comes up"; finish; exit; }

produce() { # TOPIC, records "key<TAB>value" on stdin (empty value -> tombstone)
	kcat -b "127.0.0.1:$KP" -P -t "$1" -K $'\t' -Z
}
DOC=$REPO_ROOT/docs/DEBEZIUM_FORMAT.md
SCHEMA=$(grep -m1 '^{"type":"struct","fields":\[{"type":"struct","fields":\[{"type":"int32"' "$DOC") # VALUE_SCHEMA, §1.4
KEYSCHEMA='{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"dbz.public.my_table.Key"}'
SRC='"source":{"version":"2.7.4.Final","connector":"postgresql","name":"dbz","ts_ms":1704067260123,"snapshot":"false","db":"db1","sequence":null,"ts_us":null,"ts_ns":null,"schema":"public","table":"my_table","txId":743,"lsn":24023360,"xmin":null},"transaction":null'
ev() { # op before after -> Debezium value with the schema block
	printf '{"schema":%s,"payload":{"before":%s,"after":%s,%s,"op":"%s","ts_ms":1}}' "$SCHEMA" "$2" "$3" "$SRC" "$1"
}
key() { printf '{"schema":%s,"payload":{"id":%s}}' "$KEYSCHEMA" "$1"; }
{
	printf '%s\t%s\n' "$(key 4)" "$(ev c null '{"id":4,"name":"dave"}')"
	printf '%s\t%s\n' "$(key 5)" "$(ev c null '{"id":5,"name":"five"}')"
	printf '%s\t%s\n' "$(key 4)" "$(ev u null '{"id":4,"name":"erin"}')"
	printf '%s\t%s\n' "$(key 5)" "$(ev d '{"id":5,"name":null}' null)"
	printf '%s\t\n' "$(key 5)"
	printf '%s\t%s\n' "$(key 6)" "$(ev r null '{"id":6,"name":"snap"}')"
} | produce dbz.public.my_table
"$CDC_AGENT" -c "$T" apply dbz >"$WORK/apply-dbz.log" 2>&1 &
APPLY=$!
for _ in $(seq 60); do
	[ "$(pg_psql src db2 "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM public.my_table" 2>/dev/null)" = "4=erin,6=snap" ] && break
	sleep 0.5
done
check_eq "Debezium's own events (schema block) are applied; the table is created from it" "4=erin,6=snap" \
	"$(pg_psql src db2 "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM public.my_table")"
check_eq "offsets are stored in the target with the rows" "dbz.public.my_table|0|6" \
	"$(pg_psql src db2 "SELECT topic || '|' || partition || '|' || next_offset FROM cdc_agent.offsets")"
# A create for a key the target already has, as capture sends changes again
# after a crash: creates go out as plain INSERTs, so this one fails and its
# batch is applied again with upserts.
printf '%s\t%s\n' "$(key 6)" "$(ev c null '{"id":6,"name":"again"}')" | produce dbz.public.my_table
for _ in $(seq 60); do
	[ "$(pg_psql src db2 "SELECT name FROM public.my_table WHERE id = 6" 2>/dev/null)" = again ] && break
	sleep 0.5
done
check_eq "a create for a key the target has is applied as an upsert" "4=erin,6=again" \
	"$(pg_psql src db2 "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM public.my_table")"
check_contains "saying so" "applying the batch again with upserts" "$(cat "$WORK/apply-dbz.log")"
# Schemaless Debezium events for a table that already exists: a precise
# decimal comes as base64 ("BNI=" is 12.34 at the column's scale 2).
pg_psql src db2 "CREATE TABLE public.prices (id int PRIMARY KEY, price numeric(10,2)); GRANT ALL ON public.prices TO db2_user" >/dev/null
kill -TERM "$APPLY"; wait "$APPLY"
check_eq "apply stops cleanly on SIGTERM" 0 "$?"
sed -i 's/^tables = public.my_table$/tables = public.my_table, public.prices/' "$T"
printf '{"id":1}\t{"before":null,"after":{"id":1,"price":"BNI="},"source":{"schema":"public","table":"prices"},"op":"c"}\n' | produce dbz.public.prices
"$CDC_AGENT" -c "$T" apply dbz >>"$WORK/apply-dbz.log" 2>&1 &
APPLY=$!
for _ in $(seq 60); do
	[ "$(pg_psql src db2 "SELECT price FROM public.prices WHERE id = 1" 2>/dev/null)" = "12.34" ] && break
	sleep 0.5
done
check_eq "schemaless Debezium decimal uses the target column's scale" "12.34" \
	"$(pg_psql src db2 "SELECT price FROM public.prices WHERE id = 1")"
check_eq "and the first pipeline's records were not applied twice after the restart" "4=erin,6=again" \
	"$(pg_psql src db2 "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM public.my_table")"
kill -TERM "$APPLY"; wait "$APPLY"

# Schema changes the agent cannot apply safely stop the pipeline.
printf '{"id":2}\t{"before":null,"after":{"id":2,"price":"1.5"},"source":{"schema":"public","table":"prices"},"op":"c"}\n' |
	kcat -b "127.0.0.1:$KP" -P -t dbz.public.prices -K $'\t' -H 'cdc.columns=[{"name":"id","type":"integer","optional":false,"key":1},{"name":"price","type":"numeric(12,4)","optional":true}]'
out=$(timeout 60 "$CDC_AGENT" -c "$T" apply dbz 2>&1 >/dev/null); rc=$?
check_eq "a source type the target column cannot hold stops apply" 65 "$rc"
check_contains "naming table, column and both types" \
	'column price of table "public"."prices" is numeric(12,4) at the source but numeric(10,2) in the target' "$out"
pg_psql src db2 "ALTER TABLE public.prices ALTER COLUMN price TYPE numeric(12,4)" >/dev/null
printf '{"id":3}\t{"before":null,"after":{"id":3},"source":{"schema":"public","table":"prices"},"op":"c"}\n' | produce dbz.public.prices
out=$(timeout 60 "$CDC_AGENT" -c "$T" apply dbz 2>&1 >/dev/null); rc=$?
check_eq "a column dropped at the source stops apply" 65 "$rc"
check_contains "naming table and column" \
	'column price of table "public"."prices" is gone from the source'"'"'s events (dropped at the source?)' "$out"
check_eq "nothing of the batch holding the record at fault is applied" "1=12.3400" \
	"$(pg_psql src db2 "SELECT string_agg(id || '=' || price, ',' ORDER BY id) FROM public.prices")"

# Bad input on the second pipeline (target db3, auto_create off).
bad_run() { # expect apply to stop: prints its stderr
	timeout 60 "$CDC_AGENT" -c "$T" apply bad 2>&1 >/dev/null
}
printf '{"id":1}\t{"before":null,"after":{"id":1,"name":"x"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n' | produce bad.public.my_table
out=$(bad_run); rc=$?
check_eq "an unknown table with auto_create off stops apply" 65 "$rc"
check_contains "naming topic, partition, offset and table" \
	'topic bad.public.my_table partition 0 offset 0: table "public"."my_table" does not exist in the target and auto_create is off' "$out"
pg_psql src db3 "CREATE TABLE public.my_table (id int PRIMARY KEY, name text CONSTRAINT no_refused CHECK (name <> 'refused'));
	GRANT ALL ON public.my_table TO db3_user" >/dev/null
# The refused record sits mid-batch: a good one before it, one after it.
{
	printf '{"id":2}\t{"before":null,"after":{"id":2,"name":"refused"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n'
	printf '{"id":3}\t{"before":null,"after":{"id":3,"name":"y"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n'
} | produce bad.public.my_table
out=$(bad_run); rc=$?
check_eq "a row the target refuses stops apply" 65 "$rc"
check_contains "naming the record" "topic bad.public.my_table partition 0 offset 1: the target refused this change" "$out"
check_contains "and the target's reason" 'violates check constraint "no_refused"' "$out"
check_eq "nothing of its batch is applied (the good record before it either)" 0 \
	"$(pg_psql src db3 "SELECT count(*) FROM public.my_table")"
check_eq "no offset was stored" 0 "$(pg_psql src db3 "SELECT count(*) FROM cdc_agent.offsets")"

# Once the operator fixes the target, the pipeline resumes where it stopped.
pg_psql src db3 "ALTER TABLE public.my_table DROP CONSTRAINT no_refused" >/dev/null
"$CDC_AGENT" -c "$T" apply bad >"$WORK/apply-bad.log" 2>&1 &
APPLY=$!
for _ in $(seq 60); do
	[ "$(pg_psql src db3 "SELECT count(*) FROM public.my_table")" = 3 ] && break
	sleep 0.5
done
kill -TERM "$APPLY"; wait "$APPLY"
check_eq "after the fix the three records are applied" "1=x,2=refused,3=y" \
	"$(pg_psql src db3 "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM public.my_table")"

printf '{"id":3}\tnot json at all\n' | produce bad.public.my_table
out=$(bad_run); rc=$?
check_eq "a malformed record stops apply" 65 "$rc"
check_contains "naming it" "topic bad.public.my_table partition 0 offset 3: malformed event" "$out"
check_eq "the rows before it stay applied, once" 3 "$(pg_psql src db3 "SELECT count(*) FROM public.my_table")"
check_eq "and the stored offset points at it" 3 "$(pg_psql src db3 "SELECT next_offset FROM cdc_agent.offsets")"
# insert_mode = insert: plain INSERTs, as the JDBC sink's insert.mode=insert,
# so a second change of one key is refused by the target.
{
	printf '{"id":1}\t{"before":null,"after":{"id":1,"name":"a"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n'
	printf '{"id":1}\t{"before":null,"after":{"id":1,"name":"b"},"source":{"schema":"public","table":"my_table"},"op":"u"}\n'
} | kcat -b "127.0.0.1:$KP" -P -t ins.public.my_table -K $'\t' \
	-H 'cdc.columns=[{"name":"id","type":"integer","optional":false,"key":1},{"name":"name","type":"text","optional":true}]'
out=$(timeout 60 "$CDC_AGENT" -c "$T" apply ins 2>&1 >/dev/null); rc=$?
check_eq "insert_mode = insert: a second change of a key is refused" 65 "$rc"
check_contains "as a duplicate key, naming the record" "topic ins.public.my_table partition 0 offset 1: the target refused this change" "$out"
finish
