"""The policy, fixture and helpers shared by test_load.py and test_workflow_attacks.py: the loop of
test_loop.py under load and under attack. Mark files carry an `L` suffix so these tests never share
one with test_loop.py."""
import os
import subprocess

import pytest

from loop_support import clear_credential_cache, environment, password, request_id, run, user_kwargs

SECURE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
MARK = "/tmp/jitexec-itL-mark"
SH = "/usr/bin/sh"
DEV = "jit-dev1"
DEV_PW = password(DEV) + "\n"

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

# The requester is also in the approvers group (rule scope, so it can be requested ahead of time).
[[rule]]
name = "lead-self"
users = ["jit-lead1"]
commands = ["/usr/bin/id -un"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
scope = "rule"

# Any command of the rule under one grant.
[[rule]]
name = "bulk"
users = ["%jit-developers"]
commands = ["/usr/bin/echo **"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
scope = "rule"

# Exactly the argv that was approved.
[[rule]]
name = "exact"
users = ["%jit-developers"]
commands = ["/usr/bin/id", "/usr/bin/true", "/usr/bin/sh -c *", "/usr/bin/printf **"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"

[[rule]]
name = "reasoned"
users = ["%jit-developers"]
commands = ["/usr/bin/uname -s"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "required"

[[rule]]
name = "plain"
users = ["%jit-developers"]
commands = ["/usr/bin/touch {MARK}"]
action = "allow"
"""


def remove_mark():
    if os.path.exists(MARK):
        os.unlink(MARK)


@pytest.fixture
def wl(inst):
    """The install with the policy above, an empty store, an empty credential cache and no mark
    file. Afterwards the audit chain the test left behind must verify."""
    inst.write_policy(POLICY)
    clear_credential_cache(inst)
    remove_mark()
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, f"the policy does not load: {check.stdout}{check.stderr}"
    yield inst
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0 and "audit chain intact" in v.stdout, f"jitctl verify after the test: {v.stdout}{v.stderr}"
    clear_credential_cache(inst)
    remove_mark()


def jitexec(inst, *argv, user=DEV, input=None, env=None, timeout=90):
    """jitexec -S ARGV as `user`, the user's password on stdin."""
    if input is None:
        input = password(user) + "\n"
    return run([inst.jitexec, "-S", *argv], user=user, input=input, env=env, timeout=timeout)


def file_request(inst, *argv, user=DEV, extra=()):
    """Files a request with --no-wait (exit 75, nothing on stdout) and returns its id."""
    r = jitexec(inst, *extra, "--no-wait", *argv, user=user)
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    return request_id(r.stderr)


def run_bytes(argv, user=None, input=b"", timeout=90):
    """Runs argv given as bytes (or str) words, as `user`, in a new session; stdout/stderr as bytes."""
    return subprocess.run(argv, capture_output=True, env=environment(), input=input, timeout=timeout, cwd="/",
                          start_new_session=True, **user_kwargs(user))


def lines(text):
    """The non-empty lines of `text`."""
    return [line for line in text.splitlines() if line.strip()]


def refusal(result, prefix):
    """The single line a refused jitctl/jitexec run printed on stderr; asserts there was exactly one."""
    got = lines(result.stderr)
    assert len(got) == 1 and got[0].startswith(prefix), (result.returncode, result.stdout, result.stderr)
    return got[0]
