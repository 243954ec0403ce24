import JitexecBase

// How records map to table rows: column lists in one place, next to their encoders and decoders.

/// `count` parameters: "?, ?, …".
func sqlPlaceholders(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ", ") }

/// A WHERE clause requiring every condition; empty for none.
func sqlWhere(_ conditions: [String]) -> String {
    conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
}

/// argv as one BLOB: every word followed by a NUL byte. `[]` is the empty blob, `[""]` one NUL.
enum ArgvCoding {
    static func encode(_ argv: [UserText]) throws -> [UInt8] {
        var blob: [UInt8] = []
        for word in argv {
            guard !word.containsNUL else {
                throw StoreError.invalidRecord("an argv word contains a NUL byte: \(word.escaped)")
            }
            blob += word.bytes
            blob.append(0)
        }
        return blob
    }

    /// Nil when the blob does not end in NUL (it was not written by `encode`).
    static func decode(_ blob: [UInt8]) -> [UserText]? {
        guard let last = blob.last else { return [] }
        guard last == 0 else { return nil }
        return blob.dropLast().split(separator: 0, omittingEmptySubsequences: false).map { UserText(bytes: Array($0)) }
    }
}

/// `requests` rows: column lists, parameter values and decoding, kept together so they cannot drift.
enum RequestRow {
    static let insertColumns = """
        kind, status, requester, requester_uid, run_as, host, command, rule, reason, ticket, cwd, tty, \
        scope, once, requested_seconds, approvals_needed, created_at, expires_at, decided_at, decided_by, comment
        """
    static let insertCount = 21
    static let columns = "id, " + insertColumns
    static let byIDSQL = "SELECT \(columns) FROM requests WHERE id = ?"

    static func values(_ r: Request) throws -> [SQLValue] {
        [
            .text(r.kind.rawValue), .text(r.status.rawValue), .text(r.requester), .int(Int64(r.requesterUID)),
            .text(r.runAs), .text(r.host), .blob(try ArgvCoding.encode(r.command)), .text(r.rule), .user(r.reason),
            .user(r.ticket), .user(r.cwd), .user(r.tty), .text(r.scope.rawValue), .int(Int64(r.once ? 1 : 0)),
            .int(r.requestedSeconds), .int(Int64(r.approvalsNeeded)), .int(r.createdAt), .int(r.expiresAt),
            .int(r.decidedAt), .text(r.decidedBy), .user(r.comment),
        ]
    }

    static func decode(_ row: some SQLRow) throws -> Request {
        let id = row.int64(0)
        guard let uid = UInt32(exactly: row.int64(4)) else {
            throw StoreError.corruptRecord(table: "requests", id: id, problem: "requester uid out of range")
        }
        return Request(
            id: id, kind: try row.enumValue(1, table: "requests", id: id),
            status: try row.enumValue(2, table: "requests", id: id), requester: row.text(3), requesterUID: uid,
            runAs: row.text(5), host: row.text(6), command: try row.argv(7, table: "requests", id: id),
            rule: row.text(8), reason: UserText(bytes: row.bytes(9)), ticket: row.optionalUserText(10),
            cwd: row.optionalUserText(11), tty: row.optionalUserText(12),
            scope: try row.enumValue(13, table: "requests", id: id),
            once: row.int64(14) != 0, requestedSeconds: row.optionalInt64(15),
            approvalsNeeded: Int(row.int64(16)), createdAt: row.instant(17), expiresAt: row.instant(18),
            decidedAt: row.optionalInstant(19), decidedBy: row.optionalText(20), comment: row.optionalUserText(21))
    }
}

/// `grants` rows, and the SQL form of `Grant.isLive(at:)`.
enum GrantRow {
    static let insertColumns = """
        request_id, "user", run_as, host, scope, command, rule, not_before, expires_at, uses_left, \
        revoked_at, revoked_by, source
        """
    static let insertCount = 13
    static let columns = "id, " + insertColumns

    /// `Grant.isLive(at:)` in SQL; bind `liveValues(now)` for its parameters.
    static let liveCondition = """
        not_before <= ? AND expires_at > ? AND revoked_at IS NULL AND (uses_left IS NULL OR uses_left > 0)
        """
    static func liveValues(_ now: Instant) -> [SQLValue] { [.int(now), .int(now)] }

    static let userCondition = "\"user\" = ?"

    /// The grants that meet every condition, newest first.
    static func selectSQL(where conditions: [String]) -> String {
        "SELECT \(columns) FROM grants \(sqlWhere(conditions)) ORDER BY id DESC"
    }

    static let byIDSQL = "SELECT \(columns) FROM grants WHERE id = ?"
    /// A user's live grants, newest first: bind the user, then `liveValues(now)`.
    static let liveOfUserSQL = selectSQL(where: [userCondition, liveCondition])
    /// Takes one use of a live grant; bind its id, then `liveValues(now)`.
    static let useSQL = """
        UPDATE grants SET uses_left = uses_left - 1
        WHERE id = ? AND \(liveCondition)
        """

    static func values(_ g: Grant) throws -> [SQLValue] {
        [
            .int(g.requestID), .text(g.user), .text(g.runAs), .text(g.host), .text(g.scope.rawValue),
            try g.command.map { .blob(try ArgvCoding.encode($0)) } ?? .null, .text(g.rule), .int(g.notBefore),
            .int(g.expiresAt), .int(g.usesLeft), .int(g.revokedAt), .text(g.revokedBy), .text(g.source.rawValue),
        ]
    }

    static func decode(_ row: some SQLRow) throws -> Grant {
        let id = row.int64(0)
        return Grant(
            id: id, requestID: row.optionalInt64(1), user: row.text(2), runAs: row.text(3), host: row.text(4),
            scope: try row.enumValue(5, table: "grants", id: id),
            command: row.isNull(6) ? nil : try row.argv(6, table: "grants", id: id),
            rule: row.text(7), notBefore: row.instant(8), expiresAt: row.instant(9), usesLeft: row.optionalInt64(10),
            revokedAt: row.optionalInstant(11), revokedBy: row.optionalText(12),
            source: try row.enumValue(13, table: "grants", id: id))
    }
}

/// `audit` rows. `fields` is stored as its canonical JSON object text.
enum AuditRow {
    static let columns = "seq, time, host, event, actor, fields, prev_hash, hash"
    static let headSQL = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
    static let insertSQL = "INSERT INTO audit (\(columns)) VALUES (\(sqlPlaceholders(8)))"

    static func decode(_ row: some SQLRow) throws -> AuditRecord {
        try stored(row).record()
    }

    /// The row's columns lent as bytes for the length of `body`.
    static func withBytes<T>(_ row: some SQLRow, _ body: (AuditRowBytes) -> T) -> T {
        row.withBytes(2) { host in
            row.withBytes(3) { event in
                row.withBytes(4) { actor in
                    row.withBytes(5) { fields in
                        row.withBytes(6) { prevHash in
                            row.withBytes(7) { hash in
                                body(
                                    AuditRowBytes(
                                        seq: row.int64(0), time: row.instant(1), host: host, event: event,
                                        actor: actor, fields: fields, prevHash: prevHash, hash: hash))
                            }
                        }
                    }
                }
            }
        }
    }

    static func stored(_ row: some SQLRow) -> StoredAuditRecord {
        var valid = true
        func text(_ column: Int32) -> String {
            if let text = row.validText(column) { return text }
            valid = false
            return row.text(column)
        }
        var record = StoredAuditRecord(
            seq: row.int64(0), time: row.instant(1), host: text(2), event: text(3), actor: text(4),
            fieldsText: text(5), prevHash: text(6), hash: text(7))
        record.storedAsValidUTF8 = valid
        return record
    }
}
