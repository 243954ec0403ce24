"""Integration harness: installs jitexec setuid root into a root-owned temporary prefix and runs it
as real, unprivileged users. Needs root (CI runs as root); outside CI a non-root run skips loudly."""
import grp
import os
import pwd
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A fixed prefix (not a random one) so repeated runs reuse the release build; wiped every session.
# JITEXEC_IT_PREFIX / JITEXEC_IT_PAM_SERVICE let two checkouts run their suites side by side.
# JITEXEC_IT_PACKAGE=1 runs the suite (the subset Tests/integration/test_package.py picks) against the
# binaries the Debian package installed in /usr, /etc and /var: no make install, PAM service jitexec.
PACKAGE = os.environ.get("JITEXEC_IT_PACKAGE") == "1"
PREFIX = "" if PACKAGE else os.environ.get("JITEXEC_IT_PREFIX", "/tmp/jitexec-it")
PAM_SERVICE = "jitexec" if PACKAGE else os.environ.get("JITEXEC_IT_PAM_SERVICE", "jitexec-it")
USERS = {"jit-dev1": ["jit-developers"], "jit-lead1": ["jit-sre-leads"], "jit-lead2": ["jit-sre-leads"], "jit-out": []}
GROUPS = ["jit-developers", "jit-sre-leads", "jit-admins"]
# System accounts with no password and no login: jit-auto is the run_as of the test automations.
SYSTEM_USERS = ["jit-auto"]


class Install:
    prefix = PREFIX
    bin = f"{PREFIX}/usr/bin"
    jitexec = f"{PREFIX}/usr/bin/jitexec"
    jitctl = f"{PREFIX}/usr/bin/jitctl"
    confdir = f"{PREFIX}/etc/jitexec"
    policy = f"{PREFIX}/etc/jitexec/policy.toml"
    statedir = f"{PREFIX}/var/lib/jitexec"
    db = f"{PREFIX}/var/lib/jitexec/jitexec.db"
    # Linux-PAM lowercases the service name before it looks for the file.
    pam = f"/etc/pam.d/{PAM_SERVICE.lower()}"
    # Where the shell completions went: a package puts zsh's in Debian's vendor directory.
    bash_completions = f"{PREFIX}/usr/share/bash-completion/completions"
    zsh_completions = f"{PREFIX}/usr/share/zsh/{'vendor-completions' if PACKAGE else 'site-functions'}"
    fish_completions = f"{PREFIX}/usr/share/fish/vendor_completions.d"
    man = f"{PREFIX}/usr/share/man"

    def run(self, argv, user=None, env=None, input=None, timeout=60):
        """Runs argv, as `user` (real uid and groups of that account) when given."""
        kwargs = {}
        if user is not None:
            pw = pwd.getpwnam(user)
            kwargs = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=os.getgrouplist(user, pw.pw_gid))
        base_env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        if env:
            base_env.update(env)
        return subprocess.run(argv, capture_output=True, text=True, env=base_env, input=input,
                              timeout=timeout, cwd="/", **kwargs)

    def write_policy(self, text, path=None, mode=0o644):
        path = path or self.policy
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, 0, 0)
        os.chmod(path, mode)
        return path


def make_install(extra=()):
    args = ["make", "-C", ROOT, "install", f"PREFIX={PREFIX}/usr", f"SYSCONFDIR={PREFIX}/etc",
            f"LOCALSTATEDIR={PREFIX}/var", f"RUNDIR={PREFIX}/run", f"PAM_SERVICE={PAM_SERVICE}",
            f"SCRATCH={os.environ.get('SCRATCH', '.build')}", *extra]
    return subprocess.run(args, capture_output=True, text=True)


def ensure_accounts():
    for g in GROUPS:
        try:
            grp.getgrnam(g)
        except KeyError:
            subprocess.run(["groupadd", g], check=True)
    for user, groups in USERS.items():
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "-m", "-s", "/bin/bash", user], check=True)
        if groups:
            subprocess.run(["usermod", "-a", "-G", ",".join(groups), user], check=True)
        subprocess.run(["chpasswd"], input=f"{user}:pw-{user}-secret\n", text=True, check=True)
    for user in SYSTEM_USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", user], check=True)


@pytest.fixture(scope="session")
def installed():
    if os.geteuid() != 0:
        message = "integration tests need root (they install a setuid binary and create users)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run them as root")
        print(f"\nSKIPPING INTEGRATION TESTS: {message}; run 'sudo make integration-test'", file=sys.stderr)
        pytest.skip(message)
    ensure_accounts()
    if PACKAGE:
        # The package's own install: nothing is built or installed here.
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "jitexec"], capture_output=True, text=True)
        assert status.stdout == "install ok installed", f"JITEXEC_IT_PACKAGE=1 needs the jitexec package installed: {status.stdout}"
        return Install()
    shutil.rmtree(PREFIX, ignore_errors=True)
    if os.path.exists(Install.pam):
        os.unlink(Install.pam)
    os.mkdir(PREFIX, 0o755)
    done = make_install()
    assert done.returncode == 0, f"make install failed:\n{done.stdout}\n{done.stderr}"
    return Install()


@pytest.fixture
def inst(installed):
    """The install with the sample policy restored and an empty store before each test."""
    shutil.copy(os.path.join(ROOT, "packaging", "policy.toml"), installed.policy)
    os.chown(installed.policy, 0, 0)
    os.chmod(installed.policy, 0o644)
    for d in [installed.confdir, f"{installed.confdir}/policy.d"]:
        os.chown(d, 0, 0)
        os.chmod(d, 0o755)
    for f in os.listdir(f"{installed.confdir}/policy.d"):
        os.unlink(f"{installed.confdir}/policy.d/{f}")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(installed.db + suffix):
            os.unlink(installed.db + suffix)
    os.chmod(installed.jitexec, 0o4755)
    os.chmod(installed.jitctl, 0o4755)
    yield installed


@pytest.fixture
def background():
    """Starts Background processes (loop_support) and kills whatever is left of them after the test."""
    from loop_support import Background
    started = []

    def start(*args, **kwargs):
        b = Background(*args, **kwargs)
        started.append(b)
        return b

    yield start
    for b in started:
        b.kill()
