import Glibc
import JitexecBase
import JitexecStore

/// Opening the SQLite store in the state directory, after checking that only root can touch it.
/// Committed audit records go to syslog and, where the policy asks, to the notifiers.
enum StoreAccess {
    @Sendable static func openLive(_ ctx: Context) throws(JitError) -> any JitStore {
        try requireStateDirectory(ctx)
        var st = stat()
        let db = ctx.paths.database
        if lstat(db, &st) == 0 {
            try TrustedFiles.requireRootOwned(db, kind: .file)
        }
        do {
            return try SQLiteStore(path: db, host: ctx.host, clock: ctx.clock, auditSink: Notifications.sink(ctx))
        } catch {
            throw .storeUnavailable("\(error)")
        }
    }

    /// The state directory, created when missing, checked trusted.
    static func requireStateDirectory(_ ctx: Context) throws(JitError) {
        let dir = ctx.paths.stateDir
        var st = stat()
        if lstat(dir, &st) != 0 && errno == ENOENT {
            try createStateDirectory(dir)
        }
        try TrustedFiles.requireRootOwned(dir, kind: .directory)
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
