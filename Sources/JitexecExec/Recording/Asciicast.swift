import JitexecBase

/// A session recording read back (asciicast v2): what `jitctl replay`, `attach` and `sessions` show.
public struct Asciicast: Equatable, Sendable {
    /// The first line.
    public struct Header: Equatable, Sendable {
        public var width: Int
        public var height: Int
        /// The start, in seconds since the epoch (nil when the file does not say).
        public var timestamp: Int64?
        public var title: String?
        /// The string values of `env` (TERM, SHELL).
        public var env: [String: String]

        public init(width: Int, height: Int, timestamp: Int64?, title: String?, env: [String: String] = [:]) {
            self.width = width
            self.height = height
            self.timestamp = timestamp
            self.title = title
            self.env = env
        }
    }

    /// One event line.
    public struct Event: Equatable, Sendable {
        /// Seconds since the start of the session.
        public var time: Double
        /// "o" output, "i" input, "r" resize, "m" marker, or whatever else a writer put there.
        public var kind: String
        public var data: String

        public init(time: Double, kind: String, data: String) {
            self.time = time
            self.kind = kind
            self.data = data
        }
    }

    public var header: Header
    public var events: [Event]

    public init(header: Header, events: [Event]) {
        self.header = header
        self.events = events
    }

    /// The recording in `bytes`. With `partialTail`, a last line without its newline (a file still
    /// being written) is left out; without, it is an error.
    public static func parse(_ bytes: [UInt8], partialTail: Bool = false) throws(AsciicastError) -> Asciicast {
        var follower = AsciicastFollower()
        let events = try follower.feed(bytes)
        if follower.hasPartialLine && !partialTail { throw .truncated(line: follower.lineCount + 1) }
        guard let header = follower.header else { throw .empty }
        return Asciicast(header: header, events: events)
    }
}

/// Why a recording cannot be read.
public enum AsciicastError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No header line (an empty file).
    case empty
    /// Line `line` is not what asciicast v2 has there.
    case malformed(line: Int, reason: String)
    /// The header names another asciicast version.
    case unsupportedVersion(Int64)
    /// The last line, number `line`, has no newline: the file was cut short or is still being written.
    case truncated(line: Int)

    public var description: String {
        switch self {
        case .empty: "the recording is empty (no asciicast header)"
        case .malformed(let line, let reason): "line \(line) of the recording is not asciicast v2: \(reason)"
        case .unsupportedVersion(let version):
            "the recording is asciicast version \(version); only version 2 can be read"
        case .truncated(let line): "the recording ends in the middle of line \(line)"
        }
    }
}

/// Reads a recording as it grows (`jitctl attach`): `feed` takes the bytes read since the last
/// call, in pieces of any size, and returns the events of the lines they complete. The first line
/// is the header. After an error every call throws it again.
public struct AsciicastFollower: Sendable {
    public private(set) var header: Asciicast.Header?
    /// The complete lines read so far.
    public private(set) var lineCount = 0
    /// The bytes of a line whose newline has not come yet.
    private var pending: [UInt8] = []
    private var failure: AsciicastError?

    public init() {}

    /// Bytes are waiting for the end of their line.
    public var hasPartialLine: Bool { pending.contains { !Self.isSpace($0) } }

    public mutating func feed(_ bytes: some Collection<UInt8>) throws(AsciicastError) -> [Asciicast.Event] {
        if let failure { throw failure }
        pending.append(contentsOf: bytes)
        var events: [Asciicast.Event] = []
        var start = pending.startIndex
        while let newline = pending[start...].firstIndex(of: 0x0A) {
            lineCount += 1
            do {
                if let event = try line(pending[start..<newline]) { events.append(event) }
            } catch {
                failure = error
                throw error
            }
            start = newline + 1
        }
        pending.removeFirst(start - pending.startIndex)
        return events
    }

    /// The event of one complete line (nil for the header and blank lines).
    private mutating func line(_ text: ArraySlice<UInt8>) throws(AsciicastError) -> Asciicast.Event? {
        if text.allSatisfy(Self.isSpace) { return nil }
        let item: JSONItem
        do {
            item = try JSONReader.parse(text)
        } catch {
            throw .malformed(line: lineCount, reason: error.reason)
        }
        if header == nil {
            header = try Self.header(item, line: lineCount)
            return nil
        }
        return try Self.event(item, line: lineCount)
    }

    private static func header(_ item: JSONItem, line: Int) throws(AsciicastError) -> Asciicast.Header {
        guard case .object(let fields) = item else {
            throw .malformed(line: line, reason: "the header is not an object")
        }
        guard case .number(_, let version?) = fields["version"] else {
            throw .malformed(line: line, reason: "the header has no version")
        }
        guard version == 2 else { throw .unsupportedVersion(version) }
        func size(_ key: String) throws(AsciicastError) -> Int {
            guard case .number(_, let value?) = fields[key], (0...0xFFFF).contains(value) else {
                throw .malformed(line: line, reason: "the header's \(key) is not a terminal size")
            }
            return Int(value)
        }
        var header = Asciicast.Header(width: try size("width"), height: try size("height"), timestamp: nil, title: nil)
        switch fields["timestamp"] {
        case nil, .null: break
        case .number(_, let seconds?): header.timestamp = seconds
        default: throw .malformed(line: line, reason: "the header's timestamp is not a whole number")
        }
        switch fields["title"] {
        case nil, .null: break
        case .string(let title): header.title = title
        default: throw .malformed(line: line, reason: "the header's title is not a string")
        }
        switch fields["env"] {
        case nil, .null: break
        case .object(let env):
            for (name, value) in env {
                if case .string(let text) = value { header.env[name] = text }
            }
        default: throw .malformed(line: line, reason: "the header's env is not an object")
        }
        return header
    }

    private static func event(_ item: JSONItem, line: Int) throws(AsciicastError) -> Asciicast.Event {
        guard case .array(let parts) = item, parts.count == 3 else {
            throw .malformed(line: line, reason: "an event is not a [time, kind, data] array")
        }
        guard case .number(let time, _) = parts[0], time >= 0 else {
            throw .malformed(line: line, reason: "the event time is not a number of seconds")
        }
        guard case .string(let kind) = parts[1], case .string(let data) = parts[2] else {
            throw .malformed(line: line, reason: "the event kind or data is not a string")
        }
        return Asciicast.Event(time: time, kind: kind, data: data)
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
}
