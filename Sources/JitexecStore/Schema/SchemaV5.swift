/// Version 5: the grants whose end by time has been recorded (`grant.expired`), so each grant's
/// expiry is audited once, the first time any process finds the grant past its end
/// (`Workflow.recordGrantExpiries`).
enum SchemaV5 {
    static let sql = """
        CREATE TABLE grant_expiries (
            grant_id    INTEGER PRIMARY KEY REFERENCES grants (id),
            recorded_at INTEGER NOT NULL
        );
        """
}
