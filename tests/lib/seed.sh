# tests/lib/seed.sh: the seed runbook's starting point inside a booted
# container (tests/lib/container.sh): Debian's PostgreSQL cluster 15/main
# running under systemd with default settings, database db1 with
# public.my_table, and the password files the repo's cdc-agent.ini names.
# Shared by the systemd tests and scripts/demo.sh.

SEED_DB1_PASSWORD=${SEED_DB1_PASSWORD:-cdc_pass}
# The container shares the host's network: a test may move 15/main off 5432.
SEED_PG_PORT=${SEED_PG_PORT:-5432}
SEED_DB2_PASSWORD=${SEED_DB2_PASSWORD:-db2_pass}

# Runs SQL as postgres inside the container (peer authentication).
seed_psql() { # DB SQL
	ct_exec runuser -u postgres -- psql -X -q -A -t -v ON_ERROR_STOP=1 -p "$SEED_PG_PORT" -d "$1" -c "$2"
}

seed_prepare() {
	if [ "$SEED_PG_PORT" != 5432 ]; then
		ct_exec sed -i "s/^port = .*/port = $SEED_PG_PORT/" /etc/postgresql/15/main/postgresql.conf || return 1
	fi
	ct_exec systemctl start postgresql@15-main.service || return 1
	seed_psql postgres "CREATE DATABASE db1" || return 1
	seed_psql db1 "CREATE TABLE public.my_table (id int PRIMARY KEY, name text, updated_at timestamptz DEFAULT now())" || return 1
	ct_exec sh -c "umask 077 && mkdir -p /etc/cdc-agent &&
		printf '%s\n' '$SEED_DB1_PASSWORD' >/etc/cdc-agent/db1.pass &&
		printf '%s\n' '$SEED_DB2_PASSWORD' >/etc/cdc-agent/db2.pass"
}

# ActiveEnterTimestamp of a unit, read over D-Bus: changes iff it restarted.
seed_unit_started_at() { # UNIT
	local path
	path=$(ct_exec busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
		org.freedesktop.systemd1.Manager GetUnit s "$1" | awk '{print $2}' | tr -d '"')
	ct_exec busctl get-property org.freedesktop.systemd1 "$path" \
		org.freedesktop.systemd1.Unit ActiveEnterTimestamp
}

# Free, distinct TCP ports for a seed deployment in a container, which shares
# this machine's network: SEED_PG_PORT (PostgreSQL), ZKP (ZooKeeper), KP
# (Kafka; KP+1 is KRaft's controller, KP+2 a secured broker's INTERNAL) and SP (run's status endpoints).
seed_ports() {
	_seed_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
	local used
	SEED_PG_PORT=$(_seed_port)
	used=" $SEED_PG_PORT "
	ZKP=$(_seed_port)
	while [[ $used == *" $ZKP "* ]]; do ZKP=$(_seed_port); done
	used+="$ZKP "
	KP=$(_seed_port)
	while [[ $used == *" $KP "* || $used == *" $((KP + 1)) "* || $used == *" $((KP + 2)) "* ]] ||
		(exec 3<>"/dev/tcp/127.0.0.1/$((KP + 1))") 2>/dev/null ||
		(exec 3<>"/dev/tcp/127.0.0.1/$((KP + 2))") 2>/dev/null; do
		KP=$(_seed_port)
	done
	used+="$KP $((KP + 1)) $((KP + 2)) "
	SP=$(_seed_port)
	while [[ $used == *" $SP "* ]]; do SP=$(_seed_port); done
}

# SEED_DIST and SEED_SHA: the Kafka tarball scripts/kafka-dist.sh builds
# (cached) and its SHA-512.
seed_kafka_dist() {
	SEED_DIST=$("$REPO_ROOT/scripts/kafka-dist.sh") || return 1
	SEED_SHA=$(cut -d' ' -f1 "$SEED_DIST.sha512")
}

# Installs AGENT in the booted container as the package would (binary in
# /usr/local/bin, units and templates in /usr/local/share/cdc-agent) and the
# repo's cdc-agent.ini as /etc/cdc-agent/cdc-agent.ini with this run's
# ports and Kafka tarball (seed_ports, seed_kafka_dist first); more sed
# expressions for the topology may follow.
seed_install_agent() { # AGENT [SED-EXPR...]
	local agent=$1 ini rc e
	local exprs=(-e "s|^sha512 = .*|sha512 = $SEED_SHA|" -e "s|^dist = .*|dist = file://$SEED_DIST|"
		-e "s|^port = 5432|port = $SEED_PG_PORT|"
		-e "s|^bootstrap_servers = .*|bootstrap_servers = 127.0.0.1:$KP|"
		-e "s|^connect = .*|connect = 127.0.0.1:$ZKP|")
	shift
	for e in "$@"; do exprs+=(-e "$e"); done
	ct_copy_in "$agent" /usr/local/bin/cdc-agent || return 1
	mkdir -p "$CT_DIR/root/usr/local/share/cdc-agent"
	cp -r "$REPO_ROOT/units" "$REPO_ROOT/templates" "$CT_DIR/root/usr/local/share/cdc-agent/" || return 1
	ini=$(mktemp)
	chmod 0644 "$ini" # as an operator's /etc file: capture and apply read it as cdc-agent
	sed "${exprs[@]}" "$REPO_ROOT/cdc-agent.ini" >"$ini" &&
		ct_copy_in "$ini" /etc/cdc-agent/cdc-agent.ini
	rc=$?
	rm -f "$ini"
	return $rc
}
