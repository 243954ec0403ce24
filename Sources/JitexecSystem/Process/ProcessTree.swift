import CJitexecSystem
import Glibc

/// The processes below this one, read from /proc. With this process a child subreaper
/// (`ProcessTree.becomeSubreaper`), every process a command starts stays below it however it
/// detaches (double fork, setsid, setpgid), so the tree is the whole of what the command started.
public enum ProcessTree {
    /// Orphaned descendants are re-parented to this process from now on.
    public static func becomeSubreaper() throws(ExecError) {
        guard jx_set_child_subreaper(1) == 0 else { throw .system(call: "prctl(PR_SET_CHILD_SUBREAPER)", errno: errno) }
    }

    /// Every live descendant of `root` (children first, then theirs), from one pass over /proc.
    public static func descendants(of root: pid_t) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        for pid in allProcesses() {
            if let parent = stat(pid)?.parent { children[parent, default: []].append(pid) }
        }
        var found: [pid_t] = []
        var queue = children[root] ?? []
        while let next = queue.popLast() {
            found.append(next)
            queue += children[next] ?? []
        }
        return found
    }

    /// `pid`'s start time in clock ticks after boot (/proc/PID/stat field 22): with the pid, it
    /// names one process, never a later one that reuses the pid. Nil when it is gone.
    public static func startTime(of pid: pid_t) -> Int64? { stat(pid)?.start }

    /// Whether `pid` is alive and is the process that started at `start`.
    public static func isAlive(_ pid: pid_t, start: Int64) -> Bool {
        pid > 0 && startTime(of: pid) == start
    }

    /// Sends `signal` to every descendant of `root` until none is left or `rounds` are spent
    /// (SIGKILL: a process that forks between the listing and the signal is found the next round).
    /// Returns how many were signalled in the last round.
    @discardableResult
    public static func signalAll(below root: pid_t, _ signal: Int32, rounds: Int = 1) -> Int {
        var last = 0
        for _ in 0..<max(rounds, 1) {
            let pids = descendants(of: root)
            last = pids.count
            if pids.isEmpty { break }
            for pid in pids { _ = kill(pid, signal) }
        }
        return last
    }

    private static func allProcesses() -> [pid_t] {
        (FileSystem.entries(of: "/proc") ?? []).compactMap { pid_t($0) }.filter { $0 > 0 }
    }

    /// This process's controlling terminal (`tty_nr`, field 7 of /proc/self/stat) as a `dev_t`;
    /// nil without one.
    public static func controllingTerminal() -> UInt64? {
        guard let fields = statFields(of: "self"), let nr = field(7, of: fields), nr > 0 else { return nil }
        return deviceNumber(kernelEncoded: UInt64(nr))
    }

    /// Parent pid (field 4) and start time (field 22) of /proc/PID/stat.
    private static func stat(_ pid: pid_t) -> (parent: pid_t, start: Int64)? {
        guard let fields = statFields(of: String(pid)), let parent = field(4, of: fields),
            let start = field(22, of: fields), let parentPID = pid_t(exactly: parent)
        else { return nil }
        return (parentPID, start)
    }

    /// The fields of /proc/`process`/stat (`process` a pid, or "self") after the command name: field
    /// 2, in parentheses, may itself hold spaces and parentheses, so the fields are counted after its
    /// last ')'. Field N is at index N - 3. Nil when it cannot be read. The one reader of that file.
    private static func statFields(of process: String) -> [ArraySlice<UInt8>]? {
        let fd = open("/proc/\(process)/stat", O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let bytes = FileSystem.readAll(fd, limit: 4096), let nameEnd = bytes.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        return bytes[(nameEnd + 1)...].split(whereSeparator: { $0 == 0x20 || $0 == 0x0a })
    }

    /// Field `n` of a stat line split by `statFields`, as a number.
    private static func field(_ n: Int, of fields: [ArraySlice<UInt8>]) -> Int64? {
        fields.count > n - 3 ? Int64(String(decoding: fields[n - 3], as: UTF8.self)) : nil
    }
}

/// A device number as the kernel writes it in `/proc` (minor[7:0] | major[19:8] | minor[31:20])
/// converted to glibc's `dev_t`.
public func deviceNumber(kernelEncoded nr: UInt64) -> UInt64 {
    deviceNumber(major: (nr >> 8) & 0xfff, minor: (nr & 0xff) | ((nr >> 12) & 0xfff00))
}

/// glibc's `makedev`.
public func deviceNumber(major: UInt64, minor: UInt64) -> UInt64 {
    (major & 0xfff) << 8 | (major & ~0xfff) << 32 | (minor & 0xff) | (minor & ~0xff) << 12
}
