import Testing

@testable import JitexecPolicy

extension DiagnosticTests {
    /// The second half of the `check` findings (the first is in DiagnosticTests.swift).
    static let laterCases: [Expected] = [
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
            "url_file not absolute", "p.toml:3: error:", "'url_file' must be an absolute path",
            """
            [store]
            backend = "postgresql"
            url_file = "store.url"
            """),
        Expected(
            "record_input without record", "p.toml:1: error:", "has 'record_input = true' but does not record",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "allow"
            record_input = true
            """),
        Expected(
            "enforce_expiry on an allow rule", "p.toml:6: error:",
            "'enforce_expiry = true' needs a grant to end, but rule 'r' has action \"allow\"",
            """
            [[rule]]
            name = "r"
            users = ["alice"]
            commands = ["/usr/bin/ls"]
            action = "allow"
            enforce_expiry = true
            """),
        Expected(
            "record_max not a size", "p.toml:2: error:",
            "'record_max': \"lots\" is not a size (use e.g. 64M, 512K, 1G)",
            """
            [settings]
            record_max = "lots"
            """),
        Expected(
            "sessions_max too small", "p.toml:2: error:", "'sessions_max' must be at least 64K",
            """
            [settings]
            sessions_max = "1K"
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
}
