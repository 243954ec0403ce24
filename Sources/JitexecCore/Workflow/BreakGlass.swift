import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// Break-glass (SPEC.md, On-call): the on-call engineer takes a short grant without an approver;
/// the use is loud (banner, notifiers), audited, and waits for an admin's review.
extension Workflow {
    /// What the break-glass run asks for.
    struct BreakGlassAsk {
        var user: Account
        var runAs: String
        var host: String
        var rule: Rule
        var command: [UserText]
        var reason: UserText
        var ticket: UserText?
        var cwd: UserText?
        var tty: UserText?
        var requestedSeconds: Int64?
        /// How the user was found on call, e.g. "group oncall".
        var via: String
    }

    /// The longest break-glass grant of `rule`: its `break_glass_max`, else the default grant length,
    /// never more than the rule's and the policy's `max_grant`.
    static func breakGlassLimit(_ rule: Rule, _ policy: Policy) -> Int64 {
        var seconds = rule.breakGlassMax?.seconds ?? policy.settings.defaultGrant.seconds
        seconds = min(seconds, policy.settings.maxGrant.seconds)
        if let cap = rule.maxGrant?.seconds { seconds = min(seconds, cap) }
        return seconds
    }

    /// Creates the grant, its `breakglass` row, `grant.created` and `breakglass.used`, in one
    /// transaction.
    static func breakGlass(_ w: any StoreWriter, _ ask: BreakGlassAsk, policy: Policy, now: Instant) throws -> Grant {
        let limit = breakGlassLimit(ask.rule, policy)
        let seconds = min(ask.requestedSeconds ?? limit, limit)
        let scope = ask.rule.scope
        var grant = Grant(
            requestID: nil, user: ask.user.name, runAs: ask.runAs, host: ask.host, scope: Scope(scope),
            command: scope == .command ? ask.command : nil, rule: ask.rule.name, notBefore: now,
            expiresAt: now.adding(seconds: seconds), usesLeft: ask.rule.once ? 1 : nil, source: .breakGlass)
        grant.id = try w.insertGrant(grant)
        try w.insertBreakGlassUse(
            BreakGlassUse(
                grantID: grant.id, reason: ask.reason, ticket: ask.ticket, cwd: ask.cwd, tty: ask.tty, createdAt: now))
        let expires = JSONValue.string(grant.expiresAt.rfc3339)
        var created: [String: JSONValue] = [
            "grant": .int(grant.id), "user": .string(grant.user), "run_as": .string(grant.runAs),
            "host": .string(grant.host), "rule": .string(grant.rule), "scope": .string(grant.scope.rawValue),
            "expires_at": expires, "source": .string(GrantSource.breakGlass.rawValue),
        ]
        if let c = grant.command { created["command"] = .array(c.map(\.jsonValue)) }
        if let u = grant.usesLeft { created["uses"] = .int(u) }
        _ = try w.appendAudit(AuditEvent(event: "grant.created", actor: ask.user.name, fields: created))
        var used: [String: JSONValue] = [
            "grant": .int(grant.id), "rule": .string(grant.rule), "run_as": .string(grant.runAs),
            "host": .string(grant.host), "command": .array(ask.command.map(\.jsonValue)),
            "reason": ask.reason.jsonValue,
            "expires_at": expires, "seconds": .int(seconds), "oncall": .string(ask.via),
        ]
        if let t = ask.ticket { used["ticket"] = t.jsonValue }
        if let c = ask.cwd { used["cwd"] = c.jsonValue }
        if let t = ask.tty { used["tty"] = t.jsonValue }
        _ = try w.appendAudit(AuditEvent(event: "breakglass.used", actor: ask.user.name, fields: used))
        return grant
    }

    /// An admin's review of a break-glass use: never the user's own, once.
    static func reviewBreakGlass(
        _ w: any StoreWriter, grantID: Int64, verdict: BreakGlassVerdict, reviewer: Account, comment: UserText?,
        policy: Policy, now: Instant
    ) throws {
        guard isAdmin(reviewer, policy) else {
            throw JitError.notPermitted(
                "only admins (\(policy.settings.admins.map(\.description).joined(separator: ", "))) review break-glass uses"
            )
        }
        guard let use = try w.breakGlassUse(grantID: grantID), let grant = try w.grant(id: grantID) else {
            throw JitError.usage("grant #\(grantID) is not a break-glass use; 'jitctl review' lists them")
        }
        guard grant.user != reviewer.name else {
            throw JitError.notPermitted("you cannot review your own break-glass use #\(grantID); ask another admin")
        }
        guard use.verdict == nil,
            try w.reviewBreakGlassUse(grantID: grantID, verdict: verdict, by: reviewer.name, at: now, comment: comment)
        else {
            throw JitError.notPermitted(
                "break-glass use #\(grantID) was already reviewed; 'jitctl review --all' shows it")
        }
        var fields: [String: JSONValue] = [
            "grant": .int(grantID), "user": .string(grant.user), "verdict": .string(verdict.rawValue),
        ]
        if let comment { fields["comment"] = comment.jsonValue }
        _ = try w.appendAudit(AuditEvent(event: "breakglass.reviewed", actor: reviewer.name, fields: fields))
    }
}
