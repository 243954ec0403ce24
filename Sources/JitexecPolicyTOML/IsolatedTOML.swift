import JitexecSystem
import Synchronization
import TOMLKit

#if canImport(Glibc)
    import Glibc
#endif

/// TOMLKit's parser (toml++) stops the whole process with a failed assertion on some malformed input
/// instead of reporting an error (`a=[}`, `[é`; found by fuzz-policy). jitctl is setuid root and
/// parses files a user names (`jitctl check FILE`), so every text is first parsed in a child process
/// with no standard error: when that child crashes (an assertion, a fault), the text is reported as a
/// syntax error and never parsed in jitctl itself.
///
/// Only a crash is a verdict. A child that was killed, stopped past the timeout or could not start
/// says nothing about the text: it is tried again, and after `tries` the text counts as not checked
/// (`Refused.verdict == false`), which the policy compiler never records as an invalid policy. The
/// child of the installed policy runs as root (its parent's real uid, which the caller cannot
/// signal); a file the caller names is parsed with the caller's own ids (`childIdentity`).
public enum IsolatedTOML {
    /// Runs `body` with every parse in it done by a child with these ids (real, effective and
    /// saved); outside it the child keeps the parent's (root's). Only for text the caller named:
    /// the installed policy must never be parsed by a child the caller can signal.
    public static func parsing<T>(asUID uid: UInt32, gid: UInt32, _ body: () throws -> T) rethrows -> T {
        identity.withLock { $0 = (uid, gid) }
        defer { identity.withLock { $0 = nil } }
        return try body()
    }
    private static let identity = Mutex<(UInt32, UInt32)?>(nil)

    /// How often a child that was killed (not crashed) is tried.
    static let tries = 3

    enum Probe: Equatable {
        /// The child parsed it (or toml++ reported an ordinary error): parsing it here is safe.
        case safe
        /// The child was killed by this signal (an assertion: SIGABRT), or (negative) exited with that
        /// status instead of finishing.
        case crashed(signal: Int32)
        /// The child did not finish in time, was killed, or could not be started: no verdict.
        case failed(String)
    }

    /// The signals of a parser that crashed on the text (a failed assertion, a fault).
    static let crashSignals: Set<Int32> = [SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP]

    /// How long the child may take.
    static let timeoutMillis = 10_000

    /// Probes up to `tries` times while the child only fails (killed, timed out).
    static func probe(_ text: String) -> Probe {
        var result = probeOnce(text)
        for _ in 1..<tries {
            guard case .failed = result else { break }
            result = probeOnce(text)
        }
        return result
    }

    static func probeOnce(_ text: String) -> Probe {
        let ids = identity.withLock { $0 }
        // The child: no standard descriptors (toml++ prints its assertion); the caller's own ids
        // for a file the caller named (setre*id with a real id given also sets the saved id: the
        // child cannot get root back); a crash ends it at once, with no crash handler (the Swift
        // runtime's backtracer would start a helper that outlives it).
        let pid = text.withCString { chars in
            Spawn.isolated(uid: ids?.0, gid: ids?.1, argument: UnsafeMutableRawPointer(mutating: chars)) { arg in
                _ = try? TOMLTable(string: String(cString: arg!.assumingMemoryBound(to: CChar.self)))
                return 0
            }
        }
        if pid < 0 { return .failed("cannot start the parser check: \(String(cString: strerror(errno)))") }
        var status: Int32 = 0
        var waited = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return .failed("cannot wait for the parser check") }
            if waited >= timeoutMillis {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return .failed("the TOML parser did not finish within \(timeoutMillis / 1000)s")
            }
            var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&pause, nil)
            waited += 1
        }
        return outcome(waitStatus: status)
    }

    /// What a finished child's wait status says: a crash signal is a verdict on the text, any other
    /// signal (killed by someone) is not.
    static func outcome(waitStatus status: Int32) -> Probe {
        switch WaitStatus(status) {
        case .signaled(let signal):
            return crashSignals.contains(signal)
                ? .crashed(signal: signal) : .failed("the parser check was killed (signal \(signal))")
        case .exited(0): return .safe
        case .exited(identityFailed): return .failed("the parser check could not take your identity")
        // A sanitizer turns the abort into an exit status of its own.
        case .exited(let code): return .crashed(signal: -code)
        case .stopped, .continued: return .failed("the parser check was stopped")
        }
    }

    /// The child's exit status when it cannot drop to the caller's ids.
    static let identityFailed: Int32 = 111

    /// The text as a table, parsed here only after a child survived parsing it.
    static func parse(_ text: String) throws -> TOMLTable {
        switch probe(text) {
        case .safe:
            return try TOMLTable(string: text)
        case .crashed:
            throw Refused(
                message:
                    "TOML syntax error: the TOML parser (toml++) stops on this text instead of saying where; look for unbalanced brackets or braces and unusual characters"
            )
        case .failed(let why):
            throw Refused(message: "\(notCheckedPrefix)\(why)", verdict: false)
        }
    }

    /// How the message of a text that could not be checked begins.
    public static let notCheckedPrefix = "TOML could not be checked: "

    /// Why the text was not parsed; reported at line 1. `verdict` is false when the text itself was
    /// not judged (the check was killed or could not run): try again, never "invalid".
    struct Refused: Error {
        var message: String
        var verdict = true
    }
}
