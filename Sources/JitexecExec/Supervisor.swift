import CJitexecSystem
import Glibc
import JitexecBase
import JitexecSystem

/// Runs a command as a child and stays its parent: forwards signals, relays a pty when asked,
/// waits, and reports how the command ended and how long it ran.
///
/// One command is supervised per process at a time (signal handlers are process-wide); a
/// concurrent `run` waits for the previous one to finish.
public enum Supervisor {
    /// Runs `spec` to completion. Throws before the command runs (not found, not executable,
    /// identity, working directory, setup); once it runs, its end is the outcome.
    ///
    /// With `release`, the child is forked and set up but held before it takes the target identity
    /// and executes; `release` runs meanwhile (the caller's last checks and records, with the
    /// forwarded signals already caught, so Ctrl-Z cannot stop this process in between) and the
    /// child goes on only when it returns true. Otherwise the child ends unexecuted and `run`
    /// throws `.notReleased`.
    public static func run(_ spec: ExecSpec, release: (() -> Bool)? = nil) throws(ExecError) -> ExitOutcome {
        try spec.validate()
        let signals = jx_signals_begin()
        guard signals >= 0 else { throw .system(call: "installing the signal handlers", errno: errno) }
        defer { jx_signals_end() }

        var relay = spec.usePTY ? try PTYRelay.open(for: spec) : nil
        defer { relay?.closeAll() }

        let started = Clocks.monotonic()
        let pid = try Spawn.child(
            spec, descriptors: relay?.childDescriptors(for: spec) ?? spec.standardDescriptors,
            controllingTerminal: relay?.slave ?? -1, release: release)
        relay?.closeSlave()
        relay?.enterRaw()
        defer { relay?.restoreTerminal() }

        let routing = SignalRouting(
            usePTY: spec.usePTY, commandPID: pid, commandGroup: spec.usePTY ? pid : getpgrp(),
            selfPID: getpid())
        let supervision = Supervision(pid: pid, signals: signals, routing: routing)
        let status = supervision.waitForExit(relay: &relay)
        let duration = Clocks.monotonic() - started
        return ExitOutcome(waitStatus: status, duration: duration)
            ?? ExitOutcome(termination: .exited(1), duration: duration)
    }
}

/// The wait loop of one running command.
private struct Supervision {
    let pid: pid_t
    let signals: Int32
    let routing: SignalRouting

    /// Relays and forwards until the command has exited; returns its wait status.
    func waitForExit(relay: inout PTYRelay?) -> Int32 {
        while true {
            if let status = reap(relay: &relay) {
                relay?.drain()
                return status
            }
            let requests =
                [(nil, pollfd(fd: signals, events: Int16(POLLIN), revents: 0))]
                + (relay?.pollRequests() ?? []).map { (Optional($0.0), $0.1) }
            var fds = requests.map(\.1)
            // The timeout is a safety net for a SIGCHLD record lost to a full pipe.
            guard poll(&fds, nfds_t(fds.count), 1000) > 0 else { continue }
            for (index, request) in requests.enumerated() {
                if let role = request.0 {
                    relay?.service(role, revents: fds[index].revents)
                } else if fds[index].revents != 0 {
                    handleSignals(relay: &relay)
                }
            }
        }
    }

    /// The wait status once the command has ended; a stopped command suspends us too.
    private func reap(relay: inout PTYRelay?) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG | WUNTRACED)
        if result == pid {
            if case .stopped(let signal) = WaitStatus(status) {
                suspend(signal: signal, relay: &relay)
                return nil
            }
            return status
        }
        if result < 0 && errno == ECHILD { return 1 << 8 }  // reaped elsewhere: report exit 1
        return nil
    }

    /// The command stopped: give the caller's terminal back, stop ourselves the same way so the
    /// shell sees the job stop, and continue the command when we are continued.
    private func suspend(signal: Int32, relay: inout PTYRelay?) {
        let wasRaw = relay?.isRaw ?? false
        relay?.restoreTerminal()
        jx_suspend_self(signal)
        if wasRaw { relay?.enterRaw() }
        relay?.syncWindowSize()
        kill(pid, SIGCONT)
    }

    /// Reads every pending signal record and acts on it.
    private func handleSignals(relay: inout PTYRelay?) {
        var events = [jx_signal_event](repeating: jx_signal_event(), count: 32)
        let size = MemoryLayout<jx_signal_event>.stride
        while true {
            let count = events.withUnsafeMutableBytes { read(signals, $0.baseAddress, $0.count) }
            guard count >= size else { return }
            for event in events.prefix(count / size) {
                let sender = pid_t(event.pid)
                let senderGroup = event.code <= 0 && sender > 0 ? getpgid(sender) : -1
                switch routing.action(
                    signal: event.signo, code: event.code, sender: sender,
                    senderGroup: senderGroup >= 0 ? senderGroup : nil)
                {
                case .reap, .ignore: break
                case .resize: relay?.syncWindowSize()
                case .forward(let signal):
                    if signal == SIGCONT && !(relay?.isRaw ?? true) { relay?.enterRaw() }
                    kill(pid, signal)
                }
            }
        }
    }
}
