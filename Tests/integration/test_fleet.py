"""The fleet store on the installed setuid binaries, as real users, on simulated hosts (fleet_support)
sharing one throwaway PostgreSQL database (pg_support): a request filed on one host is approved on
another and runs where it was filed, rules and grants are bound to their host, concurrent writers on
several hosts keep one audit chain, an unreachable database fails closed, the caller's libpq
environment is ignored, TLS verifies the server, and the URL file must be root's alone.

Every test starts from an empty database, writes the URL file (root, 0600) and a policy with
`[store] backend = "postgresql"`, and ends with `jitctl verify` on the chain it left behind."""
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pexpect
import pytest

from fleet_support import fleet  # noqa: F401 (a fixture)
from loop_support import PASSWORD_PROMPT, without_prompts, audit_record, password, together
from pg_support import FLEET_ROLE, PSQL, Pooler, make_ca, pg, pg_tls, write_url_file  # noqa: F401 (pg, pg_tls are fixtures)

DEV = "jit-dev1"
LEAD = "jit-lead1"
MARK = "/tmp/jitexec-itF-mark"
SECURE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# Generous against a slow machine, tight against the 5 s fleet timeout being applied twice.
DOWN_LIMIT = 6.5

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

[store]
backend = "postgresql"
url_file = "{{url_file}}"

# Exactly the approved argv, on any host of the test fleet.
[[rule]]
name = "fleet-exact"
users = ["%jit-developers"]
commands = ["/usr/bin/id", "/usr/bin/sh -c *"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
hosts = ["host-*"]

# Only on host-a.
[[rule]]
name = "pinned"
users = ["%jit-developers"]
commands = ["/usr/bin/uname -n"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
scope = "rule"
hosts = ["host-a"]

# Any host; rule scope, so it can be requested ahead of time for a host (`jitctl request --host`).
[[rule]]
name = "anywhere"
users = ["%jit-developers"]
commands = ["/usr/bin/hostname"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
scope = "rule"
hosts = ["*"]

[[rule]]
name = "plain"
users = ["%jit-developers"]
commands = ["/usr/bin/echo fleet-load-*", "/usr/bin/touch {MARK}"]
action = "allow"
hosts = ["*"]
"""


# Set-up --------------------------------------------------------------------------------------------

class FleetStore:
    """Points the install at a cluster: `configure` empties its database, writes the URL file and the
    fleet policy. `write_url` replaces the URL (a broken one too) without forgetting the good one,
    which the teardown puts back to verify the chain."""

    def __init__(self, inst):
        self.inst = inst
        self.url_file = f"{inst.confdir}/fleet.url"
        self.cluster = None
        self.good_url = None

    def configure(self, cluster, url=None):
        cluster.reset_database()
        self.cluster = cluster
        self.good_url = url or cluster.url()
        write_url_file(self.url_file, self.good_url)
        self.inst.write_policy(POLICY.format(url_file=self.url_file))
        return self

    def write_url(self, url):
        write_url_file(self.url_file, url)


@pytest.fixture
def fs(inst):
    """The install on the fleet store (call fs.configure(pg) first). Afterwards: the server is up
    again, the good URL is back, and the chain the test left behind verifies; then the URL file and
    the mark file are removed."""
    store = FleetStore(inst)
    remove_mark()
    yield store
    try:
        if store.cluster is not None:
            store.cluster.thaw_server()
            if not store.cluster.running:
                store.cluster.start_server()
            store.write_url(store.good_url)
            v = jitctl_here(inst, "verify")
            assert v.returncode == 0 and "audit chain intact" in v.stdout, \
                f"jitctl verify after the test: {v.stdout}{v.stderr}"
    finally:
        if os.path.exists(store.url_file):
            os.unlink(store.url_file)
        remove_mark()


def jitctl_here(inst, *argv):
    """`jitctl ARGV` as root on this machine, not in a simulated host (any host sees the one chain)."""
    return subprocess.run([inst.jitctl, *argv], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, cwd="/", start_new_session=True)


def remove_mark():
    if os.path.exists(MARK):
        os.unlink(MARK)


# Acting on a host ----------------------------------------------------------------------------------

def jitexec(host, *argv, user=DEV, env=None, timeout=90):
    """`jitexec -S ARGV` as `user` on `host`, the password on stdin."""
    return host.run([host.install.jitexec, "-S", *argv], user=user, env=env, input=password(user) + "\n",
                    timeout=timeout)


def jitctl(host, *argv, user=None, env=None, timeout=60):
    """`jitctl ARGV` on `host` (root when no user), nothing on stdin."""
    return host.run([host.install.jitctl, *argv], user=user, env=env, timeout=timeout)


def request_rule(host, rule, for_host, reason, user=DEV):
    """`jitctl request --rule RULE --host FOR_HOST -r REASON -S` as `user` on `host` (password on stdin)."""
    return host.run([host.install.jitctl, "request", "--rule", rule, "--host", for_host, "-r", reason, "-S"],
                    user=user, input=password(user) + "\n", timeout=60)


def approve(host, request, user=LEAD, env=None):
    """`jitctl approve ID -S` as `user` on `host` (password on stdin); the grant id."""
    r = host.run([host.install.jitctl, "approve", str(request), "-S"], user=user, env=env,
                 input=password(user) + "\n", timeout=60)
    m = re.search(rf"approved request #{request}: grant #(\d+) for ", r.stdout)
    assert r.returncode == 0 and m, (r.returncode, r.stdout, r.stderr)
    return int(m.group(1))


def waiting(background, host, *argv, user=DEV):
    """`jitexec -S ARGV` as `user` on `host` in the background, waiting for approval: (process, request id)."""
    proc = background(host.argv([host.install.jitexec, "-S", *argv], user), None, input=password(user) + "\n")
    n = int(proc.wait_for(r"request #(\d+) filed").group(1))
    return proc, n


def file_request(host, *argv, user=DEV, env=None):
    """Files a request on `host` with --no-wait (exit 75, nothing on stdout); its id."""
    r = jitexec(host, "--no-wait", *argv, user=user, env=env)
    assert r.returncode == 75 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    return request_id(r.stderr)


def request_id(text):
    m = re.search(r"request #(\d+)", text)
    assert m, f"no request id in: {text!r}"
    return int(m.group(1))


def json_lines(result):
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def log(host, *names):
    """`jitctl log --json` as root on `host`: the records, only the events `names` when given."""
    records = [audit_record(rec) for rec in json_lines(jitctl(host, "log", "--json"))]
    return [rec for rec in records if not names or rec["event"] in names]


def requests(host):
    return json_lines(jitctl(host, "requests", "--all", "--json"))


def grants(host):
    return json_lines(jitctl(host, "grants", "--all", "--json"))


def verify(host):
    """`jitctl verify` on `host`: the number of records it vouches for."""
    v = jitctl(host, "verify")
    m = re.fullmatch(r"audit chain intact: (\d+) records?, head \S+\n", v.stdout)
    assert v.returncode == 0 and m, (v.returncode, v.stdout, v.stderr)
    return int(m.group(1))


def one_line(result):
    """The single line a refused run printed on stderr (a password prompt aside); asserts it is one."""
    got = [line for line in without_prompts(result.stderr).splitlines() if line.strip()]
    assert len(got) == 1, (result.returncode, result.stdout, result.stderr)
    return got[0]


def timed(call):
    """(result of call(), seconds it took)."""
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def assert_fails_closed(host, fs, reason):
    """With the database unusable: a command that would create MARK exits 1 within DOWN_LIMIT with one
    line naming the fleet database and `reason`, and does not run; `jitctl requests` refuses likewise."""
    r, took = timed(lambda: jitexec(host, "/usr/bin/touch", MARK))
    line = one_line(r)
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert line.startswith("jitexec: ") and "fleet database" in line and reason in line, line
    assert fs.url_file in line and "postgresql://" not in line, "name the URL file, never the URL (password)"
    assert took < DOWN_LIMIT, f"jitexec took {took:.1f}s to give up"
    assert not os.path.exists(MARK), "the command ran although the fleet database was unusable"

    r, took = timed(lambda: jitctl(host, "requests", user=DEV))
    line = one_line(r)
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert line.startswith("jitctl: ") and "fleet database" in line and reason in line, line
    assert took < DOWN_LIMIT, f"jitctl took {took:.1f}s to give up"


# 1. Filed on one host, approved on another, run where it was filed --------------------------------

def test_request_on_a_approved_on_b_runs_on_a_within_a_second(fs, pg, fleet, background):
    """jit-dev1 waits on host-a; jit-lead1 approves on host-b through a terminal (password typed at
    the prompt); the command starts on host-a within a second of the approval. The request carries
    host-a, and every audit record carries the host it was written on."""
    fs.configure(pg)
    a, b = fleet("host-a"), fleet("host-b")
    proc, n = waiting(background, a, "-r", "deploy from a", "/usr/bin/id")

    (req,) = requests(b)
    assert (req["id"], req["status"], req["host"], req["requester"]) == (n, "pending", "host-a", DEV)
    listed = jitctl(b, "requests", user=LEAD)
    assert listed.returncode == 0 and re.search(rf"(?m)^\*\s+#{n}\s+pending\s+{DEV}", listed.stdout), listed.stdout

    child = b.spawn([b.install.jitctl, "approve", str(n)], LEAD)
    try:
        child.expect(PASSWORD_PROMPT)
        child.sendline(password(LEAD))
        # Printed once the approval is committed: the clock starts here, before jitctl has even exited.
        child.expect(rf"approved request #{n}: grant #(\d+) for {DEV} as root for \S+, until")
        approved_at = time.monotonic()
        g = int(child.match.group(1))
        child.expect(pexpect.EOF, timeout=30)
        child.close()
        assert child.exitstatus == 0
    finally:
        child.close(force=True)
    proc.wait_for(r"uid=0\(root\)", stream="out", timeout=10)
    delay = time.monotonic() - approved_at
    assert delay < 1.0, f"the command started {delay:.2f}s after the approval"
    status, out, err = proc.finish(timeout=30)
    assert status == 0, (status, out, err)
    assert f"request #{n} approved by {LEAD}; running" in err

    (req,) = requests(a)
    assert (req["status"], req["host"]) == ("approved", "host-a")
    (gr,) = grants(b)
    assert (gr["id"], gr["request_id"], gr["host"], gr["user"]) == (g, n, "host-a", DEV)
    written = {"request.filed": "host-a", "approval.added": "host-b", "request.approved": "host-b",
               "grant.created": "host-b", "grant.used": "host-a", "exec.start": "host-a", "exec.end": "host-a"}
    recs = log(b, *written)
    assert [(r["event"], r["host"]) for r in recs] == list(written.items()), recs
    assert all(r.get("request") == n for r in recs if r["event"] in ("request.filed", "request.approved"))
    assert verify(a) == verify(b) == len(log(a))


# 2. Rules and grants are bound to their host ------------------------------------------------------

def test_a_rule_for_host_a_refuses_on_b_and_a_grant_for_a_is_not_usable_on_b(fs, pg, fleet):
    """A rule with hosts = ["host-a"] does not exist on host-b: the command is refused there with one
    line, and no one can request it for host-b. A grant approved for host-a (asked ahead of time with
    --host, or by a run on host-a) never covers a run on host-b: that run files a request of its own."""
    fs.configure(pg)
    a, b = fleet("host-a"), fleet("host-b")

    # The pinned rule: approvable on host-a, unknown on host-b.
    assert jitctl(a, "explain", "-U", DEV, "--", "/usr/bin/uname", "-n").returncode == 0
    on_b = jitctl(a, "explain", "-U", DEV, "--host", "host-b", "--", "/usr/bin/uname", "-n")
    assert on_b.returncode == 1 and "decision: deny (no rule allows this" in on_b.stdout, on_b.stdout
    refused = jitexec(b, "/usr/bin/uname", "-n")
    assert refused.returncode == 1 and refused.stdout == ""
    assert one_line(refused).startswith(f"jitexec: {DEV} may not run /usr/bin/uname as root: no rule allows it")
    asked = request_rule(a, "pinned", "host-b", "for b")
    assert asked.returncode == 1
    assert one_line(asked).startswith(f"jitctl: rule 'pinned' does not let {DEV} ask to run as root on host-b")

    # A grant of the pinned rule for host-a, approved on host-b: still refused on host-b, used on host-a.
    filed = request_rule(b, "pinned", "host-a", "for a")
    assert filed.returncode == 0, (filed.stdout, filed.stderr)
    pinned = approve(b, request_id(filed.stdout))
    refused = jitexec(b, "--no-wait", "/usr/bin/uname", "-n")
    assert refused.returncode == 1 and "no rule allows it" in one_line(refused)
    ran = jitexec(a, "--no-wait", "/usr/bin/uname", "-n")
    assert (ran.returncode, ran.stdout) == (0, "host-a\n"), (ran.returncode, ran.stdout, ran.stderr)

    # A rule of every host: a rule-scope grant for host-a, asked from host-b, approved on host-b.
    filed = request_rule(b, "anywhere", "host-a", "ahead of time")
    assert filed.returncode == 0, (filed.stdout, filed.stderr)
    ahead = request_id(filed.stdout)
    assert f"filed request #{ahead} for rule 'anywhere'" in filed.stdout, filed.stdout
    anywhere = approve(b, ahead)
    own_b = file_request(b, "/usr/bin/hostname")
    assert own_b != ahead
    ran = jitexec(a, "--no-wait", "/usr/bin/hostname")
    assert (ran.returncode, ran.stdout) == (0, "host-a\n"), (ran.returncode, ran.stdout, ran.stderr)

    # A command-scope grant filed by a run on host-a, approved on host-b.
    by_a = file_request(a, "/usr/bin/id")
    exact = approve(b, by_a)
    own_b_id = file_request(b, "/usr/bin/id")
    assert own_b_id != by_a
    ran = jitexec(a, "--no-wait", "/usr/bin/id")
    assert ran.returncode == 0 and ran.stdout.startswith("uid=0(root)"), (ran.returncode, ran.stdout, ran.stderr)

    hosts = {gr["id"]: gr["host"] for gr in grants(a)}
    assert hosts == {pinned: "host-a", anywhere: "host-a", exact: "host-a"}
    by_id = {r["id"]: r for r in requests(a)}
    assert (by_id[own_b]["status"], by_id[own_b]["host"]) == ("pending", "host-b")
    assert (by_id[own_b_id]["status"], by_id[own_b_id]["host"]) == ("pending", "host-b")
    starts = log(a, "exec.start")
    assert [(s["host"], s.get("grant")) for s in starts] == \
        [("host-a", pinned), ("host-a", anywhere), ("host-a", exact)], starts
    assert log(a, "grant.used") and all(r["host"] == "host-a" for r in log(a, "grant.used"))
    denied = [r for r in log(a, "policy.denied") if r["command"][0] == "/usr/bin/uname"]
    assert len(denied) == 2 and all(r["host"] == "host-b" and r["actor"] == DEV for r in denied), denied


# 3. Concurrent writers on several hosts, one chain ------------------------------------------------

RUNS = 50


def test_hosts_first_using_an_empty_database_at_once_all_get_the_schema(fs, pg, fleet):
    """The first use of an empty fleet database: runs on three hosts released at once all succeed
    (one of them creates the schema under the schema lock, the others wait and find it), and the
    database holds one schema version row."""
    fs.configure(pg)
    hosts = [fleet("host-a"), fleet("host-b"), fleet("host-c")]

    runs = together(9, lambda i: jitexec(hosts[i % 3], "/usr/bin/echo", f"fleet-load-{i}", timeout=120))

    failed = [(i, r.returncode, r.stdout, r.stderr) for i, r in enumerate(runs)
              if (r.returncode, r.stdout) != (0, f"fleet-load-{i}\n")]
    assert not failed, f"{len(failed)} of {len(runs)} first uses failed: {failed}"
    assert pg.psql("SELECT count(*) FROM jitexec_schema").stdout == "1\n"
    assert len(log(hosts[0], "exec.start")) == 9


def test_fifty_concurrent_runs_on_three_hosts_keep_one_gapless_chain(fs, pg, fleet):
    """50 runs of an allowed command released at once across host-a, host-b and host-c all succeed;
    the database then holds exactly 50 exec.start records, each with the host it ran on, in one chain
    with seqs 1..N and no gaps, and `jitctl verify` on every host vouches for the same N records."""
    fs.configure(pg)
    hosts = [fleet("host-a"), fleet("host-b"), fleet("host-c")]
    # The schema is created by a first use that writes nothing (the race of first uses has its own test).
    assert json_lines(jitctl(hosts[0], "requests", "--all", "--json", user=DEV)) == []

    runs = together(RUNS, lambda i: jitexec(hosts[i % 3], "/usr/bin/echo", f"fleet-load-{i}", timeout=240))

    for i, r in enumerate(runs):
        assert (r.returncode, r.stdout) == (0, f"fleet-load-{i}\n"), (i, r.returncode, r.stdout, r.stderr)
        assert "jitexec:" not in r.stderr, (i, r.stderr)
    recs = log(hosts[0])
    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
    for prev, cur in zip(recs, recs[1:]):
        assert cur["prev_hash"] == prev["hash"], cur
    starts = [r for r in recs if r["event"] == "exec.start"]
    ends = [r for r in recs if r["event"] == "exec.end"]
    assert len(starts) == RUNS and len(ends) == RUNS, (len(starts), len(ends))
    ran_on = {r["command"][1]: r["host"] for r in starts}
    assert ran_on == {f"fleet-load-{i}": hosts[i % 3].name for i in range(RUNS)}
    assert all(r["status"] == 0 for r in ends)
    assert [verify(h) for h in hosts] == [len(recs)] * 3


# 4. The database goes away while a command waits --------------------------------------------------

def test_a_waiting_command_survives_a_database_restart_and_runs_once_approved(fs, pg, fleet, background):
    """jit-dev1 waits on host-a; the database is stopped for a few seconds (its connections cut) and
    started again: the waiting jitexec says the fleet database is unreachable and that it is still
    waiting, then that the store is back, never exits, and once jit-lead1 approves on host-b it runs
    the command."""
    fs.configure(pg)
    a, b = fleet("host-a"), fleet("host-b")
    proc, n = waiting(background, a, "/usr/bin/id")

    pg.stop_server()
    try:
        proc.wait_for(rf"jitexec: request #{n}: cannot use the fleet database [^\n]*; still waiting\n", timeout=10)
        time.sleep(3)
        still = proc.proc.poll()
    finally:
        pg.start_server()
    assert still is None, f"jitexec exited ({still}) while the database was down: {proc.text('err')!r}"
    proc.wait_for(rf"jitexec: request #{n}: the store is back; still waiting\n", timeout=10)
    assert proc.proc.poll() is None, f"jitexec exited after the restart: {proc.text('err')!r}"

    approve(b, n)
    proc.wait_for(r"uid=0\(root\)", stream="out", timeout=10)
    status, out, err = proc.finish(timeout=30)
    assert status == 0, (status, out, err)
    assert f"request #{n} approved by {LEAD}; running" in err
    assert [(r["event"], r["host"]) for r in log(b, "request.filed", "request.approved", "exec.start")] == \
        [("request.filed", "host-a"), ("request.approved", "host-b"), ("exec.start", "host-a")]


# 5. The database is down when a command is run -----------------------------------------------------

def test_a_stopped_database_fails_closed_at_once(fs, pg, fleet):
    """With the server stopped (connections refused), jitexec exits 1 within seconds with one line
    naming the fleet database, and the command does not run; `jitctl requests` refuses the same way.
    Once the server is back, the same command runs."""
    fs.configure(pg)
    a = fleet("host-a")
    assert jitexec(a, "/usr/bin/echo", "fleet-load-up").returncode == 0
    pg.stop_server()
    assert_fails_closed(a, fs, "refused")
    pg.start_server()
    r = jitexec(a, "/usr/bin/touch", MARK)
    assert r.returncode == 0 and os.path.exists(MARK), (r.returncode, r.stderr)


def test_a_hung_database_fails_closed_within_the_fleet_timeout(fs, pg, fleet):
    """With the server hung (its postmaster stopped with SIGSTOP: TCP connects, nothing answers),
    jitexec gives up after the 5 s fleet timeout, within ~6 s, with one line naming the fleet database,
    and the command does not run; `jitctl requests` likewise."""
    fs.configure(pg)
    a = fleet("host-a")
    assert jitexec(a, "/usr/bin/echo", "fleet-load-up").returncode == 0
    pg.freeze_server()
    try:
        assert_fails_closed(a, fs, "no answer from the database server within 5000 ms")
    finally:
        pg.thaw_server()


# 6. The caller's libpq environment ---------------------------------------------------------------

class Decoy:
    """A TCP listener on 127.0.0.2 at the real server's port (which listens on 127.0.0.1 only): a
    libpq that followed the caller's PGHOST/PGHOSTADDR, service file or .pgpass would land here."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.2", port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def caller_pg_files(inst):
    """jit-dev1's own libpq files (a ~/.pgpass, a ~/.pg_service.conf, a service file and a sysconf
    directory in the home), all naming the decoy at 127.0.0.2; removed afterwards. Yields a function
    writing them for (port, password) and returning the caller's PG* environment naming them."""
    pw = pwd.getpwnam(DEV)
    home = pw.pw_dir
    made = []

    def write(port, secret, dbname="jitexec"):
        def own(path, text):
            with open(path, "w") as f:
                f.write(text)
            os.chown(path, pw.pw_uid, pw.pw_gid)
            os.chmod(path, 0o600)
            made.append(path)

        service = f"[evil]\nhost=127.0.0.2\nhostaddr=127.0.0.2\nport={port}\nuser=evil\npassword={secret}\n" \
                  f"dbname={dbname}\nsslmode=disable\n"
        own(f"{home}/.pgpass", f"*:*:*:*:{secret}\n")
        own(f"{home}/.pg_service.conf", service)
        own(f"{home}/evil-service.conf", service)
        sysconf = f"{home}/evil-sysconf"
        os.makedirs(sysconf, exist_ok=True)
        os.chown(sysconf, pw.pw_uid, pw.pw_gid)
        made.append(sysconf)
        own(f"{sysconf}/pg_service.conf", service)
        return {"HOME": home, "PGHOST": "127.0.0.2", "PGHOSTADDR": "127.0.0.2", "PGPORT": str(port),
                "PGUSER": "evil", "PGPASSWORD": secret, "PGDATABASE": dbname, "PGSSLMODE": "require",
                "PGOPTIONS": "-c search_path=evil", "PGSERVICE": "evil",
                "PGSERVICEFILE": f"{home}/evil-service.conf", "PGSYSCONFDIR": sysconf,
                "PGPASSFILE": f"{home}/.pgpass", "PGCONNECT_TIMEOUT": "0", "PGAPPNAME": "evil"}

    yield write
    for path in reversed(made):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.unlink(path)


def test_the_callers_pg_environment_and_pgpass_are_ignored(fs, pg, fleet, caller_pg_files):
    """jit-dev1 and jit-lead1 run with PGHOST, PGHOSTADDR, PGPORT, PGPASSWORD, PGSSLMODE,
    PGOPTIONS=-c search_path=evil, PGSERVICE, PGSERVICEFILE, PGSYSCONFDIR, PGPASSFILE and a ~/.pgpass
    all pointing at a decoy: a full request / approve / run still works against the configured
    database, nothing ever connects to the decoy, and the schema `evil` stays empty."""
    fs.configure(pg)
    pg.psql(f'CREATE SCHEMA evil AUTHORIZATION "{FLEET_ROLE}";')
    env = caller_pg_files(pg.port, "decoy-password")
    decoy = Decoy(pg.port)
    try:
        a, b = fleet("host-a"), fleet("host-b")
        n = file_request(a, "/usr/bin/id", env=env)
        approve(b, n, env=env)
        ran = jitexec(a, "--no-wait", "/usr/bin/id", env=env)
        assert ran.returncode == 0 and ran.stdout.startswith("uid=0(root)"), (ran.returncode, ran.stdout, ran.stderr)
        listed = jitctl(b, "requests", "--all", "--json", user=DEV, env=env)
        assert [r["id"] for r in json_lines(listed)] == [n]
        assert jitexec(b, "/usr/bin/touch", MARK, env=env).returncode == 0 and os.path.exists(MARK)
    finally:
        decoy.close()
    assert decoy.connections == 0, "jitexec followed the caller's environment to the decoy"
    assert pg.psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = 'evil'").stdout == "0\n"
    assert pg.psql("SELECT to_regclass('public.jitexec_schema') IS NOT NULL").stdout == "t\n"
    assert [r["event"] for r in log(a, "request.filed", "request.approved", "exec.start")] == \
        ["request.filed", "request.approved", "exec.start", "exec.start"]


def test_a_password_from_the_callers_environment_or_pgpass_is_not_used(fs, pg, fleet, caller_pg_files):
    """The URL file names no password; jit-dev1 offers the right one in PGPASSWORD and in ~/.pgpass,
    with PGHOST etc. naming the real server: jitexec still does not connect (one line naming the fleet
    database, nothing run), so nothing from the caller fills in what the URL file leaves out."""
    fs.configure(pg)
    env = caller_pg_files(pg.port, pg.passwords[FLEET_ROLE])
    env.update(PGHOST="127.0.0.1", PGHOSTADDR="127.0.0.1", PGUSER=FLEET_ROLE, PGSERVICE="", PGSSLMODE="disable",
               PGOPTIONS="")
    fs.write_url(f"postgresql://{FLEET_ROLE}@127.0.0.1:{pg.port}/jitexec?sslmode=disable")
    a = fleet("host-a")
    r = jitexec(a, "/usr/bin/touch", MARK, env=env)
    line = one_line(r)
    assert r.returncode == 1 and "fleet database" in line and fs.url_file in line, (r.returncode, r.stderr)
    assert "password" in line, line
    assert not os.path.exists(MARK)


# 7. TLS ------------------------------------------------------------------------------------------

def test_tls_verify_full_works_and_another_ca_fails_closed(fs, pg_tls, fleet, background):
    """Against the TLS-only cluster with a verify-full URL and the test CA, a request filed on host-a
    is approved on host-b and runs. With a URL naming another CA (made with openssl), jitexec and
    jitctl refuse with one line naming the fleet database and the failed verification."""
    fs.configure(pg_tls, pg_tls.url(tls=True))
    a, b = fleet("host-a"), fleet("host-b")
    proc, n = waiting(background, a, "/usr/bin/id")
    approve(b, n)
    status, out, err = proc.finish(timeout=30)
    assert status == 0 and out.startswith("uid=0(root)"), (status, out, err)
    assert [(r["event"], r["host"]) for r in log(b, "request.filed", "request.approved", "exec.start")] == \
        [("request.filed", "host-a"), ("request.approved", "host-b"), ("exec.start", "host-a")]

    other = tempfile.mkdtemp(prefix="jitexec-itF-ca-")
    try:
        os.chmod(other, 0o755)
        _, wrong_ca = make_ca(other, "not-the-fleet-ca")
        os.chmod(wrong_ca, 0o644)
        fs.write_url(pg_tls.url(tls=True).replace(pg_tls.ca_cert, wrong_ca))
        assert_fails_closed(a, fs, "certificate verify failed")
    finally:
        shutil.rmtree(other)


# 8. The URL file is root's alone --------------------------------------------------------------------

def test_a_url_file_others_can_read_or_root_does_not_own_is_refused(fs, pg, fleet):
    """A URL file readable by others (0644), or owned by jit-dev1: jitexec refuses with one line saying
    what is wrong with the file and how to fix it, nothing runs, and `jitctl check` as root prints the
    url_file error and exits 1."""
    fs.configure(pg)
    a = fleet("host-a")
    assert jitexec(a, "/usr/bin/echo", "fleet-load-ok").returncode == 0
    ok = jitctl(a, "check")
    assert ok.returncode == 0 and fs.url_file not in ok.stdout, ok.stdout

    dev = pwd.getpwnam(DEV)
    for problem, fix, expected in [
            (lambda: os.chmod(fs.url_file, 0o644), lambda: os.chmod(fs.url_file, 0o600),
             f"{fs.url_file} holds the fleet database's password and must be readable by root only; "
             f"run 'chmod 600 {fs.url_file}'"),
            (lambda: os.chown(fs.url_file, dev.pw_uid, dev.pw_gid), lambda: os.chown(fs.url_file, 0, 0),
             f"{fs.url_file} is owned by uid {dev.pw_uid}, not root")]:
        problem()
        try:
            r = jitexec(a, "/usr/bin/touch", MARK)
            line = one_line(r)
            assert r.returncode == 1 and expected in line, (r.returncode, r.stderr)
            assert not os.path.exists(MARK)
            check = jitctl(a, "check")
            assert check.returncode == 1, (check.stdout, check.stderr)
            assert re.search(rf"(?m)^{re.escape(fs.url_file)}: error: .*{re.escape(expected)}", check.stdout), \
                check.stdout
            assert re.search(r"(?m): 1 error, \d+ warnings?$", check.stdout), check.stdout
        finally:
            fix()
    assert jitexec(a, "/usr/bin/touch", MARK).returncode == 0 and os.path.exists(MARK)


# 9. Login gating on the fleet store, and what a SQLite host loads -----------------------------------

def test_login_gating_on_the_fleet_store_fails_closed_for_gated_users_only(fs, pg):
    """A `[[login]]` table on the fleet store: with the database up, a gated login is refused with the
    request it filed (in the fleet database); with the database down, gated users are refused ("cannot
    decide") and an ungated user still logs in, as with SQLite."""
    from test_login import GATE_SERVICE, PAM_FILE, account, admitted, write_pam
    fs.configure(pg)
    policy = POLICY.format(url_file=fs.url_file) + f"""
[[login]]
users = ["%jit-developers"]
services = ["{GATE_SERVICE}"]
approvers = ["%jit-sre-leads"]
approvals = 1
auto_request = true
"""
    fs.inst.write_policy(policy)
    service = write_pam(GATE_SERVICE, f"auth required pam_permit.so\n@include common-account\n@include {PAM_FILE}-login\n")
    try:
        r = account(DEV)
        assert not admitted(r) and "needs approval: request #" in r.stdout + r.stderr, r.stdout + r.stderr
        filed = [q for q in json_lines(jitctl_here(fs.inst, "requests", "--json")) if q["scope"] == "login"]
        assert [q["requester"] for q in filed] == [DEV]
        assert admitted(account("jit-out"))
        pg.stop_server()
        r = account(DEV)
        assert not admitted(r) and "cannot decide" in r.stdout + r.stderr, r.stdout + r.stderr
        assert admitted(account("jit-out")), "an ungated user must not depend on the fleet database"
    finally:
        os.unlink(service)


def test_the_binaries_do_not_link_libpq(inst):
    """libpq is loaded only by a host on the fleet store, when it first opens it: neither binary names
    it (a SQLite host's start-up never loads libpq, nor the TLS and Kerberos libraries it pulls in)."""
    for binary in (inst.jitexec, inst.jitctl):
        r = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "libc.so" in r.stdout, r.stdout + r.stderr
        assert "libpq" not in r.stdout and "libssl" not in r.stdout, r.stdout



# 10. Moving hosts over, and hosts on roles of their own --------------------------------------------

def test_two_hosts_move_their_sqlite_history_into_the_fleet(fs, pg, fleet):
    """host-a and host-b first run on SQLite stores of their own (on each a request approved and its
    command run: both are request #1 there). `jitctl store migrate --to postgresql`, as root on each,
    copies that history into the fleet database: the requests are there with new ids and their host,
    the fleet chain has one store.migrated record per host, and `jitctl verify` on any host checks the
    fleet chain and both imported chains against their anchors. Only root moves a store, a host moves
    once, and once the policy says postgresql the hosts run on the fleet store."""
    fs.configure(pg)
    fs.inst.write_policy(POLICY.format(url_file=fs.url_file).replace('"postgresql"', '"sqlite"'))
    a, b = fleet("host-a"), fleet("host-b")
    for host in (a, b):
        approve(host, file_request(host, "/usr/bin/id"))
        r = jitexec(host, "/usr/bin/id")
        assert r.returncode == 0 and "uid=0(root)" in r.stdout, (r.returncode, r.stdout, r.stderr)
        assert [q["id"] for q in requests(host)] == [1]
    refused = jitctl(a, "store", "migrate", "--to", "postgresql", user=DEV)
    assert refused.returncode == 1 and "only root moves this host's store" in one_line(refused), refused.stderr
    for host in (a, b):
        m = jitctl(host, "store", "migrate", "--to", "postgresql")
        assert m.returncode == 0, (m.returncode, m.stdout, m.stderr)
        assert f"moved {host.name} into the fleet database: 1 requests, 1 grants, 1 sessions" in m.stdout, m.stdout
        assert 'next: set [store] backend = "postgresql"' in m.stdout, m.stdout
    again = jitctl(a, "store", "migrate", "--to", "postgresql")
    assert again.returncode == 1 and "already holds the history of host-a" in one_line(again), again.stderr

    fs.inst.write_policy(POLICY.format(url_file=fs.url_file))
    moved = requests(b)
    assert sorted((q["id"], q["host"], q["status"]) for q in moved) == [(1, "host-a", "approved"),
                                                                         (2, "host-b", "approved")], moved
    assert sorted(rec["origin"] for rec in log(a, "store.migrated")) == ["host-a", "host-b"]
    for host in (a, b):
        v = jitctl(host, "verify")
        assert v.returncode == 0 and v.stdout.startswith("audit chain intact: 2 records"), v.stdout + v.stderr
        for origin in ("host-a", "host-b"):
            assert f"imported chain of {origin} intact and anchored" in v.stdout, v.stdout
    r = jitexec(b, "/usr/bin/echo", "fleet-load-moved")
    assert r.returncode == 0 and r.stdout == "fleet-load-moved\n", (r.returncode, r.stdout, r.stderr)
    assert [rec["host"] for rec in log(a, "exec.start")] == ["host-b"]


def test_hosts_on_roles_of_their_own_as_the_readme_sets_them_up(fs, pg, fleet, background):
    """The README's database roles: the group role jitexec_hosts exists before the schema, the owner's
    URL creates the schema (which grants the group what jitexec needs), and each host then logs in
    with a role of its own, a member of the group, bound to its host in fleet_hosts. The loop works
    across hosts on those roles; a host's role cannot rewrite the audit log, nor append a record or
    move a session that names another host, also with a fleet_hosts table of its own session's."""
    pg.psql("""DO $$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jitexec_hosts') THEN
                   CREATE ROLE jitexec_hosts NOLOGIN;
                 END IF;
               END $$;""", db="postgres")
    fs.configure(pg)
    a, b = fleet("host-a"), fleet("host-b")
    assert verify(a) == 0  # the owner's URL: the schema is created
    roles = {}
    for host in (a, b):
        role = roles[host.name] = f"jitexec_{host.name.replace('-', '_')}"
        pg.create_role(role, f"pw-{role}-secret")
        pg.psql(f"GRANT jitexec_hosts TO {role};", db="postgres")
        pg.psql(f"INSERT INTO fleet_hosts (role, host) VALUES ('{role}', '{host.name}');")
        # Each host's URL file in its own state directory (config is shared in the test fleet).
        write_url_file(f"{host.root}/var/lib/jitexec/fleet.url", pg.url(role))
    fs.inst.write_policy(POLICY.format(url_file=f"{fs.inst.statedir}/fleet.url"))
    try:
        n = file_request(a, "/usr/bin/id")
        approve(b, n)
        r = jitexec(a, "/usr/bin/id")
        assert r.returncode == 0 and "uid=0(root)" in r.stdout, (r.returncode, r.stdout, r.stderr)
        written = {(rec["event"], rec["host"]) for rec in log(b)}
        assert {("request.filed", "host-a"), ("request.approved", "host-b"), ("exec.start", "host-a")} <= written
        rewrite = pg.psql("UPDATE audit SET actor = 'mallory';", user=roles["host-a"], check=False)
        assert rewrite.returncode != 0 and "permission denied for table audit" in rewrite.stderr, rewrite.stderr
        forged = pg.psql("INSERT INTO audit (seq, time, host, event, actor, fields, prev_hash, hash) VALUES "
                         "(1000, 0, 'host-b', 'exec.start', 'mallory', '{}', repeat('0', 64), repeat('0', 64));",
                         user=roles["host-a"], check=False)
        assert forged.returncode != 0 and "writes for host host-a, not for host-b" in forged.stderr, forged.stderr
        # The same forgery through a fleet_hosts of the session's own (a temporary table, first in
        # its search path, binding the role to host-b), and a session moved to host-b that way. The
        # README also revokes TEMPORARY from PUBLIC; it is left here, so the triggers are what holds.
        shadow = ("CREATE TEMP TABLE fleet_hosts (role TEXT, host TEXT); "
                  "INSERT INTO fleet_hosts VALUES (session_user, 'host-b'); ")
        forged = pg.psql(shadow + "INSERT INTO audit (seq, time, host, event, actor, fields, prev_hash, hash) "
                         "VALUES (1000, 0, 'host-b', 'exec.start', 'mallory', '{}', repeat('0', 64), repeat('0', 64));",
                         user=roles["host-a"], check=False)
        assert forged.returncode != 0 and "writes for host host-a, not for host-b" in forged.stderr, forged.stderr
        moved = pg.psql(shadow + "UPDATE sessions SET host = 'host-b' WHERE host = 'host-a';",
                        user=roles["host-a"], check=False)
        assert moved.returncode != 0 and "writes for host host-a, not for host-b" in moved.stderr, moved.stderr
        assert pg.psql("SELECT count(*) FROM audit WHERE seq = 1000;").stdout.strip() == "0"
        # Nor take another host's session over by writing its own name in.
        taken = pg.psql("UPDATE sessions SET host = 'host-b' WHERE host = 'host-a';", user=roles["host-b"],
                        check=False)
        assert taken.returncode != 0 and "writes for host host-b, not for host-a" in taken.stderr, taken.stderr
        # An approver on host-b stops a session running on host-a (its role may ask that, once).
        script = "echo started-fleet; exec sleep 60"
        proc, n = waiting(background, a, "/usr/bin/sh", "-c", script)
        approve(b, n)
        proc.wait_for("started-fleet", stream="out", timeout=20)
        rows = json_lines(jitctl(b, "sessions", "--all", "--json"))
        running = [x for x in rows if x.get("status") == "running"]
        assert len(running) == 1, rows
        (running,) = running
        stop = b.run([b.install.jitctl, "stop", str(running["id"]), "-m", "from b", "-S"], user=LEAD,
                     input=password(LEAD) + "\n", timeout=60)
        assert stop.returncode == 0 and f"session #{running['id']} of {DEV} is being ended" in stop.stdout + stop.stderr, \
            (stop.returncode, stop.stdout, stop.stderr)
        status, out, err = proc.finish(timeout=15)
        assert f"was stopped by {LEAD}: from b" in err, (status, out, err)
        (end,) = [r for r in log(b, "exec.end") if r.get("session") == running["id"]]
        assert (end["host"], end["ended"]) == ("host-a", "stopped"), end
        assert verify(b) == verify(a)
    finally:
        fs.inst.write_policy(POLICY.format(url_file=fs.url_file))


@pytest.fixture
def pooler(pg):
    """pgbouncer in front of the plain cluster (pg_support.Pooler), stopped after the test."""
    Pooler.require()
    p = Pooler(pg.port, FLEET_ROLE, pg.passwords[FLEET_ROLE])
    yield p
    p.stop()


def test_hosts_behind_a_connection_pooler_as_the_readme_sets_it_up(pooler, fs, pg, fleet, background):
    """pgbouncer between the hosts and the server, as the README sets one up (session pooling, a
    root-only Unix socket). pgbouncer refuses a client that sends `options` when connecting, which is
    where jitexec's server-side limits were; they are now set by each connection's first statement.
    A request filed on host-a waits through the pooler (LISTEN), host-b approves through it, and the
    command runs on host-a, then again under the grant; nobody but root reaches the pooler's socket.
    (`pooler` comes first: it is still up when `fs` verifies the chain afterwards.)"""
    fs.configure(pg, url=pooler.url)
    a, b = fleet("host-a"), fleet("host-b")
    proc, n = waiting(background, a, "/usr/bin/id")
    approve(b, n)
    status, out, err = proc.finish(timeout=30)
    assert status == 0 and "uid=0(root)" in out, (status, out, err)
    again = jitexec(a, "/usr/bin/id")
    assert again.returncode == 0 and "uid=0(root)" in again.stdout, (again.returncode, again.stdout, again.stderr)
    assert [r["host"] for r in log(b, "exec.start")] == ["host-a", "host-a"]
    with open(pooler.log, errors="replace") as f:
        logged = f.read()
    assert "unsupported startup parameter" not in logged, pooler.log_tail()
    assert logged.count(f"login attempt: db=jitexec user={FLEET_ROLE}") >= 4, pooler.log_tail()
    # The socket is the pooler account's, mode 0600, in a folder only it may enter.
    outsider = subprocess.run([PSQL, "-X", "-c", "SELECT 1", pooler.url], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin"}, cwd="/", timeout=30, user=DEV, group=DEV,
                              extra_groups=[])
    assert outsider.returncode != 0 and "Permission denied" in outsider.stderr, (outsider.returncode, outsider.stderr)
