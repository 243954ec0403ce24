"""Helpers for the request -> approve -> run loop tests (test_loop.py): running the installed
binaries as real users without a terminal (each run in a new session, so no controlling terminal
is ever inherited from whoever started pytest), in the background while someone else approves,
and through a real pseudo-terminal with pexpect."""
import contextlib
import json
import os
import pwd
import re
import subprocess
import threading
import time

import pexpect

BASE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def password(user):
    return f"pw-{user}-secret"


def user_kwargs(user):
    if user is None:
        return {}
    pw = pwd.getpwnam(user)
    return dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=os.getgrouplist(user, pw.pw_gid))


def environment(env=None, base=True):
    merged = dict(BASE_ENV) if base else {}
    merged.update(env or {})
    return merged


def with_policy(inst, text):
    """A fixture's body: installs `text` as the policy (it must pass `jitctl check`) with no cached
    credentials, yields the install, and afterwards checks that the audit chain still verifies."""
    inst.write_policy(text)
    clear_credential_cache(inst)
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, check.stdout + check.stderr
    yield inst
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, v.stdout + v.stderr


def clear_credential_cache(inst):
    """Forgets every cached credential of the install (RUNDIR/jitexec)."""
    cache = f"{inst.prefix}/run/jitexec"
    if os.path.isdir(cache):
        for name in os.listdir(cache):
            os.unlink(os.path.join(cache, name))


def run(argv, user=None, input=None, env=None, timeout=90):
    """Like Install.run, but in a new session: never a controlling terminal, its own process group."""
    return subprocess.run(argv, capture_output=True, text=True, env=environment(env), input=input,
                          timeout=timeout, cwd="/", start_new_session=True, **user_kwargs(user))


class Background:
    """A process running as `user` while the test does other things; stdout and stderr are
    collected by threads, so the test can wait for a line to appear on either."""

    def __init__(self, argv, user, input=None, env=None):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=environment(env), cwd="/", start_new_session=True, **user_kwargs(user))
        if input is not None:
            self.proc.stdin.write(input.encode())
        self.proc.stdin.close()
        self._buffers = {"out": bytearray(), "err": bytearray()}
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, "out"), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, "err"), daemon=True)]
        for t in self._threads:
            t.start()
        self.started = time.monotonic()

    @property
    def pid(self):
        return self.proc.pid

    def _pump(self, stream, name):
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self._cond.notify_all()
                    return
                self._buffers[name] += chunk
                self._cond.notify_all()

    def text(self, stream="err"):
        with self._cond:
            return self._buffers[stream].decode("utf-8", "replace")

    def wait_for(self, pattern, stream="err", timeout=30):
        """The first match of `pattern` in the stream, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        with self._cond:
            while True:
                m = regex.search(self._buffers[stream].decode("utf-8", "replace"))
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not any(t.is_alive() for t in self._threads)):
                    raise AssertionError(
                        f"{pattern!r} did not appear on std{stream} of {self.argv} within {timeout}s "
                        f"(exit {self.proc.poll()}):\nstdout: {self.text_unlocked('out')!r}\n"
                        f"stderr: {self.text_unlocked('err')!r}")
                self._cond.wait(min(left, 0.2))

    def text_unlocked(self, stream):
        return self._buffers[stream].decode("utf-8", "replace")

    def finish(self, timeout=60):
        """Waits for the exit; returns (status, stdout, stderr). Kills the process on a timeout."""
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.argv} still running after {timeout}s:\nstdout: {self.text('out')!r}\n"
                                 f"stderr: {self.text('err')!r}")
        for t in self._threads:
            # A grandchild may still hold a pipe open: take what there is after a short grace period.
            t.join(timeout=5)
        return status, self.text("out"), self.text("err")

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait(timeout=10)


def spawn(inst, user, argv, env=None, timeout=30, reset_env=True, dimensions=(40, 250)):
    """`argv` as `user` on a new pseudo-terminal (its own session, `dimensions` rows and columns),
    through setpriv, with pexpect."""
    pw = pwd.getpwnam(user)
    args = [f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups"]
    if reset_env:
        args.append("--reset-env")
    child = pexpect.spawn("setpriv", args + list(argv), env=environment(dict({"TERM": "dumb"}, **(env or {}))),
                          encoding="utf-8", codec_errors="replace", timeout=timeout, cwd="/",
                          dimensions=dimensions)
    return child


def finish(child, timeout=60):
    """Waits for the pexpect child to end; returns (exit status or 128+signal, all output seen)."""
    child.expect(pexpect.EOF, timeout=timeout)
    seen = child.before
    child.wait()
    status = child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus
    child.close()
    return status, seen


def interactive(inst, user, argv, answer=None, timeout=60):
    """Runs `argv` as `user` on a terminal, typing the user's password when asked.
    Returns (status, everything printed on the terminal)."""
    child = spawn(inst, user, argv, timeout=timeout)
    transcript = ""
    i = child.expect([PASSWORD_PROMPT, pexpect.EOF], timeout=timeout)
    transcript += child.before + (child.after if i == 0 else "")
    if i == 0:
        child.sendline(answer if answer is not None else password(user))
        status, rest = finish(child, timeout)
        return status, transcript + rest
    child.wait()
    status = child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus
    child.close()
    return status, transcript


def approve(inst, request_id, user="jit-lead1", *extra):
    """`jitctl approve ID -S` as `user` (password on stdin), in its own process."""
    return run([inst.jitctl, "approve", str(request_id), "-S", *extra], user=user, input=password(user) + "\n")


# The prompt for the caller's own password: the program and the user, like sudo's
# `[sudo] password for alice: ` (PAM's generic "Password: " is replaced).
PASSWORD_PROMPT = r"\[(?:jitexec|jitctl)\] password for [a-z0-9_.-]+: "


def without_prompts(text):
    """`text` without the password prompts that -S writes to stderr (no newline after them)."""
    return re.sub(PASSWORD_PROMPT, "", text)


AUDIT_KEYS = {"schema", "seq", "time", "host", "event", "actor", "fields", "prev_hash", "hash"}


def audit_record(record):
    """One `jitctl log --json` record (a notifier's stdin too), checked against its documented shape
    (jitexec-formats(5): schema jitexec.audit, the event's own fields under `fields`), then returned
    with those fields spread beside the record's keys (the record's win), for lookups."""
    if isinstance(record, (str, bytes)):
        record = json.loads(record)
    assert set(record) == AUDIT_KEYS, f"not the jitexec.audit shape: {sorted(record)}"
    assert record["schema"] == {"name": "jitexec.audit", "version": 1}, record["schema"]
    assert isinstance(record["fields"], dict), record
    return {**record["fields"], **{k: v for k, v in record.items() if k != "fields"}}


def audit_lines(stdout):
    """`audit_record` of every line of a `jitctl log --json` output."""
    return [audit_record(line) for line in stdout.splitlines() if line.strip()]


def log(inst):
    """The whole audit log, as root (see `audit_record`)."""
    r = run([inst.jitctl, "log", "--json"])
    assert r.returncode == 0, r.stderr
    return audit_lines(r.stdout)


def events(inst, *names):
    return [rec for rec in log(inst) if not names or rec["event"] in names]


def requests(inst, all=True):
    r = run([inst.jitctl, "requests", "--json"] + (["--all"] if all else []))
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def show(inst, request_id, user=None):
    r = run([inst.jitctl, "show", str(request_id), "--json"], user=user)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def grants(inst, all=True):
    r = run([inst.jitctl, "grants", "--json"] + (["--all"] if all else []))
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


FILED = re.compile(r"request #(\d+) filed")
ANY_ID = re.compile(r"request #(\d+)")
GRANTED = re.compile(r"approved request #(\d+): grant #(\d+) for (\S+) as (\S+) for \S+, until")


def filed_id(text):
    m = FILED.search(text)
    assert m, f"no 'request #N filed' line in: {text!r}"
    return int(m.group(1))


def request_id(text):
    m = ANY_ID.search(text)
    assert m, f"no request id in: {text!r}"
    return int(m.group(1))


def grant_id(approve_result):
    m = GRANTED.search(approve_result.stdout)
    assert approve_result.returncode == 0 and m, (approve_result.returncode, approve_result.stdout,
                                                   approve_result.stderr)
    return int(m.group(2))

def together(count, work):
    """Runs work(i) for i in 0..count-1 in threads released at the same instant; the results in order."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def one(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as e:  # noqa: BLE001 - reported by the assertions below
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, r in enumerate(results):
        assert not isinstance(r, BaseException), f"worker {i}: {r!r}"
    return results


@contextlib.contextmanager
def pam_service(inst, text):
    """Replaces the PAM service file (None: removes it) and puts the installed one back afterwards."""
    with open(inst.pam, "rb") as f:
        saved = f.read()
    os.unlink(inst.pam)
    try:
        if text is not None:
            with open(inst.pam, "w") as f:
                f.write(text)
            os.chmod(inst.pam, 0o644)
        yield
    finally:
        if os.path.exists(inst.pam):
            os.unlink(inst.pam)
        with open(inst.pam, "wb") as f:
            f.write(saved)
        os.chown(inst.pam, 0, 0)
        os.chmod(inst.pam, 0o644)
