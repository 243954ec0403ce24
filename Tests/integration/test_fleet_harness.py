"""The fleet harness itself (fleet_support.py, pg_support.py), without jitexec: simulated hosts have
their own hostname and state but share the configuration, commands run as exactly the requested
user with exactly the requested environment, on a pty too, and the throwaway PostgreSQL clusters
accept SCRAM over 127.0.0.1 (and verify-full TLS) from inside a host and survive a restart."""
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile

import pexpect
import pytest

from conftest import Install, ensure_accounts
from fleet_support import LAYOUT, fleet  # noqa: F401 (fleet is a fixture)
from pg_support import CLUSTER_USER, DATABASE, FLEET_ROLE, PSQL, make_ca, pg, pg_tls, write_url_file  # noqa: F401

USER = "jit-dev1"


class ScratchInstall(Install):
    def __init__(self, prefix):
        self.prefix = prefix


@pytest.fixture
def scratch(fleet):
    """A prefix with the installed layout (an empty usr/bin) in a fresh directory; the harness's accounts."""
    ensure_accounts()
    prefix = tempfile.mkdtemp(prefix="fleet-check-")
    os.chmod(prefix, 0o755)
    for rel, mode in [("etc", 0o755), ("etc/jitexec", 0o755), ("usr", 0o755), ("usr/bin", 0o755), *LAYOUT]:
        os.mkdir(f"{prefix}/{rel}")
        os.chmod(f"{prefix}/{rel}", mode)
    yield ScratchInstall(prefix)
    shutil.rmtree(prefix)


def ok(result):
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def test_hosts_have_their_own_hostname_and_state_but_share_the_configuration(fleet, scratch):
    a, b = fleet("fleet-a", scratch), fleet("fleet-b", scratch)
    assert ok(a.run(["hostname"])) == "fleet-a\n"
    assert ok(b.run(["hostname"], user=USER)) == "fleet-b\n"
    assert socket.gethostname() not in ("fleet-a", "fleet-b")
    assert os.readlink(f"/proc/{a.pid}/ns/uts") != os.readlink("/proc/self/ns/uts")
    assert os.readlink(f"/proc/{a.pid}/ns/mnt") != os.readlink(f"/proc/{b.pid}/ns/mnt")

    p = scratch.prefix
    for rel, mode in LAYOUT:
        assert ok(a.run(["stat", "-c", "%a %U %G", f"{p}/{rel}"])) == f"{mode:o} root root\n", rel
    for path in (f"{p}/var/lib/jitexec/state", f"{p}/run/jitexec/cache", f"{p}/var/log/jitexec/sessions/1.cast"):
        ok(a.run(["sh", "-c", 'echo from-a > "$0"', path]))
        assert ok(a.run(["cat", path])) == "from-a\n"
        assert b.run(["cat", path]).returncode != 0
        assert not os.path.exists(path)

    with open(f"{p}/etc/jitexec/policy.toml", "w") as f:
        f.write("shared\n")
    assert ok(a.run(["cat", f"{p}/etc/jitexec/policy.toml"])) == ok(b.run(["cat", f"{p}/etc/jitexec/policy.toml"]))

    a.stop()
    assert not os.path.exists(f"/proc/{a.holder.pid}")
    assert ok(b.run(["hostname"])) == "fleet-b\n"


def test_commands_run_as_the_user_with_exactly_the_given_environment(fleet, scratch):
    a = fleet("fleet-a", scratch)
    pw = pwd.getpwnam(USER)
    ids = ok(a.run(["sh", "-c", "id -u; id -ru; id -g; id -rg; id -G"], user=USER)).split("\n")
    assert ids[:4] == [str(pw.pw_uid), str(pw.pw_uid), str(pw.pw_gid), str(pw.pw_gid)]
    assert sorted(map(int, ids[4].split())) == sorted(set(os.getgrouplist(USER, pw.pw_gid)))
    assert len(ids[4].split()) > 1, "the test account should have a supplementary group"
    assert ok(a.run(["id", "-u"])) == "0\n"

    # A setuid-root program of the prefix (like the installed jitexec) gets euid 0 in a host.
    suid_id = f"{scratch.prefix}/usr/bin/id"
    shutil.copy("/usr/bin/id", suid_id)
    os.chmod(suid_id, 0o4755)
    assert ok(a.run(["sh", "-c", f"{suid_id} -u; {suid_id} -ru"], user=USER)).split() == ["0", str(pw.pw_uid)]

    # The outer environment does not leak in; values keep their spaces and `=`.
    r = subprocess.run(a.argv(["env"], USER, {"FOO": "bar baz", "X": "a=b"}), capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "LEAK": "1", "HOME": "/root"})
    assert sorted(ok(r).splitlines()) == ["FOO=bar baz", "LANG=C.UTF-8", "PATH=/usr/bin:/bin", "X=a=b"]


def test_a_pty_child_in_a_host_can_be_driven(fleet, scratch):
    a = fleet("fleet-a", scratch)
    child = a.spawn(["sh", "-c", 'printf "Password: "; read x; echo "got $x on $(tty) as $(id -un)@$(hostname) '
                     'TERM=$TERM"'], USER)
    child.expect("Password: ")
    child.sendline("s3cret")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "got s3cret on /dev/pts/" in child.before and f"as {USER}@fleet-a TERM=dumb" in child.before


def psql(host, url, sql):
    """psql with `url` as the unprivileged USER inside `host`."""
    return host.run([PSQL, "-X", "-A", "-t", "-d", url, "-c", sql], user=USER, timeout=30)


def test_the_cluster_takes_scram_over_loopback_from_inside_a_host(fleet, scratch, pg):
    pg.reset_database()
    a = fleet("fleet-a", scratch)
    assert ok(psql(a, pg.url(), "SELECT current_user, current_database(), inet_server_addr()")) == \
        f"{FLEET_ROLE}|{DATABASE}|127.0.0.1\n"
    refused = psql(a, pg.url(password="wrong"), "SELECT 1")
    assert refused.returncode != 0 and "password authentication failed" in refused.stderr
    assert pg.psql(f"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{FLEET_ROLE}'"
                   ).stdout == "t\n"
    hba = pg.psql("SELECT type, database, user_name, address, auth_method FROM pg_hba_file_rules").stdout
    assert hba == "host|{all}|{all}|127.0.0.1|scram-sha-256\n"

    url_file = f"{scratch.prefix}/etc/jitexec/fleet.url"
    write_url_file(url_file, pg.url())
    st = os.stat(url_file)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o600)
    assert open(url_file).read() == pg.url() + "\n"
    assert a.run(["cat", url_file], user=USER).returncode != 0


def test_the_tls_cluster_verifies_its_ca_and_refuses_others(fleet, scratch, pg_tls):
    a = fleet("fleet-a", scratch)
    assert ok(psql(a, pg_tls.url(tls=True), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) == "t\n"
    plain = psql(a, pg_tls.url(), "SELECT 1")
    assert plain.returncode != 0 and "no encryption" in plain.stderr

    other = tempfile.mkdtemp(prefix="fleet-check-ca-")
    try:
        os.chmod(other, 0o755)
        _, wrong_ca = make_ca(other, "wrong-ca")
        os.chmod(wrong_ca, 0o644)
        url = pg_tls.url(tls=True).replace(pg_tls.ca_cert, wrong_ca)
        refused = psql(a, url, "SELECT 1")
        assert refused.returncode != 0 and "certificate verify failed" in refused.stderr
    finally:
        shutil.rmtree(other)
    st = os.stat(pg_tls.ca_cert)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o644)
    key = os.stat(f"{pg_tls.home}/server.key")
    assert (pwd.getpwuid(key.st_uid).pw_name, stat.S_IMODE(key.st_mode)) == (CLUSTER_USER, 0o600)


def test_the_server_restarts_on_the_same_port_with_its_data_and_resets_empty(pg):
    pg.reset_database()
    pg.create_role("host_a", "pw-host-a", f"GRANT CONNECT ON DATABASE {DATABASE} TO host_a;")
    pg.psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('kept');", user=FLEET_ROLE)
    port = pg.port
    pg.stop_server()
    assert pg.psql("SELECT 1", check=False).returncode != 0
    pg.start_server()
    assert pg.port == port
    assert pg.psql("SELECT v FROM t", user=FLEET_ROLE).stdout == "kept\n"
    assert pg.psql("SELECT current_user", user="host_a").stdout == "host_a\n"

    pg.reset_database()
    assert pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 't'").stdout == "0\n"
    assert pg.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'host_a'").stdout == "0\n"
    assert "host_a" not in pg.passwords
