import JitexecPolicy
import TOMLKit

/// Reads typed values out of a `Section`, collecting a diagnostic for every key that is missing,
/// unknown, of the wrong type or out of range.
struct SectionReader {
    let section: Section
    private(set) var diagnostics: [Diagnostic] = []

    init(_ section: Section) { self.section = section }

    /// How the table is named in messages: `[settings]`, `[[rule]]`.
    var label: String { section.table.description }

    mutating func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(.error(location, message))
    }

    mutating func warning(_ location: SourceLocation, _ message: String) {
        diagnostics.append(.warning(location, message))
    }

    /// One error per key that this table does not define.
    mutating func rejectUnknownKeys(allowed: [String]) {
        for key in section.keys where !allowed.contains(key) {
            var message = "unknown key \(named(key)) in \(label)"
            if let guess = closestName(to: key, among: allowed) { message += " (did you mean '\(guess)'?)" }
            error(section[key]!.location, message)
        }
    }

    /// True when every key is present; an error at the header names each missing one.
    mutating func require(_ keys: [String], what: String) -> Bool {
        var ok = true
        for key in keys where section[key] == nil {
            error(section.header, "\(what) is missing required key '\(key)'")
            ok = false
        }
        return ok
    }

    func location(_ key: String) -> SourceLocation? { section[key]?.location }

    mutating func string(_ key: String) -> Located<String>? {
        guard let entry = section[key] else { return nil }
        guard let value = entry.value.string else {
            error(entry.location, "'\(key)' must be a string")
            return nil
        }
        return Located(value: value, location: entry.location)
    }

    mutating func bool(_ key: String) -> Bool? {
        guard let entry = section[key] else { return nil }
        guard let value = entry.value.bool else {
            error(entry.location, "'\(key)' must be true or false")
            return nil
        }
        return value
    }

    mutating func int(_ key: String) -> Located<Int>? {
        guard let entry = section[key] else { return nil }
        guard let value = entry.value.int else {
            error(entry.location, "'\(key)' must be an integer")
            return nil
        }
        return Located(value: value, location: entry.location)
    }

    /// A duration string; `positive` rejects `0`.
    mutating func duration(_ key: String, positive: Bool = true) -> Located<TimeSpan>? {
        guard let text = string(key) else { return nil }
        let span: TimeSpan
        switch TimeSpan.parsing(text.value) {
        case .success(let parsed):
            span = parsed
        case .failure(.malformed):
            error(text.location, "'\(key)': \(quoted(text.value)) is not a duration (use e.g. 90s, 15m, 1h30m)")
            return nil
        case .failure(.tooLong):
            error(
                text.location,
                "'\(key)': \(quoted(text.value)) is longer than the longest duration, \(TimeSpan.longest)")
            return nil
        }
        if positive && span.seconds <= 0 {
            error(text.location, "'\(key)' must be longer than 0")
            return nil
        }
        return Located(value: span, location: text.location)
    }

    /// A size in bytes: a whole number, or one with a suffix K, M or G (KiB, MiB, GiB), at least `minimum`.
    mutating func size(_ key: String, minimum: Int64) -> Located<Int64>? {
        guard let text = string(key) else { return nil }
        guard let bytes = Self.parseSize(text.value) else {
            error(text.location, "'\(key)': \(quoted(text.value)) is not a size (use e.g. 64M, 512K, 1G)")
            return nil
        }
        guard bytes >= minimum else {
            error(text.location, "'\(key)' must be at least \(minimum >> 10)K")
            return nil
        }
        return Located(value: bytes, location: text.location)
    }

    /// "64M" → 67108864; nil when malformed or beyond 1 TiB.
    static func parseSize(_ text: String) -> Int64? {
        var digits = Substring(text)
        var shift: Int64 = 0
        switch digits.last {
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        default: break
        }
        if shift > 0 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.count <= 13, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = Int64(digits), value <= (1 << 40) >> shift
        else { return nil }
        return value << shift
    }

    /// One of the raw values of `E`.
    mutating func choice<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) -> E?
    where E.RawValue == String {
        guard let text = string(key) else { return nil }
        guard let value = E(rawValue: text.value) else {
            let names = E.allCases.map(\.rawValue).joined(separator: ", ")
            error(text.location, "'\(key)' must be one of \(names), not \(quoted(text.value))")
            return nil
        }
        return value
    }

    /// An array of strings, each with its own line; `nonEmpty` rejects `[]`.
    mutating func strings(_ key: String, nonEmpty: Bool = false) -> [Located<String>]? {
        guard let entry = section[key] else { return nil }
        guard let array = entry.value.array else {
            error(entry.location, "'\(key)' must be an array of strings")
            return nil
        }
        var out: [Located<String>] = []
        for element in array {
            guard let text = element.string else {
                error(entry.location, "'\(key)' must be an array of strings")
                return nil
            }
            out.append(Located(value: text, location: entry.elementLocation(text)))
        }
        if nonEmpty && out.isEmpty {
            error(entry.location, "'\(key)' must not be empty")
            return nil
        }
        return out
    }

    /// An array of `name` / `%group` strings.
    /// Users and %groups; with `automations`, `@name` too (a `[[rule]]`'s approvers).
    mutating func principals(_ key: String, nonEmpty: Bool = false, automations: Bool = false)
        -> [Located<Principal>]?
    {
        guard let texts = strings(key, nonEmpty: nonEmpty) else { return nil }
        var out: [Located<Principal>] = []
        for text in texts {
            guard let principal = Principal(parsing: text.value) else {
                error(text.location, "'\(key)': \(quoted(text.value)) is not a user name or %group")
                continue
            }
            if principal.automationName != nil && !automations {
                error(
                    text.location,
                    "'\(key)': \(quoted(text.value)) names an automation; programs may only be among the approvers of a [[rule]]"
                )
                continue
            }
            out.append(Located(value: principal, location: text.location))
        }
        return out
    }

    /// A command line: a non-empty array of strings whose first element is an absolute path.
    mutating func commandLine(_ key: String) -> [String]? {
        guard let words = strings(key, nonEmpty: true) else { return nil }
        guard words[0].value.hasPrefix("/") else {
            error(words[0].location, "'\(key)': the program \(quoted(words[0].value)) must be an absolute path")
            return nil
        }
        return words.map(\.value)
    }
}

/// The allowed name nearest to a misspelled one (edit distance at most 2), for "did you mean".
func closestName(to word: String, among names: [String]) -> String? {
    let best = names.map { ($0, editDistance(Array(word), Array($0))) }.min { $0.1 < $1.1 }
    guard let (name, distance) = best, distance <= 2 else { return nil }
    return name
}

/// Levenshtein distance.
private func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    guard !a.isEmpty else { return b.count }
    var previous = Array(0...b.count)
    for (i, ca) in a.enumerated() {
        var row = [i + 1]
        for (j, cb) in b.enumerated() {
            row.append(min(previous[j + 1] + 1, row[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
        }
        previous = row
    }
    return previous[b.count]
}
