import Testing

@testable import JitexecBase

@Suite struct EscapeTests {
    @Test(arguments: [
        ("plain text", "plain text"),
        ("a\\b", "a\\\\b"),
        ("line\nbreak", "line\\nbreak"),
        ("\u{1b}[2J fake prompt", "\\x1b[2J fake prompt"),
        ("del\u{7f}", "del\\x7f"),
        ("caf\u{e9}", "caf\u{e9}"),
        ("rtl\u{202e}txt", "rtl\\u{202e}txt"),
        ("zero\u{200b}width", "zero\\u{200b}width"),
        ("c1\u{85}", "c1\\u{0085}"),
    ])
    func escapesControlAndFormatCharacters(input: String, expected: String) {
        #expect(Escape.text(input) == expected)
    }

    @Test(arguments: [
        "\u{00a0}", "\u{1680}", "\u{2000}", "\u{2007}", "\u{200a}", "\u{202f}", "\u{205f}", "\u{3000}",
        "\u{200b}", "\u{200c}", "\u{200d}", "\u{2060}", "\u{feff}", "\u{00ad}", "\u{034f}", "\u{180e}",
        "\u{fe0f}", "\u{e0041}", "\u{3164}", "\u{115f}", "\u{1160}", "\u{ffa0}", "\u{2800}", "\u{17b4}",
        "\u{061c}", "\u{200e}", "\u{202a}", "\u{202e}", "\u{2066}", "\u{2069}", "\u{0085}", "\u{009b}",
        "\u{2028}", "\u{2029}", "\u{fffe}",
    ])
    func invisibleAndBlankLookingCharactersAreEscaped(scalar: String) {
        let value = scalar.unicodeScalars.first!.value
        let hex = String(value, radix: 16)
        let code = String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        #expect(Escape.text("a\(scalar)b") == "a\\u{\(code)}b")
    }

    @Test(arguments: [
        ("e\u{301}", "e\u{301}"),  // a mark on a letter stays: é
        ("\u{915}\u{94d}\u{937}", "\u{915}\u{94d}\u{937}"),  // Devanagari conjunct
        ("\u{301}x", "\\u{0301}x"),  // at the start of the text
        ("a \u{301}", "a \\u{0301}"),  // after a space
        ("'\u{338}", "'\\u{0338}"),  // would change how a quote looks
        ("=\u{338}", "=\\u{0338}"),  // would turn = into ≠
        ("\u{1}\u{301}", "\\x01\\u{0301}"),  // would sit on the last digit of an escape
        ("\u{200b}\u{301}", "\\u{200b}\\u{0301}"),
    ])
    func combiningMarksShowOnlyOnAVisibleLetter(input: String, expected: String) {
        #expect(Escape.text(input) == expected)
    }

    @Test(arguments: [
        (["id"], "id"),
        (["/usr/bin/env", "A=b,c", "x@y:1%2+3", "_-./"], "/usr/bin/env A=b,c x@y:1%2+3 _-./"),
        (["echo", ""], "echo ''"),
        (["echo", "a b"], "echo 'a b'"),
        (["echo", "it's"], "echo 'it\\'s'"),
        (["echo", "a\\b"], "echo 'a\\\\b'"),
        (["echo", "$HOME", "*", "~", "a;b"], "echo '$HOME' '*' '~' 'a;b'"),
        (["echo", "caf\u{e9}"], "echo 'caf\u{e9}'"),
        (["echo", "x\u{a0}y", "\u{1b}[2J"], "echo 'x\\u{00a0}y' '\\x1b[2J'"),
        (["echo", "line\nbreak"], "echo 'line\\nbreak'"),
    ])
    func argvWordsAreBareOrSingleQuoted(argv: [String], expected: String) {
        #expect(Escape.argv(argv) == expected)
        #expect(Escape.argv(argv.map { UserText($0) }) == expected)
    }

    @Test func differentArgvNeverLookAlike() {
        #expect(Escape.argv(["id", "a b", "c"]) == "id 'a b' c")
        #expect(Escape.argv(["id", "a", "b c"]) == "id a 'b c'")
        #expect(Escape.argv(["id", "a' 'b"]) != Escape.argv(["id", "a", "b"]))
        #expect(Escape.argv(["x", "a\u{a0}b"]) != Escape.argv(["x", "a b"]))
        #expect(Escape.argv(["x", "\u{3164}"]) != Escape.argv(["x", ""]))
        #expect(Escape.argv(["x", ""]) != Escape.argv(["x"]))
    }

    /// The display of every argv reads back to that argv: two different argv cannot show alike.
    @Test func argvDisplayReadsBackExactly() {
        var rng = SplitMix(seed: 8)
        let alphabet: [[UInt8]] = [
            [0x20], [0x27], [0x5c], [0x61], [0x2d], [0x0a], [0x00], [0x7f], [0xff], [0xc3], [0xa9],
            Array("\u{301}".utf8), Array("\u{a0}".utf8), Array("\u{200b}".utf8), Array("\u{3164}".utf8),
            Array("\u{202e}".utf8), Array("x".utf8), Array("\\x41".utf8), Array("\\u{41}".utf8),
        ]
        for _ in 0..<5000 {
            let argv = (0..<Int(rng.next() % 4 + 1)).map { _ in
                (0..<Int(rng.next() % 6)).flatMap { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            }
            let shown = Escape.argv(argv.map { UserText(bytes: $0) })
            #expect(Escape.parseArgv(shown) == argv, "\(shown)")
        }
    }

    @Test func invalidUTF8BytesAreShownAsHex() {
        #expect(Escape.text([0x61, 0xff, 0xc3]) == "a\\xff\\xc3")
        // An overlong encoding of "/" is not valid UTF-8 and must not print as "/".
        #expect(Escape.text([0xc0, 0xaf]) == "\\xc0\\xaf")
    }

    @Test func userTextRoundTripsThroughJSONEvenWhenNotUTF8() throws {
        let raw = UserText(bytes: [0x66, 0xff, 0x00, 0x0a])
        #expect(raw.string == nil)
        #expect(UserText(json: raw.jsonValue) == raw)
        #expect(UserText(json: UserText("ok").jsonValue) == UserText("ok"))
    }

    @Test func canonicalJSONSortsKeysAndEscapesMinimally() throws {
        let v = JSONValue.object([
            "b": .int(-3), "a": .string("q\"\\\n\u{01}/é"), "c": .array([.null, .bool(true)]),
        ])
        #expect(v.canonical == #"{"a":"q\"\\\n\u0001/é","b":-3,"c":[null,true]}"#)
        #expect(try JSONValue.parse(v.canonical) == v)
    }

    @Test func printableJSONEscapesWhatATerminalWouldHide() throws {
        let v = JSONValue.object([
            "k\u{202e}": .string(
                "del\u{7f} c1\u{85}\u{9f} ls\u{2028} ps\u{2029} rlo\u{202e} zw\u{200b} tag\u{e0041} hf\u{3164}"),
            "plain": .array([.string("q\"\\\n\u{01}/é \u{a0}"), .int(1)]),
        ])
        #expect(
            v.printable
                == #"{"k\u202e":"del\u007f c1\u0085\u009f ls\u2028 ps\u2029 rlo\u202e zw\u200b tag\udb40\udc41 hf\u3164","#
                + #""plain":["q\"\\\n\u0001/é "# + "\u{a0}" + #"",1]}"#)
        #expect(try JSONValue.parse(v.printable) == v)
        for scalar in v.printable.unicodeScalars {
            #expect(scalar.value >= 0x20 && scalar.value != 0x7f && !(0x80...0x9f).contains(scalar.value))
            #expect(!scalar.properties.isDefaultIgnorableCodePoint && !scalar.properties.isBidiControl)
        }
    }

    /// `canonical` (written as bytes) on every kind of value: integers at their bounds, the
    /// escapes, raw non-ASCII, nesting, keys sorted by their bytes.
    @Test func canonicalTextOfEveryKindOfValue() throws {
        let cases: [(JSONValue, String)] = [
            (.null, "null"), (.bool(false), "false"), (.int(Int64.min), "-9223372036854775808"), (.int(0), "0"),
            (.string(""), #""""#), (.array([]), "[]"), (.object([:]), "{}"),
            (.string("q\"\\\n\u{01}\u{1f}/é \u{1F600}"), #""q\"\\\n\u0001\u001f/é "# + "\u{1F600}\""),
            (
                .object([
                    "z": .array([.int(-1), .string("\u{7f}\u{85}\u{2028}"), .object(["é": .null, "e": .bool(true)])]),
                    "a\tb": .string("x"), "": .int(9_223_372_036_854_775_807),
                ]),
                #"{"":9223372036854775807,"a\tb":"x","z":[-1,""# + "\u{7f}\u{85}\u{2028}" + #"",{"e":true,"é":null}]}"#
            ),
        ]
        for (value, text) in cases {
            #expect(value.canonical == text)
            #expect(try JSONValue.parse(value.canonical) == value)
        }
    }

    /// The audit chain hashes the canonical form: it must not change when the printed form does.
    @Test func canonicalJSONKeepsTheseCharactersRaw() {
        #expect(JSONValue.string("\u{7f}\u{85}\u{2028}\u{202e}").canonical == "\"\u{7f}\u{85}\u{2028}\u{202e}\"")
        #expect(JSONValue.string("plain \u{1}").printable == JSONValue.string("plain \u{1}").canonical)
    }
}

@Suite struct TimeTests {
    @Test func formatsAndParsesRFC3339() {
        #expect(RFC3339.format(seconds: 0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(micros: 1_795_919_401_000_042) == "2026-11-29T02:30:01.000042Z")
        #expect(RFC3339.parse("2026-11-29T02:30:01.000042Z") == 1_795_919_401_000_042)
        #expect(RFC3339.parse("2026-11-29T04:30:01+02:00") == 1_795_919_401_000_000)
        #expect(RFC3339.parse("2026-11-29") == nil)
        #expect(RFC3339.parse("2026-13-29T02:30:01Z") == nil)
    }
}

/// A small deterministic generator, so a failing case can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
