#!/usr/bin/env bash
# runs-under-sanitizer
# Schema evolution end to end: db1 -> capture -> Kafka -> apply, one table
# per pipeline: evo_f into db2 under schema_changes = follow, evo_a into db3
# under additive.  Each change of the source mid-stream, with rows before and
# after it: ADD COLUMN with a default (older rows get the source's value),
# with a stable default (now()) and NOT NULL, RENAME, a swap of two names,
# ALTER TYPE widening and narrowing, SET/DROP DEFAULT, SET/DROP NOT NULL,
# DROP COLUMN, a column dropped and added again by name.  After each, the
# ordered digest of every row over the source's columns, and the target's
# column definitions (format_type, pg_get_expr of the default, attnotnull)
# against the source's: equal under follow; under additive equal but for the
# expected differences (a narrower type and SET NOT NULL not applied, a
# dropped column kept nullable).  A genuine old record replayed into Kafka
# changes no column back.  Last, a type with no cast from the old one:
# apply FAILED naming table, column and reason, nothing of the batch applied.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
on_exit() {
	[ "$TESTS_FAILED" -gt 0 ] && [ -n "${WORK:-}" ] && KEEP_WORK=1 && echo "# $TEST_NAME: kept $WORK"
	capture_env_down
}
trap on_exit EXIT
CAPTURE_PARTITIONS=1

EVO_COLS="id int PRIMARY KEY, a int, b text, c int NOT NULL DEFAULT 1, n numeric(10,2), g int"
capture_env_up "
CREATE TABLE evo_f ($EVO_COLS);
CREATE TABLE evo_a ($EVO_COLS);
CREATE TABLE evo_k ($EVO_COLS);
INSERT INTO evo_f SELECT i, i, 'b' || i, i, i * 1.5, i FROM generate_series(1, 20) i;
INSERT INTO evo_a SELECT * FROM evo_f;
INSERT INTO evo_k SELECT * FROM evo_f;
" < <(
	topology_source sf pub_f slot_f sf public.evo_f
	topology_source sa pub_a slot_a sa public.evo_a "json_schemas = false"
	topology_source sk pub_k slot_k sk public.evo_k
	topology_target db2
	topology_target db3
	topology_pipeline pf sf db2
	topology_pipeline pa sa db3 "schema_changes = additive"
	topology_pipeline pk sk db3 "schema_changes = additive"
) || { _fail "environment comes up"; finish; exit; }

# SQL run in db1 once for each table (%T).
both() {
	pg_psql src db1 "${1//%T/evo_f}" >/dev/null && pg_psql src db1 "${1//%T/evo_a}" >/dev/null
}
# The source table's columns, in its order, quoted.
src_cols() { # TABLE
	pg_psql src db1 "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = 'public.$1'::regclass AND attnum > 0 AND NOT attisdropped"
}
# Every row, by id, over the source's columns (a target may have more:
# additive keeps dropped ones).
converged() { # TABLE DB SECONDS
	DIGEST_ROW="ROW($(src_cols "$1"))::text" wait_converged "$3" "$1" "$2"
}
# Each column: name type NOT NULL|NULL default, by name.
defs() { # DB TABLE [NAMES TO LEAVE OUT]
	pg_psql src "$1" "SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
		|| CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END
		|| ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-'), '; ' ORDER BY a.attname)
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = 'public.$2'::regclass AND a.attnum > 0 AND NOT a.attisdropped
		AND a.attname <> ALL (string_to_array('${3:-}', ','))"
}
# Rows, defs: follow equal, additive equal but for the named columns.
step_checks() { # WHAT [ADDITIVE-DIFFERENT COLUMNS]
	check "$1: follow: every row equal" converged evo_f db2 60
	check_eq "$1: follow: column definitions equal" "$(defs db1 evo_f)" "$(defs db2 evo_f)"
	check "$1: additive: every row equal" converged evo_a db3 60
	check_eq "$1: additive: column definitions equal${2:+ but for $2}" \
		"$(defs db1 evo_a "${2:-}")" "$(defs db3 evo_a "${2:-}")"
}

for p in pf pa pk; do capture_start "$p"; apply_start "$p"; done
step_checks "snapshot"
check "pk: snapshot: every row equal" converged evo_k db3 60

both "ALTER TABLE %T ADD COLUMN d int DEFAULT 7;
	INSERT INTO %T (id, a, b, c, n, g) SELECT i, i, 'b' || i, i, i, i FROM generate_series(21, 25) i;
	INSERT INTO %T VALUES (26, 26, 'b', 26, 26, 26, 9); UPDATE %T SET a = a + 1 WHERE id = 3"
step_checks "ADD COLUMN d int DEFAULT 7 (older rows 7)"

both "ALTER TABLE %T ADD COLUMN e timestamptz DEFAULT now(), ADD COLUMN f text NOT NULL DEFAULT 'x';
	INSERT INTO %T (id, a, b, c, n, g) VALUES (27, 27, 'b', 27, 27, 27); INSERT INTO %T VALUES
	(28, 28, 'b', 28, 28, 28, 28, '2024-01-01 00:00:00+00', 'y')"
step_checks "ADD COLUMN e DEFAULT now(), f NOT NULL DEFAULT 'x'"

both "ALTER TABLE %T RENAME COLUMN b TO b2; UPDATE %T SET b2 = 'renamed ' || id WHERE id <= 5;
	INSERT INTO %T (id, a, b2, c, n, g) VALUES (31, 31, 'after rename', 31, 31, 31)"
step_checks "RENAME COLUMN b TO b2"
check_eq "the rename kept its values: no column b left" "" \
	"$(pg_psql src db2 "SELECT attname FROM pg_attribute WHERE attrelid = 'public.evo_f'::regclass AND attname = 'b'")"

both "ALTER TABLE %T ALTER COLUMN a TYPE bigint; INSERT INTO %T (id, a, b2, c, n, g) VALUES (32, 1099511627776, 'big', 32, 32, 32)"
step_checks "ALTER COLUMN a TYPE bigint (widening)"

both "ALTER TABLE %T ALTER COLUMN n TYPE numeric(8,2); INSERT INTO %T (id, a, b2, c, n, g) VALUES (33, 33, 'n', 33, 123456.78, 33)"
step_checks "ALTER COLUMN n TYPE numeric(8,2) (narrowing)" n
check_eq "additive: the narrowing was not applied" "numeric(10,2)" \
	"$(pg_psql src db3 "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.evo_a'::regclass AND attname = 'n'")"

both "ALTER TABLE %T ALTER COLUMN d SET DEFAULT 8, ALTER COLUMN c DROP DEFAULT;
	INSERT INTO %T (id, a, b2, c, n, g) VALUES (34, 34, 'defaults', 34, 34, 34)"
step_checks "SET DEFAULT 8, DROP DEFAULT" n

both "UPDATE %T SET a = 0 WHERE a IS NULL; ALTER TABLE %T ALTER COLUMN a SET NOT NULL, ALTER COLUMN c DROP NOT NULL;
	INSERT INTO %T (id, a, b2, c, n, g) VALUES (35, 35, 'null c', NULL, 35, 35)"
step_checks "SET NOT NULL a, DROP NOT NULL c" n,a
check_eq "additive: SET NOT NULL not applied" "f" \
	"$(pg_psql src db3 "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'public.evo_a'::regclass AND attname = 'a'")"

both "BEGIN; ALTER TABLE %T RENAME COLUMN d TO tmp; ALTER TABLE %T RENAME COLUMN e TO d;
	ALTER TABLE %T RENAME COLUMN tmp TO e; COMMIT;
	INSERT INTO %T (id, a, b2, c, n, g, e, d) VALUES (36, 36, 'swapped', 36, 36, 36, 5, '2025-02-03 04:05:06+00')"
step_checks "two columns swap names" n,a

both "ALTER TABLE %T DROP COLUMN b2; INSERT INTO %T (id, a, c, n, g) VALUES (37, 37, 37, 37, 37); UPDATE %T SET g = g + 100 WHERE id = 1"
step_checks "DROP COLUMN b2" n,a,b2
check_eq "follow: b2 dropped" "" \
	"$(pg_psql src db2 "SELECT attname FROM pg_attribute WHERE attrelid = 'public.evo_f'::regclass AND attname = 'b2' AND NOT attisdropped")"
check_eq "additive: b2 kept, nullable, no default; NULL in the new row, its value in an old one" "text false - NULL renamed 1" \
	"$(pg_psql src db3 "SELECT format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
		|| ' ' || coalesce((SELECT b2 FROM evo_a WHERE id = 37), 'NULL') || ' ' || (SELECT b2 FROM evo_a WHERE id = 1)
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = 'public.evo_a'::regclass AND a.attname = 'b2'")"

# A genuine older record written to Kafka again (its mac verifies): its
# description is older than the one applied, so no column comes back and
# none is renamed backwards; its values go to the columns holding its
# attnums (the row then changes again at the source, and converges).
replay() { # TOPIC OFFSET
	timeout 30 kcat -b "127.0.0.1:$KP" -C -t "$1" -o "$2" -c 1 -e -q -J >"$WORK/replay.json" &&
		python3 -c 'import json,subprocess,sys
r = json.load(open(sys.argv[1])); h = r.get("headers") or []
s = lambda v: v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
args = ["kcat", "-b", sys.argv[2], "-P", "-t", r["topic"], "-K", "\t"]
for n, v in zip(h[0::2], h[1::2]): args += ["-H", "%s=%s" % (n, v)]
subprocess.run(args, input=(s(r["key"]) + "\t" + s(r["payload"]) + "\n").encode(), check=True)' \
			"$WORK/replay.json" "127.0.0.1:$KP"
}
defs_before=$(defs db2 evo_f)
check "an old record (the snapshot's, columns a, b, c, n, g) written to Kafka again" replay sf.public.evo_f 0
sleep 3
check_eq "replayed: apply still runs" "running" "$(kill -0 "${CAPTURE_PIDS[apply-pf]}" 2>/dev/null && echo running)"
check_eq "replayed: no column dropped, added or renamed back" "$defs_before" "$(defs db2 evo_f)"
check_eq "replayed: its values went to the columns of its attnums (a, c, n, g of row 1)" "1 1 1.50 1" \
	"$(pg_psql src db2 "SELECT a || ' ' || c || ' ' || n || ' ' || g FROM evo_f WHERE id = 1")"
pg_psql src db1 "UPDATE evo_f SET a = a WHERE id = 1" >/dev/null
check "replayed: the row converges again with the source's next change" converged evo_f db2 60

pg_psql src db1 "ALTER TABLE evo_f DROP COLUMN f; ALTER TABLE evo_f ADD COLUMN f int DEFAULT 3;
	INSERT INTO evo_f (id, a, c, n, g) VALUES (38, 38, 38, 38, 38)" >/dev/null
check "follow: f dropped and added again (another attnum): every row equal" converged evo_f db2 60
check_eq "follow: f dropped and added again: definitions equal" "$(defs db1 evo_f)" "$(defs db2 evo_f)"

# Every change logged and counted.
log_f=$(cat "$WORK/apply-pf.log")
check_contains "logged: column added with its default" "table public.evo_f: column d added (integer DEFAULT 7)" "$log_f"
check_contains "logged: rename" "table public.evo_f: column b renamed to b2" "$log_f"
check_contains "logged: type" "table public.evo_f: column a type integer -> bigint" "$log_f"
check_contains "logged: additive keeps a dropped column" "table public.evo_a: column b2 dropped at the source: kept" \
	"$(cat "$WORK/apply-pa.log")"
sleep 1.5
"$CDC_AGENT" -c "$T" status --json >"$WORK/st.json" 2>/dev/null
counts() {
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); p = {x["name"]: x for x in d["pipelines"]}
print(p["pf"]["apply"]["schema_changes_total"], p["pa"]["apply"]["schema_changes_total"], p["pf"]["apply"]["last_schema_change"]["change"])' "$WORK/st.json"
}
# follow: d; e, f; rename; 2 types; 2 defaults; 2 NOT NULL; the swap (2);
# drop; drop and add.  additive: d; e, f; rename; a's type; 2 defaults;
# DROP NOT NULL c; the swap (2) (b2 kept as it was: nullable, no default).
check_eq "status --json: schema changes counted per pipeline, the last one named" \
	"15 10 table public.evo_f: column f added (integer DEFAULT 3)" "$(counts 2>&1)"
check_contains "status: the table says so" "schema changes: 15" "$("$CDC_AGENT" -c "$T" status 2>/dev/null)"

# additive keeps a dropped column: a new column of the same name cannot be
# added; apply stops naming the table and both columns, nothing applied.
pg_psql src db1 "ALTER TABLE evo_k DROP COLUMN b; INSERT INTO evo_k (id, a, c, n, g) VALUES (21, 21, 21, 21, 21)" >/dev/null
check "pk: DROP COLUMN b (kept): every row equal" converged evo_k db3 60
pg_psql src db1 "ALTER TABLE evo_k ADD COLUMN b int; INSERT INTO evo_k (id, a, c, n, g, b) VALUES (22, 22, 22, 22, 22, 1)" >/dev/null
for _ in $(seq 60); do kill -0 "${CAPTURE_PIDS[apply-pk]}" 2>/dev/null || break; sleep 0.5; done
kill -0 "${CAPTURE_PIDS[apply-pk]}" 2>/dev/null && kill -TERM "${CAPTURE_PIDS[apply-pk]}"
wait "${CAPTURE_PIDS[apply-pk]}"
check_eq "pk: a new column named as a kept one stops apply (exit 65)" 65 "$?"
check_contains "pk: naming table and column" \
	'table "public"."evo_k": column b is new at the source, but the target has a column b kept from a column dropped at the source (additive)' \
	"$(cat "$WORK/apply-pk.log")"
check_eq "pk: nothing applied (no row 22, b still text)" "0 text" \
	"$(pg_psql src db3 "SELECT (SELECT count(*) FROM evo_k WHERE id = 22) || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.evo_k'::regclass AND attname = 'b'")"

# A type change the target cannot follow (no cast from integer to date),
# under both settings (additive skips only a narrowing of the same kind):
# FAILED naming table, column and reason; nothing of its batch applied.
both "ALTER TABLE %T ALTER COLUMN g TYPE date USING date '2020-01-01' + g;
	INSERT INTO %T (id, a, c, n, g) VALUES (40, 40, 40, 40, '2021-01-01')"
for p in pf pa; do
	for _ in $(seq 60); do kill -0 "${CAPTURE_PIDS[apply-$p]}" 2>/dev/null || break; sleep 0.5; done
	kill -0 "${CAPTURE_PIDS[apply-$p]}" 2>/dev/null && kill -TERM "${CAPTURE_PIDS[apply-$p]}"
	wait "${CAPTURE_PIDS[apply-$p]}"
	check_eq "$p: apply stops on the change it cannot follow (exit 65)" 65 "$?"
done
for x in f:db2:pf a:db3:pa; do
	IFS=: read -r t db p <<<"$x"
	check_contains "$p: the reason names table, column and the target's refusal" \
		"table \"public\".\"evo_$t\": column g type integer -> date at the source: the target cannot follow: ERROR:  cannot cast type integer to date" \
		"$(cat "$WORK/apply-$p.log")"
	check_eq "$p: nothing of the batch applied (g still integer, no row 40)" "integer 0" \
		"$(pg_psql src $db "SELECT format_type(atttypid, atttypmod) || ' ' || (SELECT count(*) FROM evo_$t WHERE id = 40) FROM pg_attribute WHERE attrelid = 'public.evo_$t'::regclass AND attname = 'g'")"
done
"$CDC_AGENT" -c "$T" status --json >"$WORK/st.json" 2>/dev/null
check_eq "status: the three pipelines FAILED, the reason names the table and column" "FAILED True FAILED True FAILED True" \
	"$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); p = {x["name"]: x for x in d["pipelines"]}
r = lambda n: p[n].get("reason") or ""
print(" ".join("%s %s" % (p[n]["state"], t in r(n) and "column " in r(n)) for n, t in (("pf", "evo_f"), ("pa", "evo_a"), ("pk", "evo_k"))))' "$WORK/st.json" 2>&1)"
finish
