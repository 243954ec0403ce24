"""A throwaway PostgreSQL 15 cluster for the fleet-store tests: run by an unprivileged system
account (jit-pg) from a fresh temporary directory, listening on 127.0.0.1 only, SCRAM passwords
only (pg_hba has one line and no `local` or `trust` entry), and with tls=True only over TLS with a
server certificate of a throwaway CA.

The fixtures `pg` and `pg_tls` start one cluster each per pytest run, however many modules import
them, and stop and remove it when the run ends. Call reset_database() to start a test empty."""
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import pytest

PG_BIN = "/usr/lib/postgresql/15/bin"
PSQL = f"{PG_BIN}/psql"
OPENSSL = "/usr/bin/openssl"
CLUSTER_USER = "jit-pg"
SUPERUSER = "postgres"
DATABASE = "jitexec"
FLEET_ROLE = "jitexec_fleet"
BASE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def ident(name):
    """`name` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text):
    """`text` as an SQL string literal (standard_conforming_strings is on)."""
    return "'" + text.replace("'", "''") + "'"


def ensure_cluster_user():
    """The system account that runs the cluster: no home, no shell, no password."""
    try:
        return pwd.getpwnam(CLUSTER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", CLUSTER_USER], check=True)
        return pwd.getpwnam(CLUSTER_USER)


def free_port():
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args):
    r = subprocess.run([OPENSSL, *args], capture_output=True, text=True, env=BASE_ENV, timeout=60)
    assert r.returncode == 0, f"openssl {' '.join(args)} failed:\n{r.stdout}{r.stderr}"


def make_ca(directory, name):
    """A self-signed P-256 CA valid for two days: returns (key path, certificate path) in `directory`."""
    key, cert = f"{directory}/{name}.key", f"{directory}/{name}.crt"
    openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, cert


def issue_server_cert(ca_key, ca_cert, directory):
    """A server key and certificate for 127.0.0.1 and localhost signed by the CA, in `directory`."""
    key, csr, cert, ext = (f"{directory}/server.{s}" for s in ("key", "csr", "crt", "ext"))
    with open(ext, "w") as f:
        f.write("basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1, DNS:localhost\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-set_serial", str(secrets.randbits(63)),
            "-days", "2", "-extfile", ext, "-out", cert)
    os.unlink(csr)
    os.unlink(ext)
    return key, cert


def log_tail(path, name, lines=30):
    """The last `lines` lines of the log at `path`, headed `name log:` (for failure messages)."""
    try:
        with open(path, errors="replace") as f:
            return f"{name} log:\n" + "".join(f.readlines()[-lines:])
    except OSError:
        return f"(no {name} log)"


def write_url_file(path, url):
    """`url` and a newline in `path`, root:root 0600 (also when the file existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchown(fd, 0, 0)
        os.fchmod(fd, 0o600)
        os.write(fd, (url + "\n").encode())
    finally:
        os.close(fd)
    return path


class PGCluster:
    """One cluster. Layout under `base` (root, 0755): `pg/` (jit-pg, 0700) holds the data directory,
    the unix socket directory, the server log and, with TLS, the server key (0600) and certificate;
    `ca/` (root, 0700) the CA key; `ca.crt` (root, 0644) the CA certificate clients verify with."""

    def __init__(self):
        self.base = None
        self.port = None
        self.tls = False
        self.running = False
        self.ca_cert = None
        self.passwords = {}

    def start(self, tls=False, durable=False):
        """initdb, configure, start, then create the role jitexec_fleet and the database jitexec."""
        account = ensure_cluster_user()
        self.tls = tls
        self.base = tempfile.mkdtemp(prefix="jitexec-pg-")
        os.chmod(self.base, 0o755)
        self.home = f"{self.base}/pg"
        self.data = f"{self.home}/data"
        self.log = f"{self.home}/postgres.log"
        sockets = f"{self.home}/sockets"
        for d in (self.home, sockets):
            os.mkdir(d, 0o700)
            os.chown(d, account.pw_uid, account.pw_gid)
        self.passwords[SUPERUSER] = secrets.token_urlsafe(24)
        pwfile = f"{self.home}/superuser-password"
        with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(self.passwords[SUPERUSER] + "\n")
        os.chown(pwfile, account.pw_uid, account.pw_gid)
        self._as_cluster_user(f"{PG_BIN}/initdb", "-D", self.data, "-U", SUPERUSER, f"--pwfile={pwfile}",
                              "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
                              "--no-instructions")
        os.unlink(pwfile)
        self.port = free_port()
        settings = {"listen_addresses": "'127.0.0.1'", "port": str(self.port),
                    "unix_socket_directories": literal(sockets), "password_encryption": "'scram-sha-256'",
                    # A test cluster: losing it to a machine crash costs nothing, a killed server still recovers.
                    # `make bench` asks for a durable one: a fleet's server syncs every commit.
                    "fsync": "on" if durable else "off"}
        if tls:
            os.mkdir(f"{self.base}/ca", 0o700)
            ca_key, ca_cert = make_ca(f"{self.base}/ca", "jitexec-it-fleet-ca")
            key, cert = issue_server_cert(ca_key, ca_cert, self.home)
            for path in (key, cert):
                os.chown(path, account.pw_uid, account.pw_gid)
            os.chmod(key, 0o600)
            self.ca_cert = f"{self.base}/ca.crt"
            shutil.copyfile(ca_cert, self.ca_cert)
            os.chown(self.ca_cert, 0, 0)
            os.chmod(self.ca_cert, 0o644)
            settings.update(ssl="on", ssl_cert_file=literal(cert), ssl_key_file=literal(key))
        with open(f"{self.data}/postgresql.conf", "a") as f:
            f.write("\n# jitexec integration tests\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        with open(f"{self.data}/pg_hba.conf", "w") as f:
            f.write(f"{'hostssl' if tls else 'host'} all all 127.0.0.1/32 scram-sha-256\n")
        self.start_server()
        self.create_role(FLEET_ROLE, secrets.token_urlsafe(24))
        self.reset_database()
        return self

    def _as_cluster_user(self, *argv, timeout=120):
        account = pwd.getpwnam(CLUSTER_USER)
        r = subprocess.run(argv, capture_output=True, text=True, env=BASE_ENV, cwd="/", timeout=timeout,
                           start_new_session=True, user=account.pw_uid, group=account.pw_gid, extra_groups=[])
        assert r.returncode == 0, f"{' '.join(argv)} failed:\n{r.stdout}{r.stderr}\n{self.log_tail()}"
        return r

    def log_tail(self, lines=30):
        """The end of the server log (for failure messages)."""
        return log_tail(self.log, "server", lines)

    def start_server(self):
        """Starts the server (same data, same port) and waits until it accepts connections."""
        self._as_cluster_user(f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start")
        self.running = True

    def stop_server(self, mode="fast"):
        """Stops the server: `fast` ends sessions cleanly, `immediate` kills them like a crash."""
        self._as_cluster_user(f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def freeze_server(self):
        """Stops the postmaster with SIGSTOP: the kernel still completes TCP handshakes on the port,
        but nothing answers (a hung server, not a dead one). thaw_server() resumes it."""
        with open(f"{self.data}/postmaster.pid") as f:
            self.frozen_pid = int(f.readline())
        os.kill(self.frozen_pid, signal.SIGSTOP)

    def thaw_server(self):
        """Resumes a server freeze_server() stopped (nothing when none is frozen)."""
        if getattr(self, "frozen_pid", None) is not None:
            os.kill(self.frozen_pid, signal.SIGCONT)
            self.frozen_pid = None

    def stop(self):
        """Stops the server and removes everything the cluster had on disk."""
        self.thaw_server()
        if self.running:
            self.stop_server("immediate")
        if self.base:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def url(self, role=FLEET_ROLE, password=None, tls=False, db=DATABASE):
        """The libpq URL for `role` (its password from create_role unless given): sslmode=disable,
        or with tls=True verify-full against the cluster's CA certificate."""
        q = urllib.parse.quote
        pw = self.passwords[role] if password is None else password
        url = f"postgresql://{q(role, safe='')}:{q(pw, safe='')}@127.0.0.1:{self.port}/{q(db, safe='')}"
        if not tls:
            return url + "?sslmode=disable"
        if self.ca_cert is None:
            raise ValueError("this cluster was started without TLS")
        return url + f"?sslmode=verify-full&sslrootcert={q(self.ca_cert, safe='/')}"

    def psql(self, sql, user=SUPERUSER, db=DATABASE, password=None, check=True):
        """Runs the SQL script `sql` (statement by statement, stopping at the first error) with psql
        as the cluster account, connected over 127.0.0.1 as `user` (its password from create_role
        unless given), with TLS verify-full on a TLS cluster. Unaligned, tuples only; a failure
        raises AssertionError unless check=False."""
        env = dict(BASE_ENV, PGHOST="127.0.0.1", PGPORT=str(self.port), PGUSER=user, PGDATABASE=db,
                   PGPASSWORD=self.passwords[user] if password is None else password, PGCONNECT_TIMEOUT="10",
                   PGSSLMODE="verify-full" if self.tls else "disable")
        if self.tls:
            env["PGSSLROOTCERT"] = self.ca_cert
        account = pwd.getpwnam(CLUSTER_USER)
        r = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"], input=sql,
                           capture_output=True, text=True, env=env, cwd="/", timeout=60, start_new_session=True,
                           user=account.pw_uid, group=account.pw_gid, extra_groups=[])
        if check:
            assert r.returncode == 0, f"psql as {user} on {db} failed ({r.returncode}): {sql!r}\n{r.stderr}"
        return r

    def create_role(self, name, password, grants_sql=None):
        """A login role with a SCRAM password; `grants_sql` then runs as the superuser in jitexec.
        Roles other than jitexec_fleet are dropped again by reset_database()."""
        self.psql(f"CREATE ROLE {ident(name)} LOGIN PASSWORD {literal(password)};", db="postgres")
        self.passwords[name] = password
        if grants_sql:
            self.psql(grants_sql)

    def reset_database(self):
        """Drops the database jitexec (refusing new connections and ending the open ones first) and
        the roles create_role made for the last test, then creates jitexec empty, owned by jitexec_fleet."""
        self.psql(f"""
            DO $$ BEGIN
              IF EXISTS (SELECT 1 FROM pg_database WHERE datname = {literal(DATABASE)}) THEN
                ALTER DATABASE {ident(DATABASE)} WITH ALLOW_CONNECTIONS false;
              END IF;
            END $$;
            DROP DATABASE IF EXISTS {ident(DATABASE)} WITH (FORCE);
            """, db="postgres")
        for role in [r for r in self.passwords if r not in (SUPERUSER, FLEET_ROLE)]:
            self.psql(f"DROP ROLE IF EXISTS {ident(role)};", db="postgres")
            del self.passwords[role]
        self.psql(f"CREATE DATABASE {ident(DATABASE)} OWNER {ident(FLEET_ROLE)};", db="postgres")


PGBOUNCER = "/usr/sbin/pgbouncer"


class Pooler:
    """pgbouncer in front of a cluster on 127.0.0.1:`port`, as the README sets one up on a host: run
    by the cluster's account, session pooling, a Unix socket only (no TCP) in a directory only that
    account (and root) may enter, trusting whoever reaches it, and logging in to the server as
    `role` with `password`. `database` is the one database it serves, or "*" for any (the bench's).
    `url` is what a host's URL file names; `socket_query` that URL's query (host, port, user).
    stop() ends it and removes its files."""

    @staticmethod
    def require():
        """Skips (loudly), or fails under CI, when pgbouncer is not installed."""
        if os.access(PGBOUNCER, os.X_OK):
            return
        message = f"pgbouncer is not installed ({PGBOUNCER}); run 'make test-deps' as root"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must be able to run the pooler test")
        print(f"\nSKIPPING THE POOLER TEST: {message}", file=sys.stderr)
        pytest.skip(message)

    def __init__(self, port, role, password, database=DATABASE):
        account = pwd.getpwnam(CLUSTER_USER)
        self.base = tempfile.mkdtemp(prefix="jitexec-pgbouncer-")
        os.chown(self.base, account.pw_uid, account.pw_gid)
        os.chmod(self.base, 0o700)
        self.port = free_port()
        self.log = f"{self.base}/pgbouncer.log"
        served = "" if database == "*" else f" dbname={database}"
        files = {
            "pgbouncer.ini": f"""[databases]
{database} = host=127.0.0.1 port={port}{served} user={role} password={password}
[pgbouncer]
listen_addr =
listen_port = {self.port}
unix_socket_dir = {self.base}
unix_socket_mode = 0600
auth_type = trust
auth_file = {self.base}/users.txt
pool_mode = session
server_reset_query = DISCARD ALL
logfile = {self.log}
pidfile = {self.base}/pgbouncer.pid
""",
            "users.txt": f'"{role}" ""\n',
        }
        for name, text in files.items():
            fd = os.open(f"{self.base}/{name}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "w") as f:
                f.write(text)
            os.chown(f"{self.base}/{name}", account.pw_uid, account.pw_gid)
        self.process = subprocess.Popen([PGBOUNCER, f"{self.base}/pgbouncer.ini"], env=BASE_ENV, cwd="/",
                                        user=account.pw_uid, group=account.pw_gid, extra_groups=[],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        self.socket = f"{self.base}/.s.PGSQL.{self.port}"
        deadline = time.monotonic() + 20
        while not os.path.exists(self.socket):
            assert self.process.poll() is None and time.monotonic() < deadline, \
                f"pgbouncer did not start:\n{self.log_tail()}"
            time.sleep(0.05)
        self.socket_query = f"host={self.base}&port={self.port}&user={role}"
        self.url = f"postgresql:///{DATABASE if database == '*' else database}?{self.socket_query}"

    def log_tail(self, lines=30):
        """The end of pgbouncer's log (for failure messages)."""
        return log_tail(self.log, "pgbouncer", lines)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        shutil.rmtree(self.base, ignore_errors=True)


def require_postgres():
    """Skips (loudly), or fails under CI, when the cluster cannot be run here."""
    missing = [p for p in (f"{PG_BIN}/initdb", f"{PG_BIN}/pg_ctl", f"{PG_BIN}/postgres", PSQL, OPENSSL)
               if not os.access(p, os.X_OK)]
    if os.geteuid() != 0:
        message = "the PostgreSQL fleet tests need root (they create the jit-pg account)"
    elif missing:
        message = f"PostgreSQL 15 is not installed (missing {', '.join(missing)}); run 'make test-deps' as root"
    else:
        return
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must be able to run them")
    print(f"\nSKIPPING POSTGRESQL FLEET TESTS: {message}", file=sys.stderr)
    pytest.skip(message)


# One cluster of each kind per pytest run: a session fixture imported into several modules is set
# up once per module, so the clusters live here and are stopped when pytest ends.
_clusters = {}


def shared_cluster(config, tls):
    require_postgres()
    if tls not in _clusters:
        cluster = PGCluster()
        config.add_cleanup(cluster.stop)
        _clusters[tls] = cluster.start(tls=tls)
    return _clusters[tls]


@pytest.fixture(scope="session")
def pg(pytestconfig):
    """The plain cluster (SCRAM over 127.0.0.1, sslmode=disable)."""
    return shared_cluster(pytestconfig, tls=False)


@pytest.fixture(scope="session")
def pg_tls(pytestconfig):
    """The TLS cluster (hostssl only; clients verify-full against pg_tls.ca_cert)."""
    return shared_cluster(pytestconfig, tls=True)


def pool(argv):
    """`pg_support.py pool -- CMD ...`, inside `run`: CMD with a Pooler in front of the cluster
    JITEXEC_TEST_PG_URL names (as its superuser, for any database), and JITEXEC_TEST_POOL set to the
    query part of a URL through it (`postgresql:///DB?$JITEXEC_TEST_POOL`); `make bench-ab POOLER=1`."""
    server = urllib.parse.urlsplit(os.environ["JITEXEC_TEST_PG_URL"])
    pooler = Pooler(server.port, urllib.parse.unquote(server.username), urllib.parse.unquote(server.password),
                    database="*")
    try:
        return subprocess.run(argv, env=dict(os.environ, JITEXEC_TEST_POOL=pooler.socket_query)).returncode
    finally:
        pooler.stop()


def main(argv):
    """`pg_support.py run [--durable] -- CMD ...`: CMD with JITEXEC_TEST_PG_URL naming a throwaway
    cluster's database (the superuser's URL: the unit tests make a schema per fixture), stopped
    afterwards. `make unit-test` runs the workflow suites a second time this way; `make bench` runs
    the fleet's comparison on a --durable cluster (its commits synced, as a real server's are).
    `pg_support.py pool -- CMD ...` (see pool)."""
    if len(argv) > 2 and argv[:2] == ["pool", "--"]:
        return pool(argv[2:])
    durable = len(argv) > 1 and argv[1] == "--durable"
    if durable:
        argv = argv[:1] + argv[2:]
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print("usage: pg_support.py run [--durable] -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    missing = [p for p in (f"{PG_BIN}/initdb", f"{PG_BIN}/pg_ctl", PSQL) if not os.access(p, os.X_OK)]
    if os.geteuid() != 0 or missing:
        why = "needs root" if os.geteuid() != 0 else f"PostgreSQL 15 is missing ({', '.join(missing)})"
        if os.environ.get("CI"):
            print(f"the PostgreSQL unit run {why}; CI must be able to run it", file=sys.stderr)
            return 1
        print(f"SKIPPING THE POSTGRESQL UNIT RUN: it {why}; run 'make test' as root", file=sys.stderr)
        return 0
    cluster = PGCluster().start(durable=durable)
    try:
        env = dict(os.environ, JITEXEC_TEST_PG_URL=cluster.url(role=SUPERUSER))
        return subprocess.run(argv[2:], env=env).returncode
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
