"""The request -> approve -> run loop on the installed setuid binary, as real users, through real PAM
(pam_unix, real passwords) and, where a person would see it, through a real pseudo-terminal.

Every test starts from an empty store, the policy below and an empty credential cache, and ends
with `jitctl verify` on the chain it left behind."""
import json
import os
import pwd
import re
import signal
import subprocess
import time

import pytest

from loop_support import (PASSWORD_PROMPT, approve, clear_credential_cache,
                          environment, events, filed_id, finish, grant_id, grants,
                          interactive, password, request_id, requests, run, show, spawn, user_kwargs)

SECURE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
MARK = "/tmp/jitexec-it-mark"

POLICY = f"""\
[settings]
secure_path = "{SECURE_PATH}"
credential_cache = "5m"
request_ttl = "1h"
default_grant = "15m"
max_grant = "4h"
wait_timeout = "2m"
env_keep = ["TERM", "LANG", "LC_*", "TZ", "COLORTERM"]
admins = ["%jit-admins"]

[[rule]]
name = "lead-self"
users = ["jit-lead1"]
commands = ["/usr/bin/id -un"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"

[[rule]]
name = "restart"
users = ["%jit-developers"]
commands = ["/usr/bin/id", "/usr/bin/true", "/usr/bin/env", "/usr/bin/sh -c *"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"

[[rule]]
name = "two"
users = ["%jit-developers"]
commands = ["/usr/bin/uname -a"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 2
reason = "optional"

[[rule]]
name = "wide"
users = ["%jit-developers"]
commands = ["/usr/bin/uname -r", "/usr/bin/uname -m"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
scope = "rule"

[[rule]]
name = "lead-only"
users = ["%jit-developers"]
commands = ["/usr/bin/hostname"]
action = "approve"
approvers = ["jit-lead2"]
approvals = 1
reason = "optional"

[[rule]]
name = "plain"
users = ["%jit-developers"]
commands = ["/usr/bin/whoami", "/usr/bin/touch {MARK}"]
action = "allow"
"""

DEV = "jit-dev1"
DEV_PW = password(DEV) + "\n"
SH = "/usr/bin/sh"


@pytest.fixture
def loop(inst):
    """The install with the loop policy, an empty store, an empty credential cache and no mark file.
    Afterwards, the audit chain the test left behind must verify."""
    inst.write_policy(POLICY)
    clear_credential_cache(inst)
    if os.path.exists(MARK):
        os.unlink(MARK)
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, f"the loop policy does not load: {check.stdout}{check.stderr}"
    yield inst
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, f"jitctl verify after the test: {v.stdout}{v.stderr}"
    clear_credential_cache(inst)


def jitexec(inst, *argv, user=DEV, input=DEV_PW, env=None, timeout=90):
    """jitexec -S ARGV as `user`, the password on stdin."""
    return run([inst.jitexec, "-S", *argv], user=user, input=input, env=env, timeout=timeout)


def file_request(inst, *argv, user=DEV, extra=()):
    """Files a request with --no-wait (exit 75) and returns its id."""
    r = jitexec(inst, *extra, "--no-wait", *argv, user=user, input=password(user) + "\n")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    return request_id(r.stderr)


def granted(inst, *argv, user=DEV, approver="jit-lead1"):
    """A live grant for exactly ARGV: filed with --no-wait, approved by `approver`. (request, grant)."""
    n = file_request(inst, *argv, user=user)
    return n, grant_id(approve(inst, n, approver))


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1] if lines else ""


def no_exec(inst):
    assert events(inst, "exec.start", "exec.end") == []


# 1. The main scenario, as a person sees it -------------------------------------------------------

def test_main_scenario_through_a_real_terminal(loop):
    command = [SH, "-c", "id -u; echo main-scenario-output; exit 3"]
    child = spawn(loop, DEV, [loop.jitexec, *command], timeout=30)
    try:
        child.expect(PASSWORD_PROMPT)
        child.sendline(password(DEV))
        child.expect(r"jitexec: request #(\d+) filed: it needs 1 approval from %jit-sre-leads "
                     r"\(jit-lead1, jit-lead2\); 'jitctl show (\d+)' shows it")
        n = int(child.match.group(1))
        assert int(child.match.group(2)) == n
        # The live status line: id, approvals so far / needed, who may approve, elapsed time, how to stop.
        child.expect(rf"request #{n}: 0/1 approvals, waiting for jit-lead1, jit-lead2 \(0:0[1-9]\) "
                     r"- Ctrl-C stops waiting", timeout=10)
        assert show(loop, n)["status"] == "pending"
        listed = run([loop.jitctl, "requests"], user="jit-lead1")
        assert listed.returncode == 0 and re.search(rf"(?m)^\*\s+#{n}\s+pending\s+jit-dev1", listed.stdout), listed.stdout

        r = approve(loop, n, "jit-lead1", "-m", "go ahead")
        decided = time.monotonic()
        g = grant_id(r)
        assert re.search(rf"approved request #{n}: grant #{g} for jit-dev1 as root for \S+, until \S+ \S+ \S+ \(in ", r.stdout), r.stdout
        child.expect(rf"request #{n} approved by jit-lead1; running", timeout=5)
        assert time.monotonic() - decided < 2.0, "the command must start within a second of the approval"
        child.expect(r"\n\r*0\s+main-scenario-output", timeout=10)
        status, _ = finish(child)
    finally:
        child.close(force=True)
    assert status == 3, "jitexec's exit status is the command's"

    wanted = ["request.filed", "approval.added", "request.approved", "grant.created", "grant.used",
              "exec.start", "exec.end"]
    recs = events(loop, *wanted)
    assert [rec["event"] for rec in recs] == wanted
    filed, added, approved, created, used, start, end = recs
    assert filed["actor"] == DEV and filed["request"] == n and filed["rule"] == "restart"
    assert added["actor"] == "jit-lead1" and added["request"] == n and added["comment"] == "go ahead"
    assert approved["actor"] == "jit-lead1" and approved["request"] == n and approved["grant"] == g
    assert created["grant"] == g and created["user"] == DEV and created["source"] == "approval"
    assert used["actor"] == DEV and used["grant"] == g
    assert start["actor"] == DEV and start["request"] == n and start["grant"] == g and start["run_as"] == "root"
    assert start["command"][1:] == command[1:] and os.path.realpath(start["command"][0]) == os.path.realpath(SH)
    assert "tty" in start
    assert end["status"] == 3 and end["grant"] == g
    assert [rec["seq"] for rec in recs] == sorted(rec["seq"] for rec in recs)

    req = show(loop, n)
    for key in ("id", "status", "requester", "run_as", "host", "command", "rule", "reason", "ticket", "created_at",
                "expires_at", "approvals", "approvals_needed", "scope"):
        assert key in req, key
    assert req["status"] == "approved" and req["requester"] == DEV and req["run_as"] == "root"
    assert req["rule"] == "restart" and req["approvals_needed"] == 1 and req["scope"] == "command"
    assert req["command"][1:] == command[1:]
    assert [(a["by"], a["comment"]) for a in req["approvals"]] == [("jit-lead1", "go ahead")]
    assert req["created_at"].endswith("Z") and req["expires_at"].endswith("Z")
    (gr,) = grants(loop)
    for key in ("id", "request_id", "user", "run_as", "host", "scope", "command", "rule", "not_before", "expires_at",
                "uses_left", "revoked_at", "revoked_by", "source"):
        assert key in gr, key
    assert gr["id"] == g and gr["request_id"] == n and gr["user"] == DEV and gr["source"] == "approval"
    assert gr["revoked_at"] is None and gr["uses_left"] is None


def test_ctrl_c_while_waiting_stops_waiting_and_keeps_the_request(loop):
    child = spawn(loop, DEV, [loop.jitexec, "/usr/bin/id"], timeout=30)
    try:
        child.expect(PASSWORD_PROMPT)
        child.sendline(password(DEV))
        child.expect(r"request #(\d+) filed")
        n = int(child.match.group(1))
        child.expect(rf"request #{n}: 0/1 approvals, waiting for jit-lead1, jit-lead2 \(\d+:\d\d\) - Ctrl-C stops waiting")
        child.sendintr()
        child.expect(rf"stopped waiting; request #{n} stays open", timeout=5)
        status, _ = finish(child, timeout=10)
    finally:
        child.close(force=True)
    assert status == 75
    assert show(loop, n)["status"] == "pending"
    # Running it again picks the same request up.
    again = jitexec(loop, "--no-wait", "/usr/bin/id")
    assert again.returncode == 75 and request_id(again.stderr) == n, again.stderr
    no_exec(loop)


# 2. --no-wait, and reuse of the identical pending request ----------------------------------------

def test_no_wait_files_once_and_reuses_the_pending_request(loop):
    first = jitexec(loop, "--no-wait", "/usr/bin/id")
    assert first.returncode == 75, (first.stdout, first.stderr)
    assert first.stdout == ""
    n = filed_id(first.stderr)
    assert "1 approval from %jit-sre-leads (jit-lead1, jit-lead2)" in first.stderr
    assert f"request #{n}" in last_line(first.stderr) and f"jitctl show {n}" in last_line(first.stderr)

    second = jitexec(loop, "--no-wait", "/usr/bin/id")
    assert second.returncode == 75, second.stderr
    assert request_id(second.stderr) == n and "filed" not in second.stderr, second.stderr
    assert f"request #{n}" in last_line(second.stderr)

    timed = jitexec(loop, "--wait-timeout", "1s", "/usr/bin/id")
    assert timed.returncode == 75 and request_id(timed.stderr) == n, timed.stderr
    assert "gave up waiting" in timed.stderr

    other = jitexec(loop, "--no-wait", "/usr/bin/true")
    assert other.returncode == 75
    m = filed_id(other.stderr)
    assert m != n

    assert sorted(r["id"] for r in requests(loop)) == sorted([n, m])
    assert [e["request"] for e in events(loop, "request.filed")] == [n, m]
    # Views: the approver sees both and may decide them; an outsider sees nothing; the requester sees his own.
    lead = run([loop.jitctl, "requests"], user="jit-lead1")
    assert re.search(rf"(?m)^\*\s+#{n}\s", lead.stdout) and re.search(rf"(?m)^\*\s+#{m}\s", lead.stdout), lead.stdout
    out = run([loop.jitctl, "requests", "--json"], user="jit-out")
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout
    mine = run([loop.jitctl, "requests", "--json"], user=DEV)
    assert sorted(json.loads(l)["id"] for l in mine.stdout.splitlines()) == sorted([n, m])
    no_exec(loop)


# 3. Denied and cancelled requests ----------------------------------------------------------------

def test_denied_request_ends_the_wait_with_77_and_the_comment(loop, background):
    waiting = background([loop.jitexec, "-S", "/usr/bin/id"], DEV, input=DEV_PW)
    n = int(waiting.wait_for(r"request #(\d+) filed").group(1))
    # The requester is not an approver: he cannot deny it, only cancel it.
    status, text = interactive(loop, DEV, [loop.jitctl, "deny", str(n), "-m", "mine"])
    assert status == 1 and "jitctl cancel" in text, text
    status, text = interactive(loop, "jit-lead1", [loop.jitctl, "deny", str(n), "-m", "not during the freeze"])
    assert status == 0 and f"denied request #{n}" in text, text
    code, out, err = waiting.finish(timeout=10)
    assert code == 77, (code, out, err)
    assert out == ""
    assert f"request #{n} was denied by jit-lead1: not during the freeze; nothing was run" in err
    denied = events(loop, "request.denied")
    assert len(denied) == 1 and denied[0]["actor"] == "jit-lead1" and denied[0]["comment"] == "not during the freeze"
    assert show(loop, n)["status"] == "denied"
    no_exec(loop)
    # Deciding it again is refused; a new run files a new request.
    again = approve(loop, n, "jit-lead2")
    assert again.returncode == 1 and "already denied" in again.stderr, again.stderr
    assert file_request(loop, "/usr/bin/id") != n


def test_cancelled_request_ends_the_wait_with_77(loop, background):
    waiting = background([loop.jitexec, "-S", "/usr/bin/id"], DEV, input=DEV_PW)
    n = int(waiting.wait_for(r"request #(\d+) filed").group(1))
    status, text = interactive(loop, "jit-out", [loop.jitctl, "cancel", str(n)])
    # Someone who may not see the request is told it does not exist, as for any unknown id.
    assert status == 1 and f"there is no request #{n} that you can see" in text, text
    status, text = interactive(loop, DEV, [loop.jitctl, "cancel", str(n)])
    assert status == 0 and f"cancelled request #{n}" in text, text
    code, out, err = waiting.finish(timeout=10)
    assert code == 77 and f"request #{n} was cancelled" in err and "nothing was run" in err, (code, err)
    assert [e["event"] for e in events(loop, "request.cancelled")] == ["request.cancelled"]
    assert show(loop, n)["status"] == "cancelled"
    no_exec(loop)


# 4. Expiry and revocation ------------------------------------------------------------------------

def test_expired_request_is_refused_with_77(loop, background):
    loop.write_policy('[settings]\nrequest_ttl = "3s"\n', path=f"{loop.confdir}/policy.d/10-short.toml")
    start = time.monotonic()
    waiting = background([loop.jitexec, "-S", "/usr/bin/id"], DEV, input=DEV_PW)
    n = int(waiting.wait_for(r"request #(\d+) filed").group(1))
    code, out, err = waiting.finish(timeout=30)
    took = time.monotonic() - start
    assert code == 77, (code, out, err)
    assert f"request #{n}" in err and "expired" in err and "nothing was run" in err, err
    assert 2.0 <= took <= 15, took
    late = approve(loop, n, "jit-lead1")
    assert late.returncode == 1 and "already expired" in late.stderr, (late.stdout, late.stderr)
    assert show(loop, n)["status"] == "expired"
    expired = events(loop, "request.expired")
    assert [e["request"] for e in expired] == [n]
    assert events(loop, "grant.created") == []
    no_exec(loop)


def test_expired_grant_makes_the_next_run_file_a_new_request(loop):
    n = file_request(loop, "/usr/bin/true")
    r = approve(loop, n, "jit-lead1", "-d", "2s")
    g = grant_id(r)
    (gr,) = grants(loop)
    assert gr["id"] == g
    ran = jitexec(loop, "--no-wait", "/usr/bin/true")
    assert ran.returncode == 0, ran.stderr
    time.sleep(3)
    assert grants(loop, all=False) == []
    # Found past its end, the grant's expiry is recorded once, however often it is found again.
    (expired,) = events(loop, "grant.expired")
    assert (expired["grant"], expired["user"], expired["rule"], expired["request"]) == (g, DEV, "restart", n), expired
    assert grants(loop, all=False) == []
    again = jitexec(loop, "--no-wait", "/usr/bin/true")
    assert again.returncode == 75, (again.returncode, again.stderr)
    m = filed_id(again.stderr)
    assert m != n
    assert [e["grant"] for e in events(loop, "grant.used")] == [g]
    assert len(events(loop, "exec.start")) == 1
    assert [e["grant"] for e in events(loop, "grant.expired")] == [g]


def test_revoked_grant_no_longer_covers_the_command(loop):
    n, g = granted(loop, "/usr/bin/true")
    assert jitexec(loop, "--no-wait", "/usr/bin/true").returncode == 0
    status, text = interactive(loop, "jit-out", [loop.jitctl, "revoke", str(g), "-m", "nope"])
    assert status == 1, text
    status, text = interactive(loop, "jit-lead1", [loop.jitctl, "revoke", str(g), "-m", "incident over"])
    assert status == 0 and f"revoked grant #{g}" in text, text
    after = jitexec(loop, "--no-wait", "/usr/bin/true")
    assert after.returncode == 75, (after.returncode, after.stderr)
    assert filed_id(after.stderr) != n
    revoked = events(loop, "grant.revoked")
    assert len(revoked) == 1 and revoked[0]["grant"] == g and revoked[0]["actor"] == "jit-lead1"
    assert revoked[0]["comment"] == "incident over"
    (gr,) = [x for x in grants(loop) if x["id"] == g]
    assert gr["revoked_by"] == "jit-lead1" and gr["revoked_at"]
    assert len(events(loop, "exec.start")) == 1
    status, text = interactive(loop, "jit-lead1", [loop.jitctl, "revoke", str(g)])
    assert status == 1 and "already revoked" in text, text


# 5. --once ---------------------------------------------------------------------------------------

def test_once_grant_is_used_up_by_the_waiting_run(loop, background):
    waiting = background([loop.jitexec, "-S", "--once", "/usr/bin/id"], DEV, input=DEV_PW)
    n = int(waiting.wait_for(r"request #(\d+) filed").group(1))
    r = approve(loop, n, "jit-lead1")
    g = grant_id(r)
    assert "single use" in r.stdout, r.stdout
    code, out, err = waiting.finish(timeout=15)
    assert code == 0, (code, out, err)
    assert out.startswith("uid=0(root)"), out
    assert f"request #{n} approved by jit-lead1; running" in err
    (gr,) = grants(loop)
    assert gr["id"] == g and gr["uses_left"] == 0
    second = jitexec(loop, "--no-wait", "/usr/bin/id")
    assert second.returncode == 75, (second.returncode, second.stdout, second.stderr)
    assert filed_id(second.stderr) != n
    assert len(events(loop, "exec.start")) == 1


# 6. Who may approve ------------------------------------------------------------------------------

def test_nobody_approves_their_own_request(loop):
    r = jitexec(loop, "--no-wait", "/usr/bin/id", "-un", user="jit-lead1", input=password("jit-lead1") + "\n")
    assert r.returncode == 75, r.stderr
    n = filed_id(r.stderr)
    assert "(jit-lead2)" in r.stderr, "the requester is not listed among who can approve"
    own = approve(loop, n, "jit-lead1")
    assert own.returncode == 1 and "you cannot approve your own request" in own.stderr, (own.stdout, own.stderr)
    assert show(loop, n)["approvals"] == []
    assert events(loop, "approval.added") == []
    ok = approve(loop, n, "jit-lead2")
    grant_id(ok)
    ran = jitexec(loop, "--no-wait", "/usr/bin/id", "-un", user="jit-lead1", input=password("jit-lead1") + "\n")
    assert ran.returncode == 0 and ran.stdout == "root\n", (ran.stdout, ran.stderr)


def test_only_the_rules_approvers_may_approve(loop):
    n = file_request(loop, "/usr/bin/hostname")
    for outsider in ("jit-lead1", "jit-out"):
        r = approve(loop, n, outsider)
        # Not an approver of its rule: the request is not theirs to see, so it reads as absent.
        assert r.returncode == 1 and f"there is no request #{n} that you can see" in r.stderr, (r.stdout, r.stderr)
    assert show(loop, n)["status"] == "pending"
    grant_id(approve(loop, n, "jit-lead2"))
    ran = jitexec(loop, "--no-wait", "/usr/bin/hostname")
    assert ran.returncode == 0 and ran.stdout.strip() == subprocess.run(
        ["/usr/bin/hostname"], capture_output=True, text=True).stdout.strip()


def test_two_person_rule_needs_two_distinct_approvers(loop):
    n = file_request(loop, "/usr/bin/uname", "-a")
    first = approve(loop, n, "jit-lead1")
    assert first.returncode == 0, first.stderr
    assert f"recorded your approval of request #{n} (1/2); it needs 1 more" in first.stdout
    twice = approve(loop, n, "jit-lead1")
    assert twice.returncode == 1 and f"you already approved request #{n}" in twice.stderr, (twice.stdout, twice.stderr)
    still = jitexec(loop, "--no-wait", "/usr/bin/uname", "-a")
    assert still.returncode == 75 and request_id(still.stderr) == n, still.stderr
    req = show(loop, n)
    assert req["status"] == "pending" and [a["by"] for a in req["approvals"]] == ["jit-lead1"]
    assert req["approvals_needed"] == 2
    second = approve(loop, n, "jit-lead2")
    g = grant_id(second)
    ran = jitexec(loop, "--no-wait", "/usr/bin/uname", "-a")
    assert ran.returncode == 0 and ran.stdout.startswith("Linux"), (ran.stdout, ran.stderr)
    late = approve(loop, n, "jit-lead1")
    assert late.returncode == 1 and "is already approved" in late.stderr, (late.stdout, late.stderr)
    assert [e["actor"] for e in events(loop, "approval.added")] == ["jit-lead1", "jit-lead2"]
    assert [e["grant"] for e in events(loop, "grant.created")] == [g]


def test_rule_scope_grant_covers_every_command_of_the_rule(loop):
    n = file_request(loop, "/usr/bin/uname", "-r")
    assert show(loop, n)["scope"] == "rule"
    g = grant_id(approve(loop, n, "jit-lead1"))
    other = jitexec(loop, "--no-wait", "/usr/bin/uname", "-m")
    assert other.returncode == 0 and other.stdout.strip() == os.uname().machine, (other.stdout, other.stderr)
    assert len(events(loop, "request.filed")) == 1
    assert [e["grant"] for e in events(loop, "grant.used")] == [g]
    (gr,) = grants(loop)
    assert gr["scope"] == "rule"
    # ...but nothing outside the rule.
    outside = jitexec(loop, "--no-wait", "/usr/bin/uname", "-a")
    assert outside.returncode == 75


# 7. Authentication failures run nothing ----------------------------------------------------------

def test_three_wrong_passwords_run_nothing(loop):
    r = jitexec(loop, "/usr/bin/touch", MARK, input="nope-1\nnope-2\nnope-3\n")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "3 incorrect password attempts; nothing was run" in last_line(r.stderr)
    assert not os.path.exists(MARK)
    failures = events(loop, "auth.failure")
    assert len(failures) == 1 and failures[0]["actor"] == DEV and failures[0]["reason"] == "wrong_password"
    no_exec(loop)
    # An approve-rule command with a wrong password files nothing either.
    r = jitexec(loop, "--no-wait", "/usr/bin/id", input="nope-1\nnope-2\nnope-3\n")
    assert r.returncode == 1 and "incorrect password" in r.stderr and "filed" not in r.stderr, r.stderr
    assert requests(loop) == []
    # The same command with the right password does leave the mark, as root.
    ok = jitexec(loop, "/usr/bin/touch", MARK)
    assert ok.returncode == 0, ok.stderr
    assert os.stat(MARK).st_uid == 0
    os.unlink(MARK)


def test_three_wrong_passwords_at_the_terminal_prompt(loop):
    child = spawn(loop, DEV, [loop.jitexec, "/usr/bin/touch", MARK], timeout=30)
    try:
        for attempt in range(3):
            child.expect(PASSWORD_PROMPT)
            child.sendline(f"wrong-{attempt}")
            if attempt < 2:
                child.expect("Sorry, try again.")
        child.expect("3 incorrect password attempts; nothing was run")
        status, _ = finish(child)
    finally:
        child.close(force=True)
    assert status == 1
    assert not os.path.exists(MARK)
    assert [e["reason"] for e in events(loop, "auth.failure")] == ["wrong_password"]
    no_exec(loop)


def test_ctrl_c_at_the_password_prompt_runs_nothing(loop):
    child = spawn(loop, DEV, [loop.jitexec, "/usr/bin/touch", MARK], timeout=30)
    try:
        child.expect(PASSWORD_PROMPT)
        child.send("half-typed")
        time.sleep(0.3)
        child.sendintr()
        child.expect("authentication cancelled; nothing was run", timeout=10)
        status, _ = finish(child, timeout=10)
    finally:
        child.close(force=True)
    assert status == 1
    assert not os.path.exists(MARK)
    assert [(e["actor"], e["reason"]) for e in events(loop, "auth.failure")] == [(DEV, "interrupted")]
    no_exec(loop)


def test_validate_and_list(loop):
    bad = run([loop.jitexec, "-v", "-S"], user=DEV, input="nope\nnope\nnope\n")
    assert bad.returncode == 1 and "incorrect password" in bad.stderr
    good = run([loop.jitexec, "-v", "-S"], user=DEV, input=DEV_PW)
    assert good.returncode == 0, good.stderr
    listing = run([loop.jitexec, "-l"], user=DEV)
    assert listing.returncode == 0, listing.stderr
    text = listing.stdout
    assert re.search(r"approve\s+\(root\)\s+/usr/bin/id\s+\[rule restart\]", text), text
    assert re.search(r"allow\s+\(root\)\s+/usr/bin/whoami\s+\[rule plain\]", text), text
    assert "lead-self" not in text, "rules that do not name the user are not listed"
    assert re.search(r"live grants:\s+none", text) and re.search(r"open requests:\s+none", text), text
    n = file_request(loop, "/usr/bin/id")
    listing = run([loop.jitexec, "-l"], user=DEV).stdout
    assert re.search(rf"open requests:\s+#{n} /usr/bin/id as root", listing), listing
    g = grant_id(approve(loop, n))
    listing = run([loop.jitexec, "-l"], user=DEV).stdout
    assert re.search(rf"live grants:\s+#{g} /usr/bin/id as root, until", listing), listing
    covered = run([loop.jitexec, "-l", "/usr/bin/id"], user=DEV)
    assert covered.returncode == 0 and f"covered by your live grant #{g}" in covered.stdout, covered.stdout
    needs = run([loop.jitexec, "-l", "/usr/bin/true"], user=DEV)
    assert needs.returncode == 0 and "needs 1 approval from %jit-sre-leads" in needs.stdout, needs.stdout
    denied = run([loop.jitexec, "-l", "/usr/bin/passwd"], user=DEV)
    assert denied.returncode == 1 and denied.stdout.startswith("deny"), denied.stdout


# 8. The credential cache -------------------------------------------------------------------------

PROMPT = "LOOPSH> "


def shell(inst, user=DEV):
    """An interactive bash of `user` leading its own session on a new pseudo-terminal."""
    child = spawn(inst, user, ["/usr/bin/env", f"PS1={PROMPT}", "/bin/bash", "--norc", "--noprofile",
                               "--noediting", "-i"], timeout=30)
    child.expect_exact(PROMPT)
    return child


def shell_run(child, line, password_=None, expect_prompt_for_password=None, timeout=30):
    """Types `line; echo rc=$?`, answers a password prompt if one comes; returns (asked, rc, output)."""
    child.sendline(f"{line}; echo rc=$?")
    i = child.expect([PASSWORD_PROMPT, r"rc=(\d+)\r?\n"], timeout=timeout)
    asked = i == 0
    text = child.before
    if asked:
        assert password_ is not None, f"{line!r} asked for a password: {child.before!r}"
        child.sendline(password_)
        child.expect(r"rc=(\d+)\r?\n", timeout=timeout)
        text += child.before
    rc = int(child.match.group(1))
    child.expect_exact(PROMPT)
    if expect_prompt_for_password is not None:
        assert asked == expect_prompt_for_password, (line, asked, text)
    return asked, rc, text


def test_credential_cache_is_per_terminal_session_and_forgotten_by_k(loop):
    pw = password(DEV)
    a = shell(loop)
    b = None
    try:
        whoami = f"{loop.jitexec} /usr/bin/whoami"
        asked, rc, text = shell_run(a, whoami, pw, expect_prompt_for_password=True)
        assert rc == 0 and "root" in text
        # Same terminal session, within the window: no password.
        asked, rc, text = shell_run(a, whoami, expect_prompt_for_password=False)
        assert rc == 0 and "root" in text
        asked, rc, text = shell_run(a, f"{loop.jitexec} -n /usr/bin/whoami", expect_prompt_for_password=False)
        assert rc == 0 and "root" in text
        # Another terminal: asked again, and -n refuses.
        b = shell(loop)
        asked, rc, text = shell_run(b, f"{loop.jitexec} -n /usr/bin/whoami", expect_prompt_for_password=False)
        assert rc == 1 and "a password is required" in text, text
        asked, rc, text = shell_run(b, whoami, pw, expect_prompt_for_password=True)
        assert rc == 0
        # -k forgets: the next run asks again.
        asked, rc, text = shell_run(a, f"{loop.jitexec} -k", expect_prompt_for_password=False)
        assert rc == 0, text
        asked, rc, text = shell_run(a, f"{loop.jitexec} -n /usr/bin/whoami", expect_prompt_for_password=False)
        assert rc == 1 and "a password is required" in text, text
        # ... only for that terminal: the other session keeps its credential (-K forgets every one).
        asked, rc, text = shell_run(b, f"{loop.jitexec} -n /usr/bin/whoami", expect_prompt_for_password=False)
        assert rc == 0 and "root" in text, text
        asked, rc, text = shell_run(a, whoami, pw, expect_prompt_for_password=True)
        assert rc == 0
        asked, rc, text = shell_run(a, f"{loop.jitexec} -K", expect_prompt_for_password=False)
        assert rc == 0, text
        for session in (a, b):
            asked, rc, text = shell_run(session, f"{loop.jitexec} -n /usr/bin/whoami", expect_prompt_for_password=False)
            assert rc == 1 and "a password is required" in text, text
        asked, rc, text = shell_run(a, whoami, pw, expect_prompt_for_password=True)
        assert rc == 0
        # -v authenticates and refreshes.
        c = shell(loop)
        try:
            asked, rc, _ = shell_run(c, f"{loop.jitexec} -v", pw, expect_prompt_for_password=True)
            assert rc == 0
            asked, rc, text = shell_run(c, whoami, expect_prompt_for_password=False)
            assert rc == 0 and "root" in text
        finally:
            c.close(force=True)
    finally:
        a.close(force=True)
        if b is not None:
            b.close(force=True)


def test_credential_cache_without_a_terminal_is_per_parent_process(loop):
    n1 = run([loop.jitexec, "-n", "/usr/bin/whoami"], user=DEV)
    assert n1.returncode == 1 and "a password is required" in n1.stderr, n1.stderr
    v = run([loop.jitexec, "-v", "-S"], user=DEV, input=DEV_PW)
    assert v.returncode == 0, v.stderr
    cached = run([loop.jitexec, "-n", "/usr/bin/whoami"], user=DEV)
    assert cached.returncode == 0 and cached.stdout == "root\n", cached.stderr
    # From another parent process (a shell of its own), the cache does not apply.
    other = run(["/usr/bin/sh", "-c", f'{loop.jitexec} -n /usr/bin/whoami; exit "$?"'], user=DEV)
    assert other.returncode == 1 and "a password is required" in other.stderr, (other.stdout, other.stderr)
    k = run([loop.jitexec, "-k"], user=DEV)
    assert k.returncode == 0, k.stderr
    gone = run([loop.jitexec, "-n", "/usr/bin/whoami"], user=DEV)
    assert gone.returncode == 1 and "a password is required" in gone.stderr, gone.stderr


# 9. Exit status and signals ----------------------------------------------------------------------

@pytest.mark.parametrize("script,expected,signo", [("exit 0", 0, None), ("exit 3", 3, None),
                                                    ("kill -9 $$", 137, 9)])
def test_exit_status_is_the_commands(loop, script, expected, signo):
    granted(loop, SH, "-c", script)
    r = jitexec(loop, "--no-wait", SH, "-c", script)
    assert r.returncode == expected, (r.returncode, r.stdout, r.stderr)
    (end,) = events(loop, "exec.end")
    assert end["status"] == expected
    if signo is not None:
        assert end.get("signal") == signo


TRAPPED = 'trap "kill $p; exit 42" TERM; sleep 30 & p=$!; echo ready; wait'
UNTRAPPED = "echo ready; exec sleep 30"


@pytest.mark.parametrize("script,expected", [(TRAPPED, 42), (UNTRAPPED, 143)])
def test_sigterm_to_jitexec_reaches_the_command(loop, background, script, expected):
    granted(loop, SH, "-c", script)
    running = background([loop.jitexec, "-S", "--no-wait", SH, "-c", script], DEV, input=DEV_PW)
    running.wait_for(r"ready", stream="out", timeout=20)
    time.sleep(0.2)
    os.kill(running.pid, signal.SIGTERM)
    code, out, err = running.finish(timeout=15)
    assert code == expected, (code, out, err)
    (end,) = events(loop, "exec.end")
    assert end["status"] == expected


def test_sigterm_through_the_terminal_relay(loop):
    granted(loop, SH, "-c", TRAPPED)
    child = spawn(loop, DEV, [loop.jitexec, SH, "-c", TRAPPED], timeout=30)
    try:
        child.expect(PASSWORD_PROMPT)
        child.sendline(password(DEV))
        child.expect("ready")
        time.sleep(0.2)
        child.kill(signal.SIGTERM)
        status, _ = finish(child, timeout=15)
    finally:
        child.close(force=True)
    assert status == 42


# 10. The command's identity and environment ------------------------------------------------------

def test_command_runs_as_root_with_a_clean_environment(loop):
    n, g = granted(loop, "/usr/bin/env")
    caller_env = {"LD_PRELOAD": "/tmp/x", "LD_LIBRARY_PATH": "/tmp", "FOO": "1", "BASH_ENV": "/tmp/evil",
                  "PATH": "/tmp/evil:/usr/bin:/bin", "TERM": "xterm", "LANG": "C.UTF-8", "LC_TIME": "../../x",
                  "TZ": "../../../etc/shadow", "HOME": "/home/jit-dev1", "JITEXEC_USER": "mallory"}
    r = jitexec(loop, "--no-wait", "/usr/bin/env", env=caller_env)
    assert r.returncode == 0, (r.returncode, r.stderr)
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    for gone in ("LD_PRELOAD", "LD_LIBRARY_PATH", "FOO", "BASH_ENV", "LC_TIME", "TZ"):
        assert gone not in env, (gone, env)
    assert env["PATH"] == SECURE_PATH
    assert env["HOME"] == "/root" and env["USER"] == "root" and env["LOGNAME"] == "root"
    assert env["TERM"] == "xterm" and env["LANG"] == "C.UTF-8"
    assert env["JITEXEC_USER"] == DEV
    assert env["JITEXEC_UID"] == str(pwd.getpwnam(DEV).pw_uid)
    assert env["JITEXEC_REQUEST"] == str(n) and env["JITEXEC_GRANT"] == str(g)
    assert env["JITEXEC_COMMAND"] == "/usr/bin/env"

    granted(loop, "/usr/bin/id")
    ident = jitexec(loop, "--no-wait", "/usr/bin/id")
    assert ident.returncode == 0 and ident.stdout.strip() == "uid=0(root) gid=0(root) groups=0(root)", ident.stdout


def test_descriptors_above_2_are_not_inherited(loop):
    script = "ls /proc/$$/fd"
    granted(loop, SH, "-c", script)
    with open("/etc/hostname") as leak:
        os.set_inheritable(leak.fileno(), True)
        p = subprocess.run([loop.jitexec, "-S", "--no-wait", SH, "-c", script], input=DEV_PW,
                           capture_output=True, text=True, env=environment(), cwd="/", start_new_session=True,
                           pass_fds=(leak.fileno(),), timeout=60, **user_kwargs(DEV))
    assert p.returncode == 0, p.stderr
    assert set(p.stdout.split()) <= {"0", "1", "2"}, p.stdout


# 11. A mixed day, then the chain verifies ---------------------------------------------------------

def test_every_loop_event_lands_in_a_verifiable_chain(loop, background):
    # approved, run
    n1, g1 = granted(loop, "/usr/bin/true")
    assert jitexec(loop, "--no-wait", "/usr/bin/true").returncode == 0
    # denied
    waiting = background([loop.jitexec, "-S", "/usr/bin/id"], DEV, input=DEV_PW)
    n2 = int(waiting.wait_for(r"request #(\d+) filed").group(1))
    assert interactive(loop, "jit-lead2", [loop.jitctl, "deny", str(n2), "-m", "no"])[0] == 0
    assert waiting.finish(timeout=10)[0] == 77
    # cancelled
    n3 = file_request(loop, "/usr/bin/uname", "-a")
    assert interactive(loop, DEV, [loop.jitctl, "cancel", str(n3)])[0] == 0
    # revoked
    assert interactive(loop, "jit-lead1", [loop.jitctl, "revoke", str(g1), "-m", "done"])[0] == 0
    # auth failure (the earlier runs left a cached credential for this parent process: forget it), policy denial
    assert run([loop.jitexec, "-k"], user=DEV).returncode == 0
    assert jitexec(loop, "/usr/bin/whoami", input="x\nx\nx\n").returncode == 1
    denied = run([loop.jitexec, "-S", "/usr/bin/passwd"], user=DEV, input=DEV_PW)
    assert denied.returncode == 1 and "may not run" in denied.stderr
    # expired
    loop.write_policy('[settings]\nrequest_ttl = "1s"\n', path=f"{loop.confdir}/policy.d/10-short.toml")
    n4 = file_request(loop, "/usr/bin/hostname")
    time.sleep(1.5)
    assert show(loop, n4)["status"] == "expired"

    seen = {e["event"] for e in events(loop)}
    for name in ("request.filed", "approval.added", "request.approved", "request.denied", "request.cancelled",
                 "request.expired", "grant.created", "grant.used", "grant.revoked", "exec.start", "exec.end",
                 "auth.failure", "policy.denied"):
        assert name in seen, (name, sorted(seen))
    v = run([loop.jitctl, "verify"], user=DEV)
    assert v.returncode == 0 and "audit chain intact" in v.stdout, (v.stdout, v.stderr)
    recs = events(loop)
    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
    for prev, cur in zip(recs, recs[1:]):
        assert cur["prev_hash"] == prev["hash"]
