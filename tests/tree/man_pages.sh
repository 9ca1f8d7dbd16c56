#!/usr/bin/env bash
# The manual pages `make man` builds (unit-build builds them): groff and man
# render cdc-agent(8) and cdc-agent.ini(5) without a warning, cdc-agent(8)
# has every verb of `cdc-agent --help`, and cdc-agent.ini(5) lists the keys
# the schema holds (checked in C, against the tables: test_topo_doc).
. "$(dirname "$0")/../lib/harness.sh"

pages=("$REPO_ROOT/build/man/cdc-agent.8" "$REPO_ROOT/build/man/cdc-agent.ini.5")
for page in "${pages[@]}"; do
	name=$(basename "$page")
	if [ ! -s "$page" ]; then
		_fail "$name is built" "no $page: run make man"
		continue
	fi
	check_eq "groff -man -ww renders $name without a warning" "" \
		"$(groff -man -ww -z "$page" 2>&1)"
	if command -v man >/dev/null; then
		check_eq "man --warnings -l renders $name without a warning" "" \
			"$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)"
	else
		skip_or_fail "man (man-db) not installed"
	fi
done

# Every verb of the usage has its entry (a .TP tag starting with it).
if [ -x "$CDC_AGENT" ] && [ -s "${pages[0]}" ]; then
	verbs=$("$CDC_AGENT" --help | sed -n '/^Verbs:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
	check "the usage lists verbs" test -n "$verbs"
	missing=""
	for verb in $verbs; do
		grep -A1 '^\.TP' "${pages[0]}" | sed 's/\\-/-/g' |
			grep -Eq "^\.B[IR]? $verb( |\$)" || missing+="$verb "
	done
	check_eq "cdc-agent(8) describes every verb of cdc-agent --help" "" "$missing"
fi

# The schema part is there, and no @PLACEHOLDER@ is left.
if [ -s "${pages[1]}" ]; then
	check_contains "cdc-agent.ini(5) has the schema's sections" '.SS "[pipeline \fINAME\fP]"' \
		"$(cat "${pages[1]}")"
	check_eq "no placeholder left in the pages" "" "$(grep -l '@[A-Z]*@' "${pages[@]}")"
fi
finish
