"""The policy, fixture and helpers of test_sessions.py (issue 10): recorded sessions, their files, the
real asciinema client, the processes a test leaves behind (ended by pid), and the sessions folder
reset before and after every test."""
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import tempfile
import time

import pexpect
import pytest

from loop_support import PASSWORD_PROMPT, approve, clear_credential_cache, environment, events, finish, grant_id, password, run, spawn

DEV = "jit-dev1"
DEV_PW = password(DEV) + "\n"
SH = "/usr/bin/sh"
SIGNALLED = (128 + 1, 128 + 15)  # SIGHUP or SIGTERM: how jitexec ends a command (SIGKILL only after 5 s)
ASCIINEMA = "/usr/bin/asciinema"

SETTINGS = """\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"
request_ttl = "1h"
default_grant = "15m"
max_grant = "4h"
wait_timeout = "2m"
env_keep = ["TERM", "LANG", "LC_*", "TZ", "COLORTERM"]
admins = ["%jit-admins"]
"""


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def rule(name, action="approve", commands=(f"{SH} -c *",), **keys):
    """One [[rule]] for %jit-developers; approve rules are decided by one of %jit-sre-leads."""
    lines = ["[[rule]]", f'name = "{name}"', 'users = ["%jit-developers"]', f"commands = {toml_value(commands)}",
             f'action = "{action}"']
    if action == "approve":
        lines += ['approvers = ["%jit-sre-leads"]', "approvals = 1", 'reason = "optional"']
    lines += [f"{key} = {toml_value(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def policy(*rules, **settings):
    extra = "".join(f"{key} = {toml_value(value)}\n" for key, value in settings.items())
    return SETTINGS + extra + "\n" + "\n".join(rules)


def sessions_dir(inst):
    return f"{inst.prefix}/var/log/jitexec/sessions"


# Processes a test starts carry a marker ("600.NNNNNNN": `sleep 600.NNNNNNN`, or `: 600.NNNNNNN;` in
# a script) so that what is left of them is found, and ended by pid, whatever jitexec did.
_MARKERS = []


def marker():
    m = f"600.{random.randint(10**6, 10**7 - 1)}"
    _MARKERS.append(m)
    return m


def pids_of(m):
    r = subprocess.run(["pgrep", "-f", re.escape(m)], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split() if int(p) != os.getpid()]


def wait_gone(m, timeout):
    """The pids still carrying marker `m` after up to `timeout` seconds ([] once they are all gone)."""
    deadline = time.monotonic() + timeout
    while True:
        left = pids_of(m)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def end_marked():
    for m in _MARKERS:
        for pid in pids_of(m):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _MARKERS.clear()


def unmount_sessions(inst):
    while os.path.ismount(sessions_dir(inst)):
        if subprocess.run(["umount", sessions_dir(inst)]).returncode != 0:
            subprocess.run(["umount", "-l", sessions_dir(inst)], check=True)


def clear_sessions(inst):
    d = sessions_dir(inst)
    if os.path.isdir(d):
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))


@pytest.fixture
def sess(inst):
    """The install with an empty store, an empty sessions folder and an empty credential cache.
    Afterwards: whatever the test started is ended, no mount is left, and `jitctl verify` (which
    checks every recording an exec.end names) passes on what the test left behind."""
    clear_credential_cache(inst)
    unmount_sessions(inst)
    clear_sessions(inst)
    try:
        yield inst
        v = run([inst.jitctl, "verify"])
        assert v.returncode == 0, f"jitctl verify after the test: {v.stdout}{v.stderr}"
    finally:
        end_marked()
        unmount_sessions(inst)
        clear_sessions(inst)
        clear_credential_cache(inst)


def load(inst, text):
    inst.write_policy(text)
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, f"the policy does not load: {check.stdout}{check.stderr}"


def jitexec(inst, *argv, user=DEV, timeout=90):
    """jitexec -S ARGV as `user` without a terminal, the password on stdin."""
    return run([inst.jitexec, "-S", *argv], user=user, input=password(user) + "\n", timeout=timeout)


def pty_approved(inst, script, duration=None, approver="jit-lead1", argv=None):
    """`jitexec sh -c SCRIPT` (or `jitexec ARGV`) as jit-dev1 on a terminal: the password typed, the
    request filed and approved by `approver` (for `duration` when given). Returns (pexpect child,
    request, grant, the monotonic time the approval was given by)."""
    child = spawn(inst, DEV, [inst.jitexec, *(argv or [SH, "-c", script])], timeout=30)
    child.expect(PASSWORD_PROMPT)
    child.sendline(password(DEV))
    child.expect(r"request #(\d+) filed")
    n = int(child.match.group(1))
    g = grant_id(approve(inst, n, approver, *(["-d", duration] if duration else [])))
    approved = time.monotonic()
    child.expect(rf"request #{n} approved by {approver}; running", timeout=10)
    return child, n, g, approved


def wait_event(inst, name, count=1, timeout=20):
    """The first `count` audit records named `name`, waiting for them up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = events(inst, name)
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"no {count} {name} record(s) within {timeout}s: {found}"
        time.sleep(0.1)


def the_end(inst):
    """The (exec.start, exec.end) of the one command the test ran, with the same session id."""
    (start,) = events(inst, "exec.start")
    (end,) = events(inst, "exec.end")
    assert isinstance(start.get("session"), int) and start["session"] == end.get("session"), (start, end)
    return start, end


def sessions(inst, user=None, *args):
    """`jitctl sessions --json ARGS` as `user`: the session rows (JSON Lines, one session a line)."""
    r = run([inst.jitctl, "sessions", "--json", *args], user=user)
    assert r.returncode == 0, (user, r.returncode, r.stdout, r.stderr)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def session_row(inst, s, *args, user=None):
    rows = [row for row in sessions(inst, user, *args) if row["id"] == s]
    assert len(rows) == 1, (s, sessions(inst, user, *args))
    return rows[0]


def read_cast(path):
    """(raw bytes, header, events) of an asciicast v2 file; every line must be JSON."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == "", f"{path} does not end with a newline: {data[-200:]!r}"
    header = json.loads(lines[0])
    evs = [json.loads(line) for line in lines[1:-1]]
    for e in evs:
        assert len(e) == 3 and isinstance(e[0], (int, float)) and e[1] in ("o", "i", "r"), e
    return data, header, evs


def output_of(evs, kind="o"):
    return "".join(e[2] for e in evs if e[1] == kind)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def assert_root_only(inst, path):
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o600), (path, st)
    d = os.stat(os.path.dirname(path))
    assert os.path.dirname(path) == sessions_dir(inst)
    assert d.st_uid == 0 and d.st_mode & 0o7777 == 0o700, oct(d.st_mode)


def assert_recorded_end(inst, end, path):
    """exec.end names the recording at `path` with its size and SHA-256 as they are on disk."""
    with open(path, "rb") as f:
        data = f.read()
    assert (end.get("recording"), end.get("recording_size"), end.get("recording_sha256")) == \
        (path, len(data), sha256(data)), end
    return data


def asciinema_cat(path):
    """`asciinema cat PATH` of the Debian package, as root; it opens /dev/tty, so it runs on a
    pseudo-terminal with its stdout sent to a file. Returns the bytes it printed."""
    if not os.path.exists(ASCIINEMA):
        message = f"{ASCIINEMA} (Debian package asciinema) is not installed"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must install it")
        pytest.skip(message + "; run 'apt-get install asciinema'")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        child = pexpect.spawn(SH, ["-c", f"{ASCIINEMA} cat {path} > {out}"], timeout=30, cwd="/",
                              env=environment({"TERM": "dumb", "ASCIINEMA_CONFIG_HOME": tmp}))
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, (child.exitstatus, child.before)
        with open(out, "rb") as f:
            return f.read()


def restore(path, data):
    """Puts a recording back as jitexec wrote it (root, 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chown(path, 0, 0)
    os.chmod(path, 0o600)


def copy_out(path):
    with open(path, "rb") as f:
        return f.read()


PROBE = "printf 'Z%s=%s\\n' 1 \"$0\"; printf 'P%s=%s\\n' 1 \"$(pwd)\"; exit"


def shell_session(inst, argv):
    """ARGV (jitexec -i or -s) as jit-dev1 on a terminal: types PROBE at root's prompt; returns
    (exit status, the shell's $0, its working directory)."""
    child = spawn(inst, DEV, argv, timeout=30)
    try:
        child.expect(PASSWORD_PROMPT)
        child.sendline(password(DEV))
        child.expect_exact("# ")  # root's prompt
        child.sendline(PROBE)
        child.expect(r"Z1=(\S+)\r\n")
        zero = child.match.group(1)
        child.expect(r"P1=(\S+)\r\n")
        where = child.match.group(1)
        status, _ = finish(child)
    finally:
        child.close(force=True)
    return status, zero, where
