"""Fail closed (issue 4, item 3): when something jitexec depends on is missing, locked, damaged, full
or failing, nothing runs, and the person sees one line saying why and what to do next.

Every test injects one fault into the installed setuid binary's world (the policy, the SQLite store,
the state file system, the PAM service, the terminal during the password prompt, the audit write),
runs jitexec or jitctl as a real user, and checks: exit status 1, one stderr line, empty stdout, the
command did not run (its mark file is absent), and, once the fault is removed, no half-written rows
and a chain that `jitctl verify` accepts."""
import contextlib
import errno
import os
import re
import signal
import sqlite3
import subprocess
import time

import pexpect
import pytest

from loop_support import (PASSWORD_PROMPT, approve, clear_credential_cache, events, grant_id, pam_service, password,
                          request_id, requests, run, spawn)

MARK = "/tmp/jitexec-itF-mark"
OTHER_MARK = "/tmp/jitexec-itF-mark-2"
ALLOWED_MARK = "/tmp/jitexec-itF-mark-allowed"
MARKS = (MARK, OTHER_MARK, ALLOWED_MARK)
DEV = "jit-dev1"
LEAD = "jit-lead1"

POLICY = f"""\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "5m"
request_ttl = "1h"
default_grant = "15m"
max_grant = "4h"
wait_timeout = "2m"
admins = ["%jit-admins"]

[[rule]]
name = "gated"
users = ["%jit-developers"]
commands = ["/usr/bin/touch {MARK}", "/usr/bin/touch {OTHER_MARK}"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"

[[rule]]
name = "plain"
users = ["%jit-developers"]
commands = ["/usr/bin/touch {ALLOWED_MARK}"]
action = "allow"
"""


def remove_marks():
    for mark in MARKS:
        if os.path.exists(mark):
            os.unlink(mark)


@pytest.fixture
def fc(inst):
    """The install with the policy above, an empty store and credential cache, no mark files.
    Afterwards (every fault removed by the test itself) the audit chain must verify."""
    inst.write_policy(POLICY)
    clear_credential_cache(inst)
    remove_marks()
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, f"the policy does not load: {check.stdout}{check.stderr}"
    yield inst
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, f"jitctl verify after the test: {v.stdout}{v.stderr}"
    clear_credential_cache(inst)
    remove_marks()


def jitexec(inst, *argv, user=DEV, timeout=90):
    """jitexec -S ARGV as `user`, the password on stdin, in a session of its own (no terminal)."""
    return run([inst.jitexec, "-S", *argv], user=user, input=password(user) + "\n", timeout=timeout)


def refused(r, *needles, program="jitexec"):
    """Exit 1, nothing on stdout, exactly one stderr line from `program` holding every needle.
    With -S the password prompt goes to stderr without a newline (as sudo -S does); it is not part
    of the refusal, so a leading prompt is set aside."""
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout
    text = r.stderr
    text = re.sub("^" + PASSWORD_PROMPT, "", text)
    lines = text.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"want exactly one line on stderr, got {r.stderr!r}"
    line = lines[0]
    assert line.startswith(f"{program}: "), line
    assert "Fatal error" not in line and "backtrace" not in line.lower(), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def nothing_ran():
    for mark in MARKS:
        assert not os.path.exists(mark), f"{mark} exists: the command ran"


@contextlib.contextmanager
def database(inst):
    """A connection to the store as root (autocommit; files it creates stay root-only)."""
    old = os.umask(0o077)
    con = sqlite3.connect(inst.db, isolation_level=None, timeout=30)
    try:
        yield con
    finally:
        con.close()
        os.umask(old)


def query(inst, sql, *args):
    with database(inst) as con:
        return con.execute(sql, args).fetchall()


def create_store(inst):
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0 and os.path.exists(inst.db), (v.stdout, v.stderr)


def file_request(inst, *argv, extra=()):
    r = jitexec(inst, *extra, "--no-wait", *argv)
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    return request_id(r.stderr)


def once_grant(inst, *argv):
    """A live single-use grant for exactly ARGV: (request id, grant id)."""
    n = file_request(inst, *argv, extra=("--once",))
    return n, grant_id(approve(inst, n, LEAD))


def uses_left(inst, g):
    ((left,),) = query(inst, "SELECT uses_left FROM grants WHERE id = ?", g)
    return left


def no_exec(inst):
    assert events(inst, "exec.start", "exec.end") == []


# 1. The policy ----------------------------------------------------------------------------------

def test_missing_policy_refuses_every_run(fc):
    # Compiled once while the policy was there: the leftover compiled copy must not be used.
    assert jitexec(fc, "/usr/bin/touch", ALLOWED_MARK).returncode == 0
    os.unlink(ALLOWED_MARK)
    os.unlink(fc.policy)
    try:
        for argv in (["/usr/bin/touch", ALLOWED_MARK], ["--no-wait", "/usr/bin/touch", MARK]):
            r = jitexec(fc, *argv)
            refused(r, fc.policy, "does not exist", "make install")
        r = run([fc.jitexec, "-l"], user=DEV)
        refused(r, fc.policy, "does not exist")
        r = run([fc.jitctl, "check"], user=DEV)
        refused(r, fc.policy, "does not exist", program="jitctl")
        nothing_ran()
    finally:
        fc.write_policy(POLICY)
    assert requests(fc) == []
    assert len(events(fc, "exec.start")) == 1


def test_invalid_policy_drop_in_refuses_every_run(fc):
    dropin = fc.write_policy('[[rule]]\nname = "broken"\naction = "sometimes"\n', path=f"{fc.confdir}/policy.d/50-bad.toml")
    try:
        for argv in (["/usr/bin/touch", ALLOWED_MARK], ["--no-wait", "/usr/bin/touch", MARK]):
            r = jitexec(fc, *argv)
            refused(r, "the policy is invalid", f"{dropin}:", "jitctl check")
        nothing_ran()
    finally:
        os.unlink(dropin)
    assert requests(fc) == []
    no_exec(fc)
    assert [e["actor"] for e in events(fc, "policy.invalid")] == [DEV, DEV]


# 2. The store locked past the busy timeout ------------------------------------------------------

@contextlib.contextmanager
def locked_store(inst):
    """Holds the database's write lock (BEGIN EXCLUSIVE) as root until the block ends."""
    with database(inst) as con:
        con.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            con.execute("ROLLBACK")


def test_locked_store_refuses_to_file_a_request(fc):
    create_store(fc)
    with locked_store(fc):
        start = time.monotonic()
        r = jitexec(fc, "--no-wait", "/usr/bin/touch", MARK)
        waited = time.monotonic() - start
    refused(r, fc.db, "locked", "try again")
    assert waited >= 4, f"gave up after {waited:.1f}s, before the 5 s busy timeout"
    nothing_ran()
    assert query(fc, "SELECT count(*) FROM requests") == [(0,)]
    assert events(fc, "request.filed") == []


def test_locked_store_refuses_a_run_under_a_live_grant(fc):
    n, g = once_grant(fc, "/usr/bin/touch", MARK)
    with locked_store(fc):
        r = jitexec(fc, "--no-wait", "/usr/bin/touch", MARK)
    refused(r, fc.db, "locked", "try again")
    nothing_ran()
    assert uses_left(fc, g) == 1, "the grant's use was taken although nothing ran"
    assert events(fc, "grant.used") == []
    no_exec(fc)
    # The fault removed, the same grant still works.
    ok = jitexec(fc, "--no-wait", "/usr/bin/touch", MARK)
    assert ok.returncode == 0, (ok.stdout, ok.stderr)
    assert os.path.exists(MARK) and uses_left(fc, g) == 0


# 3. A damaged store ------------------------------------------------------------------------------

def damage(inst, how):
    """Checkpoints the store into its main file, then damages that file."""
    with database(inst) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        if os.path.exists(inst.db + suffix):
            os.unlink(inst.db + suffix)
    size = os.path.getsize(inst.db)
    with open(inst.db, "r+b") as f:
        if how == "garbage":
            f.write(os.urandom(size))
        else:
            f.truncate(size // 2 + 100)


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_corrupt_store_refuses(fc, how):
    n, g = once_grant(fc, "/usr/bin/touch", MARK)
    damage(fc, how)
    try:
        for argv in (["--no-wait", "/usr/bin/touch", MARK], ["--no-wait", "/usr/bin/touch", OTHER_MARK],
                     ["/usr/bin/touch", ALLOWED_MARK]):
            r = jitexec(fc, *argv)
            refused(r, fc.db, "damaged", "backup")
        r = run([fc.jitctl, "verify"], user=DEV)
        refused(r, fc.db, "damaged", program="jitctl")
        nothing_ran()
    finally:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(fc.db + suffix):
                os.unlink(fc.db + suffix)


# 4. The state file system full -------------------------------------------------------------------

@contextlib.contextmanager
def small_state_filesystem(inst, size="2m"):
    """A small tmpfs (root-only, like the real state directory) mounted over the state directory."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", inst.statedir], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", inst.statedir], check=True)


def fill(path):
    """Writes a root-owned file until the file system has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 4096, 1):
            data = b"\0" * chunk
            while True:
                try:
                    os.write(fd, data)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    finally:
        os.close(fd)


def test_full_state_directory_refuses(fc):
    with small_state_filesystem(fc):
        n, g = once_grant(fc, "/usr/bin/touch", MARK)
        filler = f"{fc.statedir}/filler"
        fill(filler)
        try:
            for argv in (["--no-wait", "/usr/bin/touch", OTHER_MARK], ["--no-wait", "/usr/bin/touch", MARK],
                         ["/usr/bin/touch", ALLOWED_MARK]):
                r = jitexec(fc, *argv)
                refused(r, fc.db, "not full")
                # SQLite reports a full disk as SQLITE_FULL or, when the write itself fails, SQLITE_IOERR
                # with the system's reason: either way the line says so.
                assert "No space left on device" in r.stderr or "disk is full" in r.stderr, r.stderr
            nothing_ran()
        finally:
            os.unlink(filler)
        assert [r["id"] for r in requests(fc)] == [n], "a request was left behind"
        assert query(fc, "SELECT count(*) FROM grants") == [(1,)]
        assert uses_left(fc, g) == 1, "the grant's use was taken although nothing ran"
        no_exec(fc)
        v = run([fc.jitctl, "verify"])
        assert v.returncode == 0, (v.stdout, v.stderr)


# 5. The PAM service ------------------------------------------------------------------------------

def test_missing_pam_service_refuses_instead_of_falling_back_to_other(fc):
    # /etc/pam.d/other on Debian includes common-auth: the right password would authenticate.
    with pam_service(fc, None):
        for argv in (["/usr/bin/touch", ALLOWED_MARK], ["--no-wait", "/usr/bin/touch", MARK]):
            r = jitexec(fc, *argv)
            refused(r, f"PAM service file {fc.pam} does not exist", "make install", "pam/jitexec")
        r = run([fc.jitctl, "approve", "1", "-S"], user=LEAD, input=password(LEAD) + "\n")
        refused(r, f"{fc.pam} does not exist", "pam/jitexec", program="jitctl")
        nothing_ran()
    assert requests(fc) == []
    no_exec(fc)
    failures = events(fc, "auth.failure")
    assert [(e["actor"], e["reason"]) for e in failures] == [(DEV, "service_missing")] * 2 + [(LEAD, "service_missing")]


def test_untrusted_pam_service_refuses(fc):
    with pam_service(fc, open(fc.pam).read()):
        os.chmod(fc.pam, 0o666)
        r = jitexec(fc, "/usr/bin/touch", ALLOWED_MARK)
        refused(r, fc.pam, "writable by group or others", "chmod go-w")
        os.chmod(fc.pam, 0o644)
        os.chown(fc.pam, 1, 0)
        r = jitexec(fc, "/usr/bin/touch", ALLOWED_MARK)
        refused(r, fc.pam, "owned by uid 1", "chown root")
        nothing_ran()
    no_exec(fc)


def test_pam_folder_writable_by_all_refuses_even_when_sticky(fc):
    """Linux-PAM reads an `@include`d file whoever owns it: in a sticky /etc/pam.d that anyone may
    write, anyone could create a missing one. Sticky folders are allowed above a trusted file, not
    as the PAM service's own folder."""
    mode = os.stat("/etc/pam.d").st_mode & 0o7777
    os.chmod("/etc/pam.d", 0o1777)
    try:
        r = jitexec(fc, "/usr/bin/touch", ALLOWED_MARK)
    finally:
        os.chmod("/etc/pam.d", mode)
    refused(r, "/etc/pam.d", "writable by group or others", "chmod go-w")
    nothing_ran()
    no_exec(fc)


@pytest.mark.parametrize("auth_line,needles,reason", [
    ("auth required pam_jitexec_itF_no_such_module.so", ("PAM error", "Module is unknown", "system log"), "pam_error"),
    # Refused without a prompt: one line naming the service file, not three "incorrect password" tries.
    ("auth requisite pam_deny.so", ("PAM refused authentication without asking", "nothing was run"), "refused"),
])
def test_failing_pam_module_refuses(fc, auth_line, needles, reason):
    service = f"{auth_line}\n@include common-account\n@include common-session-noninteractive\n"
    with pam_service(fc, service):
        for argv in (["/usr/bin/touch", ALLOWED_MARK], ["--no-wait", "/usr/bin/touch", MARK]):
            r = jitexec(fc, *argv)
            line = refused(r, *needles)
            assert "incorrect password" not in line and "Sorry" not in r.stderr, r.stderr
            if reason == "refused":
                assert fc.pam in line, line
        nothing_ran()
    assert requests(fc) == []
    no_exec(fc)
    assert [e["reason"] for e in events(fc, "auth.failure")] == [reason, reason]


# 6. Signals at the password prompt ---------------------------------------------------------------

def cancelled_at_the_prompt(inst, interrupt):
    """Starts jitexec on a terminal, lets `interrupt(child)` act at the password prompt, and checks
    that it cancels: one line, exit 1, nothing ran, audited `auth.failure` (interrupted)."""
    child = spawn(inst, DEV, [inst.jitexec, "/usr/bin/touch", ALLOWED_MARK], timeout=30)
    try:
        child.expect(PASSWORD_PROMPT)
        child.send("half-typed")
        time.sleep(0.3)
        interrupt(child)
        child.expect(pexpect.EOF, timeout=10)
        seen = child.before
        child.wait()
    finally:
        child.close(force=True)
    assert child.exitstatus == 1, (child.exitstatus, child.signalstatus, seen)
    lines = [l for l in seen.replace("\r", "").split("\n") if l.strip()]
    assert lines == ["jitexec: authentication cancelled; nothing was run"], seen
    nothing_ran()
    assert [(e["actor"], e["reason"]) for e in events(inst, "auth.failure")] == [(DEV, "interrupted")]
    no_exec(inst)


def test_ctrl_z_at_the_password_prompt_runs_nothing(fc):
    cancelled_at_the_prompt(fc, lambda child: child.sendcontrol("z"))


def test_sigtstp_at_the_password_prompt_runs_nothing(fc):
    cancelled_at_the_prompt(fc, lambda child: os.kill(child.pid, signal.SIGTSTP))


def test_sighup_at_the_password_prompt_runs_nothing(fc):
    cancelled_at_the_prompt(fc, lambda child: os.kill(child.pid, signal.SIGHUP))


def test_sigterm_at_the_password_prompt_runs_nothing(fc):
    cancelled_at_the_prompt(fc, lambda child: os.kill(child.pid, signal.SIGTERM))


# 7. The audit write failing ----------------------------------------------------------------------

@contextlib.contextmanager
def failing_audit(inst):
    """Every INSERT into the audit table fails until the block ends."""
    with database(inst) as con:
        con.execute("CREATE TRIGGER jitexec_itF_fail BEFORE INSERT ON audit "
                    "BEGIN SELECT RAISE(ABORT, 'injected'); END")
    try:
        yield
    finally:
        with database(inst) as con:
            con.execute("DROP TRIGGER jitexec_itF_fail")


def test_failing_audit_write_files_no_request(fc):
    create_store(fc)
    with failing_audit(fc):
        r = jitexec(fc, "--no-wait", "/usr/bin/touch", MARK)
        refused(r, "the audit log in", "refused a record (injected)", "jitctl verify")
        nothing_ran()
    assert query(fc, "SELECT count(*) FROM requests") == [(0,)]
    assert events(fc) == []


def test_failing_audit_write_approves_nothing(fc):
    n = file_request(fc, "/usr/bin/touch", MARK)
    with failing_audit(fc):
        r = run([fc.jitctl, "approve", str(n), "-S"], user=LEAD, input=password(LEAD) + "\n")
        refused(r, "the audit log in", "refused a record (injected)", "jitctl verify", program="jitctl")
    assert query(fc, "SELECT count(*) FROM approvals") == [(0,)]
    assert query(fc, "SELECT count(*) FROM grants") == [(0,)]
    assert query(fc, "SELECT status FROM requests WHERE id = ?", n) == [("pending",)]
    assert events(fc, "approval.added", "request.approved", "grant.created") == []


def test_failing_audit_write_runs_nothing_under_a_live_grant(fc):
    n, g = once_grant(fc, "/usr/bin/touch", MARK)
    with failing_audit(fc):
        r = jitexec(fc, "--no-wait", "/usr/bin/touch", MARK)
        refused(r, "the audit log in", "refused a record (injected)", "jitctl verify")
        r = jitexec(fc, "/usr/bin/touch", ALLOWED_MARK)
        refused(r, "the audit log in", "refused a record (injected)", "jitctl verify")
        nothing_ran()
    assert uses_left(fc, g) == 1, "the grant's use was taken although nothing ran"
    assert events(fc, "grant.used") == []
    no_exec(fc)
