import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

/// One `check` finding a fixture must produce: where (file:line and severity) and a key part of the message.
struct Expected: Sendable, CustomTestStringConvertible {
    var name: String
    var toml: String
    var prefix: String
    var fragment: String
    var testDescription: String { name }

    init(_ name: String, _ prefix: String, _ fragment: String, _ toml: String) {
        self.name = name
        self.toml = toml
        self.prefix = prefix
        self.fragment = fragment
    }
}

@Suite struct DiagnosticTests {
    static let cases: [Expected] =
        [
            Expected(
                "TOML syntax error", "p.toml:4: error:", "TOML syntax error",
                """
                [settings]
                max_grant = "4h"

                this is not toml
                """),
            Expected(
                "unknown key in a rule", "p.toml:5: error:",
                "unknown key 'comands' in [[rule]] (did you mean 'commands'?)",
                """
                # a comment
                [[rule]]
                name = "r"
                users = ["alice"]
                comands = ["/usr/bin/ls"]
                commands = ["/usr/bin/ls"]
                action = "allow"
                """),
            Expected(
                "sudoedit with a relative file", "p.toml:4: error:", "sudoedit file 'nginx.conf' is relative",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["sudoedit nginx.conf"]
                action = "allow"
                """),
            Expected(
                "sudoedit with a dot-dot file", "p.toml:4: error:",
                "sudoedit file '/etc/a/../b' is not a canonical path",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["sudoedit /etc/a/../b"]
                action = "allow"
                """),
            Expected(
                "sudoedit without files", "p.toml:4: error:", "'sudoedit' must name the files it allows",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["sudoedit"]
                action = "allow"
                """),
            Expected(
                "unknown top-level table", "p.toml:3: error:", "unknown table [setings]",
                """
                # first line

                [setings]
                max_grant = "1h"
                """),
            Expected(
                "unknown key in settings", "p.toml:3: error:", "unknown key 'max_grnt' in [settings]",
                """
                [settings]
                default_grant = "10m"
                max_grnt = "1h"
                """),
            Expected(
                "wrong type", "p.toml:7: error:", "'approvals' must be an integer",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin/ls"]
                action = "approve"
                approvers = ["bob", "carol"]
                approvals = "2"
                """),
            Expected(
                "wrong array element type", "p.toml:3: error:", "'users' must be an array of strings",
                """
                [[rule]]
                name = "r"
                users = ["alice", 7]
                commands = ["/usr/bin/ls"]
                action = "allow"
                """),
            Expected(
                "bad duration", "p.toml:6: error:", #"'max_grant': "1x" is not a duration (use e.g. 90s, 15m, 1h30m)"#,
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin/ls"]
                action = "allow"
                max_grant = "1x"
                """),
            Expected(
                "missing required key reported at the header", "p.toml:3: error:",
                "rule 'r' is missing required key 'action'",
                """
                [settings]

                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin/ls"]
                """),
            Expected(
                "missing name", "p.toml:1: error:", "[[rule]] is missing required key 'name'",
                """
                [[rule]]
                users = ["alice"]
                commands = ["/usr/bin/ls"]
                action = "allow"
                """),
            Expected(
                "duplicate rule name", "p.toml:7: error:", "duplicate rule name 'r' (first defined at p.toml:2)",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin/ls"]
                action = "allow"
                [[rule]]
                name = "r"
                users = ["bob"]
                commands = ["/usr/bin/ls"]
                action = "allow"
                """),
            Expected(
                "bad action", "p.toml:5: error:", #"'action' must be one of allow, approve, deny, not "permit""#,
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin/ls"]
                action = "permit"
                """),
            Expected(
                "bad scope", "p.toml:6: error:", #"'scope' must be one of command, rule, not "all""#,
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin/ls"]
                action = "allow"
                scope = "all"
                """),
            Expected(
                "bad reason", "p.toml:6: error:", "'reason' must be one of required, optional",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin/ls"]
                action = "allow"
                reason = "maybe"
                """),
            Expected(
                "bad store backend", "p.toml:3: error:", #"'backend' must be one of sqlite, postgresql, not "mysql""#,
                """
                [store]

                backend = "mysql"
                """),
            Expected(
                "reason_pattern that does not compile", "p.toml:6: error:",
                "'reason_pattern' \"^(INC\" is not a valid extended regular expression",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin/ls"]
                action = "allow"
                reason_pattern = "^(INC"
                """),
            Expected(
                "relative command path", "p.toml:6: error:", "command path 'bin/tool' is relative",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = [
                    "/usr/bin/ls",
                    "bin/tool --x",
                ]
                action = "allow"
                """),
            Expected(
                "absolute command that does not exist", "p.toml:5: error:", "command '/usr/bin/nope' does not exist",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin/ls",
                            "/usr/bin/nope *"]
                action = "allow"
                """),
            Expected(
                "bare command not in secure_path", "p.toml:4: error:", "command 'nope' is not found in secure_path",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["nope"]
                action = "allow"
                """),
            Expected(
                "command that is not an executable regular file", "p.toml:4: error:",
                "command '/etc/passwd' is not an executable regular file",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/etc/passwd"]
                action = "allow"
                """),
            Expected(
                "header starting with a non-ASCII letter (toml++ would assert)", "p.toml:1: error:",
                "a table header must start with a bare key", "[é]\nx = 1\n"),
            Expected(
                "array header with a control character after blanks", "p.toml:3: error:",
                "a table header must start with a bare key", "[settings]\n\n[[ \u{7f}]]\n"),
            Expected(
                "bracket alone on its line", "p.toml:2: error:", "a table header must start with a bare key", "# x\n[\n"
            ),
            Expected(
                "'}' where an array element belongs (toml++ would assert)", "p.toml:1: error:",
                "'}' where an array element or the array's ']' belongs", "a=[}\n"),
            Expected(
                "'}' after a comma, a comment and a line break", "p.toml:4: error:",
                "'}' where an array element or the array's ']' belongs", "[settings]\nadmins = [\"a\", # x\n\n  }]\n"),
            Expected(
                "of a misplaced '}' and a malformed header, the first line is reported", "p.toml:2: error:",
                "'}' where an array element or the array's ']' belongs", "# x\na=[}\n[é]\n"),
            Expected(
                "of a malformed header and a misplaced '}', the first line is reported", "p.toml:1: error:",
                "a table header must start with a bare key", "[é]\na=[}\n"),
            Expected(
                "braces and brackets inside strings are not the array's", "p.toml:2: error:",
                "unknown key 'nope'", "[settings]\nnope = [\"[}\", '{,}', \"\"\"\n[}\"\"\"]\n"),
            Expected(
                "link to a multi-call program", "p.toml:4: warning:",
                "command '/usr/sbin/halt' is a link to /usr/bin/systemctl, which runs with that path as argv[0] and will not see the name 'halt'; write the invocation systemctl understands, e.g. '/usr/bin/systemctl halt'",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/sbin/halt"]
                action = "allow"
                """),
            Expected(
                "directory as command", "p.toml:4: error:", "command '/usr/bin' is not an executable regular file",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin"]
                action = "allow"
                """),
            Expected(
                "** not last", "p.toml:6: error:", "command \"/usr/bin/ls ** -l\": '**' may only be the last word",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = [
                  "/usr/bin/ls **",
                  "/usr/bin/ls ** -l",
                ]
                action = "allow"
                """),
            Expected(
                "unbalanced quote", "p.toml:4: error:", "unbalanced \" quote",
                """
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ['/usr/bin/ls "x']
                action = "allow"
                """),
            Expected(
                "approve rule without approvers", "p.toml:2: error:",
                "rule 'r' has action \"approve\" but no approvers",
                """
                # header on line 2
                [[rule]]
                name = "r"
                users = ["alice"]
                commands = ["/usr/bin/ls"]
                action = "approve"
                """),
        ] + laterCases

    @Test func versionLinkIsNotALinkToAnotherProgram() {
        let (policy, diagnostics) = load(
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/python3 -c *"]
            action = "allow"
            """)
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.description))")
        #expect(policy?.rules.first?.commands.first?.path == "/usr/bin/python3.11")
    }

    @Test(arguments: cases)
    func reportsFindingAtItsLine(_ row: Expected) {
        let (policy, diagnostics) = load(row.toml, file: "p.toml")
        let hit = diagnostics.contains {
            $0.description.hasPrefix(row.prefix + " ") && $0.message.contains(row.fragment)
        }
        #expect(hit, "\(diagnostics.map(\.description))")
        if row.prefix.hasSuffix("error:") {
            #expect(policy == nil)
        } else {
            #expect(policy != nil, "\(diagnostics.map(\.description))")
        }
    }
}
