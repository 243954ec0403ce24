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

    /// Parent pid (field 4) and start time (field 22) of /proc/PID/stat; the command name (field 2)
    /// may hold spaces and parentheses, so fields are counted after its last ')'.
    private static func stat(_ pid: pid_t) -> (parent: pid_t, start: Int64)? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0, let close = buffer[..<count].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = buffer[(close + 1)..<count].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (state), so field N is fields[N - 3].
        guard fields.count > 19,
            let parent = pid_t(String(decoding: fields[1], as: UTF8.self)),
            let start = Int64(String(decoding: fields[19], as: UTF8.self))
        else { return nil }
        return (parent, start)
    }
}
