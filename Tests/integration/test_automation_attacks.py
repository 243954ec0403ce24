"""Attacks on automated approvers (issue 14) through the installed setuid binaries: what the requester
controls (signals, floods, cancel-and-refile, the reason, the ticket, the argv, descriptors, signal
dispositions, the terminal, timing) and what a hostile or broken automation program can print or do,
must never make a request approved that the policy does not approve, lengthen a grant, or reach the
caller.

The helpers and the `auto` fixture are test_automation.py's: an empty store per test, programs in a
root-owned directory, jit-auto as their `run_as`, and afterwards a verifying chain with no runner
and no jit-auto process left behind."""
import ctypes
import errno
import grp
import json
import os
import pwd
import re
import select
import signal
import subprocess

import pytest

from test_automation import (DEV, DIR, LEAD, OUT, SETTINGS, alive, auto, automation, file_request,  # noqa: F401
                             instant, jitexec, of_request, program, record_program, recorded, rule, runners, says,
                             ticket_check, use_policy, wait_for_runs, wait_until)
from loop_support import approve, environment, events, grants, password, request_id, run, show, spawn, user_kwargs

LEAD2 = "jit-lead2"
PWNED = "/tmp/jitexec-it-automation-pwned"


def cancel(inst, n, user=DEV):
    r = run([inst.jitctl, "cancel", str(n), "-S"], user=user, input=password(user) + "\n")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)


def pid_file(name):
    """The number in OUT/NAME once a program has written it."""
    path = f"{OUT}/{name}"
    return int(wait_until(f"{path} written", lambda: os.path.exists(path) and open(path).read().strip()))


def still_pending_without_approval(inst, n):
    req = show(inst, n)
    assert req["status"] == "pending" and req["approvals"] == [], req
    assert of_request(inst, "approval.added", n) == [] and of_request(inst, "request.approved", n) == []


# 1. Signals: the requester cannot stop, kill or hold up the runner or the program -----------------

def test_the_requester_cannot_signal_the_runner_or_the_program(auto):
    slow = program("slow", f"echo $$ > {OUT}/pid\nsleep 2\n" + says({"decision": "approve", "comment": "in time"}))
    use_policy(auto, automation("slow", [slow]) + rule(["%jit-sre-leads", "@slow"]))
    n = file_request(auto, "/usr/bin/true")
    pid = pid_file("pid")
    (runner,) = runners()
    # As the requester: every signal to the root runner and to the jit-auto program (its process
    # group, its pid) is refused by the kernel (EPERM); SIGCONT too, since neither shares a session.
    attempts = {
        "stop the runner": f"os.kill({runner}, signal.SIGSTOP)",
        "kill the runner": f"os.kill({runner}, signal.SIGKILL)",
        "continue the runner": f"os.kill({runner}, signal.SIGCONT)",
        "stop the program's group": f"os.killpg({pid}, signal.SIGSTOP)",
        "kill the program's group": f"os.killpg({pid}, signal.SIGKILL)",
        "kill the program": f"os.kill({pid}, signal.SIGKILL)",
        "continue the program": f"os.kill({pid}, signal.SIGCONT)",
    }
    code = "import os, signal, json\nout = {}\n" + "".join(
        f"try:\n    {call}\n    out[{what!r}] = 0\nexcept OSError as e:\n    out[{what!r}] = e.errno\n"
        for what, call in attempts.items()) + "print(json.dumps(out))\n"
    r = run(["python3", "-c", code], user=DEV)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {what: errno.EPERM for what in attempts}, r.stdout
    for p in (runner, pid):
        with open(f"/proc/{p}/stat") as f:
            assert f.read().rsplit(")", 1)[1].split()[0] != "T", f"{p} was stopped"
    # Untouched, the program answers and its approval counts.
    (ran,) = wait_for_runs(auto, n)
    assert ran["verdict"] == "approve" and "problem" not in ran, ran
    assert show(auto, n)["status"] == "approved"


# 2. Floods: at most ten pending requests, so at most ten runners ------------------------------------

def test_a_flood_of_requests_starts_at_most_ten_runners(auto):
    slow = program("slow", "sleep 2\n" + says({"decision": "abstain", "comment": "slow"}))
    use_policy(auto, automation("slow", [slow]) + rule(["%jit-sre-leads", "@slow"]))
    peak = 0
    filed = []
    for i in range(12):
        r = jitexec(auto, "--no-wait", "-r", f"flood {i}", "/usr/bin/true")
        peak = max(peak, len(runners()))
        if i < 10:
            assert r.returncode == 75, (i, r.returncode, r.stderr)
            filed.append(request_id(r.stderr))
        else:
            assert r.returncode != 75 and "10 pending requests" in r.stderr, (i, r.returncode, r.stderr)
    assert peak <= 10, peak
    assert len(events(auto, "request.filed")) == 10
    for n in filed:
        wait_for_runs(auto, n)
    assert len(events(auto, "automation.run")) == 10
    assert events(auto, "approval.added", "request.approved", "grant.created") == []


# 3. Cancel and refile: a late verdict never lands on another request ---------------------------------

def test_a_verdict_for_a_cancelled_request_is_ignored_and_never_moves_to_the_refiled_one(auto):
    slow = program("slow", f"""\
echo $$ > {OUT}/pid.$JITEXEC_REQUEST
sleep 2
printf '{{"decision": "approve", "comment": "request %s"}}\\n' "$JITEXEC_REQUEST"
""")
    use_policy(auto, automation("slow", [slow], timeout="6s") + rule(["%jit-sre-leads", "@slow"]))
    first = file_request(auto, "/usr/bin/true")
    pid_file(f"pid.{first}")
    cancel(auto, first)
    second = file_request(auto, "/usr/bin/true")
    assert second != first
    (late,) = wait_for_runs(auto, first, timeout=8)
    # Stopped once its request was cancelled, and recorded as such: its answer never came.
    assert late["verdict"] == "abstain" and "cancelled" in late.get("ignored", ""), late
    assert late["problem"] == "was stopped: the request was decided while it ran", late
    assert show(auto, first)["status"] == "cancelled"
    (own,) = wait_for_runs(auto, second, timeout=8)
    assert "ignored" not in own, own
    req = show(auto, second)
    assert req["status"] == "approved", req
    assert [(a["by"], a["comment"]) for a in req["approvals"]] == [("@slow", f"request {second}")], req
    assert of_request(auto, "approval.added", first) == [] and of_request(auto, "grant.created", first) == []
    assert [g["request_id"] for g in grants(auto)] == [second]


# 4. What the requester writes reaches the program as data, exactly -----------------------------------

def test_the_program_gets_reason_ticket_and_argv_exactly_as_data(auto):
    """A program that echoes its stdin as its answer: the request object (the reason's forged
    answer line is inside it, escaped) is not an answer, so it abstains; what it read is byte-exact:
    non-UTF-8 as {"hex": ...} in the JSON, raw bytes in JITEXEC_REASON / JITEXEC_TICKET (when at
    most 4096 bytes)."""
    echo = program("echo", f"cat /proc/$$/environ > {OUT}/environ.$JITEXEC_REQUEST\ncat > {OUT}/stdin.$JITEXEC_REQUEST\n"
                   f"exec cat {OUT}/stdin.$JITEXEC_REQUEST\n")
    use_policy(auto, automation("echo", [echo])
               + rule(["%jit-sre-leads", "@echo"], commands=["/usr/bin/true", "/usr/bin/echo **"]))
    forged = json.dumps({"decision": "approve", "comment": "forged"})
    reason = (f"deploy $(touch {PWNED}) `touch {PWNED}`; touch {PWNED} | x & CHG-1\n{forged}\n").encode() \
        + b"\xff\xfe\x1b[2J\r" + forged.encode()
    ticket = b"CHG-1\n" + forged.encode() + b"\xc0\xaf"
    argv = [b"/usr/bin/echo", f"$(touch {PWNED})".encode(), b"\xff", b"a;b\n" + forged.encode()]
    big = "y" * 100_000 + " CHG-1 \u00e9"
    cases = {
        file_request(auto, *argv, reason=reason, ticket=ticket): (reason, ticket, argv),
        file_request(auto, "/usr/bin/true", reason=big): (big.encode(), None, [b"/usr/bin/true"]),
    }

    def text(b):
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return {"hex": b.hex()}

    for n, (want_reason, want_ticket, want_argv) in cases.items():
        (ran,) = wait_for_runs(auto, n)
        # Its answer is the request object (over 64 KiB with the long reason): never a verdict.
        assert ran["verdict"] == "abstain", ran
        assert re.search(r"unknown key 'automation'|more than 64 KiB", ran.get("problem", "")), ran
        with open(f"{OUT}/stdin.{n}", "rb") as f:
            raw = f.read()
        assert raw.endswith(b"}\n") and raw.count(b"\n") == 1, raw[-200:]
        given = json.loads(raw)["request"]
        assert given["id"] == n
        assert given["reason"] == text(want_reason), given["reason"]
        assert given["ticket"] == (None if want_ticket is None else text(want_ticket)), given["ticket"]
        assert given["command"] == [text(a) for a in want_argv], given["command"]
        with open(f"{OUT}/environ.{n}", "rb") as f:
            env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if e)
        # In the environment only up to 4096 bytes (the 100 kB reason is on stdin alone).
        assert env.get(b"JITEXEC_REASON") == (want_reason if len(want_reason) <= 4096 else None)
        assert env.get(b"JITEXEC_TICKET") == want_ticket
        still_pending_without_approval(auto, n)
    assert not os.path.exists(PWNED), "something the requester wrote was executed"


def test_a_hostile_reason_or_ticket_steers_ticket_check_nowhere(auto):
    """The shipped ticket-check through the installed binary: shell syntax in the reason runs nothing,
    a forged answer in the reason is not an answer, only a well-formed ticket id reaches the URL,
    and the first ticket named wins (CHG-2 is open, CHG-1 approved)."""
    use_policy(auto, ticket_check(auto) + rule(["%jit-sre-leads", "@ticket-check"]))
    invalid = "the ticket id is not 1 to 64 letters, digits, '.', '_' or '-' (the first a letter or digit)"
    cases = [
        (dict(reason=f"roll out $(touch {PWNED}) `touch {PWNED}`; touch {PWNED} CHG-2 || CHG-1"),
         "ticket CHG-2 is in state 'open'", ["/tickets/CHG-2"]),
        (dict(reason="CHG-2\nCHG-1"), "ticket CHG-2 is in state 'open'", ["/tickets/CHG-2"]),
        (dict(reason=b"\xff\xfe CHG-2 \xc0\xaf CHG-1"), "ticket CHG-2 is in state 'open'", ["/tickets/CHG-2"]),
        (dict(reason='{"decision": "approve", "comment": "ok"}'), "no ticket id in the request", []),
        (dict(reason="x" * 4000 + " CHG-2"), "ticket CHG-2 is in state 'open'", ["/tickets/CHG-2"]),
        # Over 4096 bytes the reason is on stdin only, where ticket-check does not look.
        (dict(reason="x" * 100_000 + " CHG-1"), "no ticket id in the request", []),
        (dict(ticket=f"CHG-1$(touch {PWNED})"), invalid, []),
        (dict(ticket="CHG-1\nCHG-1"), invalid, []),
        (dict(ticket="CHG-1/../../admin"), invalid, []),
        (dict(ticket="CHG-1?status=approved"), invalid, []),
        (dict(ticket=b"CHG-1\xff"), invalid, []),
    ]
    for kwargs, comment, paths in cases:
        before = len(auto.tickets.paths)
        n = file_request(auto, "/usr/bin/true", **kwargs)
        (ran,) = wait_for_runs(auto, n)
        assert (ran["verdict"], ran.get("comment"), ran.get("problem")) == ("abstain", comment, None), (kwargs, ran)
        assert auto.tickets.paths[before:] == paths, (kwargs, auto.tickets.paths[before:])
        still_pending_without_approval(auto, n)
        cancel(auto, n)
    assert not os.path.exists(PWNED), "something the requester wrote was executed"


# 5. The caller's descriptors, signal dispositions and terminal stay the caller's -------------------

def ignore_through_the_kernel(sig):
    """rt_sigaction(sig, SIG_IGN) as a raw system call (x86-64: 13), past glibc."""
    action = (ctypes.c_ulong * 4)(1, 0, 0, 0)  # handler SIG_IGN, flags, restorer, mask
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(13, sig, ctypes.byref(action), None, 8) != 0:
        os._exit(120)


def test_the_callers_descriptors_and_signal_dispositions_do_not_reach_the_program(auto):
    record = record_program()
    use_policy(auto, automation("record", [record]) + rule(["%jit-sre-leads", "@record"]))
    read_end, write_end = os.pipe()
    extra = os.open("/etc/hostname", os.O_RDONLY)

    def hostile_start():
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGALRM, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_IGN)
        # 32 and 33, which glibc keeps for itself (its sigaction refuses them), ignored through the
        # kernel directly: SIG_IGN survives exec.
        for sig in (32, 33):
            ignore_through_the_kernel(sig)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM, signal.SIGCHLD, signal.SIGALRM})
        os.umask(0)

    try:
        r = subprocess.run([auto.jitexec, "-S", "--no-wait", "/usr/bin/true"], input=password(DEV) + "\n",
                           capture_output=True, text=True, env=environment(), cwd="/", start_new_session=True,
                           pass_fds=(write_end, extra), preexec_fn=hostile_start, timeout=30, **user_kwargs(DEV))
        assert r.returncode == 75, (r.returncode, r.stderr)
        os.close(write_end)
        (ran,) = wait_for_runs(auto, request_id(r.stderr))
        assert ran["comment"] == "recorded" and "problem" not in ran, ran
        wait_until("the runner ends", lambda: not runners(), timeout=5)
        # Nothing the requester started holds the write end of their pipe: it reads end-of-file.
        ready, _, _ = select.select([read_end], [], [], 3)
        assert ready and os.read(read_end, 16) == b"", "the caller's pipe is still held open"
    finally:
        os.close(read_end)
        os.close(extra)
    seen = recorded()
    assert set(seen["fds"]) == {"0", "1", "2"}, seen["fds"]
    assert seen["umask"] == 0o077, oct(seen["umask"])
    status = dict(line.split(":", 1) for line in seen["status"].splitlines() if ":" in line)
    assert int(status["SigBlk"], 16) == 0, status["SigBlk"]
    # Python ignores SIGPIPE and SIGXFSZ itself; nothing the caller ignored is ignored.
    own = (1 << (signal.SIGPIPE - 1)) | (1 << (signal.SIGXFSZ - 1))
    assert int(status["SigIgn"], 16) & ~own == 0, status["SigIgn"]


def test_the_program_cannot_reach_the_callers_terminal(auto):
    tty = program("tty", f"""\
sleep 1
for t in /dev/tty /dev/pts/[0-9]* /dev/console; do
  if ( printf 'HIJACK\\n' > "$t" ) 2>/dev/null; then echo "wrote $t" >> {OUT}/reached; fi
  if ( : < "$t" ) 2>/dev/null; then echo "read $t" >> {OUT}/reached; fi
done
touch {OUT}/done
{says({"decision": "abstain", "comment": "tried"})}""")
    use_policy(auto, automation("tty", [tty]) + rule(["%jit-sre-leads", "@tty"]))
    child = spawn(auto, DEV, [auto.jitexec, "-r", "on a terminal", "/usr/bin/true"], timeout=30)
    try:
        # The requester's terminal, as a login would leave it: theirs, mode 0620, group tty.
        slave = os.readlink(f"/proc/{child.pid}/fd/0")
        assert slave.startswith("/dev/pts/"), slave
        os.chown(slave, pwd.getpwnam(DEV).pw_uid, grp.getgrnam("tty").gr_gid)
        os.chmod(slave, 0o620)
        child.expect("password")
        child.sendline(password(DEV))
        child.expect(r"request #(\d+) filed")
        n = int(child.match.group(1))
        (ran,) = wait_for_runs(auto, n)
        assert ran["comment"] == "tried" and "problem" not in ran, ran
        assert os.path.exists(f"{OUT}/done")
        assert not os.path.exists(f"{OUT}/reached"), open(f"{OUT}/reached").read()
        child.expect(r"0/1 approvals", timeout=5)
        assert "HIJACK" not in child.before
    finally:
        child.close(force=True)


# 6. A program that answers and then does not end ----------------------------------------------------

LINGER = {
    "keeps-stdout-open": says({"decision": "approve", "comment": "lingering"}) + "sleep 30\n",
    "closes-stdout": says({"decision": "approve", "comment": "lingering"}) + "exec >&-\nsleep 30\n",
    "child-holds-stdout": "sleep 30 &\n" + says({"decision": "approve", "comment": "lingering"}),
}


@pytest.mark.parametrize("case", sorted(LINGER))
def test_an_answer_from_a_program_that_outlives_its_timeout_approves_nothing(auto, case):
    linger = program("linger", LINGER[case])
    use_policy(auto, automation("linger", [linger], timeout="1s") + rule(["%jit-sre-leads", "@linger"]))
    n = file_request(auto, "/usr/bin/true")
    (ran,) = wait_for_runs(auto, n, timeout=8)
    assert ran["verdict"] == "abstain" and "timed out" in ran.get("problem", ""), ran
    still_pending_without_approval(auto, n)


def test_what_an_answering_program_leaves_in_its_process_group_is_killed(auto):
    quick = program("quick", f"sleep 30 >/dev/null &\necho $! > {OUT}/child\n" + says({"decision": "approve"}))
    use_policy(auto, automation("quick", [quick], timeout="5s") + rule(["%jit-sre-leads", "@quick"]))
    n = file_request(auto, "/usr/bin/true")
    (ran,) = wait_for_runs(auto, n)
    assert ran["verdict"] == "approve" and "problem" not in ran, ran
    child = pid_file("child")
    wait_until(f"the program's child {child} is gone", lambda: not alive(child), timeout=2)


# 7. Odd answers ---------------------------------------------------------------------------------------

def nested(levels):
    return ("[" * levels + "]" * levels).encode()


ODD_ANSWERS = {
    "nul-after-the-object": b'{"decision": "approve"}\0\n',
    "nul-inside-a-string": b'{"decision": "approve\0"}\n',
    "escaped-nul-in-the-decision": b'{"decision": "approve\\u0000"}\n',
    "invalid-utf8-comment": b'{"decision": "approve", "comment": "\xff\xfe"}\n',
    "overlong-utf8-comment": b'{"decision": "approve", "comment": "\xc0\xaf"}\n',
    "nested-1000": b'{"decision": "approve", "comment": ' + nested(1000) + b'}\n',
    "nested-30000": nested(30000) + b"\n",
    "duplicate-decision": b'{"decision": "abstain", "decision": "approve"}\n',
    "duplicate-decision-escaped": b'{"decision": "abstain", "d\\u0065cision": "approve"}\n',
    "byte-order-mark": b'\xef\xbb\xbf{"decision": "approve"}\n',
    "capitalised": b'{"decision": "Approve"}\n',
    "trailing-blank-in-the-word": b'{"decision": "approve "}\n',
    "single-quotes": b"{'decision': 'approve'}\n",
    "a-js-comment": b'{"decision": "approve" /* yes */}\n',
    "decision-in-an-array": b'{"decision": ["approve"]}\n',
    "duration-past-100-years": b'{"decision": "approve", "duration": "99999999h"}\n',
    "duration-overflowing": b'{"decision": "approve", "duration": "99999999999999999999s"}\n',
    "duration-negative": b'{"decision": "approve", "duration": "-5m"}\n',
    "duration-zero": b'{"decision": "approve", "duration": "0s"}\n',
    "duration-as-a-number": b'{"decision": "approve", "duration": 60}\n',
    "duration-with-deny": b'{"decision": "deny", "duration": "5m"}\n',
    "naming-another-request": b'{"decision": "approve", "request": 1}\n',
    "asking-to-count-twice": b'{"decision": "approve", "approvals": 2}\n',
}


def test_odd_answers_abstain_with_the_problem_and_approve_nothing(auto):
    answer = f"{DIR}/answer"
    odd = program("odd", f"cat {answer}\n")
    use_policy(auto, automation("odd", [odd]) + rule(["%jit-sre-leads", "@odd"]))
    for case, output in ODD_ANSWERS.items():
        assert len(output) < 64 * 1024
        with open(answer, "wb") as f:
            f.write(output)
        os.chmod(answer, 0o644)
        n = file_request(auto, "/usr/bin/true", reason=case)
        (ran,) = wait_for_runs(auto, n)
        assert ran["verdict"] == "abstain" and isinstance(ran.get("problem"), str), (case, ran)
        still_pending_without_approval(auto, n)
        cancel(auto, n)
    assert events(auto, "approval.added", "request.approved", "grant.created") == []


# 8. Time: a long duration is capped, a late approval is ignored -------------------------------------

def test_a_programs_long_duration_never_lengthens_the_grant(auto):
    generous = program("generous", says({"decision": "approve", "comment": "ten years", "duration": "87600h"}))
    use_policy(auto, automation("generous", [generous])
               + rule(["%jit-sre-leads", "@generous"]).replace('action = "approve"', 'action = "approve"\nmax_grant = "30m"'))
    for asked, longest in (("2h", 30 * 60), ("5m", 5 * 60)):
        n = file_request(auto, "-d", asked, "/usr/bin/true")
        (ran,) = wait_for_runs(auto, n)
        assert ran["verdict"] == "approve", ran
        (gr,) = [g for g in grants(auto) if g["request_id"] == n]
        assert (instant(gr["expires_at"]) - instant(gr["not_before"])).total_seconds() <= longest, (asked, gr)
        run([auto.jitctl, "revoke", str(gr["id"])])


def test_an_approval_after_the_request_expired_is_ignored(auto):
    late = program("late", "sleep 3\n" + says({"decision": "approve", "comment": "too late"}))
    auto.write_policy(SETTINGS.replace('request_ttl = "1h"', 'request_ttl = "2s"')
                      + automation("late", [late], timeout="6s") + rule(["%jit-sre-leads", "@late"]))
    n = file_request(auto, "/usr/bin/true")
    (ran,) = wait_for_runs(auto, n, timeout=10)
    # Stopped once the request expired; its approval never came.
    assert ran["verdict"] == "abstain" and "expired" in ran.get("ignored", ""), ran
    assert ran["problem"] == "was stopped: the request was decided while it ran", ran
    assert show(auto, n)["status"] == "expired"
    assert of_request(auto, "approval.added", n) == [] and grants(auto) == []


# 9. Who approves: never the requester, never a person posing as the program --------------------------

def test_a_requester_among_the_approvers_cannot_add_the_approval_the_program_leaves_missing(auto):
    yes = program("yes", says({"decision": "approve", "comment": "one of two"}))
    use_policy(auto, automation("yes", [yes]) + rule(["%jit-developers", "@yes"], approvals=2))
    n = file_request(auto, "/usr/bin/true")
    (ran,) = wait_for_runs(auto, n)
    assert ran["verdict"] == "approve" and "ignored" not in ran, ran
    own = approve(auto, n, DEV)
    assert own.returncode == 1 and "your own request" in own.stderr, (own.stdout, own.stderr)
    req = show(auto, n)
    assert req["status"] == "pending" and [a["by"] for a in req["approvals"]] == ["@yes"], req
    assert jitexec(auto, "--no-wait", "/usr/bin/true").returncode == 75


def test_a_person_cannot_approve_as_the_program(auto):
    no = program("no", says({"decision": "abstain", "comment": "not me"}))
    use_policy(auto, automation("no", [no]) + rule([LEAD, "@no"], approvals=2))
    n = file_request(auto, "/usr/bin/true")
    wait_for_runs(auto, n)
    posing = {"USER": "@no", "LOGNAME": "@no", "SUDO_USER": "@no", "JITEXEC_AUTOMATION": "no"}
    first = run([auto.jitctl, "approve", str(n), "-S"], user=LEAD, input=password(LEAD) + "\n", env=posing)
    assert first.returncode == 0, (first.stdout, first.stderr)
    again = run([auto.jitctl, "approve", str(n), "-S"], user=LEAD, input=password(LEAD) + "\n", env=posing)
    req = show(auto, n)
    assert req["status"] == "pending" and [a["by"] for a in req["approvals"]] == [LEAD], (req, again.stderr)
    assert [r["actor"] for r in of_request(auto, "approval.added", n)] == [LEAD]


def test_a_programs_approval_stops_counting_once_the_rule_no_longer_names_it(auto):
    yes = program("yes", says({"decision": "approve", "comment": "one of two"}))
    use_policy(auto, automation("yes", [yes]) + rule(["%jit-sre-leads", "@yes"], approvals=2))
    n = file_request(auto, "/usr/bin/true")
    wait_for_runs(auto, n)
    assert [a["by"] for a in show(auto, n)["approvals"]] == ["@yes"]
    use_policy(auto, automation("yes", [yes]) + rule(["%jit-sre-leads"], approvals=2))
    r = approve(auto, n, LEAD)
    assert r.returncode == 0 and "(1/2)" in r.stdout, (r.stdout, r.stderr)
    assert show(auto, n)["status"] == "pending"
    r = approve(auto, n, LEAD2)
    assert r.returncode == 0, (r.stdout, r.stderr)
    (approved,) = of_request(auto, "request.approved", n)
    assert sorted(approved["approvers"]) == [LEAD, LEAD2], approved


# The findings of the first round of these attacks, each now a test of the fix --------------------

def test_a_daemon_a_program_starts_in_its_own_session_dies_with_the_run(auto):
    """A program's setsid child (another session and process group) could outlive its run and wait,
    as the same user, for a later run of another automation to read and rewrite it. The runner is a
    child subreaper and kills everything below it when a run ends."""
    prog = program("daemon", f"setsid sh -c 'echo $$ > {OUT}/daemon; exec sleep 20' </dev/null >/dev/null 2>&1 &\n"
                   "sleep 0.3\n" + says({"decision": "abstain"}))
    use_policy(auto, automation("daemon", [prog], timeout="2s") + rule(["%jit-sre-leads", "@daemon"]))
    n = file_request(auto, "/usr/bin/true")
    (ran,) = wait_for_runs(auto, n)
    assert ran["verdict"] == "abstain" and "problem" not in ran, ran
    daemon = pid_file("daemon")
    wait_until(f"the daemon {daemon} ends with the run", lambda: not alive(daemon), timeout=5)


def test_the_policy_of_the_moment_of_the_answer_decides_what_it_does(auto):
    """The rule stops naming the program while it runs: its late approval is recorded as ignored."""
    prog = program("slow", f"echo $$ > {OUT}/pid\nsleep 2\n" + says({"decision": "approve", "comment": "late"}))
    use_policy(auto, automation("slow", [prog]) + rule(["%jit-sre-leads", "@slow"]))
    n = file_request(auto, "/usr/bin/true")
    pid_file("pid")
    use_policy(auto, automation("slow", [prog]) + rule(["%jit-sre-leads"]))
    (ran,) = wait_for_runs(auto, n)
    assert ran["verdict"] == "approve", ran
    assert ran["ignored"] == "rule 'deploy' no longer names @slow among its approvers", ran
    req = show(auto, n)
    assert req["status"] == "pending" and req["approvals"] == [], req


def test_cancelling_a_request_stops_its_program_at_once(auto):
    """Cancel-and-refile could pile up runners, each running its program to the timeout. A program
    whose request is decided is stopped within about half a second."""
    prog = program("slow", f"echo $$ > {OUT}/pid\nexec sleep 20\n")
    use_policy(auto, automation("slow", [prog], timeout="30s") + rule(["%jit-sre-leads", "@slow"]))
    n = file_request(auto, "/usr/bin/true")
    pid = pid_file("pid")
    cancel(auto, n)
    wait_until("the program stopped", lambda: not alive(pid), timeout=3)
    (ran,) = wait_for_runs(auto, n)
    assert ran["verdict"] == "abstain" and ran["problem"] == "was stopped: the request was decided while it ran", ran
    assert ran["ignored"] == f"request #{n} is already cancelled", ran
    wait_until("the runner ended", lambda: not runners(), timeout=5)


def test_an_oversized_reason_cannot_keep_a_denying_program_from_running(auto):
    """A reason too long for the environment left the program unable to start, so a deny could not
    come. Values over 4096 bytes stay out of the environment (stdin has them whole)."""
    freeze = program("freeze", says({"decision": "deny", "comment": "change freeze"}))
    use_policy(auto, automation("freeze", [freeze]) + rule(["%jit-sre-leads", "@freeze"]))
    for size in (4096, 131057):
        n = file_request(auto, "/usr/bin/true", reason="z" * size)
        (ran,) = wait_for_runs(auto, n)
        assert ran["verdict"] == "deny" and "problem" not in ran, (size, ran)
        assert show(auto, n)["status"] == "denied"
