import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// Approving, denying, cancelling and revoking: who may, and what each leaves in the store.
extension Workflow {
    /// What an approval did.
    enum ApproveOutcome: Equatable, Sendable {
        /// Recorded; `count` of `needed` distinct approvals so far.
        case recorded(count: Int, needed: Int)
        /// The deciding approval: the request is approved and this grant exists.
        case granted(Grant)
    }

    /// The line for a request that does not exist or that `actor` may not see: the same for both, so
    /// ids cannot be probed for their status, rule or requester.
    static func noSuchRequest(_ id: Int64) -> JitError {
        .notPermitted("there is no request #\(id) that you can see; run 'jitctl requests --all'")
    }

    /// Whether `viewer` may see `request`: its requester, an approver of its rule, or an admin.
    static func mayView(_ request: Request, _ viewer: Account, _ policy: Policy) -> Bool {
        if isAdmin(viewer, policy) || request.requester == viewer.name { return true }
        return policy.rule(named: request.rule).map { mayApprove(viewer, $0) } ?? false
    }

    /// The pending request `id` as `actor` may see it, expired first when its TTL has passed.
    static func pendingRequest(_ w: any StoreWriter, id: Int64, actor: Account, policy: Policy, now: Instant) throws
        -> Request
    {
        try expireStale(w, now: now)
        guard let request = try w.request(id: id), mayView(request, actor, policy) else { throw noSuchRequest(id) }
        guard request.status == .pending else {
            throw JitError.notPermitted("request #\(id) is already \(request.status.rawValue); nothing to do")
        }
        return request
    }

    /// The rule a request was filed under, as the policy has it now.
    static func ruleOf(_ request: Request, policy: Policy) throws -> Rule {
        guard let rule = policy.rule(named: request.rule) else {
            throw JitError.notPermitted(
                "request #\(request.id) names rule '\(request.rule)', which the policy no longer has; it cannot be approved"
            )
        }
        return rule
    }

    /// Adds `approver`'s approval. Only a current approver of the request's rule may approve,
    /// never the requester, and each person counts once. Approvals count while the people who gave
    /// them are approvers of the rule as the policy and the group database have it now (`system`; a
    /// lookup that fails counts as not an approver). The N-th such approval approves the request and
    /// creates the grant, in the same transaction: concurrent approvals make one grant. Every
    /// approval given, counted or not, can shorten the grant (`-d`).
    static func approve(
        _ w: any StoreWriter, id: Int64, approver: Account, policy: Policy, system: some SystemLookup,
        comment: UserText?, maxSeconds: Int64?, now: Instant
    ) throws -> ApproveOutcome {
        let request = try pendingRequest(w, id: id, actor: approver, policy: policy, now: now)
        let rule = try ruleOf(request, policy: policy)
        guard !approver.name.hasPrefix("@") else {
            // `@name` is how an automation's approval is recorded and counted.
            throw JitError.notPermitted(
                "account names starting with '@' are reserved for automations and cannot approve; ask another approver")
        }
        guard approver.name != request.requester else {
            throw JitError.notPermitted("you cannot approve your own request #\(id); ask one of its approvers")
        }
        guard approver.subject.isIn(rule.approvers) else {
            throw JitError.notPermitted(
                "you are not an approver of rule '\(rule.name)' (approvers: \(rule.approvers.map(\.description).joined(separator: ", ")))"
            )
        }
        do {
            return try addApproval(
                w, request, rule: rule, by: approver.name, policy: policy, system: system, comment: comment,
                maxSeconds: maxSeconds, now: now)
        } catch StoreError.duplicateApproval {
            throw JitError.notPermitted("you already approved request #\(id); it needs another approver")
        }
    }

    /// Adds the approval of the automation `@name` to the pending request `id`, with the same rules
    /// as a person's: the request's rule must name it among its approvers now, and it counts once.
    /// Throws `StoreError.duplicateApproval` when it approved before.
    static func approveAsAutomation(
        _ w: any StoreWriter, request: Request, automation: Automation, policy: Policy, system: some SystemLookup,
        comment: UserText?, maxSeconds: Int64?, now: Instant
    ) throws -> ApproveOutcome {
        let rule = try ruleOf(request, policy: policy)
        guard Subject(automation: automation.name).isIn(rule.approvers) else {
            throw JitError.notPermitted("\(automation.principalName) is not an approver of rule '\(rule.name)'")
        }
        return try addApproval(
            w, request, rule: rule, by: automation.principalName, policy: policy, system: system, comment: comment,
            maxSeconds: maxSeconds, now: now)
    }

    /// Records the approval by `by` (checked by the caller) and, when it is the N-th that counts,
    /// approves the request and creates the grant.
    private static func addApproval(
        _ w: any StoreWriter, _ request: Request, rule: Rule, by: String, policy: Policy, system: some SystemLookup,
        comment: UserText?, maxSeconds: Int64?, now: Instant
    ) throws -> ApproveOutcome {
        let id = request.id
        try w.insertApproval(Approval(requestID: id, by: by, at: now, comment: comment, maxSeconds: maxSeconds))
        let given = try w.approvals(requestID: id)
        let approvals = given.filter { a in
            a.by == by || (a.by != request.requester && stillApproves(a.by, rule: rule, policy: policy, system: system))
        }
        var fields: [String: JSONValue] = [
            "request": .int(id), "count": .int(Int64(approvals.count)), "needed": .int(Int64(request.approvalsNeeded)),
        ]
        if let comment { fields["comment"] = comment.jsonValue }
        if let maxSeconds { fields["max_seconds"] = .int(maxSeconds) }
        _ = try w.appendAudit(AuditEvent(event: "approval.added", actor: by, fields: fields))
        guard approvals.count >= request.approvalsNeeded else {
            return .recorded(count: approvals.count, needed: request.approvalsNeeded)
        }
        guard try w.setRequestStatus(id: id, from: .pending, to: .approved, at: now, by: by, comment: comment) else {
            throw JitError.notPermitted("request #\(id) was decided by someone else a moment ago")
        }
        let seconds = grantLength(request, rule: rule, policy: policy, approvals: given).seconds
        var grant = Grant(
            requestID: id, user: request.requester, runAs: request.runAs, host: request.host, scope: request.scope,
            command: request.scope == .command ? request.command : nil, rule: request.rule,
            notBefore: now, expiresAt: now.adding(seconds: seconds), usesLeft: request.once ? 1 : nil)
        grant.id = try w.insertGrant(grant)
        _ = try w.appendAudit(
            AuditEvent(
                event: "request.approved", actor: by,
                fields: requestFields(request).merging([
                    "request": .int(id), "grant": .int(grant.id), "approvers": .array(approvals.map { .string($0.by) }),
                    "expires_at": .string(grant.expiresAt.rfc3339),
                ]) { $1 }))
        var grantFields: [String: JSONValue] = [
            "grant": .int(grant.id), "request": .int(id), "user": .string(grant.user), "run_as": .string(grant.runAs),
            "host": .string(grant.host), "rule": .string(grant.rule), "scope": .string(grant.scope.rawValue),
            "expires_at": .string(grant.expiresAt.rfc3339), "source": .string("approval"),
        ]
        if let c = grant.command { grantFields["command"] = .array(c.map(\.jsonValue)) }
        if let u = grant.usesLeft { grantFields["uses"] = .int(u) }
        _ = try w.appendAudit(AuditEvent(event: "grant.created", actor: by, fields: grantFields))
        return .granted(grant)
    }

    /// Whether an approval given by `name` earlier still counts: a person who is an approver of the
    /// rule now, or `@name` while the rule names that automation and the policy defines it.
    static func stillApproves(_ name: String, rule: Rule, policy: Policy, system: some SystemLookup) -> Bool {
        if name.hasPrefix("@") {
            let automation = String(name.dropFirst())
            return policy.automation(named: automation) != nil && Subject(automation: automation).isIn(rule.approvers)
        }
        return Subject(user: name, groups: system.groupsOfUser(name)).isIn(rule.approvers)
    }

    /// How long the grant of an approved request is, and what shortened it.
    struct GrantLength: Equatable, Sendable {
        /// What the requester asked for with -d, or `default_grant` when they did not.
        var asked: Int64
        var seconds: Int64
        /// The limit that made it shorter than asked ("rule 'x' max_grant 30m", "bob's -d 10m");
        /// nil when it is what was asked.
        var cappedBy: String?
        /// Whether the requester asked with -d (else `asked` is `default_grant`).
        var askedWithD: Bool

        /// What set the length: the limit that capped it, or what the request asked.
        var reason: String {
            cappedBy
                ?? (askedWithD
                    ? "the request asks for \(TimeSpan(seconds: asked))"
                    : "the request gave no -d, so default_grant \(TimeSpan(seconds: asked))")
        }
    }

    /// The length of `request`'s grant once approved with `approvals` (every approval given, counted
    /// or not): what was asked (or `default_grant`), capped by `[settings] max_grant`, the rule's
    /// `max_grant` and each approver's `-d`, whichever is shortest (the first such limit named).
    static func grantLength(_ request: Request, rule: Rule, policy: Policy, approvals: [Approval]) -> GrantLength {
        let asked = request.requestedSeconds ?? policy.settings.defaultGrant.seconds
        var length = GrantLength(
            asked: asked, seconds: asked, cappedBy: nil, askedWithD: request.requestedSeconds != nil)
        func cap(_ seconds: Int64, _ why: @autoclosure () -> String) {
            if seconds < length.seconds { (length.seconds, length.cappedBy) = (seconds, why()) }
        }
        cap(policy.settings.maxGrant.seconds, "max_grant \(policy.settings.maxGrant) in [settings]")
        if let m = rule.maxGrant { cap(m.seconds, "rule '\(rule.name)' max_grant \(m)") }
        for a in approvals {
            if let m = a.maxSeconds { cap(m, "\(a.by)'s -d \(TimeSpan(seconds: m))") }
        }
        return length
    }

    /// Denies a pending request: an approver of its rule (not the requester) or an admin.
    static func deny(
        _ w: any StoreWriter, id: Int64, actor: Account, policy: Policy, comment: UserText?, now: Instant
    ) throws {
        let request = try pendingRequest(w, id: id, actor: actor, policy: policy, now: now)
        let rule = policy.rule(named: request.rule)
        let isApprover = rule.map { actor.subject.isIn($0.approvers) } ?? false
        guard (isApprover && actor.name != request.requester) || isAdmin(actor, policy) else {
            throw JitError.notPermitted(
                "only an approver of rule '\(request.rule)' or an admin may deny request #\(id); to withdraw your own, run 'jitctl cancel \(id)'"
            )
        }
        try close(w, request, to: .denied, event: "request.denied", actor: actor.name, comment: comment, now: now)
    }

    /// The automation `@name` denies the pending `request`: final, like a person's deny. The
    /// request's rule must name it among its approvers now.
    static func denyAsAutomation(
        _ w: any StoreWriter, request: Request, automation: Automation, policy: Policy, comment: UserText?,
        now: Instant
    ) throws {
        let rule = try ruleOf(request, policy: policy)
        guard Subject(automation: automation.name).isIn(rule.approvers) else {
            throw JitError.notPermitted("\(automation.principalName) is not an approver of rule '\(rule.name)'")
        }
        try close(
            w, request, to: .denied, event: "request.denied", actor: automation.principalName, comment: comment,
            now: now)
    }

    /// Withdraws a pending request: its requester or an admin.
    static func cancel(_ w: any StoreWriter, id: Int64, actor: Account, policy: Policy, now: Instant) throws {
        let request = try pendingRequest(w, id: id, actor: actor, policy: policy, now: now)
        guard actor.name == request.requester || isAdmin(actor, policy) else {
            throw JitError.notPermitted("only the requester or an admin may cancel request #\(id)")
        }
        try close(w, request, to: .cancelled, event: "request.cancelled", actor: actor.name, comment: nil, now: now)
    }

    private static func close(
        _ w: any StoreWriter, _ request: Request, to status: RequestStatus, event: String, actor: String,
        comment: UserText?, now: Instant
    ) throws {
        guard
            try w.setRequestStatus(
                id: request.id, from: .pending, to: status, at: now, by: actor, comment: comment)
        else {
            throw JitError.notPermitted("request #\(request.id) was decided by someone else a moment ago")
        }
        var fields = requestFields(request)
        fields["request"] = .int(request.id)
        if let comment { fields["comment"] = comment.jsonValue }
        _ = try w.appendAudit(AuditEvent(event: event, actor: actor, fields: fields))
    }

    /// Revokes a grant: an admin, an approver of its rule, or the grantee ("done").
    static func revoke(
        _ w: any StoreWriter, id: Int64, actor: Account, policy: Policy, comment: UserText?, now: Instant
    ) throws -> Grant {
        // Who may not revoke a grant may not see it either: the same line as for no grant at all.
        let missing = JitError.notPermitted("there is no grant #\(id) that you can see; run 'jitctl grants --all'")
        guard let grant = try w.grant(id: id) else { throw missing }
        let isApprover = policy.rule(named: grant.rule).map { actor.subject.isIn($0.approvers) } ?? false
        guard actor.name == grant.user || isApprover || isAdmin(actor, policy) else { throw missing }
        guard try w.revokeGrant(id: id, by: actor.name, at: now) else {
            throw JitError.notPermitted("grant #\(id) is already revoked")
        }
        var fields: [String: JSONValue] = [
            "grant": .int(id), "user": .string(grant.user), "rule": .string(grant.rule), "run_as": .string(grant.runAs),
            "host": .string(grant.host), "scope": .string(grant.scope.rawValue),
            "expires_at": .string(grant.expiresAt.rfc3339),
        ]
        if let c = grant.command { fields["command"] = .array(c.map(\.jsonValue)) }
        if let r = grant.requestID { fields["request"] = .int(r) }
        if let comment { fields["comment"] = comment.jsonValue }
        _ = try w.appendAudit(AuditEvent(event: "grant.revoked", actor: actor.name, fields: fields))
        return grant
    }

    /// Who asked for what, where, for the records of a request's decision (so a notification says
    /// it without a second lookup): `requester, run_as, host, rule, scope`, and `command` unless
    /// the request is for any command of its rule.
    static func requestFields(_ request: Request) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "requester": .string(request.requester), "run_as": .string(request.runAs), "host": .string(request.host),
            "rule": .string(request.rule), "scope": .string(request.scope.rawValue),
        ]
        if request.scope == .command { fields["command"] = .array(request.command.map(\.jsonValue)) }
        return fields
    }

    /// Root or one of the policy's admins.
    static func isAdmin(_ account: Account, _ policy: Policy) -> Bool {
        account.uid == 0 || policy.isAdmin(account.subject)
    }

    /// Whether `account` may approve requests of `rule`.
    static func mayApprove(_ account: Account, _ rule: Rule) -> Bool { account.subject.isIn(rule.approvers) }
}
