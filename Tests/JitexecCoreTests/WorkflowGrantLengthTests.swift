import JitexecBase
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// How long a grant lasts: the length asked (`-d`) or `default_grant`, never more than `max_grant`,
/// the rule's `max_grant` or any approver's own cap (`jitctl approve -d`); from the deciding approval.
@Suite struct WorkflowGrantLengthTests {
    /// A policy whose [settings] and `restarts` rule are changed by the test.
    static func policy(settings: String = "", rule: String = "") -> String {
        """
        [settings]
        admins = ["%jit-admins"]
        \(settings)

        [[rule]]
        name = "restarts"
        users = ["alice"]
        commands = ["/usr/bin/systemctl restart *"]
        action = "approve"
        approvers = ["%sre-leads", "bob"]
        \(rule)
        """
    }

    @Test func theGrantLastsTheDefaultGrantWhenNoLengthWasAsked() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts", length: nil)))
        #expect(grant.length == .minutes(15))
    }

    @Test func theDefaultGrantIsTheOneThePolicySets() throws {
        let f = try WorkflowFixture(Self.policy(settings: #"default_grant = "45m""#))
        let grant = try f.grant(try f.file(f.ask("restarts", length: nil)))
        #expect(grant.length == .minutes(45))
    }

    @Test func aRequestedLengthUnderEveryCapIsHonoured() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts", length: .hours(1))))
        #expect(grant.length == .hours(1))
    }

    @Test func aRequestedLengthShorterThanTheDefaultIsHonoured() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts", length: .minutes(5))))
        #expect(grant.length == .minutes(5))
    }

    @Test func theSettingsMaxGrantCapsARequestedLength() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts", length: .hours(6))))
        #expect(grant.length == .hours(4))
    }

    @Test func theSettingsMaxGrantCapsTheDefaultGrant() throws {
        let f = try WorkflowFixture(Self.policy(settings: #"max_grant = "10m""#))
        let grant = try f.grant(try f.file(f.ask("restarts", length: nil)))
        #expect(grant.length == .minutes(10))
    }

    @Test func theRulesMaxGrantCapsARequestedLength() throws {
        let f = try WorkflowFixture()
        #expect(try f.rule("firewall").maxGrant?.seconds == Time.minutes(30).wholeSeconds)
        let grant = try f.grant(try f.file(f.ask("firewall", length: .hours(2))), by: [People.carol])
        #expect(grant.length == .minutes(30))
    }

    @Test func theRulesMaxGrantCapsTheDefaultGrant() throws {
        let f = try WorkflowFixture(Self.policy(rule: #"max_grant = "10m""#))
        let grant = try f.grant(try f.file(f.ask("restarts", length: nil)))
        #expect(grant.length == .minutes(10))
    }

    @Test func anApproversMaxCapsTheGrant() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts", length: .hours(2)))
        let grant = try f.grant(request, by: [People.bob], maxLength: .minutes(45))
        #expect(grant.length == .minutes(45))
    }

    @Test func anApproversMaxLongerThanTheOtherCapsChangesNothing() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts", length: nil))
        let grant = try f.grant(request, by: [People.bob], maxLength: .hours(3))
        #expect(grant.length == .minutes(15))
    }

    @Test func theFirstApproversMaxCapsTheGrantTheSecondApprovalMakes() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots", length: .hours(3)))
        try f.approve(request.id, by: People.bob, maxLength: .minutes(20))
        guard case .granted(let grant) = try f.approve(request.id, by: People.carol, maxLength: .minutes(40)) else {
            Issue.record("the second approval did not grant request #\(request.id)")
            return
        }
        #expect(grant.length == .minutes(20))
    }

    @Test func theSmallestApproverMaxWins() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots", length: .hours(3)))
        try f.approve(request.id, by: People.bob, maxLength: .minutes(40))
        guard case .granted(let grant) = try f.approve(request.id, by: People.carol, maxLength: .minutes(25)) else {
            Issue.record("the second approval did not grant request #\(request.id)")
            return
        }
        #expect(grant.length == .minutes(25))
    }

    @Test func theGrantLastsTheSmallestOfItsCaps() throws {
        // Asked 2h; [settings] max_grant 4h; the rule's max_grant 30m; the approver's cap 25m.
        let f = try WorkflowFixture()
        let capped = try f.grant(
            try f.file(f.ask("firewall", length: .hours(2))), by: [People.carol], maxLength: .minutes(25))
        #expect(capped.length == .minutes(25))
        // The same with an approver cap of 45m: the rule's 30m is the smallest.
        let other = try f.grant(
            try f.file(f.ask("firewall", command: ["/usr/sbin/iptables", "-L"], length: .hours(2))),
            by: [People.carol], maxLength: .minutes(45))
        #expect(other.length == .minutes(30))
    }

    @Test func theCapsAreThoseOfThePolicyAtApprovalTime() throws {
        let f = try WorkflowFixture(Self.policy())
        let request = try f.file(f.ask("restarts", length: .hours(2)))
        f.policy = try Policies.load(Self.policy(settings: #"max_grant = "1h""#))
        let grant = try f.grant(request)
        #expect(grant.length == .hours(1))
    }

    @Test func theGrantStartsAtTheDecidingApproval() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("reboots", length: .hours(1)))
        f.clock.advance(minutes: 10)
        try f.approve(request.id, by: People.bob)
        f.clock.advance(minutes: 7)
        let decidedAt = f.clock.now
        let grant = try f.grant(request, by: [People.carol])
        #expect(grant.notBefore == decidedAt)
        #expect(grant.expiresAt == decidedAt + .hours(1))
        #expect(try f.storedGrant(grant.id).expiresAt == decidedAt + .hours(1))
    }

    @Test func theGrantCreatedRecordCarriesTheExpiry() throws {
        let f = try WorkflowFixture()
        let decidedAt = f.clock.now
        let grant = try f.grant(try f.file(f.ask("restarts", length: .minutes(50))))
        #expect(try f.records("grant.created").first?.fields["expires_at"] == recordedInstant(decidedAt + .minutes(50)))
        #expect(grant.expiresAt == decidedAt + .minutes(50))
    }
}
