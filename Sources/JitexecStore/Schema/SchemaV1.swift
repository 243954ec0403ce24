/// Version 1: the four tables.
///
/// User-controlled bytes (argv words, reason, ticket, comments, cwd, tty) are stored exactly as
/// given: text fields as TEXT bound with their raw bytes (valid UTF-8 or not), argv as a BLOB in
/// which every word is followed by one NUL byte (argv words cannot contain NUL), so `[]` is the
/// empty blob and `[""]` is a single NUL. Times are microseconds since the epoch (UTC).
enum SchemaV1 {
    static let sql = """
        CREATE TABLE requests (
            id                INTEGER PRIMARY KEY,
            kind              TEXT    NOT NULL CHECK (kind IN ('command', 'login')),
            status            TEXT    NOT NULL
                              CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
            requester         TEXT    NOT NULL,
            requester_uid     INTEGER NOT NULL CHECK (requester_uid BETWEEN 0 AND 4294967295),
            run_as            TEXT    NOT NULL,
            host              TEXT    NOT NULL,
            command           BLOB    NOT NULL,
            rule              TEXT    NOT NULL,
            reason            TEXT    NOT NULL,
            ticket            TEXT,
            cwd               TEXT,
            tty               TEXT,
            scope             TEXT    NOT NULL CHECK (scope IN ('command', 'rule', 'login')),
            once              INTEGER NOT NULL CHECK (once IN (0, 1)),
            requested_seconds INTEGER CHECK (requested_seconds IS NULL OR requested_seconds > 0),
            approvals_needed  INTEGER NOT NULL CHECK (approvals_needed >= 1),
            created_at        INTEGER NOT NULL,
            expires_at        INTEGER NOT NULL CHECK (expires_at >= created_at),
            decided_at        INTEGER,
            decided_by        TEXT,
            comment           TEXT,
            CHECK ((kind = 'login') = (scope = 'login')),
            CHECK ((status = 'pending') = (decided_at IS NULL))
        );

        -- One person counts once toward N.
        CREATE TABLE approvals (
            id         INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL REFERENCES requests (id),
            approver   TEXT    NOT NULL,
            at         INTEGER NOT NULL,
            comment    TEXT,
            UNIQUE (request_id, approver)
        );

        CREATE TABLE grants (
            id         INTEGER PRIMARY KEY,
            request_id INTEGER REFERENCES requests (id),
            user       TEXT    NOT NULL,
            run_as     TEXT    NOT NULL,
            host       TEXT    NOT NULL,
            scope      TEXT    NOT NULL CHECK (scope IN ('command', 'rule', 'login')),
            command    BLOB,
            rule       TEXT    NOT NULL,
            not_before INTEGER NOT NULL,
            expires_at INTEGER NOT NULL CHECK (expires_at >= not_before),
            uses_left  INTEGER CHECK (uses_left IS NULL OR uses_left >= 0),
            revoked_at INTEGER,
            revoked_by TEXT,
            source     TEXT    NOT NULL CHECK (source IN ('approval', 'break_glass')),
            CHECK ((scope = 'command') = (command IS NOT NULL)),
            CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
            CHECK (source = 'break_glass' OR request_id IS NOT NULL)
        );

        -- The hash chain. seq is the rowid alias without AUTOINCREMENT: the writer takes head + 1
        -- inside its write transaction, so there are no gaps, and the primary key means two
        -- writers can never both append the same seq (the chain cannot fork).
        CREATE TABLE audit (
            seq       INTEGER PRIMARY KEY CHECK (seq >= 1),
            time      INTEGER NOT NULL,
            host      TEXT    NOT NULL,
            event     TEXT    NOT NULL,
            actor     TEXT    NOT NULL,
            fields    TEXT    NOT NULL,
            prev_hash TEXT    NOT NULL CHECK (length(prev_hash) = 64),
            hash      TEXT    NOT NULL CHECK (length(hash) = 64)
        );
        """
}
