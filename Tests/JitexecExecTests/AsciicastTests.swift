import Glibc
import Testing

@testable import JitexecExec

/// Session recordings: the asciicast v2 writer, the reader and follower, and the terminal filter
/// that replay and attach print through.
@Suite struct AsciicastTests {
    /// A time source the test moves by hand.
    final class Clock {
        var now = Duration.zero
    }

    /// A writer over an unlinked temporary file; `bytes` reads the file back.
    struct Recording {
        let fd: Int32
        let clock: Clock
        let writer: AsciicastWriter

        init(limit: Int64 = 1 << 20, title: String? = "jitexec: id", env: [String: String] = ["TERM": "xterm"])
            throws(RecordingError)
        {
            var template = Array("/tmp/jitexec-cast-test-XXXXXX".utf8CString)
            fd = mkstemp(&template)
            precondition(fd >= 0)
            unlink(template)
            let clock = Clock()
            self.clock = clock
            writer = try AsciicastWriter(
                fd: fd, limit: limit, width: 100, height: 40, timestamp: 1_700_000_000, title: title, env: env,
                elapsed: { clock.now })
        }

        var bytes: [UInt8] {
            lseek(fd, 0, SEEK_SET)
            return Fixture.readAll(fd)
        }

        var text: String { String(decoding: bytes, as: UTF8.self) }

        func parsed() throws -> Asciicast { try Asciicast.parse(bytes) }

        func close() { _ = Glibc.close(fd) }
    }

    /// The size of a header with the default fields, which the limit tests build on.
    static func headerSize() throws -> Int64 {
        let recording = try Recording()
        defer { recording.close() }
        return recording.writer.size
    }

    @Test func headerCarriesTheSessionFields() throws {
        let recording = try Recording(title: "jitexec: \"id\"", env: ["TERM": "xterm-256color", "SHELL": "/bin/bash"])
        defer { recording.close() }
        #expect(
            recording.text == """
                {"version": 2, "width": 100, "height": 40, "timestamp": 1700000000, "title": "jitexec: \\"id\\"", \
                "env": {"SHELL": "/bin/bash", "TERM": "xterm-256color"}}\n
                """)
        #expect(recording.writer.size == Int64(recording.bytes.count))
        let header = try recording.parsed().header
        #expect(
            header
                == Asciicast.Header(
                    width: 100, height: 40, timestamp: 1_700_000_000, title: "jitexec: \"id\"",
                    env: ["TERM": "xterm-256color", "SHELL": "/bin/bash"]))
    }

    @Test func headerWithoutTitleLeavesItOut() throws {
        let recording = try Recording(title: nil, env: [:])
        defer { recording.close() }
        #expect(
            recording.text
                == "{\"version\": 2, \"width\": 100, \"height\": 40, \"timestamp\": 1700000000, \"env\": {}}\n")
        #expect(try recording.parsed().header.title == nil)
    }

    @Test func charactersSplitAcrossChunksRoundTrip() throws {
        let recording = try Recording()
        defer { recording.close() }
        let text = Array("héllo 😀 €\n".utf8)
        // Every chunk boundary falls inside a multibyte character at least once.
        for (n, byte) in text.enumerated() {
            recording.clock.now = .milliseconds(n)
            let before = recording.writer.size
            try recording.writer.output([byte])
            // A byte that leaves a character unfinished writes nothing.
            #expect(
                (recording.writer.size == before) == (byte >= 0xC0 || n + 1 < text.count && text[n + 1] & 0xC0 == 0x80))
        }
        try recording.writer.output(UnsafeRawBufferPointer(start: nil, count: 0))
        try recording.writer.finish()
        let events = try recording.parsed().events
        #expect(events.map(\.data).joined() == "héllo 😀 €\n")
        #expect(events.allSatisfy { $0.kind == "o" && !$0.data.contains("\u{FFFD}") })
        #expect(events.contains { $0.data == "😀" })
        #expect(events.count == "héllo 😀 €\n".count)
    }

    @Test func outputAndInputAreDecodedSeparately() throws {
        let recording = try Recording()
        defer { recording.close() }
        try recording.writer.output([0xE2])
        try recording.writer.input(Array("y".utf8))
        try recording.writer.output([0x82, 0xAC])
        try recording.writer.resize(width: 80, height: 24)
        let events = try recording.parsed().events
        #expect(events.map { "\($0.kind):\($0.data)" } == ["i:y", "o:€", "r:80x24"])
    }

    @Test(
        "bytes that are not UTF-8 become U+FFFD",
        arguments: [
            ([[0x61, 0xFF, 0x62]], "a\u{FFFD}b"),
            ([[0xC0, 0xAF]], "\u{FFFD}\u{FFFD}"),  // overlong
            ([[0xED, 0xA0, 0x80]], "\u{FFFD}\u{FFFD}\u{FFFD}"),  // surrogate
            ([[0xE2, 0x82], [0x41]], "\u{FFFD}A"),  // cut short, then ASCII
            ([[0xE0], [0x80, 0x41]], "\u{FFFD}\u{FFFD}A"),  // an impossible second byte
            ([[0xF0, 0x9F, 0x98]], "\u{FFFD}"),  // cut short at the end: finish
        ] as [([[UInt8]], String)])
    func invalidBytesBecomeReplacementCharacters(chunks: [[UInt8]], expected: String) throws {
        let recording = try Recording()
        defer { recording.close() }
        for chunk in chunks { try recording.writer.output(chunk) }
        try recording.writer.finish()
        #expect(try recording.parsed().events.map(\.data).joined() == expected)
    }

    @Test func quotesControlsAndLineSeparatorsAreEscaped() throws {
        let recording = try Recording()
        defer { recording.close() }
        let text = "\"\\\u{1B}[0m\u{0}\u{7F}\u{2028}\u{2029}\n\r\t\u{8}\u{C}é/"
        try recording.writer.output(Array(text.utf8))
        let lines = recording.text.split(separator: "\n")
        #expect(
            lines.last
                == #"[0.000000, "o", "\"\\\u001b[0m\u0000\u007f\u2028\u2029\n\r\t\b\fé/"]"#)
        #expect(try recording.parsed().events.map(\.data) == [text])
    }

    @Test func timesAreSecondsWithMicrosecondsAndNeverGoBack() throws {
        let recording = try Recording()
        defer { recording.close() }
        for now: Duration in [.seconds(1), .milliseconds(500), .nanoseconds(2_000_001_999), .seconds(-5)] {
            recording.clock.now = now
            try recording.writer.output(Array("x".utf8))
        }
        let times = recording.text.split(separator: "\n").dropFirst().map { $0.prefix { $0 != "," } }
        #expect(times == ["[1.000000", "[1.000000", "[2.000001", "[2.000001"])
        #expect(try recording.parsed().events.map(\.time) == [1, 1, 2.000001, 2.000001])
    }

    @Test(
        "an event that fits the limit exactly is written; one byte more is refused and nothing is written",
        arguments: [0, 1] as [Int64])
    func limitIsTheWholeFileSize(overBy: Int64) throws {
        let event: Int64 = 21  // [0.000000, "o", "x"]\n
        let limit = try Self.headerSize() + event - overBy
        let recording = try Recording(limit: limit)
        defer { recording.close() }
        let header = recording.bytes
        if overBy == 0 {
            try recording.writer.output(Array("x".utf8))
            #expect(recording.writer.size == limit)
            #expect(Int64(recording.bytes.count) == limit)
        } else {
            #expect(throws: RecordingError.limit(limit)) { try recording.writer.output(Array("x".utf8)) }
            #expect(recording.bytes == header)
        }
        let written = recording.bytes
        // Full (or refused once): every later call throws, even one that would write nothing.
        #expect(throws: RecordingError.limit(limit)) { try recording.writer.output(Array("y".utf8)) }
        #expect(throws: RecordingError.limit(limit)) { try recording.writer.output([UInt8]()) }
        #expect(throws: RecordingError.limit(limit)) { try recording.writer.resize(width: 1, height: 1) }
        #expect(throws: RecordingError.limit(limit)) { try recording.writer.finish() }
        #expect(recording.bytes == written)
        #expect(recording.writer.size == Int64(written.count))
    }

    @Test func headerLargerThanTheLimitIsRefused() {
        #expect(throws: RecordingError.limit(64)) { try Recording(limit: 64) }
    }

    @Test func writeErrorIsReportedAndLatched() throws {
        let recording = try Recording()
        defer { recording.close() }
        // The writer's descriptor now refers to /dev/full: every write fails with ENOSPC.
        let full = open("/dev/full", O_WRONLY | O_CLOEXEC)
        try #require(full >= 0)
        dup2(full, recording.fd)
        close(full)
        let size = recording.writer.size
        #expect(throws: RecordingError.write(ENOSPC)) { try recording.writer.output(Array("x".utf8)) }
        #expect(throws: RecordingError.write(ENOSPC)) { try recording.writer.resize(width: 1, height: 1) }
        #expect(recording.writer.size == size)
    }

    @Test func errorsReadWellForPeople() {
        #expect(RecordingError.limit(64 << 20).description == "the session recording reached record_max (64 MiB)")
        #expect(RecordingError.limit(3 << 30).description == "the session recording reached record_max (3 GiB)")
        #expect(RecordingError.limit(65_537).description == "the session recording reached record_max (65537 bytes)")
        #expect(
            RecordingError.write(ENOSPC).description
                == "the session recording could not be written (No space left on device)")
    }
}
