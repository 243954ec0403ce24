import JitexecBase
import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

/// jitexec reads the policy jitctl compiled to JSON (`PolicyCoding`): every value must survive the
/// round trip, and what does not read is refused, never half-read.
@Suite struct PolicyCodableTests {
    func roundTrip(_ policy: Policy) throws -> Policy {
        try Policy(json: try JSONFields(try JSONReader.parse(Array(policy.json.canonical.utf8)[...])))
    }

    @Test func compiledPolicyRoundTripsEveryKey() throws {
        let (loaded, diagnostics) = load(PolicyLoaderTests.specExample)
        #expect(diagnostics.isEmpty)
        let policy = try #require(loaded)
        let decoded = try roundTrip(policy)
        #expect(decoded == policy)
        #expect(decoded.rules[0].commands[0].matches(path: "/usr/bin/systemctl", args: ["restart", "nginx"]))
        #expect(decoded.oncall == policy.oncall && decoded.notify == policy.notify && decoded.logins == policy.logins)
    }

    @Test func everyOptionalAndEveryKindOfValueRoundTrips() throws {
        var policy = Policy()
        policy.settings.admins = [.user("ada"), .group("jit-admins")]
        policy.settings.recordMax = 1 << 40
        policy.rules = [
            Rule(
                name: "r\u{e9}\"\\", users: [.group("dev")], runAs: [.user("root"), .group("dbas")],
                commands: [
                    CommandPattern(source: "/bin/x *", path: "/bin/x", args: ["*"], anyRest: true),
                    CommandPattern(
                        source: "/opt/*/run", path: "/opt/*/run", pathIsGlob: true, args: [], anyRest: false),
                ], action: .approve, approvers: [.group("leads"), .automation("robot")], approvals: 2,
                maxGrant: .minutes(30), reasonRequired: true, reasonPattern: "^CHG-[0-9]+", scope: .rule, once: true,
                hosts: ["web*"], breakGlass: true, breakGlassMax: TimeSpan(seconds: 90), record: true,
                recordInput: true, enforceExpiry: true, runAsGroups: ["adm"],
                location: SourceLocation(file: "/etc/jitexec/policy.d/a b.toml", line: 12)),
            Rule(name: "plain", users: [.user("alice")], commands: [], action: .deny),
        ]
        var oncall = OnCall(group: "oncall", schedule: "/etc/jitexec/oncall.toml", command: ["/bin/who", "-x"])
        oncall.shifts = [Shift(user: "bob", from: Instant(micros: -5), to: Instant(micros: 1_800_000_000_000_000))]
        oncall.scheduleProblem = "line 3: no user"
        policy.oncall = oncall
        policy.logins = [LoginRule(users: [.group("contractors")], approvers: [.user("bob")], maxGrant: .hours(8))]
        policy.notify = Notify(command: ["/usr/bin/true"], runAs: "nobody", timeout: TimeSpan(seconds: 3))
        policy.store = StoreConfig(backend: .postgresql, urlFile: "/etc/jitexec/store.url")
        policy.automations = [
            Automation(
                name: "robot", command: ["/usr/libexec/x", "--y"], runAs: "robot", timeout: .minutes(5),
                every: .minutes(1), location: SourceLocation(file: "p", line: 3),
                commandLocation: SourceLocation(file: "p", line: 5))
        ]
        policy.files = ["/etc/jitexec/policy.toml", "/etc/jitexec/policy.d/a b.toml"]
        #expect(try roundTrip(policy) == policy)
        #expect(try roundTrip(Policy()) == Policy())
    }

    @Test func diagnosticsRoundTrip() throws {
        let (_, diagnostics) = load("[settings]\nmax_grant = \"soon\"\n")
        let first = try #require(diagnostics.first)
        let decoded = try Diagnostic(json: try JSONFields(try JSONReader.parse(Array(first.json.canonical.utf8)[...])))
        #expect(decoded == first)
        #expect(
            decoded.description
                == "policy.toml:2: error: 'max_grant': \"soon\" is not a duration (use e.g. 90s, 15m, 1h30m)")
    }

    @Test func whatDoesNotReadIsRefused() throws {
        var json = Policy().json
        guard case .object(var top) = json else { return }
        top["rules"] = .string("no")
        json = .object(top)
        #expect(throws: JSONReader.Failure.self) {
            try Policy(json: try JSONFields(try JSONReader.parse(Array(json.canonical.utf8)[...])))
        }
        top["rules"] = .array([])
        top.removeValue(forKey: "settings")
        #expect(throws: JSONReader.Failure.self) {
            try Policy(json: try JSONFields(try JSONReader.parse(Array(JSONValue.object(top).canonical.utf8)[...])))
        }
        // A span over the longest a policy may give is refused, as `TimeSpan.parse` would.
        #expect(throws: JSONReader.Failure.self) {
            try TimeSpan(json: try JSONReader.parse(Array("9223372036854775807".utf8)[...]))
        }
        #expect(try TimeSpan(json: try JSONReader.parse(Array("3600".utf8)[...])) == .hours(1))
    }
}
