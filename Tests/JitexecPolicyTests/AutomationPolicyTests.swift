import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

/// `[[automation]]` tables and `@name` approvers: what loads, and every way to get them wrong.
@Suite struct AutomationPolicyTests {
    static let automation = """
        [[automation]]
        name = "ticket-check"
        command = ["/usr/libexec/jitexec/ticket-check", "--api", "https://tickets.example"]
        run_as = "nobody"
        timeout = "5s"
        every = "1m"

        """

    static func rule(approvers: String, approvals: Int = 1, extra: String = "") -> String {
        """
        [[rule]]
        name = "deploy"
        users = ["alice"]
        commands = ["/usr/bin/true"]
        action = "approve"
        approvers = \(approvers)
        approvals = \(approvals)
        \(extra)
        """
    }

    @Test func anAutomationLoadsWithItsKeysAndIsNamedAmongApprovers() throws {
        let (policy, diagnostics) = load(Self.automation + Self.rule(approvers: #"["%sre-leads", "@ticket-check"]"#))
        #expect(onlySharedUserWarnings(diagnostics), "\(diagnostics.map(\.description))")
        let p = try #require(policy)
        let a = try #require(p.automation(named: "ticket-check"))
        #expect(a.command == ["/usr/libexec/jitexec/ticket-check", "--api", "https://tickets.example"])
        #expect(a.runAs == "nobody")
        #expect(a.timeout == TimeSpan(seconds: 5))
        #expect(a.every == TimeSpan.minutes(1))
        #expect(a.location.line == 1)
        #expect(a.commandLocation.line == 3)
        let rule = try #require(p.rule(named: "deploy"))
        #expect(rule.approvers == [.group("sre-leads"), .automation("ticket-check")])
        #expect(p.automations(of: rule).map(\.name) == ["ticket-check"])
        #expect(p.automationApprovers(rule) == ["@ticket-check"])
        // People only: the program is not someone to tell on a terminal.
        #expect(p.possibleApprovers(rule, system: FakeSystem()) == ["carol", "dave", "erin"])
    }

    @Test func defaultsAreNobodyTenSecondsAndOnce() throws {
        let (policy, diagnostics) = load(
            """
            [[automation]]
            name = "w"
            command = ["/usr/bin/true"]

            """ + Self.rule(approvers: #"["@w"]"#))
        #expect(onlySharedUserWarnings(diagnostics), "\(diagnostics.map(\.description))")
        let a = try #require(policy?.automation(named: "w"))
        #expect(a.runAs == "nobody")
        #expect(a.timeout == TimeSpan(seconds: 10))
        #expect(a.every == nil)
    }

    @Test func onePersonPlusTheProgramMakesTwoPossibleApprovals() {
        let (policy, diagnostics) = load(
            Self.automation + Self.rule(approvers: #"["erin", "@ticket-check"]"#, approvals: 2))
        #expect(onlySharedUserWarnings(diagnostics), "\(diagnostics.map(\.description))")
        #expect(policy != nil)
        // Three would need a second person: the program counts once.
        let (_, three) = load(Self.automation + Self.rule(approvers: #"["erin", "@ticket-check"]"#, approvals: 3))
        #expect(
            three.map(\.description).contains {
                $0.hasPrefix("policy.toml:")
                    && $0.contains("needs 3 approvals but only 2 possible approvers exist (erin, @ticket-check)")
            }, "\(three.map(\.description))")
    }

    @Test func theProgramMayBeTheOnlyApprover() throws {
        let (policy, diagnostics) = load(Self.automation + Self.rule(approvers: #"["@ticket-check"]"#))
        #expect(onlySharedUserWarnings(diagnostics), "\(diagnostics.map(\.description))")
        #expect(try #require(policy?.rule(named: "deploy")).approvers == [.automation("ticket-check")])
    }

    static let errors: [Expected] = [
        Expected(
            "an approver names no automation", "p.toml:6: error:",
            #"'approvers': "@nobody-here" names no [[automation]] (the policy has no [[automation]]); add one with name = "nobody-here""#,
            rule(approvers: #"["bob", "@nobody-here"]"#)),
        Expected(
            "an approver names another automation", "p.toml:12: error:",
            #"'approvers': "@ticket" names no [[automation]] (defined: @ticket-check)"#,
            automation + rule(approvers: #"["@ticket"]"#)),
        Expected(
            "run_as root", "p.toml:4: error:", "'run_as': automations run unprivileged",
            """
            [[automation]]
            name = "a"
            command = ["/usr/bin/true"]
            run_as = "root"
            """),
        Expected(
            "a relative program", "p.toml:3: error:", "the program \"ticket-check\" must be an absolute path",
            """
            [[automation]]
            name = "a"
            command = ["ticket-check"]
            """),
        Expected(
            "no command", "p.toml:1: error:", "[[automation]] is missing required key 'command'",
            """
            [[automation]]
            name = "a"
            """),
        Expected(
            "a name with a space", "p.toml:2: error:", "'name' \"ticket check\" must be letters, digits",
            """
            [[automation]]
            name = "ticket check"
            command = ["/usr/bin/true"]
            """),
        Expected(
            "a name starting with a dash", "p.toml:2: error:", "'name' \"-x\" must be letters, digits",
            """
            [[automation]]
            name = "-x"
            command = ["/usr/bin/true"]
            """),
        Expected(
            "a duplicate name", "p.toml:5: error:", "duplicate automation name 'a' (first defined at p.toml:1)",
            """
            [[automation]]
            name = "a"
            command = ["/usr/bin/true"]

            [[automation]]
            name = "a"
            command = ["/usr/bin/true"]
            """),
        Expected(
            "a timeout above five minutes", "p.toml:4: error:", "'timeout' 6m is longer than the most allowed, 5m",
            """
            [[automation]]
            name = "a"
            command = ["/usr/bin/true"]
            timeout = "6m"
            """),
        Expected(
            "an unknown key", "p.toml:4: error:", "unknown key 'evry' in [[automation]] (did you mean 'every'?)",
            """
            [[automation]]
            name = "a"
            command = ["/usr/bin/true"]
            evry = "1m"
            """),
        Expected(
            "an automation among users", "p.toml:3: error:",
            #"'users': "@a" names an automation; programs may only be among the approvers of a [[rule]]"#,
            """
            [[rule]]
            name = "r"
            users = ["@a"]
            commands = ["/usr/bin/true"]
            action = "allow"
            """),
        Expected(
            "an automation among admins", "p.toml:2: error:", #"'admins': "@a" names an automation"#,
            """
            [settings]
            admins = ["@a"]
            """),
        Expected(
            "an automation approving logins", "p.toml:3: error:", #"'approvers': "@a" names an automation"#,
            """
            [[login]]
            users = ["mallory"]
            approvers = ["@a"]
            """),
        Expected(
            "an empty automation name", "p.toml:6: error:", #"'approvers': "@" is not a user name or %group"#,
            rule(approvers: #"["@"]"#)),
    ]

    @Test(arguments: errors)
    func reportsTheMistakeAtItsLine(_ row: Expected) {
        let (policy, diagnostics) = load(row.toml, file: "p.toml")
        let hit = diagnostics.contains {
            $0.description.hasPrefix(row.prefix + " ") && $0.message.contains(row.fragment)
        }
        #expect(hit, "\(diagnostics.map(\.description))")
        #expect(policy == nil)
    }

    /// No diagnostic but the warning about automations running as nobody.
    func onlySharedUserWarnings(_ diagnostics: [Diagnostic]) -> Bool {
        diagnostics.allSatisfy { $0.severity == .warning && $0.message.contains("runs as nobody") }
    }

    @Test func automationsSharingAUserAreWarnedAbout() {
        var system = FakeSystem()
        system.users["jitexec-auto"] = "nogroup"
        system.users["jitexec-notify"] = "nogroup"
        let (policy, diagnostics) = load(
            """
            [notify]
            command = ["/usr/bin/true"]
            run_as = "jitexec-notify"

            [[automation]]
            name = "a"
            command = ["/usr/bin/true"]
            run_as = "jitexec-auto"

            [[automation]]
            name = "b"
            command = ["/usr/bin/true"]
            run_as = "jitexec-auto"

            [[automation]]
            name = "c"
            command = ["/usr/bin/true"]

            [[automation]]
            name = "d"
            command = ["/usr/bin/true"]
            run_as = "jitexec-notify"
            """, file: "p.toml", system: system)
        #expect(policy != nil)
        #expect(
            diagnostics.map(\.description) == [
                "p.toml:10: warning: automation 'b' runs as 'jitexec-auto' like automation 'a': one could read and trace the other's runs and answer for it; give each automation a user of its own (useradd --system --shell /usr/sbin/nologin NAME)",
                "p.toml:15: warning: automation 'c' runs as nobody, which other services share and which could read and trace its runs; give each automation a user of its own (useradd --system --shell /usr/sbin/nologin NAME)",
                "p.toml:19: warning: automation 'd' runs as 'jitexec-notify' like the notifier, which could read and trace its runs; give each automation a user of its own (useradd --system --shell /usr/sbin/nologin NAME)",
            ])
    }

    @Test func onlyAnAutomationSubjectMatchesAnAutomationPrincipal() {
        let principals: [Principal] = [.automation("robot")]
        #expect(Subject(automation: "robot").isIn(principals))
        #expect(!Subject(automation: "other").isIn(principals))
        // An account that happens to be called "@robot" is a person, never the program.
        #expect(!Subject(user: "@robot", groups: []).isIn(principals))
        // And the program is never a user or a group member.
        #expect(!Subject(automation: "robot").isIn([.user("@robot"), .group("staff")]))
        #expect(Principal(parsing: "@robot") == .automation("robot"))
        #expect(Principal.automation("robot").description == "@robot")
    }
}
