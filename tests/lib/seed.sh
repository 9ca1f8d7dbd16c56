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
