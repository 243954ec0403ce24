import JitexecBase

extension StoreConnection {
    func auditHead() throws -> (seq: Int64, hash: String)? {
        try requireOpen()
        return try query(AuditRow.headSQL, []) { row in
            (seq: row.int64(0), hash: row.text(1))
        }.first
    }

    func auditRecords(_ filter: AuditFilter) throws -> [AuditRecord] {
        try requireOpen()
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let since = filter.sinceTime {
            conditions.append("time >= ?")
            values.append(.int(since))
        }
        if let actor = filter.actor {
            conditions.append("actor = ?")
            values.append(.text(actor))
        }
        if let event = filter.event {
            conditions.append("event = ?")
            values.append(.text(event))
        }
        if let text = filter.fieldsContaining {
            // LIKE on both engines (SQLite's ignores ASCII case: a few more rows, read and checked).
            conditions.append("fields LIKE ? ESCAPE '!'")
            var pattern = "%"
            for c in text {
                if c == "%" || c == "_" || c == "!" { pattern.append("!") }
                pattern.append(c)
            }
            values.append(.text(pattern + "%"))
        }
        if let after = filter.afterSeq {
            conditions.append("seq > ?")
            values.append(.int(after))
        }
        var sql = "SELECT \(AuditRow.columns) FROM audit \(sqlWhere(conditions)) ORDER BY seq"
        if let limit = filter.limit {
            sql += " LIMIT ?"
            values.append(.int(Int64(max(0, limit))))
        }
        return try query(sql, values, AuditRow.decode)
    }

    func forEachAuditRecord(_ body: (AuditRecord) throws -> Void) throws {
        try requireOpen()
        try db.forEachRow("SELECT \(AuditRow.columns) FROM audit ORDER BY seq", []) {
            try body(try AuditRow.decode($0))
        }
    }

    func forEachStoredAuditRecord(
        passing: (AuditRowBytes) -> Bool, _ body: (StoredAuditRecord) throws -> Void
    ) throws {
        try requireOpen()
        try db.forEachRow("SELECT \(AuditRow.columns) FROM audit ORDER BY seq", []) { row in
            if AuditRow.withBytes(row, passing) { return }
            try body(AuditRow.stored(row))
        }
    }

    /// Reads the head inside this write transaction (which holds the write lock since BEGIN
    /// IMMEDIATE), so appends from every process are serialized and the chain never forks. After
    /// an append in the same transaction, that record is the head: nobody else can have written.
    /// The fleet store reads the head in its BEGIN's message, after the lock (`headAtBegin`).
    func appendAudit(_ event: AuditEvent) throws -> AuditRecord {
        try requireWritable()
        let head: (seq: Int64, hash: String)?
        if let last = appended.last {
            head = (seq: last.seq, hash: last.hash)
        } else if case .read(let atBegin) = headAtBegin {
            head = atBegin
        } else {
            head = try auditHead()
        }
        let (record, fieldsText) = AuditChain.sealForStore(event, after: head, time: clock(), host: host)
        do {
            try db.run(
                AuditRow.insertSQL,
                [
                    .int(record.seq), .int(record.time), .text(record.host), .text(record.event), .text(record.actor),
                    .text(fieldsText), .text(record.prevHash), .text(record.hash),
                ])
        } catch let error as any SQLEngineError where !error.isOperational {
            // Locked, damaged, unreachable or full keep their own explanation; anything else is the
            // audit log refusing.
            throw StoreError.auditRefused(path: label, reason: error.reason)
        }
        appendedRecord(record)
        return record
    }

    func addSuppressed(actor: String, event: String) throws {
        try requireWritable()
        try db.run(
            """
            INSERT INTO suppressed (actor, event, count) VALUES (?, ?, 1)
            ON CONFLICT (actor, event) DO UPDATE SET count = suppressed.count + 1
            """, [.text(actor), .text(event)])
    }

    func takeSuppressed(actor: String, event: String) throws -> Int64 {
        try requireWritable()
        let count =
            try query(
                "SELECT count FROM suppressed WHERE actor = ? AND event = ?", [.text(actor), .text(event)]
            ) { row in row.int64(0) }.first ?? 0
        if count > 0 {
            try db.run("DELETE FROM suppressed WHERE actor = ? AND event = ?", [.text(actor), .text(event)])
        }
        return count
    }
}
