"""On-call break-glass (issue 5, SPEC.md On-call) on the installed setuid binary, as real users:
who is on call (a group, a rotation file, a command), the immediate grant capped by break_glass_max,
the banner, the audit trail, the review queue, and the refusals (not on call, rule without
break_glass, no reason, a failing or hanging on-call command)."""
import grp
import json
import os
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from loop_support import audit_lines, events, grants, password, run

DEV = "jit-dev1"
ADMIN = "jit-lead2"  # made an admin for these tests
ONCALL_GROUP = "jit-oncall"
RAN_MARK = "/tmp/jitexec-it-oncall-ran"

BASE = """\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"
default_grant = "15m"
max_grant = "4h"
admins = ["%jit-admins"]

[[rule]]
name = "db-fix"
users = ["%jit-developers"]
commands = ["/usr/bin/id", "/usr/bin/sh -c *"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
break_glass = true
break_glass_max = "10m"

[[rule]]
name = "no-glass"
users = ["%jit-developers"]
commands = ["/usr/bin/uname -a"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
"""


def gpasswd(*args):
    subprocess.run(["gpasswd", *args], check=True, capture_output=True)


@pytest.fixture
def glass(inst):
    """The install with an empty store; jit-lead2 an admin; the on-call group exists, empty."""
    try:
        grp.getgrnam(ONCALL_GROUP)
    except KeyError:
        subprocess.run(["groupadd", ONCALL_GROUP], check=True)
    gpasswd("-M", "", ONCALL_GROUP)
    gpasswd("-a", ADMIN, "jit-admins")
    for path in (RAN_MARK,):
        if os.path.exists(path):
            os.unlink(path)
    yield inst
    gpasswd("-M", "", ONCALL_GROUP)
    gpasswd("-d", ADMIN, "jit-admins")
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, f"jitctl verify after the test: {v.stdout}{v.stderr}"


def policy(inst, oncall):
    inst.write_policy(BASE + "\n[oncall]\n" + oncall)
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, f"the break-glass policy does not load: {check.stdout}{check.stderr}"


def breakglass(inst, *argv, reason="INC-1 database down", user=DEV, extra=()):
    args = [inst.jitexec, "-S", "--break-glass", *extra]
    if reason is not None:
        args += ["-r", reason]
    return run(args + list(argv), user=user, input=password(user) + "\n")


def refused(r, *needles):
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def review(inst, *args, user=ADMIN):
    return run([inst.jitctl, "review", *args], user=user, input=password(user) + "\n")


def review_json(inst, *args, user=ADMIN):
    r = run([inst.jitctl, "review", "--json", *args], user=user)
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(s):
    return datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


# Who is on call --------------------------------------------------------------------------------

def test_on_call_by_group_gets_a_grant_at_once_a_banner_and_a_review(glass):
    policy(glass, f'group = "{ONCALL_GROUP}"\n')
    gpasswd("-a", DEV, ONCALL_GROUP)
    r = breakglass(glass, "/usr/bin/id")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("uid=0(root)"), r.stdout
    assert "*** BREAK-GLASS *** grant #" in r.stderr and "(10m)" in r.stderr, r.stderr
    assert f"you are on call (group {ONCALL_GROUP})" in r.stderr and "jitctl review" in r.stderr, r.stderr
    (g,) = grants(glass)
    assert g["source"] == "break_glass" and g["user"] == DEV and g["request_id"] is None
    assert g["command"] == ["/usr/bin/id"] and g["rule"] == "db-fix"
    names = [e["event"] for e in events(glass, "grant.created", "breakglass.used", "grant.used", "exec.start",
                                            "exec.end")]
    assert names == ["grant.created", "breakglass.used", "grant.used", "exec.start", "exec.end"], names
    (used,) = events(glass, "breakglass.used")
    assert used["actor"] == DEV and used["grant"] == g["id"] and used["reason"] == "INC-1 database down"
    assert used["oncall"] == f"group {ONCALL_GROUP}" and used["seconds"] == 600

    # The use waits in the review queue, for admins (and its user); nobody else sees it.
    (waiting,) = review_json(glass)
    assert waiting["grant"] == g["id"] and waiting["verdict"] is None and waiting["reason"] == "INC-1 database down"
    assert [u["grant"] for u in review_json(glass, user=DEV)] == [g["id"]]
    assert review_json(glass, user="jit-lead1") == []
    listed = run([glass.jitctl, "review"], user=ADMIN)
    assert listed.returncode == 0 and f"#{g['id']}" in listed.stdout and "waiting" in listed.stdout, listed.stdout

    # Only an admin marks it, never its own user, once.
    assert "only admins" in refused(review(glass, str(g["id"]), "--ok", "-S", user="jit-lead1"))
    r = review(glass, str(g["id"]), "--flag", "-m", "why no ticket?", "-S")
    assert r.returncode == 0 and f"marked break-glass use #{g['id']} flagged" in r.stdout, (r.stdout, r.stderr)
    assert "already reviewed" in refused(review(glass, str(g["id"]), "--ok", "-S"))
    assert review_json(glass) == []
    (done,) = review_json(glass, "--all")
    assert done["verdict"] == "flagged" and done["reviewed_by"] == ADMIN and done["comment"] == "why no ticket?"
    (reviewed,) = events(glass, "breakglass.reviewed")
    assert reviewed["actor"] == ADMIN and reviewed["grant"] == g["id"] and reviewed["verdict"] == "flagged"

    # Within the grant the next run needs no glass broken again.
    again = run([glass.jitexec, "-S", "/usr/bin/id"], user=DEV, input=password(DEV) + "\n")
    assert again.returncode == 0 and again.stdout.startswith("uid=0(root)"), again.stderr
    assert len(events(glass, "breakglass.used")) == 1


def test_break_glass_fires_the_notifier(glass):
    capture = "/tmp/jitexec-it-breakglass-notified"
    if os.path.exists(capture):
        os.unlink(capture)
    notifier = f"{glass.confdir}/notify-capture"
    with open(notifier, "w") as f:
        f.write(f"#!/bin/sh\ncat >> {capture}\n")
    os.chown(notifier, 0, 0)
    os.chmod(notifier, 0o755)
    policy(glass, f'group = "{ONCALL_GROUP}"\n\n[notify]\ncommand = ["{notifier}"]\nrun_as = "nobody"\n'
                  'timeout = "5s"\n')
    gpasswd("-a", DEV, ONCALL_GROUP)
    r = breakglass(glass, "/usr/bin/id")
    assert r.returncode == 0, r.stderr
    (used,) = events(glass, "breakglass.used")
    deadline = time.monotonic() + 15
    got = []
    while time.monotonic() < deadline:
        if os.path.exists(capture):
            got = audit_lines(open(capture).read())
            if any(e["event"] == "breakglass.used" for e in got):
                break
        time.sleep(0.2)
    notified = [e for e in got if e["event"] == "breakglass.used"]
    assert notified == [used], (got, used)
    os.unlink(capture)


def test_break_glass_grant_cannot_exceed_break_glass_max(glass):
    policy(glass, f'group = "{ONCALL_GROUP}"\n')
    gpasswd("-a", DEV, ONCALL_GROUP)
    r = breakglass(glass, "/usr/bin/id", extra=["-d", "4h"])
    assert r.returncode == 0, r.stderr
    (g,) = grants(glass)
    assert parse(g["expires_at"]) - parse(g["not_before"]) == timedelta(minutes=10)
    r = breakglass(glass, "/usr/bin/sh", "-c", "true", extra=["-d", "3m"])
    assert r.returncode == 0, r.stderr
    shorter = [x for x in grants(glass) if x["command"] == [os.path.realpath("/usr/bin/sh"), "-c", "true"]][0]
    assert parse(shorter["expires_at"]) - parse(shorter["not_before"]) == timedelta(minutes=3)


def test_not_on_call_is_refused_and_audited(glass):
    policy(glass, f'group = "{ONCALL_GROUP}"\n')
    line = refused(breakglass(glass, "/usr/bin/id"), "jit-dev1 is not on call now", "without --break-glass")
    (rec,) = events(glass, "breakglass.refused")
    assert rec["actor"] == DEV and rec["why"] == "not on call" and rec["reason"] == "INC-1 database down", line
    assert grants(glass) == [] and events(glass, "exec.start") == []


def test_rule_without_break_glass_is_refused_and_audited(glass):
    policy(glass, f'group = "{ONCALL_GROUP}"\n')
    gpasswd("-a", DEV, ONCALL_GROUP)
    refused(breakglass(glass, "/usr/bin/uname", "-a"), "rule 'no-glass' does not allow break-glass")
    (rec,) = events(glass, "breakglass.refused")
    assert rec["rule"] == "no-glass" and "does not allow" in rec["why"]
    assert grants(glass) == [] and events(glass, "exec.start") == []


def test_break_glass_always_needs_a_reason(glass):
    policy(glass, f'group = "{ONCALL_GROUP}"\n')
    gpasswd("-a", DEV, ONCALL_GROUP)
    refused(breakglass(glass, "/usr/bin/id", reason=None), "--break-glass needs a reason")
    refused(breakglass(glass, "/usr/bin/id", reason=""), "--break-glass needs a reason")
    assert grants(glass) == [] and events(glass, "exec.start") == []


def schedule(inst, text, mode=0o644):
    path = f"{inst.confdir}/oncall.toml"
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, 0, 0)
    os.chmod(path, mode)
    return path


def shift(user, start, end):
    return f'[[shift]]\nuser = "{user}"\nfrom = {rfc3339(start)}\nto = "{rfc3339(end)}"\n\n'


def test_on_call_by_rotation_file_inside_and_outside_a_shift(glass):
    now = datetime.now(timezone.utc)
    path = schedule(glass, shift("jit-lead1", now - timedelta(hours=1), now + timedelta(hours=1))
                    + shift(DEV, now - timedelta(days=2), now - timedelta(days=1))
                    + shift(DEV, now + timedelta(hours=1), now + timedelta(hours=9)))
    policy(glass, f'schedule = "{path}"\n')
    refused(breakglass(glass, "/usr/bin/id"), "is not on call now")
    # An overlapping shift that covers now puts jit-dev1 on call (the schedule is re-read when it changes).
    schedule(glass, shift("jit-lead1", now - timedelta(hours=1), now + timedelta(hours=1))
             + shift(DEV, now - timedelta(minutes=30), now + timedelta(minutes=30)))
    r = breakglass(glass, "/usr/bin/id")
    assert r.returncode == 0, r.stderr
    assert f"you are on call (schedule {path})" in r.stderr
    # A schedule others could edit is not trusted: nobody is on call by it.
    os.chmod(path, 0o666)
    line = refused(breakglass(glass, "/usr/bin/sh", "-c", "true"), "is not on call now", "schedule", path)
    assert "writable by group or others" in line, line
    (rec,) = events(glass, "breakglass.refused")[-1:]
    assert any(path in p for p in rec["oncall_problems"]), rec
    check = run([glass.jitctl, "check"])
    assert check.returncode == 0 and "nobody is on call by schedule" in check.stdout, check.stdout + check.stderr


def oncall_command(inst, body):
    path = f"{inst.confdir}/who-is-oncall"
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chown(path, 0, 0)
    os.chmod(path, 0o755)
    return path


def test_on_call_by_command_run_unprivileged(glass):
    path = oncall_command(glass, f"id -un > {RAN_MARK}\necho jit-lead1\necho {DEV}\n")
    policy(glass, f'command = ["{path}"]\n')
    r = breakglass(glass, "/usr/bin/id")
    assert r.returncode == 0, r.stderr
    assert f"you are on call (command {path})" in r.stderr
    assert open(RAN_MARK).read().strip() == "nobody", "the on-call command must run unprivileged"
    # A name the command does not print is not on call.
    oncall_command(glass, "echo jit-lead1\n")
    refused(breakglass(glass, "/usr/bin/sh", "-c", "true"), "is not on call now")


@pytest.mark.parametrize("body,needle", [("echo jit-dev1\nexit 3\n", "exited with status 3"),
                                         ("echo jit-dev1\nexec sleep 60\n", "did not finish within 5s")])
def test_failing_or_hanging_on_call_command_means_nobody_is_on_call(glass, body, needle):
    path = oncall_command(glass, body)
    policy(glass, f'command = ["{path}"]\n')
    started = time.monotonic()
    line = refused(breakglass(glass, "/usr/bin/id"), "is not on call now", needle)
    assert time.monotonic() - started < 30, line
    (rec,) = events(glass, "breakglass.refused")
    assert rec["why"] == "not on call" and any(needle in p for p in rec["oncall_problems"]), rec
    assert grants(glass) == [] and events(glass, "exec.start") == []
    assert subprocess.run(["pgrep", "-f", "sleep 60"], capture_output=True).returncode != 0, "the hanging command survived"
