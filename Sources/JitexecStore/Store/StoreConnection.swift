import JitexecBase

/// The reader and writer handed to `read`/`write` bodies, on either engine: the SQL behind every
/// `StoreWriter` method, written once, so every workflow rule is the same statements in SQLite and in
/// PostgreSQL. Usable only while `mode` says a transaction is open.
final class StoreConnection<Engine: SQLEngine>: StoreWriter {
    enum Mode { case idle, reading, writing }

    let db: Engine
    /// Names the database in messages (its path, or the PostgreSQL server).
    let label: String
    let host: String
    let clock: @Sendable () -> Instant
    private(set) var mode = Mode.idle
    /// Audit records appended in the current write transaction, for the sink after COMMIT.
    private(set) var appended: [AuditRecord] = []
    /// The audit head as the engine read it with the write transaction's start, under its write lock
    /// (the fleet store's BEGIN message reads it: one round trip less); forgotten when the
    /// transaction's body ends.
    enum HeadAtBegin {
        case unread
        case read((seq: Int64, hash: String)?)
    }
    var headAtBegin = HeadAtBegin.unread

    init(db: Engine, label: String, host: String, clock: @escaping @Sendable () -> Instant) {
        self.db = db
        self.label = label
        self.host = host
        self.clock = clock
    }

    /// Runs `body` with the connection open in `mode`, then closes it again.
    func during<T>(_ newMode: Mode, _ body: () throws -> T) throws -> T {
        mode = newMode
        appended = []
        defer {
            mode = .idle
            headAtBegin = .unread
        }
        return try body()
    }

    func appendedRecord(_ record: AuditRecord) { appended.append(record) }

    func requireOpen() throws { guard mode != .idle else { throw StoreError.transactionEnded } }
    func requireWritable() throws { guard mode == .writing else { throw StoreError.transactionEnded } }

    // MARK: Requests

    func request(id: Int64) throws -> Request? {
        try requireOpen()
        return try query(RequestRow.byIDSQL, [.int(id)], RequestRow.decode).first
    }

    func requests(status: RequestStatus?, requester: String?) throws -> [Request] {
        try requireOpen()
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let status {
            conditions.append("status = ?")
            values.append(.text(status.rawValue))
        }
        if let requester {
            conditions.append("requester = ?")
            values.append(.text(requester))
        }
        let sql =
            "SELECT \(RequestRow.columns) FROM requests \(sqlWhere(conditions)) ORDER BY created_at DESC, id DESC"
        return try query(sql, values, RequestRow.decode)
    }

    func insertRequest(_ request: Request) throws -> Int64 {
        try requireWritable()
        return try db.insertReturningID(
            "INSERT INTO requests (\(RequestRow.insertColumns)) VALUES (\(sqlPlaceholders(RequestRow.insertCount)))",
            try RequestRow.values(request))
    }

    func setRequestStatus(
        id: Int64, from: RequestStatus, to: RequestStatus, at: Instant, by: String?, comment: UserText?
    ) throws -> Bool {
        try requireWritable()
        guard from == .pending, to != .pending else { throw StoreError.invalidTransition(from: from, to: to) }
        return try db.run(
            """
            UPDATE requests SET status = ?, decided_at = ?, decided_by = ?, comment = ?
            WHERE id = ? AND status = ?
            """,
            [.text(to.rawValue), .int(at), .text(by), .user(comment), .int(id), .text(from.rawValue)]) == 1
    }

    // MARK: Approvals

    func approvals(requestID: Int64) throws -> [Approval] {
        try requireOpen()
        return try query(
            "SELECT request_id, approver, at, comment, max_seconds FROM approvals WHERE request_id = ? ORDER BY at, id",
            [.int(requestID)]
        ) { row in
            Approval(
                requestID: row.int64(0), by: row.text(1), at: row.instant(2), comment: row.optionalUserText(3),
                maxSeconds: row.optionalInt64(4))
        }
    }

    func insertApproval(_ approval: Approval) throws {
        try requireWritable()
        do {
            try db.run(
                "INSERT INTO approvals (request_id, approver, at, comment, max_seconds) VALUES (?, ?, ?, ?, ?)",
                [
                    .int(approval.requestID), .text(approval.by), .int(approval.at), .user(approval.comment),
                    .int(approval.maxSeconds),
                ])
        } catch let error as any SQLEngineError where error.isUniqueViolation {
            throw StoreError.duplicateApproval(requestID: approval.requestID, approver: approval.by)
        } catch let error as any SQLEngineError where error.isForeignKeyViolation {
            throw StoreError.noSuchRequest(id: approval.requestID)
        }
    }

    // MARK: Helpers shared by the extensions

    /// Runs a query and decodes every row.
    func query<T>(_ sql: String, _ values: [SQLValue], _ decode: (Engine.Row) throws -> T) throws -> [T] {
        try db.query(sql, values, decode)
    }
}
