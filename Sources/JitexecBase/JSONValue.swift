/// A JSON value with one canonical serialization: object keys sorted by their UTF-8 bytes, no
/// insignificant whitespace, integers only, and the minimal string escapes. The audit chain hashes
/// this form, so it must never change between versions.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The canonical text.
    public var canonical: String { text(printable: false) }

    /// What `--json` prints: the canonical text, except that every character a terminal or an
    /// editor would hide, reorder or break a line on (DEL, C1 controls, U+2028, U+2029, bidi
    /// controls, Default_Ignorable code points) is a `\uXXXX` escape (a surrogate pair above
    /// U+FFFF). It parses back to the same value; the audit hash keeps using `canonical`.
    public var printable: String { text(printable: true) }

    /// Written as UTF-8 bytes and made a String once: a String append for each piece cost about
    /// 350 instructions, and the audit records of a run made about 200 of them.
    private func text(printable: Bool) -> String {
        var out: [UInt8] = []
        write(to: &out, printable: printable)
        return String(decoding: out, as: UTF8.self)
    }

    private func write(to out: inout [UInt8], printable: Bool) {
        switch self {
        case .null: out += "null".utf8
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .int(let i): out.appendUTF8(String(i))
        case .string(let s): JSONValue.writeString(s, to: &out, printable: printable)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (n, v) in a.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                v.write(to: &out, printable: printable)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (n, key) in o.keys.sorted(by: JSONValue.keyOrder).enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(key, to: &out, printable: printable)
                out.append(UInt8(ascii: ":"))
                o[key]!.write(to: &out, printable: printable)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Keys compare by their UTF-8 bytes, which is stable whatever the locale or Unicode version.
    public static func keyOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    package static func writeString(_ s: String, to out: inout String, printable: Bool = false) {
        // Most strings need no escape: copied whole (the same text the loop below writes).
        if !printable, !needsEscape(s) {
            out += "\""
            out += s
            out += "\""
            return
        }
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (printable && isHidden(scalar)) {
                    for unit in scalar.utf16 { out += "\\u" + hex4(unit) }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// The text of string `s` appended as UTF-8 bytes (canonical: the audit hash's input).
    package static func writeString(_ s: String, to out: inout [UInt8], printable: Bool = false) {
        guard printable || needsEscape(s) else {
            out.append(UInt8(ascii: "\""))
            out.appendUTF8(s)
            out.append(UInt8(ascii: "\""))
            return
        }
        var text = ""
        writeString(s, to: &text, printable: printable)
        out.appendUTF8(text)
    }

    /// Whether `s` holds a byte the canonical text escapes (C0 controls, quote, backslash).
    private static func needsEscape(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { bytes in
            for b in bytes where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { return true }
            return false
        }
    }

    /// Scalars `printable` escapes besides C0: DEL, C1 controls, the line and paragraph
    /// separators (JavaScript line breaks), bidi controls and Default_Ignorable code points.
    private static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v == 0x7f || (0x80...0x9f).contains(v) || v == 0x2028 || v == 0x2029 { return true }
        if v < 0xa0 { return false }
        let p = scalar.properties
        return p.isBidiControl || p.isDefaultIgnorableCodePoint
    }

    /// Four lower-case hex digits.
    private static func hex4(_ unit: UInt16) -> String {
        let h = String(unit, radix: 16)
        return String(repeating: "0", count: 4 - h.count) + h
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var intValue: Int64? { if case .int(let i) = self { return i } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o } else { return nil } }
}

extension [UInt8] {
    /// Appends the string's UTF-8 bytes in one copy.
    package mutating func appendUTF8(_ s: String) {
        var s = s
        s.withUTF8 { append(contentsOf: $0) }
    }
}
