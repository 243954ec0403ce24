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

/// What the chain's verifier needs of a record: its position, its links, and whether its content
/// hashes to its own hash when taken as record `seq` (a moved record hashes under its old seq).
public protocol AuditChainLink {
    var seq: Int64 { get }
    var prevHash: String { get }
    var hash: String { get }
    func hashesToItsHash(asSeq seq: Int64) -> Bool
}

extension AuditRecord: AuditChainLink {
    public func hashesToItsHash(asSeq seq: Int64) -> Bool {
        AuditChain.expectedHash(of: self, seq: seq) == hash
    }
}

/// An audit record as stored, its fields still the text the store keeps (the canonical text the
/// hash was computed over), so `verify` hashes it without reading the fields.
public struct StoredAuditRecord: Sendable, AuditChainLink {
    public var seq: Int64
    public var time: Instant
    public var host: String
    public var event: String
    public var actor: String
    public var fieldsText: String
    public var prevHash: String
    public var hash: String
    /// False when a text column was not valid UTF-8 as stored: the strings above are then the
    /// repaired text (U+FFFD for each bad sequence), which may be exactly the text that was hashed.
    public var storedAsValidUTF8 = true

    /// Hashes the stored text as it is: true only when it is the text the hash covers.
    public func hashesToItsHash(asSeq seq: Int64) -> Bool {
        AuditChain.hash(
            prevHash: prevHash, seq: seq, time: time, host: host, event: event, actor: actor,
            canonicalFields: fieldsText) == hash
    }

    /// The record with its fields read; `StoreError.corruptRecord` when they are not a JSON object.
    public func record() throws -> AuditRecord {
        guard let parsed = try? JSONValue.parse(fieldsText), case .object(let fields) = parsed else {
            throw StoreError.corruptRecord(table: "audit", id: seq, problem: "its fields are not a JSON object")
        }
        return AuditRecord(
            seq: seq, time: time, host: host, event: event, actor: actor, fields: fields, prevHash: prevHash,
            hash: hash)
    }
}

/// An audit row's columns as the store keeps them, lent for one call: `verify` hashes most
/// records straight from these bytes (see `AuditChainVerifier.pass`).
public struct AuditRowBytes {
    public var seq: Int64
    public var time: Instant
    public var host: UnsafeRawBufferPointer
    public var event: UnsafeRawBufferPointer
    public var actor: UnsafeRawBufferPointer
    public var fields: UnsafeRawBufferPointer
    public var prevHash: UnsafeRawBufferPointer
    public var hash: UnsafeRawBufferPointer
}
