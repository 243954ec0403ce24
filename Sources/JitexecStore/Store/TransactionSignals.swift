#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The signals a person at the terminal can send to their own jitexec or jitctl (Ctrl-C, Ctrl-\,
/// Ctrl-Z, background reads and writes, hang-up) are held back while a transaction is open and
/// delivered the moment it ends: a process stopped or ended inside a transaction would hold the
/// store's lock for everyone else (the caller can send no other signal: see
/// `Privileges.takeRealRoot`). Bodies run under this never read or write the caller's terminal.
enum TransactionSignals {
    static let held: [Int32] = [SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGHUP, SIGTERM]

    static func holding<T>(_ body: () throws -> T) rethrows -> T {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in held { sigaddset(&set, signal) }
        var saved = sigset_t()
        pthread_sigmask(SIG_BLOCK, &set, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }
}
