import JitexecBase
import JitexecSystem

/// The fleet store: one PostgreSQL database shared by every host. The statements are the SQLite
/// store's (`StoreConnection`); what differs is how transactions are opened:
/// - a read is one REPEATABLE READ, READ ONLY transaction: one consistent snapshot;
/// - a write is READ COMMITTED and first takes one fleet-wide advisory lock, so writes on every host
///   are serialized exactly as SQLite's `BEGIN IMMEDIATE` serializes them on one host: each
///   statement after the lock sees everything committed before it, the audit chain is appended
///   head + 1 and never forks, and every compare-and-set reads as it does in SQLite;
/// - a write that appended audit records sends a NOTIFY on `jitexec` (delivered at commit), the
///   wake-up for commands waiting on other hosts (`changeDescriptor`).
///
/// A broken connection (server restarted, network lost, a timeout) is dropped; the next transaction
/// connects again and reads the state afresh. A write is never retried: when a connection drops
/// before COMMIT is acknowledged, the caller is told the store failed and nothing runs.
///
/// `@unchecked Sendable`: the mutable state (the connections) is used only inside `lock`.
public final class PostgreSQLStore: JitStore, @unchecked Sendable {
    public let host: String
    /// Names the database in messages, without credentials.
    public let label: String
    private let url: String
    private let timeoutMillis: Int32
    private let clock: @Sendable () -> Instant
    private let auditSink: @Sendable (AuditRecord) -> Void
    private let lock = SerialLock()
    private var connection: StoreConnection<PGConnection>?
    /// A second connection that LISTENs, opened by the first `changeDescriptor`.
    private var listener: PGConnection?

    /// The lock every write takes (an arbitrary constant: "jitexec" in ASCII).
    static let writeLockKey: Int64 = 0x6a69_7465_7865_63
    /// The lock migrations take.
    static let schemaLockKey: Int64 = 0x6a69_7465_7865_64
    static let channel = "jitexec"

    /// Connects and checks the schema (creating or migrating it when the role may).
    /// - Parameters:
    ///   - url: the libpq connection URL (from the root-only `url_file`).
    ///   - label: how messages name the database.
    ///   - timeoutMillis: the bound on connecting and on every statement.
    public init(
        url: String, label: String, host: String, clock: @escaping @Sendable () -> Instant,
        timeoutMillis: Int32 = 5000, auditSink: @escaping @Sendable (AuditRecord) -> Void
    ) throws {
        self.url = url
        self.label = label
        self.host = host
        self.clock = clock
        self.timeoutMillis = timeoutMillis
        self.auditSink = auditSink
        try TerminalSignals.holding {
            try lock.withLock {
                try storeErrors { _ = try live() }
            }
        }
    }

    public func read<T>(_ body: (any StoreReader) throws -> T) throws -> T {
        try TerminalSignals.holding {
            try lock.withLock {
                try storeErrors {
                    let connection = try live()
                    // Nothing a read-only transaction's COMMIT answers changes what was read: it is
                    // sent, and its answer read by the connection's next use.
                    return try transaction(
                        connection,
                        begin: { try connection.db.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") },
                        commit: { try connection.db.sendUnwaited("COMMIT") }
                    ) {
                        try connection.during(.reading) { try body(connection) }
                    }
                }
            }
        }
    }

    public func write<T>(_ body: (any StoreWriter) throws -> T) throws -> T {
        try write(durable: true, body)
    }

    public func writeRelaxed<T>(_ body: (any StoreWriter) throws -> T) throws -> T {
        try write(durable: false, body)
    }

    private func write<T>(durable: Bool, _ body: (any StoreWriter) throws -> T) throws -> T {
        let (value, appended) = try TerminalSignals.holding {
            try lock.withLock { () throws -> (T, [AuditRecord]) in
                try storeErrors { () throws -> (T, [AuditRecord]) in
                    let connection = try live()
                    // One round trip opens the transaction, takes the lock, for a relaxed write
                    // drops the wait for the server's sync, and reads the audit head (under the
                    // lock, as every append reads it: one message, run in order; a failure leaves
                    // the transaction aborted and `transaction` rolls it back).
                    let begin = {
                        let head = try connection.db.scriptRows(
                            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(\(Self.writeLockKey))"
                                + (durable ? "" : "; SET LOCAL synchronous_commit = off") + "; " + AuditRow.headSQL)
                        connection.headAtBegin = .read(try head.first.map(self.head(fromText:)))
                    }
                    // The wake-up rides in the COMMIT's message (the channel is a constant, the
                    // payload a number): sent at commit, as before, one round trip less.
                    let commit = {
                        try connection.db.script(
                            connection.appended.last.map { "SELECT pg_notify('\(Self.channel)', '\($0.seq)'); COMMIT" }
                                ?? "COMMIT")
                    }
                    return try transaction(connection, begin: begin, commit: commit) {
                        let value = try connection.during(.writing) { try body(connection) }
                        return (value, connection.appended)
                    }
                }
            }
        }
        // Committed: only now may the records leave the database.
        for record in appended { auditSink(record) }
        return value
    }

    /// The LISTEN connection's socket, connecting it first; nil when the database cannot be
    /// reached now (the waiter polls, and its next read says what is wrong).
    public func changeDescriptor() -> Int32? {
        TerminalSignals.holding {
            (try? lock.withLock { () -> Int32? in
                if let listener, listener.isUsable { return listener.socket }
                listener = nil
                guard let opened = try? PGConnection.connect(url: url, timeoutMillis: timeoutMillis),
                    (try? opened.script("LISTEN \(Self.channel)")) != nil
                else { return nil }
                listener = opened
                return opened.socket
            }) ?? nil
        }
    }

    /// Reads the notifications that arrived (their content does not matter: the waiter re-reads).
    public func takeChanges() {
        TerminalSignals.holding {
            try? lock.withLock {
                guard let listener else { return }
                if (try? listener.notifications(waitingMillis: 0)) == nil { self.listener = nil }
            }
        }
    }

    // MARK: Connections

    /// The open connection, or a new one (schema checked) when there is none or it broke.
    private func live() throws -> StoreConnection<PGConnection> {
        if let connection, connection.db.isUsable { return connection }
        connection = nil
        let db = try PGConnection.connect(url: url, timeoutMillis: timeoutMillis)
        try migrate(db)
        let opened = StoreConnection(db: db, label: label, host: host, clock: clock)
        connection = opened
        return opened
    }

    private func transaction<T>(
        _ connection: StoreConnection<PGConnection>, begin: () throws -> Void, commit: () throws -> Void,
        _ body: () throws -> T
    ) throws -> T {
        do {
            // Inside: `begin` may open the transaction and then fail (a lock wait over the timeout).
            try begin()
            let value = try body()
            try commit()
            return value
        } catch {
            if !connection.db.isBroken { try? connection.db.script("ROLLBACK") }
            throw error
        }
    }

    /// Brings the schema to `PGSchema.latest` under the schema lock; a database migrated by a newer
    /// jitexec is refused.
    private func migrate(_ db: PGConnection) throws {
        let read = "SELECT version FROM jitexec_schema"
        func stored() throws -> Int64? { try db.query(read, []) { $0.int64(0) }.first }
        func version() throws -> Int64? {
            // The catalog itself, not to_regclass: a session's cached "no such relation" survives
            // another host creating the schema while this one waited for the schema lock.
            let exists = try db.query(
                """
                SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                               WHERE c.relname = 'jitexec_schema' AND n.nspname = current_schema())
                """, []
            ) { $0.int64(0) != 0 }
            guard exists.first == true else { return nil }
            return try stored()
        }
        // Every run connects anew, so this is a run's first statement, the one that also sets the
        // connection's limits. The common case first: the schema is there, read in that statement;
        // the catalog query plans a join over pg_class and pg_namespace, 0.7-1.2 ms in a new server
        // backend against 0.2 ms. Only a missing table (42P01) takes the catalog's path.
        let found: Int64
        do {
            found = try db.firstQuery("(\(read))", []) { $0.int64(PGConnection.limitColumns) }.first ?? 0
        } catch let error as PGError where error.sqlstate == "42P01" {
            found = try version() ?? 0
        }
        try refuseNewer(found)
        guard found < PGSchema.latest else { return }
        try db.script("BEGIN")
        do {
            try db.run("SELECT pg_advisory_xact_lock(?)", [.int(Self.schemaLockKey)])
            let current = try version()
            try refuseNewer(current ?? 0)
            if current == nil {
                try db.script("CREATE TABLE jitexec_schema (version BIGINT NOT NULL)")
                try db.run("INSERT INTO jitexec_schema (version) VALUES (0)", [])
            }
            for step in PGSchema.all where step.version > current ?? 0 { try db.script(step.sql) }
            try db.run("UPDATE jitexec_schema SET version = ?", [.int(PGSchema.latest)])
            try db.script("COMMIT")
        } catch {
            if !db.isBroken { try? db.script("ROLLBACK") }
            // A host's role on a schema an older jitexec made: only the schema's owner migrates.
            if found > 0, let refused = error as? PGError, refused.sqlstate == "42501" {
                throw StoreError.schemaNeedsOwner(
                    path: label, found: Int32(clamping: found), known: Int32(PGSchema.latest))
            }
            throw error
        }
    }

    /// The audit head from its row as text (`scriptRows`): sequence number and hash.
    private func head(fromText row: [String?]) throws -> (seq: Int64, hash: String) {
        guard row.count == 2, let seq = row[0].flatMap({ Int64($0) }), let hash = row[1] else {
            throw StoreError.corrupt(path: label, reason: "the audit head was not read as a sequence number and a hash")
        }
        return (seq: seq, hash: hash)
    }

    private func refuseNewer(_ version: Int64) throws {
        guard version <= PGSchema.latest else {
            throw StoreError.schemaTooNew(path: label, found: Int32(clamping: version), known: Int32(PGSchema.latest))
        }
    }

    // MARK: Errors

    /// PostgreSQL errors leave the store as `StoreError`; everything else (a body's own errors) as is.
    private func storeErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PGError {
            throw StoreError(error, server: label, timeoutMillis: timeoutMillis)
        }
    }
}
