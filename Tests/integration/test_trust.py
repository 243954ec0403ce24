"""Fail closed: jitexec refuses to run on files someone other than root could change."""
import os
import pwd
import shutil


def refused(r, *needles):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_group_writable_policy_is_refused(inst):
    os.chmod(inst.policy, 0o664)
    r = inst.run([inst.jitexec, "/usr/bin/true"], user="jit-dev1")
    refused(r, "refusing to run", inst.policy, "writable by group or others", "chmod go-w")
    r = inst.run([inst.jitctl, "check"], user="jit-dev1")
    refused(r, inst.policy, "chmod go-w")


def test_policy_in_a_user_writable_directory_is_refused(inst):
    uid = pwd.getpwnam("jit-dev1").pw_uid
    os.chown(inst.confdir, uid, 0)
    try:
        r = inst.run([inst.jitexec, "/usr/bin/true"], user="jit-dev1")
        refused(r, inst.confdir, "owned by uid", "chown root")
    finally:
        os.chown(inst.confdir, 0, 0)


def test_world_writable_parent_directory_is_refused(inst):
    parent = f"{inst.prefix}/etc"
    os.chmod(parent, 0o777)
    try:
        r = inst.run([inst.jitexec, "/usr/bin/true"], user="jit-dev1")
        refused(r, parent, "writable by group or others")
    finally:
        os.chmod(parent, 0o755)


def test_sticky_root_directory_above_is_accepted(inst):
    # The whole install lives under /tmp (root-owned, sticky, world-writable): that is fine.
    assert os.stat("/tmp").st_mode & 0o1000
    r = inst.run([inst.jitctl, "check"], user="jit-dev1")
    assert r.returncode == 0, r.stderr


def test_symlinked_policy_is_refused(inst):
    real = f"{inst.confdir}/real.toml"
    shutil.move(inst.policy, real)
    os.symlink(real, inst.policy)
    r = inst.run([inst.jitexec, "/usr/bin/true"], user="jit-dev1")
    refused(r, inst.policy, "symbolic link")
    os.unlink(inst.policy)
    shutil.move(real, inst.policy)


def test_database_replaced_by_a_symlink_is_refused(inst):
    os.symlink("/tmp/jitexec-it-elsewhere.db", inst.db)
    r = inst.run([inst.jitctl, "verify"], user="jit-dev1")
    refused(r, inst.db, "symbolic link")
    os.unlink(inst.db)


def test_group_writable_state_directory_is_refused(inst):
    os.chmod(inst.statedir, 0o770)
    try:
        r = inst.run([inst.jitctl, "verify"], user="jit-dev1")
        refused(r, inst.statedir, "writable by group or others")
    finally:
        os.chmod(inst.statedir, 0o700)


def test_binary_without_the_setuid_bit_refuses(inst):
    os.chmod(inst.jitexec, 0o755)
    r = inst.run([inst.jitexec, "/usr/bin/true"], user="jit-dev1")
    refused(r, "must be installed setuid root")
    os.chmod(inst.jitctl, 0o755)
    r = inst.run([inst.jitctl, "verify"], user="jit-dev1")
    refused(r, "must be installed setuid root")


def test_invalid_policy_refuses_every_run_and_is_audited(inst):
    inst.write_policy('[settings]\nmax_grant = "forever"\n')
    r = inst.run([inst.jitexec, "/usr/bin/true"], user="jit-dev1")
    refused(r, "the policy is invalid", f"{inst.policy}:2:", "jitctl check")
    log = inst.run([inst.jitctl, "log", "--json", "--event", "policy.invalid"])
    assert log.returncode == 0, log.stderr
    assert '"event":"policy.invalid"' in log.stdout and '"actor":"jit-dev1"' in log.stdout


def test_unknown_target_ids_are_refused(inst):
    for spec in ["#-1", "#4294967295", "#99999999999", "no-such-user-x", "#"]:
        r = inst.run([inst.jitexec, "-u", spec, "/usr/bin/true"], user="jit-dev1")
        refused(r, "unknown user")


def test_denied_command_is_refused_and_audited(inst):
    r = inst.run([inst.jitexec, "/usr/bin/id"], user="jit-out")
    refused(r, "may not run /usr/bin/id", "jitctl explain")
    log = inst.run([inst.jitctl, "log", "--json", "--event", "policy.denied"])
    assert '"actor":"jit-out"' in log.stdout and '"/usr/bin/id"' in log.stdout
