import JitexecBase

extension StoreConnection {
    func grant(id: Int64) throws -> Grant? {
        try requireOpen()
        return try query(GrantRow.byIDSQL, [.int(id)], GrantRow.decode).first
    }

    func grants(user: String?, liveAt: Instant?) throws -> [Grant] {
        try requireOpen()
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let user {
            conditions.append(GrantRow.userCondition)
            values.append(.text(user))
        }
        if let liveAt {
            conditions.append(GrantRow.liveCondition)
            values += GrantRow.liveValues(liveAt)
        }
        // With both, the text is `GrantRow.liveOfUserSQL`, which a run compiles ahead.
        return try query(GrantRow.selectSQL(where: conditions), values, GrantRow.decode)
    }

    func insertGrant(_ grant: Grant) throws -> Int64 {
        try requireWritable()
        do {
            return try db.insertReturningID(
                "INSERT INTO grants (\(GrantRow.insertColumns)) VALUES (\(sqlPlaceholders(GrantRow.insertCount)))",
                try GrantRow.values(grant))
        } catch let error as any SQLEngineError where error.isForeignKeyViolation {
            throw StoreError.noSuchRequest(id: grant.requestID ?? 0)
        }
    }

    /// One UPDATE that both checks liveness and takes the use, so two processes racing for the
    /// last use of a grant cannot both win.
    func consumeGrantUse(id: Int64, at: Instant) throws -> Bool {
        try requireWritable()
        return try db.run(GrantRow.useSQL, [.int(id)] + GrantRow.liveValues(at)) == 1
    }

    func unrecordedExpiries(at: Instant) throws -> [Grant] {
        try requireWritable()
        return try query(
            """
            SELECT \(GrantRow.columns) FROM grants
            WHERE expires_at <= ? AND revoked_at IS NULL AND (uses_left IS NULL OR uses_left > 0)
              AND id NOT IN (SELECT grant_id FROM grant_expiries)
            ORDER BY id
            """, [.int(at)], GrantRow.decode)
    }

    func recordExpiry(grantID: Int64, at: Instant) throws -> Bool {
        try requireWritable()
        return try db.run(
            "INSERT INTO grant_expiries (grant_id, recorded_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [.int(grantID), .int(at)]) == 1
    }

    func revokeGrant(id: Int64, by: String, at: Instant) throws -> Bool {
        try requireWritable()
        return try db.run(
            "UPDATE grants SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
            [.int(at), .text(by), .int(id)]) == 1
    }
}
