"""The shell completions (packaging/completions) as installed, in real interactive bash, zsh and fish
driven through a pseudo-terminal as real users: jitctl's verbs; the ids of requests, grants and
sessions offered to whom may see them and to nobody else (both binaries are setuid root: completion
must not leak what the caller may not see); a locked store that does not hang Tab; jitexec's
commands found through its secure_path, not the caller's PATH; and every option and verb of the
binaries' --help in every completion file and in what each shell offers.

A line is read back by a key bound to print it: Ctrl-T prints @@LINE@@. After `jitctl ap` and Tab the
line must read `jitctl approve `, so a completion that does nothing fails. Another key puts every
candidate on the line (bash's insert-completions, zsh's _all_matches, fish's `complete -C`), for
the checks of what is offered."""
import json
import os
import pwd
import re
import shutil
import sqlite3
import tempfile
import time

import pexpect
import pytest

from loop_support import approve, password, run, with_policy
from session_support import clear_sessions

DEV, LEAD, OUT = "jit-dev1", "jit-lead1", "jit-out"
SHELLS = ["bash", "zsh", "fish"]
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
TAB = "\t"
# The key that replaces the word being completed with every candidate (see Shell).
ALL = {"bash": "\x1b*", "zsh": "\x18", "fish": "\x18"}

# A command only jitexec's secure_path has, and one only the caller's PATH has: `jitcomp-p` Tab is
# unambiguous only when the caller's PATH is not searched.
SECURE_PROBE = "jitcomp-probe"
PATH_PROBE = "jitcomp-path"


def policy(inst):
    return f"""\
[settings]
secure_path = "{inst.prefix}/sp-probe:/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"
request_ttl = "1h"
default_grant = "15m"
max_grant = "4h"

[[rule]]
name = "ids"
users = ["%jit-developers"]
commands = ["/usr/bin/id", "/usr/bin/id -u"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
record = true
"""


def probe(directory, name):
    os.makedirs(directory, mode=0o755, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(path, 0o755)


@pytest.fixture
def comp(inst):
    """The install with the policy above, SECURE_PROBE in a secure_path directory and PATH_PROBE in
    a directory for the caller's PATH."""
    probe(f"{inst.prefix}/sp-probe", SECURE_PROBE)
    probe(f"{inst.prefix}/path-probe", PATH_PROBE)
    # Each shell's run records sessions #1 and #2 again on an empty store: the last run's go first.
    clear_sessions(inst)
    yield from with_policy(inst, policy(inst))


class Shell:
    """An interactive bash, zsh or fish as `user` on a pseudo-terminal, with PATH `path` and a fresh
    home, finding the installed completions the way an install is found: bash-completion loads them
    by the command's name from XDG_DATA_DIRS (PREFIX/share/bash-completion/completions/jitctl), zsh
    from fpath (PREFIX/share/zsh/site-functions), fish from its completion path
    (PREFIX/share/fish/vendor_completions.d)."""

    def __init__(self, inst, kind, user, path):
        self.kind = kind
        pw = pwd.getpwnam(user)
        self.home = tempfile.mkdtemp(prefix=f"jitcomp-{kind}-")
        os.chown(self.home, pw.pw_uid, pw.pw_gid)
        os.chmod(self.home, 0o700)
        share = os.path.dirname(os.path.dirname(inst.bash_completions))
        if kind == "bash":
            # Alt-* is readline's insert-completions.
            rc = f"""PS1='$ '
. {BASH_COMPLETION}
bind 'set bell-style none'
bind -x '"\\C-t": printf "@@%s@@\\n" "$READLINE_LINE"'
"""
            argv = ["bash", "--norc", "--noprofile", "-i"]
        elif kind == "zsh":
            rc = f"""PS1='$ '
KEYTIMEOUT=1
fpath=({inst.zsh_completions} $fpath)
autoload -U compinit && compinit -u
jitcomp-show-line() {{ zle -I; print -r -- "@@${{BUFFER}}@@" }}
zle -N jitcomp-show-line
bindkey '^T' jitcomp-show-line
zle -C jitcomp-all complete-word _generic
zstyle ':completion:jitcomp-all:*' completer _all_matches _complete
zstyle ':completion:jitcomp-all:*' insert true
bindkey '^X' jitcomp-all
"""
            argv = ["zsh", "-f", "-i"]
        else:
            # --no-config leaves the completion path empty: the installed completions and fish's own.
            rc = f"""function fish_prompt; echo -n '$ '; end
set -g fish_complete_path {inst.fish_completions} /usr/share/fish/completions
bind \\ct 'printf "@@%s@@\\n" (commandline)'
function jitcomp_all
    set -l c (complete -C (commandline -cp) | string replace -r '\\t.*' '')
    set -q c[1]; and commandline -t -- (string join ' ' -- $c)' '
end
bind \\cx jitcomp_all
"""
            argv = ["fish", "--no-config", "--private", "-i"]
        rc_path = os.path.join(self.home, "rc")
        with open(rc_path, "w") as f:
            f.write(rc + "printf 'READY-%s\\n' 42\n")
        os.chown(rc_path, pw.pw_uid, pw.pw_gid)
        env = {"PATH": path, "HOME": self.home, "USER": user, "LOGNAME": user, "LANG": "C.UTF-8",
               "TERM": "dumb", "XDG_DATA_DIRS": f"{share}:/usr/share"}
        self.child = pexpect.spawn(
            "setpriv", [f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", "--", *argv],
            env=env, encoding="utf-8", codec_errors="replace", timeout=10, cwd="/", dimensions=(40, 500))
        self.child.delaybeforesend = None
        self.child.sendline(f"source {rc_path}")
        self.child.expect(r"READY-42", timeout=20)

    def line_after(self, typed, keys=TAB, timeout=8):
        """Types `typed` on an empty line (Ctrl-U empties it), then `keys`; returns the line then.
        Under heavy load zsh has been seen to drop the Ctrl-U, leaving the last line in front of
        the new one; then the whole line is typed once more (what it completes is checked either way)."""
        for attempt in range(2):
            self.child.send("\x15" + typed + keys + "\x14")
            self.child.expect(r"@@([^\r\n]*)@@\r?\n", timeout=timeout)
            line = self.child.match.group(1)
            if line.startswith(typed.rsplit(" ", 1)[0]):
                break
        return line

    def offered(self, typed):
        """What completing the last word of `typed` offers: the words the ALL key puts in its place."""
        line = self.line_after(typed, ALL[self.kind])
        if line == typed:
            return set()
        head = typed.rsplit(" ", 1)[0] + " "
        assert line.startswith(head), (typed, line)
        return set(line[len(head):].split())

    def close(self):
        self.child.send("\x15")
        self.child.sendline("exit")
        try:
            self.child.expect(pexpect.EOF, timeout=5)
        except pexpect.TIMEOUT:
            pass
        self.child.close(force=True)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def shell(comp):
    """shell(kind, user, path=...): a Shell on the install, closed after the test."""
    opened = []

    def open_shell(kind, user, path=None):
        s = Shell(comp, kind, user, path or f"{comp.bin}:/usr/bin:/bin")
        opened.append(s)
        return s

    yield open_shell
    for s in opened:
        s.close()


# 1. jitctl's verbs, options and values ---------------------------------------------------------------

@pytest.mark.parametrize("kind", SHELLS)
def test_verbs_options_and_names_complete(shell, kind):
    sh = shell(kind, DEV)
    assert sh.line_after("jitctl ap") == "jitctl approve "
    assert sh.line_after("jitctl store mi") == "jitctl store migrate "
    assert sh.line_after("jitctl help stor") == "jitctl help store "
    assert sh.line_after("jitctl approve --he") == "jitctl approve --help "
    # zsh completes a long option that takes a value with its `=`.
    assert sh.line_after("jitctl requests --us") in ("jitctl requests --user ", "jitctl requests --user=")
    assert sh.line_after("jitctl requests --user roo") == "jitctl requests --user root "
    assert sh.line_after("jitctl explain -g jit-sre-l") == "jitctl explain -g jit-sre-leads "
    assert sh.line_after("jitctl store migrate --to ") == "jitctl store migrate --to postgresql "


# 2. Ids: to whom may see them, to nobody else ---------------------------------------------------------

def jitexec_as(inst, user, *argv):
    return run([inst.jitexec, "-S", *argv], user=user, input=password(user) + "\n")


@pytest.fixture
def ids(comp):
    """Grant #1 for DEV (request #1, approved by LEAD), used twice: recorded sessions #1 and #2; and
    request #2, pending. Request ids, grant ids and session ids differ, so a verb offering another
    kind's ids fails."""
    r = jitexec_as(comp, DEV, "--no-wait", "/usr/bin/id")
    assert r.returncode == 75 and "request #1" in r.stderr, (r.returncode, r.stdout, r.stderr)
    a = approve(comp, 1)
    assert a.returncode == 0 and "grant #1" in a.stdout, (a.returncode, a.stdout, a.stderr)
    for _ in range(2):
        r = jitexec_as(comp, DEV, "/usr/bin/id")
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    r = jitexec_as(comp, DEV, "--no-wait", "/usr/bin/id", "-u")
    assert r.returncode == 75 and "request #2" in r.stderr, (r.returncode, r.stdout, r.stderr)
    yield comp


@pytest.mark.parametrize("kind", SHELLS)
def test_ids_are_offered_to_whom_may_see_them_and_to_nobody_else(ids, shell, kind):
    # Root sees them all (the listings the completions read).
    for listing, expected in (("requests", {2}), ("grants", {1}), ("sessions", {1, 2})):
        r = run([ids.jitctl, listing, "--json"])
        assert {json.loads(line)["id"] for line in r.stdout.splitlines()} == expected, r.stdout

    lead = shell(kind, LEAD)
    assert lead.line_after("jitctl approve ") == "jitctl approve 2 "
    for verb in ("show", "approve", "deny", "cancel"):
        assert lead.offered(f"jitctl {verb} ") == {"2"}, verb
    assert lead.offered("jitctl revoke ") == {"1"}
    for verb in ("replay", "attach", "stop"):
        assert lead.offered(f"jitctl {verb} ") == {"1", "2"}, verb
    # After the options, and not a second time.
    assert lead.line_after("jitctl approve -m ok ") == "jitctl approve -m ok 2 "
    assert lead.line_after("jitctl approve 2 -d ") == "jitctl approve 2 -d "

    # The requester sees his own request, grant and sessions.
    dev = shell(kind, DEV)
    assert dev.line_after("jitctl cancel ") == "jitctl cancel 2 "
    assert dev.line_after("jitctl revoke ") == "jitctl revoke 1 "
    assert dev.offered("jitctl replay ") == {"1", "2"}

    # Someone who may see none of them is offered none: the line stays as typed.
    out = shell(kind, OUT)
    assert out.line_after("jitctl ap") == "jitctl approve ", "completion works for jit-out too"
    for verb in ("show", "approve", "deny", "cancel", "revoke", "replay", "attach", "stop"):
        assert out.line_after(f"jitctl {verb} ") == f"jitctl {verb} ", verb
        assert out.offered(f"jitctl {verb} ") == set(), verb


@pytest.mark.parametrize("kind", SHELLS)
def test_a_locked_store_does_not_hang_tab(ids, shell, kind):
    """jitctl and jitexec make root their real uid, so `timeout 2` cannot end them: with the store
    locked they wait their 5 s busy timeout. Tab must come back after about 2 s anyway, offering no
    id and falling back to the built-in secure_path (which has no jitcomp-probe)."""
    lead = shell(kind, LEAD)
    db = sqlite3.connect(ids.db, isolation_level=None, timeout=10)
    try:
        # Readers wait for this lock too (jitctl says the store "stayed locked ... for 5000 ms").
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("BEGIN EXCLUSIVE")
        for typed, expected in (("jitctl approve ", "jitctl approve "), ("jitexec jitcomp-p", "jitexec jitcomp-p")):
            started = time.monotonic()
            assert lead.line_after(typed, timeout=15) == expected
            took = time.monotonic() - started
            assert took < 4, f"{kind}: {typed!r} Tab took {took:.1f} s with the store locked"
    finally:
        db.execute("ROLLBACK")
        db.close()
    # Unlocked, the same shell offers the id again.
    assert lead.line_after("jitctl approve ") == "jitctl approve 2 "


# 3. jitexec: the command from secure_path, not from the caller's PATH ----------------------------------

@pytest.mark.parametrize("kind", SHELLS)
def test_jitexec_completes_commands_from_its_secure_path(comp, shell, kind):
    path = f"{comp.bin}:{comp.prefix}/path-probe:/usr/bin:/bin"  # no /usr/sbin
    sh = shell(kind, DEV, path)
    # In secure_path (/usr/sbin), not in this PATH.
    assert sh.line_after("jitexec chpass") == "jitexec chpasswd "
    # jitcomp-path is in this PATH only, jitcomp-probe in the policy's secure_path only (so it comes
    # from `jitexec -l -n`, not from the built-in default).
    assert sh.line_after("jitexec jitcomp-p") == f"jitexec {SECURE_PROBE} "
    assert sh.offered("jitexec jitcomp") == {SECURE_PROBE}
    assert sh.line_after("jitexec -u roo") == "jitexec -u root "
    assert sh.line_after("jitexec -nu roo") == "jitexec -nu root "
    assert sh.line_after("jitexec -g jit-sre-l") == "jitexec -g jit-sre-leads "
    assert sh.line_after("jitexec -u root -- chpass") == "jitexec -u root -- chpasswd "
    assert sh.line_after("jitexec -l chpass") == "jitexec -l chpasswd "
    # After the command, the command's own completion.
    assert sh.line_after("jitexec -u root ls --almost-a") == "jitexec -u root ls --almost-all "
    assert sh.line_after("jitexec -r 'a reason' ls --almost-a") == "jitexec -r 'a reason' ls --almost-all "
    # -e edits files; -i, -s take no command.
    assert sh.line_after("jitexec -e /etc/hostn") == "jitexec -e /etc/hostname "
    assert sh.line_after("jitexec -i chpass") == "jitexec -i chpass"
    # --login-gate is pam_exec's.
    assert sh.line_after("jitexec --login") == "jitexec --login"
    # jitctl explain resolves its command the same way.
    assert sh.line_after("jitctl explain -u root -- chpass") == "jitctl explain -u root -- chpasswd "


# 4. Agreement with --help ----------------------------------------------------------------------------

def help_of(argv):
    r = run(argv)
    assert r.returncode == 0, (argv, r.returncode, r.stdout, r.stderr)
    return r.stdout


OPTION_LINE = re.compile(r"^ {2,6}(-[A-Za-z0-9]|--[a-z][\w-]*)(?:,\s+(--[a-z][\w-]*))?(?=[\s,]|$)", re.M)


def options_in(text):
    return {o for m in OPTION_LINE.finditer(text) for o in m.groups() if o}


def subcommands_in(text):
    section = text.split("SUBCOMMANDS:", 1)[1]
    return set(re.findall(r"^  ([a-z][\w-]*)(?=\s)", section, re.M))


def jitctl_help(inst, *words):
    r = run([inst.jitctl, *words, "--help"])
    if "USAGE:" in r.stdout:
        assert r.returncode == 0, (words, r.returncode, r.stdout, r.stderr)
        return r.stdout
    # `jitctl explain --help` explains a command named --help (and exits 1): explain captures every
    # word after its options (argument-parser's captureForPassthrough). `jitctl help explain` helps.
    return help_of([inst.jitctl, "help", *words])


def expected_completions(inst):
    """{(program, words before the cursor): the options or words --help names there}.

    Left out, each on purpose: --login-gate (pam_exec runs it, never a person); after a jitctl verb,
    --version (argument-parser takes it there too, but it only prints the same version as
    `jitctl --version`, which is offered)."""
    jitexec = options_in(help_of([inst.jitexec, "--help"])) - {"--login-gate"}
    top = help_of([inst.jitctl, "--help"])
    verbs = subcommands_in(top)
    store = subcommands_in(jitctl_help(inst, "store"))
    want = {("jitexec", "-"): jitexec, ("jitctl", "-"): options_in(top), ("jitctl", ""): verbs,
            ("jitctl", "store "): store}
    for verb in verbs - {"store"}:
        want[("jitctl", f"{verb} -")] = options_in(jitctl_help(inst, verb)) - {"--version"}
    for sub in store:
        want[("jitctl", f"store {sub} -")] = options_in(jitctl_help(inst, "store", sub)) - {"--version"}
    return want


def completion_files(inst, program):
    return {"bash": f"{inst.bash_completions}/{program}", "zsh": f"{inst.zsh_completions}/_{program}",
            "fish": f"{inst.fish_completions}/{program}.fish"}


def named_in(kind, text, option):
    """Whether the completion file names `option` the way its shell writes options."""
    if kind == "fish":
        flag = f"-s {option[1:]}" if not option.startswith("--") else f"-l {option[2:]}"
        return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def test_every_option_and_verb_of_help_is_in_every_completion_file(installed):
    want = expected_completions(installed)
    for program in ("jitexec", "jitctl"):
        for kind, path in completion_files(installed, program).items():
            with open(path) as f:
                text = f.read()
            for (prog, _), words in want.items():
                if prog != program:
                    continue
                for word in sorted(words):
                    if word.startswith("-"):
                        assert named_in(kind, text, word), f"{path} ({kind}) does not complete {word}"
                    else:
                        assert re.search(rf"(?<![\w-]){word}(?![\w-])", text), f"{path} does not complete {word}"


# What a shell may offer beyond --help, on purpose: `jitctl help VERB` (argument-parser's), and
# bash's `--` before explain's command.
EXTRA = {("jitctl", ""): {"help"}, ("jitctl", "explain -"): {"--"}}


@pytest.mark.parametrize("kind", SHELLS)
def test_each_shell_offers_exactly_what_help_names(comp, shell, kind):
    want = expected_completions(comp)
    sh = shell(kind, DEV)
    for (program, words), expected in sorted(want.items()):
        got = sh.offered(f"{program} {words}")
        assert expected <= got <= expected | EXTRA.get((program, words), set()), \
            f"{kind}: `{program} {words}` offers {sorted(got)}; --help names {sorted(expected)}"
