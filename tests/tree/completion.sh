#!/usr/bin/env bash
# scripts/completion/cdc-agent.bash, driven as bash drives it (COMP_WORDS,
# COMP_CWORD, then COMPREPLY): verbs (those of `cdc-agent --help`), options
# per verb, pipeline names from the topology of -c/--config, the tables of a
# pipeline's source for `snapshot`, and nothing run from a hostile name.
. "$(dirname "$0")/../lib/harness.sh"

scratch=$(mktemp -d /tmp/cdc-completion.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
topo=$scratch/cdc-agent.ini
cat >"$topo" <<'INI'
[agent]
state_dir = /var/lib/cdc-agent
[source db1]
tables = public.orders, Sales.items,   ; a comment
    "Odd Name".t, public.*, !public.tmp_x,
    "x$(touch PWNED)".t
[source db3]
tables = other.t
[pipeline p1]
source = db1
target = db2
;[pipeline commented]
[pipeline db1-to-db2]
source = db3
target = db2
INI

# shellcheck source=../../scripts/completion/cdc-agent.bash
. "$REPO_ROOT/scripts/completion/cdc-agent.bash"

# comp WORD...: completes the last word; prints COMPREPLY sorted, one a line.
comp() {
	COMP_WORDS=(cdc-agent "$@")
	COMP_CWORD=$#
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	_cdc_agent
	[ ${#COMPREPLY[@]} -gt 0 ] && printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort
}
nl=$'\n'

check_eq "complete is registered" "complete -F _cdc_agent cdc-agent" "$(complete -p cdc-agent)"
if [ -x "$CDC_AGENT" ]; then
	want=$("$CDC_AGENT" --help | sed -n '/^Verbs:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' | LC_ALL=C sort)
	check_eq "the verbs are those of cdc-agent --help" "$want" "$(comp "")"
else
	skip_or_fail "no $CDC_AGENT to read the verbs from"
fi
check_eq "a verb by its prefix" "capture" "$(comp ca)"
check_eq "the verb after -c FILE" "snapshot${nl}status" "$(comp -c "$topo" s)"
check_contains "global options before the verb" "--version" "$(comp --)"
check_eq "teardown takes --yes" "--yes" "$(comp -c "$topo" teardown p1 --y)"
check_eq "snapshot takes --wait" "--wait" "$(comp snapshot --w)"
check_eq "status takes --json" "--json" "$(comp status --j)"
check_not_contains "capture has no --yes" "--yes" "$(comp capture --)"
check_eq "pipelines of -c FILE" "db1-to-db2${nl}p1" "$(comp -c "$topo" capture "")"
check_eq "pipelines of --config=FILE, by prefix" "db1-to-db2" \
	"$(comp --config="$topo" apply d)"
# bash itself splits --config=FILE at '=' (COMP_WORDBREAKS), where
# bash-completion's helpers would join it again.
check_eq "pipelines of --config=FILE as bash splits it" "db1-to-db2" \
	"$(comp --config = "$topo" apply d)"
check_eq "files after --config= as bash splits it" "$topo" "$(comp --config = "$scratch/cdc")"
check_eq "files right after --config=" "cdc-agent.ini" "$(cd "$scratch" && comp --config =)"
check_eq "pipelines of --config FILE after the verb" "db1-to-db2${nl}p1" \
	"$(comp teardown --config "$topo" "")"
check_eq "the tables of p1's source: names, not patterns or exclusions" \
	"Sales.items${nl}\\\"Odd\\ Name\\\".t${nl}\\\"x\\\$\\(touch\\ PWNED\\)\\\".t${nl}public.orders" \
	"$(cd "$scratch" && comp -c "$topo" snapshot p1 "")"
check "a name is not run" test ! -e "$scratch/PWNED"
check_eq "the tables of db1-to-db2's source" "other.t" "$(comp -c "$topo" snapshot db1-to-db2 "")"
check_eq "nothing after the pipeline of capture" "" "$(comp -c "$topo" capture p1 "")"
check_eq "no topology: no pipelines, no error" "" \
	"$(comp -c "$scratch/missing.ini" capture "" 2>&1)"
check_eq "files after -c" "$topo" "$(comp -c "$scratch/cdc")"
finish
