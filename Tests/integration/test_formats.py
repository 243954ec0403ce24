"""The JSON that scripts read has the shape man/jitexec-formats.5 documents (issue 12): every
`--json` line of `jitctl requests`, `show`, `grants`, `review`, `sessions` and `log` names its
`schema`, has exactly the documented keys, each of the documented type; every audit event's
`fields` holds only documented keys of documented types, and every key documented without
"or null" is there. The page is parsed here, so the documentation and the binary cannot drift
apart without this test failing."""
import json
import os
import re

import pytest

from loop_support import approve, grant_id, password, request_id, run, with_policy

DEV = "jit-dev1"
LEAD = "jit-lead1"
PAGE = os.path.join(os.path.dirname(__file__), "..", "..", "man", "jitexec-formats.5")

POLICY = """\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"

[oncall]
group = "jit-sre-leads"

[[rule]]
name = "ids"
users = ["%jit-developers"]
commands = ["/usr/bin/id", "/usr/bin/id -u", "/usr/bin/id -g"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1

[[rule]]
name = "anything-true"
users = ["%jit-developers"]
commands = ["/usr/bin/true **"]
action = "approve"
approvers = ["%jit-sre-leads"]
scope = "rule"

[[rule]]
name = "glass"
users = ["%jit-sre-leads"]
commands = ["/usr/bin/true"]
action = "approve"
approvers = ["%jit-developers"]
break_glass = true
record = true
"""


def documented():
    """(schemas, events) from the page: {name: {key: (type, nullable)}}."""
    schemas, events = {}, {}
    current, depth = None, 0
    with open(PAGE) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".Sh "):
                current, depth = None, 0
            elif m := re.fullmatch(r"\.Ss Schema (\S+), version (\d+)", line):
                current, depth = schemas.setdefault((m.group(1), int(m.group(2))), {}), 0
            elif m := re.fullmatch(r"\.Ss Event (\S+)", line):
                current, depth = events.setdefault(m.group(1), {}), 0
            elif line.startswith(".Ss "):
                current, depth = None, 0
            elif current is not None and line.startswith(".Bl"):
                depth += 1
            elif current is not None and line.startswith(".El"):
                depth -= 1
                if depth == 0:
                    current = None
            elif current is not None and depth == 1 and (m := re.fullmatch(r"\.It Li (\S+) Pq (.+)", line)):
                kind = m.group(2)
                nullable = kind.endswith(" or null")
                current[m.group(1)] = (kind.removesuffix(" or null"), nullable)
    return schemas, events


TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")


def is_text(v):
    return isinstance(v, str) or (isinstance(v, dict) and set(v) == {"hex"} and isinstance(v["hex"], str))


CHECKS = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "time": lambda v: isinstance(v, str) and TIME.fullmatch(v) is not None,
    "text": is_text,
    "argv": lambda v: isinstance(v, list) and all(is_text(w) for w in v),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def problems(obj, doc, where):
    """What is wrong with `obj` against `doc`: unknown keys, missing required keys, wrong types."""
    found = []
    for key, value in obj.items():
        if key not in doc:
            found.append(f"{where}: key {key!r} is not documented")
            continue
        kind, nullable = doc[key]
        if value is None and not nullable:
            found.append(f"{where}: {key} is null, documented as {kind}")
        elif value is not None and not CHECKS[kind](value):
            found.append(f"{where}: {key}={value!r} is not a {kind}")
    for key, (kind, nullable) in doc.items():
        if not nullable and key not in obj:
            found.append(f"{where}: documented key {key!r} ({kind}) is missing")
    return found


def test_the_page_documents_every_schema_in_the_closed_type_vocabulary():
    schemas, events = documented()
    assert {name for name, _ in schemas} == {"jitexec.request", "jitexec.grant", "jitexec.breakglass",
                                             "jitexec.session", "jitexec.audit",
                                             "jitexec.automation.request"}, schemas.keys()
    assert len(events) >= 20, events.keys()
    for doc in list(schemas.values()) + list(events.values()):
        for key, (kind, _) in doc.items():
            assert kind in CHECKS, (key, kind)


@pytest.fixture
def formats(inst):
    yield from with_policy(inst, POLICY)


def jitexec(inst, user, *argv):
    return run([inst.jitexec, "-S", *argv], user=user, input=password(user) + "\n")


def json_lines(inst, *argv, user=None):
    r = run([inst.jitctl, *argv, "--json"], user=user)
    assert r.returncode == 0, (argv, r.stderr)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def test_every_json_output_and_audit_event_has_its_documented_shape(formats):
    inst = formats
    # A run approved, used, and its grant revoked; a denied, a cancelled and a rule-scope request;
    # a refusal, a wrong password; a recorded break-glass use, reviewed.
    n = request_id(jitexec(inst, DEV, "--no-wait", "-r", "INC-1", "/usr/bin/id").stderr)
    g = grant_id(approve(inst, n, LEAD, "-m", "ok"))
    assert jitexec(inst, DEV, "/usr/bin/id").returncode == 0
    assert run([inst.jitctl, "revoke", str(g), "-S", "-m", "done"], user=LEAD,
               input=password(LEAD) + "\n").returncode == 0
    d = request_id(jitexec(inst, DEV, "--no-wait", "-r", "INC-2", "/usr/bin/id", "-u").stderr)
    assert run([inst.jitctl, "deny", str(d), "-S", "-m", "no"], user=LEAD, input=password(LEAD) + "\n").returncode == 0
    c = request_id(jitexec(inst, DEV, "--no-wait", "-r", "INC-3", "/usr/bin/id", "-g").stderr)
    assert run([inst.jitctl, "cancel", str(c), "-S"], user=DEV, input=password(DEV) + "\n").returncode == 0
    request_id(jitexec(inst, DEV, "--no-wait", "-r", "INC-4", "-d", "5m", "/usr/bin/true", "x").stderr)
    assert jitexec(inst, DEV, "/usr/bin/uname").returncode == 1
    wrong = run([inst.jitexec, "-S", "/usr/bin/id"], user=DEV, input="wrong\nwrong\nwrong\n")
    assert wrong.returncode == 1
    bg = jitexec(inst, LEAD, "--break-glass", "-r", "INC-5 outage", "/usr/bin/true")
    assert bg.returncode == 0, bg.stderr
    (use,) = json_lines(inst, "review")
    assert run([inst.jitctl, "review", str(use["grant"]), "--ok", "-m", "fine"]).returncode == 0

    schemas, events = documented()
    outputs = {
        "jitexec.request": json_lines(inst, "requests", "--all") + json_lines(inst, "show", str(n)),
        "jitexec.grant": json_lines(inst, "grants", "--all"),
        "jitexec.breakglass": json_lines(inst, "review", "--all"),
        "jitexec.session": json_lines(inst, "sessions", "--all"),
        "jitexec.audit": json_lines(inst, "log"),
    }
    found = []
    for name, lines in outputs.items():
        assert lines, f"the scenario printed no {name}"
        doc = schemas[(name, 1)]
        for i, obj in enumerate(lines):
            assert obj.get("schema") == {"name": name, "version": 1}, (name, obj)
            found += problems(obj, doc, f"{name} line {i + 1}")
            if name == "jitexec.request":
                for a in obj["approvals"]:
                    assert set(a) == {"by", "at", "comment"}, a
    seen = set()
    for record in outputs["jitexec.audit"]:
        event = record["event"]
        seen.add(event)
        if event not in events:
            found.append(f"event {event} is not documented")
            continue
        found += problems(record["fields"], events[event], f"{event} (seq {record['seq']})")
    assert not found, "\n".join(found)
    # The scenario reached the events it set out to, so the checks above were not vacuous.
    assert {"request.filed", "approval.added", "request.approved", "grant.created", "grant.used", "exec.start",
            "exec.end", "grant.revoked", "request.denied", "request.cancelled", "policy.denied", "auth.failure",
            "breakglass.used", "breakglass.reviewed"} <= seen, seen
