# scripts/lib/bench-section.sh: bench_write_section HEADING FILE OUT
# Replaces the section that starts with the line HEADING ("## ...") in OUT
# (docs/BENCHMARKS.md) with the contents of FILE, or appends it; the other
# sections are left as they are.  Under a lock (two bench scripts may finish
# together), replacing OUT by rename.
bench_write_section() {
	local head=$1 secfile=$2 out=$3 tmp
	mkdir -p "$(dirname "$out")"
	exec 8>/tmp/cdc-agent-benchmarks-md.lock
	flock 8
	[ -f "$out" ] || printf '# Benchmarks\n\nEach section is written by the script its command names; rerun it to refresh that section.\n\n' >"$out"
	tmp="$out.tmp.$$"
	awk -v head="$head" -v secfile="$secfile" '
		function emit(l) { while ((getline l < secfile) > 0) print l; close(secfile); done = 1 }
		$0 == head { emit(); skip = 1; next }
		skip && /^## / { skip = 0; print "" }
		!skip { print; last = $0 }
		END { if (!done) { if (NR && last != "") print ""; emit() } }' "$out" >"$tmp"
	chmod --reference="$out" "$tmp"
	mv "$tmp" "$out"
	exec 8>&-
}
