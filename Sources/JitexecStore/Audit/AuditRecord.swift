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

    /// One line of `jitctl log --json` and a notifier's stdin (schema `jitexec.audit`): `schema,
    /// seq, time, host, event, actor, fields, prev_hash, hash`, the event's own fields under
    /// `fields` so they never mix with the record's (a grant's `host` vs the record's).
    public var json: JSONValue {
        .object([
            "schema": .schema("jitexec.audit"), "seq": .int(seq), "time": .string(RFC3339.format(time)),
            "host": .string(host), "event": .string(event), "actor": .string(actor), "fields": .object(fields),
            "prev_hash": .string(prevHash), "hash": .string(hash),
        ])
    }
}
