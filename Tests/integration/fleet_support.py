"""Simulated hosts of one fleet on this machine. A Host is a long-lived holder process in new UTS and
mount namespaces, with its own hostname and its own LOCALSTATEDIR and RUNDIR: fresh root-owned
directories bind-mounted over {prefix}/var and {prefix}/run inside its mount namespace only. The
binaries and {prefix}/etc stay shared by every host (and with the real system), like one policy
rolled out to a fleet. Commands enter a host with nsenter (the holder's UTS and mount namespaces;
PID, network and user namespaces stay the machine's, so 127.0.0.1 is the same everywhere) and run
as a real user with exactly the given environment."""
import os
import pwd
import select
import shutil
import stat
import subprocess
import sys
import tempfile

import pexpect
import pytest

from conftest import Install
from loop_support import BASE_ENV, environment

# A host's own directories, relative to the prefix, with the modes `make install` gives them; a
# directory that exists in the real install lends its mode instead.
LAYOUT = [("var", 0o755), ("var/lib", 0o755), ("var/lib/jitexec", 0o700), ("var/log", 0o755),
          ("var/log/jitexec", 0o700), ("var/log/jitexec/sessions", 0o700), ("run", 0o755), ("run/jitexec", 0o700)]
# Bind-mounted over {prefix}/var and {prefix}/run.
MOUNTS = ("var", "run")
HOLDER = ('hostname "$1" && mount --bind "$2" "$3" && mount --bind "$4" "$5" && echo ready '
          '&& exec sleep infinity')


class Host:
    """One simulated host named `name` of the install `install` (only install.prefix is used)."""

    def __init__(self, name, install):
        self.name = name
        self.install = install
        self.root = None
        self.holder = None

    @property
    def pid(self):
        """The holder's pid: nsenter -t PID enters this host."""
        return self.holder.pid

    def start(self, timeout=30):
        """Creates the host's fresh directories and starts the holder; returns once it is ready."""
        prefix = self.install.prefix
        for m in MOUNTS:
            assert os.path.isdir(f"{prefix}/{m}"), f"{prefix}/{m} must exist to be mounted over"
        self.root = tempfile.mkdtemp(prefix=f"jitexec-host-{self.name}-")
        for rel, mode in LAYOUT:
            real = f"{prefix}/{rel}"
            if os.path.isdir(real):
                mode = stat.S_IMODE(os.stat(real).st_mode)
            path = f"{self.root}/{rel}"
            os.mkdir(path)
            os.chown(path, 0, 0)
            os.chmod(path, mode)
        args = [a for m in MOUNTS for a in (f"{self.root}/{m}", f"{prefix}/{m}")]
        self.holder = subprocess.Popen(
            ["unshare", "--uts", "--mount", "--propagation", "private", "--", "sh", "-c", HOLDER, "holder",
             self.name, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=BASE_ENV, cwd="/",
            start_new_session=True)
        ready, _, _ = select.select([self.holder.stdout], [], [], timeout)
        line = self.holder.stdout.readline() if ready else b""
        if line != b"ready\n":
            self.stop()
            raise AssertionError(f"host {self.name} did not start: {line!r}")
        self.holder.stdout.close()
        return self

    def argv(self, argv, user=None, env=None):
        """An argv that runs `argv` in this host as `user` (real and effective uid, gid and the
        account's groups; root when None) with exactly PATH=/usr/bin:/bin, LANG=C.UTF-8 and `env`,
        whatever environment it is itself started with. For subprocess, pexpect.spawn or
        loop_support.Background(host.argv(...), None)."""
        cmd = ["/usr/bin/nsenter", f"--target={self.pid}", "--uts", "--mount", "--"]
        if user is not None:
            pw = pwd.getpwnam(user)
            cmd += ["/usr/bin/setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", "--"]
        # `env -i -- NAME=VALUE... COMMAND`: after `--` env takes words with `=` as assignments.
        return cmd + ["/usr/bin/env", "-i", "--", *(f"{k}={v}" for k, v in environment(env).items()), *argv]

    def run(self, argv, user=None, env=None, input=None, timeout=60):
        """Runs `argv` in this host in a new session (no controlling terminal); a CompletedProcess."""
        return subprocess.run(self.argv(argv, user, env), capture_output=True, text=True, env=BASE_ENV,
                              input=input, timeout=timeout, cwd="/", start_new_session=True)

    def spawn(self, argv, user, env=None, timeout=30):
        """`argv` in this host on a new pseudo-terminal with pexpect (TERM=dumb unless `env` sets it)."""
        cmd = self.argv(argv, user, dict({"TERM": "dumb"}, **(env or {})))
        return pexpect.spawn(cmd[0], cmd[1:], env=BASE_ENV, encoding="utf-8", codec_errors="replace",
                             timeout=timeout, cwd="/", dimensions=(40, 250))

    def stop(self):
        """Kills the holder (the namespaces go with the last process in them) and removes the
        host's directories."""
        if self.holder is not None and self.holder.poll() is None:
            self.holder.kill()
        if self.holder is not None:
            self.holder.wait(timeout=10)
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


@pytest.fixture
def fleet():
    """A factory of started hosts, fleet(name, install=Install()); all are stopped after the test."""
    if os.geteuid() != 0:
        message = "simulated fleet hosts need root (namespaces, bind mounts, other users)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run them as root")
        print(f"\nSKIPPING FLEET TESTS: {message}", file=sys.stderr)
        pytest.skip(message)
    hosts = []

    def make(name, install=None):
        host = Host(name, install or Install())
        hosts.append(host)
        return host.start()

    yield make
    for host in hosts:
        host.stop()
