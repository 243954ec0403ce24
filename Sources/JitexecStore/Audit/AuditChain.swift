import Crypto
import JitexecBase

/// The audit hash chain, independent of where records are kept:
///
///     hash = hex(SHA-256(UTF8(prev_hash) ‖ UTF8(canonical JSON of
///                {"seq", "time" (RFC 3339 with microseconds), "host", "event", "actor", "fields"})))
///
/// The first record's prev_hash is 64 zeros. This formula is a published format: never change it.
public enum AuditChain {
    public static let genesisHash = String(repeating: "0", count: 64)

    /// The JSON object a record's hash covers.
    public static func hashedContent(
        seq: Int64, time: Instant, host: String, event: String, actor: String, fields: [String: JSONValue]
    ) -> JSONValue {
        .object([
            "seq": .int(seq),
            "time": .string(RFC3339.format(time)),
            "host": .string(host),
            "event": .string(event),
            "actor": .string(actor),
            "fields": .object(fields),
        ])
    }

    public static func hash(
        prevHash: String, seq: Int64, time: Instant, host: String, event: String, actor: String,
        fields: [String: JSONValue]
    ) -> String {
        let content = hashedContent(seq: seq, time: time, host: host, event: event, actor: actor, fields: fields)
        var hasher = SHA256()
        Array(prevHash.utf8).withUnsafeBytes { hasher.update(bufferPointer: $0) }
        Array(content.canonical.utf8).withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return Hex.encode(Array(hasher.finalize()))
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
    public static func verify(_ reader: any StoreReader) throws -> VerifyResult {
        var verifier = AuditChainVerifier()
        var broken: VerifyResult?
        do {
            try reader.forEachAuditRecord { record in
                if let problem = verifier.check(record) {
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
}
