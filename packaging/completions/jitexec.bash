# bash completion for jitexec(8)                               -*- shell-script -*-
#
# Completes jitexec's options (not --login-gate: only pam_exec runs that), user names after -u/-U,
# group names after -g, files after -e, and as the command the executables in jitexec's
# secure_path, not in your PATH (jitexec looks a bare name up there only). After the command, that
# command's own completion takes over, as for sudo.
#
# Security: jitexec is setuid root. Completion must never run it with root's rights on your behalf
# in ways that leak what you may not see. So the only run is `jitexec -l -n` (your own listing,
# never a password prompt; it prints no secrets), found through PATH, with stdin and stderr on
# /dev/null, under `timeout 2`; and its output is only read as text, never evaluated. jitexec
# makes root its real uid, so `timeout` cannot kill it: the output is read through a pipe that
# is given up after 2 seconds, and a late or failed listing counts as no listing.

# Prints the standard output of PROGRAM ARG... (PROGRAM found through PATH, or the path given),
# when it exited 0 within 2 seconds; otherwise prints nothing and returns 1. jitctl's completion
# loads this file to run jitctl with it too.
_comp_cmd_jitexec__query()
{
    local exe out
    exe=$(type -P -- "$1") && [[ $exe ]] || return 1
    type -P timeout >/dev/null || return 1
    shift
    # The program runs in the background, writing into `timeout 2 cat`: the wait ends after 2
    # seconds even when the program (real uid root) cannot be stopped. The status line it adds
    # at its end says that the output is complete. The script is a fixed string; the program and
    # its arguments are only its positional parameters.
    out=$(/bin/sh -c '{ { timeout 2 "$@" </dev/null 2>/dev/null; echo "jitexec-completion-status $?"; } & } | timeout 2 cat' \
        sh "$exe" "$@" 2>/dev/null </dev/null)
    [[ $out == *"jitexec-completion-status 0" ]] || return 1
    printf '%s\n' "${out%jitexec-completion-status 0}"
}

# Prints jitexec's secure_path: the `secure_path: ` line of `$1 -l -n` ($1: jitexec as typed), or
# the built-in default when there is no such line or the listing failed.
_comp_cmd_jitexec__secure_path()
{
    local out line path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    local re='^[[:space:]]*secure_path: (.*)$'
    if out=$(_comp_cmd_jitexec__query "$1" -l -n); then
        while IFS= read -r line; do
            [[ $line =~ $re ]] && path=${BASH_REMATCH[1]}
        done <<<"$out"
    fi
    printf '%s\n' "$path"
}

# Adds to COMPREPLY the executables in the absolute directories of $1's secure_path ($1: jitexec
# as typed) whose names start with $2.
_comp_cmd_jitexec__commands()
{
    local cur=$2 dir f sp
    local -a dirs
    local -A seen=()
    compopt -o filenames 2>/dev/null
    sp=$(_comp_cmd_jitexec__secure_path "$1")
    IFS=: read -r -a dirs <<<"$sp"
    local old_nullglob=-u old_failglob=-u
    shopt -q nullglob && old_nullglob=-s
    shopt -q failglob && old_failglob=-s
    shopt -s nullglob
    shopt -u failglob
    for dir in "${dirs[@]}"; do
        [[ $dir == /* ]] || continue
        for f in "$dir"/"$cur"*; do
            [[ -f $f && -x $f ]] || continue
            f=${f##*/}
            [[ ${seen[$f]-} ]] && continue
            seen[$f]=1
            COMPREPLY+=("$f")
        done
    done
    shopt "$old_nullglob" nullglob
    shopt "$old_failglob" failglob
}

_comp_cmd_jitexec()
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

    # Walk the words before the cursor as jitexec parses them: options stop at the first word that
    # is not one, or after `--`. mode: run (a command follows), edit (-e: files follow), none
    # (-i, -s, -v, -k, -K, -h, -V: nothing follows). value_for: the option the current word is
    # the value of.
    local i=1 w k c mode=run value_for= ddash=
    while ((i < cword)); do
        w=${words[i]}
        case $w in
            --)
                ddash=1
                ((i++))
                break
                ;;
            --user | --other-user | --group | --reason | --ticket | --duration | --wait-timeout)
                ((i + 1 == cword)) && value_for=$w
                ((i += 2))
                continue
                ;;
            --edit) mode=edit ;;
            --help | --version | --login-gate) mode=none ;;
            --*) ;;
            -?*)
                for ((k = 1; k < ${#w}; k++)); do
                    c=${w:k:1}
                    case $c in
                        [uUgrTd])
                            # The value is the rest of the word, or else the next word.
                            if ((k == ${#w} - 1)); then
                                ((i + 1 == cword)) && value_for=-$c
                                ((i++))
                            fi
                            break
                            ;;
                        e) mode=edit ;;
                        [isvkKhV]) mode=none ;;
                    esac
                done
                ;;
            *) break ;;
        esac
        ((i++))
    done

    if ((i < cword)); then
        # A command (or with -e a file) comes before the cursor.
        case $mode in
            edit)
                if declare -F _comp_compgen_filedir >/dev/null; then _comp_compgen_filedir; else _filedir; fi
                ;;
            run)
                # Hand over to the command's own completion, as bash-completion's sudo does. Its
                # offset counts COMP_WORDS, which splits `--user=root` where `words` does not.
                local j=0 n acc
                for ((n = 0; n < i; n++)); do
                    acc=
                    while [[ $acc != "${words[n]}" ]] && ((j < ${#COMP_WORDS[@]})); do
                        acc+=${COMP_WORDS[j++]}
                    done
                done
                local sp dir
                local -a dirs
                sp=$(_comp_cmd_jitexec__secure_path "${words[0]}")
                IFS=: read -r -a dirs <<<"$sp"
                local PATH=$PATH
                for dir in "${dirs[@]}"; do
                    [[ $dir == /* ]] && PATH+=:$dir
                done
                if declare -F _comp_command_offset >/dev/null; then
                    _comp_command_offset "$j"
                else
                    _command_offset "$j"
                fi
                ;;
        esac
        return
    fi

    [[ $is_split ]] && value_for=$prev
    case $value_for in
        -u | --user | -U | --other-user)
            mapfile -t COMPREPLY < <(compgen -u -- "$cur")
            return
            ;;
        -g | --group)
            mapfile -t COMPREPLY < <(compgen -g -- "$cur")
            return
            ;;
        ?*)
            # -r, -T, -d, --wait-timeout: free text.
            return
            ;;
    esac

    if [[ ! $ddash && $cur == -* ]]; then
        # Not --login-gate: that is for pam_exec only.
        local opts="-u --user -g --group -r --reason -T --ticket -d --duration --once --no-wait
            --wait-timeout --break-glass -n -S -i -s -e --edit -l -U --other-user -v -k -K -h
            --help -V --version"
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
        return
    fi

    case $mode in
        edit)
            if declare -F _comp_compgen_filedir >/dev/null; then _comp_compgen_filedir; else _filedir; fi
            ;;
        run)
            if [[ $cur == */* ]]; then
                # A path runs as given: executables and directories.
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -d -c -- "$cur")
            else
                _comp_cmd_jitexec__commands "${words[0]}" "$cur"
            fi
            ;;
    esac
} &&
    complete -F _comp_cmd_jitexec jitexec

# ex: filetype=sh
