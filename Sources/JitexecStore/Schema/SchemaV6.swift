/// Version 6: supervised commands (`sessions`): who runs what under which grant, the supervising
/// process, the recording and how the command ended; `jitctl stop` asks through `stop_*`.
enum SchemaV6 {
    static let sql = """
        CREATE TABLE sessions (
            id               INTEGER PRIMARY KEY,
            user             TEXT NOT NULL,
            run_as           TEXT NOT NULL,
            host             TEXT NOT NULL,
            command          BLOB NOT NULL,
            rule             TEXT NOT NULL,
            grant_id         INTEGER REFERENCES grants (id),
            request_id       INTEGER,
            started_at       INTEGER NOT NULL,
            pid              INTEGER NOT NULL,
            pid_start        INTEGER NOT NULL,
            enforce_expiry   INTEGER NOT NULL,
            recording        TEXT,
            ended_at         INTEGER,
            ended            TEXT,
            exit_status      INTEGER,
            recording_size   INTEGER,
            recording_sha256 TEXT,
            stop_by          TEXT,
            stop_comment     BLOB,
            stop_at          INTEGER
        );
        CREATE INDEX sessions_running ON sessions (grant_id) WHERE ended_at IS NULL;
        """
}
