import CJitexecSystem
import Glibc
import JitexecBase
import JitexecSystem

@testable import JitexecExec

/// Shared fixtures for the tests that really run commands (root only).
enum Fixture {
    /// The unprivileged target every run test uses.
    static var nobody: Account { (try! Accounts.byName("nobody"))! }

    /// A CLOEXEC pipe (read, write).
    static func pipe() -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        precondition(Glibc.pipe(&fds) == 0)
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    /// Everything readable from `fd` until EOF.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                out += buffer[..<count]
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return out
            }
        }
    }

    /// Runs a command as `identity` with stdin from /dev/null and stdout+stderr into a pipe.
    static func capture(
        _ path: String, _ argv: [UserText], environment: [UserText] = ["PATH=/usr/bin:/bin"],
        identity: Account = nobody, umask: mode_t = 0o022, cwd: String? = nil
    ) throws(ExecError) -> (outcome: ExitOutcome, output: [UInt8]) {
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let out = pipe()
        defer {
            close(devNull)
            close(out.read)
        }
        let spec = ExecSpec(
            path: path, argv: argv, environment: environment, identity: identity, umask: umask,
            cwd: cwd, standardInput: devNull, standardOutput: out.write, standardError: out.write)
        let outcome: ExitOutcome
        do {
            outcome = try Supervisor.run(spec)
        } catch {
            close(out.write)
            throw error
        }
        close(out.write)
        return (outcome, readAll(out.read))
    }

    /// A root-owned temporary file with `contents` and `mode`; returns its path.
    static func temporaryFile(contents: String, mode: mode_t) -> String {
        var template = Array("/tmp/jitexec-exec-test-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        precondition(fd >= 0)
        _ = contents.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
        fchmod(fd, mode)
        close(fd)
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True while this process has the supervisor's SA_SIGINFO handler for `signal`, so sending
    /// it to ourselves is caught and forwarded rather than fatal.
    static func supervisorHandles(_ signal: Int32) -> Bool {
        var current = sigaction()
        return sigaction(signal, nil, &current) == 0 && current.sa_flags & SA_SIGINFO != 0
    }

    /// Sends `signal` to this process only when the supervisor handles it.
    @discardableResult
    static func signalSupervisor(_ signal: Int32) -> Bool {
        guard supervisorHandles(signal) else { return false }
        return kill(getpid(), signal) == 0
    }

    /// posix_spawn of a helper process (same process group); returns its pid.
    static func spawn(_ path: String, _ argv: [String]) -> pid_t {
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for argument in cArgs { free(argument) } }
        var pid: pid_t = 0
        precondition(posix_spawn(&pid, path, nil, nil, cArgs, environ) == 0)
        return pid
    }

    /// Reads `fd` until `marker` appears or `seconds` pass; returns what was read.
    static func readUntil(_ fd: Int32, marker: String, seconds: Int32 = 10) -> [UInt8] {
        var seen: [UInt8] = []
        let needle = Array(marker.utf8)
        var buffer = [UInt8](repeating: 0, count: 1024)
        var remaining = seconds * 10
        while remaining > 0 {
            if contains(seen, needle) { return seen }
            var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&request, 1, 100) <= 0 {
                remaining -= 1
                continue
            }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                seen += buffer[..<count]
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                return seen
            }
        }
        return seen
    }

    /// Byte-string search.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }
}

/// A value written by one thread and read by another after `BackgroundThread.join`.
final class Shared<Value: Sendable>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// A plain pthread, so a test can act while the test thread is inside `Supervisor.run`.
struct BackgroundThread {
    private var thread = pthread_t()

    /// Starts `body` on a new thread.
    init(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Shared<@Sendable () -> Void>(body)).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { raw in
                let box = Unmanaged<Shared<@Sendable () -> Void>>.fromOpaque(raw!).takeRetainedValue()
                box.value()
                return nil
            }, box)
        precondition(created == 0)
    }

    /// Waits for the body to finish.
    func join() { pthread_join(thread, nil) }
}

/// A pseudo-terminal pair playing the caller's terminal: the test reads and types on `master`
/// (non-blocking),
/// the supervisor gets `slave` as stdin/stdout/stderr.
struct CallerTerminal {
    let master: Int32
    let slave: Int32
    let name: String

    init(rows: UInt16 = 40, columns: UInt16 = 100) {
        var master: Int32 = -1
        var slave: Int32 = -1
        var buffer = [CChar](repeating: 0, count: 128)
        precondition(jx_open_pty(&master, &slave, &buffer, buffer.count) == 0)
        self.master = master
        self.slave = slave
        name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        WindowSize(rows: rows, columns: columns).apply(to: slave)
    }

    /// The slave's settings as raw bytes, for before/after comparison.
    var settings: [UInt8] {
        var current = termios()
        tcgetattr(slave, &current)
        return withUnsafeBytes(of: &current) { Array($0) }
    }

    /// True when the slave is in raw mode (no canonical input, no echo, no signal keys).
    var isRaw: Bool {
        var current = termios()
        tcgetattr(slave, &current)
        return current.c_lflag & tcflag_t(ICANON | ECHO | ISIG) == 0
    }

    /// What the "screen" has received so far, without waiting.
    func drainScreen() -> String {
        var collected: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var request = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&request, 1, 200) > 0 else { break }
            let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            collected += buffer[..<count]
        }
        return String(decoding: collected, as: UTF8.self)
    }

    func close() {
        _ = Glibc.close(slave)
        _ = Glibc.close(master)
    }
}
