import JitexecBase

extension StoreConnection {
    func insertSession(_ session: Session) throws -> Int64 {
        try requireWritable()
        return try db.insertReturningID(SessionRow.insertSQL, try SessionRow.values(session))
    }

    func setSessionRecording(id: Int64, path: String) throws {
        try requireWritable()
        try db.run("UPDATE sessions SET recording = ? WHERE id = ?", [.text(path), .int(id)])
    }

    func session(id: Int64) throws -> Session? {
        try requireOpen()
        return try query(
            "SELECT \(SessionRow.columns) FROM sessions WHERE id = ?", [.int(id)], SessionRow.decode
        ).first
    }

    func sessions(_ filter: SessionFilter) throws -> [Session] {
        try requireOpen()
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let user = filter.user {
            conditions.append("\"user\" = ?")
            values.append(.text(user))
        }
        if let since = filter.since {
            conditions.append("started_at >= ?")
            values.append(.int(since))
        }
        if let grant = filter.grantID {
            conditions.append("grant_id = ?")
            values.append(.int(grant))
        }
        if filter.openOnly { conditions.append("ended_at IS NULL") }
        if filter.recordedOnly { conditions.append("recording IS NOT NULL") }
        let condition = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try query(
            "SELECT \(SessionRow.columns) FROM sessions \(condition) ORDER BY id", values, SessionRow.decode)
    }

    func requestSessionStop(id: Int64, by: String, comment: UserText?, at: Instant) throws -> Bool {
        try requireWritable()
        return try db.run(
            """
            UPDATE sessions SET stop_by = ?, stop_comment = ?, stop_at = ?
            WHERE id = ? AND ended_at IS NULL AND stop_by IS NULL
            """,
            [.text(by), .user(comment), .int(at), .int(id)]) == 1
    }

    func endSession(id: Int64, _ outcome: SessionOutcome) throws -> Bool {
        try requireWritable()
        return try db.run(
            SessionRow.endSQL,
            [
                .int(outcome.at), .text(outcome.ended.rawValue), .int(outcome.exitStatus.map(Int64.init)),
                .int(outcome.recordingSize), .text(outcome.recordingSHA256), .int(id),
            ]) == 1
    }
}

/// `sessions` rows.
enum SessionRow {
    static let insertColumns = """
        "user", run_as, host, command, rule, grant_id, request_id, started_at, pid, pid_start, enforce_expiry, recording
        """
    static let insertCount = 12
    static let insertSQL = "INSERT INTO sessions (\(insertColumns)) VALUES (\(sqlPlaceholders(insertCount)))"
    static let endSQL = """
        UPDATE sessions SET ended_at = ?, ended = ?, exit_status = ?, recording_size = ?, recording_sha256 = ?
        WHERE id = ? AND ended_at IS NULL
        """
    static let columns = """
        id, \(insertColumns), ended_at, ended, exit_status, recording_size, recording_sha256, stop_by, stop_comment, \
        stop_at
        """

    static func values(_ s: Session) throws -> [SQLValue] {
        [
            .text(s.user), .text(s.runAs), .text(s.host), .blob(try ArgvCoding.encode(s.command)), .text(s.rule),
            .int(s.grantID), .int(s.requestID), .int(s.startedAt), .int(Int64(s.pid)), .int(s.pidStart),
            .int(Int64(s.enforceExpiry ? 1 : 0)), .text(s.recording),
        ]
    }

    static func decode(_ row: some SQLRow) throws -> Session {
        let id = row.int64(0)
        var session = Session(
            id: id, user: row.text(1), runAs: row.text(2), host: row.text(3),
            command: try row.argv(4, table: "sessions", id: id), rule: row.text(5), grantID: row.optionalInt64(6),
            requestID: row.optionalInt64(7), startedAt: row.instant(8), pid: Int32(truncatingIfNeeded: row.int64(9)),
            pidStart: row.int64(10), enforceExpiry: row.int64(11) != 0, recording: row.optionalText(12))
        session.endedAt = row.optionalInstant(13)
        session.ended = row.isNull(14) ? nil : try row.enumValue(14, table: "sessions", id: id) as SessionEnd
        session.exitStatus = row.optionalInt64(15).map { Int32(truncatingIfNeeded: $0) }
        session.recordingSize = row.optionalInt64(16)
        session.recordingSHA256 = row.optionalText(17)
        session.stopBy = row.optionalText(18)
        session.stopComment = row.optionalUserText(19)
        session.stopAt = row.optionalInstant(20)
        return session
    }
}
