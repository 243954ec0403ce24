import Testing

@testable import JitexecBase

/// Times from any input, and instants of any value, are refused or shown, never a crash.
@Suite struct TimeOverflowTests {
    @Test(arguments: [
        "99999-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999999999999999999Z", "0000-01-01T00:00:00+99:99",
        "9999-12-31T23:59:60-23:59", "2026-02-31T00:00:00Z",
    ])
    func hugeOrOddTimesParseOrAreRefused(text: String) {
        if let t = RFC3339.parse(text) { _ = RFC3339.format(t) }
    }

    @Test func fractionsLongerThanMicrosecondsAreCutNotACrash() {
        #expect(RFC3339.parse("2026-11-29T02:30:01.1234567Z") == 1_795_919_401_123_456)
        #expect(RFC3339.parse("2026-11-29T02:30:01.123456789012345678901234567890Z") == 1_795_919_401_123_456)
    }

    @Test func everyInstantCanBeFormatted() {
        for micros: Int64 in [Int64.min, Int64.min + 1, -1, 0, Int64.max, -999_999, -1_000_000] {
            #expect(!RFC3339.format(micros: micros).isEmpty)
        }
        #expect(RFC3339.format(micros: -1) == "1969-12-31T23:59:59.999999Z")
        #expect(RFC3339.format(micros: -1_000_000) == "1969-12-31T23:59:59.000000Z")
        #expect(RFC3339.format(seconds: Int64.max) == "@9223372036854775807")
    }
}

/// Instants: lengths are Durations, arithmetic saturates, the text is RFC 3339.
@Suite struct InstantTests {
    static let now: Instant = 1_795_919_401_000_042

    @Test func lengthsAreAddedAndTakenAsDurations() {
        #expect(Self.now + .seconds(90) == Instant(micros: 1_795_919_491_000_042))
        #expect(Self.now - .seconds(60) == Instant(micros: 1_795_919_341_000_042))
        #expect((Self.now + .milliseconds(1500)) - Self.now == .microseconds(1_500_000))
        #expect(Self.now.adding(seconds: 60) == Self.now + .seconds(60))
    }

    @Test func arithmeticSaturatesInsteadOfWrappingOrTrapping() {
        let last = Instant(micros: .max)
        let first = Instant(micros: .min)
        #expect(last + .seconds(1) == last)
        #expect(first - .seconds(1) == first)
        #expect(last.adding(seconds: .max) == last)
        #expect(first.adding(seconds: .min) == first)
        #expect(last - first == .microseconds(Int64.max))
        #expect(first - last == .microseconds(Int64.min))
    }

    @Test func wholeSecondsRoundDownAndTheTextIsRFC3339() {
        #expect(Self.now.wholeSeconds == 1_795_919_401)
        #expect(Instant(micros: -1).wholeSeconds == -1)
        #expect(Self.now.rfc3339 == "2026-11-29T02:30:01Z")
        #expect(Self.now.description == "2026-11-29T02:30:01.000042Z")
    }
}
