#!/usr/bin/env bash
# The map stays true: docs/ARCHITECTURE.md's file table has a row for every
# module of agent/ (each .c, and each header without one) and no row for a
# file that is gone; tests/README.md names every integration test and every
# unit test file.
. "$(dirname "$0")/../lib/harness.sh"

# The modules of the tree at $1, relative to agent/: each .c, and each .h
# without a .c beside it.
modules_of() {
	(cd "$1/agent" && find . -name '*.[ch]' | sed 's|^\./||' | sort | awk '
		/\.c$/ { c[substr($0, 1, length($0) - 2)] = 1; print; next }
		{ h[NR] = $0 }
		END { for (i in h) if (!(substr(h[i], 1, length(h[i]) - 2) in c)) print h[i] }' |
		sort)
}

# The files named in the first column of the "## Files" section's tables.
rows_of() {
	sed -n '/^## Files/,/^## [^F]/p' "$1" | sed -n 's/^| `\([^`]*\.[ch]\)` *|.*/\1/p' | sort
}

# What is missing from the map and what it names that is gone, as lines
# "missing: FILE" / "stale: FILE", for the tree at $1 and the document $2.
map_differences() {
	comm -3 <(modules_of "$1") <(rows_of "$2") |
		sed -e 's/^\t\(.*\)/stale: \1/' -e '/^stale: /!s/^/missing: /'
}

# The check can fail: a file added without a row, a row without a file.
scratch=$(mktemp -d /tmp/cdc-map.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/agent/base"
touch "$scratch/agent/main.c" "$scratch/agent/base/util.c" "$scratch/agent/base/util.h" \
	"$scratch/agent/base/common.h" "$scratch/agent/base/new_thing.c"
printf '## Files\n| file | concern |\n|---|---|\n| `main.c` | m |\n| `base/util.c` | u |\n| `base/common.h` | c |\n| `base/gone.c` | g |\n## Next\n' \
	>"$scratch/doc.md"
diffs=$(map_differences "$scratch" "$scratch/doc.md")
check_eq "a file without a row and a row without a file are named" \
	"stale: base/gone.c"$'\n'"missing: base/new_thing.c" "$diffs"

check_eq "docs/ARCHITECTURE.md has a row for every module of agent/ and none stale" "" \
	"$(map_differences "$REPO_ROOT" "$REPO_ROOT/docs/ARCHITECTURE.md")"

# tests/README.md's inventory: every test file by name.
inventory=$REPO_ROOT/tests/README.md
unlisted=""
for f in "$REPO_ROOT"/tests/integration/*.sh "$REPO_ROOT"/tests/unit/test_*.c; do
	name=$(basename "$f")
	grep -q "\`$name\`\|\`${name%.*}\`" "$inventory" 2>/dev/null || unlisted+="$name "
done
check_eq "tests/README.md names every integration test and unit test file" "" "$unlisted"
finish
