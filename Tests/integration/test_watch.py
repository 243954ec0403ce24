"""`jitctl watch` (issue 5, and issue 12: times, revokes): a live feed of the requests an approver
may decide and of revokes and break-glass uses under their rules, through a real terminal, until
Ctrl-C."""
import re

import pexpect

from loop_support import approve, password, run, spawn

DEV = "jit-dev1"

POLICY = """\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"

[[rule]]
name = "two"
users = ["%jit-developers"]
commands = ["/usr/bin/id", "/usr/bin/uname -a"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 2
"""


def file(inst, *argv, reason="INC-9 \x1b[31mred"):
    r = run([inst.jitexec, "-S", "--no-wait", "-r", reason, *argv], user=DEV, input=password(DEV) + "\n")
    assert r.returncode == 75, r.stderr
    return int(r.stderr.split("request #")[1].split()[0])


def test_watch_shows_new_requests_and_their_changes_until_ctrl_c(inst):
    inst.write_policy(POLICY)
    first = file(inst, "/usr/bin/id")
    child = spawn(inst, "jit-lead1", [inst.jitctl, "watch"], timeout=20)
    try:
        child.expect("watching requests jit-lead1 may decide; Ctrl-C stops")
        child.expect(rf"#{first} {DEV}: /usr/bin/id as root \(0/2\) reason: INC-9 \\x1b\[31mred - 'jitctl approve {first}'")
        second = file(inst, "/usr/bin/uname", "-a")
        child.expect(rf"new #{second} {DEV}: /usr/bin/uname -a as root \(0/2\)", timeout=10)
        assert approve(inst, second, "jit-lead2", "-m", "ok").returncode == 0
        child.expect(rf"#{second} approved by jit-lead2 \(1/2\): ok", timeout=10)
        granted = approve(inst, second, "jit-lead1")
        assert granted.returncode == 0, granted.stderr
        # Each line starts with its time (UTC).
        child.expect(rf"\d\d:\d\d:\d\d #{second} approved by jit-lead1", timeout=10)
        # A revoke under a rule the watcher approves for is in the feed too.
        g = int(re.search(r"grant #(\d+)", granted.stdout).group(1))
        revoked = run([inst.jitctl, "revoke", str(g), "-m", "done early", "-S"], user="jit-lead2",
                      input=password("jit-lead2") + "\n")
        assert revoked.returncode == 0, revoked.stderr
        child.expect(rf"\d\d:\d\d:\d\d grant #{g} of {DEV} \(rule two\) revoked by jit-lead2: done early", timeout=10)
        r = run([inst.jitctl, "cancel", str(first), "-S"], user=DEV, input=password(DEV) + "\n")
        assert r.returncode == 0, r.stderr
        child.expect(rf"#{first} cancelled by {DEV}", timeout=10)
        child.sendintr()
        child.expect("stopped watching", timeout=5)
        child.expect(pexpect.EOF, timeout=5)
        child.wait()
        assert child.exitstatus == 0
        assert "\x1b[31m" not in child.before
    finally:
        child.close(force=True)


def test_watch_shows_nothing_to_someone_who_may_not_decide(inst):
    inst.write_policy(POLICY)
    file(inst, "/usr/bin/id")
    child = spawn(inst, "jit-out", [inst.jitctl, "watch"], timeout=10)
    try:
        child.expect("watching requests jit-out may decide")
        i = child.expect([r"#\d+", pexpect.TIMEOUT], timeout=3)
        assert i == 1, child.before + str(child.after)
        child.sendintr()
        child.expect("stopped watching", timeout=5)
    finally:
        child.close(force=True)


RULE_AND_GLASS = POLICY + """
[[rule]]
name = "any-true"
users = ["%jit-developers"]
commands = ["/usr/bin/true", "/usr/bin/hostname **"]
action = "approve"
approvers = ["%jit-sre-leads"]
scope = "rule"
break_glass = true

[oncall]
group = "jit-developers"
"""


def test_watch_lists_a_rule_scope_requests_commands_and_shows_break_glass_uses(inst):
    """A request for any command of its rule lists the rule's commands on the feed; a break-glass use
    under a rule the watcher approves for appears with who, what, where and why."""
    inst.write_policy(RULE_AND_GLASS)
    child = spawn(inst, "jit-lead1", [inst.jitctl, "watch"], timeout=20)
    try:
        child.expect("watching requests jit-lead1 may decide; Ctrl-C stops")
        n = file(inst, "/usr/bin/true")
        child.expect(rf"new #{n} {DEV}: any command of rule 'any-true': /usr/bin/true, /usr/bin/hostname \*\* as root",
                     timeout=10)
        r = run([inst.jitexec, "-S", "--break-glass", "-r", "INC-5 outage", "/usr/bin/hostname"], user=DEV,
                input=password(DEV) + "\n")
        assert r.returncode == 0, r.stderr
        child.expect(rf"\d\d:\d\d:\d\d BREAK-GLASS {DEV} took grant #\d+ on \S+ \(rule any-true\): ", timeout=10)
        child.expect(r"reason: INC-5 outage - 'jitctl review'", timeout=5)
        child.sendintr()
        child.expect("stopped watching", timeout=5)
    finally:
        child.close(force=True)
