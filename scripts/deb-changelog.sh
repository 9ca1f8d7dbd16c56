#!/usr/bin/env bash
# scripts/deb-changelog.sh DEBIAN_DIR VERSION BUILD: for `make deb`, puts an
# entry for VERSION on top of DEBIAN_DIR/changelog (a copy of the tree, never
# the repository's debian/), naming BUILD (git describe), unless the top entry
# is VERSION already.  VERSION must be a native package's version: a digit,
# then letters, digits and . + ~ (no '-': the package is native).
set -euo pipefail

dir=${1:?usage: deb-changelog.sh DEBIAN_DIR VERSION BUILD} version=${2:?version} build=${3:-}
if ! [[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
	echo "deb-changelog: DEB_VERSION '$version': want a digit, then letters, digits, '.', '+', '~'" >&2
	exit 1
fi
top=$(dpkg-parsechangelog -l "$dir/changelog" -S Version)
[ "$top" = "$version" ] && exit 0
if ! dpkg --compare-versions "$version" gt "$top"; then
	echo "deb-changelog: DEB_VERSION $version is not above debian/changelog's $top" >&2
	exit 1
fi
maintainer=$(sed -n 's/^Maintainer: *//p' "$dir/control")
{
	printf 'cdc-agent (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Build of %s.\n\n' "${build:-the working tree}"
	printf ' -- %s  %s\n\n' "$maintainer" "$(date -R)"
	cat "$dir/changelog"
} >"$dir/changelog.new"
mv "$dir/changelog.new" "$dir/changelog"
