# tests/lib/types_table.sh: the suite's type table (80_pipeline.sh,
# 91_debezium_interop.sh): a column of every common type, and a row that
# fills each with a value its conversions can get wrong (beyond 2^53,
# trailing zeros, escapes, fractions of seconds, months in an interval,
# arrays with NULL, a NULL).
#   CREATE TABLE x ($TYPES_COLS); INSERT INTO x VALUES (1, $TYPES_ROW)
TYPES_COLS="id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision,
	n numeric(10,2), nu numeric, b boolean, t text, vc varchar(20), j json, jb jsonb, u uuid,
	by bytea, d date, tm time, ts timestamp, tz timestamptz, tz3 timestamptz(3), iv interval,
	ai int[], at text[], ch char(5), bt bit(3), bx box, nul text"
TYPES_ROW="7, 9007199254740993, 1.5, 3.25, 12.34, 12.340, true, E'h\u00e9llo \"q\"\n', 'abc',
	'{\"a\": 1}', '{\"b\": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x0102ff',
	'2024-01-01', '13:51:30.123456', '2024-01-01 12:34:56.789012', '2024-01-01 00:00:00+00',
	'2024-01-01 00:00:00.5+00', '1 year 2 mons 3 days 04:05:06.78', '{1,2,NULL}', '{\"a b\",c}', 'ab', B'101', '((1,2),(3,4))', NULL"
