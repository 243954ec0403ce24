import Dispatch
import Glibc
import JitexecBase
import JitexecPolicy
import JitexecPolicyTOML
import JitexecStore
import JitexecSystem
import Synchronization
import Testing

@testable import JitexecCore

// The workflow tests run the request → approve → grant steps over a real SQLite store in a fresh
// temporary directory, with a clock the test moves by hand; accounts are plain values. Times and
// lengths go through `Time` and `TestClock`: the workflow's own units appear only in this file.

/// A length of time as a test writes it: `.minutes(15)`, `.hours(4)`.
struct Time: Equatable, CustomStringConvertible {
    let micros: Int64

    static func microseconds(_ n: Int64) -> Time { Time(micros: n) }
    static func seconds(_ n: Int64) -> Time { Time(micros: n * 1_000_000) }
    static func minutes(_ n: Int64) -> Time { .seconds(n * 60) }
    static func hours(_ n: Int64) -> Time { .seconds(n * 3600) }

    /// What `-d` and `jitctl approve -d` hand the workflow.
    var wholeSeconds: Int64 { micros / 1_000_000 }
    var description: String { "\(micros / 1_000_000)s" }
}

func - (a: Time, b: Time) -> Time { Time(micros: a.micros - b.micros) }
func + (instant: Instant, length: Time) -> Instant { instant.adding(micros: length.micros) }
func - (instant: Instant, length: Time) -> Instant { instant.adding(micros: -length.micros) }

extension Grant {
    /// From the moment it starts to the moment it ends.
    var length: Time { Time(micros: expiresAt.micros - notBefore.micros) }
}

/// An instant as audit records write `expires_at` (RFC 3339, whole seconds).
func recordedInstant(_ instant: Instant) -> JSONValue { .string(instant.rfc3339) }

/// A clock the test moves by hand; the store stamps its audit records with it too.
final class TestClock: Sendable {
    private let value = Mutex<Instant>(1_795_920_001_000_000)
    var now: Instant { value.withLock { $0 } }
    func advance(_ length: Time) { value.withLock { $0 = $0 + length } }
    func advance(seconds: Int64) { advance(.seconds(seconds)) }
    func advance(minutes: Int64) { advance(.minutes(minutes)) }
    func advance(hours: Int64) { advance(.hours(hours)) }
    func rewind(_ length: Time) { value.withLock { $0 = $0 - length } }
}

/// The accounts of the tests. Groups are what `Subject.groups` holds, so `%group` principals work.
enum People {
    static let alice = person("alice", 1001, ["developers"])
    static let bob = person("bob", 1002, ["staff"])
    static let carol = person("carol", 1003, ["staff", "sre-leads"])
    static let dave = person("dave", 1004, ["staff", "sre-leads"])
    static let erin = person("erin", 1005, ["staff"])
    static let mallory = person("mallory", 1006, ["contractors"])
    static let ada = person("ada", 1007, ["jit-admins"])
    static let oscar = person("oscar", 1008, ["staff", "oncall"])
    static let root = person("root", 0, ["root"])

    static func person(_ name: String, _ uid: UInt32, _ groups: [String]) -> Account {
        Account(
            name: name, uid: uid, gid: uid, home: "/home/\(name)", shell: "/bin/bash", groups: groups,
            groupIDs: groups.indices.map { uid + UInt32($0) })
    }
}

/// The argv the tests run, the resolved path first.
enum Argv {
    static let restartNginx: [UserText] = ["/usr/bin/systemctl", "restart", "nginx"]
    static let restartPostgres: [UserText] = ["/usr/bin/systemctl", "restart", "postgresql"]
    static let reboot: [UserText] = ["/usr/sbin/reboot"]
    static let deployApp: [UserText] = ["/usr/local/bin/deploy", "app"]
    static let deployDocs: [UserText] = ["/usr/local/bin/deploy", "docs", "--force"]
    static let migrate: [UserText] = ["/usr/local/bin/migrate", "up"]
    static let flushFirewall: [UserText] = ["/usr/sbin/iptables", "-F"]

    static func restart(_ unit: String) -> [UserText] { ["/usr/bin/systemctl", "restart", UserText(unit)] }

    /// The argv a test runs under `rule` unless it says otherwise.
    static func usual(_ rule: String) -> [UserText] {
        switch rule {
        case "reboots": return reboot
        case "deploys": return deployApp
        case "migrations": return migrate
        case "firewall": return flushFirewall
        default: return restartNginx
        }
    }
}

/// The system the policy loader checks names and commands against: the people above, their groups
/// and the commands of `Argv`.
struct FakeAccounts: SystemLookup {
    static let commands = [
        "/usr/bin/systemctl", "/usr/sbin/reboot", "/usr/local/bin/deploy", "/usr/local/bin/migrate",
        "/usr/sbin/iptables",
    ]
    static let everyone = [
        People.alice, People.bob, People.carol, People.dave, People.erin, People.mallory, People.ada, People.oscar,
        People.root,
    ]

    func canonicalPath(_ path: String) -> String? { Self.commands.contains(path) ? path : nil }
    func fileKind(_ path: String) -> FileKind { Self.commands.contains(path) ? .regularExecutable : .missing }
    func userExists(_ name: String) -> Bool { Self.everyone.contains { $0.name == name } }
    func groupExists(_ name: String) -> Bool { Self.everyone.contains { $0.groups.contains(name) } }
    func groupMembers(_ name: String) -> [String]? {
        groupExists(name) ? Self.everyone.filter { $0.groups.contains(name) }.map(\.name) : nil
    }
    func groupsOfUser(_ name: String) -> [String] { Self.everyone.first { $0.name == name }?.groups ?? [] }
}

/// A fresh directory under /tmp (mkdtemp), removed with the database files when the fixture goes.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/jitexec-workflow-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed: errno \(errno)") }
        path = String(cString: made)
    }

    deinit {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(file("jitexec.db") + suffix) }
        rmdir(path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The workflow over a real store: the policy, the store, the clock, and one method per step, each
/// in its own write transaction as jitexec and jitctl run them. `@unchecked Sendable` for the race
/// tests: `policy` changes only between steps, on the test's own thread.
final class WorkflowFixture: @unchecked Sendable {
    let directory: TemporaryDirectory
    let clock = TestClock()
    let store: any JitStore
    /// The fleet database's scratch schema when the tests run on PostgreSQL (`TestBackend`).
    let schemaURL: String?
    /// The policy as it is now; a test may change it between steps.
    var policy: Policy
    let host = "web1"

    init(_ policyText: String = Policies.standard) throws {
        directory = try TemporaryDirectory()
        policy = try Policies.load(policyText)
        schemaURL = try TestBackend.scratchURL()
        store = try TestBackend.open(directory.file("jitexec.db"), url: schemaURL, host: host, clock: clock)
    }

    /// Another connection to the same database, as another process (or host) opens it.
    func connect(host: String = "web1") throws -> any JitStore {
        try TestBackend.open(directory.file("jitexec.db"), url: schemaURL, host: host, clock: clock)
    }

    func rule(_ name: String) throws -> Rule {
        guard let rule = policy.rule(named: name) else { throw TestFailure("no rule '\(name)' in the test policy") }
        return rule
    }

    /// What `jitexec` asks for when `by` runs `command` under `rule` (its usual argv by default).
    func ask(
        _ rule: String, by requester: Account = People.alice, command: [UserText]? = nil, runAs: String = "root",
        host: String? = nil, reason: UserText = "INC-7 nginx wedged", ticket: UserText? = nil,
        cwd: UserText? = "/srv/app", tty: UserText? = "pts/3", once: Bool = false, length: Time? = nil
    ) throws -> Workflow.Ask {
        let rule = try self.rule(rule)
        return Workflow.Ask(
            requester: requester, runAs: runAs, host: host ?? self.host, command: command ?? Argv.usual(rule.name),
            rule: rule, reason: reason, ticket: ticket, cwd: cwd, tty: tty, once: once,
            requestedSeconds: length?.wholeSeconds, scope: rule.scope)
    }

    /// Files the ask, or reuses the requester's identical pending request (then true).
    func fileOrReuse(_ ask: Workflow.Ask, on other: (any JitStore)? = nil) throws -> (Request, Bool) {
        let filing = try filing(ask, on: other)
        return (filing.request, filing.reused)
    }

    /// What filing the ask did.
    func filing(_ ask: Workflow.Ask, on other: (any JitStore)? = nil) throws -> Workflow.Filing {
        let (policy, now) = (self.policy, clock.now)
        return try (other ?? store).write { try Workflow.fileOrReuse($0, ask, policy: policy, now: now) }
    }

    @discardableResult
    func file(_ ask: Workflow.Ask, on other: (any JitStore)? = nil) throws -> Request {
        try fileOrReuse(ask, on: other).0
    }

    @discardableResult
    func approve(
        _ id: Int64, by approver: Account, maxLength: Time? = nil, comment: UserText? = nil,
        on other: (any JitStore)? = nil
    ) throws -> Workflow.ApproveOutcome {
        let (policy, now) = (self.policy, clock.now)
        return try (other ?? store).write {
            try Workflow.approve(
                $0, id: id, approver: approver, policy: policy, system: FakeAccounts(), comment: comment,
                maxSeconds: maxLength?.wholeSeconds,
                now: now)
        }
    }

    /// Approves `request` by each approver in turn; the grant of the deciding approval.
    func grant(_ request: Request, by approvers: [Account] = [People.bob], maxLength: Time? = nil) throws -> Grant {
        for approver in approvers {
            if case .granted(let grant) = try approve(request.id, by: approver, maxLength: maxLength) { return grant }
        }
        throw TestFailure("request #\(request.id) was not granted by \(approvers.map(\.name))")
    }

    func deny(_ id: Int64, by actor: Account, comment: UserText? = nil) throws {
        let (policy, now) = (self.policy, clock.now)
        try store.write { try Workflow.deny($0, id: id, actor: actor, policy: policy, comment: comment, now: now) }
    }

    func cancel(_ id: Int64, by actor: Account) throws {
        let (policy, now) = (self.policy, clock.now)
        try store.write { try Workflow.cancel($0, id: id, actor: actor, policy: policy, now: now) }
    }

    @discardableResult
    func revoke(_ id: Int64, by actor: Account, comment: UserText? = nil) throws -> Grant {
        let (policy, now) = (self.policy, clock.now)
        return try store.write {
            try Workflow.revoke($0, id: id, actor: actor, policy: policy, comment: comment, now: now)
        }
    }

    func expireStale() throws {
        let now = clock.now
        try store.write { try Workflow.expireStale($0, now: now) }
    }

    /// What a run of `command` by `user` under `rule` claims (the rule's usual argv by default).
    func claim(
        _ rule: String, by user: Account = People.alice, command: [UserText]? = nil, cwd: UserText? = "/srv/app",
        runAs: String = "root", host: String? = nil
    ) throws -> Workflow.Claim {
        let rule = try self.rule(rule)
        return Workflow.Claim(
            user: user.name, runAs: runAs, host: host ?? self.host, rule: rule,
            command: command ?? Argv.usual(rule.name),
            cwd: cwd)
    }

    /// Takes one use of a grant covering the claim, now.
    func use(_ claim: Workflow.Claim, on other: (any JitStore)? = nil) throws -> Grant? {
        let now = clock.now
        return try (other ?? store).write { try Workflow.useGrant($0, claim, now: now) }
    }

    func covering(_ claim: Workflow.Claim) throws -> [Grant] {
        let now = clock.now
        return try store.read { try Workflow.coveringGrants($0, claim, now: now) }
    }

    // What the store holds.

    func request(_ id: Int64) throws -> Request {
        guard let request = try store.read({ try $0.request(id: id) }) else { throw TestFailure("no request #\(id)") }
        return request
    }

    func storedGrant(_ id: Int64) throws -> Grant {
        guard let grant = try store.read({ try $0.grant(id: id) }) else { throw TestFailure("no grant #\(id)") }
        return grant
    }

    func requests() throws -> [Request] { try store.read { try $0.requests(status: nil, requester: nil) } }
    func grants() throws -> [Grant] { try store.read { try $0.grants(user: nil, liveAt: nil) } }
    func approvals(of id: Int64) throws -> [Approval] { try store.read { try $0.approvals(requestID: id) } }

    /// The audit records of `event`, oldest first.
    func records(_ event: String) throws -> [AuditRecord] {
        try store.read { try $0.auditRecords(AuditFilter(event: event)) }
    }

    /// Every audit event so far, in order.
    func events() throws -> [String] { try store.read { try $0.auditRecords(AuditFilter()) }.map(\.event) }

    func verify() throws -> VerifyResult { try store.read { try AuditChain.verify($0) } }

    /// Appends one audit record through `other` (another process's or host's connection).
    func append(_ event: AuditEvent, on other: (any JitStore)? = nil) throws {
        _ = try (other ?? store).write { try $0.appendAudit(event) }
    }
}

/// Runs each body on its own thread, all released at the same moment; their results in order.
func race<T: Sendable>(_ bodies: (@Sendable () throws -> T)...) -> [Result<T, any Error>] {
    let ready = Atomic<Int>(0)
    let results = Mutex<[Int: Result<T, any Error>]>([:])
    let group = DispatchGroup()
    for (index, body) in bodies.enumerated() {
        DispatchQueue(label: "workflow-race-\(index)").async(group: group) {
            ready.add(1, ordering: .sequentiallyConsistent)
            var spins = 0
            while ready.load(ordering: .sequentiallyConsistent) < bodies.count && spins < 10_000_000 {
                spins += 1
                sched_yield()
            }
            let result = Result { try body() }
            results.withLock { $0[index] = result }
        }
    }
    group.wait()
    return results.withLock { all in bodies.indices.map { all[$0]! } }
}

/// The refusal line a step threw, nil when it did not throw a `JitError`.
func refusal(_ step: () throws -> Void) -> String? {
    do {
        try step()
        return nil
    } catch {
        return (error as? JitError)?.description
    }
}
