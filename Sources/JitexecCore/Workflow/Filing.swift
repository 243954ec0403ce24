import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// Filing requests: a new one or the caller's identical pending one, the per-person bound, and
/// the expiry of what has run out (requests past their TTL, grants past their end).
extension Workflow {
    /// The caller's identical pending request (same rule, target, host, scope and argv), or a new
    /// one (audited `request.filed`). Returns the request and whether it was reused.
    static func fileOrReuse(_ w: any StoreWriter, _ ask: Ask, policy: Policy, now: Instant) throws -> (
        Request, Bool
    ) {
        try expireStale(w, now: now)
        let mine = try w.requests(status: .pending, requester: ask.requester.name)
        if let same = mine.first(where: {
            $0.kind == .command && $0.rule == ask.rule.name && $0.runAs == ask.runAs && $0.host == ask.host
                && $0.scope == Scope(ask.scope) && $0.command == ask.command && $0.once == (ask.once || ask.rule.once)
                && (ask.scope == .rule || $0.cwd == ask.cwd)
        }) {
            return (same, true)
        }
        try requireRoomForRequest(pending: mine.count)
        var request = Request(
            kind: .command, requester: ask.requester.name, requesterUID: ask.requester.uid, runAs: ask.runAs,
            host: ask.host, command: ask.command, rule: ask.rule.name, reason: ask.reason, ticket: ask.ticket,
            cwd: ask.cwd, tty: ask.tty, scope: Scope(ask.scope), once: ask.once || ask.rule.once,
            requestedSeconds: ask.requestedSeconds, approvalsNeeded: ask.rule.approvals, createdAt: now,
            expiresAt: now.adding(seconds: policy.settings.requestTTL.seconds))
        request.id = try w.insertRequest(request)
        var fields: [String: JSONValue] = [
            "request": .int(request.id), "rule": .string(request.rule), "run_as": .string(request.runAs),
            "host": .string(request.host), "command": .array(request.command.map(\.jsonValue)),
            "reason": request.reason.jsonValue, "scope": .string(request.scope.rawValue), "once": .bool(request.once),
            "approvals_needed": .int(Int64(request.approvalsNeeded)),
            "expires_at": .string(request.expiresAt.rfc3339),
        ]
        if let t = request.ticket { fields["ticket"] = t.jsonValue }
        if let c = request.cwd { fields["cwd"] = c.jsonValue }
        if let t = request.tty { fields["tty"] = t.jsonValue }
        if let s = request.requestedSeconds { fields["requested_seconds"] = .int(s) }
        _ = try w.appendAudit(AuditEvent(event: "request.filed", actor: request.requester, fields: fields))
        return (request, false)
    }

    /// Pending requests one person may have open at once: each new one starts the notifier and
    /// writes to the approvers' terminals, so filing must not be unlimited.
    static let maxPendingPerUser = 10

    static func requireRoomForRequest(pending: Int) throws {
        guard pending < maxPendingPerUser else {
            throw JitError.notPermitted(
                "you already have \(pending) pending requests, the most one person may have open (\(maxPendingPerUser)); withdraw one with 'jitctl cancel ID' ('jitctl requests' lists them)"
            )
        }
    }

    /// Moves pending requests past their TTL to `expired` (audited `request.expired`), and records
    /// the grants found past their end (`recordGrantExpiries`).
    static func expireStale(_ w: any StoreWriter, now: Instant) throws {
        for r in try w.requests(status: .pending, requester: nil) where r.expiresAt <= now {
            if try w.setRequestStatus(id: r.id, from: .pending, to: .expired, at: now, by: nil, comment: nil) {
                _ = try w.appendAudit(
                    AuditEvent(event: "request.expired", actor: r.requester, fields: ["request": .int(r.id)]))
            }
        }
        try recordGrantExpiries(w, now: now)
    }

    /// `grant.expired`, once per grant, for every grant that ended by time (not revoked, not used
    /// up) and was not recorded yet. Expiry itself never waits for this record: a grant stops
    /// covering runs at its `expires_at`, checked at the moment of use (`useGrant`); the record is
    /// written the first time a request is filed or decided, or requests or grants are listed, after it.
    static func recordGrantExpiries(_ w: any StoreWriter, now: Instant) throws {
        for g in try w.unrecordedExpiries(at: now) where try w.recordExpiry(grantID: g.id, at: now) {
            var fields: [String: JSONValue] = [
                "grant": .int(g.id), "user": .string(g.user), "rule": .string(g.rule),
                "expires_at": .string(g.expiresAt.rfc3339),
            ]
            if let r = g.requestID { fields["request"] = .int(r) }
            _ = try w.appendAudit(AuditEvent(event: "grant.expired", actor: g.user, fields: fields))
        }
    }
}
