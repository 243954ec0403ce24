"""Attacks on the request -> approve -> grant workflow and on input sizes, through the installed setuid
binaries as real users (issue 4, "workflow" and "input sizes"). One test per attack, named after it;
each asserts the exit status, the one line the refused person sees, and the state left behind
(requests, grants, audit log), and ends with `jitctl verify` (the `wl` fixture)."""
import datetime
import json
import os
import re
import subprocess
import time

import pexpect
import pytest

from loop_support import (PASSWORD_PROMPT, without_prompts, approve, events, filed_id, finish, grant_id, grants, password, request_id, requests, run,
                          show, spawn, user_kwargs, environment)
from workflow_support import (DEV, MARK, file_request, jitexec, lines, run_bytes, wl)  # noqa: F401 (wl: fixture)

PROMPT = f"[jitexec] password for {DEV}: "


def one_line(stderr):
    """The single line of a refusal on stderr, after the password prompt (which has no newline)."""
    got = lines(without_prompts(stderr))
    assert len(got) == 1, stderr
    return got[0]


def no_exec(inst):
    assert events(inst, "exec.start", "exec.end") == []


def file_rule_request(inst, rule, user=DEV, *extra):
    """`jitctl request --rule RULE -r ... -S` as `user`; returns the id from 'filed request #N'."""
    r = run([inst.jitctl, "request", "--rule", rule, "-r", "ahead of time", "-S", *extra], user=user,
            input=password(user) + "\n")
    assert r.returncode == 0 and f"for rule '{rule}'" in r.stdout, (r.returncode, r.stdout, r.stderr)
    return request_id(r.stdout)


def assert_untouched(inst, n, status="pending"):
    req = show(inst, n)
    assert req["status"] == status and req["approvals"] == [], req
    assert [g for g in grants(inst) if g["request_id"] == n] == []
    assert [e for e in events(inst, "approval.added", "request.approved", "grant.created") if e.get("request") == n] == []


# Self-approval --------------------------------------------------------------------------------------

@pytest.mark.parametrize("requester,rule,command", [
    ("jit-lead1", "lead-self", ["/usr/bin/id", "-un"]),  # the requester is also in the approvers group
    (DEV, "exact", ["/usr/bin/true"]),
])
@pytest.mark.parametrize("filed_by", ["jitexec", "jitctl-request"])
def test_self_approval_is_refused_on_every_path(wl, requester, rule, command, filed_by):
    if filed_by == "jitexec":
        n = file_request(wl, *command, user=requester)
    else:
        # Only rule-scope rules can be requested ahead of time (issue 8 item 4).
        rule = "bulk" if rule == "exact" else rule
        n = file_rule_request(wl, rule, requester)
    assert show(wl, n)["rule"] == rule
    for extra in ([], ["-m", "looks fine to me"], ["-d", "1m"], ["-d", "5m", "-m", "lgtm"]):
        r = approve(wl, n, requester, *extra)
        assert r.returncode == 1 and r.stdout == "", (extra, r.returncode, r.stdout, r.stderr)
        assert one_line(r.stderr) == f"jitctl: you cannot approve your own request #{n}; ask one of its approvers", extra
    assert_untouched(wl, n)
    # Someone else in the approvers group can: the refusal was about who, not about the request.
    other = "jit-lead2"
    g = grant_id(approve(wl, n, other))
    assert [x["id"] for x in grants(wl)] == [g]


# Deciding twice -------------------------------------------------------------------------------------

def decide(inst, n, how):
    if how == "approved":
        return grant_id(approve(inst, n, "jit-lead1"))
    if how == "denied":
        r = run([inst.jitctl, "deny", str(n), "-m", "no", "-S"], user="jit-lead1", input=password("jit-lead1") + "\n")
    elif how == "cancelled":
        r = run([inst.jitctl, "cancel", str(n), "-S"], user=DEV, input=password(DEV) + "\n")
    else:
        time.sleep(2.2)  # request_ttl is 2s for this case
        r = run([inst.jitctl, "requests"])
    assert r.returncode == 0, (r.stdout, r.stderr)
    return None


@pytest.mark.parametrize("how", ["approved", "denied", "cancelled", "expired"])
def test_approving_an_already_decided_request_is_refused(wl, how):
    if how == "expired":
        wl.write_policy('[settings]\nrequest_ttl = "2s"\n', path=f"{wl.confdir}/policy.d/10-short.toml")
    n = file_request(wl, "/usr/bin/true")
    g = decide(wl, n, how)
    before = show(wl, n)
    assert before["status"] == how
    grants_before, log_before = grants(wl), events(wl)
    for approver, extra in (("jit-lead2", []), ("jit-lead2", ["-d", "1m", "-m", "again"]), ("jit-lead1", [])):
        r = approve(wl, n, approver, *extra)
        assert r.returncode == 1 and r.stdout == "", (approver, r.returncode, r.stdout, r.stderr)
        assert one_line(r.stderr) == f"jitctl: request #{n} is already {how}; nothing to do"
    assert show(wl, n) == before
    assert grants(wl) == grants_before
    assert events(wl) == log_before
    if g is not None:
        assert [x["id"] for x in grants(wl)] == [g]
    else:
        assert grants(wl) == []


# Removal from the approvers group --------------------------------------------------------------------

def test_approver_removed_from_the_group_after_filing_cannot_approve(wl):
    n = file_request(wl, "/usr/bin/true")
    # A session jit-lead2 opened before the removal still carries the group in its credentials:
    # what counts is the group database at approval time, not the caller's supplementary groups.
    stale = user_kwargs("jit-lead2")
    subprocess.run(["gpasswd", "-d", "jit-lead2", "jit-sre-leads"], check=True, capture_output=True)
    try:
        for kwargs in (stale, user_kwargs("jit-lead2")):
            r = subprocess.run([wl.jitctl, "approve", str(n), "-S"], input=password("jit-lead2") + "\n",
                               capture_output=True, text=True, env=environment(), cwd="/", start_new_session=True,
                               timeout=60, **kwargs)
            assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
            # No longer an approver of its rule: the request is not theirs to see any more.
            assert one_line(r.stderr) == f"jitctl: there is no request #{n} that you can see; run 'jitctl requests --all'"
        assert_untouched(wl, n)
        # The requester no longer sees jit-lead2 among who can approve.
        again = jitexec(wl, "--no-wait", "/usr/bin/true")
        assert again.returncode == 75 and "(jit-lead1)" in again.stderr, again.stderr
    finally:
        subprocess.run(["gpasswd", "-a", "jit-lead2", "jit-sre-leads"], check=True, capture_output=True)
    grant_id(approve(wl, n, "jit-lead2"))


# What a grant covers ---------------------------------------------------------------------------------

def test_grant_for_cmd_a_does_not_cover_cmd_a_b_or_cmd_alone(wl):
    n = file_request(wl, "/usr/bin/printf", "a")
    g = grant_id(approve(wl, n, "jit-lead1"))
    for argv in (["/usr/bin/printf", "a", "b"], ["/usr/bin/printf"], ["/usr/bin/printf", "a "], ["/usr/bin/printf", "ab"]):
        r = jitexec(wl, "--no-wait", *argv)
        assert r.returncode == 75 and r.stdout == "", (argv, r.returncode, r.stdout, r.stderr)
        m = filed_id(r.stderr)
        assert m != n
        assert lines(r.stderr)[-1].startswith(f"jitexec: request #{m} is waiting for 1 approval"), r.stderr
        assert show(wl, m)["command"][1:] == argv[1:]
    assert len(requests(wl)) == 5
    no_exec(wl)
    ok = jitexec(wl, "--no-wait", "/usr/bin/printf", "a")
    assert ok.returncode == 0 and ok.stdout == "a", (ok.stdout, ok.stderr)
    assert [e["grant"] for e in events(wl, "grant.used")] == [g]


def test_grant_for_another_host_does_not_cover_this_host(wl):
    n = file_rule_request(wl, "bulk", DEV, "--host", "other-host.example")
    assert show(wl, n)["host"] == "other-host.example"
    g = grant_id(approve(wl, n, "jit-lead1"))
    (gr,) = grants(wl, all=False)
    assert gr["id"] == g and gr["host"] == "other-host.example" and gr["scope"] == "rule"
    r = jitexec(wl, "--no-wait", "/usr/bin/echo", "here")
    assert r.returncode == 75 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    m = filed_id(r.stderr)
    assert m != n and show(wl, m)["host"] == os.uname().nodename
    assert events(wl, "grant.used") == []
    no_exec(wl)
    # A command-scope grant copied in the store to another host is no better (the store allows it
    # only through SQL; root does it here, mirroring the real row).
    k = file_request(wl, "/usr/bin/true")
    real = grant_id(approve(wl, k, "jit-lead1"))
    subprocess.run(["sqlite3", wl.db, f"UPDATE grants SET host = 'other-host.example' WHERE id = {real}"], check=True)
    r = jitexec(wl, "--no-wait", "/usr/bin/true")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert filed_id(r.stderr) not in (n, m, k)
    no_exec(wl)


def test_expired_grant_is_not_honoured_at_the_moment_of_use(wl):
    n = file_request(wl, "/usr/bin/true")
    r = approve(wl, n, "jit-lead1", "-d", "1s")
    g = grant_id(r)
    (gr,) = grants(wl)
    expires = datetime.datetime.fromisoformat(gr["expires_at"].replace("Z", "+00:00"))
    wait = (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert wait <= 1.5, gr
    time.sleep(max(wait, 0) + 1.1)
    late = jitexec(wl, "--no-wait", "/usr/bin/true")
    assert late.returncode == 75 and late.stdout == "", (late.returncode, late.stdout, late.stderr)
    assert filed_id(late.stderr) != n
    assert grants(wl, all=False) == []
    assert events(wl, "grant.used") == []
    no_exec(wl)
    # The same as root in the store: a live grant pushed to end now is not honoured either.
    k = file_request(wl, "/usr/bin/id")
    real = grant_id(approve(wl, k, "jit-lead1"))
    now_us = int(time.time() * 1_000_000)
    subprocess.run(["sqlite3", wl.db, f"UPDATE grants SET expires_at = {now_us} WHERE id = {real}"], check=True)
    late = jitexec(wl, "--no-wait", "/usr/bin/id")
    assert late.returncode == 75, (late.returncode, late.stdout, late.stderr)
    assert g != real and events(wl, "grant.used") == []
    no_exec(wl)


# Input sizes -----------------------------------------------------------------------------------------

def test_password_longer_than_pam_accepts_is_a_failed_authentication(wl):
    r = jitexec(wl, "/usr/bin/touch", MARK, input="p" * 5000 + "\n")
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    # One overlong line is one failed try (not three): the rest of the line is dropped, then the
    # input ends and the refusal says why.
    assert r.stderr == (f"{PROMPT}password too long (at most 511 bytes)\nSorry, try again.\n"
                        f"{PROMPT}jitexec: password too long (at most 511 bytes)\n"), r.stderr
    assert not os.path.exists(MARK)
    assert [(e["actor"], e["reason"]) for e in events(wl, "auth.failure")] == [(DEV, "password_too_long")]
    no_exec(wl)
    ok = jitexec(wl, "/usr/bin/touch", MARK, input="p" * 5000 + "\n" + password(DEV) + "\n")
    assert ok.returncode == 0, ok.stderr
    assert os.path.exists(MARK)


def test_empty_stdin_with_S_is_refused(wl):
    r = jitexec(wl, "/usr/bin/touch", MARK, input="")
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert one_line(r.stderr) == "jitexec: authentication cancelled; nothing was run"
    assert not os.path.exists(MARK)
    assert [e["reason"] for e in events(wl, "auth.failure")] == ["interrupted"]
    no_exec(wl)
    assert requests(wl) == []


def test_one_mebibyte_of_argv_is_stored_shown_and_run_byte_exact(wl):
    words = ["%s\n"] + [chr(ord("A") + i) * (64 * 1024 - 1) + "!" for i in range(16)]
    assert sum(len(w) for w in words) >= 1 << 20
    argv = ["/usr/bin/printf", *words]
    n = file_request(wl, *argv)
    assert show(wl, n)["command"] == argv
    (filed,) = events(wl, "request.filed")
    assert filed["command"] == argv
    listed = run([wl.jitctl, "requests"])
    assert listed.returncode == 0 and words[16] in listed.stdout
    g = grant_id(approve(wl, n, "jit-lead1"))
    r = jitexec(wl, "--no-wait", *argv, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr[:500])
    assert r.stdout == "".join(w + "\n" for w in words[1:])
    (start,) = events(wl, "exec.start")
    assert start["command"] == argv and start["grant"] == g


def test_largest_single_argument_reason_is_stored_and_shown_byte_exact(wl):
    reason = "".join(chr(ord("a") + i % 26) for i in range(128 * 1024 - 1))
    n = file_request(wl, "/usr/bin/printf", "x", extra=("-r", reason))
    req = show(wl, n)
    assert req["reason"] == reason and len(req["reason"]) == 128 * 1024 - 1
    assert events(wl, "request.filed")[0]["reason"] == reason
    human = run([wl.jitctl, "show", str(n)])
    assert human.returncode == 0 and f"reason:     {reason}\n" in human.stdout
    # One byte more does not fit in one argument: the kernel refuses it before jitexec starts.
    with pytest.raises(OSError):
        jitexec(wl, "--no-wait", "-r", reason + "zz", "/usr/bin/printf", "x")
    assert [r["id"] for r in requests(wl)] == [n]


def send_all(child, data, chunk=4096):
    """Types `data` on the terminal, reading back the echo as it goes so neither side blocks. What was
    read meanwhile goes back in front of pexpect's buffer, so the next `expect` sees it: a refusal (or
    the shell's next line) printed while the rest is still being typed is matched there."""
    read = []
    for i in range(0, len(data), chunk):
        os.write(child.child_fd, data[i:i + chunk].encode())
        try:
            read.append(child.read_nonblocking(1 << 20, timeout=0))
        except (pexpect.TIMEOUT, pexpect.EOF):
            pass
    child.buffer = "".join(read) + child.buffer


def test_mebibyte_reason_typed_at_the_prompt_is_refused_not_cut(wl):
    sh_prompt = "ATTACKSH> "
    child = spawn(wl, DEV, ["/usr/bin/env", f"PS1={sh_prompt}", "/bin/bash", "--norc", "--noprofile", "--noediting",
                            "-i"], timeout=60)
    try:
        child.expect_exact(sh_prompt)
        child.sendline(f"{wl.jitexec} --no-wait /usr/bin/uname -s; echo rc=$?")
        child.expect(PASSWORD_PROMPT)
        child.sendline(password(DEV))
        child.expect_exact("Reason for using rule 'reasoned': ")
        send_all(child, "echo LEAKED-" + "r" * (1 << 20) + "\n")
        child.expect(r"rc=(\d+)\r?\n", timeout=60)
        status = int(child.match.group(1))
        seen = child.before
        child.expect_exact(sh_prompt)
        # Nothing typed for the reason reaches the shell afterwards.
        child.sendline("echo after-the-reason")
        child.expect(r"\r\nafter-the-reason\r\n")
        child.expect_exact(sh_prompt)
        rest = child.before
        child.sendline("exit")
        finish(child, timeout=20)
    finally:
        child.close(force=True)
    assert status == 1, seen[-2000:]
    assert ("jitexec: the reason typed at the prompt is too long (at most 4000 bytes; give a longer one with -r); "
            "see --help") in seen, seen[-2000:]
    assert "LEAKED" not in rest and "command not found" not in rest, rest[-2000:]
    assert requests(wl) == []
    no_exec(wl)


# Invalid UTF-8 ---------------------------------------------------------------------------------------

def test_invalid_utf8_in_argv_and_reason_is_stored_faithfully_and_shown_escaped(wl):
    word = b"\xff\xfe\x80bad\x1b[2J"
    reason = b"why \xff\xfe \x1b]0;owned\x07"
    argv = [b"/usr/bin/printf", b"%s", word]
    r = run_bytes([wl.jitexec, "-S", "--no-wait", "-r", reason, *argv], user=DEV, input=password(DEV).encode() + b"\n")
    assert r.returncode == 75 and r.stdout == b"", (r.returncode, r.stdout, r.stderr)
    n = filed_id(r.stderr.decode())
    req = show(wl, n)
    assert req["command"] == ["/usr/bin/printf", "%s", {"hex": word.hex()}]
    assert req["reason"] == {"hex": reason.hex()}
    (filed,) = events(wl, "request.filed")
    assert filed["command"][2] == {"hex": word.hex()} and filed["reason"] == {"hex": reason.hex()}
    escaped_word = "\\xff\\xfe\\x80bad\\x1b[2J"
    for view in ([wl.jitctl, "requests"], [wl.jitctl, "show", str(n)], [wl.jitctl, "log"]):
        out = run_bytes(view)
        assert out.returncode == 0, (view, out.stderr)
        text = out.stdout
        assert b"\x1b" not in text and b"\xff" not in text and b"\x07" not in text, (view, text[-500:])
        assert escaped_word.encode() in text or view[1] == "log", (view, text[-500:])
    shown = run([wl.jitctl, "show", str(n)]).stdout
    assert "reason:     why \\xff\\xfe \\x1b]0;owned\\x07" in shown, shown
    g = grant_id(approve(wl, n, "jit-lead1"))
    ran = run_bytes([wl.jitexec, "-S", "--no-wait", *argv], user=DEV, input=password(DEV).encode() + b"\n")
    assert ran.returncode == 0 and ran.stdout == word, (ran.returncode, ran.stdout, ran.stderr)
    (start,) = events(wl, "exec.start")
    assert start["command"] == ["/usr/bin/printf", "%s", {"hex": word.hex()}] and start["grant"] == g
    log = run([wl.jitctl, "log", "--json"])
    for line in log.stdout.splitlines():
        json.loads(line)  # every record is valid JSON


def test_invalid_utf8_in_jitctl_arguments_is_refused_not_altered(wl):
    before = events(wl)
    for argv in ([wl.jitctl, "request", "--rule", "bulk", "-S", "-r", b"why \xff"],
                 [wl.jitctl, "request", "--rule", "bulk", "-S", "-r", "ok", "--host", b"h\xfe"]):
        r = run_bytes(argv, user=DEV, input=password(DEV).encode() + b"\n")
        assert r.returncode == 1 and r.stdout == b"", (r.returncode, r.stdout, r.stderr)
        (line,) = lines(r.stderr.decode())
        assert line.startswith("jitctl: argument ") and "is not valid UTF-8" in line and "\\x" in line, line
    n = file_request(wl, "/usr/bin/true")
    r = run_bytes([wl.jitctl, "approve", str(n), "-S", "-m", b"ok \xff"], user="jit-lead1",
                  input=password("jit-lead1").encode() + b"\n")
    assert r.returncode == 1 and "is not valid UTF-8" in r.stderr.decode(), r.stderr
    assert_untouched(wl, n)
    assert [e["event"] for e in events(wl)] == [e["event"] for e in before] + ["request.filed"]
