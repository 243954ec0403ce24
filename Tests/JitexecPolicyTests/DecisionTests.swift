import JitexecBase
import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

@Suite struct DecisionTests {
    static let text = """
        [[rule]]
        name = "no-reboot"
        users = ["%developers"]
        commands = ["/usr/sbin/reboot"]
        action = "deny"

        [[rule]]
        name = "restarts"
        users = ["alice", "%developers"]
        commands = ["/usr/bin/systemctl restart *", "/usr/bin/systemctl reload nginx"]
        action = "approve"
        approvers = ["%sre-leads", "carol", "bob"]

        [[rule]]
        name = "read-logs"
        users = ["%staff"]
        run_as = ["%dbas", "nobody"]
        commands = ["/usr/bin/journalctl **"]
        action = "allow"
        hosts = ["db-*", "backup"]

        [[rule]]
        name = "true-anywhere"
        users = ["alice"]
        commands = ["/bin/true"]
        action = "allow"

        [[rule]]
        name = "reboot-for-zoe"
        users = ["alice", "zoe"]
        commands = ["/usr/sbin/reboot"]
        action = "allow"
        """

    let system = FakeSystem()
    let policy: Policy

    init() throws {
        let (policy, diagnostics) = load(Self.text)
        #expect(diagnostics.map(\.description) == ["policy.toml:30: warning: 'users': unknown user 'zoe'"])
        self.policy = try #require(policy)
    }

    func decide(
        _ user: String, _ groups: [String], as target: String = "root", host: String = "web-1",
        _ path: String, _ args: [String] = []
    ) -> (Decision, CommandPattern?) {
        let (decision, pattern) = policy.decide(
            subject: Subject(user: user, groups: groups),
            target: Subject(user: target, groups: system.groupsOfUser(target)), host: host, path: path,
            args: args.map { UserText($0) })
        return (decision, pattern)
    }

    @Test func firstMatchingRuleWins() {
        let (denied, pattern) = decide("alice", ["developers"], "/usr/sbin/reboot")
        #expect(denied == .deny(policy.rule(named: "no-reboot")))
        #expect(pattern?.source == "/usr/sbin/reboot")
        #expect(decide("zoe", ["visitors"], "/usr/sbin/reboot").0 == .allow(policy.rule(named: "reboot-for-zoe")!))
    }

    @Test func groupMembershipOfTheSubjectCounts() {
        let (decision, pattern) = decide("bob", ["staff", "developers"], "/usr/bin/systemctl", ["restart", "nginx"])
        #expect(decision == .approve(policy.rule(named: "restarts")!))
        #expect(pattern?.source == "/usr/bin/systemctl restart *")
        #expect(decide("bob", ["staff"], "/usr/bin/systemctl", ["restart", "nginx"]).0 == .deny(nil))
    }

    @Test func runAsAcceptsNamedUsersAndMembersOfGroups() {
        let logs = policy.rule(named: "read-logs")!
        #expect(decide("carol", ["staff"], as: "root", host: "db-1", "/usr/bin/journalctl", ["-f"]).0 == .allow(logs))
        #expect(decide("carol", ["staff"], as: "nobody", host: "db-1", "/usr/bin/journalctl").0 == .allow(logs))
        #expect(decide("carol", ["staff"], as: "alice", host: "db-1", "/usr/bin/journalctl").0 == .deny(nil))
        #expect(decide("alice", ["developers"], as: "bob", "/usr/bin/systemctl", ["reload", "nginx"]).0 == .deny(nil))
    }

    @Test func hostsMustMatch() {
        let logs = policy.rule(named: "read-logs")!
        #expect(decide("carol", ["staff"], host: "backup", "/usr/bin/journalctl").0 == .allow(logs))
        #expect(decide("carol", ["staff"], host: "web-1", "/usr/bin/journalctl").0 == .deny(nil))
        #expect(decide("carol", ["staff"], host: "backup-2", "/usr/bin/journalctl").0 == .deny(nil))
    }

    @Test func noMatchIsDenyWithoutRule() {
        let (decision, pattern) = decide("alice", ["developers"], "/usr/bin/ls", ["-l"])
        #expect(decision == .deny(nil))
        #expect(pattern == nil)
        #expect(decide("alice", ["developers"], "/usr/bin/systemctl", ["restart", "a", "b"]).0 == .deny(nil))
    }

    @Test func rulesMatchTheCanonicalPathAndArgumentCount() {
        let rule = policy.rule(named: "true-anywhere")!
        #expect(decide("alice", [], "/usr/bin/true").0 == .allow(rule))
        #expect(decide("alice", [], "/usr/bin/true", ["x"]).0 == .deny(nil))
        #expect(decide("alice", [], "/bin/true").0 == .deny(nil))
    }

    @Test func possibleApproversAreExpandedSortedAndUnique() {
        #expect(
            policy.possibleApprovers(policy.rule(named: "restarts")!, system: system) == [
                "bob", "carol", "dave", "erin",
            ])
        #expect(policy.possibleApprovers(policy.rule(named: "no-reboot")!, system: system) == [])
    }

    @Test func aDenyRuleForAGroupTargetMatchesThroughTheGroupsTheTargetCarries() throws {
        let (loaded, _) = load(
            """
            [[rule]]
            name = "not-as-dbas"
            users = ["alice"]
            run_as = ["%dbas"]
            commands = ["/bin/true"]
            action = "deny"

            [[rule]]
            name = "as-anyone-listed"
            users = ["alice"]
            run_as = ["%dbas", "nobody"]
            commands = ["/bin/true"]
            action = "allow"
            """)
        let policy = try #require(loaded)
        let alice = Subject(user: "alice", groups: ["developers"])
        // The decision asks no one: the target's groups are those its (refusing) lookup found.
        let inDbas = policy.decide(
            subject: alice, target: Subject(user: "nobody", groups: ["nogroup", "dbas"]), host: "h",
            path: "/usr/bin/true",
            args: [])
        #expect(inDbas.0 == .deny(policy.rule(named: "not-as-dbas")))
        let notInDbas = policy.decide(
            subject: alice, target: Subject(user: "nobody", groups: ["nogroup"]), host: "h", path: "/usr/bin/true",
            args: []
        )
        #expect(notInDbas.0 == .allow(try #require(policy.rule(named: "as-anyone-listed"))))
    }
}

/// `jitexec -g GROUP`: only a rule whose `run_as_groups` names the group lets a run take it.
@Suite struct RunAsGroupTests {
    @Test func aGroupIsAllowedOnlyWhereRunAsGroupsNamesIt() throws {
        let (loaded, diagnostics) = load(
            """
            [[rule]]
            name = "logs-as-adm"
            users = ["alice"]
            run_as_groups = ["adm"]
            commands = ["/usr/bin/journalctl **"]
            action = "allow"

            [[rule]]
            name = "logs"
            users = ["alice"]
            commands = ["/usr/bin/journalctl **", "/bin/true"]
            action = "allow"
            """)
        #expect(diagnostics.isEmpty)
        let policy = try #require(loaded)
        func decide(_ path: String, group: String?) -> Decision {
            policy.decide(
                subject: Subject(user: "alice", groups: ["alice"]), target: Subject(user: "root", groups: ["root"]),
                host: "web1", path: path, args: [], group: group
            ).0
        }
        #expect(decide("/usr/bin/journalctl", group: "adm") == .allow(policy.rule(named: "logs-as-adm")!))
        #expect(decide("/usr/bin/journalctl", group: nil) == .allow(policy.rule(named: "logs-as-adm")!))
        #expect(decide("/usr/bin/journalctl", group: "shadow") == .deny(nil))
        #expect(decide("/usr/bin/true", group: "adm") == .deny(nil))
        #expect(decide("/usr/bin/true", group: nil) == .allow(policy.rule(named: "logs")!))
    }
}

/// `jitctl check`'s "never reached" warning knows sudoedit's files and run_as_groups.
@Suite struct ShadowingTests {
    func warnings(_ text: String) -> [String] {
        load(text).1.map(\.description).filter { $0.contains("never reached") }
    }

    @Test func aStarWithinOneDirectoryDoesNotShadowAFileBelowIt() {
        #expect(
            warnings(
                """
                [[rule]]
                name = "etc"
                users = ["alice"]
                commands = ["sudoedit /etc/*"]
                action = "allow"

                [[rule]]
                name = "nginx"
                users = ["alice"]
                commands = ["sudoedit /etc/nginx/nginx.conf"]
                action = "allow"
                """
            ).isEmpty)
        #expect(
            warnings(
                """
                [[rule]]
                name = "nginx-all"
                users = ["alice"]
                commands = ["sudoedit /etc/nginx/*.conf /etc/hosts"]
                action = "allow"

                [[rule]]
                name = "nginx"
                users = ["alice"]
                commands = ["sudoedit /etc/nginx/nginx.conf"]
                action = "allow"
                """
            ).count == 1)
    }

    @Test func aLaterRuleWithMoreRunAsGroupsIsReached() {
        #expect(
            warnings(
                """
                [[rule]]
                name = "logs"
                users = ["alice"]
                commands = ["/usr/bin/journalctl **"]
                action = "allow"

                [[rule]]
                name = "logs-as-adm"
                users = ["alice"]
                run_as_groups = ["adm"]
                commands = ["/usr/bin/journalctl **"]
                action = "allow"
                """
            ).isEmpty)
    }
}
