# bash completion for cdc-agent(8): verbs, options, and the pipeline and
# table names of the topology (-c FILE, --config FILE, else the default
# /etc/cdc-agent/cdc-agent.ini).  Installed by `make install` as
# share/bash-completion/completions/cdc-agent; needs nothing of the
# bash-completion package.  tests/tree/completion.sh drives it.

# The names of the [KIND NAME] sections of topology file $1.
_cdc_agent_sections()
{
	[ -r "$1" ] || return 0
	LC_ALL=C sed -n "s/^[[:space:]]*\[$2[[:space:]][[:space:]]*\([A-Za-z0-9_.-]*\)[[:space:]]*\].*/\1/p" \
		"$1" 2>/dev/null
}

# The tables named in the `tables` of pipeline $2's source in file $1, one a
# line; patterns and exclusions are left out (they name no one table).
_cdc_agent_tables()
{
	[ -r "$1" ] || return 0
	LC_ALL=C awk -v pipe="$2" '
	function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
	function uncomment(s) { sub(/[ \t];.*/, "", s); return s }
	/^[ \t]*[;#]/ { next }
	/^[ \t]*\[/ {
		h = $0; sub(/^[ \t]*\[/, "", h); sub(/\].*/, "", h)
		split(trim(h), part, /[ \t]+/)
		kind = part[1]; name = part[2]; key = ""
		next
	}
	/^[ \t]/ && key == "tables" && kind == "source" {   # a continuation line
		tables[name] = tables[name] "," uncomment($0)
		next
	}
	{
		key = ""
		eq = index($0, "=")
		if (!eq)
			next
		key = trim(substr($0, 1, eq - 1))
		value = trim(uncomment(substr($0, eq + 1)))
		if (kind == "pipeline" && name == pipe && key == "source")
			source = value
		if (kind == "source" && key == "tables")
			tables[name] = value
	}
	END {
		if (source == "")
			exit
		n = split(tables[source], item, ",")
		for (i = 1; i <= n; i++) {
			t = trim(item[i])
			if (t != "" && t !~ /^!/ && t !~ /[*?]/)
				print t
		}
	}' "$1" 2>/dev/null
}

# COMPREPLY: the lines of stdin that start with $1, each quoted for the
# shell (%q).  Not compgen -W, which would expand $(...) in a name read
# from the file.
_cdc_agent_match()
{
	local line quoted

	while IFS= read -r line; do
		[ -n "$line" ] || continue
		printf -v quoted '%q' "$line"
		[[ $quoted == "$1"* ]] && COMPREPLY+=("$quoted")
	done
}

_cdc_agent()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	local config=/etc/cdc-agent/cdc-agent.ini verb= word i
	local -a args=()
	local verbs="check plan bootstrap run status capture apply teardown accept-gap snapshot"
	local globals="-c --config -v --verbose -q --quiet --json --help --version"

	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	# The words before the cursor: the topology named, the verb, its arguments.
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		case $word in
		-c | --config)
			# bash splits --config=FILE at '=' (COMP_WORDBREAKS)
			[ "${COMP_WORDS[i + 1]-}" = "=" ] && ((i++))
			((i++))
			[ "$i" -lt "$COMP_CWORD" ] && config=${COMP_WORDS[i]}
			;;
		--config=*) config=${word#--config=} ;;
		-c?*) config=${word#-c} ;;
		-*) ;;
		*)
			if [ -z "$verb" ]; then verb=$word; else args+=("$word"); fi
			;;
		esac
	done
	[[ $config == "~/"* ]] && config=$HOME/${config#"~/"}

	# A file after -c or --config, also as bash splits --config=FILE:
	# (--config, =, FILE), or (--config, =) with the cursor after the '='.
	if [[ $prev == -c || $prev == --config ]] ||
		[[ $prev == "=" && $COMP_CWORD -gt 1 && ${COMP_WORDS[COMP_CWORD - 2]} == --config ]]; then
		[ "$cur" = "=" ] && cur=
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
	fi
	if [[ $cur == --config=* ]]; then
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -P --config= -f -- "${cur#--config=}")
		return 0
	fi
	if [[ $cur == -* ]]; then
		local opts="-c --config -v --verbose -q --quiet"
		case $verb in
		"") opts=$globals ;;
		plan | bootstrap | status) opts+=" --json" ;;
		teardown | accept-gap) opts+=" --yes" ;;
		snapshot) opts+=" --wait" ;;
		esac
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return 0
	fi
	if [ -z "$verb" ]; then
		mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
		return 0
	fi
	case $verb:${#args[@]} in
	capture:0 | apply:0 | teardown:0 | accept-gap:0 | snapshot:0)
		_cdc_agent_match "$cur" < <(_cdc_agent_sections "$config" pipeline)
		;;
	snapshot:1)
		_cdc_agent_match "$cur" < <(_cdc_agent_tables "$config" "${args[0]}")
		;;
	esac
	return 0
}

complete -F _cdc_agent cdc-agent
