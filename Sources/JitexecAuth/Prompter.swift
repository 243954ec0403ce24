import Glibc
import JitexecSystem

/// Where the PAM conversation asks its questions and shows its messages. The texts handed to a
/// prompter are already escaped (`Escape.text`), so a prompter prints them as they are.
public protocol Prompter: AnyObject {
    /// Asks without echo (a password). The caller owns the returned bytes and wipes them; an
    /// implementation keeps no other copy.
    func promptHidden(_ message: String) throws(AuthError) -> [UInt8]
    /// Asks with echo (a user name, a one-time code shown on screen).
    func promptVisible(_ message: String) throws(AuthError) -> [UInt8]
    /// Shows an informational message from PAM.
    func info(_ message: String)
    /// Shows an error message from PAM, or "Sorry, try again." between tries.
    func error(_ message: String)
}

/// The prompter for `-n`: any question fails with `.passwordRequired`; messages go to stderr.
public final class NonInteractivePrompter: Prompter {
    private let output: Int32

    /// `output` is where messages go (standard error by default).
    public init(output: Int32 = STDERR_FILENO) { self.output = output }

    public func promptHidden(_ message: String) throws(AuthError) -> [UInt8] { throw .passwordRequired }
    public func promptVisible(_ message: String) throws(AuthError) -> [UInt8] { throw .passwordRequired }
    public func info(_ message: String) { writeLine(output, message) }
    public func error(_ message: String) { writeLine(output, message) }
}

/// Overwrites the array's bytes with zeros in place, with a call the optimiser cannot drop.
/// The array must not share its storage (the prompters hand over unique arrays), otherwise
/// copy-on-write would wipe a fresh copy and leave the shared one intact.
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { raw in
        if let base = raw.baseAddress { explicit_bzero(base, raw.count) }
    }
}

/// `tcsetattr` that waits for pending output and is retried after a signal (both prompters
/// turn echo off and back on with it).
func setAttributes(_ fd: Int32, _ attributes: termios) -> Bool {
    var copy = attributes
    while tcsetattr(fd, TCSADRAIN, &copy) != 0 {
        if errno != EINTR { return false }
    }
    return true
}

/// Writes `text` followed by a newline.
func writeLine(_ fd: Int32, _ text: String) {
    FileSystem.writeAll(fd, Array(text.utf8) + [0x0a])
}

/// How reading one answer line ended.
enum LineEnd: Equatable {
    /// A newline was read (and is not part of the answer).
    case newline
    /// End of file; `bytes` holds whatever came before it.
    case endOfFile
    /// More than `maxAnswerBytes` bytes before the newline.
    case tooLong
    /// A read failed (for a terminal: usually a hangup).
    case failed
    /// `stop()` returned true: a signal arrived.
    case stopped
}

/// Reads one line from `fd` a byte at a time, so that nothing after the newline is consumed
/// (after `-S`, the rest of standard input belongs to the command). The answer goes into
/// `bytes`, whose capacity is reserved up front so it never reallocates: a reallocation would
/// free a copy of the password without wiping it. The caller wipes `bytes` on every path.
///
/// The read waits in `poll` (for `pollMillis`, or without limit) and checks `stop()` after
/// every wait, so a signal caught by any thread ends the read within `pollMillis`; `EINTR`
/// is retried unless `stop()` says otherwise. Non-blocking descriptors work too.
func readAnswerLine(
    _ fd: Int32, into bytes: inout [UInt8], pollMillis: Int32? = nil, stop: () -> Bool = { false }
) -> LineEnd {
    bytes.reserveCapacity(maxAnswerBytes + 1)
    var byte: UInt8 = 0
    defer { explicit_bzero(&byte, 1) }
    while true {
        if stop() { return .stopped }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, pollMillis ?? -1)
        if ready < 0 && errno != EINTR { return .failed }
        if ready <= 0 { continue }
        let n = read(fd, &byte, 1)
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { continue }
            return .failed
        }
        if n == 0 { return .endOfFile }
        if byte == 0x0a { return .newline }
        guard bytes.count < maxAnswerBytes else { return .tooLong }
        bytes.append(byte)
    }
}
