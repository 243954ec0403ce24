import JitexecBase
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// Approving: only current approvers of the request's rule, never the requester, each person once;
/// the N-th distinct approval approves the request and creates its grant.
@Suite struct WorkflowApprovalTests {
    /// `restarts` as the standard policy has it, but approved by erin only.
    static let restartsApprovedByErin =
        Policies.settings + """
            [[rule]]
            name = "restarts"
            users = ["alice", "carol"]
            commands = ["/usr/bin/systemctl restart *"]
            action = "approve"
            approvers = ["erin"]
            """

    /// `reboots` as the standard policy has it, but without bob among its approvers.
    static let rebootsWithoutBob =
        Policies.settings + """
            [[rule]]
            name = "reboots"
            users = ["alice"]
            commands = ["/usr/sbin/reboot"]
            action = "approve"
            approvers = ["%sre-leads"]
            approvals = 2
            """

    // MARK: Who may approve

    @Test func aRequesterCannotApproveTheirOwnRequest() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts", by: People.carol))
        #expect(try f.rule("restarts").approvers.contains(.group("sre-leads")))
        #expect(
            throws: JitError.notPermitted(
                "you cannot approve your own request #\(request.id); ask one of its approvers")
        ) {
            try f.approve(request.id, by: People.carol)
        }
        #expect(try f.request(request.id).status == .pending)
    }

    @Test func aRefusedApprovalLeavesNoApprovalAndNoRecord() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts", by: People.carol))
        _ = refusal { try f.approve(request.id, by: People.carol) }
        #expect(try f.approvals(of: request.id).isEmpty)
        #expect(try f.events() == ["request.filed"])
    }

    @Test func someoneWhoIsNeitherApproverNorAdminSeesNoRequestToApprove() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        #expect(
            throws: JitError.notPermitted(
                "there is no request #\(request.id) that you can see; run 'jitctl requests --all'")
        ) {
            try f.approve(request.id, by: People.mallory)
        }
        #expect(try f.approvals(of: request.id).isEmpty)
    }

    @Test func anAdminWhoIsNotAnApproverCannotApprove() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        #expect(
            throws: JitError.notPermitted("you are not an approver of rule 'restarts' (approvers: %sre-leads, bob)")
        ) {
            try f.approve(request.id, by: People.ada)
        }
        #expect(try f.request(request.id).status == .pending)
    }

    @Test func anApproverNamedByUserNameMayApprove() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        guard case .granted(let grant) = try f.approve(request.id, by: People.bob) else {
            Issue.record("bob's approval did not grant request #\(request.id)")
            return
        }
        #expect(grant.requestID == request.id)
        #expect(try f.request(request.id).status == .approved)
    }

    @Test func anApproverThroughAGroupMayApprove() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        #expect(!(try f.rule("restarts").approvers.contains(.user("carol"))))
        guard case .granted = try f.approve(request.id, by: People.carol) else {
            Issue.record("carol's approval (through %sre-leads) did not grant request #\(request.id)")
            return
        }
        #expect(try f.request(request.id).decidedBy == "carol")
    }

    @Test func anApproverAddedAfterFilingMayApprove() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.policy = try Policies.load(Self.restartsApprovedByErin)
        guard case .granted = try f.approve(request.id, by: People.erin) else {
            Issue.record("erin, an approver now, did not grant request #\(request.id)")
            return
        }
        #expect(try f.request(request.id).status == .approved)
    }

    @Test func anApproverRemovedAfterFilingCanNoLongerApprove() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.policy = try Policies.load(Self.restartsApprovedByErin)
        #expect(
            throws: JitError.notPermitted(
                "there is no request #\(request.id) that you can see; run 'jitctl requests --all'")
        ) {
            try f.approve(request.id, by: People.bob)
        }
        #expect(try f.request(request.id).status == .pending)
    }

    @Test func anApprovalFromSomeoneNoLongerAnApproverNoLongerCounts() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots"))
        #expect(try f.approve(request.id, by: People.bob) == .recorded(count: 1, needed: 2))
        f.policy = try Policies.load(Self.rebootsWithoutBob)
        // Two distinct current approvers must agree: bob's approval is no longer one of them.
        #expect(try f.approve(request.id, by: People.carol) == .recorded(count: 1, needed: 2))
        #expect(try f.request(request.id).status == .pending)
        #expect(try f.grants().isEmpty)
    }

    // MARK: Counting

    @Test func theSamePersonApprovingTwiceCountsOnce() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots"))
        #expect(try f.approve(request.id, by: People.bob) == .recorded(count: 1, needed: 2))
        #expect(
            throws: JitError.notPermitted(
                "you already approved request #\(request.id); it needs another approver")
        ) {
            try f.approve(request.id, by: People.bob)
        }
        #expect(try f.approvals(of: request.id).map(\.by) == ["bob"])
        #expect(try f.records("approval.added").count == 1)
        #expect(try f.request(request.id).status == .pending)
    }

    @Test func aTwoApprovalRuleIsRecordedAtTheFirstApprovalAndGrantedAtTheSecond() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots"))
        #expect(try f.approve(request.id, by: People.bob) == .recorded(count: 1, needed: 2))
        #expect(try f.request(request.id).status == .pending)
        #expect(try f.grants().isEmpty)
        guard case .granted(let grant) = try f.approve(request.id, by: People.carol) else {
            Issue.record("the second distinct approval did not grant request #\(request.id)")
            return
        }
        #expect(try f.request(request.id).status == .approved)
        #expect(try f.grants() == [grant])
        #expect(try f.approvals(of: request.id).map(\.by) == ["bob", "carol"])
    }

    @Test func aSingleApprovalGrantsARuleOfOne() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        let outcome = try f.approve(request.id, by: People.bob)
        guard case .granted(let grant) = outcome else {
            Issue.record("expected a grant, got \(outcome)")
            return
        }
        #expect(try f.grants() == [grant])
    }

    // MARK: What it leaves

    @Test func everyApprovalIsAuditedWithItsCountCommentAndCap() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots"))
        try f.approve(request.id, by: People.bob, maxLength: .minutes(20), comment: "ok for the patch")
        try f.approve(request.id, by: People.dave)
        let records = try f.records("approval.added")
        #expect(records.map(\.actor) == ["bob", "dave"])
        #expect(
            records.first?.fields == [
                "request": .int(request.id), "count": .int(1), "needed": .int(2),
                "comment": .string("ok for the patch"), "max_seconds": .int(Time.minutes(20).wholeSeconds),
            ])
        #expect(records.last?.fields == ["request": .int(request.id), "count": .int(2), "needed": .int(2)])
    }

    @Test func theDecidingApprovalAuditsRequestApprovedAndGrantCreated() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots"))
        try f.approve(request.id, by: People.bob)
        let grant = try f.grant(request, by: [People.carol])
        #expect(
            try f.events() == [
                "request.filed", "approval.added", "approval.added", "request.approved", "grant.created",
            ])
        let approved = try #require(try f.records("request.approved").first)
        #expect(approved.actor == "carol")
        #expect(
            approved.fields == [
                "request": .int(request.id), "grant": .int(grant.id),
                "approvers": .array([.string("bob"), .string("carol")]), "requester": .string("alice"),
                "run_as": .string("root"), "host": .string("web1"), "rule": .string("reboots"),
                "scope": .string("command"), "command": .array([.string("/usr/sbin/reboot")]),
                "expires_at": .string(grant.expiresAt.rfc3339),
            ])
        let created = try #require(try f.records("grant.created").first)
        #expect(created.actor == "carol")
        #expect(
            created.fields == [
                "grant": .int(grant.id), "request": .int(request.id), "user": .string("alice"),
                "run_as": .string("root"), "host": .string("web1"), "rule": .string("reboots"),
                "scope": .string("command"), "expires_at": recordedInstant(grant.expiresAt),
                "source": .string("approval"), "command": .array(Argv.reboot.map(\.jsonValue)),
            ])
    }

    @Test func theApprovedRequestRecordsWhoDecidedWhenAndWhy() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.clock.advance(minutes: 3)
        let decidedAt = f.clock.now
        try f.approve(request.id, by: People.bob, comment: "go ahead")
        let stored = try f.request(request.id)
        #expect(stored.status == .approved)
        #expect(stored.decidedBy == "bob")
        #expect(stored.decidedAt == decidedAt)
        #expect(stored.comment == "go ahead")
    }

    @Test func theGrantIsTheRequestersForTheTargetHostAndArgvAsked() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts", command: Argv.restartPostgres, runAs: "postgres", host: "db1"))
        let grant = try f.grant(request)
        #expect(try f.storedGrant(grant.id) == grant)
        #expect(grant.requestID == request.id)
        #expect(grant.user == "alice")
        #expect(grant.runAs == "postgres")
        #expect(grant.host == "db1")
        #expect(grant.rule == "restarts")
        #expect(grant.scope == .command)
        #expect(grant.command == Argv.restartPostgres)
        #expect(grant.source == .approval)
        #expect(grant.usesLeft == nil)
        #expect(grant.revokedAt == nil)
    }

    @Test func aRuleScopeGrantCarriesNoArgv() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("deploys")))
        #expect(grant.scope == .rule)
        #expect(grant.command == nil)
    }

    @Test func aOnceRequestMakesAGrantOfOneUse() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts", once: true)))
        #expect(grant.usesLeft == 1)
        #expect(try f.records("grant.created").first?.fields["uses"] == .int(1))
    }

    // MARK: What cannot be approved

    @Test func aRequestWhoseRuleLeftThePolicyCannotBeApproved() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.policy = try Policies.load(Self.rebootsWithoutBob)
        #expect(
            throws: JitError.notPermitted(
                "request #\(request.id) names rule 'restarts', which the policy no longer has; it cannot be approved")
        ) {
            try f.approve(request.id, by: People.ada)
        }
        #expect(
            throws: JitError.notPermitted(
                "there is no request #\(request.id) that you can see; run 'jitctl requests --all'")
        ) {
            try f.approve(request.id, by: People.bob)
        }
        #expect(try f.grants().isEmpty)
    }

    @Test func anApprovedRequestCannotBeApprovedAgain() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        try f.approve(request.id, by: People.bob)
        #expect(throws: JitError.notPermitted("request #\(request.id) is already approved; nothing to do")) {
            try f.approve(request.id, by: People.carol)
        }
        #expect(try f.grants().count == 1)
    }

    @Test func aDeniedRequestCannotBeApproved() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        try f.deny(request.id, by: People.carol)
        #expect(throws: JitError.notPermitted("request #\(request.id) is already denied; nothing to do")) {
            try f.approve(request.id, by: People.bob)
        }
        #expect(try f.grants().isEmpty)
    }

    @Test func aCancelledRequestCannotBeApproved() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        try f.cancel(request.id, by: People.alice)
        #expect(throws: JitError.notPermitted("request #\(request.id) is already cancelled; nothing to do")) {
            try f.approve(request.id, by: People.bob)
        }
        #expect(try f.grants().isEmpty)
    }
}
