/// Text that a user controls (an argv word, a reason, a comment, a cwd, a tty name), kept as the
/// exact bytes the user gave. argv on Linux is bytes, not Unicode: matching, storing and executing
/// all use these bytes, so what an approver approved is byte for byte what runs. Use `escaped` to
/// show it to a person and `jsonValue` to put it in JSON.
public struct UserText: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    /// Copies a NUL-terminated C string.
    public init(cString: UnsafePointer<CChar>) {
        self.bytes = Array(UnsafeRawBufferPointer(start: cString, count: strlenPortable(cString)))
    }

    /// The text when it is valid UTF-8, nil otherwise.
    public var string: String? { String(validUTF8: bytes) }
    /// The text with invalid bytes replaced by U+FFFD. For matching or storage use `bytes`.
    public var lossy: String { String(decoding: bytes, as: UTF8.self) }
    public var isEmpty: Bool { bytes.isEmpty }
    /// Safe to print on a terminal or in syslog: see `Escape.text`.
    public var escaped: String { Escape.text(bytes) }
    /// One argv word for a person: bare or single-quoted, see `Escape.word`.
    public var quoted: String { Escape.word(bytes) }
    public var description: String { escaped }

    /// A JSON string when the bytes are valid UTF-8; otherwise `{"hex": "..."}` so that no byte is lost.
    public var jsonValue: JSONValue {
        if let s = string { return .string(s) }
        return .object(["hex": .string(Hex.encode(bytes))])
    }

    /// Reads back what `jsonValue` wrote.
    public init?(json: JSONValue) {
        switch json {
        case .string(let s): self.init(s)
        case .object(let o):
            guard o.count == 1, case .string(let h)? = o["hex"], let b = Hex.decode(h) else { return nil }
            self.init(bytes: b)
        default: return nil
        }
    }

    /// Calls `body` with a NUL-terminated copy (for libc calls such as fnmatch). A NUL inside
    /// the bytes cannot come from argv; it would truncate, so callers that care check `containsNUL`.
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { copy in
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(copy).copyMemory(from: $0) }
            copy[bytes.count] = 0
            return try body(copy.baseAddress!)
        }
    }
    public var containsNUL: Bool { bytes.contains(0) }

    public static func < (a: UserText, b: UserText) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

extension UserText: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(value) }
}

@inline(__always)
private func strlenPortable(_ p: UnsafePointer<CChar>) -> Int {
    var n = 0
    while p[n] != 0 { n += 1 }
    return n
}

/// Lower-case hexadecimal, for hashes and for bytes that are not UTF-8.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        Array(bytes).withUnsafeBytes { encode($0) }
    }
    /// Lower-case hex of raw bytes, written in place (verify encodes one digest per record).
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            for (i, b) in bytes.enumerated() {
                out[2 * i] = digits[Int(b >> 4)]
                out[2 * i + 1] = digits[Int(b & 0x0f)]
            }
            return bytes.count * 2
        }
    }
    /// Whether `hex` is exactly the lower-case hex of `bytes`, compared in place.
    public static func matches(_ bytes: UnsafeRawBufferPointer, hex: UnsafeRawBufferPointer) -> Bool {
        guard hex.count == bytes.count * 2 else { return false }
        for (i, b) in bytes.enumerated()
        where hex[2 * i] != digits[Int(b >> 4)] || hex[2 * i + 1] != digits[Int(b & 0x0f)] {
            return false
        }
        return true
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = nibble(u[i]), let l = nibble(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
