"""Automated approvers (issue 14) on the installed setuid binaries, as real users: an `[[automation]]`
named `@NAME` among a rule's approvers is a program that gets the request as JSON on stdin, runs as
its `run_as` (never root) with a timeout, and answers approve, deny or abstain. Its approval counts
once toward N like a person's, its deny ends a waiting command with 77, and anything else it does
(crash, hang, garbage, two answers, an untrusted file) approves nothing and is audited.

The test programs are small sh scripts (and one Python program that records what it was started
with) in a root-owned directory this file makes; the shipped
`ticket-check` asks a local HTTP server (127.0.0.1, random port) for the state of a ticket.
Every test starts from an empty store and ends with `jitctl verify`, no automation runner and no
process of the automations' account left behind."""
import datetime
import http.server
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import threading
import time

import pytest

from test_formats import documented, problems
from loop_support import (PASSWORD_PROMPT, approve, clear_credential_cache, events, finish, grant_id, grants,
                          password, request_id, run, show, spawn)

DEV = "jit-dev1"
LEAD = "jit-lead1"
AUTO_USER = "jit-auto"
DIR = "/tmp/jitexec-it-automation"
OUT = f"{DIR}/out"
SCHEMA = {"name": "jitexec.automation.request", "version": 1}

SETTINGS = """\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "5m"
request_ttl = "1h"
default_grant = "15m"
max_grant = "4h"
wait_timeout = "1m"
admins = ["%jit-admins"]
"""
COMMANDS = ["/usr/bin/true", "/usr/bin/id -u", "/usr/bin/id -g"]

APPROVE = {"decision": "approve", "comment": "this must never count"}


def toml_list(words):
    return "[" + ", ".join(json.dumps(w) for w in words) + "]"


def automation(name, command, run_as=AUTO_USER, timeout="5s", every=None):
    text = (f'\n[[automation]]\nname = "{name}"\ncommand = {toml_list(command)}\nrun_as = "{run_as}"\n'
            f'timeout = "{timeout}"\n')
    if every is not None:
        text += f'every = "{every}"\n'
    return text


def rule(approvers, approvals=1, name="deploy", commands=COMMANDS):
    return (f'\n[[rule]]\nname = "{name}"\nusers = ["%jit-developers"]\ncommands = {toml_list(commands)}\n'
            f'action = "approve"\napprovers = {toml_list(approvers)}\napprovals = {approvals}\nreason = "optional"\n')


def use_policy(inst, text):
    inst.write_policy(SETTINGS + text)
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, f"the automation policy does not load: {check.stdout}{check.stderr}"


def program(name, body, directory=DIR):
    """A root-owned 0755 sh program."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chown(path, 0, 0)
    os.chmod(path, 0o755)
    return path


def says(obj, after=""):
    """sh that prints `obj` as one line of JSON (control characters as \\u escapes), then `after`."""
    return f"printf '%s{after}\\n' {shlex.quote(json.dumps(obj))}\n"


def line_of(text, needle, start=0):
    """The 1-based number of the first line of `text` (from line `start` on) that contains `needle`."""
    for i, line in enumerate(text.splitlines()[start:], start + 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in the policy text")


def instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds_between(earlier, later):
    return (instant(later["time"]) - instant(earlier["time"])).total_seconds()


class Tickets:
    """A ticket API on 127.0.0.1 (random port): GET /tickets/ID answers {"status": STATE}, 404 for
    an unknown ticket. `states` may be changed while it runs; `paths` keeps what was asked."""

    def __init__(self, states):
        self.states = dict(states)
        self.paths = []
        tickets = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                tickets.paths.append(self.path)
                ticket = self.path.rsplit("/", 1)[-1]
                state = tickets.states.get(ticket) if self.path.startswith("/tickets/") else None
                body = json.dumps({"id": ticket, "status": state}).encode() if state else b'{"error": "no such ticket"}'
                self.send_response(200 if state else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tickets"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def proc_argv(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def parent(pid):
    """The parent pid of `pid` (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def runners():
    """The automation runners (`jitctl automate SEQ`) alive now. A runner's child that shares its
    memory shows the same command line (the program it starts, between clone and execve; the holder
    of its address space as it exits): a process whose parent is a runner is not counted again."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        argv = proc_argv(pid)
        if len(argv) >= 2 and os.path.basename(argv[0]) in (b"jitctl", b"jitexec") and argv[1] == b"automate" \
                and alive(pid):
            found.append(int(pid))
    return [pid for pid in found if parent(pid) not in found]


def automation_processes():
    """Processes of the automations' account alive now."""
    uid = pwd.getpwnam(AUTO_USER).pw_uid
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
        except (OSError, StopIteration):
            continue
        if str(uid) in uids and alive(pid):
            found.append(int(pid))
    return found


def wait_until(what, predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.1)


@pytest.fixture
def auto(inst):
    """The install with an empty store and credential cache, a fresh root-owned 0755 directory for
    test programs (with `out/`, writable only by jit-auto, for what they record) and a ticket API.
    Afterwards the chain verifies, and no runner or jit-auto process is left (they are killed)."""
    shutil.rmtree(DIR, ignore_errors=True)
    os.mkdir(DIR)
    os.chown(DIR, 0, 0)
    os.chmod(DIR, 0o755)
    os.mkdir(OUT)
    account = pwd.getpwnam(AUTO_USER)
    os.chown(OUT, account.pw_uid, account.pw_gid)
    os.chmod(OUT, 0o700)
    clear_credential_cache(inst)
    tickets = Tickets({"CHG-1": "approved", "CHG-2": "open", "CHG-4": "rejected"})
    inst.tickets = tickets
    inst.ticket_check = f"{inst.prefix}/usr/libexec/jitexec/ticket-check"
    try:
        yield inst
    finally:
        tickets.close()
        deadline = time.monotonic() + 3
        while (runners() or automation_processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {"runners": runners(), "jit-auto processes": automation_processes()}
        for pids in left.values():
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, f"jitctl verify after the test: {v.stdout}{v.stderr}"
    assert not any(left.values()), f"left running after the test (now killed): {left}"


def ticket_check(inst, *extra, every=None, timeout="5s"):
    return automation("ticket-check", [inst.ticket_check, "--api", inst.tickets.url, "--approved", "approved",
                                       *extra], every=every, timeout=timeout)


def jitexec(inst, *argv, user=DEV, env=None, timeout=60):
    """jitexec -S ARGV as `user`, the password on stdin, no terminal."""
    return run([inst.jitexec, "-S", *argv], user=user, input=password(user) + "\n", env=env, timeout=timeout)


def file_request(inst, *argv, reason=None, ticket=None, env=None):
    """Files a request with --no-wait (exit 75); its id."""
    extra = (["-r", reason] if reason is not None else []) + (["-T", ticket] if ticket is not None else [])
    r = jitexec(inst, "--no-wait", *extra, *argv, env=env)
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    return request_id(r.stderr)


def runs_of(inst, n):
    return [rec for rec in events(inst, "automation.run") if rec.get("request") == n]


def wait_for_runs(inst, n, count=1, timeout=10):
    """The request's `automation.run` records, once there are at least `count`."""
    deadline = time.monotonic() + timeout
    while True:
        found = runs_of(inst, n)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} automation.run records of request #{n} within {timeout}s, "
                                 f"wanted {count}; the log: {[(r['event'], r['actor']) for r in events(inst)]}")
        time.sleep(0.1)


def of_request(inst, event, n):
    return [rec for rec in events(inst, event) if rec.get("request") == n]


def approves_nothing(inst, n):
    """The request is still pending, with no approval, no grant and nothing run."""
    req = show(inst, n)
    assert req["status"] == "pending" and req["approvals"] == [], req
    assert of_request(inst, "approval.added", n) == []
    assert events(inst, "request.approved", "request.denied", "grant.created", "exec.start") == []


# 0. The shipped maintenance window ------------------------------------------------------------------

def test_the_shipped_maintenance_window_approves_inside_a_window_until_it_ends(auto):
    """The shipped `maintenance-window` through the installed binary: a request filed inside a
    window of the (root-owned) window file is approved by it with a grant ending with the window;
    outside every window it abstains and the request waits for people."""
    windows = f"{auto.confdir}/maintenance-windows"
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    end = now + datetime.timedelta(minutes=10)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(windows, "w") as f:
        f.write(f"# tonight's window\n{stamp(now - datetime.timedelta(minutes=5))} {stamp(end)} deploy\n")
    os.chown(windows, 0, 0)
    os.chmod(windows, 0o644)
    try:
        tool = f"{auto.prefix}/usr/libexec/jitexec/maintenance-window"
        use_policy(auto, automation("maintenance-window", [tool, "--file", windows])
                   + rule(["%jit-sre-leads", "@maintenance-window"]))
        r = jitexec(auto, "-r", "kernel update", "/usr/bin/true", timeout=30)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        n = request_id(r.stderr)
        assert f"request #{n} approved by @maintenance-window; running" in r.stderr, r.stderr
        (ran,) = runs_of(auto, n)
        assert ran["verdict"] == "approve" and "inside the maintenance window" in ran["comment"], ran
        (gr,) = grants(auto)
        assert abs((instant(gr["expires_at"]) - end).total_seconds()) <= 2, (gr["expires_at"], stamp(end))

        # The same file with the window over: abstain, and the request stays with people.
        with open(windows, "w") as f:
            f.write(f"{stamp(now - datetime.timedelta(hours=2))} {stamp(now - datetime.timedelta(hours=1))}\n")
        n = file_request(auto, "/usr/bin/id", "-u")
        (ran,) = wait_for_runs(auto, n)
        assert ran["verdict"] == "abstain" and "problem" not in ran, ran
        assert ran["comment"] == "no maintenance window ahead", ran
        assert show(auto, n)["status"] == "pending"
    finally:
        os.unlink(windows)

# 1. An approved ticket runs the command with no person at all -------------------------------------

def test_an_approved_ticket_runs_the_command_with_no_person(auto):
    use_policy(auto, ticket_check(auto) + rule(["%jit-sre-leads", "@ticket-check"]))
    r = jitexec(auto, "-r", "deploy CHG-1", "/usr/bin/true", timeout=30)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    n = request_id(r.stderr)
    assert f"request #{n} approved by @ticket-check; running" in r.stderr, r.stderr
    assert "/tickets/CHG-1" in auto.tickets.paths, auto.tickets.paths

    (ran,) = runs_of(auto, n)
    assert ran["actor"] == "@ticket-check" and ran["automation"] == "ticket-check" and ran["run"] == 1, ran
    assert ran["verdict"] == "approve" and "problem" not in ran, ran
    (added,) = of_request(auto, "approval.added", n)
    assert added["actor"] == "@ticket-check", added
    (approved,) = of_request(auto, "request.approved", n)
    assert approved["actor"] == "@ticket-check", approved
    (created,) = events(auto, "grant.created")
    assert created["actor"] == "@ticket-check" and created["grant"] == approved["grant"], created
    (start,) = of_request(auto, "exec.start", n)
    assert start["actor"] == DEV and start["grant"] == approved["grant"], start
    (filed,) = of_request(auto, "request.filed", n)
    assert filed["seq"] < ran["seq"] and filed["seq"] < added["seq"] < approved["seq"] < start["seq"]
    # The waiting jitexec started the command within a second of the program's verdict.
    assert 0 <= seconds_between(approved, start) < 1.0, (approved["time"], start["time"])
    assert 0 <= seconds_between(ran, start) < 1.0, (ran["time"], start["time"])

    req = show(auto, n)
    assert req["status"] == "approved" and [a["by"] for a in req["approvals"]] == ["@ticket-check"], req
    shown = run([auto.jitctl, "show", str(n)], user=DEV)
    assert shown.returncode == 0 and "@ticket-check" in shown.stdout, shown.stdout

    # -T names the ticket too: another command, another request, approved the same way.
    r = jitexec(auto, "-T", "CHG-1", "/usr/bin/id", "-u", timeout=30)
    assert (r.returncode, r.stdout) == (0, "0\n"), (r.returncode, r.stdout, r.stderr)
    m = request_id(r.stderr)
    assert m != n and f"request #{m} approved by @ticket-check; running" in r.stderr, r.stderr
    assert show(auto, m)["ticket"] == "CHG-1"
    assert [rec["actor"] for rec in events(auto, "approval.added")] == ["@ticket-check", "@ticket-check"]


def test_a_programs_duration_shortens_the_grant(auto):
    short = program("short", says({"decision": "approve", "comment": "for a minute and a half", "duration": "90s"}))
    use_policy(auto, automation("short", [short]) + rule(["%jit-sre-leads", "@short"]))
    n = file_request(auto, "/usr/bin/true")
    (ran,) = wait_for_runs(auto, n)
    assert ran["verdict"] == "approve" and ran["comment"] == "for a minute and a half", ran
    wait_until("the grant", lambda: grants(auto))
    (gr,) = grants(auto)
    length = (instant(gr["expires_at"]) - instant(gr["not_before"])).total_seconds()
    assert 85 <= length <= 91, (length, gr)
    assert jitexec(auto, "--no-wait", "/usr/bin/true").returncode == 0


# 2. A ticket in another state leaves the request to people ----------------------------------------

def test_an_open_ticket_abstains_and_a_person_decides(auto, background):
    use_policy(auto, ticket_check(auto) + rule(["%jit-sre-leads", "@ticket-check"]))
    n = file_request(auto, "/usr/bin/true", reason="deploy CHG-2")
    (ran,) = wait_for_runs(auto, n)
    assert ran["actor"] == "@ticket-check" and ran["verdict"] == "abstain", ran
    assert "problem" not in ran, f"the program abstained itself: no problem to report: {ran}"
    assert "/tickets/CHG-2" in auto.tickets.paths
    approves_nothing(auto, n)

    waiting = background([auto.jitexec, "-S", "-r", "deploy CHG-2", "/usr/bin/true"], DEV, input=password(DEV) + "\n")
    waiting.wait_for(rf"request #{n}\b")
    grant_id(approve(auto, n, LEAD))
    code, out, err = waiting.finish(timeout=15)
    assert code == 0, (code, out, err)
    assert f"request #{n} approved by {LEAD}; running" in err, err
    assert [rec["actor"] for rec in of_request(auto, "approval.added", n)] == [LEAD]
    assert len(runs_of(auto, n)) == 1, "without `every` the program runs once"


# 3. Whatever else a program does approves nothing --------------------------------------------------

BROKEN = {
    "crash": (says(APPROVE) + "kill -SEGV $$\n", r"(?i)signal|SIGSEGV|\b11\b"),
    "exit-status": (says(APPROVE) + "exit 3\n", r"status 3"),
    "garbage": ("echo 'yes, approve it'\n", r"(?i)json"),
    "two-objects": (says(APPROVE) + says(APPROVE), r"(?i)more than one|two|json"),
    "trailing-garbage": (says(APPROVE, after=" and more"), r"."),
    "no-output": ("exit 0\n", r"."),
    "array": (f"printf '%s\\n' {shlex.quote(json.dumps([APPROVE]))}\n", r"."),
    "unknown-key": (says(dict(APPROVE, grant="forever")), r"."),
    "wrong-type": (says({"decision": "approve", "comment": 5}), r"."),
    "unknown-decision": (says({"decision": "yes"}), r"."),
    "no-decision": (says({"comment": "approve"}), r"."),
    "bad-duration": (says({"decision": "approve", "duration": "forever"}), r"."),
    "long-comment": (says({"decision": "approve", "comment": "x" * 1001}), r"."),
    "more-than-64-KiB": ("head -c 70000 /dev/zero | tr '\\000' ' '\n" + says(APPROVE), r"."),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_misbehaving_program_abstains_with_the_problem_audited(auto, case):
    body, problem = BROKEN[case]
    path = program("broken", body)
    use_policy(auto, automation("broken", [path], timeout="3s") + rule(["%jit-sre-leads", "@broken"]))
    n = file_request(auto, "/usr/bin/true")
    (ran,) = wait_for_runs(auto, n, timeout=10)
    assert ran["actor"] == "@broken" and ran["verdict"] == "abstain", ran
    assert isinstance(ran.get("problem"), str) and re.search(problem, ran["problem"]), ran
    approves_nothing(auto, n)
    # A person still decides it.
    grant_id(approve(auto, n, LEAD))
    assert jitexec(auto, "--no-wait", "/usr/bin/true").returncode == 0


def test_a_program_past_its_timeout_is_killed_with_its_process_group(auto):
    hang = program("hang", f"""\
echo $$ > {OUT}/pid
sleep 30 &
echo $! > {OUT}/child
sleep 30
{says(APPROVE)}""")
    use_policy(auto, automation("hang", [hang], timeout="1s") + rule(["%jit-sre-leads", "@hang"]))
    n = file_request(auto, "/usr/bin/true")
    # While it hangs: the program runs as jit-auto, under a runner (`jitctl automate SEQ`) of its own.
    pid = int(wait_until("the program started", lambda: os.path.exists(f"{OUT}/pid") and open(f"{OUT}/pid").read()))
    assert pid in automation_processes() and runners(), (pid, automation_processes(), runners())
    (ran,) = wait_for_runs(auto, n, timeout=8)
    assert ran["verdict"] == "abstain" and "timed out" in ran["problem"] and "1s" in ran["problem"], ran
    (filed,) = of_request(auto, "request.filed", n)
    assert 0.9 <= seconds_between(filed, ran) < 5, (filed["time"], ran["time"])
    pids = [int(open(f"{OUT}/{name}").read()) for name in ("pid", "child")]
    wait_until(f"the program and its child {pids} are gone", lambda: not any(alive(p) for p in pids), timeout=3)
    approves_nothing(auto, n)


# 4. Untrusted programs ----------------------------------------------------------------------------

def make_untrusted(kind, path):
    if kind == "other-writable":
        os.chmod(path, 0o757)
    elif kind == "group-writable":
        os.chmod(path, 0o775)
    elif kind == "owned-by-a-user":
        dev = pwd.getpwnam(DEV)
        os.chown(path, dev.pw_uid, dev.pw_gid)
        os.chmod(path, 0o755)
    elif kind == "writable-directory":
        os.chmod(os.path.dirname(path), 0o777)
    elif kind == "symlink":
        target = path + ".real"
        os.rename(path, target)
        os.symlink(target, path)
    else:
        raise ValueError(kind)


UNTRUSTED = ["other-writable", "group-writable", "owned-by-a-user", "writable-directory", "symlink"]


def approving_program():
    """An approving program in its own root-owned 0755 directory, leaving a mark when it runs."""
    sub = f"{DIR}/sub"
    os.mkdir(sub)
    os.chmod(sub, 0o755)
    return program("approve", f"touch {OUT}/ran\n" + says({"decision": "approve", "comment": "ran"}), directory=sub)


@pytest.mark.parametrize("kind", UNTRUSTED + ["missing"])
def test_check_refuses_an_untrusted_program_naming_it(auto, kind):
    path = approving_program()
    if kind == "missing":
        os.unlink(path)
    else:
        make_untrusted(kind, path)
    text = SETTINGS + automation("approver", [path]) + rule(["%jit-sre-leads", "@approver"])
    policy = auto.write_policy(text, path=f"{DIR}/policy-{kind}.toml")
    r = run([auto.jitctl, "check", policy], user=DEV)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    header = line_of(text, "[[automation]]")
    lines = {header, line_of(text, "command =", header)}
    # The error names the program (or, when it is the directory that is writable, that directory).
    named = os.path.dirname(path) if kind == "writable-directory" else path
    found = re.search(rf"(?m)^{re.escape(policy)}:(\d+): error: .*{re.escape(named)}", r.stdout)
    assert found and int(found.group(1)) in lines, r.stdout
    assert not os.path.exists(f"{OUT}/ran")


@pytest.mark.parametrize("kind", UNTRUSTED)
def test_a_program_made_untrusted_after_loading_is_not_run(auto, kind):
    path = approving_program()
    use_policy(auto, automation("approver", [path]) + rule(["%jit-sre-leads", "@approver"]))
    make_untrusted(kind, path)
    # `jitctl check` of the installed policy now says so; the policy still loads for everything else.
    check = run([auto.jitctl, "check"])
    assert check.returncode == 1 and re.search(rf"(?m)^{re.escape(auto.policy)}:\d+: error: ", check.stdout), \
        (check.stdout, check.stderr)
    n = file_request(auto, "/usr/bin/true")
    (ran,) = wait_for_runs(auto, n)
    assert ran["actor"] == "@approver" and ran["verdict"] == "abstain", ran
    assert "trust" in ran.get("problem", ""), ran
    assert not os.path.exists(f"{OUT}/ran"), "an untrusted program must not run at all"
    approves_nothing(auto, n)


def test_a_program_whose_account_does_not_exist_is_not_run(auto):
    path = approving_program()
    use_policy(auto, automation("approver", [path], run_as="jit-no-such-account") + rule(["%jit-sre-leads", "@approver"]))
    n = file_request(auto, "/usr/bin/true")
    (ran,) = wait_for_runs(auto, n)
    assert ran["verdict"] == "abstain" and ran.get("problem"), ran
    assert not os.path.exists(f"{OUT}/ran")
    approves_nothing(auto, n)


# 5. Two approvals: a person and the program ---------------------------------------------------------

def test_program_first_then_a_person_makes_two(auto):
    use_policy(auto, ticket_check(auto, every="1s") + rule(["%jit-sre-leads", "@ticket-check"], approvals=2))
    n = file_request(auto, "/usr/bin/true", reason="deploy CHG-1")
    ran = wait_for_runs(auto, n, count=2)
    assert [(r["run"], r["verdict"]) for r in ran[:2]] == [(1, "approve"), (2, "approve")], ran
    # However often it approves, the program counts once: still 1/2.
    req = show(auto, n)
    assert req["status"] == "pending" and req["approvals_needed"] == 2, req
    assert [a["by"] for a in req["approvals"]] == ["@ticket-check"], req
    assert [r["actor"] for r in of_request(auto, "approval.added", n)] == ["@ticket-check"]
    still = jitexec(auto, "--no-wait", "-r", "deploy CHG-1", "/usr/bin/true")
    assert still.returncode == 75 and request_id(still.stderr) == n, still.stderr

    g = grant_id(approve(auto, n, LEAD))
    (approved,) = of_request(auto, "request.approved", n)
    assert approved["actor"] == LEAD and approved["grant"] == g
    assert [r["actor"] for r in of_request(auto, "approval.added", n)] == ["@ticket-check", LEAD]
    ran = jitexec(auto, "--no-wait", "-r", "deploy CHG-1", "/usr/bin/true")
    assert ran.returncode == 0, (ran.returncode, ran.stderr)
    # Decided: the runner stops running it.
    wait_until("the runner ends once the request is decided", lambda: not runners(), timeout=4)
    count = len(runs_of(auto, n))
    time.sleep(1.5)
    assert len(runs_of(auto, n)) == count


def test_a_person_first_then_the_program_makes_two(auto):
    auto.tickets.states["CHG-3"] = "open"
    use_policy(auto, ticket_check(auto, every="1s") + rule(["%jit-sre-leads", "@ticket-check"], approvals=2))
    n = file_request(auto, "/usr/bin/true", reason="deploy CHG-3")
    (first,) = wait_for_runs(auto, n)[:1]
    assert first["verdict"] == "abstain", first
    r = approve(auto, n, LEAD)
    assert r.returncode == 0 and f"recorded your approval of request #{n} (1/2); it needs 1 more" in r.stdout, \
        (r.stdout, r.stderr)
    assert show(auto, n)["status"] == "pending"
    auto.tickets.states["CHG-3"] = "approved"
    wait_until("the program's approval", lambda: show(auto, n)["status"] == "approved", timeout=6)
    (approved,) = of_request(auto, "request.approved", n)
    assert approved["actor"] == "@ticket-check", approved
    assert [r["actor"] for r in of_request(auto, "approval.added", n)] == [LEAD, "@ticket-check"]
    assert [r["verdict"] for r in runs_of(auto, n)][-1] == "approve"
    ran = jitexec(auto, "--no-wait", "-r", "deploy CHG-3", "/usr/bin/true")
    assert ran.returncode == 0, (ran.returncode, ran.stderr)


# 6. A program's deny ends the wait ----------------------------------------------------------------

def test_a_programs_deny_ends_a_waiting_command_with_77(auto):
    freeze = program("freeze", "sleep 2\n" + says({"decision": "deny", "comment": "change freeze until 2027-01-04"}))
    use_policy(auto, automation("freeze", [freeze]) + rule(["%jit-sre-leads", "@freeze"]))
    child = spawn(auto, DEV, [auto.jitexec, "-r", "deploy now", "/usr/bin/true"], timeout=30)
    try:
        child.expect(PASSWORD_PROMPT)
        child.sendline(password(DEV))
        child.expect(r"request #(\d+) filed")
        n = int(child.match.group(1))
        child.expect(rf"request #{n}: 0/1 approvals", timeout=10)
        child.expect(rf"jitexec: request #{n} was denied by @freeze: change freeze until 2027-01-04; nothing was run",
                     timeout=15)
        status, _ = finish(child, timeout=10)
    finally:
        child.close(force=True)
    assert status == 77
    (ran,) = runs_of(auto, n)
    assert ran["verdict"] == "deny" and ran["comment"] == "change freeze until 2027-01-04", ran
    (denied,) = of_request(auto, "request.denied", n)
    assert denied["actor"] == "@freeze" and denied["comment"] == "change freeze until 2027-01-04", denied
    assert show(auto, n)["status"] == "denied"
    assert events(auto, "grant.created", "exec.start") == []
    late = approve(auto, n, LEAD)
    assert late.returncode == 1 and "already denied" in late.stderr, (late.stdout, late.stderr)


def test_ticket_check_denies_a_rejected_ticket(auto, background):
    use_policy(auto, ticket_check(auto, "--deny", "rejected") + rule(["%jit-sre-leads", "@ticket-check"]))
    waiting = background([auto.jitexec, "-S", "-T", "CHG-4", "/usr/bin/true"], DEV, input=password(DEV) + "\n")
    code, out, err = waiting.finish(timeout=20)
    assert code == 77, (code, out, err)
    n = request_id(err)
    assert f"request #{n} was denied by @ticket-check" in err and "nothing was run" in err, err
    (denied,) = of_request(auto, "request.denied", n)
    assert denied["actor"] == "@ticket-check"
    assert events(auto, "exec.start") == []


# 7. every: asked again while the request is pending -----------------------------------------------

def test_every_asks_again_and_the_second_answer_approves_a_waiting_request(auto, background):
    second = program("second-look", f"""\
count=$(cat {OUT}/count 2>/dev/null || echo 0)
count=$((count + 1))
echo $count > {OUT}/count
if [ "$count" -ge 2 ]; then
{says({"decision": "approve", "comment": "second look"})}else
{says({"decision": "abstain", "comment": "first look"})}fi
""")
    use_policy(auto, automation("second-look", [second], every="1s") + rule(["%jit-sre-leads", "@second-look"]))
    waiting = background([auto.jitexec, "-S", "/usr/bin/true"], DEV, input=password(DEV) + "\n")
    n = int(waiting.wait_for(r"request #(\d+) filed").group(1))
    code, out, err = waiting.finish(timeout=20)
    assert code == 0, (code, out, err)
    assert f"request #{n} approved by @second-look; running" in err, err
    ran = runs_of(auto, n)
    assert [(r["run"], r["verdict"], r.get("comment")) for r in ran] == \
        [(1, "abstain", "first look"), (2, "approve", "second look")], ran
    assert 0.8 <= seconds_between(ran[0], ran[1]) < 5, (ran[0]["time"], ran[1]["time"])
    (approved,) = of_request(auto, "request.approved", n)
    (start,) = of_request(auto, "exec.start", n)
    assert approved["actor"] == "@second-look" and 0 <= seconds_between(approved, start) < 1.0
    wait_until("the runner ends once the request is decided", lambda: not runners(), timeout=4)
    time.sleep(1.2)
    assert open(f"{OUT}/count").read().strip() == "2", "no run after the request was decided"


# 8. explain ---------------------------------------------------------------------------------------

def test_explain_names_the_automations_a_rule_consults(auto):
    freeze = program("freeze", says({"decision": "abstain"}))
    use_policy(auto, ticket_check(auto) + automation("freeze", [freeze])
               + rule(["%jit-sre-leads", "@ticket-check", "@freeze"]))
    for argv, user in (([auto.jitctl, "explain", "-U", DEV, "--", "/usr/bin/true"], None),
                       ([auto.jitctl, "explain", "--", "/usr/bin/true"], DEV)):
        r = run(argv, user=user)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        assert "rule:     deploy" in r.stdout, r.stdout
        assert "@ticket-check" in r.stdout and "@freeze" in r.stdout, r.stdout
    # Explaining runs nothing.
    assert events(auto, "automation.run", "request.filed") == []


# 9. Policy errors ---------------------------------------------------------------------------------

def error_cases(trusted):
    """case: (policy text, the text of the line the error is at, searched from the line with `after`,
    a pattern its message matches)."""
    auto_x = automation("x", [trusted])
    login = '\n[[login]]\nusers = ["%jit-developers"]\nservices = ["sshd"]\napprovers = ["@x"]\napprovals = 1\n'
    return {
        "undefined": (SETTINGS + rule(["%jit-sre-leads", "@missing"]), "approvers =", None, "missing"),
        "run-as-root": (SETTINGS + automation("x", [trusted], run_as="root") + rule(["@x"]), 'run_as = "root"', None,
                        "root"),
        "in-login-approvers": (SETTINGS + auto_x + rule(["@x"]) + login, 'approvers = ["@x"]', "[[login]]", "@x"),
        "in-users": (SETTINGS + auto_x + rule(["@x"]).replace('users = ["%jit-developers"]', 'users = ["@x"]'),
                     'users = ["@x"]', None, "@x"),
        "in-admins": (SETTINGS.replace('admins = ["%jit-admins"]', 'admins = ["@x"]') + auto_x + rule(["@x"]),
                      'admins = ["@x"]', None, "@x"),
        "in-rule-run-as": (SETTINGS + auto_x + rule(["@x"]).replace('users = ["%jit-developers"]\n',
                                                                    'users = ["%jit-developers"]\nrun_as = ["@x"]\n'),
                           'run_as = ["@x"]', None, "@x"),
        "bad-name": (SETTINGS + automation("ticket check!", [trusted]) + rule(["%jit-sre-leads"]),
                     'name = "ticket check!"', None, re.escape("ticket check!")),
        "relative-command": (SETTINGS + automation("x", ["ticket-check"]) + rule(["@x"]), "command =", None,
                             "ticket-check"),
        "every-too-short": (SETTINGS + automation("x", [trusted], every="0s") + rule(["@x"]), 'every = "0s"', None,
                            "every|0s"),
    }


ERROR_CASES = sorted(error_cases("/x"))


@pytest.mark.parametrize("case", ERROR_CASES)
def test_check_reports_automation_policy_errors_at_their_line(auto, case):
    trusted = program("abstain", says({"decision": "abstain"}))
    text, at, after, pattern = error_cases(trusted)[case]
    line = line_of(text, at, line_of(text, after) if after else 0)
    policy = auto.write_policy(text, path=f"{DIR}/policy-{case}.toml")
    r = run([auto.jitctl, "check", policy], user=DEV)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    errors = [l for l in r.stdout.splitlines() if l.startswith(f"{policy}:{line}: error:")]
    assert any(re.search(pattern, l) for l in errors), f"wanted an error at line {line} matching {pattern!r}:\n{r.stdout}"


def test_check_accepts_a_good_automation_policy(auto):
    trusted = program("abstain", says({"decision": "abstain"}))
    text = SETTINGS + ticket_check(auto, every="1m") + automation("abstain", [trusted]) \
        + rule(["%jit-sre-leads", "@ticket-check", "@abstain"], approvals=2)
    policy = auto.write_policy(text, path=f"{DIR}/policy-good.toml")
    r = run([auto.jitctl, "check", policy], user=DEV)
    assert r.returncode == 0 and "error" not in r.stdout, (r.returncode, r.stdout, r.stderr)


# 10. What the program runs with -----------------------------------------------------------------

# A Python program (a shell keeps descriptors of its own): what it was started with, as JSON in
# out/record.json, then it abstains. Its first act lists its descriptors; the listing's own one is
# closed by the time it is looked at, so it drops out.
RECORD = """\
import json, os, sys
fds = {}
for name in os.listdir("/proc/self/fd"):
    try:
        fds[name] = os.readlink("/proc/self/fd/" + name)
    except OSError:
        pass
mask = os.umask(0o077)
with open("/proc/self/environ", "rb") as f:
    environ = [e.decode() for e in f.read().split(b"\\0") if e]
with open("/proc/self/status") as f:
    status = f.read()
with open("/proc/self/stat") as f:
    stat = f.read()
seen = {"fds": fds, "umask": mask, "environ": environ, "status": status, "stat": stat, "cwd": os.getcwd(),
        "stdin": sys.stdin.buffer.read().decode()}
with open("@OUT@/record.json.tmp", "w") as f:
    json.dump(seen, f)
os.rename("@OUT@/record.json.tmp", "@OUT@/record.json")
print(json.dumps({"decision": "abstain", "comment": "recorded"}))
""".replace("@OUT@", OUT)


def record_program():
    path = program("record", "")
    with open(path, "w") as f:
        f.write("#!/usr/bin/python3 -I\n" + RECORD)
    return path


def recorded():
    with open(f"{OUT}/record.json") as f:
        return json.load(f)


def test_the_program_gets_the_request_json_a_bare_environment_and_no_privilege(auto):
    record = record_program()
    use_policy(auto, automation("record", [record]) + rule(["%jit-sre-leads", "@record"]))
    caller = {"FOO_LEAK": "1", "JITEXEC_RULE": "forged", "HOME": f"/home/{DEV}", "TZ": "UTC", "LANG": "C.UTF-8"}
    n = file_request(auto, "/usr/bin/true", reason="deploy CHG-7 \u00e9", ticket="CHG-7", env=caller)
    (ran,) = wait_for_runs(auto, n)
    assert ran["verdict"] == "abstain" and ran["comment"] == "recorded" and "problem" not in ran, ran
    seen = recorded()
    account = pwd.getpwnam(AUTO_USER)

    # stdin: one JSON object and a newline, the documented shape.
    raw = seen["stdin"]
    assert raw.endswith("}\n") and raw.count("\n") == 1, raw
    given = json.loads(raw)
    assert given["schema"] == SCHEMA
    assert given["automation"] == "record" and given["run"] == 1
    assert abs((datetime.datetime.now(datetime.timezone.utc) - instant(given["now"])).total_seconds()) < 60
    assert given["rule"] == {"name": "deploy", "approvers": ["%jit-sre-leads", "@record"], "approvals": 1}
    req = show(auto, n)
    assert given["host"] == req["host"]
    assert {k: v for k, v in given["request"].items() if k != "schema"} == \
        {k: v for k, v in req.items() if k != "schema"}, (given["request"], req)
    assert given["request"]["id"] == n and given["request"]["status"] == "pending"
    assert given["request"]["ticket"] == "CHG-7" and given["request"]["reason"] == "deploy CHG-7 \u00e9"
    # The input, and the automation.run record, are what jitexec-formats(5) documents.
    schemas, documented_events = documented()
    found = problems(given, schemas[("jitexec.automation.request", 1)], "stdin")
    found += problems(given["request"], schemas[("jitexec.request", 1)], "stdin request")
    log = run([auto.jitctl, "log", "--json", "--event", "automation.run"])
    assert log.returncode == 0, log.stderr
    for line in log.stdout.splitlines():
        record = json.loads(line)
        found += problems(record["fields"], documented_events["automation.run"], f"automation.run {record['seq']}")
    assert not found, "\n".join(found)

    # The environment: exactly the documented list, nothing of the caller's.
    env = dict(e.split("=", 1) for e in seen["environ"])
    assert len(env) == len(seen["environ"]), seen["environ"]
    assert env == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/", "JITEXEC_AUTOMATION": "record",
                   "JITEXEC_REQUEST": str(n), "JITEXEC_REQUESTER": DEV, "JITEXEC_RULE": "deploy",
                   "JITEXEC_TICKET": "CHG-7", "JITEXEC_REASON": "deploy CHG-7 \u00e9"}, env

    # run_as fully taken: every uid and gid, its groups only, no capability.
    status = dict(line.split(":", 1) for line in seen["status"].splitlines() if ":" in line)
    assert status["Uid"].split() == [str(account.pw_uid)] * 4, status["Uid"]
    assert status["Gid"].split() == [str(account.pw_gid)] * 4, status["Gid"]
    assert set(status["Groups"].split()) <= {str(account.pw_gid)}, status["Groups"]
    for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(status[cap], 16) == 0, (cap, status[cap])
    # Its own session and process group, no controlling terminal.
    pid = int(seen["stat"].split()[0])
    fields = seen["stat"].rsplit(")", 1)[1].split()
    pgrp, session, tty = int(fields[2]), int(fields[3]), int(fields[4])
    assert (pgrp, session, tty) == (pid, pid, 0), seen["stat"]
    # cwd /, umask 077, stdin and stdout, stderr /dev/null, no other descriptor.
    assert seen["cwd"] == "/"
    assert seen["umask"] == 0o077, oct(seen["umask"])
    assert set(seen["fds"]) == {"0", "1", "2"}, seen["fds"]
    assert seen["fds"]["2"] == "/dev/null", seen["fds"]

    # Without -T and a reason, those two are not set at all.
    os.unlink(f"{OUT}/record.json")
    m = file_request(auto, "/usr/bin/id", "-u")
    wait_for_runs(auto, m)
    env = dict(e.split("=", 1) for e in recorded()["environ"])
    assert env == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/", "JITEXEC_AUTOMATION": "record",
                   "JITEXEC_REQUEST": str(m), "JITEXEC_REQUESTER": DEV, "JITEXEC_RULE": "deploy"}, env


def test_a_user_cannot_run_an_automation(auto):
    use_policy(auto, automation("record", [record_program()]) + rule(["%jit-sre-leads", "@record"]))
    n = file_request(auto, "/usr/bin/true")
    wait_for_runs(auto, n)
    wait_until("the runner ends", lambda: not runners(), timeout=4)
    os.unlink(f"{OUT}/record.json")
    (filed,) = of_request(auto, "request.filed", n)
    for user in (DEV, LEAD):
        r = run([auto.jitctl, "automate", str(filed["seq"])], user=user)
        assert r.returncode == 1 and r.stdout == "" and r.stderr.startswith("jitctl: "), (r.returncode, r.stdout, r.stderr)
    time.sleep(1)
    assert os.listdir(OUT) == [], "the program did not run"
    assert len(runs_of(auto, n)) == 1


# 11. Hostile output is shown escaped --------------------------------------------------------------

def test_a_programs_comment_with_terminal_escapes_is_shown_escaped(auto):
    comment = "looks fine \x1b]0;pwned\x07\x1b[2J\r\nlead$ done"
    hostile = program("hostile", says({"decision": "approve", "comment": comment}))
    use_policy(auto, automation("hostile", [hostile]) + rule(["%jit-sre-leads", "@hostile"], approvals=2))
    n = file_request(auto, "/usr/bin/true")
    (ran,) = wait_for_runs(auto, n)
    assert ran["verdict"] == "approve" and ran["comment"] == comment, ran
    req = show(auto, n)
    assert [(a["by"], a["comment"]) for a in req["approvals"]] == [("@hostile", comment)], req
    views = {"jitctl show": ([auto.jitctl, "show", str(n)], (LEAD, DEV)),
             "jitctl log": ([auto.jitctl, "log"], (None,)),
             "jitctl requests": ([auto.jitctl, "requests", "--all"], (LEAD,))}
    for where, (argv, users) in views.items():
        for user in users:
            r = run(argv, user=user, env={"TERM": "xterm"})
            assert r.returncode == 0, (where, user, r.stderr)
            text = (r.stdout + r.stderr).encode()
            assert b"\x1b" not in text and b"\x07" not in text and b"\r" not in text, (where, user, text)
            if where != "jitctl requests":
                assert "\\x1b]0;pwned\\x07\\x1b[2J\\r\\nlead$ done" in r.stdout, (where, user, r.stdout)
