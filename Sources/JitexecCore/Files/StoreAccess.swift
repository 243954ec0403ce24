import Glibc
import JitexecBase
import JitexecPolicy
import JitexecStore

/// Opening the store the policy's `[store]` names: the SQLite file in the state directory, after
/// checking that only root can touch it, or the fleet's PostgreSQL database through the URL in the
/// root-only `url_file`. Committed audit records go to syslog and, where the policy asks, to the
/// notifiers.
public enum StoreAccess {
    /// The bound on connecting to the fleet database and on each statement: a dead server costs a
    /// login or a command at most this long before it is refused.
    static let fleetTimeoutMillis: Int32 = 5000

    @Sendable static func openLive(_ ctx: Context) throws(JitError) -> any JitStore {
        let config = ctx.storeConfig
        if config.backend == .postgresql { return try openFleet(ctx, urlFile: config.urlFile) }
        let stateDir = try requireStateDirectory(ctx)
        var st = stat()
        let db = ctx.paths.database
        if lstat(db, &st) == 0 {
            // The database lives in the state directory just checked: only its own entry is left.
            try TrustedFiles.requireRootOwned(Paths.databaseName, inCheckedDirectory: stateDir, kind: .file)
        }
        do {
            return try SQLiteStore(path: db, host: ctx.host, clock: ctx.clock, auditSink: Notifications.sink(ctx))
        } catch {
            throw .storeUnavailable("\(error)")
        }
    }

    /// The fleet store. The URL comes only from `url_file` (never the environment, a home
    /// directory or a service file: see CJitexecPQ), which must be trusted and readable by root alone.
    static func openFleet(_ ctx: Context, urlFile: String?) throws(JitError) -> any JitStore {
        guard let urlFile else {
            throw .storeUnavailable("[store] backend \"postgresql\" needs url_file; run 'jitctl check'")
        }
        let url = try fleetURL(urlFile)
        do {
            return try PostgreSQLStore(
                url: url, label: "named in \(urlFile)", host: ctx.host, clock: ctx.clock,
                timeoutMillis: fleetTimeoutMillis, auditSink: Notifications.sink(ctx))
        } catch {
            throw .storeUnavailable("\(error)")
        }
    }

    /// What is wrong with the fleet URL file, for `jitctl check`; nil when it is usable.
    public static func fleetURLProblem(_ path: String) -> String? {
        do {
            _ = try fleetURL(path)
            return nil
        } catch {
            return error.description
        }
    }

    /// The connection URL: the first line of a trusted file that neither group nor others can read.
    static func fleetURL(_ path: String) throws(JitError) -> String {
        let bytes = try TrustedFiles.readTrustedFile(path)
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & 0o077 == 0 else {
            throw .storeUnavailable(
                "\(path) holds the fleet database's password and must be readable by root only; run 'chmod 600 \(path)'"
            )
        }
        let line = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first ?? ""
        let url = String(line.trimmingWhitespace)
        guard !url.isEmpty else { throw .storeUnavailable("\(path) is empty; write the fleet database's URL in it") }
        return url
    }

    /// The state directory, created when missing, checked trusted; its canonical path.
    @discardableResult
    static func requireStateDirectory(_ ctx: Context) throws(JitError) -> String {
        let dir = ctx.paths.stateDir
        var st = stat()
        if lstat(dir, &st) != 0 && errno == ENOENT {
            try createStateDirectory(dir)
        }
        return try TrustedFiles.requireRootOwned(dir, kind: .directory)
    }

    /// Creates a missing state directory (mode 0700) when its parent is trusted.
    static func createStateDirectory(_ dir: String) throws(JitError) {
        let parent = String(dir[..<(dir.lastIndex(of: "/") ?? dir.startIndex)])
        try TrustedFiles.requireRootOwned(parent.isEmpty ? "/" : parent, kind: .directory)
        guard mkdir(dir, 0o700) == 0 || errno == EEXIST else {
            throw .storeUnavailable("cannot create \(dir): \(errnoText()); run 'make install' as root")
        }
    }
}
