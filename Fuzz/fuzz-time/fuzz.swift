import FuzzDriver
import JitexecBase
import JitexecPolicy

/// libFuzzer target: every duration and time parser, and the conversions after them. The input
/// is the text given to `TimeSpan.parsing` and `RFC3339.parse`; its first 8 bytes are also an
/// instant in microseconds. Nothing may trap; a parsed span is at most `TimeSpan.longest`, its
/// canonical form parses back to it, and an instant it is added to or taken from a real clock
/// fits; a parsed time formats and, when that is a four-digit year, parses back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTime(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    var instant: Int64 = 0
    for b in bytes.prefix(8) { instant = instant << 8 | Int64(b) }
    let now: Instant = 1_795_919_401_000_000

    if case .success(let span) = TimeSpan.parsing(text) {
        guard span.seconds >= 0, span.seconds <= TimeSpan.longest.seconds else {
            fatalError("span out of range: \(text)")
        }
        guard TimeSpan.parse(span.description) == span else {
            fatalError("canonical form does not parse back: \(text)")
        }
        guard span.after(now) != nil, span.before(now) != nil else {
            fatalError("a parsed span overflows now: \(text)")
        }
        _ = span.after(Instant(micros: instant))
        _ = span.before(Instant(micros: instant))
    }
    if let t = RFC3339.parse(text) {
        let shown = RFC3339.format(t)
        if let back = RFC3339.parse(shown), back != t {
            fatalError("\(text) formats as \(shown), which reads back differently")
        }
    }
    _ = RFC3339.format(micros: instant)
    _ = RFC3339.format(seconds: instant)
    _ = TimeSpan(seconds: instant).description
    _ = TimeSpan(seconds: instant).after(now)
    _ = TimeSpan(seconds: instant).before(Instant(micros: instant))
    // Instants saturate instead of wrapping or trapping, whatever is added or taken.
    _ = Instant(micros: instant) + .seconds(instant)
    _ = Instant(micros: instant) - .microseconds(instant)
    _ = Instant(micros: instant).adding(seconds: instant)
    _ = now - Instant(micros: instant)
    _ = Instant(micros: instant).rfc3339
    return 0
}

@_cdecl("fuzz_time_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzzTime(data, size) }
}
