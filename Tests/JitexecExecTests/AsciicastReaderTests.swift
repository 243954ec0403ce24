import Testing

@testable import JitexecExec

extension AsciicastTests {
    /// The reader `jitctl replay` and `sessions` use, and the follower of `jitctl attach`.
    @Suite struct ReaderTests {
        static let header = #"{"version": 2, "width": 80, "height": 24, "timestamp": 1700000000, "env": {}}"#

        static func parse(_ text: String, partialTail: Bool = false) throws(AsciicastError) -> Asciicast {
            try Asciicast.parse(Array(text.utf8), partialTail: partialTail)
        }

        @Test func readsWhatAsciinemaWrites() throws {
            // asciinema's own header: a float idle time, a theme object, null env values, no title.
            let cast = try Self.parse(
                """
                {"version": 2, "width": 213, "height": 56, "timestamp": 1598000000, "idle_time_limit": 2.5, \
                "env": {"SHELL": null, "TERM": "xterm-256color"}, \
                "theme": {"fg": "#d0d0d0", "palette": "#000:#111"}, "x": [1, {"a": [true, false, null, -0.5e3]}]}
                [0.248848, "o", "\\u001b[1;31mHello \\ud83d\\ude00\\r\\n"]
                [1.001376, "i", "ls\\r"]
                [2.5, "r", "100x50"]
                [3, "m", ""]

                """)
            #expect(
                cast.header
                    == Asciicast.Header(
                        width: 213, height: 56, timestamp: 1_598_000_000, title: nil, env: ["TERM": "xterm-256color"]))
            #expect(
                cast.events == [
                    .init(time: 0.248848, kind: "o", data: "\u{1B}[1;31mHello 😀\r\n"),
                    .init(time: 1.001376, kind: "i", data: "ls\r"), .init(time: 2.5, kind: "r", data: "100x50"),
                    .init(time: 3, kind: "m", data: ""),
                ])
        }

        @Test(
            "a file that is not asciicast v2 is refused",
            arguments: [
                ("", AsciicastError.empty),
                ("garbage\n", .malformed(line: 1, reason: "a JSON value expected at byte 1")),
                ("nul\n", .malformed(line: 1, reason: "the line ends where 'l' should be")),
                ("[0.1, \"o\", \"x\"]\n", .malformed(line: 1, reason: "the header is not an object")),
                (#"{"version": 1, "width": 80, "height": 24}"# + "\n", .unsupportedVersion(1)),
                (#"{"width": 80, "height": 24}"# + "\n", .malformed(line: 1, reason: "the header has no version")),
                (
                    #"{"version": 2, "width": 80.5, "height": 24}"# + "\n",
                    .malformed(line: 1, reason: "the header's width is not a terminal size")
                ),
                (
                    #"{"version": 2, "width": 80, "height": 24, "version": 2}"# + "\n",
                    .malformed(line: 1, reason: "the key \"version\" appears twice")
                ),
                (header + "\n{}\n", .malformed(line: 2, reason: "an event is not a [time, kind, data] array")),
                (header + "\n[1, \"o\"]\n", .malformed(line: 2, reason: "an event is not a [time, kind, data] array")),
                (
                    header + "\n[-1, \"o\", \"x\"]\n",
                    .malformed(line: 2, reason: "the event time is not a number of seconds")
                ),
                (header + "\n[1, \"o\", 5]\n", .malformed(line: 2, reason: "the event kind or data is not a string")),
                (
                    header + "\n[1, \"o\", \"x\"] x\n",
                    .malformed(line: 2, reason: "unexpected text after the JSON value")
                ),
                (
                    header + "\n[1, \"o\", \"a\tb\"]\n",
                    .malformed(line: 2, reason: "a control character inside a string")
                ),
                (header + "\n[1, \"o\", \"\\x\"]\n", .malformed(line: 2, reason: "an unknown escape \\x")),
                (header + "\n[01, \"o\", \"x\"]\n", .malformed(line: 2, reason: "',' expected at byte 3")),
                (header + "\n[1e999, \"o\", \"x\"]\n", .malformed(line: 2, reason: "the number 1e999 is too large")),
                (
                    header + "\n" + String(repeating: "[", count: 40) + "\n",
                    .malformed(line: 2, reason: "JSON nested deeper than 32 levels")
                ),
            ] as [(String, AsciicastError)])
        func garbageIsRefused(text: String, error: AsciicastError) {
            #expect(throws: error) { try Self.parse(text) }
        }

        @Test func stringsThatAreNotUTF8AreRefused() {
            let bytes = Array((Self.header + "\n[1, \"o\", \"").utf8) + [0xFF] + Array("\"]\n".utf8)
            #expect(throws: AsciicastError.malformed(line: 2, reason: "a string is not valid UTF-8")) {
                try Asciicast.parse(bytes)
            }
        }

        @Test func loneSurrogateEscapeBecomesReplacementCharacter() throws {
            let cast = try Self.parse(Self.header + "\n[1, \"o\", \"a\\ud800b\\udc00\"]\n")
            #expect(cast.events.map(\.data) == ["a\u{FFFD}b\u{FFFD}"])
        }

        @Test func cutLastLineIsAnErrorUnlessTheFileIsStillBeingWritten() throws {
            let text = Self.header + "\n[1, \"o\", \"done\"]\n[2, \"o\", \"hal"
            #expect(throws: AsciicastError.truncated(line: 3)) { try Self.parse(text) }
            #expect(try Self.parse(text, partialTail: true).events.map(\.data) == ["done"])
            // A header still being written is no recording yet.
            #expect(throws: AsciicastError.empty) { try Self.parse("{\"version\": 2, \"wid", partialTail: true) }
            // A complete last line whose newline is missing cannot be told from a cut one.
            #expect(throws: AsciicastError.truncated(line: 2)) { try Self.parse(Self.header + "\n[1, \"o\", \"x\"]") }
        }

        @Test(
            "the follower returns the same events whatever the pieces the file is read in",
            arguments: [1, 2, 3, 5, 7, 16, 64, 1 << 20])
        func followerReadsAnySplit(piece: Int) throws {
            let recording = try Recording()
            defer { recording.close() }
            for (n, text) in ["ls\r\n", "héllo 😀", "\u{1B}]0;title\u{7}", "\"quoted\" \\ \u{2028}", "€"].enumerated() {
                recording.clock.now = .milliseconds(250 * n)
                try recording.writer.output(Array(text.utf8))
                try recording.writer.input(Array(text.utf8))
            }
            try recording.writer.resize(width: 120, height: 30)
            let bytes = recording.bytes
            let whole = try Asciicast.parse(bytes)

            var follower = AsciicastFollower()
            var events: [Asciicast.Event] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + piece)
                events += try follower.feed(bytes[start..<end])
                if end < bytes.count { #expect(follower.header != nil || !bytes[..<end].contains(0x0A)) }
                start = end
            }
            #expect(!follower.hasPartialLine)
            #expect(follower.header == whole.header)
            #expect(events == whole.events)
            #expect(events.count == 11)
        }

        @Test func followerKeepsFailingAfterAnError() throws {
            var follower = AsciicastFollower()
            #expect(try follower.feed(Array((Self.header + "\n[1, \"o\", \"a\"]\n").utf8)).count == 1)
            let error = AsciicastError.malformed(line: 3, reason: "an event is not a [time, kind, data] array")
            #expect(throws: error) { try follower.feed(Array("[]\n".utf8)) }
            #expect(throws: error) { try follower.feed(Array("[2, \"o\", \"b\"]\n".utf8)) }
        }
    }

    /// What replay and attach print of the recorded output.
    @Suite struct TerminalFilterTests {
        static let esc = "\u{1B}"

        @Test(
            "what would make the watcher's terminal answer, or change more than the screen, is dropped",
            arguments: [
                ("a\(esc)]52;c;cm0gLXJmIH4K\u{7}b", "ab"),  // OSC 52: write the clipboard
                ("\(esc)]0;pwned\(esc)\\x", "x"),  // set the title, ST-terminated
                ("\(esc)]8;;http://evil\(esc)\\link\(esc)]8;;\(esc)\\", "link"),  // hyperlink
                ("\(esc)P+q544e\(esc)\\", ""),  // DCS: XTGETTCAP request
                ("\(esc)_apc\u{7}\(esc)^pm\u{7}\(esc)Xsos\(esc)\\", ""),  // APC, PM, SOS
                ("\(esc)[6n", ""),  // cursor position report
                ("\(esc)[5n", ""),  // status report
                ("\(esc)[21t\(esc)[14t\(esc)[8;1;1t", ""),  // title report, size report, resize
                ("\(esc)[c\(esc)[>c\(esc)[=c", ""),  // device attributes
                ("\(esc)[?25$p\(esc)[>q\(esc)[?u\(esc)[x\(esc)[5i", ""),  // mode, version, keyboard, media copy
                ("\(esc)c\(esc)Z\(esc)%@\(esc)#8", ""),  // reset, identify, leave UTF-8, screen test
                ("\u{9B}6n", "6n"),  // C1 CSI: the control goes, what follows is text
                ("\u{9D}0;t\u{9C}", "0;t"),  // C1 OSC and ST
                ("a\u{7}b\u{0}c\u{7F}d\u{1A}e\u{5}", "abcde"),  // BEL, NUL, DEL, SUB, ENQ
                ("\(esc)[3\n1m", "\n1m"),  // a CSI cut by a control is dropped
                ("\(esc)\(esc)[31m", "\(esc)[31m"),  // ESC ESC: the first one goes
            ])
        func unsafeIsDropped(input: String, expected: String) {
            #expect(TerminalFilter.safe(input) == expected)
        }

        @Test(
            "what only draws is kept",
            arguments: [
                "\(esc)[1;31mred\(esc)[0m \(esc)[38;2;10;20;30mrgb\(esc)[m",
                "\(esc)[2J\(esc)[H\(esc)[10;5H\(esc)[K\(esc)[3A\(esc)[2P\(esc)[1;24r",
                "\(esc)[?1049h\(esc)[?25l\(esc)[?2004h\(esc)[?1049l",
                "\(esc)7\(esc)8\(esc)(B\(esc)(0qqq\(esc)(B\(esc)=\(esc)>\(esc)M",
                "\(esc)[2 q\(esc)[!p",
                "tab\there\r\nback\u{8}space héllo 😀 \u{2028}",
            ])
        func drawingIsKept(input: String) {
            #expect(TerminalFilter.safe(input) == input)
        }

        @Test func sequencesCutBetweenChunksAreHeldOrDropped() {
            var filter = TerminalFilter()
            #expect(filter.feed("a\(Self.esc)]52;c;") == "a")
            #expect(filter.feed("cm0gLXJm") == "")
            #expect(filter.feed("IH4K\u{7}b") == "b")
            #expect(filter.feed("x\(Self.esc)") == "x")
            #expect(filter.feed("[31") == "")
            #expect(filter.feed("mred\(Self.esc)[6") == "\(Self.esc)[31mred")
            #expect(filter.feed("n!") == "!")
            #expect(filter.feed("\(Self.esc)]0;title\(Self.esc)") == "")
            #expect(filter.feed("\\ok") == "ok")
            // Never terminated: dropped to the end.
            #expect(TerminalFilter.safe("a\(Self.esc)]0;title and more text") == "a")
            #expect(TerminalFilter.safe("a\(Self.esc)[12;") == "a")
        }

        @Test func overlongSequenceIsDroppedWhole() {
            let long = "\(Self.esc)[" + String(repeating: "1;", count: 100) + "mtext"
            #expect(TerminalFilter.safe(long) == "text")
        }

        @Test func plainKeepsOnlyText() {
            let text = "\(Self.esc)[1mbold\(Self.esc)[0m\r\nline\rover\t\(Self.esc)]0;t\u{7}end\u{8}\(Self.esc)7!\u{9B}"
            #expect(TerminalFilter.plain(text) == "bold\nlineover\tend!")
            var filter = TerminalFilter(.plain)
            #expect(filter.feed("a\r") + filter.feed("\nb\(Self.esc)[3") + filter.feed("1mc") == "a\nbc")
        }
    }
}
