#!/usr/bin/env bash
# runs-under-sanitizer
# User types and generated columns end to end (issue #14 point 4): db1 ->
# capture -> Kafka -> apply -> db2 (schema block) and db3 (no schema block),
# tables auto-created.  After the snapshot, and after changes that use enum
# labels added mid-stream (ALTER TYPE ... ADD VALUE, BEFORE and AFTER), db2
# and db3 must equal db1 row by row (an ordered digest of every row), and
# the targets' types must be the source's:
#   - an enum (labels in the source's order, one renamed mid-stream), an
#     enum array, a domain of it;
#   - domains with NOT NULL, DEFAULT and CHECK (pg_get_constraintdef equal);
#   - a generated column, created GENERATED ALWAYS AS the source's
#     expression (pg_get_expr equal) and computed by the target;
#   - int4range (and an array of them), tstzrange, numrange, datemultirange, a user range type
#     and its multirange;
#   - citext and hstore, where the target has the extension; where it does not (db4),
#     apply stops, FAILED, naming the extension, the column and the table.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT
CAPTURE_PARTITIONS=1

capture_env_up "
CREATE EXTENSION citext;
CREATE EXTENSION hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN good_mood AS mood CHECK (VALUE <> 'sad');
CREATE DOMAIN posint AS integer NOT NULL DEFAULT 1 CONSTRAINT posint_positive CHECK (VALUE > 0);
CREATE DOMAIN code AS varchar(10) CHECK (char_length(VALUE) >= 2) CHECK (VALUE ~ '^[A-Z]');
CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TABLE typed (
	id int PRIMARY KEY, m mood, ms mood[], gm good_mood, p posint, c code,
	total numeric(10,2), doubled numeric GENERATED ALWAYS AS (total * 2 + id) STORED,
	r4 int4range, rtz tstzrange, rn numrange, dm datemultirange, fr floatrange,
	frm floatmultirange, ci citext, h hstore, ra int4range[], note text);
INSERT INTO typed (id, m, ms, gm, p, c, total, r4, rtz, rn, dm, fr, frm, ci, h, ra, note)
SELECT g, (ARRAY['sad','ok','happy'])[g % 3 + 1]::mood, ARRAY['ok', 'happy']::mood[], 'happy',
	g, 'AB' || g, g * 1.5, int4range(g, g + 10), tstzrange('2024-01-01 00:00+00', '2024-02-01 12:30+02', '(]'),
	numrange(g * 0.25, NULL), '{[2024-01-01,2024-01-05), [2024-02-01,2024-03-01)}',
	floatrange(0.5, g), '{[1.5,2.5), (3,4]}', 'MiXeD ' || g, hstore('k' || g, 'v \"' || g),
	ARRAY[int4range(g, NULL), 'empty', NULL, '[-3,4)'], 'before'
FROM generate_series(1, 20) g;
CREATE TABLE ci_only (id int PRIMARY KEY, ci citext);
INSERT INTO ci_only VALUES (1, 'Hello');
CREATE TABLE forged_dom (id int PRIMARY KEY, p posint);
CREATE TABLE forged_gen (id int PRIMARY KEY, total numeric, doubled numeric GENERATED ALWAYS AS (total * 2) STORED);
" < <(
	topology_both_formats public.typed
	topology_source ext ext_pub ext_slot ext public.ci_only
	topology_source forged forged_pub forged_slot forged "public.forged_dom, public.forged_gen"
	topology_target db4
	topology_target db5
	topology_pipeline p3 ext db4
	topology_pipeline p4 forged db5
) || { _fail "environment comes up"; finish; exit; }

# The extension where the target has it (installed by its administrator).
for db in db2 db3; do pg_psql src "$db" "CREATE EXTENSION citext; CREATE EXTENSION hstore" >/dev/null; done

wait_for() { # SECONDS COMMAND...
	local i n=$1
	shift
	for ((i = 0; i < n * 2; i++)); do
		"$@" && return 0
		sleep 0.5
	done
	"$@"
}
# SQL at the source; a failure fails the test (a change not made cannot
# show that the targets follow it).
src_sql() {
	local out
	out=$(pg_psql src db1 "$1" 2>&1) || _fail "the source takes: ${1:0:60}..." "$out"
}
converged() { # TABLE SECONDS
	wait_converged "$2" "$1" db2 db3 && return 0
	for db in db1 db2 db3; do pg_psql src "$db" "SELECT t::text FROM public.$1 t ORDER BY id LIMIT 2"; done
	return 1
}
# The same catalog facts from db1, db2 and db3, or what differs.
same_in_targets() { # WHAT SQL
	local want got db
	want=$(pg_psql src db1 "$2" 2>&1)
	[ -n "$want" ] && [[ $want != *ERROR* ]] || { echo "db1 says nothing for $1: $want"; return 1; }
	for db in db2 db3; do
		got=$(pg_psql src "$db" "$2" 2>&1)
		[ "$got" = "$want" ] || { printf '%s: db1 %s\n%s %s\n' "$1" "$want" "$db" "$got"; return 1; }
	done
}

for p in p1 p2; do capture_start "$p"; apply_start "$p"; done
check "snapshot: every row equal in db2 and db3" converged typed 90
# A change streamed first: capture then knows the table (and the enum's
# labels) before they are added to.
src_sql "UPDATE typed SET note = 'streamed', m = 'ok' WHERE id = 1"
check "a streamed change: equal" converged typed 60

# Labels added at the source mid-stream, in their places, used at once
# (a column, an array, the domain of the enum).
src_sql "
ALTER TYPE mood ADD VALUE 'ecstatic' AFTER 'happy';
ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';
ALTER TYPE mood ADD VALUE 'awful' BEFORE 'sad';
"
src_sql "
INSERT INTO typed (id, m, ms, gm, p, c, total, r4, rtz, rn, dm, fr, frm, ci, note)
VALUES (21, 'ecstatic', '{meh,ecstatic,NULL}', 'ecstatic', 5, 'XY', 10.25, '[3,7)', '[2024-05-01 10:00+00,)',
	'(1.5,2.25]', '{[2024-06-01,2024-06-10)}', '[1,2]', '{}', 'ÄäÖ', 'after');
UPDATE typed SET m = 'meh', ms = ms || 'awful'::mood, total = total + 1, note = 'updated' WHERE id % 4 = 0;
UPDATE typed SET r4 = 'empty', rn = numrange(NULL, NULL), gm = 'meh', h = h || 'x=>NULL, \"a b\"=>c' WHERE id = 5;
DELETE FROM typed WHERE id IN (3, 7);
"
check "labels added mid-stream and used: every row equal" converged typed 60

src_sql "ALTER TYPE mood ADD VALUE 'zen'"
src_sql "INSERT INTO typed (id, m, p, total) VALUES (22, 'zen', 9, 1)"
check "a label added at the end, used in a later transaction: equal" converged typed 60

# A label renamed at the source: the rows that have it read the new name
# there, so the target's label is renamed too.
src_sql "ALTER TYPE mood RENAME VALUE 'meh' TO 'so-so'"
src_sql "UPDATE typed SET note = 'renamed', m = 'so-so' WHERE id = 2"
check "a label renamed at the source: every row equal" converged typed 60

# Columns added mid-stream: a generated one (pgoutput's Relation message
# does not list it), and one of an enum type new to the targets.
src_sql "
CREATE TYPE color AS ENUM ('red', 'green');
ALTER TABLE typed ADD COLUMN tripled numeric GENERATED ALWAYS AS (total * 3) STORED;
ALTER TABLE typed ADD COLUMN col color;
"
src_sql "UPDATE typed SET total = total + 2, col = 'green' WHERE id % 5 = 0; INSERT INTO typed (id, m, p, total, col) VALUES (23, 'ok', 1, 7, 'red')"
check "a generated column and an enum column added mid-stream: equal" converged typed 60

check "the targets' enum has the source's labels in order" same_in_targets "mood labels" \
	"SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'public.mood'::regtype"
check "columns have the source's types (format_type)" same_in_targets "column types" \
	"SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.typed'::regclass AND attnum > 0 AND NOT attisdropped"
check "domains have the source's base, NOT NULL and default" same_in_targets "domains" \
	"SELECT string_agg(typname || ' ' || format_type(typbasetype, typtypmod) || ' ' || typnotnull || ' ' || coalesce(pg_get_expr(typdefaultbin, 0), '-'), ', ' ORDER BY typname) FROM pg_type WHERE typtype = 'd' AND typnamespace = 'public'::regnamespace"
check "domains have the source's CHECKs (pg_get_constraintdef)" same_in_targets "domain checks" \
	"SELECT string_agg(t.typname || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid), ', ' ORDER BY t.typname, c.conname) FROM pg_constraint c JOIN pg_type t ON t.oid = c.contypid WHERE t.typnamespace = 'public'::regnamespace"
check "the generated columns are generated with the source's expressions (pg_get_expr)" same_in_targets "generated" \
	"SELECT string_agg(a.attname || ' ' || a.attgenerated::text || ' ' || pg_get_expr(d.adbin, d.adrelid), ', ' ORDER BY a.attnum) FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = 'public.typed'::regclass AND a.attgenerated <> ''"
check "the user range type has the source's subtype and multirange" same_in_targets "ranges" \
	"SELECT string_agg(format_type(rngtypid, NULL) || ' ' || format_type(rngsubtype, NULL) || ' ' || format_type(rngmultitypid, NULL), ', ') FROM pg_range WHERE rngtypid = 'public.floatrange'::regtype"
domain_check() { # DB: a valid value taken, an invalid one refused (in a transaction rolled back)
	pg_psql src "$1" "BEGIN; UPDATE public.typed SET c = 'OK' WHERE id = 1; ROLLBACK" >/dev/null 2>&1 && echo -n "valid taken, "
	pg_psql src "$1" "BEGIN; UPDATE public.typed SET c = 'lower' WHERE id = 1; ROLLBACK" >/dev/null 2>&1 && echo accepted || echo refused
}
check_eq "a domain's CHECK holds on the target as at the source" "$(domain_check db1)" "$(domain_check db2)"
check_eq "citext compares without case on the target" "1" \
	"$(pg_psql src db2 "SELECT count(*) FROM public.typed WHERE ci = 'mixed 1'")"

# Debezium's own schema for an enum: io.debezium.data.Enum with "allowed".
topic_dump db1server.public.typed "$WORK/typed.json"
check_eq "the enum's field schema is io.debezium.data.Enum, its labels allowed" \
	"io.debezium.data.Enum awful,sad,so-so,ok,happy,ecstatic,zen" \
	"$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if not r.get("payload"): continue
    v = json.loads(r["payload"])
    for f in v["schema"]["fields"][1]["fields"]:
        if f["field"] == "m": last = f
print(last.get("name"), last.get("parameters", {}).get("allowed"))' "$WORK/typed.json")"

# A target without the extension: apply stops, FAILED, naming it.
capture_start p3
apply_start p3
failed_naming_citext() {
	"$CDC_AGENT" -c "$T" status --json >"$WORK/st.json" 2>/dev/null
	python3 - "$WORK/st.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
p = next(x for x in doc["pipelines"] if x["name"] == "p3")
reason = p.get("reason") or ""
print(p["state"], reason)
sys.exit(0 if p["state"] == "FAILED" and "extension citext" in reason and "ci_only" in reason and "column ci" in reason else 1)
PY
}
check "a target without citext: FAILED naming the extension, the column and the table" wait_for 60 failed_naming_citext
for ((i = 0; i < 60; i++)); do kill -0 "${CAPTURE_PIDS[apply-p3]}" 2>/dev/null || break; sleep 0.5; done
wait "${CAPTURE_PIDS[apply-p3]}" 2>/dev/null
check_eq "apply stopped as for a refused record (exit 65)" 65 "$?"
check_eq "nothing of the table was created in db4" "" \
	"$(pg_psql src db4 "SELECT coalesce(to_regclass('public.ci_only')::text, '')")"
# Headers without a mac (written by someone else than capture, as
# Debezium's own events are): their SQL expressions are not run.
produce() { # TOPIC HEADER; "key<TAB>value" on stdin
	kcat -b "127.0.0.1:$KP" -P -t "$1" -K $'\t' -H "cdc.columns=$2"
}
printf '{"id":1}\t{"before":null,"after":{"id":1,"p":5},"source":{"schema":"public","table":"forged_dom"},"op":"c"}\n' |
	produce forged.public.forged_dom '[{"name":"id","type":"integer","optional":false,"key":1},{"name":"p","type":"posint","optional":false,"udt":{"kind":"domain","schema":"public","name":"posint","base":"integer","not_null":true,"default":"1","checks":[{"name":"posint_positive","def":"CHECK ((VALUE > 0))"}]}}]'
apply_start p4
forged_dom_applied() { [ "$(pg_psql src db5 "SELECT count(*) FROM public.forged_dom" 2>/dev/null)" = 1 ]; }
check "an unauthenticated header's domain: the row applied" wait_for 60 forged_dom_applied
check_eq "the domain made without its CHECK and default, with its NOT NULL" "integer true - 0" \
	"$(pg_psql src db5 "SELECT format_type(typbasetype, typtypmod) || ' ' || typnotnull || ' ' || coalesce(pg_get_expr(typdefaultbin, 0), '-') || ' ' || (SELECT count(*) FROM pg_constraint WHERE contypid = t.oid) FROM pg_type t WHERE oid = 'public.posint'::regtype")"
check_contains "a warning says so" "domain \"public\".\"posint\" created without its CHECK constraints and default" \
	"$(cat "$WORK/apply-p4.log")"
printf '{"id":1}\t{"before":null,"after":{"id":1,"total":"2.5"},"source":{"schema":"public","table":"forged_gen"},"op":"c"}\n' |
	produce forged.public.forged_gen '[{"name":"id","type":"integer","optional":false,"key":1},{"name":"total","type":"numeric","optional":true},{"name":"doubled","type":"numeric","optional":true,"generated":"(total * (2)::numeric)"}]'
for ((i = 0; i < 120; i++)); do kill -0 "${CAPTURE_PIDS[apply-p4]}" 2>/dev/null || break; sleep 0.5; done
wait "${CAPTURE_PIDS[apply-p4]}" 2>/dev/null
check_eq "an unauthenticated generated column stops apply (exit 65)" 65 "$?"
check_contains "naming the column and the table" 'column doubled of table "public"."forged_gen": refused: it is generated at the source' \
	"$(cat "$WORK/apply-p4.log")"
check_eq "and the table is not created" "" \
	"$(pg_psql src db5 "SELECT coalesce(to_regclass('public.forged_gen')::text, '')")"

check_not_contains "apply p1 and p2 stopped on no record" "offset" "$(grep -h 'error' "$WORK"/apply-p1.log "$WORK"/apply-p2.log)"
finish
