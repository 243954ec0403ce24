import JitexecBase

/// How jitexec ended a supervised command, when it did; `exited` when the command ended on its own.
public enum SessionEnd: String, Sendable, CaseIterable {
    case exited
    case expired
    case revoked
    case stopped
    case recordFailed = "record_failed"
    case recordLimit = "record_limit"
}

/// One supervised command: who runs what under which grant, the process supervising it, its
/// recording, and (once over) how it ended. `jitctl stop` asks through `stopBy`.
public struct Session: Sendable, Equatable {
    public var id: Int64
    public var user: String
    public var runAs: String
    public var host: String
    public var command: [UserText]
    public var rule: String
    public var grantID: Int64?
    public var requestID: Int64?
    public var startedAt: Instant
    /// The supervising jitexec process and its start time (clock ticks after boot, /proc/PID/stat
    /// field 22), so a reused pid is not mistaken for it.
    public var pid: Int32
    public var pidStart: Int64
    public var enforceExpiry: Bool
    /// The recording's path; nil when the session is not recorded.
    public var recording: String?
    public var endedAt: Instant?
    public var ended: SessionEnd?
    public var exitStatus: Int32?
    public var recordingSize: Int64?
    public var recordingSHA256: String?
    public var stopBy: String?
    public var stopComment: UserText?
    public var stopAt: Instant?

    public init(
        id: Int64 = 0, user: String, runAs: String, host: String, command: [UserText], rule: String,
        grantID: Int64? = nil, requestID: Int64? = nil, startedAt: Instant, pid: Int32, pidStart: Int64,
        enforceExpiry: Bool = false, recording: String? = nil
    ) {
        self.id = id
        self.user = user
        self.runAs = runAs
        self.host = host
        self.command = command
        self.rule = rule
        self.grantID = grantID
        self.requestID = requestID
        self.startedAt = startedAt
        self.pid = pid
        self.pidStart = pidStart
        self.enforceExpiry = enforceExpiry
        self.recording = recording
    }

    /// Still marked running (no end recorded); whether its supervisor lives is the caller's check.
    public var isOpen: Bool { endedAt == nil }
}

/// How a session ended, as `SQLiteConnection.endSession` records it.
public struct SessionOutcome: Sendable, Equatable {
    public var at: Instant
    public var ended: SessionEnd
    public var exitStatus: Int32?
    public var recordingSize: Int64?
    public var recordingSHA256: String?

    public init(
        at: Instant, ended: SessionEnd, exitStatus: Int32?, recordingSize: Int64? = nil, recordingSHA256: String? = nil
    ) {
        self.at = at
        self.ended = ended
        self.exitStatus = exitStatus
        self.recordingSize = recordingSize
        self.recordingSHA256 = recordingSHA256
    }
}
