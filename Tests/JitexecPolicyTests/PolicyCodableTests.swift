import FoundationEssentials
import JitexecBase
import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

/// jitexec reads the policy jitctl compiled to JSON: every value must survive the round trip.
@Suite struct PolicyCodableTests {
    @Test func compiledPolicyRoundTripsEveryKey() throws {
        let (loaded, diagnostics) = load(PolicyLoaderTests.specExample)
        #expect(diagnostics.isEmpty)
        let policy = try #require(loaded)
        let decoded = try JSONDecoder().decode(Policy.self, from: JSONEncoder().encode(policy))
        #expect(decoded == policy)
        #expect(decoded.rules[0].commands[0].matches(path: "/usr/bin/systemctl", args: ["restart", "nginx"]))
        #expect(decoded.oncall == policy.oncall && decoded.notify == policy.notify && decoded.logins == policy.logins)
    }

    @Test func diagnosticsRoundTrip() throws {
        let (_, diagnostics) = load("[settings]\nmax_grant = \"soon\"\n")
        let first = try #require(diagnostics.first)
        let decoded = try JSONDecoder().decode([Diagnostic].self, from: JSONEncoder().encode(diagnostics))
        #expect(decoded.first == first)
        #expect(
            decoded.first?.description
                == "policy.toml:2: error: 'max_grant': \"soon\" is not a duration (use e.g. 90s, 15m, 1h30m)")
    }
}
