#!/usr/bin/env bash
# runs-under-sanitizer
# PostgreSQL over TLS ([source]/[target] sslmode, sslrootcert): two private
# clusters that serve TLS with certificates for localhost from a test CA
# (openssl CLI) and let roles in over TCP only through the lines the agent
# adds.  Bootstrap writes hostssl lines for sslmode verify-full, a second
# bootstrap changes nothing, and switching sslmode rewrites the block (a
# change each way).  Capture -> Kafka -> apply with verify-full and the CA:
# the target's rows equal the source's, over connections the servers see
# as TLS, apply's with its client certificate (sslcert, sslkey).  Refused, naming the server and the cause: sslmode=disable against
# hostssl-only lines, a CA that did not sign the server's certificate, and
# a host name (127.0.0.1) the certificate does not carry, and a client
# certificate of another CA; with manage_units, TLS files under /tmp (which
# the units do not see).  The 2-day certificates are warned of by status
# and check.  Loopback only.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
TLS=$(mktemp -d /tmp/cdc-tls.XXXXXX)
trap 'capture_env_down; rm -rf "$TLS"' EXIT
CAPTURE_PARTITIONS=1

# Both clusters serve TLS with certificates from this CA (tests/lib/pg.sh).
mkdir "$TLS/other"
pg_tls_ca "$TLS" && pg_tls_ca "$TLS/other" || { _fail "test CAs made with openssl"; finish; exit; }
PG_TLS_CA=$TLS
pg_cluster_create dst || { _fail "start the target cluster"; finish; exit; }

# verify-full to localhost (the name in the certificates), with the CA.
tls_keys=("sslmode = verify-full" "sslrootcert = $TLS/ca.crt")
pg_tls_cert "$TLS" client db2_user || { _fail "client certificate made with openssl"; finish; exit; }
{
	topology_source db1 my_publication my_slot db1server "public.my_table" "${tls_keys[@]}" |
		sed 's/^host = 127.0.0.1$/host = localhost/'
	topology_target db2 PORT="$PG_PORT_dst" SOCK="$PG_SOCK_dst" "${tls_keys[@]}" \
		"sslcert = $TLS/client.crt" "sslkey = $TLS/client.key" |
		sed 's/^host = 127.0.0.1$/host = localhost/'
	topology_pipeline p1 db1 db2
} >"$TLS/body.ini"
capture_env_up "
CREATE TABLE my_table (id int PRIMARY KEY, name text);
INSERT INTO my_table SELECT g, 'row ' || g FROM generate_series(1, 300) g;
" <"$TLS/body.ini" || { _fail "environment comes up" "$(cat "$WORK/bootstrap.log" 2>/dev/null)"; finish; exit; }

# --- pg_hba.conf: hostssl lines, a second bootstrap changes nothing --------
hba_lines() { grep -v '^#' "$(_pg_var "$1" DIR)/data/pg_hba.conf" | grep -v '^local' | grep -v '^$'; }
check_eq "source: the agent's lines are hostssl, the only TCP lines" \
	"$(printf 'hostssl\tdb1\tcdc_user\t%s\tscram-sha-256\n' 127.0.0.1/32 ::1/128)" "$(hba_lines src)"
check_eq "target: the agent's lines are hostssl, the only TCP lines" \
	"$(printf 'hostssl\tdb2\tdb2_user\t%s\tscram-sha-256\n' 127.0.0.1/32 ::1/128)" "$(hba_lines dst)"
agent_run -c "$T" bootstrap
check_eq "a second bootstrap changes nothing" "0 bootstrap: nothing to change" "$AGENT_RC $AGENT_OUT"

# --- switching sslmode rewrites the block, each way once --------------------
sed '/^\[source db1\]/,/^\[target/ s/^sslmode = .*/sslmode = prefer/' "$T" >"$WORK/prefer.ini"
agent_run -c "$WORK/prefer.ini" bootstrap
check_eq "sslmode prefer: bootstrap succeeds" 0 "$AGENT_RC"
check_contains "sslmode prefer: the block change is reported" \
	"source db1: changed: allow role cdc_user into database db1 from 127.0.0.1/32, ::1/128 in" "$AGENT_OUT"
check_eq "sslmode prefer: host lines" \
	"$(printf 'host\tdb1\tcdc_user\t%s\tscram-sha-256\n' 127.0.0.1/32 ::1/128)" "$(hba_lines src)"
agent_run -c "$T" bootstrap
check_contains "back to verify-full: reported as hostssl" \
	"allow role cdc_user into database db1 from 127.0.0.1/32, ::1/128 over TLS only (hostssl)" "$AGENT_OUT"
check_eq "back to verify-full: hostssl lines again" \
	"$(printf 'hostssl\tdb1\tcdc_user\t%s\tscram-sha-256\n' 127.0.0.1/32 ::1/128)" "$(hba_lines src)"
agent_run -c "$T" bootstrap
check_eq "then nothing to change" "0 bootstrap: nothing to change" "$AGENT_RC $AGENT_OUT"

# With manage_units, TLS files where the units cannot see them are refused
# (ProtectHome, PrivateTmp), before anything of the host is touched.
sed 's/^manage_units = false$/manage_units = true/' "$T" >"$WORK/units.ini"
agent_run -c "$WORK/units.ini" plan
check_eq "manage_units with TLS files under /tmp: plan fails" 1 "$AGENT_RC"
check_contains "... naming the key and why" \
	"source db1: sslrootcert $TLS/ca.crt is under /tmp/, which capture and apply do not see (their units run with ProtectHome=yes and PrivateTmp=yes)" "$AGENT_ERR"
check_contains "... the target's key file too" "target db2: sslkey $TLS/client.key is under /tmp/" "$AGENT_ERR"

# --- the pipeline over TLS --------------------------------------------------
capture_start p1
apply_start p1
check "snapshot over TLS: my_table equal in the target" wait_converged 90 my_table dst:db2
pg_psql src db1 "
INSERT INTO my_table SELECT g, 'new ' || g FROM generate_series(301, 400) g;
UPDATE my_table SET name = name || ' (updated)' WHERE id % 7 = 0;
DELETE FROM my_table WHERE id % 11 = 0;
" >/dev/null
check "changes over TLS: my_table equal in the target" wait_converged 60 my_table dst:db2
ssl_sessions() { # CLUSTER ROLE: the role's connections, and how many use TLS
	pg_psql "$1" postgres "SELECT count(*) || ' ' || count(*) FILTER (WHERE s.ssl)
		FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = '$2'"
}
check_eq "capture's replication and query connections use TLS" "2 2" "$(ssl_sessions src cdc_user)"
# apply's connection, and under consistency = transaction a second one that
# adds enum labels while the first holds the open transaction
check_eq "apply's connections all use TLS" yes \
	"$(ssl_sessions dst db2_user | awk '{ print ($1 >= 1 && $1 == $2) ? "yes" : $0 }')"
client_dn() { # CLUSTER ROLE: the client certificates the role's connections showed
	pg_psql "$1" postgres "SELECT string_agg(DISTINCT coalesce(s.client_dn, '(none)'), ',')
		FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = '$2'"
}
check_eq "apply showed its client certificate (sslcert, sslkey)" "/CN=db2_user" "$(client_dn dst db2_user)"
check_eq "capture, without sslcert, showed none" "(none)" "$(client_dn src cdc_user)"
# The test certificates last 2 days: status warns of each (the CA of both
# sections, apply's client certificate); check too, at the key, exit 0.
agent_run -c "$T" status --json
check_contains "status warns of the CA near expiry" \
	"\"[source db1] sslrootcert $TLS/ca.crt: certificate CN=cdc-agent test CA" "$AGENT_OUT"
check_contains "... and of the client certificate" \
	"\"[target db2] sslcert $TLS/client.crt: certificate CN=db2_user expires in 2 days\"" "$AGENT_OUT"
agent_run -c "$T" check
check_eq "check with certificates near expiry exits 0" 0 "$AGENT_RC"
check_contains "check warns at sslcert's line" \
	"$T:$(grep -n '^sslcert' "$T" | cut -d: -f1): warning: [target db2] sslcert $TLS/client.crt" "$AGENT_ERR"
pipeline_stop p1

# --- refusals: each names the server and the cause --------------------------
# A variant of the topology: sed expression E applied to [source db1] only.
src_variant() { sed "/^\[source db1\]/,/^\[target/ $1" "$T" >"$WORK/$2.ini"; }
capture_refused() { # NAME: capture with $WORK/NAME.ini exits non-zero; stderr in $AGENT_ERR
	agent_run -c "$WORK/$1.ini" capture p1
}

src_variant 's/^sslmode = .*/sslmode = disable/' disable
capture_refused disable
check_eq "sslmode=disable against hostssl lines: capture fails" 1 "$AGENT_RC"
check_contains "... naming the server" "capture p1: cannot connect to localhost:$PG_PORT_src as cdc_user" "$AGENT_ERR"
check_contains "... and the cause" "no pg_hba.conf entry for host \"127.0.0.1\", user \"cdc_user\", database \"db1\", no encryption" "$AGENT_ERR"

src_variant "s|^sslrootcert = .*|sslrootcert = $TLS/other/ca.crt|" other_ca
capture_refused other_ca
check_eq "verify-full with a CA that did not sign the certificate: capture fails" 1 "$AGENT_RC"
check_contains "... naming the server" "capture p1: cannot connect to localhost:$PG_PORT_src" "$AGENT_ERR"
check_contains "... and the cause" "certificate verify failed" "$AGENT_ERR"

src_variant 's/^host = localhost$/host = 127.0.0.1/' by_ip
capture_refused by_ip
check_eq "verify-full by a name the certificate lacks: capture fails" 1 "$AGENT_RC"
check_contains "... naming the server" "capture p1: cannot connect to 127.0.0.1:$PG_PORT_src" "$AGENT_ERR"
check_contains "... and the cause (the certificate's name)" "server certificate for \"localhost\"" "$AGENT_ERR"
check_contains "... does not match the name connected to" "does not match host name \"127.0.0.1\"" "$AGENT_ERR"

# The target's TLS keys reach apply's connection as well.
sed "/^\[target db2\]/,/^\[pipeline/ s|^sslrootcert = .*|sslrootcert = $TLS/other/ca.crt|" "$T" >"$WORK/tgt_ca.ini"
agent_run -c "$WORK/tgt_ca.ini" apply p1
check_eq "apply, target verify-full with another CA: fails" 1 "$AGENT_RC"
check_contains "... naming the target and the cause" "apply p1: cannot connect to localhost:$PG_PORT_dst" "$AGENT_ERR"
check_contains "... (certificate verify failed)" "certificate verify failed" "$AGENT_ERR"

# A client certificate the server's CA did not sign: the server refuses it.
pg_tls_cert "$TLS/other" client db2_user
sed -e "/^\[target db2\]/,/^\[pipeline/ s|^sslcert = .*|sslcert = $TLS/other/client.crt|" \
	-e "/^\[target db2\]/,/^\[pipeline/ s|^sslkey = .*|sslkey = $TLS/other/client.key|" "$T" >"$WORK/tgt_cert.ini"
agent_run -c "$WORK/tgt_cert.ini" apply p1
check_eq "apply with a client certificate of another CA: fails" 1 "$AGENT_RC"
check_contains "... naming the target" "apply p1: cannot connect to localhost:$PG_PORT_dst as db2_user" "$AGENT_ERR"
check_contains "... and the cause" "unknown ca" "$AGENT_ERR"

finish
