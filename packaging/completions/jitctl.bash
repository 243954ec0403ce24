# bash completion for jitctl(8)                                -*- shell-script -*-
#
# Completes jitctl's verbs, each verb's options, store's subcommand, user and group names, and the
# ids of the requests (show, approve, deny, cancel), grants (revoke) and sessions (replay, attach,
# stop) that `jitctl requests|grants|sessions --json` show you. `explain -- COMMAND` completes the
# command as jitexec's completion does.
#
# Security: jitctl is setuid root. Completion must never run it with root's rights on your behalf
# in ways that leak what you may not see. So the only runs are `jitctl requests --json`,
# `jitctl grants --json` and `jitctl sessions --json` (they show only what you may see; never
# --all, -U, -S, nothing that prompts, writes, approves or runs a command), found through PATH,
# with stdin and stderr on /dev/null, under `timeout 2`. Their output is only read as text, never
# evaluated: an id is taken only when it is all digits. jitctl makes root its real uid, so
# `timeout` cannot kill it: the output is read through a pipe that is given up after 2 seconds,
# and a late or failed listing offers nothing. That run is jitexec's completion's
# _comp_cmd_jitexec__query, loaded from there.

# Loads jitexec's completion unless it is loaded: its _comp_cmd_jitexec__query is how both
# completions run their setuid binary, and its _comp_cmd_jitexec__commands completes explain's
# command. Returns 1 when it could not be loaded.
_comp_cmd_jitctl__load_jitexec()
{
    declare -F _comp_cmd_jitexec__query >/dev/null && return
    if declare -F _comp_load >/dev/null; then _comp_load jitexec; else __load_completion jitexec; fi
    declare -F _comp_cmd_jitexec__query >/dev/null
}

# Adds to COMPREPLY the ids starting with $2 of `jitctl $1 --json` (requests, grants or sessions):
# each line's top-level "id" (the first `"id":` right after `{` or `,`; a quote inside a JSON
# string is always escaped, so text cannot fake one), digits only.
_comp_cmd_jitctl__ids()
{
    local out line re='[{,][[:space:]]*"id"[[:space:]]*:[[:space:]]*([0-9]+)[[:space:]]*[,}]'
    _comp_cmd_jitctl__load_jitexec || return
    out=$(_comp_cmd_jitexec__query "${words[0]}" "$1" --json) || return
    while IFS= read -r line; do
        [[ $line =~ $re ]] || continue
        [[ ${BASH_REMATCH[1]} == "$2"* ]] && COMPREPLY+=("${BASH_REMATCH[1]}")
    done <<<"$out"
}

_comp_cmd_jitctl()
{
    # bash-completion 2.12 and later, or else 2.11's API; -s splits --option=value.
    local cur prev words cword split was_split comp_args is_split=
    if declare -F _comp_initialize >/dev/null; then
        _comp_initialize -s -- "$@" || return
        [[ ${was_split-} ]] && is_split=1
    else
        _init_completion -s || return
        [[ $split == true ]] && is_split=1
    fi

    local verbs="requests show request approve deny cancel grants revoke log verify check explain
        review sessions replay attach stop watch store help"

    # The verb: the first word after jitctl that is not an option (jitctl's own options take no
    # value); for store, its subcommand.
    local i verb= verb_at=
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} != -* ]]; then
            if [[ ! $verb ]]; then
                verb=${words[i]} verb_at=$i
                [[ $verb == store ]] || break
            else
                verb+=" ${words[i]}" verb_at=$i
                break
            fi
        fi
    done
    if [[ ! $verb ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "-h --help --version" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
        fi
        return
    fi

    # The verb's options (argument-parser also takes --version after a verb; it only prints the
    # version, so it is not offered there), those of them that take a value, and what the verb's
    # positional arguments are.
    local opts= valued= arg=
    case $verb in
        requests | grants) opts="--all --user --json" valued="--user" ;;
        show) opts="--json" arg=request ;;
        request)
            opts="--rule --login -u -d -r -T --host --service -n -S"
            valued="--rule -u -d -r -T --host --service"
            ;;
        approve) opts="-d -m -n -S" valued="-d -m" arg=request ;;
        deny) opts="-m -n -S" valued="-m" arg=request ;;
        cancel) opts="-n -S" arg=request ;;
        revoke) opts="-m -n -S" valued="-m" arg=grant ;;
        log)
            opts="--since --user --event --json -f --follow"
            valued="--since --user --event"
            ;;
        verify | watch) ;;
        check) arg=file ;;
        explain) opts="-U -u -g --host --" valued="-U -u -g --host" arg=command ;;
        review) opts="--ok --flag -m --all --json -n -S" valued="-m" ;;
        sessions) opts="--user --since --all --json" valued="--user --since" ;;
        replay) opts="--speed --max-wait --cat" valued="--speed --max-wait" arg=session ;;
        attach) arg=session ;;
        stop) opts="-m -n -S" valued="-m" arg=session ;;
        store) arg=store ;;
        "store migrate") opts="--to" valued="--to" ;;
        help) arg=help ;;
        *) return ;;
    esac
    opts+=" -h --help"

    # The words after the verb: skip the options' values, count the positional arguments.
    # explain's command starts at its first positional word or after `--`; all words from there
    # on are the command's.
    local w value_for= nargs=0 cmd_at=
    for ((i = verb_at + 1; i < cword; i++)); do
        w=${words[i]}
        if [[ $w == -* && " $valued " == *" $w "* ]]; then
            ((i + 1 == cword)) && value_for=$w
            ((i++))
        elif [[ $arg == command && ($w == -- || $w != -*) ]]; then
            [[ $w == -- ]] && ((i++))
            cmd_at=$i
            break
        elif [[ $w != -* ]]; then
            ((nargs++))
        fi
    done
    [[ $is_split ]] && value_for=$prev

    case $value_for in
        -U | -u | --user)
            mapfile -t COMPREPLY < <(compgen -u -- "$cur")
            return
            ;;
        -g)
            mapfile -t COMPREPLY < <(compgen -g -- "$cur")
            return
            ;;
        --to)
            mapfile -t COMPREPLY < <(compgen -W "postgresql" -- "$cur")
            return
            ;;
        ?*) return ;;
    esac

    [[ $arg == command && ! $cmd_at && $cur != -* ]] && cmd_at=$cword
    if [[ $cmd_at ]]; then
        # explain's command: resolved as jitexec resolves it, so completed by jitexec's completion
        # (secure_path); its arguments are files.
        if ((cmd_at < cword)); then
            if declare -F _comp_compgen_filedir >/dev/null; then _comp_compgen_filedir; else _filedir; fi
            return
        fi
        if [[ $cur == */* ]]; then
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -c -- "$cur")
            return
        fi
        _comp_cmd_jitctl__load_jitexec && _comp_cmd_jitexec__commands jitexec "$cur"
        return
    fi

    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
        return
    fi

    case $arg in
        request) ((nargs == 0)) && _comp_cmd_jitctl__ids requests "$cur" ;;
        grant) ((nargs == 0)) && _comp_cmd_jitctl__ids grants "$cur" ;;
        session) ((nargs == 0)) && _comp_cmd_jitctl__ids sessions "$cur" ;;
        file)
            if ((nargs == 0)); then
                if declare -F _comp_compgen_filedir >/dev/null; then _comp_compgen_filedir; else _filedir; fi
            fi
            ;;
        store) ((nargs == 0)) && mapfile -t COMPREPLY < <(compgen -W "migrate" -- "$cur") ;;
        help)
            if ((nargs == 0)); then
                mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
            elif ((nargs == 1)) && [[ ${words[verb_at + 1]} == store ]]; then
                mapfile -t COMPREPLY < <(compgen -W "migrate" -- "$cur")
            fi
            ;;
    esac
} &&
    complete -F _comp_cmd_jitctl jitctl

# ex: filetype=sh
