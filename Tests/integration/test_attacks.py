"""The attack battery (issue 4, SECURITY.md): one test per attack class, each named after the attack,
run as a real unprivileged user against the installed setuid binary. Every test shows what the user
sees (exit status, output, audit records, files) and would fail if the defence went away; where the
attack is only meaningful if it works without jitexec, a control run proves that first."""
import json
import os
import re
import pwd
import shutil
import socket
import subprocess
import threading
import time

import pexpect
import pytest

from loop_support import (PASSWORD_PROMPT, Background, approve, clear_credential_cache,
                          environment, events, finish, pam_service, password, request_id, requests,
                          run, show, spawn, user_kwargs)

DEV = "jit-dev1"
DEV_PW = password(DEV) + "\n"
LEAD = "jit-lead1"
# Everything the tests create as the attacking user lives here (owned by jit-dev1).
HOME = "/tmp/jitexec-it-attacker"
PWNED = "/tmp/jitexec-it-pwned"

POLICY = """\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "5m"
request_ttl = "1h"
default_grant = "15m"
max_grant = "4h"
wait_timeout = "2m"
env_keep = ["*"]
admins = ["%jit-admins"]

[[rule]]
name = "tools"
users = ["%jit-developers"]
commands = ["/usr/bin/whoami", "/usr/bin/env", "/usr/bin/bash -c *", "/usr/bin/cat /proc/self/cmdline",
            "/usr/bin/python3 -c *"]
action = "allow"

[[rule]]
name = "approved"
users = ["%jit-developers"]
commands = ["/usr/bin/id", "/usr/bin/echo **"]
action = "approve"
approvers = ["%jit-sre-leads"]
approvals = 1
reason = "optional"
"""


@pytest.fixture
def attack(inst):
    """The install with the attack policy, an empty store and cache, a fresh attacker directory."""
    inst.write_policy(POLICY)
    clear_credential_cache(inst)
    shutil.rmtree(HOME, ignore_errors=True)
    os.mkdir(HOME, 0o755)
    pw = pwd.getpwnam(DEV)
    os.chown(HOME, pw.pw_uid, pw.pw_gid)
    if os.path.exists(PWNED):
        os.unlink(PWNED)
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, f"the attack policy does not load: {check.stdout}{check.stderr}"
    yield inst
    assert not os.path.exists(PWNED), "an attack left its mark"
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, f"jitctl verify after the test: {v.stdout}{v.stderr}"
    shutil.rmtree(HOME, ignore_errors=True)


def as_dev(path, text, mode=0o755):
    """Writes a file owned by the attacking user."""
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    pw = pwd.getpwnam(DEV)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def jitexec(inst, *argv, env=None, base=True, cwd="/", user=DEV, input=DEV_PW):
    """jitexec -S ARGV as the attacker with exactly `env` (on top of a minimal PATH/LANG when base)."""
    return subprocess.run([inst.jitexec, "-S", *argv], capture_output=True, env=environment(env, base=base),
                          input=input.encode() if isinstance(input, str) else input, cwd=cwd, timeout=90,
                          start_new_session=True, **user_kwargs(user))


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout.decode()


def refused_line(r, status=1):
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    lines = [l for l in r.stderr.decode(errors="replace").splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def env_of_command(text):
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


# Environment -----------------------------------------------------------------------------------

HOSTILE_ENV = {
    "LD_PRELOAD": f"{HOME}/evil.so", "LD_LIBRARY_PATH": HOME, "LD_AUDIT": f"{HOME}/evil.so",
    "LD_DEBUG": "all", "GLIBC_TUNABLES": "glibc.malloc.check=3", "MALLOC_CHECK_": "3",
    "SWIFT_DEBUG_HELP": "YES", "SWIFT_BACKTRACE": f"enable=yes,interactive=yes,output-to={PWNED}",
    "SWIFT_DETERMINISTIC_HASHING": "1", "SWIFT_DEBUG_ENABLE_METADATA_ALLOCATION_ITERATION": "YES",
    "SWIFT_ROOT": HOME, "TZ": "../../../etc/shadow", "LC_ALL": "../../x/%n%n", "LANGUAGE": "../x",
    "NLSPATH": f"{HOME}/%N", "LOCPATH": HOME, "TERM": "../../tmp/x%n", "TERMINFO": HOME, "HOME": HOME,
    "COLUMNS": "-1", "TMPDIR": HOME,
}


def test_swift_runtime_variables_are_ignored_in_the_setuid_binary(attack):
    # Control: the very same binary without the setuid bit obeys SWIFT_DEBUG_HELP before main.
    copy = as_dev(f"{HOME}/jitexec-copy", "")
    shutil.copyfile(attack.jitexec, copy)
    os.chmod(copy, 0o755)
    control = subprocess.run([copy, "-V"], capture_output=True, env={"SWIFT_DEBUG_HELP": "YES"},
                             **user_kwargs(DEV))
    assert b"Swift runtime debugging" in control.stderr, "the control run must show the runtime reads SWIFT_*"
    # Installed setuid: none of them changes what jitexec prints, for -V, -l or a refusal.
    for argv in (["-V"], ["-l"], ["/usr/bin/no-such-command"]):
        clean = jitexec(attack, *argv)
        hostile = jitexec(attack, *argv, env=HOSTILE_ENV)
        assert (hostile.returncode, hostile.stdout, hostile.stderr) == (clean.returncode, clean.stdout, clean.stderr)
        assert b"Swift runtime" not in hostile.stderr


def test_ld_preload_reaches_neither_jitexec_nor_the_command(attack):
    source = f"{HOME}/evil.c"
    as_dev(source, '#include <stdio.h>\n__attribute__((constructor)) static void pwn(void) {\n'
                   f'  FILE *f = fopen("{PWNED}", "a"); if (f) {{ fputs("loaded\\n", f); fclose(f); }}\n}}\n')
    compiler = shutil.which("cc") or shutil.which("clang") or "/opt/swift/usr/bin/clang"
    built = subprocess.run([compiler, "-shared", "-fPIC", "-o", f"{HOME}/evil.so", source], capture_output=True,
                           text=True)
    assert built.returncode == 0, built.stderr
    os.chmod(f"{HOME}/evil.so", 0o755)
    # Control: the library works when preloaded into an ordinary program.
    subprocess.run(["/usr/bin/true"], env={"LD_PRELOAD": f"{HOME}/evil.so"}, check=True, **user_kwargs(DEV))
    assert os.path.exists(PWNED)
    os.unlink(PWNED)
    r = jitexec(attack, "/usr/bin/env", env=HOSTILE_ENV)
    out = ok(r)
    assert not os.path.exists(PWNED), "the preloaded library ran inside jitexec or the command"
    got = env_of_command(out)
    for name in ("LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_DEBUG", "GLIBC_TUNABLES", "MALLOC_CHECK_",
                 "SWIFT_DEBUG_HELP", "SWIFT_BACKTRACE", "SWIFT_ROOT", "NLSPATH", "LOCPATH", "TERMINFO", "TMPDIR"):
        assert name not in got, f"{name} reached the command: {got}"


def test_tz_lc_and_term_values_with_slashes_percent_or_dotdot_are_dropped(attack):
    r = jitexec(attack, "/usr/bin/env", env={
        "TZ": "../../../etc/shadow", "LC_ALL": "../../x", "LC_TIME": "/tmp/x", "LANG": "%n%n%n",
        "TERM": "../../tmp/x", "COLORTERM": "truecolor", "LC_CTYPE": "C.UTF-8", "TZ_SAFE": "x"})
    got = env_of_command(ok(r))
    for name in ("TZ", "LC_ALL", "LC_TIME", "LANG", "TERM"):
        assert name not in got, f"{name}={got.get(name)!r} reached the command"
    # Safe values of kept names pass (env_keep = ["*"]).
    assert got.get("COLORTERM") == "truecolor" and got.get("LC_CTYPE") == "C.UTF-8"
    # The command's identity variables are the target's, not the caller's.
    assert got["USER"] == "root" and got["HOME"] == "/root" and got["LOGNAME"] == "root"
    assert got["PATH"] == "/usr/sbin:/usr/bin:/sbin:/bin"


def test_bash_env_env_ifs_shellopts_and_exported_functions_do_not_reach_bash(attack):
    rc = as_dev(f"{HOME}/rc", f"touch {PWNED}\n")
    hostile = {
        "BASH_ENV": rc, "ENV": rc, "IFS": "/", "SHELLOPTS": "xtrace", "PS4": f"$(touch {PWNED})",
        "BASHOPTS": "extdebug", "BASH_FUNC_echo%%": f"() {{ touch {PWNED}; }}", "PROMPT_COMMAND": f"touch {PWNED}",
        "CDPATH": HOME, "GLOBIGNORE": "*",
    }
    # Control: a plain bash of the user does obey them.
    control = subprocess.run(["/usr/bin/bash", "-c", "echo control"], capture_output=True, env=hostile,
                             **user_kwargs(DEV))
    assert os.path.exists(PWNED), (control.stdout, control.stderr)
    os.unlink(PWNED)
    r = jitexec(attack, "/usr/bin/bash", "-c", 'echo "ran as $(id -un)"; printf "ifs=%s|\\n" "$IFS"', env=hostile)
    out = ok(r)
    assert "ran as root" in out
    assert "ifs=/|" not in out and "ifs= \t\n|" in out, out
    assert not os.path.exists(PWNED), "bash ran the caller's startup file or function"
    assert "+ echo" not in r.stderr.decode(), "xtrace was switched on by the caller's SHELLOPTS"


def test_path_hijack_and_relative_path_entries_do_not_pick_the_command(attack):
    evil = f"{HOME}/bin"
    os.mkdir(evil)
    os.chown(evil, pwd.getpwnam(DEV).pw_uid, -1)
    as_dev(f"{evil}/whoami", f"#!/bin/sh\ntouch {PWNED}\necho hijacked\n")
    as_dev(f"{HOME}/whoami", f"#!/bin/sh\ntouch {PWNED}\necho hijacked\n")
    for path, cwd in ((f"{evil}:/usr/bin:/bin", "/"), (".:/usr/bin:/bin", HOME), (":/usr/bin", HOME),
                      ("bin:/usr/bin", HOME)):
        r = jitexec(attack, "whoami", env={"PATH": path}, cwd=cwd)
        assert ok(r).strip() == "root", (path, r.stdout)
        assert not os.path.exists(PWNED), path
    starts = events(attack, "exec.start")
    assert starts and all(e["command"] == ["/usr/bin/whoami"] for e in starts), starts


# Command resolution ----------------------------------------------------------------------------

def test_symlink_to_an_allowed_command_runs_the_canonical_command_with_its_own_argv0(attack):
    link = f"{HOME}/kitty"
    os.symlink("/usr/bin/cat", link)
    os.lchown(link, pwd.getpwnam(DEV).pw_uid, -1)
    out = ok(jitexec(attack, link, "/proc/self/cmdline"))
    # argv[0] is the canonical path the policy matched, not the caller's name for it: a link named
    # after another applet of a multi-call binary cannot choose what the binary does.
    assert out.split("\0")[:2] == ["/usr/bin/cat", "/proc/self/cmdline"], repr(out)
    (start,) = events(attack, "exec.start")
    assert start["command"] == ["/usr/bin/cat", "/proc/self/cmdline"] and start["rule"] == "tools"


def test_symlink_with_an_allowed_name_to_another_binary_is_judged_by_its_target(attack):
    link = f"{HOME}/whoami"
    os.symlink("/usr/bin/dash", link)
    r = jitexec(attack, link, "-c", f"touch {PWNED}")
    line = refused_line(r)
    assert "may not run /usr/bin/dash" in line, line
    r = jitexec(attack, link)
    assert "may not run /usr/bin/dash" in refused_line(r)
    assert events(attack, "exec.start") == []


def test_command_replaced_between_check_and_exec_runs_what_was_checked(attack):
    link = f"{HOME}/tool"
    os.symlink("/usr/bin/id", link)
    waiting = Background([attack.jitexec, "-S", link], DEV, input=DEV_PW)
    try:
        n = request_id(waiting.wait_for(r"request #\d+ filed").group(0))
        # While the request waits, the caller points the name at a shell.
        os.unlink(link)
        os.symlink("/usr/bin/bash", link)
        r = approve(attack, n, LEAD)
        assert r.returncode == 0, r.stderr
        status, out, err = waiting.finish()
    finally:
        waiting.kill()
    assert status == 0, err
    assert out.startswith("uid=0(root)"), out
    assert show(attack, n)["command"] == ["/usr/bin/id"]
    (start,) = events(attack, "exec.start")
    assert start["command"] == ["/usr/bin/id"]


# Identities ------------------------------------------------------------------------------------

def test_caller_missing_from_passwd_is_refused(attack):
    uid = 54321
    with pytest.raises(KeyError):
        pwd.getpwuid(uid)
    r = subprocess.run([attack.jitexec, "-S", "/usr/bin/whoami"], capture_output=True, text=True, input=DEV_PW,
                       user=uid, group=uid, extra_groups=[], env={"PATH": "/usr/bin"}, cwd="/", timeout=30)
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and "54321" in r.stderr, r.stderr
    assert events(attack, "exec.start") == []


def test_the_command_gets_the_targets_pam_limits_not_the_callers(attack):
    """The PAM session is the target's (PAM_USER switched after the caller's account check, as sudo
    does): pam_limits applies root's entry to a command run as root, not the caller's.
    The entries are in a file of the test's own, read by a pam_limits line added last to the
    service (`conf=` reads that file alone), so the machine's limits.conf and limits.d cannot
    decide the outcome: on one CI machine an entry in limits.d did not reach the command, which
    showed the inherited 20000 open files."""
    conf = "/etc/security/jitexec-it-target-limits.conf"
    with open(conf, "w") as f:
        f.write(f"root soft msgqueue 3333\n{DEV} soft msgqueue 2222\n")
    with open(attack.pam) as f:
        service = f.read()
    try:
        with pam_service(attack, service + f"session required pam_limits.so conf={conf}\n"):
            out = ok(jitexec(attack, "/usr/bin/bash", "-c", "ulimit -Sq; id -un"))
    finally:
        os.unlink(conf)
    assert out.split() == ["3333", "root"], out
    assert [e["event"] for e in events(attack, "exec.start", "exec.end")] == ["exec.start", "exec.end"]


@pytest.mark.parametrize("spec", ["#-1", "#4294967295", "#4294967296", "#-4294967295", "#0x0", "# 0", "#+0",
                                  "nosuchuser", "root\nx", ""])
def test_target_user_ids_that_are_not_real_accounts_are_refused(attack, spec):
    r = jitexec(attack, "-u", spec, "/usr/bin/whoami")
    line = refused_line(r)
    assert "unknown user" in line or "-u" in line, line
    assert events(attack, "exec.start") == []


def test_caller_resource_limits_cannot_make_jitexec_fail_half_way(attack):
    def under(limits):
        script = f"{limits}; exec {attack.jitexec} -S /usr/bin/whoami"
        return subprocess.run(["/usr/bin/bash", "-c", script], capture_output=True, text=True, input=DEV_PW,
                              env=environment(), cwd="/", start_new_session=True, **user_kwargs(DEV))
    # Soft limits the caller lowered are raised again: the run completes and is audited.
    r = under("ulimit -S -f 0; ulimit -S -n 5")
    assert r.returncode == 0 and r.stdout.strip() == "root", (r.returncode, r.stdout, r.stderr)
    assert [e["event"] for e in events(attack, "exec.start", "exec.end")] == ["exec.start", "exec.end"]
    # Hard limits: with CAP_SYS_RESOURCE (in this machine's bounding set) jitexec raises them and runs;
    # without it, it refuses up front in one line instead of being killed by SIGXFSZ half-way.
    bounding = int(next(l for l in open("/proc/self/status") if l.startswith("CapBnd:")).split()[1], 16)
    may_raise = bool(bounding & (1 << 24))  # CAP_SYS_RESOURCE
    for limits, needle in (("ulimit -f 0", "ulimit -f unlimited"), ("ulimit -f 1", "ulimit -f unlimited"),
                           ("ulimit -n 5", "ulimit -n 1024")):
        before = len(events(attack, "exec.start"))
        r = under(limits)
        if may_raise:
            assert r.returncode == 0 and r.stdout.strip() == "root", (limits, r.returncode, r.stdout, r.stderr)
            assert len(events(attack, "exec.start")) == before + 1
        else:
            assert r.returncode == 1 and r.stdout == "", (limits, r.returncode, r.stdout, r.stderr)
            assert len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, (limits, r.stderr)
            assert len(events(attack, "exec.start")) == before


# Trusted files ---------------------------------------------------------------------------------

def test_hard_linked_copy_of_the_binary_is_refused(attack):
    copy = f"{HOME}/jitexec"
    os.link(attack.jitexec, copy)  # what a user could do where fs.protected_hardlinks is off
    try:
        # The installed path still runs (a stray link must not lock everyone out: issue 8 item 16);
        # what is refused is running by any other path.
        assert ok(jitexec(attack, "/usr/bin/whoami", base=True)).strip() == "root"
        via_copy = subprocess.run([copy, "-S", "/usr/bin/whoami"], capture_output=True, text=True, input=DEV_PW,
                                  env=environment(), cwd="/", **user_kwargs(DEV))
        assert via_copy.returncode == 1 and via_copy.stdout == ""
        assert "refusing to run" in via_copy.stderr and len(via_copy.stderr.strip().splitlines()) == 1
    finally:
        os.unlink(copy)
    # The original alone runs again.
    assert ok(jitexec(attack, "/usr/bin/whoami")).strip() == "root"
    assert len(events(attack, "exec.start")) == 2


def test_binary_copied_elsewhere_with_the_setuid_bit_is_refused(attack):
    copy = f"{HOME}/jitexec-suid"
    shutil.copyfile(attack.jitexec, copy)
    os.chown(copy, 0, 0)
    os.chmod(copy, 0o4755)
    r = subprocess.run([copy, "-S", "/usr/bin/whoami"], capture_output=True, text=True, input=DEV_PW,
                       env=environment(), cwd="/", **user_kwargs(DEV))
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert f"{copy} is not the installed {attack.jitexec}" in r.stderr, r.stderr
    assert events(attack, "exec.start") == []


def test_symlinked_or_hard_linked_state_is_refused(attack):
    ok(jitexec(attack, "/usr/bin/whoami"))  # the store exists
    # A hard link to the database elsewhere on the same file system.
    other = f"{attack.prefix}/jitexec-db-link"
    os.link(attack.db, other)
    try:
        line = refused_line(jitexec(attack, "/usr/bin/whoami"))
        assert attack.db in line and "hard links" in line, line
    finally:
        os.unlink(other)
    # The state directory replaced by a symbolic link to a root-owned copy.
    moved = f"{attack.statedir}.real"
    os.rename(attack.statedir, moved)
    os.symlink(moved, attack.statedir)
    try:
        line = refused_line(jitexec(attack, "/usr/bin/whoami"))
        assert attack.statedir in line and "symbolic link" in line, line
    finally:
        os.unlink(attack.statedir)
        os.rename(moved, attack.statedir)
    assert len(events(attack, "exec.start")) == 1


# Descriptors and terminals ---------------------------------------------------------------------

INJECT = (f"import fcntl, termios\n"
          f"for c in b'touch {PWNED}\\n':\n"
          f"    fcntl.ioctl(0, termios.TIOCSTI, bytes([c]))\n"
          f"print('injected')\n")
PROMPT = "ATTACKSH> "


def test_tiocsti_from_the_command_cannot_type_into_the_callers_terminal(attack):
    as_dev(f"{HOME}/inject.py", INJECT, 0o644)
    child = spawn(attack, DEV, ["/usr/bin/env", f"PS1={PROMPT}", "/bin/bash", "--norc", "--noprofile",
                                "--noediting", "-i"], timeout=30)
    try:
        child.expect_exact(PROMPT)
        legacy = "1"
        if os.path.exists("/proc/sys/dev/tty/legacy_tiocsti"):
            legacy = open("/proc/sys/dev/tty/legacy_tiocsti").read().strip()
        if legacy == "1":
            # Control: the same program run directly does type into the caller's shell.
            child.sendline(f"/usr/bin/python3 {HOME}/inject.py")
            child.expect("injected")
            deadline = time.monotonic() + 10
            while not os.path.exists(PWNED) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert os.path.exists(PWNED), "control: TIOCSTI on the caller's own terminal should work here"
            os.unlink(PWNED)
            child.sendline("echo control-done")
            child.expect("control-done\r?\n")
            child.expect_exact(PROMPT)
        else:
            print("legacy_tiocsti=0: the control run is skipped; the command under jitexec is root and may "
                  "still use TIOCSTI, so the check below keeps its meaning")
        # Through jitexec the command (root, which may always use TIOCSTI) sees only a new pty.
        child.sendline(f"{attack.jitexec} /usr/bin/python3 -c \"$(cat {HOME}/inject.py)\"; echo rc=$?")
        child.expect(PASSWORD_PROMPT)
        child.sendline(password(DEV))
        child.expect(r"rc=(\d+)")
        assert child.match.group(1) == "0", child.before
        child.expect_exact(PROMPT)
        child.sendline("echo settled")
        child.expect("settled\r?\n")
        child.expect_exact(PROMPT)
        time.sleep(1)
        assert not os.path.exists(PWNED), "the command typed into the caller's terminal"
    finally:
        child.close(force=True)
    (start,) = events(attack, "exec.start")
    assert start["command"][0] == os.path.realpath("/usr/bin/python3") and "tty" in start


# Display -----------------------------------------------------------------------------------------

NASTY_ARG = b"\x1b[2J\x1b[1;1HAPPROVE ME\r\x1b[K\x07"
NASTY_REASON = b"routine\x1b]0;owned\x07\x1b[1A\x1b[2K\nforged line\xe2\x80\xae"
NASTY_COMMENT = "ok\x1b[31m\rdenied\x1b[0m"
NASTY_DIR = HOME + "/\x1b[32mgreen\x08\x7f"


def assert_clean(text_bytes, where):
    bad = [b for b in text_bytes if (b < 0x20 and b not in (0x0a,)) or b == 0x7f]
    assert not bad, f"{where} shows raw control bytes {sorted(set(bad))}: {text_bytes!r}"
    assert "\u202e".encode() not in text_bytes, f"{where} shows a raw bidi override"


@pytest.fixture
def syslog_capture():
    """A datagram socket at /dev/log (any existing one is moved aside and restored) collecting lines."""
    saved = None
    if os.path.exists("/dev/log") or os.path.islink("/dev/log"):
        saved = "/dev/log.jitexec-it-saved"
        os.rename("/dev/log", saved)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/dev/log")
    os.chmod("/dev/log", 0o666)
    sock.settimeout(0.2)
    received = []
    stop = threading.Event()

    def pump():
        while not stop.is_set():
            try:
                received.append(sock.recv(1 << 20))
            except socket.timeout:
                continue
            except OSError:
                return

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        yield received
    finally:
        stop.set()
        t.join(timeout=2)
        sock.close()
        os.unlink("/dev/log")
        if saved:
            os.rename(saved, "/dev/log")


def test_escape_sequences_in_argv_reason_comment_and_cwd_are_shown_escaped(attack, syslog_capture):
    os.mkdir(NASTY_DIR)
    os.chown(NASTY_DIR, pwd.getpwnam(DEV).pw_uid, -1)
    r = subprocess.run([attack.jitexec.encode(), b"-S", b"--no-wait", b"-r", NASTY_REASON, b"/usr/bin/echo", NASTY_ARG],
                       capture_output=True, input=DEV_PW.encode(), env=environment(), cwd=NASTY_DIR,
                       start_new_session=True, **user_kwargs(DEV))
    assert r.returncode == 75, (r.stdout, r.stderr)
    assert_clean(r.stderr, "jitexec's own output")
    n = request_id(r.stderr.decode())
    d = subprocess.run([attack.jitctl, "deny", str(n), "-S", "-m", NASTY_COMMENT], capture_output=True,
                       input=(password(LEAD) + "\n").encode(), env=environment(), cwd="/", **user_kwargs(LEAD))
    assert d.returncode == 0, d.stderr
    assert_clean(d.stdout + d.stderr, "jitctl deny")
    views = {
        "jitctl requests": [attack.jitctl, "requests", "--all"],
        "jitctl show": [attack.jitctl, "show", str(n)],
        "jitctl log": [attack.jitctl, "log"],
        "jitexec -l": [attack.jitexec, "-l"],
    }
    for where, argv in views.items():
        for user in (LEAD, DEV):
            v = subprocess.run(argv, capture_output=True, env=environment({"TERM": "xterm"}), cwd="/",
                               **user_kwargs(user))
            assert v.returncode == 0, (where, v.stderr)
            assert_clean(v.stdout + v.stderr, f"{where} as {user}")
    shown = subprocess.run([attack.jitctl, "show", str(n)], capture_output=True, env=environment(), cwd="/",
                           **user_kwargs(LEAD)).stdout.decode()
    assert "\\x1b[2J\\x1b[1;1HAPPROVE ME\\r\\x1b[K\\x07" in shown, shown
    assert "routine\\x1b]0;owned\\x07\\x1b[1A\\x1b[2K\\nforged line\\u{202e}" in shown, shown
    assert "\\x1b[32mgreen\\x08\\x7f" in shown or "\\x1b[32mgreen" in shown, shown
    log = subprocess.run([attack.jitctl, "log"], capture_output=True, env=environment(), cwd="/").stdout.decode()
    assert "ok\\x1b[31m\\rdenied\\x1b[0m" in log, log
    # The stored values are the exact bytes (JSON keeps what cannot be shown as text).
    req = show(attack, n)
    assert req["command"][1] == NASTY_ARG.decode()
    assert req["reason"] in (NASTY_REASON.decode(), {"hex": NASTY_REASON.hex()})
    # Syslog got one escaped line per record, with its hash, and no raw control byte.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(b"request.denied" in m for m in syslog_capture):
        time.sleep(0.1)
    lines = [m for m in syslog_capture if b"jitexec" in m]
    assert any(b"event=request.filed" in m for m in lines), syslog_capture
    assert any(b"event=request.denied" in m for m in lines), syslog_capture
    for m in lines:
        assert_clean(m, "syslog")
        assert b" hash=" in m
    filed = next(m for m in lines if b"event=request.filed" in m)
    assert b"\\x1b[2J" in filed or b"\\\\u001b[2J" in filed, filed
