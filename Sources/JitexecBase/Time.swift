#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A wall-clock instant: microseconds since the Unix epoch. Records, requests and grants carry
/// their times as `Instant`s; lengths of time are `Duration`s (`+`, `-`), and the text a person or
/// a script reads is `rfc3339` (whole seconds) or `RFC3339.format(_:)` (with the microseconds).
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    /// Microseconds since 1970-01-01T00:00:00Z (what the store keeps).
    public var micros: Int64

    public init(micros: Int64) { self.micros = micros }

    /// A literal is microseconds since the epoch (fixed instants in tests and constants).
    public init(integerLiteral micros: Int64) { self.micros = micros }

    public static func < (a: Instant, b: Instant) -> Bool { a.micros < b.micros }

    /// The whole seconds since the epoch (rounded down).
    public var wholeSeconds: Int64 {
        micros >= 0 || micros % 1_000_000 == 0 ? micros / 1_000_000 : micros / 1_000_000 - 1
    }

    /// `2026-11-29T02:40:01Z`.
    public var rfc3339: String { RFC3339.format(seconds: wholeSeconds) }

    public var description: String { RFC3339.format(self) }

    /// `seconds` later (saturating: an instant never wraps around).
    public func adding(seconds: Int64) -> Instant {
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? Instant(micros: seconds < 0 ? .min : .max) : adding(micros: scaled)
    }

    /// `delta` microseconds later (saturating).
    public func adding(micros delta: Int64) -> Instant {
        let (sum, overflow) = micros.addingReportingOverflow(delta)
        return overflow ? Instant(micros: delta < 0 ? .min : .max) : Instant(micros: sum)
    }

    public static func + (instant: Instant, length: Duration) -> Instant {
        instant.adding(seconds: length.components.seconds).adding(
            micros: length.components.attoseconds / 1_000_000_000_000)
    }

    public static func - (instant: Instant, length: Duration) -> Instant {
        let (seconds, overflow) = Int64(0).subtractingReportingOverflow(length.components.seconds)
        return instant.adding(seconds: overflow ? .max : seconds).adding(
            micros: -(length.components.attoseconds / 1_000_000_000_000))
    }

    /// The time from `earlier` to `later` (saturating at the 64-bit bounds).
    public static func - (later: Instant, earlier: Instant) -> Duration {
        let (difference, overflow) = later.micros.subtractingReportingOverflow(earlier.micros)
        return .microseconds(overflow ? (later.micros < earlier.micros ? Int64.min : .max) : difference)
    }
}

/// Times for people: the host's local time with its zone, `2026-12-03 13:05:09 JST`. The zone is
/// the host's (`/etc/localtime`): a setuid run has set the caller's environment aside before glibc
/// reads `TZ`, so the caller cannot make an approver's terminal show another hour. Scripts read
/// `--json`, which stays RFC 3339 UTC.
public enum LocalTime {
    /// `2026-12-03 13:05:09 JST`; RFC 3339 UTC when the instant cannot be shown locally.
    public static func format(_ instant: Instant) -> String {
        guard var tm = broken(instant) else { return instant.rfc3339 }
        var buffer = [CChar](repeating: 0, count: 64)
        guard strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S %Z", &tm) > 0 else { return instant.rfc3339 }
        return String(nulTerminated: buffer)
    }

    /// `HH:MM:SS` of the local time (a line of `jitctl watch`); RFC 3339 UTC when it cannot be shown.
    public static func clock(_ instant: Instant) -> String {
        guard let tm = broken(instant) else { return instant.rfc3339 }
        return "\(RFC3339.pad(Int(tm.tm_hour), 2)):\(RFC3339.pad(Int(tm.tm_min), 2)):\(RFC3339.pad(Int(tm.tm_sec), 2))"
    }

    /// The instant in the host's zone; nil when localtime cannot hold it.
    private static func broken(_ instant: Instant) -> tm? {
        var t = time_t(instant.wholeSeconds)
        var parts = tm()
        return localtime_r(&t, &parts) != nil ? parts : nil
    }

    /// `format` with how far it is from `now`: `2026-12-03 13:05:09 JST (in 29m)`, `(4m ago)`.
    public static func format(_ instant: Instant, from now: Instant) -> String {
        format(instant) + " (" + relative(instant - now) + ")"
    }

    /// `in 1h05m`, `in 29m`, `in 40s`, `now`, `4m ago`.
    public static func relative(_ offset: Duration) -> String {
        let s = offset.components.seconds
        if s == 0 { return "now" }
        let a = s.magnitude
        let text: String
        if a >= 86_400 {
            text = "\(a / 86_400)d\(a % 86_400 / 3600)h"
        } else if a >= 3600 {
            text = "\(a / 3600)h\(RFC3339.pad(Int(a % 3600 / 60), 2))m"
        } else if a >= 60 {
            text = "\(a / 60)m"
        } else {
            text = "\(a)s"
        }
        return s > 0 ? "in " + text : text + " ago"
    }
}

public enum RFC3339 {
    /// `2026-11-29T02:40:01Z`; `@SECONDS` for an instant whose year does not fit in an `int`
    /// (gmtime fails; only a damaged record has one), never a wrong date.
    public static func format(seconds: Int64) -> String {
        var t = time_t(seconds)
        var tm = tm()
        guard gmtime_r(&t, &tm) != nil else { return "@\(seconds)" }
        return "\(pad(Int(tm.tm_year) + 1900, 4))-\(pad(Int(tm.tm_mon) + 1, 2))-\(pad(Int(tm.tm_mday), 2))"
            + "T\(pad(Int(tm.tm_hour), 2)):\(pad(Int(tm.tm_min), 2)):\(pad(Int(tm.tm_sec), 2))Z"
    }

    /// `2026-11-29T02:40:01.123456Z` (floor to the second, then the microseconds; no arithmetic
    /// that can overflow, whatever the instant).
    public static func format(_ instant: Instant) -> String { format(micros: instant.micros) }

    /// The same for microseconds since the epoch.
    public static func format(micros: Int64) -> String {
        let (s, frac) = secondsAndFraction(micros)
        if let fixed = fixedWidth(seconds: s, micros: frac) { return fixed }
        var text = format(seconds: s)
        guard text.hasSuffix("Z") else { return "@\(s).\(pad(Int(frac), 6))" }
        text.removeLast()
        return text + "." + pad(Int(frac), 6) + "Z"
    }

    /// `format(micros:)` written byte by byte for the years 0...9999 (every instant the audit
    /// log holds; verify formats one per record); nil for the others, which `format` spells out.
    private static func fixedWidth(seconds: Int64, micros: Int64) -> String? {
        var fits = false
        let text = String(unsafeUninitializedCapacity: fixedWidthCount) { out in
            fits = writeFixedWidth(seconds: seconds, micros: micros, to: out)
            return fits ? fixedWidthCount : 0
        }
        return fits ? text : nil
    }

    /// `format(micros:)`'s bytes appended to `out`, when it has the fixed width (years 0...9999);
    /// false, and `out` unchanged, otherwise.
    package static func appendFixedWidth(micros: Int64, to out: inout [UInt8]) -> Bool {
        let (s, frac) = secondsAndFraction(micros)
        var field = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))  // 32 bytes: room for the 27
        let fits = withUnsafeMutableBytes(of: &field) { raw in
            writeFixedWidth(seconds: s, micros: frac, to: raw.bindMemory(to: UInt8.self))
        }
        guard fits else { return false }
        withUnsafeBytes(of: &field) { out.append(contentsOf: $0.prefix(fixedWidthCount)) }
        return true
    }

    private static let fixedWidthCount = 27

    /// Whole seconds (rounded down) and the non-negative microseconds past them.
    private static func secondsAndFraction(_ micros: Int64) -> (seconds: Int64, micros: Int64) {
        let fraction = micros % 1_000_000
        return fraction < 0 ? (micros / 1_000_000 - 1, fraction + 1_000_000) : (micros / 1_000_000, fraction)
    }

    /// Writes `2026-11-29T02:40:01.123456Z` into the first 27 bytes of `out`; false for a year
    /// outside 0...9999 (or one gmtime cannot express).
    private static func writeFixedWidth(seconds: Int64, micros: Int64, to out: UnsafeMutableBufferPointer<UInt8>)
        -> Bool
    {
        var t = time_t(seconds)
        var tm = tm()
        guard gmtime_r(&t, &tm) != nil else { return false }
        let year = Int(tm.tm_year) + 1900
        guard (0...9999).contains(year), out.count >= fixedWidthCount else { return false }
        var at = 0
        func put(_ value: Int, _ width: Int, _ after: UInt8) {
            var value = value
            for i in stride(from: width - 1, through: 0, by: -1) {
                out[at + i] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
            out[at + width] = after
            at += width + 1
        }
        put(year, 4, UInt8(ascii: "-"))
        put(Int(tm.tm_mon) + 1, 2, UInt8(ascii: "-"))
        put(Int(tm.tm_mday), 2, UInt8(ascii: "T"))
        put(Int(tm.tm_hour), 2, UInt8(ascii: ":"))
        put(Int(tm.tm_min), 2, UInt8(ascii: ":"))
        put(Int(tm.tm_sec), 2, UInt8(ascii: "."))
        put(Int(micros), 6, UInt8(ascii: "Z"))
        return true
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (also a space or lower-case `t` as separator).
    public static func parse(_ text: String) -> Instant? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= b.count else { return nil }
            var v = 0
            for c in b[from..<from + len] {
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard b.count >= 20, b[4] == 45, b[7] == 45, [84, 116, 32].contains(b[10]), b[13] == 58, b[16] == 58,
            let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2),
            let mi = num(14, 2), let s = num(17, 2),
            (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var micros = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            // More than six digits: the rest are dropped (a range 7..<6 would trap).
            for _ in 0..<max(0, 6 - digits) { micros *= 10 }
        }
        var offset = 0
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == 58,
            let om = num(i + 4, 2)
        {
            offset = (oh * 60 + om) * 60 * (b[i] == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        var tm = tm()
        tm.tm_year = Int32(y - 1900)
        tm.tm_mon = Int32(mo - 1)
        tm.tm_mday = Int32(d)
        tm.tm_hour = Int32(h)
        tm.tm_min = Int32(mi)
        tm.tm_sec = Int32(s)
        // Four-digit years keep every step far inside 64 bits; checked all the same, so no input
        // can ever trap here.
        let (secs, o1) = Int64(timegm(&tm)).subtractingReportingOverflow(Int64(offset))
        let (whole, o2) = secs.multipliedReportingOverflow(by: 1_000_000)
        let (total, o3) = whole.addingReportingOverflow(Int64(micros))
        return o1 || o2 || o3 ? nil : Instant(micros: total)
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
