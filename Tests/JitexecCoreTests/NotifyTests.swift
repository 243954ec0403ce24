import JitexecBase
import JitexecStore
import Testing

@testable import JitexecCore

/// Which records start the notification runner, what people read about them, and which terminal
/// names the runner will open.
@Suite struct NotifyTests {
    static let filed = AuditRecord(
        seq: 7, time: 0, host: "web1", event: "request.filed", actor: "alice",
        fields: [
            "request": .int(42), "rule": .string("restart"), "run_as": .string("root"), "host": .string("web1"),
            "command": .array([.string("/usr/bin/systemctl"), .string("restart"), .string("a b\u{1b}[2J")]),
            "reason": .string("INC-1 <!channel> \u{1b}[31mred\r\nfake$ "),
        ],
        prevHash: "", hash: "")

    @Test(arguments: [
        ("request.filed", Set<String>(), true),  // always: approver terminals
        ("breakglass.used", Set<String>(), true),  // always: the banner says the approvers are told
        ("request.approved", Set<String>(), false),
        ("request.approved", Set(["request.approved"]), true),
        ("exec.start", Set(["request.filed"]), false),
        ("notify.failed", Set(["notify.failed"]), false),  // never: no loops
    ])
    func runnerStartsForFiledRequestsAndConfiguredEventsOnly(event: String, configured: Set<String>, starts: Bool) {
        #expect(Notifications.startsRunner(event: event, configured: configured) == starts)
    }

    @Test func chatSummaryIsOneEscapedLineWithoutMentions() {
        let text = NotifyText.chat(Self.filed)
        #expect(text.hasPrefix("[jitexec web1] alice asks to run /usr/bin/systemctl restart 'a b\\x1b[2J' as root"))
        #expect(text.contains("(request #42, rule restart, reason: INC-1 &lt;!channel&gt; \\x1b[31mred\\r\\nfake$ )"))
        #expect(text.hasSuffix("; approve with 'jitctl approve 42'"))
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f })
        #expect(!text.contains("<") && !text.contains(">"))
    }

    @Test func plainSummaryKeepsAngleBracketsButStillEscapes() {
        let text = NotifyText.plain(Self.filed)
        #expect(text.contains("INC-1 <!channel> \\x1b[31mred"))
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 })
    }

    @Test func terminalMessageEscapesEveryUserPartAndEndsLinesWithCRLF() {
        let text = NotifyText.terminal(Self.filed)
        let lines = text.components(separatedBy: "\r\n")
        #expect(
            lines == [
                "",
                "jitexec: alice asks to run /usr/bin/systemctl restart 'a b\\x1b[2J' as root on web1 (request #42, rule restart)",
                "  reason: INC-1 <!channel> \\x1b[31mred\\r\\nfake$ ",
                "  'jitctl show 42' shows it; 'jitctl approve 42' or 'jitctl deny 42 -m WHY' decides it",
                "",
            ])
        #expect(!text.replacingCRLF.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f })
    }

    @Test func longReasonsAndCommandsAreShortened() {
        var record = Self.filed
        record.fields["reason"] = .string(String(repeating: "r", count: 5000))
        record.fields["command"] = .array([.string("/usr/bin/echo")] + Array(repeating: .string("word"), count: 2000))
        #expect(NotifyText.chat(record).count < 700)
        #expect(NotifyText.terminal(record).count < 800)
    }

    @Test func otherEventsReadAsOneLine() {
        let denied = AuditRecord(
            seq: 9, time: 0, host: "web1", event: "request.denied", actor: "bob",
            fields: [
                "request": .int(42), "requester": .string("alice"), "comment": .string("not now\n<@U1>"),
                "run_as": .string("root"), "host": .string("db1"), "scope": .string("command"),
                "command": .array([.string("/usr/bin/id"), .string("-u")]),
            ],
            prevHash: "", hash: "")
        #expect(
            NotifyText.chat(denied)
                == "[jitexec web1] request #42 of alice (/usr/bin/id -u as root on db1) denied by bob: not now\\n&lt;@U1&gt;"
        )
        let approved = AuditRecord(
            seq: 10, time: 0, host: "web1", event: "request.approved", actor: "bob",
            fields: [
                "request": .int(42), "grant": .int(3), "requester": .string("alice"), "run_as": .string("root"),
                "host": .string("web1"), "scope": .string("rule"), "rule": .string("deploys"),
                "expires_at": .string("2026-11-29T02:55:01Z"),
            ], prevHash: "", hash: "")
        // The zone is the host's; the unit tests run where it is UTC or another, so compare with LocalTime's.
        let until = LocalTime.format(RFC3339.parse("2026-11-29T02:55:01Z")!)
        #expect(
            NotifyText.chat(approved)
                == "[jitexec web1] request #42 of alice approved by bob: any command of rule 'deploys' as root on web1, grant #3 until \(until)"
        )
        let revoked = AuditRecord(
            seq: 11, time: 0, host: "web1", event: "grant.revoked", actor: "carol",
            fields: [
                "grant": .int(3), "user": .string("alice"), "run_as": .string("root"), "host": .string("web1"),
                "scope": .string("rule"), "rule": .string("deploys"),
                "rule_commands": .array([.string("/usr/bin/systemctl restart *"), .string("/usr/bin/true")]),
            ], prevHash: "", hash: "")
        #expect(
            NotifyText.plain(revoked)
                == "[jitexec web1] grant #3 of alice (any command of rule 'deploys': /usr/bin/systemctl restart *, /usr/bin/true as root on web1) revoked by carol"
        )
    }

    @Test(arguments: ["pts/3", "tty1", "ttyS0", "console", "pts/10"])
    func ordinaryTerminalNamesAreAccepted(line: String) {
        #expect(ApproverTerminals.isSafeLine(line))
    }

    @Test(arguments: [
        "", "/dev/pts/3", "../etc/passwd", "pts/../../etc/shadow", "pts/..", ".", "pts//3", "pts/3/", ":0",
        "a/b/c", "pts/3\n", "tty 1", String(repeating: "t", count: 40),
    ])
    func oddTerminalNamesAreRefused(line: String) {
        #expect(!ApproverTerminals.isSafeLine(line))
    }

    @Test func onlyApproversSafeLinesAreTargetedOnce() {
        let sessions = [
            ApproverTerminals.Session(user: "bob", line: "pts/1"),
            ApproverTerminals.Session(user: "bob", line: "pts/1"),
            ApproverTerminals.Session(user: "bob", line: "../tty1"),
            ApproverTerminals.Session(user: "alice", line: "pts/2"),
            ApproverTerminals.Session(user: "carol", line: "tty2"),
        ]
        #expect(
            ApproverTerminals.targets(sessions, users: ["bob", "carol"]) == [
                ApproverTerminals.Session(user: "bob", line: "pts/1"),
                ApproverTerminals.Session(user: "carol", line: "tty2"),
            ])
    }
}

extension String {
    fileprivate var replacingCRLF: String { components(separatedBy: "\r\n").joined() }
}
