import Testing

@testable import JitexecCore

/// What the `[oncall] command` may print: one user name per line, or nothing counts.
@Suite struct OnCallOutputTests {
    @Test(arguments: [
        ("alice\n", ["alice"]),
        ("alice\nbob\n", ["alice", "bob"]),
        ("  alice \t\r\n\n\n   \nbob", ["alice", "bob"]),
        ("", []),
        ("\n \n", []),
        ("Svc_1.x-y\n", ["Svc_1.x-y"]),
        (String(repeating: "a", count: 32) + "\n", [String(repeating: "a", count: 32)]),
    ])
    func oneNamePerLineIsRead(output: String, names: [String]) {
        #expect(OnCallCheck.onCallNames(Array(output.utf8)) == .success(Set(names)))
    }

    @Test(arguments: [
        ("alice bob\n", 1),  // two words on a line
        ("alice\nbob carol\n", 2),
        ("alice\n-rf\n", 2),  // starts with '-'
        ("alice\n" + String(repeating: "a", count: 33), 2),  // longer than 32 bytes
        ("al\u{0}ice\n", 1),
        ("ali$ce\n", 1),
        ("alice,bob\n", 1),
        ("caf\u{e9}\n", 1),
        ("root\u{200b}\n", 1),
        ("alice\u{1b}[2J\n", 1),
    ])
    func anyOtherLineMakesTheWholeOutputUnusable(output: String, line: Int) {
        guard case .failure(let problem) = OnCallCheck.onCallNames(Array(output.utf8)) else {
            Issue.record("accepted \(output.debugDescription)")
            return
        }
        #expect(problem.line == line)
        #expect(!problem.description.contains("\n") && !problem.description.contains("\u{1b}"))
    }

    @Test func validUserNamesArePortableNames() {
        #expect(OnCallCheck.isValidUserName(Array("a".utf8)))
        #expect(OnCallCheck.isValidUserName(Array("a-b.c_D9".utf8)))
        #expect(!OnCallCheck.isValidUserName([]))
        #expect(!OnCallCheck.isValidUserName(Array("-a".utf8)))
        #expect(!OnCallCheck.isValidUserName(Array("a b".utf8)))
        #expect(!OnCallCheck.isValidUserName(Array("a/b".utf8)))
    }
}
