#!/usr/bin/env bash
# consistency = transaction after a capture crash (issue #17): what Kafka
# holds is the prefix an earlier attempt of capture delivered, then the
# later attempt's copy of every transaction from the first one not
# complete on.  Built here from genuine records (their macs verify),
# written again in that shape with kcat:
#   transaction topic: B1 E1 B2 E2 B3 E3 (attempt 1), B1 E1 B2 E2 B3 E3 (attempt 2)
#   a: a1 a2 a3 (attempt 1), then a1 a2 a3 (attempt 2)
#   b: nothing from attempt 1 (T1's change to b was lost), then b1 (attempt 2)
# T1 = {a1, b1}, T2 = {a2}, T3 = {a3}.  Apply opens T1, applies a1 and waits
# for b1; the transaction topic's B2 of attempt 1 waits ahead of attempt
# 2's B1, so it is of an earlier attempt: apply skips it, and must skip
# all of that attempt's records before B1 with it.  b1 comes right after
# the skip is logged: T1 completes before apply looks again.  Skipping
# only B2 let attempt 1's B3 open T3 after T1: T2, sent again behind T3,
# was dropped as applied already (a ledger row lost in 74 once), or apply
# waited for ever.  Every row must arrive, in order, without a stall.
# Then a table added to the pipeline (see the last step).
# runs-under-sanitizer
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT

CAPTURE_PARTITIONS=1
capture_env_up "
CREATE TABLE a (id int PRIMARY KEY, v int);
CREATE TABLE b (id int PRIMARY KEY, v int);
CREATE TABLE c (id int PRIMARY KEY, v int);
" < <(
	topology_source db1 rs_pub rs_slot rs "public.a, public.b"
	topology_target db2
	topology_pipeline p1 db1 db2 "consistency = transaction"
) || { _fail "environment (PostgreSQL, Kafka, bootstrap) comes up"; finish; exit; }

# A first transaction through the whole pipeline: apply's tables and
# offsets exist in db2, its position is stored.
capture_start p1
apply_start p1
check "capture streams" log_wait "$WORK/capture-p1.log" "streaming from slot" 60
pg_psql src db1 "INSERT INTO a VALUES (100, 0)" >/dev/null
check "a first row reaches db2" wait_converged 60 a db2
pipeline_stop p1
txn0=$(topic_count rs.transaction) a0=$(topic_count rs.public.a)
check_eq "its BEGIN and END, and its change" "2 1" "$txn0 $a0"

# T1, T2, T3 through capture alone: the genuine records.
capture_start p1
check "capture streams again" log_wait "$WORK/capture-p1.log" "streaming from slot" 60 2
pg_psql src db1 "BEGIN; INSERT INTO a VALUES (1, 1); INSERT INTO b VALUES (1, 1); COMMIT" >/dev/null
pg_psql src db1 "INSERT INTO a VALUES (2, 2)" >/dev/null
pg_psql src db1 "INSERT INTO a VALUES (3, 3)" >/dev/null
check "capture writes the three transactions" topic_wait rs.transaction 8 60
check "and their changes" topic_wait rs.public.a 4 30
pipeline_stop p1
topic_dump rs.transaction "$WORK/txn.json"
topic_dump rs.public.a "$WORK/a.json"
topic_dump rs.public.b "$WORK/b.json"
check_eq "the transaction topic: the first transaction's BEGIN and END, then T1, T2, T3's" \
	"BEGIN END BEGIN END BEGIN END BEGIN END" \
	"$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    v = json.loads(json.loads(l)["payload"])
    print(v.get("payload", v).get("status", "?"), end=" ")' "$WORK/txn.json" | sed 's/ $//')"

# Apply must not read the genuine copies: its stored offsets go past them.
check "apply's stored offsets go past them" pg_psql src db2 "INSERT INTO cdc_agent.offsets (pipeline, topic, partition, next_offset)
	VALUES ('p1', 'rs.transaction', 0, 8), ('p1', 'rs.public.a', 0, 4), ('p1', 'rs.public.b', 0, 1)
	ON CONFLICT (pipeline, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset"

# Writes the records of DUMP at OFFSETS again, headers and all, in order.
replay() { # DUMP OFFSET...
	python3 - "127.0.0.1:$KP" "$@" <<'EOF'
import json, subprocess, sys
broker, dump, offsets = sys.argv[1], sys.argv[2], [int(o) for o in sys.argv[3:]]
recs = {r["offset"]: r for r in map(json.loads, open(dump))}
for o in offsets:
    r = recs[o]
    h = r.get("headers") or []
    args = ["kcat", "-b", broker, "-P", "-t", r["topic"], "-p", "0", "-K", "\t"]
    for n, v in zip(h[0::2], h[1::2]):
        args += ["-H", "%s=%s" % (n, v)]
    subprocess.run(args, input=(r["key"] + "\t" + r["payload"] + "\n").encode(), check=True)
EOF
}
check "attempt 1: T1, T2, T3 whole in the transaction topic, their changes to a" \
	replay "$WORK/txn.json" 2 3 4 5 6 7
check "attempt 1: a1 a2 a3" replay "$WORK/a.json" 1 2 3
check "attempt 2: the transaction topic from T1 on" replay "$WORK/txn.json" 2 3 4 5 6 7

apply_start p1
check "apply skips attempt 1's rest of the transaction topic" \
	log_wait "$WORK/apply-p1.log" "comes again at offset" 60
check "attempt 2: b1, then a1 a2 a3" \
	eval 'replay "$WORK/b.json" 0 && replay "$WORK/a.json" 1 2 3'
check "every change of a arrives" wait_converged 60 a db2
check "and of b" wait_converged 30 b db2
check_eq "the skip covers attempt 1's four records after T1's END" "1" \
	"$(grep -c "skipping the 4 records before it from B0" "$WORK/apply-p1.log")"
check_eq "no END was read without its BEGIN" "0" "$(grep -c "END without its BEGIN" "$WORK/apply-p1.log")"
check_eq "no transaction waited" "0" "$(grep -c "has waited" "$WORK/apply-p1.log")"
check_eq "apply still runs" "running" "$(kill -0 "${CAPTURE_PIDS[apply-p1]}" 2>/dev/null && echo running)"
pipeline_stop p1

# A table added to the pipeline while an apply started before runs: that
# apply applies the transactions touching it without its changes (it does
# not read its topic).  The next apply reads the topic from its start: its
# changes of transactions applied already were never applied, and must be
# (skipped as "applied already", c stayed empty in 96's CI run).
apply_start p1
check "that apply reads its topology before the edit" \
	log_wait "$WORK/apply-p1.log" "consuming rs.public.a, rs.public.b into" 60 3
sed -i 's/^tables = public.a, public.b$/tables = public.a, public.b, public.c/' "$T"
check_contains "the topology now lists c" "public.c" "$(grep '^tables' "$T")"
check "bootstrap adds c to the publication" "$CDC_AGENT" -c "$T" bootstrap
capture_start p1
check "capture streams c too" log_wait "$WORK/capture-p1.log" "streaming from slot" 60 3
pg_psql src db1 "BEGIN; INSERT INTO a VALUES (10, 10); INSERT INTO c VALUES (10, 10); COMMIT" >/dev/null
pg_psql src db1 "BEGIN; UPDATE c SET v = 11; UPDATE a SET v = 11 WHERE id = 10; COMMIT" >/dev/null
pg_psql src db1 "INSERT INTO c VALUES (11, 11)" >/dev/null
check "the apply started before applies a's part" wait_converged 60 a db2
pipeline_stop p1
capture_start p1
apply_start p1
check "the next apply reads c from its start: every change of c arrives" wait_converged 60 c db2
check "its log says from which transaction on c's changes are applied in order" \
	log_wait "$WORK/apply-p1.log" "topic rs.public.c partition 0 is read from its start after transaction" 10
check "and a is still equal" wait_converged 30 a db2
pipeline_stop p1
[ "$TESTS_FAILED" -gt 0 ] && sed 's/^/# apply: /' "$WORK/apply-p1.log" | tail -n 30
finish
