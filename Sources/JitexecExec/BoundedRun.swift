import Glibc
import JitexecBase
import JitexecSystem

/// Runs a helper command (not the user's command) as an unprivileged identity, in its own session
/// and process group, with no input, its standard output collected up to a limit, and a deadline:
/// at the deadline the process group is killed and the run counts as timed out; a byte of output
/// past the limit kills it too, and the run counts as over the limit (its output was not all
/// read, so no part of it can be trusted). Used for `[oncall] command` (TimedRun is its
/// counterpart that feeds input and reads nothing).
public enum BoundedRun {
    public enum Outcome: Sendable, Equatable {
        case finished(status: ExitOutcome.Termination, output: [UInt8])
        case timedOut
        /// The command wrote more than `outputLimit` bytes.
        case outputOverLimit
    }

    public static func run(
        path: String, argv: [UserText], environment: [UserText], identity: Account, timeout: Duration,
        outputLimit: Int = 64 * 1024
    ) throws(ExecError) -> Outcome {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { throw .system(call: "pipe", errno: errno) }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard devNull >= 0 else {
            close(pipeFDs[0])
            close(pipeFDs[1])
            throw .system(call: "open /dev/null", errno: errno)
        }
        let spec = ExecSpec(
            path: path, argv: argv, environment: environment, identity: identity, umask: 0o077, cwd: "/", usePTY: false)
        let pid: pid_t
        do {
            try spec.validate()
            pid = try Spawn.child(
                spec, descriptors: [devNull, pipeFDs[1], devNull], controllingTerminal: -1, newSession: true)
        } catch {
            close(pipeFDs[0])
            close(pipeFDs[1])
            close(devNull)
            throw error
        }
        close(pipeFDs[1])
        close(devNull)
        defer { close(pipeFDs[0]) }

        let deadline = Clocks.monotonic() + timeout
        var output: [UInt8] = []
        var open = true
        var exited: ExitOutcome.Termination?
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if exited == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    exited = ExitOutcome(waitStatus: status, duration: .zero)?.termination ?? .exited(1)
                }
            }
            if let exited, !open {
                kill(-pid, SIGKILL)  // whatever it left behind in its process group
                return .finished(status: exited, output: output)
            }
            let left = deadline - Clocks.monotonic()
            if left <= .zero {
                stop(pid, reaped: exited != nil)
                return .timedOut
            }
            if open {
                var fd = pollfd(fd: pipeFDs[0], events: Int16(POLLIN), revents: 0)
                guard poll(&fd, 1, pollMillis(left)) > 0 else { continue }
                let n = buffer.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
                if n > 0 {
                    guard n <= outputLimit - output.count else {
                        stop(pid, reaped: exited != nil)
                        return .outputOverLimit
                    }
                    output += buffer[0..<n]
                } else if n == 0 || errno != EINTR {
                    open = false
                }
            } else {
                var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)
                nanosleep(&pause, nil)
            }
        }
    }

    /// Kills the command and everything it started in its own process group, and reaps it.
    private static func stop(_ pid: pid_t, reaped: Bool) {
        kill(-pid, SIGKILL)
        guard !reaped else { return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// How long one poll may wait: at most 100 ms, at least 1 ms, never more than is `left`
    /// (counted in whole milliseconds without any conversion that could trap on a long deadline).
    static func pollMillis(_ left: Duration) -> Int32 {
        guard left < .milliseconds(100) else { return 100 }
        let millis = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
        return Int32(max(1, millis))
    }
}
