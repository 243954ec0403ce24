import CJitexecSystem
import Glibc
import JitexecSystem

/// A helper command jitexec starts on its own behalf (the notifier): run in its own session and
/// process group, fed `input` on stdin, stdout and stderr to /dev/null, and stopped at a deadline.
/// Whatever is left of its process group when it ends (or is stopped) is killed, so nothing it
/// started outlives it unless it left the group itself.
public enum TimedRun {
    /// How the run ended.
    public enum Outcome: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        /// Still running at the deadline: its process group got SIGTERM, then SIGKILL.
        case timedOut

        public var description: String {
            switch self {
            case .exited(let code): "exited with status \(code)"
            case .signaled(let signal): "killed by signal \(signal)"
            case .timedOut: "timed out"
            }
        }
    }

    /// How long a timed-out command has between SIGTERM and SIGKILL.
    static let grace: Duration = .milliseconds(500)

    /// Runs `spec` (its standard descriptors and pty setting are ignored) with `input` on stdin.
    /// Returns within about `timeout` + `grace`. Its stdin is one end of a Unix stream socket pair,
    /// written with MSG_NOSIGNAL, so a command that closes its input early cannot kill the caller
    /// with SIGPIPE.
    public static func run(_ spec: ExecSpec, input: [UInt8], timeout: Duration) throws(ExecError) -> Outcome {
        try spec.validate()
        let deadline = Clocks.monotonic() + timeout
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw .system(call: "socketpair", errno: errno)
        }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else {
            close(fds[0])
            close(fds[1])
            throw .system(call: "open /dev/null", errno: errno)
        }
        let pid: pid_t
        do {
            pid = try Spawn.child(
                spec, descriptors: [fds[0], null, null], controllingTerminal: -1, newSession: true)
        } catch {
            close(fds[0])
            close(fds[1])
            close(null)
            throw error
        }
        close(fds[0])
        close(null)
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        feed(fds[1], input, pid: pid, until: deadline)
        close(fds[1])

        var timedOut = false
        while jx_child_has_ended(pid) == 0 {
            if Clocks.monotonic() >= deadline {
                timedOut = true
                kill(-pid, SIGTERM)
                let last = Clocks.monotonic() + grace
                while jx_child_has_ended(pid) == 0 && Clocks.monotonic() < last { usleep(10_000) }
                break
            }
            usleep(10_000)
        }
        // The leader is a zombie or still running, so its process group id cannot have been reused.
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if timedOut { return .timedOut }
        return ExitOutcome(waitStatus: status, duration: .zero).map {
            switch $0.termination {
            case .exited(let code): .exited(code)
            case .signaled(let signal): .signaled(signal)
            }
        } ?? .exited(1)
    }

    /// Sends `input` to the non-blocking socket `fd` until it is all written, the reader is gone,
    /// the command has ended or the deadline has passed.
    private static func feed(_ fd: Int32, _ input: [UInt8], pid: pid_t, until deadline: Duration) {
        var offset = 0
        while offset < input.count && Clocks.monotonic() < deadline && jx_child_has_ended(pid) == 0 {
            let n = input.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                var request = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&request, 1, 20)
            } else {
                return  // EPIPE: it closed its stdin
            }
        }
    }
}
