import CPAM
import JitexecBase

#if canImport(Glibc)
    import Glibc
#endif

/// Why authentication or an account check did not let the caller through. Each case says what
/// happened and what to do next, in one line for the person at the terminal.
public enum AuthError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Every try was rejected (or the modules said no more tries).
    case wrongPassword(tries: Int)
    /// The person stopped the prompt (Ctrl-C, Ctrl-Z, Ctrl-D, hangup, SIGTERM).
    case interrupted
    /// A prompt was needed but `-n` forbids prompting.
    case passwordRequired
    /// A prompt was needed and there is no terminal to show it on.
    case noTerminal
    /// The answer was longer than PAM accepts (`PAM_MAX_RESP_SIZE - 1` bytes); it is refused,
    /// never truncated. Counts as a failed try.
    case passwordTooLong
    /// The account phase refused the user (expired, locked, outside allowed times...).
    case accountUnavailable(String)
    /// The PAM service has no configuration file of its own (Linux-PAM would use "other").
    case serviceMissing(service: String)
    /// The modules refused without asking anything (pam_deny, a locked-out account): not a wrong
    /// password, so it is not retried.
    case refused(service: String, message: String)
    /// Any other PAM failure, with `pam_strerror`'s text.
    case pam(code: Int32, message: String)

    public var description: String {
        switch self {
        case .wrongPassword(let tries):
            let noun = tries == 1 ? "attempt" : "attempts"
            return "\(tries) incorrect password \(noun); nothing was run"
        case .interrupted:
            return "authentication cancelled; nothing was run"
        case .passwordRequired:
            return "a password is required; run without -n, or run 'jitexec -v' first"
        case .noTerminal:
            return "no terminal to ask for a password; use -S to read it from standard input"
        case .passwordTooLong:
            return "password too long (at most \(maxAnswerBytes) bytes)"
        case .accountUnavailable(let reason):
            return "account unavailable: \(Escape.text(reason)); ask an administrator"
        case .serviceMissing(let service):
            let file = Escape.text(pamServiceFile(service))
            return "refusing to run: the PAM service file \(file) does not exist (PAM would fall back to "
                + "/etc/pam.d/other); reinstall with 'make install' or copy jitexec's pam/jitexec to \(file)"
        case .refused(let service, let message):
            return "PAM refused authentication without asking for a password (\(Escape.text(message))); "
                + "nothing was run; check \(Escape.text(pamServiceFile(service))) and the system log (authpriv)"
        case .pam(let code, let message):
            return "PAM error \(code): \(Escape.text(message)); see the system log (authpriv) for details"
        }
    }

    /// Every authentication failure ends the program before anything runs (SPEC: exit status 1).
    public var exitStatus: Int32 { 1 }
}

/// The longest answer the conversation hands to PAM: PAM's buffers hold `PAM_MAX_RESP_SIZE`
/// bytes including the terminating NUL.
public let maxAnswerBytes = Int(PAM_MAX_RESP_SIZE) - 1

/// The file Linux-PAM reads for `service` in `directory`: `pam_start` lowercases the service name
/// (ASCII, as in the C locale), so service "Jitexec" is configured by /etc/pam.d/jitexec.
public func pamServiceFile(_ service: String, directory: String = "/etc/pam.d") -> String {
    "\(directory)/\(pamServiceFileName(service))"
}

/// The name of `service`'s file in the PAM directory (lowercased, see `pamServiceFile`).
public func pamServiceFileName(_ service: String) -> String {
    String(decoding: service.utf8.map { (0x41...0x5a).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
}

/// `pam_strerror`'s text for `code`. It needs a handle only for localisation, so nil is fine.
func pamMessage(_ handle: OpaquePointer?, _ code: Int32) -> String {
    guard let text = pam_strerror(handle, code) else { return "unknown PAM error" }
    return String(cString: text)
}
