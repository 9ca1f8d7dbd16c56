#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS TARGET...: what `make fuzz` runs.  Each target
# (build/fuzz/fuzz_TARGET, libFuzzer) runs for SECONDS, one process, from its
# corpus tests/fuzz/corpus/TARGET; then the corpus is minimised (libFuzzer's
# -merge=1): the named inputs (seed-*, regress-*, *.ini) stay, and of the
# rest, old and new, only those that add coverage beyond them.  A crash is
# saved as tests/fuzz/crashes/TARGET-crash-<sha1> (not committed: fix the bug,
# then add the input as corpus/TARGET/regress-<what>).  Prints libFuzzer's
# final line (#runs DONE ... exec/s) per target; exits non-zero on a crash.
set -u
cd "$(dirname "$0")/../.."
secs=${1:?usage: tests/fuzz/run.sh SECONDS TARGET...}
shift
status=0
mkdir -p tests/fuzz/crashes
for t in "$@"; do
	bin=build/fuzz/fuzz_$t corpus=tests/fuzz/corpus/$t
	work=$(mktemp -d /tmp/cdc-fuzz-$t.XXXXXX)
	mkdir -p "$work/new" "$work/keep" "$corpus"
	opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="tests/fuzz/crashes/$t-")
	[ -f "tests/fuzz/$t.dict" ] && opts+=(-dict="tests/fuzz/$t.dict")
	echo "=== fuzz $t: $secs s ==="
	"$bin" "${opts[@]}" -max_total_time="$secs" "$work/new" "$corpus" >"$work/log" 2>&1
	rc=$?
	grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|ERROR|SUMMARY|Test unit written|^==[0-9]+==' "$work/log"
	if [ "$rc" -ne 0 ]; then
		echo "fuzz $t: exit $rc; log: $work/log"
		status=1
		continue
	fi
	# Minimise: the named inputs first, then what adds coverage to them.
	find "$corpus" -maxdepth 1 -type f \( -name 'seed-*' -o -name 'regress-*' -o -name '*.ini' \) \
		-exec cp {} "$work/keep/" \;
	mkdir "$work/rest"
	find "$corpus" -maxdepth 1 -type f ! -name 'seed-*' ! -name 'regress-*' ! -name '*.ini' \
		-exec cp {} "$work/rest/" \;
	before=$(ls "$corpus" | wc -l)
	if "$bin" "${opts[@]}" -merge=1 -use_counters=0 "$work/keep" "$work/rest" "$work/new" >"$work/merge.log" 2>&1; then
		find "$corpus" -maxdepth 1 -type f ! -name 'seed-*' ! -name 'regress-*' ! -name '*.ini' -delete
		cp -n "$work/keep/"* "$corpus/"
		echo "fuzz $t: corpus $before -> $(ls "$corpus" | wc -l) files, $(cat "$corpus"/* | wc -c) bytes"
	else
		echo "fuzz $t: merge failed; log: $work/merge.log"
		status=1
		continue
	fi
	rm -rf "$work"
done
exit $status
