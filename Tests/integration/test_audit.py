"""The audit chain on the installed store: many concurrent writers, log, verify, tampering."""
import json
import os
import subprocess
import tempfile

from loop_support import audit_lines

WRITERS = 24
EACH = 25


def log_json(inst, *extra, user=None):
    r = inst.run([inst.jitctl, "log", "--json", *extra], user=user)
    assert r.returncode == 0, r.stderr
    return audit_lines(r.stdout)


def test_concurrent_writers_never_fork_lose_or_duplicate(inst):
    stress = os.environ["AUDIT_STRESS"]
    # Create the store through jitctl first, so the writers hit the installed, migrated database.
    assert inst.run([inst.jitctl, "verify"]).returncode == 0
    procs = [subprocess.Popen([stress, inst.db, str(EACH)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(WRITERS)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    records = log_json(inst, "--event", "test.append")
    assert len(records) == WRITERS * EACH
    assert [r["seq"] for r in records] == list(range(1, WRITERS * EACH + 1))
    assert len({(r["pid"], r["i"]) for r in records}) == WRITERS * EACH
    for prev, cur in zip(records, records[1:]):
        assert cur["prev_hash"] == prev["hash"]
    v = inst.run([inst.jitctl, "verify"], user="jit-dev1")
    assert v.returncode == 0, v.stderr
    assert f"audit chain intact: {WRITERS * EACH} records" in v.stdout


def fill(inst, n=6):
    stress = os.environ["AUDIT_STRESS"]
    subprocess.run([stress, inst.db, str(n)], check=True)


def sql(inst, statement):
    subprocess.run(["sqlite3", inst.db, statement], check=True)


def test_verify_names_an_edited_record(inst):
    fill(inst)
    sql(inst, "UPDATE audit SET actor = 'mallory' WHERE seq = 3")
    r = inst.run([inst.jitctl, "verify"], user="jit-dev1")
    assert r.returncode == 1 and "broken at record 3" in r.stderr


def test_verify_names_fields_rewritten_in_another_form(inst):
    # The same content in another form than the canonical text the hash covers: verify hashes the
    # stored text, so this is an edit (what reads records by their text could be led past it).
    fill(inst)
    stored = subprocess.run(["sqlite3", inst.db, "SELECT fields FROM audit WHERE seq = 3"], capture_output=True,
                            text=True, check=True).stdout.strip()
    spaced = json.dumps(json.loads(stored), ensure_ascii=False)
    assert spaced != stored and json.loads(spaced) == json.loads(stored)
    sql(inst, "UPDATE audit SET fields = '" + spaced.replace("'", "''") + "' WHERE seq = 3")
    r = inst.run([inst.jitctl, "verify"], user="jit-dev1")
    assert r.returncode == 1 and "broken at record 3" in r.stderr and "rewritten" in r.stderr, r.stderr


def test_verify_names_a_record_edited_into_invalid_utf8(inst):
    # Reading stored text as a string replaces an invalid byte with U+FFFD. An actor that held
    # U+FFFD, edited to a lone 0xFF byte, would read back as the text that was hashed: verify must
    # still call it an edit.
    stress = os.environ["AUDIT_STRESS"]
    subprocess.run([stress, inst.db, "5", "st\ufffdress"], check=True)
    ok = inst.run([inst.jitctl, "verify"], user="jit-dev1")
    assert ok.returncode == 0 and "audit chain intact: 5 records" in ok.stdout, ok.stdout + ok.stderr
    sql(inst, "UPDATE audit SET actor = CAST(REPLACE(CAST(actor AS BLOB), X'EFBFBD', X'FF') AS TEXT) WHERE seq = 3")
    stored = subprocess.run(["sqlite3", inst.db, "SELECT hex(actor) FROM audit WHERE seq = 3"], capture_output=True,
                            text=True, check=True).stdout.strip()
    assert stored == "st".encode().hex().upper() + "FF" + "ress".encode().hex().upper()
    r = inst.run([inst.jitctl, "verify"], user="jit-dev1")
    assert r.returncode == 1 and "broken at record 3" in r.stderr, r.stdout + r.stderr


def test_verify_names_a_deleted_record(inst):
    fill(inst)
    sql(inst, "DELETE FROM audit WHERE seq = 4")
    r = inst.run([inst.jitctl, "verify"], user="jit-dev1")
    assert r.returncode == 1 and ("record 4" in r.stderr or "record 5" in r.stderr), r.stderr


def test_log_table_escapes_and_non_admins_see_only_their_own_events(inst):
    fill(inst, 2)
    r = inst.run([inst.jitexec, "/usr/bin/printf", "\x1b[2Jfake\nprompt"], user="jit-out")
    assert r.returncode == 1
    mine = inst.run([inst.jitctl, "log"], user="jit-out")
    assert mine.returncode == 0, mine.stderr
    assert "policy.denied" in mine.stdout and "test.append" not in mine.stdout
    assert "\x1b" not in mine.stdout and "\\x1b[2Jfake\\nprompt" in mine.stdout
    other = inst.run([inst.jitctl, "log", "--user", "stress"], user="jit-out")
    assert other.returncode == 1 and "admins" in other.stderr
    everything = inst.run([inst.jitctl, "log"])
    assert "test.append" in everything.stdout and "policy.denied" in everything.stdout


def test_log_filters_by_event_user_and_since(inst):
    fill(inst, 3)
    assert len(log_json(inst, "--since", "10m")) == 3
    assert log_json(inst, "--since", "2000-01-01T00:00:00Z")[0]["event"] == "test.append"
    assert log_json(inst, "--since", "2999-01-01T00:00:00Z") == []
    assert log_json(inst, "--user", "nobody-else") == []
    rec = log_json(inst, "--user", "stress")[0]
    for key in ("seq", "time", "host", "event", "actor", "prev_hash", "hash"):
        assert key in rec
    assert rec["time"].endswith("Z")


def test_a_runs_durable_commit_syncs_the_log_and_its_folder_only_when_the_log_is_new(inst):
    """exec.start is durable: a run's commit syncs the store's write-ahead log. The log's folder is
    synced too when the log was just created (its new entry must survive a crash), and not while the
    log exists: SQLite would sync it at every process's first commit (0.07 ms of every run), so
    jitexec opens an existing log through a VFS of its own (CSQLite's shim.h). Seen with strace on
    root's runs: a new store, the same store again, and again once the log was removed (SQLite's
    shell removes it when it closes the store last)."""
    folder = os.path.dirname(inst.db)
    inst.write_policy('[[rule]]\nname = "root-true"\nusers = ["root"]\ncommands = ["/usr/bin/true"]\naction = "allow"\n')

    def synced():
        with tempfile.NamedTemporaryFile("r") as out:
            r = subprocess.run(["strace", "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", out.name,
                                inst.jitexec, "/usr/bin/true"], capture_output=True, text=True, timeout=60, cwd="/",
                               env={"PATH": "/usr/bin:/bin"})
            assert r.returncode == 0, r.stderr
            calls = out.read()
        return f"<{inst.db}-wal>" in calls, f"<{folder}>" in calls, calls

    assert synced()[:2] == (True, True)  # the store and its log are new
    log, dir_, calls = synced()
    assert (log, dir_) == (True, False), calls
    assert subprocess.run(["sqlite3", inst.db, "PRAGMA user_version;"], capture_output=True).returncode == 0
    assert not os.path.exists(inst.db + "-wal")
    assert synced()[:2] == (True, True)  # a new log again
