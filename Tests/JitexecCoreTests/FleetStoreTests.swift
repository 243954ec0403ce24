import CJitexecPQ
import Glibc
import JitexecBase
import Testing

@testable import JitexecCore
@testable import JitexecStore

/// What only the fleet store has: its connection settings, its bounds on a dead server, the fleet
/// chain under writers on many hosts, and the wake-up of waiters on other hosts. These need
/// PostgreSQL, so they run in `make unit-test`'s second pass (JITEXEC_TEST_PG_URL); the workflow
/// suites run on both backends.
@Suite(.serialized, .enabled(if: TestBackend.postgresURL != nil, "needs JITEXEC_TEST_PG_URL (make unit-test)"))
struct FleetStoreTests {
    @Test func theCallersPGEnvironmentIsIgnoredAndRemoved() throws {
        let f = try WorkflowFixture()
        for (name, value) in [
            ("PGOPTIONS", "-c search_path=nowhere"), ("PGPASSWORD", "wrong"), ("PGSSLMODE", "verify-full"),
            ("PGSERVICEFILE", "/tmp/evil"), ("PGSSLROOTCERT", "/tmp/evil.crt"), ("PGAPPNAME", "evil"),
        ] {
            setenv(name, value, 1)
        }
        let other = try f.connect(host: "web2")
        try f.append(AuditEvent(event: "test.event", actor: "alice"), on: other)
        #expect(try f.records("test.event").count == 1)
        for name in ["PGOPTIONS", "PGPASSWORD", "PGSSLMODE", "PGSERVICEFILE", "PGSSLROOTCERT", "PGAPPNAME"] {
            #expect(getenv(name) == nil, "\(name) is still set")
        }
    }

    /// OpenSSL's start is made beside the process's first connection (`PGConnection.connect`), once.
    @Test func opensslStartsBesideTheFirstConnectionOnly() throws {
        _ = try PGConnection.connect(url: try #require(TestBackend.postgresURL), timeoutMillis: 5000)
        #expect(jx_pq_has_crypto_warmup() == 1)
        #expect(jx_pq_take_crypto_warmup() == 0)
        // A later connection starts no thread and connects all the same.
        _ = try PGConnection.connect(url: try #require(TestBackend.postgresURL), timeoutMillis: 5000)
    }

    /// Every connection runs under the server-side limits, set by its first statement: none is sent
    /// as `options` when connecting, which a connection pooler (pgbouncer) refuses. A store's on a
    /// new schema (its first statement fails on the missing table, the next one sets them), a
    /// store's on that schema (its version read sets them), and a connection whose first statement
    /// is a script; and the server cancels a statement at the deadline, before the client gives up.
    @Test func everyConnectionRunsUnderTheLimitsItsFirstStatementSets() throws {
        let url = try #require(try TestBackend.scratchURL())
        let shown =
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
            + "current_setting('idle_in_transaction_session_timeout')"
        func limits(_ store: PostgreSQLStore) throws -> [String] {
            try store.write { w in
                try #require(w as? StoreConnection<PGConnection>).db.query(shown, []) { row in
                    (0..<3).map { row.text($0) }
                }.first ?? []
            }
        }
        func open() throws -> PostgreSQLStore {
            try PostgreSQLStore(
                url: url, label: "the test database", host: "web1", clock: { 0 }, timeoutMillis: 4000,
                auditSink: { _ in })
        }
        #expect(try limits(open()) == ["4s", "4s", "8s"])  // the schema created
        #expect(try limits(open()) == ["4s", "4s", "8s"])  // the schema read

        let scripted = try PGConnection.connect(url: url, timeoutMillis: 700)
        try scripted.script(
            """
            DO $$ BEGIN
                IF current_setting('statement_timeout') <> '700ms' THEN RAISE EXCEPTION 'no limits'; END IF;
            END $$
            """)
        let slow = try PGConnection.connect(url: url, timeoutMillis: 300)
        #expect {
            try slow.script("SELECT pg_sleep(2)")
        } throws: { ($0 as? PGError)?.sqlstate == "57014" }
        #expect(slow.isUsable)
    }

    /// A read-only transaction's COMMIT is sent and not waited for (`sendUnwaited`): the next
    /// statement on the connection runs after it, outside the transaction, and a failure of what was
    /// sent is thrown by that next use, once, and leaves the connection usable.
    @Test func whatIsSentUnwaitedIsAnsweredBeforeTheNextStatement() throws {
        let db = try PGConnection.connect(url: try #require(TestBackend.postgresURL), timeoutMillis: 5000)
        func readOnly() throws -> String {
            try db.query("SELECT current_setting('transaction_read_only')", []) { $0.text(0) }.first ?? ""
        }
        try db.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        #expect(try readOnly() == "on")
        try db.sendUnwaited("COMMIT")
        #expect(try readOnly() == "off")

        try db.script("BEGIN")
        try db.sendUnwaited("SELECT 1/0")
        #expect {
            try db.script("SELECT 1")
        } throws: { ($0 as? PGError)?.sqlstate == "22012" }
        try db.script("ROLLBACK")
        #expect(try readOnly() == "off")
        #expect(db.isUsable)
    }

    @Test func aServiceFileInTheURLIsRefused() {
        #expect(opening("service=evil dbname=x").contains("names a service="))
    }

    @Test func aMalformedURLIsNotEchoed() {
        let message = opening("postgresql://role:S3cretPassw0rd%zz@127.0.0.1/db")
        #expect(message.contains("not a valid libpq connection URL"))
        #expect(!message.contains("S3cret"))
    }

    @Test func aServerThatNeverAnswersFailsAtTheTimeout() throws {
        // A socket that listens and never answers: the connection is accepted by the kernel and
        // then nothing comes back.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        #expect(listen(fd, 4) == 0)
        let port = UInt16(bigEndian: address.sin_port)
        let message = opening("postgresql://r:p@127.0.0.1:\(port)/db?sslmode=disable", timeoutMillis: 300)
        #expect(message.contains("no answer from the database server within 300 ms"), "\(message)")
    }

    @Test func oneChainForWritersOnManyHosts() throws {
        let f = try WorkflowFixture()
        let hosts = ["web1", "web2", "db1", "db2"]
        let stores = try hosts.map { try f.connect(host: $0) }
        @Sendable func append(_ n: Int) throws {
            for i in 0..<25 {
                try f.append(
                    AuditEvent(event: "test.event", actor: "u\(n)", fields: ["i": .int(Int64(i))]), on: stores[n])
            }
        }
        let results = race({ try append(0) }, { try append(1) }, { try append(2) }, { try append(3) })
        for result in results { try result.get() }
        let records = try f.records("test.event")
        #expect(records.map(\.seq) == Array(1...100))
        #expect(Set(records.map(\.host)) == Set(hosts))
        #expect(try f.verify().isIntact)
    }

    @Test func hostsOpeningAnEmptyDatabaseAtOnceCreateTheSchemaOnce() throws {
        let url = try #require(try TestBackend.scratchURL())
        @Sendable func open(_ host: String) throws -> Int64 {
            let store = try PostgreSQLStore(
                url: url, label: "the test database", host: host, clock: { 0 }, auditSink: { _ in })
            return try store.write { try $0.appendAudit(AuditEvent(event: "test.event", actor: host)).seq }
        }
        let results = race({ try open("web1") }, { try open("web2") }, { try open("db1") }, { try open("db2") })
        #expect(try results.map { try $0.get() }.sorted() == [1, 2, 3, 4])
    }

    @Test func aConnectionLostBeforeCommitKeepsNothingAndTheNextWriteReconnects() throws {
        let f = try WorkflowFixture()
        let store = try f.connect(host: "web2")
        let admin = try PGConnection.connect(url: try #require(f.schemaURL), timeoutMillis: 5000)
        do {
            _ = try store.write { w in
                _ = try w.appendAudit(AuditEvent(event: "test.event", actor: "lost"))
                let own = try (w as? StoreConnection<PGConnection>)?.db.query("SELECT pg_backend_pid()", []) {
                    $0.int64(0)
                }
                try admin.run("SELECT pg_terminate_backend(?::int)", [.int(try #require(own?.first))])
            }
            Issue.record("a write committed on a connection that was ended before its COMMIT")
        } catch {
            #expect("\(error)".contains("cannot use the fleet database"), "\(error)")
        }
        #expect(try f.records("test.event").isEmpty)
        try f.append(AuditEvent(event: "test.event", actor: "after"), on: store)
        #expect(try f.records("test.event").map(\.actor) == ["after"])
        #expect(try f.verify().isIntact)
    }

    /// A write opens its transaction and takes the fleet's lock in one message: when the lock is
    /// not had in time, the transaction is rolled back and the connection serves the next write.
    @Test func aWriteThatWaitedTooLongForTheLockLeavesTheConnectionUsable() throws {
        let f = try WorkflowFixture()
        let url = try #require(f.schemaURL)
        let store = try PostgreSQLStore(
            url: url, label: "the test database", host: "web1", clock: { f.clock.now }, timeoutMillis: 300,
            auditSink: { _ in })
        let holder = try PGConnection.connect(url: url, timeoutMillis: 5000)
        try holder.script("SELECT pg_advisory_lock(\(PostgreSQLStore.writeLockKey))")
        #expect(throws: StoreError.busy(path: "the test database", waitedMillis: 300)) {
            try f.append(AuditEvent(event: "test.event", actor: "alice"), on: store)
        }
        try holder.script("SELECT pg_advisory_unlock(\(PostgreSQLStore.writeLockKey))")
        try f.append(AuditEvent(event: "test.event", actor: "alice"), on: store)
        #expect(try f.records("test.event").count == 1)
    }

    @Test func aWriteOnAnotherHostWakesTheWaiter() throws {
        let f = try WorkflowFixture()
        let waiter = try f.connect(host: "web1")
        let descriptor = try #require(waiter.changeDescriptor())
        #expect(!readable(descriptor))
        try f.append(AuditEvent(event: "approval.added", actor: "bob"), on: try f.connect(host: "web2"))
        #expect(!StopSignals.pause(.seconds(10), wake: descriptor), "a stop signal was reported")
        #expect(readable(descriptor))
        waiter.takeChanges()
        #expect(!readable(descriptor))
    }

    @Test func aHostsHistoryMovesIntoTheFleetOnceWithItsChainAnchored() throws {
        let fleet = try WorkflowFixture()
        // The fleet already has history of its own.
        let theirs = try fleet.grant(try fleet.file(fleet.ask("restarts")))
        // A host on SQLite with a request, an approval, a grant and its audit chain.
        let directory = try TemporaryDirectory()
        let local = try SQLiteStore(
            path: directory.file("jitexec.db"), host: "db7", clock: { fleet.clock.now }, auditSink: { _ in })
        let ask = try fleet.ask("restarts")
        let (policy, now) = (fleet.policy, fleet.clock.now)
        let request = try local.write { try Workflow.fileOrReuse($0, ask, policy: policy, now: now).request }
        try fleet.approve(request.id, by: People.bob, on: local)
        let localRecords = try local.read { try $0.auditRecords(AuditFilter()) }
        // db7 moves its own store: its fleet connection writes as db7.
        let pg = try #require(try fleet.connect(host: "db7") as? PostgreSQLStore)

        let summary = try HostMigration.copy(from: local, to: pg, origin: "db7")
        #expect(summary.requests == 1 && summary.grants == 1 && summary.records == localRecords.count)
        #expect(summary.head == localRecords.last?.hash)
        let moved = try fleet.store.read { try $0.requests(status: nil, requester: nil) }
        #expect(moved.count == 2)
        let copy = try #require(moved.first { $0.id != theirs.requestID })
        #expect(copy.reason == request.reason && copy.status == .approved && copy.host == request.host)
        let grants = try fleet.store.read { try $0.grants(user: nil, liveAt: nil) }
        #expect(grants.count == 2 && grants.contains { $0.requestID == copy.id })
        #expect(try fleet.store.read { try $0.approvals(requestID: copy.id) }.map(\.by) == ["bob"])
        let anchor = try #require(try fleet.records("store.migrated").first)
        #expect(anchor.fields["origin"] == .string("db7") && anchor.fields["head"] == .string(summary.head))
        #expect(try fleet.verify().isIntact)
        #expect(try HostMigration.verifyImported(pg).map(\.problem) == [nil])

        #expect(throws: HostMigration.Failure.alreadyImported(origin: "db7")) {
            try HostMigration.copy(from: local, to: pg, origin: "db7")
        }
        // Imported records are checked as the fleet's own are: each edit below is earlier in the
        // chain than the one before, so each is the one reported.
        func tamper(_ sql: String) throws -> String {
            _ = try pg.write { w in try (w as? StoreConnection<PGConnection>)?.db.run(sql, []) }
            return try #require(try HostMigration.verifyImported(pg).first?.problem)
        }
        #expect(localRecords.count >= 3)
        let unreadable = try tamper("UPDATE imported_audit SET fields = '{\"reason\":' WHERE seq = 3")
        #expect(unreadable.hasPrefix("audit record 3 was edited: it cannot be read back"))
        // The same content in another form (what finds records by their stored text could miss).
        let rewritten = try tamper("UPDATE imported_audit SET fields = ' ' || fields || ' ' WHERE seq = 2")
        #expect(rewritten.hasPrefix("audit record 2 was edited: its fields are not stored as the canonical text"))
        #expect(rewritten.hasSuffix("(rewritten)"))
        let edited = try tamper("UPDATE imported_audit SET actor = 'mallory' WHERE seq = 1")
        #expect(edited.contains("record 1 was edited"))
    }

    /// Another host's history made up on web1: a chain in `imported_audit` under db8's name, and
    /// the `store.migrated` record that anchors it (web1 can write only as web1).
    @Test func aHistoryImportedInAnotherHostsNameIsReportedByVerify() throws {
        let fleet = try WorkflowFixture()
        let directory = try TemporaryDirectory()
        let forged = try SQLiteStore(
            path: directory.file("jitexec.db"), host: "db8", clock: { fleet.clock.now }, auditSink: { _ in })
        _ = try forged.write { w in try w.appendAudit(AuditEvent(event: "exec.start", actor: "mallory")) }
        let web1 = try #require(fleet.store as? PostgreSQLStore)
        let summary = try HostMigration.copy(from: forged, to: web1, origin: "db8")
        #expect(summary.records == 1)
        // Its own chain and the anchor's count and head agree: only where the anchor was written tells.
        #expect(try fleet.verify().isIntact)
        let problems = try HostMigration.verifyImported(web1)
        #expect(problems.map(\.origin) == ["db8"])
        let anchor = try #require(try fleet.records("store.migrated").first)
        #expect(
            problems.first?.problem
                == "the store.migrated record \(anchor.seq) that anchors it was written on web1, not on db8 itself")
    }

    @Test func aHostsRoleWorksTheWorkflowButCannotRewriteHistoryNorWriteAsAnotherHost() throws {
        let role = try makeHostRole()
        // The schema is created after the group role: its migration grants the hosts' rights.
        let f = try WorkflowFixture()
        try bindHost(role, to: "web1", in: f.store)
        let url = try roleURL(role, in: try #require(f.schemaURL))
        func open(_ host: String) throws -> PostgreSQLStore {
            try PostgreSQLStore(
                url: url, label: "the test database", host: host, clock: { f.clock.now }, auditSink: { _ in })
        }
        let web1 = try open("web1")
        // The whole workflow under the host's role.
        let request = try f.file(f.ask("restarts"), on: web1)
        try f.approve(request.id, by: People.bob, on: web1)
        #expect(try f.use(try f.claim("restarts"), on: web1) != nil)
        // History cannot be rewritten, nor written as another host.
        #expect(throws: (any Error).self) {
            _ = try web1.write { w in
                try (w as? StoreConnection<PGConnection>)?.db.run("UPDATE audit SET actor = 'mallory'", [])
            }
        }
        #expect(throws: (any Error).self) {
            _ = try web1.write { w in try (w as? StoreConnection<PGConnection>)?.db.run("DELETE FROM audit", []) }
        }
        do {
            try f.append(AuditEvent(event: "test.event", actor: "mallory"), on: try open("web2"))
            Issue.record("a record claiming another host was written")
        } catch {
            #expect("\(error)".contains("writes for host web1, not for web2"))
        }
        #expect(try f.verify().isIntact)
    }

    /// The own-host check read `fleet_hosts` by its bare name (schema version 1), so a host's role
    /// could put a temporary table of that name first in its own session and write as any host.
    @Test func aHostsRoleCannotWriteAsAnotherHostThroughATableOfItsOwnNamedFleetHosts() throws {
        let role = try makeHostRole()
        let f = try WorkflowFixture()
        try bindHost(role, to: "web1", in: f.store)
        let url = try roleURL(role, in: try #require(f.schemaURL))
        let web1 = try PostgreSQLStore(
            url: url, label: "the test database", host: "web1", clock: { f.clock.now }, auditSink: { _ in })
        let request = try f.file(f.ask("restarts"), on: web1)
        try f.approve(request.id, by: People.bob, on: web1)
        #expect(try f.use(try f.claim("restarts"), on: web1) != nil)
        let web2 = try PostgreSQLStore(
            url: url, label: "the test database", host: "web2", clock: { f.clock.now }, auditSink: { _ in })
        for store in [web1, web2] {
            // The session's own `fleet_hosts`, first in its search path: it binds the role to web2.
            try store.write { w in
                let db = try #require((w as? StoreConnection<PGConnection>)?.db)
                try db.script(
                    "CREATE TEMP TABLE fleet_hosts (role TEXT, host TEXT); "
                        + "INSERT INTO fleet_hosts VALUES (session_user, 'web2')")
            }
        }
        do {
            try f.append(AuditEvent(event: "test.event", actor: "mallory"), on: web2)
            Issue.record("a record claiming another host was written through the session's own fleet_hosts")
        } catch {
            #expect("\(error)".contains("writes for host web1, not for web2"))
        }
        func session(on host: String) -> Session {
            Session(
                user: "alice", runAs: "root", host: host, command: ["/usr/bin/systemctl", "restart", "nginx"],
                rule: "restarts", startedAt: f.clock.now, pid: 1, pidStart: 1)
        }
        do {
            _ = try web2.write { w in try w.insertSession(session(on: "web2")) }
            Issue.record("a session claiming another host was written through the session's own fleet_hosts")
        } catch {
            #expect("\(error)".contains("writes for host web1, not for web2"))
        }
        // Its own host's records still go in; moving one to another host does not.
        let own = try web1.write { w in try w.insertSession(session(on: "web1")) }
        do {
            _ = try web1.write { w in
                try (w as? StoreConnection<PGConnection>)?.db.run(
                    "UPDATE sessions SET host = 'web2' WHERE id = ?", [.int(own)])
            }
            Issue.record("a session was moved to another host through the session's own fleet_hosts")
        } catch {
            #expect("\(error)".contains("writes for host web1, not for web2"))
        }
        try f.append(AuditEvent(event: "test.event", actor: "alice"), on: web1)
        #expect(try f.verify().isIntact)
    }

    /// `jitctl stop` on another host than the session's: that host's role may ask the session to
    /// stop, once, and change nothing else of it.
    @Test func anotherHostsRoleMayAskASessionToStopAndChangeNothingElse() throws {
        let (role1, role2) = (try makeHostRole(), try makeHostRole())
        let f = try WorkflowFixture()
        try bindHost(role1, to: "web1", in: f.store)
        try bindHost(role2, to: "web2", in: f.store)
        let schemaURL = try #require(f.schemaURL)
        func open(_ role: String, _ host: String) throws -> PostgreSQLStore {
            try PostgreSQLStore(
                url: try roleURL(role, in: schemaURL), label: "the test database", host: host,
                clock: { f.clock.now }, auditSink: { _ in })
        }
        let (web1, web2) = (try open(role1, "web1"), try open(role2, "web2"))
        let session = Session(
            user: "alice", runAs: "root", host: "web1", command: ["/usr/bin/id"], rule: "restarts",
            startedAt: f.clock.now, pid: 1, pidStart: 1)
        let id = try web1.write { w in try w.insertSession(session) }
        func update(_ sql: String) throws {
            _ = try web2.write { w in try (w as? StoreConnection<PGConnection>)?.db.run(sql, [.int(id)]) }
        }
        for sql in [
            "UPDATE sessions SET ended_at = 1, ended = 'exited', exit_status = 0 WHERE id = ?",
            "UPDATE sessions SET stop_by = 'bob', pid = 2 WHERE id = ?",
            "UPDATE sessions SET stop_by = 'bob', host = 'web2' WHERE id = ?",
        ] {
            #expect(throws: (any Error).self, "\(sql)") { try update(sql) }
        }
        #expect(try web2.write { w in try w.requestSessionStop(id: id, by: "bob", comment: "wrong host", at: 5) })
        #expect(try web1.read { try $0.session(id: id) }?.stopBy == "bob")
        // The request stands: it cannot be taken back or rewritten from another host.
        #expect(throws: (any Error).self) {
            try update("UPDATE sessions SET stop_by = NULL, stop_at = NULL WHERE id = ?")
        }
        #expect(throws: (any Error).self) { try update("UPDATE sessions SET stop_by = 'carol' WHERE id = ?") }
        // Its own host ends it.
        #expect(
            try web1.write { w in try w.endSession(id: id, SessionOutcome(at: 6, ended: .stopped, exitStatus: nil)) })
    }

    /// The check above, on the schema as created: its trigger compares every column of `sessions`
    /// but the three `stop_*` a stop request writes. A column added to the table and not to the
    /// trigger's two lists would be one another host's role could rewrite along with a stop request.
    @Test func theSessionsUpdateCheckComparesEveryColumnButTheStopRequest() throws {
        let f = try WorkflowFixture()
        let db = try PGConnection.connect(url: try #require(f.schemaURL), timeoutMillis: 5000)
        let columns = try db.query(
            """
            SELECT column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'sessions'
            """, []
        ) { $0.text(0) }
        let definition = try #require(
            try db.query(
                """
                SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
                WHERE t.tgname = 'sessions_own_host_update' AND t.tgrelid = 'sessions'::regclass
                """, []
            ) { $0.text(0) }.first
        ).lowercased().replacingOccurrences(of: "\"", with: "")
        let stopRequest: Set = ["stop_by", "stop_comment", "stop_at"]
        #expect(stopRequest.isSubset(of: columns))
        #expect(columns.count > stopRequest.count + 10)
        // PostgreSQL keeps the row comparison as one test a column.
        for column in columns where !stopRequest.contains(column) {
            #expect(definition.contains("(old.\(column) is distinct from new.\(column))"), "\(column)")
        }
    }

    /// A fleet whose schema version 1 made: a host's role is told plainly that the owner must
    /// migrate it (and nothing runs); the owner's open migrates it; the check then holds.
    @Test func aVersion1FleetSchemaIsMigratedByItsOwnerAndNotByAHostsRole() throws {
        let role = try makeHostRole()
        let schemaURL = try #require(try TestBackend.scratchURL())
        let owner = try PGConnection.connect(url: schemaURL, timeoutMillis: 5000)
        try owner.script("CREATE TABLE jitexec_schema (version BIGINT NOT NULL); INSERT INTO jitexec_schema VALUES (1)")
        try owner.script(PGSchema.v1)
        try owner.run("INSERT INTO fleet_hosts (role, host) VALUES (?, 'web1')", [.text(role)])
        let url = try roleURL(role, in: schemaURL)
        func open(_ url: String, _ host: String) throws -> PostgreSQLStore {
            try PostgreSQLStore(url: url, label: "the test database", host: host, clock: { 0 }, auditSink: { _ in })
        }
        #expect(throws: StoreError.schemaNeedsOwner(path: "the test database", found: 1, known: 2)) {
            _ = try open(url, "web1")
        }
        #expect("\(StoreError.schemaNeedsOwner(path: "db", found: 1, known: 2))".contains("jitctl verify"))
        _ = try open(schemaURL, "web1")
        #expect(try owner.query("SELECT version FROM jitexec_schema", []) { $0.int64(0) } == [2])
        let web2 = try open(url, "web2")
        try web2.write { w in
            try (w as? StoreConnection<PGConnection>)?.db.script(
                "CREATE TEMP TABLE fleet_hosts (role TEXT, host TEXT); INSERT INTO fleet_hosts VALUES (session_user, 'web2')"
            )
        }
        #expect(throws: (any Error).self) {
            _ = try web2.write { w in
                try w.appendAudit(AuditEvent(event: "test.event", actor: "mallory"))
            }
        }
    }

    /// A login role in `jitexec_hosts` (made first when missing), as the README sets hosts up.
    private func makeHostRole() throws -> String {
        let role = "t_host_" + String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        let admin = try PGConnection.connect(url: try #require(TestBackend.postgresURL), timeoutMillis: 5000)
        try admin.script(
            """
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jitexec_hosts') THEN
                    CREATE ROLE jitexec_hosts NOLOGIN;
                END IF;
            END $$;
            CREATE ROLE \(role) LOGIN PASSWORD 'pw-\(role)' IN ROLE jitexec_hosts;
            """)
        return role
    }

    /// `role` bound to `host` in `fleet_hosts`, through the owner's `store`.
    private func bindHost(_ role: String, to host: String, in store: any JitStore) throws {
        _ = try store.write { w in
            try (w as? StoreConnection<PGConnection>)?.db.run(
                "INSERT INTO fleet_hosts (role, host) VALUES (?, ?)", [.text(role), .text(host)])
        }
    }

    /// `schemaURL` with `role`'s credentials in place of the owner's.
    private func roleURL(_ role: String, in schemaURL: String) throws -> String {
        let credentials = try #require(schemaURL.range(of: "//")?.upperBound)
        let at = try #require(schemaURL.range(of: "@")?.lowerBound)
        return schemaURL.replacingCharacters(in: credentials..<at, with: "\(role):pw-\(role)")
    }

    /// The message opening a store at `url` fails with ("" when it opened).
    private func opening(_ url: String, timeoutMillis: Int32 = 5000) -> String {
        do {
            _ = try PostgreSQLStore(
                url: url, label: "the test database", host: "web1", clock: { 0 }, timeoutMillis: timeoutMillis,
                auditSink: { _ in })
            return ""
        } catch {
            return "\(error)"
        }
    }

    private func readable(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }
}
