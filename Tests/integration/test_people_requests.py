"""What people see about requests (issue 12, second part), on the installed binary as real users:
running again with another reason files a new request and says so; `jitctl show` gives the grant's
length and what shortens it, who may approve, and when the request (not the access) expires; a
rule-scope request lists the rule's commands wherever it is shown; an approver's `-d` that a cap
shortens is explained; the password prompt names the program and the user; people read the host's
local time with its zone, never the caller's TZ."""
import json
import pwd
import re
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from loop_support import approve, finish, grant_id, password, requests, run, show, spawn, with_policy

DEV = "jit-dev1"
LEAD = "jit-lead1"

POLICY = """\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"
request_ttl = "1h"
default_grant = "15m"
max_grant = "4h"

[[rule]]
name = "ids"
users = ["%jit-developers"]
commands = ["/usr/bin/id", "/usr/bin/id -u"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1

# Any command of the rule, at most 30 minutes.
[[rule]]
name = "capped"
users = ["%jit-developers"]
commands = ["/usr/bin/uptime", "/usr/bin/hostname **"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
scope = "rule"
max_grant = "30m"
"""

RULE_COMMANDS = "any command of rule 'capped': /usr/bin/uptime, /usr/bin/hostname **"


@pytest.fixture
def asked(inst):
    yield from with_policy(inst, POLICY)


def file(inst, *argv):
    """`jitexec -S --no-wait ARGV` as DEV: (the request id, the one line it printed)."""
    r = run([inst.jitexec, "-S", "--no-wait", *argv], user=DEV, input=password(DEV) + "\n")
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    line = re.sub(r"^\[jitexec\] password for \S+: ", "", r.stderr).splitlines()[0]
    m = re.search(r"request #(\d+)", line)
    return int(m.group(1)), line


def test_running_again_with_another_reason_files_a_new_request_and_says_so(asked):
    """The same command again with another reason, ticket or length is never folded silently into
    the open request: a new one is filed beside it, the line names the open one and how to withdraw
    it, and each keeps its own values. The same values again (or none) reuse the open request."""
    first, line = file(asked, "-r", "INC-1 first", "/usr/bin/id")
    assert line.startswith(f"jitexec: request #{first} filed: it needs 1 approval"), line
    again, line = file(asked, "/usr/bin/id")
    assert again == first and line.startswith(f"jitexec: your request #{first} is still open"), line

    second, line = file(asked, "-r", "INC-2 second", "-d", "20m", "/usr/bin/id")
    assert second != first, line
    assert (f"jitexec: request #{second} filed beside your open request #{first}, which has another reason and "
            f"another length (it stays open; 'jitctl cancel {first}' withdraws it): it needs") in line, line
    third, line = file(asked, "-r", "INC-2 second", "-d", "20m", "--once", "/usr/bin/id")
    assert third not in (first, second) and "which has no --once" in line, line

    by_id = {q["id"]: q for q in requests(asked)}
    assert by_id[first]["reason"] == "INC-1 first" and by_id[first]["status"] == "pending"
    assert by_id[second]["reason"] == "INC-2 second" and not by_id[second]["once"]
    assert by_id[third]["once"] and by_id[third]["status"] == "pending"


def test_show_gives_length_cap_approvers_and_a_labelled_expiry(asked):
    """`jitctl show` for a pending request: the grant an approval would make and what shortens it,
    who may approve now, and when the request expires, labelled as not being when access ends; a
    rule-scope request lists its rule's commands in `show` and `requests`."""
    n, _ = file(asked, "-r", "INC-3", "-d", "2h", "/usr/bin/uptime")
    r = run([asked.jitctl, "show", str(n)], user=DEV)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(":", 1) for line in r.stdout.splitlines()[1:] if ":" in line and not line.startswith(" "))
    assert lines["command"].strip() == RULE_COMMANDS, r.stdout
    assert lines["grant"].strip() == "30m once approved (asked 2h with -d; shortened by rule 'capped' max_grant 30m)"
    assert lines["approvers"].strip() == "%jit-sre-leads (may approve now: jit-lead1, jit-lead2)", r.stdout
    assert re.fullmatch(r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \(in (59|60)m\); unapproved by then, the request "
                        r"expires \(this is not when access would end\)", lines["open until"]), r.stdout

    table = run([asked.jitctl, "requests"], user=LEAD)
    assert table.returncode == 0 and RULE_COMMANDS in table.stdout, table.stdout

    m, _ = file(asked, "-r", "INC-4", "/usr/bin/id", "-u")
    r = run([asked.jitctl, "show", str(m)], user=DEV)
    assert "grant:      15m once approved (none asked, default_grant)" in r.stdout, r.stdout
    assert "command:    /usr/bin/id -u" in r.stdout, r.stdout


def test_an_approver_sees_the_prompt_and_why_their_duration_was_shortened(asked):
    """At a terminal `jitctl approve` first shows what is being approved, then asks `[jitctl] password
    for jit-lead1: `; an approval with `-d 2h` on a rule capped at 30m says the grant is shorter than
    the -d given, and why."""
    n, _ = file(asked, "-r", "INC-5", "-d", "3h", "/usr/bin/hostname")
    child = spawn(asked, LEAD, [asked.jitctl, "approve", str(n), "-d", "2h"])
    # What is being approved, on the terminal, before the password records it.
    child.expect_exact(f"approving request #{n} of {DEV}: {RULE_COMMANDS} as root on ")
    child.expect_exact("(rule capped), reason: INC-5; the grant would last 30m\r\n")
    child.expect_exact(f"[jitctl] password for {LEAD}: ")
    child.sendline(password(LEAD))
    status, out = finish(child)
    assert status == 0, out
    assert re.search(rf"approved request #{n}: grant #\d+ for {DEV} as root for 30m, until \d{{4}}-\d\d-\d\d "
                     rf"\d\d:\d\d:\d\d \S+ \(in (29|30)m\) \(shorter than the 2h you gave with -d: rule 'capped' "
                     rf"max_grant 30m\)", out), out
    (g,) = [g for g in run_json(asked, "grants", "--all") if g["request_id"] == n]
    assert g["command"] is None and g["scope"] == "rule"
    lines = run([asked.jitctl, "grants"], user=DEV).stdout
    assert RULE_COMMANDS in lines, lines

    # A request that gave no -d gets default_grant (15m): an approver's -d 2h does not lengthen it.
    m, _ = file(asked, "-r", "INC-7", "/usr/bin/id")
    r = approve(asked, m, LEAD, "-d", "2h")
    assert re.search(r"for 15m, until .* \(shorter than the 2h you gave with -d: the request gave no -d, so "
                     r"default_grant 15m\)$", r.stdout.strip()), r.stdout


def run_json(inst, *argv):
    r = run([inst.jitctl, *argv, "--json"])
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def test_times_are_the_hosts_local_time_with_its_zone_never_the_callers_tz(asked):
    """With the host's zone set to Asia/Tokyo (a bind mount over /etc/localtime in a private mount
    namespace) and the caller's TZ=America/New_York, `jitctl show` prints the filing time in JST,
    nine hours after the UTC time `--json` keeps."""
    n, _ = file(asked, "-r", "INC-6", "/usr/bin/id")
    created = datetime.strptime(show(asked, n)["created_at"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    pw = pwd.getpwnam(DEV)
    script = ("mount --bind /usr/share/zoneinfo/Asia/Tokyo /etc/localtime && "
              f"exec setpriv --reuid={pw.pw_uid} --regid={pw.pw_gid} --init-groups "
              f"env TZ=America/New_York {asked.jitctl} show {n}")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 0, r.stderr
    m = re.search(r"^filed:      (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+) \(", r.stdout, re.M)
    assert m and m.group(2) == "JST", r.stdout
    shown = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert shown - created == timedelta(hours=9), (m.group(1), created)
    # Outside the namespace the host is UTC again, and --json is UTC whatever the zone.
    plain = run([asked.jitctl, "show", str(n)], user=DEV, env={"TZ": "America/New_York"}).stdout
    assert re.search(r"^filed:      \S+ \S+ UTC \(", plain, re.M), plain


def log_events(inst, user):
    r = run([inst.jitctl, "log", "--json"], user=user)
    assert r.returncode == 0, r.stderr
    return [(rec["event"], rec["actor"]) for rec in map(json.loads, r.stdout.splitlines())]


def test_requesters_and_approvers_read_their_share_of_the_log(asked):
    """A requester reads who approved and who revoked their grant; the approver reads what ran under
    the grant they approved; someone uninvolved reads none of it."""
    n, _ = file(asked, "-r", "INC-8", "/usr/bin/id")
    r = approve(asked, n, LEAD, "-m", "ok")
    g = int(re.search(r"grant #(\d+)", r.stdout).group(1))
    ran = run([asked.jitexec, "-S", "/usr/bin/id"], user=DEV, input=password(DEV) + "\n")
    assert ran.returncode == 0, ran.stderr
    revoke = run([asked.jitctl, "revoke", str(g), "-S", "-m", "done"], user="jit-lead2",
                 input=password("jit-lead2") + "\n")
    assert revoke.returncode == 0, revoke.stderr

    mine = log_events(asked, DEV)
    for seen in (("approval.added", LEAD), ("request.approved", LEAD), ("grant.created", LEAD),
                 ("exec.start", DEV), ("grant.revoked", "jit-lead2")):
        assert seen in mine, (seen, mine)
    approver = log_events(asked, LEAD)
    for seen in (("approval.added", LEAD), ("grant.used", DEV), ("exec.start", DEV), ("exec.end", DEV),
                 ("grant.revoked", "jit-lead2")):
        assert seen in approver, (seen, approver)
    assert ("request.filed", DEV) not in approver, "filed before the approver took part"
    assert log_events(asked, "jit-out") == []


def test_root_lists_another_users_rules_with_capital_u_and_others_may_not(asked):
    """`jitexec -l -U jit-dev1` (as root, like `sudo -l -U`) lists jit-dev1's rules, grants and
    open requests; a user who is not an admin is refused in one line; -U without -l is a usage error."""
    n, _ = file(asked, "-r", "INC-9", "/usr/bin/id")
    r = run([asked.jitexec, "-l", "-U", DEV])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{DEV} on ") and "[rule ids]" in r.stdout and f"#{n} /usr/bin/id as root" in r.stdout
    r = run([asked.jitexec, "-l", "-U", DEV, "/usr/bin/id"])
    assert r.returncode == 0 and r.stdout.startswith("approve: needs 1 approval from %jit-sre-leads"), r.stdout
    refused = run([asked.jitexec, "-l", "-U", LEAD], user=DEV)
    assert refused.returncode == 1 and refused.stdout == "" and refused.stderr == (
        "jitexec: only root and the policy's admins may list another user's rules (-U); run 'jitexec -l' for your "
        "own\n"), refused.stderr
    usage = run([asked.jitexec, "-U", DEV, "/usr/bin/id"], user=DEV)
    assert usage.returncode == 1 and "-U USER goes with -l" in usage.stderr, usage.stderr


GROUP_POLICY = POLICY + """
[[rule]]
name = "as-adm"
users = ["%jit-developers"]
run_as_groups = ["adm"]
commands = ["/usr/bin/id -gn", "/usr/bin/id -Gn"]
action = "approve"
approvers = ["%jit-sre-leads"]
"""


def test_small_g_runs_with_the_group_a_rule_names_and_its_grant_covers_only_that_group(asked):
    """`jitexec -g adm` needs a rule whose run_as_groups names adm: the request and grant are for
    root:adm, the command's primary group is adm (root's groups stay), a grant for root:adm does not
    cover a plain root run, and a group no rule names is denied with the explain hint."""
    asked.write_policy(GROUP_POLICY)
    listed = run([asked.jitexec, "-l"], user=DEV).stdout
    assert "approve (root : adm) /usr/bin/id -gn   [rule as-adm]" in listed, listed
    n, line = file(asked, "-g", "adm", "-r", "INC-10", "/usr/bin/id", "-gn")
    q = show(asked, n)
    assert q["run_as"] == "root:adm" and q["rule"] == "as-adm", q
    g = grant_id(approve(asked, n, LEAD))
    r = run([asked.jitexec, "-S", "-g", "adm", "/usr/bin/id", "-gn"], user=DEV, input=password(DEV) + "\n")
    assert r.returncode == 0 and r.stdout == "adm\n", (r.returncode, r.stdout, r.stderr)
    (end,) = [e for e in run_json(asked, "log") if e["event"] == "exec.end" and e["fields"].get("grant") == g]
    assert end["fields"]["run_as"] == "root:adm", end
    # The grant for root:adm does not cover the same command as plain root: that files its own request.
    plain = run([asked.jitexec, "-S", "--no-wait", "/usr/bin/id", "-gn"], user=DEV, input=password(DEV) + "\n")
    assert plain.returncode == 75, (plain.returncode, plain.stderr)
    assert show(asked, int(re.search(r"request #(\d+)", plain.stderr).group(1)))["run_as"] == "root"
    denied = run([asked.jitexec, "-S", "-g", "shadow", "/usr/bin/id", "-gn"], user=DEV, input=password(DEV) + "\n")
    assert denied.returncode == 1 and "may not run /usr/bin/id as root:shadow" in denied.stderr, denied.stderr
    assert "'jitctl explain -g shadow -- /usr/bin/id -gn'" in denied.stderr, denied.stderr
    unknown = run([asked.jitexec, "-g", "no-such-group-x", "/usr/bin/id"], user=DEV)
    assert unknown.returncode == 1 and "unknown group no-such-group-x" in unknown.stderr, unknown.stderr
