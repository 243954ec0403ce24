import JitexecBase

/// The audit hash chain, independent of where records are kept:
///
///     hash = hex(SHA-256(UTF8(prev_hash) ‖ UTF8(canonical JSON of
///                {"seq", "time" (RFC 3339 with microseconds), "host", "event", "actor", "fields"})))
///
/// The first record's prev_hash is 64 zeros. This formula is a published format: never change it.
public enum AuditChain {
    public static let genesisHash = String(repeating: "0", count: 64)

    /// The hash of a record whose fields are given as their canonical text (as the store keeps
    /// them). The hashed object's keys in canonical order are actor, event, fields, host, seq,
    /// time, so the text is built directly, the fields' text copied in as it is.
    public static func hash(
        prevHash: String, seq: Int64, time: Instant, host: String, event: String, actor: String,
        canonicalFields: String
    ) -> String {
        var content: [UInt8] = []
        content.reserveCapacity(prevHash.utf8.count + canonicalFields.utf8.count + 200)
        content.appendUTF8(prevHash)
        content.append(contentsOf: #"{"actor":"#.utf8)
        JSONValue.writeString(actor, to: &content)
        content.append(contentsOf: #","event":"#.utf8)
        JSONValue.writeString(event, to: &content)
        content.append(contentsOf: #","fields":"#.utf8)
        content.appendUTF8(canonicalFields)
        content.append(contentsOf: #","host":"#.utf8)
        JSONValue.writeString(host, to: &content)
        content.append(contentsOf: #","seq":"#.utf8)
        content.appendUTF8(String(seq))
        content.append(contentsOf: #","time":"#.utf8)
        JSONValue.writeString(RFC3339.format(time), to: &content)
        content.append(UInt8(ascii: "}"))
        var hasher = SHA256()
        content.withUnsafeBytes { hasher.update($0) }
        return hasher.hexDigest()
    }

    /// `hash(…canonicalFields:) == hash` for a row read as its stored bytes, the text built in
    /// `scratch` (reused from row to row). Nil when the row holds a byte this path does not take
    /// as it is: text above ASCII, where reading it as a String may change it (invalid UTF-8 is
    /// repaired), a byte the canonical text escapes in a name, or a time `RFC3339` spells out.
    /// `StoredAuditRecord.hashesToItsHash` decides those.
    static func hashesAsStored(_ row: AuditRowBytes, scratch content: inout [UInt8]) -> Bool? {
        func plain(_ text: UnsafeRawBufferPointer) -> Bool {
            for b in text where b < 0x20 || b >= 0x80 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                return false
            }
            return true
        }
        func ascii(_ text: UnsafeRawBufferPointer) -> Bool {
            // Eight bytes at a time, then the rest.
            var at = 0
            while at + 8 <= text.count {
                if text.loadUnaligned(fromByteOffset: at, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
                at += 8
            }
            for b in text[at...] where b >= 0x80 { return false }
            return true
        }
        guard plain(row.actor), plain(row.event), plain(row.host), ascii(row.fields), ascii(row.prevHash) else {
            return nil
        }
        content.removeAll(keepingCapacity: true)
        content.append(contentsOf: row.prevHash)
        content.append(contentsOf: Literal.actor)
        content.append(contentsOf: row.actor)
        content.append(contentsOf: Literal.event)
        content.append(contentsOf: row.event)
        content.append(contentsOf: Literal.fields)
        content.append(contentsOf: row.fields)
        content.append(contentsOf: Literal.host)
        content.append(contentsOf: row.host)
        content.append(contentsOf: Literal.seq)
        content.appendUTF8(String(row.seq))
        content.append(contentsOf: Literal.time)
        guard RFC3339.appendFixedWidth(micros: row.time.micros, to: &content) else { return nil }
        content.append(contentsOf: Literal.end)
        var hasher = SHA256()
        content.withUnsafeBytes { hasher.update($0) }
        return hasher.digestMatches(hex: row.hash)
    }

    /// The hashed text's fixed parts around the row's bytes (as arrays: appended in one copy).
    private enum Literal {
        static let actor = Array(#"{"actor":""#.utf8)
        static let event = Array(#"","event":""#.utf8)
        static let fields = Array(#"","fields":"#.utf8)
        static let host = Array(#","host":""#.utf8)
        static let seq = Array(#"","seq":"#.utf8)
        static let time = Array(#","time":""#.utf8)
        static let end = Array(#""}"#.utf8)
    }

    public static func hash(
        prevHash: String, seq: Int64, time: Instant, host: String, event: String, actor: String,
        fields: [String: JSONValue]
    ) -> String {
        hash(
            prevHash: prevHash, seq: seq, time: time, host: host, event: event, actor: actor,
            canonicalFields: JSONValue.object(fields).canonical)
    }

    /// The record that follows `head` (nil: the log is empty) for `event`.
    public static func seal(
        _ event: AuditEvent, after head: (seq: Int64, hash: String)?, time: Instant, host: String
    ) -> AuditRecord {
        sealForStore(event, after: head, time: time, host: host).record
    }

    /// `seal`, with the canonical text of the record's fields that its hash covers: the text the
    /// store keeps (written once, not again for the INSERT).
    public static func sealForStore(
        _ event: AuditEvent, after head: (seq: Int64, hash: String)?, time: Instant, host: String
    ) -> (record: AuditRecord, fieldsText: String) {
        let seq = (head?.seq ?? 0) + 1
        let prevHash = head?.hash ?? genesisHash
        let fieldsText = JSONValue.object(event.fields).canonical
        let hash = hash(
            prevHash: prevHash, seq: seq, time: time, host: host, event: event.event, actor: event.actor,
            canonicalFields: fieldsText)
        let record = AuditRecord(
            seq: seq, time: time, host: host, event: event.event, actor: event.actor, fields: event.fields,
            prevHash: prevHash, hash: hash)
        return (record, fieldsText)
    }

    /// The hash `record` should carry given its own content and prev_hash.
    public static func expectedHash(of record: AuditRecord, seq: Int64? = nil) -> String {
        hash(
            prevHash: record.prevHash, seq: seq ?? record.seq, time: record.time, host: record.host,
            event: record.event, actor: record.actor, fields: record.fields)
    }

    /// Walks the whole log in seq order, stopping at the first bad record (see
    /// `AuditChainVerifier.check(stored:)`). Records whose fields cannot be read back at all (no
    /// longer JSON) count as edited.
    public static func verify(_ reader: any StoreReader) throws -> VerifyResult {
        var verifier = AuditChainVerifier()
        var broken: VerifyResult?
        var scratch: [UInt8] = []
        scratch.reserveCapacity(4096)
        do {
            try reader.forEachStoredAuditRecord(
                passing: { verifier.pass($0, scratch: &scratch) },
                { stored in
                    if let problem = try verifier.check(stored: stored) {
                        broken = problem
                        throw StopWalking()
                    }
                })
        } catch is StopWalking {
        } catch StoreError.corruptRecord(let table, let seq, let problem) where table == "audit" {
            return verifier.unreadable(seq: seq, problem: problem)
        }
        return broken ?? verifier.result
    }

    private struct StopWalking: Error {}
}
