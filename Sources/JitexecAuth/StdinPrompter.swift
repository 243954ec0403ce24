#if canImport(Glibc)
import Glibc
#endif

/// The prompter for `-S`: the prompt goes to standard error and the answer is one line of
/// standard input, read without touching terminal settings and without consuming anything after
/// the newline (the rest of stdin belongs to the command).
public final class StdinPrompter: Prompter {
    private let input: Int32
    private let output: Int32

    /// Reads from `input` and writes prompts and messages to `output`.
    public init(input: Int32 = STDIN_FILENO, output: Int32 = STDERR_FILENO) {
        self.input = input
        self.output = output
    }

    public func promptHidden(_ message: String) throws(AuthError) -> [UInt8] { try prompt(message) }
    public func promptVisible(_ message: String) throws(AuthError) -> [UInt8] { try prompt(message) }
    public func info(_ message: String) { writeLine(output, message) }
    public func error(_ message: String) { writeLine(output, message) }

    /// A last line without a newline counts; end of file before any byte is `.interrupted`.
    private func prompt(_ message: String) throws(AuthError) -> [UInt8] {
        writeAll(output, Array(message.utf8))
        var answer: [UInt8] = []
        switch readAnswerLine(input, into: &answer) {
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
        while readAnswerLine(input, into: &rest) == .tooLong { wipe(&rest); rest.removeAll(keepingCapacity: true) }
        wipe(&rest)
    }
}
