# fish completion for jitctl(8). Completes jitctl's verbs, each verb's options, store's subcommand,
# user and group names, and the ids of the requests (show, approve, deny, cancel), grants (revoke)
# and sessions (replay, attach, stop) that `jitctl requests|grants|sessions --json` show you.
# `explain -- COMMAND` completes the command as jitexec's completion does.
#
# Security: jitctl is setuid root. Completion must never run it with root's rights on your behalf
# in ways that leak what you may not see. So the only runs are `jitctl requests --json`,
# `jitctl grants --json` and `jitctl sessions --json` (they show only what you may see; never
# --all, -U, -S, nothing that prompts, writes, approves or runs a command), found through PATH,
# with stdin and stderr on /dev/null, under `timeout 2`. Their output is only read as text, never
# evaluated: an id is taken only when it is all digits. jitctl makes root its real uid, so
# `timeout` cannot kill it: the output is read through a pipe that is given up after 2 seconds,
# and a late or failed listing offers nothing. That run is jitexec's completion's __jitexec_query,
# loaded from there.

# __jitexec_query, jitexec's completion's, runs jitctl too: load that completion unless it is
# loaded, as fish would (the first jitexec.fish in fish_complete_path), or else the jitexec.fish
# installed next to this file.
if not functions -q __jitexec_query
    for file in $fish_complete_path/jitexec.fish (status dirname)/jitexec.fish
        if test -f $file
            source $file
            break
        end
    end
end

# The options of each verb that take a value.
function __jitctl_valued
    switch $argv[1]
        case requests grants
            echo --user
        case request
            printf '%s\n' --rule -u -d -r -T --host --service
        case approve
            printf '%s\n' -d -m
        case deny revoke stop
            echo -m
        case log
            printf '%s\n' --since --user --event
        case explain
            printf '%s\n' -U -u -g --host
        case review
            echo -m
        case sessions
            printf '%s\n' --user --since
        case replay
            printf '%s\n' --speed --max-wait
        case 'store migrate'
            echo --to
    end
end

# Prints the verb ("store migrate" for store's subcommand) and then the positional words after
# it before the current word, one a line, option values left out. For explain, the words from
# its command on (after `--` or its first positional word) are all positional.
function __jitctl_words
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l verb
    while set -q tokens[1]
        set -l t $tokens[1]
        set -e tokens[1]
        if not string match -q -- '-*' $t
            if test -z "$verb"
                set verb $t
                test $verb = store; or break
            else
                set verb "$verb $t"
                break
            end
        end
    end
    test -n "$verb"; or return 1
    echo $verb
    set -l valued (__jitctl_valued $verb)
    while set -q tokens[1]
        set -l t $tokens[1]
        set -e tokens[1]
        if contains -- $t $valued
            set -e tokens[1]
        else if test "$verb" = explain; and begin
                test $t = --; or not string match -q -- '-*' $t
            end
            test $t = --; or echo $t
            string join \n -- $tokens
            return 0
        else if not string match -q -- '-*' $t
            echo $t
        end
    end
end

# True when the verb is one of $argv.
function __jitctl_verb_is
    set -l words (__jitctl_words); or return 1
    contains -- $words[1] $argv
end

# True when no verb is given yet.
function __jitctl_needs_verb
    not __jitctl_words >/dev/null
end

# True when the verb is one of $argv and none of its positional arguments is given yet.
function __jitctl_needs_arg
    set -l words (__jitctl_words); or return 1
    contains -- $words[1] $argv; and test (count $words) -eq 1
end

# The ids of `jitctl $argv[1] --json` (requests, grants or sessions): each line's top-level "id"
# (the first `"id":` right after `{` or `,`; a quote inside a JSON string is always escaped, so
# text cannot fake one), digits only.
function __jitctl_ids
    set -l program (commandline -opc)[1]
    for line in (__jitexec_query $program $argv[1] --json)
        set -l id (string match -r -g -- '[{,]\s*"id"\s*:\s*([0-9]+)\s*[,}]' $line)
        and string match -qr -- '^[0-9]+$' $id
        and echo $id
    end
end

# explain's command and its arguments: completed as `jitexec -- COMMAND ARG...`.
function __jitctl_explain_command
    set -l words (__jitctl_words)
    set -e words[1]
    complete -C (string join ' ' -- jitexec -- (string escape -- $words) (commandline -ct))
end

complete -c jitctl -f

complete -c jitctl -n __jitctl_needs_verb -s h -l help -d 'Show help information'
complete -c jitctl -n __jitctl_needs_verb -l version -d 'Show the version'
complete -c jitctl -n __jitctl_needs_verb -a requests -d 'List pending requests'
complete -c jitctl -n __jitctl_needs_verb -a show -d 'Show one request with its approvals'
complete -c jitctl -n __jitctl_needs_verb -a request -d 'File a request ahead of time'
complete -c jitctl -n __jitctl_needs_verb -a approve -d 'Approve a request'
complete -c jitctl -n __jitctl_needs_verb -a deny -d 'Deny a request'
complete -c jitctl -n __jitctl_needs_verb -a cancel -d 'Withdraw your own request'
complete -c jitctl -n __jitctl_needs_verb -a grants -d 'List live grants'
complete -c jitctl -n __jitctl_needs_verb -a revoke -d 'Revoke a grant'
complete -c jitctl -n __jitctl_needs_verb -a log -d 'Show audit events'
complete -c jitctl -n __jitctl_needs_verb -a verify -d 'Check the audit hash chain'
complete -c jitctl -n __jitctl_needs_verb -a check -d 'Validate a policy'
complete -c jitctl -n __jitctl_needs_verb -a explain -d 'Show the decision for a command'
complete -c jitctl -n __jitctl_needs_verb -a review -d 'List or mark break-glass uses'
complete -c jitctl -n __jitctl_needs_verb -a sessions -d 'List recorded sessions'
complete -c jitctl -n __jitctl_needs_verb -a replay -d 'Play a recorded session'
complete -c jitctl -n __jitctl_needs_verb -a attach -d 'Watch a running session live'
complete -c jitctl -n __jitctl_needs_verb -a stop -d 'End a running session'
complete -c jitctl -n __jitctl_needs_verb -a watch -d 'A live feed of the requests you may decide'
complete -c jitctl -n __jitctl_needs_verb -a store -d 'Manage the store'
complete -c jitctl -n __jitctl_needs_verb -a help -d 'Show help for a verb'

# Every verb takes -h/--help. argument-parser also takes --version after a verb; it only prints
# the version, so it is offered before the verb only.
complete -c jitctl -n 'not __jitctl_needs_verb; and not __jitctl_verb_is explain' -s h -l help -d 'Show help information'
complete -c jitctl -n '__jitctl_needs_arg explain' -s h -l help -d 'Show help information'

# requests, grants
complete -c jitctl -n '__jitctl_verb_is requests grants' -l all -d 'Include decided, expired, used-up or revoked ones'
complete -c jitctl -n '__jitctl_verb_is requests grants' -l user -x -a '(__fish_complete_users)' -d 'Only those of this user'
complete -c jitctl -n '__jitctl_verb_is requests grants' -l json -d 'One JSON object per line'
# show, approve, deny, cancel: a request id
complete -c jitctl -n '__jitctl_needs_arg show approve deny cancel' -a '(__jitctl_ids requests)' -d 'Request'
complete -c jitctl -n '__jitctl_verb_is show' -l json -d JSON
complete -c jitctl -n '__jitctl_verb_is approve' -s d -x -d 'Shorten the grant to at most this long'
complete -c jitctl -n '__jitctl_verb_is approve deny revoke' -s m -x -d Comment
complete -c jitctl -n '__jitctl_verb_is request approve deny cancel revoke review stop' -s n -d 'Never prompt for a password'
complete -c jitctl -n '__jitctl_verb_is request approve deny cancel revoke review stop' -s S -d 'Read the password from standard input'
# request
complete -c jitctl -n '__jitctl_verb_is request' -l rule -x -d 'The rule to ask for'
complete -c jitctl -n '__jitctl_verb_is request' -l login -d 'A login grant (shell login gating)'
complete -c jitctl -n '__jitctl_verb_is request' -s u -x -a '(__fish_complete_users)' -d 'Target user (default root)'
complete -c jitctl -n '__jitctl_verb_is request' -s d -x -d 'Requested grant length, e.g. 30m'
complete -c jitctl -n '__jitctl_verb_is request' -s r -x -d Why
complete -c jitctl -n '__jitctl_verb_is request' -s T -x -d Ticket
complete -c jitctl -n '__jitctl_verb_is request' -l host -x -d 'Host the grant is for'
complete -c jitctl -n '__jitctl_verb_is request' -l service -x -d 'With --login: the PAM service'
# revoke: a grant id
complete -c jitctl -n '__jitctl_needs_arg revoke' -a '(__jitctl_ids grants)' -d Grant
# log
complete -c jitctl -n '__jitctl_verb_is log' -l since -x -d 'Only events since a duration ago or an RFC 3339 time'
complete -c jitctl -n '__jitctl_verb_is log' -l user -x -a '(__fish_complete_users)' -d 'Only events of this user'
complete -c jitctl -n '__jitctl_verb_is log' -l event -x -d 'Only events of this type, e.g. exec.start'
complete -c jitctl -n '__jitctl_verb_is log' -l json -d 'JSON Lines'
complete -c jitctl -n '__jitctl_verb_is log' -s f -l follow -d 'Keep printing new events until Ctrl-C'
# check: a policy file
complete -c jitctl -n '__jitctl_needs_arg check' -F
# explain
complete -c jitctl -n '__jitctl_needs_arg explain' -s U -x -a '(__fish_complete_users)' -d 'Explain for this user instead of yourself'
complete -c jitctl -n '__jitctl_needs_arg explain' -s u -x -a '(__fish_complete_users)' -d 'Target user (default root)'
complete -c jitctl -n '__jitctl_needs_arg explain' -s g -x -a '(__fish_complete_groups)' -d 'Primary group of the run'
complete -c jitctl -n '__jitctl_needs_arg explain' -l host -x -d 'Host name (default this host)'
complete -c jitctl -n '__jitctl_verb_is explain' -x -a '(__jitctl_explain_command)'
# review
complete -c jitctl -n '__jitctl_verb_is review' -l ok -d 'The use was justified'
complete -c jitctl -n '__jitctl_verb_is review' -l flag -d 'The use needs a follow-up'
complete -c jitctl -n '__jitctl_verb_is review' -s m -x -d Comment
complete -c jitctl -n '__jitctl_verb_is review' -l all -d 'List reviewed uses too'
complete -c jitctl -n '__jitctl_verb_is review' -l json -d 'One JSON object per line'
# sessions
complete -c jitctl -n '__jitctl_verb_is sessions' -l user -x -a '(__fish_complete_users)' -d 'Only sessions of this user'
complete -c jitctl -n '__jitctl_verb_is sessions' -l since -x -d 'Only sessions started since then'
complete -c jitctl -n '__jitctl_verb_is sessions' -l all -d 'Unrecorded sessions too'
complete -c jitctl -n '__jitctl_verb_is sessions' -l json -d 'One JSON object per line'
# replay, attach, stop: a session id
complete -c jitctl -n '__jitctl_needs_arg replay attach stop' -a '(__jitctl_ids sessions)' -d Session
complete -c jitctl -n '__jitctl_verb_is replay' -l speed -x -d 'Playback speed factor'
complete -c jitctl -n '__jitctl_verb_is replay' -l max-wait -x -d 'Longest pause between outputs, in seconds'
complete -c jitctl -n '__jitctl_verb_is replay' -l cat -d 'Print the output text only'
complete -c jitctl -n '__jitctl_verb_is stop' -s m -x -d "Why; shown to the session's user"
# store migrate
complete -c jitctl -n '__jitctl_needs_arg store' -a migrate -d "Copy this host's SQLite history into the fleet database"
complete -c jitctl -n "__jitctl_verb_is 'store migrate'" -l to -x -a postgresql -d 'The store to move to'
# help VERB, help store migrate
complete -c jitctl -n '__jitctl_needs_arg help' -a 'requests show request approve deny cancel grants revoke log verify check explain review sessions replay attach stop watch store'
complete -c jitctl -n 'set -l w (__jitctl_words); test "$w[1]" = help -a "$w[2]" = store -a (count $w) -eq 2' -a migrate
