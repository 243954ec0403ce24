import Glibc

/// What the supervisor does with one signal it caught while the command runs.
enum SignalAction: Equatable {
    /// SIGCHLD: look at the command with waitpid.
    case reap
    /// SIGWINCH with a pty: copy the caller's window size to the pty (the kernel tells the command).
    case resize
    /// Not for the command: it sent it, or it already received it from the terminal.
    case ignore
    /// Send this signal to the command.
    case forward(Int32)
}

/// The forwarding rules, as sudo applies them. Pure, so every rule has a test.
struct SignalRouting {
    let usePTY: Bool
    let commandPID: pid_t
    /// The command's process group: its own with a pty (it leads a new session), ours without.
    let commandGroup: pid_t
    let selfPID: pid_t

    /// - Parameters:
    ///   - code: si_code; <= 0 when a process sent it (kill, sigqueue, tgkill), > 0 from the kernel.
    ///   - sender: si_pid, meaningful when `code <= 0`.
    ///   - senderGroup: the sender's process group (getpgid), nil when unknown.
    func action(signal: Int32, code: Int32, sender: pid_t, senderGroup: pid_t?) -> SignalAction {
        if signal == SIGCHLD { return .reap }
        if usePTY && signal == SIGWINCH { return .resize }
        let sentByProcess = code <= 0
        if sentByProcess && sender > 0 && sender != selfPID
            && (sender == commandPID || senderGroup == commandGroup)
        {
            return .ignore  // the command signalling its own group (kill(0, ...), reboot's kill(-1, ...))
        }
        if !usePTY && !sentByProcess {
            return .ignore  // from the terminal to the foreground group: the command got it too
        }
        if usePTY && signal == SIGTSTP {
            // The command leads its own session, so its group is orphaned and the kernel would
            // discard SIGTSTP; SIGSTOP stops it the same way.
            return .forward(SIGSTOP)
        }
        return .forward(signal)
    }
}
