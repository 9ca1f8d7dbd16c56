#!/usr/bin/env python3
"""tests/lib/check_events.py WORKDIR: checks the events 70_capture.sh read
back with kcat -J against Debezium 2.7's format (docs/DEBEZIUM_FORMAT.md).
Prints each mismatch; exits 1 if there was any."""
import base64
import json
import os
import sys

WORK = sys.argv[1]
errors = []


def fail(msg):
    errors.append(msg)
    print("MISMATCH:", msg)


def load(name):
    with open(os.path.join(WORK, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def value(rec):
    return None if rec["payload"] is None else json.loads(rec["payload"])


def expect(what, want, got):
    if want != got:
        fail(f"{what}: expected {want!r}, got {got!r}")


def strip_source_type(schema):
    """Our field schemas also carry the source column type, as Debezium's
    column.propagate.source.type does; remove it to compare with the default."""
    if isinstance(schema, dict):
        out = {}
        for k, v in schema.items():
            if k == "parameters":
                v = {p: x for p, x in v.items() if not p.startswith("__debezium.source.column")}
                if not v:
                    continue
            out[k] = strip_source_type(v)
        return out
    if isinstance(schema, list):
        return [strip_source_type(x) for x in schema]
    return schema


def murmur2(data):
    """Kafka's Utils.murmur2 (the Java producer's partitioner hash)."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[i * 4:i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & ~3
    rem = length % 4
    if rem == 3:
        h ^= data[tail + 2] << 16
    if rem >= 2:
        h ^= data[tail + 1] << 8
    if rem >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


PAYLOAD_KEYS = ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"]
SOURCE_KEYS = ["version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us",
               "ts_ns", "schema", "table", "txId", "lsn", "xmin"]


def check_envelope(rec, topic_prefix, table, schemas):
    v = value(rec)
    payload = v["payload"] if schemas else v
    if schemas:
        expect(f"{table}: value has schema and payload", ["schema", "payload"], list(v.keys()))
    expect(f"{table}: payload field order", PAYLOAD_KEYS, list(payload.keys()))
    src = payload["source"]
    expect(f"{table}: source field order", SOURCE_KEYS, list(src.keys()))
    expect(f"{table}: source.version", "2.7.4.Final", src["version"])
    expect(f"{table}: source.connector", "postgresql", src["connector"])
    expect(f"{table}: source.name", topic_prefix, src["name"])
    expect(f"{table}: source.db", "db1", src["db"])
    expect(f"{table}: source.schema", "public", src["schema"])
    expect(f"{table}: source.table", table, src["table"])
    # transaction_metadata (on by default): Debezium's block on streamed
    # changes, id "<txId>:<lsn>" with the change's own LSN
    # (PostgresTransactionMonitor); none on snapshot rows.
    tx = payload["transaction"]
    if payload["op"] == "r":
        expect(f"{table}: snapshot row's transaction", None, tx)
    else:
        expect(f"{table}: transaction block fields", ["id", "total_order", "data_collection_order"],
               list(tx.keys()) if isinstance(tx, dict) else tx)
        if isinstance(tx, dict):
            expect(f"{table}: transaction.id", f"{src['txId']}:{src['lsn']}", tx["id"])
            for k in ("total_order", "data_collection_order"):
                if not isinstance(tx[k], int) or tx[k] < 1:
                    fail(f"{table}: transaction.{k} is not a positive integer: {tx[k]!r}")
    for k in ("ts_ms", "ts_us", "ts_ns"):
        if not isinstance(payload[k], int):
            fail(f"{table}: envelope {k} is not an integer: {payload[k]!r}")
    expect(f"{table}: ts_us = ts_ms * 1000", payload["ts_ms"] * 1000, payload["ts_us"])
    if payload["op"] in "cudt":
        expect(f"{table}: streamed source.snapshot", "false", src["snapshot"])
        if not isinstance(src["txId"], int) or not isinstance(src["lsn"], int):
            fail(f"{table}: streamed event lacks txId/lsn: {src}")
        seq = json.loads(src["sequence"])
        expect(f"{table}: sequence ends with the lsn", str(src["lsn"]), seq[1])
    return payload


def by_key(records):
    out = {}
    for rec in records:
        out.setdefault(rec["key"], []).append(rec)
    for recs in out.values():
        recs.sort(key=lambda r: r["offset"])
    return out


def payload_of(rec, schemas):
    v = value(rec)
    if v is None:
        return None
    return v["payload"] if schemas else v


# ---- db1server.public.my_table: schemas on ---------------------------------
recs = load("my_table.json")
with open("/dev/null"):
    pass
expected_schema = None
doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "DEBEZIUM_FORMAT.md")
with open(doc) as f:
    for line in f:
        if line.startswith('{"type":"struct","fields":[{"type":"struct"') and "Envelope" in line:
            expected_schema = json.loads(line)
            break
if expected_schema is None:
    fail("docs/DEBEZIUM_FORMAT.md has no envelope schema line to compare with")
for rec in recs:
    if rec["payload"] is None:
        continue
    payload = check_envelope(rec, "db1server", "my_table", True)
    if expected_schema is not None:
        expect("my_table: value schema equals Debezium's (source types aside)",
               expected_schema, strip_source_type(value(rec)["schema"]))
keys = by_key(recs)
key_schema = {"type": "struct", "fields": [{"type": "int32", "optional": False, "field": "id"}],
              "optional": False, "name": "db1server.public.my_table.Key"}


def key_of(id_):
    for k in keys:
        if k and json.loads(k)["payload"] == {"id": id_}:
            return k
    fail(f"my_table: no record with key id={id_}")
    return None


for k in keys:
    if k is not None:
        expect("my_table: key schema", key_schema, strip_source_type(json.loads(k)["schema"]))


def ops(id_):
    k = key_of(id_)
    if k is None:
        return []
    return [None if payload_of(r, True) is None else payload_of(r, True)["op"] for r in keys[k]]


expect("my_table id=1 ops", ["r", "u"], ops(1))
expect("my_table id=2 ops (key change: delete, tombstone)", ["r", "d", None], ops(2))
expect("my_table id=20 ops (key change: create)", ["c"], ops(20))
expect("my_table id=3 ops (delete, tombstone)", ["r", "d", None], ops(3))
expect("my_table id=4 ops", ["c"], ops(4))
k1 = key_of(1)
if k1:
    p = payload_of(keys[k1][1], True)
    expect("my_table update: before (REPLICA IDENTITY DEFAULT)", None, p["before"])
    expect("my_table update: after", {"id": 1, "name": "uno"}, p["after"])
def headers(rec):
    h = rec.get("headers") or []
    return dict(zip(h[0::2], h[1::2]))


k2, k20 = key_of(2), key_of(20)
if k2 and k20:
    expect("key change: the delete names the new key (Debezium's header)",
           '{"id":20}', headers(keys[k2][1]).get("__debezium.newkey"))
    expect("key change: the tombstone carries the delete's headers",
           '{"id":20}', headers(keys[k2][2]).get("__debezium.newkey"))
    expect("key change: the create names the old key", '{"id":2}',
           headers(keys[k20][0]).get("__debezium.oldkey"))
k3 = key_of(3)
if k3:
    expect("my_table delete: before has the key, other columns null", {"id": 3, "name": None},
           payload_of(keys[k3][1], True)["before"])
truncates = keys.get(None, [])
expect("my_table: one truncate event with a null key", ["t"],
       [payload_of(r, True)["op"] for r in truncates if r["offset"] is not None][:1])
snap = sorted(payload_of(r, True)["source"]["snapshot"] for r in recs
              if r["payload"] and payload_of(r, True)["op"] == "r")
# Tables are copied in parallel (capture_snapshot.c): the snapshot's
# "first" and "last" rows may be any table's; each is said once at most.
expect("my_table snapshot markers", (3, True, True),
       (len(snap), snap.count("first") <= 1 and snap.count("last") <= 1,
        set(snap) <= {"first", "true", "last"}))
for r in recs:
    if r["key"] is not None:
        want = murmur2(r["key"].encode()) & 0x7FFFFFFF
        expect(f"partition of {r['key'][-12:]}", want % 3, r["partition"])

# ---- types_t ----------------------------------------------------------------
EXPECTED_ROW = {
    "i2": 7, "i8": 9007199254740993, "f4": 1.5, "f8": 3.25,
    # decimal_handling's default with the schema block: Debezium's precise
    # (an unconstrained numeric keeps its trailing zero: scale 3)
    "n": "BNI=", "nu": {"scale": 3, "value": "MDQ="},
    "b": True, "t": 'h\u00e9llo "q"\n', "vc": "abc", "j": '{"a": 1}', "jb": '{"b": [1, 2]}',
    "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "by": base64.b64encode(b"\x01\x02\xff").decode(),
    "d": 19723, "tm": 49890123456, "ts": 1704112496789012,
    "tz": "2024-01-01T00:00:00.000000Z", "tz3": "2024-01-01T00:00:00.500Z",
    "iv": "P1Y2M3DT4H5M6.78S", "ai": [1, 2, None], "at": ["a b", "c"], "nul": None,
}
EXPECTED_TYPES = {
    "id": ("int32", None), "i2": ("int16", None), "i8": ("int64", None), "f4": ("float", None),
    "f8": ("double", None), "n": ("bytes", "org.apache.kafka.connect.data.Decimal"),
    "nu": ("struct", "io.debezium.data.VariableScaleDecimal"),
    "b": ("boolean", None), "t": ("string", None), "vc": ("string", None),
    "j": ("string", "io.debezium.data.Json"), "jb": ("string", "io.debezium.data.Json"),
    "u": ("string", "io.debezium.data.Uuid"), "by": ("bytes", None),
    "d": ("int32", "io.debezium.time.Date"), "tm": ("int64", "io.debezium.time.MicroTime"),
    "ts": ("int64", "io.debezium.time.MicroTimestamp"),
    "tz": ("string", "io.debezium.time.ZonedTimestamp"),
    "tz3": ("string", "io.debezium.time.ZonedTimestamp"),
    "iv": ("string", "io.debezium.time.Interval"), "ai": ("array", None),
    "at": ("array", None), "nul": ("string", None),
}
types = load("types_t.json")
expect("types_t: two events (snapshot, insert)", 2, len(types))
for rec in types:
    payload = check_envelope(rec, "db1server", "types_t", True)
    after = dict(payload["after"])
    id_ = after.pop("id")
    for col, want in EXPECTED_ROW.items():
        expect(f"types_t id={id_} column {col}", want, after.get(col))
    fields = value(rec)["schema"]["fields"][1]["fields"]
    for f in fields:
        want_type, want_name = EXPECTED_TYPES[f["field"]]
        expect(f"types_t schema of {f['field']}", (want_type, want_name), (f["type"], f.get("name")))
    params = {f["field"]: f.get("parameters", {}) for f in fields}
    expect("types_t: the source type travels with the event (numeric(10,2))",
           {"scale": "2", "connect.decimal.precision": "10",
            "__debezium.source.column.type": "NUMERIC", "__debezium.source.column.length": "10",
            "__debezium.source.column.scale": "2"}, params["n"])
ops_types = sorted(payload_of(r, True)["op"] for r in types)
expect("types_t ops", ["c", "r"], ops_types)

# ---- toast_t: an unchanged TOASTed value --------------------------------------
toast = load("toast_t.json")
upd = [payload_of(r, True) for r in toast if r["payload"] and payload_of(r, True)["op"] == "u"]
expect("toast_t: one update", 1, len(upd))
if upd:
    expect("toast_t: unchanged TOAST column carries the placeholder",
           "__debezium_unavailable_value", upd[0]["after"]["big"])
    expect("toast_t: changed column", 1, upd[0]["after"]["n"])
    rec = [r for r in toast if r["payload"] and payload_of(r, True)["op"] == "u"][0]
    expect("toast_t: the cdc.unchanged header lists the column", '["big"]',
           headers(rec).get("cdc.unchanged"))

# ---- schemaless topics ----------------------------------------------------------
plain = load("plain_my_table.json")
for rec in plain:
    if rec["payload"] is None:
        continue
    check_envelope(rec, "plain", "my_table", False)
    raw = headers(rec).get("cdc.columns") or ""
    # a word first: Kafka Connect keeps the header a string (DEBEZIUM_FORMAT.md §7)
    expect("cdc.columns starts with 'v1 '", "v1 ", raw[:3])
    cols = json.loads(raw[3:] or "{}")
    expect("schemaless events carry the exact source types and attnums in cdc.columns",
           [{"name": "id", "type": "integer", "optional": False, "key": 1, "attnum": 1},
            {"name": "name", "type": "text", "optional": True, "attnum": 2}], cols.get("columns"))
    if not isinstance(cols.get("version"), int) or cols["version"] <= 0:
        fail(f"cdc.columns has no version (an LSN): {cols}")
    if rec["key"] is not None and not rec["key"].startswith('{"id":'):
        fail(f"plain key is not compact JSON of the primary key: {rec['key']}")
big = load("big_t.json")
ids = set()
for rec in big:
    p = value(rec)
    if p["op"] != "c":
        fail(f"big_t: unexpected op {p['op']}")
        break
    ids.add(p["after"]["id"])
    expect("big_t key", '{"id":%d}' % p["after"]["id"], rec["key"])
expect("big_t: every row of the 100k transaction, once", set(range(1, 100001)), ids)
expect("big_t: no duplicates", 100000, len(big))
for rec in big[:2000]:
    want = (murmur2(rec["key"].encode()) & 0x7FFFFFFF) % 3
    if want != rec["partition"]:
        fail(f"big_t: key {rec['key']} on partition {rec['partition']}, Java would pick {want}")
        break

print(f"check_events: {len(errors)} mismatches")
sys.exit(1 if errors else 0)
