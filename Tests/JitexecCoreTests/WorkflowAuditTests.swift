import JitexecBase
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// Every step of the workflow leaves its record in one hash chain, in the order it happened, and
/// only steps that happened leave one.
@Suite struct WorkflowAuditTests {
    @Test func aRequestFromFilingToRevocationLeavesItsRecordsInOrder() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots"))
        f.clock.advance(minutes: 1)
        try f.approve(request.id, by: People.bob)
        f.clock.advance(minutes: 1)
        let grant = try f.grant(request, by: [People.carol])
        f.clock.advance(minutes: 1)
        _ = try f.use(try f.claim("reboots"))
        try f.revoke(grant.id, by: People.alice, comment: "done")
        #expect(
            try f.events() == [
                "request.filed", "approval.added", "approval.added", "request.approved", "grant.created",
                "grant.used", "grant.revoked",
            ])
        let records = try f.store.read { try $0.auditRecords(AuditFilter()) }
        #expect(records.map(\.actor) == ["alice", "bob", "carol", "carol", "carol", "alice", "alice"])
        #expect(records.allSatisfy { $0.host == "web1" })
        #expect(records.map(\.time) == records.map(\.time).sorted())
    }

    @Test func afterAWholeWorkflowTheAuditChainVerifies() throws {
        let f = try WorkflowFixture()
        // Approved, used, revoked.
        let restart = try f.file(f.ask("restarts"))
        let grant = try f.grant(restart)
        _ = try f.use(try f.claim("restarts"))
        try f.revoke(grant.id, by: People.ada)
        // Denied, cancelled, expired.
        let denied = try f.file(f.ask("deploys"))
        try f.deny(denied.id, by: People.carol, comment: "not today")
        let cancelled = try f.file(f.ask("migrations"))
        try f.cancel(cancelled.id, by: People.alice)
        _ = try f.file(f.ask("reboots"))
        f.clock.advance(hours: 2)
        try f.expireStale()
        // Two approvals, a use of a once grant.
        let twice = try f.file(f.ask("reboots", once: true))
        try f.approve(twice.id, by: People.dave)
        _ = try f.grant(twice, by: [People.bob])
        _ = try f.use(try f.claim("reboots"))
        let records = try f.store.read { try $0.auditRecords(AuditFilter()) }
        #expect(records.count == 18)
        #expect(try f.verify() == .intact(count: Int64(records.count), head: try #require(records.last).hash))
        #expect(Set(records.map(\.event)).count == 9)
    }

    @Test func aRefusedStepWritesNothing() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots"))
        try f.approve(request.id, by: People.bob)
        let before = try f.events()
        _ = refusal { try f.approve(request.id, by: People.bob) }
        _ = refusal { try f.approve(request.id, by: People.alice) }
        _ = refusal { try f.deny(request.id, by: People.mallory) }
        _ = refusal { try f.cancel(request.id, by: People.carol) }
        #expect(try f.events() == before)
        #expect(try f.approvals(of: request.id).count == 1)
        #expect(try f.verify().isIntact)
    }

    @Test func everyRefusalOfAStepIsAJitErrorWithOneLine() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        let lines = [
            refusal { try f.approve(request.id, by: People.alice) },
            refusal { try f.approve(request.id, by: People.mallory) },
            refusal { try f.deny(request.id, by: People.alice) },
            refusal { try f.cancel(request.id, by: People.bob) },
            refusal { try f.revoke(42, by: People.alice) },
        ]
        #expect(lines.allSatisfy { $0 != nil })
        #expect(lines.compactMap { $0 }.allSatisfy { !$0.contains("\n") && !$0.isEmpty })
    }
}
