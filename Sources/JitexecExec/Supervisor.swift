import CJitexecSystem
import Glibc
import JitexecBase
import JitexecSystem

/// Runs a command as a child and stays its parent: forwards signals, relays a pty when asked,
/// records and ends it when a `SessionControl` says so, waits, and reports how the command ended
/// and how long it ran.
///
/// One command is supervised per process at a time (signal handlers are process-wide); a
/// concurrent `run` waits for the previous one to finish.
public enum Supervisor {
    /// Runs `spec` to completion. Throws before the command runs (not found, not executable,
    /// identity, working directory, setup); once it runs, its end is the outcome.
    ///
    /// With `release`, the command starts only when it returns true: it runs once the terminal and
    /// the child's arguments are ready, right before the child is started (the caller's last checks
    /// and records, with the forwarded signals already caught, so Ctrl-Z cannot stop this process
    /// between them and the start). Otherwise nothing is started and `run` throws `.notReleased`.
    public static func run(
        _ spec: ExecSpec, control: SessionControl? = nil, release: (() -> Bool)? = nil
    ) throws(ExecError) -> ExitOutcome {
        try spec.validate()
        let contain = control?.contain ?? false
        if contain { try ProcessTree.becomeSubreaper() }
        defer { if contain { _ = jx_set_child_subreaper(0) } }
        let signals = jx_signals_begin()
        guard signals >= 0 else { throw .system(call: "installing the signal handlers", errno: errno) }
        defer { jx_signals_end() }

        var relay = spec.usePTY ? try PTYRelay.open(for: spec) : nil
        defer { relay?.closeAll() }
        relay?.recorder = control?.recorder
        relay?.recordInput = control?.recordInput ?? false
        var descriptors = relay?.childDescriptors(for: spec) ?? spec.standardDescriptors
        var tap =
            control?.recorder != nil ? try OutputTap.open(descriptors: descriptors, keep: relay?.slave ?? -1) : nil
        defer { tap?.closeAll() }
        descriptors = tap?.childDescriptors(descriptors) ?? descriptors

        let started = Clocks.monotonic()
        let pid = try Spawn.child(
            spec, descriptors: descriptors, controllingTerminal: relay?.slave ?? -1,
            parentDeathSignal: contain ? SIGKILL : 0, release: release)
        relay?.closeSlave()
        tap?.closeChildEnds()
        relay?.enterRaw()
        defer { relay?.restoreTerminal() }

        let routing = SignalRouting(
            usePTY: spec.usePTY, commandPID: pid, commandGroup: spec.usePTY ? pid : getpgrp(),
            selfPID: getpid())
        var supervision = Supervision(
            pid: pid, signals: signals, routing: routing, control: control, usePTY: spec.usePTY,
            notices: spec.standardError)
        let status = supervision.waitForExit(relay: &relay, tap: &tap)
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
    let control: SessionControl?
    let usePTY: Bool
    /// Where notices go without a pty (the caller's stderr).
    let notices: Int32
    /// Set once the command is being ended: when SIGKILL follows.
    private var killAt: Duration?
    /// The monitor's first check is one interval after the start: the caller read the grant and
    /// committed the session right before the start, so a command that ends sooner costs no read.
    private var nextCheck: Duration
    private var lastNotice: String?
    private var refusedJobControl = false

    init(pid: pid_t, signals: Int32, routing: SignalRouting, control: SessionControl?, usePTY: Bool, notices: Int32) {
        self.pid = pid
        self.signals = signals
        self.routing = routing
        self.control = control
        self.usePTY = usePTY
        self.notices = notices
        nextCheck = Clocks.monotonic() + Self.checkInterval
    }

    /// How often the monitor is asked.
    static let checkInterval = Duration.milliseconds(500)

    /// Relays and forwards until the command has exited; returns its wait status.
    mutating func waitForExit(relay: inout PTYRelay?, tap: inout OutputTap?) -> Int32 {
        while true {
            if let status = reap(relay: &relay) {
                relay?.drain()
                if let failure = tap?.drain(recorder: control?.recorder), control?.recordingFailure == nil {
                    control?.recordingFailure = failure
                }
                endLeftovers()
                return status
            }
            check(relay: &relay, tap: tap)
            let relayRequests = relay?.pollRequests() ?? []
            let tapRequests = tap?.pollRequests() ?? []
            var fds = [pollfd(fd: signals, events: Int16(POLLIN), revents: 0)]
            fds += relayRequests.map(\.1) + tapRequests.map(\.1)
            // The timeout is a safety net for a SIGCHLD record lost to a full pipe, and the pace of
            // the monitor's checks and of the ending's SIGKILL.
            let timeout: Int32 = control?.monitor != nil || killAt != nil ? 250 : 1000
            guard poll(&fds, nfds_t(fds.count), timeout) > 0 else { continue }
            if fds[0].revents != 0 { handleSignals(relay: &relay) }
            for (index, request) in relayRequests.enumerated() {
                relay?.service(request.0, revents: fds[1 + index].revents)
            }
            for (index, request) in tapRequests.enumerated() {
                let revents = fds[1 + relayRequests.count + index].revents
                if let failure = tap?.service(request.0, revents: revents, recorder: control?.recorder),
                    control?.recordingFailure == nil
                {
                    control?.recordingFailure = failure
                }
            }
        }
    }

    /// The ending's steps, the monitor's verdict and the recording's health, at most every 250 ms.
    private mutating func check(relay: inout PTYRelay?, tap: OutputTap?) {
        guard let control else { return }
        let now = Clocks.monotonic()
        if let killAt, now >= killAt {
            kill(pid, SIGKILL)
            if usePTY { kill(-pid, SIGKILL) }
            if control.contain { ProcessTree.signalAll(below: getpid(), SIGKILL, rounds: 8) }
            self.killAt = now + .seconds(3600)
        }
        guard control.endedBy == nil else { return }
        if control.recordingFailure == nil, let failure = relay?.recordFailure { control.recordingFailure = failure }
        if let failure = control.recordingFailure {
            if case .limit = failure {
                end(
                    reason: "record_limit", message: "jitexec: \(failure.description); the command was ended",
                    relay: &relay)
            } else {
                end(
                    reason: "record_failed", message: "jitexec: \(failure.description); the command was ended",
                    relay: &relay)
            }
            return
        }
        guard let monitor = control.monitor, now >= nextCheck else { return }
        nextCheck = now + Self.checkInterval
        switch monitor() {
        case .keep: break
        case .notice(let text):
            if text != lastNotice { say(text, relay: relay) }
            lastNotice = text
        case .end(let reason, let message): end(reason: reason, message: message, relay: &relay)
        }
    }

    /// Ends the command: SIGHUP and SIGTERM (and SIGCONT, so a stopped one sees them) to it, its
    /// process group and, when contained, everything below this process; SIGKILL after the grace.
    private mutating func end(reason: String, message: String, relay: inout PTYRelay?) {
        control?.endedBy = reason
        say(message, relay: relay)
        for signal in [SIGHUP, SIGTERM, SIGCONT] {
            kill(pid, signal)
            if usePTY { kill(-pid, signal) }
            if control?.contain == true { ProcessTree.signalAll(below: getpid(), signal) }
        }
        killAt = Clocks.monotonic() + (control?.grace ?? .seconds(5))
    }

    /// One line on the user's terminal (through the pty's output side, so it lands between the
    /// command's own output) or on stderr.
    /// Never blocks for long: a caller's stderr pipe that nobody reads must not hold the supervisor
    /// (and with it the ending). The line is written once when there is room within 100 ms (a pipe
    /// with room takes a short line whole), or dropped; `exec.end` records the ending either way.
    private func say(_ text: String, relay: PTYRelay?) {
        let fd = relay?.output ?? notices
        let line = Array((relay?.isRaw ?? false ? "\r\n" + text + "\r\n" : text + "\n").utf8.prefix(1024))
        var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&ready, 1, 100) > 0, ready.revents & Int16(POLLOUT) != 0 else { return }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Contained: what the command left behind goes with it (at once when it was being ended,
    /// after SIGHUP/SIGTERM and the grace when `endLeftovers` asks), and every adopted zombie is reaped.
    private func endLeftovers() {
        guard let control, control.contain else { return }
        var left = 0
        if control.endedBy != nil {
            left = ProcessTree.signalAll(below: getpid(), SIGKILL, rounds: 8)
        } else if control.endLeftovers, !ProcessTree.descendants(of: getpid()).isEmpty {
            for signal in [SIGHUP, SIGTERM, SIGCONT] { ProcessTree.signalAll(below: getpid(), signal) }
            let deadline = Clocks.monotonic() + control.grace
            while Clocks.monotonic() < deadline {
                reapAdopted()
                if ProcessTree.descendants(of: getpid()).isEmpty { break }
                usleep(50_000)
            }
            left = ProcessTree.signalAll(below: getpid(), SIGKILL, rounds: 8)
        }
        reapAdopted()
        if left > 0 { reapUntilGone() }
    }

    /// A killed process takes a moment to end after SIGKILL, and the ending is not over while one
    /// is left below this process, a zombie included: reap until none is (seen as a killed
    /// descendant still there when `Supervisor.run` returned). Bounded: one that cannot end (stuck
    /// in the kernel) is left, dead, to init when this process exits.
    private func reapUntilGone() {
        let deadline = Clocks.monotonic() + .seconds(2)
        while !ProcessTree.descendants(of: getpid()).isEmpty && Clocks.monotonic() < deadline {
            usleep(2_000)
            reapAdopted()
        }
    }

    /// Reaps every child that has ended (contained runs adopt orphans).
    private func reapAdopted() {
        var status: Int32 = 0
        while waitpid(-1, &status, WNOHANG) > 0 {}
    }

    /// The wait status once the command has ended; a stopped command suspends us too.
    private mutating func reap(relay: inout PTYRelay?) -> Int32? {
        var status: Int32 = 0
        if control?.contain == true {
            // Adopted orphans are children too: reap them, and find the command among them.
            while true {
                let result = waitpid(-1, &status, WNOHANG | WUNTRACED)
                if result == pid { break }
                if result > 0 { continue }
                if result < 0 && errno == ECHILD { return 1 << 8 }
                return nil
            }
        } else {
            let result = waitpid(pid, &status, WNOHANG | WUNTRACED)
            if result != pid {
                if result < 0 && errno == ECHILD { return 1 << 8 }  // reaped elsewhere: report exit 1
                return nil
            }
        }
        if case .stopped(let signal) = WaitStatus(status) {
            suspend(signal: signal, relay: &relay)
            return nil
        }
        return status
    }

    /// The command stopped: give the caller's terminal back, stop ourselves the same way so the
    /// shell sees the job stop, and continue the command when we are continued. Under a deadline
    /// (`enforce_expiry`) there is no job control: stopped, this process could keep no deadline while
    /// what the command detached runs on, so the command is continued at once.
    private mutating func suspend(signal: Int32, relay: inout PTYRelay?) {
        if control?.deadline != nil {
            if !refusedJobControl {
                say(
                    "jitexec: the command cannot be suspended while its grant's end is enforced; it goes on",
                    relay: relay)
                refusedJobControl = true
            }
            kill(pid, SIGCONT)
            return
        }
        let wasRaw = relay?.isRaw ?? false
        relay?.restoreTerminal()
        control?.beforeSuspend?()
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
