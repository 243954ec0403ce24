import JitexecBase
import JitexecExec
import JitexecStore

/// What the supervisor asks twice a second while a command runs: has someone stopped this session
/// (`jitctl stop`), and, under `enforce_expiry`, has its grant been revoked or is it about to end?
enum SessionMonitor {
    /// How long before the grant's end the user is told.
    static let notice = Duration.seconds(60)

    static func make(_ ctx: Context, session: Int64, grant: Grant?, enforceExpiry: Bool) -> () -> MonitorVerdict {
        let enforced = enforceExpiry ? grant : nil
        return {
            let now = ctx.clock()
            // The store is asked for what only it knows (a stop, a revoke); an unreadable store does
            // not end the command, while the grant's end by the clock needs no store at all.
            if let (current, currentGrant) = try? read(ctx, session: session, grant: enforced?.id) {
                if let current, let by = current.stopBy {
                    let why = current.stopComment.map { ": \($0.escaped)" } ?? ""
                    return .end(reason: "stopped", message: "jitexec: session #\(session) was stopped by \(by)\(why)")
                }
                if let currentGrant, currentGrant.revokedAt != nil {
                    return .end(
                        reason: "revoked",
                        message:
                            "jitexec: grant #\(currentGrant.id) was revoked by \(currentGrant.revokedBy ?? "an admin"); the command was ended"
                    )
                }
            }
            guard let enforced else { return .keep }
            if now >= enforced.expiresAt {
                return .end(reason: "expired", message: "jitexec: grant #\(enforced.id) expired; the command was ended")
            }
            if enforced.expiresAt - now <= notice {
                return .notice(
                    "jitexec: grant #\(enforced.id) ends at \(LocalTime.format(enforced.expiresAt)), in under a minute; "
                        + "this command will be ended then")
            }
            return .keep
        }
    }

    private static func read(_ ctx: Context, session: Int64, grant: Int64?) throws(JitError) -> (Session?, Grant?) {
        let store = try ctx.store()
        return try ctx.storeRead(store) { r in (try r.session(id: session), try grant.flatMap { try r.grant(id: $0) }) }
    }
}
