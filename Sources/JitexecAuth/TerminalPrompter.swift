import Glibc
import JitexecSystem
import Synchronization

/// The prompter for an interactive run: asks on the controlling terminal (`/dev/tty`), never on
/// stdin/stdout, which may be pipes. Hidden prompts turn echo off and always put the previous
/// terminal settings back. Ctrl-C, Ctrl-\, Ctrl-Z, a hangup or SIGTERM while it waits, or end of
/// file, end the prompt with `.interrupted`.
public final class TerminalPrompter: Prompter {
    /// The terminal, or -1 when none could be opened (every prompt then fails with `.noTerminal`).
    private let fd: Int32
    private let ownsDescriptor: Bool

    /// Opens `path` (the controlling terminal by default) for reading and writing, without
    /// making it a controlling terminal and without leaking it into executed commands.
    public init(path: String = "/dev/tty") {
        fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        ownsDescriptor = true
    }

    /// Uses an already open terminal descriptor, which stays open after the prompter is gone.
    public init(fileDescriptor: Int32) {
        fd = fileDescriptor
        ownsDescriptor = false
    }

    deinit {
        if ownsDescriptor && fd >= 0 { close(fd) }
    }

    /// The terminal descriptor, nil without a terminal (for `SessionScope.current(ttyFD:)`).
    public var fileDescriptor: Int32? { fd >= 0 ? fd : nil }

    public func promptHidden(_ message: String) throws(AuthError) -> [UInt8] {
        try prompt(message, echo: false)
    }

    public func promptVisible(_ message: String) throws(AuthError) -> [UInt8] {
        try prompt(message, echo: true)
    }

    public func info(_ message: String) { writeLine(fd >= 0 ? fd : STDERR_FILENO, message) }
    public func error(_ message: String) { writeLine(fd >= 0 ? fd : STDERR_FILENO, message) }

    /// Shows `message` and reads one line. Signal handlers go in first and come out last, so
    /// that a signal can never stop or kill the process while echo is off.
    private func prompt(_ message: String, echo: Bool) throws(AuthError) -> [UInt8] {
        guard fd >= 0, isatty(fd) == 1 else { throw .noTerminal }
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { throw .noTerminal }

        let signals = PromptSignals.install()
        defer { signals.restore() }

        if !echo {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO | ECHOE | ECHOK | ECHONL)
            guard setAttributes(fd, quiet) else { throw .noTerminal }
        }
        defer { if !echo { _ = setAttributes(fd, saved) } }

        FileSystem.writeAll(fd, Array(message.utf8))
        var answer: [UInt8] = []
        let end = readAnswerLine(fd, into: &answer, pollMillis: 100) { PromptSignals.caught != 0 }
        // The newline the person typed was not echoed; end the prompt line for them.
        if !echo && end != .failed { FileSystem.writeAll(fd, [0x0a]) }
        switch end {
        case .newline:
            return answer
        case .tooLong:
            wipe(&answer)
            tcflush(fd, TCIFLUSH)  // drop the rest of the line so it is not the next try
            throw .passwordTooLong
        case .endOfFile, .failed, .stopped:
            wipe(&answer)
            throw .interrupted
        }
    }
}

/// The signal that interrupted the current terminal prompt, 0 while none has. Only a lock-free
/// atomic store happens in the handler, which is async-signal-safe.
private let interruptingSignal = Atomic<Int32>(0)

/// The handler installed while a terminal prompt waits: records the signal and returns. Without
/// `SA_RESTART` the waiting `poll` fails with `EINTR`, and the reader sees the flag.
private func recordInterruption(_ signal: Int32) {
    interruptingSignal.store(signal, ordering: .relaxed)
}

/// The handlers and signal mask in force before a prompt, put back by `restore()`.
struct PromptSignals {
    /// Signals that end a prompt instead of killing or stopping the process with echo off.
    static let handled: [Int32] = [SIGINT, SIGQUIT, SIGTSTP, SIGHUP, SIGTERM]

    /// The signal caught since the last `install()`, 0 if none.
    static var caught: Int32 { interruptingSignal.load(ordering: .relaxed) }

    private var previous: [sigaction]
    private var previousMask: sigset_t

    /// Clears the flag, installs `recordInterruption` for every handled signal and unblocks them
    /// in this thread, so that the read cannot sleep through them.
    static func install() -> PromptSignals {
        interruptingSignal.store(0, ordering: .relaxed)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = recordInterruption
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        var set = sigset_t()
        sigemptyset(&set)
        var previous: [sigaction] = []
        for signal in handled {
            var old = sigaction()
            sigaction(signal, &action, &old)
            previous.append(old)
            sigaddset(&set, signal)
        }
        var mask = sigset_t()
        pthread_sigmask(SIG_UNBLOCK, &set, &mask)
        return PromptSignals(previous: previous, previousMask: mask)
    }

    /// Puts the previous mask and handlers back.
    func restore() {
        var mask = previousMask
        pthread_sigmask(SIG_SETMASK, &mask, nil)
        for (signal, old) in zip(Self.handled, previous) {
            var action = old
            sigaction(signal, &action, nil)
        }
    }

    /// Test hook: what the handler does when a signal arrives.
    static func simulate(_ signal: Int32) { recordInterruption(signal) }
}
