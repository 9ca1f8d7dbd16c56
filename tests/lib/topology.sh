# tests/lib/topology.sh: topology sections from the templates in
# tests/topologies/*.ini.in, so that tests say only what differs.
#
#   topology_render TEMPLATE [NAME=VALUE | "key = value"]...
#       prints tests/topologies/TEMPLATE.ini.in without its # lines, each
#       @NAME@ replaced by VALUE (which may hold newlines and any
#       character; a key line whose value is then empty is left out), then
#       the "key = value" lines, then an empty line.  It
#       fails, naming them, if placeholders are left other than @PORT@,
#       @SOCK@ and @WORK@, which capture_env_up fills in (or give them).
#   topology_source NAME PUBLICATION SLOT PREFIX TABLES [ARG...]
#       [source NAME] on db1 of the test cluster (PREFIX: topic_prefix; ""
#       for none, the agent's default)
#   topology_target NAME [ARG...]       [target NAME]: database NAME, NAME_user
#   topology_pipeline NAME SOURCE TARGET [ARG...]
#   topology_both_formats TABLES
#       the suite's usual pair: source db1 (json schema blocks, prefix
#       db1server) -> target db2 as pipeline p1, and source plain
#       (json_schemas = false: the cdc.columns header) -> db3 as p2
#   topology_fill CLUSTER DIR
#       stdin to stdout with @PORT@ and @SOCK@ of the tests/lib/pg.sh
#       cluster CLUSTER, @WORK@ as DIR (capture_env_up does it for its own)
# ARG: as for topology_render (NAME=VALUE, e.g. PORT=..., or a key line).
TOPOLOGY_TEMPLATES=$(cd "$(dirname "${BASH_SOURCE[0]}")/../topologies" && pwd)

topology_render() { # TEMPLATE [NAME=VALUE | "key = value"]...
	local tpl=$1 file=$TOPOLOGY_TEMPLATES/$1.ini.in text arg name left extra=()
	[ -f "$file" ] || { echo "topology_render: no template $file" >&2; return 1; }
	text=$(grep -v '^#' "$file")
	shift
	for arg in "$@"; do
		name=${arg%%=*}
		if [[ $arg == *=* && $name =~ ^[A-Z][A-Z_]*$ ]]; then
			# Quoted: an & in the value stays an & (bash 5.2's patsub_replacement).
			text=${text//"@$name@"/"${arg#*=}"}
		else
			extra+=("$arg")
		fi
	done
	left=$(grep -o '@[A-Z_]*@' <<<"$text" | grep -vx -e @PORT@ -e @SOCK@ -e @WORK@ | sort -u | tr '\n' ' ')
	[ -z "$left" ] || { echo "topology_render: $tpl: no value for $left" >&2; return 1; }
	grep -v ' = $' <<<"$text"
	[ ${#extra[@]} -eq 0 ] || printf '%s\n' "${extra[@]}"
	echo
}

topology_source() { # NAME PUBLICATION SLOT PREFIX TABLES [ARG...]
	topology_render source NAME="$1" PUBLICATION="$2" SLOT="$3" PREFIX="$4" TABLES="$5" "${@:6}"
}

topology_target() { # NAME [ARG...]
	topology_render target NAME="$1" "${@:2}"
}

topology_pipeline() { # NAME SOURCE TARGET [ARG...]
	topology_render pipeline NAME="$1" SOURCE="$2" TARGET="$3" "${@:4}"
}

topology_both_formats() { # TABLES
	topology_source db1 my_publication my_slot db1server "$1" &&
		topology_source plain plain_pub plain_slot plain "$1" "json_schemas = false" &&
		topology_target db2 && topology_target db3 &&
		topology_pipeline p1 db1 db2 && topology_pipeline p2 plain db3
}

topology_fill() { # CLUSTER DIR
	local port=PG_PORT_$1 sock=PG_SOCK_$1
	sed -e "s|@PORT@|${!port}|g" -e "s|@SOCK@|${!sock}|g" -e "s|@WORK@|$2|g"
}
