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
