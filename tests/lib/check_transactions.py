#!/usr/bin/env python3
"""tests/lib/check_transactions.py: a source's transaction topic and the
"transaction" blocks of its change events, field by field against the format
Debezium documents for provide.transaction.metadata (debezium.io, PostgreSQL
connector, "Transaction metadata"; the schemas as docs/DEBEZIUM_FORMAT.md §1.7
spells them, read from there).

  check_transactions.py WORK PREFIX SCHEMAS EXPECT
    WORK: the directory with the kcat -J dumps: txn-PREFIX.json (the
      transaction topic), PREFIX.TABLE.json for each table EXPECT names
    SCHEMAS: 1 when the records carry the JsonConverter schema block
    EXPECT: JSON {"<txid>": {"schema.table": events, ...} or null (a
      transaction with no captured change: neither BEGIN nor END)}
Exit status 1 on any mismatch, each printed.
"""
import json
import os
import sys

WORK, PREFIX, SCHEMAS, EXPECT = sys.argv[1], sys.argv[2], sys.argv[3] == "1", json.loads(sys.argv[4])
errors = []


def fail(msg):
    errors.append(msg)
    print("MISMATCH:", msg)


def expect(what, want, got):
    if want != got:
        fail(f"{what}: expected {want!r}, got {got!r}")


def load(name):
    with open(os.path.join(WORK, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def doc_line(start):
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "DEBEZIUM_FORMAT.md")
    with open(doc) as f:
        for line in f:
            if line.startswith(start):
                return json.loads(line)
    fail(f"docs/DEBEZIUM_FORMAT.md has no line starting {start}")
    return None


KEY_SCHEMA = doc_line('{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],'
                      '"optional":false,"name":"io.debezium.connector.common.TransactionMetadataKey"')
VALUE_SCHEMA = doc_line('{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"}')


def unwrap(text, schema, what):
    """The payload of a key or value, its schema block checked."""
    v = json.loads(text)
    if not SCHEMAS:
        return v
    expect(f"{what}: members", ["schema", "payload"], list(v.keys()))
    expect(f"{what}: schema block", schema, v.get("schema"))
    return v.get("payload")


def txid_lsn(ident, what):
    parts = ident.split(":") if isinstance(ident, str) else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        fail(f"{what}: id {ident!r} is not Debezium's \"txId:LSN\"")
        return None, None
    return parts[0], int(parts[1])


# ---- the transaction topic -------------------------------------------------
records = sorted(load(f"txn-{PREFIX}.json"), key=lambda r: (r["partition"], r["offset"]))
begins, ends, order = {}, {}, []
for r in records:
    key = unwrap(r["key"], KEY_SCHEMA, "transaction record key")
    v = unwrap(r["payload"], VALUE_SCHEMA, "transaction record value")
    expect("transaction record: payload fields, in the schema's order",
           ["status", "id", "event_count", "data_collections", "ts_ms"], list(v.keys()))
    expect("transaction record: key", {"id": v["id"]}, key)
    txid, lsn = txid_lsn(v["id"], f"{v['status']} record")
    if not isinstance(v["ts_ms"], int):
        fail(f"{v['status']} {v['id']}: ts_ms is not an integer: {v['ts_ms']!r}")
    if v["status"] == "BEGIN":
        expect(f"BEGIN {v['id']}: event_count", None, v["event_count"])
        expect(f"BEGIN {v['id']}: data_collections", None, v["data_collections"])
        if txid in begins:
            fail(f"transaction {txid}: BEGIN twice")
        begins[txid] = (lsn, v)
        order.append(("BEGIN", txid))
    elif v["status"] == "END":
        if txid in ends:
            fail(f"transaction {txid}: END twice")
        ends[txid] = (lsn, v)
        order.append(("END", txid))
    else:
        fail(f"transaction record: status {v['status']!r} is neither BEGIN nor END")

# BEGIN, then END, each transaction in turn (one partition, commit order)
for i in range(0, len(order), 2):
    pair = order[i:i + 2]
    if len(pair) != 2 or pair[0][0] != "BEGIN" or pair[1][0] != "END" or pair[0][1] != pair[1][1]:
        fail(f"transaction topic: records not in BEGIN/END pairs: {order}")
        break

# ---- the change events --------------------------------------------------------
tables = sorted({t for counts in EXPECT.values() if counts for t in counts})
events = {}  # txid -> [(table, source, transaction block)]
for table in tables:
    last_order = {}
    for r in sorted(load(f"{PREFIX}.{table}.json"), key=lambda r: (r["partition"], r["offset"])):
        if r["payload"] is None:
            continue  # a tombstone
        v = json.loads(r["payload"])
        p = v["payload"] if SCHEMAS else v
        tx, src = p["transaction"], p["source"]
        if p["op"] == "r":
            expect(f"{table}: snapshot row's transaction", None, tx)
            continue
        if not isinstance(tx, dict):
            fail(f"{table}: streamed {p['op']} event without a transaction block: {tx!r}")
            continue
        expect(f"{table}: transaction block fields", ["id", "total_order", "data_collection_order"],
               list(tx.keys()))
        expect(f"{table}: transaction.id is txId:lsn of the change", f"{src['txId']}:{src['lsn']}",
               tx["id"])
        txid = str(src["txId"])
        # within a topic, a table's events come in data_collection_order
        if tx["data_collection_order"] <= last_order.get((txid, r["partition"]), 0):
            fail(f"{table}: transaction {txid}: data_collection_order goes back on partition {r['partition']}")
        last_order[(txid, r["partition"])] = tx["data_collection_order"]
        events.setdefault(txid, []).append((table, src, tx))

for txid, counts in EXPECT.items():
    evs = events.get(txid, [])
    if counts is None:
        expect(f"transaction {txid} (no captured table): BEGIN", False, txid in begins)
        expect(f"transaction {txid} (no captured table): END", False, txid in ends)
        expect(f"transaction {txid} (no captured table): change events", 0, len(evs))
        continue
    if txid not in begins or txid not in ends:
        fail(f"transaction {txid}: BEGIN {txid in begins}, END {txid in ends}")
        continue
    (blsn, begin), (elsn, end) = begins[txid], ends[txid]
    total = sum(counts.values())
    expect(f"transaction {txid}: change events", total, len(evs))
    expect(f"transaction {txid}: total_order 1..n", list(range(1, total + 1)),
           sorted(tx["total_order"] for _, _, tx in evs))
    for table, n in counts.items():
        expect(f"transaction {txid}: {table}'s data_collection_order 1..n", list(range(1, n + 1)),
               sorted(tx["data_collection_order"] for t, _, tx in evs if t == table))
    expect(f"END {end['id']}: event_count", total, end["event_count"])
    got = end["data_collections"] or []
    for dc in got:
        expect(f"END {end['id']}: data_collections item fields", ["data_collection", "event_count"],
               list(dc.keys()))
    expect(f"END {end['id']}: data_collections", counts,
           {dc.get("data_collection"): dc.get("event_count") for dc in got})
    expect(f"END {end['id']}: one item per table", len(counts), len(got))
    # the total order is the source's order: LSNs never go back along it
    lsns = [src["lsn"] for _, src, tx in sorted(evs, key=lambda e: e[2]["total_order"])]
    expect(f"transaction {txid}: total_order follows the changes' LSNs", sorted(lsns), lsns)
    if lsns and not (blsn <= lsns[0] and elsn > lsns[-1]):
        fail(f"transaction {txid}: BEGIN's LSN {blsn} / END's {elsn} do not bracket its changes {lsns[0]}..{lsns[-1]}")
    # ts_ms: the commit time, as the changes' source.ts_ms
    for e in (begin, end):
        expect(f"{e['status']} {e['id']}: ts_ms is the commit time", evs[0][1]["ts_ms"] if evs else None,
               e["ts_ms"])

unexpected = sorted(set(begins) - set(EXPECT))
expect("transactions on the topic that the test did not make", [], unexpected)
if errors:
    print(f"{len(errors)} mismatch(es)")
    sys.exit(1)
print(f"{PREFIX}: {len(begins)} transactions, BEGIN/END and blocks as Debezium documents")
