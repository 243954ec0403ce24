import Glibc
import JitexecBase

/// Why a session recording stopped: the command is ended when it does (see the sessions contract).
public enum RecordingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The next event would have made the file larger than `record_max` (the limit, in bytes).
    case limit(Int64)
    /// A write to the recording failed with this errno (ENOSPC, EIO, ...).
    case write(Int32)

    public var description: String {
        switch self {
        case .limit(let bytes): "the session recording reached record_max (\(ByteSize.exact(bytes)))"
        case .write(let code): "the session recording could not be written (\(String(cString: strerror(code))))"
        }
    }

}
