import JitexecBase

/// Reads inside one consistent snapshot. Backend-neutral: SQLite today, PostgreSQL for a fleet.
public protocol StoreReader {
    func request(id: Int64) throws -> Request?
    /// Newest first; nil filters match everything.
    func requests(status: RequestStatus?, requester: String?) throws -> [Request]
    /// Oldest first.
    func approvals(requestID: Int64) throws -> [Approval]
    func grant(id: Int64) throws -> Grant?
    /// Newest first. `liveAt` keeps only grants live at that instant (`Grant.isLive(at:)`).
    func grants(user: String?, liveAt: Instant?) throws -> [Grant]
    /// The last audit record's seq and hash; nil while the log is empty.
    func auditHead() throws -> (seq: Int64, hash: String)?
    /// Matching records in seq order.
    func auditRecords(_ filter: AuditFilter) throws -> [AuditRecord]
    /// Every audit record in seq order, one at a time (for `verify` over a large log).
    func forEachAuditRecord(_ body: (AuditRecord) throws -> Void) throws
    /// The same, the fields still the stored text (`verify` reads them only when needed):
    /// `passing` sees each row's bytes first and returns true when that record needs nothing
    /// more; the others go to `body`.
    func forEachStoredAuditRecord(
        passing: (AuditRowBytes) -> Bool, _ body: (StoredAuditRecord) throws -> Void
    ) throws
    /// Break-glass uses, newest first; only those no admin reviewed yet when `unreviewedOnly`.
    func breakGlassUses(unreviewedOnly: Bool) throws -> [BreakGlassUse]
    func breakGlassUse(grantID: Int64) throws -> BreakGlassUse?
    func session(id: Int64) throws -> Session?
    func sessions(_ filter: SessionFilter) throws -> [Session]
}

/// Writes inside one serialized, durable transaction.
public protocol StoreWriter: StoreReader {
    /// Stores a new request (its `id` is ignored) and returns the assigned id.
    func insertRequest(_ request: Request) throws -> Int64
    /// Compare-and-set: moves request `id` from `from` to `to` and records who decided, when and
    /// why. False when the request was not in state `from` (someone else decided first).
    func setRequestStatus(
        id: Int64, from: RequestStatus, to: RequestStatus, at: Instant, by: String?, comment: UserText?
    ) throws -> Bool
    /// Throws `StoreError.duplicateApproval` when this person already approved this request.
    func insertApproval(_ approval: Approval) throws
    /// Stores a new grant (its `id` is ignored) and returns the assigned id.
    func insertGrant(_ grant: Grant) throws -> Int64
    /// Takes one use of grant `id` if it is live at `at`, in one atomic statement. True iff a use
    /// was taken; unlimited grants stay unlimited.
    func consumeGrantUse(id: Int64, at: Instant) throws -> Bool
    /// Revokes grant `id`; false when there is no such grant or it was already revoked.
    func revokeGrant(id: Int64, by: String, at: Instant) throws -> Bool
    /// Grants that ended by time at or before `at` (not revoked, not used up) whose expiry has not
    /// been recorded yet, oldest first.
    func unrecordedExpiries(at: Instant) throws -> [Grant]
    /// Notes that grant `id`'s expiry was recorded; false when it already was.
    func recordExpiry(grantID: Int64, at: Instant) throws -> Bool
    /// Records a break-glass use of grant `use.grantID` (inserted in the same transaction).
    func insertBreakGlassUse(_ use: BreakGlassUse) throws
    /// Compare-and-set: records the review of an unreviewed use; false when there is no such use
    /// or it was reviewed already.
    func reviewBreakGlassUse(
        grantID: Int64, verdict: BreakGlassVerdict, by: String, at: Instant, comment: UserText?
    ) throws -> Bool
    /// Appends to the hash chain after the current head, read in this same transaction.
    func appendAudit(_ event: AuditEvent) throws -> AuditRecord
    /// Counts one record of `event` by `actor` that was not written (over a bound).
    func addSuppressed(actor: String, event: String) throws
    /// The count of suppressed records of `event` by `actor`, set back to zero.
    func takeSuppressed(actor: String, event: String) throws -> Int64
    /// A new session row; its id.
    func insertSession(_ session: Session) throws -> Int64
    func setSessionRecording(id: Int64, path: String) throws
    /// Marks an open session to be stopped; false when it has ended or a stop is already asked.
    func requestSessionStop(id: Int64, by: String, comment: UserText?, at: Instant) throws -> Bool
    /// Records the end of an open session; false when it had ended already.
    func endSession(id: Int64, _ outcome: SessionOutcome) throws -> Bool
}

/// The store behind jitexec and jitctl. Reader and writer objects are valid only inside the
/// closure they are passed to; using one afterwards throws `StoreError.transactionEnded`.
public protocol JitStore: AnyObject, Sendable {
    /// A consistent read snapshot.
    func read<T>(_ body: (any StoreReader) throws -> T) throws -> T
    /// One serialized, durable write transaction (SQLite: BEGIN IMMEDIATE … COMMIT with
    /// synchronous=FULL). If `body` throws, nothing it wrote is kept. Audit records appended
    /// inside are handed to the audit sink only AFTER the commit succeeded.
    func write<T>(_ body: (any StoreWriter) throws -> T) throws -> T
    /// A write that is atomic but not synced to disk at commit (SQLite: `synchronous=NORMAL` for
    /// this transaction): it can be lost in a power failure, never half-written. For records whose
    /// loss is tolerable (exec.end); the next durable write syncs it too.
    func writeRelaxed<T>(_ body: (any StoreWriter) throws -> T) throws -> T
    /// A descriptor that becomes readable when another process or host may have changed the store
    /// (PostgreSQL: the socket of a connection that LISTENs); nil when there is none (SQLite: a
    /// waiter polls). Once it was readable, `takeChanges` reads what arrived.
    func changeDescriptor() -> Int32?
    func takeChanges()
    /// Prepares what a run of jitexec will ask of the store, so the run's steps cost less (SQLite:
    /// compiles its statements); nothing where there is nothing to prepare.
    func compileRunStatements()
    /// Whether `checkpoint` has work worth doing now (SQLite: enough of the write-ahead log).
    var checkpointDue: Bool { get }
    /// Moves what the write-ahead log holds into the database file (SQLite: a passive checkpoint,
    /// which waits for nobody and leaves what a reader still needs). Best effort: what it could not
    /// move stays in the log, as durable as before, for the next checkpoint. jitexec runs it beside
    /// the command (`Context.checkpointBeside`), so that no commit of a run has to.
    func checkpoint()
}

extension JitStore {
    public func changeDescriptor() -> Int32? { nil }
    public func takeChanges() {}
    public func compileRunStatements() {}
    public var checkpointDue: Bool { false }
    public func checkpoint() {}
}

/// Which audit records `auditRecords` returns. Every condition set must hold.
/// Which sessions `StoreReader.sessions` returns (all conditions apply), oldest first.
public struct SessionFilter: Sendable, Equatable {
    public var user: String?
    public var since: Instant?
    public var grantID: Int64?
    public var openOnly: Bool
    public var recordedOnly: Bool

    public init(
        user: String? = nil, since: Instant? = nil, grantID: Int64? = nil, openOnly: Bool = false,
        recordedOnly: Bool = false
    ) {
        self.user = user
        self.since = since
        self.grantID = grantID
        self.openOnly = openOnly
        self.recordedOnly = recordedOnly
    }
}

public struct AuditFilter: Sendable, Equatable {
    /// Records at or after this time.
    public var sinceTime: Instant?
    public var actor: String?
    public var event: String?
    /// Records with a larger seq (for `jitctl log -f`).
    public var afterSeq: Int64?
    /// At most this many, the oldest matching first.
    public var limit: Int?
    /// Records whose stored fields text contains this (the canonical text: `"recording":` finds
    /// the records with a `recording` field), so only those are read.
    public var fieldsContaining: String?

    public init(
        sinceTime: Instant? = nil, actor: String? = nil, event: String? = nil, afterSeq: Int64? = nil,
        limit: Int? = nil, fieldsContaining: String? = nil
    ) {
        self.sinceTime = sinceTime
        self.actor = actor
        self.event = event
        self.afterSeq = afterSeq
        self.limit = limit
        self.fieldsContaining = fieldsContaining
    }
}

extension StoreReader {
    /// Every audit record as stored, each given to `body`.
    func forEachStoredAuditRecord(_ body: (StoredAuditRecord) throws -> Void) throws {
        try forEachStoredAuditRecord(passing: { _ in false }, body)
    }
}
