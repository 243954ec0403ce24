import JitexecBase
import JitexecSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The embedded store: one SQLite file, shared safely by every jitexec and jitctl process on the
/// host (WAL, `BEGIN IMMEDIATE` writers, a busy timeout).
///
/// `@unchecked Sendable`: the only mutable state is the connection, and every use of it happens
/// inside `lock`, one transaction at a time. Reader/writer objects handed to bodies refuse to work
/// once their transaction has ended, so they cannot smuggle the connection out of the lock.
public final class SQLiteStore: JitStore, @unchecked Sendable {
    public let path: String
    public let host: String
    private let busyTimeoutMillis: Int32
    let connection: StoreConnection<Database>
    private let auditSink: @Sendable (AuditRecord) -> Void
    private let lock = SerialLock()

    /// Opens (creating if needed, files 0600) and migrates the database at `path`.
    /// - Parameters:
    ///   - host: this host's name, stamped on audit records.
    ///   - clock: the time stamped on audit records.
    ///   - auditSink: receives every audit record after its transaction committed (`AuditSyslog.send`).
    public init(
        path: String, host: String, clock: @escaping @Sendable () -> Instant, busyTimeoutMillis: Int32 = 5000,
        auditSink: @escaping @Sendable (AuditRecord) -> Void
    ) throws {
        self.path = path
        self.host = host
        self.busyTimeoutMillis = busyTimeoutMillis
        self.auditSink = auditSink
        let db = try Self.storeErrors(path: path, busyTimeoutMillis: busyTimeoutMillis) {
            try Self.openPrivately(path: path, busyTimeoutMillis: busyTimeoutMillis)
        }
        self.connection = StoreConnection(db: db, label: path, host: host, clock: clock)
    }

    public func read<T>(_ body: (any StoreReader) throws -> T) throws -> T {
        try TerminalSignals.holding { try readHolding(body) }
    }

    /// Compiles the statements a run executes (`RunStatements`) and keeps them on the connection.
    /// Best effort: one that does not compile now is compiled, or fails, when it is used.
    public func compileRunStatements() {
        _ = try? lock.withLock { for sql in RunStatements.sql { try? connection.db.keepCompiled(sql) } }
    }

    public var checkpointDue: Bool {
        (try? lock.withLock { connection.db.framesInLog >= Database.besideCheckpointFrames }) ?? false
    }

    public func checkpoint() {
        _ = try? lock.withLock { try connection.db.checkpointPassive() }
    }

    /// Statements this connection has compiled so far (not taken from the kept ones).
    public func statementsCompiled() throws -> Int { try lock.withLock { connection.db.compiled } }

    private func readHolding<T>(_ body: (any StoreReader) throws -> T) throws -> T {
        try lock.withLock {
            try storeErrors {
                try connection.db.transaction(.deferred) {
                    try connection.during(.reading) { try body(connection) }
                }
            }
        }
    }

    public func write<T>(_ body: (any StoreWriter) throws -> T) throws -> T {
        try write(synchronous: .full, body)
    }

    public func writeRelaxed<T>(_ body: (any StoreWriter) throws -> T) throws -> T {
        try write(synchronous: .normal, body)
    }

    private func write<T>(synchronous: Database.Synchronous, _ body: (any StoreWriter) throws -> T) throws -> T {
        let (value, appended) = try TerminalSignals.holding {
            try lock.withLock { () throws -> (T, [AuditRecord]) in
                try storeErrors { () throws -> (T, [AuditRecord]) in
                    try connection.db.setSynchronous(synchronous)
                    defer { if synchronous != .full { try? connection.db.setSynchronous(.full) } }
                    return try connection.db.transaction(.immediate) {
                        try connection.during(.writing) { (try body(connection), connection.appended) }
                    }
                }
            }
        }
        // Committed: only now may the records leave the database.
        for record in appended { auditSink(record) }
        return value
    }

    // MARK: Opening

    /// Serializes the umask change: it is process-wide.
    private static let openLock = SerialLock()

    /// Opens and migrates with umask 077, so the database and its -wal/-shm files are created 0600.
    /// Opening may rebuild the WAL index under the store's locks, and migrating is a transaction:
    /// terminal signals are held meanwhile (see TerminalSignals).
    private static func openPrivately(path: String, busyTimeoutMillis: Int32) throws -> Database {
        try TerminalSignals.holding {
            try openLock.withLock {
                let saved = umask(0o077)
                defer { umask(saved) }
                let db = try Database.open(path: path, busyTimeoutMillis: busyTimeoutMillis)
                try Migrations.migrate(db)
                return db
            }
        }
    }

    // MARK: Errors

    private func storeErrors<T>(_ body: () throws -> T) throws -> T {
        try Self.storeErrors(path: path, busyTimeoutMillis: busyTimeoutMillis, body)
    }

    /// SQLite errors leave the store as `StoreError`; everything else (a body's own errors) as is.
    private static func storeErrors<T>(path: String, busyTimeoutMillis: Int32, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw StoreError(error, path: path, busyTimeoutMillis: busyTimeoutMillis)
        }
    }
}
