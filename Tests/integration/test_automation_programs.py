"""The automated approvers jitexec ships (issue 14), `maintenance-window` and `ticket-check`, run
straight from packaging/automation/ the way jitexec runs them: as `nobody` (when the suite runs as
root), cwd /, umask 077, a session of their own, the request JSON on stdin and exactly the documented
environment. Each test asserts the one JSON decision the program prints. maintenance-window reads
window files in a root-owned temporary directory; ticket-check asks a ticket API on 127.0.0.1 that
this file starts. Neither needs the installed binary."""
import http.server
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import ROOT

PROGRAMS = os.path.join(ROOT, "packaging", "automation")
MAINTENANCE_WINDOW = os.path.join(PROGRAMS, "maintenance-window")
TICKET_CHECK = os.path.join(PROGRAMS, "ticket-check")
NOBODY = pwd.getpwnam("nobody")
AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="the window file must be root-owned: run as root")


# --- running a program as jitexec does ------------------------------------------------------------

def environment(automation, rule="deploy", ticket=None, reason=None):
    """The environment jitexec gives an automation, exactly."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/", "JITEXEC_AUTOMATION": automation,
           "JITEXEC_REQUEST": "42", "JITEXEC_REQUESTER": "jit-dev1", "JITEXEC_RULE": rule}
    if ticket is not None:
        env["JITEXEC_TICKET"] = ticket
    if reason:
        env["JITEXEC_REASON"] = reason
    return env


def request_json(automation, rule="deploy", ticket=None, reason=None):
    """The request object on the program's stdin, as in the interface (one object and a newline)."""
    request = {"id": 42, "status": "pending", "requester": "jit-dev1", "run_as": "root", "host": "myhost",
               "command": ["/usr/bin/true"], "rule": rule, "reason": reason or "", "ticket": ticket,
               "created_at": "2026-12-03T10:00:00.000000Z", "expires_at": "2026-12-03T11:00:00.000000Z",
               "approvals": [], "approvals_needed": 2, "scope": "command", "once": False}
    return json.dumps({"schema": {"name": "jitexec.automation.request", "version": 1}, "automation": automation,
                       "run": 1, "now": "2026-12-03T10:00:00.000000Z", "host": "myhost",
                       "rule": {"name": rule, "approvers": ["%jit-sre-leads", f"@{automation}"], "approvals": 2},
                       "request": request}) + "\n"


def identity():
    """The account the program runs as: `nobody` when we are root (as jitexec's default run_as)."""
    if not AS_ROOT:
        return {}
    return dict(user=NOBODY.pw_uid, group=NOBODY.pw_gid, extra_groups=[])


def start(program, args, rule="deploy", ticket=None, reason=None):
    """Starts the program as jitexec does; the request is written to its stdin, which stays open."""
    automation = os.path.basename(program)
    p = subprocess.Popen([program, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=environment(automation, rule, ticket, reason), cwd="/",
                         umask=0o077, start_new_session=True, close_fds=True, **identity())
    try:
        p.stdin.write(request_json(automation, rule, ticket, reason).encode())
        p.stdin.flush()
    except BrokenPipeError:
        pass  # it ended without reading its input, which it may
    return p


def run(program, args, rule="deploy", ticket=None, reason=None, timeout=10):
    """Runs the program to its end and returns (exit status, stdout). Its stdin stays open until it
    has exited, as a program must not wait for the end of its input."""
    p = start(program, args, rule, ticket, reason)
    out = []
    reader = threading.Thread(target=lambda: out.append(p.stdout.read()), daemon=True)
    reader.start()
    reader.join(timeout)
    try:
        assert not reader.is_alive(), f"{program} {args} did not finish within {timeout}s"
        status = p.wait(timeout=timeout)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass  # what was left of the request in the pipe's buffer: it ended without reading it, which it may
        p.stdout.close()
    return status, out[0].decode()


def decision(program, args, **kw):
    """The one JSON object the program printed (exit status 0, nothing else on stdout), checked
    against the interface: decision, comment (at most 1000 bytes), duration on an approval only."""
    status, out = run(program, args, **kw)
    assert status == 0, (status, out)
    value = json.loads(out)  # raises on no output, two objects or trailing garbage
    assert isinstance(value, dict) and value.get("decision") in ("approve", "deny", "abstain"), out
    assert set(value) <= {"decision", "comment", "duration"}, out
    assert isinstance(value.get("comment", ""), str) and len(value.get("comment", "").encode()) <= 1000, out
    assert "duration" not in value or value["decision"] == "approve", out
    return value


def abstains(comment):
    return {"decision": "abstain", "comment": comment}


# --- maintenance-window ---------------------------------------------------------------------------

WINDOWS = """\
# The maintenance windows of this host: FROM TO [RULE...]
2026-12-03T02:00:00Z      2026-12-03T04:00:00Z

2026-12-05T00:00:00Z      2026-12-05T06:00:00Z        deploy restart-db
2026-12-10T22:00:00+01:00 2026-12-11T01:00:00+01:00   # a winter night, in local time
"""


@pytest.fixture
def windows():
    """A trusted window file (root:root 0644) in a root-owned 0755 directory under /tmp; write()
    replaces its text."""
    top = tempfile.mkdtemp(prefix="jitexec-windows-")
    os.chmod(top, 0o755)

    class Windows:
        dir = top
        path = os.path.join(top, "maintenance-windows")

        def write(self, text):
            with open(self.path, "w") as f:
                f.write(text)
            os.chmod(self.path, 0o644)

    w = Windows()
    w.write(WINDOWS)
    yield w
    shutil.rmtree(top, ignore_errors=True)


def window(w, now, rule="deploy", path=None):
    return decision(MAINTENANCE_WINDOW, ["--file", path or w.path, "--now", now], rule=rule)


@needs_root
@pytest.mark.parametrize("now, duration", [
    ("2026-12-03T02:00:00Z", "7200s"),   # its first second
    ("2026-12-03T03:00:00Z", "3600s"),
    ("2026-12-03T03:59:59Z", "1s"),      # its last second: the grant ends with the window
])
def test_inside_a_window_approves_until_the_window_ends(windows, now, duration):
    assert window(windows, now) == {"decision": "approve", "duration": duration,
                                    "comment": "inside the maintenance window 2026-12-03T02:00:00Z to 2026-12-03T04:00:00Z"}


@needs_root
def test_a_window_with_an_offset_ends_at_its_own_instant(windows):
    # 21:30Z is 22:30+01:00; the window ends at 01:00+01:00 = 00:00Z, 9000 s later.
    assert window(windows, "2026-12-10T21:30:00Z") == {
        "decision": "approve", "duration": "9000s",
        "comment": "inside the maintenance window 2026-12-10T22:00:00+01:00 to 2026-12-11T01:00:00+01:00"}


@needs_root
@pytest.mark.parametrize("now, rule, nxt", [
    ("2026-12-03T01:59:59Z", "deploy", "2026-12-03T02:00:00Z"),
    ("2026-12-03T04:00:00Z", "deploy", "2026-12-05T00:00:00Z"),           # TO is not in the window
    ("2026-12-03T04:00:00Z", "other", "2026-12-10T22:00:00+01:00"),       # the deploy-only window is not ahead for it
])
def test_outside_every_window_abstains_and_names_the_next(windows, now, rule, nxt):
    assert window(windows, now, rule=rule) == abstains(f"outside every maintenance window (next: {nxt})")


@needs_root
def test_after_the_last_window_there_is_none_ahead(windows):
    assert window(windows, "2027-01-01T00:00:00Z") == abstains("no maintenance window ahead")
    windows.write("# no windows planned\n\n")
    assert window(windows, "2026-12-03T03:00:00Z") == abstains("no maintenance window ahead")


@needs_root
def test_a_window_naming_rules_approves_only_their_requests(windows):
    inside = {"decision": "approve", "duration": "18000s",
              "comment": "inside the maintenance window 2026-12-05T00:00:00Z to 2026-12-05T06:00:00Z"}
    assert window(windows, "2026-12-05T01:00:00Z", rule="deploy") == inside
    assert window(windows, "2026-12-05T01:00:00Z", rule="restart-db") == inside
    assert window(windows, "2026-12-05T01:00:00Z", rule="deploy-canary") == \
        abstains("outside every maintenance window (next: 2026-12-10T22:00:00+01:00)")
    assert window(windows, "2026-12-05T01:00:00Z", rule="") == \
        abstains("outside every maintenance window (next: 2026-12-10T22:00:00+01:00)")


@needs_root
@pytest.mark.parametrize("line, problem", [
    ("2026-12-20T00:00:00Z", " is not 'FROM TO [RULE...]'"),
    ("2026-12-20 00:00:00Z 2026-12-21T00:00:00Z", ": FROM is not an RFC 3339 time"),
    ("2026-12-20T00:00:00Z tomorrow", ": TO is not an RFC 3339 time"),
    ("2026-02-29T00:00:00Z 2026-03-01T00:00:00Z", ": FROM is not an RFC 3339 time"),    # no such day
    ("2026-12-20T00:00:00.5Z 2026-12-21T00:00:00Z", ": FROM is not an RFC 3339 time"),  # whole seconds
    ("2026-12-20T00:00:00 2026-12-21T00:00:00Z", ": FROM is not an RFC 3339 time"),     # no zone
    ("2026-12-20T02:00:00Z 2026-12-20T01:00:00Z", ": the window ends before it starts"),
])
def test_one_malformed_line_makes_the_whole_file_unusable(windows, line, problem):
    # Even inside a well-formed window: a file it cannot fully read approves nothing.
    windows.write(WINDOWS + line + "\n")
    assert window(windows, "2026-12-03T03:00:00Z") == abstains(f"line 6 of {windows.path}{problem}")


@needs_root
@pytest.mark.parametrize("spoil, problem", [
    (lambda w: os.chown(w.path, NOBODY.pw_uid, 0), "it is not owned by root"),
    (lambda w: os.chmod(w.path, 0o664), "it is writable by group or others"),
    (lambda w: os.chmod(w.path, 0o646), "it is writable by group or others"),
    (lambda w: os.unlink(w.path), "it does not exist"),
])
def test_an_untrusted_window_file_approves_nothing(windows, spoil, problem):
    spoil(windows)
    assert window(windows, "2026-12-03T03:00:00Z") == abstains(f"not using {windows.path}: {problem}")


@needs_root
def test_a_symbolic_link_or_a_directory_others_may_write_is_not_trusted(windows):
    link = os.path.join(windows.dir, "link")
    os.symlink(windows.path, link)
    assert window(windows, "2026-12-03T03:00:00Z", path=link) == abstains(f"not using {link}: it is a symbolic link")
    os.chown(windows.dir, NOBODY.pw_uid, NOBODY.pw_gid)
    assert window(windows, "2026-12-03T03:00:00Z") == \
        abstains(f"not using {windows.path}: its directory {windows.dir} is not owned by root")
    os.chown(windows.dir, 0, 0)
    os.chmod(windows.dir, 0o777)
    assert window(windows, "2026-12-03T03:00:00Z") == \
        abstains(f"not using {windows.path}: its directory {windows.dir} is writable by group or others")


@needs_root
def test_a_comment_naming_an_odd_path_is_still_one_json_string(windows):
    odd = os.path.join(windows.dir, 'we"ird\\dir')
    os.mkdir(odd, 0o755)
    path = os.path.join(odd, "windows")
    assert window(windows, "2026-12-03T03:00:00Z", path=path) == abstains(f"not using {path}: it does not exist")


def test_maintenance_window_usage_errors_exit_2_and_print_no_decision():
    for args in (["--now", "tomorrow"], ["--file"], ["--frobnicate"]):
        status, out = run(MAINTENANCE_WINDOW, args)
        assert (status, out) == (2, ""), args


def test_maintenance_window_reads_the_default_file():
    # The repository's default path (make install rewrites it to the install's SYSCONFDIR).
    with open(MAINTENANCE_WINDOW) as f:
        assert "\nfile=/etc/jitexec/maintenance-windows\n" in f.read()
    if os.path.lexists("/etc/jitexec/maintenance-windows"):
        pytest.skip("this host has a real /etc/jitexec/maintenance-windows")
    assert decision(MAINTENANCE_WINDOW, []) == \
        abstains("not using /etc/jitexec/maintenance-windows: it does not exist")


# --- ticket-check ---------------------------------------------------------------------------------

class TicketAPI:
    """A ticket API on 127.0.0.1 (random port): GET /tickets/ID answers from `tickets` (ID ->
    (status, body, delay seconds)), 404 otherwise. It keeps every request's path and headers, and,
    while answering, the command lines of every process that show the bearer `secret`."""

    def __init__(self):
        self.tickets, self.seen, self.exposed = {}, [], []
        self.secret = None
        self.released = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):
                api.seen.append((self.path, dict(self.headers)))
                if api.secret:
                    api.exposed += [c for c in command_lines() if api.secret in c]
                status, body, delay = api.tickets.get(self.path.removeprefix("/tickets/"), (404, b'{"error": "no such ticket"}', 0))
                if delay:
                    api.released.wait(delay)
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", body.decode())
                    body = b""
                self.send_header("Content-Type", "application/json")
                if not isinstance(body, StreamedBody):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(bytes(body))
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tickets"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def add(self, ticket, body, status=200, delay=0):
        self.tickets[ticket] = (status, body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode(), delay)

    def paths(self):
        return [path for path, _ in self.seen]

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class StreamedBody(bytes):
    """A body sent without Content-Length (the connection's end delimits it)."""


def command_lines():
    lines = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                lines.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    return lines


@pytest.fixture
def api():
    server = TicketAPI()
    yield server
    server.close()


def ticket(api, *extra, ticket=None, reason=None):
    return decision(TICKET_CHECK, ["--api", api.url, *extra], ticket=ticket, reason=reason)


def test_an_approved_ticket_approves(api):
    api.add("CHG-42", {"id": "CHG-42", "summary": "deploy", "status": "approved"})
    assert ticket(api, ticket="CHG-42") == {"decision": "approve", "comment": "ticket CHG-42 is approved"}
    assert api.paths() == ["/tickets/CHG-42"]


def test_an_open_ticket_abstains_naming_its_state(api):
    api.add("CHG-42", {"status": "open"})
    assert ticket(api, ticket="CHG-42") == abstains("ticket CHG-42 is in state 'open'")


def test_a_state_named_by_deny_denies_and_approved_states_are_configurable(api):
    api.add("CHG-7", {"status": "rejected"})
    api.add("CHG-8", {"status": "Ready to deploy"})
    assert ticket(api, "--deny", "rejected", ticket="CHG-7") == {"decision": "deny", "comment": "ticket CHG-7 is rejected"}
    assert ticket(api, ticket="CHG-7") == abstains("ticket CHG-7 is in state 'rejected'")
    assert ticket(api, "--approved", "approved", "--approved", "Ready to deploy", ticket="CHG-8") == \
        {"decision": "approve", "comment": "ticket CHG-8 is Ready to deploy"}
    assert ticket(api, "--approved", "Ready", ticket="CHG-8") == abstains("ticket CHG-8 is in state 'Ready to deploy'")


def test_another_field_is_read_with_field(api):
    api.add("CHG-9", {"status": "open", "approval_state": "approved"})
    assert ticket(api, "--field", "approval_state", ticket="CHG-9") == \
        {"decision": "approve", "comment": "ticket CHG-9 is approved"}


def test_requester_field_approves_only_the_requesters_own_ticket(api):
    """A ticket approved for someone else's change approves nothing with --requester-field."""
    api.add("CHG-42", {"status": "approved", "assignee": "jit-dev1"})
    api.add("CHG-43", {"status": "approved", "assignee": "jit-dev2"})
    api.add("CHG-44", {"status": "approved"})
    api.add("CHG-45", {"status": "approved", "assignee": "jit-dev1", "links": {"assignee": "jit-dev2"}})
    api.add("CHG-46", {"status": "approved", "assignee": "jit-dev1 <@here>"})
    check = ("--requester-field", "assignee")
    assert ticket(api, *check, ticket="CHG-42") == {"decision": "approve", "comment": "ticket CHG-42 is approved"}
    assert ticket(api, *check, ticket="CHG-43") == abstains("ticket CHG-43 belongs to jit-dev2, not to jit-dev1")
    assert ticket(api, *check, ticket="CHG-44") == abstains("ticket CHG-44: the ticket API's answer has no \"assignee\"")
    assert ticket(api, *check, ticket="CHG-45") == \
        abstains("ticket CHG-45: the ticket API's answer has \"assignee\" more than once")
    assert ticket(api, *check, ticket="CHG-46") == abstains("ticket CHG-46 belongs to someone else")
    # Without it, the state alone decides.
    assert ticket(api, ticket="CHG-43") == {"decision": "approve", "comment": "ticket CHG-43 is approved"}
    assert run(TICKET_CHECK, ["--api", api.url, "--requester-field", "a.b"], ticket="CHG-42") == (2, "")


@pytest.mark.parametrize("status", [404, 500, 302])
def test_an_http_status_other_than_2xx_abstains_with_the_status(api, status):
    if status == 302:
        api.add("CHG-42", f"{api.url}/CHG-43".encode(), status=302)
        api.add("CHG-43", {"status": "approved"})
    elif status == 500:
        api.add("CHG-42", {"status": "approved"}, status=500)
    assert ticket(api, ticket="CHG-42") == abstains(f"ticket CHG-42: the ticket API answered HTTP {status}")
    assert api.paths() == ["/tickets/CHG-42"], "no redirect is followed"


def test_a_slow_api_abstains_at_max_time(api):
    api.add("CHG-42", {"status": "approved"}, delay=5)
    started = time.monotonic()
    assert ticket(api, "--max-time", "1", ticket="CHG-42") == abstains("ticket CHG-42: the ticket API did not answer within 1s")
    assert time.monotonic() - started < 1.8


def test_an_api_nobody_listens_on_abstains():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The port is closed again: nothing listens there now.
    assert decision(TICKET_CHECK, ["--api", f"http://127.0.0.1:{port}/tickets"], ticket="CHG-42") == \
        abstains("ticket CHG-42: cannot connect to the ticket API")


def test_the_ticket_from_t_wins_over_the_reason(api):
    api.add("CHG-1", {"status": "open"})
    api.add("CHG-42", {"status": "approved"})
    assert ticket(api, ticket="CHG-1", reason="roll out CHG-42") == abstains("ticket CHG-1 is in state 'open'")
    assert api.paths() == ["/tickets/CHG-1"]


def test_the_ticket_is_the_first_match_in_the_reason(api):
    api.add("CHG-42", {"status": "approved"})
    assert ticket(api, reason="roll out CHG-42, see also OPS-7") == {"decision": "approve", "comment": "ticket CHG-42 is approved"}
    api.add("42", {"status": "approved"})
    assert ticket(api, "--pattern", "#[0-9]+", reason="fix for #42") == \
        abstains("the ticket id is not 1 to 64 letters, digits, '.', '_' or '-' (the first a letter or digit)")
    assert ticket(api, "--pattern", "[0-9]{2,}", reason="fix for #42") == {"decision": "approve", "comment": "ticket 42 is approved"}
    assert api.paths() == ["/tickets/CHG-42", "/tickets/42"]


@pytest.mark.parametrize("tkt, reason", [(None, None), (None, "routine restart, no change ticket"), ("", "lowercase chg-42")])
def test_no_ticket_abstains_without_asking(api, tkt, reason):
    assert ticket(api, ticket=tkt, reason=reason) == abstains("no ticket id in the request")
    assert api.seen == []


@pytest.mark.parametrize("hostile", ["../x", "A-1;rm", "..", ".hidden", "CHG-42/../../admin", "CHG-42?x=1", "CHG 42",
                                     "CHG-42\n../x", "x" * 65, "CHG-42%2f..", "CHG-\u0664\u0662"])
def test_a_hostile_ticket_id_never_reaches_the_api(api, hostile):
    api.add("CHG-42", {"status": "approved"})
    assert ticket(api, ticket=hostile) == \
        abstains("the ticket id is not 1 to 64 letters, digits, '.', '_' or '-' (the first a letter or digit)")
    # Nor through a pattern that lets anything through from the reason (its first line: the id
    # CHG-42 is fine there, so that case is -T's alone).
    if "\n" not in hostile:
        assert ticket(api, "--pattern", ".+", reason=hostile) == \
            abstains("the ticket id is not 1 to 64 letters, digits, '.', '_' or '-' (the first a letter or digit)")
    assert api.seen == []


@pytest.mark.parametrize("body, problem", [
    (b'{"status": "approved", "fields": {"status": "approved"}}', "the ticket API's answer has \"status\" more than once"),
    (b'{"status": "open", "status": "approved"}', "the ticket API's answer has \"status\" more than once"),
    (b'{"status": 1}', "\"status\" in the ticket API's answer is not a string"),
    (b'{"status": null}', "\"status\" in the ticket API's answer is not a string"),
    (b'{"status": ["approved"]}', "\"status\" in the ticket API's answer is not a string"),
    (b'{"status": "appro\\u0076ed"}', "\"status\" in the ticket API's answer is a string with escapes"),
    (b'{"status": "approved\\"}', "\"status\" in the ticket API's answer is a string with escapes"),
    (b'{"state": "approved"}', "the ticket API's answer has no \"status\""),
    (b'{"note": "\\"status\\": \\"approved\\""}', "the ticket API's answer has no \"status\""),
    (b'["status", "approved"]', "the ticket API's answer is not a JSON object"),
    (b'approved', "the ticket API's answer is not a JSON object"),
    (b'', "the ticket API's answer is empty"),
    (b'{"approved": "status"}', "\"status\" in the ticket API's answer is not a key"),
])
def test_an_answer_it_cannot_read_for_sure_abstains(api, body, problem):
    api.add("CHG-42", body)
    assert ticket(api, ticket="CHG-42") == abstains(f"ticket CHG-42: {problem}")


def test_a_spaced_multi_line_answer_reads(api):
    api.add("CHG-42", b'{\n  "id" : "CHG-42",\n  "status"\t:\r\n  "approved",\n  "n": 3\n}\n')
    assert ticket(api, ticket="CHG-42") == {"decision": "approve", "comment": "ticket CHG-42 is approved"}


@pytest.mark.parametrize("state, said", [
    ("in review", "is in state 'in review'"),
    ("<b>x</b>", "is in an unrecognised state"),
    ("\u00e9tat", "is in an unrecognised state"),
    ("x" * 41, "is in an unrecognised state"),
    ("", "is in an unrecognised state"),
])
def test_an_unknown_state_is_quoted_only_when_it_is_plain(api, state, said):
    api.add("CHG-42", {"status": state})
    assert ticket(api, ticket="CHG-42") == abstains(f"ticket CHG-42 {said}")


@pytest.mark.parametrize("length", ["announced", "streamed"])
def test_an_answer_over_64_kib_abstains(api, length):
    body = b'{"status": "approved", "pad": "' + b"x" * 70000 + b'"}'
    api.add("CHG-42", body if length == "announced" else StreamedBody(body))
    assert ticket(api, ticket="CHG-42") == abstains("ticket CHG-42: the ticket API's answer is larger than 64 KiB")


def test_the_token_goes_as_a_bearer_header_and_never_into_a_command_line(api):
    secret = "tok-" + os.urandom(12).hex()
    api.secret = secret
    folder = tempfile.mkdtemp(prefix="jitexec-token-")
    try:
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "ticket.token")
        with open(path, "w") as f:
            f.write(secret + "\nsecond line is not read\n")
        # Readable by the program's account only, as the policy's run_as would have it.
        os.chown(path, *((NOBODY.pw_uid, NOBODY.pw_gid) if AS_ROOT else (os.geteuid(), os.getegid())))
        os.chmod(path, 0o400)
        api.add("CHG-42", {"status": "approved"})
        assert ticket(api, "--token-file", path, ticket="CHG-42") == {"decision": "approve", "comment": "ticket CHG-42 is approved"}
        (_, headers), = api.seen
        assert headers.get("Authorization") == f"Bearer {secret}"
        assert api.exposed == [], f"the token showed in a process list: {api.exposed}"
        os.unlink(path)
        assert ticket(api, "--token-file", path, ticket="CHG-42") == abstains(f"cannot read the token file {path}")
        assert len(api.seen) == 1, "no request without the token"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("args", [
    [], ["--api"], ["--api", "ftp://tickets/x"], ["--api", "http://tickets/a b"], ['--api', 'http://tickets/"x'],
    ["--api", "http://tickets", "--field", "a.b"], ["--api", "http://tickets", "--approved", "it's"],
    ["--api", "http://tickets", "--max-time", "0"], ["--api", "http://tickets", "--pattern", "("],
    ["--api", "http://tickets", "--frobnicate"],
])
def test_ticket_check_usage_errors_exit_2_and_print_no_decision(args):
    assert run(TICKET_CHECK, args, ticket="CHG-42") == (2, "")


def test_both_programs_are_posix_sh():
    for program in (MAINTENANCE_WINDOW, TICKET_CHECK):
        with open(program) as f:
            assert f.readline() == "#!/bin/sh\n", program
        assert os.stat(program).st_mode & 0o777 == 0o755, program
        r = subprocess.run(["dash", "-n", program], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

