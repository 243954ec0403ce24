import Glibc
import JitexecBase
import JitexecSystem
import Synchronization
import Testing

@testable import JitexecCore

/// The invoking user's groups looked up on a thread of its own while jitexec reads the policy
/// (`Accounts.byUIDBeside`, `PendingAccount`, `Context.settleInvoker`): the same account as looked
/// up in line, and a failed lookup refused with its own line before anything reads the account.
@Suite struct BackgroundInvokerTests {
    static let ioError = UserDatabase.LookupError(what: "the groups of alice", code: EIO)

    @Test func theLookupRunsBesideTheCallerAndGivesTheAccountTheUserDatabaseGives() throws {
        let caller = pthread_self()
        let beside = Mutex<Bool?>(nil)
        let uid = getuid()
        let pending = PendingAccount { () throws(UserDatabase.LookupError) in
            beside.withLock { $0 = pthread_equal(pthread_self(), caller) == 0 }
            guard let account = try Accounts.fresh(uid) else { throw Self.ioError }
            return account
        }
        let account = try pending.account()
        // One CPU: no thread, the lookup ran in line.
        #expect(beside.withLock { $0 } == backgroundThreadCanStart)
        #expect(account == (try Accounts.fresh(uid)))
        // Asked again: the same account, no second lookup.
        beside.withLock { $0 = nil }
        #expect(try pending.account() == account)
        #expect(beside.withLock { $0 } == nil)
    }

    @Test func theInvokerLookedUpBesideIsTheOneLookedUpInLine() throws {
        let uid = getuid()
        let inLine = try #require(try Accounts.fresh(uid))
        let beside = try #require(try Accounts.byUIDBeside(uid))
        #expect(try beside.account() == inLine)
        #expect(try Accounts.byUIDBeside(4_294_967_000) == nil)
    }

    @Test func aFailedLookupIsThrownBySettleInvokerEveryTime() throws {
        let pending = PendingAccount { () throws(UserDatabase.LookupError) in throw Self.ioError }
        let ctx = TestContext(try WorkflowFixture(), invoker: People.alice, lookup: pending).context()
        let line = JitError.userDatabase("looking up the groups of alice failed: Input/output error")
        #expect(throws: line) { try ctx.settleInvoker() }
        #expect(throws: line) { try ctx.settleInvoker() }
    }

    static let allowStatusByGroup = """

        [[rule]]
        name = "status-by-group"
        users = ["%developers"]
        commands = ["/usr/bin/systemctl status *"]
        action = "allow"
        """

    @Test func aRunWhoseGroupLookupFailedIsRefusedWithThatLineAndNothingRecorded() throws {
        let f = try WorkflowFixture(Policies.standard + Self.allowStatusByGroup)
        let pending = PendingAccount { () throws(UserDatabase.LookupError) in throw Self.ioError }
        // Every effect fails the test: no terminal, PAM, account or command is touched.
        let ctx = TestContext(f, invoker: People.alice, lookup: pending).context()
        let before = try f.events()
        #expect(
            jitexec(ctx, ["-n", "systemctl", "status", "nginx"])
                == (
                    1,
                    "cannot read the user database (looking up the groups of alice failed: Input/output error); "
                        + "nothing was done: try again or ask an administrator"
                ))
        #expect(try f.events() == before)
    }

    /// alice's groups arrive late, from the thread: the decision is made with them.
    @Test(arguments: [(["developers"], true), (["alice"], false)])
    func theDecisionWaitsForTheGroupsAndUsesThem(groups: [String], allowed: Bool) throws {
        let f = try WorkflowFixture(Policies.standard + Self.allowStatusByGroup)
        var late = People.alice
        late.groups = groups
        let account = late
        let pending = PendingAccount { () throws(UserDatabase.LookupError) in
            usleep(50_000)
            return account
        }
        var effects = Effects.caller(pam: FakePAM()) { _, _, _ throws(ExecError) in RunPipelineTests.ran }
        effects.workingDirectory = { "/srv/app" }
        let ctx = TestContext(f, invoker: People.alice, lookup: pending).context(effects)
        let (status, refusal) = jitexec(ctx, ["-n", "systemctl", "status", "nginx"])
        if allowed {
            #expect((status, refusal) == (0, nil))
            #expect(try f.events().suffix(2) == ["exec.start", "exec.end"])
        } else {
            #expect(status == 1)
            #expect(refusal?.hasPrefix("alice may not run /usr/bin/systemctl as root") == true)
            #expect(try f.events().last == "policy.denied")
        }
    }
}
