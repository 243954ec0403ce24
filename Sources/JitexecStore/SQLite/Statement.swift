import CSQLite
import JitexecBase

/// One prepared statement in use. It owns the `sqlite3_stmt*` while it exists and hands it back
/// to its `Database` in `deinit` (reset, to be reused or finalized: `Database.recycle`); it keeps
/// that database alive for as long as it exists.
final class Statement: SQLRow {
    private let handle: OpaquePointer
    let database: Database
    let sql: String

    /// The database's kept statement for `sql`, or a newly compiled one.
    init(_ database: Database, sql: String) throws {
        self.database = database
        self.sql = sql
        if let kept = database.takeIdle(sql) {
            self.handle = kept
            return
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw database.error(rc == SQLITE_OK ? SQLITE_MISUSE : rc, context: sql) }
        self.handle = raw
        database.compiled += 1
    }

    deinit { database.recycle(handle, sql: sql) }

    // MARK: Binding (indexes start at 1, as in SQLite)

    func bind(_ values: [SQLValue]) throws {
        for (n, value) in values.enumerated() { try bind(value, at: Int32(n + 1)) }
    }

    func bind(_ value: SQLValue, at index: Int32) throws {
        switch value {
        case .null: try bindNull(at: index)
        case .int(let v): try bind(v, at: index)
        case .text(let s): try bind(textBytes: Array(s.utf8), at: index)
        case .textBytes(let b): try bind(textBytes: b, at: index)
        case .blob(let b): try bind(blob: b, at: index)
        }
    }

    func bind(_ value: Int64, at index: Int32) throws {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    func bind(_ value: String, at index: Int32) throws { try bind(textBytes: Array(value.utf8), at: index) }

    func bindNull(at index: Int32) throws { try check(sqlite3_bind_null(handle, index)) }

    /// TEXT with exactly these bytes. An empty array binds the empty string, never NULL.
    func bind(textBytes bytes: [UInt8], at index: Int32) throws {
        let rc = bytes.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.baseAddress, !raw.isEmpty else {
                return sqlite3_bind_text(handle, index, "", 0, csqlite_transient())
            }
            return sqlite3_bind_text(
                handle, index, base.assumingMemoryBound(to: CChar.self), Int32(raw.count), csqlite_transient())
        }
        try check(rc)
    }

    /// A BLOB. An empty array binds a zero-length blob, never NULL.
    func bind(blob bytes: [UInt8], at index: Int32) throws {
        let rc = bytes.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.baseAddress, !raw.isEmpty else { return sqlite3_bind_zeroblob(handle, index, 0) }
            return sqlite3_bind_blob(handle, index, base, Int32(raw.count), csqlite_transient())
        }
        try check(rc)
    }

    // MARK: Stepping

    /// Advances: true when a row is ready, false when the statement is done.
    func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(rc, context: sql)
        }
    }

    /// Makes the statement ready to run again, with no parameters bound.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Columns (indexes start at 0, as in SQLite)

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    /// The column's bytes exactly as stored, TEXT or BLOB, with no encoding conversion.
    func withBytes<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        guard let base = sqlite3_column_blob(handle, column) else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return try body(UnsafeRawBufferPointer(start: base, count: Int(sqlite3_column_bytes(handle, column))))
    }

    private func check(_ rc: Int32) throws {
        guard rc == SQLITE_OK else { throw database.error(rc, context: sql) }
    }
}
