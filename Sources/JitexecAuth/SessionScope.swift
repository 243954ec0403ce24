import JitexecSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What a cached credential is tied to, like sudo's timestamp records: with a terminal, the
/// terminal device and its session leader; without one, the parent process. A process is named
/// by its pid and its start time, so a recycled pid is a different process.
public struct SessionScope: Equatable, Sendable {
    /// The terminal's device number (`st_rdev`); nil when the scope is the parent process.
    public var terminalDevice: UInt64?
    /// The session leader (with a terminal) or the parent process (without).
    public var processID: Int32
    /// That process's start time in clock ticks after boot (field 22 of `/proc/PID/stat`).
    public var processStartTime: UInt64

    public init(terminalDevice: UInt64?, processID: Int32, processStartTime: UInt64) {
        self.terminalDevice = terminalDevice
        self.processID = processID
        self.processStartTime = processStartTime
    }

    /// The scope of the current process, or nil when it cannot be determined (then nothing is
    /// cached). `ttyFD` is the terminal jitexec prompts on; a descriptor of `/dev/tty` itself
    /// is resolved to the real controlling terminal.
    public static func current(ttyFD: Int32?) -> SessionScope? {
        guard let fd = ttyFD else {
            let parent = getppid()
            // Reparented to init: the parent that authenticated is gone.
            guard parent > 1, let start = startTime(ofProcess: parent) else { return nil }
            return SessionScope(terminalDevice: nil, processID: parent, processStartTime: start)
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFCHR, isatty(fd) == 1 else { return nil }
        var device = UInt64(info.st_rdev)
        if device == deviceNumber(major: 5, minor: 0) {
            // fstat of /dev/tty reports /dev/tty (5:0), the same for every terminal.
            guard let controlling = ProcessTree.controllingTerminal() else { return nil }
            device = controlling
        }
        let leader = getsid(0)
        guard leader > 0, let start = startTime(ofProcess: leader) else { return nil }
        return SessionScope(terminalDevice: device, processID: leader, processStartTime: start)
    }
}

/// Seconds on `CLOCK_BOOTTIME`: counts suspend, cannot be set, restarts at every boot.
public func bootTimeSeconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_BOOTTIME, &now)
    return Int64(now.tv_sec)
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), or "" when unreadable (which disables
/// the credential cache).
public func systemBootID() -> String {
    guard let bytes = readSmallFile("/proc/sys/kernel/random/boot_id", limit: 128) else { return "" }
    let text = bytes.filter { $0 != 0x0a }
    let allowed = Array("0123456789abcdef-".utf8)
    guard text.count == 36, text.allSatisfy(allowed.contains) else { return "" }
    return String(decoding: text, as: UTF8.self)
}

/// The start time (field 22 of `/proc/PID/stat`) of process `pid`, as the scope keeps it.
func startTime(ofProcess pid: Int32) -> UInt64? {
    ProcessTree.startTime(of: pid).flatMap { UInt64(exactly: $0) }
}

/// Reads at most `limit` bytes of a small file; nil when it cannot be opened or is larger.
func readSmallFile(_ path: String, limit: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return FileSystem.readAll(fd, limit: limit)
}
