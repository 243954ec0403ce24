/// A length of time written the policy way: `90s`, `15m`, `1h30m`, `2d`, or `0`.
public struct TimeSpan: Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public var seconds: Int64

    public init(seconds: Int64) { self.seconds = seconds }

    public static let zero = TimeSpan(seconds: 0)
    public static func minutes(_ n: Int64) -> TimeSpan { TimeSpan(seconds: n * 60) }
    public static func hours(_ n: Int64) -> TimeSpan { TimeSpan(seconds: n * 3600) }

    /// The units in the only order they may appear, with their length in seconds.
    private static let units: [(letter: UInt8, seconds: Int64)] = [
        (UInt8(ascii: "d"), 86_400), (UInt8(ascii: "h"), 3_600), (UInt8(ascii: "m"), 60), (UInt8(ascii: "s"), 1),
    ]

    /// Parses `NdNhNmNs` (each unit at most once, in that order, at least one) or the bare `0`.
    /// No sign, spaces or fractions; nil when the text is anything else or the total overflows.
    public static func parse(_ text: String) -> TimeSpan? {
        if text == "0" { return .zero }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var nextUnit = 0
        var total: Int64 = 0
        var i = 0
        while i < bytes.count {
            var value: Int64 = 0
            let start = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int64(bytes[i] - UInt8(ascii: "0")))
                guard !o1, !o2 else { return nil }
                value = sum
                i += 1
            }
            guard i > start, i < bytes.count else { return nil }
            guard let k = units[nextUnit...].firstIndex(where: { $0.letter == bytes[i] }) else { return nil }
            nextUnit = k + 1
            i += 1
            let (part, o3) = value.multipliedReportingOverflow(by: units[k].seconds)
            let (sum, o4) = total.addingReportingOverflow(part)
            guard !o3, !o4 else { return nil }
            total = sum
        }
        return TimeSpan(seconds: total)
    }

    /// Canonical form: largest units first, zero parts left out, `0s` for nothing.
    public var description: String {
        if seconds == 0 { return "0s" }
        var rest = seconds.magnitude
        var out = seconds < 0 ? "-" : ""
        for unit in TimeSpan.units where rest >= UInt64(unit.seconds) {
            out += "\(rest / UInt64(unit.seconds))\(Character(UnicodeScalar(unit.letter)))"
            rest %= UInt64(unit.seconds)
        }
        return out
    }

    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.seconds < b.seconds }
}
