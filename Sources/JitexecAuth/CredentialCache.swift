import JitexecBase
import JitexecSystem

#if canImport(Glibc)
    import Glibc
#endif

/// "Authenticated recently" records, like sudo's timestamps: after a successful authentication
/// the user is not asked again for `ttlSeconds`, but only in the same terminal session (see
/// `SessionScope`), the same boot, and measured on `CLOCK_BOOTTIME`, so setting the wall clock
/// cannot extend it and a reboot ends it.
///
/// One file per uid (named by the decimal uid) in a root-only directory. A file that is not a
/// regular, single-link file owned by the effective user (root in the setuid binary) with mode
/// 0600 is ignored and replaced. Writes go to a temporary file in the same directory and are
/// renamed over the old file; a refresh that would write the text already there (the same session
/// again within the same second) writes nothing. The caller checks the directories above `directory`.
public struct CredentialCache: Sendable {
    /// At most this many sessions of one user are remembered; the oldest go first.
    public static let maxEntries = 16
    static let maxFileBytes = 64 * 1024

    /// Where the per-uid files live (RUNDIR/jitexec in the real binary).
    public let directory: String
    /// How long an authentication counts; 0 or less disables the cache.
    public let ttlSeconds: Int64
    /// This boot's id: entries recorded under another boot are never honoured.
    public let bootID: String
    private let bootClock: @Sendable () -> Int64

    /// `ttlSeconds` 0 (or less) disables the cache, and so does an empty `bootID`.
    public init(
        directory: String, ttlSeconds: Int64, bootClock: @escaping @Sendable () -> Int64 = bootTimeSeconds,
        bootID: String = systemBootID()
    ) {
        self.directory = directory
        self.ttlSeconds = ttlSeconds
        self.bootClock = bootClock
        self.bootID = bootID
    }

    /// Whether caching is on at all.
    public var isEnabled: Bool { ttlSeconds > 0 && CacheEntry.isToken(bootID) }

    /// True only for an entry of this uid, boot and scope, recorded no more than `ttlSeconds`
    /// ago and not in the future (a clock that went backwards must not extend it).
    public func isFresh(uid: UInt32, scope: SessionScope) -> Bool {
        guard isEnabled, let dir = try? openDirectory(create: false) else { return false }
        defer { close(dir) }
        let now = bootClock()
        return readEntries(dir, uid: uid).contains { $0.scope == scope && isLive($0, now: now) }
    }

    /// Records that `uid` authenticated now in `scope`, keeping the user's other live sessions.
    /// The directory's lock is shared by every user: terminal signals are held while it is taken, so
    /// no caller can stop their own process with it held (see TerminalSignals).
    public func refresh(uid: UInt32, scope: SessionScope) throws(CredentialCacheError) {
        guard isEnabled else { return }
        let hold = TerminalSignals.Hold()
        defer { hold.end() }
        let dir = try openDirectory(create: true)
        defer { close(dir) }
        // Serialises writers, so two sessions refreshing at once do not drop each other.
        while flock(dir, LOCK_EX) != 0 && errno == EINTR {}
        let now = bootClock()
        let recorded = readEntries(dir, uid: uid)
        var entries = recorded.filter { $0.scope != scope && isLive($0, now: now) }
        entries.append(CacheEntry(uid: uid, bootID: bootID, scope: scope, time: now))
        entries = Array(entries.suffix(Self.maxEntries))
        // The file already says exactly this (a run in the same second as the last one, in the
        // same session): rewriting it would change nothing a reader sees, so it is left as it is.
        guard entries != recorded else { return }
        try writeAtomically(dir, name: String(uid), contents: Self.lines(entries))
    }

    /// Forgets the cached session of `uid` in `scope` only (`jitexec -k`: this terminal), keeping
    /// the others, under the directory's lock like `refresh`.
    public func remove(uid: UInt32, scope: SessionScope) throws(CredentialCacheError) {
        guard isEnabled else { return }
        let hold = TerminalSignals.Hold()
        defer { hold.end() }
        guard let dir = try? openDirectory(create: false) else { return }
        defer { close(dir) }
        while flock(dir, LOCK_EX) != 0 && errno == EINTR {}
        let entries = readEntries(dir, uid: uid)
        let kept = entries.filter { $0.scope != scope }
        guard kept.count != entries.count else { return }
        if kept.isEmpty {
            unlinkat(dir, String(uid), 0)
            return
        }
        try writeAtomically(dir, name: String(uid), contents: Self.lines(kept))
    }

    /// Forgets every cached session of `uid` (`jitexec -K`).
    public func remove(uid: UInt32) {
        guard let dir = try? openDirectory(create: false) else { return }
        defer { close(dir) }
        unlinkat(dir, String(uid), 0)
    }

    /// The file's contents: one line an entry.
    private static func lines(_ entries: [CacheEntry]) -> [UInt8] {
        var bytes: [UInt8] = []
        for entry in entries { bytes += entry.line.utf8 }
        return bytes
    }

    /// Recorded no more than `ttlSeconds` ago on this clock, and not later than now.
    private func isLive(_ entry: CacheEntry, now: Int64) -> Bool {
        entry.time <= now && now - entry.time < ttlSeconds
    }

    /// Opens the cache directory (creating it 0700 if asked) and checks that it is a real
    /// directory of the effective user that no one else can use; a looser mode is tightened.
    private func openDirectory(create: Bool) throws(CredentialCacheError) -> Int32 {
        if create && mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw CredentialCacheError("cannot create \(directory)")
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw CredentialCacheError("cannot open \(directory)") }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            close(fd)
            throw CredentialCacheError(
                "\(directory) is not a directory owned by uid \(geteuid()) and closed to others", errno: 0)
        }
        if info.st_mode & 0o077 != 0 && fchmod(fd, 0o700) != 0 {
            close(fd)
            throw CredentialCacheError("cannot make \(directory) mode 0700")
        }
        return fd
    }

    /// The entries of `uid`'s file that belong to this uid and boot. Anything but a regular,
    /// single-link, 0600 file of the effective user (a symlink, a FIFO, a hard link to
    /// another file) is ignored, and so is a file with any malformed line.
    private func readEntries(_ dir: Int32, uid: UInt32) -> [CacheEntry] {
        let fd = openat(dir, String(uid), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(),
            info.st_mode & 0o7777 == 0o600, info.st_nlink == 1,
            let bytes = FileSystem.readAll(fd, limit: Self.maxFileBytes)
        else { return [] }
        var entries: [CacheEntry] = []
        for line in bytes.split(separator: 0x0a) {
            guard let entry = CacheEntry(line: String(decoding: line, as: UTF8.self)) else { return [] }
            if entry.uid == uid && entry.bootID == bootID { entries.append(entry) }
        }
        return entries
    }

    /// Writes `contents` to a new 0600 file next to `name` and renames it over `name` (replacing
    /// whatever is there, a symlink included, without following it). Not synced, as sudo does not
    /// sync its timestamps: after a crash the cache is at worst empty or unreadable, which is read
    /// as "not fresh" and costs a password, never an unearned skip (RUNDIR is a tmpfs anyway).
    private func writeAtomically(_ dir: Int32, name: String, contents: [UInt8]) throws(CredentialCacheError) {
        let temporary = ".\(name).\(getpid()).tmp"
        unlinkat(dir, temporary, 0)  // left over by a run that died
        let fd = openat(dir, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CredentialCacheError("cannot create a file in \(directory)") }
        let written = fchmod(fd, 0o600) == 0 && FileSystem.writeAll(fd, contents)
        let closed = close(fd) == 0
        guard written, closed, renameat(dir, temporary, dir, name) == 0 else {
            let error = CredentialCacheError("cannot write \(directory)/\(name)")
            unlinkat(dir, temporary, 0)
            throw error
        }
    }
}

/// Why the credential cache could not be written. Not fatal for the caller: the user just
/// authenticates again next time.
public struct CredentialCacheError: Error, Sendable, CustomStringConvertible {
    public let message: String

    /// Appends the text of the current `errno` when there is one.
    init(_ what: String, errno code: Int32 = errno) {
        message = code == 0 ? what : "\(what): \(String(cString: strerror(code)))"
    }

    public var description: String { "credential cache: \(message)" }
}

/// One line of a cache file: `uid boot-id tty|- pid start-time boot-seconds`.
struct CacheEntry: Equatable {
    var uid: UInt32
    var bootID: String
    var scope: SessionScope
    var time: Int64

    init(uid: UInt32, bootID: String, scope: SessionScope, time: Int64) {
        self.uid = uid
        self.bootID = bootID
        self.scope = scope
        self.time = time
    }

    /// Parses a line strictly: six fields, each in its exact form.
    init?(line: String) {
        let fields = line.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        guard fields.count == 6, let uid = UInt32(fields[0]), Self.isToken(fields[1]),
            let pid = Int32(fields[3]), pid > 0, let start = UInt64(fields[4]), let time = Int64(fields[5])
        else { return nil }
        let tty: UInt64?
        if fields[2] == "-" {
            tty = nil
        } else if let device = UInt64(fields[2]) {
            tty = device
        } else {
            return nil
        }
        self.init(
            uid: uid, bootID: fields[1],
            scope: SessionScope(terminalDevice: tty, processID: pid, processStartTime: start), time: time)
    }

    /// The line, newline included.
    var line: String {
        let tty = scope.terminalDevice.map { String($0) } ?? "-"
        return "\(uid) \(bootID) \(tty) \(scope.processID) \(scope.processStartTime) \(time)\n"
    }

    /// A boot id as the kernel writes it: non-empty, hex digits and dashes only.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || $0 == 0x2d }
    }
}
