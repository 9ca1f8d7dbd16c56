# tests/lib/pg.sh: private PostgreSQL clusters for tests.
#
# Clusters run as the OS user postgres (PostgreSQL refuses root) in a temp
# directory, on a free port, with the server's defaults for everything the
# agent manages (wal_level stays 'replica' until the agent changes it).
# Local socket: trust (the agent's admin connects there); TCP: reject, so a
# role can only log in over TCP through the pg_hba entries the agent adds.
#
#   pg_cluster_create NAME   -> PG_DIR_<NAME>, PG_PORT_<NAME>, PG_SOCK_<NAME>
#       with PG_TLS_CA set (a directory from pg_tls_ca): the cluster serves
#       TLS (ssl = on) with a certificate for localhost signed by that CA,
#       checks client certificates signed by it (ssl_ca_file; pg_hba.conf
#       requires none), and pg_hba.conf has no TCP line of its own: only the lines the agent
#       adds let a role in over TCP (the socket stays trust)
#   pg_tls_ca DIR            a test CA in DIR: ca.crt, ca.key (openssl CLI)
#   pg_tls_cert DIR NAME CN  NAME.crt/NAME.key in DIR, for CN (also its
#       subjectAltName DNS entry), signed by DIR's CA
#   pg_psql NAME DB SQL      runs SQL as postgres over the socket, prints rows
#   pg_cluster_restart NAME / pg_cluster_destroy NAME
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PG_CLUSTERS=()

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pg_tls_ca() { # DIR
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cdc-agent test CA $$" \
		-keyout "$1/ca.key" -out "$1/ca.crt" >/dev/null 2>&1 || { echo "pg_tls_ca: openssl failed" >&2; return 1; }
	chmod 600 "$1/ca.key"
}

pg_tls_cert() { # DIR NAME CN
	local dir=$1 name=$2 cn=$3
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout "$dir/$name.key" \
		-out "$dir/$name.csr" >/dev/null 2>&1 &&
		openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
			-CAcreateserial -days 2 -out "$dir/$name.crt" \
			-extfile <(printf 'subjectAltName = DNS:%s\n' "$cn") >/dev/null 2>&1 ||
		{ echo "pg_tls_cert: openssl failed for $name" >&2; return 1; }
	chmod 600 "$dir/$name.key"
}

pg_cluster_create() {
	local name=$1 dir port
	dir=$(mktemp -d /tmp/cdc-pg-"$name".XXXXXX)
	port=$(free_port)
	chown postgres: "$dir"
	runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 \
		--locale=C.UTF-8 --auth-local=trust --auth-host=reject >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log"; return 1; }
	cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
log_statement = 'all'
log_connections = on
CONF
	if [ -n "${PG_TLS_CA:-}" ]; then
		pg_tls_cert "$PG_TLS_CA" "server-$name" localhost || return 1
		install -o postgres -m 600 "$PG_TLS_CA/server-$name.key" "$dir/data/server.key"
		install -o postgres -m 644 "$PG_TLS_CA/server-$name.crt" "$dir/data/server.crt"
		install -o postgres -m 644 "$PG_TLS_CA/ca.crt" "$dir/data/root.crt"
		# ssl_ca_file: the server asks for a client certificate (and
		# checks one that is sent), which pg_hba does not require.
		printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\n" >>"$dir/data/postgresql.conf"
		sed -i '/^host[[:space:]]/d' "$dir/data/pg_hba.conf"
	fi
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null ||
		{ cat "$dir/server.log"; return 1; }
	printf -v "PG_DIR_$name" '%s' "$dir"
	printf -v "PG_PORT_$name" '%s' "$port"
	printf -v "PG_SOCK_$name" '%s' "$dir"
	PG_CLUSTERS+=("$name")
}

_pg_var() { local v="PG_$2_$1"; printf '%s' "${!v}"; }

pg_psql() {
	local name=$1 db=$2 sql=$3
	"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$(_pg_var "$name" SOCK)" \
		-p "$(_pg_var "$name" PORT)" -U postgres -d "$db" -c "$sql"
}

pg_cluster_restart() { # the log goes on into server.log (pg_ctl restart without -l drops it)
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$(_pg_var "$1" DIR)/data" \
		-l "$(_pg_var "$1" DIR)/server.log" -w -m fast restart >/dev/null
}

pg_cluster_destroy() {
	local dir
	dir=$(_pg_var "$1" DIR)
	[ -n "$dir" ] || return 0
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -w -m immediate stop >/dev/null 2>&1
	rm -rf "$dir"
}

pg_destroy_all() {
	local n
	for n in "${PG_CLUSTERS[@]}"; do pg_cluster_destroy "$n"; done
	PG_CLUSTERS=()
}
