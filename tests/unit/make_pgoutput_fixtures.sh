#!/usr/bin/env bash
# tests/unit/make_pgoutput_fixtures.sh: regenerates tests/unit/pgoutput_fixtures.h
# from a throwaway PostgreSQL cluster, so the decoder is tested against bytes
# a real server produced rather than bytes we believe it produces.
#
# Runs as root (the cluster runs as the OS user postgres, see tests/lib/pg.sh).
# Each step below runs as one transaction that first takes an xid, so every
# decoded row can be attributed to the SQL that caused it; the changes are then
# read in a single peek, as a walsender would stream them (Relation messages
# are sent once per decoding session, and again after a schema change).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/pg.sh

OUT=tests/unit/pgoutput_fixtures.h
# The TRUNCATE ... CASCADE notice is expected; keep the output quiet.
export PGOPTIONS="-c client_min_messages=warning"
WORK=$(mktemp -d /tmp/cdc-pgoutput-fixtures.XXXXXX)
trap 'pg_destroy_all; rm -rf "$WORK"' EXIT

pg_cluster_create fx
cat >>"$PG_DIR_fx/data/postgresql.conf" <<CONF
wal_level = logical
timezone = 'UTC'
CONF
pg_cluster_restart fx

# Setup runs before the slot exists: none of it is decoded.  The docs row is
# inserted here so its 3000-byte TOASTed body stays out of the fixture.
pg_psql fx postgres "$(cat <<'SQL'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2),
	qty bigint, small smallint, flag boolean, ratio float8, real_v real,
	created timestamptz, day date, at time, span interval, uid uuid, doc jsonb,
	raw json, tags text[], bin bytea, ip inet, label varchar(20), code char(3),
	m mood, note text);
CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO docs VALUES (1, 'first title', repeat('0123456789', 300));
CREATE TABLE audit (id int, who text, what text);
ALTER TABLE audit REPLICA IDENTITY FULL;
CREATE TABLE parent (id serial PRIMARY KEY);
CREATE TABLE child (id serial PRIMARY KEY, parent_id int REFERENCES parent);
CREATE PUBLICATION pub FOR ALL TABLES;
SELECT pg_replication_origin_create('upstream');
SQL
)" >/dev/null
# psql -c runs its statements as one transaction; a slot needs a fresh one.
pg_psql fx postgres "SELECT 'init' FROM pg_create_logical_replication_slot('slot', 'pgoutput')" >/dev/null

# One step per transaction: "-- step NAME" then its SQL (one line).
STEPS=$(cat <<'SQL'
-- step insert_items
INSERT INTO items VALUES (1, 'widget', 9.99, 9000000000, -7, true, 3.5, 1.25, '2024-01-02 03:04:05.123456+00', '2024-01-02', '12:34:56', '1 day 02:00:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '[1, 2]', '{x,"y z"}', '\xdeadbeef', '10.0.0.1', 'héllo', 'ab', 'happy', NULL), (2, 'gadget', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
-- step update_price
UPDATE items SET price = 10.50, note = 'repriced' WHERE id = 1;
-- step update_pk
UPDATE items SET id = 20 WHERE id = 2;
-- step update_toast
UPDATE docs SET title = 'second title' WHERE id = 1;
-- step identity_full
INSERT INTO audit VALUES (1, 'alice', 'login'); UPDATE audit SET what = 'logout' WHERE id = 1; DELETE FROM audit WHERE id = 1;
-- step delete_items
DELETE FROM items WHERE id = 20;
-- step add_column
ALTER TABLE items ADD COLUMN extra text DEFAULT 'dflt';
-- step after_add_column
INSERT INTO items (id, name, extra) VALUES (3, 'gizmo', 'more'); UPDATE items SET extra = NULL WHERE id = 1;
-- step truncate_cascade
INSERT INTO parent DEFAULT VALUES; TRUNCATE parent RESTART IDENTITY CASCADE;
-- step truncate_plain
TRUNCATE audit;
-- step origin
SELECT pg_replication_origin_session_setup('upstream'); SELECT pg_replication_origin_xact_setup('0/ABCDEF0', '2024-05-06 07:08:09+00'); INSERT INTO audit VALUES (2, 'bob', 'replicated');
-- step message
SELECT pg_logical_emit_message(true, 'cdc', 'hello'); SELECT pg_logical_emit_message(false, 'cdc', 'not transactional');
SQL
)

: >"$WORK/steps"
name=
while IFS= read -r line; do
	if [[ $line == "-- step "* ]]; then
		name=${line#-- step }
		continue
	fi
	xid=$(pg_psql fx postgres "BEGIN; SELECT pg_current_xact_id(); $line COMMIT;" | head -n 1)
	printf '%s\t%s\t%s\n' "$name" "$xid" "$line" >>"$WORK/steps"
done <<<"$STEPS"

pg_psql fx postgres "SELECT lsn, xid, encode(data, 'hex')
	FROM pg_logical_slot_peek_binary_changes('slot', NULL, NULL, 'proto_version', '1',
		'publication_names', 'pub', 'messages', 'true')" >"$WORK/rows"
version=$("$PG_BIN/postgres" --version)

python3 - "$WORK/steps" "$WORK/rows" "$version" >"$OUT" <<'PY'
import sys

steps_file, rows_file, version = sys.argv[1:]
steps = [l.rstrip("\n").split("\t", 2) for l in open(steps_file, encoding="utf-8")]
by_xid = {xid: (name, sql) for name, xid, sql in steps}
rows = [l.rstrip("\n").split("|") for l in open(rows_file) if l.strip()]

def c_string(s):
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "?":
            out.append("\\?")  # no trigraphs
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'

def lsn(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)

print("/*")
print(" * tests/unit/pgoutput_fixtures.h: pgoutput (proto_version 1) messages captured")
print(" * from %s, one array per message, in stream order." % version)
print(" *")
print(" * Generated by tests/unit/make_pgoutput_fixtures.sh; do not edit.  Each step is")
print(" * one transaction; see the script for the tables (items: many types, docs: a")
print(" * TOASTed body, audit: REPLICA IDENTITY FULL, parent/child: a foreign key).")
print(" */")
print("#ifndef CDC_PGOUTPUT_FIXTURES_H")
print("#define CDC_PGOUTPUT_FIXTURES_H")
print()
print("#include <stddef.h>")
print("#include <stdint.h>")
print()
print("struct pgoutput_fixture {")
print("\tconst char *step;          /* name of the step (transaction) */")
print("\tconst char *sql;           /* the SQL it ran */")
print("\tuint32_t xid;              /* its xid */")
print("\tuint64_t lsn;              /* lsn column of the peek row */")
print("\tconst unsigned char *data; /* the message */")
print("\tsize_t len;")
print("};")
entries = []
seen_steps = set()
for i, (row_lsn, xid, hexdata) in enumerate(rows):
    name, sql = by_xid.get(xid, ("unknown", ""))
    data = bytes.fromhex(hexdata)
    if name not in seen_steps:
        seen_steps.add(name)
        print()
        print("/* step %s (xid %s): %s */" % (name, xid, sql))
    var = "fx_%02d_%s_%s" % (i, name, data[:1].decode())
    print("static const unsigned char %s[] = {" % var)
    for off in range(0, len(data), 12):
        chunk = data[off:off + 12]
        print("\t" + " ".join("0x%02x," % b for b in chunk))
    print("};")
    entries.append('\t{ "%s", %s, %s, UINT64_C(0x%X), %s, sizeof(%s) },'
                   % (name, c_string(sql), xid, lsn(row_lsn), var, var))
for name, xid, sql in steps:
    if name not in seen_steps:
        print()
        print("/* step %s (xid %s) produced no message: %s */" % (name, xid, sql))
print()
print("static const struct pgoutput_fixture pgoutput_fixtures[] = {")
for e in entries:
    print(e)
print("};")
print()
print("#endif")
PY
echo "wrote $OUT: $(grep -c '^static const unsigned char' "$OUT") messages"
