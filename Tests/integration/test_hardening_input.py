"""Issue 8, input hardening: attacks an unprivileged local user can make through what they control
(argv, environment, working directory, terminal, descriptors, timing, account state they trigger, the
names they pick) against the installed setuid jitexec/jitctl. One test per attack, named after it;
each docstring names the attack and what must hold (the item of the issue-8 contract it checks).
Tests assert behaviour and key words, never whole sentences. Tests that change accounts or groups
create their own `jit-hi-*` users and groups and remove them afterwards; the shared users' groups are
never touched."""
import contextlib
import ctypes
import json
import os
import pwd
import re
import shutil
import subprocess
import time

import pytest

from conftest import PAM_SERVICE
from loop_support import (PASSWORD_PROMPT, without_prompts, approve, clear_credential_cache, environment, events, finish, grant_id,
                          password, request_id, requests, run, show, spawn, user_kwargs)
from test_breakglass import BASE as BREAKGLASS_POLICY, breakglass, oncall_command
from test_login import admitted, write_pam
from workflow_support import lines, run_bytes

DEV = "jit-dev1"
LEAD = "jit-lead1"
OUT = "jit-out"
# The attacker's own directory (owned by jit-dev1) and the mark a command leaves when it ran.
HOME = "/tmp/jitexec-hi-attacker"
MARK = "/tmp/jitexec-hi-mark"

POLICY = f"""\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"
request_ttl = "1h"
default_grant = "15m"
max_grant = "4h"
wait_timeout = "2m"
admins = ["%jit-admins"]

# Command scope (the default): exactly the approved argv.
[[rule]]
name = "echoes"
users = ["%jit-developers"]
commands = ["/usr/bin/echo **", "/usr/bin/cat notes.txt"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"

[[rule]]
name = "bulk"
users = ["%jit-developers"]
commands = ["/usr/bin/printf **"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
scope = "rule"

[[rule]]
name = "plain"
users = ["%jit-developers"]
commands = ["/usr/bin/id -un", "/usr/bin/touch {MARK}"]
action = "allow"
"""


# Helpers -------------------------------------------------------------------------------------------

def remove_mark():
    if os.path.exists(MARK):
        os.unlink(MARK)


def load_policy(inst, text):
    inst.write_policy(text)
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, f"the test policy does not load: {check.stdout}{check.stderr}"


@pytest.fixture
def hi(inst):
    """The install with POLICY, an empty store and credential cache, a fresh attacker directory and
    no mark file. Afterwards the audit chain the test left behind must verify."""
    load_policy(inst, POLICY)
    clear_credential_cache(inst)
    remove_mark()
    shutil.rmtree(HOME, ignore_errors=True)
    os.mkdir(HOME, 0o755)
    pw = pwd.getpwnam(DEV)
    os.chown(HOME, pw.pw_uid, pw.pw_gid)
    yield inst
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, f"jitctl verify after the test: {v.stdout}{v.stderr}"
    clear_credential_cache(inst)
    remove_mark()
    shutil.rmtree(HOME, ignore_errors=True)


def run_as(argv, user=DEV, cwd="/", input=None, timeout=120):
    """argv as `user` in a new session (no controlling terminal) from `cwd`; text output."""
    return subprocess.run(argv, capture_output=True, text=True, env=environment(), input=input, timeout=timeout,
                          cwd=cwd, start_new_session=True, **user_kwargs(user))


def jitexec(inst, *argv, user=DEV, cwd="/", timeout=120):
    """jitexec -S ARGV as `user` from `cwd`, the user's password on stdin."""
    return run_as([inst.jitexec, "-S", *argv], user=user, cwd=cwd, input=password(user) + "\n", timeout=timeout)


def jitctl(inst, *argv, user=DEV, timeout=120):
    """jitctl -S ARGV... as `user` (the password on stdin; verbs without -S never read it)."""
    return run_as([inst.jitctl, *argv], user=user, input=password(user) + "\n", timeout=timeout)


def file_request(inst, *argv, user=DEV, cwd="/"):
    """Files a request with --no-wait (exit 75) and returns its id."""
    r = jitexec(inst, "--no-wait", *argv, user=user, cwd=cwd)
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    return request_id(r.stderr)


def refusal(r, status=1):
    """The single line of a refusal on stderr (the password prompt, which has no newline, left out)."""
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    got = lines(without_prompts(r.stderr))
    assert len(got) == 1, f"expected one line on stderr, got {got!r}"
    return got[0]


def no_exec(inst):
    assert events(inst, "exec.start", "exec.end") == [], "a command was started"


def as_dev_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    pw = pwd.getpwnam(DEV)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def as_dev_dir(path):
    os.mkdir(path, 0o755)
    pw = pwd.getpwnam(DEV)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def human_show(inst, n, user=None):
    r = run([inst.jitctl, "show", str(n)], user=user)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def field_line(text, name):
    """The value of the `name:` line of `jitctl show`, or None."""
    m = re.search(rf"^{name}:\s*(.*)$", text, re.M)
    return m.group(1) if m else None


def filed_record(inst, n):
    (rec,) = [e for e in events(inst, "request.filed") if e.get("request") == n]
    return rec


# Dedicated accounts ----------------------------------------------------------------------------------

def sh(*argv):
    subprocess.run(list(argv), check=True, capture_output=True, text=True)


def quiet(*argv):
    subprocess.run(list(argv), capture_output=True)


def exists(kind, name):
    return subprocess.run(["getent", kind, name], capture_output=True).returncode == 0


@contextlib.contextmanager
def dedicated_user(name, groups=()):
    """A user of its own (password pw-NAME-secret, no home) in `groups` (created here too); removed
    afterwards with its groups, whatever happened."""
    try:
        if exists("passwd", name):
            quiet("userdel", "-f", name)
        for g in groups:
            if exists("group", g):
                quiet("groupdel", "-f", g)
            sh("groupadd", g)
        sh("useradd", "-M", "-s", "/bin/bash", *(["-G", ",".join(groups)] if groups else []), name)
        subprocess.run(["chpasswd"], input=f"{name}:{password(name)}\n", text=True, check=True)
        yield pwd.getpwnam(name)
    finally:
        quiet("userdel", "-f", name)
        for g in groups:
            quiet("groupdel", "-f", g)


def set_group_members(group, members):
    """Rewrites the member list of `group` in /etc/group under the shadow-utils lock (groupmod -U and
    gpasswd -M refuse member names that are not accounts)."""
    libc = ctypes.CDLL(None, use_errno=True)
    deadline = time.monotonic() + 60
    while libc.lckpwdf() != 0:
        assert time.monotonic() < deadline, "could not take the passwd/group lock"
        time.sleep(0.5)
    try:
        with open("/etc/group") as f:
            text = f.read()
        out = []
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) == 4 and parts[0] == group:
                parts[3] = ",".join(members)
                line = ":".join(parts)
            out.append(line)
        tmp = "/etc/group.jit-hi-tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(out) + "\n")
        st = os.stat("/etc/group")
        os.chown(tmp, st.st_uid, st.st_gid)
        os.chmod(tmp, st.st_mode & 0o7777)
        os.rename(tmp, "/etc/group")
    finally:
        libc.ulckpwdf()


# 4. jitctl request --rule for a command-scope rule ------------------------------------------------

def test_request_ahead_for_a_command_scope_rule_is_refused(hi):
    """Attack: `jitctl request --rule NAME` on a rule with scope "command" asks for a grant approvers
    would see as "(any command of rule ...)", i.e. a rule-wide grant the rule never allows.
    Must hold: exit 1, one line naming `scope` and `jitexec`; no request is filed."""
    r = jitctl(hi, "request", "--rule", "echoes", "-r", "ahead of time", "-S")
    line = refusal(r)
    assert "scope" in line and "jitexec" in line, line
    assert requests(hi) == []
    assert events(hi, "request.filed") == []
    # A rule-scope rule can still be asked for ahead of time.
    ok = jitctl(hi, "request", "--rule", "bulk", "-r", "ahead of time", "-S")
    assert ok.returncode == 0 and "for rule 'bulk'" in ok.stdout, (ok.returncode, ok.stdout, ok.stderr)


# 5. A command-scope grant covers its working directory only ----------------------------------------

def test_command_scope_grant_does_not_follow_the_caller_to_another_directory(hi):
    """Attack: get `cat notes.txt` approved in a harmless directory, then run the same argv from /etc
    or from a directory where notes.txt is a link to /etc/shadow.
    Must hold: the grant covers the argv in the request's cwd only; elsewhere a new request is filed
    (--no-wait: exit 75) and nothing runs; `jitctl show` has a `cwd:` line."""
    a = as_dev_dir(f"{HOME}/a")
    as_dev_file(f"{a}/notes.txt", "harmless approved notes\n")
    b = as_dev_dir(f"{HOME}/b")
    os.symlink("/etc/shadow", f"{b}/notes.txt")
    os.lchown(f"{b}/notes.txt", pwd.getpwnam(DEV).pw_uid, -1)

    n = file_request(hi, "/usr/bin/cat", "notes.txt", cwd=a)
    assert field_line(human_show(hi, n, user=LEAD), "cwd") == a
    grant_id(approve(hi, n, LEAD))
    for elsewhere in (b, "/etc"):
        r = jitexec(hi, "--no-wait", "/usr/bin/cat", "notes.txt", cwd=elsewhere)
        assert "root:" not in r.stdout, f"the grant approved in {a} ran in {elsewhere}: {r.stdout[:200]!r}"
        assert r.returncode == 75 and r.stdout == "", (elsewhere, r.returncode, r.stdout, r.stderr)
        m = request_id(r.stderr)
        assert m != n
        assert field_line(human_show(hi, m), "cwd") == elsewhere
        assert filed_record(hi, m)["cwd"] == elsewhere
    no_exec(hi)
    # Where it was approved it runs.
    ok = jitexec(hi, "--no-wait", "/usr/bin/cat", "notes.txt", cwd=a)
    assert ok.returncode == 0 and ok.stdout == "harmless approved notes\n", (ok.returncode, ok.stdout, ok.stderr)


# 6. The account and the policy are checked again after the wait -------------------------------------

ACCT_USER = "jit-hi-acct"
ACCT_GROUP = "jit-hi-devs"
ACCT_POLICY = POLICY + f"""
[[rule]]
name = "hi-touch"
users = ["%{ACCT_GROUP}"]
commands = ["/usr/bin/touch {MARK}"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
"""


@pytest.mark.parametrize("change,needle", [
    (["usermod", "-L", "-e", "1", ACCT_USER], "account"),
    (["gpasswd", "-d", ACCT_USER, ACCT_GROUP], "polic"),
], ids=["locked-and-expired", "removed-from-group"])
def test_account_locked_or_removed_from_group_while_waiting_runs_nothing(hi, background, change, needle):
    """Attack: file a request, and while jitexec waits for approval the account is locked and expired
    (`usermod -L -e 1`) or removed from the group the rule names; the approval then arrives.
    Must hold: after the wait jitexec runs pam acct_mgmt and decides the policy again with the current
    groups: nothing runs, exit 1, the last line mentions the account / the policy."""
    with dedicated_user(ACCT_USER, [ACCT_GROUP]):
        load_policy(hi, ACCT_POLICY)
        waiting = background([hi.jitexec, "-S", "/usr/bin/touch", MARK], ACCT_USER, input=password(ACCT_USER) + "\n")
        n = request_id(waiting.wait_for(r"request #\d+ filed", timeout=60).group(0))
        sh(*change)
        grant_id(approve(hi, n, LEAD))
        status, out, err = waiting.finish(timeout=90)
        assert not os.path.exists(MARK), f"the command ran after `{' '.join(change)}`: {err!r}"
        assert status == 1, (status, out, err)
        last = lines(without_prompts(err))[-1]
        assert needle in last.lower() or "no longer" in last.lower(), err
        no_exec(hi)


# 7. Group lookups with a big group -------------------------------------------------------------------

BIG_USER = "jit-hi-big"
BIG_GROUP = "jit-hi-biggrp"
BIG_POLICY = POLICY + f"""
[[rule]]
name = "big-group-denied"
users = ["%{BIG_GROUP}"]
commands = ["/usr/bin/touch {MARK}"]
action = "deny"

[[rule]]
name = "big-user-allowed"
users = ["{BIG_USER}"]
commands = ["/usr/bin/touch {MARK}"]
action = "allow"
"""


def test_deny_rule_on_a_group_with_a_35kB_member_line_applies(hi):
    """Attack: be a member of a group whose /etc/group line is ~35 kB (2,500 members), more than a fixed
    lookup buffer holds, so the group silently drops out of the caller's groups and a `deny` on it
    is skipped in favour of a later `allow`.
    Must hold: the group still counts (buffers grow); the deny applies: exit 1, nothing runs."""
    with dedicated_user(BIG_USER, [BIG_GROUP]):
        members = [BIG_USER] + [f"jit-hi-m{i:05d}" for i in range(2499)]
        set_group_members(BIG_GROUP, members)
        entry = next(l for l in open("/etc/group") if l.startswith(BIG_GROUP + ":"))
        assert len(entry) > 34_000, len(entry)
        load_policy(hi, BIG_POLICY)
        r = jitexec(hi, "/usr/bin/touch", MARK, user=BIG_USER)
        assert not os.path.exists(MARK), "the deny rule on the big group was skipped: the command ran"
        line = refusal(r)
        assert "big-group-denied" in line, line
        (denied,) = events(hi, "policy.denied")
        assert denied["rule"] == "big-group-denied", denied
        no_exec(hi)
        explained = run([hi.jitctl, "explain", "-U", BIG_USER, "--", "/usr/bin/touch", MARK])
        assert BIG_GROUP in field_line(explained.stdout, "user"), explained.stdout
        assert "decision: deny (rule 'big-group-denied')" in explained.stdout, explained.stdout


# 8. Argv and text as people see it ------------------------------------------------------------------

# The blank-looking or invisible characters of the contract: Default_Ignorable code points (Hangul
# fillers, zero-width, variation selector, CGJ, tags), U+2800, Unicode spaces other than U+0020, bidi
# controls, C1 and DEL.
INVISIBLE = ["\u200b", "\u3164", "\u115f", "\u1160", "\uffa0", "\u2800", "\u00a0", "\u1680", "\u2003", "\u202f",
             "\u3000", "\u202e", "\u2066", "\u061c", "\u200e", "\u2060", "\ufeff", "\u034f", "\ufe0f", "\u180e",
             "\u0085", "\u009b", "\u007f"]


def shown_forms(ch):
    """The accepted escaped spellings of one invisible character."""
    cp = ord(ch)
    forms = [f"\\u{{{cp:04x}}}"]
    if cp < 0xa0:
        forms.append(f"\\x{cp:02x}")
        forms.append("".join(f"\\x{b:02x}" for b in ch.encode()))
    return forms


QUOTING = [
    (["a b", "c"], "'a b' c"),
    (["a", "b c"], "a 'b c'"),
    (["it's", "back\\slash", "", "ok,fine:x=1@h%2+/y"], "'it\\'s' 'back\\\\slash' '' ok,fine:x=1@h%2+/y"),
]


def test_argv_is_shown_quoted_and_invisible_characters_escaped_everywhere(hi, background):
    """Attack: file requests whose argv look alike when words are joined with spaces (`echo 'a b' c`
    vs `echo a 'b c'`), or carry characters that print as nothing or as a blank (Hangul fillers,
    U+2800, no-break and wide spaces, zero-width and bidi controls, C1, DEL), so an approver approves
    something other than what they read.
    Must hold: in `jitctl show`, `requests`, the `log` table and `watch`, a word of only
    [A-Za-z0-9 _-.,/:=@%+] is bare, any other in single quotes (\\' and \\\\ inside, '' for an empty
    one), and every such character is shown as \\u{xxxx} (or \\xNN), never raw."""
    filed = []
    for words, expected in QUOTING:
        filed.append((file_request(hi, "/usr/bin/echo", *words), "/usr/bin/echo " + expected))
    hidden = [f"x{ch}y" for ch in INVISIBLE]
    hidden_id = file_request(hi, "/usr/bin/echo", *hidden)
    watch = background([hi.jitctl, "watch"], LEAD)
    watch.wait_for(rf"#{hidden_id} ", stream="out", timeout=60)
    time.sleep(1)
    views = {
        "show": "\n".join(human_show(hi, n, user=LEAD) for n, _ in filed + [(hidden_id, None)]),
        "requests": run([hi.jitctl, "requests"], user=LEAD).stdout,
        "log": run([hi.jitctl, "log"]).stdout,
        "watch": watch.text("out"),
    }
    problems = []
    for where, text in views.items():
        for n, expected in filed:
            if expected not in text:
                problems.append(f"{where}: request #{n} is not shown as {expected!r}")
        for ch in INVISIBLE:
            if ch in text:
                problems.append(f"{where}: U+{ord(ch):04X} is shown raw")
            if not any(form in text for form in shown_forms(ch)):
                problems.append(f"{where}: U+{ord(ch):04X} is not shown as {shown_forms(ch)[0]}")
    # The two look-alike argvs are told apart on the command line of `jitctl show`.
    a, b = (field_line(human_show(hi, n), "command") for n, _ in filed[:2])
    if a == b:
        problems.append(f"show: different argv look alike: {a!r}")
    assert not problems, "\n".join(problems)


# 9. What an unauthenticated caller can make jitexec store -------------------------------------------

def db_bytes(inst):
    return sum(os.path.getsize(inst.db + s) for s in ("", "-wal") if os.path.exists(inst.db + s))


def test_denied_mebibyte_argv_is_stored_cut_to_4096_bytes(hi):
    """Attack: a user no rule allows runs `jitexec -n /usr/bin/passwd` with ~1 MiB of argv again and
    again: each denial (written before any authentication) would store the whole argv.
    Must hold: policy.denied keeps at most 4096 bytes of argv (whole words while they fit, the last
    one maybe cut), with "command_truncated": true and "command_bytes" = the full size; 6 such calls
    grow the database (+wal) by less than 200 KB."""
    small = run_as([hi.jitexec, "-n", "/usr/bin/passwd", "small"], user=OUT)
    assert small.returncode == 1, (small.returncode, small.stderr)
    words = [chr(ord("A") + i) * (64 * 1024) for i in range(16)]
    argv = ["/usr/bin/passwd", *words]
    full = sum(len(w) for w in argv)
    before = db_bytes(hi)
    for _ in range(6):
        r = run_as([hi.jitexec, "-n", *argv], user=OUT)
        assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout[:200], r.stderr[:500])
    grown = db_bytes(hi) - before
    assert grown < 200_000, f"6 denied calls with {full} bytes of argv grew the database and its wal by {grown} bytes"
    denied = [e for e in events(hi, "policy.denied") if e["actor"] == OUT]
    assert len(denied) == 7, [e.get("command", [])[:1] for e in denied]
    for rec in denied[1:]:
        stored = rec["command"]
        assert all(isinstance(w, str) for w in stored), "stored words should be text here"
        size = sum(len(w.encode()) for w in stored)
        assert size <= 4096, f"policy.denied stored {size} bytes of argv ({len(stored)} words)"
        assert stored[:-1] == argv[:len(stored) - 1] and argv[len(stored) - 1].startswith(stored[-1]), \
            "the stored words must be the first words of argv, the last one maybe cut"
        assert rec.get("command_truncated") is True, rec.keys()
        assert full <= rec.get("command_bytes", -1) <= full + len(argv), (rec.get("command_bytes"), full)
    assert denied[0]["command"] == ["/usr/bin/passwd", "small"] and "command_truncated" not in denied[0]


def test_a_hundred_denials_write_at_most_twenty_records(hi):
    """Attack: a user no rule allows calls `jitexec -n` in a loop to flood the audit store.
    Must hold: at most 20 policy.denied records per user per rolling hour; every call is still
    refused (exit 1, one line)."""
    for i in range(100):
        r = run_as([hi.jitexec, "-n", "/usr/bin/passwd", f"flood-{i}"], user=OUT)
        line = refusal(r)
        assert "may not run" in line, line
    denied = [e for e in events(hi, "policy.denied") if e["actor"] == OUT]
    assert 1 <= len(denied) <= 20, f"100 denied calls wrote {len(denied)} policy.denied records"


# 10. A login grant covers its own [[login]] table only -----------------------------------------------

PAM_FILE = PAM_SERVICE.lower()
SVC_A = f"{PAM_FILE}-hi-a"
SVC_B = f"{PAM_FILE}-hi-b"
LOGIN_POLICY = f"""\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"
admins = ["%jit-admins"]

[[login]]
users = ["%jit-developers"]
services = ["{SVC_A}"]
approvers = ["%jit-sre-leads"]
approvals = 1
max_grant = "8h"
auto_request = true

[[login]]
users = ["%jit-developers"]
services = ["{SVC_B}"]
approvers = ["%jit-sre-leads"]
approvals = 1
max_grant = "8h"
auto_request = true
"""


@pytest.fixture
def two_gates(hi):
    """Two gated PAM services, each under its own [[login]] table (login#1: SVC_A, login#2: SVC_B)."""
    load_policy(hi, LOGIN_POLICY)
    snippet = f"/etc/pam.d/{PAM_FILE}-login"
    assert os.path.exists(snippet), "make install must install the login snippet"
    made = [write_pam(s, f"auth required pam_permit.so\n@include common-account\n@include {PAM_FILE}-login\n")
            for s in (SVC_A, SVC_B)]
    yield hi
    for path in made:
        os.unlink(path)


def account(service, user):
    return subprocess.run(["pamtester", "-v", service, user, "acct_mgmt"], capture_output=True, text=True, timeout=60)


def test_login_grant_of_one_login_table_does_not_open_another(two_gates):
    """Attack: get a login grant approved under one [[login]] table (service A, its own approvers) and
    use it to log in through a service gated by another table.
    Must hold: a login grant covers only the table (rule login#N) it was approved under and that
    table's services."""
    inst = two_gates
    r = jitctl(inst, "request", "--login", "-r", "on call tonight", "-S")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    (req,) = requests(inst)
    assert req["rule"] == "login#1", req
    grant_id(approve(inst, req["id"], LEAD))
    assert admitted(account(SVC_A, DEV)), "the login grant must open the service it was approved for"
    other = account(SVC_B, DEV)
    assert not admitted(other), f"a login#1 grant opened {SVC_B}, which login#2 gates"
    denied = [e for e in events(inst, "login.denied") if e["service"] == SVC_B]
    assert denied and denied[-1]["rule"] == "login#2", denied


def test_login_request_with_service_files_under_the_table_gating_it(two_gates):
    """Attack (precondition of the above): without --service, `jitctl request --login` can only ask
    under the first table, so approvers of the second are bypassed or never asked.
    Must hold: `--service NAME` files under the first table gating the caller whose services include
    NAME; without it, under the first table gating the caller; the request names the rule."""
    inst = two_gates
    b = jitctl(inst, "request", "--login", "--service", SVC_B, "-r", "for b", "-S")
    assert b.returncode == 0, (b.returncode, b.stdout, b.stderr)
    a = jitctl(inst, "request", "--login", "-r", "for a", "-S")
    assert a.returncode == 0, (a.returncode, a.stdout, a.stderr)
    by_reason = {q["reason"]: q for q in requests(inst)}
    assert by_reason["for b"]["rule"] == "login#2" and by_reason["for a"]["rule"] == "login#1", by_reason
    assert show(inst, by_reason["for b"]["id"])["rule"] == "login#2"


# 12. On-call command output --------------------------------------------------------------------------

@pytest.fixture
def oncall(inst):
    """The install with an empty store; afterwards the on-call script is removed and the chain verifies.
    No group is touched: who is on call comes from `[oncall] command` alone."""
    remove_mark()
    yield inst
    path = f"{inst.confdir}/who-is-oncall"
    if os.path.exists(path):
        os.unlink(path)
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, v.stdout + v.stderr


@pytest.mark.parametrize("body", [
    f"echo '{DEV} jit-lead1'\n",
    f"echo {DEV}\necho 'bad/name'\n",
    f"echo {DEV}\nhead -c 70000 /dev/zero | tr '\\0' '\\n'\n",
], ids=["two-words-on-a-line", "invalid-name", "over-64KiB"])
def test_malformed_on_call_output_puts_nobody_on_call(oncall, body):
    """Attack: the on-call command's output is not clean (a line with two names, a name that is not a
    valid account name, more than 64 KiB) — whatever its source feeds it decides who may break glass.
    Must hold: nobody is on call by the command; the break-glass is refused (exit 1, one line) and
    audited `breakglass.refused` with a problem mentioning the output."""
    path = oncall_command(oncall, body)
    load_policy(oncall, BREAKGLASS_POLICY + f'\n[oncall]\ncommand = ["{path}"]\n')
    r = breakglass(oncall, "/usr/bin/id")
    assert r.returncode == 1 and r.stdout == "", f"break-glass went through on malformed output: {r.returncode} {r.stderr!r}"
    line = refusal(r)
    assert "not on call" in line, line
    (rec,) = events(oncall, "breakglass.refused")
    why = json.dumps({k: v for k, v in rec.items() if k != "reason"})
    assert "output" in why, rec
    assert events(oncall, "grant.created", "exec.start") == []


# 13. -S on a terminal does not echo the password ----------------------------------------------------

def typed_password_is_echoed(inst, user, argv):
    """Runs argv as `user` on a new pty, types the password at the prompt; returns what the pty showed."""
    child = spawn(inst, user, argv, timeout=60)
    try:
        child.expect(PASSWORD_PROMPT, timeout=60)
        time.sleep(0.3)  # the prompter gets to change the terminal before the password is typed
        child.sendline(password(user))
        _, seen = finish(child, timeout=90)
    finally:
        child.close(force=True)
    return seen


def test_dash_S_on_a_terminal_turns_echo_off(hi):
    """Attack: someone reads the screen (or a terminal log) while the user types the password for
    `-S` with standard input a terminal.
    Must hold: jitexec -S and every jitctl verb taking -S turn echo off while reading the password:
    the typed password never appears in the pty output."""
    n1 = file_request(hi, "/usr/bin/echo", "one")
    n2 = file_request(hi, "/usr/bin/echo", "two")
    n3 = file_request(hi, "/usr/bin/echo", "three")
    cases = [
        (DEV, [hi.jitexec, "-S", "/usr/bin/id", "-un"]),
        (DEV, [hi.jitctl, "request", "--rule", "bulk", "-r", "ahead", "-S"]),
        (LEAD, [hi.jitctl, "approve", str(n1), "-S"]),
        (LEAD, [hi.jitctl, "deny", str(n2), "-m", "no", "-S"]),
        (DEV, [hi.jitctl, "cancel", str(n3), "-S"]),
        (DEV, [hi.jitctl, "revoke", "1", "-S"]),
        (DEV, [hi.jitctl, "review", "999999", "--ok", "-S"]),
    ]
    echoed = []
    for user, argv in cases:
        seen = typed_password_is_echoed(hi, user, argv)
        if password(user) in seen:
            verb = " ".join([os.path.basename(argv[0])] + ([argv[1]] if argv[0] == hi.jitctl else []))
            echoed.append(f"{verb} (as {user}): {seen.strip()[:200]!r}")
    assert not echoed, "the typed password was echoed:\n" + "\n".join(echoed)
    assert show(hi, n1)["status"] == "approved" and show(hi, n2)["status"] == "denied"


# 14. explain/check resolve paths with the caller's rights ------------------------------------------

SECRET_DIR = "/root/jit-hi-probe"
MISSING_DIR = "/jit-hi-missing-dir"


@pytest.fixture
def secret_tool():
    """An executable in a directory under /root (0700): invisible to everyone but root."""
    shutil.rmtree(SECRET_DIR, ignore_errors=True)
    os.mkdir(SECRET_DIR, 0o755)
    with open(f"{SECRET_DIR}/tool", "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(f"{SECRET_DIR}/tool", 0o755)
    assert os.stat("/root").st_mode & 0o077 == 0, "the probe needs /root closed to others"
    assert not os.path.exists(MISSING_DIR)
    yield f"{SECRET_DIR}/tool"
    shutil.rmtree(SECRET_DIR, ignore_errors=True)


def test_explain_and_check_do_not_reveal_files_the_caller_cannot_see(hi, secret_tool):
    """Attack: probe whether a file exists under /root (0700) by asking `jitctl explain -- PATH` or
    `jitctl check DRAFT` (a rule naming PATH, or a secure_path there) — jitctl runs as root.
    Must hold: for a non-admin, paths are resolved with the caller's own rights: a path under /root
    is reported exactly like a path that does not exist."""
    def normal(text, a, b):
        return text.replace(a, "PROBE").replace(b, "PROBE")

    missing = f"{MISSING_DIR}/tool"
    seen = run([hi.jitctl, "explain", "--", secret_tool], user=DEV)
    absent = run([hi.jitctl, "explain", "--", missing], user=DEV)
    assert (seen.returncode, normal(seen.stdout + seen.stderr, SECRET_DIR, MISSING_DIR)) == \
        (absent.returncode, normal(absent.stdout + absent.stderr, SECRET_DIR, MISSING_DIR)), \
        f"explain tells them apart:\n{seen.stdout}{seen.stderr}---\n{absent.stdout}{absent.stderr}"

    def draft(directory, name):
        return as_dev_file(f"{HOME}/{name}.toml", f"""\
[settings]
secure_path = "{directory}:/usr/bin"

[[rule]]
name = "probe"
users = ["{DEV}"]
commands = ["{directory}/tool", "tool"]
action = "allow"
""")

    secret_draft, missing_draft = draft(SECRET_DIR, "probe-a"), draft(MISSING_DIR, "probe-b")
    a = run([hi.jitctl, "check", secret_draft], user=DEV)
    b = run([hi.jitctl, "check", missing_draft], user=DEV)

    def checked(r, path):
        return r.returncode, normal((r.stdout + r.stderr).replace(path, "DRAFT"), SECRET_DIR, MISSING_DIR)

    assert checked(a, secret_draft) == checked(b, missing_draft), \
        f"check tells them apart:\n{a.stdout}{a.stderr}---\n{b.stdout}{b.stderr}"
    assert b.returncode == 1 and "does not exist" in b.stdout, b.stdout


# 15. --json escapes what a terminal would hide ------------------------------------------------------

JSON_HIDDEN = ["\x7f", "\x80", "\x85", "\x9f", "\u2028", "\u2029", "\u061c", "\u200e", "\u200f", "\u202a", "\u202e",
               "\u2066", "\u2069", "\u200b", "\u200d", "\u2060", "\ufeff", "\u3164", "\u115f", "\u1160", "\uffa0",
               "\u034f", "\u180e", "\U000e0001"]


def test_json_output_escapes_del_c1_separators_bidi_and_default_ignorables(hi):
    """Attack: put DEL, C1 controls, U+2028/2029, bidi controls and Default_Ignorable characters in
    argv and reason; whoever reads `--json` output in a terminal or a viewer sees them act (or not at
    all), and line-based consumers split on U+2028.
    Must hold: `jitctl show/requests/grants/log --json` write each of them as a \\uXXXX escape, never
    raw, and the JSON still decodes to the exact text."""
    word = "w" + "".join(JSON_HIDDEN) + "w"
    reason = "r" + "".join(JSON_HIDDEN) + "r"
    n = file_request(hi, "/usr/bin/echo", word, word)
    r = jitexec(hi, "--no-wait", "-r", reason, "/usr/bin/echo", "with-reason")
    m = request_id(r.stderr)
    grant_id(approve(hi, n, LEAD))
    views = {
        "show --json": [hi.jitctl, "show", str(n), "--json"],
        "show --json (reason)": [hi.jitctl, "show", str(m), "--json"],
        "requests --json": [hi.jitctl, "requests", "--all", "--json"],
        "grants --json": [hi.jitctl, "grants", "--all", "--json"],
        "log --json": [hi.jitctl, "log", "--json"],
    }
    problems, outputs = [], {}
    for where, argv in views.items():
        out = run_bytes(argv)
        assert out.returncode == 0, (where, out.stderr)
        outputs[where] = text = out.stdout.decode("utf-8")
        for ch in JSON_HIDDEN:
            if ch in text:
                problems.append(f"{where}: U+{ord(ch):04X} written raw")
    assert not problems, "\n".join(problems)
    # Escaped, the text is still exactly what was given (one object per "\n"-separated line).
    decoded = {where: [json.loads(l) for l in text.split("\n") if l.strip()] for where, text in outputs.items()}
    assert decoded["show --json"][0]["command"] == ["/usr/bin/echo", word, word]
    assert decoded["show --json (reason)"][0]["reason"] == reason
    assert any(g["command"] == ["/usr/bin/echo", word, word] for g in decoded["grants --json"])
    assert any(e["fields"].get("command") == ["/usr/bin/echo", word, word] for e in decoded["log --json"])


# 17. Huge durations, far years, upper-case services -------------------------------------------------

def test_huge_durations_and_far_years_are_refused_in_one_line_never_a_crash(hi):
    """Attack: give `--since`/`-d` values whose microseconds overflow 64 bits (or an RFC 3339 year
    99999), hoping for a crash (a trap in the setuid binary) instead of a clean refusal.
    Must hold: exit 1 with one line on stderr; never killed by a signal."""
    n = file_request(hi, "/usr/bin/echo", "for-approve")
    refused = [
        (None, [hi.jitctl, "log", "--since", "99999999999999s"]),
        (None, [hi.jitctl, "log", "--since", "106751992d"]),
        (None, [hi.jitctl, "log", "--since", "9999999999999999m"]),
        (None, [hi.jitctl, "log", "--since", "99999-01-01T00:00:00Z"]),
        (DEV, [hi.jitctl, "log", "--since", "99999999999999s"]),
        (DEV, [hi.jitctl, "log", "--json", "--since", "99999-12-31T23:59:59Z"]),
        (DEV, [hi.jitctl, "request", "--rule", "bulk", "-r", "x", "-d", "99999999999999999h", "-S"]),
        (DEV, [hi.jitexec, "-S", "--no-wait", "-d", "99999999999999999h", "/usr/bin/echo", "x"]),
        (LEAD, [hi.jitctl, "approve", str(n), "-d", "99999999999999999h", "-S"]),
    ]
    # Values that parse: whatever they do, no crash (and a refusal is one line).
    survive = [
        (DEV, [hi.jitctl, "request", "--rule", "bulk", "-r", "y", "-d", "99999999999999s", "-S"]),
        (DEV, [hi.jitexec, "-S", "--no-wait", "-d", "99999999999999s", "/usr/bin/echo", "y"]),
    ]
    problems = []
    for user, argv in refused + survive:
        r = run_as(argv, user=user, input=password(user) + "\n" if user else None)
        shown = " ".join(argv[1:])
        if r.returncode < 0 or r.returncode >= 128:
            problems.append(f"{shown} as {user or 'root'}: killed (status {r.returncode}) {r.stderr[-300:]!r}")
            continue
        got = lines(without_prompts(r.stderr))
        if (user, argv) in refused and (r.returncode != 1 or len(got) != 1):
            problems.append(f"{shown} as {user or 'root'}: status {r.returncode}, stderr {got!r}")
        elif r.returncode == 1 and len(got) != 1:
            problems.append(f"{shown} as {user or 'root'}: refusal is not one line: {got!r}")
    assert not problems, "\n".join(problems)
    assert show(hi, n)["status"] == "pending"


def test_upper_case_service_in_a_login_table_is_a_check_error(hi):
    """Attack (policy mistake an attacker profits from): `services = ["SSHD"]` never matches, because
    Linux-PAM lowercases service names, so the [[login]] gate silently lets everyone in.
    Must hold: `jitctl check` reports an error at that line saying PAM lowercases service names; exit 1."""
    path = as_dev_file(f"{HOME}/login.toml", """\
[settings]
admins = ["%jit-admins"]

[[login]]
users = ["%jit-developers"]
services = ["SSHD"]
approvers = ["%jit-sre-leads"]
""")
    for user in (DEV, None):
        r = run([hi.jitctl, "check", path], user=user)
        assert r.returncode == 1, (user, r.returncode, r.stdout, r.stderr)
        err = [l for l in r.stdout.splitlines() if l.startswith(f"{path}:6: error:")]
        assert err and "lower" in err[0].lower(), r.stdout


# 18. IDs the caller may not see, explain -U, the recorded tty, the pending limit -------------------

def normalized(line, number):
    return re.sub(rf"#{number}\b", "#N", re.sub(rf"\b{number}\b", "N", line))


def test_actions_on_ids_the_caller_may_not_see_answer_like_missing_ids(hi):
    """Attack: a user with no rules walks request and grant ids with approve/deny/cancel/revoke/show
    to learn which exist, whose they are and under which rule.
    Must hold: on an ID the caller may not see, each verb gives the same exit status and line as on
    an ID that does not exist."""
    n = file_request(hi, "/usr/bin/echo", "private")
    decided = file_request(hi, "/usr/bin/echo", "decided")
    g = grant_id(approve(hi, decided, LEAD))
    missing_request, missing_grant = 987654, 876543
    leaks = []
    for verb, hidden, missing in (("approve", n, missing_request), ("deny", n, missing_request),
                                  ("cancel", n, missing_request), ("approve", decided, missing_request),
                                  ("show", n, missing_request), ("revoke", g, missing_grant)):
        extra = [] if verb == "show" else ["-S"]
        a = jitctl(hi, verb, str(hidden), *extra, user=OUT)
        b = jitctl(hi, verb, str(missing), *extra, user=OUT)
        la = [normalized(l, hidden) for l in lines(without_prompts(a.stderr))]
        lb = [normalized(l, missing) for l in lines(without_prompts(b.stderr))]
        if (a.returncode, la) != (b.returncode, lb):
            leaks.append(f"{verb} #{hidden}: {a.returncode} {la!r} vs missing: {b.returncode} {lb!r}")
        assert a.returncode != 0 and len(lb) == 1, (verb, a.returncode, a.stderr, b.stderr)
    assert not leaks, "\n".join(leaks)
    assert show(hi, n)["status"] == "pending" and grants_live(hi, g)


def grants_live(inst, g):
    r = run([inst.jitctl, "grants", "--json"])
    return any(json.loads(l)["id"] == g for l in r.stdout.splitlines() if l.strip())


def test_explain_for_another_user_is_for_admins_only(hi):
    """Attack: a non-admin runs `jitctl explain -U OTHER -- CMD` to map other users' groups and rights.
    Must hold: refused, exit 1, one line, nothing on stdout; root still may."""
    r = run([hi.jitctl, "explain", "-U", LEAD, "--", "/usr/bin/id", "-un"], user=DEV)
    assert f"user:     {LEAD}" not in r.stdout, f"a non-admin saw {LEAD}'s groups: {r.stdout!r}"
    refusal(r)
    assert r.stdout == ""
    root = run([hi.jitctl, "explain", "-U", DEV, "--", "/usr/bin/id", "-un"])
    assert root.returncode == 0 and f"user:     {DEV}" in root.stdout, root.stdout + root.stderr


TTY_PROBE = """\
import os, sys
master, slave = os.openpty()
os.set_inheritable(master, True)  # a pty whose master is closed is no terminal any more
print("CTTY=" + os.ttyname(2), "OTHER=" + os.ttyname(slave), flush=True)
os.dup2(slave, 0)
os.execv(sys.argv[1], sys.argv[1:])
"""


def test_recorded_tty_is_the_controlling_terminal_not_stdin(hi):
    """Attack: run jitexec from one terminal with standard input another pty the user opened, so the
    request (and approvers' "from which terminal" view) names a terminal the request did not come from.
    Must hold: the recorded tty is the controlling terminal of the process (tty_nr of
    /proc/self/stat), not what is on fds 0-2."""
    child = spawn(hi, DEV, ["/usr/bin/python3", "-c", TTY_PROBE, hi.jitexec, "--no-wait", "/usr/bin/echo", "tty"],
                  timeout=60)
    try:
        child.expect(r"CTTY=(\S+) OTHER=(\S+)")
        ctty, other = child.match.group(1), child.match.group(2)
        child.expect(PASSWORD_PROMPT)
        child.sendline(password(DEV))
        status, seen = finish(child, timeout=90)
    finally:
        child.close(force=True)
    assert status == 75, (status, seen)
    assert ctty != other
    n = request_id(seen)
    recorded = filed_record(hi, n).get("tty")
    shown = field_line(human_show(hi, n), "tty")
    short = ctty.removeprefix("/dev/")
    for where, value in (("request.filed", recorded), ("jitctl show", shown)):
        assert value in (ctty, short), f"{where} records tty {value!r}; the controlling terminal is {ctty} " \
                                       f"(stdin was {other})"


def test_eleventh_pending_request_is_refused(hi):
    """Attack: file pending requests without end (each a row, an audit record and a notification to
    every approver).
    Must hold: at most 10 pending requests per user: the 11th is refused (exit 1, one line naming the
    limit and `jitctl cancel`); nothing more is filed."""
    for i in range(10):
        file_request(hi, "/usr/bin/echo", f"pending-{i}")
    r = jitexec(hi, "--no-wait", "/usr/bin/echo", "pending-10")
    assert r.returncode != 75, f"the 11th pending request was filed: {r.stderr!r}"
    line = refusal(r)
    assert "10" in line and "jitctl cancel" in line, line
    assert len(requests(hi, all=False)) == 10
    assert len(events(hi, "request.filed")) == 10


# 19. The arguments as the kernel passed them: an empty argv, an empty argv[0] ---------------------

# execve(path, argv, {PATH}) through libc, so argv may be empty or start with "" (Python's os.execv
# refuses both). The kernel passes an empty argv on as one empty argv[0] (Linux 5.18 and later).
EXECVE = """
import ctypes, sys
argv = [a.encode() for a in sys.argv[2:]]
c_argv = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
c_env = (ctypes.c_char_p * 2)(b"PATH=/usr/bin:/bin", None)
ctypes.CDLL(None, use_errno=True).execve(sys.argv[1].encode(), c_argv, c_env)
sys.exit(f"execve failed: {ctypes.get_errno()}")
"""


def exec_raw(program, *argv):
    return run_as(["python3", "-c", EXECVE, program, *argv])


def test_an_empty_argv_or_argv0_reaches_the_parsers_as_no_arguments(hi):
    """Attack: start jitexec and jitctl with no argv at all (argc 0, the pkexec CVE-2021-4034 shape)
    or with an empty argv[0], so that whatever finds the arguments (the binaries' start-up code
    hands them to Swift's CommandLine, CJitexecStartup/arguments.c) reads past them.
    Must hold: jitexec with no arguments refuses in one line naming --help, runs nothing and files
    nothing; the arguments after an empty argv[0] are read as given (-V, jitctl --version); jitctl
    with no arguments prints its usage; no crash (a signal or 134)."""
    line = refusal(exec_raw(hi.jitexec))
    assert "no command" in line and "--help" in line, line
    for program, flag in ((hi.jitexec, "-V"), (hi.jitctl, "--version")):
        r = exec_raw(program, "", flag)
        assert r.returncode == 0 and r.stdout.startswith(("jitexec ", "jitctl ")), \
            (program, r.returncode, r.stdout, r.stderr)
    r = exec_raw(hi.jitctl)
    assert r.returncode == 0 and "USAGE: jitctl <subcommand>" in r.stdout, (r.returncode, r.stdout, r.stderr)
    assert requests(hi) == [] and events(hi, "exec.start") == []
