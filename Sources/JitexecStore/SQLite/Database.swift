import CSQLite
import JitexecBase
import JitexecSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One SQLite connection. It owns the `sqlite3*` handle and closes it in `deinit`, the only place
/// the handle is closed. Not thread-safe by itself: `SQLiteStore` serializes every use.
final class Database: SQLEngine {
    let handle: OpaquePointer
    let path: String
    let busyTimeoutMillis: Int32

    private init(handle: OpaquePointer, path: String, busyTimeoutMillis: Int32) {
        self.handle = handle
        self.path = path
        self.busyTimeoutMillis = busyTimeoutMillis
    }

    // The last connection's close checkpoints the WAL under an exclusive lock: terminal signals are
    // held meanwhile, as during a transaction (see TerminalSignals). No `Statement` is alive here
    // (each keeps its database); the idle ones are finalized first, so the close is not deferred.
    deinit {
        for statement in idle { sqlite3_finalize(statement.handle) }
        TerminalSignals.holding { _ = sqlite3_close_v2(handle) }
    }

    // MARK: Prepared statements kept for reuse

    /// A compiled statement nobody uses, reset and with no parameters bound.
    private struct IdleStatement {
        let sql: String
        let handle: OpaquePointer
    }

    /// Statements kept after use, one per SQL text. A process runs the same few statements
    /// several times (the grant read by the pre-check and by exec.start, every audit append, BEGIN
    /// and COMMIT), and compiling one costs more than running it. Raw handles, so the cache keeps
    /// no `Statement`, and so not this database, alive.
    private var idle: [IdleStatement] = []

    /// At most this many statements are kept; more are finalized after use. jitexec's hot path uses
    /// about a dozen distinct ones.
    static let idleLimit = 32

    /// Statements compiled by this connection (not taken from the kept ones; `Statement.init`
    /// counts them): what the tests of `SQLiteStore.compileRunStatements` count.
    var compiled = 0

    /// Compiles `sql` and keeps it, unless one is kept already (or the cache is full).
    func keepCompiled(_ sql: String) throws {
        guard idle.count < Self.idleLimit, !idle.contains(where: { $0.sql == sql }) else { return }
        _ = try Statement(self, sql: sql)  // its deinit hands it back to `idle`
    }

    /// A kept statement for `sql`, now owned by the caller; nil when none is kept.
    func takeIdle(_ sql: String) -> OpaquePointer? {
        guard let index = idle.firstIndex(where: { $0.sql == sql }) else { return nil }
        return idle.remove(at: index).handle
    }

    /// Takes back a statement its `Statement` is done with: reset (which ends its read, if a row
    /// was left unread), unbound and kept, or finalized when one for the same SQL is kept already
    /// or the cache is full.
    func recycle(_ statement: OpaquePointer, sql: String) {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        if idle.count < Self.idleLimit, !idle.contains(where: { $0.sql == sql }) {
            idle.append(IdleStatement(sql: sql, handle: statement))
        } else {
            sqlite3_finalize(statement)
        }
    }

    /// The VFS every connection opens with, registered once per process, before the first open
    /// (`csqlite_set_up_process`, which first turns SQLite's memory statistics off): SQLite's
    /// default, but for the write-ahead log, which is opened without a sync of its folder when it
    /// exists (CSQLite's shim.h says why it is safe; 0.07 ms of every run's durable commit). nil, the
    /// default VFS, should it not register: the same work, only slower.
    private static let vfs = csqlite_set_up_process().map { String(cString: $0) }

    /// Opens (creating if needed) the database at `path` and applies the connection settings jitexec
    /// relies on: a busy timeout, WAL, durable commits, foreign keys, no trusted schema, defensive mode.
    /// A symbolic link at `path` is refused.
    ///
    /// No SQLite mutex (NOMUTEX): the one `SQLiteStore` that owns the connection uses it only under
    /// its own `SerialLock`, so SQLite's per-call locking would only cost time (verify reads a
    /// million rows, several calls each).
    static func open(path: String, busyTimeoutMillis: Int32) throws -> Database {
        var raw: OpaquePointer?
        let flags =
            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX
            | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &raw, flags, Self.vfs)
        guard let raw else {
            throw SQLiteError(extendedCode: SQLITE_NOMEM, message: "", context: "opening \(path)")
        }
        // From here on `db` owns the handle: a throw releases it and `deinit` closes it.
        let db = Database(handle: raw, path: path, busyTimeoutMillis: busyTimeoutMillis)
        guard rc == SQLITE_OK else { throw db.error(rc, context: "opening \(path)") }
        try db.configure()
        return db
    }

    private func configure() throws {
        sqlite3_extended_result_codes(handle, 1)
        try check(sqlite3_busy_timeout(handle, busyTimeoutMillis), context: "setting the busy timeout")
        var defensive: Int32 = 0
        try check(
            csqlite_db_config_int(handle, SQLITE_DBCONFIG_DEFENSIVE, 1, &defensive),
            context: "enabling SQLITE_DBCONFIG_DEFENSIVE")
        guard defensive == 1 else {
            throw SQLiteError(
                extendedCode: SQLITE_MISUSE, message: "defensive mode stayed off",
                context: "enabling SQLITE_DBCONFIG_DEFENSIVE")
        }
        // One sqlite3_exec for several pragmas: each would otherwise be prepared and run alone.
        // Every jitexec run is a short-lived process that ends without closing its connection, so
        // the next one rebuilds the WAL index by reading every frame written since the last
        // checkpoint (SQLite's recovery). A checkpoint every `walCheckpointFrames` frames at most
        // (the WAL hook below; jitexec's runs checkpoint sooner, beside their command) keeps that
        // read, and the WAL file, small whatever the history: a run pays for a few dozen frames,
        // not for up to a thousand (SQLite's default). Both are the connection's settings,
        // whatever its journal mode, so they are made here with the others.
        try execute(
            "PRAGMA trusted_schema = OFF; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; "
                + "PRAGMA journal_size_limit = \(Self.walSizeLimit)"
        )
        synchronous = .full
        // SQLite's automatic checkpoint, as `PRAGMA wal_autocheckpoint` would set it up, with the
        // log's length noted after each commit (`framesInLog`).
        sqlite3_wal_hook(
            handle,
            { context, db, name, frames in
                let database = Unmanaged<Database>.fromOpaque(context!).takeUnretainedValue()
                database.framesInLog = frames
                if frames >= Database.walCheckpointFrames {
                    sqlite3_wal_checkpoint(db, name)
                    database.framesInLog = 0
                }
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
        try enableWAL()
    }

    /// The frames in the write-ahead log after this connection's last commit, 0 before it and
    /// after its last checkpoint.
    private(set) var framesInLog: Int32 = 0

    enum Synchronous: String {
        /// Every commit is synced (the connection's setting between writes).
        case full = "FULL"
        /// The commit is not synced; a later synced one, or a checkpoint, makes it durable.
        case normal = "NORMAL"

        var pragma: String { "PRAGMA synchronous = \(rawValue)" }
    }

    /// The setting last applied; nil until it is known (a failed change leaves it unknown).
    private(set) var synchronous: Synchronous?

    /// `PRAGMA synchronous`, run only when the connection is not known to have it already. Never
    /// a kept statement: SQLite applies this pragma when it compiles it (a kept one is compiled
    /// again each time it runs), so one compiled ahead of its turn would set it then and do
    /// nothing at its turn.
    func setSynchronous(_ mode: Synchronous) throws {
        guard synchronous != mode else { return }
        synchronous = nil
        try execute(mode.pragma)
        synchronous = mode
    }

    /// A passive checkpoint: the frames of the WAL that no reader still needs are copied into the
    /// database file, which is then synced. Waits for no lock (SQLITE_BUSY when another connection
    /// is checkpointing).
    func checkpointPassive() throws {
        framesInLog = 0
        try check(
            sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil),
            context: "checkpointing the write-ahead log")
    }

    /// Frames in the WAL from which `SQLiteStore.checkpoint` has work worth a thread. jitexec then
    /// checkpoints beside the command every few runs (a run writes about a dozen frames), so its
    /// commits stay below `walCheckpointFrames`. Measured: 32 and 20 cost 0.2 ms a run more (more
    /// syncs), 56 and 80 the same as 48 (1,500 paired interleaved runs).
    static let besideCheckpointFrames: Int32 = 48

    /// Frames in the WAL after which a commit checkpoints it (a run of jitexec writes about a dozen).
    static let walCheckpointFrames: Int32 = 64
    /// The size the WAL file is cut back to when it is reused after a checkpoint.
    static let walSizeLimit = 512 * 1024

    /// Switches to write-ahead logging. Several processes opening a brand-new file at once can
    /// see SQLITE_BUSY here without the busy handler being consulted, so retry until the timeout.
    private func enableWAL() throws {
        let deadline = Clocks.monotonic().wholeMilliseconds + Int64(busyTimeoutMillis)
        while true {
            do {
                let mode = try queryText("PRAGMA journal_mode = WAL")
                guard mode?.lowercased() == "wal" else {
                    throw SQLiteError(
                        extendedCode: SQLITE_CANTOPEN,
                        message: "the file system refused write-ahead logging (journal mode is \(mode ?? "unknown"))",
                        context: "PRAGMA journal_mode = WAL")
                }
                return
            } catch let e as SQLiteError where e.isBusy && Clocks.monotonic().wholeMilliseconds < deadline {
                usleep(10_000)
            }
        }
    }

    // MARK: Running SQL

    /// Prepares one statement.
    func prepare(_ sql: String) throws -> Statement { try Statement(self, sql: sql) }

    /// Runs one or more statements that take no parameters (schema scripts, pragmas, BEGIN/COMMIT).
    func execute(_ sql: String) throws {
        try check(sqlite3_exec(handle, sql, nil, nil, nil), context: sql)
    }

    /// Runs one statement with parameters to completion, ignoring any rows; the rows it changed.
    @discardableResult func run(_ sql: String, _ values: [SQLValue] = []) throws -> Int64 {
        let statement = try prepare(sql)
        try statement.bind(values)
        while try statement.step() {}
        return changes
    }

    func forEachRow(_ sql: String, _ values: [SQLValue], _ body: (Statement) throws -> Void) throws {
        let statement = try prepare(sql)
        try statement.bind(values)
        while try statement.step() { try body(statement) }
    }

    /// The first column of the first row as text, or nil when there is no row or it is NULL.
    func queryText(_ sql: String, _ values: [SQLValue] = []) throws -> String? {
        let statement = try prepare(sql)
        try statement.bind(values)
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return statement.text(0)
    }

    /// The first column of the first row as an integer, or nil when there is no row or it is NULL.
    func queryInt(_ sql: String, _ values: [SQLValue] = []) throws -> Int64? {
        let statement = try prepare(sql)
        try statement.bind(values)
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return statement.int64(0)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int64 { sqlite3_changes64(handle) }
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// `PRAGMA user_version`: the schema version jitexec's migrations keep.
    func userVersion() throws -> Int32 { Int32(truncatingIfNeeded: try queryInt("PRAGMA user_version") ?? 0) }

    // MARK: Transactions

    enum TransactionKind: String {
        /// A read snapshot, taken at the first read.
        case deferred = "DEFERRED"
        /// Takes the write lock at once (waiting up to the busy timeout): writers are serialized.
        case immediate = "IMMEDIATE"

        var begin: String { "BEGIN \(rawValue)" }
    }

    static let commit = "COMMIT"

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it or the COMMIT throws.
    /// BEGIN and COMMIT are prepared statements like any other, so they are compiled once.
    func transaction<T>(_ kind: TransactionKind, _ body: () throws -> T) throws -> T {
        try run(kind.begin)
        do {
            let value = try body()
            try run(Self.commit)
            return value
        } catch {
            rollbackIfActive()
            throw error
        }
    }

    /// Best effort: the error being reported is the one that made us roll back.
    private func rollbackIfActive() {
        if isInTransaction { _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
    }

    // MARK: Errors

    func check(_ rc: Int32, context: String) throws {
        guard rc == SQLITE_OK else { throw error(rc, context: context) }
    }

    /// The error for result code `rc`, with the connection's message when it belongs to this failure.
    func error(_ rc: Int32, context: String) -> SQLiteError {
        let extended = sqlite3_extended_errcode(handle)
        let code = (extended & 0xff) == (rc & 0xff) ? extended : rc
        let message = (extended & 0xff) == (rc & 0xff) ? String(cString: sqlite3_errmsg(handle)) : ""
        let io = [SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN].contains(code & 0xff)
        return SQLiteError(
            extendedCode: code, message: message, context: context, systemErrno: io ? sqlite3_system_errno(handle) : 0)
    }
}
