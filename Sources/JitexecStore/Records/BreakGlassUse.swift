import JitexecBase

/// How an admin judged a break-glass use.
public enum BreakGlassVerdict: String, Sendable, CaseIterable {
    case ok
    case flagged
}

/// One break-glass use: the grant the on-call engineer took, why, and its review.
public struct BreakGlassUse: Sendable, Equatable {
    public var grantID: Int64
    public var reason: UserText
    public var ticket: UserText?
    public var cwd: UserText?
    public var tty: UserText?
    public var createdAt: Instant
    public var reviewedAt: Instant?
    public var reviewedBy: String?
    public var verdict: BreakGlassVerdict?
    public var comment: UserText?

    public init(
        grantID: Int64, reason: UserText, ticket: UserText? = nil, cwd: UserText? = nil, tty: UserText? = nil,
        createdAt: Instant, reviewedAt: Instant? = nil, reviewedBy: String? = nil, verdict: BreakGlassVerdict? = nil,
        comment: UserText? = nil
    ) {
        self.grantID = grantID
        self.reason = reason
        self.ticket = ticket
        self.cwd = cwd
        self.tty = tty
        self.createdAt = createdAt
        self.reviewedAt = reviewedAt
        self.reviewedBy = reviewedBy
        self.verdict = verdict
        self.comment = comment
    }
}
