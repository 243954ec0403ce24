import JitexecBase
import JitexecPolicy
import Testing

@testable import JitexecCore

/// `--since` (and every duration a person types) is refused, never overflowed.
@Suite struct SinceParsingTests {
    static let now: Instant = 1_795_919_401_000_000

    @Test(arguments: [
        "99999999999999s", "99999999999999999999s", "106751991167301d", "36501d", "9223372036854775807s",
        "99999-01-01T00:00:00Z", "2026-11-29T02:30:01", "yesterday",
    ])
    func hugeOrMalformedSinceIsAUsageError(text: String) {
        #expect(throws: JitError.self) { try LogCommand.parseSince(text, now: Self.now) }
        do {
            _ = try LogCommand.parseSince(text, now: Self.now)
        } catch {
            #expect(error.exitStatus == 1)
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func sinceAcceptsSpansAndTimes() throws {
        #expect(try LogCommand.parseSince("90m", now: Self.now) == Self.now - .seconds(5400))
        #expect(try LogCommand.parseSince("36500d", now: Self.now) == Self.now - .seconds(36_500 * 86_400))
        #expect(try LogCommand.parseSince("2026-11-29T02:30:01Z", now: Self.now) == Self.now)
    }
}
