import JitexecBase
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// Two processes deciding at once: each step is one write transaction, so two connections to the
/// same database racing from two threads still take a last use once, make one grant, count a
/// person once.
@Suite struct WorkflowRaceTests {
    static let rounds = 10

    @Test func twoRunsRacingForTheLastUseOfAOnceGrantGetOneUse() throws {
        for _ in 0..<Self.rounds {
            let f = try WorkflowFixture()
            let grant = try f.grant(try f.file(f.ask("migrations")))
            let (one, two) = (try f.connect(), try f.connect())
            let claim = try f.claim("migrations")
            let results = race({ try f.use(claim, on: one) }, { try f.use(claim, on: two) })
            let used = try results.map { try $0.get() }
            #expect(used.compactMap { $0?.id } == [grant.id])
            #expect(try f.storedGrant(grant.id).usesLeft == 0)
            #expect(try f.records("grant.used").count == 1)
        }
    }

    @Test func twoApproversOnTwoConnectionsMakeExactlyOneGrant() throws {
        for _ in 0..<Self.rounds {
            let f = try WorkflowFixture()
            let request = try f.file(f.ask("reboots"))
            let (one, two) = (try f.connect(), try f.connect())
            let results = race(
                { try f.approve(request.id, by: People.bob, on: one) },
                { try f.approve(request.id, by: People.carol, on: two) })
            let outcomes = try results.map { try $0.get() }
            let granted = outcomes.filter { if case .granted = $0 { true } else { false } }
            #expect(granted.count == 1)
            #expect(outcomes.contains(.recorded(count: 1, needed: 2)))
            #expect(try f.grants().count == 1)
            #expect(try f.request(request.id).status == .approved)
            #expect(try f.records("grant.created").count == 1)
        }
    }

    @Test func theSamePersonApprovingTwiceAtOnceCountsOnce() throws {
        for _ in 0..<Self.rounds {
            let f = try WorkflowFixture()
            let request = try f.file(f.ask("reboots"))
            let (one, two) = (try f.connect(), try f.connect())
            let results = race(
                { try f.approve(request.id, by: People.bob, on: one) },
                { try f.approve(request.id, by: People.bob, on: two) })
            let recorded = results.compactMap { try? $0.get() }
            #expect(recorded == [.recorded(count: 1, needed: 2)])
            let refusals = results.compactMap { result -> String? in
                guard case .failure(let error) = result else { return nil }
                return (error as? JitError)?.description
            }
            #expect(refusals == ["you already approved request #\(request.id); it needs another approver"])
            #expect(try f.approvals(of: request.id).map(\.by) == ["bob"])
            #expect(try f.request(request.id).status == .pending)
        }
    }

    @Test func anApprovalAndADenialRacingHaveOneWinner() throws {
        for _ in 0..<Self.rounds {
            let f = try WorkflowFixture()
            let request = try f.file(f.ask("restarts"))
            let (one, two) = (try f.connect(), try f.connect())
            let policy = f.policy
            let now = f.clock.now
            let results = race(
                { _ = try f.approve(request.id, by: People.bob, on: one) },
                {
                    try two.write {
                        try Workflow.deny(
                            $0, id: request.id, actor: People.carol, policy: policy, comment: nil, now: now)
                    }
                })
            let winners = results.filter { if case .success = $0 { true } else { false } }.count
            #expect(winners == 1)
            let status = try f.request(request.id).status
            #expect(status == .approved || status == .denied)
            #expect(try f.grants().count == (status == .approved ? 1 : 0))
            #expect(try f.events().count == (status == .approved ? 4 : 2))
        }
    }

    @Test func racesLeaveTheAuditChainIntact() throws {
        let f = try WorkflowFixture()
        let connections = [try f.connect(), try f.connect(), try f.connect(), try f.connect()]
        let requesters = [People.alice, People.carol, People.alice, People.carol]
        let (policy, now) = (f.policy, f.clock.now)
        @Sendable func file(_ n: Int) throws -> Request {
            let ask = try f.ask("restarts", by: requesters[n], command: Argv.restart("u\(n)"))
            return try connections[n].write { try Workflow.fileOrReuse($0, ask, policy: policy, now: now).request }
        }
        let results = race({ try file(0) }, { try file(1) }, { try file(2) }, { try file(3) })
        #expect(try results.map { try $0.get() }.count == 4)
        #expect(try f.verify() == .intact(count: 4, head: try f.store.read { try $0.auditHead() }!.hash))
    }
}
