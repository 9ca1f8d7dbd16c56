# tests/lib/harness.sh: assertions and counting for the integration tests.
# Sourced by each tests/integration/*.sh; tests/run.sh adds up the counts.
#
#   check "what is shown" CMD...     passes when CMD exits 0
#   check_fails "what" CMD...        passes when CMD exits non-zero
#   check_eq "what" EXPECTED ACTUAL
#   check_contains "what" NEEDLE HAYSTACK
#   skip_or_fail "why"               a missing prerequisite: fails in CI
set -u
# A test stopped by INT or TERM exits instead, so that its EXIT trap still
# tears down what it started (servers, containers, capture and apply).
trap 'exit 130' INT TERM

TEST_NAME=$(basename "$0" .sh)
TESTS_PASSED=0
TESTS_FAILED=0
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CDC_AGENT=${CDC_AGENT:-$REPO_ROOT/cdc-agent}
RESULTS_DIR=${RESULTS_DIR:-}

_pass() { TESTS_PASSED=$((TESTS_PASSED + 1)); echo "ok - $TEST_NAME: $1"; }
_fail() {
	TESTS_FAILED=$((TESTS_FAILED + 1))
	echo "not ok - $TEST_NAME: $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/    # /'
	return 0
}

check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then _pass "$what"; else _fail "$what" "$out"; fi
}

check_fails() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then _fail "$what (unexpectedly succeeded)" "$out"; else _pass "$what"; fi
}

check_eq() {
	if [ "$2" = "$3" ]; then _pass "$1"; else _fail "$1" "expected: $2"$'\n'"actual:   $3"; fi
}

check_contains() {
	case "$3" in
	*"$2"*) _pass "$1" ;;
	*) _fail "$1" "expected to find: $2"$'\n'"in: $3" ;;
	esac
}

check_not_contains() {
	case "$3" in
	*"$2"*) _fail "$1" "found what must not be there: $2" ;;
	*) _pass "$1" ;;
	esac
}

skip_or_fail() {
	if [ -n "${CI:-}" ]; then
		_fail "prerequisite missing in CI: $1"
	else
		echo "SKIPPED - $TEST_NAME: $1 (this fails in CI)"
	fi
}

# Runs the agent, keeping stdout, stderr and the exit code apart:
#   agent_run ARGS...  -> $AGENT_OUT, $AGENT_ERR, $AGENT_RC
agent_run() {
	local out err
	out=$(mktemp) err=$(mktemp)
	"$CDC_AGENT" "$@" >"$out" 2>"$err"
	AGENT_RC=$?
	AGENT_OUT=$(cat "$out") AGENT_ERR=$(cat "$err")
	rm -f "$out" "$err"
}

finish() {
	echo "# $TEST_NAME: $TESTS_PASSED passed, $TESTS_FAILED failed"
	if [ -n "$RESULTS_DIR" ]; then
		echo "$TESTS_PASSED $TESTS_FAILED" >"$RESULTS_DIR/$TEST_NAME.counts"
	fi
	[ "$TESTS_FAILED" -eq 0 ]
}
