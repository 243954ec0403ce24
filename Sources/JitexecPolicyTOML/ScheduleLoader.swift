import JitexecBase
import JitexecPolicy
import TOMLKit

import struct Foundation.Date

/// The on-call rotation file named by `[oncall] schedule`:
///
/// ```toml
/// [[shift]]
/// user = "alice"
/// from = 2026-11-30T08:00:00Z     # RFC 3339, as a TOML date-time or a string
/// to   = "2026-11-30T20:00:00Z"
/// ```
public enum ScheduleLoader {
    /// The shifts, or the first problem as `FILE:LINE: message` text.
    public static func load(text: String, path: String) -> Result<[Shift], ScheduleProblem> {
        let locator = LineLocator(text: text)
        if let (line, message) = locator.firstMalformed {
            return .failure(ScheduleProblem("\(path):\(line): \(message)"))
        }
        let table: TOMLTable
        do {
            table = try IsolatedTOML.parse(text)
        } catch let refused as IsolatedTOML.Refused {
            return .failure(ScheduleProblem("\(path):1: \(refused.message)"))
        } catch let error as TOMLParseError {
            return .failure(
                ScheduleProblem("\(path):\(max(1, error.source.begin.line)): TOML syntax error: \(error.description)"))
        } catch {
            return .failure(ScheduleProblem("\(path):1: TOML syntax error: \(error)"))
        }
        for key in table.keys where key != "shift" {
            return .failure(
                ScheduleProblem("\(path): unknown key '\(Escape.text(key))'; a schedule holds only [[shift]] tables"))
        }
        guard let entries = table["shift"] else { return .success([]) }
        guard let array = entries.array else {
            return .failure(ScheduleProblem("\(path): 'shift' must be an array of tables ([[shift]])"))
        }
        var shifts: [Shift] = []
        for (index, entry) in array.enumerated() {
            let line = locator.headerLine(.arrayItem("shift", index)) ?? 1
            let at = "\(path):\(line)"
            guard let item = entry.table else { return .failure(ScheduleProblem("\(at): a shift must be a table")) }
            for key in item.keys where !["user", "from", "to"].contains(key) {
                return .failure(ScheduleProblem("\(at): unknown key '\(Escape.text(key))' in a shift (user, from, to)"))
            }
            guard let user = item["user"]?.string, !user.isEmpty else {
                return .failure(ScheduleProblem("\(at): a shift needs 'user' (a user name)"))
            }
            guard let from = time(item["from"]), let to = time(item["to"]) else {
                return .failure(
                    ScheduleProblem(
                        "\(at): a shift needs 'from' and 'to' as RFC 3339 times with a zone, e.g. 2026-11-30T08:00:00Z")
                )
            }
            guard from < to else { return .failure(ScheduleProblem("\(at): the shift ends before it starts")) }
            shifts.append(Shift(user: user, from: from, to: to))
        }
        return .success(shifts)
    }

    /// An RFC 3339 time with an offset, given as a TOML offset date-time or a string.
    private static func time(_ value: (any TOMLValueConvertible)?) -> Instant? {
        guard let value else { return nil }
        if let text = value.string { return RFC3339.parse(text) }
        if let stamp = value.dateTime, stamp.offset != nil, let date = stamp.fDate {
            // Int64(exactly:) is nil (not a trap) for a value outside 64 bits or not finite.
            return Int64(exactly: (date.timeIntervalSince1970 * 1_000_000).rounded()).map(Instant.init(micros:))
        }
        return nil
    }
}

/// Why a schedule could not be used, as one line.
public struct ScheduleProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
