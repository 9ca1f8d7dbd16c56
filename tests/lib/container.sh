# shellcheck shell=bash disable=SC2016 # '$1' in sh -c/awk scripts is meant
# tests/lib/container.sh: boot a real systemd in a throwaway container.
#
# Source it from a test (bash, root):
#
#   . tests/lib/container.sh
#   trap ct_shutdown EXIT; trap 'exit 130' INT TERM
#   ct_boot cdc-test
#   ct_exec systemctl start foo.service
#   ct_copy_in ./agent.conf /etc/cdc-agent/agent.conf
#   ct_shutdown
#
# The machines have no systemd as PID 1, so systemd-nspawn boots one on an
# overlay whose lower layer is the machine's own / and whose upper layer is a
# tmpfs: the container sees every installed package, its writes vanish with the
# tmpfs. Never run /lib/systemd/systemd outside such a container: its boot
# services clean /tmp and more on whatever filesystem they are given.
#
# One container per shell at a time (state lives in CT_* variables, and in
# $CT_DIR/state for humans); several shells may each run one. The container
# shares the host's network namespace: servers in it bind the host's ports.
# It has its own /tmp, /run and /dev (nspawn's tmpfs mounts). Do not change
# the host's / (apt-get install...) while a container runs: overlayfs leaves
# changes to the lower layer undefined.
#
# Knobs (environment, read by ct_boot):
#   CT_BOOT_TIMEOUT  seconds to wait for "running"/"degraded" (default 60)
#   CT_STOP_TIMEOUT  seconds to wait for a clean poweroff (default 60)
#   CT_TMPFS_SIZE    size of the tmpfs upper layer (default 4g)
#   CT_MASK_EXTRA    more units to mask, space separated
#   CT_NO_AUTOSTART  units removed from the boot transaction but still
#                    startable by hand (default "postgresql.service")
#   CT_NSPAWN_ARGS   more systemd-nspawn options, space separated (e.g. a
#                    private network: tests/lib/fleet.sh)

# Units that must never start in the container. Masked (-> /dev/null) in the
# overlay before boot, so nothing can pull them in.
CT_MASK_DEFAULT=(
	# The container shares the host's network namespace: a network manager in
	# it would reconfigure the host's interfaces. (Not enabled on the host
	# today; masked so no enablement or activation can start it by accident.)
	systemd-networkd.service systemd-networkd.socket
	systemd-networkd-wait-online.service systemd-network-generator.service
	# Talks NTP to the outside world. It conditions itself out in containers
	# today; masked so that never depends on virtualization detection.
	systemd-timesyncd.service
	# Host maintenance timers (Persistent= ones can fire right after boot): apt
	# would try the network and rewrite its cache, man-db/dpkg backups burn
	# CPU on 2 cores in the middle of a benchmark.
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer
	man-db.timer e2scrub_all.timer fstrim.timer
	# agetty on nspawn's console, which is read-only (stdin is /dev/null):
	# a process nobody can log in to.
	console-getty.service
	# sshd (openssh-server, for tests/lib/fleet.sh) in the host's network
	# namespace would listen on the host's port 22. fleet.sh, whose
	# containers have their own network, leaves it out of this list.
	ssh.service ssh.socket
)

_ct_log() { printf 'container: %s\n' "$*" >&2; }

# Seconds since the epoch with microseconds (bash 5; the locale may put a
# comma in it, awk wants a dot).
_ct_now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
_ct_since() { awk -v a="$1" -v b="$(_ct_now)" 'BEGIN { printf "%.2f", b - a }'; }

# True while PID runs (a zombie, e.g. our unreaped nspawn child, counts as gone).
_ct_alive() {
	local st
	[[ -n ${1:-} ]] || return 1
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z && $st != X ]]
}

# The cgroup dirs (named $1, under our own cgroup) for the hierarchies nspawn
# uses: cgroup2 and the v1 name=systemd one (hybrid mode on these machines).
_ct_cgroup_dirs() {
	awk -v name="$1" '
		FILENAME == "/proc/self/cgroup" {
			split($0, f, ":")
			if (f[2] == "") own["cgroup2"] = f[3]
			if (f[2] == "name=systemd") own["systemd"] = f[3]
			next
		}
		$3 == "cgroup2" { key = "cgroup2" }
		$3 == "cgroup" && $4 ~ /(^|,)name=systemd(,|$)/ { key = "systemd" }
		key != "" && (key in own) {
			p = own[key]; if (p == "/") p = ""
			print $2 p "/" name
		}
		{ key = "" }
	' /proc/self/cgroup /proc/self/mounts
}

_ct_save_state() {
	[[ -d ${CT_DIR:-} ]] || return 0
	printf 'CT_NAME=%s\nCT_DIR=%s\nCT_NSPAWN_PID=%s\nCT_LEADER=%s\nCT_CGROUPS="%s"\n' \
		"${CT_NAME:-}" "$CT_DIR" "${CT_NSPAWN_PID:-}" "${CT_LEADER:-}" \
		"${CT_CGROUPS:-}" >"$CT_DIR/state"
}

# The container's PID 1: the child of systemd-nspawn whose PID in its own
# PID namespace is 1 (last field of NSpid).
_ct_find_leader() {
	local c
	for c in $(pgrep -P "$CT_NSPAWN_PID" 2>/dev/null); do
		if awk '/^NSpid:/ { exit !(NF > 2 && $NF == 1) }' "/proc/$c/status" 2>/dev/null; then
			printf '%s' "$c"
			return 0
		fi
	done
	return 1
}

# ct_boot NAME: boot a container; returns once systemd reports the boot done.
ct_boot() {
	local name=${1:?usage: ct_boot NAME}
	local boot_timeout=${CT_BOOT_TIMEOUT:-60} t0 deadline state u left

	if [[ -n ${CT_DIR:-} ]]; then
		_ct_log "ct_boot: a container is already up ($CT_DIR)"
		return 1
	fi
	if [[ $EUID -ne 0 ]]; then
		_ct_log "ct_boot: needs root (mounts, nspawn)"
		return 1
	fi
	if ! command -v systemd-nspawn >/dev/null; then
		_ct_log "ct_boot: systemd-nspawn missing (apt-get install -y systemd-container)"
		return 1
	fi

	t0=$(_ct_now)
	CT_NAME=$name
	CT_DIR=$(mktemp -d /tmp/ct-"$name".XXXXXX)
	CT_NSPAWN_PID='' CT_LEADER='' CT_CGROUPS=''
	# From here on a failure leaves state ct_shutdown knows how to undo.
	if ! _ct_boot_steps; then
		_ct_log "ct_boot: $name failed; console log:"
		tail -n 40 "$CT_DIR/console.log" >&2 2>/dev/null || true
		ct_shutdown
		return 1
	fi

	# Wait for systemd: its bus is not there at first, so retry until the
	# deadline; --wait then blocks until the boot job queue is empty.
	deadline=$((SECONDS + boot_timeout))
	state=
	while :; do
		left=$((deadline - SECONDS))
		if ((left <= 0)); then
			_ct_log "ct_boot: $name not up after ${boot_timeout}s (state: ${state:-none})"
			ct_exec systemctl list-jobs --no-pager >&2 || true
			tail -n 40 "$CT_DIR/console.log" >&2 || true
			ct_shutdown
			return 1
		fi
		if ! _ct_alive "$CT_NSPAWN_PID"; then
			_ct_log "ct_boot: systemd-nspawn exited during boot; console log:"
			tail -n 40 "$CT_DIR/console.log" >&2 || true
			ct_shutdown
			return 1
		fi
		state=$(timeout "$left" nsenter -t "$CT_LEADER" -a \
			systemctl is-system-running --wait 2>/dev/null) || true
		case $state in
		running | degraded) break ;;
		esac
		sleep 0.2
	done
	CT_BOOT_SECONDS=$(_ct_since "$t0")
	_ct_log "ct_boot: $name $state after ${CT_BOOT_SECONDS}s (leader pid $CT_LEADER)"
	if [[ $state == degraded ]]; then
		_ct_log "ct_boot: failed units:"
		ct_exec systemctl --failed --no-legend --no-pager >&2 || true
	fi
	return 0
}

# Mounts, masks and the nspawn launch; any failure returns non-zero.
_ct_boot_steps() {
	local R=$CT_DIR u deadline
	mkdir "$R/root" "$R/rw" || return 1
	mount -t tmpfs -o "mode=0755,size=${CT_TMPFS_SIZE:-4g}" tmpfs "$R/rw" || return 1
	mkdir "$R/rw/u" "$R/rw/w" || return 1
	mount -t overlay overlay -o "lowerdir=/,upperdir=$R/rw/u,workdir=$R/rw/w" "$R/root" || return 1
	_ct_save_state

	# Edits go through the merged view so they land in the tmpfs upper layer
	# with the right ownership; the host's /etc is never touched.
	for u in "${CT_MASK_DEFAULT[@]}" ${CT_MASK_EXTRA:-}; do
		ln -sfT /dev/null "$R/root/etc/systemd/system/$u" || return 1
	done
	# Enabled on the host (postgresql.service starts every cluster on 5432 in
	# the shared network namespace): drop the enablement links, keep the unit
	# so a test can still start it on purpose.
	for u in ${CT_NO_AUTOSTART-postgresql.service}; do
		rm -f "$R/root/etc/systemd/system/"*.wants/"$u" || return 1
	done

	# --keep-unit with no host systemd makes nspawn build "payload" and
	# "supervisor" cgroups under its own cgroup, here the root: two containers
	# would share one cgroup tree, and the dirs outlive the container. Give
	# each container a cgroup of its own, removed by ct_shutdown.
	CT_CGROUPS=$(_ct_cgroup_dirs "${R##*/}") || return 1
	for u in $CT_CGROUPS; do
		mkdir "$u" || return 1
	done
	_ct_save_state

	# stdin from /dev/null: CI has none, and an inherited tty would become the
	# container's console. --link-journal=no: the container has the host's
	# machine-id, so nothing must link its journal into the host's /var/log.
	(
		for u in $CT_CGROUPS; do
			echo "$BASHPID" >"$u/cgroup.procs" || exit 1
		done
		# shellcheck disable=SC2086 # CT_NSPAWN_ARGS: words on purpose
		exec systemd-nspawn -q -b -D "$R/root" -M "$CT_NAME" --register=no \
			--keep-unit --link-journal=no ${CT_NSPAWN_ARGS:-}
	) </dev/null >"$R/console.log" 2>&1 &
	CT_NSPAWN_PID=$!
	_ct_save_state

	deadline=$((SECONDS + 20))
	until CT_LEADER=$(_ct_find_leader); do
		if ! _ct_alive "$CT_NSPAWN_PID" || ((SECONDS >= deadline)); then
			_ct_log "ct_boot: no container init under nspawn pid $CT_NSPAWN_PID"
			return 1
		fi
		sleep 0.05
	done
	_ct_save_state
}

# ct_exec CMD...: run CMD in all of the container's namespaces, as root, with a
# clean environment (the host's variables mean nothing in there); returns its
# exit code. stdin/stdout/stderr are the caller's.
ct_exec() {
	if ! _ct_alive "${CT_LEADER:-}"; then
		_ct_log "ct_exec: no container running"
		return 125
	fi
	nsenter -t "$CT_LEADER" -a -- env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}

# ct_copy_in SRC DST: put file SRC (host path) at DST (absolute path in the
# container), creating parent directories; mode is kept, owner becomes root.
ct_copy_in() {
	local src=${1:?usage: ct_copy_in SRC DST} dst=${2:?usage: ct_copy_in SRC DST}
	local real mnt
	if [[ -z ${CT_DIR:-} || ! -d $CT_DIR/root ]]; then
		_ct_log "ct_copy_in: no container"
		return 1
	fi
	if [[ $dst != /* || ! -f $src ]]; then
		_ct_log "ct_copy_in: need a regular file and an absolute destination"
		return 1
	fi
	# Resolve DST as the container sees it: an absolute symlink such as
	# /var/run -> /run, followed from the host side, would write on the host.
	# Also find which container mount holds it (from its nearest existing
	# ancestor: findmnt -T fails on a path that does not exist yet).
	real=$(ct_exec realpath -m -- "$dst") || return 1
	mnt=$(ct_exec sh -c 'p=$1; while [ ! -e "$p" ]; do p=$(dirname "$p"); done
		findmnt -n -o TARGET -T "$p"' sh "$real") || return 1
	if [[ $mnt == / ]]; then
		# Backed by the overlay: write through its merged view.
		mkdir -p -- "$CT_DIR/root$(dirname -- "$real")" &&
			cp --preserve=mode,timestamps -- "$src" "$CT_DIR/root$real"
	else
		# /tmp, /run, /dev... are the container's own mounts,
		# invisible from the overlay path: stream the file in instead.
		# shellcheck disable=SC2094 # $src is only read
		ct_exec mkdir -p -- "$(dirname -- "$real")" &&
			ct_exec sh -c 'cat >"$1" && chmod "$2" "$1"' sh "$real" \
				"$(stat -c %a -- "$src")" <"$src"
	fi
}

# ct_shutdown: power the container off and undo everything ct_boot did.
# Idempotent, and safe in an EXIT trap (never fails the caller, never
# removes anything while a mount is still under $CT_DIR).
ct_shutdown() {
	local R=${CT_DIR:-} t0 deadline m busy=0
	[[ -n $R ]] || return 0
	t0=$(_ct_now)

	if _ct_alive "${CT_NSPAWN_PID:-}"; then
		# Clean poweroff through systemd; if its bus does not answer, nspawn
		# turns SIGTERM into a poweroff signal for the container's init.
		if ! (_ct_alive "${CT_LEADER:-}" &&
			timeout 15 nsenter -t "$CT_LEADER" -a systemctl poweroff --no-block \
				>/dev/null 2>&1); then
			kill -TERM "$CT_NSPAWN_PID" 2>/dev/null || true
		fi
		deadline=$((SECONDS + ${CT_STOP_TIMEOUT:-60}))
		while _ct_alive "$CT_NSPAWN_PID" && ((SECONDS < deadline)); do
			sleep 0.1
		done
		if _ct_alive "$CT_NSPAWN_PID"; then
			_ct_log "ct_shutdown: no poweroff after ${CT_STOP_TIMEOUT:-60}s, killing"
			# Killing the PID namespace's init kills everything in it.
			kill -KILL ${CT_LEADER:+"$CT_LEADER"} "$CT_NSPAWN_PID" 2>/dev/null || true
			sleep 0.5
		fi
	fi
	# Reap nspawn if it is our child (no-op from a subshell).
	if [[ -n ${CT_NSPAWN_PID:-} ]]; then wait "$CT_NSPAWN_PID" 2>/dev/null || true; fi
	CT_SHUTDOWN_SECONDS=$(_ct_since "$t0")

	# Depth first: the container's systemd may have left empty slices.
	for m in ${CT_CGROUPS:-}; do
		[[ -d $m ]] || continue
		find "$m" -depth -type d -exec rmdir {} + 2>/dev/null ||
			_ct_log "ct_shutdown: cannot remove cgroup $m"
	done

	for m in "$R/root" "$R/rw"; do
		if mountpoint -q "$m" 2>/dev/null; then
			# Lazy unmount as a fallback: a leftover process with its cwd
			# inside must not keep the overlay of / around.
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
				_ct_log "ct_shutdown: cannot unmount $m"
		fi
	done
	if awk -v r="$R/" 'index($2 "/", r) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		busy=1
	fi
	if ((busy)); then
		_ct_log "ct_shutdown: mounts remain under $R; left in place"
	else
		# --one-file-system: belt and braces, never descend into a mount.
		rm -rf --one-file-system -- "$R" || _ct_log "ct_shutdown: cannot remove $R"
	fi
	_ct_log "ct_shutdown: ${CT_NAME:-container} down after ${CT_SHUTDOWN_SECONDS}s"
	CT_DIR='' CT_NSPAWN_PID='' CT_LEADER='' CT_NAME='' CT_CGROUPS=''
	return 0
}
