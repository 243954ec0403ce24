import CJitexecExec
import Glibc
import JitexecBase

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

        let started = monotonicNow()
        let pid = try spawn(
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
        let duration = monotonicNow() - started
        return ExitOutcome(waitStatus: status, duration: duration)
            ?? ExitOutcome(termination: .exited(1), duration: duration)
    }

    /// Forks the child (C, async-signal-safe), releases it when `release` (if any) says so, and
    /// waits for it to exec or report its failure.
    static func spawn(
        _ spec: ExecSpec, descriptors: [Int32], controllingTerminal: Int32, newSession: Bool = false,
        release: (() -> Bool)? = nil
    ) throws(ExecError) -> pid_t {
        var gate: [Int32] = [-1, -1]
        if release != nil {
            guard pipe(&gate) == 0 else { throw .system(call: "pipe", errno: errno) }
            for fd in gate { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        defer { for fd in gate where fd >= 0 { close(fd) } }
        let strings = CStrings()
        defer { strings.free() }
        let path = strings.make(Array(spec.path.utf8))
        let cwd = spec.cwd.map { strings.make(Array($0.utf8)) }
        let argv = strings.makeArray(spec.argv.map(\.bytes))
        let envp = strings.makeArray(spec.environment.map(\.bytes))

        var report: Int32 = -1
        let pid = spec.identity.groups.withUnsafeBufferPointer { groups in
            var child = jx_child_spec(
                path: path, argv: argv, envp: envp, uid: spec.identity.uid, gid: spec.identity.gid,
                groups: groups.baseAddress, ngroups: groups.count, umask: spec.umask, cwd: cwd,
                fds: (descriptors[0], descriptors[1], descriptors[2]),
                controlling_tty: controllingTerminal, new_session: newSession ? 1 : 0,
                release_fd: gate[0], release_other: gate[1])
            return jx_spawn(&child, &report)
        }
        guard pid > 0 else { throw .system(call: "fork", errno: errno) }
        var released = true
        if let release {
            close(gate[0])
            gate[0] = -1
            var go: UInt8 = release() ? UInt8(ascii: "G") : 0
            // A refusal, like a failed write, ends the child: it reads EOF (or no 'G') and exits.
            if go != 0 && write(gate[1], &go, 1) != 1 { go = 0 }
            close(gate[1])
            gate[1] = -1
            released = go != 0
        }

        var failure = jx_child_failure()
        let size = MemoryLayout<jx_child_failure>.size
        var count: Int
        repeat {
            count = withUnsafeMutableBytes(of: &failure) { read(report, $0.baseAddress, size) }
        } while count < 0 && errno == EINTR
        close(report)
        guard released else {
            // Whatever the pipe said (a child killed before it read the gate also gives EOF), it
            // was not let go: nothing ran.
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            throw .notReleased
        }
        guard count == size else { return pid }  // EOF: execve succeeded

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        throw ExecError(failure: failure, spec: spec)
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
            if status & 0xff == 0x7f {
                suspend(signal: (status >> 8) & 0xff, relay: &relay)
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

/// CLOCK_MONOTONIC as a Duration since an arbitrary origin.
func monotonicNow() -> Duration {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return .seconds(Int64(now.tv_sec)) + .nanoseconds(Int64(now.tv_nsec))
}

/// NUL-terminated copies of byte strings for the child, freed together after fork.
final class CStrings {
    private var allocations: [UnsafeMutableRawPointer] = []

    /// A NUL-terminated copy of `bytes`.
    func make(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar> {
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        for (index, byte) in bytes.enumerated() { pointer[index] = CChar(bitPattern: byte) }
        pointer[bytes.count] = 0
        allocations.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    /// A NULL-terminated array of copies, as execve wants argv and envp.
    func makeArray(_ list: [[UInt8]]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: list.count + 1)
        for (index, bytes) in list.enumerated() { array[index] = make(bytes) }
        array[list.count] = nil
        allocations.append(UnsafeMutableRawPointer(array))
        return array
    }

    func free() {
        for pointer in allocations { pointer.deallocate() }
        allocations.removeAll()
    }
}
