"""`jitexec -e FILE...` (sudoedit, issue 12) on the installed binary as a real user: the editor runs
as the caller on copies, jitexec writes changed copies back into the files the policy named
(`sudoedit PATH` rules), and `exec.end` lists each file with its SHA-256 before and after. Attacks:
an EDITOR that names more files (sudo's CVE-2023-22809), links, a directory the caller may write, a
copy swapped for a link to a secret while the editor runs, an editor that fails."""
import glob
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from loop_support import (approve, clear_credential_cache, environment, events, grant_id, password, request_id,
                          run, show, user_kwargs)

DEV = "jit-dev1"
DIR = "/etc/jitexec-edit-test"
CONF = f"{DIR}/app.conf"
SECRET = f"{DIR}/secret"

POLICY = f"""\
[settings]
secure_path = "/usr/sbin:/usr/bin:/sbin:/bin"
credential_cache = "0"

[[rule]]
name = "edit-conf"
users = ["%jit-developers"]
commands = ["sudoedit {DIR}/*.conf", "sudoedit {DIR}/open/*.conf", "sudoedit {DIR}/*/*"]
action = "allow"

[[rule]]
name = "edit-approved"
users = ["%jit-developers"]
commands = ["sudoedit {DIR}/approved.txt"]
action = "approve"
approvers = ["%jit-sre-leads"]
"""

# The editor: appends a line naming who ran it to every file it is given (as editors write what
# they are handed), and notes its uid and arguments where the test can read them.
EDITOR = """#!/bin/sh
echo "$(id -u) $*" >> {log}
for f in "$@"; do
    echo "edited by $(id -un)" >> "$f" 2>/dev/null
done
exit 0
"""

# Swaps the copy it was given for a link to the secret, then exits 0.
SWAPPER = """#!/bin/sh
rm -f "$1" && ln -s {secret} "$1"
"""


def sha(data):
    return hashlib.sha256(data).hexdigest()


def script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path


@pytest.fixture
def edit(inst):
    inst.write_policy(POLICY)
    clear_credential_cache(inst)
    check = run([inst.jitctl, "check"])
    assert check.returncode == 0, check.stdout + check.stderr
    shutil.rmtree(DIR, ignore_errors=True)
    os.makedirs(f"{DIR}/open")
    os.chmod(DIR, 0o755)
    os.chmod(f"{DIR}/open", 0o777)
    for path, data, mode in ((CONF, b"a=1\n", 0o644), (SECRET, b"top secret\n", 0o600),
                             (f"{DIR}/open/x.conf", b"x\n", 0o644), (f"{DIR}/approved.txt", b"ok\n", 0o644)):
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
    os.symlink(SECRET, f"{DIR}/link.conf")
    # The editors must be reachable by the caller (pytest's own temporary folders are root-only).
    tools = tempfile.mkdtemp(prefix="jitexec-editors.", dir="/tmp")
    os.chmod(tools, 0o755)
    inst.edit_log = f"{tools}/log"
    open(inst.edit_log, "w").close()
    os.chmod(inst.edit_log, 0o666)
    inst.editor = script(f"{tools}/fake-editor", EDITOR.format(log=inst.edit_log))
    inst.swapper = script(f"{tools}/swapper", SWAPPER.format(secret=SECRET))
    before = set(glob.glob("/var/tmp/jitexec-edit.*"))
    yield inst
    shutil.rmtree(DIR, ignore_errors=True)
    shutil.rmtree(tools, ignore_errors=True)
    for left in set(glob.glob("/var/tmp/jitexec-edit.*")) - before:
        shutil.rmtree(left)  # copies kept on purpose when a file was not written back
    v = run([inst.jitctl, "verify"])
    assert v.returncode == 0, v.stdout + v.stderr


def jitexec_e(inst, *files, editor=None, env=None, extra=()):
    environment = {"EDITOR": editor or inst.editor, **(env or {})}
    return run([inst.jitexec, "-S", *extra, "-e", *files], user=DEV, input=password(DEV) + "\n", env=environment)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def one_line(r):
    lines = [line for line in r.stderr.replace(f"[jitexec] password for {DEV}: ", "").splitlines() if line]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_the_editor_runs_as_the_caller_and_jitexec_writes_the_file_back_audited(edit):
    inode = os.stat(CONF).st_ino
    # `..` and `.` are taken out before the policy sees the path.
    r = jitexec_e(edit, f"{DIR}/../jitexec-edit-test/./app.conf")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert read(CONF) == b"a=1\nedited by jit-dev1\n"
    st = os.stat(CONF)
    assert st.st_ino == inode and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o644, st
    uid, args = open(edit.edit_log).read().split(" ", 1)
    assert int(uid) == pwd.getpwnam(DEV).pw_uid, "the editor runs as the caller"
    copy = args.split()[0]
    assert copy.startswith("/var/tmp/jitexec-edit.") and copy.endswith("/app.conf"), args
    assert not os.path.exists(os.path.dirname(copy)), "the copies are removed after a successful edit"
    (start,) = events(edit, "exec.start")
    assert start["command"] == ["sudoedit", CONF] and start["actor"] == DEV, start
    (end,) = events(edit, "exec.end")
    assert end["files"] == [{"path": CONF, "before_sha256": sha(b"a=1\n"),
                             "after_sha256": sha(b"a=1\nedited by jit-dev1\n"), "written": True, "error": None}], end


def test_an_editor_value_with_double_dash_is_refused_and_extra_editor_arguments_never_add_files(edit):
    """CVE-2023-22809: `EDITOR='vi -- /etc/shadow'` made sudoedit edit /etc/shadow. jitexec refuses
    an editor value with a `--` word; and a value naming another file without `--` only makes the
    editor (running as the caller) try that file with the caller's rights: it stays unchanged and is
    not in the edit."""
    r = jitexec_e(edit, CONF, editor=f"{edit.editor} -- {SECRET}")
    assert r.returncode == 1 and "contains '--'" in one_line(r) and "CVE-2023-22809" in one_line(r), r.stderr
    assert read(CONF) == b"a=1\n" and events(edit, "exec.start") == []

    r = jitexec_e(edit, CONF, editor=f"{edit.editor} {SECRET}")
    assert r.returncode == 0, r.stderr
    assert read(SECRET) == b"top secret\n", "the editor ran as the caller and could not write the secret"
    assert read(CONF) == b"a=1\nedited by jit-dev1\n"
    (end,) = events(edit, "exec.end")
    assert [f["path"] for f in end["files"]] == [CONF], end


@pytest.mark.parametrize("target, needle", [
    (f"{DIR}/link.conf", "is a symbolic link"),
    (f"{DIR}/open/x.conf", "which you may write"),
])
def test_links_and_files_in_a_directory_the_caller_may_write_are_refused(edit, target, needle):
    r = jitexec_e(edit, target)
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert needle in one_line(r), r.stderr
    assert open(edit.edit_log).read() == "", "no editor ran"
    assert read(SECRET) == b"top secret\n" and read(f"{DIR}/open/x.conf") == b"x\n"
    assert events(edit, "exec.start") == []


def test_a_file_the_policy_does_not_name_is_denied_with_the_explain_hint(edit):
    r = jitexec_e(edit, SECRET)
    assert r.returncode == 1, r.stderr
    line = one_line(r)
    assert "may not run sudoedit as root" in line and f"'jitctl explain -- sudoedit {SECRET}'" in line, line
    explain = run([edit.jitctl, "explain", "--", "sudoedit", CONF], user=DEV)
    assert explain.returncode == 0 and "rule:     edit-conf" in explain.stdout and "decision: allow" in explain.stdout, \
        explain.stdout


def test_a_copy_swapped_for_a_link_to_a_secret_is_not_written_back(edit):
    """The caller owns the folder of copies: an editor that replaces its copy with a link to a root-only
    file must not get that file's content written into the edited one."""
    r = jitexec_e(edit, CONF, editor=edit.swapper)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "not a regular file" in r.stderr and "unchanged" in r.stderr, r.stderr
    assert read(CONF) == b"a=1\n" and read(SECRET) == b"top secret\n"
    (end,) = events(edit, "exec.end")
    assert end["files"][0]["written"] is False and end["files"][0]["error"], end


def test_an_editor_that_fails_writes_nothing(edit):
    failing = script(os.path.join(os.path.dirname(edit.editor), "failing"),
                     "#!/bin/sh\nfor f; do echo changed >> \"$f\"; done\nexit 3\n")
    r = jitexec_e(edit, CONF, editor=failing)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "the editor ended with status 3: nothing was written" in r.stderr, r.stderr
    assert read(CONF) == b"a=1\n"


def test_an_approve_rule_files_a_request_for_the_edit_and_runs_it_once_approved(edit):
    path = f"{DIR}/approved.txt"
    r = jitexec_e(edit, path, extra=("--no-wait", "-r", "INC-9 config"))
    assert r.returncode == 75, r.stderr
    n = request_id(r.stderr)
    assert show(edit, n)["command"] == ["sudoedit", path]
    grant_id(approve(edit, n, "jit-lead1"))
    r = jitexec_e(edit, path)
    assert r.returncode == 0, r.stderr
    assert read(path) == b"ok\nedited by jit-dev1\n"


def test_a_new_file_is_created_0644_by_root_only_when_the_copy_has_content(edit):
    """A file the rule names that does not exist yet: created (root's, 0644, whatever jitexec's own
    umask) when the copy comes back with content; not created when left empty."""
    new = f"{DIR}/new.conf"
    empty = script(os.path.join(os.path.dirname(edit.editor), "noop"), "#!/bin/sh\nexit 0\n")
    r = jitexec_e(edit, new, editor=empty)
    assert r.returncode == 0 and not os.path.exists(new), (r.returncode, r.stderr)
    r = jitexec_e(edit, new)
    assert r.returncode == 0, r.stderr
    st = os.stat(new)
    assert read(new) == b"edited by jit-dev1\n" and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o644, st
    end = events(edit, "exec.end")[-1]
    assert end["files"] == [{"path": new, "before_sha256": None, "after_sha256": sha(b"edited by jit-dev1\n"),
                             "written": True, "error": None}], end


def test_a_fifo_is_refused_at_once_and_a_file_named_twice_is_refused(edit):
    """A FIFO the rule's glob matches is refused without being opened (an open would block); naming
    one file twice is refused before anything is opened."""
    fifo = f"{DIR}/pipe.conf"
    os.mkfifo(fifo)
    r = jitexec_e(edit, fifo)
    assert r.returncode == 1 and "is not a regular file" in one_line(r), r.stderr
    r = jitexec_e(edit, CONF, f"{DIR}/./app.conf")
    assert r.returncode == 1 and "is named twice" in one_line(r), r.stderr
    assert open(edit.edit_log).read() == "" and events(edit, "exec.start") == []


def test_several_files_the_rule_names_are_edited_in_one_run(edit):
    """`sudoedit DIR/*.conf` allows any of its files, several at once: both are copied, edited and
    written back; a second file the rule does not name makes the whole run denied."""
    other = f"{DIR}/other.conf"
    with open(other, "wb") as f:
        f.write(b"b=2\n")
    r = jitexec_e(edit, CONF, other)
    assert r.returncode == 0, r.stderr
    assert read(CONF) == b"a=1\nedited by jit-dev1\n" and read(other) == b"b=2\nedited by jit-dev1\n"
    (end,) = events(edit, "exec.end")
    assert [f["path"] for f in end["files"]] == [CONF, other] and all(f["written"] for f in end["files"]), end
    r = jitexec_e(edit, CONF, SECRET)
    assert r.returncode == 1 and "may not run sudoedit as root" in one_line(r), r.stderr
    assert read(SECRET) == b"top secret\n"


def test_a_slash_followed_by_a_combining_mark_cannot_smuggle_dot_dot_past_the_rule(edit):
    """`/` then U+0301 is one Swift Character but a path separator to the kernel and fnmatch: a path
    split by characters would keep `..` and match `DIR/*/*`, then open `DIR/../\u0301evil` (= /etc).
    Paths are split on bytes, so `..` is taken out first and the result (/etc/\u0301evil) is denied."""
    evil = "/etc/\u0301evil"
    r = jitexec_e(edit, f"{DIR}/../\u0301evil")
    assert r.returncode == 1 and "may not run sudoedit as root" in one_line(r), r.stderr
    assert not os.path.exists(evil) and not os.path.exists("/var/tmp/\u0301evil")
    assert events(edit, "exec.start") == []


def test_a_stop_ends_the_edit_without_writing_even_if_the_editor_exits_zero(edit):
    """An editor that traps the stop's signal and exits 0 writes nothing: the stop ended the edit."""
    trapper = script(os.path.join(os.path.dirname(edit.editor), "trapper"),
                     "#!/bin/sh\nfor f; do echo evil >> \"$f\"; done\ntrap 'exit 0' TERM HUP INT\n"
                     "while :; do sleep 0.1; done\n")
    proc = subprocess.Popen([edit.jitexec, "-S", "-e", CONF], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=environment({"EDITOR": trapper}), cwd="/",
                            start_new_session=True, **user_kwargs(DEV))
    proc.stdin.write((password(DEV) + "\n").encode())
    proc.stdin.close()
    deadline = time.monotonic() + 20
    while not [e for e in events(edit, "exec.start")] and time.monotonic() < deadline:
        time.sleep(0.2)
    (start,) = events(edit, "exec.start")
    stop = run([edit.jitctl, "stop", str(start["session"]), "-m", "wrong file"])
    assert stop.returncode == 0, stop.stderr
    proc.wait(timeout=30)
    err = proc.stderr.read()
    assert proc.returncode != 0 and b"nothing was written" in err, (proc.returncode, err)
    assert read(CONF) == b"a=1\n"
    (end,) = events(edit, "exec.end")
    assert end["files"][0]["written"] is False, end
