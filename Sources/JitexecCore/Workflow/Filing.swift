import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// Filing requests: a new one or the caller's identical pending one, the per-person bound, and
/// the expiry of what has run out (requests past their TTL, grants past their end).
extension Workflow {
    /// What `fileOrReuse` did.
    struct Filing {
        var request: Request
        /// The caller's identical pending request was reused.
        var reused: Bool
        /// The caller's open request for the same command that this one was filed beside, because
        /// the reason, ticket, length or `--once` asked now differ from its own, and which differ.
        var beside: (id: Int64, differing: [String])?
    }

    /// The caller's identical pending request (same rule, target, host, scope and argv, and no
    /// other reason, ticket, length or `--once` than asked now: a value not given now never
    /// differs), or a new one (audited `request.filed`). A new value is never dropped: it files a
    /// new request beside the old one, which stays open, and `beside` says so.
    static func fileOrReuse(_ w: any StoreWriter, _ ask: Ask, policy: Policy, now: Instant) throws -> Filing {
        try expireStale(w, now: now)
        let mine = try w.requests(status: .pending, requester: ask.requester.name)
        let same = mine.filter {
            $0.kind == .command && $0.rule == ask.rule.name && $0.runAs == ask.runAs && $0.host == ask.host
                && $0.scope == Scope(ask.scope) && $0.command == ask.command
                && (ask.scope == .rule || $0.cwd == ask.cwd)
        }
        if let reusable = same.first(where: { differences($0, ask).isEmpty }) {
            return Filing(request: reusable, reused: true, beside: nil)
        }
        let beside = same.first.map { (id: $0.id, differing: differences($0, ask)) }
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
        if request.scope == .rule {
            // What the grant would cover, as the policy says when the request is filed.
            fields["rule_commands"] = .array(ask.rule.commands.map { .string($0.source) })
        }
        _ = try w.appendAudit(AuditEvent(event: "request.filed", actor: request.requester, fields: fields))
        return Filing(request: request, reused: false, beside: beside)
    }

    /// What `ask` gives that `open` has otherwise: "reason", "ticket", "length", "--once".
    static func differences(_ open: Request, _ ask: Ask) -> [String] {
        var differing: [String] = []
        if !ask.reason.bytes.allSatisfy({ $0 == 0x20 }) && ask.reason != open.reason { differing.append("reason") }
        if let ticket = ask.ticket, ticket != open.ticket { differing.append("ticket") }
        if let seconds = ask.requestedSeconds, seconds != open.requestedSeconds { differing.append("length") }
        if ask.once && !open.once { differing.append("--once") }
        return differing
    }

    /// The words of a notice that a request was filed beside the caller's open one: "beside your
    /// open request #42, which has another reason and no --once (it stays open; 'jitctl cancel 42'
    /// withdraws it)".
    static func besideNotice(_ beside: (id: Int64, differing: [String])) -> String {
        let items = beside.differing.map { $0 == "--once" ? "no --once" : "another \($0)" }
        let what =
            items.count > 1
            ? items.dropLast().joined(separator: ", ") + " and " + items[items.count - 1] : items.joined()
        return
            "beside your open request #\(beside.id), which has \(what) (it stays open; 'jitctl cancel \(beside.id)' withdraws it)"
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
