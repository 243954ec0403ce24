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
    @Test(arguments: ["#-1", "#4294967295", "#99999999999", "#", "#1x", "#+0", "", "no-such-user-zz9"])
    func badUserSpecsAreRefused(spec: String) {
        #expect(throws: JitError.unknownUser(spec)) { try UserSpec.account(spec) }
    }

    @Test func rootByNameAndByUID() throws {
        #expect(try UserSpec.account("root").uid == 0)
        #expect(try UserSpec.account("#0").name == "root")
        #expect(try UserSpec.account("root").groups.first == "root")
    }
}
