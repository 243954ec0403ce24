import CJitexecSystem
import Glibc

/// What a caller can leave on the process across the setuid exec (interval timers, an ignored
/// SIGCHLD, a blocked signal mask, nice value, scheduling policy, I/O class, CPU affinity), reset at
/// start-up so that none of it can end, stop or starve jitexec at a moment the caller picks.
public enum ProcessState {
    /// Resets it all (see `jx_reset_process_state`); the errno of the first step that failed.
    public static func reset() -> Int32? {
        jx_reset_process_state() == 0 ? nil : errno
    }
}
