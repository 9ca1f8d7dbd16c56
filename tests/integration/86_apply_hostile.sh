#!/usr/bin/env bash
# runs-under-sanitizer
# apply against a hostile producer (issue #12): records written with kcat by
# someone who can produce to the pipeline's topics.  Each is refused, with an
# error naming topic, partition and offset, and nothing outside the
# pipeline's tables changes:
#   - a source block naming another table (public.victim, cdc_agent.offsets),
#     for a change and for a truncate;
#   - a key that disagrees with its row;
#   - SQL in a column type (cdc.columns header, Debezium's
#     __debezium.source.column.type, connect.decimal.precision);
#   - a stored offset outside the partition's log (records removed before
#     apply read them): apply stops until `accept-gap --yes`;
#   - values beyond what PostgreSQL holds (a date past year 5874897), while
#     a 600-digit decimal (past the old 576-digit cut) arrives exact.
# A refused record exits 65, which cdc-apply@.service does not restart on.
# And what a good producer sends still works: types from records are
# resolved by the target's catalog (auto_create and new columns).
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT
CAPTURE_PARTITIONS=1
ADMIN=$REPO_ROOT/build/tests/kafka_admin_driver
[ -x "$ADMIN" ] || { _fail "build/tests/kafka_admin_driver is built (make test builds it)"; finish; exit; }

capture_env_up "CREATE TABLE my_table (id int PRIMARY KEY, name text); CREATE TABLE other (id int PRIMARY KEY)" < <(
	topology_source db1 my_publication my_slot dbz "public.my_table, public.other"
	topology_target db2
	topology_pipeline p db1 db2
) || { _fail "environment comes up"; finish; exit; }

TOPIC=dbz.public.my_table
COLS='cdc.columns=[{"name":"id","type":"integer","optional":false,"key":1},{"name":"name","type":"text","optional":true}]'
produce() { # TOPIC [kcat -H args...]; records "key<TAB>value" on stdin
	local topic=$1
	shift
	kcat -b "127.0.0.1:$KP" -P -t "$topic" -K $'\t' "$@"
}
db2() { pg_psql src db2 "$1"; }
rows() { db2 "SELECT coalesce(string_agg(id || '=' || coalesce(name, ''), ',' ORDER BY id), '') FROM public.$1"; }
apply_until() { # SQL EXPECTED: apply in the background until SQL returns EXPECTED
	"$CDC_AGENT" -c "$T" apply p >>"$WORK/apply-ok.log" 2>&1 &
	local pid=$! i
	for i in $(seq 120); do
		[ "$(db2 "$1" 2>/dev/null)" = "$2" ] && break
		sleep 0.5
	done
	kill -TERM "$pid"
	wait "$pid"
}
apply_refuses() { # apply must stop by itself: its stderr in $OUT, exit code in $RC
	OUT=$(timeout 60 "$CDC_AGENT" -c "$T" apply p 2>&1 >/dev/null)
	RC=$?
}
# The operator's way past a refused record: the next offset, stored by hand.
skip_record() { # TOPIC OFFSET
	db2 "UPDATE cdc_agent.offsets SET next_offset = $2 + 1 WHERE pipeline = 'p' AND topic = '$1' AND partition = 0" >/dev/null
}

# The target: a table outside the pipeline, and another pipeline's offset.
db2 "CREATE TABLE public.victim (id int PRIMARY KEY, name text); INSERT INTO public.victim VALUES (1, 'precious');
	GRANT ALL ON public.victim TO db2_user" >/dev/null

# Offsets 0, 1: good records.
{
	printf '{"id":1}\t{"before":null,"after":{"id":1,"name":"a"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n'
	printf '{"id":2}\t{"before":null,"after":{"id":2,"name":"b"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n'
} | produce $TOPIC -H "$COLS"
apply_until "SELECT count(*) FROM public.my_table" 2
check_eq "good records are applied" "1=a,2=b" "$(rows my_table)"
db2 "INSERT INTO cdc_agent.offsets (pipeline, topic, partition, next_offset) VALUES ('q', 'q.public.my_table', 0, 42)" >/dev/null

# Offset 2: a change of the pipeline's topic that names another table.
printf '{"id":1}\t{"before":null,"after":{"id":1,"name":"pwned"},"source":{"schema":"public","table":"victim"},"op":"c"}\n' |
	produce $TOPIC -H "$COLS"
apply_refuses
check_eq "a record naming a table its topic does not carry stops apply" 65 "$RC"
check_contains "naming the record and both tables" \
	"topic $TOPIC partition 0 offset 2: refused: its source block names table public.victim, but this topic carries public.my_table" "$OUT"
check_eq "the other table is untouched" "1=precious" "$(rows victim)"
skip_record $TOPIC 2

# Offset 3: a truncate naming another table.
printf '{"id":1}\t{"before":null,"after":null,"source":{"schema":"public","table":"victim"},"op":"t"}\n' | produce $TOPIC
apply_refuses
check_eq "a truncate naming another table stops apply" 65 "$RC"
check_contains "naming it" "offset 3: refused: its source block names table public.victim" "$OUT"
check_eq "the other table is not emptied" "1=precious" "$(rows victim)"
skip_record $TOPIC 3

# Offset 4: a record addressed to the agent's own offsets.
printf '{"pipeline":"q","topic":"q.public.my_table","partition":0}\t{"before":null,"after":{"pipeline":"q","topic":"q.public.my_table","partition":0,"next_offset":999999},"source":{"schema":"cdc_agent","table":"offsets"},"op":"c"}\n' |
	produce $TOPIC
apply_refuses
check_eq "a record naming cdc_agent.offsets stops apply" 65 "$RC"
check_contains "naming it" "offset 4: refused: its source block names table cdc_agent.offsets" "$OUT"
check_eq "another pipeline's stored offset is unchanged" 42 \
	"$(db2 "SELECT next_offset FROM cdc_agent.offsets WHERE pipeline = 'q'")"
skip_record $TOPIC 4

# Offset 5: a key that disagrees with its row.
printf '{"id":1}\t{"before":{"id":2,"name":"b"},"after":null,"source":{"schema":"public","table":"my_table"},"op":"d"}\n' |
	produce $TOPIC -H "$COLS"
apply_refuses
check_eq "a key that disagrees with its row stops apply" 65 "$RC"
check_contains "naming the column" 'offset 5: malformed event: the key'"'"'s value of column id differs from the "before" row'"'"'s' "$OUT"
check_eq "neither row is deleted" "1=a,2=b" "$(rows my_table)"
skip_record $TOPIC 5

# Offsets 6-9: SQL in a column type, for a column new at the source
# (auto_evolve adds it with the type the record names).
INJ='text, primary key (id)); CREATE TABLE public.injected AS SELECT current_user AS u; --'
printf '{"id":3}\t{"before":null,"after":{"id":3,"name":"c","evil":"x"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n' |
	produce $TOPIC -H 'cdc.columns=[{"name":"id","type":"integer","optional":false,"key":1},{"name":"name","type":"text","optional":true},{"name":"evil","type":"'"$INJ"'","optional":true}]'
apply_refuses
check_eq "SQL in a cdc.columns type stops apply" 65 "$RC"
check_contains "naming column and table" "offset 6: column evil of table \"public\".\"my_table\": refused: '$INJ' is not a type name" "$OUT"
skip_record $TOPIC 6
dbzschema() { # TYPE-FIELD-JSON for column evil -> a Debezium value with the schema block
	printf '{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},%s],"optional":true,"field":"after"}],"optional":false},"payload":{"before":null,"after":{"id":4,"evil":"1"},"source":{"schema":"public","table":"my_table"},"op":"c"}}' "$1"
}
printf '{"id":4}\t%s\n' "$(dbzschema '{"type":"string","optional":true,"field":"evil","parameters":{"__debezium.source.column.type":"TEXT); DROP TABLE public.victim; --"}}')" | produce $TOPIC
apply_refuses
check_eq "SQL in __debezium.source.column.type stops apply" 65 "$RC"
check_contains "naming it" "offset 7: column evil of table \"public\".\"my_table\": refused: 'text); drop table public.victim; --' is not a type name" "$OUT"
skip_record $TOPIC 7
printf '{"id":4}\t%s\n' "$(dbzschema '{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"field":"evil","parameters":{"scale":"2","connect.decimal.precision":"10,2); DROP TABLE public.victim; --"}}')" | produce $TOPIC
apply_refuses
check_eq "SQL in connect.decimal.precision stops apply" 65 "$RC"
check_contains "naming it" "offset 8: column evil of table \"public\".\"my_table\": refused: 'numeric(10,2); DROP TABLE public.victim; --,2)' is not a type name" "$OUT"
skip_record $TOPIC 8
printf '{"id":3}\t{"before":null,"after":{"id":3,"name":"c","evil":"x"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n' |
	produce $TOPIC -H 'cdc.columns=[{"name":"id","type":"integer","optional":false,"key":1},{"name":"name","type":"text","optional":true},{"name":"evil","type":"no_such_type","optional":true}]'
apply_refuses
check_eq "a type the target does not have stops apply" 65 "$RC"
check_contains "naming it" "offset 9: column evil of table \"public\".\"my_table\": refused: the target has no type 'no_such_type'" "$OUT"
skip_record $TOPIC 9
check_eq "no SQL from a record ran: no table injected, victim kept" "|1=precious" \
	"$(db2 "SELECT coalesce(to_regclass('public.injected')::text, '')")|$(rows victim)"
check_eq "and my_table has no column evil" "id,name" \
	"$(db2 "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.my_table'::regclass AND attnum > 0 AND NOT attisdropped")"

# Offset 10: good new columns: their types resolved by the target's catalog.
printf '{"id":5}\t{"before":null,"after":{"id":5,"name":"e","price":"1.250","at":"2024-01-02T03:04:05.678Z"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n' |
	produce $TOPIC -H 'cdc.columns=[{"name":"id","type":"integer","optional":false,"key":1},{"name":"name","type":"text","optional":true},{"name":"price","type":"numeric(12,3)","optional":true},{"name":"at","type":"timestamp(3) with time zone","optional":true}]'
apply_until "SELECT count(*) FROM public.my_table WHERE id = 5" 1
check_eq "columns new at the source are added with their exact types" "price numeric(12,3),at timestamp(3) with time zone" \
	"$(db2 "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.my_table'::regclass AND attnum > 2 AND NOT attisdropped")"

# auto_create from a record's types (format_type's spellings, as capture sends).
OTHER=dbz.public.other
OCOLS='cdc.columns=[{"name":"id","type":"integer","optional":false,"key":1},{"name":"v","type":"character varying(10)","optional":true},{"name":"iv","type":"interval(3)","optional":true},{"name":"b","type":"bit(3)","optional":true},{"name":"a","type":"numeric(10,2)[]","optional":true},{"name":"ts","type":"timestamp(6) without time zone","optional":true},{"name":"d","type":"double precision","optional":true}]'
other_rows() { # IDS...
	local i
	for i in "$@"; do
		printf '{"id":%s}\t{"before":null,"after":{"id":%s,"v":"x","iv":"P1DT0.001S","b":"101","a":[1.5],"ts":"2024-01-01T00:00:00","d":0.5},"source":{"schema":"public","table":"other"},"op":"c"}\n' "$i" "$i"
	done | produce $OTHER -H "$OCOLS"
}
other_rows 1 2
apply_until "SELECT count(*) FROM public.other" 2
check_eq "auto_create: the table is created with the record's types, as the target spells them" \
	"id integer,v character varying(10),iv interval(3),b bit(3),a numeric(10,2)[],ts timestamp(6) without time zone,d double precision" \
	"$(db2 "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.other'::regclass AND attnum > 0 AND NOT attisdropped")"

# A gap: records removed from the log before apply read them.
other_rows 3 4 5
check "records below offset 4 are deleted from the log" "$ADMIN" delete-records "127.0.0.1:$KP" $OTHER 0 4
apply_refuses
check_eq "a stored offset outside the log stops apply" 65 "$RC"
check_contains "naming partition, stored offset and the log" \
	"topic $OTHER partition 0: the stored offset 2 is outside the partition's log (offsets 4..5)" "$OUT"
check_contains "and the command to go on" "cdc-agent accept-gap p --yes" "$OUT"
check_eq "nothing after the gap was applied" 2 "$(db2 "SELECT count(*) FROM public.other")"
agent_run -c "$T" accept-gap p
check_eq "accept-gap without --yes lists the gap and exits 2" 2 "$AGENT_RC"
check_contains "saying what it would do" "topic $OTHER partition 0: stored offset 2 is outside the log (4..5): would move to the log's start" "$AGENT_OUT"
check_eq "and changes nothing" 2 "$(db2 "SELECT next_offset FROM cdc_agent.offsets WHERE topic = '$OTHER'")"
agent_run -c "$T" accept-gap p --yes
check_eq "accept-gap --yes exits 0" 0 "$AGENT_RC"
check_contains "saying what was lost" "moved to the log's start; the records in between are lost" "$AGENT_OUT"
apply_until "SELECT count(*) FROM public.other" 3
check_eq "apply then goes on from the log's start" "1,2,5" \
	"$(db2 "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.other")"
agent_run -c "$T" accept-gap p
check_eq "no gap left: accept-gap exits 0" "0|" "$AGENT_RC|$AGENT_OUT"

# Offset 11 of my_table: a name with a line break, to forge a log line.
printf '{"id\\ncdc-agent: info: forged":5}\t{"before":null,"after":{"id":5,"name":"e"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n' |
	produce $TOPIC -H "$COLS"
apply_refuses
check_eq "a key column missing from the row stops apply" 65 "$RC"
check_contains "naming it, the line break shown as a continuation" \
	"offset 11: malformed event: the key's column id"$'\n'"    cdc-agent: info: forged is not in the \"after\" row" "$OUT"
check_eq "no line of the log is forged" "" "$(grep -E '^([0-9T:.Z-]+ )?cdc-agent: info: forged' <<<"$OUT")"
skip_record $TOPIC 11

# Offsets 12, 13: extreme values in Debezium's own format (schema block).
BIG=$(python3 -c 'import base64; n = 10**600 - 1; print(base64.b64encode(n.to_bytes(250, "big", signed=True)).decode())')
bigrow() { # EXTRA-FIELD-SCHEMA EXTRA-VALUE -> a create of id 6 with column big and one more
	printf '{"id":6}\t{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"},{"type":"string","optional":true,"field":"price"},{"type":"string","optional":true,"field":"at"},{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"0"},"field":"big"}%s],"optional":true,"field":"after"}],"optional":false},"payload":{"before":null,"after":{"id":6,"name":"big","price":null,"at":null,"big":"%s"%s},"source":{"schema":"public","table":"my_table"},"op":"c"}}\n' "$1" "$BIG" "$2"
}
bigrow "" "" | produce $TOPIC
apply_until "SELECT count(*) FROM public.my_table WHERE id = 6" 1
check_eq "a 600-digit decimal arrives exact" "600|true" \
	"$(db2 "SELECT length(big::text) || '|' || (big = 10::numeric ^ 600 - 1) FROM public.my_table WHERE id = 6")"
bigrow ',{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"d"}' ',"d":9223372036854775807' |
	produce $TOPIC
apply_refuses
check_eq "a date far out of range stops apply" 65 "$RC"
check_contains "naming column and value" "offset 13: column d: date 9223372036854775807 (days since 1970-01-01) is out of PostgreSQL's range" "$OUT"
check_eq "the column is not added, nothing of it applied" "0|1" \
	"$(db2 "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.my_table'::regclass AND attname = 'd'")|$(db2 "SELECT count(*) FROM public.my_table WHERE id = 6")"
skip_record $TOPIC 13

# Offset 14: capture's schema header with a mac apply's key did not make
# (a producer imitating capture to get its expressions run).
printf '{"id":7}\t{"before":null,"after":{"id":7,"name":"g"},"source":{"schema":"public","table":"my_table"},"op":"c"}\n' |
	produce $TOPIC -H "$COLS" -H "cdc.columns.mac=$(printf '%064d' 0)"
apply_refuses
check_eq "a cdc.columns header whose mac does not verify stops apply" 65 "$RC"
check_contains "saying so, naming the key file" "offset 14: the cdc.columns header fails its authentication: forged, or signed with another key than" "$OUT"
check_eq "nothing of it applied" 0 "$(db2 "SELECT count(*) FROM public.my_table WHERE id = 7")"
finish
