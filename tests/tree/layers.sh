#!/usr/bin/env bash
# The layering rule of agent/ (docs/ARCHITECTURE.md, "Layout"): a file in
# agent/FOLDER/ includes the agent's headers by their folder ("pg/pgsql.h"),
# only from its own folder and from folders of a lower layer; folders of one
# layer do not include each other.  main.c, alone in agent/, is the top.  The
# layers are read from the layout table, so the document is the rule.
. "$(dirname "$0")/../lib/harness.sh"

# Prints one line per include that breaks the rule, for the tree at $1 with
# the layout table of $2 (| `folder/` | layer | what it holds |).
layer_violations() {
	local root=$1 doc=$2
	awk -v root="$root" '
	FNR == 1 { file++ }
	file == 1 && /^## Layout/ { in_layout = 1; next }
	file == 1 && /^## / { in_layout = 0 }
	file == 1 && in_layout && /^\| `[a-z_]+\/` *\|/ {
		split($0, cell, "|")
		name = cell[2]; gsub(/[ `\/]/, "", name)
		lvl = cell[3]; gsub(/ /, "", lvl)
		layer[name] = lvl + 0
		next
	}
	file == 1 { next }
	FNR == 1 {
		rel = substr(FILENAME, length(root) + 2)     # agent/... -> ...
		sub(/^agent\//, "", rel)
		own = (rel ~ /\//) ? substr(rel, 1, index(rel, "/") - 1) : ""
		if (own != "" && !(own in layer))
			print rel ": folder " own "/ is not in the layout table"
	}
	/^#include "/ {
		hdr = $2; gsub(/"/, "", hdr)
		if (hdr !~ /\//) {
			print rel ":" FNR ": \"" hdr "\" does not name its folder"
			next
		}
		dep = substr(hdr, 1, index(hdr, "/") - 1)
		if (!(dep in layer)) {
			print rel ":" FNR ": \"" hdr "\": no folder " dep "/ in the layout table"
			next
		}
		if (own == "" || dep == own)
			next
		if (layer[dep] >= layer[own])
			print rel ":" FNR ": " own "/ (layer " layer[own] ") includes \"" hdr \
			      "\" (layer " layer[dep] ")"
	}' "$doc" $(find "$root/agent" -name '*.[ch]' | sort)
}

# The rule can fail: a planted upward include and an unnamed folder are named.
scratch=$(mktemp -d /tmp/cdc-layers.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/agent/base" "$scratch/agent/pg" "$scratch/agent/odd"
printf '## Layout\n| `base/` | 0 | x |\n| `pg/` | 2 | y |\n## Next\n' >"$scratch/doc.md"
printf '#include "pg/pgsql.h"\n#include "base/util.h"\n' >"$scratch/agent/base/util.c"
printf '#include "base/util.h"\n#include "util.h"\n' >"$scratch/agent/pg/pgsql.c"
printf '#include "base/util.h"\n' >"$scratch/agent/odd/x.c"
planted=$(layer_violations "$scratch" "$scratch/doc.md")
check_contains "an upward include is named" \
	'base/util.c:1: base/ (layer 0) includes "pg/pgsql.h" (layer 2)' "$planted"
check_contains "an include without its folder is named" \
	'pg/pgsql.c:2: "util.h" does not name its folder' "$planted"
check_contains "a folder missing from the layout table is named" \
	'odd/x.c: folder odd/ is not in the layout table' "$planted"

check_eq "agent/'s includes follow the layers" "" \
	"$(layer_violations "$REPO_ROOT" "$REPO_ROOT/docs/ARCHITECTURE.md")"
folders=$(cd "$REPO_ROOT/agent" && find . -mindepth 1 -maxdepth 1 -type d | sort | sed 's|^\./||')
check "agent/ has folders" test -n "$folders"
finish
