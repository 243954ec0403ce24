/// Escaping of user-controlled text before a person sees it (terminal, syslog, tables), so that no
/// one can paint a fake prompt or hide text on an approver's screen.
public enum Escape {
    /// Printable ASCII stays; a backslash becomes `\\`; `\n`, `\r`, `\t` become those two-character
    /// escapes; other C0 controls, DEL and bytes that are not valid UTF-8 become `\xNN`. A Unicode
    /// scalar becomes `\u{XXXX}` (lower-case hex, at least 4 digits) when it is invisible or looks
    /// blank (see `isShown`), and when it is a combining mark that has no visible letter or digit
    /// of its own to sit on (see `isMark`). Everything else prints as itself.
    public static func text(_ bytes: [UInt8]) -> String {
        bytes.allSatisfy(isPlain) ? String(decoding: bytes, as: UTF8.self) : text(bytes, quote: false)
    }

    /// Most text (event names, hashes, JSON written by jitexec) is plain ASCII and comes back as
    /// it is, without a copy.
    public static func text(_ s: String) -> String {
        s.utf8.allSatisfy(isPlain) ? s : text(Array(s.utf8), quote: false)
    }

    /// Printable ASCII other than the backslash: shown as itself by `text` wherever it is.
    private static func isPlain(_ b: UInt8) -> Bool { b >= 0x20 && b <= 0x7e && b != UInt8(ascii: "\\") }

    /// An argv shown to a person as one line: each word as `word(_:)` shows it, one space between
    /// words. Different argv never show alike (`id 'a b' c` is not `id a 'b c'`), so what an
    /// approver reads is exactly one command.
    public static func argv(_ words: [UserText]) -> String { words.map { word($0.bytes) }.joined(separator: " ") }

    public static func argv(_ words: [String]) -> String { words.map { word(Array($0.utf8)) }.joined(separator: " ") }

    /// One argv word: bare when it is not empty and made only of `A-Za-z0-9 _ - . , / : = @ % +`;
    /// otherwise in single quotes, with `\'` for a quote inside and the escapes of `text(_:)`
    /// (`\\` for a backslash), so a quoted word never contains a bare quote and always ends at
    /// the first one.
    public static func word(_ bytes: [UInt8]) -> String {
        if !bytes.isEmpty && bytes.allSatisfy(isBare) { return String(decoding: bytes, as: UTF8.self) }
        return "'" + text(bytes, quote: true) + "'"
    }

    public static func word(_ s: String) -> String { word(Array(s.utf8)) }

    /// The bytes a word may be shown without quotes: none of them is a space, a quote, a
    /// backslash, a shell metacharacter or anything outside printable ASCII.
    private static func isBare(_ b: UInt8) -> Bool {
        isAlphanumeric(b) || "_-.,/:=@%+".utf8.contains(b)
    }

    /// `text`, and with `quote` a `'` becomes `\'` (the inside of a single-quoted argv word).
    /// Written as UTF-8 bytes and made a String once: appending a String for each byte cost
    /// syslog's three lines a run about 200,000 instructions (callgrind).
    private static func text(_ bytes: [UInt8], quote: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        // Whether the last thing written was a letter, digit or mark shown as itself: only such a
        // base may carry a combining mark shown as itself.
        var base = false
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                if quote && b == UInt8(ascii: "'") {
                    out += [UInt8(ascii: "\\"), UInt8(ascii: "'")]
                } else {
                    appendASCII(b, to: &out)
                }
                base = isAlphanumeric(b)
                i += 1
                continue
            }
            if let (scalar, length) = decodeScalar(bytes, at: i) {
                let shown = isMark(scalar) ? base && isShown(scalar) : isShown(scalar)
                if shown {
                    out += bytes[i..<i + length]  // well-formed UTF-8 (decodeScalar): the scalar's own bytes
                } else {
                    out += Array("\\u{\(hex(scalar.value, width: 4))}".utf8)
                }
                base = shown && isBase(scalar)
                i += length
            } else {
                appendHexEscape(b, to: &out)
                base = false
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendASCII(_ b: UInt8, to out: inout [UInt8]) {
        switch b {
        case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
        case 0x0a: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
        case 0x0d: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
        case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
        case 0x20...0x7e: out.append(b)
        default: appendHexEscape(b, to: &out)
        }
    }

    /// `\xNN`, lower-case hex.
    private static func appendHexEscape(_ b: UInt8, to out: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { hex in
            out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 0x0f)]]
        }
    }

    /// Whether a non-ASCII scalar may print as itself: not a control (C1), format (bidi controls,
    /// zero-width), separator, unassigned, private-use or surrogate scalar; not Default_Ignorable
    /// (terminals draw nothing for those: U+200B, U+2060, variation selectors, U+3164, U+115F,
    /// U+1160, U+FFA0, tags...); not whitespace (every Unicode space looks like the ASCII space
    /// or like nothing: U+00A0, U+2000–U+200A, U+3000...); not a bidi control; not a blank glyph
    /// (U+2800 BRAILLE PATTERN BLANK and the Hangul fillers).
    static func isShown(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        switch p.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .spaceSeparator, .unassigned, .privateUse,
            .surrogate:
            return false
        default:
            break
        }
        if p.isDefaultIgnorableCodePoint || p.isWhitespace || p.isBidiControl || p.isNoncharacterCodePoint {
            return false
        }
        return !blankGlyphs.contains(s.value)
    }

    /// Scalars that draw as an empty cell whatever the Unicode version of the library says about
    /// them: the Hangul fillers (also Default_Ignorable) and the blank braille pattern.
    private static let blankGlyphs: Set<UInt32> = [0x115f, 0x1160, 0x2800, 0x3164, 0xffa0]

    /// Combining marks attach to whatever was drawn before them. At the start of the text, after
    /// a space, a punctuation mark or an escape they would change how a quote, a space or the last
    /// character of `\u{...}` looks, so they are shown as themselves only after a letter, digit
    /// or mark that was itself shown as itself ("e\u{301}" stays "é", "\u{301}x" is escaped).
    private static func isMark(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// A letter, digit or mark: something a following combining mark may sit on.
    private static func isBase(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default:
            return false
        }
    }

    private static func isAlphanumeric(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return false
        }
    }

    /// Decodes one well-formed UTF-8 scalar of 2–4 bytes starting at `i`, or nil.
    private static func decodeScalar(_ b: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = b[i]
        let length: Int
        var value: UInt32
        switch lead {
        case 0xc2...0xdf:
            length = 2
            value = UInt32(lead & 0x1f)
        case 0xe0...0xef:
            length = 3
            value = UInt32(lead & 0x0f)
        case 0xf0...0xf4:
            length = 4
            value = UInt32(lead & 0x07)
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

extension Escape {
    /// The argv that `argv(_:)` showed as `shown`, or nil when `shown` is not such a line. It is
    /// the proof that the display is unambiguous: tests and fuzz-escape check that every argv
    /// comes back byte for byte. Nothing in jitexec reads argv back from a display.
    public static func parseArgv(_ shown: String) -> [[UInt8]]? {
        let s = Array(shown.unicodeScalars)
        var words: [[UInt8]] = []
        var i = 0
        while i < s.count {
            if !words.isEmpty {
                guard s[i] == " " else { return nil }
                i += 1
            }
            var word: [UInt8] = []
            if i < s.count, s[i] == "'" {
                i += 1
                while true {
                    guard i < s.count else { return nil }
                    let c = s[i]
                    i += 1
                    if c == "'" { break }
                    if c != "\\" {
                        word += Array(String(c).utf8)
                        continue
                    }
                    guard i < s.count, let (bytes, used) = unescape(s, at: i) else { return nil }
                    word += bytes
                    i += used
                }
            } else {
                while i < s.count, s[i] != " " {
                    guard s[i].isASCII, isBare(UInt8(s[i].value)) else { return nil }
                    word.append(UInt8(s[i].value))
                    i += 1
                }
                guard !word.isEmpty else { return nil }
            }
            words.append(word)
        }
        return words
    }

    /// The bytes of the escape whose letter is at `s[i]` (just after the backslash), and how many
    /// scalars it used.
    private static func unescape(_ s: [Unicode.Scalar], at i: Int) -> ([UInt8], Int)? {
        switch s[i] {
        case "\\": return ([UInt8(ascii: "\\")], 1)
        case "'": return ([UInt8(ascii: "'")], 1)
        case "n": return ([0x0a], 1)
        case "r": return ([0x0d], 1)
        case "t": return ([0x09], 1)
        case "x":
            guard i + 2 < s.count, let b = UInt8(String(String.UnicodeScalarView(s[i + 1...i + 2])), radix: 16)
            else { return nil }
            return ([b], 3)
        case "u":
            guard i + 1 < s.count, s[i + 1] == "{", let close = s[(i + 2)...].firstIndex(of: "}"),
                let v = UInt32(String(String.UnicodeScalarView(s[(i + 2)..<close])), radix: 16),
                let scalar = Unicode.Scalar(v)
            else { return nil }
            return (Array(String(scalar).utf8), close - i + 1)
        default:
            return nil
        }
    }
}
