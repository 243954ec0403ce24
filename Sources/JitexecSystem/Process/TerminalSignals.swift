#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The signals a person at the terminal can send to their own jitexec or jitctl (Ctrl-C, Ctrl-\,
/// Ctrl-Z, background reads and writes, hang-up) — the caller can send no other (see
/// `Privileges.takeRealRoot`). They are held back while the process holds something others wait for
/// (a store transaction, the credential cache's lock, the store's open on a thread of its own until
/// it is joined: `Context.openStoreInBackground`) and between recording `exec.start` and
/// supervising the command, and delivered the moment that ends: a process stopped or ended there
/// would stall everyone else or leave a started record without an end. Code run under a hold never
/// reads or writes the caller's terminal.
public enum TerminalSignals {
    public static let held: [Int32] = [SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGHUP, SIGTERM]

    /// Runs `body` with the signals held.
    public static func holding<T>(_ body: () throws -> T) rethrows -> T {
        let hold = Hold()
        defer { hold.end() }
        return try body()
    }

    /// A hold that spans more than one call; `end` puts the previous mask back (pending signals are
    /// delivered then).
    public struct Hold {
        private var saved = sigset_t()

        public init() {
            var set = sigset_t()
            sigemptyset(&set)
            for signal in TerminalSignals.held { sigaddset(&set, signal) }
            pthread_sigmask(SIG_BLOCK, &set, &saved)
        }

        public func end() {
            var previous = saved
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
    }
}
