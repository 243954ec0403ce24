import Glibc

/// Why a session recording stopped: the command is ended when it does (see the sessions contract).
public enum RecordingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The next event would have made the file larger than `record_max` (the limit, in bytes).
    case limit(Int64)
    /// A write to the recording failed with this errno (ENOSPC, EIO, ...).
    case write(Int32)

    public var description: String {
        switch self {
        case .limit(let bytes): "the session recording reached record_max (\(Self.size(bytes)))"
        case .write(let code): "the session recording could not be written (\(String(cString: strerror(code))))"
        }
    }

    /// `64 MiB`, `1 GiB`, `65 KiB`, or `1000 bytes` when the size is not a whole number of KiB.
    static func size(_ bytes: Int64) -> String {
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes > 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift) \(unit)"
        }
        return bytes == 1 ? "1 byte" : "\(bytes) bytes"
    }
}
