import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// Automations (`[[automation]]`): how an answer is read, and what each verdict leaves in the store.
@Suite struct AutomationAnswerTests {
    func parse(_ text: String) -> Result<AutomationVerdict, AutomationProgram.Problem> {
        AutomationProgram.parse(Array(text.utf8))
    }

    @Test func anApprovalWithCommentAndDuration() throws {
        let verdict = try parse(#"  {"decision": "approve", "comment": "CHG-42 approved", "duration": "30m"}"# + "\n")
            .get()
        #expect(
            verdict == AutomationVerdict(decision: .approve, comment: "CHG-42 approved", maxSeconds: 1800, problem: nil)
        )
    }

    @Test func denyAndAbstainWithoutComment() throws {
        #expect(try parse(#"{"decision":"deny"}"#).get().decision == .deny)
        #expect(try parse(#"{"decision":"abstain","comment":null}"#).get() == AutomationVerdict(decision: .abstain))
    }

    static let invalid: [(String, String)] = [
        ("", "printed nothing"),
        ("  \n", "printed nothing"),
        ("approve", "printed no valid answer"),
        (#"{"decision": "approve"}{"decision": "approve"}"#, "unexpected text after the JSON value"),
        (#"{"decision": "approve"} trailing"#, "unexpected text after the JSON value"),
        (#"[{"decision": "approve"}]"#, "not a JSON object"),
        (#"{"decision": "yes"}"#, "'decision' must be \"approve\", \"deny\" or \"abstain\""),
        (#"{"decision": true}"#, "'decision' must be a string"),
        (#"{"comment": "no decision"}"#, "'decision' must be a string"),
        (#"{"decision": "approve", "grant": "4h"}"#, "unknown key 'grant'"),
        (#"{"decision": "approve", "decision": "deny"}"#, "printed no valid answer"),
        (#"{"decision": "deny", "duration": "5m"}"#, "'duration' goes with \"approve\" only"),
        (#"{"decision": "approve", "duration": "soon"}"#, "'duration' must be a duration"),
        (#"{"decision": "approve", "duration": "0"}"#, "'duration' must be a duration"),
        (#"{"decision": "approve", "duration": 60}"#, "'duration' must be a string"),
        (#"{"decision": "approve", "comment": 7}"#, "'comment' must be a string"),
    ]

    @Test(arguments: invalid)
    func anythingElseIsNoAnswer(_ row: (String, String)) {
        switch parse(row.0) {
        case .success(let verdict): Issue.record("accepted \(row.0) as \(verdict)")
        case .failure(let problem): #expect(problem.message.contains(row.1), "\(problem.message)")
        }
    }

    @Test func aLongCommentIsNoAnswer() {
        let long = String(repeating: "x", count: AutomationProgram.maxComment + 1)
        guard case .failure(let problem) = parse(#"{"decision": "approve", "comment": "\#(long)"}"#) else {
            Issue.record("a comment over the limit was accepted")
            return
        }
        #expect(problem.message.contains("longer than 1000 bytes"))
    }

    @Test func theEnvironmentIsTheDocumentedListAndLeavesOutWhatCannotPass() {
        let automation = Automation(name: "robot", command: ["/usr/bin/true"])
        var request = Request(
            kind: .command, requester: "alice", requesterUID: 1001, runAs: "root", host: "web1",
            command: ["/usr/bin/true"], rule: "deploy", reason: UserText(bytes: [0x61, 0x00, 0x62]),
            ticket: "CHG-1", cwd: nil, tty: nil, scope: .command, once: false, requestedSeconds: nil,
            approvalsNeeded: 1, createdAt: Instant(micros: 0), expiresAt: Instant(micros: 1))
        request.id = 9
        let env = AutomationProgram.environment(automation, request: request).map(\.escaped)
        #expect(
            env == [
                "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/", "JITEXEC_AUTOMATION=robot", "JITEXEC_REQUEST=9",
                "JITEXEC_REQUESTER=alice", "JITEXEC_RULE=deploy", "JITEXEC_TICKET=CHG-1",
            ])
    }
}

/// What each verdict does to a request, with the same rules as a person's approval.
@Suite struct AutomationVerdictTests {
    static let policy = policy(deployApprovers: #"["%sre-leads", "@robot"]"#)

    static func policy(deployApprovers: String) -> String {
        Policies.settings + """
            [[automation]]
            name = "robot"
            command = ["/usr/bin/true"]

            [[automation]]
            name = "other"
            command = ["/usr/bin/true"]

            [[rule]]
            name = "restarts"
            users = ["alice"]
            commands = ["/usr/bin/systemctl restart *"]
            action = "approve"
            approvers = ["@robot"]

            [[rule]]
            name = "deploys"
            users = ["alice"]
            commands = ["/usr/local/bin/deploy **"]
            action = "approve"
            approvers = \(deployApprovers)
            approvals = 2
            """
    }

    func record(
        _ f: WorkflowFixture, _ id: Int64, _ verdict: AutomationVerdict, by name: String = "robot", run: Int = 1
    ) throws -> Bool {
        let (policy, now) = (f.policy, f.clock.now)
        let automation = try #require(policy.automation(named: name))
        return try f.store.write {
            try Workflow.recordAutomationRun(
                $0, requestID: id, automation: automation, run: run, verdict: verdict, policy: policy,
                system: FakeAccounts(), now: now)
        }
    }

    static let approve = AutomationVerdict(decision: .approve, comment: "ticket ok", maxSeconds: 600)

    @Test func anApprovalAloneGrantsWhenTheProgramIsTheOnlyApprover() throws {
        let f = try WorkflowFixture(Self.policy)
        let request = try f.file(f.ask("restarts"))
        #expect(try record(f, request.id, Self.approve))
        #expect(try f.request(request.id).status == .approved)
        #expect(try f.request(request.id).decidedBy == "@robot")
        #expect(try f.approvals(of: request.id).map(\.by) == ["@robot"])
        #expect(
            try f.events() == [
                "request.filed", "automation.run", "approval.added", "request.approved", "grant.created",
            ])
        let run = try #require(try f.records("automation.run").first)
        #expect(run.actor == "@robot")
        #expect(run.fields["verdict"] == .string("approve"))
        #expect(run.fields["comment"] == .string("ticket ok"))
        // Its duration shortens the grant, like an approver's -d.
        let grant = try #require(try f.grants().first)
        #expect(grant.expiresAt == f.clock.now.adding(seconds: 600))
        #expect(try f.records("grant.created").first?.actor == "@robot")
    }

    @Test func withApprovalsTwoTheProgramAndOnePersonAreBothNeeded() throws {
        let f = try WorkflowFixture(Self.policy)
        let request = try f.file(f.ask("deploys"))
        #expect(try !record(f, request.id, Self.approve))
        #expect(try f.request(request.id).status == .pending)
        #expect(try f.records("approval.added").first?.fields["count"] == .int(1))
        // Its second approval counts nothing more: it is recorded and ignored.
        #expect(try !record(f, request.id, Self.approve, run: 2))
        let second = try #require(try f.records("automation.run").last)
        #expect(second.fields["ignored"] == .string("@robot approved request #\(request.id) before; it counts once"))
        #expect(try f.approvals(of: request.id).count == 1)
        guard case .granted = try f.approve(request.id, by: People.carol) else {
            Issue.record("a person's approval after the program's did not grant")
            return
        }
        #expect(try f.request(request.id).status == .approved)
    }

    @Test func aPersonFirstThenTheProgramAlsoGrants() throws {
        let f = try WorkflowFixture(Self.policy)
        let request = try f.file(f.ask("deploys"))
        #expect(try f.approve(request.id, by: People.dave) == .recorded(count: 1, needed: 2))
        #expect(try record(f, request.id, Self.approve))
        #expect(try f.request(request.id).status == .approved)
        #expect(
            try f.records("request.approved").first?.fields["approvers"]
                == .array([.string("dave"), .string("@robot")]))
    }

    @Test func aDenyIsFinal() throws {
        let f = try WorkflowFixture(Self.policy)
        let request = try f.file(f.ask("deploys"))
        #expect(try record(f, request.id, AutomationVerdict(decision: .deny, comment: "change freeze")))
        let denied = try f.request(request.id)
        #expect(denied.status == .denied)
        #expect(denied.decidedBy == "@robot")
        #expect(denied.comment == "change freeze")
        #expect(try f.records("request.denied").first?.actor == "@robot")
        #expect(throws: JitError.self) { try f.approve(request.id, by: People.carol) }
    }

    @Test func anAbstentionOrAFailureLeavesTheRequestToPeople() throws {
        let f = try WorkflowFixture(Self.policy)
        let request = try f.file(f.ask("restarts"))
        #expect(try !record(f, request.id, AutomationVerdict(decision: .abstain, comment: "state open")))
        #expect(try !record(f, request.id, .failed("timed out after 1s and was killed"), run: 2))
        #expect(try f.request(request.id).status == .pending)
        #expect(try f.approvals(of: request.id).isEmpty)
        let runs = try f.records("automation.run")
        #expect(runs.map { $0.fields["verdict"] } == [.string("abstain"), .string("abstain")])
        #expect(runs[1].fields["problem"] == .string("timed out after 1s and was killed"))
        #expect(runs[1].fields["run"] == .int(2))
    }

    @Test func aVerdictAfterTheRequestWasDecidedChangesNothing() throws {
        let f = try WorkflowFixture(Self.policy)
        let request = try f.file(f.ask("deploys"))
        try f.deny(request.id, by: People.carol, comment: "no")
        #expect(try record(f, request.id, Self.approve))
        #expect(try f.request(request.id).status == .denied)
        #expect(try f.approvals(of: request.id).isEmpty)
        #expect(
            try f.records("automation.run").first?.fields["ignored"]
                == .string("request #\(request.id) is already denied"))
    }

    @Test func anAutomationTheRuleDoesNotNameDecidesNothing() throws {
        let f = try WorkflowFixture(Self.policy)
        let request = try f.file(f.ask("restarts"))
        #expect(try !record(f, request.id, Self.approve, by: "other"))
        #expect(try !record(f, request.id, AutomationVerdict(decision: .deny), by: "other"))
        #expect(try f.request(request.id).status == .pending)
        #expect(try f.approvals(of: request.id).isEmpty)
        #expect(
            try f.records("automation.run").map { $0.fields["ignored"] }
                == Array(
                    repeating: .string("rule 'restarts' no longer names @other among its approvers"), count: 2))
    }

    @Test func anApprovalStopsCountingWhenTheRuleNoLongerNamesTheProgram() throws {
        let f = try WorkflowFixture(Self.policy)
        let request = try f.file(f.ask("deploys"))
        #expect(try !record(f, request.id, Self.approve))
        f.policy = try Policies.load(Self.policy(deployApprovers: #"["%sre-leads"]"#))
        #expect(try f.approve(request.id, by: People.carol) == .recorded(count: 1, needed: 2))
    }

    @Test func anAccountNamedLikeAnAutomationCannotApprove() throws {
        let f = try WorkflowFixture(Self.policy)
        let request = try f.file(f.ask("deploys"))
        let impostor = People.person("@robot", 1099, ["sre-leads"])
        #expect(
            throws: JitError.notPermitted(
                "account names starting with '@' are reserved for automations and cannot approve; ask another approver")
        ) {
            try f.approve(request.id, by: impostor)
        }
        #expect(try f.approvals(of: request.id).isEmpty)
    }
}
