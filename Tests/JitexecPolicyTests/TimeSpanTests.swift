import JitexecBase
import Testing

@testable import JitexecPolicy
@testable import JitexecPolicyTOML

@Suite struct TimeSpanTests {
    @Test(
        arguments: [
            ("0", 0), ("0s", 0), ("90s", 90), ("15m", 900), ("1h", 3_600), ("1h30m", 5_400), ("2d", 172_800),
            ("1h0m30s", 3_630), ("1d2h3m4s", 93_784), ("007m", 420), ("25h", 90_000),
        ] as [(String, Int64)])
    func parsesValidDurations(text: String, seconds: Int64) {
        #expect(TimeSpan.parse(text) == TimeSpan(seconds: seconds))
    }

    @Test(arguments: [
        "", "1", "h", "1x", "-5m", "+5m", "1.5h", "1 h", " 1h", "1h ", "30m1h", "1h1h", "1m2d", "1H", "1hm",
        "m30", "99999999999999999999s", "106751991167301d", "9223372036854775807s1s", "00",
    ])
    func rejectsInvalidDurations(text: String) {
        #expect(TimeSpan.parse(text) == nil)
    }

    @Test(
        arguments: [
            (0, "0s"), (90, "1m30s"), (5_400, "1h30m"), (3_630, "1h30s"), (86_400, "1d"), (90_000, "1d1h"), (59, "59s"),
            (-90, "-1m30s"),
        ] as [(Int64, String)])
    func describesCanonically(seconds: Int64, text: String) {
        #expect(TimeSpan(seconds: seconds).description == text)
    }

    @Test func canonicalFormParsesBackToTheSameSpan() {
        for seconds: Int64 in [1, 61, 3_599, 3_601, 90_061, 1_000_000] {
            let span = TimeSpan(seconds: seconds)
            #expect(TimeSpan.parse(span.description) == span)
        }
    }

    @Test func ordersBySeconds() {
        #expect(TimeSpan.parse("59m")! < TimeSpan.parse("1h")!)
        #expect(!(TimeSpan.parse("2h")! < TimeSpan.parse("1h59m")!))
    }
}

/// No span can make an instant overflow: the longest one is 100 years, anything longer is refused.
@Suite struct TimeSpanBoundsTests {
    @Test func theLongestSpanIsAcceptedAndNothingLonger() {
        #expect(TimeSpan.parse("36500d") == TimeSpan.longest)
        #expect(TimeSpan.parsing("36500d1s") == .failure(.tooLong))
        #expect(TimeSpan.parsing("99999999999999s") == .failure(.tooLong))
        #expect(TimeSpan.parsing("99999999999999999999s") == .failure(.tooLong))
        #expect(TimeSpan.parsing("9223372036854775807m") == .failure(.tooLong))
        #expect(TimeSpan.parsing("106751991167300d23h59m59s") == .failure(.tooLong))
        #expect(TimeSpan.parsing("1x") == .failure(.malformed))
    }

    @Test func instantsAroundASpanAreCheckedForOverflow() {
        let now: Instant = 1_795_919_401_000_000
        #expect(TimeSpan.parse("90m")!.before(now) == now - .seconds(5400))
        #expect(TimeSpan.parse("90m")!.after(now) == now + .seconds(5400))
        #expect(TimeSpan.longest.before(now) != nil && TimeSpan.longest.after(now) != nil)
        #expect(TimeSpan(seconds: 99_999_999_999_999).before(now) == nil)
        #expect(TimeSpan(seconds: 1).after(Instant(micros: .max)) == nil)
        #expect(TimeSpan(seconds: 1).before(Instant(micros: .min)) == nil)
    }

    @Test func aCompiledPolicyCannotCarryALongerSpan() throws {
        let ok = try TimeSpan(json: try JSONReader.parse(Array("3600".utf8)[...]))
        #expect(ok == TimeSpan(seconds: 3600))
        #expect(ok.json.canonical == "3600")
        #expect(throws: JSONReader.Failure.self) {
            try TimeSpan(json: try JSONReader.parse(Array("9223372036854775807".utf8)[...]))
        }
    }
}
