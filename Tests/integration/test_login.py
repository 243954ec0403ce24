"""Shell login gating (issue 5, SPEC.md Shell login gating) through real PAM stacks: the installed
account snippet (pam/jitexec-login -> /etc/pam.d/<service>-login) calls `jitexec --login-gate`
through pam_exec. Driven with pamtester (the account phase alone) and with a real sshd from
openssh-server on a loopback port, logged into with a real ssh client."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import PAM_SERVICE
from loop_support import approve, events, grant_id, password, requests, run

DEV = "jit-dev1"
# Linux-PAM lowercases service names (and PAM_SERVICE is the lowercased name).
PAM_FILE = PAM_SERVICE.lower()
GATE_SERVICE = f"{PAM_FILE}-gate"
SSH_SERVICE = f"sshd-{PAM_FILE}"

POLICY = f"""\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"
admins = ["%jit-admins"]

[[rule]]
name = "ids"
users = ["%jit-developers"]
commands = ["/usr/bin/id"]
action = "approve"
approvers = ["%jit-sre-leads"]

[[login]]
users = ["%jit-developers"]
services = ["{GATE_SERVICE}", "{SSH_SERVICE}"]
approvers = ["%jit-sre-leads"]
approvals = 1
max_grant = "8h"
auto_request = true
"""


def write_pam(name, text):
    path = f"/etc/pam.d/{name}"
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


@pytest.fixture
def gate(inst):
    """The login policy, and a PAM service whose account phase is common-account + the shipped snippet."""
    inst.write_policy(POLICY)
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, check.stdout + check.stderr
    snippet = f"/etc/pam.d/{PAM_FILE}-login"
    assert os.path.exists(snippet), "make install must install the login snippet"
    text = open(snippet).read()
    assert f"{inst.bin}/jitexec --login-gate" in text and "pam_exec.so" in text, text
    service = write_pam(GATE_SERVICE, f"auth required pam_permit.so\n@include common-account\n@include {PAM_FILE}-login\n")
    yield inst
    os.unlink(service)
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, v.stdout + v.stderr


def account(user):
    """The account phase of the gated service for `user`, as a login program (root) runs it."""
    return subprocess.run(["pamtester", "-v", GATE_SERVICE, user, "acct_mgmt"], capture_output=True, text=True,
                          timeout=60)


def admitted(r):
    return r.returncode == 0 and "account management done" in (r.stdout + r.stderr)


def test_gated_login_is_refused_with_the_request_then_admitted_once_approved(gate):
    r = account(DEV)
    assert not admitted(r), r.stdout + r.stderr
    out = r.stdout + r.stderr
    (req,) = [q for q in requests(gate) if q["kind"] == "login"]
    n = req["id"]
    assert f"login of {DEV}" in out and f"request #{n} was filed" in out and "jit-lead1, jit-lead2" in out, out
    assert f"jitctl approve {n}" in out, out
    assert req["requester"] == DEV and req["scope"] == "login" and req["status"] == "pending"
    (denied,) = events(gate, "login.denied")
    assert denied["actor"] == DEV and denied["request"] == n and denied["service"] == GATE_SERVICE

    # Trying again reuses the open request.
    again = account(DEV)
    assert not admitted(again) and f"request #{n} is waiting" in again.stdout + again.stderr
    assert len([q for q in requests(gate) if q["kind"] == "login"]) == 1

    g = grant_id(approve(gate, n, "jit-lead1"))
    r = account(DEV)
    assert admitted(r), r.stdout + r.stderr
    (allowed,) = events(gate, "login.allowed")
    assert allowed["actor"] == DEV and allowed["grant"] == g
    # A login grant is not used up by logging in.
    assert admitted(account(DEV))


def test_ungated_user_passes_untouched(gate):
    r = account("jit-out")
    assert admitted(r), r.stdout + r.stderr
    assert "jitexec:" not in r.stdout + r.stderr
    assert events(gate, "login.allowed", "login.denied", "request.filed") == []


def test_broken_store_refuses_gated_users_only(gate):
    assert not admitted(account(DEV))  # creates the store
    with open(gate.db, "r+b") as f:
        f.write(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(gate.db + suffix):
            os.unlink(gate.db + suffix)
    try:
        r = account(DEV)
        assert not admitted(r)
        assert "cannot decide" in r.stdout + r.stderr, r.stdout + r.stderr
        assert admitted(account("jit-out")), "an ungated user must not depend on the store"
    finally:
        os.unlink(gate.db)


def test_broken_policy_refuses_gated_users_only(gate):
    assert not admitted(account(DEV))  # compiles the policy once
    gate.write_policy(POLICY + "\n[settings]\nbogus = 1\n")
    r = account(DEV)
    assert not admitted(r) and "policy cannot be read" in r.stdout + r.stderr, r.stdout + r.stderr
    assert admitted(account("jit-out"))


def test_login_request_filed_ahead_of_time(gate):
    r = run([gate.jitctl, "request", "--login", "-r", "on call tonight", "-S"], user=DEV, input=password(DEV) + "\n")
    assert r.returncode == 0 and "filed login request #" in r.stdout, (r.stdout, r.stderr)
    (req,) = requests(gate)
    assert req["kind"] == "login" and req["reason"] == "on call tonight"
    grant_id(approve(gate, req["id"], "jit-lead1"))
    assert admitted(account(DEV))
    out = run([gate.jitctl, "request", "--login", "-r", "x", "-S"], user="jit-out", input=password("jit-out") + "\n")
    assert out.returncode == 1 and "not gated" in out.stderr, out.stderr


def test_only_root_runs_the_gate(gate):
    r = run([gate.jitexec, "--login-gate"], user=DEV,
            env={"PAM_TYPE": "account", "PAM_USER": "jit-lead1", "PAM_SERVICE": GATE_SERVICE})
    assert r.returncode == 1 and "runs from PAM as root" in r.stderr, r.stderr
    assert requests(gate) == [] and events(gate, "login.denied", "request.filed") == []


def test_gate_run_as_root_ignores_swift_runtime_variables(gate):
    # pam_exec passes the PAM environment, which modules may fill from a user's own files.
    env = {"PAM_TYPE": "account", "PAM_USER": "jit-out", "PAM_SERVICE": GATE_SERVICE, "SWIFT_DEBUG_HELP": "YES",
           "SWIFT_BACKTRACE": "enable=yes,interactive=yes"}
    r = subprocess.run([gate.jitexec, "--login-gate"], capture_output=True, text=True, env=env, timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), (r.returncode, r.stdout, r.stderr)


# A real sshd -------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshd(gate):
    """sshd on a loopback port, PAM service SSH_SERVICE (sshd names its service after argv[0])."""
    if not shutil.which("sshd") and not os.path.exists("/usr/sbin/sshd"):
        pytest.fail("openssh-server is not installed (.ci/run installs it)")
    work = tempfile.mkdtemp(prefix="jitexec-it-sshd-")
    os.chmod(work, 0o755)
    binary = f"{work}/{SSH_SERVICE}"
    os.symlink("/usr/sbin/sshd", binary)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{work}/host_key"], check=True)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    port = free_port()
    config = f"{work}/sshd_config"
    with open(config, "w") as f:
        f.write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {work}/host_key\nPidFile {work}/sshd.pid\n"
                "UsePAM yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nPubkeyAuthentication no\n"
                "PermitRootLogin no\nStrictModes no\nPrintMotd no\nPrintLastLog no\nUseDNS no\n")
    write_pam(SSH_SERVICE, f"@include common-auth\n@include common-account\n@include {PAM_FILE}-login\n"
                           "session required pam_permit.so\n")
    log = f"{work}/sshd.log"
    proc = subprocess.Popen([binary, "-D", "-e", "-f", config], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"sshd did not start: {open(log).read()}")
    yield port, log
    proc.terminate()
    proc.wait(timeout=10)
    os.unlink(f"/etc/pam.d/{SSH_SERVICE}")
    shutil.rmtree(work, ignore_errors=True)


def ssh(port, user):
    return subprocess.run(
        ["sshpass", "-p", password(user), "ssh", "-p", str(port), "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password",
         "-o", "PubkeyAuthentication=no", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20",
         f"{user}@127.0.0.1", "echo logged-in-as-$(id -un)"],
        capture_output=True, text=True, timeout=60)


def test_real_ssh_login_is_gated_until_approved(sshd, gate):
    port, log = sshd
    r = ssh(port, DEV)
    assert r.returncode != 0 and "logged-in-as" not in r.stdout, (r.returncode, r.stdout, r.stderr)
    (denied,) = events(gate, "login.denied")
    assert denied["actor"] == DEV and denied["service"] == SSH_SERVICE and denied["rhost"] == "127.0.0.1"
    n = denied["request"]
    out = ssh(port, "jit-out")
    assert out.returncode == 0 and "logged-in-as-jit-out" in out.stdout, (out.stdout, out.stderr, open(log).read())
    grant_id(approve(gate, n, "jit-lead1"))
    r = ssh(port, DEV)
    assert r.returncode == 0 and f"logged-in-as-{DEV}" in r.stdout, (r.stdout, r.stderr, open(log).read())
    (allowed,) = events(gate, "login.allowed")
    assert allowed["service"] == SSH_SERVICE
