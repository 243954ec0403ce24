import JitexecBase
import Testing

@Suite struct HexTests {
    @Test func encodesLowerCaseAndDecodesEitherCase() {
        #expect(Hex.encode([0x00, 0x9f, 0xa0, 0xff]) == "009fa0ff")
        #expect(Hex.decode("009FA0ff") == [0x00, 0x9f, 0xa0, 0xff])
        #expect(Hex.decode("0") == nil)
        #expect(Hex.decode("0g") == nil)
    }

    /// What verify compares a stored hash with: only the exact lower-case hex of the digest.
    @Test func matchesOnlyTheExactLowerCaseHex() {
        let bytes: [UInt8] = [0x00, 0x9f, 0xa0, 0xff]
        func matches(_ hex: String) -> Bool {
            bytes.withUnsafeBytes { raw in Array(hex.utf8).withUnsafeBytes { Hex.matches(raw, hex: $0) } }
        }
        #expect(matches("009fa0ff"))
        for other in ["009FA0FF", "009fa0f", "009fa0ff0", "009fa0fe", "109fa0ff", "", "009fa0f\u{0}"] {
            #expect(!matches(other), "\(other)")
        }
        #expect([UInt8]().withUnsafeBytes { raw in [UInt8]().withUnsafeBytes { Hex.matches(raw, hex: $0) } })
    }
}
