import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// Using a grant: which grants cover a run, and taking one use atomically at the moment of use.
extension Workflow {
    /// What a run claims from a grant: a live grant of this rule for this user, target and host
    /// that covers this argv (scope command) or any command of the rule (scope rule).
    struct Claim: Sendable {
        var user: String
        var runAs: String
        var host: String
        var rule: Rule
        var command: [UserText]
        /// The working directory of the run: a command-scope grant covers its argv only in the
        /// directory the approvers were shown (relative arguments mean something else elsewhere).
        var cwd: UserText?
    }

    /// The live grants covering a claim, the one ending first first (so longer ones are kept). A
    /// command-scope grant filed through a request covers the same argv in the request's directory
    /// only; a break-glass grant (no request) is used at once where it was taken.
    static func coveringGrants(_ r: any StoreReader, _ claim: Claim, now: Instant) throws -> [Grant] {
        try r.grants(user: claim.user, liveAt: now).filter { g in
            guard g.runAs == claim.runAs && g.host == claim.host && g.rule == claim.rule.name else { return false }
            if g.scope == .rule { return true }
            guard g.command == claim.command else { return false }
            guard let requestID = g.requestID else { return true }
            return try r.request(id: requestID)?.cwd == claim.cwd
        }.sorted { $0.expiresAt < $1.expiresAt }
    }

    /// Takes one use of a live grant that covers the claim, atomically, and audits `grant.used`.
    /// Expiry is checked here, at the moment of use, never cached. Nil when no grant covers it.
    static func useGrant(_ w: any StoreWriter, _ claim: Claim, now: Instant) throws -> Grant? {
        for grant in try coveringGrants(w, claim, now: now) {
            if try w.consumeGrantUse(id: grant.id, at: now) {
                var used = grant
                if let left = used.usesLeft { used.usesLeft = left - 1 }
                var fields: [String: JSONValue] = [
                    "grant": .int(grant.id), "rule": .string(claim.rule.name), "run_as": .string(claim.runAs),
                    "command": .array(claim.command.map(\.jsonValue)),
                ]
                if let left = used.usesLeft { fields["uses_left"] = .int(left) }
                if let r = grant.requestID { fields["request"] = .int(r) }
                _ = try w.appendAudit(AuditEvent(event: "grant.used", actor: claim.user, fields: fields))
                return used
            }
        }
        return nil
    }
}
