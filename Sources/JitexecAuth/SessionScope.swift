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
            guard let controlling = controllingTerminal() else { return nil }
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

/// The start time (field 22 of `/proc/PID/stat`) of process `pid`.
func startTime(ofProcess pid: Int32) -> UInt64? {
    guard let fields = statFields("/proc/\(pid)/stat"), fields.count > 19 else { return nil }
    return UInt64(fields[19])
}

/// The controlling terminal of this process (field 7 of `/proc/self/stat`) as a `dev_t`.
func controllingTerminal() -> UInt64? {
    guard let fields = statFields("/proc/self/stat"), fields.count > 4, let nr = UInt64(fields[4]), nr != 0
    else { return nil }
    return deviceNumber(kernelEncoded: nr)
}

/// A device number as the kernel writes it in `/proc` (minor[7:0] | major[19:8] | minor[31:20])
/// converted to glibc's `dev_t`.
func deviceNumber(kernelEncoded nr: UInt64) -> UInt64 {
    deviceNumber(major: (nr >> 8) & 0xfff, minor: (nr & 0xff) | ((nr >> 12) & 0xfff00))
}

/// glibc's `makedev`.
func deviceNumber(major: UInt64, minor: UInt64) -> UInt64 {
    (major & 0xfff) << 8 | (major & ~0xfff) << 32 | (minor & 0xff) | (minor & ~0xff) << 12
}

/// The fields of a `/proc/PID/stat` line after the command name, starting with field 3 (the
/// name is in parentheses and may itself contain spaces and parentheses).
private func statFields(_ path: String) -> [String]? {
    guard let bytes = readSmallFile(path, limit: 4096),
        let nameEnd = bytes.lastIndex(of: UInt8(ascii: ")"))
    else { return nil }
    return bytes[(nameEnd + 1)...].split(whereSeparator: { $0 == 0x20 || $0 == 0x0a })
        .map { String(decoding: $0, as: UTF8.self) }
}

/// Reads at most `limit` bytes of a small file; nil when it cannot be opened or is larger.
func readSmallFile(_ path: String, limit: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return FileSystem.readAll(fd, limit: limit)
}
