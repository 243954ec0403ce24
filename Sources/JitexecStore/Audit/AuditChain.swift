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
        let seq = (head?.seq ?? 0) + 1
        let prevHash = head?.hash ?? genesisHash
        let hash = hash(
            prevHash: prevHash, seq: seq, time: time, host: host, event: event.event, actor: event.actor,
            fields: event.fields)
        return AuditRecord(
            seq: seq, time: time, host: host, event: event.event, actor: event.actor, fields: event.fields,
            prevHash: prevHash, hash: hash)
    }

    /// The hash `record` should carry given its own content and prev_hash.
    public static func expectedHash(of record: AuditRecord, seq: Int64? = nil) -> String {
        hash(
            prevHash: record.prevHash, seq: seq ?? record.seq, time: record.time, host: record.host,
            event: record.event, actor: record.actor, fields: record.fields)
    }

    /// Walks the whole log in seq order, stopping at the first bad record. Records that cannot
    /// be read back at all (fields no longer JSON) count as edited.
    /// The store keeps the canonical text the hash was computed over, so an intact record is hashed
    /// as it is stored, its fields not read. A record whose stored text does not hash is read to
    /// say how it was tampered with; one whose content still hashes once read was rewritten in
    /// another form (so what finds records by their stored text could miss it): edited too.
    public static func verify(_ reader: any StoreReader) throws -> VerifyResult {
        var verifier = AuditChainVerifier()
        var broken: VerifyResult?
        do {
            try reader.forEachStoredAuditRecord { stored in
                let problem =
                    stored.hashesToItsHash(asSeq: stored.seq)
                    ? verifier.check(HashedAsStored(stored: stored)) : verifier.checkRewritten(try stored.record())
                if let problem {
                    broken = problem
                    throw StopWalking()
                }
            }
        } catch is StopWalking {
        } catch StoreError.corruptRecord(let table, let seq, let problem) where table == "audit" {
            return verifier.unreadable(seq: seq, problem: problem)
        }
        return broken ?? verifier.result
    }

    private struct StopWalking: Error {}

    /// A stored record already found to hash to its own hash at its own seq (not hashed again).
    private struct HashedAsStored: AuditChainLink {
        let stored: StoredAuditRecord
        var seq: Int64 { stored.seq }
        var prevHash: String { stored.prevHash }
        var hash: String { stored.hash }
        func hashesToItsHash(asSeq seq: Int64) -> Bool {
            seq == stored.seq || stored.hashesToItsHash(asSeq: seq)
        }
    }
}
