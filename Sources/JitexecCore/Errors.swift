import JitexecBase
import JitexecPolicy

/// Every way jitexec or jitctl refuses, with the one line the person at the terminal sees (what
/// went wrong and what to do next) and the exit status (see SPEC.md, Exit status).
public enum JitError: Error, CustomStringConvertible, Equatable {
    /// The binary runs without euid 0: it was not installed setuid root.
    case notSetuidRoot(program: String)
    /// A file or directory jitexec trusts could be changed by someone other than root.
    case untrusted(path: String, problem: TrustProblem)
    /// The policy failed to load; the first error and how many there are.
    case policyInvalid(first: Diagnostic, errors: Int)
    /// The state directory or database cannot be used.
    case storeUnavailable(String)
    /// The invoking uid has no passwd entry.
    case unknownInvoker(uid: UInt32)
    /// The user or group database could not be read (not "no such entry": a real failure).
    case userDatabase(String)
    /// A name or #uid given with -u / -U that is not a valid account.
    case unknownUser(String)
    /// Bad command line.
    case usage(String)
    /// The caller may not do this.
    case notPermitted(String)
    /// The policy says no.
    case denied(String)
    /// A file named on the command line could not be read.
    case unreadable(path: String, reason: String)
    /// The command could not be found (127) or is not executable (126).
    case commandNotFound(String)
    case commandNotExecutable(String)
    /// A feature that this build does not have yet.
    case unavailable(String)
    /// A request is still pending (after --no-wait, a wait timeout or Ctrl-C while waiting): 75.
    case pending(String)
    /// The request was denied, expired or cancelled, or the grant was revoked: 77.
    case closed(String)
    /// The grant a run found a moment ago no longer covers it when the use is taken (another run
    /// took its last use, or it was revoked or expired in between): 77 unless the run files anew.
    case grantGone
    /// Authentication failed or was cancelled.
    case authentication(String)
    /// The command could not be started (126, 127 or 1, from the supervisor).
    case execFailed(String, status: Int32)

    public var exitStatus: Int32 {
        switch self {
        case .commandNotFound: return 127
        case .commandNotExecutable: return 126
        case .pending: return 75
        case .execFailed(_, let status): return status
        case .closed, .grantGone: return 77
        default: return 1
        }
    }

    public var description: String {
        switch self {
        case .notSetuidRoot(let program):
            return "\(program) must be installed setuid root (owner root, mode 4755); run 'make install' as root"
        case .untrusted(let path, let problem):
            return "refusing to run: \(path) \(problem.description)"
        case .policyInvalid(let first, let errors):
            let more = errors > 1 ? " (and \(errors - 1) more)" : ""
            return "the policy is invalid: \(first)\(more); run 'jitctl check' to see every problem"
        case .storeUnavailable(let why):
            return "the jitexec store is unavailable: \(why)"
        case .unknownInvoker(let uid):
            return "you (uid \(uid)) have no entry in the user database; ask an administrator"
        case .userDatabase(let why):
            return "cannot read the user database (\(why)); nothing was done: try again or ask an administrator"
        case .unknownUser(let name):
            return "unknown user '\(Escape.text(name))'; give an existing user name or #UID"
        case .usage(let message):
            return "\(message); see --help"
        case .notPermitted(let message), .denied(let message), .unavailable(let message), .pending(let message),
            .closed(let message), .authentication(let message), .execFailed(let message, _):
            return message
        case .grantGone:
            return "no live grant covers this any more (used up, revoked or expired a moment ago); nothing was run"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .commandNotFound(let name):
            return "\(name): command not found in secure_path; give an absolute path or ask for it to be added"
        case .commandNotExecutable(let path):
            return "\(path): not an executable regular file"
        }
    }
}

/// Why a path failed the trusted-file check, phrased to finish "refusing to run: PATH ...".
public enum TrustProblem: Equatable, CustomStringConvertible, Sendable {
    case missing
    case notOwnedByRoot(uid: UInt32)
    case writableByOthers(mode: UInt32)
    case symlink
    case notRegularFile
    case notDirectory
    case hardLinked(count: UInt64)
    case notTheInstalledBinary(installed: String)
    case cannotInspect(String)

    public var description: String {
        switch self {
        case .missing:
            return "does not exist; reinstall with 'make install'"
        case .notOwnedByRoot(let uid):
            return "is owned by uid \(uid), not root; run 'chown root:root' on it"
        case .writableByOthers(let mode):
            return "is writable by group or others (mode \(String(mode & 0o7777, radix: 8))); run 'chmod go-w' on it"
        case .symlink:
            return "is a symbolic link; replace it with the real file or directory"
        case .notRegularFile:
            return "is not a regular file"
        case .notDirectory:
            return "is not a directory"
        case .hardLinked(let count):
            return "has \(count) hard links; give it exactly one"
        case .notTheInstalledBinary(let installed):
            return "is not the installed \(installed); run that one, and remove this copy"
        case .cannotInspect(let why):
            return "cannot be inspected (\(why))"
        }
    }
}

extension JitError {
    /// Lets `catch` blocks over `any Error` keep the typed description and status.
    init(_ error: any Error) {
        self = (error as? JitError) ?? .storeUnavailable("\(error)")
    }
}
