import JitexecBase

/// How a grant came to be: approvers reached N, or the on-call engineer broke the glass.
/// What a request or grant covers: exactly one argv (`command`), any command of its rule (`rule`),
/// or logins under a `[[login]]` table (`login`).
public enum Scope: String, Sendable, CaseIterable {
    case command, rule, login
}

public enum GrantSource: String, Sendable, CaseIterable {
    case approval
    case breakGlass = "break_glass"
}

/// Time-boxed permission for `user` to run as `runAs` on `host`.
public struct Grant: Sendable, Equatable {
    /// 0 until the store assigns one.
    public var id: Int64
    /// The request it answers; nil only for break-glass grants filed without one.
    public var requestID: Int64?
    public var user: String
    public var runAs: String
    public var host: String
    /// `command`, `rule` or `login`.
    public var scope: Scope
    /// The exact argv for `command` scope; nil for `rule` and `login` scope.
    public var command: [UserText]?
    public var rule: String
    public var notBefore: Instant
    public var expiresAt: Instant
    /// Uses remaining; nil means unlimited until expiry.
    public var usesLeft: Int64?
    public var revokedAt: Instant?
    public var revokedBy: String?
    public var source: GrantSource

    public init(
        id: Int64 = 0, requestID: Int64?, user: String, runAs: String, host: String, scope: Scope,
        command: [UserText]?, rule: String, notBefore: Instant, expiresAt: Instant, usesLeft: Int64? = nil,
        revokedAt: Instant? = nil, revokedBy: String? = nil, source: GrantSource = .approval
    ) {
        self.id = id
        self.requestID = requestID
        self.user = user
        self.runAs = runAs
        self.host = host
        self.scope = scope
        self.command = command
        self.rule = rule
        self.notBefore = notBefore
        self.expiresAt = expiresAt
        self.usesLeft = usesLeft
        self.revokedAt = revokedAt
        self.revokedBy = revokedBy
        self.source = source
    }

    /// Live at `now`: started, not expired (`now < expiresAt`), not revoked, and uses remain.
    /// Callers ask at every use with the current time; the answer is never cached.
    public func isLive(at now: Instant) -> Bool {
        isInForce(at: now) && (usesLeft ?? 1) > 0
    }

    /// Started, not expired, not revoked: what a use already taken still needs before its command
    /// starts (uses left do not count then).
    public func isInForce(at now: Instant) -> Bool {
        notBefore <= now && now < expiresAt && revokedAt == nil
    }
}
