#!/usr/bin/env bash
# Transaction metadata (issue #17, point 1): capture writes Debezium's
# provide.transaction.metadata records, BEGIN and END on <topic_prefix>.transaction,
# and a "transaction" block in every streamed change event.  Transactions on
# two tables (a primary-key change and a delete with its tombstone among
# them), on one table, on an untracked table only (neither BEGIN nor END),
# and on an untracked table and a tracked one; the topic read with kcat and
# compared field by field with the format Debezium documents
# (tests/lib/check_transactions.py), with json_schemas true and false.
# transaction_metadata = false: no transaction topic, "transaction" null.
# Then kill -9 of capture during a large transaction: the slot replays it
# whole, and what the topic holds for it is its BEGIN, its events and its
# END again, alike (docs/ARCHITECTURE.md, Capture, "Transaction metadata").
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT

# One partition: the transaction topic's records keep their order on it.
CAPTURE_PARTITIONS=1
capture_env_up "
CREATE TABLE a (id int PRIMARY KEY, v text);
CREATE TABLE b (id int PRIMARY KEY, v text);
CREATE TABLE u (id int PRIMARY KEY);
INSERT INTO a VALUES (100, 'snapshot'), (101, 'snapshot');
" < <(
	topology_both_formats "public.a, public.b"
	topology_source off off_pub off_slot off "public.a, public.b" "transaction_metadata = false"
	topology_pipeline p3 off db2
) || { _fail "environment (PostgreSQL, Kafka, bootstrap) comes up"; finish; exit; }

for p in p1 p2 p3; do capture_start "$p"; done
check "the snapshot reaches Kafka" topic_wait db1server.public.a 2 60
check "and the schemaless source's" topic_wait plain.public.a 2 30
check "and the one without transaction metadata's" topic_wait off.public.a 2 30

# Each transaction says its own id (txid_current(), the last statement).
tx() { pg_psql src db1 "$1; SELECT txid_current()"; }
t1=$(tx "INSERT INTO a VALUES (1, 'x'); INSERT INTO b VALUES (1, 'y');
	UPDATE a SET v = 'x2' WHERE id = 1; INSERT INTO b VALUES (2, 'z');
	DELETE FROM b WHERE id = 1; UPDATE a SET id = 10 WHERE id = 1")
t2=$(tx "INSERT INTO a VALUES (2, 'p'), (3, 'q')")
t3=$(tx "INSERT INTO u VALUES (1)")
t4=$(tx "INSERT INTO u VALUES (2); INSERT INTO b VALUES (5, 'w')")
check "the four transactions committed" test -n "$t1" -a -n "$t2" -a -n "$t3" -a -n "$t4"
# a: 2 r + c u d c (t1) + c c (t2) = 8; b: c c d tombstone (t1) + c (t4) = 5
expect="{\"$t1\": {\"public.a\": 4, \"public.b\": 3}, \"$t2\": {\"public.a\": 2},
	\"$t3\": null, \"$t4\": {\"public.b\": 1}}"
for prefix in db1server plain off; do
	check "$prefix: the changes reach Kafka" topic_wait "$prefix.public.a" 8 60
	check "$prefix: and table b's" topic_wait "$prefix.public.b" 5 30
done
check "db1server.transaction holds 3 BEGIN and 3 END records" topic_wait db1server.transaction 6 30
check "plain.transaction too" topic_wait plain.transaction 6 30
for prefix in db1server plain; do
	topic_dump "$prefix.transaction" "$WORK/txn-$prefix.json"
	for t in a b; do topic_dump "$prefix.public.$t" "$WORK/$prefix.public.$t.json"; done
done
check "with the schema block: records and blocks as Debezium documents" \
	python3 "$REPO_ROOT/tests/lib/check_transactions.py" "$WORK" db1server 1 "$expect"
check "without it: the same" \
	python3 "$REPO_ROOT/tests/lib/check_transactions.py" "$WORK" plain 0 "$expect"

# transaction_metadata = false: no topic, events as before the option.
topics=$(timeout 30 kcat -b "127.0.0.1:$KP" -L 2>/dev/null | grep -o 'topic "[^"]*"')
check_contains "the broker lists db1server.transaction" 'topic "db1server.transaction"' "$topics"
check_not_contains "and no off.transaction" 'topic "off.transaction"' "$topics"
topic_dump off.public.a "$WORK/off.json"
check_eq "its change events carry \"transaction\":null" 8 "$(grep -c '\\"transaction\\":null' "$WORK/off.json")"

# kill -9 while a large transaction streams (the schemaless source: smaller
# records to read back), as soon as its BEGIN is on Kafka: the slot replays it
# whole, so its BEGIN and events come again, alike, and its END is whole.
N=150000
tx "INSERT INTO a SELECT g, 'big' FROM generate_series(1000, 999 + $N) g" >"$WORK/big.txid" &
sql=$!
for ((i = 0; i < 600; i++)); do
	[ "$(topic_count plain.transaction)" -gt 6 ] && break
	sleep 0.05
done
kill -9 "${CAPTURE_PIDS[p2]}"
wait "$sql"
capture_start p2
big_end() { timeout 30 kcat -b "127.0.0.1:$KP" -C -t plain.transaction -o beginning -e -q 2>/dev/null |
	grep -q "\"END\",\"id\":\"$(cat "$WORK/big.txid"):"; }
for ((i = 0; i < 360; i++)); do big_end && break; sleep 0.5; done
check "after kill -9, the large transaction's END reaches Kafka" big_end
topic_dump plain.transaction "$WORK/txn-after.json"
check "its transaction records, repeated or not, are alike; END counts the whole transaction" \
	python3 - "$WORK/txn-after.json" "$(cat "$WORK/big.txid")" "$N" <<'EOF'
import json, sys
recs = [json.loads(json.loads(l)["payload"]) for l in open(sys.argv[1]) if l.strip()]
mine = [r for r in recs if r["id"].split(":")[0] == sys.argv[2]]
begins = [r for r in mine if r["status"] == "BEGIN"]
ends = [r for r in mine if r["status"] == "END"]
n = int(sys.argv[3])
print(f"transaction {sys.argv[2]}: {len(begins)} BEGIN, {len(ends)} END")
ok = (begins and ends and all(b == begins[0] for b in begins) and all(e == ends[0] for e in ends)
      and mine[-1]["status"] == "END" and ends[0]["event_count"] == n
      and ends[0]["data_collections"] == [{"data_collection": "public.a", "event_count": n}])
sys.exit(0 if ok else 1)
EOF
echo "# the large transaction's BEGIN is $(grep -c "BEGIN.*id.*$(cat "$WORK/big.txid"):" "$WORK/txn-after.json") time(s) on Kafka (2: the kill came mid-transaction)"
check "its change events, repeated or not, keep their blocks; orders 1..$N" python3 -c '
import json, subprocess, sys
txid, n = "\"id\":\"" + sys.argv[1] + ":", int(sys.argv[2])
seen = {}
p = subprocess.Popen(["kcat", "-b", sys.argv[3], "-C", "-t", "plain.public.a", "-o", "beginning",
                      "-e", "-q", "-f", "%s\n"], stdout=subprocess.PIPE, text=True)
for line in p.stdout:
    if txid not in line:
        continue
    tx = json.loads(line)["transaction"]
    block = (tx["id"], tx["data_collection_order"])
    if seen.setdefault(tx["total_order"], block) != block:
        sys.exit(f"an order came back with another block: {tx}")
    if tx["total_order"] != tx["data_collection_order"]:
        sys.exit(f"one table: the orders differ: {tx}")
p.wait()
sys.exit(0 if sorted(seen) == list(range(1, n + 1)) else f"orders seen: {len(seen)} of {n}")
' "$(cat "$WORK/big.txid")" "$N" "127.0.0.1:$KP"
finish
