import JitexecBase

extension StoreConnection {
    func breakGlassUses(unreviewedOnly: Bool) throws -> [BreakGlassUse] {
        try requireOpen()
        let condition = unreviewedOnly ? "WHERE reviewed_at IS NULL" : ""
        return try query(
            "SELECT \(BreakGlassRow.columns) FROM breakglass \(condition) ORDER BY grant_id DESC", [],
            BreakGlassRow.decode)
    }

    func breakGlassUse(grantID: Int64) throws -> BreakGlassUse? {
        try requireOpen()
        return try query(
            "SELECT \(BreakGlassRow.columns) FROM breakglass WHERE grant_id = ?", [.int(grantID)], BreakGlassRow.decode
        ).first
    }

    func insertBreakGlassUse(_ use: BreakGlassUse) throws {
        try requireWritable()
        try db.run(
            "INSERT INTO breakglass (\(BreakGlassRow.columns)) VALUES (\(sqlPlaceholders(BreakGlassRow.count)))",
            BreakGlassRow.values(use))
    }

    func reviewBreakGlassUse(
        grantID: Int64, verdict: BreakGlassVerdict, by: String, at: Instant, comment: UserText?
    ) throws -> Bool {
        try requireWritable()
        return try db.run(
            """
            UPDATE breakglass SET reviewed_at = ?, reviewed_by = ?, verdict = ?, comment = ?
            WHERE grant_id = ? AND reviewed_at IS NULL
            """,
            [.int(at), .text(by), .text(verdict.rawValue), .user(comment), .int(grantID)]) == 1
    }
}

/// `breakglass` rows.
enum BreakGlassRow {
    static let columns = "grant_id, reason, ticket, cwd, tty, created_at, reviewed_at, reviewed_by, verdict, comment"
    static let count = 10

    static func values(_ u: BreakGlassUse) -> [SQLValue] {
        [
            .int(u.grantID), .user(u.reason), .user(u.ticket), .user(u.cwd), .user(u.tty), .int(u.createdAt),
            .int(u.reviewedAt), .text(u.reviewedBy), .text(u.verdict?.rawValue), .user(u.comment),
        ]
    }

    static func decode(_ row: some SQLRow) throws -> BreakGlassUse {
        let id = row.int64(0)
        let verdict: BreakGlassVerdict? =
            row.isNull(8) ? nil : try row.enumValue(8, table: "breakglass", id: id) as BreakGlassVerdict
        return BreakGlassUse(
            grantID: id, reason: UserText(bytes: row.bytes(1)), ticket: row.optionalUserText(2),
            cwd: row.optionalUserText(3), tty: row.optionalUserText(4), createdAt: row.instant(5),
            reviewedAt: row.optionalInstant(6), reviewedBy: row.optionalText(7), verdict: verdict,
            comment: row.optionalUserText(9))
    }
}
