#!/usr/bin/env bash
# tests/run.sh [--unit|--integration] [PATTERN]: the project's tests, as
# `make test` runs them (tests/README.md):
#   1. the fast lane, no server needed: unit tests (cmocka), built normally
#      and with ASan+UBSan, run two at a time; the tree's checks (tests/tree/:
#      layering, the map in docs/ARCHITECTURE.md).  When it fails, the
#      integration lane does not start.
#   2. the integration lane: fuzz corpora replayed; integration tests against
#      real servers with ./cdc-agent, and those marked "# runs-under-sanitizer"
#      again with build/asan/cdc-agent.
# --unit / --integration run one lane.  Ends with "N passed, N failed"; exits
# non-zero if anything failed or if nothing ran.
set -u
cd "$(dirname "$0")/.."
LANES="unit integration"
case "${1:-}" in
--unit) LANES=unit; shift ;;
--integration) LANES=integration; shift ;;
esac
PATTERN=${1:-}
RESULTS_DIR=$(mktemp -d /tmp/cdc-results.XXXXXX)
export RESULTS_DIR
trap 'rm -rf "$RESULTS_DIR"' EXIT
# Leaks and undefined behaviour fail the sanitizer runs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=99}

passed=0 failed=0
started=$(date +%s)

# Counts a unit binary's run from its output file (OUT.rc holds its exit).
count_unit() {
	local bin=$1 outfile=$2 out p f rc
	out=$(cat "$outfile")
	rc=$(cat "$outfile.rc")
	printf '%s\n' "$out" | grep -E '^\[ *(FAILED|  OK|PASSED) *\]|ERROR|error:' | sed "s|^|$(basename "$bin"): |"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		printf '%s\n' "$out" | tail -n 20
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f))
}

run_integration() {
	local script=$1 agent=$2 label=$3 name counts
	name=$(basename "$script" .sh)
	[ -n "$PATTERN" ] && [[ $name != *$PATTERN* ]] && return
	echo "=== $name ($label) ==="
	rm -f "$RESULTS_DIR/$name.counts"
	local t0=$(date +%s)
	CDC_AGENT=$agent bash "$script"
	local rc=$?
	echo "=== $name ($label): $(( $(date +%s) - t0 )) s ==="
	if [ -f "$RESULTS_DIR/$name.counts" ]; then
		read -r p f <"$RESULTS_DIR/$name.counts"
	else
		p=0 f=1
		echo "not ok - $name: died before reporting (exit $rc)"
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)) failed=$((failed + f))
}

# Unit binaries two at a time (the machine has two cores; each is
# single-threaded), reported in a fixed order.
unit_lane() {
	local bins=() bin src
	for bin in build/tests/test_*-rel build/tests/test_*-asan; do
		[[ $bin == */test_fuzz_* ]] && continue
		[ -x "$bin" ] || continue
		# A binary left from a test file since removed is not a test.
		src=${bin#build/tests/}
		[ -f "tests/unit/${src%-*}.c" ] || continue
		[ -n "$PATTERN" ] && [[ $bin != *$PATTERN* ]] && continue
		bins+=("$bin")
	done
	if [ ${#bins[@]} -gt 0 ]; then
		printf '%s\n' "${bins[@]}" | xargs -P 2 -I{} sh -c \
			'out="$1/unit.$(basename "$2")"; "$2" >"$out" 2>&1; echo $? >"$out.rc"' \
			sh "$RESULTS_DIR" {}
		for bin in "${bins[@]}"; do
			count_unit "$bin" "$RESULTS_DIR/unit.$(basename "$bin")"
		done
	fi
	for script in tests/tree/*.sh; do
		[ -f "$script" ] || continue
		run_integration "$script" "$PWD/cdc-agent" tree
	done
}

integration_lane() {
	local bin script
	for bin in build/tests/test_fuzz_*-asan; do
		[ -x "$bin" ] || continue
		[ -n "$PATTERN" ] && [[ $bin != *$PATTERN* ]] && continue
		"$bin" >"$RESULTS_DIR/unit.out" 2>&1
		echo $? >"$RESULTS_DIR/unit.out.rc"
		count_unit "$bin" "$RESULTS_DIR/unit.out"
	done
	for script in tests/integration/*.sh; do
		run_integration "$script" "$PWD/cdc-agent" release
	done
	for script in tests/integration/*.sh; do
		grep -q '^# runs-under-sanitizer' "$script" &&
			run_integration "$script" "$PWD/build/asan/cdc-agent" asan
	done
}

for lane in $LANES; do
	"${lane}_lane"
	if [ "$lane" = unit ] && [ "$failed" -ne 0 ] && [[ $LANES == *integration* ]]; then
		echo "# the fast lane failed: the integration lane does not start"
		break
	fi
done

echo "# total time: $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
