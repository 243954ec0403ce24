import Glibc
import JitexecSystem

/// Writes one session recording as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
/// a header line, then one `[seconds, "o"|"i"|"r", "data"]` line per event. The file never grows
/// past `limit` bytes: the event that would cross it is not written, and from the first failure
/// (the limit, or a write error) on every call throws that failure again. The descriptor stays the
/// caller's: the writer neither closes nor syncs it. A class so the relay and the supervisor can
/// share one writer and its running size.
public final class AsciicastWriter {
    /// The most the file may hold, header included, in bytes.
    public let limit: Int64
    /// The bytes written so far, header included.
    public private(set) var size: Int64 = 0

    private let fd: Int32
    private let elapsed: () -> Duration
    private var failure: RecordingError?
    /// The time of the last event, in microseconds: events never go back in time.
    private var lastMicros: Int64 = 0
    private var outputText = UTF8Stream()
    private var inputText = UTF8Stream()

    /// Writes the header line. `elapsed` is the time since the session started (a monotonic
    /// clock); `timestamp` its wall-clock start in seconds since the epoch.
    public init(
        fd: Int32, limit: Int64, width: Int, height: Int, timestamp: Int64, title: String?, env: [String: String],
        elapsed: @escaping () -> Duration
    ) throws(RecordingError) {
        self.fd = fd
        self.limit = limit
        self.elapsed = elapsed
        var line = Array(
            "{\"version\": 2, \"width\": \(width), \"height\": \(height), \"timestamp\": \(timestamp)".utf8)
        if let title {
            line += Array(", \"title\": ".utf8)
            JSONText.append(title, to: &line)
        }
        line += Array(", \"env\": {".utf8)
        for (n, key) in env.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if n > 0 { line += Array(", ".utf8) }
            JSONText.append(key, to: &line)
            line += Array(": ".utf8)
            JSONText.append(env[key]!, to: &line)
        }
        line += Array("}}\n".utf8)
        try append(line)
    }

    /// Terminal output (an "o" event) of the complete UTF-8 characters so far.
    public func output(_ bytes: UnsafeRawBufferPointer) throws(RecordingError) {
        try check()
        try event("o", outputText.decode(bytes))
    }

    public func output(_ bytes: some Collection<UInt8>) throws(RecordingError) {
        try check()
        try event("o", Self.decode(bytes, with: &outputText))
    }

    /// Keyboard input (an "i" event) of the complete UTF-8 characters so far.
    public func input(_ bytes: UnsafeRawBufferPointer) throws(RecordingError) {
        try check()
        try event("i", inputText.decode(bytes))
    }

    public func input(_ bytes: some Collection<UInt8>) throws(RecordingError) {
        try check()
        try event("i", Self.decode(bytes, with: &inputText))
    }

    /// The terminal was resized (an "r" event, `"80x24"`).
    public func resize(width: Int, height: Int) throws(RecordingError) {
        try check()
        try event("r", "\(width)x\(height)")
    }

    /// The end of the session: a character still cut short in either stream is written as U+FFFD.
    public func finish() throws(RecordingError) {
        try check()
        try event("o", outputText.finish())
        try event("i", inputText.finish())
    }

    /// Throws the failure that already ended the recording, if any.
    private func check() throws(RecordingError) {
        if let failure { throw failure }
    }

    private static func decode(_ bytes: some Collection<UInt8>, with stream: inout UTF8Stream) -> String {
        if let text = bytes.withContiguousStorageIfAvailable({ stream.decode(UnsafeRawBufferPointer($0)) }) {
            return text
        }
        return Array(bytes).withUnsafeBytes { stream.decode($0) }
    }

    /// One event line, unless `text` is empty.
    private func event(_ kind: String, _ text: String) throws(RecordingError) {
        guard !text.isEmpty else { return }
        let micros = max(lastMicros, Self.micros(elapsed()))
        lastMicros = micros
        let fraction = String(micros % 1_000_000)
        var line = Array(
            "[\(micros / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction), ".utf8)
        JSONText.append(kind, to: &line)
        line += Array(", ".utf8)
        JSONText.append(text, to: &line)
        line += Array("]\n".utf8)
        try append(line)
    }

    /// Writes `line` whole, or nothing when it would pass the limit.
    private func append(_ line: [UInt8]) throws(RecordingError) {
        try check()
        guard Int64(line.count) <= limit - size else { return try fail(.limit(limit)) }
        errno = 0
        guard FileSystem.writeAll(fd, line) else { return try fail(.write(errno == 0 ? EIO : errno)) }
        size += Int64(line.count)
    }

    private func fail(_ error: RecordingError) throws(RecordingError) {
        failure = error
        throw error
    }

    /// `length` in whole microseconds, 0 when negative, saturating.
    static func micros(_ length: Duration) -> Int64 {
        let (seconds, attoseconds) = length.components
        guard seconds >= 0 else { return 0 }
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        let (sum, carried) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000)
        return overflow || carried ? .max : sum
    }
}
