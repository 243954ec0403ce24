"""The Debian package (`make deb`): what lintian says, what the package holds, and its life on a
machine: install, the integration suite against the package's own binaries, an upgrade that keeps
the store and the audit chain, remove, purge.

The machine is this one, seen through an overlay: the real dpkg, PAM, accounts, man and shells of
this host are the lower layer and every write lands in a throwaway tmpfs, in a mount namespace of
its own. So CI installs the package on its machine, and a developer's `make test` never touches the
host's own /usr, /etc or /var."""
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tarfile
import tempfile

import pytest

from conftest import PACKAGE, ROOT

# The integration files that also run against the package's binaries (JITEXEC_IT_PACKAGE=1). The
# others are left out, each for a reason: test_install checks `make install`'s own layout;
# test_failclosed, test_fleet and test_fleet_harness make installs of their own and a PostgreSQL
# cluster; test_audit needs the stress tool of the debug build; test_login and the hardening files
# rewrite sshd's and other services' PAM stacks and take minutes; test_load and test_watch are
# timing-heavy and add nothing package-specific; test_automation_programs runs the programs from
# the checkout (test_automation runs the package's own /usr/libexec/jitexec ones).
PACKAGE_SUBSET = [
    "test_loop.py", "test_people.py", "test_people_requests.py", "test_check_explain.py", "test_trust.py",
    "test_attacks.py", "test_workflow_attacks.py", "test_breakglass.py", "test_sessions.py", "test_sudoedit.py",
    "test_notify.py", "test_formats.py", "test_completion.py", "test_manpages.py", "test_automation.py",
]
DEBS = "/tmp/jitexec-debs"
NEXT = "+next1"  # the upgrade: the same source built as a later version
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()

pytestmark = pytest.mark.skipif(PACKAGE, reason="the package test runs the suite inside; not inside itself")


def version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        return re.search(r"^VERSION\s*\?=\s*(\S+)", f.read(), re.M).group(1)


def deb(v):
    return f"{DEBS}/jitexec_{v}_{ARCH}.deb"


@pytest.fixture(scope="module")
def debs(installed):
    """Version N and N+1 built by `make deb` from this checkout (one build folder: N+1 relinks)."""
    n = version()
    os.makedirs(DEBS, exist_ok=True)
    for v in (n, n + NEXT):
        if os.path.exists(deb(v)):
            os.unlink(deb(v))
        done = subprocess.run(["make", "-C", ROOT, "deb", f"VERSION={v}", f"DEB_OUT={DEBS}"],
                              capture_output=True, text=True)
        assert done.returncode == 0, f"make deb VERSION={v} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert os.path.exists(deb(v)), done.stdout[-2000:]
    return n, n + NEXT


class Machine:
    """This host through an overlay, in its own mount namespace; `sh` runs a script chrooted in it.
    /tmp stays in the overlay (not a tmpfs of its own): the hard-link attack needs it on the same
    filesystem as /usr/bin."""

    def __init__(self):
        self.top = "/tmp/jitexec-pkgmachine"
        self.merged = f"{self.top}/merged"
        os.makedirs(self.top, exist_ok=True)
        setup = f"""set -e
        mount -t tmpfs -o mode=0755 jitexec-pkg {self.top}
        mkdir {self.top}/upper {self.top}/work {self.merged}
        mount -t overlay overlay -o lowerdir=/,upperdir={self.top}/upper,workdir={self.top}/work {self.merged}
        mount -t proc proc {self.merged}/proc
        mount --rbind /dev {self.merged}/dev
        mount --rbind /sys {self.merged}/sys
        mount -t tmpfs -o mode=0755 tmpfs {self.merged}/run
        mkdir -p {self.merged}{ROOT}
        mount --bind {ROOT} {self.merged}{ROOT}
        echo ready
        exec sleep infinity
        """
        self.keeper = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", setup],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.keeper.stdout.readline()
        if line.strip() != "ready":
            self.keeper.kill()
            raise AssertionError(f"the overlay machine did not start: {line} {self.keeper.stderr.read()}")

    def sh(self, script, check=True, env=None, timeout=600, input=None):
        base = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive"}
        base.update(env or {})
        argv = ["nsenter", "-t", str(self.keeper.pid), "-m", "--", "chroot", self.merged,
                "/usr/bin/env", "-i", *[f"{k}={v}" for k, v in base.items()], "/bin/bash", "-c", script]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
        if check:
            assert r.returncode == 0, f"{script}\nexit {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
        return r

    def stat(self, path):
        """(mode as octal text, owner, group) of a path in the machine, or None when it is absent."""
        r = self.sh(f"stat -c '%a %U %G' {shlex.quote(path)} 2>/dev/null || true")
        return tuple(r.stdout.split()) or None

    def exists(self, path):
        return self.sh(f"test -e {shlex.quote(path)}", check=False).returncode == 0

    def close(self):
        self.keeper.send_signal(signal.SIGKILL)
        self.keeper.wait()


@pytest.fixture(scope="module")
def machine(debs):
    m = Machine()
    # A fresh machine as far as jitexec goes: the suite's `make install` (CI's quick start) leaves
    # /usr/local/bin/jitexec, /etc/jitexec and the rest behind; they are gone in the overlay only.
    m.sh("rm -rf /usr/local/bin/jitexec /usr/local/bin/jitctl /usr/local/share/jitexec /usr/local/libexec/jitexec "
         "/usr/local/share/man/man*/jit* "
         "/usr/local/share/bash-completion/completions/jit* /usr/local/share/zsh/site-functions/_jit* "
         "/usr/local/share/fish/vendor_completions.d/jit* /etc/jitexec /etc/pam.d/jitexec /etc/pam.d/jitexec-login "
         "/var/lib/jitexec /var/log/jitexec; dpkg --purge jitexec >/dev/null 2>&1 || true")
    yield m
    m.close()


def test_lintian_is_clean_with_written_overrides(debs):
    for v in debs:
        r = subprocess.run(["lintian", "--fail-on", "error,warning", deb(v)], capture_output=True, text=True)
        tags = [line for line in r.stdout.splitlines() if re.match(r"^[EW]: ", line)]
        assert r.returncode == 0 and not tags, f"lintian on {deb(v)}:\n{r.stdout}\n{r.stderr}"
        # Only the setuid binaries and the field naming the SQLite linked in (which this lintian
        # does not know yet) are overridden, each with the reason written in the override file.
        r = subprocess.run(["lintian", "--show-overrides", deb(v)], capture_output=True, text=True)
        overridden = sorted(line for line in r.stdout.splitlines() if line.startswith("O: "))
        assert overridden == [f"O: jitexec: elevated-privileges 4755 root/root [usr/bin/{b}]" for b in ("jitctl", "jitexec")] + [
            "O: jitexec: unknown-field Static-Built-Using"], r.stdout


def test_package_holds_setuid_binaries_conffiles_and_exact_depends(debs):
    path = deb(debs[0])
    listing = subprocess.run(["dpkg-deb", "-c", path], capture_output=True, text=True, check=True).stdout
    for b in ("jitexec", "jitctl"):
        assert re.search(rf"^-rwsr-xr-x root/root .* \./usr/bin/{b}$", listing, re.M), listing
    for f in ("usr/share/man/man8/jitexec.8.gz", "usr/share/man/man8/jitctl.8.gz", "usr/share/man/man5/jitexec.toml.5.gz",
              "usr/share/man/man5/jitexec-formats.5.gz", "usr/share/bash-completion/completions/jitctl",
              "usr/share/zsh/vendor-completions/_jitctl", "usr/share/fish/vendor_completions.d/jitctl.fish",
              "usr/lib/tmpfiles.d/jitexec.conf", "usr/share/jitexec/notify-webhook", "usr/share/doc/jitexec/copyright",
              "usr/libexec/jitexec/maintenance-window", "usr/libexec/jitexec/ticket-check"):
        assert f"./{f}\n" in listing + "\n", f"{f} missing:\n{listing}"
    # Nothing under /var or /run: the state directories are made by postinst, /run by tmpfiles.d.
    assert not re.search(r" \./(var|run)/", listing), listing
    control = subprocess.run(["dpkg-deb", "--ctrl-tarfile", path], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(control)) as t:
        names = t.extractfile("./conffiles").read().decode().split()
    assert sorted(names) == ["/etc/jitexec/policy.toml", "/etc/pam.d/jitexec", "/etc/pam.d/jitexec-login"], names
    # Depends: the packages of exactly the libraries the binaries link (readelf NEEDED), plus the
    # PAM modules the shipped PAM files use; libpq (dlopen()ed for PostgreSQL) only recommended.
    # SQLite and Nettle are linked in: Static-Built-Using names the Debian sources they came from, at
    # the versions built against, and both binaries carry that SQLite (its source id, as Debian's
    # sqlite3 prints it).
    fields = subprocess.run(["dpkg-deb", "-f", path, "Depends", "Recommends", "Static-Built-Using"],
                            capture_output=True, text=True, check=True).stdout
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1)
    names = {d.strip().split(" ")[0] for d in depends.split(",")}
    built = re.search(r"^Static-Built-Using: (.*)$", fields, re.M).group(1)
    sources = [subprocess.run(["dpkg-query", "-W", "-f", "${source:Package} (= ${source:Version})", dev],
                              capture_output=True, text=True, check=True).stdout
               for dev in ("nettle-dev", "libsqlite3-dev")]
    assert built == ", ".join(sources) and built.startswith("nettle (= ") and "sqlite3 (= " in built, (built, sources)
    source_id = " ".join(subprocess.run(["sqlite3", "--version"], capture_output=True, text=True,
                                        check=True).stdout.split()[1:4]).encode()
    needed = set()
    with tempfile.TemporaryDirectory() as unpacked:
        subprocess.run(["dpkg-deb", "-x", path, unpacked], check=True)
        for b in ("jitexec", "jitctl"):
            dyn = subprocess.run(["readelf", "-d", f"{unpacked}/usr/bin/{b}"], capture_output=True, text=True).stdout
            needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.*?)\]", dyn))
            with open(f"{unpacked}/usr/bin/{b}", "rb") as f:
                assert source_id in f.read(), (b, source_id)
    assert needed, "readelf found no NEEDED entries"
    owners = set()
    for lib in needed:
        found = subprocess.run(["dpkg", "-S", f"*/{lib}"], capture_output=True, text=True).stdout
        owners |= {line.split(":")[0] for line in found.splitlines() if ":" in line}
    assert names == owners | {"libpam-modules", "libpam-runtime"}, (names, needed, owners)
    # The binaries' packed relative relocations need glibc 2.36 (GLIBC_ABI_DT_RELR), a version
    # dpkg-shlibdeps does not derive (no symbol carries it): packaging/deb/build raises libc6 to it.
    assert re.search(r"(^|, )libc6 \(>= 2\.36\)(,|$)", depends), depends
    assert "libpq5" in re.search(r"^Recommends: (.*)$", fields, re.M).group(1), fields


def test_package_binaries_are_hardened_and_carry_their_cxx_runtime(debs):
    # Full RELRO (the GOT is read-only before main) and PIE; no run path (libraries come from the
    # system's directories only, never from beside the binary); no exported symbols, so no library
    # symbol a PAM module looks up can resolve to jitexec's own; the Swift runtime's C++ and
    # unwinder support linked in, not loaded from libstdc++.so and libgcc_s.so at every start
    # (the Makefile's RELEASE_FLAGS); relative relocations packed; no libdispatch in jitexec; and no
    # runtime search for argv or Nettle CPU probe at start.
    with tempfile.TemporaryDirectory() as unpacked:
        subprocess.run(["dpkg-deb", "-x", deb(debs[0]), unpacked], check=True)
        for b in ("jitexec", "jitctl"):
            binary = f"{unpacked}/usr/bin/{b}"
            dyn = subprocess.run(["readelf", "-dW", binary], capture_output=True, text=True, check=True).stdout
            assert re.search(r"\(FLAGS\)\s+BIND_NOW", dyn) and re.search(r"\(FLAGS_1\)\s+Flags: NOW PIE", dyn), dyn
            assert not re.search(r"\((RUNPATH|RPATH)\)", dyn), dyn
            segments = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout
            assert "GNU_RELRO" in segments, segments
            # Linked by the toolchain's lld with packed relative relocations (the Makefile's
            # LINKER_FLAGS), which a loader older than glibc 2.36 refuses rather than misreads.
            assert re.search(r"\(RELR\)", dyn) and not re.search(r"\(RELACOUNT\)", dyn), dyn
            versions = subprocess.run(["readelf", "-VW", binary], capture_output=True, text=True, check=True).stdout
            assert "GLIBC_ABI_DT_RELR" in versions, versions
            needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*?)\]", dyn)
            assert "libc.so.6" in needed and not [n for n in needed if n.startswith(("libstdc++", "libgcc_s"))], needed
            # SQLite and Nettle are linked in (the Makefile's STATIC_LIBS); PAM stays shared.
            assert "libpam.so.0" in needed, needed
            assert not [n for n in needed if n.startswith(("libsqlite3", "libnettle"))], needed
            exported = subprocess.run(["nm", "-D", "--defined-only", binary], capture_output=True, text=True).stdout
            assert exported.strip() == "", exported[:2000]
        # What would run at every start, found by strings of its own that stay when symbols are
        # stripped. jitexec carries no concurrency runtime and no libdispatch (its main queue's
        # name; see the comment in Sources/jitexec/main.swift). Neither binary carries the Swift
        # runtime's search for argv, which reads /proc/self/maps (their start-up code hands
        # CommandLine the arguments, CJitexecStartup/arguments.c), nor Nettle's CPU dispatch, whose
        # constructor runs cpuid (the variable it reads; SHA-256 is linked with its x86-64 version,
        # CJitexecNettle/nettle.c).
        for b in ("jitexec", "jitctl"):
            with open(f"{unpacked}/usr/bin/{b}", "rb") as f:
                data = f.read()
            assert b == "jitctl" or b"com.apple.main-thread" not in data
            assert b"/proc/self/maps" not in data, b
            assert b"NETTLE_FAT_OVERRIDE" not in data, b


def sqlite(m, sql):
    return m.sh(f"sqlite3 -readonly /var/lib/jitexec/jitexec.db {shlex.quote(sql)}").stdout.strip()


def as_user(user, command, password=None):
    """A bash line that runs `command` as `user`, the password (when given) on -S's standard input."""
    line = f"runuser -u {user} -- {command}"
    return f"printf '%s\\n' {shlex.quote(password)} | {line}" if password else f"{line} </dev/null"


SCENARIO_POLICY = """
[settings]
admins = ["%jit-admins"]
credential_cache = "0"
default_grant = "2h"
max_grant = "2h"

[[rule]]
name = "ids"
users = ["jit-dev1"]
commands = ["/usr/bin/id -u"]
action = "approve"
approvers = ["jit-lead1"]
"""


def test_install_use_upgrade_remove_purge(machine, debs):
    m = machine
    n, nxt = debs
    # Install N on a machine where systemd runs (postinst asks systemd-tmpfiles for /run/jitexec).
    m.sh("mkdir -p /run/systemd/system")
    m.sh(f"dpkg -i {deb(n)}")
    assert m.stat("/usr/bin/jitexec") == ("4755", "root", "root")
    assert m.stat("/usr/bin/jitctl") == ("4755", "root", "root")
    for d in ("/var/lib/jitexec", "/var/log/jitexec", "/var/log/jitexec/sessions", "/run/jitexec"):
        assert m.stat(d) == ("700", "root", "root"), d
    assert m.stat("/etc/jitexec/policy.toml") == ("644", "root", "root")
    assert m.stat("/etc/pam.d/jitexec") == ("644", "root", "root")
    assert f"jitexec {n}" in m.sh("/usr/bin/jitexec -V").stdout
    assert m.sh("jitctl check").returncode == 0
    # man and Tab after the package: man finds the installed pages.
    assert m.sh("man -w jitexec").stdout.strip() == "/usr/share/man/man8/jitexec.8.gz"
    page = m.sh("MANPAGER=cat MANWIDTH=100 man jitctl 2>/dev/null").stdout
    assert "jitctl" in page and "NAME" in page and "/usr/bin/jitctl" in page, page[:500]
    assert m.sh("man -w jitexec.toml && man -w jitexec-formats").returncode == 0

    # Without systemd, /run/jitexec is made on first use, root-only.
    m.sh("rm -rf /run/jitexec /run/systemd")
    m.sh(as_user("jit-dev1", "jitexec -S -v", "pw-jit-dev1-secret"))
    assert m.stat("/run/jitexec") == ("700", "root", "root")

    # The integration suite against the package's binaries.
    tests = " ".join(f"Tests/integration/{t}" for t in PACKAGE_SUBSET)
    r = m.sh(f"cd {ROOT} && {shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider -x {tests}",
             env={"JITEXEC_IT_PACKAGE": "1", "CI": os.environ.get("CI", "")}, check=False, timeout=1800)
    assert r.returncode == 0, f"the suite against the package failed:\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}"
    assert re.search(r"\d+ passed", r.stdout) and " skipped" not in r.stdout.splitlines()[-1], r.stdout[-2000:]

    # Use N: an admin's policy, a request, an approval, a run under the grant. First what the suite
    # left behind goes (its drop-ins and on-call files would, rightly, keep /etc/jitexec on purge).
    m.sh("rm -f /var/lib/jitexec/jitexec.db*; find /etc/jitexec -mindepth 1 -maxdepth 1 ! -name policy.toml "
         "! -name policy.d -exec rm -rf {} +; rm -rf /etc/jitexec/policy.d/*")
    m.sh(f"cat > /etc/jitexec/policy.toml <<'EOF'\n{SCENARIO_POLICY}\nEOF\nchmod 0644 /etc/jitexec/policy.toml")
    m.sh("jitctl check")
    filed = m.sh(as_user("jit-dev1", "jitexec -S --no-wait -r CHG-1 /usr/bin/id -u", "pw-jit-dev1-secret"), check=False)
    assert filed.returncode == 75, filed.stderr
    request = re.search(r"request #(\d+)", filed.stderr).group(1)
    m.sh(as_user("jit-lead1", f"jitctl approve {request} -S -m ok", "pw-jit-lead1-secret"))
    ran = m.sh(as_user("jit-dev1", "jitexec -S /usr/bin/id -u", "pw-jit-dev1-secret"))
    assert ran.stdout.strip() == "0", ran.stdout
    schema = sqlite(m, "PRAGMA user_version")
    records = int(sqlite(m, "SELECT count(*) FROM audit"))
    head = sqlite(m, "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1")
    assert records > 3 and schema != "0"
    inode = m.sh("stat -c %i /var/lib/jitexec/jitexec.db").stdout

    # Upgrade to N+1: the admin's policy edit and the store stay, the chain goes on.
    m.sh(f"dpkg -i {deb(nxt)}")
    assert f"jitexec {nxt}" in m.sh("/usr/bin/jitexec -V").stdout
    assert m.stat("/usr/bin/jitexec") == ("4755", "root", "root")
    assert 'name = "ids"' in m.sh("cat /etc/jitexec/policy.toml").stdout, "the admin's policy was replaced"
    assert m.sh("stat -c %i /var/lib/jitexec/jitexec.db").stdout == inode
    verify = m.sh("jitctl verify")
    assert re.match(r"audit chain intact: \d+ records", verify.stdout), verify.stdout
    # The grant made under N still covers the command under N+1; the chain grows from the old head.
    again = m.sh(as_user("jit-dev1", "jitexec -S /usr/bin/id -u", "pw-jit-dev1-secret"))
    assert again.stdout.strip() == "0", again.stderr
    assert sqlite(m, f"SELECT hash FROM audit WHERE seq = {records}") == head
    assert int(sqlite(m, "SELECT count(*) FROM audit")) > records
    # Migrations ran once: the schema version is what N left, and nothing re-created the store.
    assert sqlite(m, "PRAGMA user_version") == schema
    m.sh("jitctl verify")
    events = [json.loads(line)["event"] for line in m.sh("jitctl log --json").stdout.splitlines()]
    assert events.count("request.filed") == 1 and events.count("exec.start") == 2, events

    # Remove: the programs go; configuration, the store and the recordings stay.
    m.sh("dpkg -r jitexec")
    for gone in ("/usr/bin/jitexec", "/usr/bin/jitctl", "/usr/share/man/man8/jitexec.8.gz", "/usr/share/jitexec",
                 "/usr/libexec/jitexec"):
        assert not m.exists(gone), gone
    for kept in ("/etc/jitexec/policy.toml", "/etc/pam.d/jitexec", "/var/lib/jitexec/jitexec.db", "/var/log/jitexec/sessions"):
        assert m.exists(kept), kept
    assert "rc  jitexec" in m.sh("dpkg -l jitexec").stdout

    # Purge: configuration and caches go; the audit history stays, and purge says where.
    purged = m.sh("dpkg -P jitexec")
    for gone in ("/etc/jitexec", "/etc/pam.d/jitexec", "/etc/pam.d/jitexec-login", "/run/jitexec",
                 "/var/lib/jitexec/policy.compiled.json"):
        assert not m.exists(gone), (gone, m.sh(f"find {gone}", check=False).stdout)
    assert m.exists("/var/lib/jitexec/jitexec.db")
    assert int(sqlite(m, "SELECT count(*) FROM audit")) > records
    assert "kept the audit history in /var/lib/jitexec" in purged.stderr, purged.stderr
    assert m.sh("dpkg-query -W jitexec", check=False).returncode != 0

    # Reinstalling over the kept history: the chain still verifies and goes on.
    m.sh(f"dpkg -i {deb(nxt)}")
    m.sh("jitctl verify")
    m.sh("dpkg -P jitexec")


def test_purge_of_an_unused_install_leaves_nothing(machine, debs):
    m = machine
    m.sh("dpkg --purge jitexec >/dev/null 2>&1 || true; rm -rf /var/lib/jitexec /var/log/jitexec")
    m.sh(f"dpkg -i {deb(debs[0])}")
    purged = m.sh("dpkg -P jitexec")
    for gone in ("/etc/jitexec", "/var/lib/jitexec", "/var/log/jitexec", "/usr/bin/jitexec", "/etc/pam.d/jitexec"):
        assert not m.exists(gone), gone
    assert "kept" not in purged.stderr, purged.stderr
