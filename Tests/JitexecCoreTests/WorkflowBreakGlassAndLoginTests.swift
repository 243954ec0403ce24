import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// Break-glass grants (no approver, short, loud, reviewed afterwards) and login requests and grants.
@Suite struct WorkflowBreakGlassAndLoginTests {
    /// A policy with one break-glass rule whose caps the test sets.
    static func breakGlassPolicy(settings: String = "", rule: String = "") -> String {
        """
        [settings]
        admins = ["%jit-admins"]
        \(settings)

        [oncall]
        group = "oncall"

        [[rule]]
        name = "firewall"
        users = ["oscar"]
        commands = ["/usr/sbin/iptables **"]
        action = "approve"
        approvers = ["%sre-leads"]
        break_glass = true
        \(rule)
        """
    }

    static func breakGlass(
        _ f: WorkflowFixture, by user: Account = People.oscar, length: Time? = nil, cwd: UserText? = "/root"
    ) throws -> Grant {
        let ask = Workflow.BreakGlassAsk(
            user: user, runAs: "root", host: f.host, rule: try f.rule("firewall"), command: Argv.flushFirewall,
            reason: "INC-9 blocked everything", ticket: "INC-9", cwd: cwd, tty: "pts/1",
            requestedSeconds: length?.wholeSeconds, via: "group oncall")
        let (policy, now) = (f.policy, f.clock.now)
        return try f.store.write { try Workflow.breakGlass($0, ask, policy: policy, now: now) }
    }

    static func review(_ f: WorkflowFixture, _ grantID: Int64, by reviewer: Account) throws {
        let (policy, now) = (f.policy, f.clock.now)
        try f.store.write {
            try Workflow.reviewBreakGlass(
                $0, grantID: grantID, verdict: .ok, reviewer: reviewer, comment: "fine", policy: policy, now: now)
        }
    }

    // MARK: How long

    @Test func breakGlassLastsItsRulesBreakGlassMax() throws {
        let f = try WorkflowFixture(Self.breakGlassPolicy(rule: #"break_glass_max = "20m""#))
        #expect(Workflow.breakGlassLimit(try f.rule("firewall"), f.policy) == Time.minutes(20).wholeSeconds)
        #expect(try Self.breakGlass(f).length == .minutes(20))
    }

    @Test func breakGlassWithoutItsOwnMaxLastsTheDefaultGrant() throws {
        let f = try WorkflowFixture(Self.breakGlassPolicy(settings: #"default_grant = "25m""#))
        #expect(try Self.breakGlass(f).length == .minutes(25))
    }

    @Test func breakGlassNeverOutlastsTheSettingsMaxGrant() throws {
        let f = try WorkflowFixture(
            Self.breakGlassPolicy(settings: #"max_grant = "1h""#, rule: #"break_glass_max = "2h""#))
        #expect(try Self.breakGlass(f).length == .hours(1))
    }

    @Test func breakGlassNeverOutlastsTheRulesMaxGrant() throws {
        let f = try WorkflowFixture(Self.breakGlassPolicy(rule: "break_glass_max = \"2h\"\nmax_grant = \"45m\""))
        #expect(try Self.breakGlass(f).length == .minutes(45))
    }

    @Test func breakGlassHonoursAShorterLengthAndCapsALongerOne() throws {
        let f = try WorkflowFixture(Self.breakGlassPolicy(rule: #"break_glass_max = "20m""#))
        #expect(try Self.breakGlass(f, length: .minutes(5)).length == .minutes(5))
        #expect(try Self.breakGlass(f, length: .hours(3)).length == .minutes(20))
    }

    // MARK: What it leaves

    @Test func breakGlassCreatesTheGrantItsRowAndBothRecordsAtOnce() throws {
        let f = try WorkflowFixture()
        let takenAt = f.clock.now
        let grant = try Self.breakGlass(f)
        #expect(try f.storedGrant(grant.id) == grant)
        #expect(grant.requestID == nil)
        #expect(grant.user == "oscar")
        #expect(grant.source == .breakGlass)
        #expect(grant.scope == .command)
        #expect(grant.command == Argv.flushFirewall)
        #expect(grant.notBefore == takenAt)
        #expect(grant.expiresAt == takenAt + .minutes(20))
        let use = try #require(try f.store.read { try $0.breakGlassUse(grantID: grant.id) })
        #expect(use.reason == "INC-9 blocked everything" && use.ticket == "INC-9")
        #expect(use.cwd == "/root" && use.tty == "pts/1" && use.createdAt == takenAt && use.verdict == nil)
        #expect(try f.events() == ["grant.created", "breakglass.used"])
        #expect(try f.records("grant.created").first?.fields["source"] == .string("break_glass"))
        let used = try #require(try f.records("breakglass.used").first)
        #expect(used.actor == "oscar")
        #expect(
            used.fields == [
                "grant": .int(grant.id), "rule": .string("firewall"), "run_as": .string("root"),
                "host": .string("web1"), "command": .array(Argv.flushFirewall.map(\.jsonValue)),
                "reason": .string("INC-9 blocked everything"), "expires_at": recordedInstant(grant.expiresAt),
                "seconds": .int(Time.minutes(20).wholeSeconds), "oncall": .string("group oncall"),
                "ticket": .string("INC-9"), "cwd": .string("/root"), "tty": .string("pts/1"),
            ])
    }

    @Test func aBreakGlassGrantCoversItsArgvInAnyDirectory() throws {
        let f = try WorkflowFixture()
        let grant = try Self.breakGlass(f, cwd: "/root")
        let claim = try f.claim("firewall", by: People.oscar, cwd: "/var/tmp")
        #expect(try f.use(claim)?.id == grant.id)
    }

    @Test func anAdminReviewsABreakGlassUseOnce() throws {
        let f = try WorkflowFixture()
        let grant = try Self.breakGlass(f)
        f.clock.advance(hours: 1)
        try Self.review(f, grant.id, by: People.ada)
        let use = try #require(try f.store.read { try $0.breakGlassUse(grantID: grant.id) })
        #expect(use.verdict == .ok && use.reviewedBy == "ada" && use.comment == "fine")
        let record = try #require(try f.records("breakglass.reviewed").first)
        #expect(
            record.fields == [
                "grant": .int(grant.id), "user": .string("oscar"), "verdict": .string("ok"), "comment": .string("fine"),
            ])
        #expect(
            throws: JitError.notPermitted(
                "break-glass use #\(grant.id) was already reviewed; 'jitctl review --all' shows it")
        ) {
            try Self.review(f, grant.id, by: People.root)
        }
    }

    @Test func noOneReviewsTheirOwnBreakGlassUseAndOnlyAdminsReview() throws {
        let f = try WorkflowFixture()
        let grant = try Self.breakGlass(f, by: People.root)
        #expect(
            throws: JitError.notPermitted(
                "you cannot review your own break-glass use #\(grant.id); ask another admin")
        ) {
            try Self.review(f, grant.id, by: People.root)
        }
        #expect(throws: JitError.notPermitted("only admins (%jit-admins) review break-glass uses")) {
            try Self.review(f, grant.id, by: People.carol)
        }
        #expect(try f.records("breakglass.reviewed").isEmpty)
    }

    // MARK: Logins

    static func fileLogin(
        _ f: WorkflowFixture, table: String = "login#1", host: String = "web1", reason: UserText = "patching",
        length: Time? = nil
    ) throws -> (Request, Bool) {
        let (policy, now) = (f.policy, f.clock.now)
        return try f.store.write {
            try Workflow.fileOrReuseLogin(
                $0, user: People.mallory, host: host, ruleName: table, approvals: 1, reason: reason, ticket: nil,
                tty: "pts/0", requestedSeconds: length?.wholeSeconds, policy: policy, now: now)
        }
    }

    static func liveLogin(_ f: WorkflowFixture, table: String = "login#1", host: String = "web1") throws -> Grant? {
        let now = f.clock.now
        return try f.store.read {
            try Workflow.liveLoginGrant($0, user: "mallory", host: host, rule: table, now: now)
        }
    }

    @Test func aLoginRequestIsForTheUsersOwnLoginsOnTheHost() throws {
        let f = try WorkflowFixture()
        let (request, reused) = try Self.fileLogin(f)
        #expect(!reused)
        #expect(request.kind == .login && request.scope == .login && request.rule == "login#1")
        #expect(request.requester == "mallory" && request.runAs == "mallory" && request.command.isEmpty)
        #expect(try f.records("request.filed").first?.fields["kind"] == .string("login"))
    }

    @Test func aLoginRequestIsReusedPerTableAndHost() throws {
        let f = try WorkflowFixture()
        let (first, _) = try Self.fileLogin(f)
        let (same, reused) = try Self.fileLogin(f, reason: "still patching")
        #expect(reused && same.id == first.id)
        let (otherTable, reusedTable) = try Self.fileLogin(f, table: "login#2")
        let (otherHost, reusedHost) = try Self.fileLogin(f, host: "web2")
        #expect(!reusedTable && !reusedHost)
        #expect(Set([first.id, otherTable.id, otherHost.id]).count == 3)
    }

    @Test func aLoginRequestIsApprovedByItsTablesApproversIntoALoginGrant() throws {
        let f = try WorkflowFixture()
        let (request, _) = try Self.fileLogin(f, length: .hours(2))
        #expect(throws: WorkflowDecisionTests.noRequest(request.id)) { try f.approve(request.id, by: People.bob) }
        let grant = try f.grant(request, by: [People.carol])
        #expect(grant.scope == .login && grant.rule == "login#1" && grant.command == nil)
        #expect(grant.user == "mallory" && grant.length == .hours(2))
    }

    @Test func liveLoginGrantFindsOnlyALiveGrantOfThatTableForThatHost() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try Self.fileLogin(f).0, by: [People.carol])
        #expect(try Self.liveLogin(f)?.id == grant.id)
        #expect(try Self.liveLogin(f, table: "login#2") == nil)
        #expect(try Self.liveLogin(f, host: "web2") == nil)
        f.clock.advance(minutes: 15)
        #expect(try Self.liveLogin(f) == nil)
    }

    @Test func aRevokedLoginGrantOpensNothing() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try Self.fileLogin(f).0, by: [People.carol])
        try f.revoke(grant.id, by: People.mallory)
        #expect(try Self.liveLogin(f) == nil)
    }
}
