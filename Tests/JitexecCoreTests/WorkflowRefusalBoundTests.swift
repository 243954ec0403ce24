import JitexecBase
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// What a caller can make the store keep before authenticating is bounded: refusal records per
/// person per event per rolling hour, and the size of the argv and reason they carry.
@Suite struct WorkflowRefusalBoundTests {
    static func refuse(_ f: WorkflowFixture, _ actor: String, event: String = "policy.denied") throws -> Bool {
        let now = f.clock.now
        return try f.store.write {
            try Workflow.appendBounded($0, AuditEvent(event: event, actor: actor, fields: ["n": .int(1)]), now: now)
        }
    }

    static func written(_ f: WorkflowFixture, _ actor: String, event: String = "policy.denied") throws
        -> [AuditRecord]
    {
        try f.store.read { try $0.auditRecords(AuditFilter(actor: actor, event: event)) }
    }

    @Test func refusalsUpToTheHourlyBoundAreWritten() throws {
        let f = try WorkflowFixture()
        for _ in 0..<Workflow.perHour {
            #expect(try Self.refuse(f, "mallory"))
            f.clock.advance(seconds: 1)
        }
        #expect(try Self.written(f, "mallory").count == Workflow.perHour)
        #expect(try Self.written(f, "mallory").allSatisfy { $0.fields["suppressed"] == nil })
    }

    @Test func refusalsPastTheBoundAreOnlyCounted() throws {
        let f = try WorkflowFixture()
        for _ in 0..<Workflow.perHour { _ = try Self.refuse(f, "mallory") }
        for _ in 0..<7 { #expect(try !Self.refuse(f, "mallory")) }
        #expect(try Self.written(f, "mallory").count == Workflow.perHour)
    }

    @Test func theBoundResetsAfterAnHourAndTheNextRecordCarriesTheSuppressedCount() throws {
        let f = try WorkflowFixture()
        for _ in 0..<Workflow.perHour { _ = try Self.refuse(f, "mallory") }
        for _ in 0..<7 { _ = try Self.refuse(f, "mallory") }
        f.clock.advance(minutes: 59)
        #expect(try !Self.refuse(f, "mallory"))
        f.clock.advance(minutes: 1)
        f.clock.advance(.microseconds(1))
        #expect(try Self.refuse(f, "mallory"))
        #expect(try Self.written(f, "mallory").last?.fields == ["n": .int(1), "suppressed": .int(8)])
        #expect(try Self.refuse(f, "mallory"))
        #expect(try Self.written(f, "mallory").last?.fields == ["n": .int(1)])
    }

    @Test func theBoundIsPerPersonAndPerEvent() throws {
        let f = try WorkflowFixture()
        for _ in 0..<(Workflow.perHour + 3) { _ = try Self.refuse(f, "mallory") }
        #expect(try Self.refuse(f, "alice"))
        #expect(try Self.refuse(f, "mallory", event: "auth.failure"))
        #expect(try Self.written(f, "alice").count == 1)
        #expect(try Self.written(f, "mallory", event: "auth.failure").count == 1)
    }

    @Test func boundedRecordsKeepTheChainIntact() throws {
        let f = try WorkflowFixture()
        for _ in 0..<(Workflow.perHour + 5) { _ = try Self.refuse(f, "mallory") }
        f.clock.advance(hours: 2)
        _ = try Self.refuse(f, "mallory")
        #expect(try f.verify().isIntact)
        #expect(try f.events().count == Workflow.perHour + 1)
    }

    @Test func aShortCommandIsKeptWhole() {
        #expect(Workflow.boundedCommand(Argv.restartNginx) == ["command": .array(Argv.restartNginx.map(\.jsonValue))])
    }

    @Test func aLargeCommandIsCutToTheBoundWithItsFullSizeNoted() {
        let big = UserText(bytes: Array(repeating: UInt8(ascii: "a"), count: 3000))
        let command: [UserText] = ["/usr/bin/systemctl", big, big]
        let fields = Workflow.boundedCommand(command)
        let kept: [UserText] = [
            "/usr/bin/systemctl", big,
            UserText(bytes: Array(repeating: UInt8(ascii: "a"), count: Workflow.maxCommandBytes - 3018)),
        ]
        #expect(fields["command"] == .array(kept.map(\.jsonValue)))
        #expect(fields["command_truncated"] == .bool(true))
        #expect(fields["command_bytes"] == .int(6018))
    }

    @Test func aCommandOfExactlyTheBoundIsKeptWhole() {
        let word = UserText(bytes: Array(repeating: UInt8(ascii: "b"), count: Workflow.maxCommandBytes))
        #expect(Workflow.boundedCommand([word]) == ["command": .array([word.jsonValue])])
    }

    @Test func aLargeReasonIsCutWithItsFullSizeNoted() {
        let reason = UserText(bytes: Array(repeating: UInt8(ascii: "r"), count: Workflow.maxCommandBytes + 1))
        let fields = Workflow.boundedReason(reason)
        #expect(
            fields["reason"]
                == UserText(bytes: Array(repeating: UInt8(ascii: "r"), count: Workflow.maxCommandBytes)).jsonValue)
        #expect(fields["reason_truncated"] == .bool(true))
        #expect(fields["reason_bytes"] == .int(Int64(Workflow.maxCommandBytes + 1)))
        #expect(Workflow.boundedReason("INC-1") == ["reason": .string("INC-1")])
    }
}
