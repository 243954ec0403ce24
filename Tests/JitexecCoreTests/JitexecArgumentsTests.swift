import JitexecSystem
import Testing

@testable import JitexecBase
@testable import JitexecCore

@Suite struct JitexecArgumentsTests {
    func parse(_ words: [String]) throws(JitError) -> JitexecArguments {
        try JitexecArguments.parse(words.map { UserText($0) })
    }

    @Test func optionParsingStopsAtTheFirstNonOption() throws {
        let a = try parse(["ls", "-l", "--once"])
        #expect(a.command == ["ls", "-l", "--once"])
        #expect(a.once == false)
    }

    @Test func doubleDashEndsOptions() throws {
        let a = try parse(["-n", "--", "-weird-name", "x"])
        #expect(a.nonInteractive)
        #expect(a.command == ["-weird-name", "x"])
    }

    @Test func valuesAttachedSeparateAndBundled() throws {
        let a = try parse(["-uroot", "-r", "INC-1 disk full", "-nS", "--wait-timeout=5m", "-d", "10m", "--once", "id"])
        #expect(a.user == "root")
        #expect(a.reason == "INC-1 disk full")
        #expect(a.nonInteractive && a.passwordFromStdin && a.once)
        #expect(a.waitTimeout == "5m")
        #expect(a.duration == "10m")
        #expect(a.command == ["id"])
    }

    @Test(arguments: [
        (["-E", "id"], "-E is not supported: the command's environment is always rebuilt from the policy's env_keep"),
        (["--preserve-env", "id"], "-E is not supported"),
        (["-b", "id"], "-b is not supported: jitexec supervises the command to its end"),
        (["-nE", "id"], "-E is not supported"),
    ])
    func sudoOptionsJitexecDoesNotTakeAreRefusedWithTheReason(words: [String], message: String) {
        do {
            _ = try parse(words)
            Issue.record("\(words) was accepted")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test func smallGNamesTheGroupAndCapitalEAndBAreStillRefused() throws {
        #expect(try parse(["-g", "adm", "id"]).group == "adm")
        #expect(try parse(["-gadm", "-u", "www-data", "id"]).group == "adm")
        #expect(try parse(["--group=#4", "id"]).group == "#4")
        #expect(throws: JitError.self) { try parse(["-E", "id"]) }
        #expect(throws: JitError.self) { try parse(["-b", "id"]) }
    }

    @Test func capitalUNamesWhoseRulesAListShows() throws {
        let a = try parse(["-l", "-U", "alice", "-u", "www-data", "id"])
        #expect(a.mode == .list && a.otherUser == "alice" && a.user == "www-data" && a.command == ["id"])
        #expect(try parse(["-lUalice"]).otherUser == "alice")
        #expect(try parse(["--other-user=bob", "-l"]).otherUser == "bob")
        #expect(throws: JitError.usage("-U USER goes with -l: 'jitexec -l -U USER' lists what USER may run")) {
            try parse(["-U", "alice", "id"])
        }
    }

    @Test func smallKForgetsThisTerminalCapitalKEveryTerminal() throws {
        let k = try parse(["-k"])
        let capital = try parse(["-K"])
        #expect(k.mode == .forget && !k.forgetEverywhere)
        #expect(capital.mode == .forget && capital.forgetEverywhere)
    }

    @Test func reasonKeepsItsExactBytes() throws {
        let raw = UserText(bytes: [0x66, 0xff, 0x1b])
        let a = try JitexecArguments.parse([UserText("-r"), raw, UserText("true")])
        #expect(a.reason == raw)
    }

    @Test func modes() throws {
        #expect(try parse(["-l"]).mode == .list)
        #expect(try parse(["-l", "systemctl", "status"]).command == ["systemctl", "status"])
        #expect(try parse(["-k"]).mode == .forget)
        #expect(try parse(["--version"]).mode == .version)
        #expect(try parse(["-i"]).mode == .shell)
    }

    @Test(arguments: [
        ["-x", "true"], ["-u"], [], ["--no-wait", "--wait-timeout", "1m", "true"], ["-l", "-k"],
        ["--once=yes", "true"],
        ["-v", "extra"],
    ])
    func usageErrors(words: [String]) {
        #expect(throws: JitError.self) { try parse(words) }
    }
}

@Suite struct AccountsTests {
    /// A context whose accounts are the test's people (root among them).
    static func context() throws -> Context {
        TestContext(try WorkflowFixture(), invoker: People.alice).context(.knowingThePeople)
    }

    @Test(arguments: ["#-1", "#4294967295", "#99999999999", "#", "#1x", "#+0", "", "no-such-user-zz9"])
    func badUserSpecsAreRefused(spec: String) throws {
        let ctx = try Self.context()
        #expect(throws: JitError.unknownUser(spec)) { try UserSpec.account(spec, ctx) }
    }

    @Test func rootByNameAndByUID() throws {
        let ctx = try Self.context()
        #expect(try UserSpec.account("root", ctx).uid == 0)
        #expect(try UserSpec.account("#0", ctx).name == "root")
        #expect(try UserSpec.account("#1002", ctx).name == "bob")
    }

    @Test func aLookupThatFailsRefusesInsteadOfMeaningNoSuchUser() throws {
        var effects = Effects.failing
        effects.accountNamed = { _ throws(JitError) in throw .userDatabase("looking up user bob failed: timed out") }
        let ctx = TestContext(try WorkflowFixture(), invoker: People.alice).context(effects)
        #expect(throws: JitError.userDatabase("looking up user bob failed: timed out")) {
            try UserSpec.account("bob", ctx)
        }
    }
}
