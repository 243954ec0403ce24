import CJitexecSystem
import Glibc
import JitexecBase
import JitexecSystem

/// Runs a helper command (not the user's command) as an unprivileged identity, in its own session
/// and process group, with `input` (or nothing) on stdin, its standard output collected up to a
/// limit, and a deadline:
/// at the deadline the process group is killed and the run counts as timed out; a byte of output
/// past the limit kills it too, and the run counts as over the limit (its output was not all
/// read, so no part of it can be trusted). Used for `[oncall] command` and `[[automation]]`
/// programs (TimedRun is its counterpart for notifiers, which feeds input and reads nothing).
///
/// `contained` (automations): this process becomes a child subreaper, so whatever the command
/// starts stays below it however it detaches (setsid, double fork), and every such process is
/// killed when the run ends, whatever the outcome: nothing a program starts outlives its run.
/// `keepGoing`, asked twice a second while the command runs, ends it early (`.stopped`) when false.
public enum BoundedRun {
    public enum Outcome: Sendable, Equatable {
        case finished(status: ExitOutcome.Termination, output: [UInt8])
        case timedOut
        /// The command wrote more than `outputLimit` bytes.
        case outputOverLimit
        /// `keepGoing` said no: the command was killed before it ended.
        case stopped
    }

    public static func run(
        path: String, argv: [UserText], environment: [UserText], identity: Account, timeout: Duration,
        outputLimit: Int = 64 * 1024, input: [UInt8] = [], contained: Bool = false, keepGoing: (() -> Bool)? = nil
    ) throws(ExecError) -> Outcome {
        if contained { try ProcessTree.becomeSubreaper() }
        let outcome = try runOnce(
            path: path, argv: argv, environment: environment, identity: identity, timeout: timeout,
            outputLimit: outputLimit, input: input, keepGoing: keepGoing)
        if contained {
            endDescendants()
            _ = jx_set_child_subreaper(0)
        }
        return outcome
    }

    /// Kills every process below this one (a subreaper: what a command left behind) and reaps them.
    static func endDescendants() {
        ProcessTree.signalAll(below: getpid(), SIGKILL, rounds: 8)
        var status: Int32 = 0
        let deadline = Clocks.monotonic() + .seconds(2)
        while Clocks.monotonic() < deadline {
            let reaped = waitpid(-1, &status, WNOHANG)
            if reaped > 0 { continue }
            if reaped < 0 && errno == EINTR { continue }
            if reaped < 0 || ProcessTree.descendants(of: getpid()).isEmpty { break }
            usleep(10_000)  // a child killed but not yet a zombie
        }
    }

    private static func runOnce(
        path: String, argv: [UserText], environment: [UserText], identity: Account, timeout: Duration,
        outputLimit: Int, input: [UInt8], keepGoing: (() -> Bool)?
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
        // The input is a sealed in-memory file the command reads at its own pace: nothing to feed
        // while it runs, and it can neither block nor signal this process by not reading.
        var stdinFD = devNull
        if !input.isEmpty {
            do {
                stdinFD = try Self.inputFile(input)
            } catch {
                for fd in [pipeFDs[0], pipeFDs[1], devNull] { close(fd) }
                throw error
            }
        }
        defer { if stdinFD != devNull { close(stdinFD) } }
        let spec = ExecSpec(
            path: path, argv: argv, environment: environment, identity: identity, umask: 0o077, cwd: "/", usePTY: false)
        let pid: pid_t
        do {
            try spec.validate()
            pid = try Spawn.child(
                spec, descriptors: [stdinFD, pipeFDs[1], devNull], controllingTerminal: -1, newSession: true)
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
        var nextAsk = Clocks.monotonic() + .milliseconds(500)
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
            if let keepGoing, Clocks.monotonic() >= nextAsk {
                nextAsk = Clocks.monotonic() + .milliseconds(500)
                if !keepGoing() {
                    stop(pid, reaped: exited != nil)
                    return .stopped
                }
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

    /// A read-only, sealed memfd holding `input`, at offset 0.
    static func inputFile(_ input: [UInt8]) throws(ExecError) -> Int32 {
        let fd = jx_sealed_input_file()
        guard fd >= 0 else { throw .system(call: "memfd_create", errno: errno) }
        var offset = 0
        while offset < input.count {
            let n = input.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                let code = errno
                close(fd)
                throw .system(call: "write", errno: code)
            }
        }
        _ = jx_seal_input_file(fd)
        guard lseek(fd, 0, SEEK_SET) == 0 else {
            let code = errno
            close(fd)
            throw .system(call: "lseek", errno: code)
        }
        return fd
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
