import Testing

@testable import JitexecBase

/// The strict JSON reader: what it accepts and what it refuses, including the fast paths for
/// strings without escapes and for integers.
@Suite struct JSONReaderTests {
    static func parse(_ text: String) throws(JSONReader.Failure) -> JSONItem { try parse(Array(text.utf8)) }
    static func parse(_ bytes: [UInt8]) throws(JSONReader.Failure) -> JSONItem { try JSONReader.parse(bytes[...]) }

    static func string(_ text: String) throws -> String {
        guard case .string(let s) = try parse(text) else { throw JSONReader.Failure(reason: "not a string") }
        return s
    }

    static func number(_ text: String) throws -> (Double, Int64?) {
        guard case .number(let d, let i) = try parse(text) else { throw JSONReader.Failure(reason: "not a number") }
        return (d, i)
    }

    @Test(arguments: [
        (#""plain""#, "plain"),
        (#""""#, ""),
        (#""caf\u00e9 \u2603""#, "caf\u{e9} \u{2603}"),
        (#""tab\there \"quoted\" back\\slash \/""#, "tab\there \"quoted\" back\\slash /"),
        (#""\ud83d\ude00""#, "\u{1F600}"),
        (#""lone \ud83d high""#, "lone \u{FFFD} high"),
        (#""lone \ude00 low""#, "lone \u{FFFD} low"),
        (#""\ud83d\u0041""#, "\u{FFFD}A"),
        ("\"caf\u{e9} raw \u{1F600}\"", "caf\u{e9} raw \u{1F600}"),
        (
            "\"a longer string than a small string holds, with no escape in it\"",
            "a longer string than a small string holds, with no escape in it"
        ),
    ])
    func decodesStrings(json: String, expected: String) throws {
        #expect(try Self.string(json) == expected)
    }

    @Test(
        arguments: [
            [0x22, 0xff, 0x22],  // not UTF-8
            [0x22, 0x61, 0xc3, 0x22],  // a sequence cut short
            [0x22, 0xf0, 0x9f, 0x98, 0x41, 0x22],  // three bytes of four, then ASCII
            [0x22, 0xed, 0xa0, 0x80, 0x22],  // a surrogate encoded in UTF-8
            [0x22, 0xc0, 0xaf, 0x22],  // an overlong "/"
            [0x22, 0x5c, 0x6e, 0xff, 0x22],  // after an escape
        ] as [[UInt8]])
    func refusesStringsThatAreNotUTF8(bytes: [UInt8]) {
        #expect(throws: JSONReader.Failure.self) { try Self.parse(bytes) }
    }

    @Test(arguments: ["\"a\u{01}b\"", "\"line\nbreak\"", "\"\\q\"", "\"open", "\"\\u12\"", "\"\\ud83d\\u12\""])
    func refusesMalformedStrings(json: String) {
        #expect(throws: JSONReader.Failure.self) { try Self.parse(json) }
    }

    @Test func aControlCharacterIsNamedEvenAfterBadUTF8() {
        #expect(throws: JSONReader.Failure.self) { try Self.parse([0x22, 0xff, 0x01, 0x22]) }
        do {
            _ = try Self.parse([0x22, 0xff, 0x01, 0x22])
        } catch {
            #expect(error.reason == "a control character inside a string")
        }
    }

    @Test func integersKeepTheirExactValue() throws {
        #expect(try Self.number("0") == (0, 0))
        #expect(try Self.number("42") == (42, 42))
        #expect(try Self.number("-17") == (-17, -17))
        #expect(try Self.number("9223372036854775807") == (9.223372036854775807e18, Int64.max))
        #expect(try Self.number("-9223372036854775808") == (-9.223372036854775808e18, Int64.min))
        #expect(try Self.number("9007199254740993") == (9_007_199_254_740_992, 9_007_199_254_740_993))
    }

    @Test func integersBeyondInt64AreNumbersWithoutAnInteger() throws {
        #expect(try Self.number("9223372036854775808") == (9.223372036854775808e18, nil))
        #expect(try Self.number("-9223372036854775809") == (-9.223372036854775809e18, nil))
        #expect(try Self.number("123456789012345678901234567890") == (1.2345678901234568e29, nil))
    }

    @Test func minusZeroIsNegativeZero() throws {
        let (value, integer) = try Self.number("-0")
        #expect(value == 0 && value.sign == .minus && integer == 0)
    }

    @Test func fractionsAndExponentsHaveNoInteger() throws {
        #expect(try Self.number("1.5") == (1.5, nil))
        #expect(try Self.number("-2e3") == (-2000, nil))
        #expect(try Self.number("1E+2") == (100, nil))
        #expect(try Self.number("1.0") == (1, nil))
    }

    @Test(arguments: ["01", "-", "1.", ".5", "1e", "+1", "1e400", "--1", "0x10"])
    func refusesMalformedNumbers(json: String) {
        #expect(throws: JSONReader.Failure.self) { try Self.parse(json) }
    }

    @Test func readsObjectsAndArrays() throws {
        let item = try Self.parse(#" { "a" : [1, "two", true, false, null, {}], "b": {"c": []} } "#)
        guard case .object(let top) = item, case .array(let a)? = top["a"], case .object(let b)? = top["b"] else {
            Issue.record("not the shape written")
            return
        }
        #expect(top.count == 2 && a.count == 6 && b.count == 1)
        guard case .string("two") = a[1], case .bool(true) = a[2], case .null = a[4], case .object(let e) = a[5] else {
            Issue.record("not the elements written")
            return
        }
        #expect(e.isEmpty)
    }

    @Test(arguments: [#"{"a":1,"a":2}"#, #"{"a":1,"b":2,"a":3}"#, #"{"x":{"k":1,"k":1}}"#])
    func refusesDuplicateKeys(json: String) {
        do {
            _ = try Self.parse(json)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.reason.hasSuffix("appears twice"), "\(error.reason)")
        }
    }

    @Test(arguments: [#"{"a":1,}"#, #"{"a" 1}"#, #"{a:1}"#, "[1,]", "[1 2]", "{} x", "", "tru", "nul"])
    func refusesMalformedStructure(json: String) {
        #expect(throws: JSONReader.Failure.self) { try Self.parse(json) }
    }

    @Test func refusesNestingDeeperThanTheLimit() {
        let deep =
            String(repeating: "[", count: JSONReader.maxDepth + 1)
            + String(repeating: "]", count: JSONReader.maxDepth + 1)
        #expect(throws: JSONReader.Failure.self) { try Self.parse(deep) }
        let ok = String(repeating: "[", count: JSONReader.maxDepth) + String(repeating: "]", count: JSONReader.maxDepth)
        #expect(throws: Never.self) { try Self.parse(ok) }
    }
}

/// `String(validUTF8:)` against the standard library's own validation.
@Suite struct ValidUTF8Tests {
    @Test(
        arguments: [
            [], [0x41], Array("caf\u{e9}".utf8), Array("\u{1F600}".utf8), [0xff], [0xc3], [0xe2, 0x82],
            [0xf0, 0x9f, 0x98, 0x41], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xef, 0xbf, 0xbd], [0xf4, 0x90, 0x80, 0x80],
            [0x41, 0x00, 0x42], Array("mixed \u{e9} and \u{ff}".utf8) + [0x80],
        ] as [[UInt8]])
    func agreesWithTheStandardLibrary(bytes: [UInt8]) {
        #expect(String(validUTF8: bytes) == String(validating: bytes, as: UTF8.self))
    }

    @Test func everyTwoByteInputAgrees() {
        for first in 0...255 {
            for second in 0...255 {
                let bytes = [UInt8(first), UInt8(second)]
                if String(validUTF8: bytes) != String(validating: bytes, as: UTF8.self) {
                    Issue.record("differs on \(bytes)")
                    return
                }
            }
        }
    }
}
