#!/usr/bin/env bash
# Table names of every kind, and many tables (issue 14, points 1 and 7),
# capture and apply as plain processes against PostgreSQL 15 and Kafka:
#   - quoted names with dots, spaces, quotes and ';', mixed case, non-ASCII
#     (quoted and not), an unquoted MyTable folded to mytable beside a
#     quoted "MyTable": each replicated to its own table, rows before and
#     after streaming started, digests of every table equal;
#   - 300 tables named by a pattern (bulk.*) with an exclusion (!bulk.tmp_*)
#     and the list over continuation lines: rows in all of them, the
#     excluded table never reaches the target; a pattern that matches
#     nothing is a warning;
#   - a table created later that matches joins at the next pass (the pass
#     adds it to the publication and says the pipeline's processes run an
#     older configuration; they are restarted as their units would be) and
#     is snapshotted, rows written after too; an excluded one does not;
#   - `cdc-agent snapshot` of a quoted name; plan refuses an absent table
#     named explicitly and two tables a pattern maps to one topic.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap 'capture_env_down' EXIT
CAPTURE_PARTITIONS=1
CAPTURE_AGENT_KEYS=$'status_listen = off\nreconcile_seconds = 5\n'
BULK=300
# The list over continuation lines, with comments (line 22 of topo.ini:
# nothing_here.*).
TABLES='"Sales.EU"."Order Lines", Public.MyTable, public."MyTable",
    "Ünïcode"."表 Tàble", public."we""ird ; name", public.café  ; a comment
    ; a comment line inside the list
    bulk.*, !bulk.tmp_*,
    nothing_here.*'

capture_env_up "
CREATE SCHEMA \"Sales.EU\";
CREATE TABLE \"Sales.EU\".\"Order Lines\" (id int PRIMARY KEY, \"Qty\" int, note text);
INSERT INTO \"Sales.EU\".\"Order Lines\" SELECT g, g * 2, 'line ' || g FROM generate_series(1, 50) g;
CREATE TABLE public.mytable (id int PRIMARY KEY, v text);
INSERT INTO public.mytable VALUES (1, 'folded'), (2, 'folded too');
CREATE TABLE public.\"MyTable\" (id int PRIMARY KEY, v text);
INSERT INTO public.\"MyTable\" VALUES (1, 'quoted'), (3, 'quoted 3');
CREATE SCHEMA \"Ünïcode\";
CREATE TABLE \"Ünïcode\".\"表 Tàble\" (\"Id\" int PRIMARY KEY, \"Välue\" text);
INSERT INTO \"Ünïcode\".\"表 Tàble\" VALUES (1, 'ä'), (2, '表');
CREATE TABLE public.\"we\"\"ird ; name\" (id int PRIMARY KEY, v int);
INSERT INTO public.\"we\"\"ird ; name\" VALUES (1, 1), (2, 2);
CREATE TABLE public.café (id int PRIMARY KEY, v int);
INSERT INTO public.café VALUES (1, 10);
CREATE SCHEMA bulk;
DO \$\$ BEGIN
  FOR i IN 1..$BULK LOOP
    EXECUTE format('CREATE TABLE bulk.t%s (id int PRIMARY KEY, v int)', lpad(i::text, 3, '0'));
    EXECUTE format('INSERT INTO bulk.t%s SELECT g, g * %s FROM generate_series(1, 5) g', lpad(i::text, 3, '0'), i);
  END LOOP;
END \$\$;
CREATE TABLE bulk.tmp_scratch (id int PRIMARY KEY, v int);
INSERT INTO bulk.tmp_scratch VALUES (1, 1);
CREATE SCHEMA coll;
CREATE TABLE coll.\"a b\" (id int PRIMARY KEY);
CREATE TABLE coll.a_b (id int PRIMARY KEY);
" < <(
	topology_source db1 my_publication my_slot db1server "$TABLES" "json_schemas = false"
	topology_target db2
	topology_pipeline p1 db1 db2
) || { _fail "environment comes up"; finish; exit; }

# Every table of DB but the agent's own and the excluded ones, one line each:
# its quoted name, its row count and the md5 of its rows in order.
DIGEST_SQL=$(cat <<'SQL'
SELECT string_agg(n || ' ' || (xpath('/row/d/text()', query_to_xml(format(
         'SELECT count(*) || '':'' || coalesce(md5(string_agg(t::text, ''|'' ORDER BY t::text)), ''-'') AS d FROM %s t', n),
         false, true, '')))[1]::text, E'\n' ORDER BY n)
FROM (SELECT format('%I.%I', schemaname, tablename) AS n FROM pg_tables
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'cdc_agent', 'coll')
        AND NOT (schemaname = 'bulk' AND tablename LIKE 'tmp\_%')) s
SQL
)
digest() { pg_psql src "$1" "$DIGEST_SQL" 2>&1; }
converged() { # SECONDS
	local i
	for ((i = 0; i < $1; i++)); do
		[ "$(digest db2)" = "$(digest db1)" ] && return 0
		sleep 1
	done
	diff <(digest db1) <(digest db2) | head -20
	return 1
}
capture_digest() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["config_digest"])' \
		"$WORK/state/progress-capture-p1.json" 2>/dev/null
}
bootstrap_log=$(cat "$WORK/bootstrap.log")
check_contains "a pattern matching nothing is a warning, at its line" \
	"topo.ini:22: warning: tables: pattern nothing_here.* matches no table of database db1" "$bootstrap_log"
check_eq "bootstrap publishes the quoted names" "1" \
	"$(pg_psql src db1 "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'my_publication' AND schemaname = 'Sales.EU' AND tablename = 'Order Lines'")"
check_eq "and grants USAGE on their schemas" "t|t" \
	"$(pg_psql src db1 "SELECT has_schema_privilege('cdc_user', 'Sales.EU', 'USAGE'), has_schema_privilege('cdc_user', 'Ünïcode', 'USAGE')")"
check_not_contains "the excluded table is not published" "tmp_scratch" "$bootstrap_log"
check_eq "the publication has the 306 tables" "306" \
	"$(pg_psql src db1 "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'my_publication'")"

capture_start p1
apply_start p1
T0=$SECONDS
check "initial snapshot of 306 tables: every digest equal" converged 240
echo "# initial snapshot of 306 tables: $((SECONDS - T0)) s"
"$CDC_AGENT" -c "$T" run >>"$WORK/run.log" 2>&1 &
CAPTURE_PIDS[run]=$!
check_eq "306 tables on the target" "306" "$(digest db2 | wc -l)"
check_contains "the unquoted MyTable went to public.mytable" "public.mytable 2:" "$(digest db2)"
check_contains "the quoted one to public.\"MyTable\"" 'public."MyTable" 2:' "$(digest db2)"
check_eq "the excluded table is not on the target" "" \
	"$(pg_psql src db2 "SELECT to_regclass('bulk.tmp_scratch')")"
topics=$(kcat -b "127.0.0.1:$KP" -L 2>/dev/null)
check_contains "topic of a quoted name, as Debezium names it" "db1server.Sales.EU.Order_Lines" "$topics"
check_contains "topic of a non-ASCII name" "db1server._n_code.__T_ble" "$topics"
check_contains "topic of the quoted MyTable" "db1server.public.MyTable" "$topics"

# Rows after streaming started, in every table (one transaction for the bulk).
pg_psql src db1 "
UPDATE \"Sales.EU\".\"Order Lines\" SET \"Qty\" = \"Qty\" + 1, note = 'it''s ; \"quoted\"' WHERE id % 3 = 0;
DELETE FROM \"Sales.EU\".\"Order Lines\" WHERE id % 7 = 0;
INSERT INTO \"Sales.EU\".\"Order Lines\" SELECT g, g, 'late' FROM generate_series(51, 80) g;
INSERT INTO public.mytable VALUES (5, 'folded 5');
UPDATE public.\"MyTable\" SET v = 'quoted, updated' WHERE id = 1;
INSERT INTO \"Ünïcode\".\"表 Tàble\" VALUES (3, 'ü');
DELETE FROM public.\"we\"\"ird ; name\" WHERE id = 1;
UPDATE public.café SET v = 11;
INSERT INTO bulk.tmp_scratch VALUES (2, 2);
DO \$\$ BEGIN
  FOR i IN 1..$BULK LOOP
    EXECUTE format('INSERT INTO bulk.t%1\$s SELECT g, g FROM generate_series(6, 9) g; '
                   'UPDATE bulk.t%1\$s SET v = v + 1 WHERE id = 2; DELETE FROM bulk.t%1\$s WHERE id = 3',
                   lpad(i::text, 3, '0'));
  END LOOP;
END \$\$;" >/dev/null
check "streamed changes of every table: every digest equal" converged 180

# status and metrics spell a table one way: quoted where a name needs it.
"$CDC_AGENT" -c "$T" status --json >"$WORK/status.json" 2>/dev/null
check "status counts events of the quoted table under its quoted name" python3 - "$WORK/status.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
p = [p for p in doc["pipelines"] if p["name"] == "p1"][0]
for kind in ("capture", "apply"):
    t = p[kind]["events_by_table"]
    assert '"Sales.EU"."Order Lines"' in t, (kind, sorted(t)[:5])
    assert "bulk.t300" in t and 'public."MyTable"' in t and "public.mytable" in t, kind
PY
out=$(timeout 120 "$CDC_AGENT" -c "$T" snapshot p1 '"Sales.EU"."Order Lines"' --wait 2>&1)
check_eq "snapshot of a quoted name: exit 0" 0 "$?"
check_contains "and it is done" 'snapshot of "Sales.EU"."Order Lines" done: 73 rows' "$out"
check "digests still equal after it" converged 60

# ---- a table created later that matches joins at the next pass -------------------
pg_psql src db1 "
CREATE TABLE bulk.t301 (id int PRIMARY KEY, v text);
INSERT INTO bulk.t301 SELECT g, 'before ' || g FROM generate_series(1, 20) g;
CREATE TABLE bulk.tmp_later (id int PRIMARY KEY);" >/dev/null
log_wait "$WORK/run.log" "add table bulk.t301 to publication" 60
pass_log=$(cat "$WORK/run.log")
check_contains "run's next pass adds the new table to the publication" \
	"add table bulk.t301 to publication my_publication" "$pass_log"
check_contains "saying it joins" "table bulk.t301 joins: a pattern of tables now matches it" "$pass_log"
check_not_contains "not the excluded one" "tmp_later" "$pass_log"
check_eq "the pattern that matches nothing is warned of once, not at every pass" 1 \
	"$(grep -c "pattern nothing_here.\* matches no table" "$WORK/run.log")"
# run restarts a unit whose process reports another config digest than the
# topology's: the resolved tables are in it (tests/unit/test_pipeline_digest).
# Restarted here as systemd would.
before=$(capture_digest)
pipeline_stop p1 # as systemd's restart does
capture_start p1
apply_start p1
check "capture snapshots the new table" log_wait "$WORK/capture-p1.log" "incremental snapshot of bulk.t301" 60
pg_psql src db1 "INSERT INTO bulk.t301 VALUES (21, 'after'); UPDATE bulk.t301 SET v = 'changed' WHERE id = 2;
DELETE FROM bulk.t301 WHERE id = 3; INSERT INTO bulk.tmp_later VALUES (1);" >/dev/null
check "the new table joined: every digest equal (307 tables)" converged 120
check_eq "307 tables on the target" "307" "$(digest db2 | wc -l)"
after=$(capture_digest)
check "the restarted capture runs with another digest (the new table in it)" test "$before" != "$after"
kill "${CAPTURE_PIDS[run]}"; wait "${CAPTURE_PIDS[run]}" 2>/dev/null
"$CDC_AGENT" -c "$T" plan >"$WORK/plan3.log" 2>&1
check_eq "a plan after it has nothing to change" 0 "$?"

# ---- refusals at plan: an absent table named, two tables on one topic ------------
sed 's/^    nothing_here\.\*$/    public.absent/' "$T" >"$WORK/absent.ini"
out=$("$CDC_AGENT" -c "$WORK/absent.ini" plan 2>&1)
check_eq "plan with an absent table named: exit 1" 1 "$?"
check_contains "naming it at the tables line" "absent.ini:18: error: source db1: table public.absent does not exist in database db1" "$out"
sed 's/^    nothing_here\.\*$/    coll.*/' "$T" >"$WORK/coll.ini"
out=$("$CDC_AGENT" -c "$WORK/coll.ini" plan 2>&1)
check_eq "plan with a pattern giving two tables one topic: exit 1" 1 "$?"
check_contains "naming both tables" \
	'coll.ini:22: error: tables: tables coll."a b" and coll.a_b of database db1 would both go to Kafka topic db1server.coll.a_b' "$out"
"$CDC_AGENT" -c "$WORK/coll.ini" check >/dev/null 2>&1
check_eq "check alone (no catalog) accepts the file" 0 "$?"

pipeline_stop p1 # as systemd's restart does
finish
