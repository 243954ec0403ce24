/// Version 2: the approver's own cap on the grant length, and the indexes behind the frequent
/// questions (my live grants, pending requests, the log by time and by actor, my requests).
enum SchemaV2 {
    static let sql = """
        ALTER TABLE approvals ADD COLUMN max_seconds INTEGER CHECK (max_seconds IS NULL OR max_seconds > 0);

        CREATE INDEX grants_live_by_user ON grants (user, expires_at);
        CREATE INDEX grants_by_request   ON grants (request_id);
        CREATE INDEX requests_pending    ON requests (status, expires_at);
        CREATE INDEX requests_by_requester ON requests (requester, created_at);
        CREATE INDEX audit_by_time       ON audit (time);
        CREATE INDEX audit_by_actor      ON audit (actor, seq);
        CREATE INDEX audit_by_event      ON audit (event, seq);
        """
}
