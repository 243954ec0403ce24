/// Escaping of user-controlled text before a person sees it (terminal, syslog, tables), so that no
/// one can paint a fake prompt or hide text on an approver's screen.
public enum Escape {
    /// Printable ASCII stays; a backslash becomes `\\`; `\n`, `\r`, `\t` become those two-character
    /// escapes; other C0 controls, DEL and bytes that are not valid UTF-8 become `\xNN`; Unicode
    /// controls, format characters (bidi overrides, zero-width), line/paragraph separators and
    /// unassigned or private-use scalars become `\u{XXXX}`. Everything else prints as itself.
    public static func text(_ bytes: [UInt8]) -> String {
        var out = ""
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                out += ascii(b)
                i += 1
                continue
            }
            if let (scalar, length) = decodeScalar(bytes, at: i) {
                out += isSafe(scalar) ? String(Character(scalar)) : "\\u{\(hex(scalar.value, width: 4))}"
                i += length
            } else {
                out += "\\x\(hex(UInt32(b), width: 2))"
                i += 1
            }
        }
        return out
    }

    public static func text(_ s: String) -> String { text(Array(s.utf8)) }

    private static func ascii(_ b: UInt8) -> String {
        switch b {
        case UInt8(ascii: "\\"): return "\\\\"
        case 0x0a: return "\\n"
        case 0x0d: return "\\r"
        case 0x09: return "\\t"
        case 0x20...0x7e: return String(UnicodeScalar(b))
        default: return "\\x\(hex(UInt32(b), width: 2))"
        }
    }

    private static func isSafe(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .unassigned, .privateUse, .surrogate:
            return false
        default:
            return true
        }
    }

    /// Decodes one well-formed UTF-8 scalar of 2–4 bytes starting at `i`, or nil.
    private static func decodeScalar(_ b: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = b[i]
        let length: Int
        var value: UInt32
        switch lead {
        case 0xc2...0xdf: length = 2; value = UInt32(lead & 0x1f)
        case 0xe0...0xef: length = 3; value = UInt32(lead & 0x0f)
        case 0xf0...0xf4: length = 4; value = UInt32(lead & 0x07)
        default: return nil
        }
        guard i + length <= b.count else { return nil }
        for k in 1..<length {
            let c = b[i + k]
            guard c & 0xc0 == 0x80 else { return nil }
            value = value << 6 | UInt32(c & 0x3f)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }

    private static func hex(_ v: UInt32, width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
