/// Version 3: one row per break-glass use, created with its grant, with the reason the on-call
/// engineer gave and, once an admin looked at it, the review (`jitctl review`).
enum SchemaV3 {
    static let sql = """
        CREATE TABLE breakglass (
            grant_id    INTEGER PRIMARY KEY REFERENCES grants (id),
            reason      TEXT    NOT NULL,
            ticket      TEXT,
            cwd         TEXT,
            tty         TEXT,
            created_at  INTEGER NOT NULL,
            reviewed_at INTEGER,
            reviewed_by TEXT,
            verdict     TEXT    CHECK (verdict IN ('ok', 'flagged')),
            comment     TEXT,
            CHECK ((reviewed_at IS NULL) = (verdict IS NULL) AND (reviewed_at IS NULL) = (reviewed_by IS NULL))
        );

        CREATE INDEX breakglass_unreviewed ON breakglass (reviewed_at, grant_id);
        """
}
