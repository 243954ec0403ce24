/// One byte stream decoded as UTF-8 across chunks: a sequence cut at the end of a chunk waits for
/// the rest in the next one, and bytes that are not UTF-8 become U+FFFD (one per maximal invalid
/// subpart, as `String(decoding:as:)` does for the whole stream).
struct UTF8Stream {
    /// The start of a sequence the last chunk ended in (at most 3 bytes).
    private(set) var carry: [UInt8] = []

    /// The complete characters of the carried bytes followed by `bytes`.
    mutating func decode(_ bytes: UnsafeRawBufferPointer) -> String {
        if carry.isEmpty { return decodeKeepingTail(bytes) }
        var joined = carry
        joined.append(contentsOf: bytes)
        return joined.withUnsafeBytes { decodeKeepingTail($0) }
    }

    /// What the carried bytes decode to when no more bytes come: U+FFFD, or "" when nothing waits.
    mutating func finish() -> String {
        defer { carry = [] }
        return String(decoding: carry, as: UTF8.self)
    }

    private mutating func decodeKeepingTail(_ bytes: UnsafeRawBufferPointer) -> String {
        let cut = Self.completeLength(bytes)
        carry = Array(bytes[cut...])
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<cut]), as: UTF8.self)
    }

    /// The length of `bytes` without a trailing sequence that is incomplete but could still become
    /// a character. A lead byte always starts a new character for the decoder, so decoding up to
    /// it and from it on separately gives the same text as decoding everything at once.
    static func completeLength(_ bytes: UnsafeRawBufferPointer) -> Int {
        let end = bytes.count
        var start = end - 1
        while start >= max(0, end - 3) {
            let lead = bytes[start]
            if lead & 0xC0 == 0x80 {
                start -= 1
                continue
            }
            let need = sequenceLength(lead)
            let have = end - start
            guard need > have else { return end }
            return have == 1 || isValidSecond(bytes[start + 1], after: lead) ? start : end
        }
        return end
    }

    /// How many bytes the sequence `lead` starts has (0 for a byte that cannot start one).
    private static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 0
        }
    }

    /// The second byte ranges that keep out overlong forms, surrogates and values above U+10FFFF.
    private static func isValidSecond(_ byte: UInt8, after lead: UInt8) -> Bool {
        switch lead {
        case 0xE0: (0xA0...0xBF).contains(byte)
        case 0xED: (0x80...0x9F).contains(byte)
        case 0xF0: (0x90...0xBF).contains(byte)
        case 0xF4: (0x80...0x8F).contains(byte)
        default: (0x80...0xBF).contains(byte)
        }
    }
}

/// JSON strings the way a recording writes them.
enum JSONText {
    /// `text` as a quoted JSON string: `"` and `\` escaped, control characters (C0 and DEL) as
    /// `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`, U+2028 and U+2029 as `\u2028` and `\u2029`
    /// (JavaScript readers end a line on them); everything else as its UTF-8.
    static func append(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x00..<0x20, 0x7F, 0x2028, 0x2029: appendEscape(UInt16(scalar.value), to: &out)
            case 0x20..<0x80: out.append(UInt8(scalar.value))
            default: out += UTF8.encode(scalar)!
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `\uXXXX` in lower-case hex.
    private static func appendEscape(_ unit: UInt16, to out: inout [UInt8]) {
        let digits = Array("0123456789abcdef".utf8)
        out += [0x5C, UInt8(ascii: "u")]
        for shift in stride(from: 12, through: 0, by: -4) { out.append(digits[Int(unit >> UInt16(shift)) & 0xF]) }
    }
}
