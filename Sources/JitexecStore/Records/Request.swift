import JitexecBase

/// Where a request is in its life: `pending` until it is decided, then one of the final states.
public enum RequestStatus: String, Sendable, CaseIterable {
    case pending, approved, denied, expired, cancelled

    /// Every state but `pending` is final.
    public var isFinal: Bool { self != .pending }
}

/// What a request asks for: running a command, or logging in (the `@shell` / login gate).
public enum RequestKind: String, Sendable, CaseIterable {
    case command, login
}

/// A request for a grant, filed by `jitexec` or `jitctl request`.
public struct Request: Sendable, Equatable {
    /// 0 until the store assigns one.
    public var id: Int64
    public var kind: RequestKind
    public var status: RequestStatus
    public var requester: String
    public var requesterUID: UInt32
    public var runAs: String
    public var host: String
    /// argv, first word the resolved absolute path; empty for a login request.
    public var command: [UserText]
    /// The policy rule that matched (for login requests, the login block's name).
    public var rule: String
    public var reason: UserText
    public var ticket: UserText?
    public var cwd: UserText?
    public var tty: UserText?
    /// `command` (exactly this argv), `rule` (any command of the rule) or `login`.
    public var scope: Scope
    /// The grant is to be single-use.
    public var once: Bool
    /// The grant length the requester asked for (`-d`), before policy caps.
    public var requestedSeconds: Int64?
    public var approvalsNeeded: Int
    public var createdAt: Instant
    /// A pending request expires at this time.
    public var expiresAt: Instant
    public var decidedAt: Instant?
    public var decidedBy: String?
    /// The decider's comment (`jitctl deny -m`).
    public var comment: UserText?

    public init(
        id: Int64 = 0, kind: RequestKind, status: RequestStatus = .pending, requester: String,
        requesterUID: UInt32, runAs: String, host: String, command: [UserText], rule: String,
        reason: UserText, ticket: UserText? = nil, cwd: UserText? = nil, tty: UserText? = nil,
        scope: Scope, once: Bool = false, requestedSeconds: Int64? = nil, approvalsNeeded: Int,
        createdAt: Instant, expiresAt: Instant, decidedAt: Instant? = nil, decidedBy: String? = nil,
        comment: UserText? = nil
    ) {
        self.id = id
        self.kind = kind
        self.status = status
        self.requester = requester
        self.requesterUID = requesterUID
        self.runAs = runAs
        self.host = host
        self.command = command
        self.rule = rule
        self.reason = reason
        self.ticket = ticket
        self.cwd = cwd
        self.tty = tty
        self.scope = scope
        self.once = once
        self.requestedSeconds = requestedSeconds
        self.approvalsNeeded = approvalsNeeded
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.decidedAt = decidedAt
        self.decidedBy = decidedBy
        self.comment = comment
    }
}

/// One person's approval of a request. A person counts once toward `approvalsNeeded`.
public struct Approval: Sendable, Equatable {
    public var requestID: Int64
    public var by: String
    public var at: Instant
    public var comment: UserText?
    /// The approver's own cap on the grant length (`jitctl approve -d`).
    public var maxSeconds: Int64?

    public init(requestID: Int64, by: String, at: Instant, comment: UserText? = nil, maxSeconds: Int64? = nil) {
        self.requestID = requestID
        self.by = by
        self.at = at
        self.comment = comment
        self.maxSeconds = maxSeconds
    }
}
