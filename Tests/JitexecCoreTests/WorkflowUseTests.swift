import JitexecBase
import JitexecStore
import JitexecSystem
import Testing

@testable import JitexecCore

/// Using a grant: what it covers, when it is live (checked at the moment of use), single-use
/// grants, and which grant a run takes when several cover it.
@Suite struct WorkflowUseTests {
    // MARK: What a grant covers

    @Test func aCommandGrantCoversExactlyItsArgvInItsRequestsDirectory() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts", cwd: "/srv/app")))
        let used = try f.use(try f.claim("restarts", command: Argv.restartNginx, cwd: "/srv/app"))
        #expect(used?.id == grant.id)
    }

    @Test func aCommandGrantDoesNotCoverOtherArguments() throws {
        let f = try WorkflowFixture()
        _ = try f.grant(try f.file(f.ask("restarts", command: Argv.restartNginx)))
        #expect(try f.use(try f.claim("restarts", command: Argv.restartPostgres)) == nil)
        #expect(try f.use(try f.claim("restarts", command: Argv.restartNginx + ["--force"])) == nil)
    }

    @Test func aCommandGrantDoesNotCoverItsArgvInAnotherDirectory() throws {
        let f = try WorkflowFixture()
        _ = try f.grant(try f.file(f.ask("restarts", cwd: "/srv/app")))
        #expect(try f.covering(try f.claim("restarts", cwd: "/tmp")).isEmpty)
        #expect(try f.use(try f.claim("restarts", cwd: "/tmp")) == nil)
        #expect(try f.use(try f.claim("restarts", cwd: nil)) == nil)
    }

    @Test func aRuleGrantCoversAnyCommandOfTheRuleInAnyDirectory() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("deploys", command: Argv.deployApp, cwd: "/srv/app")))
        #expect(try f.use(try f.claim("deploys", command: Argv.deployDocs, cwd: "/home/alice"))?.id == grant.id)
        #expect(try f.use(try f.claim("deploys", command: Argv.deployApp, cwd: nil))?.id == grant.id)
    }

    @Test func aGrantDoesNotCoverAnotherUser() throws {
        let f = try WorkflowFixture()
        _ = try f.grant(try f.file(f.ask("restarts", by: People.alice)))
        #expect(try f.use(try f.claim("restarts", by: People.carol)) == nil)
    }

    @Test func aGrantDoesNotCoverAnotherTarget() throws {
        let f = try WorkflowFixture()
        _ = try f.grant(try f.file(f.ask("restarts", runAs: "root")))
        #expect(try f.use(try f.claim("restarts", runAs: "postgres")) == nil)
    }

    @Test func aGrantDoesNotCoverAnotherHost() throws {
        let f = try WorkflowFixture()
        _ = try f.grant(try f.file(f.ask("restarts", host: "web1")))
        #expect(try f.use(try f.claim("restarts", host: "web2")) == nil)
    }

    @Test func aGrantDoesNotCoverAnotherRule() throws {
        let f = try WorkflowFixture()
        _ = try f.grant(try f.file(f.ask("deploys")))
        // Same user, target and host; a rule-scope grant of `deploys` says nothing about `restarts`.
        #expect(try f.use(try f.claim("restarts")) == nil)
    }

    // MARK: When a grant is live

    @Test func aGrantIsUsableUntilJustBeforeItExpires() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts", length: .minutes(15))))
        f.clock.advance(.minutes(15) - .microseconds(1))
        #expect(try f.use(try f.claim("restarts"))?.id == grant.id)
        f.clock.advance(.microseconds(1))
        #expect(try f.use(try f.claim("restarts")) == nil)
    }

    @Test func expiryIsCheckedAtTheMomentOfUse() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts", length: .minutes(15))))
        f.clock.advance(minutes: 14)
        let claim = try f.claim("restarts")
        #expect(try f.covering(claim).map(\.id) == [grant.id])
        f.clock.advance(minutes: 2)
        #expect(try f.use(claim) == nil)
        #expect(try f.records("grant.used").isEmpty)
    }

    @Test func aGrantIsNotUsedBeforeItStarts() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts")))
        f.clock.rewind(.seconds(1))
        #expect(try f.covering(try f.claim("restarts")).isEmpty)
        #expect(try f.use(try f.claim("restarts")) == nil)
        f.clock.advance(seconds: 1)
        #expect(try f.use(try f.claim("restarts"))?.id == grant.id)
    }

    @Test func aRevokedGrantIsNeverUsed() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts")))
        try f.revoke(grant.id, by: People.alice)
        #expect(try f.covering(try f.claim("restarts")).isEmpty)
        #expect(try f.use(try f.claim("restarts")) == nil)
    }

    // MARK: Uses

    @Test func aOnceGrantIsUsedOnceAndThenGone() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("migrations")))
        let first = try f.use(try f.claim("migrations"))
        #expect(first?.id == grant.id)
        #expect(first?.usesLeft == 0)
        #expect(try f.storedGrant(grant.id).usesLeft == 0)
        #expect(try f.use(try f.claim("migrations")) == nil)
        #expect(try f.covering(try f.claim("migrations")).isEmpty)
        #expect(try f.records("grant.used").count == 1)
    }

    @Test func anUnlimitedGrantIsUsedAgainAndAgainUntilItExpires() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(try f.file(f.ask("restarts")))
        for _ in 0..<5 {
            #expect(try f.use(try f.claim("restarts"))?.id == grant.id)
            f.clock.advance(minutes: 1)
        }
        #expect(try f.storedGrant(grant.id).usesLeft == nil)
        #expect(try f.records("grant.used").count == 5)
    }

    @Test func grantUsedRecordsTheUseAndTheUsesLeft() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("migrations"))
        let grant = try f.grant(request)
        _ = try f.use(try f.claim("migrations"))
        let record = try #require(try f.records("grant.used").first)
        #expect(record.actor == "alice")
        #expect(
            record.fields == [
                "grant": .int(grant.id), "request": .int(request.id), "rule": .string("migrations"),
                "run_as": .string("root"), "command": .array(Argv.migrate.map(\.jsonValue)), "uses_left": .int(0),
            ])
    }

    @Test func grantUsedOfAnUnlimitedGrantHasNoUsesLeft() throws {
        let f = try WorkflowFixture()
        _ = try f.grant(try f.file(f.ask("restarts")))
        _ = try f.use(try f.claim("restarts"))
        let record = try #require(try f.records("grant.used").first)
        #expect(record.fields["uses_left"] == nil)
        #expect(record.fields["command"] == .array(Argv.restartNginx.map(\.jsonValue)))
    }

    @Test func theGrantEndingFirstIsUsedFirst() throws {
        let f = try WorkflowFixture()
        // Two approved requests for the same run: the older grant ends sooner than the newer one.
        let short = try f.grant(try f.file(f.ask("restarts", length: .minutes(10))))
        let long = try f.grant(try f.file(f.ask("restarts", length: .hours(2))))
        #expect(try f.covering(try f.claim("restarts")).map(\.id) == [short.id, long.id])
        #expect(try f.use(try f.claim("restarts"))?.id == short.id)
        f.clock.advance(minutes: 10)
        #expect(try f.use(try f.claim("restarts"))?.id == long.id)
    }

    @Test func whenTheFirstEndingGrantIsUsedUpTheNextIsUsed() throws {
        let f = try WorkflowFixture()
        let once = try f.grant(try f.file(f.ask("restarts", once: true, length: .minutes(10))))
        let unlimited = try f.grant(try f.file(f.ask("restarts", length: .hours(1))))
        #expect(try f.use(try f.claim("restarts"))?.id == once.id)
        #expect(try f.use(try f.claim("restarts"))?.id == unlimited.id)
    }
}
