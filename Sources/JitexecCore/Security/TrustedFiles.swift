import Glibc
import JitexecSystem

/// The trusted-file rule (SPEC.md, Files): a file jitexec trusts, and every directory above it, can
/// be changed by root only. Owned by root, not writable by group or others; a directory above may be
/// writable by all when it is root-owned and sticky (like /tmp). Symbolic links are refused as the
/// final component; those on the way must be root-owned, and their targets are checked too.
public enum TrustedFiles {
    /// `program`: an installed executable of ours; like `file`, except that more hard links are
    /// fine (what matters is the path it is run by, see `Privileges.requireInstalledBinary`).
    enum Kind: Sendable { case file, program, directory }

    /// Checks `path`; returns its canonical path. Throws `JitError.untrusted` naming the first bad component.
    @discardableResult
    static func requireRootOwned(_ path: String, kind: Kind) throws(JitError) -> String {
        guard path.hasPrefix("/") else { throw .untrusted(path: path, problem: .cannotInspect("not an absolute path")) }
        try requireRootOwnedLinks(on: path)
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw .untrusted(path: path, problem: errno == ENOENT ? .missing : .cannotInspect(errnoText()))
        }
        if (st.st_mode & S_IFMT) == S_IFLNK { throw .untrusted(path: path, problem: .symlink) }
        guard let canonical = FileSystem.canonicalPath(path) else {
            throw .untrusted(path: path, problem: .cannotInspect(errnoText()))
        }
        for dir in ancestors(of: canonical) {
            try requireRootOwnedDirectory(dir, allowSticky: true)
        }
        try requireRootOwnedEntry(canonical, st: st, kind: kind)
        return canonical
    }

    /// Checks `name` (one path component) in `directory`, which `requireRootOwned(_:kind: .directory)`
    /// accepted and returned (canonical): only root can add, swap or re-point its entries, so the walk
    /// above it is not repeated. Returns the entry's path; throws like `requireRootOwned`.
    @discardableResult
    static func requireRootOwned(_ name: String, inCheckedDirectory directory: String, kind: Kind) throws(JitError)
        -> String
    {
        let path = try entryPath(name, in: directory)
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw .untrusted(path: path, problem: errno == ENOENT ? .missing : .cannotInspect(errnoText()))
        }
        if (st.st_mode & S_IFMT) == S_IFLNK { throw .untrusted(path: path, problem: .symlink) }
        try requireRootOwnedEntry(path, st: st, kind: kind)
        return path
    }

    /// `directory`'s entry `name`, which must be one path component (no "/", not "." or "..").
    private static func entryPath(_ name: String, in directory: String) throws(JitError) -> String {
        let path = directory == "/" ? "/" + name : directory + "/" + name
        guard !name.isEmpty, name != ".", name != "..", !name.utf8.contains(UInt8(ascii: "/")) else {
            throw .untrusted(path: path, problem: .cannotInspect("not a file name"))
        }
        return path
    }

    /// Checks a trusted file and reads it through a descriptor proven to be the file that was checked.
    public static func readTrustedFile(_ path: String) throws(JitError) -> [UInt8] {
        let (_, fd) = try openChecked(path, kind: .file, flags: O_RDONLY | O_NOCTTY)
        defer { close(fd) }
        return try readAll(fd, path: path)
    }

    /// Checks `path` as `kind` and opens it (with `flags`, never following a link); the descriptor is
    /// proven to be what was checked. Returns the canonical path and the descriptor (the caller's).
    private static func openChecked(_ path: String, kind: Kind, flags: Int32) throws(JitError) -> (String, Int32) {
        let canonical = try requireRootOwned(path, kind: kind)
        var checked = stat()
        guard lstat(canonical, &checked) == 0 else {
            throw .untrusted(path: path, problem: .cannotInspect(errnoText()))
        }
        let fd = open(canonical, flags | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: errnoText()) }
        var opened = stat()
        guard fstat(fd, &opened) == 0, opened.st_dev == checked.st_dev, opened.st_ino == checked.st_ino else {
            close(fd)
            throw .untrusted(path: path, problem: .cannotInspect("it changed while being checked"))
        }
        return (canonical, fd)
    }

    /// A trusted directory checked once and kept open, whose files are then checked and read through
    /// it: several files in one directory (a PAM service and the files it includes) cost one walk up
    /// to "/" instead of one each. The directory must be root's and writable by root only (as a
    /// file's last directory, not sticky); nothing but root can then add, swap or re-point its
    /// entries, and each file is checked on the descriptor it is read through.
    final class Directory {
        /// The directory's canonical path.
        let path: String
        private let fd: Int32

        /// Checks `path` and opens it. Throws `JitError.untrusted` (`.missing` when it is not there).
        init(_ path: String) throws(JitError) {
            (self.path, fd) = try openChecked(path, kind: .directory, flags: O_RDONLY | O_DIRECTORY)
        }

        deinit { close(fd) }

        /// The checked contents of the file `name` (one path component) in this directory, or nil
        /// when there is none. A symbolic link, a non-regular file, a file with more than one link,
        /// one not owned by root or writable by others is refused (`JitError.untrusted`).
        func read(_ name: String) throws(JitError) -> [UInt8]? {
            let file = try entryPath(name, in: path)
            // O_NONBLOCK: a FIFO opens without waiting for a writer, and is then refused.
            let opened = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
            guard opened >= 0 else {
                switch errno {
                case ENOENT: return nil
                case ELOOP: throw .untrusted(path: file, problem: .symlink)
                default: throw .unreadable(path: file, reason: errnoText())
                }
            }
            defer { close(opened) }
            var st = stat()
            guard fstat(opened, &st) == 0 else { throw .untrusted(path: file, problem: .cannotInspect(errnoText())) }
            try requireRootOwnedEntry(file, st: st, kind: .file)
            return try readAll(opened, path: file)
        }
    }

    /// Reads everything from an open descriptor (bounded at 16 MiB: no policy is that large).
    static func readAll(_ fd: Int32, path: String, limit: Int = 16 << 20) throws(JitError) -> [UInt8] {
        guard let bytes = FileSystem.readAll(fd, limit: limit) else {
            throw .unreadable(path: path, reason: errno == EFBIG ? "larger than \(limit >> 20) MiB" : errnoText())
        }
        return bytes
    }

    /// Every directory above `path`, from "/" down to its parent (empty components skipped, as
    /// `split(separator: "/")` would). Built from the path's bytes: joining `Substring`s onto a
    /// `String` goes through the generic `+`, character by character, and the hot path walks
    /// six paths twice each.
    static func ancestors(of path: String) -> [String] {
        var result = ["/"]
        let slash = UInt8(ascii: "/")
        var current: [UInt8] = []
        var component: [UInt8] = []
        for byte in path.utf8 {
            if byte != slash {
                component.append(byte)
            } else if !component.isEmpty {
                // A component followed by a slash: one more directory, if another component follows.
                current.append(slash)
                current += component
                component.removeAll(keepingCapacity: true)
                result.append(String(decoding: current, as: UTF8.self))
            }
        }
        // The last component ended the path, or only slashes followed it: either way it is not
        // an ancestor, and a trailing slash must not make it one.
        if component.isEmpty, result.count > 1 { result.removeLast() }
        return result
    }

    private static func requireRootOwnedDirectory(_ dir: String, allowSticky: Bool) throws(JitError) {
        var st = stat()
        guard lstat(dir, &st) == 0 else { throw .untrusted(path: dir, problem: .cannotInspect(errnoText())) }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .untrusted(path: dir, problem: .notDirectory) }
        guard st.st_uid == 0 else { throw .untrusted(path: dir, problem: .notOwnedByRoot(uid: st.st_uid)) }
        let sticky = (st.st_mode & S_ISVTX) != 0
        if (st.st_mode & 0o022) != 0 && !(allowSticky && sticky) {
            throw .untrusted(path: dir, problem: .writableByOthers(mode: st.st_mode))
        }
    }

    static func requireRootOwnedEntry(_ path: String, st: stat, kind: Kind) throws(JitError) {
        switch kind {
        case .file, .program:
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw .untrusted(path: path, problem: .notRegularFile) }
            guard kind == .program || st.st_nlink == 1 else {
                throw .untrusted(path: path, problem: .hardLinked(count: UInt64(st.st_nlink)))
            }
        case .directory:
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .untrusted(path: path, problem: .notDirectory) }
        }
        guard st.st_uid == 0 else { throw .untrusted(path: path, problem: .notOwnedByRoot(uid: st.st_uid)) }
        guard (st.st_mode & 0o022) == 0 else {
            throw .untrusted(path: path, problem: .writableByOthers(mode: st.st_mode))
        }
    }

    /// Symbolic links on the way to `path` must belong to root: anyone else could re-point them.
    private static func requireRootOwnedLinks(on path: String) throws(JitError) {
        for dir in ancestors(of: path).dropFirst() {
            var st = stat()
            guard lstat(dir, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFLNK && st.st_uid != 0 {
                throw .untrusted(path: dir, problem: .notOwnedByRoot(uid: st.st_uid))
            }
        }
    }
}

/// The text of the current errno.
/// `strerror` of `code` (by default the current errno).
func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
