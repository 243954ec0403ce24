/// A JSON value as `JSONReader` reads it (a recording's line, an automation's answer, the compiled
/// policy, an audit record's fields).
package enum JSONItem: Sendable {
    case null
    case bool(Bool)
    /// The value, and the same as an integer when the text is one that fits in an Int64.
    case number(Double, integer: Int64?)
    case string(String)
    case array([JSONItem])
    case object([String: JSONItem])
}

/// A strict JSON (RFC 8259) reader: any value, nested at most `maxDepth` deep, strings of valid
/// UTF-8, no duplicate keys, nothing after the value but whitespace. No Foundation and no Codable:
/// the setuid hot path reads the compiled policy with it (`PolicyCoding`), so no generic metadata
/// or protocol-conformance lookups run at start-up.
package struct JSONReader {
    /// What is wrong with the text, for the person reading the error.
    package struct Failure: Error {
        package let reason: String
        package init(reason: String) { self.reason = reason }
    }

    static let maxDepth = 32

    private let bytes: ArraySlice<UInt8>
    private var at: Int

    /// The value that `line` is.
    package static func parse(_ line: ArraySlice<UInt8>) throws(Failure) -> JSONItem {
        var reader = JSONReader(bytes: line, at: line.startIndex)
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.at == line.endIndex else { throw Failure(reason: "unexpected text after the JSON value") }
        return value
    }

    private var peek: UInt8? { at < bytes.endIndex ? bytes[at] : nil }

    private mutating func skipSpace() {
        while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { at += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws(Failure) {
        guard peek == byte else { throw unexpected("'\(Character(Unicode.Scalar(byte)))'") }
        at += 1
    }

    private func unexpected(_ wanted: String) -> Failure {
        Failure(
            reason: peek == nil
                ? "the line ends where \(wanted) should be" : "\(wanted) expected at byte \(at - bytes.startIndex + 1)")
    }

    private mutating func value(depth: Int) throws(Failure) -> JSONItem {
        guard depth < Self.maxDepth else { throw Failure(reason: "JSON nested deeper than \(Self.maxDepth) levels") }
        guard let first = peek else { throw unexpected("a JSON value") }
        switch first {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw unexpected("a JSON value")
        }
    }

    private mutating func literal(_ word: String, _ item: JSONItem) throws(Failure) -> JSONItem {
        for byte in word.utf8 { try expect(byte) }
        return item
    }

    private mutating func object(depth: Int) throws(Failure) -> JSONItem {
        try expect(UInt8(ascii: "{"))
        // The members in order first, then the dictionary made at its size: growing it as they
        // come would rehash every key at each doubling.
        var pairs: [(key: String, value: JSONItem)] = []
        skipSpace()
        if peek == UInt8(ascii: "}") {
            at += 1
            return .object([:])
        }
        while true {
            skipSpace()
            guard peek == UInt8(ascii: "\"") else { throw unexpected("a key") }
            let key = try string()
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            pairs.append((key, try value(depth: depth + 1)))
            skipSpace()
            if peek == UInt8(ascii: "}") {
                at += 1
                break
            }
            try expect(UInt8(ascii: ","))
        }
        var members = [String: JSONItem](minimumCapacity: pairs.count)
        for (key, value) in pairs where members.updateValue(value, forKey: key) != nil {
            throw Failure(reason: "the key \"\(key)\" appears twice")
        }
        return .object(members)
    }

    private mutating func array(depth: Int) throws(Failure) -> JSONItem {
        try expect(UInt8(ascii: "["))
        var elements: [JSONItem] = []
        skipSpace()
        if peek == UInt8(ascii: "]") {
            at += 1
            return .array(elements)
        }
        while true {
            skipSpace()
            elements.append(try value(depth: depth + 1))
            skipSpace()
            if peek == UInt8(ascii: "]") {
                at += 1
                return .array(elements)
            }
            try expect(UInt8(ascii: ","))
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(Failure) -> JSONItem {
        let start = at
        if peek == UInt8(ascii: "-") { at += 1 }
        if peek == UInt8(ascii: "0") {
            at += 1
        } else {
            try digits()
        }
        var integral = true
        if peek == UInt8(ascii: ".") {
            at += 1
            integral = false
            try digits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            at += 1
            integral = false
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { at += 1 }
            try digits()
        }
        if integral, let integer = Self.integer(bytes[start..<at]) { return .number(Double(integer), integer: integer) }
        let text = String(decoding: bytes[start..<at], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw Failure(reason: "the number \(text) is too large") }
        return .number(value, integer: integral ? Int64(text) : nil)
    }

    /// The value of `-?[0-9]+` (already checked) when it fits in an Int64 and is not "-0" (whose
    /// Double is -0.0), without going through a String and strtod; nil otherwise.
    private static func integer(_ text: ArraySlice<UInt8>) -> Int64? {
        let negative = text.first == UInt8(ascii: "-")
        var magnitude: UInt64 = 0
        for b in text.dropFirst(negative ? 1 : 0) {
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(b &- UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            magnitude = sum
        }
        if negative {
            guard magnitude != 0, magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    private mutating func digits() throws(Failure) {
        guard let b = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { throw unexpected("a digit") }
        while let b = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) { at += 1 }
    }

    /// A string: escapes decoded, a lone surrogate escape as U+FFFD, raw control characters and
    /// bytes that are not UTF-8 refused.
    private mutating func string() throws(Failure) -> String {
        try expect(UInt8(ascii: "\""))
        // Most strings have no escape: up to the closing quote, validated in place.
        let start = at
        while let b = peek, b != UInt8(ascii: "\""), b != UInt8(ascii: "\\"), b >= 0x20 { at += 1 }
        if peek == UInt8(ascii: "\"") {
            let text = bytes[start..<at].withUnsafeBufferPointer { String(validUTF8: $0) }
            at += 1
            guard let text else { throw Failure(reason: "a string is not valid UTF-8") }
            return text
        }
        var out = Array(bytes[start..<at])
        while true {
            guard let b = peek else { throw unexpected("the closing '\"'") }
            at += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let text = String(validUTF8: out) else {
                    throw Failure(reason: "a string is not valid UTF-8")
                }
                return text
            case UInt8(ascii: "\\"): try escape(into: &out)
            case 0x00..<0x20: throw Failure(reason: "a control character inside a string")
            default: out.append(b)
            }
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws(Failure) {
        guard let b = peek else { throw unexpected("an escape") }
        at += 1
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(b)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var unit = UInt32(try hex4())
            if (0xD800...0xDBFF).contains(unit), bytes[at...].starts(with: "\\u".utf8) {
                let resume = at
                at += 2
                let low = UInt32(try hex4())
                if (0xDC00...0xDFFF).contains(low) {
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    at = resume
                }
            }
            out += UTF8.encode(Unicode.Scalar(unit) ?? "\u{FFFD}")!
        default: throw Failure(reason: "an unknown escape \\\(Character(Unicode.Scalar(b)))")
        }
    }

    private mutating func hex4() throws(Failure) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let b = peek, let digit = Self.hexValue(b) else { throw unexpected("four hex digits after \\u") }
            value = value << 4 | UInt16(digit)
            at += 1
        }
        return value
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The fields of one JSON object, read by name with a typed accessor each; a missing key or a value
/// of another type throws, naming the key. For JSON jitexec wrote itself (the compiled policy).
package struct JSONFields {
    package let object: [String: JSONItem]

    package init(_ item: JSONItem, _ what: String = "value") throws(JSONReader.Failure) {
        guard case .object(let object) = item else { throw JSONReader.Failure(reason: "\(what) is not an object") }
        self.object = object
    }

    private func wrong(_ key: String, _ kind: String) -> JSONReader.Failure {
        JSONReader.Failure(reason: object[key] == nil ? "'\(key)' is missing" : "'\(key)' is not \(kind)")
    }

    /// Whether the key is absent or null.
    package func isNull(_ key: String) -> Bool {
        if case .null? = object[key] { return true }
        return object[key] == nil
    }

    package func string(_ key: String) throws(JSONReader.Failure) -> String {
        guard case .string(let s)? = object[key] else { throw wrong(key, "a string") }
        return s
    }

    package func int(_ key: String) throws(JSONReader.Failure) -> Int64 {
        guard case .number(_, let integer?)? = object[key] else { throw wrong(key, "an integer") }
        return integer
    }

    package func bool(_ key: String) throws(JSONReader.Failure) -> Bool {
        guard case .bool(let b)? = object[key] else { throw wrong(key, "true or false") }
        return b
    }

    package func array(_ key: String) throws(JSONReader.Failure) -> [JSONItem] {
        guard case .array(let a)? = object[key] else { throw wrong(key, "an array") }
        return a
    }

    package func strings(_ key: String) throws(JSONReader.Failure) -> [String] {
        var out: [String] = []
        for item in try array(key) {
            guard case .string(let s) = item else { throw wrong(key, "an array of strings") }
            out.append(s)
        }
        return out
    }

    package func fields(_ key: String) throws(JSONReader.Failure) -> JSONFields {
        guard let item = object[key] else { throw wrong(key, "an object") }
        return try JSONFields(item, "'\(key)'")
    }

    /// `body` of the value at `key`, or nil when it is absent or null.
    package func optional<T>(_ key: String, _ body: (JSONFields, String) throws(JSONReader.Failure) -> T)
        throws(JSONReader.Failure) -> T?
    {
        isNull(key) ? nil : try body(self, key)
    }
}

extension JSONValue {
    /// Parses JSON text (what jitexec itself wrote): integers only, no other numbers.
    public static func parse(_ text: String) throws -> JSONValue {
        try JSONValue(item: try JSONReader.parse(Array(text.utf8)[...]))
    }

    package init(item: JSONItem) throws(JSONReader.Failure) {
        switch item {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(_, let integer?): self = .int(integer)
        case .number: throw JSONReader.Failure(reason: "a number that is not an integer")
        case .string(let s): self = .string(s)
        case .array(let items):
            var out: [JSONValue] = []
            for i in items { out.append(try JSONValue(item: i)) }
            self = .array(out)
        case .object(let fields):
            var out: [String: JSONValue] = [:]
            for (k, v) in fields { out[k] = try JSONValue(item: v) }
            self = .object(out)
        }
    }
}
