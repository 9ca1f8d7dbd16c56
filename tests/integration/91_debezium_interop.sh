#!/usr/bin/env bash
# Drop-in with Debezium, both ways, against real PostgreSQL 15, Kafka and a
# Kafka Connect worker with Debezium's own connectors (scripts/connect-dist.sh
# builds it from Maven Central):
#   A. cdc-agent capture (json_schemas = true and every other default) ->
#      Kafka -> Debezium's JDBC sink (upsert, primary.key.mode=record_key,
#      schema.evolution=basic: it creates the table) -> database "sink";
#   B. Debezium's PostgreSQL connector (pgoutput, its defaults, JsonConverter
#      with schemas) -> Kafka -> cdc-agent apply -> database db3.
# Each compares an ordered digest of every row (source vs target) after the
# snapshot and after inserts, updates and deletes, on the suite's type table
# (80_pipeline.sh's).  Debezium's connector runs with
# provide.transaction.metadata, so apply reads its blocks too, and its
# transaction topic and blocks are compared with cdc-agent's, field by field.  Columns that cannot land equal because of the other
# side's own limits are left out of the digest with the reason, and
# docs/DEBEZIUM_FORMAT.md ("Interop with Debezium's connectors", §8) explains them.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
. "$REPO_ROOT/tests/lib/connect.sh"
trap 'connect_stop "$WORK/connect" >/dev/null 2>&1; capture_env_down' EXIT
CAPTURE_PARTITIONS=1

if ! CONNECT_DIST=$("$REPO_ROOT/scripts/connect-dist.sh" 2>"/tmp/connect-dist.$$.log"); then
	skip_or_fail "Kafka Connect with Debezium's connectors (scripts/connect-dist.sh): $(tail -n 3 "/tmp/connect-dist.$$.log")"
	rm -f "/tmp/connect-dist.$$.log"
	finish
	exit
fi
rm -f "/tmp/connect-dist.$$.log"

. "$REPO_ROOT/tests/lib/types_table.sh"
# Direction B's row: values that only Debezium's content can get wrong
# (trailing zeros of an unconstrained numeric, json's own spacing, an
# interval of days and hours).
TYPES_ROW_B="-3, -9007199254740993, -0.5, 1e-5, -0.01, 1.1110, false, '', 'x',
	'{ \"k\" :  [1,2 ] }', '{\"k\": null}', '00000000-0000-0000-0000-000000000001', '\\x',
	'1999-12-31', '00:00:00', '1970-01-01 00:00:00', '2000-02-29 23:59:59.999999-05',
	'2024-06-30 12:00:00.123+02', '1187 days 03:00:00', '{}', '{NULL,\"\"}', 'x', B'000', '((0,0),(0,0))', 'set'"

capture_env_up "
CREATE TABLE types_t ($TYPES_COLS);
INSERT INTO types_t VALUES (1, $TYPES_ROW), (2, $TYPES_ROW_B);
CREATE TABLE nan_t (id int PRIMARY KEY, n numeric(10,2), nu numeric, na numeric[]);
INSERT INTO nan_t VALUES (1, 'NaN', 'Infinity', '{1.10,NaN,-Infinity}'), (2, 1.5, '-Infinity', '{2.50}');
CREATE TABLE types_b ($TYPES_COLS);
INSERT INTO types_b VALUES (1, $TYPES_ROW), (2, $TYPES_ROW_B);
" < <(
	topology_source db1 my_publication my_slot db1server "public.types_t, public.nan_t"
	topology_source dbz dbz_agent_pub dbz_agent_slot dbz public.types_b
	topology_target db2
	topology_target db3
	topology_pipeline p1 db1 db2
	topology_pipeline p2 dbz db3
) || { _fail "environment comes up"; finish; exit; }

# Connect's connectors log in over TCP as their own role.
pg_psql src postgres "CREATE ROLE connect_user LOGIN SUPERUSER REPLICATION PASSWORD 'connect pw'" >/dev/null
pg_psql src postgres "CREATE DATABASE sink" >/dev/null
hba=$PG_DIR_src/data/pg_hba.conf
{
	echo "host all connect_user 127.0.0.1/32 scram-sha-256"
	echo "host replication connect_user 127.0.0.1/32 scram-sha-256"
	cat "$hba"
} >"$hba.new" && cat "$hba.new" >"$hba" && rm -f "$hba.new"
pg_psql src postgres "SELECT pg_reload_conf()" >/dev/null

CP=$(free_port)
URL=http://127.0.0.1:$CP
if connect_start "$CONNECT_DIST" "$WORK/connect" "$KP" "$CP" >"$WORK/connect-start.log" 2>&1; then
	_pass "a Connect worker with Debezium's connectors starts ($(sed -n 's/^debezium-connector-jdbc /JDBC sink /p' "$CONNECT_DIST/VERSIONS"))"
else
	_fail "a Connect worker with Debezium's connectors starts" "$(tail -n 30 "$WORK/connect-start.log")"
	finish
	exit
fi

# ---- digests ---------------------------------------------------------------
# Row text of the listed columns, ordered by id; the rows as well when they
# differ.  SOURCE_DB is db1 (wait_converged's source).
converged() { # TABLE SOURCE_DB TARGET_DB COLUMNS SECONDS
	DIGEST_ROW="row($4)::text" wait_converged "$5" "$1" "$3" && return 0
	echo "--- $2:"; pg_psql src "$2" "SELECT row($4)::text FROM public.$1 ORDER BY id"
	echo "--- $3:"; pg_psql src "$3" "SELECT row($4)::text FROM public.$1 ORDER BY id" 2>&1
	return 1
}
ALL_COLS="id, i2, i8, f4, f8, n, nu, b, t, vc, j, jb, u, by, d, tm, ts, tz, tz3, iv, ai, at, ch, bt, bx, nul"

# The target's column types, for the log when a digest differs.
col_types() { # DB TABLE
	pg_psql src "$1" "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = 'public.$2'::regclass AND attnum > 0 AND NOT attisdropped" 2>&1
}
# Rows written after the snapshot: inserts, an update of every column, a delete.
more_changes() { # TABLE
	pg_psql src db1 "INSERT INTO $1 VALUES (3, $TYPES_ROW), (4, $TYPES_ROW_B);
		UPDATE $1 SET (i2, i8, f4, f8, n, nu, b, t, vc, j, jb, u, by, d, tm, ts, tz, tz3, iv, ai, at, ch, bt, bx, nul)
			= (SELECT i2, i8, f4, f8, n, nu, b, t, vc, j, jb, u, by, d, tm, ts, tz, tz3, iv, ai, at, ch, bt, bx, nul
			   FROM $1 WHERE id = 1) WHERE id = 2;
		UPDATE $1 SET nul = NULL, nu = 0.000100, iv = '00:00:00.000001' WHERE id = 2;
		UPDATE $1 SET nul = 'x' WHERE id = 1;
		DELETE FROM $1 WHERE id = 3" >/dev/null
}

# ---- A: cdc-agent capture -> Debezium's JDBC sink ----------------------------
capture_start p1
topic_wait db1server.public.types_t 2 60 || _fail "capture p1 sends the snapshot"
SINK_CONFIG='{
	"connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
	"tasks.max": "1",
	"topics": "db1server.public.types_t",
	"connection.url": "jdbc:postgresql://127.0.0.1:'$PG_PORT_src'/sink",
	"connection.username": "connect_user",
	"connection.password": "connect pw",
	"insert.mode": "upsert",
	"delete.enabled": "true",
	"primary.key.mode": "record_key",
	"schema.evolution": "basic",
	"collection.name.format": "${source.table}"
}'
connect_create "$URL" sink "$SINK_CONFIG" 2>"$WORK/sink-create.log" ||
	_fail "the JDBC sink is created" "$(cat "$WORK/sink-create.log")"
check "A: the JDBC sink runs" connect_wait_running "$URL" sink 60
# Two columns compared through a cast, for the sink's own limits
# (docs/DEBEZIUM_FORMAT.md, "Interop with Debezium's connectors"):
# - nu (numeric without typmod, io.debezium.data.VariableScaleDecimal): the
#   sink creates it as double precision, so it is compared as a double;
# - iv (interval, io.debezium.time.Interval: ISO 8601 in cdc-agent's default
#   interval_handling = string): the sink knows only MicroDuration and
#   writes the text into a text column; as an interval it is the same value.
A_COLS=${ALL_COLS/nu,/nu::float8,}
A_COLS=${A_COLS/iv,/iv::interval,}
check "A: the snapshot lands equal through the JDBC sink" converged types_t db1 sink "$A_COLS" 60
more_changes types_t
check "A: inserts, updates and deletes land equal" converged types_t db1 sink "$A_COLS" 60
check "A: the JDBC sink is still running" connect_wait_running "$URL" sink 5
# The same events, with the new default decimal_handling = precise, through
# cdc-agent's own apply: every column equal, trailing zeros, NaN and
# Infinity included (those have no Decimal form: the event carries null and
# the cdc.text header their text).
apply_start p1
pg_psql src db1 "INSERT INTO nan_t VALUES (3, 'NaN', 'NaN', NULL); UPDATE nan_t SET nu = 'Infinity' WHERE id = 2" >/dev/null
check "A: cdc-agent apply lands the same events equal, every column" converged types_t db1 db2 "$ALL_COLS" 60
check "A: NaN and Infinity of numeric columns land as they were" converged nan_t db1 db2 "id, n, nu, na" 60
echo "# A: source columns: $(col_types db1 types_t)"
echo "# A: sink columns:   $(col_types sink types_t)"

# ---- B: Debezium's PostgreSQL connector -> cdc-agent apply ------------------
DBZ_CONFIG='{
	"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
	"tasks.max": "1",
	"database.hostname": "127.0.0.1",
	"database.port": "'$PG_PORT_src'",
	"database.user": "connect_user",
	"database.password": "connect pw",
	"database.dbname": "db1",
	"topic.prefix": "dbz",
	"plugin.name": "pgoutput",
	"table.include.list": "public.types_b",
	"publication.autocreate.mode": "filtered",
	"provide.transaction.metadata": "true"
}'
connect_create "$URL" dbz "$DBZ_CONFIG" 2>"$WORK/dbz-create.log" ||
	_fail "Debezium's PostgreSQL connector is created" "$(cat "$WORK/dbz-create.log")"
check "B: Debezium's PostgreSQL connector runs" connect_wait_running "$URL" dbz 60
topic_wait dbz.public.types_b 2 60 || _fail "B: Debezium sends the snapshot"
apply_start p2
# Compared for what the content of Debezium's events allows
# (docs/DEBEZIUM_FORMAT.md, "Interop with Debezium's connectors"):
# - nu: Debezium strips an unconstrained numeric's trailing zeros before it
#   sends it (12.340 comes as scale 2): compared without them (trim_scale);
# - iv: interval.handling.mode=numeric sends microseconds (a month as
#   30.4375 days): apply writes days and time, so intervals of days and time
#   come back as they were (checked below), those with months cannot;
# - bx: Debezium's connector sends no value for a box column (an unsupported
#   type): the column never reaches the target.
B_COLS=${ALL_COLS/nu,/trim_scale(nu),}
B_COLS=${B_COLS/iv, /}
B_COLS=${B_COLS/bx, /}
check "B: Debezium's snapshot applies equal" converged types_b db1 db3 "$B_COLS" 60
more_changes types_b
check "B: inserts, updates and deletes apply equal" converged types_b db1 db3 "$B_COLS" 60
iv_rows() { # DB IDS
	pg_psql src "$1" "SELECT string_agg(id || ' ' || iv, ', ' ORDER BY id) FROM types_b WHERE id IN ($2)" 2>&1
}
check_eq "B: intervals of days and time keep their days form" "$(iv_rows db1 2,4)" "$(iv_rows db3 2,4)"
check_eq "B: an interval with months arrives in days (a month is 30.4375 days: the limit of Debezium's numeric mode)" \
	"1 429 days 07:05:06.78" "$(iv_rows db3 1)"
# Debezium's events say io.debezium.data.Json for both: json keeps a json
# value's text as it was, and a jsonb value's text is already normalized.
check_eq "B: json and jsonb columns are created as json" "json json" \
	"$(pg_psql src db3 "SELECT string_agg(format_type(atttypid, atttypmod), ' ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = 'public.types_b'::regclass AND attname IN ('j', 'jb')" 2>&1)"
echo "# B: source columns: $(col_types db1 types_b)"
echo "# B: target columns: $(col_types db3 types_b)"
check_not_contains "B: apply stopped on no record" "error" "$(cat "$WORK/apply-p2.log")"

# ---- transaction metadata: cdc-agent's (A) against Debezium's own (B) --------
# more_changes is one transaction on each side (2 inserts, 3 updates, a
# delete): the transaction topics and the events' blocks must have the same
# schemas, members and counts, and Debezium's ids the "txId:LSN" of each
# record that cdc-agent writes (docs/DEBEZIUM_FORMAT.md §1.7).
check "B: Debezium's transaction topic has records" topic_wait dbz.transaction 2 30
for t in db1server.transaction dbz.transaction db1server.public.types_t dbz.public.types_b; do
	topic_dump "$t" "$WORK/$t.json"
done
check "cdc-agent's transaction records and blocks are Debezium's own, field by field" python3 - "$WORK" <<'EOF'
import json, re, sys
W = sys.argv[1]
errs = []
def load(t):
    return [r for r in (json.loads(l) for l in open(f"{W}/{t}.json") if l.strip())]
def txn(prefix, table):
    recs = [(json.loads(r["key"]), json.loads(r["payload"])) for r in load(f"{prefix}.transaction")]
    evs = [json.loads(r["payload"]) for r in load(f"{prefix}.public.{table}") if r["payload"]]
    ends = [v["payload"] for k, v in recs if v["payload"]["status"] == "END" and
            any(d["data_collection"] == f"public.{table}" for d in v["payload"]["data_collections"])]
    end = max(ends, key=lambda e: e["event_count"]) if ends else None
    txid = end["id"].split(":")[0] if end else None
    mine = [e for e in evs if e["payload"]["transaction"] and str(e["payload"]["source"]["txId"]) == txid]
    begin = [v["payload"] for k, v in recs if v["payload"]["status"] == "BEGIN" and v["payload"]["id"].split(":")[0] == txid]
    return recs, evs, end, begin[0] if begin else None, mine
ours = txn("db1server", "types_t")
theirs = txn("dbz", "types_b")
def same(what, a, b):
    if a != b:
        errs.append(f"{what}: cdc-agent {a!r}, Debezium {b!r}")
(orecs, oevs, oend, obegin, omine), (trecs, tevs, tend, tbegin, tmine) = ours, theirs
if not oend or not tend or not obegin or not tbegin:
    sys.exit(f"the changes' transaction missing: cdc-agent END {oend} BEGIN {obegin}, Debezium END {tend} BEGIN {tbegin}")
same("key schema", orecs[0][0]["schema"], trecs[0][0]["schema"])
same("value schema", orecs[0][1]["schema"], trecs[0][1]["schema"])
same("key members", list(orecs[0][0]["payload"]), list(trecs[0][0]["payload"]))
for o, t in ((obegin, tbegin), (oend, tend)):
    same(f"{t['status']} members", list(o), list(t))
same("BEGIN event_count, data_collections", (obegin["event_count"], obegin["data_collections"]),
     (tbegin["event_count"], tbegin["data_collections"]))
same("END event_count", oend["event_count"], tend["event_count"])
same("END data_collections", [dict(d, data_collection=d["data_collection"].replace("types_t", "types_b")) for d in oend["data_collections"]],
     tend["data_collections"])
for side, recs in (("cdc-agent", orecs), ("Debezium", trecs)):
    for k, v in recs:
        if k["payload"]["id"] != v["payload"]["id"] or not re.fullmatch(r"\d+:\d+", v["payload"]["id"]):
            errs.append(f"{side}: key {k['payload']} / id {v['payload']['id']}")
def block_schema(e):
    return [f for f in e["schema"]["fields"] if f["field"] == "transaction"]
same("the envelope's transaction schema", block_schema(oevs[0]), block_schema(tevs[0]))
def blocks(evs):
    return [(e["payload"]["op"], list(e["payload"]["transaction"]), e["payload"]["transaction"]["total_order"],
             e["payload"]["transaction"]["data_collection_order"]) for e in evs]
same("the transaction's events: op, block members, orders", blocks(omine), blocks(tmine))
for side, evs, begin, end in (("cdc-agent", omine, obegin, oend), ("Debezium", tmine, tbegin, tend)):
    for e in evs:
        src, tx = e["payload"]["source"], e["payload"]["transaction"]
        if tx["id"] != f"{src['txId']}:{src['lsn']}":
            errs.append(f"{side}: block id {tx['id']} is not txId:lsn {src['txId']}:{src['lsn']}")
    lsn = lambda i: int(i.split(":")[1])
    if not (lsn(begin["id"]) <= evs[0]["payload"]["source"]["lsn"] and lsn(end["id"]) > evs[-1]["payload"]["source"]["lsn"]):
        errs.append(f"{side}: BEGIN {begin['id']} / END {end['id']} do not bracket the events' LSNs")
    if begin["ts_ms"] != evs[0]["payload"]["source"]["ts_ms"] or end["ts_ms"] != begin["ts_ms"]:
        errs.append(f"{side}: BEGIN/END ts_ms {begin['ts_ms']}/{end['ts_ms']} vs the commit time {evs[0]['payload']['source']['ts_ms']}")
for e in errs:
    print(e)
print(f"cdc-agent {oend['id']} / Debezium {tend['id']}: {oend['event_count']} events")
sys.exit(1 if errs else 0)
EOF

finish
