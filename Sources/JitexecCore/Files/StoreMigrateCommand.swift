import Glibc
import JitexecBase
import JitexecStore

/// `jitctl store migrate --to postgresql` (root only): this host's SQLite history into the fleet
/// database named by `[store] url_file` (see `HostMigration`). Run it once per host, before switching
/// the policy to `backend = "postgresql"`; it works with either backend in the policy.
public enum StoreMigrateCommand {
    public static func run(_ ctx: Context) -> Int32 {
        ctx.run { () throws -> Int32 in
            guard ctx.invoker.uid == 0 else {
                throw JitError.notPermitted(
                    "only root moves this host's store; run 'sudo jitctl store migrate --to postgresql'")
            }
            let policy = try ctx.loadPolicy()
            guard let urlFile = policy.store.urlFile else {
                throw JitError.usage(
                    "the policy names no fleet database: set [store] url_file to the root-only file holding its URL")
            }
            try StoreAccess.requireStateDirectory(ctx)
            let source: SQLiteStore
            do {
                source = try SQLiteStore(
                    path: ctx.paths.database, host: ctx.host, clock: ctx.clock, auditSink: { _ in })
            } catch {
                throw JitError.storeUnavailable("\(error)")
            }
            guard let fleet = try StoreAccess.openFleet(ctx, urlFile: urlFile) as? PostgreSQLStore else {
                throw JitError.storeUnavailable("the fleet store did not open as PostgreSQL")
            }
            let summary: HostMigration.Summary
            do {
                summary = try HostMigration.copy(from: source, to: fleet, origin: ctx.host)
            } catch let failure as HostMigration.Failure {
                throw JitError.storeUnavailable(failure.description)
            }
            ctx.say(
                "moved \(Escape.text(ctx.host)) into the fleet database: \(summary.requests) requests, "
                    + "\(summary.grants) grants, \(summary.sessions) sessions, and its audit chain "
                    + "(\(summary.records) records, head \(summary.head)) anchored by a store.migrated record")
            if policy.store.backend != .postgresql {
                ctx.say(
                    "next: set [store] backend = \"postgresql\" in the policy; this host's SQLite file is kept as it was"
                )
            }
            return 0
        }
    }
}
