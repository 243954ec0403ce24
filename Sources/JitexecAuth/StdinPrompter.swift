import Glibc
import JitexecSystem

/// The prompter for `-S`: the prompt goes to standard error and the answer is one line of
/// standard input, read without consuming anything after the newline (the rest of stdin belongs
/// to the command). When standard input is a terminal, a hidden prompt turns its echo off while
/// it reads, like `sudo -S`, and always puts the previous settings back; Ctrl-C, Ctrl-\, Ctrl-Z,
/// a hangup or SIGTERM meanwhile end the prompt with `.interrupted` (as `TerminalPrompter`).
public final class StdinPrompter: Prompter {
    private let input: Int32
    private let output: Int32

    /// Reads from `input` and writes prompts and messages to `output`.
    public init(input: Int32 = STDIN_FILENO, output: Int32 = STDERR_FILENO) {
        self.input = input
        self.output = output
    }

    public func promptHidden(_ message: String) throws(AuthError) -> [UInt8] {
        var saved = termios()
        guard isatty(input) == 1, tcgetattr(input, &saved) == 0 else { return try prompt(message) }
        return try promptWithoutEcho(message, saved: saved)
    }

    public func promptVisible(_ message: String) throws(AuthError) -> [UInt8] { try prompt(message) }
    public func info(_ message: String) { writeLine(output, message) }
    public func error(_ message: String) { writeLine(output, message) }

    /// `prompt` on a terminal with echo off. Signal handlers go in first and come out last, so a
    /// signal can never stop or kill the process while echo is off.
    private func promptWithoutEcho(_ message: String, saved: termios) throws(AuthError) -> [UInt8] {
        let signals = PromptSignals.install()
        defer { signals.restore() }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO | ECHOE | ECHOK | ECHONL)
        guard setAttributes(input, quiet) else { throw .noTerminal }
        defer { _ = setAttributes(input, saved) }
        defer { FileSystem.writeAll(output, [0x0a]) }  // the newline typed was not echoed; end the prompt line
        return try prompt(message, pollMillis: 100) { PromptSignals.caught != 0 }
    }

    /// A last line without a newline counts; end of file before any byte is `.interrupted`.
    private func prompt(
        _ message: String, pollMillis: Int32? = nil, stop: () -> Bool = { false }
    ) throws(AuthError) -> [UInt8] {
        FileSystem.writeAll(output, Array(message.utf8))
        var answer: [UInt8] = []
        switch readAnswerLine(input, into: &answer, pollMillis: pollMillis, stop: stop) {
        case .newline:
            return answer
        case .endOfFile where !answer.isEmpty:
            return answer
        case .tooLong:
            wipe(&answer)
            discardRestOfLine()  // so it is not the next try
            throw .passwordTooLong
        case .endOfFile, .failed, .stopped:
            wipe(&answer)
            throw .interrupted
        }
    }

    /// Reads and wipes what is left of an overlong line, up to and including its newline.
    private func discardRestOfLine() {
        var rest: [UInt8] = []
        while readAnswerLine(input, into: &rest) == .tooLong {
            wipe(&rest)
            rest.removeAll(keepingCapacity: true)
        }
        wipe(&rest)
    }
}
