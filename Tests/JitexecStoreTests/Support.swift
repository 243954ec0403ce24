import JitexecBase
import Synchronization
import Testing

@testable import JitexecStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh directory under /tmp (mkdtemp), removed with everything in it when the fixture goes.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/jitexec-store-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed: errno \(errno)") }
        path = String(cString: made)
    }

    deinit {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let value: Mutex<Instant>
    init(_ start: Instant = 1_795_920_001_000_000) { value = Mutex(start) }
    var now: Instant { value.withLock { $0 } }
    func advance(seconds: Int64) { value.withLock { $0 = $0.adding(seconds: seconds) } }
}

/// Collects what the store hands to its audit sink.
final class SinkRecorder: Sendable {
    private let value = Mutex<[AuditRecord]>([])
    var records: [AuditRecord] { value.withLock { $0 } }
    func receive(_ record: AuditRecord) { value.withLock { $0.append(record) } }
}

/// A store over a fresh database in its own temporary directory.
final class StoreFixture {
    let directory: TemporaryDirectory
    let clock = TestClock()
    let sink = SinkRecorder()
    let store: SQLiteStore
    var path: String { directory.file("jitexec.db") }

    init(host: String = "web1") throws {
        directory = try TemporaryDirectory()
        store = try Self.open(directory.file("jitexec.db"), host: host, clock: clock, sink: sink)
    }

    static func open(
        _ path: String, host: String = "web1", clock: TestClock = TestClock(), sink: SinkRecorder = SinkRecorder(),
        busyTimeoutMillis: Int32 = 5000
    ) throws -> SQLiteStore {
        try SQLiteStore(
            path: path, host: host, clock: { clock.now }, busyTimeoutMillis: busyTimeoutMillis,
            auditSink: { sink.receive($0) })
    }

    /// A second, raw connection to the same file, for tampering and schema inspection.
    func raw() throws -> Database { try Database.open(path: path, busyTimeoutMillis: 5000) }

    func append(_ count: Int, actor: String = "alice") throws {
        for i in 0..<count {
            _ = try store.write {
                try $0.appendAudit(AuditEvent(event: "test.event", actor: actor, fields: ["i": .int(Int64(i))]))
            }
        }
    }

    func verify() throws -> VerifyResult { try store.read { try AuditChain.verify($0) } }
}

enum Sample {
    static let now: Instant = 1_795_920_001_000_000
    static let minute: Duration = .seconds(60)

    static func request(
        requester: String = "alice", command: [UserText] = ["/usr/bin/systemctl", "restart", "nginx"],
        createdAt: Instant = now
    ) -> Request {
        Request(
            kind: .command, requester: requester, requesterUID: 1001, runAs: "root", host: "web1", command: command,
            rule: "service-restarts", reason: "INC-42 nginx wedged", scope: .command, approvalsNeeded: 1,
            createdAt: createdAt, expiresAt: createdAt + minute * 60)
    }

    static func grant(
        requestID: Int64?, user: String = "alice", notBefore: Instant = now, expiresAt: Instant = now + minute * 15,
        usesLeft: Int64? = nil, source: GrantSource = .approval
    ) -> Grant {
        Grant(
            requestID: requestID, user: user, runAs: "root", host: "web1", scope: .command,
            command: ["/usr/bin/systemctl", "restart", "nginx"], rule: "service-restarts", notBefore: notBefore,
            expiresAt: expiresAt, usesLeft: usesLeft, source: source)
    }
}
