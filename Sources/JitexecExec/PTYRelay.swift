import CJitexecSystem
import Glibc
import JitexecSystem

/// A new pseudo-terminal for the command and the relay between it and the caller's terminal:
/// caller stdin → pty master, pty master → caller terminal. The command gets the pty slave in
/// place of every standard descriptor that is a terminal, so it never holds a descriptor of the
/// caller's terminal (no TIOCSTI into it, no reading the caller's keystrokes after it exits).
///
/// Descriptors are plain numbers: `closeAll` is called once, on the value `Supervisor.run` owns.
struct PTYRelay {
    /// Which descriptor a poll entry watches.
    enum Role { case input, masterRead, masterWrite, output }

    let master: Int32
    private(set) var slave: Int32
    /// The caller's terminal (the first of stdin, stdout, stderr that is one), saved for restoring.
    let callerTerminal: TerminalMode?
    /// The caller's stdin when it is a terminal this process may read (not a background job).
    let input: Int32?
    /// Where the command's terminal output goes: the caller's stdout, stderr or stdin terminal.
    let output: Int32?
    private(set) var isRaw = false
    /// Where the command's output (and, with `recordInput`, the caller's keystrokes) is recorded.
    var recorder: (any SessionRecorder)?
    var recordInput = false
    /// The first recording failure; the supervisor then ends the command.
    private(set) var recordFailure: RecordingError?

    private var toCommand: [UInt8] = []
    private var toCaller: [UInt8] = []
    private var inputOpen = true
    private var masterOpen = true
    private var outputOpen = true
    private static let capacity = 16 * 1024

    /// Opens the pty, gives the slave the caller's settings and window size, and hands the slave
    /// to the target user (as sudo does), so the command's own terminal is its own.
    static func open(for spec: ExecSpec) throws(ExecError) -> PTYRelay {
        var master: Int32 = -1
        var slave: Int32 = -1
        var name = [CChar](repeating: 0, count: 128)
        guard jx_open_pty(&master, &slave, &name, name.count) == 0 else {
            throw .system(call: "opening a pseudo-terminal", errno: errno)
        }
        guard fchown(slave, spec.identity.uid, gid_t.max) == 0, fchmod(slave, 0o620) == 0 else {
            let code = errno
            _ = Glibc.close(slave)
            _ = Glibc.close(master)
            throw .system(call: "handing the pseudo-terminal to the target user", errno: code)
        }
        let terminal = spec.standardDescriptors.first(where: isTerminal).flatMap { TerminalMode(fd: $0) }
        if let terminal {
            var settings = terminal.saved
            _ = tcsetattr(slave, TCSANOW, &settings)
            WindowSize.of(terminal.fd)?.apply(to: slave)
        }
        let stdin = spec.standardInput
        let input = isTerminal(stdin) && TerminalMode(fd: stdin)?.mayTakeOver == true ? stdin : nil
        let output = [spec.standardOutput, spec.standardError, stdin].first(where: isTerminal)
        return PTYRelay(
            master: master, slave: slave, callerTerminal: terminal, input: input, output: output)
    }

    private init(master: Int32, slave: Int32, callerTerminal: TerminalMode?, input: Int32?, output: Int32?) {
        self.master = master
        self.slave = slave
        self.callerTerminal = callerTerminal
        self.input = input
        self.output = output
        self.outputOpen = output != nil
        self.inputOpen = input != nil
    }

    /// The command's 0, 1, 2: the slave where the caller has a terminal, the caller's own
    /// descriptor (a pipe, a file) elsewhere.
    func childDescriptors(for spec: ExecSpec) -> [Int32] {
        spec.standardDescriptors.map { isTerminal($0) ? slave : $0 }
    }

    /// After fork: only the command holds the slave, so the master sees EIO once it is gone.
    mutating func closeSlave() {
        if slave >= 0 { _ = Glibc.close(slave) }
        slave = -1
    }

    /// Closes what is still open. Call once.
    func closeAll() {
        if slave >= 0 { _ = Glibc.close(slave) }
        _ = Glibc.close(master)
    }

    /// Raw mode on the caller's terminal while its keystrokes are relayed.
    mutating func enterRaw() {
        guard let terminal = callerTerminal, let input, terminal.fd == input else { return }
        terminal.makeRaw()
        isRaw = true
    }

    /// The caller's terminal as it was; safe to call on every path.
    mutating func restoreTerminal() {
        guard isRaw, let terminal = callerTerminal else { return }
        terminal.restore()
        isRaw = false
    }

    /// Copies the caller's current window size to the pty.
    mutating func syncWindowSize() {
        guard let terminal = callerTerminal, let size = WindowSize.of(terminal.fd) else { return }
        if WindowSize.of(master) != size {
            record { r throws(RecordingError) in try r.resize(width: Int(size.columns), height: Int(size.rows)) }
        }
        size.apply(to: master)
    }

    /// Runs one recorder call unless recording has failed; the first failure is kept.
    private mutating func record(_ body: (any SessionRecorder) throws(RecordingError) -> Void) {
        guard let recorder, recordFailure == nil else { return }
        do throws(RecordingError) {
            try body(recorder)
        } catch {
            recordFailure = error
        }
    }

    /// Whether the command's terminal echoes what is typed; input typed with echo off (a password
    /// prompt) is never recorded.
    private var echoes: Bool {
        var settings = termios()
        guard tcgetattr(master, &settings) == 0 else { return false }
        return settings.c_lflag & tcflag_t(ECHO) != 0
    }

    /// What to poll for, given the buffers.
    func pollRequests() -> [(Role, pollfd)] {
        var requests: [(Role, pollfd)] = []
        if let input, inputOpen, toCommand.count < Self.capacity {
            requests.append((.input, pollfd(fd: input, events: Int16(POLLIN), revents: 0)))
        }
        if masterOpen && toCaller.count < Self.capacity {
            requests.append((.masterRead, pollfd(fd: master, events: Int16(POLLIN), revents: 0)))
        }
        if masterOpen && !toCommand.isEmpty {
            requests.append((.masterWrite, pollfd(fd: master, events: Int16(POLLOUT), revents: 0)))
        }
        if let output, outputOpen, !toCaller.isEmpty {
            requests.append((.output, pollfd(fd: output, events: Int16(POLLOUT), revents: 0)))
        }
        return requests
    }

    /// Moves bytes for every descriptor poll reported.
    mutating func service(_ role: Role, revents: Int16) {
        guard revents != 0 else { return }
        switch role {
        case .input: readInput()
        case .masterRead: _ = readMaster()
        case .masterWrite: writeMaster()
        case .output: _ = writeOutput()
        }
    }

    /// After the command exited: everything it wrote reaches the caller. Bounded, in case a
    /// process it left behind keeps writing to the pty.
    mutating func drain() {
        var budget = 4 << 20
        while budget > 0 {
            flushOutput()
            let read = readMaster()
            if read <= 0 { break }
            budget -= read
        }
        flushOutput()
    }

    private mutating func readInput() {
        guard let input else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
        if count > 0 {
            if masterOpen { toCommand += buffer[..<count] }
            if recordInput && echoes { record { r throws(RecordingError) in try r.input(buffer[..<count]) } }
        } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
            inputOpen = false  // EOF or hangup: the command keeps running, it just gets no input
        }
    }

    /// Reads once from the master; returns the byte count, 0 at EOF/EIO or when nothing is ready.
    private mutating func readMaster() -> Int {
        guard masterOpen else { return 0 }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, $0.count) }
        if count > 0 {
            if outputOpen { toCaller += buffer[..<count] }
            record { r throws(RecordingError) in try r.output(buffer[..<count]) }
            return count
        }
        if count == 0 || (errno != EINTR && errno != EAGAIN) {
            masterOpen = false  // EIO: every slave descriptor is closed
        }
        return 0
    }

    private mutating func writeMaster() {
        let count = toCommand.withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) }
        if count > 0 {
            toCommand.removeFirst(count)
        } else if count < 0 && errno != EINTR && errno != EAGAIN {
            toCommand.removeAll()
        }
    }

    /// Writes once to the caller; returns false when nothing could be written right now.
    private mutating func writeOutput() -> Bool {
        guard let output, outputOpen else {
            toCaller.removeAll()
            return false
        }
        let chunk = min(toCaller.count, 4096)
        let count = toCaller.withUnsafeBytes { Glibc.write(output, $0.baseAddress, chunk) }
        if count > 0 {
            toCaller.removeFirst(count)
            return true
        }
        if count < 0 && errno != EINTR && errno != EAGAIN {
            outputOpen = false  // the caller's terminal is gone: keep draining, discard
            toCaller.removeAll()
        }
        return false
    }

    /// Writes all buffered output, waiting up to ten seconds at a time for a slow terminal.
    private mutating func flushOutput() {
        var stalled = 0
        while !toCaller.isEmpty {
            guard let output, outputOpen, stalled < 10 else {
                toCaller.removeAll()
                return
            }
            if writeOutput() {
                stalled = 0
            } else if outputOpen {
                var request = pollfd(fd: output, events: Int16(POLLOUT), revents: 0)
                if poll(&request, 1, 1000) == 0 { stalled += 1 }
            }
        }
    }
}
