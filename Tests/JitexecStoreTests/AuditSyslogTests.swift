import JitexecBase
import Testing

@testable import JitexecStore

@Suite struct AuditSyslogTests {
    @Test func lineHasSeqEventActorHashThenSortedFields() {
        let record = AuditRecord(
            seq: 7, time: Sample.now, host: "web1", event: "exec.start", actor: "alice",
            fields: ["zeta": .int(1), "argv": .array([.string("/bin/echo"), .string("hi there")]), "grant": .int(3)],
            prevHash: AuditChain.genesisHash, hash: "abc123")
        #expect(
            AuditSyslog.line(record)
                == #"seq=7 event=exec.start actor=alice hash=abc123 argv=["/bin/echo","hi there"] grant=3 zeta=1"#)
    }

    @Test func noControlCharacterReachesSyslog() {
        let record = AuditRecord(
            seq: 1, time: Sample.now, host: "web1", event: "request.filed", actor: "eve\u{1b}[2J\nroot",
            fields: [
                "reason": .string("fix\nAPPROVED by admin\r\u{7f}\u{202e}"),
                "key\nx": .string("v"),
                "raw": UserText(bytes: [0x1b, 0xff, 0x00]).jsonValue,
            ],
            prevHash: AuditChain.genesisHash, hash: "h")
        let line = AuditSyslog.line(record)
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f || $0.value == 0x202e })
        #expect(line.hasPrefix(#"seq=1 event=request.filed actor=eve\x1b[2J\nroot hash=h "#))
        #expect(line.contains(#"reason="fix\\nAPPROVED by admin\\r\x7f\u{202e}""#))
    }

    @Test func sendingNeverFailsTheCaller() {
        // No syslog daemon is needed: delivery problems are syslog's, never the caller's.
        let record = AuditRecord(
            seq: 1, time: Sample.now, host: "web1", event: "test.syslog", actor: "jitexec-tests",
            fields: ["percent": .string("%s %n %x")], prevHash: AuditChain.genesisHash, hash: "h")
        AuditSyslog.send(record)
        AuditSyslog.send(record)
        #expect(AuditSyslog.line(record).hasSuffix(#"percent="%s %n %x""#))
    }
}
