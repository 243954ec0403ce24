import JitexecBase
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// Filing: what a request records, when the caller's pending request is reused instead, how many
/// one person may have open, and the reason rules of a rule.
@Suite struct WorkflowFilingTests {
    @Test func aRequestRecordsWhoAsksForWhatWhereAndWhy() throws {
        let f = try WorkflowFixture()
        let filedAt = f.clock.now
        let request = try f.file(
            f.ask(
                "restarts", reason: "nginx wedged", ticket: "INC-42", cwd: "/srv/app", tty: "pts/3",
                length: .minutes(30)))
        let stored = try f.request(request.id)
        #expect(stored == request)
        #expect(stored.kind == .command)
        #expect(stored.status == .pending)
        #expect(stored.requester == "alice")
        #expect(stored.requesterUID == 1001)
        #expect(stored.rule == "restarts")
        #expect(stored.runAs == "root")
        #expect(stored.host == "web1")
        #expect(stored.command == Argv.restartNginx)
        #expect(stored.reason == "nginx wedged")
        #expect(stored.ticket == "INC-42")
        #expect(stored.cwd == "/srv/app")
        #expect(stored.tty == "pts/3")
        #expect(stored.scope == .command)
        #expect(stored.once == false)
        #expect(stored.requestedSeconds == Time.minutes(30).wholeSeconds)
        #expect(stored.approvalsNeeded == 1)
        #expect(stored.createdAt == filedAt)
        #expect(stored.decidedAt == nil && stored.decidedBy == nil)
    }

    @Test func aPendingRequestLastsTheRequestTTL() throws {
        let f = try WorkflowFixture()
        let filedAt = f.clock.now
        let request = try f.file(f.ask("restarts"))
        #expect(request.expiresAt == filedAt + .hours(1))
    }

    @Test func filingWritesARequestFiledRecordWithWhatWasAsked() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts", ticket: "INC-42", length: .minutes(30)))
        let records = try f.records("request.filed")
        #expect(records.count == 1)
        let record = try #require(records.first)
        #expect(record.actor == "alice")
        #expect(
            record.fields == [
                "request": .int(request.id), "rule": .string("restarts"), "run_as": .string("root"),
                "host": .string("web1"), "command": .array(Argv.restartNginx.map(\.jsonValue)),
                "reason": .string("INC-7 nginx wedged"), "scope": .string("command"), "once": .bool(false),
                "approvals_needed": .int(1), "expires_at": recordedInstant(request.expiresAt),
                "ticket": .string("INC-42"), "cwd": .string("/srv/app"), "tty": .string("pts/3"),
                "requested_seconds": .int(Time.minutes(30).wholeSeconds),
            ])
    }

    @Test func aRuleOfTwoApprovalsFilesARequestNeedingTwo() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots"))
        #expect(request.approvalsNeeded == 2)
        #expect(try f.records("request.filed").first?.fields["approvals_needed"] == .int(2))
    }

    @Test func aRuleWithOnceMakesEveryRequestSingleUse() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("migrations", once: false))
        #expect(request.once)
    }

    // MARK: Reuse

    @Test func anIdenticalPendingRequestIsReused() throws {
        let f = try WorkflowFixture()
        let (first, firstReused) = try f.fileOrReuse(f.ask("restarts", ticket: "INC-7", length: .minutes(20)))
        f.clock.advance(minutes: 5)
        // The same values again, or none given (an empty reason, no ticket, no length), from another terminal.
        let (second, secondReused) = try f.fileOrReuse(f.ask("restarts", ticket: "INC-7", tty: "pts/9"))
        let (third, thirdReused) = try f.fileOrReuse(f.ask("restarts", reason: ""))
        #expect(!firstReused)
        #expect(secondReused && thirdReused)
        #expect(second == first && third == first)
        #expect(try f.requests().count == 1)
        #expect(try f.records("request.filed").count == 1)
    }

    @Test(
        arguments: [
            (reason: "still wedged", ticket: nil, minutes: nil, once: false, differing: ["reason"]),
            (reason: "", ticket: "INC-8", minutes: nil, once: false, differing: ["ticket"]),
            (reason: "", ticket: nil, minutes: 30, once: false, differing: ["length"]),
            (reason: "again", ticket: nil, minutes: nil, once: true, differing: ["reason", "--once"]),
        ] as [(reason: String, ticket: String?, minutes: Int64?, once: Bool, differing: [String])])
    func anotherReasonTicketLengthOrOnceFilesANewRequestBesideTheOpenOne(
        _ new: (reason: String, ticket: String?, minutes: Int64?, once: Bool, differing: [String])
    ) throws {
        let f = try WorkflowFixture()
        let first = try f.file(f.ask("restarts", ticket: "INC-7", length: .minutes(20)))
        let filing = try f.filing(
            f.ask(
                "restarts", reason: UserText(new.reason), ticket: new.ticket.map { UserText($0) },
                once: new.once, length: new.minutes.map { .minutes($0) }))
        #expect(!filing.reused)
        #expect(filing.request.id != first.id)
        #expect(filing.beside?.id == first.id)
        #expect(filing.beside?.differing == new.differing)
        #expect(try f.requests().filter { $0.status == .pending }.count == 2)
    }

    @Test func theNoticeNamesWhatDiffersAndHowToWithdrawTheOpenRequest() {
        #expect(
            Workflow.besideNotice((id: 42, differing: ["reason", "ticket", "length"]))
                == "beside your open request #42, which has another reason, another ticket and another length (it stays open; 'jitctl cancel 42' withdraws it)"
        )
        #expect(
            Workflow.besideNotice((id: 7, differing: ["--once"]))
                == "beside your open request #7, which has no --once (it stays open; 'jitctl cancel 7' withdraws it)")
    }

    @Test func aRequestForOtherArgumentsIsANewRequest() throws {
        let f = try WorkflowFixture()
        let first = try f.file(f.ask("restarts", command: Argv.restartNginx))
        let (second, reused) = try f.fileOrReuse(f.ask("restarts", command: Argv.restartPostgres))
        #expect(!reused)
        #expect(second.id != first.id)
        #expect(try f.records("request.filed").count == 2)
    }

    @Test func aRequestFromAnotherDirectoryIsANewRequest() throws {
        let f = try WorkflowFixture()
        let first = try f.file(f.ask("restarts", cwd: "/srv/app"))
        let (second, reused) = try f.fileOrReuse(f.ask("restarts", cwd: "/tmp"))
        #expect(!reused)
        #expect(second.id != first.id)
        #expect(second.cwd == "/tmp")
    }

    @Test func aRequestToRunAsAnotherTargetIsANewRequest() throws {
        let f = try WorkflowFixture()
        let first = try f.file(f.ask("restarts", runAs: "root"))
        let (second, reused) = try f.fileOrReuse(f.ask("restarts", runAs: "postgres"))
        #expect(!reused)
        #expect(second.id != first.id)
    }

    @Test func aRequestForAnotherHostIsANewRequest() throws {
        let f = try WorkflowFixture()
        let first = try f.file(f.ask("restarts", host: "web1"))
        let (second, reused) = try f.fileOrReuse(f.ask("restarts", host: "web2"))
        #expect(!reused)
        #expect(second.id != first.id)
    }

    @Test func aOnceRequestDoesNotReuseAnUnlimitedOne() throws {
        let f = try WorkflowFixture()
        let first = try f.file(f.ask("restarts", once: false))
        let (second, reused) = try f.fileOrReuse(f.ask("restarts", once: true))
        #expect(!reused)
        #expect(second.id != first.id)
        #expect(second.once)
    }

    @Test func aRuleScopeRequestIsReusedFromAnyDirectory() throws {
        let f = try WorkflowFixture()
        let first = try f.file(f.ask("deploys", cwd: "/srv/app"))
        let (second, reused) = try f.fileOrReuse(f.ask("deploys", cwd: "/home/alice"))
        #expect(reused)
        #expect(second.id == first.id)
        #expect(second.scope == .rule)
    }

    @Test func anotherPersonsIdenticalRequestIsNotReused() throws {
        let f = try WorkflowFixture()
        let alices = try f.file(f.ask("restarts", by: People.alice))
        let (carols, reused) = try f.fileOrReuse(f.ask("restarts", by: People.carol))
        #expect(!reused)
        #expect(carols.id != alices.id)
        #expect(carols.requester == "carol")
    }

    @Test func aDecidedRequestIsNotReused() throws {
        let f = try WorkflowFixture()
        let denied = try f.file(f.ask("restarts"))
        try f.deny(denied.id, by: People.bob)
        let (again, reused) = try f.fileOrReuse(f.ask("restarts"))
        #expect(!reused)
        #expect(again.id != denied.id)
        #expect(again.status == .pending)
    }

    // MARK: How many

    @Test func theEleventhPendingRequestOfOnePersonIsRefusedNamingJitctlCancel() throws {
        let f = try WorkflowFixture()
        for n in 0..<Workflow.maxPendingPerUser {
            try f.file(f.ask("restarts", command: Argv.restart("unit\(n)")))
        }
        #expect(
            throws: JitError.notPermitted(
                "you already have 10 pending requests, the most one person may have open (10); withdraw one with 'jitctl cancel ID' ('jitctl requests' lists them)"
            )
        ) {
            try f.file(f.ask("restarts", command: Argv.restart("one-more")))
        }
        #expect(try f.requests().count == Workflow.maxPendingPerUser)
    }

    @Test func atTheLimitAnIdenticalRequestIsStillReused() throws {
        let f = try WorkflowFixture()
        for n in 0..<Workflow.maxPendingPerUser {
            try f.file(f.ask("restarts", command: Argv.restart("unit\(n)")))
        }
        let (request, reused) = try f.fileOrReuse(f.ask("restarts", command: Argv.restart("unit3")))
        #expect(reused)
        #expect(request.command == Argv.restart("unit3"))
    }

    @Test func theLimitOfPendingRequestsIsPerPerson() throws {
        let f = try WorkflowFixture()
        for n in 0..<Workflow.maxPendingPerUser {
            try f.file(f.ask("restarts", command: Argv.restart("unit\(n)")))
        }
        let (carols, reused) = try f.fileOrReuse(f.ask("restarts", by: People.carol))
        #expect(!reused)
        #expect(carols.requester == "carol")
    }

    @Test func cancellingOneMakesRoomForAnother() throws {
        let f = try WorkflowFixture()
        var last: Request?
        for n in 0..<Workflow.maxPendingPerUser {
            last = try f.file(f.ask("restarts", command: Argv.restart("unit\(n)")))
        }
        try f.cancel(try #require(last).id, by: People.alice)
        let (request, reused) = try f.fileOrReuse(f.ask("restarts", command: Argv.restartPostgres))
        #expect(!reused)
        #expect(request.status == .pending)
    }

    // MARK: Reasons

    @Test func aRuleRequiringAReasonRefusesARequestWithout() throws {
        let f = try WorkflowFixture()
        #expect(throws: JitError.usage("rule 'firewall' requires a reason: pass -r REASON")) {
            try Workflow.checkReason(try f.rule("firewall"), reason: nil, ticket: "INC-1")
        }
    }

    @Test func aBlankReasonCountsAsNone() throws {
        let f = try WorkflowFixture()
        for blank: UserText in ["", "   "] {
            #expect(throws: JitError.usage("rule 'firewall' requires a reason: pass -r REASON")) {
                try Workflow.checkReason(try f.rule("firewall"), reason: blank, ticket: "INC-1")
            }
        }
    }

    @Test func aReasonMatchingTheReasonPatternIsAccepted() throws {
        let f = try WorkflowFixture()
        try Workflow.checkReason(try f.rule("firewall"), reason: "INC-1234 flush the bad rule", ticket: nil)
    }

    @Test func aTicketMatchingTheReasonPatternIsEnoughWhenTheReasonDoesNot() throws {
        let f = try WorkflowFixture()
        try Workflow.checkReason(try f.rule("firewall"), reason: "flush the bad rule", ticket: "CHG-77")
    }

    @Test func aReasonAndTicketMatchingNeitherAreRefusedNamingThePattern() throws {
        let f = try WorkflowFixture()
        let expected = JitError.usage("rule 'firewall' needs a reason or ticket (-T) matching ^(INC|CHG)-[0-9]+")
        #expect(throws: expected) {
            try Workflow.checkReason(try f.rule("firewall"), reason: "flush the bad rule", ticket: "JIRA-1")
        }
        #expect(throws: expected) {
            try Workflow.checkReason(try f.rule("firewall"), reason: "flush the bad rule", ticket: nil)
        }
    }

    @Test func aRuleWithoutReasonRulesTakesAnyReasonOrNone() throws {
        let f = try WorkflowFixture()
        try Workflow.checkReason(try f.rule("restarts"), reason: nil, ticket: nil)
        try Workflow.checkReason(try f.rule("restarts"), reason: "", ticket: nil)
    }
}
