"""Sessions (issue 10) on the installed setuid binary, as real users through real terminals: recordings
read by the Debian asciinema client and by `jitctl replay`, tamper-evident through `jitctl verify`,
commands ended at a grant's expiry, at its revocation and by `jitctl stop`, `jitctl attach`,
`jitexec -i`/`-s`, and the recording's limits (a full disk, record_max, sessions_max), as README and
SECURITY.md describe them."""
import os
import pwd
import re
import shutil
import subprocess
import time

import pexpect

from loop_support import PASSWORD_PROMPT, approve, events, filed_id, finish, grant_id, interactive, password, run, spawn
from session_support import (DEV, DEV_PW, SH, SIGNALLED, assert_recorded_end, assert_root_only, asciinema_cat,
                             copy_out, jitexec, load, marker, output_of, pids_of, policy, pty_approved, read_cast,
                             restore, rule, session_row, sessions, sessions_dir, sess, sha256, shell_session,  # noqa: F401
                             the_end, wait_event, wait_gone)

# 1. A recorded terminal session: the file, asciinema, replay, the listing, exec.end -------------------

REC_SCRIPT = (r"printf 'rec-one\n\033[31mrec-red\033[0m\n\033]0;rec-osc-title\007'; echo rec-ready; read line; "
              r"echo rec-done; exit 3")


def test_recorded_terminal_session(sess):
    load(sess, policy(rule("rec", record=True)))
    shutil.rmtree(sessions_dir(sess), ignore_errors=True)  # created again, root-only, on first use
    child, n, g, _ = pty_approved(sess, REC_SCRIPT)
    try:
        child.expect("rec-ready")
        child.setwinsize(30, 100)  # a window size change while it runs: an "r" event
        time.sleep(0.5)
        child.sendline("typed-417")
        child.expect("rec-done")
        status, _ = finish(child)
    finally:
        child.close(force=True)
    assert status == 3, "jitexec's exit status is the command's"

    start, end = the_end(sess)
    s = start["session"]
    path = f"{sessions_dir(sess)}/{s}.cast"
    assert_root_only(sess, path)
    data = copy_out(path)
    assert end["status"] == 3 and end.get("ended") is None, end
    raw, header, evs = read_cast(path)
    assert header["version"] == 2 and (header["width"], header["height"]) == (250, 40), header
    assert isinstance(header["timestamp"], int) and "title" in header and header["env"]["TERM"] == "dumb", header
    out = output_of(evs)
    for text in ("rec-one", "\x1b[31mrec-red", "rec-osc-title", "typed-417", "rec-done"):
        assert text in out, (text, out)
    assert "100x30" in [e[2] for e in evs if e[1] == "r"], evs
    assert output_of(evs, "i") == "", "record_input is off: no input is stored"
    assert password(DEV).encode() not in raw, "the jitexec password is not in the recording"
    assert [e[0] for e in evs] == sorted(e[0] for e in evs)

    # The real asciinema client reads it as it is (escape sequences and all).
    shown = asciinema_cat(path)
    for text in (b"rec-one", b"\x1b[31mrec-red", b"rec-done"):
        assert text in shown, (text, shown)

    # replay --cat: admins (root) and the rule's approvers; text only, escape sequences filtered.
    for who in (None, "jit-lead1", "jit-lead2"):
        r = run([sess.jitctl, "replay", str(s), "--cat"], user=who)
        assert r.returncode == 0, (who, r.returncode, r.stdout, r.stderr)
        for text in ("rec-one", "rec-red", "typed-417", "rec-done"):
            assert text in r.stdout, (who, text, r.stdout)
        assert "\x1b" not in r.stdout and "rec-osc-title" not in r.stdout, (who, r.stdout)
    # ...not the session's own user (no approver of the rule), nor an outsider.
    for who in (DEV, "jit-out"):
        r = run([sess.jitctl, "replay", str(s), "--cat"], user=who)
        assert r.returncode == 1 and "rec-one" not in r.stdout + r.stderr, (who, r.returncode, r.stdout, r.stderr)
        assert f"there is no session #{s} that you may watch" in r.stderr, (who, r.stderr)
    # replay with its timing, in a terminal, to the end.
    child = spawn(sess, "jit-lead1", [sess.jitctl, "replay", str(s), "--max-wait", "1", "--speed", "4"])
    try:
        child.expect("rec-one")
        child.expect("rec-done", timeout=20)
        status, _ = finish(child, timeout=20)
    finally:
        child.close(force=True)
    assert status == 0
    assert events(sess, "session.attach", "session.stop") == [] and len(events(sess, "exec.end")) == 1, \
        "replay audits nothing"

    # The listing: root sees all, the approvers their rule's, the user their own, an outsider nothing.
    row = session_row(sess, s)
    assert (row["user"], row["run_as"], row["rule"], row["grant"], row["request"]) == (DEV, "root", "rec", g, n), row
    assert row["command"][1:] == ["-c", REC_SCRIPT] and row["status"] == "exited 3" and row["exit_status"] == 3, row
    assert (row["recorded"], row["path"]) == (True, path), row
    assert row["ended"] in (None, "exited") and row["duration_ms"] >= 500 and row["started_at"] and row["ended_at"], row
    for key in ("host", "started_at", "ended_at"):
        assert key in row, key
    assert session_row(sess, s, user="jit-lead2") == row
    assert session_row(sess, s, user=DEV) == row
    assert sessions(sess, "jit-out") == []
    table = run([sess.jitctl, "sessions"])
    assert table.returncode == 0, table.stderr
    assert re.search(r"ID\s+USER\s+COMMAND\s+HOST\s+START(?: \(UTC\))?\s+DURATION\s+STATUS\s+SIZE\s+PATH", table.stdout), table.stdout
    assert re.search(rf"(?m)^\s*#?{s}\s+{DEV}\s.*exited 3.*{re.escape(path)}", table.stdout), table.stdout
    assert (row["size"], row["sha256"]) == (len(data), sha256(data)), row
    assert_recorded_end(sess, end, path)


# 2. Without a terminal, and with record_input ---------------------------------------------------------

def test_recording_without_a_terminal_has_stdout_and_stderr(sess):
    load(sess, policy(rule("rec", action="allow", record=True)))
    r = jitexec(sess, SH, "-c", "echo out-417; echo err-417 >&2; echo out-after")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "out-417\nout-after\n" in r.stdout and "err-417" not in r.stdout and "err-417" in r.stderr
    start, end = the_end(sess)
    path = f"{sessions_dir(sess)}/{start['session']}.cast"
    assert_root_only(sess, path)
    _, header, evs = read_cast(path)
    assert (header["version"], header["width"], header["height"]) == (2, 80, 24), header
    assert {e[1] for e in evs} == {"o"}, evs
    out = output_of(evs)
    for text in ("out-417", "err-417", "out-after"):
        assert text in out, (text, out)
    assert b"out-417" in asciinema_cat(path)
    assert_recorded_end(sess, end, path)


SECRET_SCRIPT = ('echo ask-line; read line; echo "line=$line"; stty -echo; echo ask-secret; read secret; stty echo; '
                 'echo "got ${#secret}"')


def test_record_input_keeps_typed_lines_but_not_what_is_typed_with_echo_off(sess):
    load(sess, policy(rule("rec", action="allow", record=True, record_input=True)))
    child = spawn(sess, DEV, [sess.jitexec, SH, "-c", SECRET_SCRIPT], timeout=30)
    try:
        child.expect(PASSWORD_PROMPT)
        child.sendline(password(DEV))
        child.expect("ask-line")
        child.sendline("visible-417")
        child.expect("line=visible-417")
        child.expect("ask-secret")
        child.sendline("hunter-417-secret")
        child.expect("got 17")
        status, seen = finish(child)
    finally:
        child.close(force=True)
    assert status == 0
    start, end = the_end(sess)
    path = f"{sessions_dir(sess)}/{start['session']}.cast"
    raw, _, evs = read_cast(path)
    assert "visible-417" in output_of(evs, "i"), evs
    assert b"hunter-417-secret" not in raw, "input typed with echo off (a password) is never recorded"
    assert password(DEV).encode() not in raw
    assert_recorded_end(sess, end, path)


# 3. jitctl verify checks every recording -------------------------------------------------------------

def test_verify_names_an_edited_truncated_or_removed_recording(sess):
    load(sess, policy(rule("rec", action="allow", record=True)))
    for word in ("first-417", "second-417"):
        assert jitexec(sess, SH, "-c", f"echo {word}").returncode == 0
    (s1, p1), (s2, p2) = [(e["session"], e["recording"]) for e in events(sess, "exec.end")]
    assert s1 != s2 and p1 != p2
    ok = run([sess.jitctl, "verify"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    one, two = copy_out(p1), copy_out(p2)
    flipped = one[:-3] + bytes([one[-3] ^ 1]) + one[-2:]
    for broken in (one + b"x", one[:-1], flipped):
        restore(p1, broken)
        v = run([sess.jitctl, "verify"])
        text = v.stdout + v.stderr
        assert v.returncode == 1 and f"jitctl: recording of session #{s1} ({p1}) was edited or truncated" in text, text
        assert f"session #{s2}" not in text, text
    restore(p1, one)
    assert run([sess.jitctl, "verify"]).returncode == 0
    os.unlink(p2)
    v = run([sess.jitctl, "verify"])
    text = v.stdout + v.stderr
    assert v.returncode == 1 and f"jitctl: recording of session #{s2} ({p2}) was removed" in text, text
    assert f"session #{s1}" not in text, text
    restore(p2, two)  # the fixture's verify passes again


# 4. enforce_expiry: expiry, revocation, escapes ------------------------------------------------------

def test_expiry_ends_the_command_and_every_process_it_started(sess):
    load(sess, policy(rule("ends", enforce_expiry=True)))
    m = marker()
    # A process in a session of its own (setsid) must not outlive the end either.
    script = f"setsid sleep {m}1 & echo started-417; sleep {m}2; echo survived-417"
    child, n, g, approved = pty_approved(sess, script, duration="4s")
    try:
        child.expect(rf"jitexec: grant #{g} expired; the command was ended", timeout=30)
        took = time.monotonic() - approved
        seen = child.before
        status, rest = finish(child, timeout=20)
    finally:
        child.close(force=True)
    assert "started-417" in seen and "survived-417" not in seen + rest, seen + rest
    assert 3 <= took <= 12, f"ended {took:.1f}s after a 4s grant was approved"
    assert status in SIGNALLED, status
    start, end = the_end(sess)
    assert end["ended"] == "expired" and end["status"] == status and end["grant"] == g, end
    assert wait_gone(m, 7) == [], f"processes of the command outlived its end: {pids_of(m)}"
    assert session_row(sess, start["session"], "--all")["status"] == "expired"
    # The notice came at once (less than 60 s were left when it started).
    assert re.search(rf"jitexec: grant #{g} ends at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d \S+, in under a minute; "
                     r"this command will be ended then", seen), seen


def started(inst, running, rule_approver="jit-lead1"):
    """Approves the request `running` (a Background jitexec) filed; waits for the command's first
    line. Returns (grant, session)."""
    n = int(running.wait_for(r"request #(\d+) filed").group(1))
    g = grant_id(approve(inst, n, rule_approver))
    running.wait_for("started-417", stream="out")
    (start,) = wait_event(inst, "exec.start")
    return g, start["session"]


def test_revoke_ends_a_running_command_and_says_which(sess, background):
    load(sess, policy(rule("ends", enforce_expiry=True)))
    m = marker()
    running = background([sess.jitexec, "-S", SH, "-c", f"echo started-417; sleep {m}; echo survived-417"], DEV,
                         input=DEV_PW)
    g, s = started(sess, running)
    r = run([sess.jitctl, "revoke", str(g), "-S", "-m", "incident over"], user="jit-lead2",
            input=password("jit-lead2") + "\n")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    status, out, err = running.finish(timeout=15)
    assert status in SIGNALLED and "survived-417" not in out, (status, out, err)
    _, end = the_end(sess)
    assert end["ended"] == "revoked" and end["status"] == status, end
    assert wait_gone(m, 7) == []
    assert s not in [row["id"] for row in sessions(sess)], "an unrecorded session is listed only with --all"
    row = session_row(sess, s, "--all")
    assert row["status"] == "revoked" and row["recorded"] is False and row["ended"] == "revoked", row
    assert re.search(rf"(?m)^ended 1 running commands? under grant #{g}: session #{s} ", r.stdout), r.stdout
    assert f"jitexec: grant #{g} was revoked by jit-lead2; the command was ended" in err, err


def test_revoke_without_enforce_expiry_leaves_the_command_running_and_says_so(sess, background):
    load(sess, policy(rule("keeps")))
    m = marker()
    running = background([sess.jitexec, "-S", SH, "-c", f"echo started-417; sleep {m}"], DEV, input=DEV_PW)
    g, s = started(sess, running)
    # Not recorded: nothing to attach to.
    a = run([sess.jitctl, "attach", str(s)], timeout=20)
    assert a.returncode == 1 and re.search(
        rf"jitctl: session #{s} is not recorded; attach needs record = true on rule '?keeps'?", a.stderr), a
    r = run([sess.jitctl, "revoke", str(g), "-S"], user="jit-lead1", input=password("jit-lead1") + "\n")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    time.sleep(2)
    assert running.proc.poll() is None and pids_of(m), "the revoke left the command running"
    assert events(sess, "exec.end") == []
    assert re.search(rf"(?m)^1 running commands? started under grant #{g} still runs? \(enforce_expiry is off for "
                     rf"rule 'keeps'\): session #{s} .*; 'jitctl stop ID' ends one$", r.stdout), r.stdout
    # An approver ends it by hand.
    status, said = interactive(sess, "jit-lead1", [sess.jitctl, "stop", str(s), "-m", "after the revoke"])
    assert status == 0 and f"session #{s} of {DEV} is being ended" in said, (status, said)
    code, out, err = running.finish(timeout=15)
    assert code in SIGNALLED and f"jitexec: session #{s} was stopped by jit-lead1: after the revoke" in err, (code, err)
    _, end = the_end(sess)
    assert (end["ended"], end["stopped_by"], end["comment"]) == ("stopped", "jit-lead1", "after the revoke"), end


def test_processes_left_behind_are_ended_under_enforce_expiry(sess):
    load(sess, policy(rule("ends", enforce_expiry=True)))
    m = marker()
    script = f"setsid sleep {m} </dev/null >/dev/null 2>&1 & echo left-417"
    n = filed_id(jitexec(sess, "--no-wait", SH, "-c", script).stderr)
    grant_id(approve(sess, n, "jit-lead1"))
    r = jitexec(sess, "--no-wait", SH, "-c", script)
    assert r.returncode == 0 and "left-417" in r.stdout, (r.returncode, r.stdout, r.stderr)
    assert wait_gone(m, 7) == [], f"a process the command left behind still runs: {pids_of(m)}"
    _, end = the_end(sess)
    assert end["status"] == 0 and end.get("ended") is None, end


# 5. attach and stop ----------------------------------------------------------------------------------

def test_attach_shows_output_live_and_stop_ends_the_session(sess, background):
    load(sess, policy(rule("rec", record=True)))
    m = marker()
    script = f": {m}; echo started-417; i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.3; done"
    running = background([sess.jitexec, "-S", SH, "-c", script], DEV, input=DEV_PW)
    g, s = started(sess, running)
    running.wait_for("tick-3", stream="out")
    # Neither the session's user nor an outsider may watch or stop it.
    for who in (DEV, "jit-out"):
        a = run([sess.jitctl, "attach", str(s)], user=who, timeout=20)
        assert a.returncode == 1 and "tick-" not in a.stdout, (who, a.returncode, a.stdout, a.stderr)
        status, said = interactive(sess, who, [sess.jitctl, "stop", str(s), "-m", "mine"])
        assert status == 1 and "is being ended" not in said, (who, status, said)
    assert running.proc.poll() is None

    watching = rf"jitctl: watching session #{s} of {DEV} \(read-only\); Ctrl-C stops watching"
    watch = spawn(sess, "jit-lead1", [sess.jitctl, "attach", str(s)], timeout=20)
    try:
        if watch.expect([PASSWORD_PROMPT, watching]) == 0:
            watch.sendline(password("jit-lead1"))
            watch.expect(watching)
        now = max(int(t) for t in re.findall(r"tick-(\d+)", running.text("out")))
        watch.expect(r"tick-1\r?\n")  # the output so far...
        watch.expect(rf"tick-{now + 3}\r?\n", timeout=10)  # ...and what is printed after attach started
        status, said = interactive(sess, "jit-lead2", [sess.jitctl, "stop", str(s), "-m", "enough watching"])
        stopped_at = time.monotonic()
        assert status == 0 and f"session #{s} of {DEV} is being ended" in said, (status, said)
        code, out, err = running.finish(timeout=15)
        took = time.monotonic() - stopped_at
        watch.expect(rf"jitctl: session #{s} ended \(stopped\)", timeout=10)
        watch.expect(pexpect.EOF, timeout=10)
    finally:
        watch.close(force=True)
    assert code in SIGNALLED, (code, out, err)
    assert took < 3, f"the command ended {took:.1f}s after jitctl stop"
    assert f"jitexec: session #{s} was stopped by jit-lead2: enough watching" in err, err
    _, end = the_end(sess)
    assert (end["ended"], end["stopped_by"], end["comment"]) == ("stopped", "jit-lead2", "enough watching"), end
    (attach,) = events(sess, "session.attach")
    assert (attach["actor"], attach["session"], attach["user"]) == ("jit-lead1", s, DEV), attach
    assert attach["command"][1:] == ["-c", script]
    (stop,) = events(sess, "session.stop")
    assert (stop["actor"], stop["session"], stop["user"], stop["comment"]) == ("jit-lead2", s, DEV, "enough watching")
    assert stop["command"][1:] == ["-c", script]
    assert session_row(sess, s)["status"] == "stopped"
    status, said = interactive(sess, "jit-lead2", [sess.jitctl, "stop", str(s)])
    assert status == 1 and f"jitctl: session #{s} is not running" in said, (status, said)
    assert wait_gone(m, 7) == []
    assert_recorded_end(sess, end, f"{sessions_dir(sess)}/{s}.cast")


# 6. jitexec -i and -s ---------------------------------------------------------------------------------

def test_login_shell_and_shell_are_run_and_recorded(sess):
    load(sess, policy(rule("shells", action="allow", commands=["/bin/bash"], record=True)))
    root = pwd.getpwnam("root")
    canonical = os.path.realpath(root.pw_shell)
    assert os.path.basename(canonical) == "bash", "the test expects root's shell to be bash"
    status, zero, where = shell_session(sess, [sess.jitexec, "-i"])
    assert (status, zero, where) == (0, "-bash", root.pw_dir)
    status, zero, where = shell_session(sess, [SH, "-c", f"cd /tmp && exec {sess.jitexec} -s"])
    assert status == 0 and not zero.startswith("-") and where == "/tmp", (status, zero, where)
    starts, ends = events(sess, "exec.start"), events(sess, "exec.end")
    assert [e["command"] for e in starts] == [[canonical], [canonical]], starts
    for end, want in zip(ends, ("Z1=-bash", "P1=/tmp")):
        path = f"{sessions_dir(sess)}/{end['session']}.cast"
        assert want in output_of(read_cast(path)[2]), (want, path)
    # No command may follow -i or -s.
    for flag in ("-i", "-s"):
        r = jitexec(sess, flag, "/usr/bin/id")
        assert r.returncode == 1 and "uid=" not in r.stdout, (flag, r.returncode, r.stdout, r.stderr)
    assert len(events(sess, "exec.start")) == 2
    for end in ends:
        assert_recorded_end(sess, end, f"{sessions_dir(sess)}/{end['session']}.cast")


def test_login_shell_under_enforce_expiry_is_recorded_and_ended_with_its_grant(sess):
    """Where it matters most: a root login shell (`jitexec -i`) under a short grant. What is typed
    into it is recorded, and at the grant's end the shell and what it detached with setsid go."""
    load(sess, policy(rule("root-shells", commands=["/bin/bash"], record=True, enforce_expiry=True)))
    m = marker()
    child, n, g, approved = pty_approved(sess, None, duration="5s", argv=["-i", "-r", "INC-417 shell"])
    try:
        child.sendline(f"setsid sleep {m}1 & echo shell-$((400+17))")
        child.expect("shell-417", timeout=10)
        child.expect(rf"jitexec: grant #{g} expired; the command was ended", timeout=30)
        took = time.monotonic() - approved
        status, _ = finish(child, timeout=20)
    finally:
        child.close(force=True)
    assert 4 <= took <= 13, f"the shell ended {took:.1f}s after a 5s grant was approved"
    assert status in SIGNALLED, status
    start, end = the_end(sess)
    assert start["command"] == [os.path.realpath(pwd.getpwnam("root").pw_shell)], start
    assert end["ended"] == "expired" and end["grant"] == g, end
    assert wait_gone(m, 7) == [], f"a process the shell detached outlived the grant: {pids_of(m)}"
    path = f"{sessions_dir(sess)}/{end['session']}.cast"
    assert "shell-417" in output_of(read_cast(path)[2]), path
    assert_recorded_end(sess, end, path)


# 7, 8. The recording's limits -------------------------------------------------------------------------

FLOOD = "yes jitexec-it-flood-line-417 | head -c 10000000; echo not-ended-417"


def test_full_disk_during_recording_ends_the_command_and_says_so(sess):
    load(sess, policy(rule("rec", action="allow", record=True)))
    assert jitexec(sess, SH, "-c", "echo before-417").returncode == 0  # the folder exists, as in use
    d = sessions_dir(sess)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700,uid=0,gid=0", "tmpfs", d], check=True)
    try:
        r = jitexec(sess, SH, "-c", FLOOD, timeout=60)
        (_, end) = events(sess, "exec.end")
        partial = copy_out(end["recording"])
    finally:
        subprocess.run(["umount", d], check=True)
    assert r.returncode in SIGNALLED and "not-ended-417" not in r.stdout, (r.returncode, r.stderr)
    assert re.search(r"jitexec: the session recording could not be written \(.+\); the command was ended\n",
                     r.stderr), r.stderr
    assert end["ended"] == "record_failed" and end["status"] == r.returncode and end.get("error"), end
    assert end["recording"] == f"{d}/{end['session']}.cast"
    restore(end["recording"], partial)  # back from the unmounted tmpfs, for the fixture's verify
    assert session_row(sess, end["session"])["status"] == "record failed"
    assert (end.get("recording_size"), end.get("recording_sha256")) == (len(partial), sha256(partial)), \
        "exec.end names what was written before the disk filled"


def test_record_max_ends_the_command(sess):
    load(sess, policy(rule("rec", action="allow", record=True), record_max="64K"))
    r = jitexec(sess, SH, "-c", FLOOD, timeout=60)
    assert r.returncode in SIGNALLED and "not-ended-417" not in r.stdout, (r.returncode, r.stderr)
    assert "jitexec: the session recording reached record_max (64 KiB); the command was ended" in r.stderr, r.stderr
    _, end = the_end(sess)
    assert end["ended"] == "record_limit" and end["status"] == r.returncode, end
    data = copy_out(end["recording"])
    assert 32 * 1024 < len(data) <= 64 * 1024, len(data)
    read_cast(end["recording"])  # still a whole asciicast file
    assert session_row(sess, end["session"])["status"] == "record limit"
    assert_recorded_end(sess, end, end["recording"])


def test_sessions_max_reached_runs_nothing(sess):
    load(sess, policy(rule("rec", action="allow", record=True), record_max="64K", sessions_max="1M"))
    assert jitexec(sess, SH, "-c", "echo before-417").returncode == 0
    restore(f"{sessions_dir(sess)}/old.cast", b"x" * (1536 * 1024))
    mark = f"/tmp/jitexec-it-sessions-{os.getpid()}"
    r = jitexec(sess, SH, "-c", f"touch {mark}")
    assert r.returncode == 1 and not os.path.exists(mark), (r.returncode, r.stderr)
    assert re.search(r"jitexec: session recordings fill .+ of sessions_max \(.+\); an admin must move old "
                     r"recordings away or raise sessions_max; nothing was run", r.stderr), r.stderr
    assert len(events(sess, "exec.start")) == 1
    os.unlink(f"{sessions_dir(sess)}/old.cast")
    assert jitexec(sess, SH, "-c", "echo after-417").returncode == 0


# The keys in jitctl check ------------------------------------------------------------------------------

def test_check_refuses_contradictory_session_keys_and_describes_the_others(sess):
    for text, says in ((policy(rule("a", action="allow", enforce_expiry=True)), "enforce_expiry"),
                       (policy(rule("b", record_input=True)), "'record_input = true'"),
                       (policy(rule("b", record_input=True)), "'record = true'"),
                       (policy(rule("c", record=True), record_max="1K"), "record_max")):
        sess.write_policy(text)
        r = run([sess.jitctl, "check"])
        assert r.returncode != 0 and says in r.stdout + r.stderr, (text, r.returncode, r.stdout, r.stderr)
    load(sess, policy(rule("ok", record=True, record_input=True, enforce_expiry=True), rule("plain"),
                      record_max="64K", sessions_max="1G", record=False, record_input=False, enforce_expiry=False))
    # check says what records and what ends.
    said = run([sess.jitctl, "check"]).stdout.splitlines()
    assert "rule 'ok': records sessions with keyboard input, ends commands when their grant expires or is revoked" \
        in said, said
    assert f"recordings: {sessions_dir(sess)}, at most 64 KiB each (record_max), 1 GiB in all (sessions_max)" \
        in said, said
    assert not [line for line in said if "'plain'" in line], said
