"""Issue 8 hardening, the process side (issue8-contract.md items 1, 2, 3, 11, 16 and 19): what an
unprivileged user can do to their own jitexec and jitctl processes — signal them, stop them on a
terminal, block their output, lower their resource limits, kill the helpers they start — must never
freeze the shared store for everyone else, let a command start after its grant ended, make a valid
policy count as invalid, or lose a notification or an `exec.end` record.

Every test sends the attack as a real user against the installed setuid binaries and asserts what
the contract says must hold. Where the attack on today's code needs a race (a stop landing while
the store's write lock is held), the race is driven by what any user may read (/proc/locks,
/proc/PID/stat) and bounded (tries and seconds); after the fixes the signal cannot be sent at all
(EPERM), and the tests assert that directly, so they do not depend on winning the race."""
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import sqlite3
import subprocess
import time

import pexpect
import pytest

from conftest import PAM_SERVICE
from loop_support import (PASSWORD_PROMPT, Background, approve, clear_credential_cache, events, finish, grant_id, password,
                          request_id, run, spawn, user_kwargs)
from test_failclosed import database, pam_service
from test_loop import PROMPT, shell, shell_run
from test_notify import notify_section

DEV = "jit-dev1"
LEAD = "jit-lead1"
OUT = "jit-out"  # in no group: no rule names them
PY = "/usr/bin/python3"  # the users' python (the one running pytest may live under /root)
# Owned by jit-dev1: the marks the commands (run as root) leave, which the attacker may remove.
WORK = "/tmp/jitexec-itHP"
BANKED = f"{WORK}/banked"
STARTED = f"{WORK}/started"
FINISHED = f"{WORK}/finished"
HUPPED = f"{WORK}/hupped"
# Root-owned: scripts root runs (the notifier, a PAM session logger) and what they write.
ROOTDIR = "/tmp/jitexec-itHP-root"
PAM_FILE = PAM_SERVICE.lower()
GATE_SERVICE = f"{PAM_FILE}-hpgate"
# The WAL write lock: byte 120 of the -shm file (SQLite's WALINDEX_LOCK_OFFSET + WAL_WRITE_LOCK).
WAL_WRITE_LOCK = "120"

POLICY = f"""\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"
request_ttl = "1h"
default_grant = "15m"
max_grant = "4h"
wait_timeout = "2m"
admins = ["%jit-admins"]

[[rule]]
name = "root-tools"
users = ["root"]
commands = ["/usr/bin/true"]
action = "allow"

[[rule]]
name = "shell"
users = ["%jit-developers"]
commands = ["/usr/bin/bash -c *"]
action = "allow"

[[rule]]
name = "banked"
users = ["%jit-developers"]
commands = ["/usr/bin/touch {BANKED}"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"

[[rule]]
name = "waited"
users = ["%jit-developers"]
commands = ["/usr/bin/id"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
"""

LOGIN = f"""
[[login]]
users = ["%jit-developers"]
services = ["{GATE_SERVICE}"]
approvers = ["%jit-sre-leads"]
approvals = 1
max_grant = "8h"
auto_request = true
"""


@pytest.fixture
def hp(inst):
    """The install with POLICY, an empty store and credential cache, a fresh WORK (jit-dev1's) and
    ROOTDIR (root's). Processes a test leaves stopped are listed in `hp.leftovers` and killed (by
    pid, after checking they are still the installed jitexec/jitctl); then the chain must verify."""
    inst.write_policy(POLICY)
    clear_credential_cache(inst)
    for d, owner in ((WORK, DEV), (ROOTDIR, "root")):
        shutil.rmtree(d, ignore_errors=True)
        os.mkdir(d, 0o755)
        pw = pwd.getpwnam(owner)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    inst.leftovers = []
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, f"the policy does not load: {check.stdout}{check.stderr}"
    yield inst
    for pid in inst.leftovers:
        end_process(inst, pid)
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, f"jitctl verify after the test: {v.stdout}{v.stderr}"
    clear_credential_cache(inst)
    shutil.rmtree(WORK, ignore_errors=True)
    shutil.rmtree(ROOTDIR, ignore_errors=True)


# What root and the user see of a process ---------------------------------------------------------

def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (state first), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def state(pid):
    fields = proc_stat(pid)
    return fields[0] if fields else None


def alive(pid):
    return state(pid) not in (None, "Z", "X")


def uid_fields(pid):
    """The `Uid:` line of /proc/PID/status: real, effective, saved, file-system uid."""
    with open(f"/proc/{pid}/status") as f:
        return next(line.split()[1:] for line in f if line.startswith("Uid:"))


def children(pid):
    """Live processes whose parent is `pid`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = proc_stat(int(name))
            if fields and fields[1] == str(pid) and fields[0] not in ("Z", "X"):
                found.append(int(name))
    return found


def exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def write_lock_held(pid, offset=None):
    """Whether `pid` holds a WRITE lock (at `offset`, when given) according to /proc/locks."""
    with open("/proc/locks") as f:
        for line in f:
            p = line.split()
            if len(p) >= 8 and p[1] != "->" and p[3] == "WRITE" and p[4] == str(pid):
                if offset is None or p[6] == offset:
                    return True
    return False


def wait_until(what, predicate, timeout=15, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def end_process(inst, pid):
    """Root ends a process this test started (only while it is still the installed jitexec/jitctl)."""
    if exe(pid) not in (inst.jitexec, inst.jitctl):
        return
    for sig in (signal.SIGKILL, signal.SIGCONT):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    wait_until(f"pid {pid} to end", lambda: not alive(pid), timeout=15)


KILL = """\
import errno, os, sys
try:
    os.kill(int(sys.argv[1]), int(sys.argv[2]))
    print("sent")
except OSError as e:
    print(errno.errorcode[e.errno])
"""


def kill_as(user, pid, sig):
    """kill(pid, sig) from a process of `user` (real and effective uid of that account, a session of
    its own): "sent", or the errno name ("EPERM")."""
    r = run([PY, "-c", KILL, str(pid), str(int(sig))], user=user, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def one_line(text):
    lines = [l for l in text.replace("\r", "").split("\n") if l.strip()]
    assert len(lines) == 1, f"want exactly one line, got {text!r}"
    return lines[0]


def timed(argv, user=None, input=None, timeout=60):
    started = time.monotonic()
    r = run(argv, user=user, input=input, timeout=timeout)
    return r, time.monotonic() - started


def others_still_work(inst, why):
    """Another user's jitctl and root's jitexec succeed within a few seconds (the busy timeout is 5 s:
    a store held by a stopped process makes them fail after it)."""
    r, took = timed([inst.jitctl, "requests"], user=LEAD)
    assert r.returncode == 0, f"{LEAD}'s jitctl requests failed {why}: {r.stderr.strip()}"
    assert took < 15, f"{LEAD}'s jitctl requests took {took:.1f}s {why}"
    r, took = timed([inst.jitexec, "/usr/bin/true"])
    assert r.returncode == 0, f"root's jitexec /usr/bin/true failed {why}: {r.stderr.strip()}"
    assert took < 15, f"root's jitexec took {took:.1f}s {why}"


# The attacker's side of a race ---------------------------------------------------------------------

AGENT = r'''
"""Runs as the attacking user: starts the installed setuid program as oneself and signals it at
chosen moments, seen only through what any user may read (/proc/locks, /proc/PID/stat, status).
Prints one JSON line saying what happened."""
import json, os, signal, subprocess, sys, time

spec = json.loads(sys.argv[1])
deadline = time.monotonic() + spec["seconds"]
tries = 0
DEVNULL = subprocess.DEVNULL


def done(**report):
    print(json.dumps(dict(report, tries=tries)), flush=True)
    os._exit(0)


def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def state(pid):
    fields = stat(pid)
    return fields[0] if fields else None


def children(pid):
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = stat(int(name))
            if fields and fields[1] == str(pid) and fields[0] not in ("Z", "X"):
                found.append(int(name))
    return found


def live_children(pid):
    """Children of `pid` from /proc/PID/task/PID/children (readable by anyone), else by a scan."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return children(pid)


def write_locked(pid, offset=None):
    with open("/proc/locks") as f:
        for line in f:
            p = line.split()
            if len(p) >= 8 and p[1] != "->" and p[3] == "WRITE" and p[4] == str(pid):
                if offset is None or p[6] == offset:
                    return True
    return False


def setuid_running(pid):
    """The program has executed (its effective uid is root)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(l.startswith("Uid:") and l.split()[2] == "0" for l in f)
    except OSError:
        return False


def send(pid, sig):
    """True when sent, False when the process is gone; EPERM ends the agent with that answer."""
    try:
        os.kill(pid, sig)
        return True
    except PermissionError:
        done(result="eperm", signal=signal.Signals(sig).name)
    except ProcessLookupError:
        return False


def wait_stopped(pid):
    end = time.monotonic() + 5
    while time.monotonic() < end and state(pid) not in (None, "T", "t", "Z"):
        time.sleep(0.0002)
    return state(pid)


def start(stdout=DEVNULL, stderr=DEVNULL):
    r, w = os.pipe()
    os.write(w, spec.get("input", "").encode())
    os.close(w)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(spec.get("env", {}))
    proc = subprocess.Popen(spec["argv"], stdin=r, stdout=stdout, stderr=stderr, env=env, cwd="/",
                            start_new_session=True)
    os.close(r)
    return proc


def stop_race():
    """Stops the program when its write lock is held ("held") or just after it was released ("after").
    Before that, one stop at no particular moment once it runs: EPERM there settles it at once."""
    global tries
    mark = spec.get("mark")
    while tries < spec["tries"] and time.monotonic() < deadline:
        tries += 1
        if mark and os.path.exists(mark):
            os.unlink(mark)
        proc = start()
        pid, probed, seen = proc.pid, False, False
        while proc.poll() is None:
            if not probed:
                if setuid_running(pid):
                    probed = True
                    if send(pid, signal.SIGSTOP):
                        wait_stopped(pid)
                        send(pid, signal.SIGCONT)
                continue
            held = write_locked(pid, spec.get("offset"))
            fire = held if spec["phase"] == "held" else (seen and not held)
            seen = seen or held
            if not fire:
                continue
            if not send(pid, signal.SIGSTOP):
                break
            if wait_stopped(pid) in ("T", "t"):
                if spec["phase"] == "held" and write_locked(pid):
                    done(result="stopped", pid=pid)
                if spec["phase"] == "after":
                    time.sleep(0.3)
                    if not children(pid) and not (mark and os.path.exists(mark)):
                        done(result="stopped", pid=pid)
            send(pid, signal.SIGCONT)
            break
        proc.wait()
    done(result="gave-up")


def kill_parser_children():
    """Runs the jitctl verb and SIGKILLs every child it forks while it runs (the TOML parser check)."""
    global tries
    runs = []
    while tries < spec["tries"] and time.monotonic() < deadline:
        tries += 1
        proc = start(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        kills = []
        while proc.poll() is None:
            for child in live_children(proc.pid):
                if state(child) in (None, "Z", "X"):
                    continue
                try:
                    os.kill(child, getattr(signal, spec.get("signal", "SIGKILL")))
                    kills.append("sent")
                except PermissionError:
                    kills.append("EPERM")
                except ProcessLookupError:
                    pass
        out, err = proc.communicate()
        said = (out + err).decode(errors="replace")[-600:]
        runs.append({"status": proc.returncode, "output": said, "kills": kills})
        if "sent" in kills and proc.returncode != 0:
            done(result="poisoned", runs=runs[-3:])
        if sum(r["kills"].count("EPERM") for r in runs) >= 3:
            done(result="eperm", runs=runs[-3:])
    done(result="gave-up", runs=runs[-3:])


{"stop": stop_race, "parser": kill_parser_children}[spec["mode"]]()
'''


def agent(user, **spec):
    """Runs AGENT as `user` (at most `tries` runs and `seconds`); returns its JSON report."""
    spec.setdefault("tries", 200)
    spec.setdefault("seconds", 60)
    r = run([PY, "-c", AGENT, json.dumps(spec)], user=user, timeout=spec["seconds"] + 60)
    assert r.returncode == 0 and r.stdout.strip(), (r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


# Grants, terminals, PAM ------------------------------------------------------------------------------

def live_grant(inst, *argv, user=DEV):
    """A request for ARGV filed with --no-wait, approved by jit-lead1: the grant id."""
    r = run([inst.jitexec, "-S", "--no-wait", *argv], user=user, input=password(user) + "\n")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    return grant_id(approve(inst, request_id(r.stderr), LEAD))


def jitexec_in(shell_process, inst, timeout=15):
    """The pid of the jitexec the interactive shell started (its child running the installed binary)."""
    return wait_until("jitexec to start in the shell",
                      lambda: next((p for p in children(shell_process.pid) if exe(p) == inst.jitexec), None),
                      timeout=timeout, step=0.002)


def watch_write_lock(pid, timeout=15):
    """Root polls /proc/locks until `pid` holds the store's write lock (True) or has ended (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        if write_lock_held(pid, WAL_WRITE_LOCK):
            return True
    return False


@contextlib.contextmanager
def store_kept_open(inst):
    """Root keeps a connection to the store open (no transaction), as any running jitctl watch does:
    a jitexec then finds the WAL index ready, so it takes the write lock for its transactions only
    (not for a recovery when it opens the store)."""
    with database(inst) as con:
        con.execute("SELECT count(*) FROM audit").fetchall()
        yield con


def ctrl_z(shell_process):
    """Ctrl-Z typed on the terminal: the line discipline sends SIGTSTP to the foreground job."""
    os.write(shell_process.child_fd, b"\x1a")


def write_pam(name, text):
    path = f"/etc/pam.d/{name}"
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


@pytest.fixture
def gate(hp):
    """POLICY with a [[login]] gating jit-developers for GATE_SERVICE (common-account + the shipped
    snippet that runs `jitexec --login-gate`), compiled once by root (`jitctl requests`)."""
    hp.write_policy(POLICY + LOGIN)
    compiled = run([hp.jitctl, "requests"])
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    snippet = f"/etc/pam.d/{PAM_FILE}-login"
    assert os.path.exists(snippet), "make install must install the login snippet"
    service = write_pam(GATE_SERVICE,
                        f"auth required pam_permit.so\n@include common-account\n@include {PAM_FILE}-login\n")
    yield hp
    os.unlink(service)


def account(user):
    """The gated service's account phase for `user`, as a login program (root) runs it."""
    r = subprocess.run(["pamtester", "-v", GATE_SERVICE, user, "acct_mgmt"], capture_output=True, text=True,
                       timeout=60)
    return r.returncode == 0 and "account management done" in r.stdout + r.stderr, r.stdout + r.stderr


@contextlib.contextmanager
def pam_session_log(inst):
    """The installed PAM service with one more session module that logs `open_session` /
    `close_session` (pam_exec, run as root) to a root-owned file; yields the log's path."""
    log = f"{ROOTDIR}/pam-sessions"
    logger = f"{ROOTDIR}/pam-session-logger"
    with open(logger, "w") as f:
        f.write(f'#!/bin/sh\necho "$PAM_TYPE $PAM_USER" >> {log}\n')
    os.chmod(logger, 0o755)
    with open(inst.pam) as f:
        text = f.read()
    with pam_service(inst, text + f"session optional pam_exec.so seteuid quiet {logger}\n"):
        yield log


def session_log(path):
    return open(path).read().split("\n") if os.path.exists(path) else []


# 1. Real uid root: the caller's signals cannot freeze the store --------------------------------------

def test_1_jitexec_and_jitctl_run_with_real_uid_root_and_refuse_the_callers_signals(hp):
    """Attack: jit-dev1 signals their own jitexec (waiting for approval) and jit-lead1 their own
    `jitctl watch` with every signal that stops, ends or interrupts a process.
    Must hold: /proc/PID/status `Uid:` is `0 0 0 0` for both; each kill fails with EPERM; the
    waiting jitexec is untouched and runs the command once approved."""
    waiting = Background([hp.jitexec, "-S", "/usr/bin/id"], DEV, input=password(DEV) + "\n")
    watch = None
    try:
        n = request_id(waiting.wait_for(r"request #\d+ filed").group(0))
        assert uid_fields(waiting.pid) == ["0"] * 4, \
            f"jitexec waiting for approval runs with Uid: {' '.join(uid_fields(waiting.pid))} (want 0 0 0 0)"
        watch = Background([hp.jitctl, "watch"], LEAD)
        watch.wait_for("watching requests", stream="out")
        assert uid_fields(watch.pid) == ["0"] * 4, \
            f"jitctl watch runs with Uid: {' '.join(uid_fields(watch.pid))} (want 0 0 0 0)"
        for sig in (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                    signal.SIGUSR1, signal.SIGKILL):
            assert kill_as(DEV, waiting.pid, sig) == "EPERM", f"{DEV} sent {sig.name} to their jitexec"
            assert kill_as(LEAD, watch.pid, sig) == "EPERM", f"{LEAD} sent {sig.name} to their jitctl"
        assert state(waiting.pid) != "T" and alive(waiting.pid)
        grant_id(approve(hp, n, LEAD))
        status, out, err = waiting.finish(timeout=30)
        assert status == 0 and out.startswith("uid=0(root)"), (status, out, err)
    finally:
        waiting.kill()
        if watch is not None:
            watch.kill()


def test_1_sigstop_cannot_freeze_a_denied_jitexec_while_it_holds_the_store(hp):
    """Attack: jit-out (no rules) runs `jitexec -n /usr/bin/passwd` (denied: a policy.denied record
    is written) and sends SIGSTOP the moment /proc/locks shows it holding the store's write lock,
    retrying (<= 200 runs / 60 s) until the stop lands with the lock held.
    Must hold: the stop cannot be sent (EPERM); jit-lead1's `jitctl requests` and root's jitexec
    succeed within seconds."""
    assert run([hp.jitexec, "/usr/bin/true"]).returncode == 0  # the store exists
    outcome = agent(OUT, mode="stop", phase="held", argv=[hp.jitexec, "-n", "/usr/bin/passwd"])
    if "pid" in outcome:
        hp.leftovers.append(outcome["pid"])
    others_still_work(hp, f"while {OUT}'s jitexec was stopped by its caller ({outcome})")
    assert outcome["result"] == "eperm", f"{OUT}'s SIGSTOP of their own jitexec was not refused with EPERM: {outcome}"


def test_1_ctrl_z_while_filing_a_request_never_leaves_the_store_locked(hp):
    """Attack: in an interactive shell on a terminal, jit-dev1 runs `jitexec -S /usr/bin/id` (it files
    a request and waits) and types Ctrl-Z the moment the request is being written (root watches
    /proc/locks and types it while the write lock is held; <= 20 tries).
    Must hold: Ctrl-Z still stops jitexec (the shell reports the job stopped), but never while it
    holds the store: other users' jitctl and root's jitexec work within seconds; jit-lead1 approves
    and `fg` runs the command."""
    assert run([hp.jitexec, "/usr/bin/true"]).returncode == 0  # the store exists
    with store_kept_open(hp):
        sh = shell(hp, DEV)
        try:
            for attempt in range(20):
                sh.sendline(f"{hp.jitexec} -S /usr/bin/id <<< '{password(DEV)}'; echo rc=$?")
                pid = jitexec_in(sh, hp)
                hp.leftovers.append(pid)
                caught = watch_write_lock(pid)
                if not caught:  # missed: stop it while it waits
                    sh.expect(r"request #\d+ (filed|is still open)", timeout=30)
                ctrl_z(sh)
                i = sh.expect(["Stopped", pexpect.TIMEOUT], timeout=30)
                assert i == 0, (f"after Ctrl-Z jitexec did not stop: "
                                f"{[(p, state(p)) for p in [pid] + children(pid)]}: {sh.before[-300:]!r}")
                sh.expect(r"rc=\d+", timeout=30)  # the rest of the line runs once the job stopped
                sh.expect_exact(PROMPT)
                assert state(pid) == "T", f"Ctrl-Z did not stop jitexec (state {state(pid)})"
                others_still_work(hp, f"while {DEV}'s jitexec was stopped by Ctrl-Z (attempt {attempt + 1})")
                if caught:
                    break
                sh.sendline("fg; echo rc=$?")  # then Ctrl-C on the terminal: it stops waiting
                time.sleep(1)
                sh.sendcontrol("c")
                sh.expect(r"rc=(\d+)", timeout=30)
                assert sh.match.group(1) == "75", sh.before
                sh.expect_exact(PROMPT)
            else:
                pytest.fail("the write lock was never seen in 20 runs")
            n = events(hp, "request.filed")[-1]["request"]
            grant_id(approve(hp, n, LEAD))
            sh.sendline("fg; echo rc=$?")
            sh.expect(r"rc=(\d+)", timeout=30)
            assert sh.match.group(1) == "0" and "uid=0(root)" in sh.before, sh.before
        finally:
            sh.close(force=True)


def unindexed_wal(inst, frames):
    """Leaves `frames` committed frames in the store's write-ahead log that no process has indexed:
    a child writes them and ends without closing, as a jitexec does. Each commit changes the last
    audit row and puts it back in one transaction (SQLite writes no frame for a row set to what it
    held), so no committed state differs. The next process to open the store rebuilds the index from
    every frame, holding the write lock meanwhile (SQLite's recovery: about 40 ms for 10,000)."""
    pid = os.fork()
    if pid == 0:
        try:
            con = sqlite3.connect(inst.db, isolation_level=None, timeout=30)
            con.execute("PRAGMA synchronous = OFF")
            con.execute("PRAGMA wal_autocheckpoint = 0")
            (last,) = con.execute("SELECT max(seq) FROM audit").fetchone()
            for _ in range(frames):
                con.executescript(
                    f"BEGIN; UPDATE audit SET host = host || 'x' WHERE seq = {last};"
                    f" UPDATE audit SET host = substr(host, 1, length(host) - 1) WHERE seq = {last}; COMMIT;")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def test_1_ctrl_z_while_the_store_opens_beside_pam_never_leaves_it_locked(hp):
    """Attack: the store opens on a thread of its own while the run is decided and PAM starts. Root
    makes that open slow, to widen the window an attacker would aim at (thousands of unindexed
    frames in the write-ahead log, rebuilt under the write lock); in an interactive shell jit-dev1
    runs `jitexec -S bash -c ...` and types Ctrl-Z the moment /proc/locks shows it holding the
    lock (root watches; <= 10 tries).
    Must hold: the stop waits for the open (the terminal signals are held meanwhile), so jitexec
    stops holding nothing: other users' jitctl and root's jitexec work within seconds, and `fg`
    asks nothing more and runs the command."""
    assert run([hp.jitexec, "/usr/bin/true"]).returncode == 0  # the store exists
    sh = shell(hp, DEV)
    try:
        for attempt in range(10):
            unindexed_wal(hp, 10000)
            sh.sendline(f"{hp.jitexec} -S /usr/bin/bash -c 'echo ran-$((6 * 7))' <<< '{password(DEV)}'; echo rc=$?")
            pid = jitexec_in(sh, hp)
            hp.leftovers.append(pid)
            if not watch_write_lock(pid):  # missed: let it finish and try again
                sh.expect(r"rc=0", timeout=30)
                sh.expect_exact(PROMPT)
                continue
            ctrl_z(sh)
            i = sh.expect(["Stopped", pexpect.TIMEOUT], timeout=30)
            assert i == 0, f"after Ctrl-Z jitexec did not stop: {state(pid)}: {sh.before[-300:]!r}"
            sh.expect(r"rc=\d+", timeout=30)
            sh.expect_exact(PROMPT)
            assert state(pid) == "T", f"Ctrl-Z did not stop jitexec (state {state(pid)})"
            others_still_work(hp, f"while {DEV}'s jitexec was stopped by Ctrl-Z as the store opened (attempt {attempt + 1})")
            sh.sendline("fg; echo rc=$?")
            sh.expect(r"rc=(\d+)", timeout=30)
            assert sh.match.group(1) == "0" and "ran-42" in sh.before, sh.before
            sh.expect_exact(PROMPT)
            break
        else:
            pytest.fail("the write lock was never seen while the store opened, in 10 runs")
    finally:
        sh.close(force=True)


def test_1_jitexec_blocked_on_a_full_stderr_pipe_holds_nothing(hp):
    """Attack: jit-out runs `jitexec -n /usr/bin/passwd` with standard error a pipe they filled
    beforehand and never read, so jitexec blocks writing its refusal.
    Must hold: while it is blocked, other users' jitctl and root's jitexec work within seconds."""
    assert run([hp.jitexec, "/usr/bin/true"]).returncode == 0  # the store exists
    r, w = os.pipe()
    os.set_blocking(w, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(w, b"x" * 65536)
    os.set_blocking(w, True)
    proc = subprocess.Popen([hp.jitexec, "-n", "/usr/bin/passwd"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=w, env={"PATH": "/usr/bin:/bin"}, cwd="/",
                            start_new_session=True, **user_kwargs(OUT))
    os.close(w)
    try:
        def blocked():  # in write(2) on descriptor 2 (root may read /proc/PID/syscall)
            with open(f"/proc/{proc.pid}/syscall") as f:
                return f.read().split()[:2] == ["1", "0x2"]
        wait_until("jitexec to block writing to its full stderr", blocked, timeout=30)
        others_still_work(hp, f"while {OUT}'s jitexec was blocked writing to a full pipe")
        assert not write_lock_held(proc.pid), "jitexec writes to its stderr while holding the store's write lock"
    finally:
        os.close(r)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        if proc.poll() is None:
            end_process(hp, proc.pid)
            proc.wait(timeout=15)


# 2. Banked runs: nothing starts after its grant ended ------------------------------------------------

def test_2_run_stopped_after_taking_its_grant_never_starts_once_the_grant_is_revoked(hp):
    """Attack: jit-dev1 holds a live grant for `touch BANKED` and runs it, sending SIGSTOP the moment
    /proc/locks shows the `exec.start` write released, before the command started (no child, no
    mark; <= 200 runs / 60 s). Root revokes the grant, the process is continued (SIGCONT).
    Must hold: the stop cannot be sent (EPERM); in any case the command never runs after the revoke."""
    g = live_grant(hp, "/usr/bin/touch", BANKED)
    with store_kept_open(hp):  # so the first write lock jitexec takes is the exec.start transaction
        outcome = agent(DEV, mode="stop", phase="after", offset=WAL_WRITE_LOCK, mark=BANKED,
                        argv=[hp.jitexec, "-S", "/usr/bin/touch", BANKED], input=password(DEV) + "\n")
    if outcome["result"] == "stopped":
        pid = outcome["pid"]
        hp.leftovers.append(pid)
        starts = [e for e in events(hp, "exec.start") if e.get("grant") == g]
        r = run([hp.jitctl, "revoke", str(g), "-n", "-m", "banked run"])
        assert r.returncode == 0, r.stderr
        os.kill(pid, signal.SIGCONT)  # `fg` (the shell of the same session may still continue it)
        wait_until("the continued jitexec to end", lambda: not alive(pid), timeout=30)
        time.sleep(0.5)
        assert not os.path.exists(BANKED), \
            f"the command ran after its grant #{g} was revoked (jitexec stopped after exec.start: {len(starts)} starts)"
    assert outcome["result"] == "eperm", f"{DEV}'s SIGSTOP of their own jitexec was not refused with EPERM: {outcome}"


def test_2_ctrl_z_then_revoke_then_fg_never_starts_the_command(hp):
    """Attack: in an interactive shell on a terminal, jit-dev1 runs `jitexec -S touch BANKED` under a
    live grant and types Ctrl-Z while jitexec writes `exec.start` (root watches /proc/locks and types
    it while the write lock is held; <= 20 tries). While the job is stopped and the command has not
    started, root revokes the grant; then `fg`.
    Must hold: the stopped jitexec holds no lock; a Ctrl-Z typed while exec.start is written is held
    until the command runs (then it stops the command) or stops jitexec before it took the grant; if
    jitexec ever stops in between and the grant is revoked, after `fg` the command never starts: exit
    77, one line saying the grant was revoked before the command started and nothing was run, and an
    `exec.end` record with an `error`."""
    g = live_grant(hp, "/usr/bin/touch", BANKED)
    with store_kept_open(hp) as store:
        def starts():
            return store.execute("SELECT count(*) FROM audit WHERE event = 'exec.start'").fetchone()[0]
        sh = shell(hp, DEV)
        try:
            landed = 0
            for attempt in range(20):
                if os.path.exists(BANKED):
                    os.unlink(BANKED)
                before = starts()
                sh.sendline(f"{hp.jitexec} -S /usr/bin/touch {BANKED} <<< '{password(DEV)}'; echo rc=$?")
                pid = jitexec_in(sh, hp)
                hp.leftovers.append(pid)
                if watch_write_lock(pid):
                    ctrl_z(sh)
                i = sh.expect([r"Stopped", r"rc=\d+", pexpect.TIMEOUT], timeout=30)
                assert i != 2, (f"after Ctrl-Z jitexec neither stopped nor ended: "
                                f"{[(p, state(p)) for p in [pid] + children(pid)]}: {sh.before[-300:]!r}")
                if i == 1:  # ran to the end first
                    sh.expect_exact(PROMPT)
                    continue
                sh.expect(r"rc=\d+", timeout=30)  # the rest of the line runs once the job stopped
                sh.expect_exact(PROMPT)
                assert not write_lock_held(pid), \
                    f"jitexec stopped by Ctrl-Z still holds the store's write lock (attempt {attempt + 1})"
                time.sleep(0.5)
                landed += 1
                command_started = os.path.exists(BANKED) or any(
                    exe(c) not in (None, hp.jitexec) for c in children(pid))
                if command_started or starts() == before:
                    # Stopped after the command started (jitexec forwards the held Ctrl-Z to it), or
                    # before it took its grant: not a banked run.
                    shell_run(sh, "fg >/dev/null")
                    continue
                before_revoke = len(events(hp, "exec.end"))
                r, took = timed([hp.jitctl, "revoke", str(g), "-n", "-m", "stopped run"])
                assert r.returncode == 0, \
                    f"root's jitctl revoke failed while {DEV}'s jitexec was stopped ({took:.1f}s): {r.stderr.strip()}"
                sh.sendline("fg; echo rc=$?")
                sh.expect(r"rc=(\d+)", timeout=30)
                rc, seen = int(sh.match.group(1)), sh.before
                sh.expect_exact(PROMPT)
                time.sleep(0.5)
                assert not os.path.exists(BANKED), \
                    f"the command ran after its grant #{g} was revoked (exit {rc}): {seen!r}"
                assert rc == 77, (rc, seen)
                said = [l for l in seen.replace("\r", "").split("\n") if l.startswith("jitexec:")]
                assert len(said) == 1 and re.search("revoked|expired", said[0]) and "nothing" in said[0], seen
                ends = events(hp, "exec.end")[before_revoke:]
                assert len(ends) == 1 and "error" in ends[0] and re.search("revok|expir|ended", ends[0]["error"]), ends
                return
            # Since the fix the held Ctrl-Z never stops jitexec between exec.start and the release:
            # it stops the command once started, or lands before exec.start. Some must have landed.
            assert landed > 0, "no Ctrl-Z landed in 20 runs"
        finally:
            sh.close(force=True)


# 3. Policy poisoning ----------------------------------------------------------------------------------

def test_3_killing_jitctls_toml_child_never_makes_the_valid_policy_invalid(hp):
    """Attack: root has just changed the (valid) policy; jit-out runs `jitctl requests` (which
    compiles the changed policy for jitexec) and SIGKILLs every child it forks (the TOML parser
    check) while it runs (<= 200 runs / 60 s).
    Must hold: the child cannot be killed (EPERM); jitctl never reports a syntax error; jit-dev1's
    jitexec afterwards is not refused as "policy is invalid"; no `policy.invalid` record."""
    hp.write_policy(POLICY + "\n# changed by root\n")
    outcome = agent(OUT, mode="parser", argv=[hp.jitctl, "requests"])
    # jitexec first: any later jitctl run (events() included) compiles the policy afresh.
    r = run([hp.jitexec, "-S", "/usr/bin/bash", "-c", "echo ran"], user=DEV, input=password(DEV) + "\n")
    assert "policy is invalid" not in r.stderr, \
        f"after {OUT} killed jitctl's parser child ({outcome}): {r.stderr.strip()}"
    assert (r.returncode, r.stdout) == (0, "ran\n"), (r.returncode, r.stdout, r.stderr)
    for attempt in outcome["runs"]:
        assert "syntax error" not in attempt["output"], f"jitctl reported a syntax error: {attempt}"
    assert events(hp, "policy.invalid") == []
    assert outcome["result"] != "poisoned" and all("sent" not in a["kills"] for a in outcome["runs"]), outcome


def test_3_checking_ones_own_file_cannot_poison_the_installed_policy(hp):
    """Attack: root has just changed the (valid) policy; jit-out runs `jitctl check DRAFT` on a file
    of their own (its parse runs with their ids, so they may signal that child) and sends SIGSEGV — a
    crash, which counts as a syntax error — to every child it forks, hoping to hit the parse of the
    installed policy that the same jitctl compiles for jitexec.
    Must hold: only the draft's own parse runs with the caller's ids; the installed policy is never
    compiled as invalid: jit-dev1's jitexec runs, no `policy.invalid` record."""
    draft = f"{WORK}/draft-{OUT}.toml"
    with open(draft, "w") as f:
        f.write(POLICY)
    os.chown(draft, pwd.getpwnam(OUT).pw_uid, -1)
    try:
        hp.write_policy(POLICY + "\n# changed by root\n")
        outcome = agent(OUT, mode="parser", argv=[hp.jitctl, "check", draft], signal="SIGSEGV", tries=40)
        r = run([hp.jitexec, "-S", "/usr/bin/bash", "-c", "echo ran"], user=DEV, input=password(DEV) + "\n")
        assert "policy is invalid" not in r.stderr, f"after {OUT}'s check runs ({outcome}): {r.stderr.strip()}"
        assert (r.returncode, r.stdout) == (0, "ran\n"), (r.returncode, r.stdout, r.stderr)
        assert events(hp, "policy.invalid") == []
    finally:
        os.unlink(draft)


def test_3_login_decided_from_the_last_valid_policy_is_audited_as_stale(gate):
    """Attack surface: the on-disk policy is invalid (a broken edit), so the login gate decides from
    the last valid compiled policy.
    Must hold: jit-out (not gated) still logs in, audited `login.allowed` with `stale_policy: true`;
    every login record written while the policy is invalid carries `stale_policy: true`."""
    filed = run([gate.jitctl, "request", "--login", "-r", "on call", "-S"], user=DEV, input=password(DEV) + "\n")
    assert filed.returncode == 0, filed.stderr
    (req,) = [e for e in events(gate, "request.filed")]
    grant_id(approve(gate, req["request"], LEAD))
    gate.write_policy(POLICY + LOGIN + "\n[settings]\nbogus = 1\n")
    ok, text = account(OUT)
    assert ok, f"ungated {OUT} was refused while the policy is invalid: {text}"
    stale = [e for e in events(gate, "login.allowed") if e["actor"] == OUT]
    assert len(stale) == 1 and stale[0].get("stale_policy") is True, \
        f"login of {OUT} under the last valid policy is not audited as stale: {stale}"
    ok, text = account(DEV)
    for e in events(gate, "login.allowed", "login.denied"):
        assert e.get("stale_policy") is True, f"a login decided under an invalid policy: {e}"
    if ok:
        assert [e for e in events(gate, "login.allowed") if e["actor"] == DEV], text


# 11. Helpers run with jitexec's limits, not the caller's ------------------------------------------------

def may_raise_hard_limits():
    bounding = int(next(l for l in open("/proc/self/status") if l.startswith("CapBnd:")).split()[1], 16)
    return bool(bounding & (1 << 24))  # CAP_SYS_RESOURCE


@pytest.mark.parametrize("limit", ["ulimit -S -v 50000", "ulimit -v 50000", "ulimit -S -d 20000", "ulimit -d 20000",
                                   "ulimit -S -s 256", "ulimit -s 256"])
def test_11_callers_resource_limits_do_not_stop_the_notification(hp, limit):
    """Attack: jit-dev1 lowers a limit (`-S`: the soft limit only; else soft and hard) and files a
    request (`--no-wait`), so jitexec, the notification runner and the notifier would inherit it.
    Must hold: the request is filed (exit 75) and the notifier runs (its mark appears) or, where a
    hard limit cannot be raised, jitexec refuses up front with one line naming the ulimit; never a
    filed request whose notification silently vanished (an undelivered one is `notify.failed`)."""
    notifier = f"{ROOTDIR}/notifier"
    out = f"{ROOTDIR}/out"
    os.mkdir(out, 0o700)
    nobody = pwd.getpwnam("nobody")
    os.chown(out, nobody.pw_uid, nobody.pw_gid)
    with open(notifier, "w") as f:
        f.write(f"#!/bin/sh\ncat > {out}/mark-$JITEXEC_SEQ\n")
    os.chmod(notifier, 0o755)
    hp.write_policy(POLICY + notify_section([notifier], timeout="20s", events=["request.filed"]))
    compiled = run([hp.jitctl, "requests"])  # root compiles the policy: the attack is on the notification
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    r = run(["/usr/bin/bash", "-c", f'{limit} && exec "$@"', "bash", hp.jitexec, "-S", "--no-wait", "/usr/bin/id"],
            user=DEV, input=password(DEV) + "\n")
    if "-S" not in limit.split() and not may_raise_hard_limits() and r.returncode != 75:
        # A hard limit root cannot raise here (no CAP_SYS_RESOURCE): refused up front, nothing filed.
        said = [l for l in r.stderr.splitlines() if l.strip()]
        assert r.returncode == 1 and len(said) == 1 and limit.rsplit(" ", 1)[0] in said[0], \
            f"under '{limit}' jitexec failed without one line naming the ulimit: exit {r.returncode}: {r.stderr!r}"
        assert events(hp, "request.filed") == []
        return
    assert r.returncode == 75 and "filed" in r.stderr, f"under '{limit}': exit {r.returncode}: {r.stderr.strip()}"
    (filed,) = events(hp, "request.filed")

    def delivered():
        if os.path.exists(f"{out}/mark-{filed['seq']}"):
            return "delivered"
        if events(hp, "notify.failed"):
            return "failed"
        return None
    try:
        outcome = wait_until("the notifier to run", delivered, timeout=30)
    except AssertionError:
        outcome = "vanished"
    assert outcome == "delivered", \
        f"under '{limit}' the notification {outcome}: {events(hp, 'notify.failed')}"


# 16. A second hard link made by root ----------------------------------------------------------------------

def test_16_root_hard_link_elsewhere_does_not_stop_jitexec_or_the_login_gate(gate):
    """Attack surface: root (a debugger, a backup tool) keeps a second hard link of the installed
    jitexec under /root/.debug; later, the bin directory is left group-writable.
    Must hold: with the link, jit-dev1's allowed command runs and the login gate admits ungated
    jit-out; running through the other path is refused (one line); with a start-up refusal of the
    gate (untrusted bin directory) an ungated user is still admitted."""
    made_debug = not os.path.exists("/root/.debug")
    debug = "/root/.debug/jitexec-itHP"
    link = f"{debug}{gate.jitexec}"
    os.makedirs(os.path.dirname(link), 0o700, exist_ok=True)
    os.link(gate.jitexec, link)
    try:
        r = run([gate.jitexec, "-S", "/usr/bin/bash", "-c", "echo ran-as-$(id -un)"], user=DEV,
                input=password(DEV) + "\n")
        assert (r.returncode, r.stdout) == (0, "ran-as-root\n"), \
            f"with a root-owned second link, jitexec refused: exit {r.returncode}: {r.stderr.strip()}"
        ok, text = account(OUT)
        assert ok, f"with a root-owned second link, the login gate refused ungated {OUT}: {text}"
        via = run([link, "/usr/bin/true"])
        assert via.returncode == 1 and via.stdout == "", (via.returncode, via.stdout, via.stderr)
        one_line(via.stderr)
    finally:
        os.unlink(link)
        shutil.rmtree("/root/.debug" if made_debug else debug, ignore_errors=True)
    os.chmod(gate.bin, 0o775)
    try:
        refused = run([gate.jitexec, "-S", "/usr/bin/bash", "-c", "echo ran"], user=DEV, input=password(DEV) + "\n")
        assert refused.returncode == 1 and gate.bin in refused.stderr, \
            f"an untrusted bin directory must refuse (the start-up refusal this relies on): {refused}"
        ok, text = account(OUT)
        assert ok, f"a start-up refusal of the login gate refused ungated {OUT}: {text}"
    finally:
        os.chmod(gate.bin, 0o755)


# 19. A started command always gets its exec.end ----------------------------------------------------------

def test_1_the_caller_cannot_kill_jitexec_at_its_password_prompt(hp):
    """Attack: at the password prompt, jit-dev1 sends SIGKILL to their own jitexec after a wrong
    answer (a guess that fails is then never audited and skips the failure delay).
    Must hold: PAM runs with root as the real uid: the kill fails (EPERM); three wrong answers end
    in one `auth.failure` record."""
    child = spawn(hp, DEV, [hp.jitexec, "/usr/bin/bash", "-c", "echo ran"])
    try:
        child.expect(PASSWORD_PROMPT, timeout=30)
        assert exe(child.pid) == hp.jitexec  # setpriv executed jitexec in its place
        assert uid_fields(child.pid) == ["0"] * 4, "jitexec at its password prompt is not real uid 0"
        child.sendline("wrong")
        child.expect(PASSWORD_PROMPT, timeout=30)
        assert kill_as(DEV, child.pid, signal.SIGKILL) == "EPERM", "the caller killed jitexec at its password prompt"
        child.sendline("wrong")
        child.expect(PASSWORD_PROMPT, timeout=30)
        child.sendline("wrong")
        status, seen = finish(child)
    finally:
        child.close(force=True)
    assert status == 1 and "ran" not in seen.replace("bash -c echo ran", ""), seen
    assert [e.get("reason") for e in events(hp, "auth.failure")] == ["wrong_password"]


def test_19_caller_timers_and_scheduling_cannot_end_or_starve_jitexec(hp):
    """Attack: before exec'ing jitexec, jit-dev1 arms an interval timer (SIGALRM ends a process by
    default; the timer survives the setuid exec), sets nice 19, SCHED_IDLE and a one-CPU affinity.
    Must hold: jitexec disarms the timer and resets the scheduling at start-up: the command runs to
    its end, jitexec exits with its status and writes exec.end; while it runs jitexec has nice 0 and
    the normal policy."""
    def hostile():
        os.nice(19)
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        os.sched_setaffinity(0, {0})
        signal.setitimer(signal.ITIMER_REAL, 0.8)
    pw = pwd.getpwnam(DEV)
    proc = subprocess.Popen([hp.jitexec, "-S", "/usr/bin/bash", "-c", "sleep 2; echo survived"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, cwd="/", start_new_session=True,
                            user=pw.pw_uid, group=pw.pw_gid, extra_groups=os.getgrouplist(DEV, pw.pw_gid),
                            preexec_fn=hostile)
    proc.stdin.write((password(DEV) + "\n").encode())
    proc.stdin.close()
    proc.stdin = None
    wait_until("the command to start", lambda: any(state(c) for c in children(proc.pid)), timeout=30)
    fields = proc_stat(proc.pid)
    # After the state: ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    # cutime cstime priority nice ...; policy is field 41 of the whole line (index 38 here).
    assert fields is not None and fields[16] == "0", f"jitexec still runs with nice {fields and fields[16]}"
    assert fields[38] == "0", f"jitexec still runs with scheduling policy {fields[38]}"
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (0, b"survived\n"), (proc.returncode, out, err)
    ends = events(hp, "exec.end")
    assert len(ends) == 1 and ends[0]["status"] == 0, ends


# Run as root: a child subreaper (so the processes jitexec's exit leaves behind become its children)
# that runs jitexec as the user through runuser, then reaps whatever comes to it within 10 s.
ORPHANS = r"""
import ctypes, json, os, subprocess, sys, time
assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
jitexec, user, password = sys.argv[1:4]
run = subprocess.run(["runuser", "-u", user, "--", jitexec, "-S", "/usr/bin/bash", "-c", "echo ran"],
                     input=password + "\n", capture_output=True, text=True, cwd="/")
orphans, deadline = [], time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        pid, status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid:
        orphans.append(os.waitstatus_to_exitcode(status))
    else:
        time.sleep(0.01)
print(json.dumps({"status": run.returncode, "out": run.stdout, "err": run.stderr, "orphans": orphans}))
"""


def test_19_the_exits_memory_holder_ends_by_itself_and_leaves_nothing_behind(hp):
    """jitexec hands the unmapping of its memory at exit to a holder sharing it (exit.c), so the
    caller gets the status without waiting for that. Must hold: the caller's status and output are
    the command's and exec.end is written; the holder is the one process the exit leaves behind, it
    ends by itself with status 0 once jitexec is gone, and nothing else is left."""
    got = subprocess.run([PY, "-c", ORPHANS, hp.jitexec, DEV, password(DEV)], capture_output=True, text=True,
                         timeout=60)
    assert got.returncode == 0, got.stderr
    seen = json.loads(got.stdout)
    assert (seen["status"], seen["out"]) == (0, "ran\n"), seen
    assert seen["orphans"] == [0], seen
    assert [e.get("status") for e in events(hp, "exec.end")] == [0]


# A thread's malloc arena (glibc, x86-64): a reservation aligned to 64 MiB of which the part in use
# is read-write and the rest has no access. The parent of the command is jitexec.
ARENA_ALIGN = 64 << 20


def thread_arenas(maps):
    """The read-write part of each thread arena in the text of /proc/PID/maps, in bytes."""
    rows = [line.split() for line in maps.splitlines()]
    sizes = []
    for row, after in zip(rows, rows[1:]):
        start, end = (int(x, 16) for x in row[0].split("-"))
        if (start % ARENA_ALIGN == 0 and row[1] == "rw-p" and len(row) == 5
                and after[1] == "---p" and int(after[0].split("-")[0], 16) == end):
            sizes.append(end - start)
    return sizes


def test_19_a_threads_malloc_arena_is_mapped_once_with_room_to_grow(hp):
    """jitexec sets malloc's top pad (startup.c) so that the arena of the thread that opens the store
    is mapped with 1 MiB of room once, not grown a page at a time with an mprotect each. Must hold:
    the command (root) sees, in its parent jitexec's memory map, at least one thread arena, each with
    at least 1 MiB read-write."""
    r = run([hp.jitexec, "-S", "/usr/bin/bash", "-c", "cat /proc/$PPID/maps"], user=DEV,
            input=password(DEV) + "\n")
    assert r.returncode == 0, (r.returncode, r.stderr)
    arenas = thread_arenas(r.stdout)
    assert arenas and min(arenas) >= 1 << 20, (arenas, r.stdout)


def test_19_caller_cannot_kill_jitexec_so_the_command_ends_with_exec_end(hp):
    """Attack: jit-dev1 runs an allowed command through jitexec and, once it has started, sends
    SIGKILL to their jitexec (so no `exec.end` would be written and the PAM session never closed).
    Must hold: the kill fails with EPERM; the command finishes; jitexec exits 0; `exec.end` (status
    0) is recorded and the PAM session is closed."""
    script = f"touch {STARTED}; sleep 3; touch {FINISHED}"
    with pam_session_log(hp) as log:
        running = Background([hp.jitexec, "-S", "/usr/bin/bash", "-c", script], DEV, input=password(DEV) + "\n")
        try:
            wait_until("the command to start", lambda: os.path.exists(STARTED), timeout=30)
            answer = kill_as(DEV, running.pid, signal.SIGKILL)
            status, out, err = running.finish(timeout=30)
        finally:
            running.kill()
        wait_until("the command to finish", lambda: os.path.exists(FINISHED), timeout=15)
        ends = events(hp, "exec.end")
        assert [e.get("status") for e in ends] == [0], \
            f"{DEV}'s kill -KILL of jitexec: {answer}; jitexec exit {status}; exec.end records: {ends}"
        assert answer == "EPERM" and status == 0, (answer, status, err)
        # The session is the target's (root's), as with sudo: opened and closed.
        assert session_log(log)[:2] == ["open_session root", "close_session root"], session_log(log)


def test_19_terminal_hangup_reaches_the_command_and_exec_end_is_written(hp):
    """Attack (or accident): jit-dev1 runs a command through jitexec in an interactive shell on a
    terminal and the terminal hangs up (its master side closes) while the command runs; the shell's
    own SIGHUP to the job is refused now, the kernel's is not.
    Must hold: the command gets SIGHUP (its trap runs), jitexec records `exec.end` with the
    command's status and closes the PAM session."""
    script = f'trap "touch {HUPPED}; kill $p; exit 7" HUP; touch {STARTED}; sleep 30 & p=$!; wait'
    with pam_session_log(hp) as log:
        sh = shell(hp, DEV)
        try:
            sh.sendline(f"{hp.jitexec} -S /usr/bin/bash -c '{script}' <<< '{password(DEV)}'")
            wait_until("the command to start", lambda: os.path.exists(STARTED), timeout=30)
            pid = jitexec_in(sh, hp)
            hp.leftovers.append(pid)
            sh.ptyproc.fileobj.close()  # the terminal's master side closes: a hang-up
            wait_until("jitexec to end after the hang-up", lambda: not alive(pid), timeout=30)
        finally:
            with contextlib.suppress(Exception):
                sh.close(force=True)
        assert os.path.exists(HUPPED), "the command never got SIGHUP"
        ends = wait_until("exec.end", lambda: events(hp, "exec.end"), timeout=15)
        assert [e.get("status") for e in ends] == [7], ends
        # The session is the target's (root's), as with sudo: opened and closed.
        assert session_log(log)[:2] == ["open_session root", "close_session root"], session_log(log)
