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
