"""Notifications (issue 5, item 4) on the installed setuid binaries, as real users: the `[notify]`
command gets each configured audit event as one JSON object on stdin, runs as `run_as` with a
timeout, and its failures are audited as `notify.failed` without touching the user's action; the
shipped `notify-webhook` POSTs to a (local) webhook; logged-in approvers see new requests on their
terminals, escaped, unless they said `mesg n`."""
import ctypes
import ctypes.util
import http.server
import json
import os
import pwd
import queue
import re
import shutil
import subprocess
import threading
import time

import pexpect
import pytest

from loop_support import approve, audit_record, events, grant_id, password, request_id, run, spawn, without_prompts

DEV = "jit-dev1"
LEAD = "jit-lead1"
NOBODY = pwd.getpwnam("nobody")
SCRIPTS = "/tmp/jitexec-it-notify-scripts"

POLICY = """\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "5m"
admins = ["%jit-admins"]

[[rule]]
name = "restart"
users = ["%jit-developers"]
commands = ["/usr/bin/true", "/usr/bin/id", "/usr/bin/id -u", "/usr/bin/id -g"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
"""


def notify_section(command, timeout="10s", events=("request.filed", "request.approved"), run_as="nobody"):
    words = ", ".join(json.dumps(w) for w in command)
    listed = ", ".join(json.dumps(e) for e in events)
    return f'\n[notify]\ncommand = [{words}]\nrun_as = "{run_as}"\ntimeout = "{timeout}"\nevents = [{listed}]\n'


@pytest.fixture
def notify(inst):
    """The install with POLICY (the test adds its [notify]), and a fresh directory of notifier
    scripts (root-owned) next to an output directory only `nobody` may write."""
    shutil.rmtree(SCRIPTS, ignore_errors=True)
    os.mkdir(SCRIPTS, 0o755)
    out = os.path.join(SCRIPTS, "out")
    os.mkdir(out, 0o700)
    os.chown(out, NOBODY.pw_uid, NOBODY.pw_gid)
    inst.out = out
    inst.webhook = f"{inst.prefix}/usr/share/jitexec/notify-webhook"
    yield inst
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, f"jitctl verify after the test: {v.stdout}{v.stderr}"
    subprocess.run(["pkill", "-KILL", "-u", "nobody", "-f", SCRIPTS], check=False)


def use_policy(inst, notify_text=""):
    inst.write_policy(POLICY + notify_text)
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, f"the notify policy does not load: {check.stdout}{check.stderr}"


def script(name, body):
    path = os.path.join(SCRIPTS, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def file_request(inst, *argv, reason=None, user=DEV):
    """jitexec --no-wait as `user`: exit 75, and the request id. Returns (id, seconds it took)."""
    extra = ["-r", reason] if reason is not None else []
    started = time.monotonic()
    r = run([inst.jitexec, "-S", "--no-wait", *extra, *argv], user=user, input=password(user) + "\n")
    took = time.monotonic() - started
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    return request_id(r.stderr), took


def wait_until(what, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def only(records):
    assert len(records) == 1, records
    return records[0]


def record_of(inst, event, request):
    return only([r for r in events(inst, event) if r.get("request") == request])


# 1. The shipped webhook notifier, against a local HTTP listener ----------------------------------

class Listener:
    """A webhook on 127.0.0.1 (random port) that keeps every POST."""

    def __init__(self, status=200):
        posts = self.posts = queue.Queue()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                posts.put((self.path, self.headers.get("Content-Type"), body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout=20):
        try:
            return self.posts.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no POST reached {self.url} within {timeout}s")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def test_webhook_receives_the_exact_event_json_and_an_escaped_summary(notify, listener):
    use_policy(notify, notify_section([notify.webhook, listener.url]))
    reason = "deploy <!channel> \x1b[31mred"
    n, _ = file_request(notify, "/usr/bin/true", reason=reason)

    path, content_type, body = listener.next()
    assert path == "/hook" and content_type == "application/json"
    posted = json.loads(body)
    filed = record_of(notify, "request.filed", n)
    assert audit_record(posted["event"]) == filed, "the notifier gets exactly the record `jitctl log --json` shows"
    assert posted["event"]["fields"]["reason"] == reason, "the event keeps the user's exact bytes"
    text = posted["text"]
    assert f"request #{n}" in text and DEV in text and f"'jitctl approve {n}'" in text, text
    assert "\x1b" not in text and "\\x1b[31mred" in text, f"the summary is escaped: {text!r}"
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text, f"no chat mention from a reason: {text!r}"

    g = grant_id(approve(notify, n, LEAD, "-m", "ok"))
    _, _, body = listener.next()
    approved = record_of(notify, "request.approved", n)
    assert audit_record(json.loads(body)["event"]) == approved and approved["grant"] == g
    # Who, what, where and until when, not only ids.
    text = json.loads(body)["text"]
    assert re.search(rf"request #{n} of {DEV} approved by {LEAD}: /usr/bin/true as root on \S+, grant #{g} until "
                     r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text), text
    assert events(notify, "notify.failed") == []


def test_webhook_http_error_is_audited_and_the_request_still_stands(notify):
    failing = Listener(status=500)
    try:
        use_policy(notify, notify_section([notify.webhook, failing.url], events=["request.filed"]))
        n, _ = file_request(notify, "/usr/bin/true")
        failing.next()
        failed = wait_until("notify.failed", lambda: events(notify, "notify.failed"))
    finally:
        failing.close()
    filed = record_of(notify, "request.filed", n)
    assert failed[0]["notified_event"] == "request.filed" and failed[0]["notified_seq"] == filed["seq"]
    assert failed[0]["reason"] == "exited with status 22", failed[0]
    r = run([notify.jitctl, "show", str(n), "--json"], user=DEV)
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "pending"


# 2. Timeouts and failures never touch the user's action ------------------------------------------

def test_hanging_notifier_is_killed_at_the_timeout_and_the_request_still_succeeds(notify):
    hang = script("hang-notifier", f"echo $$ > {notify.out}/pid\nsleep 60.5\necho never > {notify.out}/after\n")
    use_policy(notify, notify_section([hang], timeout="4s", events=["request.filed"]))

    n, took = file_request(notify, "/usr/bin/true")
    assert took < 4, f"jitexec waited for the notifier ({took:.1f}s); it must only start it"
    pid = int(wait_until("the notifier started", lambda: open(f"{notify.out}/pid").read().strip()
                         if os.path.exists(f"{notify.out}/pid") else None))
    assert pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name == "nobody", "the notifier runs as run_as"
    assert events(notify, "notify.failed") == [], "still running: not failed yet"

    failed = wait_until("notify.failed", lambda: events(notify, "notify.failed"), timeout=15)
    filed = record_of(notify, "request.filed", n)
    assert only(failed)["reason"] == "timed out after 4s and was killed", failed
    assert failed[0]["notified_seq"] == filed["seq"] and failed[0]["run_as"] == "nobody"
    assert failed[0]["command"] == [hang]
    leftover = subprocess.run(["pgrep", "-u", "nobody", "-f", "hang-notifier|sleep 60.5"], capture_output=True, text=True)
    assert leftover.stdout == "", f"notifier processes left behind: {leftover.stdout}"
    assert not os.path.exists(f"{notify.out}/after")

    # The request is untouched: approve it and the command runs.
    grant_id(approve(notify, n, LEAD))
    r = run([notify.jitexec, "-S", "/usr/bin/true"], user=DEV, input=password(DEV) + "\n")
    assert (r.returncode, r.stderr) == (0, "")


def test_failing_notifier_is_audited_with_its_status_and_runs_as_run_as(notify):
    fail = script("fail-notifier", f"""\
cat > {notify.out}/event-$JITEXEC_SEQ.json
id -u > {notify.out}/uid
id -G > {notify.out}/groups
pwd > {notify.out}/cwd
env > {notify.out}/env
exit 3
""")
    use_policy(notify, notify_section([fail], timeout="10s"))
    n, _ = file_request(notify, "/usr/bin/id", "-u")
    filed = record_of(notify, "request.filed", n)
    failed = wait_until("notify.failed", lambda: events(notify, "notify.failed"))
    assert only(failed)["reason"] == "exited with status 3" and failed[0]["notified_event"] == "request.filed"
    assert failed[0]["notified_seq"] == filed["seq"] and failed[0]["actor"] == "root"

    with open(f"{notify.out}/event-{filed['seq']}.json") as f:
        raw = f.read()
    assert raw.endswith("}\n") and raw.count("\n") == 1, "one JSON object, one line"
    assert audit_record(raw) == filed
    assert open(f"{notify.out}/uid").read().split() == [str(NOBODY.pw_uid)]
    assert open(f"{notify.out}/groups").read().split() == [str(NOBODY.pw_gid)]
    assert open(f"{notify.out}/cwd").read().strip() == "/"
    env = dict(line.split("=", 1) for line in open(f"{notify.out}/env").read().splitlines() if "=" in line)
    assert set(env) <= {"PATH", "LANG", "HOME", "JITEXEC_EVENT", "JITEXEC_SEQ", "JITEXEC_NOTIFY_TEXT", "PWD"}, env
    assert env["JITEXEC_EVENT"] == "request.filed" and env["JITEXEC_SEQ"] == str(filed["seq"])
    assert f"request #{n}" in json.loads(env["JITEXEC_NOTIFY_TEXT"])

    # The approval and the run go on as if nothing failed; the approval's notifier fails too.
    r = approve(notify, n, LEAD)
    g = grant_id(r)
    # Nothing but the password prompt, which -S prints unless jit-lead1's credential cache is fresh.
    assert without_prompts(r.stderr) == "", r.stderr
    wait_until("the second notify.failed", lambda: len(events(notify, "notify.failed")) == 2)
    done = run([notify.jitexec, "-S", "/usr/bin/id", "-u"], user=DEV, input=password(DEV) + "\n")
    assert (done.returncode, done.stdout.strip()) == (0, "0"), (done.returncode, done.stdout, done.stderr)
    assert only(events(notify, "grant.used"))["grant"] == g


def test_a_user_cannot_run_the_notification_runner(notify):
    use_policy(notify, notify_section([script("never", f"touch {notify.out}/ran\n")], events=["request.filed"]))
    n, _ = file_request(notify, "/usr/bin/true")
    wait_until("the notifier ran", lambda: os.path.exists(f"{notify.out}/ran"))
    os.unlink(f"{notify.out}/ran")
    seq = record_of(notify, "request.filed", n)["seq"]
    for user in (DEV, LEAD):
        r = run([notify.jitctl, "notify-run", str(seq)], user=user)
        assert r.returncode == 1
        assert r.stderr == "jitctl: notify-run is started by jitexec itself after an audit event; it cannot be run by hand\n"
    time.sleep(1)
    assert not os.path.exists(f"{notify.out}/ran")
    assert events(notify, "notify.failed") == []


# 3. Approvers' terminals --------------------------------------------------------------------------

class Utmpx(ctypes.Structure):
    """glibc's struct utmpx on x86_64 (384 bytes)."""
    _fields_ = [("ut_type", ctypes.c_short), ("ut_pid", ctypes.c_int), ("ut_line", ctypes.c_char * 32),
                ("ut_id", ctypes.c_char * 4), ("ut_user", ctypes.c_char * 32), ("ut_host", ctypes.c_char * 256),
                ("ut_exit", ctypes.c_short * 2), ("ut_session", ctypes.c_int32), ("tv_sec", ctypes.c_int32),
                ("tv_usec", ctypes.c_int32), ("ut_addr_v6", ctypes.c_int32 * 4), ("reserved", ctypes.c_char * 20)]


USER_PROCESS, DEAD_PROCESS = 7, 8
UTMP = "/var/run/utmp"


def put_utmp(kind, line, user, pid):
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.pututxline.restype = ctypes.c_void_p
    entry = Utmpx(ut_type=kind, ut_pid=pid, ut_line=line.encode(), ut_id=line.encode()[-4:],
                  ut_user=user.encode(), ut_host=b"jitexec-test", tv_sec=int(time.time()))
    libc.setutxent()
    done = libc.pututxline(ctypes.byref(entry))
    libc.endutxent()
    assert done, f"pututxline: {os.strerror(ctypes.get_errno())}"


@pytest.fixture
def approver_terminal(notify):
    """jit-lead1's interactive shell on a terminal (owned by jit-lead1, `mesg y`), logged in utmpx."""
    assert ctypes.sizeof(Utmpx) == 384
    created = not os.path.exists(UTMP)
    if created:
        open(UTMP, "wb").close()
        os.chmod(UTMP, 0o664)
    shell, line = None, None
    try:
        shell = spawn(notify, LEAD, ["/bin/bash", "--norc", "--noprofile", "-i"])
        shell.sendline("PS1='le''ad$ '; tty")  # the echo of this line does not match the prompt
        shell.expect(r"/dev/(pts/\d+)")
        line = shell.match.group(1)
        shell.expect("lead\\$ ")
        lead = pwd.getpwnam(LEAD)
        os.chown(f"/dev/{line}", lead.pw_uid, 5)  # group tty, as login sets it
        os.chmod(f"/dev/{line}", 0o620)
        put_utmp(USER_PROCESS, line, LEAD, shell.pid)
        yield shell
    finally:
        if line is not None:
            put_utmp(DEAD_PROCESS, line, "", 0)
        if shell is not None:
            shell.close(force=True)
        if created:
            os.unlink(UTMP)


def marked_notifier(notify):
    """A [notify] whose notifier leaves a mark per event: the runner writes to terminals first, so
    once the mark is there, whatever the approver's terminal was going to get has been written."""
    return notify_section([script("mark", f"cat > {notify.out}/mark-$JITEXEC_SEQ\n")], events=["request.filed"])


def test_logged_in_approver_sees_the_new_request_escaped(notify, approver_terminal):
    use_policy(notify, marked_notifier(notify))
    reason = "fix \x1b[2J\x1b[31mRED\r\nlead$ fake prompt"
    n, _ = file_request(notify, "/usr/bin/id", "-g", reason=reason)
    shell = approver_terminal
    shell.expect(rf"jitexec: {DEV} asks to run /usr/bin/id -g as root on \S+ \(request #{n}, rule restart\)", timeout=20)
    message = shell.after
    shell.expect(r"reason: fix \\x1b\[2J\\x1b\[31mRED\\r\\nlead\$ fake prompt", timeout=5)
    message += shell.before + shell.after
    shell.expect(rf"'jitctl show {n}' shows it; 'jitctl approve {n}' or 'jitctl deny {n} -m WHY' decides it", timeout=5)
    message += shell.before + shell.after
    assert "\x1b" not in message and "\r\nlead$ fake" not in message, f"escaped on the terminal: {message!r}"


def test_approver_with_mesg_n_gets_nothing(notify, approver_terminal):
    use_policy(notify, marked_notifier(notify))
    shell = approver_terminal
    shell.sendline("mesg n; echo mesg-is-$(mesg)")
    shell.expect("mesg-is-is n")
    shell.expect("lead\\$ ")
    n, _ = file_request(notify, "/usr/bin/id", "-g", reason="please")
    seq = record_of(notify, "request.filed", n)["seq"]
    wait_until("the notifier ran", lambda: os.path.exists(f"{notify.out}/mark-{seq}"))
    with pytest.raises(pexpect.TIMEOUT):
        shell.expect("asks to run", timeout=2)

    # mesg y again: the next request is shown.
    shell.sendline("mesg y")
    shell.expect("lead\\$ ")
    m, _ = file_request(notify, "/usr/bin/true")
    shell.expect(rf"jitexec: {DEV} asks to run /usr/bin/true as root on \S+ \(request #{m}, rule restart\)", timeout=20)


def test_logged_in_approver_is_told_of_a_break_glass_use_without_any_notify_section(notify, approver_terminal):
    """The break-glass banner promises that approvers are told: with no [notify] at all, the logged-in
    approver's terminal still gets who took access, what, where, until when and why."""
    use_policy(notify, 'break_glass = true\n\n[oncall]\ngroup = "jit-developers"\n')
    r = run([notify.jitexec, "-S", "--break-glass", "-r", "INC-77 disk full", "/usr/bin/id", "-u"], user=DEV,
            input=password(DEV) + "\n")
    assert r.returncode == 0, (r.returncode, r.stderr)
    shell = approver_terminal
    shell.expect(rf"BREAK-GLASS: {DEV} took immediate access: /usr/bin/id -u as root on \S+ until "
                 r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+, reason: INC-77 disk full; review with 'jitctl review'", timeout=20)
