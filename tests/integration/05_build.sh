#!/usr/bin/env bash
# The command line's edges and `make install` with PREFIX and DESTDIR (the
# manual pages and the bash completion too).
. "$(dirname "$0")/../lib/harness.sh"

WORK=$(mktemp -d /tmp/cdc-build.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

agent_run --version
check_eq "--version exits 0" 0 "$AGENT_RC"
check_contains "--version names the program" "cdc-agent " "$AGENT_OUT"
agent_run --help
check_eq "--help exits 0" 0 "$AGENT_RC"
check_contains "--help documents the exit codes" "4  PostgreSQL must be restarted" "$AGENT_OUT"
agent_run
check_eq "no verb exits 64" 64 "$AGENT_RC"
agent_run --no-such-option check
check_eq "an unknown option exits 64" 64 "$AGENT_RC"
agent_run check extra-argument
check_eq "a stray argument exits 64" 64 "$AGENT_RC"
agent_run capture
check_eq "capture without a pipeline exits 64" 64 "$AGENT_RC"
for verb in run status; do
	agent_run -c /nonexistent/cdc-agent.ini "$verb"
	check_eq "$verb without a topology exits 3" 3 "$AGENT_RC"
	check_contains "$verb names the file" "/nonexistent/cdc-agent.ini" "$AGENT_ERR"
done

check "make install honours PREFIX and DESTDIR" \
	make -s -C "$REPO_ROOT" install PREFIX=/opt/cdc DESTDIR="$WORK/root"
check "installed binary runs" "$WORK/root/opt/cdc/bin/cdc-agent" --version
check "example topology installed" test -f "$WORK/root/opt/cdc/share/cdc-agent/cdc-agent.ini.example"
check "cdc-agent(8) installed" test -s "$WORK/root/opt/cdc/share/man/man8/cdc-agent.8"
check "cdc-agent.ini(5) installed" test -s "$WORK/root/opt/cdc/share/man/man5/cdc-agent.ini.5"
check "bash completion installed" \
	test -s "$WORK/root/opt/cdc/share/bash-completion/completions/cdc-agent"
# The hidden verb that builds cdc-agent.ini(5) is no verb of the usage.
agent_run --help
check_not_contains "--help does not list schema-roff" "schema-roff" "$AGENT_OUT"
agent_run schema-roff extra
check_eq "schema-roff takes no argument (exits 64)" 64 "$AGENT_RC"
finish
