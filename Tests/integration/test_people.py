"""What people see at a terminal (issue 12, first part): the waiting line fits an 80-column terminal
and is redrawn in place, shortens a long approver list and names only who is still awaited; jitctl
takes ids as its tables print them (`#42`); the requests table explains its star only when it shows
one."""
import os
import pwd
import re
import time

import pexpect
import pytest

from loop_support import approve, password, run, spawn, with_policy

DEV = "jit-dev1"

POLICY = """\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"
admins = ["%jit-admins"]

# Seven people may approve; the requester is not one of them.
[[rule]]
name = "many"
users = ["%jit-developers"]
commands = ["/usr/bin/id", "/usr/bin/id -u"]
action = "approve"
approvers = ["%jit-sre-leads", "jit-out", "root", "daemon", "bin", "sys"]
approvals = 1

[[rule]]
name = "two"
users = ["%jit-developers"]
commands = ["/usr/bin/uname -a"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 2
"""

STATUS = "\r\x1b[K"


@pytest.fixture
def people(inst):
    yield from with_policy(inst, POLICY)


def waiting_lines(child, seconds):
    """The status lines drawn in `seconds` (each starts with \\r ESC[K and ends where the next one starts)."""
    seen = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            seen += child.read_nonblocking(4096, timeout=0.2)
        except pexpect.TIMEOUT:
            pass
    return [part for part in seen.split(STATUS)[1:] if part.strip()]


def file_and_wait(inst, argv, columns):
    """`jitexec ARGV` as jit-dev1 on a terminal of `columns` columns, through its password: (child, id)."""
    child = spawn(inst, DEV, [inst.jitexec, *argv], timeout=30, dimensions=(24, columns))
    child.expect_exact(f"[jitexec] password for {DEV}: ")
    child.sendline(password(DEV))
    child.expect(r"request #(\d+) filed")
    return child, int(child.match.group(1))


def test_the_waiting_line_fits_80_columns_and_shortens_a_long_approver_list(people):
    """On an 80-column terminal, with seven possible approvers, every redraw of the waiting line is one
    row (at most 79 characters, no newline), drawn in place with \\r ESC[K, and names two approvers and
    how many more (the Ctrl-C hint, which does not fit, is left out). On 40 columns the line is cut
    with "…"."""
    for columns, argv in ((80, ["/usr/bin/id"]), (40, ["/usr/bin/id", "-u"])):
        child, n = file_and_wait(people, argv, columns)
        try:
            lines = waiting_lines(child, 2.5)
        finally:
            child.sendintr()
            child.close(force=True)
        assert len(lines) >= 5, lines
        for line in lines:
            assert "\n" not in line and len(line) <= columns - 1, (columns, line)
            assert line.startswith(f"jitexec: request #{n}: "), line
        last = lines[-1]
        if columns == 80:
            # The whole state fits; the Ctrl-C hint does not, so it is left out.
            assert re.fullmatch(rf"jitexec: request #{n}: 0/1 approvals, waiting for \S+, \S+ \+5 \(\d+:\d\d\)", last), last
        else:
            assert last.endswith("…") and "Ctrl-C" not in last, last


def test_after_one_of_two_approvals_the_line_names_only_who_is_still_awaited(people):
    """Two approvals from jit-lead1 and jit-lead2: once jit-lead1 approved (with the id as the tables
    print it, `#N`), the line says 1/2 and waits for jit-lead2 alone; after jit-lead2 the command runs."""
    child, n = file_and_wait(people, ["/usr/bin/uname", "-a"], 80)
    try:
        child.expect(r"0/2 approvals, waiting for jit-lead1, jit-lead2 \(", timeout=10)
        first = approve(people, f"#{n}", "jit-lead1")
        assert first.returncode == 0 and f"recorded your approval of request #{n} (1/2)" in first.stdout, \
            (first.returncode, first.stdout, first.stderr)
        # Only the one still awaited, right after "waiting for".
        child.expect(r"1/2 approvals, waiting for jit-lead2 \(", timeout=5)
        second = approve(people, f"#{n}", "jit-lead2")
        assert second.returncode == 0, (second.returncode, second.stdout, second.stderr)
        child.expect(rf"request #{n} approved by jit-lead1, jit-lead2; running", timeout=5)
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_ids_as_the_tables_print_them_and_the_star_explained_only_when_shown(people):
    """`jitctl show '#N'` and `approve '#N'` take the id as `jitctl requests` prints it; the footer that
    explains `*` appears for an approver who sees a starred row, not for the requester."""
    r = run([people.jitexec, "-S", "--no-wait", "/usr/bin/id"], user=DEV, input=password(DEV) + "\n")
    n = int(re.search(r"request #(\d+)", r.stderr).group(1))
    mine = run([people.jitctl, "requests"], user=DEV)
    assert mine.returncode == 0 and f"#{n}" in mine.stdout and "* = you may approve" not in mine.stdout, mine.stdout
    theirs = run([people.jitctl, "requests"], user="jit-lead1")
    assert re.search(rf"(?m)^\*\s+#{n}\s", theirs.stdout) and "* = you may approve" in theirs.stdout, theirs.stdout
    shown = run([people.jitctl, "show", f"#{n}"], user=DEV)
    assert shown.returncode == 0 and f"#{n}" in shown.stdout, (shown.returncode, shown.stdout, shown.stderr)
    ok = approve(people, f"#{n}", "jit-lead1")
    assert ok.returncode == 0 and f"approved request #{n}: grant #" in ok.stdout, (ok.stdout, ok.stderr)
    bad = run([people.jitctl, "show", "#x"], user=DEV)
    assert bad.returncode != 0 and "#x" in bad.stderr, (bad.returncode, bad.stderr)


def test_help_describes_every_option_on_one_line(people):
    """`jitexec --help` (and -h) gives the synopsis and one line for every option the parser takes."""
    for flag in ("--help", "-h"):
        r = run([people.jitexec, flag], user=DEV)
        assert r.returncode == 0 and r.stdout.startswith("usage: jitexec "), (r.returncode, r.stdout, r.stderr)
        described = [line.strip() for line in r.stdout.split("options:\n", 1)[1].splitlines()]
        for option in ("-u, --user USER", "-g, --group GROUP", "-e, --edit FILE...", "-r, --reason TEXT", "-T, --ticket ID", "-d, --duration DUR", "--once",
                       "--no-wait", "--wait-timeout DUR", "--break-glass", "-n ", "-S ", "-i ", "-s ", "-l ", "-v ",
                       "-k ", "-K ", "-U, --other-user USER", "-h, --help", "-V, --version", "--login-gate"):
            assert [line for line in described if line.startswith(option)], (option, r.stdout)
        assert all(len(line) <= 110 for line in r.stdout.splitlines()), r.stdout


def test_a_refusal_suggests_explain_with_the_whole_command_and_target(people):
    """A refused `jitexec -u nobody id -u` points at `jitctl explain -u nobody -- id -u`, and that
    command gives the same answer (deny), not the one for root."""
    r = run([people.jitexec, "-n", "-u", "nobody", "id", "-u"], user=DEV)
    assert r.returncode == 1, (r.returncode, r.stderr)
    hint = re.search(r"run '(jitctl explain[^']*)' for details", r.stderr)
    assert hint and hint.group(1) == "jitctl explain -u nobody -- id -u", r.stderr
    explained = run([people.jitctl, *hint.group(1).split()[1:]], user=DEV)
    assert "deny" in explained.stdout.lower() and "approve" not in explained.stdout.lower(), explained.stdout


def test_sudo_options_jitexec_does_not_take_are_refused_with_the_reason(people):
    """`-E` and `-b` are refused before anything else, each with one line saying why and what to do
    instead; nothing is run."""
    for argv, instead in ((["-E", "id"], "env_keep"), (["-b", "id"], "'jitexec COMMAND &'")):
        r = run([people.jitexec, *argv], user=DEV)
        got = r.stderr.splitlines()
        assert r.returncode == 1 and r.stdout == "" and len(got) == 1, (argv, r.returncode, r.stdout, r.stderr)
        assert got[0].startswith(f"jitexec: {argv[0]} is not supported: ") and instead in got[0], got[0]


def test_capital_k_forgets_every_cached_credential(people):
    """`jitexec -K` (sudo's "remove the whole cache") forgets the caller's cached credentials, as -k does."""
    people.write_policy(POLICY.replace('credential_cache = "0"', 'credential_cache = "5m"'))
    cache = f"{people.prefix}/run/jitexec/{pwd.getpwnam(DEV).pw_uid}"
    v = run([people.jitexec, "-S", "-v"], user=DEV, input=password(DEV) + "\n")
    assert v.returncode == 0 and os.path.exists(cache), (v.returncode, v.stderr, os.listdir(os.path.dirname(cache)))
    k = run([people.jitexec, "-K"], user=DEV)
    assert k.returncode == 0 and not os.path.exists(cache), (k.returncode, k.stderr)


def test_jitctl_help_shows_real_placeholders(people):
    """jitctl's help names what an option takes (`-d <duration>`, not `-d <d>`)."""
    approve_help = run([people.jitctl, "approve", "--help"]).stdout
    assert "-d <duration>" in approve_help and "-m <comment>" in approve_help, approve_help
    request_help = run([people.jitctl, "request", "--help"]).stdout
    for placeholder in ("-u <user>", "-d <duration>", "-r <reason>", "-T <ticket>"):
        assert placeholder in request_help, (placeholder, request_help)


def test_the_log_table_prints_no_nulls(people):
    """A refusal that no rule decided has `rule: null` in `jitctl log --json`; the table leaves it out."""
    r = run([people.jitexec, "-n", "/usr/bin/uname", "-r"], user=DEV)
    assert r.returncode == 1, (r.returncode, r.stderr)
    table = run([people.jitctl, "log", "--event", "policy.denied"])
    assert table.returncode == 0 and "policy.denied" in table.stdout and "null" not in table.stdout, table.stdout
    as_json = run([people.jitctl, "log", "--json", "--event", "policy.denied"])
    assert '"rule":null' in as_json.stdout.replace(" ", ""), as_json.stdout
