#!/usr/bin/env bash
# runs-under-sanitizer
# apply's value conversion at PostgreSQL's limits, against a real server
# (tests/apply_values_driver.c converts, tests/lib/apply_values.py makes
# the cases and checks them): decimals of 1000 digits and of the most
# numeric holds (131072 digits before the point, 16383 after), both signs,
# come out digit for digit and the server keeps them so; the first and last
# date and timestamp, leap days and BC dates give the text the server
# prints for '1970-01-01' plus the same days and microseconds; times up to
# 24:00; and each value just outside the range is refused by apply as the
# server refuses it.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/pg.sh"

WORK=$(mktemp -d /tmp/cdc-apply-values.XXXXXX)
trap 'pg_destroy_all; rm -rf "$WORK"' EXIT

DRIVER=$REPO_ROOT/build/tests/apply_values_driver
case "$CDC_AGENT" in */asan/*) DRIVER=$DRIVER-asan ;; esac
if make -s -C "$REPO_ROOT" "${DRIVER#"$REPO_ROOT"/}" >"$WORK/build.log" 2>&1 && [ -x "$DRIVER" ]; then
	_pass "the test driver builds"
else
	_fail "the test driver builds" "$(cat "$WORK/build.log")"
	finish
	exit
fi
pg_cluster_create vals || { _fail "start the cluster"; finish; exit; }

python3 "$REPO_ROOT/tests/lib/apply_values.py" cases "$WORK"
if "$DRIVER" <"$WORK/in.tsv" >"$WORK/out.tsv" 2>"$WORK/driver.err"; then
	_pass "the driver converts every case"
else
	_fail "the driver converts every case" "$(cat "$WORK/driver.err")"
fi
while IFS= read -r line; do
	case "$line" in
	"ok "*) _pass "${line#ok }" ;;
	*) _fail "${line#not ok }" ;;
	esac
done < <(python3 "$REPO_ROOT/tests/lib/apply_values.py" check "$WORK" \
	"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCK_vals" -p "$PG_PORT_vals" \
	-U postgres -d postgres)
finish
