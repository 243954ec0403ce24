import JitexecBase
import Testing

@testable import JitexecStore

@Suite struct AuditChainTests {
    @Test func hashFollowsThePublishedFormula() {
        // Computed independently: sha256("0"*64 + '{"actor":"alice","event":"request.filed","fields":
        // {"argv":["/usr/bin/id","-u"],"id":42},"host":"web1","seq":1,"time":"2026-11-29T02:40:01.123456Z"}')
        let record = AuditChain.seal(
            AuditEvent(
                event: "request.filed", actor: "alice",
                fields: ["id": .int(42), "argv": .array([.string("/usr/bin/id"), .string("-u")])]),
            after: nil, time: 1_795_920_001_123_456, host: "web1")
        #expect(record.seq == 1)
        #expect(record.prevHash == String(repeating: "0", count: 64))
        #expect(record.hash == "585e7c1f192e4dececc3d03b68d516dab4490f4a580036da8dd189b3d346ec88")
    }

    /// The hash itself against FIPS 180-2's published digests (and the one-block boundary cases):
    /// Nettle's SHA-256 is linked with its compression function chosen at build time
    /// (CJitexecNettle/nettle.c), so a wrong choice would show here first.
    @Test func sha256MatchesThePublishedDigests() {
        func digest(_ bytes: [UInt8], inPiecesOf piece: Int = Int.max) -> String {
            var hasher = SHA256()
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + piece)
                bytes[start..<end].withUnsafeBytes { hasher.update($0) }
                start = end
            }
            return hasher.hexDigest()
        }
        #expect(digest([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(digest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let twoBlocks = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(digest(twoBlocks) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(digest(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(digest(million, inPiecesOf: 4093) == digest(million))
        var again = SHA256()
        #expect(again.hexDigest() == digest([]))
    }

    @Test func appendedRecordsFormOneChain() throws {
        let f = try StoreFixture()
        let first = try f.store.write { try $0.appendAudit(AuditEvent(event: "a", actor: "alice")) }
        f.clock.advance(seconds: 1)
        let second = try f.store.write {
            try $0.appendAudit(AuditEvent(event: "b", actor: "bob", fields: ["k": .string("v")]))
        }
        #expect(first.seq == 1)
        #expect(second.seq == 2)
        #expect(second.prevHash == first.hash)
        #expect(second.time == first.time + .seconds(1))
        #expect(second.host == "web1")
        #expect(try f.store.read { try $0.auditRecords(AuditFilter()) } == [first, second])
        #expect(try f.store.read { try $0.auditHead() }! == (2, second.hash))
    }

    /// Several records in one write transaction (exec.start with grant.used): each links to the
    /// one appended before it, and the next transaction continues from the last.
    @Test func recordsAppendedInOneTransactionFormOneChain() throws {
        let f = try StoreFixture()
        try f.append(1)
        let (a, b, c) = try f.store.write { w in
            (
                try w.appendAudit(AuditEvent(event: "a", actor: "alice")),
                try w.appendAudit(AuditEvent(event: "b", actor: "alice")),
                try w.appendAudit(AuditEvent(event: "c", actor: "alice"))
            )
        }
        #expect([a.seq, b.seq, c.seq] == [2, 3, 4])
        #expect(b.prevHash == a.hash && c.prevHash == b.hash)
        try f.append(1)
        #expect(try f.verify() == .intact(count: 5, head: try f.store.read { try $0.auditHead() }!.hash))
    }

    @Test func intactChainVerifiesWithItsCountAndHead() throws {
        let f = try StoreFixture()
        #expect(try f.verify() == .intact(count: 0, head: AuditChain.genesisHash))
        try f.append(5)
        let head = try f.store.read { try $0.auditHead() }!
        #expect(try f.verify() == .intact(count: 5, head: head.hash))
        #expect(try f.verify().description == "audit chain intact: 5 records, head \(head.hash)")
    }

    @Test func editedFieldIsNamed() throws {
        let f = try StoreFixture()
        try f.append(5)
        try f.raw().run("UPDATE audit SET actor = 'mallory' WHERE seq = 3")
        #expect(try f.broken() == Broken(3, .edited))
    }

    @Test func editedFieldsAreNamed() throws {
        let f = try StoreFixture()
        try f.append(5)
        try f.raw().run(#"UPDATE audit SET fields = '{"i":99}' WHERE seq = 4"#)
        #expect(try f.broken() == Broken(4, .edited))
        try f.raw().run("UPDATE audit SET fields = 'not json' WHERE seq = 2")
        #expect(try f.broken() == Broken(2, .edited))
    }

    /// Reading stored text as a String repairs invalid UTF-8 into U+FFFD: text that held U+FFFD,
    /// edited into an invalid sequence, would read back as exactly the text that was hashed.
    @Test func textEditedIntoInvalidUTF8IsEdited() throws {
        for column in ["actor", "fields", "host", "event"] {
            let f = try StoreFixture(host: "w\u{FFFD}b1")
            try f.append(2)
            _ = try f.store.write {
                try $0.appendAudit(
                    AuditEvent(event: "test.\u{FFFD}", actor: "al\u{FFFD}ce", fields: ["note": .string("\u{FFFD}")]))
            }
            try f.append(2)
            #expect(try f.verify().isIntact)
            try f.raw().run(
                "UPDATE audit SET \(column) = CAST(REPLACE(CAST(\(column) AS BLOB), X'EFBFBD', X'FF') AS TEXT) WHERE seq = 3"
            )
            #expect(
                try f.raw().queryInt("SELECT instr(CAST(\(column) AS BLOB), X'FF') FROM audit WHERE seq = 3") ?? 0 > 0)
            #expect(try f.broken() == Broken(3, .edited), "\(column)")
            guard case .broken(_, _, let problem) = try f.verify() else { continue }
            #expect(problem.contains("not valid UTF-8"), "\(problem)")
        }
    }

    /// A record with invalid text that is also out of place is named for where it is.
    @Test func invalidTextAfterAGapIsNamedAsTheGap() throws {
        let f = try StoreFixture()
        try f.append(5)
        try f.raw().run("UPDATE audit SET actor = CAST(X'FF' AS TEXT) WHERE seq = 4")
        try f.raw().run("DELETE FROM audit WHERE seq = 3")
        #expect(try f.broken() == Broken(3, .deleted))
    }

    /// verify hashes the stored text as it is; the same content stored in another form (spaces,
    /// another key order, an escape where none is needed) is not the text the hash covers.
    @Test func fieldsRewrittenInAnotherFormAreEdited() throws {
        for rewritten in [#"{ "i": 2 }"#, #"{"i":2 }"#, #"{"\u0069":2}"#] {
            let f = try StoreFixture()
            try f.append(5)
            #expect(try f.verify().isIntact)
            try f.raw().run("UPDATE audit SET fields = ? WHERE seq = 3", [.text(rewritten)])
            #expect(try f.broken() == Broken(3, .edited))
            guard case .broken(_, _, let problem) = try f.verify() else { continue }
            #expect(problem.contains("rewritten"), "\(problem)")
        }
    }

    /// Text that needs escapes (quotes, controls, backslashes, non-ASCII) in every hashed string:
    /// the stored text hashes to the record's hash, so the chain is intact.
    @Test func recordsWithTextThatNeedsEscapesVerify() throws {
        let f = try StoreFixture()
        let hostile = "a\"b\\c\n\u{1}\u{7f}é\u{202e}\u{1F600}"
        _ = try f.store.write {
            try $0.appendAudit(
                AuditEvent(
                    event: "ev\(hostile)", actor: hostile,
                    fields: [
                        hostile: .string(hostile), "list": .array([.string(hostile), .int(-3), .null, .bool(true)]),
                    ]))
        }
        try f.append(2)
        #expect(try f.verify() == .intact(count: 3, head: try f.store.read { try $0.auditHead() }!.hash))
        let stored = try f.store.read { r in
            var all: [StoredAuditRecord] = []
            try r.forEachStoredAuditRecord { all.append($0) }
            return all
        }
        #expect(stored.count == 3)
        #expect(stored.allSatisfy { $0.hashesToItsHash(asSeq: $0.seq) })
        #expect(try stored.map { try $0.record() } == f.store.read { try $0.auditRecords(AuditFilter()) })
    }

    /// verify hashes most records straight from the stored bytes; on every record it takes (plain
    /// ASCII) it must answer as the String path does, and leave the rest to it.
    @Test func bytesPathAnswersAsTheStringPath() throws {
        func answers(_ stored: StoredAuditRecord) -> (bytes: Bool?, strings: Bool) {
            var scratch: [UInt8] = []
            let bytes = Array(stored.host.utf8).withUnsafeBytes { host in
                Array(stored.event.utf8).withUnsafeBytes { event in
                    Array(stored.actor.utf8).withUnsafeBytes { actor in
                        Array(stored.fieldsText.utf8).withUnsafeBytes { fields in
                            Array(stored.prevHash.utf8).withUnsafeBytes { prev in
                                Array(stored.hash.utf8).withUnsafeBytes { hash in
                                    AuditChain.hashesAsStored(
                                        AuditRowBytes(
                                            seq: stored.seq, time: stored.time, host: host, event: event, actor: actor,
                                            fields: fields, prevHash: prev, hash: hash), scratch: &scratch)
                                }
                            }
                        }
                    }
                }
            }
            return (bytes, stored.hashesToItsHash(asSeq: stored.seq))
        }
        let plain = AuditChain.seal(
            AuditEvent(event: "exec.start", actor: "alice", fields: ["argv": .array([.string("/usr/bin/id")])]),
            after: (seq: 41, hash: String(repeating: "ab", count: 32)), time: 1_795_920_001_123_456, host: "web1")
        let stored = StoredAuditRecord(
            seq: plain.seq, time: plain.time, host: plain.host, event: plain.event, actor: plain.actor,
            fieldsText: JSONValue.object(plain.fields).canonical, prevHash: plain.prevHash, hash: plain.hash)
        #expect(answers(stored) == (true, true))
        var changed = stored
        for edit: (inout StoredAuditRecord) -> Void in [
            { $0.hash = $0.hash.uppercased() }, { $0.hash.removeLast() }, { $0.seq += 1 },
            { $0.time = $0.time + .seconds(1) }, { $0.fieldsText = " " + $0.fieldsText },
            { $0.actor = "alicf" }, { $0.prevHash = String(repeating: "0", count: 64) },
        ] {
            changed = stored
            edit(&changed)
            #expect(answers(changed) == (false, false))
        }
        // Text the bytes path does not take as it is: the String path decides.
        for actor in ["al\"ice", "al\\ice", "al\nice", "alicé"] {
            changed = stored
            changed.actor = actor
            #expect(answers(changed).bytes == nil)
        }
        for fields in [#"{"argv":["/usr/bin/é"]}"#, #"{"é":1}"#, #"{"argv":["/usr/bin/ab", "é"]}"#] {
            changed = stored
            changed.fieldsText = fields  // non-ASCII in the eight-byte words and in the tail
            #expect(answers(changed).bytes == nil)
        }
        changed = stored
        changed.time = Instant(micros: Int64.max)
        #expect(answers(changed).bytes == nil)
    }

    @Test func recordsAreFoundByTheirStoredFieldsText() throws {
        let f = try StoreFixture()
        _ = try f.store.write { w in
            _ = try w.appendAudit(AuditEvent(event: "exec.end", actor: "a", fields: ["recording": .string("/x")]))
            _ = try w.appendAudit(AuditEvent(event: "exec.end", actor: "a", fields: ["note": .string("recording")]))
            _ = try w.appendAudit(AuditEvent(event: "exec.end", actor: "a", fields: ["k": .string("50%_off!")]))
            _ = try w.appendAudit(AuditEvent(event: "exec.end", actor: "a", fields: ["k": .string("50xyoff")]))
        }
        try f.store.read { r throws in
            #expect(try r.auditRecords(AuditFilter(fieldsContaining: #""recording":"#)).map(\.seq) == [1])
            #expect(try r.auditRecords(AuditFilter(fieldsContaining: "50%_off!")).map(\.seq) == [3])
            #expect(
                try r.auditRecords(AuditFilter(event: "exec.end", fieldsContaining: "recording")).map(\.seq) == [1, 2])
        }
    }

    @Test func deletedMiddleRecordIsNamed() throws {
        let f = try StoreFixture()
        try f.append(5)
        try f.raw().run("DELETE FROM audit WHERE seq = 3")
        #expect(try f.broken() == Broken(3, .deleted))
        try f.raw().run("DELETE FROM audit WHERE seq = 1")
        #expect(try f.broken() == Broken(1, .deleted))
    }

    @Test func insertedForgedRecordIsNamed() throws {
        let f = try StoreFixture()
        try f.append(5)
        let db = try f.raw()
        try shiftUp(db, from: 3)
        // A forger who recomputes the record's own hash but cannot know the real predecessor link.
        let forged = AuditChain.seal(
            AuditEvent(event: "grant.created", actor: "mallory"), after: (2, String(repeating: "f", count: 64)),
            time: Sample.now, host: "web1")
        try insert(forged, into: db)
        #expect(try f.broken() == Broken(3, .inserted))
    }

    @Test func insertedRecordLinkedToItsPredecessorIsNamed() throws {
        let f = try StoreFixture()
        try f.append(5)
        let second = try f.store.read { try $0.auditRecords(AuditFilter(afterSeq: 1, limit: 1)) }[0]
        let db = try f.raw()
        try shiftUp(db, from: 3)
        try insert(
            AuditChain.seal(
                AuditEvent(event: "grant.created", actor: "mallory"), after: (2, second.hash), time: Sample.now,
                host: "web1"),
            into: db)
        #expect(try f.broken() == Broken(3, .inserted))
    }

    @Test func forgedRecordAppendedAtTheEndIsNamed() throws {
        let f = try StoreFixture()
        try f.append(3)
        try insert(
            AuditChain.seal(
                AuditEvent(event: "x", actor: "mallory"), after: (3, String(repeating: "a", count: 64)),
                time: Sample.now, host: "web1"),
            into: try f.raw())
        #expect(try f.broken() == Broken(4, .inserted))
    }

    @Test func reorderedRecordsAreNamed() throws {
        let f = try StoreFixture()
        try f.append(5)
        let db = try f.raw()
        try db.transaction(.immediate) {
            try db.run("UPDATE audit SET seq = 100 WHERE seq = 3")
            try db.run("UPDATE audit SET seq = 3 WHERE seq = 4")
            try db.run("UPDATE audit SET seq = 4 WHERE seq = 100")
        }
        #expect(try f.broken() == Broken(3, .reordered))
    }

    @Test func changedLastHashIsNamed() throws {
        let f = try StoreFixture()
        try f.append(5)
        try f.raw().run("UPDATE audit SET hash = ? WHERE seq = 5", [.text(String(repeating: "b", count: 64))])
        #expect(try f.broken() == Broken(5, .edited))
    }

    @Test func brokenResultDescribesTheRecordForAPerson() throws {
        let f = try StoreFixture()
        try f.append(4)
        try f.raw().run("DELETE FROM audit WHERE seq = 2")
        #expect(
            try f.verify().description == "audit record 2 was deleted: record 2 is missing; record 3 follows record 1")
    }

    @Test func twoStoresOnOneFileKeepOneChain() throws {
        let f = try StoreFixture(host: "a")
        let other = try StoreFixture.open(f.path, host: "b")
        for i in 0..<10 {
            let store = i.isMultiple(of: 2) ? f.store : other
            _ = try store.write {
                try $0.appendAudit(AuditEvent(event: "e", actor: "x", fields: ["i": .int(Int64(i))]))
            }
        }
        let records = try other.read { try $0.auditRecords(AuditFilter()) }
        #expect(records.map(\.seq) == Array(1...10))
        #expect(records.map(\.host) == Array(repeating: ["a", "b"], count: 5).flatMap { $0 })
        #expect(try f.verify() == .intact(count: 10, head: records.last!.hash))
    }

    @Test func auditRecordsAreFiltered() throws {
        let f = try StoreFixture()
        for (event, actor) in [("a", "alice"), ("b", "bob"), ("a", "bob"), ("b", "alice")] {
            _ = try f.store.write { try $0.appendAudit(AuditEvent(event: event, actor: actor)) }
            f.clock.advance(seconds: 10)
        }
        try f.store.read { r throws in
            #expect(try r.auditRecords(AuditFilter(actor: "bob")).map(\.seq) == [2, 3])
            #expect(try r.auditRecords(AuditFilter(event: "a")).map(\.seq) == [1, 3])
            #expect(try r.auditRecords(AuditFilter(actor: "alice", event: "b")).map(\.seq) == [4])
            #expect(
                try r.auditRecords(AuditFilter(sinceTime: Sample.now + .microseconds(15_000_000))).map(\.seq) == [3, 4])
            #expect(try r.auditRecords(AuditFilter(afterSeq: 2)).map(\.seq) == [3, 4])
            #expect(try r.auditRecords(AuditFilter(limit: 2)).map(\.seq) == [1, 2])
        }
    }

    @Test func auditJSONKeepsTheEventsFieldsApartFromTheRecordsOwn() throws {
        let record = AuditRecord(
            seq: 7, time: 1_795_920_001_123_456, host: "web1", event: "exec.start", actor: "alice",
            fields: ["request": .int(42), "seq": .int(999), "host": .string("db1")], prevHash: "p", hash: "h")
        #expect(
            record.json
                == .object([
                    "schema": .object(["name": .string("jitexec.audit"), "version": .int(1)]),
                    "seq": .int(7), "time": .string("2026-11-29T02:40:01.123456Z"), "host": .string("web1"),
                    "event": .string("exec.start"), "actor": .string("alice"),
                    "fields": .object(["request": .int(42), "seq": .int(999), "host": .string("db1")]),
                    "prev_hash": .string("p"), "hash": .string("h"),
                ]))
    }

    private func shiftUp(_ db: Database, from seq: Int64) throws {
        try db.transaction(.immediate) {
            try db.run("UPDATE audit SET seq = seq + 1000000 WHERE seq >= ?", [.int(seq)])
            try db.run("UPDATE audit SET seq = seq - 999999 WHERE seq >= 1000000")
        }
    }

    private func insert(_ record: AuditRecord, into db: Database) throws {
        try db.run(
            "INSERT INTO audit (\(AuditRow.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                .int(record.seq), .int(record.time), .text(record.host), .text(record.event), .text(record.actor),
                .text(JSONValue.object(record.fields).canonical), .text(record.prevHash), .text(record.hash),
            ])
    }
}

extension StoreFixture {
    /// The first bad record and what happened to it, or nil when the chain is intact.
    func broken() throws -> Broken? {
        guard case .broken(let seq, let kind, _) = try verify() else { return nil }
        return Broken(seq, kind)
    }
}

struct Broken: Equatable, CustomStringConvertible {
    let seq: Int64
    let kind: AuditTampering
    init(_ seq: Int64, _ kind: AuditTampering) {
        self.seq = seq
        self.kind = kind
    }
    var description: String { "\(kind.rawValue) at \(seq)" }
}
