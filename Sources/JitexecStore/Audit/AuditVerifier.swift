#if canImport(Glibc)
    import Glibc
#endif

/// What kind of tampering a broken link looks like.
public enum AuditTampering: String, Sendable, Equatable {
    /// The record's content (or its hash) no longer matches its hash.
    case edited
    /// Records are missing: a gap in seq.
    case deleted
    /// A record that does not belong to the chain: it does not link to its predecessor.
    case inserted
    /// A genuine record moved to another position (its seq was changed).
    case reordered
}

/// The outcome of `jitctl verify`.
public enum VerifyResult: Sendable, Equatable, CustomStringConvertible {
    case intact(count: Int64, head: String)
    /// `seq` names the first bad record (for deletions, the first missing seq).
    case broken(seq: Int64, kind: AuditTampering, problem: String)

    public var isIntact: Bool { if case .intact = self { true } else { false } }

    /// One line for a person.
    public var description: String {
        switch self {
        case .intact(0, _):
            return "audit log is empty"
        case .intact(let count, let head):
            return "audit chain intact: \(count) records, head \(head)"
        case .broken(let seq, let kind, let problem):
            return "audit record \(seq) was \(kind.rawValue): \(problem)"
        }
    }
}

/// Checks records one at a time in seq order, keeping only the last two hashes, so a log of any
/// size (from any backend, or a syslog copy) is verified in constant memory.
public struct AuditChainVerifier: Sendable {
    public private(set) var count: Int64 = 0
    private var expectedSeq: Int64 = 1
    private var previousHash = AuditChain.genesisHash
    private var hashBeforePrevious: String?

    public init() {}

    /// The result when every record so far was good.
    public var result: VerifyResult { .intact(count: count, head: previousHash) }

    /// Nil when `record` links correctly after the records already checked; otherwise why not.
    public mutating func check(_ record: some AuditChainLink) -> VerifyResult? {
        let seq = record.seq
        if seq > expectedSeq {
            let missing =
                seq - 1 == expectedSeq ? "record \(expectedSeq) is" : "records \(expectedSeq)–\(seq - 1) are"
            return .broken(
                seq: expectedSeq, kind: .deleted,
                problem: "\(missing) missing; record \(seq) follows record \(expectedSeq - 1)")
        }
        if seq < expectedSeq {
            return .broken(seq: seq, kind: .reordered, problem: "record \(seq) appears after record \(expectedSeq - 1)")
        }
        let selfConsistent = record.hashesToItsHash(asSeq: seq)
        let linked = record.prevHash == previousHash
        switch (selfConsistent, linked) {
        case (true, true):
            break
        case (false, true):
            return .broken(seq: seq, kind: .edited, problem: "its content does not match its hash")
        case (true, false):
            return .broken(
                seq: seq, kind: .inserted,
                problem:
                    "it does not link to record \(seq - 1) (prev_hash \(record.prevHash) is not that record's hash)")
        case (false, false):
            return unlinkedAndInconsistent(record)
        }
        hashBeforePrevious = previousHash
        previousHash = record.hash
        count += 1
        expectedSeq += 1
        return nil
    }

    /// The fast path of `check(stored:)` for a record read as bytes: true, and the verifier moves
    /// past it, when it is the next seq, links to the record before and hashes as stored. False
    /// changes nothing; `check(stored:)` then says what is wrong with it, or reads the text this
    /// path leaves alone (see `AuditChain.hashesAsStored`).
    mutating func pass(_ row: AuditRowBytes, scratch: inout [UInt8]) -> Bool {
        guard row.seq == expectedSeq, Self.equal(row.prevHash, previousHash),
            AuditChain.hashesAsStored(row, scratch: &scratch) == true
        else { return false }
        hashBeforePrevious = previousHash
        previousHash = String(decoding: row.hash, as: UTF8.self)
        count += 1
        expectedSeq += 1
        return true
    }

    private static func equal(_ bytes: UnsafeRawBufferPointer, _ text: String) -> Bool {
        var text = text
        return text.withUTF8 { utf8 in
            utf8.count == bytes.count
                && (bytes.isEmpty || memcmp(utf8.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        }
    }

    /// `check` for a record as the store keeps it. The store keeps the canonical text the hash was
    /// computed over, so an intact record is hashed as stored, its fields not read. One whose stored
    /// text does not hash is read to say how it was tampered with; if its content still hashes once
    /// read, the text was rewritten in another form (so what finds records by their stored text
    /// could miss it): edited too. Throws `StoreError.corruptRecord` when the fields are not JSON.
    public mutating func check(stored: StoredAuditRecord) throws -> VerifyResult? {
        // jitexec writes only valid UTF-8, and reading invalid bytes as text repairs them: a record
        // holding U+FFFD, edited into an invalid sequence, would read back as the text it hashed.
        guard stored.storedAsValidUTF8 else {
            let invalid = VerifyResult.broken(
                seq: stored.seq, kind: .edited,
                problem: "its stored text is not valid UTF-8, which jitexec never writes")
            if stored.seq == expectedSeq { return invalid }
            return check(Unverifiable(seq: stored.seq, prevHash: stored.prevHash, hash: stored.hash)) ?? invalid
        }
        if stored.hashesToItsHash(asSeq: stored.seq) { return check(HashedAsStored(stored: stored)) }
        let record = try stored.record()
        return check(record)
            ?? .broken(
                seq: record.seq, kind: .edited,
                problem: "its fields are not stored as the canonical text its hash covers (rewritten)")
    }

    /// A record whose content cannot be trusted to hash, out of its place: `check` says whether
    /// records are missing before it or it was moved.
    private struct Unverifiable: AuditChainLink {
        let seq: Int64
        let prevHash: String
        let hash: String
        func hashesToItsHash(asSeq seq: Int64) -> Bool { false }
    }

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

    /// A record whose seq field cannot be read back counts as edited.
    func unreadable(seq: Int64, problem: String) -> VerifyResult {
        .broken(seq: seq, kind: .edited, problem: "it cannot be read back (\(problem))")
    }

    /// Neither the hash nor the link is right. If the record is genuine under another seq, it was
    /// moved (or a record was inserted before it and the rest renumbered); otherwise it was edited.
    private func unlinkedAndInconsistent(_ record: some AuditChainLink) -> VerifyResult {
        let seq = record.seq
        if record.prevHash == hashBeforePrevious, record.hashesToItsHash(asSeq: seq - 1) {
            return .broken(
                seq: seq - 1, kind: .inserted,
                problem: "record \(seq) was originally record \(seq - 1): a record was inserted before it")
        }
        if let original = originalSeq(of: record) {
            return .broken(
                seq: seq, kind: .reordered,
                problem: "it is genuine record \(original) moved to position \(seq)")
        }
        return .broken(seq: seq, kind: .edited, problem: "neither its hash nor its prev_hash matches")
    }

    /// The seq under which `record` hashes correctly, searched near its current position.
    private func originalSeq(of record: some AuditChainLink) -> Int64? {
        let window: Int64 = 64
        for distance in 1...window {
            for candidate in [record.seq + distance, record.seq - distance] where candidate >= 1 {
                if record.hashesToItsHash(asSeq: candidate) { return candidate }
            }
        }
        return nil
    }
}
