import JitexecBase

/// A length of time written the policy way: `90s`, `15m`, `1h30m`, `2d`, or `0`.
///
/// A span that comes from text (`parse`) or from a compiled policy (`Decodable`) is never longer
/// than `longest`, so `now ± span` in microseconds always fits in 64 bits.
public struct TimeSpan: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var seconds: Int64

    public init(seconds: Int64) { self.seconds = seconds }

    public static let zero = TimeSpan(seconds: 0)
    public static func minutes(_ n: Int64) -> TimeSpan { TimeSpan(seconds: n * 60) }
    public static func hours(_ n: Int64) -> TimeSpan { TimeSpan(seconds: n * 3600) }

    /// The longest span jitexec accepts anywhere (100 years): in microseconds it is about
    /// 3.2e15, far from 9.2e18, so adding it to or taking it from any real clock cannot overflow.
    public static let longest = TimeSpan(seconds: 36_500 * 86_400)

    /// The units in the only order they may appear, with their length in seconds.
    private static let units: [(letter: UInt8, seconds: Int64)] = [
        (UInt8(ascii: "d"), 86_400), (UInt8(ascii: "h"), 3_600), (UInt8(ascii: "m"), 60), (UInt8(ascii: "s"), 1),
    ]

    /// Why a text is not a span.
    public enum ParseFailure: Error, Sendable, Equatable {
        /// Not `NdNhNmNs` or `0`.
        case malformed
        /// Well formed but longer than `longest` (or too long to count at all).
        case tooLong
    }

    /// Parses `NdNhNmNs` (each unit at most once, in that order, at least one) or the bare `0`.
    /// No sign, spaces or fractions; nil when the text is anything else or longer than `longest`.
    public static func parse(_ text: String) -> TimeSpan? { try? parsing(text).get() }

    /// `parse`, saying why it failed.
    public static func parsing(_ text: String) -> Result<TimeSpan, ParseFailure> {
        if text == "0" { return .success(.zero) }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return .failure(.malformed) }
        var nextUnit = 0
        var total: Int64 = 0
        var tooLong = false
        var i = 0
        while i < bytes.count {
            var value: Int64 = 0
            let start = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int64(bytes[i] - UInt8(ascii: "0")))
                if o1 || o2 { tooLong = true }
                value = sum
                i += 1
            }
            guard i > start, i < bytes.count else { return .failure(.malformed) }
            guard let k = units[nextUnit...].firstIndex(where: { $0.letter == bytes[i] }) else {
                return .failure(.malformed)
            }
            nextUnit = k + 1
            i += 1
            let (part, o3) = value.multipliedReportingOverflow(by: units[k].seconds)
            let (sum, o4) = total.addingReportingOverflow(part)
            if o3 || o4 { tooLong = true }
            total = sum
        }
        guard !tooLong, total <= longest.seconds else { return .failure(.tooLong) }
        return .success(TimeSpan(seconds: total))
    }

    /// The instant this long after `instant`, nil when it does not fit in 64 bits.
    public func after(_ instant: Instant) -> Instant? {
        let (micros, o1) = seconds.multipliedReportingOverflow(by: 1_000_000)
        let (sum, o2) = instant.micros.addingReportingOverflow(micros)
        return o1 || o2 ? nil : Instant(micros: sum)
    }

    /// The instant this long before `instant`, nil when it does not fit in 64 bits.
    public func before(_ instant: Instant) -> Instant? {
        let (micros, o1) = seconds.multipliedReportingOverflow(by: 1_000_000)
        let (difference, o2) = instant.micros.subtractingReportingOverflow(micros)
        return o1 || o2 ? nil : Instant(micros: difference)
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
