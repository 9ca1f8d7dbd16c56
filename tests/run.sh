#!/usr/bin/env bash
# tests/run.sh [PATTERN]: every test of the project, as `make test` runs it.
#   1. unit tests (cmocka), built normally and with ASan+UBSan;
#   2. integration tests against real servers with ./cdc-agent, and those
#      marked "# runs-under-sanitizer" again with build/asan/cdc-agent.
# Ends with "N passed, N failed"; exits non-zero if anything failed or if
# nothing ran.
set -u
cd "$(dirname "$0")/.."
PATTERN=${1:-}
RESULTS_DIR=$(mktemp -d /tmp/cdc-results.XXXXXX)
export RESULTS_DIR
trap 'rm -rf "$RESULTS_DIR"' EXIT
# Leaks and undefined behaviour fail the sanitizer runs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=99}

passed=0 failed=0
started=$(date +%s)

run_unit() {
	local bin=$1 out p f
	[ -n "$PATTERN" ] && [[ $bin != *$PATTERN* ]] && return
	out=$("$bin" 2>&1)
	local rc=$?
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

for bin in build/tests/test_*-rel build/tests/test_*-asan; do
	[ -x "$bin" ] && run_unit "$bin"
done
for script in tests/integration/*.sh; do
	run_integration "$script" "$PWD/cdc-agent" release
done
for script in tests/integration/*.sh; do
	grep -q '^# runs-under-sanitizer' "$script" &&
		run_integration "$script" "$PWD/build/asan/cdc-agent" asan
done

echo "# total time: $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
