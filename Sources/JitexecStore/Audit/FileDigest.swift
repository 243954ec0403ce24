import Glibc
import JitexecBase

/// The SHA-256 and size of a file, as `exec.end` records them for a session's recording and
/// `jitctl verify` checks them.
public enum FileDigest {
    public struct Result: Sendable, Equatable {
        public var size: Int64
        public var sha256: String
    }

    /// The SHA-256 of `bytes`, in lower-case hex.
    public static func sha256(_ bytes: [UInt8]) -> String {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.hexDigest()
    }

    /// Reads `fd` from its start to its end; nil when it cannot be read.
    public static func of(fd: Int32) -> Result? {
        var hasher = SHA256()
        var size: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(size)) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            size += Int64(count)
        }
        return Result(size: size, sha256: hasher.hexDigest())
    }

    /// The digest of the file at `path`, opened without following a final symbolic link.
    public static func of(path: String) -> Result? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return of(fd: fd)
    }
}
