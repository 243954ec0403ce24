"""make install: layout, modes, never overwriting configuration, paths baked in at build time."""
import os
import stat

from conftest import make_install


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_binaries_are_setuid_root(inst):
    for b in (inst.jitexec, inst.jitctl):
        st = os.stat(b)
        assert st.st_uid == 0 and st.st_gid == 0
        assert mode(b) == 0o4755


def test_notify_webhook_is_installed_root_owned_and_executable(inst):
    hook = f"{inst.prefix}/usr/share/jitexec/notify-webhook"
    st = os.stat(hook)
    assert (st.st_uid, st.st_gid, mode(hook)) == (0, 0, 0o755)
    assert mode(f"{inst.prefix}/usr/share/jitexec") == 0o755


def test_automation_programs_are_installed_root_owned_and_name_this_install(inst):
    # jitexec runs an automation only from a trusted file: root-owned, not group- or other-writable.
    libexec = f"{inst.prefix}/usr/libexec/jitexec"
    assert (os.stat(libexec).st_uid, mode(libexec)) == (0, 0o755)
    for program in ("maintenance-window", "ticket-check"):
        path = f"{libexec}/{program}"
        st = os.stat(path)
        assert (st.st_uid, st.st_gid, mode(path)) == (0, 0, 0o755), path
        with open(path) as f:
            text = f.read()
        assert f"/usr/libexec/jitexec/{program}" in text and "/usr/local/libexec" not in text, path
    with open(f"{libexec}/maintenance-window") as f:
        assert f"\nfile={inst.confdir}/maintenance-windows\n" in f.read()


def test_config_pam_and_state_are_installed_root_only(inst):
    assert mode(inst.policy) == 0o644 and os.stat(inst.policy).st_uid == 0
    assert os.path.isdir(f"{inst.confdir}/policy.d")
    assert mode(inst.statedir) == 0o700 and os.stat(inst.statedir).st_uid == 0
    assert mode(f"{inst.prefix}/var/log/jitexec/sessions") == 0o700
    with open(inst.pam) as f:
        pam = f.read()
    assert "common-auth" in pam and "common-account" in pam and "common-session" in pam


def test_reinstall_keeps_an_edited_policy_and_pam_service(inst):
    inst.write_policy("# edited by the admin\n[settings]\n")
    with open(inst.pam, "a") as f:
        f.write("# local change\n")
    done = make_install()
    assert done.returncode == 0, done.stderr
    with open(inst.policy) as f:
        assert f.read() == "# edited by the admin\n[settings]\n"
    with open(inst.pam) as f:
        assert "# local change" in f.read()
    assert "keeping existing" in done.stdout


def test_version_and_first_run_use_the_built_in_paths(inst):
    r = inst.run([inst.jitexec, "-V"], user="jit-dev1")
    assert r.returncode == 0 and r.stdout.startswith("jitexec ")
    # The policy path comes from the build, not from the environment or the working directory.
    r = inst.run([inst.jitctl, "check"], user="jit-dev1",
                 env={"JITEXEC_SYSCONFDIR": "/nonexistent", "SYSCONFDIR": "/nonexistent"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{inst.policy}: OK" in r.stdout


def test_first_use_creates_the_store_root_only(inst):
    r = inst.run([inst.jitctl, "verify"], user="jit-dev1")
    assert r.returncode == 0, r.stderr
    assert "audit chain intact: 0 records" in r.stdout
    r = inst.run([inst.jitexec, "-l"], user="jit-dev1")   # compiles the policy for jitexec
    assert r.returncode == 0, r.stderr
    # Created by a run of an unprivileged user, yet root:root (not the caller's group) and 0600.
    for path in (inst.db, f"{inst.statedir}/policy.compiled.json"):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o600), path


def test_pages_and_completions_are_installed_root_owned(inst):
    files = [f"{inst.man}/man8/jitexec.8", f"{inst.man}/man8/jitctl.8", f"{inst.man}/man5/jitexec.toml.5",
             f"{inst.man}/man5/jitexec-formats.5", f"{inst.bash_completions}/jitexec", f"{inst.bash_completions}/jitctl",
             f"{inst.zsh_completions}/_jitexec", f"{inst.zsh_completions}/_jitctl",
             f"{inst.fish_completions}/jitexec.fish", f"{inst.fish_completions}/jitctl.fish"]
    for f in files:
        st = os.stat(f)
        assert (st.st_uid, st.st_gid, mode(f)) == (0, 0, 0o644), f
    # The sample policy and the notifier name this install's notifier path, not the default one.
    with open(f"{inst.prefix}/usr/share/jitexec/notify-webhook") as f:
        assert "/usr/local/share/jitexec" not in f.read()
    with open(f"{inst.man}/man8/jitexec.8") as f:
        assert inst.jitexec in f.read()
