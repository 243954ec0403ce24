# fish completion for jitexec(8). Completes jitexec's options (not --login-gate: only pam_exec runs
# that), user names after -u/-U, group names after -g, files after -e, and as the command the
# executables in jitexec's secure_path, not in your PATH (jitexec looks a bare name up there
# only). After the command, that command's own completion takes over, as for sudo.
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
function __jitexec_query
    set -l exe (command -s -- $argv[1]); or return 1
    command -sq timeout; or return 1
    set -e argv[1]
    # The program runs in the background, writing into `timeout 2 cat`: the wait ends after 2
    # seconds even when the program (real uid root) cannot be stopped. The status line it adds
    # at its end says that the output is complete. The script is a fixed string; the program and
    # its arguments are only its positional parameters.
    set -l out (/bin/sh -c '{ { timeout 2 "$@" </dev/null 2>/dev/null; echo "jitexec-completion-status $?"; } & } | timeout 2 cat' \
        sh $exe $argv 2>/dev/null </dev/null)
    test "$out[-1]" = "jitexec-completion-status 0"; or return 1
    set -e out[-1]
    string join \n -- $out
end

# Prints jitexec's secure_path, one directory a line: the `secure_path: ` line of `jitexec -l -n`
# (jitexec as typed), or the built-in default when there is no such line or the listing failed.
function __jitexec_secure_path
    set -l sp /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    set -l program (commandline -opc)
    set -q program[1]; or set program jitexec
    set -l out (__jitexec_query $program[1] -l -n)
    and for line in $out
        set -l m (string match -r -- '^\s*secure_path: (.*)$' $line)
        and set sp $m[2]
    end
    string split -- : $sp
end

# The words from the command on (the current one last), after jitexec's options; with -e, the
# files. Prints nothing when the cursor is still among the options. $argv[1]: "mode" prints the
# mode instead: run (a command follows), edit (-e), none (-i, -s, -v, -k, -K, -h, -V).
function __jitexec_rest
    set -l tokens (commandline -opc) (commandline -ct)
    set -e tokens[1]
    set -l ddash (contains -- -- $tokens; and echo 1)
    set -l what $argv[1]
    argparse -s u/user= U/other-user= g/group= r/reason= T/ticket= d/duration= once no-wait \
        wait-timeout= break-glass n S i s e/edit l v k K h/help V/version login-gate -- $tokens 2>/dev/null
    or return 1
    if test "$what" = mode
        if set -q _flag_e
            echo edit
        else if set -q _flag_i; or set -q _flag_s; or set -q _flag_v; or set -q _flag_k; or set -q _flag_K
            echo none
        else if set -q _flag_h; or set -q _flag_V; or set -q _flag_login_gate
            echo none
        else
            echo run
        end
        return 0
    end
    # An option being typed is not a command (unless after `--`).
    if test (count $argv) -eq 1; and string match -q -- '-*' $argv[1]; and test -z "$ddash"
        return 1
    end
    string join \n -- $argv
end

# True while no command (or file) comes before the current word: options may still come.
function __jitexec_no_command
    set -l rest (__jitexec_rest)
    test (count $rest) -le 1
end

# True when the current word is the command.
function __jitexec_at_command
    set -l rest (__jitexec_rest)
    test (count $rest) -eq 1; and test (__jitexec_rest mode) = run
end

# True when the current word is one of the command's arguments.
function __jitexec_in_command
    set -l rest (__jitexec_rest)
    test (count $rest) -ge 2; and test (__jitexec_rest mode) = run
end

# The executables in secure_path's absolute directories, or a path as given.
function __jitexec_commands
    set -l token (commandline -ct)
    if string match -q -- '*/*' $token
        __fish_complete_path $token
        return
    end
    for dir in (__jitexec_secure_path)
        string match -q -- '/*' $dir; or continue
        path basename -- (path filter -fx -- $dir/*)
    end
end

# The command's own completion, with secure_path's directories after yours in PATH.
function __jitexec_command_arguments
    set -l rest (__jitexec_rest)
    set -lx PATH $PATH (string match -- '/*' (__jitexec_secure_path))
    __fish_complete_subcommand --commandline $rest
end

# jitctl's completion sources this file for __jitexec_query, and fish then autoloads it for
# jitexec all the same: the completions below are added once, not twice.
complete -c jitexec | string match -q -- '*__jitexec_at_command*'; and return

complete -c jitexec -f
complete -c jitexec -n __jitexec_no_command -s u -l user -x -a '(__fish_complete_users)' -d 'Run as USER (default root)'
complete -c jitexec -n __jitexec_no_command -s g -l group -x -a '(__fish_complete_groups)' -d 'Run with GROUP as the primary group'
complete -c jitexec -n __jitexec_no_command -s r -l reason -x -d 'Why: shown to the approvers and recorded'
complete -c jitexec -n __jitexec_no_command -s T -l ticket -x -d 'A ticket reference'
complete -c jitexec -n __jitexec_no_command -s d -l duration -x -d 'The grant length to ask for (30m, 2h)'
complete -c jitexec -n __jitexec_no_command -l once -d 'Ask for a grant that covers one run'
complete -c jitexec -n __jitexec_no_command -l no-wait -d 'File the request and exit 75 instead of waiting'
complete -c jitexec -n __jitexec_no_command -l wait-timeout -x -d 'Stop waiting after DUR (exit 75)'
complete -c jitexec -n __jitexec_no_command -l break-glass -d 'On call: an immediate, audited grant with no approver'
complete -c jitexec -n __jitexec_no_command -s n -d 'Never ask for a password'
complete -c jitexec -n __jitexec_no_command -s S -d 'Read the password from standard input'
complete -c jitexec -n __jitexec_no_command -s i -d "Run the target's login shell"
complete -c jitexec -n __jitexec_no_command -s s -d "Run the target's shell, here"
complete -c jitexec -n __jitexec_no_command -s e -l edit -d 'Edit files as the target (sudoedit)'
complete -c jitexec -n __jitexec_no_command -s l -d 'List my rules, live grants and open requests'
complete -c jitexec -n __jitexec_no_command -s U -l other-user -x -a '(__fish_complete_users)' -d "With -l: list USER's instead of mine"
complete -c jitexec -n __jitexec_no_command -s v -d 'Authenticate now and refresh my cached credential'
complete -c jitexec -n __jitexec_no_command -s k -d 'Forget my cached credential for this terminal'
complete -c jitexec -n __jitexec_no_command -s K -d 'Forget my cached credentials for every terminal'
complete -c jitexec -n __jitexec_no_command -s h -l help -d 'This help'
complete -c jitexec -n __jitexec_no_command -s V -l version -d 'The version'
# Not --login-gate: that is for pam_exec only.

complete -c jitexec -n __jitexec_at_command -x -a '(__jitexec_commands)'
complete -c jitexec -n __jitexec_in_command -x -a '(__jitexec_command_arguments)'
complete -c jitexec -n 'test (__jitexec_rest mode) = edit' -F
