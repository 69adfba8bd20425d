# SPDX-License-Identifier: MIT
# bash completion for batonctl. Install as
#   /usr/share/bash-completion/completions/batonctl
# or source it from ~/.bashrc. Offline: it completes commands, options, operation
# names and files, and never asks the cluster (region, group and command ids
# come from 'batonctl status' / the pending command's output).

_batonctl_words()
{
	COMPREPLY=($(compgen -W "$1" -- "$2"))
}

_batonctl()
{
	local cur prev cmd i
	local commands="status history plan keygen switchover failover failback freeze unfreeze drill retry-step skip-step approve reverse recover help"
	local global_opts="--cluster --help --version"
	local signed_common="--reason --group --ttl --epoch --cluster-id --key --json --dry-run --out --cluster --help"
	local operations="all switchover failover failback freeze unfreeze drill retry-step skip-step approve reverse recover"

	COMPREPLY=()
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"

	# The command is the first word that is not an option or an option's value.
	cmd=""
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "${COMP_WORDS[i]}" in
		-c | --cluster) ((i++)) ;;
		-*) ;;
		*)
			cmd="${COMP_WORDS[i]}"
			break
			;;
		esac
	done

	# Values of options.
	case "$prev" in
	-k | --key | -o | --out)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	-O | --operations)
		# a comma-separated list: complete the part after the last comma
		local head="" tail="$cur"
		if [[ "$cur" == *,* ]]; then
			head="${cur%,*},"
			tail="${cur##*,}"
		fi
		COMPREPLY=($(compgen -P "$head" -W "$operations" -- "$tail"))
		compopt -o nospace 2>/dev/null
		return
		;;
	-K | --kind)
		_batonctl_words "failover switchover failback drill" "$cur"
		return
		;;
	-c | --cluster | -t | --to | -g | --group | -r | --reason | -L | --ttl | -e | --epoch | --cluster-id | \
		-s | --step | -T | --transition | -R | --region | -N | --name | --since | -n | --limit)
		# a free-form value: nothing to offer. (-n is history's --limit, but the
		# signed commands' --dry-run, which takes no value.)
		[[ "$prev" == "-n" && "$cmd" != "history" ]] || return
		;;
	esac

	if [[ -z "$cmd" ]]; then
		if [[ "$cur" == -* ]]; then
			_batonctl_words "$global_opts" "$cur"
		else
			_batonctl_words "$commands" "$cur"
		fi
		return
	fi

	local opts
	case "$cmd" in
	status) opts="--json --group --cluster --help" ;;
	history) opts="--since --limit --json --cluster --help" ;;
	plan) opts="--to --kind --group --json --cluster --help" ;;
	keygen) opts="--name --out --operations --help" ;;
	switchover | drill) opts="--to $signed_common" ;;
	failover) opts="--to --force $signed_common" ;;
	failback) opts="--to $signed_common" ;;
	freeze | unfreeze | approve) opts="$signed_common" ;;
	retry-step | skip-step) opts="--step --transition $signed_common" ;;
	reverse) opts="--region $signed_common" ;;
	recover) opts="--voters $signed_common" ;;
	*) return ;;
	esac
	if [[ "$cur" == -* || "$cmd" != "approve" ]]; then
		_batonctl_words "$opts" "$cur"
	fi
}

complete -F _batonctl batonctl
