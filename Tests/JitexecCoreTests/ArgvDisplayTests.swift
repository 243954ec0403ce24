import JitexecBase
import JitexecStore
import Testing

@testable import JitexecCore

/// How argv reads wherever a person sees it: the log table and notifications.
@Suite struct ArgvDisplayTests {
    static func record(_ argv: [String]) -> AuditRecord {
        AuditRecord(
            seq: 1, time: 0, host: "web1", event: "request.filed", actor: "alice",
            fields: [
                "request": .int(1), "rule": .string("r"), "run_as": .string("root"),
                "command": .array(argv.map { .string($0) }),
            ],
            prevHash: "", hash: "")
    }

    @Test func logTableTellsApartArgvThatJoinAlike() {
        let one = LogCommand.display(.array(["id", "a b", "c"].map { .string($0) }))
        let two = LogCommand.display(.array(["id", "a", "b c"].map { .string($0) }))
        #expect(one == "[id 'a b' c]")
        #expect(two == "[id a 'b c']")
        #expect(LogCommand.row(Self.record(["id", "a b", "c"])) != LogCommand.row(Self.record(["id", "a", "b c"])))
    }

    @Test func logTableShowsInvisibleCharactersAndBytesThatAreNotUTF8() {
        #expect(LogCommand.display(.array([.string("x\u{3164}"), .string("\u{a0}")])) == #"['x\u{3164}' '\u{00a0}']"#)
        #expect(LogCommand.display(UserText(bytes: [0x61, 0xff]).jsonValue) == #"a\xff"#)
        #expect(LogCommand.display(.array([UserText(bytes: [0x61, 0xff, 0x20]).jsonValue])) == #"['a\xff ']"#)
    }

    @Test func notificationsTellApartArgvThatJoinAlike() {
        #expect(NotifyText.command(Self.record(["id", "a b", "c"])) == "id 'a b' c")
        #expect(NotifyText.command(Self.record(["id", "a", "b c"])) == "id a 'b c'")
        #expect(NotifyText.command(Self.record(["echo", "x\u{200b}"])) == #"echo 'x\u{200b}'"#)
    }
}
