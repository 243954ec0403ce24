/// The SQL a run of jitexec executes once the store is open, from the grant read to `exec.end`,
/// exactly as the store's functions send it. `SQLiteStore.compileRunStatements` compiles them
/// ahead, on the thread that opens the store while the run is decided and PAM checks the account
/// (`Context.openStoreInBackground`), so the run's own steps only bind and step them. A unit test
/// (`BackgroundStoreTests`) counts no compile in a whole run after it: a statement changed in one
/// place and not here fails that test.
enum RunStatements {
    static let sql: [String] = [
        // The grant read before PAM's session (`hasCoveringGrant`).
        Database.TransactionKind.deferred.begin,
        GrantRow.liveOfUserSQL,
        RequestRow.byIDSQL,
        Database.commit,
        // exec.start with the grant's use, and the session row.
        Database.TransactionKind.immediate.begin,
        GrantRow.useSQL,
        AuditRow.headSQL,
        AuditRow.insertSQL,
        SessionRow.insertSQL + Database.returningID,
        // The grant read again right before the command starts.
        GrantRow.byIDSQL,
        // exec.end, committed without fsync (`PRAGMA synchronous` is never kept: see
        // `Database.setSynchronous`).
        SessionRow.endSQL,
    ]
}
