import CJitexecSystem
import Glibc
import JitexecBase

/// Everything the supervisor needs to run one command. The caller has already resolved the
/// path, decided the policy, built the environment and committed the `exec.start` record.
public struct ExecSpec: Sendable {
    /// Canonical absolute path, executed as is.
    public var path: String
    /// The arguments, argv[0] included, passed byte for byte.
    public var argv: [UserText]
    /// "K=V" entries, usually from `Environment.sanitized`.
    public var environment: [UserText]
    public var identity: Account
    /// The command's umask; the caller passes `userUmask | 0o022`.
    public var umask: mode_t
    /// Directory to change to as the target user; nil keeps the current one.
    public var cwd: String?
    /// Relay through a new pseudo-terminal (set it when the caller's stdin or stdout is a terminal).
    public var usePTY: Bool
    /// The caller's descriptors that stand for stdin, stdout and stderr (0, 1, 2 by default).
    public var standardInput: Int32
    public var standardOutput: Int32
    public var standardError: Int32

    public init(
        path: String, argv: [UserText], environment: [UserText], identity: Account,
        umask: mode_t, cwd: String? = nil, usePTY: Bool = false,
        standardInput: Int32 = 0, standardOutput: Int32 = 1, standardError: Int32 = 2
    ) {
        self.path = path
        self.argv = argv
        self.environment = environment
        self.identity = identity
        self.umask = umask
        self.cwd = cwd
        self.usePTY = usePTY
        self.standardInput = standardInput
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    /// The caller's standard descriptors in order 0, 1, 2.
    public var standardDescriptors: [Int32] { [standardInput, standardOutput, standardError] }

    /// Refuses what execve cannot carry: an empty argv, a relative path, a NUL byte anywhere.
    public func validate() throws(ExecError) {
        guard path.hasPrefix("/"), !path.utf8.contains(0) else {
            throw .invalidSpec("the command path \(Escape.text(path)) is not an absolute path")
        }
        guard !argv.isEmpty else { throw .invalidSpec("the argument list is empty") }
        guard !argv.contains(where: \.containsNUL) else {
            throw .invalidSpec("an argument contains a NUL byte")
        }
        guard environment.allSatisfy({ !$0.containsNUL && $0.bytes.contains(UInt8(ascii: "=")) }) else {
            throw .invalidSpec("an environment entry contains a NUL byte or no '='")
        }
        if let cwd, cwd.isEmpty || cwd.utf8.contains(0) {
            throw .invalidSpec("the working directory \(Escape.text(cwd)) is not a valid path")
        }
    }
}

/// How a command ended and how long it ran.
public struct ExitOutcome: Sendable, Equatable, CustomStringConvertible {
    /// Exit code or terminating signal, as waitpid(2) reported it.
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    public var termination: Termination
    /// Wall time from fork to the command's end (CLOCK_MONOTONIC).
    public var duration: Duration

    public init(termination: Termination, duration: Duration) {
        self.termination = termination
        self.duration = duration
    }

    /// The status a shell would report: the exit code, or 128+N for signal N.
    public var shellStatus: Int32 {
        switch termination {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    public var description: String {
        switch termination {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }

    /// Decodes a wait status; nil for a stopped or continued child.
    public init?(waitStatus status: Int32, duration: Duration) {
        switch WaitStatus(status) {
        case .exited(let code): self.init(termination: .exited(code), duration: duration)
        case .signaled(let signal): self.init(termination: .signaled(signal), duration: duration)
        case .stopped, .continued: return nil
        }
    }
}

/// Why a command could not be started. Each case reads as one line for the person at the
/// terminal and carries the exit status jitexec returns.
public enum ExecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// execve said ENOENT or ENOTDIR: nothing to run at that path.
    case notFound(path: String)
    /// execve refused the file (EACCES, ENOEXEC, ...).
    case notExecutable(path: String, errno: Int32)
    /// chdir to the requested directory failed as the target user.
    case workingDirectory(path: String, user: String, errno: Int32)
    /// Taking the target identity failed, or it could be undone (never exec'd).
    case identity(step: String, user: String, errno: Int32)
    /// A step of the child's setup (signals, descriptors, session, terminal) failed.
    case childSetup(step: String, errno: Int32)
    /// A system call in jitexec itself failed (starting the command, pipe, pty).
    case system(call: String, errno: Int32)
    /// The spec cannot be executed as given.
    case invalidSpec(String)
    /// The caller's last check before the start said no: nothing was started.
    case notReleased

    /// 127 not found, 126 not executable, 1 for everything that failed before running.
    public var exitStatus: Int32 {
        switch self {
        case .notFound: 127
        case .notExecutable: 126
        default: 1
        }
    }

    public var description: String {
        switch self {
        case .notFound(let path):
            "\(Escape.text(path)): command not found"
        case .notExecutable(let path, let code):
            "\(Escape.text(path)): cannot execute: \(errorText(code))"
        case .workingDirectory(let path, let user, let code):
            "cannot change to directory \(Escape.text(path)) as \(Escape.text(user)): \(errorText(code)); "
                + "run from a directory that user can enter"
        case .identity(let step, let user, let code):
            "cannot become \(Escape.text(user)) (\(step)): \(errorText(code)); the command was not run"
        case .childSetup(let step, let code):
            "cannot prepare the command (\(step)): \(errorText(code)); the command was not run"
        case .system(let call, let code):
            "\(call) failed: \(errorText(code)); the command was not run"
        case .invalidSpec(let what):
            "cannot run the command: \(what)"
        case .notReleased:
            "the command was not started"
        }
    }

    /// The error for a failure report from the child.
    package init(failure: jx_child_failure, spec: ExecSpec) {
        let code = failure.error
        switch jx_step(rawValue: UInt32(bitPattern: failure.step)) {
        case JX_STEP_EXEC where code == ENOENT || code == ENOTDIR:
            self = .notFound(path: spec.path)
        case JX_STEP_EXEC:
            self = .notExecutable(path: spec.path, errno: code)
        case JX_STEP_CHDIR:
            self = .workingDirectory(path: spec.cwd ?? "", user: spec.identity.name, errno: code)
        case JX_STEP_SETGROUPS:
            self = .identity(step: "setgroups", user: spec.identity.name, errno: code)
        case JX_STEP_SETGID:
            self = .identity(step: "setresgid", user: spec.identity.name, errno: code)
        case JX_STEP_SETUID:
            self = .identity(step: "setresuid", user: spec.identity.name, errno: code)
        case JX_STEP_VERIFY:
            self = .identity(
                step: "the switch could not be verified as irreversible", user: spec.identity.name, errno: code)
        case JX_STEP_SIGNALS: self = .childSetup(step: "signal reset", errno: code)
        case JX_STEP_STDIO: self = .childSetup(step: "standard descriptors", errno: code)
        case JX_STEP_SESSION: self = .childSetup(step: "setsid", errno: code)
        case JX_STEP_CTTY: self = .childSetup(step: "controlling terminal", errno: code)
        case JX_STEP_CLOSE_FDS: self = .childSetup(step: "closing descriptors", errno: code)
        default: self = .childSetup(step: "step \(failure.step)", errno: code)
        }
    }
}

/// strerror text, or "check failed" for the errno-less failures of a verification.
private func errorText(_ code: Int32) -> String {
    code == 0 ? "check failed" : String(cString: strerror(code))
}
