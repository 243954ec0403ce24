import Glibc
import JitexecBase
import JitexecStore
import Testing

@testable import JitexecCore

/// What a caller can make jitexec store without authenticating is bounded: argv and reasons are cut
/// to a documented size with the full size noted, and at most `perHour` records of one refusal event
/// per person are written an hour; the rest are counted into the next record.
@Suite struct BoundedRefusalTests {
    @Test func shortCommandsAreStoredWhole() {
        let command = [UserText("/usr/bin/id"), UserText("a b"), UserText("c")]
        #expect(Workflow.boundedCommand(command) == ["command": .array(command.map(\.jsonValue))])
    }

    @Test func aMegabyteOfArgvIsCutWithItsFullSizeNoted() {
        let word = UserText(bytes: [UInt8](repeating: UInt8(ascii: "x"), count: 65536))
        let command = [UserText("/usr/bin/passwd")] + Array(repeating: word, count: 16)
        let fields = Workflow.boundedCommand(command)
        guard case .array(let kept)? = fields["command"] else {
            Issue.record("no command field")
            return
        }
        let storedBytes = kept.reduce(0) { total, value in
            if case .string(let s) = value { return total + s.utf8.count }
            return total
        }
        #expect(storedBytes == Workflow.maxCommandBytes)
        #expect(kept.count == 2)
        #expect(fields["command_truncated"] == .bool(true))
        #expect(fields["command_bytes"] == .int(Int64("/usr/bin/passwd".utf8.count + 16 * 65536)))
    }

    @Test func aLongReasonIsCutWithItsFullSizeNoted() {
        let reason = UserText(bytes: [UInt8](repeating: UInt8(ascii: "r"), count: 10_000))
        let fields = Workflow.boundedReason(reason)
        #expect(fields["reason_truncated"] == .bool(true))
        #expect(fields["reason_bytes"] == .int(10_000))
        #expect(fields["reason"] == UserText(bytes: [UInt8](repeating: UInt8(ascii: "r"), count: 4096)).jsonValue)
    }

    @Test func refusalsPastTheHourlyBoundAreCountedIntoTheNextRecord() throws {
        var template = Array("/tmp/jitexec-bounded-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw StoreError.transactionEnded }
        let path = String(cString: dir) + "/jitexec.db"
        defer {
            for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
            rmdir(String(cString: dir))
        }
        let clock = Clock()
        let store = try SQLiteStore(path: path, host: "h", clock: { clock.now }, auditSink: { _ in })
        func deny() throws -> Bool {
            try store.write { w in
                try Workflow.appendBounded(
                    w, AuditEvent(event: "policy.denied", actor: "mallory", fields: ["n": .int(1)]), now: clock.now)
            }
        }
        for _ in 0..<Workflow.perHour { #expect(try deny()) }
        for _ in 0..<30 { #expect(try !deny()) }
        // Someone else is not affected.
        _ = try store.write { w in
            try Workflow.appendBounded(w, AuditEvent(event: "policy.denied", actor: "alice"), now: clock.now)
        }
        let all = try store.read { try $0.auditRecords(AuditFilter(event: "policy.denied")) }
        #expect(all.filter { $0.actor == "mallory" }.count == Workflow.perHour)
        #expect(all.filter { $0.actor == "alice" }.count == 1)
        // An hour later the next record is written and carries the count.
        clock.now = clock.now + .seconds(3600) + .microseconds(1)
        #expect(try deny())
        let last = try store.read { try $0.auditRecords(AuditFilter(actor: "mallory", event: "policy.denied")) }.last
        #expect(last?.fields["suppressed"] == .int(30))
        #expect(try deny())
        let next = try store.read { try $0.auditRecords(AuditFilter(actor: "mallory", event: "policy.denied")) }.last
        #expect(next?.fields["suppressed"] == nil)
    }

    /// A settable clock for the store.
    final class Clock: @unchecked Sendable {
        var now: Instant = 1_800_000_000_000_000
    }
}
