#!/usr/bin/env python3
"""tests/lib/ledger_check.py TOPIC_JSON LEDGER_TSV TABLE_TSV: compares what
capture put on a topic (kcat -C -J -Z, one record a line) with the ledger of
committed changes the writer of 75_capture_crash.sh kept in the same
transactions (COPY text of seq, xid, op, row_id, value; op r = the rows of
the initial snapshot, xid NULL) and with the final table (id, v).

Prints NAME=VALUE lines for the test to assert on, and a few examples of each
kind of problem on stderr:
  records, events, tombstones, distinct, duplicates, ledger_c/u/d/r
  missing           ledger entries with no event (op, key, value, txId)
  unexpected        events with no ledger entry (uncommitted or invented)
  aborted           events carrying the marks of rolled-back transactions
  split_keys        keys found on more than one partition
  order_errors      keys whose events, first occurrences in offset order,
                    differ from the ledger's order for that key
  deleted_no_tomb   deleted keys whose last record is not a tombstone
  kafka_digest      md5 of "id:v" lines, by id, of the latest record per key
                    (tombstone or delete: no row), to compare with the table's
  table_digest      the same over TABLE_TSV
  state_diff        keys where the latest record and the table disagree
"""
import hashlib
import json
import sys

ABORT_ID_MIN = 1_000_000_000

topic_file, ledger_file, table_file = sys.argv[1:4]


def examples(what, items):
    for item in items[:5]:
        print(f"{what}: {item}", file=sys.stderr)


def payload(obj):
    return obj["payload"] if isinstance(obj, dict) and "schema" in obj else obj


ledger = []  # (seq, identity); identity = (op, id, value, xid)
with open(ledger_file) as f:
    for line in f:
        seq, xid, op, row_id, value = line.rstrip("\n").split("\t")  # COPY text: \N is NULL
        ledger.append((int(seq), (op, int(row_id), None if value == "\\N" else int(value),
                                  None if xid == "\\N" else int(xid))))
ledger.sort()
ledger_ids = {ident for _, ident in ledger}

table = {}
with open(table_file) as f:
    for line in f:
        if line.strip():
            i, v = line.split("\t")
            table[int(i)] = int(v)

records = []
with open(topic_file) as f:
    for line in f:
        if line.strip():
            records.append(json.loads(line))

events = []          # (partition, offset, key id, identity)
last = {}            # key id -> (partition, offset, identity or None for a tombstone)
partitions = {}      # key id -> set of partitions
tombstones = 0
bad = []
for rec in records:
    if rec["key"] is None:
        bad.append(f"record without key at {rec['partition']}/{rec['offset']}")
        continue
    kid = payload(json.loads(rec["key"]))["id"]
    partitions.setdefault(kid, set()).add(rec["partition"])
    if rec["payload"] is None:
        tombstones += 1
        ident = None
    else:
        p = payload(json.loads(rec["payload"]))
        op = p["op"]
        row = p["before"] if op == "d" else p["after"]
        value = None if op == "d" else row["v"]
        xid = None if op == "r" else p["source"]["txId"]
        ident = (op, row["id"], value, xid)
        if row["id"] != kid:
            bad.append(f"key {kid} carries the row of id {row['id']}")
        events.append((rec["partition"], rec["offset"], kid, ident))
    pos = (rec["partition"], rec["offset"])
    if kid not in last or pos > last[kid][:2]:
        last[kid] = (rec["partition"], rec["offset"], ident)

seen = {ident for _, _, _, ident in events}
missing = [ident for _, ident in ledger if ident not in seen]
unexpected = sorted({ident for ident in seen if ident not in ledger_ids})
aborted = sorted({ident for ident in seen
                  if ident[1] >= ABORT_ID_MIN or (ident[2] is not None and ident[2] < 0)})
split = sorted(k for k, ps in partitions.items() if len(ps) > 1)

# Per key: the ledger's order against the events' first occurrences.
want = {}
for _, ident in ledger:
    want.setdefault(ident[1], []).append(ident)
got = {}
for _, _, kid, ident in sorted(events):
    lst = got.setdefault(kid, [])
    if ident not in lst:
        lst.append(ident)
order_errors = [(k, want.get(k), got.get(k)) for k in sorted(set(want) | set(got))
                if want.get(k) != got.get(k)]

# The latest record per key against the table.
state = {}
deleted_no_tomb = []
for kid, (_, _, ident) in last.items():
    if ident is None:
        continue
    if ident[0] == "d":
        deleted_no_tomb.append(kid)
        continue
    state[kid] = ident[2]


def digest(rows):
    text = "\n".join(f"{k}:{rows[k]}" for k in sorted(rows))
    return hashlib.md5(text.encode()).hexdigest()


state_diff = [(k, state.get(k), table.get(k)) for k in sorted(set(state) | set(table))
              if state.get(k) != table.get(k)]

examples("bad record", bad)
examples("missing (op, id, value, txId)", missing)
examples("unexpected (op, id, value, txId)", unexpected)
examples("aborted (op, id, value, txId)", aborted)
examples("key on several partitions", split)
examples("order (key, ledger, kafka)", order_errors)
examples("deleted key whose last record is the delete, not a tombstone", deleted_no_tomb)
examples("state (key, kafka, table)", state_diff)

ops = {o: sum(1 for _, i in ledger if i[0] == o) for o in "rcud"}
out = {
    "records": len(records),
    "events": len(events),
    "tombstones": tombstones,
    "distinct": len(seen),
    "duplicates": len(events) - len(seen),
    "ledger_r": ops["r"], "ledger_c": ops["c"], "ledger_u": ops["u"], "ledger_d": ops["d"],
    "bad": len(bad),
    "missing": len(missing),
    "unexpected": len(unexpected),
    "aborted": len(aborted),
    "split_keys": len(split),
    "order_errors": len(order_errors),
    "deleted_no_tomb": len(deleted_no_tomb),
    "state_diff": len(state_diff),
    "kafka_digest": digest(state),
    "table_digest": digest(table),
}
for k, v in out.items():
    print(f"{k}={v}")
