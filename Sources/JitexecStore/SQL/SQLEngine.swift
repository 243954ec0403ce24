import JitexecBase

// What the store's logic needs from a SQL engine, so that every workflow rule is one statement text
// run by both backends (`StoreConnection`). The SQL is portable: `?` parameters, `"user"` quoted,
// `ON CONFLICT`, `RETURNING`; each engine keeps its own schema (SQLite `Schema/`, PostgreSQL
// `PostgreSQL/PGSchema`).

/// A value bound to a statement parameter.
enum SQLValue {
    case null
    case int(Int64)
    /// Text jitexec itself makes (names, states, JSON): TEXT in both engines.
    case text(String)
    /// User-controlled bytes, stored exactly (valid UTF-8 or not): TEXT in SQLite, BYTEA in PostgreSQL.
    case textBytes([UInt8])
    case blob([UInt8])

    static func int(_ v: Int64?) -> SQLValue { v.map { .int($0) } ?? .null }
    /// An instant is stored as its microseconds since the epoch.
    static func int(_ v: Instant) -> SQLValue { .int(v.micros) }
    static func int(_ v: Instant?) -> SQLValue { v.map { .int($0.micros) } ?? .null }
    static func text(_ v: String?) -> SQLValue { v.map { .text($0) } ?? .null }
    /// User-controlled text, stored with its exact bytes.
    static func user(_ v: UserText?) -> SQLValue { v.map { .textBytes($0.bytes) } ?? .null }
}

/// One row of a result. Columns count from 0.
protocol SQLRow: SendableMetatype {
    func isNull(_ column: Int32) -> Bool
    func int64(_ column: Int32) -> Int64
    /// The column's bytes where the engine keeps them (exactly as stored, no encoding
    /// conversion), for the length of `body`.
    func withBytes<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T
}

extension SQLRow {
    /// The column's bytes exactly as stored, with no encoding conversion.
    func bytes(_ column: Int32) -> [UInt8] { withBytes(column) { Array($0) } }
    func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }
    /// A column holding an instant's microseconds.
    func instant(_ column: Int32) -> Instant { Instant(micros: int64(column)) }
    func optionalInstant(_ column: Int32) -> Instant? { isNull(column) ? nil : instant(column) }
    func optionalBytes(_ column: Int32) -> [UInt8]? { isNull(column) ? nil : bytes(column) }
    /// For columns jitexec itself writes (names, states, JSON); user bytes go through `bytes`.
    func text(_ column: Int32) -> String { withBytes(column) { String(decoding: $0, as: UTF8.self) } }
    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
    /// The column as text only when it is valid UTF-8 as stored (`text` would repair it).
    func validText(_ column: Int32) -> String? { withBytes(column) { String(validating: $0, as: UTF8.self) } }
    func optionalUserText(_ column: Int32) -> UserText? { optionalBytes(column).map { UserText(bytes: $0) } }

    /// A column holding one of `E`'s raw values; anything else is a damaged row.
    func enumValue<E: RawRepresentable>(_ column: Int32, table: String, id: Int64) throws -> E
    where E.RawValue == String {
        let raw = text(column)
        guard let value = E(rawValue: raw) else {
            throw StoreError.corruptRecord(table: table, id: id, problem: "unknown \(E.self) '\(Escape.text(raw))'")
        }
        return value
    }

    func argv(_ column: Int32, table: String, id: Int64) throws -> [UserText] {
        guard let argv = ArgvCoding.decode(bytes(column)) else {
            throw StoreError.corruptRecord(table: table, id: id, problem: "the command is not NUL-terminated")
        }
        return argv
    }
}

/// A connection the store's statements run on, inside a transaction its store opened.
protocol SQLEngine: AnyObject {
    associatedtype Row: SQLRow

    /// Runs one statement to completion; the number of rows it inserted, changed or deleted.
    @discardableResult func run(_ sql: String, _ values: [SQLValue]) throws -> Int64
    /// Runs one query and hands every row to `body`, in order.
    func forEachRow(_ sql: String, _ values: [SQLValue], _ body: (Row) throws -> Void) throws
}

extension SQLEngine {
    /// Runs a query and decodes every row.
    func query<T>(_ sql: String, _ values: [SQLValue], _ decode: (Row) throws -> T) throws -> [T] {
        var rows: [T] = []
        try forEachRow(sql, values) { rows.append(try decode($0)) }
        return rows
    }

    /// What `insertReturningID` appends to its INSERT.
    static var returningID: String { " RETURNING id" }

    /// Runs an `INSERT … RETURNING id`; the id.
    func insertReturningID(_ sql: String, _ values: [SQLValue]) throws -> Int64 {
        guard let id = try query(sql + Self.returningID, values, { $0.int64(0) }).first else {
            throw StoreError.invalidRecord("the database returned no id for a new row")
        }
        return id
    }
}

/// An engine's failure, as the store's logic needs to tell them apart.
protocol SQLEngineError: Error {
    var isUniqueViolation: Bool { get }
    var isForeignKeyViolation: Bool { get }
    /// Locked, damaged, unreachable or full: the failure keeps its own explanation (an audit
    /// append that fails this way is not "the audit log refusing a record").
    var isOperational: Bool { get }
    /// The engine's message, for the person at the terminal.
    var reason: String { get }
}
