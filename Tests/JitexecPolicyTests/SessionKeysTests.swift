import JitexecPolicy
import Testing

@testable import JitexecPolicyTOML

/// `record`, `record_input`, `enforce_expiry` on rules with their `[settings]` defaults, and the sizes.
struct SessionKeysTests {
    static let rules = """
        [[rule]]
        name = "plain"
        users = ["alice"]
        commands = ["/usr/bin/ls"]
        action = "approve"
        approvers = ["bob"]

        [[rule]]
        name = "quiet"
        users = ["alice"]
        commands = ["/usr/bin/journalctl"]
        action = "approve"
        approvers = ["bob"]
        record = false
        enforce_expiry = false

        [[rule]]
        name = "open"
        users = ["alice"]
        commands = ["/usr/bin/true"]
        action = "allow"
        """

    @Test func rulesTakeTheSettingsDefaultsUnlessTheySetTheirOwn() throws {
        let (policy, diagnostics) = load(
            """
            [settings]
            record = true
            record_input = true
            enforce_expiry = true
            record_max = "512K"
            sessions_max = "2G"

            """ + Self.rules)
        #expect(diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics)")
        let rules = try #require(policy).rules
        #expect(rules.map(\.record) == [true, false, true])
        #expect(rules.map(\.recordInput) == [true, false, true])  // input only where there is a recording
        // An allow rule has no grant to end: the default does not apply to it.
        #expect(rules.map(\.enforceExpiry) == [true, false, false])
        #expect(policy?.settings.recordMax == 512 << 10)
        #expect(policy?.settings.sessionsMax == 2 << 30)
    }

    @Test func withoutSettingsNothingIsRecordedOrEnded() throws {
        let (policy, _) = load(Self.rules)
        let rules = try #require(policy).rules
        #expect(rules.allSatisfy { !$0.record && !$0.recordInput && !$0.enforceExpiry })
        #expect(policy?.settings.recordMax == 64 << 20)
        #expect(policy?.settings.sessionsMax == 1 << 30)
    }

    @Test(arguments: [
        ("64M", Int64(64) << 20), ("512K", Int64(512) << 10), ("1G", Int64(1) << 30), ("65536", Int64(65536)),
        ("", nil), ("M", nil), ("-5K", nil), ("1.5M", nil), ("64m", nil), ("99999999999999G", nil), ("2048G", nil),
    ])
    func sizes(text: String, bytes: Int64?) {
        #expect(SectionReader.parseSize(text) == bytes)
    }
}
