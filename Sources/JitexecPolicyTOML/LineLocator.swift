import JitexecPolicy

/// A table of a TOML document, as the line locator names it.
enum TableRef: Hashable, CustomStringConvertible {
    /// Keys before the first header.
    case root
    /// `[name]`.
    case table(String)
    /// The `index`-th (from 0) `[[name]]`.
    case arrayItem(String, Int)

    /// The header as written in TOML, for messages.
    var description: String {
        switch self {
        case .root: return "the top level"
        case .table(let name): return "[\(name)]"
        case .arrayItem(let name, _): return "[[\(name)]]"
        }
    }
}

/// Finds the lines of table headers, keys and array elements in raw TOML text, because TOMLKit
/// does not report positions. A line scanner, not a parser: it follows strings, multi-line strings,
/// comments and bracket nesting well enough to see which lines start a `key =` at table level.
struct LineLocator: Sendable {
    /// Where a key was set: its line, and the last line of its value.
    private struct KeySpan: Sendable {
        var line: Int
        var end: Int
    }

    private var lines: [[UInt8]] = []
    private var headers: [TableRef: Int] = [:]
    /// The first line the loaders report themselves, with its message, instead of handing the text
    /// to toml++ (inside TOMLKit), which asserts on these shapes rather than reporting them and
    /// would abort jitctl: nil when there is none. The shapes are a header whose name does not start
    /// with a bare-key character or a quote (`[é]`, `[ \x7f]`, `[` alone), and a `}` where an
    /// array's next element or its `]` belongs (`[}`, `[1, }`, also after blanks, comments and line
    /// breaks), which is never valid TOML.
    private(set) var firstMalformed: (line: Int, message: String)?
    private var keys: [TableRef: [String: KeySpan]] = [:]

    private static let malformedHeaderMessage =
        "TOML syntax error: a table header must start with a bare key (A-Z a-z 0-9 _ -) or a quoted key"
    private static let misplacedBraceMessage =
        "TOML syntax error: '}' where an array element or the array's ']' belongs"

    init(text: String) {
        lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        scan()
    }

    /// The line of `[name]` or the n-th `[[name]]`.
    func headerLine(_ table: TableRef) -> Int? { table == .root ? nil : headers[table] }

    /// The line of `key =` in `table` (or of a dotted `table.key =` at the top level).
    func keyLine(_ table: TableRef, _ key: String) -> Int? {
        if let span = keys[table]?[key] { return span.line }
        if case .table(let name) = table, let span = keys[.root]?[name + "." + key] { return span.line }
        return nil
    }

    /// The first line of `key`'s value that holds `element` as a quoted string; else the key's line.
    func elementLine(_ table: TableRef, _ key: String, _ element: String) -> Int? {
        guard let span = keys[table]?[key] else { return keyLine(table, key) }
        let basic = "\"" + element.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
        let candidates = [Array(basic.utf8), Array("'\(element)'".utf8), Array(element.utf8)]
        for needle in candidates where !needle.isEmpty {
            for n in span.line...max(span.line, span.end) where n <= lines.count {
                if lines[n - 1].containsSubsequence(needle) { return n }
            }
        }
        return span.line
    }

    private mutating func noteMalformed(_ line: Int, _ message: String) {
        if firstMalformed == nil { firstMalformed = (line, message) }
    }

    /// One pass over the text, recording headers and keys outside strings and brackets.
    private mutating func scan() {
        var state = ValueScanner()
        var current = TableRef.root
        var counts: [String: Int] = [:]
        var openKey: (TableRef, [String])?
        for (index, line) in lines.enumerated() {
            let number = index + 1
            if state.isInsideValue {
                if state.scan(line[...]) { noteMalformed(number, Self.misplacedBraceMessage) }
            } else {
                var rest = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
                if rest.first == UInt8(ascii: "["), !startsWithKey(rest) {
                    noteMalformed(number, Self.malformedHeaderMessage)
                }
                if rest.starts(with: Array("[[".utf8)) {
                    let name = headerName(rest.dropFirst(2), closing: "]]")
                    let n = counts[name, default: 0]
                    counts[name] = n + 1
                    current = .arrayItem(name, n)
                    headers[current] = number
                    continue
                }
                if rest.first == UInt8(ascii: "[") {
                    current = .table(headerName(rest.dropFirst(), closing: "]"))
                    headers[current] = headers[current] ?? number
                    continue
                }
                guard let (path, afterEquals) = readKey(&rest) else { continue }
                let names = [path.joined(separator: "."), path[0]]
                for name in names where keys[current]?[name] == nil {
                    keys[current, default: [:]][name] = KeySpan(line: number, end: number)
                }
                openKey = (current, names)
                if state.scan(afterEquals) { noteMalformed(number, Self.misplacedBraceMessage) }
            }
            if !state.isInsideValue, let (table, names) = openKey {
                for name in names { keys[table]?[name]?.end = number }
                openKey = nil
            }
        }
    }
}

/// Follows strings, comments and bracket nesting across the lines of one TOML value.
private struct ValueScanner {
    /// The brackets and braces open, innermost last.
    var open: [UInt8] = []
    /// `"""` or `'''` while inside a multi-line string.
    var multiline: UInt8?
    /// Inside an array, right after its `[` or a `,` (blanks, comments and line breaks aside):
    /// where an element or the closing `]` belongs.
    var awaitingElement = false

    var isInsideValue: Bool { !open.isEmpty || multiline != nil }

    /// Follows `line`; returns whether a `}` came in it where `awaitingElement` held.
    mutating func scan(_ line: ArraySlice<UInt8>) -> Bool {
        var misplacedBrace = false
        var i = line.startIndex
        func tripled(_ q: UInt8, at k: Int) -> Bool {
            k + 2 < line.endIndex && line[k] == q && line[k + 1] == q && line[k + 2] == q
        }
        while i < line.endIndex {
            if let q = multiline {
                if q == UInt8(ascii: "\"") && line[i] == UInt8(ascii: "\\") {
                    i += 2
                } else if tripled(q, at: i) {
                    multiline = nil
                    i += 3
                } else {
                    i += 1
                }
                continue
            }
            let c = line[i]
            if c == UInt8(ascii: "}") && awaitingElement { misplacedBrace = true }
            switch c {
            case UInt8(ascii: "#"):
                return misplacedBrace
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                i += 1
                continue
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                if tripled(c, at: i) {
                    multiline = c
                    awaitingElement = false
                    i += 3
                    continue
                }
                i += 1
                while i < line.endIndex && line[i] != c {
                    i += (c == UInt8(ascii: "\"") && line[i] == UInt8(ascii: "\\")) ? 2 : 1
                }
            case UInt8(ascii: "["), UInt8(ascii: "{"): open.append(c)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): _ = open.popLast()
            default: break
            }
            awaitingElement = open.last == UInt8(ascii: "[") && (c == UInt8(ascii: "[") || c == UInt8(ascii: ","))
            i += 1
        }
        return misplacedBrace
    }
}

/// Reads `a.b."c d" =` from the start of `rest`; returns the key parts and what follows `=`.
private func readKey(_ rest: inout ArraySlice<UInt8>) -> ([String], ArraySlice<UInt8>)? {
    var parts: [String] = []
    func skipBlanks() {
        rest = rest.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
    }
    while true {
        skipBlanks()
        guard let first = rest.first else { return nil }
        if first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") {
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: first) else { return nil }
            parts.append(String(decoding: rest[..<close], as: UTF8.self))
            rest = rest[(close + 1)...]
        } else {
            let bare = rest.prefix { isBareKeyByte($0) }
            guard !bare.isEmpty else { return nil }
            parts.append(String(decoding: bare, as: UTF8.self))
            rest = rest.dropFirst(bare.count)
        }
        skipBlanks()
        guard let next = rest.first else { return nil }
        if next == UInt8(ascii: "=") { return (parts, rest.dropFirst()) }
        guard next == UInt8(ascii: ".") else { return nil }
        rest = rest.dropFirst()
    }
}

private func isBareKeyByte(_ b: UInt8) -> Bool {
    (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
        || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
}

/// The name inside a header, quotes around parts and blanks around dots removed.
/// True when the header `[...` or `[[...` names a key the way toml++ expects before it parses one:
/// after the bracket(s) and any blanks, a bare-key character, a quote, or the closing bracket.
private func startsWithKey(_ header: ArraySlice<UInt8>) -> Bool {
    var rest = header.dropFirst()
    if rest.first == UInt8(ascii: "[") { rest = rest.dropFirst() }
    rest = rest.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
    guard let c = rest.first else { return false }
    switch c {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"),
        UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "]"):
        return true
    default:
        return false
    }
}

private func headerName(_ text: ArraySlice<UInt8>, closing: String) -> String {
    var header = text.withEquals(closing: closing)
    if let (parts, _) = readKey(&header) { return parts.joined(separator: ".") }
    return String(decoding: text, as: UTF8.self).trimmingBlanks
}

extension ArraySlice where Element == UInt8 {
    /// The header text up to its closing bracket, with `=` appended so `readKey` can read it.
    fileprivate func withEquals(closing: String) -> ArraySlice<UInt8> {
        let close = Array(closing.utf8)
        var end = startIndex
        while end < endIndex && !self[end...].starts(with: close) { end += 1 }
        return ArraySlice(Array(self[..<end]) + [UInt8(ascii: "=")])
    }
}

extension Array where Element == UInt8 {
    /// True when `needle` occurs contiguously.
    fileprivate func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        for start in 0...(count - needle.count) where self[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }
}

extension String {
    /// Every occurrence of `target` replaced (Foundation-free).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }

    /// Without leading and trailing spaces and tabs.
    var trimmingBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
