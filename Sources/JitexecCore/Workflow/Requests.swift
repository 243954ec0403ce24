import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// The request → approve → grant workflow (SPEC.md, Lifecycle) as steps inside one store write
/// transaction each, so every decision and its audit record commit together or not at all.
public enum Workflow {
    /// What a requester asks for.
    public struct Ask: Sendable {
        public var requester: Account
        public var runAs: String
        public var host: String
        /// argv with the resolved path first; empty for a rule-scope request filed ahead of time.
        public var command: [UserText]
        public var rule: Rule
        public var reason: UserText
        public var ticket: UserText?
        public var cwd: UserText?
        public var tty: UserText?
        public var once: Bool
        public var requestedSeconds: Int64?
        /// `command` (exactly this argv) or `rule` (any command of the rule).
        public var scope: GrantScope

        public init(
            requester: Account, runAs: String, host: String, command: [UserText], rule: Rule, reason: UserText,
            ticket: UserText?, cwd: UserText?, tty: UserText?, once: Bool, requestedSeconds: Int64?, scope: GrantScope
        ) {
            self.requester = requester
            self.runAs = runAs
            self.host = host
            self.command = command
            self.rule = rule
            self.reason = reason
            self.ticket = ticket
            self.cwd = cwd
            self.tty = tty
            self.once = once
            self.requestedSeconds = requestedSeconds
            self.scope = scope
        }
    }

    /// Checks the reason rules of a rule: a required reason must be there, and with a
    /// `reason_pattern` the reason or the ticket must match it.
    public static func checkReason(_ rule: Rule, reason: UserText?, ticket: UserText?) throws(JitError) {
        let given = reason.map { !$0.bytes.allSatisfy { $0 == 0x20 } } ?? false
        if rule.reasonRequired && !given {
            throw .usage("rule '\(rule.name)' requires a reason: pass -r REASON")
        }
        if let pattern = rule.reasonPattern {
            let matched = [reason, ticket].contains { text in text.map { ReasonPattern.matches(pattern, $0) } ?? false }
            if !matched {
                throw .usage("rule '\(rule.name)' needs a reason or ticket (-T) matching \(pattern)")
            }
        }
    }

    /// The caller's identical pending request (same rule, target, host, scope and argv), or a new
    /// one (audited `request.filed`). Returns the request and whether it was reused.
    public static func fileOrReuse(_ w: any StoreWriter, _ ask: Ask, policy: Policy, now: Micros) throws -> (
        Request, Bool
    ) {
        try expireStale(w, now: now)
        let mine = try w.requests(status: .pending, requester: ask.requester.name)
        if let same = mine.first(where: {
            $0.kind == .command && $0.rule == ask.rule.name && $0.runAs == ask.runAs && $0.host == ask.host
                && $0.scope == ask.scope.rawValue && $0.command == ask.command && $0.once == (ask.once || ask.rule.once)
                && (ask.scope == .rule || $0.cwd == ask.cwd)
        }) {
            return (same, true)
        }
        try requireRoomForRequest(pending: mine.count)
        var request = Request(
            kind: .command, requester: ask.requester.name, requesterUID: ask.requester.uid, runAs: ask.runAs,
            host: ask.host, command: ask.command, rule: ask.rule.name, reason: ask.reason, ticket: ask.ticket,
            cwd: ask.cwd, tty: ask.tty, scope: ask.scope.rawValue, once: ask.once || ask.rule.once,
            requestedSeconds: ask.requestedSeconds, approvalsNeeded: ask.rule.approvals, createdAt: now,
            expiresAt: now + policy.settings.requestTTL.seconds * 1_000_000)
        request.id = try w.insertRequest(request)
        var fields: [String: JSONValue] = [
            "request": .int(request.id), "rule": .string(request.rule), "run_as": .string(request.runAs),
            "host": .string(request.host), "command": .array(request.command.map(\.jsonValue)),
            "reason": request.reason.jsonValue, "scope": .string(request.scope), "once": .bool(request.once),
            "approvals_needed": .int(Int64(request.approvalsNeeded)),
            "expires_at": .string(RFC3339.format(seconds: request.expiresAt / 1_000_000)),
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
    public static let maxPendingPerUser = 10

    static func requireRoomForRequest(pending: Int) throws {
        guard pending < maxPendingPerUser else {
            throw JitError.notPermitted(
                "you already have \(pending) pending requests, the most one person may have open (\(maxPendingPerUser)); withdraw one with 'jitctl cancel ID' ('jitctl requests' lists them)"
            )
        }
    }

    /// Moves pending requests past their TTL to `expired` (audited `request.expired`), and records
    /// the grants found past their end (`recordGrantExpiries`).
    public static func expireStale(_ w: any StoreWriter, now: Micros) throws {
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
    public static func recordGrantExpiries(_ w: any StoreWriter, now: Micros) throws {
        for g in try w.unrecordedExpiries(at: now) where try w.recordExpiry(grantID: g.id, at: now) {
            var fields: [String: JSONValue] = [
                "grant": .int(g.id), "user": .string(g.user), "rule": .string(g.rule),
                "expires_at": .string(RFC3339.format(seconds: g.expiresAt / 1_000_000)),
            ]
            if let r = g.requestID { fields["request"] = .int(r) }
            _ = try w.appendAudit(AuditEvent(event: "grant.expired", actor: g.user, fields: fields))
        }
    }

    /// What a run claims from a grant: a live grant of this rule for this user, target and host
    /// that covers this argv (scope command) or any command of the rule (scope rule).
    public struct Claim: Sendable {
        public var user: String
        public var runAs: String
        public var host: String
        public var rule: Rule
        public var command: [UserText]
        /// The working directory of the run: a command-scope grant covers its argv only in the
        /// directory the approvers were shown (relative arguments mean something else elsewhere).
        public var cwd: UserText?
    }

    /// The live grants covering a claim, the one ending first first (so longer ones are kept). A
    /// command-scope grant filed through a request covers the same argv in the request's directory
    /// only; a break-glass grant (no request) is used at once where it was taken.
    public static func coveringGrants(_ r: any StoreReader, _ claim: Claim, now: Micros) throws -> [Grant] {
        try r.grants(user: claim.user, liveAt: now).filter { g in
            guard g.runAs == claim.runAs && g.host == claim.host && g.rule == claim.rule.name else { return false }
            if g.scope == GrantScope.rule.rawValue { return true }
            guard g.command == claim.command else { return false }
            guard let requestID = g.requestID else { return true }
            return try r.request(id: requestID)?.cwd == claim.cwd
        }.sorted { $0.expiresAt < $1.expiresAt }
    }

    /// Takes one use of a live grant that covers the claim, atomically, and audits `grant.used`.
    /// Expiry is checked here, at the moment of use, never cached. Nil when no grant covers it.
    public static func useGrant(_ w: any StoreWriter, _ claim: Claim, now: Micros) throws -> Grant? {
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
