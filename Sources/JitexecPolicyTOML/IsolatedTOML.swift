import TOMLKit

#if canImport(Glibc)
import Glibc
#endif

/// TOMLKit's parser (toml++) stops the whole process with a failed assertion on some malformed input
/// instead of reporting an error (`a=[}`, `[é`; found by fuzz-policy). jitctl is setuid root and
/// parses files a user names (`jitctl check FILE`), so every text is first parsed in a child process
/// running with the caller's own ids and no standard error: when that child dies, the text is
/// reported as a syntax error and never parsed in jitctl itself.
enum IsolatedTOML {
    enum Probe: Equatable {
        /// The child parsed it (or toml++ reported an ordinary error): parsing it here is safe.
        case safe
        /// The child was killed by this signal (an assertion: SIGABRT), or (negative) exited with that
        /// status instead of finishing.
        case crashed(signal: Int32)
        /// The child did not finish in time, or could not be started.
        case failed(String)
    }

    /// How long the child may take.
    static let timeoutMillis = 10_000

    static func probe(_ text: String) -> Probe {
        let pid = fork()
        if pid < 0 { return .failed("cannot start the parser check: \(String(cString: strerror(errno)))") }
        if pid == 0 {
            // The child: the caller's own ids, no standard descriptors (toml++ prints its assertion).
            let (ruid, rgid) = (getuid(), getgid())
            // setre*id with a real id given also sets the saved id: the child cannot get root back.
            if setregid(rgid, rgid) != 0 || setreuid(ruid, ruid) != 0 { _exit(identityFailed) }
            let null = open("/dev/null", O_RDWR)
            if null >= 0 { for fd in Int32(0)...2 { dup2(null, fd) } }
            // A crash ends the child at once: no crash handler (the Swift runtime's backtracer would
            // start a helper that outlives it).
            for signal in [SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP] { Glibc.signal(signal, SIG_DFL) }
            _ = try? TOMLTable(string: text)
            _exit(0)
        }
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
        let low = status & 0x7f
        if low != 0 && low != 0x7f { return .crashed(signal: low) }
        switch (status >> 8) & 0xff {
        case 0: return .safe
        case identityFailed: return .failed("the parser check could not take your identity")
        // A sanitizer turns the abort into an exit status of its own.
        case let code: return .crashed(signal: -code)
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
            throw Refused(message: "TOML syntax error: the TOML parser (toml++) stops on this text instead of saying where; look for unbalanced brackets or braces and unusual characters")
        case .failed(let why):
            throw Refused(message: "TOML could not be checked: \(why)")
        }
    }

    /// Why the text was not parsed; reported at line 1.
    struct Refused: Error { var message: String }
}
