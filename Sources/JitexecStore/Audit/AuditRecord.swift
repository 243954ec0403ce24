import JitexecBase

/// An event to append: the store adds seq, time, host and the hashes.
public struct AuditEvent: Sendable, Equatable {
    /// `request.filed`, `exec.start`, ... (SPEC "Audit").
    public var event: String
    /// The user who caused it.
    public var actor: String
    /// Event details. User-controlled text goes in as `UserText.jsonValue`.
    public var fields: [String: JSONValue]

    public init(event: String, actor: String, fields: [String: JSONValue] = [:]) {
        self.event = event
        self.actor = actor
        self.fields = fields
    }
}

/// One link of the audit hash chain, as stored.
public struct AuditRecord: Sendable, Equatable {
    public var seq: Int64
    public var time: Instant
    public var host: String
    public var event: String
    public var actor: String
    public var fields: [String: JSONValue]
    public var prevHash: String
    public var hash: String

    public init(
        seq: Int64, time: Instant, host: String, event: String, actor: String, fields: [String: JSONValue],
        prevHash: String, hash: String
    ) {
        self.seq = seq
        self.time = time
        self.host = host
        self.event = event
        self.actor = actor
        self.fields = fields
        self.prevHash = prevHash
        self.hash = hash
    }

    /// The reserved keys of `json`; a field with one of these names is shadowed there.
    public static let reservedKeys: Set<String> = ["seq", "time", "host", "event", "actor", "prev_hash", "hash"]

    /// One line of `jitctl log --json`: `seq, time, host, event, actor, ...fields, prev_hash, hash`,
    /// fields flattened, reserved names winning over fields of the same name.
    public var json: JSONValue {
        var object = fields
        object["seq"] = .int(seq)
        object["time"] = .string(RFC3339.format(time))
        object["host"] = .string(host)
        object["event"] = .string(event)
        object["actor"] = .string(actor)
        object["prev_hash"] = .string(prevHash)
        object["hash"] = .string(hash)
        return .object(object)
    }
}
