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
    static let cases: [Expected] = [
        Expected(
            "TOML syntax error", "p.toml:4: error:", "TOML syntax error",
            """
            [settings]
            max_grant = "4h"

            this is not toml
            """),
        Expected(
            "unknown key in a rule", "p.toml:5: error:", "unknown key 'comands' in [[rule]] (did you mean 'commands'?)",
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
            "bracket alone on its line", "p.toml:2: error:", "a table header must start with a bare key", "# x\n[\n"),
        Expected(
            "text on which toml++ asserts instead of reporting (parsed in a child first)", "p.toml:1: error:",
            "the TOML parser (toml++) stops on this text", "a=[}\n"),
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
            "approve rule without approvers", "p.toml:2: error:", "rule 'r' has action \"approve\" but no approvers",
            """
            # header on line 2
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "approve"
            """),
        Expected(
            "approvals below 1", "p.toml:7: error:", "'approvals' must be at least 1",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "approve"
            approvers = ["bob"]
            approvals = 0
            """),
        Expected(
            "more approvals than possible approvers", "p.toml:8: error:",
            "rule 'r' needs 4 approvals but only 3 possible approvers exist (carol, dave, erin)",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "approve"
            approvers = ["%sre-leads", "carol"]

            approvals = 4
            """),
        Expected(
            "approvals above known approvers while some are unknown", "p.toml:8: warning:",
            "needs 4 approvals but only 3 possible approvers exist (carol, dave, erin) yet; some approvers are unknown",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "approve"
            approvers = ["%sre-leads", "ghost", "carol"]

            approvals = 4
            """),
        Expected(
            "default approvals with no existing approver", "p.toml:6: error:",
            "needs 1 approval but only 0 possible approvers exist",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "approve"
            approvers = ["%empty"]
            """),
        Expected(
            "unknown user", "p.toml:5: warning:", "'users': unknown user 'zed'",
            """
            [[rule]]
            name = "r"
            users = [
              "alice",
              "zed",
              "%developers",
            ]
            commands = ["/usr/bin/ls"]
            action = "allow"
            """),
        Expected(
            "unknown group", "p.toml:6: warning:", "'users': unknown group '%nogrp'",
            """
            [[rule]]
            name = "r"
            users = [
              "alice",
              "zed",
              "%nogrp",
            ]
            commands = ["/usr/bin/ls"]
            action = "allow"
            """),
        Expected(
            "unknown run_as", "p.toml:4: warning:", "'run_as': unknown user 'postgres'",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            run_as = ["root", "postgres"]
            commands = ["/usr/bin/ls"]
            action = "allow"
            """),
        Expected(
            "unknown approver group", "p.toml:8: warning:", "'approvers': unknown group '%leads'",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "approve"
            approvers = [
              "bob",
              "%leads",
            ]
            """),
        Expected(
            "unknown admin", "p.toml:2: warning:", "'admins': unknown group '%jit-admin'",
            """
            [settings]
            admins = ["%jit-admin"]
            """),
        Expected(
            "shadowed rule", "p.toml:7: warning:",
            "rule 'restart-nginx' is never reached: rule 'restarts' (p.toml:1) already matches everything it matches",
            """
            [[rule]]
            name = "restarts"
            users = ["alice", "%developers"]
            commands = ["/usr/bin/systemctl restart *", "/usr/bin/journalctl **"]
            action = "approve"
            approvers = ["bob"]
            [[rule]]
            name = "restart-nginx"
            users = ["%developers"]
            commands = ["/usr/bin/systemctl restart nginx", "/usr/bin/journalctl -u nginx"]
            action = "allow"
            """),
        Expected(
            "zero duration", "p.toml:6: error:", "'max_grant' must be longer than 0",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "allow"
            max_grant = "0"
            """),
        Expected(
            "zero request_ttl", "p.toml:3: error:", "'request_ttl' must be longer than 0",
            """
            [settings]
            credential_cache = "0"
            request_ttl = "0s"
            """),
        Expected(
            "rule max_grant above the global one", "p.toml:8: warning:",
            "'max_grant' 8h of rule 'r' is longer than [settings] max_grant 4h",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "approve"
            approvers = ["bob"]

            max_grant = "8h"
            """),
        Expected(
            "postgresql without url_file", "p.toml:2: error:", "backend \"postgresql\" needs 'url_file'",
            """
            [store]
            backend = "postgresql"
            """),
        Expected(
            "postgresql is not available yet", "p.toml:2: error:",
            "backend \"postgresql\" is not available in this build yet",
            """
            [store]
            backend = "postgresql"
            url_file = "/etc/jitexec/store.url"
            """),
        Expected(
            "record is not available yet", "p.toml:6: error:", "'record = true' is not available in this build yet",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "allow"
            record = true
            """),
        Expected(
            "enforce_expiry is not available yet", "p.toml:6: error:",
            "'enforce_expiry = true' is not available in this build yet",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "allow"
            enforce_expiry = true
            """),
        Expected(
            "unknown notify event", "p.toml:5: error:", "'events': unknown event \"request.exploded\"",
            """
            [notify]
            command = ["/usr/local/bin/notify"]
            events = [
                "request.filed",
                "request.exploded",
            ]
            """),
        Expected(
            "login approvals above possible approvers", "p.toml:5: error:",
            "[[login]] needs 2 approvals but only 1 possible approver exists (bob)",
            """
            [[login]]
            users = ["%contractors"]
            services = ["sshd"]
            approvers = ["bob"]
            approvals = 2
            """),
        Expected(
            "login without approvers", "p.toml:1: error:", "[[login]] is missing required key 'approvers'",
            """
            [[login]]
            users = ["%contractors"]
            """),
        Expected(
            "login bad max_grant", "p.toml:4: error:", "'max_grant': \"eight hours\" is not a duration",
            """
            [[login]]
            users = ["%contractors"]
            approvers = ["bob"]
            max_grant = "eight hours"
            """),
        Expected(
            "login service with upper-case letters", "p.toml:4: error:", "Linux-PAM lowercases service names",
            """
            [[login]]
            users = ["%contractors"]
            services = ["sshd",
                        "SSHD"]
            approvers = ["bob"]
            """),
        Expected(
            "duration longer than 100 years", "p.toml:4: error:",
            "'max_grant': \"99999999999999s\" is longer than the longest duration, 36500d",
            """
            [[login]]
            users = ["%contractors"]
            approvers = ["bob"]
            max_grant = "99999999999999s"
            """),
        Expected(
            "rule written as a single table", "p.toml:1: error:", "'rule' must be an array of tables: write [[rule]]",
            """
            [rule]
            name = "r"
            """),
        Expected(
            "relative secure_path entry", "p.toml:2: warning:",
            "'secure_path': entry \"bin\" is not absolute and is ignored",
            """
            [settings]
            secure_path = "/usr/bin:bin"
            """),
    ]

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
