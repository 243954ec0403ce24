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

    /// Years 0...9999 are written byte by byte, the others spelled out: both agree with the
    /// seconds form at every edge (the audit hash covers this text).
    @Test func fixedWidthFormAgreesWithTheSecondsForm() {
        let edges: [Int64] = [
            -62_167_219_200, -62_167_219_201, 253_402_300_799, 253_402_300_800, 0, -1, 1_795_919_401, 951_782_400,
        ]
        var random = SplitMix(seed: 42)
        let seconds =
            edges + (0..<2000).map { _ in Int64(bitPattern: random.next() % 400_000_000_000) - 62_000_000_000 }
        for s in seconds {
            for fraction: Int64 in [0, 7, 999_999] {
                let whole = RFC3339.format(seconds: s)
                let expected =
                    whole.hasSuffix("Z") ? String(whole.dropLast()) + "." + RFC3339.pad(Int(fraction), 6) + "Z" : nil
                let micros = s.multipliedReportingOverflow(by: 1_000_000).partialValue + fraction
                if let expected { #expect(RFC3339.format(micros: micros) == expected, "\(s)") }
            }
        }
        #expect(RFC3339.format(micros: 253_402_300_800_000_001) == "10000-01-01T00:00:00.000001Z")
        #expect(RFC3339.format(micros: -62_167_219_200_000_000) == "0000-01-01T00:00:00.000000Z")
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
