#!/usr/bin/env bash
# The Ansible wrapper (playbooks/) on a host that has only PostgreSQL (in a
# systemd container), with ansible-playbook run inside it (connection local)
# against the seed topology as inventory variables: the first run installs
# the agent, writes the topology and password files and bootstraps (changed),
# rows replicate db1 -> db2; a second run reports changed=0; --check changes
# nothing and reports nothing; --check --diff after a topology change (an
# extra table) reports the would-be change and still changes nothing.  The
# password files are mode 0600, owned by cdc-agent, and the passwords never
# appear in ansible's output, even with -v.  cdc-agent.service (`run`) is
# started by the first run, left alone by runs with nothing to change, and
# stopped around a bootstrap that has work (started again after it).
# Then cdc_agent_install_from: package on the same host: the Debian package
# (`make deb`) replaces the copied build (the units re-rendered for
# /usr/bin/cdc-agent, rows replicate), a second run is changed=0, a newer
# package restarts capture, apply and run (its postinst) and the run after
# that is changed=0 again.
# SHOW_PLAYS=1 prints every ansible-playbook run's output.
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/container.sh"
# Distinctive passwords, so their absence from the output means something.
SEED_DB1_PASSWORD="s3cret-db1-$RANDOM$RANDOM"
SEED_DB2_PASSWORD="s3cret-db2-$RANDOM$RANDOM"
. "$REPO_ROOT/tests/lib/seed.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v systemd-nspawn >/dev/null; then
	skip_or_fail "needs root and systemd-nspawn"
	finish
	exit
fi
# The container runs with the system PATH (not, e.g., a pyenv's).
if ! PATH=/usr/local/bin:/usr/bin:/bin command -v ansible-playbook >/dev/null; then
	skip_or_fail "ansible-playbook is not installed (apt-get install ansible-core)"
	finish
	exit
fi
seed_ports
seed_kafka_dist || { _fail "Kafka distribution built"; finish; exit; }
DIST=$SEED_DIST SHA=$SEED_SHA
# Two builds of the package, for cdc_agent_install_from: package.
PKG1= PKG2=
if command -v dpkg-buildpackage >/dev/null && [ -x /usr/bin/dh ]; then
	base=0.$(git -C "$REPO_ROOT" rev-list --count HEAD)
	PKGS=$(mktemp -d /tmp/cdc-ansible-deb.XXXXXX)
	for v in "$base+ansible1" "$base+ansible2"; do
		if out=$(make -C "$REPO_ROOT" --no-print-directory deb DEB_VERSION="$v" 2>&1); then
			cp "$REPO_ROOT/build/deb/cdc-agent_${v}_"*.deb "$PKGS/"
			rm -f "$REPO_ROOT/build/deb/"*_"${v}"_*
		else
			_fail "make deb DEB_VERSION=$v" "$(printf '%s\n' "$out" | tail -n 20)"
		fi
	done
	PKG1=$(ls "$PKGS"/cdc-agent_"$base+ansible1"_*.deb 2>/dev/null)
	PKG2=$(ls "$PKGS"/cdc-agent_"$base+ansible2"_*.deb 2>/dev/null)
else
	skip_or_fail "package mode: needs dpkg-dev and debhelper (scripts/install-deps.sh)"
fi
trap 'ct_shutdown; rm -rf "${PKGS:-}"' EXIT

ct_boot cdc-ansible || { _fail "container boots"; finish; exit; }
seed_prepare || { _fail "seed database prepared"; finish; exit; }
# The role writes the password files itself, from the inventory.
ct_exec rm -rf /etc/cdc-agent

# The controller's side, in the container (connection local): a build of the
# repository (binary, units, templates) with its playbooks, as checked out.
SRC=/root/cdc-agent-src
mkdir -p "$CT_DIR/root$SRC"
cp "$CDC_AGENT" "$CT_DIR/root$SRC/cdc-agent"
cp -r "$REPO_ROOT/units" "$REPO_ROOT/templates" "$REPO_ROOT/playbooks" "$CT_DIR/root$SRC/"
INV=$SRC/inventory
cp -r "$REPO_ROOT/playbooks/inventory.example" "$CT_DIR/root$INV"
VARS=$CT_DIR/root$INV/group_vars/cdc_agent.yml
sed -i -e "s|^\(  *\)port: 5432|\1port: $SEED_PG_PORT|" \
	-e "s|^\(  *\)state_dir: .*|&\n\1status_listen: 127.0.0.1:$SP|" \
	-e "s|^\(  *\)bootstrap_servers: .*|\1bootstrap_servers: 127.0.0.1:$KP|" \
	-e "s|^\(  *\)connect: .*|\1connect: 127.0.0.1:$ZKP|" \
	-e "s|^\(  *\)dist: .*|\1dist: file://$DIST|" \
	-e "s|^\(  *\)sha512: .*|\1sha512: $SHA|" \
	-e "s|^\(  *\)db1: cdc_pass|\1db1: $SEED_DB1_PASSWORD|" \
	-e "s|^\(  *\)db2: db2_pass|\1db2: $SEED_DB2_PASSWORD|" "$VARS"
cat >"$CT_DIR/root$INV/hosts.yml" <<EOF
cdc_agent:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: /usr/bin/python3
EOF

play() { # ARGS...: sets PLAY_OUT, PLAY_RC, PLAY_CHANGED (from the recap; "" if none)
	PLAY_OUT=$(ct_exec env ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
		ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_DEPRECATION_WARNINGS=false \
		ansible-playbook -i "$INV" "$SRC/playbooks/site.yml" "$@" 2>&1)
	PLAY_RC=$?
	[ -z "${SHOW_PLAYS:-}" ] || printf '%s\n' "$PLAY_OUT" | sed 's/^/    | /'
	PLAY_CHANGED=$(printf '%s\n' "$PLAY_OUT" | sed -n 's/^localhost *:.* changed=\([0-9]*\) .*/\1/p')
	ALL_OUT+=$PLAY_OUT$'\n'
}
# What a run that changes nothing must leave as it is: files the role and
# bootstrap write, the units' start times, the publication's tables.
host_state() {
	ct_exec sh -c 'find /etc/cdc-agent /usr/local/bin/cdc-agent /usr/local/share/cdc-agent \
		/etc/systemd/system -maxdepth 2 -type f -printf "%p %m %u %T@\n" | sort
		md5sum /etc/cdc-agent/* /etc/systemd/system/cdc-* /etc/systemd/system/kafka.service'
	for u in $UNITS; do
		seed_unit_started_at "$u"
	done
	seed_psql db1 "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = 'my_publication'"
}
ALL_OUT=
UNITS="zookeeper.service kafka.service cdc-capture@db1-to-db2.service cdc-apply@db1-to-db2.service cdc-agent.service"
unit_prop() { ct_exec systemctl show -p "$2" --value "$1"; }

# ---- --check on the bare host: everything would change, nothing does -------------
play --check --diff
check_eq "--check on a bare host succeeds" 0 "$PLAY_RC"
[ "$PLAY_RC" = 0 ] || printf '%s\n' "$PLAY_OUT" | tail -n 30
check "it reports changes (changed=$PLAY_CHANGED)" test "${PLAY_CHANGED:-0}" -gt 0
check_eq "and installs and writes nothing" "" \
	"$(ct_exec sh -c 'ls -d /usr/local/bin/cdc-agent /etc/cdc-agent /etc/systemd/system/cdc-* 2>/dev/null; getent passwd cdc-agent')"

# ---- first run: everything -----------------------------------------------------
seed_psql db1 "INSERT INTO public.my_table (id, name) VALUES (1, 'before ansible')" >/dev/null
t0=$(date +%s.%N)
play
check_eq "first run succeeds" 0 "$PLAY_RC"
[ "$PLAY_RC" = 0 ] || printf '%s\n' "$PLAY_OUT" | tail -n 40
check "first run reports changes (changed=$PLAY_CHANGED)" test "${PLAY_CHANGED:-0}" -gt 0
echo "# first run: $(echo "$(date +%s.%N) - $t0" | bc) s"
check_eq "the agent is installed as make install would" "755 /usr/local/bin/cdc-agent" \
	"$(ct_exec stat -c '%a %n' /usr/local/bin/cdc-agent)"
check "with its units and templates" ct_exec test -f /usr/local/share/cdc-agent/units/kafka.service -a \
	-f /usr/local/share/cdc-agent/templates/server.properties.zookeeper
check "the topology is valid" ct_exec /usr/local/bin/cdc-agent -c /etc/cdc-agent/cdc-agent.ini check
for f in db1 db2; do
	check_eq "password file $f.pass: mode 0600, owned by cdc-agent" "600 cdc-agent" \
		"$(ct_exec stat -c '%a %U' /etc/cdc-agent/$f.pass)"
done
check_eq "db1.pass holds the inventory's password" "$SEED_DB1_PASSWORD" "$(ct_exec cat /etc/cdc-agent/db1.pass)"
seed_psql db1 "INSERT INTO public.my_table (id, name) VALUES (2, 'after ansible')" >/dev/null
for _ in $(seq 120); do
	got=$(seed_psql db2 "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM public.my_table" 2>/dev/null)
	[ "$got" = "1:before ansible,2:after ansible" ] && break
	sleep 0.5
done
check_eq "rows replicate db1 -> db2 (snapshot and stream)" "1:before ansible,2:after ansible" "$got"
check_eq "cdc-agent.service (run) is enabled" enabled "$(ct_exec systemctl is-enabled cdc-agent.service)"
check_eq "and active" active "$(unit_prop cdc-agent.service ActiveState)"
check_contains "and converged (its STATUS=)" "converged" "$(unit_prop cdc-agent.service StatusText)"

# ---- second run: nothing to do (-v: the module's result is shown) -----------------
before=$(host_state)
t0=$(date +%s.%N)
play -v
echo "# second run: $(echo "$(date +%s.%N) - $t0" | bc) s"
check_eq "second run succeeds" 0 "$PLAY_RC"
check_eq "second run reports changed=0" 0 "$PLAY_CHANGED"
[ "$PLAY_CHANGED" = 0 ] || printf '%s\n' "$PLAY_OUT" | grep -B2 -A8 '^changed' | head -n 40
check_contains "with the module's (empty) list of changes in -v" '"changes": []' "$PLAY_OUT"
check_eq "and changes nothing on the host (files, units and run's start times, publication)" "$before" "$(host_state)"

# ---- --check: plan, nothing to report, nothing changed ----------------------------
play --check
check_eq "--check succeeds" 0 "$PLAY_RC"
check_eq "--check reports changed=0" 0 "$PLAY_CHANGED"
check_eq "--check changes nothing on the host" "$before" "$(host_state)"

# ---- --check --diff after a topology change: an extra table ------------------------
seed_psql db1 "CREATE TABLE public.other_table (id int PRIMARY KEY, v text)"
sed -i 's|^\(  *\)tables: \[public.my_table\]|\1tables: [public.my_table, public.other_table]|' "$VARS"
before=$(host_state)
play --check --diff
check_eq "--check --diff after adding a table succeeds" 0 "$PLAY_RC"
[ "$PLAY_RC" = 0 ] || printf '%s\n' "$PLAY_OUT" | tail -n 30
check "it reports changes (changed=$PLAY_CHANGED)" test "${PLAY_CHANGED:-0}" -gt 0
check_contains "the topology's diff" "+tables = public.my_table, public.other_table" "$PLAY_OUT"
check_contains "the agent's plan against the new topology" \
	"+ source db1: add table public.other_table to publication my_publication" "$PLAY_OUT"
check_eq "and changes nothing on the host (topology, units, publication)" "$before" "$(host_state)"

# ---- and for real: the table is published and replicates ---------------------------
run_started=$(seed_unit_started_at cdc-agent.service)
play -v
check_eq "the run with the extra table succeeds" 0 "$PLAY_RC"
[ "$PLAY_RC" = 0 ] || printf '%s\n' "$PLAY_OUT" | tail -n 30
check "and reports changes (changed=$PLAY_CHANGED)" test "${PLAY_CHANGED:-0}" -gt 0
check_contains "bootstrap ran with run stopped, which was started again" '"supervisor_restarted": true' "$PLAY_OUT"
check "so run has read the new topology (restarted)" test "$run_started" != "$(seed_unit_started_at cdc-agent.service)"
check_eq "and is active" active "$(unit_prop cdc-agent.service ActiveState)"
check_eq "the publication has the extra table" "public.my_table,public.other_table" \
	"$(seed_psql db1 "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = 'my_publication'")"
seed_psql db1 "INSERT INTO public.other_table VALUES (7, 'seven')" >/dev/null
for _ in $(seq 120); do
	got=$(seed_psql db2 "SELECT id || ':' || v FROM public.other_table" 2>/dev/null)
	[ "$got" = "7:seven" ] && break
	sleep 0.5
done
check_eq "its rows replicate db1 -> db2 (table created in db2)" "7:seven" "$got"
play --check
check_eq "a --check after it reports changed=0" 0 "$PLAY_CHANGED"

# ---- a new build: what runs the old binary restarts ------------------------------
before=$(for u in $UNITS; do seed_unit_started_at "$u"; done)
printf '\n' >>"$CT_DIR/root$SRC/cdc-agent"  # another build, as far as checksums go
play
check_eq "the run with a new binary succeeds" 0 "$PLAY_RC"
check_contains "its handler restarts the pipeline's units" "RUNNING HANDLER [cdc_agent : Restart those that run]" "$PLAY_OUT"
after=$(for u in $UNITS; do seed_unit_started_at "$u"; done)
check_eq "ZooKeeper and Kafka keep running" "$(printf '%s\n' "$before" | head -n 2)" "$(printf '%s\n' "$after" | head -n 2)"
for i in 3 4 5; do
	u=$(echo $UNITS | cut -d' ' -f$i)
	check "$u was restarted" test "$(printf '%s\n' "$before" | sed -n ${i}p)" != "$(printf '%s\n' "$after" | sed -n ${i}p)"
done

# ---- cdc_agent_install_from: package ---------------------------------------------
rows_arrive() { # ID NAME: a row written to db1 reaches db2
	local got
	seed_psql db1 "INSERT INTO public.my_table (id, name) VALUES ($1, '$2')" >/dev/null
	for _ in $(seq 120); do
		got=$(seed_psql db2 "SELECT name FROM public.my_table WHERE id = $1" 2>/dev/null)
		[ "$got" = "$2" ] && return 0
		sleep 0.5
	done
	return 1
}
main_exe() { ct_exec readlink "/proc/$(unit_prop "$1" MainPID)/exe"; }
if [ -n "$PKG1" ] && [ -n "$PKG2" ]; then
	cp "$PKG1" "$PKG2" "$CT_DIR/root$SRC/"
	printf 'cdc_agent_install_from: package\ncdc_agent_package: %s\n' "$SRC/${PKG1##*/}" >>"$VARS"
	play
	check_eq "package: the run replacing the build with the package succeeds" 0 "$PLAY_RC"
	[ "$PLAY_RC" = 0 ] || printf '%s\n' "$PLAY_OUT" | tail -n 30
	check "package: it reports changes (changed=$PLAY_CHANGED)" test "${PLAY_CHANGED:-0}" -gt 0
	v1=${PKG1##*/cdc-agent_}; v1=${v1%%_*}
	check_eq "package: $v1 installed" "install ok installed $v1" \
		"$(ct_exec dpkg-query -W -f '${Status} ${Version}' cdc-agent)"
	check_contains "package: the units are rendered for /usr/bin/cdc-agent" "ExecStart=/usr/bin/cdc-agent" \
		"$(ct_exec cat /etc/systemd/system/cdc-capture@.service)"
	for u in cdc-capture@db1-to-db2.service cdc-apply@db1-to-db2.service cdc-agent.service; do
		check_eq "package: $u runs /usr/bin/cdc-agent" /usr/bin/cdc-agent "$(main_exe "$u")"
	done
	check "package: rows replicate" rows_arrive 3 "package $v1"
	play
	check_eq "package: a second run succeeds" 0 "$PLAY_RC"
	check_eq "package: and reports changed=0" 0 "$PLAY_CHANGED"
	[ "$PLAY_CHANGED" = 0 ] || printf '%s\n' "$PLAY_OUT" | grep -B2 -A8 '^changed' | head -n 40

	# A newer package: its postinst restarts what runs the old binary.
	before=$(for u in $UNITS; do seed_unit_started_at "$u"; done)
	sed -i "s|^cdc_agent_package: .*|cdc_agent_package: $SRC/${PKG2##*/}|" "$VARS"
	play
	check_eq "package: the run with a newer package succeeds" 0 "$PLAY_RC"
	[ "$PLAY_RC" = 0 ] || printf '%s\n' "$PLAY_OUT" | tail -n 30
	check "package: it reports changes (changed=$PLAY_CHANGED)" test "${PLAY_CHANGED:-0}" -gt 0
	v2=${PKG2##*/cdc-agent_}; v2=${v2%%_*}
	check_eq "package: $v2 installed" "install ok installed $v2" \
		"$(ct_exec dpkg-query -W -f '${Status} ${Version}' cdc-agent)"
	after=$(for u in $UNITS; do seed_unit_started_at "$u"; done)
	check_eq "package: ZooKeeper and Kafka keep running" "$(printf '%s\n' "$before" | head -n 2)" \
		"$(printf '%s\n' "$after" | head -n 2)"
	for i in 3 4 5; do
		u=$(echo $UNITS | cut -d' ' -f$i)
		check "package: $u was restarted" test "$(printf '%s\n' "$before" | sed -n ${i}p)" != "$(printf '%s\n' "$after" | sed -n ${i}p)"
		check_eq "package: $u runs the new binary" /usr/bin/cdc-agent "$(main_exe "$u")"
	done
	check "package: rows replicate" rows_arrive 4 "package $v2"
	play
	check_eq "package: the run after it reports changed=0" 0 "$PLAY_CHANGED"
	[ "$PLAY_CHANGED" = 0 ] || printf '%s\n' "$PLAY_OUT" | grep -B2 -A8 '^changed' | head -n 40
fi

# ---- secrets ---------------------------------------------------------------------
check_not_contains "db1's password never appears in ansible's output" "$SEED_DB1_PASSWORD" "$ALL_OUT"
check_not_contains "db2's password never appears in ansible's output" "$SEED_DB2_PASSWORD" "$ALL_OUT"
finish
