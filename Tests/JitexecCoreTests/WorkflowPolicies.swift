import JitexecPolicy
import JitexecPolicyTOML

@testable import JitexecCore

/// The policies of the workflow tests, written as TOML.
enum Policies {
    /// Loads a policy written as TOML (in this process: the texts are the tests' own).
    static func load(_ text: String) throws -> Policy {
        let (policy, diagnostics) = PolicyLoader.load(
            [PolicySource(path: "policy.toml", text: text)], system: FakeAccounts(), isolated: false)
        guard let policy else {
            throw TestFailure("the test policy does not load: \(diagnostics.map(\.description))")
        }
        return policy
    }

    static let settings = """
        [settings]
        request_ttl = "1h"
        default_grant = "15m"
        max_grant = "4h"
        admins = ["%jit-admins"]

        [oncall]
        group = "oncall"

        """

    /// One rule per shape of the workflow.
    static let rules = """
        [[rule]]
        name = "restarts"
        users = ["alice", "carol", "%developers"]
        commands = ["/usr/bin/systemctl restart *"]
        action = "approve"
        approvers = ["%sre-leads", "bob"]

        [[rule]]
        name = "reboots"
        users = ["alice"]
        commands = ["/usr/sbin/reboot"]
        action = "approve"
        approvers = ["%sre-leads", "bob"]
        approvals = 2

        [[rule]]
        name = "deploys"
        users = ["alice"]
        commands = ["/usr/local/bin/deploy **"]
        action = "approve"
        approvers = ["%sre-leads", "bob"]
        scope = "rule"

        [[rule]]
        name = "migrations"
        users = ["alice"]
        commands = ["/usr/local/bin/migrate **"]
        action = "approve"
        approvers = ["%sre-leads", "bob"]
        once = true

        [[rule]]
        name = "firewall"
        users = ["alice", "oscar"]
        commands = ["/usr/sbin/iptables **"]
        action = "approve"
        approvers = ["%sre-leads"]
        max_grant = "30m"
        reason = "required"
        reason_pattern = "^(INC|CHG)-[0-9]+"
        break_glass = true
        break_glass_max = "20m"

        [[login]]
        users = ["%contractors"]
        services = ["sshd"]
        approvers = ["%sre-leads"]
        max_grant = "8h"

        [[login]]
        users = ["%contractors"]
        services = ["login"]
        approvers = ["bob"]

        """

    static let standard = settings + rules
}
