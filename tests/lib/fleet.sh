# shellcheck shell=bash disable=SC2016 # '$1' in sh -c scripts is meant
# tests/lib/fleet.sh: a fleet of systemd containers, each with its own address
# on a private bridge, reached over SSH as real hosts are (Ansible, the agent
# on several hosts).
#
#   . tests/lib/harness.sh; . "$REPO_ROOT/tests/lib/fleet.sh"
#   trap fleet_down EXIT
#   fleet_up f42 10.77.0.1/24 10.77.0.11 k1 k2 k3 pg   # k1 = .11 ... pg = .14
#   fleet_ssh k1 hostname                  # over SSH, as root, host key checked
#   fleet_exec pg systemctl start foo      # through nsenter, as ct_exec
#   fleet_copy_in pg ./file /etc/file      # as ct_copy_in
#   fleet_ansible_env                       # exports ANSIBLE_* for ssh to the fleet
#   ansible-playbook -i INVENTORY ...       # hosts named k1.. (or their addresses);
#                                           # ansible_become: false: root already, no sudo
#
# Each container is tests/lib/container.sh's (an overlay of the host's / on a
# tmpfs, a real systemd booted by systemd-nspawn) with a private network:
# nspawn's veth (host0 inside) on a bridge fleet_up creates, the bridge holding
# the host's address (HOST_CIDR), the containers the addresses that follow
# FIRST_ADDR in the order of the names. Nothing is routed beyond the bridge
# (the host does not forward). Each container gets its name as hostname, every
# fleet member in /etc/hosts, a host key of its own and sshd listening on its
# address alone, key-only, for one root key generated per run. The host's
# SSH client uses $FLEET_DIR/ssh_config (that key, a known_hosts of exactly the
# fleet's keys, strict checking): nothing of the host's ~/.ssh is read or
# written.
#
# fleet_down removes all fleet_up made (containers, overlays, the bridge, ssh
# master connections, $FLEET_DIR), also after a partial fleet_up, and kills
# only processes it started (by their ids). Several fleets may run at once
# with different NAMEs and subnets (a NAME of at most 5 characters, HOSTs of
# at most 6: the bridge is NAME-br, the containers NAME-HOST, their veths
# vb-NAME-HOST, all within the kernel's 15 characters).
#
# Knobs: those of container.sh (CT_BOOT_TIMEOUT, CT_TMPFS_SIZE, ...), for
# every container of the fleet.

. "$(dirname "${BASH_SOURCE[0]}")/container.sh"

FLEET_NAME='' FLEET_DIR='' FLEET_BRIDGE='' FLEET_PREFIXLEN='' FLEET_HOSTS=()
declare -A FLEET_ADDR=() _FL_CT_DIR=() _FL_CT_NSPAWN=() _FL_CT_LEADER=() _FL_CT_CGROUPS=()

_fl_log() { printf 'fleet: %s\n' "$*" >&2; }

# Make container HOST the one container.sh's ct_* functions act on.
_fl_select() {
	local h=$1
	if [[ -z ${_FL_CT_DIR[$h]:-} ]]; then
		_fl_log "no container $h in the fleet"
		return 1
	fi
	CT_NAME=$FLEET_NAME-$h CT_DIR=${_FL_CT_DIR[$h]} CT_NSPAWN_PID=${_FL_CT_NSPAWN[$h]}
	CT_LEADER=${_FL_CT_LEADER[$h]} CT_CGROUPS=${_FL_CT_CGROUPS[$h]}
}
_fl_store() {
	_FL_CT_DIR[$1]=$CT_DIR _FL_CT_NSPAWN[$1]=$CT_NSPAWN_PID
	_FL_CT_LEADER[$1]=$CT_LEADER _FL_CT_CGROUPS[$1]=$CT_CGROUPS
}
_fl_clear() { CT_DIR='' CT_NSPAWN_PID='' CT_LEADER='' CT_NAME='' CT_CGROUPS=''; }

# ADDR N: the IPv4 address N after ADDR (same /24 is the caller's business).
_fl_addr_plus() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	printf '%s.%s.%s.%s' "$a" "$b" "$c" $((d + $2))
}

# fleet_up NAME HOST_CIDR FIRST_ADDR HOST...: bridge, containers, SSH.
fleet_up() {
	local name=${1:?usage: fleet_up NAME HOST_CIDR FIRST_ADDR HOST...} cidr=${2:-} first=${3:-}
	shift 3 || true
	local h i=0 addr
	if [[ -n $FLEET_NAME ]]; then
		_fl_log "fleet_up: fleet $FLEET_NAME is up already"
		return 1
	fi
	if [[ ! $name =~ ^[a-z0-9]{1,5}$ || ! $cidr =~ ^[0-9.]+/[0-9]+$ ||
		! $first =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ || $# -lt 1 ]]; then
		_fl_log "usage: fleet_up NAME(a-z0-9, <= 5) HOST_CIDR FIRST_ADDR HOST..."
		return 1
	fi
	for h in "$@"; do
		if [[ ! $h =~ ^[a-z][a-z0-9]{0,5}$ ]]; then
			_fl_log "fleet_up: host name $h: a-z0-9, at most 6 characters (interface names)"
			return 1
		fi
	done
	if ! command -v sshd >/dev/null && [[ ! -x /usr/sbin/sshd ]]; then
		_fl_log "fleet_up: sshd missing (apt-get install -y openssh-server)"
		return 1
	fi
	FLEET_NAME=$name FLEET_PREFIXLEN=${cidr#*/}
	FLEET_DIR=$(mktemp -d /tmp/fleet-"$name".XXXXXX) || return 1
	chmod 700 "$FLEET_DIR"
	mkdir "$FLEET_DIR/cp"

	# The bridge: ours only if we created it (an existing one is someone
	# else's, and its addresses too).
	if ip link show "$name-br" >/dev/null 2>&1; then
		_fl_log "fleet_up: interface $name-br exists already (another fleet?)"
		return 1
	fi
	ip link add name "$name-br" type bridge || return 1
	FLEET_BRIDGE=$name-br
	ip addr add "$cidr" dev "$FLEET_BRIDGE" || return 1
	ip link set "$FLEET_BRIDGE" up || return 1

	ssh-keygen -q -t ed25519 -N '' -C "fleet-$name" -f "$FLEET_DIR/id_ed25519" || return 1
	: >"$FLEET_DIR/known_hosts"
	: >"$FLEET_DIR/hosts"
	for h in "$@"; do
		FLEET_ADDR[$h]=$(_fl_addr_plus "$first" "$i")
		printf '%s %s\n' "${FLEET_ADDR[$h]}" "$h" >>"$FLEET_DIR/hosts"
		i=$((i + 1))
	done
	_fl_ssh_config "$@"

	for h in "$@"; do
		FLEET_HOSTS+=("$h")
		_fl_boot "$h" || return 1
	done
	for h in "$@"; do
		# sshd may take a moment after systemctl start returns.
		for i in $(seq 50); do
			fleet_ssh "$h" true 2>/dev/null && break
			sleep 0.2
		done
		if ! fleet_ssh "$h" true; then
			_fl_log "fleet_up: no SSH to $h (${FLEET_ADDR[$h]})"
			fleet_exec "$h" journalctl -u ssh.service --no-pager -n 20 >&2 || true
			return 1
		fi
	done
	_fl_log "fleet_up: $FLEET_NAME up: $(tr '\n' ' ' <"$FLEET_DIR/hosts")"
}

_fl_ssh_config() {
	local h
	for h in "$@"; do
		printf 'Host %s %s\n  HostName %s\n' "$h" "${FLEET_ADDR[$h]}" "${FLEET_ADDR[$h]}"
	done >"$FLEET_DIR/ssh_config"
	cat >>"$FLEET_DIR/ssh_config" <<EOF
Host *
  User root
  IdentityFile $FLEET_DIR/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $FLEET_DIR/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
  ServerAliveInterval 5
  ServerAliveCountMax 3
  ControlMaster auto
  ControlPath $FLEET_DIR/cp/%C
  ControlPersist 60
  LogLevel ERROR
EOF
}

# Boot container H, give it its address, name, host key and sshd.
_fl_boot() {
	local h=$1 addr=${FLEET_ADDR[$1]} R u
	local -a mask=()
	# Own network namespace: its sshd may run (container.sh masks it for
	# containers on the host's network).
	for u in "${CT_MASK_DEFAULT[@]}"; do
		[[ $u == ssh.service || $u == ssh.socket ]] || mask+=("$u")
	done
	# Dynamic scope: ct_boot sees these, the caller's stay as they were.
	local -a CT_MASK_DEFAULT=("${mask[@]}")
	local CT_NSPAWN_ARGS="--network-bridge=$FLEET_BRIDGE" rc
	_fl_clear
	ct_boot "$FLEET_NAME-$h"
	rc=$?
	# Stored even on failure: ct_boot cleans up after itself, a signal
	# between its steps leaves what fleet_down must undo.
	_FL_CT_DIR[$h]=${CT_DIR:-} _FL_CT_NSPAWN[$h]=${CT_NSPAWN_PID:-}
	_FL_CT_LEADER[$h]=${CT_LEADER:-} _FL_CT_CGROUPS[$h]=${CT_CGROUPS:-}
	((rc == 0)) || return 1
	R=$CT_DIR/root
	# The overlay's /etc is the host's, copied up on write: these edits stay
	# in the container.
	printf '%s\n' "$h" >"$R/etc/hostname"
	ct_exec hostname "$h" || return 1
	cat "$FLEET_DIR/hosts" >>"$R/etc/hosts"
	ct_exec sh -c 'ip link set host0 up && ip addr add "$1/$2" dev host0' sh \
		"$addr" "$FLEET_PREFIXLEN" || return 1
	# A host key of its own (the overlay has the host's), sshd on its address
	# alone, keys only.
	rm -f "$R"/etc/ssh/ssh_host_*
	ct_exec ssh-keygen -q -t ed25519 -N '' -C "$h" -f /etc/ssh/ssh_host_ed25519_key || return 1
	printf 'ListenAddress %s\nHostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nX11Forwarding no\n' \
		"$addr" >"$R/etc/ssh/sshd_config.d/fleet.conf"
	install -d -m 700 "$R/root/.ssh" || return 1
	install -m 600 "$FLEET_DIR/id_ed25519.pub" "$R/root/.ssh/authorized_keys" || return 1
	printf '%s,%s %s\n' "$h" "$addr" "$(cut -d' ' -f1,2 "$R/etc/ssh/ssh_host_ed25519_key.pub")" \
		>>"$FLEET_DIR/known_hosts"
	ct_exec systemctl start ssh.service || {
		ct_exec journalctl -u ssh.service --no-pager -n 20 >&2
		return 1
	}
	_fl_clear
}

# fleet_addr HOST: its address.
fleet_addr() { printf '%s\n' "${FLEET_ADDR[${1:?}]:?no such host}"; }

# fleet_exec HOST CMD...: CMD in the container through nsenter (ct_exec).
fleet_exec() {
	local h=${1:?usage: fleet_exec HOST CMD...} rc
	shift
	_fl_select "$h" || return 125
	ct_exec "$@"
	rc=$?
	_fl_clear
	return $rc
}

# fleet_copy_in HOST SRC DST: as ct_copy_in.
fleet_copy_in() {
	local h=${1:?usage: fleet_copy_in HOST SRC DST} rc
	shift
	_fl_select "$h" || return 1
	ct_copy_in "$@"
	rc=$?
	_fl_clear
	return $rc
}

# fleet_root HOST: the container's root as the host sees it (the overlay).
fleet_root() { printf '%s/root\n' "${_FL_CT_DIR[${1:?}]:?no such host}"; }

# fleet_ssh HOST CMD...: CMD over SSH as root (one shell command line).
fleet_ssh() {
	local h=${1:?usage: fleet_ssh HOST CMD...}
	shift
	ssh -F "$FLEET_DIR/ssh_config" "$h" "$@"
}

# fleet_ansible_env: export what makes ansible-playbook reach the fleet over
# SSH with the run's key and known hosts, its state kept in $FLEET_DIR.
fleet_ansible_env() {
	export ANSIBLE_SSH_ARGS="-F $FLEET_DIR/ssh_config"
	export ANSIBLE_SSH_CONTROL_PATH_DIR=$FLEET_DIR/cp
	export ANSIBLE_SSH_CONTROL_PATH='%(directory)s/%%C'
	export ANSIBLE_HOST_KEY_CHECKING=True
	export ANSIBLE_HOME=$FLEET_DIR/ansible
	export ANSIBLE_LOCAL_TEMP=$FLEET_DIR/ansible/tmp
	export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_DEPRECATION_WARNINGS=false
	export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
}

# fleet_down: undo fleet_up; idempotent, safe in an EXIT trap.
fleet_down() {
	local h s
	[[ -n $FLEET_NAME ]] || return 0
	# A container being booted when a signal came is in CT_*, not stored yet.
	if [[ -n ${CT_DIR:-} ]]; then
		ct_shutdown
	fi
	# SSH masters first, while their peers still answer.
	if [[ -d $FLEET_DIR/cp ]]; then
		for s in "$FLEET_DIR"/cp/*; do
			[[ -S $s ]] || continue
			timeout 10 ssh -o ControlPath="$s" -O exit fleet >/dev/null 2>&1 || true
		done
	fi
	# Every container powers off at once (a JVM takes its time to stop);
	# ct_shutdown then waits for each and undoes its mounts.
	for h in "${!_FL_CT_DIR[@]}"; do
		[[ -n ${_FL_CT_DIR[$h]} ]] && _ct_alive "${_FL_CT_LEADER[$h]}" || continue
		timeout 15 nsenter -t "${_FL_CT_LEADER[$h]}" -a systemctl poweroff --no-block \
			>/dev/null 2>&1 || true
	done
	for h in "${!_FL_CT_DIR[@]}"; do
		[[ -n ${_FL_CT_DIR[$h]} ]] || continue
		_fl_select "$h" && ct_shutdown
		_FL_CT_DIR[$h]=''
	done
	_fl_clear
	if [[ -n $FLEET_BRIDGE ]]; then
		ip link del "$FLEET_BRIDGE" 2>/dev/null || _fl_log "fleet_down: cannot remove $FLEET_BRIDGE"
	fi
	[[ -n $FLEET_DIR ]] && rm -rf --one-file-system -- "$FLEET_DIR"
	_fl_log "fleet_down: $FLEET_NAME down"
	FLEET_NAME='' FLEET_DIR='' FLEET_BRIDGE='' FLEET_HOSTS=()
	FLEET_ADDR=() _FL_CT_DIR=() _FL_CT_NSPAWN=() _FL_CT_LEADER=() _FL_CT_CGROUPS=()
	return 0
}
