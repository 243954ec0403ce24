import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// Shell login gating (SPEC.md): login requests and the login grants they turn into.
extension Workflow {
    /// The caller's pending login request for this host, or a new one (audited `request.filed`).
    static func fileOrReuseLogin(
        _ w: any StoreWriter, user: Account, host: String, ruleName: String, approvals: Int, reason: UserText,
        ticket: UserText?, tty: UserText?, requestedSeconds: Int64?, policy: Policy, now: Instant
    ) throws -> (Request, Bool) {
        try expireStale(w, now: now)
        let mine = try w.requests(status: .pending, requester: user.name)
        if let same = mine.first(where: { $0.kind == .login && $0.host == host && $0.rule == ruleName }) {
            return (same, true)
        }
        try requireRoomForRequest(pending: mine.count)
        var request = Request(
            kind: .login, requester: user.name, requesterUID: user.uid, runAs: user.name, host: host, command: [],
            rule: ruleName, reason: reason, ticket: ticket, cwd: nil, tty: tty, scope: .login, once: false,
            requestedSeconds: requestedSeconds, approvalsNeeded: approvals, createdAt: now,
            expiresAt: now.adding(seconds: policy.settings.requestTTL.seconds))
        request.id = try w.insertRequest(request)
        var fields: [String: JSONValue] = [
            "request": .int(request.id), "kind": .string("login"), "rule": .string(ruleName),
            "run_as": .string(user.name),
            "host": .string(host), "command": .array([]), "reason": reason.jsonValue, "scope": .string("login"),
            "once": .bool(false), "approvals_needed": .int(Int64(approvals)),
            "expires_at": .string(request.expiresAt.rfc3339),
        ]
        if let t = ticket { fields["ticket"] = t.jsonValue }
        if let t = tty { fields["tty"] = t.jsonValue }
        if let s = requestedSeconds { fields["requested_seconds"] = .int(s) }
        _ = try w.appendAudit(AuditEvent(event: "request.filed", actor: user.name, fields: fields))
        return (request, false)
    }

    /// A live login grant of `user` for `host` approved under the `[[login]]` table `rule` (login#N),
    /// if any. A login grant covers the logins that table gates (its services) and that start before
    /// it expires; logging in does not use it up. A grant of another table opens nothing here.
    static func liveLoginGrant(_ r: any StoreReader, user: String, host: String, rule: String, now: Instant) throws
        -> Grant?
    {
        try r.grants(user: user, liveAt: now).first { $0.scope == .login && $0.host == host && $0.rule == rule }
    }
}
