import CSQLite
import JitexecBase
import Testing

@testable import JitexecStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct MigrationTests {
    @Test func emptyDatabaseIsMigratedToTheLatestVersion() throws {
        let f = try StoreFixture()
        let db = try f.raw()
        #expect(try db.userVersion() == Migrations.latest)
        #expect(Migrations.latest >= 3)
        let names = try objectNames(db)
        for table in ["requests", "approvals", "grants", "audit", "breakglass"] {
            #expect(names.contains(table), "\(table)")
        }
        for index in [
            "grants_live_by_user", "requests_pending", "requests_by_requester", "audit_by_time", "audit_by_actor",
        ] {
            #expect(names.contains(index), "\(index)")
        }
    }

    @Test func previousVersionIsMigratedAndItsRowsKept() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("jitexec.db")
        let clock = TestClock()
        var request = Sample.request()
        do {
            // A database as the previous jitexec left it, with rows in it.
            let db = try Database.open(path: path, busyTimeoutMillis: 5000)
            try Migrations.migrate(db, to: Migrations.latest - 1)
            #expect(try db.userVersion() == Migrations.latest - 1)
            #expect(try !objectNames(db).contains("sessions"))
            let old = StoreConnection(db: db, label: path, host: "web1", clock: { clock.now })
            try db.transaction(.immediate) {
                try old.during(.writing) {
                    request.id = try old.insertRequest(request)
                    _ = try old.appendAudit(AuditEvent(event: "request.filed", actor: "alice"))
                }
            }
            try db.run(
                "INSERT INTO approvals (request_id, approver, at, comment) VALUES (?, 'bob', ?, 'ok')",
                [.int(request.id), .int(Sample.now)])
        }

        let store = try StoreFixture.open(path, clock: clock)
        #expect(try store.connection.db.userVersion() == Migrations.latest)
        #expect(try objectNames(store.connection.db).contains("sessions"))
        try store.read { reader throws in
            #expect(try reader.request(id: request.id) == request)
            #expect(
                try reader.approvals(requestID: request.id) == [
                    Approval(requestID: request.id, by: "bob", at: Sample.now, comment: "ok")
                ])
            #expect(try AuditChain.verify(reader) == .intact(count: 1, head: try reader.auditHead()!.hash))
        }
        // The new column works on the migrated database.
        try store.write {
            try $0.insertApproval(Approval(requestID: request.id, by: "carol", at: Sample.now, maxSeconds: 600))
        }
        #expect(try store.read { try $0.approvals(requestID: request.id) }.last?.maxSeconds == 600)
    }

    @Test func newerSchemaIsRefused() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("jitexec.db")
        try Database.open(path: path, busyTimeoutMillis: 5000).execute("PRAGMA user_version = 7")
        #expect(throws: StoreError.schemaTooNew(path: path, found: 7, known: Migrations.latest)) {
            try StoreFixture.open(path)
        }
        let error = StoreError.schemaTooNew(path: path, found: 7, known: 2)
        #expect(error.description.hasSuffix("database schema 7 is newer than this jitexec (2); upgrade jitexec"))
        #expect(try Database.open(path: path, busyTimeoutMillis: 5000).userVersion() == 7)
    }

    @Test func reopeningKeepsVersionAndRows() throws {
        let f = try StoreFixture()
        let id = try f.store.write { try $0.insertRequest(Sample.request()) }
        let again = try StoreFixture.open(f.path)
        #expect(try again.connection.db.userVersion() == Migrations.latest)
        #expect(try again.read { try $0.request(id: id) }?.requester == "alice")
    }

    @Test func connectionPragmasAreInEffect() throws {
        let f = try StoreFixture()
        let db = f.store.connection.db
        #expect(try db.queryText("PRAGMA journal_mode") == "wal")
        #expect(try db.queryInt("PRAGMA foreign_keys") == 1)
        #expect(try db.queryInt("PRAGMA synchronous") == 2)
        #expect(try db.queryInt("PRAGMA trusted_schema") == 0)
        #expect(try db.queryInt("PRAGMA busy_timeout") == 5000)
        // The automatic checkpoint is the connection's own WAL hook (WriteAheadLogTests).
        #expect(try db.queryInt("PRAGMA journal_size_limit") == Int64(Database.walSizeLimit))
        var defensive: Int32 = -1
        #expect(csqlite_db_config_int(db.handle, SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive) == SQLITE_OK)
        #expect(defensive == 1)
    }

    /// A relaxed write (exec.end) commits without a sync and puts FULL back; a synced write makes
    /// the connection FULL first whatever it was left at.
    @Test func aRelaxedWriteLeavesTheConnectionSyncingEveryCommit() throws {
        let f = try StoreFixture()
        let db = f.store.connection.db
        #expect(db.synchronous == .full)
        _ = try f.store.writeRelaxed { try $0.appendAudit(AuditEvent(event: "test.relaxed", actor: "a", fields: [:])) }
        #expect(try db.queryInt("PRAGMA synchronous") == 2)
        #expect(db.synchronous == .full)
        try db.setSynchronous(.normal)
        #expect(try db.queryInt("PRAGMA synchronous") == 1)
        _ = try f.store.write { try $0.appendAudit(AuditEvent(event: "test.synced", actor: "a", fields: [:])) }
        #expect(try db.queryInt("PRAGMA synchronous") == 2)
        #expect(try f.verify() == .intact(count: 2, head: try f.store.read { try $0.auditHead() }!.hash))
    }

    /// SQLite applies `PRAGMA synchronous` when it compiles it: one compiled ahead with the run's
    /// statements would set it then and change nothing when run (every exec.end was synced, one
    /// more fsync a run, until this was seen in the bench's timeline). Each relaxed write must still
    /// run relaxed, and the next write synced.
    @Test func everyRelaxedWriteIsRelaxedAlsoAfterTheRunsStatementsWereCompiledAhead() throws {
        let f = try StoreFixture()
        f.store.compileRunStatements()
        let db = f.store.connection.db
        for n in 1...3 {
            _ = try f.store.writeRelaxed { w in
                #expect(try db.queryInt("PRAGMA synchronous") == 1, "relaxed write \(n)")
                return try w.appendAudit(AuditEvent(event: "test.relaxed", actor: "a", fields: [:]))
            }
            #expect(try db.queryInt("PRAGMA synchronous") == 2, "after relaxed write \(n)")
            _ = try f.store.write { w in
                #expect(try db.queryInt("PRAGMA synchronous") == 2, "synced write \(n)")
                return try w.appendAudit(AuditEvent(event: "test.synced", actor: "a", fields: [:]))
            }
        }
    }

    @Test func busyTimeoutIsConfigurable() throws {
        let dir = try TemporaryDirectory()
        let store = try StoreFixture.open(dir.file("db"), busyTimeoutMillis: 1234)
        #expect(try store.connection.db.queryInt("PRAGMA busy_timeout") == 1234)
    }

    @Test func databaseFilesAreOwnerOnly() throws {
        let f = try StoreFixture()
        try f.append(1)
        for suffix in ["", "-wal", "-shm"] {
            var info = stat()
            #expect(stat(f.path + suffix, &info) == 0, "\(suffix) exists")
            #expect(info.st_mode & 0o777 == 0o600, "mode of jitexec.db\(suffix)")
        }
    }

    @Test func symbolicLinkIsRefused() throws {
        let dir = try TemporaryDirectory()
        _ = try StoreFixture.open(dir.file("real.db"))
        #expect(symlink(dir.file("real.db"), dir.file("link.db")) == 0)
        #expect(throws: StoreError.self) { try StoreFixture.open(dir.file("link.db")) }
        do {
            _ = try StoreFixture.open(dir.file("link.db"))
        } catch let error as StoreError {
            guard case .unavailable = error else {
                Issue.record("expected unavailable, got \(error)")
                return
            }
        }
    }

    @Test func fileThatIsNotADatabaseIsReportedCorrupt() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("jitexec.db")
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        let junk = Array(repeating: UInt8(ascii: "x"), count: 4096)
        #expect(junk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == 4096)
        close(fd)
        do {
            _ = try StoreFixture.open(path)
            Issue.record("opened a file that is not a database")
        } catch let error as StoreError {
            guard case .corrupt = error else {
                Issue.record("expected corrupt, got \(error)")
                return
            }
            #expect(error.description.contains("restore it from a backup"))
        }
    }

    @Test func missingDirectoryIsUnavailableWithANextStep() throws {
        let dir = try TemporaryDirectory()
        do {
            _ = try StoreFixture.open(dir.file("missing/jitexec.db"))
            Issue.record("opened a database in a missing directory")
        } catch let error as StoreError {
            guard case .unavailable = error else {
                Issue.record("expected unavailable, got \(error)")
                return
            }
            #expect(error.description.contains("check that its directory exists"))
        }
    }

    private func objectNames(_ db: Database) throws -> Set<String> {
        let statement = try db.prepare("SELECT name FROM sqlite_schema")
        var names = Set<String>()
        while try statement.step() { names.insert(statement.text(0)) }
        return names
    }
}
