"""Concurrency and load on the installed setuid binary (issue 4, "concurrency and load"): many runs
under one grant, approvers racing for the same request, racers for a single-use grant. Every race
is started behind a barrier so that the processes really overlap, and every test ends with
`jitctl verify` (the `wl` fixture)."""
import os
import re

from loop_support import without_prompts, approve, events, grant_id, grants, password, request_id, requests, run, show, together
from workflow_support import DEV, MARK, SH, file_request, jitexec, lines, wl  # noqa: F401 (wl is a fixture)

RUNS = 50


def test_fifty_concurrent_runs_under_one_rule_scope_grant(wl):
    n = file_request(wl, "/usr/bin/echo", "warm-up")
    assert show(wl, n)["scope"] == "rule"
    g = grant_id(approve(wl, n, "jit-lead1"))

    runs = together(RUNS, lambda i: jitexec(wl, "--no-wait", "/usr/bin/echo", f"load-{i}", timeout=240))

    for i, r in enumerate(runs):
        assert r.returncode == 0, (i, r.returncode, r.stdout, r.stderr)
        assert r.stdout == f"load-{i}\n", (i, r.stdout, r.stderr)
        lowered = r.stderr.lower()
        assert "locked" not in lowered and "busy" not in lowered, (i, r.stderr)
        assert "filed" not in r.stderr and "jitexec:" not in r.stderr, (i, r.stderr)
    starts = [e for e in events(wl, "exec.start") if e.get("grant") == g]
    ends = [e for e in events(wl, "exec.end") if e.get("grant") == g]
    used = [e for e in events(wl, "grant.used") if e["grant"] == g]
    assert len(starts) == RUNS and len(ends) == RUNS and len(used) == RUNS, (len(starts), len(ends), len(used))
    assert sorted(e["command"][1] for e in starts) == sorted(f"load-{i}" for i in range(RUNS))
    assert all(e["status"] == 0 for e in ends)
    # Nothing else was filed or granted: every run used the one grant.
    assert [r["id"] for r in requests(wl)] == [n]
    assert [x["id"] for x in grants(wl)] == [g]
    assert len(events(wl, "auth.failure")) == 0


def test_two_approvers_racing_for_one_approval_make_one_grant(wl):
    for round_ in range(4):
        n = file_request(wl, "/usr/bin/printf", f"race-{round_}")
        results = together(2, lambda i: approve(wl, n, ["jit-lead1", "jit-lead2"][i]))
        won = [r for r in results if r.returncode == 0]
        lost = [r for r in results if r.returncode != 0]
        assert len(won) == 1 and len(lost) == 1, [(r.returncode, r.stdout, r.stderr) for r in results]
        g = grant_id(won[0])
        (loser,) = lost
        assert loser.returncode == 1 and loser.stdout == "", (loser.stdout, loser.stderr)
        # The prompt ("Password: ") precedes the one line of the refusal on stderr.
        (line,) = lines(without_prompts(loser.stderr))
        assert line in (f"jitctl: request #{n} is already approved; nothing to do",
                        f"jitctl: request #{n} was decided by someone else a moment ago"), line
        req = show(wl, n)
        assert req["status"] == "approved" and len(req["approvals"]) == 1, req
        assert [x["id"] for x in grants(wl) if x["request_id"] == n] == [g]
        assert [e["grant"] for e in events(wl, "request.approved") if e["request"] == n] == [g]
        assert len([e for e in events(wl, "approval.added") if e["request"] == n]) == 1
        assert len([e for e in events(wl, "grant.created") if e["request"] == n]) == 1


def test_five_racers_for_a_single_use_grant_run_the_command_once(wl):
    script = f"echo x >> {MARK}"
    n = file_request(wl, SH, "-c", script, extra=("--once",))
    r = approve(wl, n, "jit-lead1")
    g = grant_id(r)
    assert "single use" in r.stdout, r.stdout

    results = together(5, lambda i: jitexec(wl, "--no-wait", SH, "-c", script, timeout=120))

    with open(MARK) as f:
        assert f.read() == "x\n", "the command ran more than once"
    winners = [r for r in results if r.returncode == 0]
    losers = [r for r in results if r.returncode != 0]
    assert len(winners) == 1, [(r.returncode, r.stderr) for r in results]
    # The others find no live grant, file (or reuse) one new request and exit 75, like a later run would.
    assert len(losers) == 4
    for loser in losers:
        assert loser.returncode == 75 and loser.stdout == "", (loser.returncode, loser.stdout, loser.stderr)
        last = lines(loser.stderr)[-1]
        assert last.startswith("jitexec: request #") and "is waiting for 1 approval" in last, loser.stderr
    new = {request_id(lines(loser.stderr)[-1]) for loser in losers}
    assert len(new) == 1 and n not in new, new
    assert sorted(x["id"] for x in requests(wl)) == sorted([n, *new])
    (gr,) = grants(wl)
    assert gr["id"] == g and gr["uses_left"] == 0
    assert [e["grant"] for e in events(wl, "grant.used")] == [g]
    assert len(events(wl, "exec.start")) == 1 and len(events(wl, "exec.end")) == 1
