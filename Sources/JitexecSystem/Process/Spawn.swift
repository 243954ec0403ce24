import CJitexecSystem
import Glibc

/// The one way the program starts a process. The fork→exec window belongs to C
/// (`jx_spawn`, `jx_spawn_detached`, `jx_fork_isolated` in CJitexecSystem): it runs only
/// async-signal-safe calls, takes the identity irreversibly and closes every other descriptor.
public enum Spawn {
    /// Starts the child (C, async-signal-safe) and waits for it to exec or report its failure.
    /// `release`, when given, is the caller's last check: it runs after everything else is ready,
    /// right before the child is started, and when it says no nothing is started (`.notReleased`).
    public static func child(
        _ spec: ExecSpec, descriptors: [Int32], controllingTerminal: Int32, newSession: Bool = false,
        parentDeathSignal: Int32 = 0, release: (() -> Bool)? = nil
    ) throws(ExecError) -> pid_t {
        let strings = CStrings()
        defer { strings.free() }
        let path = strings.make(Array(spec.path.utf8))
        let cwd = spec.cwd.map { strings.make(Array($0.utf8)) }
        let argv = strings.makeArray(spec.argv.map(\.bytes))
        let envp = strings.makeArray(spec.environment.map(\.bytes))
        if let release, !release() { throw .notReleased }

        var report: Int32 = -1
        let pid = spec.identity.groupIDs.withUnsafeBufferPointer { groups in
            var child = jx_child_spec(
                path: path, argv: argv, envp: envp, uid: spec.identity.uid, gid: spec.identity.gid,
                groups: groups.baseAddress, ngroups: groups.count, umask: spec.umask, cwd: cwd,
                fds: (descriptors[0], descriptors[1], descriptors[2]),
                controlling_tty: controllingTerminal, new_session: newSession ? 1 : 0,
                parent_death_signal: parentDeathSignal)
            return jx_spawn(&child, &report)
        }
        guard pid > 0 else { throw .system(call: "starting the command", errno: errno) }

        var failure = jx_child_failure()
        let size = MemoryLayout<jx_child_failure>.size
        var count: Int
        repeat {
            count = withUnsafeMutableBytes(of: &failure) { read(report, $0.baseAddress, size) }
        } while count < 0 && errno == EINTR
        close(report)
        guard count == size else { return pid }  // EOF: execve succeeded

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        throw ExecError(failure: failure, spec: spec)
    }

    /// Starts a program detached from this process (see `jx_spawn_detached`): its own session, real,
    /// effective and saved ids root, stdio on /dev/null, no other descriptor, a fixed environment.
    /// Returns once it has executed; the caller never waits for it: 0, else the errno of the step that failed (fork, setsid, the id switch, execve).
    public static func detached(path: String, argv: [String], environment: [String]) -> Int32 {
        let strings = CStrings()
        defer { strings.free() }
        let cPath = strings.make(Array(path.utf8))
        let cArgv = strings.makeArray(argv.map { Array($0.utf8) })
        let cEnvp = strings.makeArray(environment.map { Array($0.utf8) })
        return jx_spawn_detached(cPath, cArgv, cEnvp) == 0 ? 0 : errno
    }
}

extension Spawn {
    /// Runs `body(argument)` in a child process of its own (`jx_fork_isolated`): with `uid`/`gid` as
    /// its real, effective and saved ids when given (exit 111 when it cannot take them), standard
    /// descriptors on /dev/null, crash signals at their default action; its return value is the
    /// exit status. For work that may crash on hostile input. It does not exec: call it only while
    /// the process is single-threaded. The child's pid, or -1 with errno.
    public static func isolated(
        uid: uid_t?, gid: gid_t?, argument: UnsafeMutableRawPointer?,
        _ body: @convention(c) (UnsafeMutableRawPointer?) -> Int32
    ) -> pid_t {
        jx_fork_isolated(uid ?? uid_t.max, gid ?? gid_t.max, body, argument)
    }
}

/// NUL-terminated copies of byte strings for the child, freed together after fork.
final class CStrings {
    private var allocations: [UnsafeMutableRawPointer] = []

    /// A NUL-terminated copy of `bytes`.
    func make(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar> {
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        for (index, byte) in bytes.enumerated() { pointer[index] = CChar(bitPattern: byte) }
        pointer[bytes.count] = 0
        allocations.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    /// A NULL-terminated array of copies, as execve wants argv and envp.
    func makeArray(_ list: [[UInt8]]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: list.count + 1)
        for (index, bytes) in list.enumerated() { array[index] = make(bytes) }
        array[list.count] = nil
        allocations.append(UnsafeMutableRawPointer(array))
        return array
    }

    func free() {
        for pointer in allocations { pointer.deallocate() }
        allocations.removeAll()
    }
}
