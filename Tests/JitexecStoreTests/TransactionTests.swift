import JitexecBase
import Testing

@testable import JitexecStore

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct TransactionTests {
    private struct Abort: Error, Equatable {}

    @Test func rolledBackWriteLeavesNoRowsAndCallsNoSink() throws {
        let f = try StoreFixture()
        #expect(throws: Abort()) {
            try f.store.write { w throws in
                let id = try w.insertRequest(Sample.request())
                try w.insertApproval(Approval(requestID: id, by: "bob", at: Sample.now))
                _ = try w.insertGrant(Sample.grant(requestID: id))
                _ = try w.appendAudit(AuditEvent(event: "request.filed", actor: "alice"))
                throw Abort()
            }
        }
        try f.store.read { r throws in
            #expect(try r.requests(status: nil, requester: nil).isEmpty)
            #expect(try r.grants(user: nil, liveAt: nil).isEmpty)
            #expect(try r.auditHead() == nil)
        }
        #expect(try f.raw().queryInt("SELECT count(*) FROM approvals") == 0)
        #expect(f.sink.records.isEmpty)
        // The chain carries on from genesis, as if nothing had happened.
        let next = try f.store.write { try $0.appendAudit(AuditEvent(event: "e", actor: "alice")) }
        #expect(next.seq == 1)
        #expect(next.prevHash == AuditChain.genesisHash)
        #expect(f.sink.records == [next])
    }

    @Test func sinkReceivesRecordsOnlyAfterCommitInOrder() throws {
        let f = try StoreFixture()
        let appended = try f.store.write { w throws in
            let a = try w.appendAudit(AuditEvent(event: "request.approved", actor: "bob"))
            let b = try w.appendAudit(AuditEvent(event: "grant.created", actor: "bob"))
            #expect(f.sink.records.isEmpty, "nothing leaves before COMMIT")
            return [a, b]
        }
        #expect(f.sink.records == appended)
        #expect(appended.map(\.seq) == [1, 2])
    }

    @Test func readerIsUnusableAfterItsTransaction() throws {
        let f = try StoreFixture()
        var escaped: (any StoreReader)?
        try f.store.read { escaped = $0 }
        #expect(throws: StoreError.transactionEnded) { try escaped?.request(id: 1) }
        var escapedWriter: (any StoreWriter)?
        try f.store.write { escapedWriter = $0 }
        #expect(throws: StoreError.transactionEnded) {
            try escapedWriter?.appendAudit(AuditEvent(event: "e", actor: "x"))
        }
    }

    @Test func writingThroughAReaderIsRefused() throws {
        let f = try StoreFixture()
        #expect(throws: StoreError.transactionEnded) {
            try f.store.read { reader throws in
                guard let writer = reader as? any StoreWriter else { return }
                _ = try writer.insertRequest(Sample.request())
            }
        }
        #expect(try f.store.read { try $0.requests(status: nil, requester: nil) }.isEmpty)
    }

    @Test func nestedTransactionIsRefused() throws {
        let f = try StoreFixture()
        #expect(throws: StoreError.nestedTransaction) {
            try f.store.write { _ in try f.store.read { _ in } }
        }
        // The store is still usable afterwards.
        #expect(try f.store.write { try $0.insertRequest(Sample.request()) } == 1)
    }

    @Test func writerBlockedPastTheBusyTimeoutGetsBusy() throws {
        let f = try StoreFixture()
        let impatient = try StoreFixture.open(f.path, busyTimeoutMillis: 50)
        try f.store.write { _ in
            do {
                try impatient.write { _ in }
                Issue.record("a second writer got in while the first held the lock")
            } catch let error as StoreError {
                #expect(error == .busy(path: f.path, waitedMillis: 50))
                #expect(error.description.contains("try again"))
            }
        }
        try impatient.write { _ in }
    }

    @Test func refusedAuditRecordRollsBackItsWholeTransaction() throws {
        let f = try StoreFixture()
        try f.raw().execute("CREATE TRIGGER refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'injected'); END")
        #expect(throws: StoreError.auditRefused(path: f.path, reason: "injected")) {
            try f.store.write { w throws in
                let id = try w.insertRequest(Sample.request())
                _ = try w.insertGrant(Sample.grant(requestID: id, usesLeft: 1))
                _ = try w.appendAudit(AuditEvent(event: "request.filed", actor: "alice"))
            }
        }
        try f.store.read { r throws in
            #expect(try r.requests(status: nil, requester: nil).isEmpty)
            #expect(try r.grants(user: nil, liveAt: nil).isEmpty)
        }
        #expect(f.sink.records.isEmpty)
        let description = StoreError.auditRefused(path: f.path, reason: "line\nbreak").description
        #expect(!description.contains("\n") && description.contains("jitctl verify"))
        try f.raw().execute("DROP TRIGGER refuse")
        #expect(try f.store.write { try $0.appendAudit(AuditEvent(event: "e", actor: "alice")) }.seq == 1)
    }

    @Test func sqliteErrorsAreShownOnOneLine() {
        let error = SQLiteError(
            extendedCode: 1, message: "near \"x\":\nsyntax error", context: "UPDATE requests\n    SET status = ?")
        #expect(!error.description.contains("\n"))
        #expect(error.description.contains("while UPDATE requests SET status = ?"))
        #expect(!StoreError.sqlite(error).description.contains("\n"))
    }

    @Test func ioFailureNamesTheOperatingSystemsReason() {
        // A full disk reaches SQLite as a failed write: "disk I/O error" alone would not say so.
        let error = SQLiteError(extendedCode: 778, message: "disk I/O error", context: "COMMIT", systemErrno: ENOSPC)
        let store = StoreError(error, path: "/var/lib/jitexec/jitexec.db", busyTimeoutMillis: 5000)
        #expect(
            store
                == .unavailable(path: "/var/lib/jitexec/jitexec.db", reason: "disk I/O error: No space left on device"))
        #expect(store.description.contains("not full"))
    }

    @Test func readersSeeASnapshotWhileAWriterIsOpen() throws {
        let f = try StoreFixture()
        let other = try StoreFixture.open(f.path)
        try f.store.write { w throws in
            _ = try w.insertRequest(Sample.request())
            #expect(try other.read { try $0.requests(status: nil, requester: nil) }.isEmpty)
        }
        #expect(try other.read { try $0.requests(status: nil, requester: nil) }.count == 1)
    }
}

/// The write-ahead log stays small however long the history: every short-lived process that opens
/// the store reads what is in it (SQLite's recovery), so its size must not grow with use.
@Suite struct WriteAheadLogTests {
    @Test func theLogIsCheckpointedAndCutBackAsTheHistoryGrows() throws {
        let f = try StoreFixture()
        let frame = 4096 + 24
        var largest = 0
        for _ in 0..<40 {
            try f.append(25)
            var st = stat()
            guard stat(f.path + "-wal", &st) == 0 else { continue }
            largest = max(largest, Int(st.st_size))
        }
        // 1000 records, one commit each: without the checkpoints the log would hold every frame
        // (well over 4 MB); with them it never holds much more than `walCheckpointFrames` frames
        // beyond the size it is cut back to.
        #expect(largest <= Database.walSizeLimit + (Int(Database.walCheckpointFrames) + 8) * frame, "\(largest)")
        #expect(try f.verify().isIntact)
    }

    /// The WAL index's header (the -shm file): the frames in the log, and how many of them the
    /// database file holds already (mxFrame and nBackfill, see SQLite's wal.c).
    func walIndex(_ f: StoreFixture) throws -> (frames: UInt32, backfilled: UInt32) {
        let fd = open(f.path + "-shm", O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 100)
        try #require(pread(fd, &header, header.count, 0) == header.count)
        let word = { (offset: Int) in header[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        }
        return (word(16), word(96))
    }

    @Test func aCheckpointIsDueOnceTheLogHoldsEnoughAndMovesItIntoTheDatabaseFile() throws {
        let f = try StoreFixture()
        // A fresh connection has committed nothing: nothing is due.
        let store = try StoreFixture.open(f.path)
        #expect(!store.checkpointDue)
        let first = try store.read { try $0.auditHead() }?.seq ?? 0
        var commits: Int64 = 0
        while !store.checkpointDue {
            _ = try store.write { try $0.appendAudit(AuditEvent(event: "test.event", actor: "alice", fields: [:])) }
            commits += 1
            try #require(commits < 64)
        }
        let before = try walIndex(f)
        #expect(before.frames >= UInt32(Database.besideCheckpointFrames))
        #expect(before.backfilled < before.frames)
        store.checkpoint()
        let after = try walIndex(f)
        #expect(after.frames == before.frames)
        #expect(after.backfilled == after.frames)
        #expect(!store.checkpointDue)
        #expect(try store.read { try $0.auditHead() }?.seq == first + commits)
        #expect(try f.verify().isIntact)
    }

    @Test func theCommitThatFillsTheLogCheckpointsItAsSQLiteWould() throws {
        let f = try StoreFixture()
        var checkpointed = false
        for _ in 0..<(Int(Database.walCheckpointFrames) + 8) {
            try f.append(1)
            let index = try walIndex(f)
            // Each commit writes a few frames; the one that reaches the limit copies them all.
            #expect(index.frames < UInt32(Database.walCheckpointFrames) + 8)
            if index.frames >= UInt32(Database.walCheckpointFrames) {
                #expect(index.backfilled == index.frames)
                checkpointed = true
            }
        }
        #expect(checkpointed)
    }
}
