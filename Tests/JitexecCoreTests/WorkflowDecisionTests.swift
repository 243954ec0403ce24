import JitexecBase
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// Denying, cancelling and revoking: who may, what each leaves in the store and the audit log, and
/// what someone who may not sees (the same line as for an id that does not exist).
@Suite struct WorkflowDecisionTests {
    static func noRequest(_ id: Int64) -> JitError {
        .notPermitted("there is no request #\(id) that you can see; run 'jitctl requests --all'")
    }

    static func noGrant(_ id: Int64) -> JitError {
        .notPermitted("there is no grant #\(id) that you can see; run 'jitctl grants --all'")
    }

    // MARK: Deny

    @Test func anApproverMayDenyARequestWithAComment() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.clock.advance(minutes: 2)
        let deniedAt = f.clock.now
        try f.deny(request.id, by: People.carol, comment: "use the deploy pipeline")
        let stored = try f.request(request.id)
        #expect(stored.status == .denied)
        #expect(stored.decidedBy == "carol")
        #expect(stored.decidedAt == deniedAt)
        #expect(stored.comment == "use the deploy pipeline")
        #expect(try f.grants().isEmpty)
        let record = try #require(try f.records("request.denied").first)
        #expect(record.actor == "carol")
        #expect(
            record.fields == [
                "request": .int(request.id), "requester": .string("alice"),
                "comment": .string("use the deploy pipeline"), "run_as": .string("root"), "host": .string("web1"),
                "rule": .string("restarts"), "scope": .string("command"),
                "command": .array(Argv.restartNginx.map(\.jsonValue)),
            ])
    }

    @Test func aRequesterWhoIsAnApproverCannotDenyTheirOwnRequest() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts", by: People.carol))
        #expect(
            throws: JitError.notPermitted(
                "only an approver of rule 'restarts' or an admin may deny request #\(request.id); to withdraw your own, run 'jitctl cancel \(request.id)'"
            )
        ) {
            try f.deny(request.id, by: People.carol)
        }
        #expect(try f.request(request.id).status == .pending)
    }

    @Test func anAdminMayDenyWithoutBeingAnApprover() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        try f.deny(request.id, by: People.ada)
        #expect(try f.request(request.id).status == .denied)
        #expect(try f.records("request.denied").map(\.actor) == ["ada"])
    }

    @Test func rootIsAnAdminWithoutBeingListed() throws {
        let f = try WorkflowFixture()
        #expect(Workflow.isAdmin(People.root, f.policy))
        #expect(Workflow.isAdmin(People.ada, f.policy))
        #expect(!Workflow.isAdmin(People.bob, f.policy))
        let request = try f.file(f.ask("restarts"))
        try f.deny(request.id, by: People.root)
        #expect(try f.request(request.id).decidedBy == "root")
    }

    @Test func someoneWhoMayNotSeeARequestCannotDenyItAndLearnsNothing() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        #expect(throws: Self.noRequest(request.id)) { try f.deny(request.id, by: People.mallory) }
        #expect(throws: Self.noRequest(999)) { try f.deny(999, by: People.mallory) }
        #expect(try f.request(request.id).status == .pending)
    }

    @Test func aDecidedRequestLooksAbsentToSomeoneWhoMayNotSeeIt() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        try f.approve(request.id, by: People.bob)
        // Not "already approved": that would tell mallory the id exists and what became of it.
        #expect(throws: Self.noRequest(request.id)) { try f.deny(request.id, by: People.mallory) }
        #expect(throws: Self.noRequest(request.id)) { try f.cancel(request.id, by: People.mallory) }
        #expect(throws: Self.noRequest(request.id)) { try f.approve(request.id, by: People.mallory) }
    }

    @Test func whoMaySeeARequestIsItsRequesterItsApproversAndAdmins() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        let seeing = FakeAccounts.everyone.filter { Workflow.mayView(request, $0, f.policy) }.map(\.name)
        #expect(seeing.sorted() == ["ada", "alice", "bob", "carol", "dave", "root"])
    }

    // MARK: Cancel

    @Test func theRequesterMayCancelTheirRequest() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        try f.cancel(request.id, by: People.alice)
        let stored = try f.request(request.id)
        #expect(stored.status == .cancelled)
        #expect(stored.decidedBy == "alice")
        let record = try #require(try f.records("request.cancelled").first)
        #expect(record.actor == "alice")
        #expect(
            record.fields == [
                "request": .int(request.id), "requester": .string("alice"), "run_as": .string("root"),
                "host": .string("web1"), "rule": .string("restarts"), "scope": .string("command"),
                "command": .array(Argv.restartNginx.map(\.jsonValue)),
            ])
    }

    @Test func anAdminMayCancelSomeoneElsesRequest() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        try f.cancel(request.id, by: People.ada)
        #expect(try f.request(request.id).status == .cancelled)
        #expect(try f.records("request.cancelled").map(\.actor) == ["ada"])
    }

    @Test func anApproverCannotCancelSomeoneElsesRequest() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        #expect(
            throws: JitError.notPermitted("only the requester or an admin may cancel request #\(request.id)")
        ) {
            try f.cancel(request.id, by: People.bob)
        }
        #expect(try f.request(request.id).status == .pending)
    }

    @Test func someoneWhoMayNotSeeARequestCannotCancelIt() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        #expect(throws: Self.noRequest(request.id)) { try f.cancel(request.id, by: People.mallory) }
        #expect(try f.records("request.cancelled").isEmpty)
    }

    @Test func aCancelledRequestCannotBeCancelledAgain() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        try f.cancel(request.id, by: People.alice)
        #expect(throws: JitError.notPermitted("request #\(request.id) is already cancelled; nothing to do")) {
            try f.cancel(request.id, by: People.alice)
        }
        #expect(try f.records("request.cancelled").count == 1)
    }

    // MARK: Revoke

    @Test func theGranteeMayRevokeTheirGrant() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts")))
        f.clock.advance(minutes: 4)
        let revokedAt = f.clock.now
        let revoked = try f.revoke(grant.id, by: People.alice, comment: "done")
        #expect(revoked.id == grant.id)
        let stored = try f.storedGrant(grant.id)
        #expect(stored.revokedAt == revokedAt)
        #expect(stored.revokedBy == "alice")
        let record = try #require(try f.records("grant.revoked").first)
        #expect(record.actor == "alice")
        #expect(
            record.fields == [
                "grant": .int(grant.id), "user": .string("alice"), "rule": .string("restarts"),
                "comment": .string("done"), "run_as": .string("root"), "host": .string("web1"),
                "scope": .string("command"), "command": .array(Argv.restartNginx.map(\.jsonValue)),
                "request": .int(try #require(grant.requestID)), "expires_at": .string(grant.expiresAt.rfc3339),
            ])
    }

    @Test func anApproverOfTheRuleMayRevokeAGrant() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts")), by: [People.bob])
        try f.revoke(grant.id, by: People.dave)
        #expect(try f.storedGrant(grant.id).revokedBy == "dave")
    }

    @Test func anAdminMayRevokeAnyGrant() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts")))
        try f.revoke(grant.id, by: People.ada)
        #expect(try f.storedGrant(grant.id).revokedBy == "ada")
    }

    @Test func someoneElseSeesNoSuchGrantAsForAMissingId() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts")))
        #expect(throws: Self.noGrant(grant.id)) { try f.revoke(grant.id, by: People.mallory) }
        #expect(throws: Self.noGrant(grant.id)) { try f.revoke(grant.id, by: People.erin) }
        #expect(throws: Self.noGrant(999)) { try f.revoke(999, by: People.mallory) }
        #expect(try f.storedGrant(grant.id).revokedAt == nil)
        #expect(try f.records("grant.revoked").isEmpty)
    }

    @Test func revokingTwiceIsRefused() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts")))
        try f.revoke(grant.id, by: People.alice)
        f.clock.advance(minutes: 1)
        #expect(throws: JitError.notPermitted("grant #\(grant.id) is already revoked")) {
            try f.revoke(grant.id, by: People.ada)
        }
        #expect(try f.storedGrant(grant.id).revokedBy == "alice")
        #expect(try f.records("grant.revoked").count == 1)
    }

    @Test func revokingAGrantEndsItsUsesAndLeavesItsRequestApproved() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        let grant = try f.grant(request)
        try f.revoke(grant.id, by: People.bob)
        #expect(try f.request(request.id).status == .approved)
        #expect(try f.use(try f.claim("restarts")) == nil)
    }
}
