import Glibc

/// The file-system helpers every module shares.
public enum FileSystem {
    /// realpath(3): the absolute path with every symbolic link, `.` and `..` resolved; nil when the
    /// path does not resolve.
    public static func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Writes all of `bytes` to `fd`, retrying after signals and short writes; false when a write
    /// fails (or writes nothing). The one write loop of the program.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        let bytes = Array(bytes)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Reads `fd` from its offset to its end; nil on a read error (errno says why) or when it holds
    /// more than `limit` bytes (errno `EFBIG`). The bytes are read straight into the result, sized
    /// by the file's own size when it has one (one read, and one more that finds the end): no
    /// scratch buffer is zeroed first, each new page of which would be a page fault.
    public static func readAll(_ fd: Int32, limit: Int) -> [UInt8]? {
        // One byte past the limit is read to tell "exactly the limit" from "more".
        let bound = limit < Int.max ? limit + 1 : limit
        var info = stat()
        let size = fstat(fd, &info) == 0 && info.st_size > 0 ? Int(info.st_size) : 0
        var chunk = min(max(size, 4095) + 1, bound)
        var out: [UInt8] = []
        while true {
            var n = 0
            let piece = [UInt8](unsafeUninitializedCapacity: chunk) { buffer, count in
                repeat { n = read(fd, buffer.baseAddress, buffer.count) } while n < 0 && errno == EINTR
                count = max(n, 0)
            }
            if n < 0 { return nil }
            if piece.isEmpty { return out }
            if out.isEmpty { out = piece } else { out += piece }
            if out.count > limit {
                errno = EFBIG
                return nil
            }
            chunk = min(max(out.count, 4096), bound - out.count)
        }
    }

    /// The names in directory `dir` (`.` and `..` left out), in the order readdir gives them; nil
    /// when it cannot be opened (errno says why). The one directory listing of the program.
    public static func entries(of dir: String) -> [String]? {
        guard let handle = opendir(dir) else { return nil }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
