import Glibc
import JitexecBase
import JitexecSystem
import Testing

@testable import JitexecExec

/// The supervisor's session control: recording without a terminal, the monitor's ending, the
/// recording's limit, and containment of what the command detaches (root only: runs as nobody).
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to switch users"))
struct SessionControlTests {
    /// A writer on a fresh temporary file; the file's path for reading it back.
    static func recorder(limit: Int64 = 1 << 20) throws -> (AsciicastWriter, String, Int32) {
        let path = Fixture.temporaryFile(contents: "", mode: 0o600)
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        let started = Clocks.monotonic()
        let writer = try AsciicastWriter(
            fd: fd, limit: limit, width: 80, height: 24, timestamp: 0, title: "test", env: [:],
            elapsed: { Clocks.monotonic() - started })
        return (writer, path, fd)
    }

    static func run(_ script: String, control: SessionControl) throws -> (ExitOutcome, String) {
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let out = Fixture.pipe()
        defer {
            close(devNull)
            close(out.read)
        }
        let spec = ExecSpec(
            path: "/bin/sh", argv: ["sh", "-c", UserText(script)], environment: ["PATH=/usr/bin:/bin"],
            identity: Fixture.nobody, umask: 0o022, standardInput: devNull, standardOutput: out.write,
            standardError: out.write)
        let outcome: ExitOutcome
        do {
            outcome = try Supervisor.run(spec, control: control)
        } catch {
            close(out.write)
            throw error
        }
        close(out.write)
        return (outcome, String(decoding: Fixture.readAll(out.read), as: UTF8.self))
    }

    static func recordedOutput(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        let cast = try Asciicast.parse(Fixture.readAll(fd))
        return cast.events.filter { $0.kind == "o" }.map(\.data).joined()
    }

    /// The pids a script printed as "pid N".
    static func pids(in output: String) -> [pid_t] {
        output.split(separator: "\n").compactMap { line in
            line.hasPrefix("pid ") ? pid_t(line.dropFirst(4)) : nil
        }
    }

    static func isGone(_ pid: pid_t) -> Bool { kill(pid, 0) != 0 && errno == ESRCH }

    @Test func stdoutAndStderrAreRecordedAndStillReachTheCaller() throws {
        let (writer, path, fd) = try Self.recorder()
        defer {
            close(fd)
            unlink(path)
        }
        let (outcome, output) = try Self.run(
            "echo to-stdout; echo to-stderr >&2; exit 3", control: SessionControl(recorder: writer, contain: true))
        #expect(outcome.termination == .exited(3))
        #expect(output.contains("to-stdout") && output.contains("to-stderr"))
        let recorded = try Self.recordedOutput(path)
        #expect(recorded.contains("to-stdout") && recorded.contains("to-stderr"))
    }

    @Test func monitorEndsTheCommandAndWhatItDetachedWithSetsid() throws {
        let checks = Shared(0)
        let control = SessionControl(
            monitor: {
                checks.value += 1
                return checks.value >= 3 ? .end(reason: "expired", message: "test: ended") : .keep
            }, contain: true, grace: .seconds(1))
        // A child in a session of its own, ignoring SIGHUP and SIGTERM: only SIGKILL ends it.
        let (outcome, output) = try Self.run(
            "setsid sh -c 'trap \"\" HUP TERM; echo pid $$; exec sleep 300' & sleep 0.2; trap '' HUP TERM; sleep 300",
            control: control)
        #expect(control.endedBy == "expired")
        #expect(output.contains("test: ended"))  // the monitor's line, on the command's stderr side
        #expect(outcome.termination == .signaled(SIGKILL))
        let detached = Self.pids(in: output)
        #expect(detached.count == 1)
        for pid in detached { #expect(Self.isGone(pid), "pid \(pid) outlived the ending") }
    }

    /// The session and its grant were read right before the start: the monitor is first asked one
    /// interval later, so a command that ends at once costs no read, and a longer one is watched.
    @Test func theMonitorIsFirstAskedOneIntervalAfterTheStart() throws {
        let checks = Shared(0)
        let control = SessionControl(monitor: {
            checks.value += 1
            return .keep
        })
        _ = try Self.run("exit 0", control: control)
        #expect(checks.value == 0)
        _ = try Self.run("sleep 1.2", control: control)
        #expect((1...3).contains(checks.value))
    }

    @Test func recordLimitEndsTheCommand() throws {
        let (writer, path, fd) = try Self.recorder(limit: 64 << 10)
        defer {
            close(fd)
            unlink(path)
        }
        let control = SessionControl(recorder: writer, contain: true, grace: .seconds(1))
        let (outcome, _) = try Self.run("while :; do echo 0123456789abcdef; done", control: control)
        #expect(control.endedBy == "record_limit")
        #expect(control.recordingFailure == .limit(64 << 10))
        if case .signaled = outcome.termination {} else { Issue.record("ended as \(outcome.termination)") }
        #expect(writer.size <= 64 << 10)
    }

    @Test func leftoversAreEndedWhenTheCommandExitsOnlyWhenAsked() throws {
        // The detached process lets go of the output pipe, so reading it ends with the command.
        let script = "setsid sh -c 'echo pid $$; exec sleep 300 >/dev/null 2>&1' & sleep 0.2; exit 0"
        let ended = SessionControl(contain: true, endLeftovers: true, grace: .seconds(1))
        let (first, output) = try Self.run(script, control: ended)
        #expect(first.termination == .exited(0))
        for pid in Self.pids(in: output) { #expect(Self.isGone(pid), "pid \(pid) outlived the command") }

        let (second, kept) = try Self.run(script, control: SessionControl(contain: true))
        #expect(second.termination == .exited(0))
        let left = Self.pids(in: kept)
        #expect(left.count == 1)
        for pid in left {
            #expect(!Self.isGone(pid), "without endLeftovers a detached process is left alone")
            kill(pid, SIGKILL)
        }
    }

    @Test func aStoppedCommandDoesNotHoldTheSupervisorPastItsDeadline() throws {
        // The command stops itself: under a deadline the supervisor does not stop with it (nobody
        // would continue it), it continues the command and ends it at the deadline.
        let deadline = Clocks.monotonic() + .seconds(1)
        let control = SessionControl(
            monitor: { Clocks.monotonic() >= deadline ? .end(reason: "expired", message: "test: expired") : .keep },
            contain: true, grace: .seconds(1), deadline: deadline)
        let started = Clocks.monotonic()
        let (outcome, _) = try Self.run("trap '' HUP TERM; kill -STOP $$; sleep 300", control: control)
        #expect(control.endedBy == "expired")
        #expect(outcome.termination == .signaled(SIGKILL))
        #expect(Clocks.monotonic() - started < .seconds(30))
    }

    @Test func aFullUnreadStderrPipeDoesNotHoldTheEnding() throws {
        // The caller's stdout and stderr: a pipe already full that nobody reads while the command
        // runs. Neither the relay of the command's output nor the ending's notice may block on it.
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let out = Fixture.pipe()
        defer {
            close(devNull)
            close(out.read)
        }
        _ = fcntl(out.write, F_SETFL, fcntl(out.write, F_GETFL) | O_NONBLOCK)
        let filler = [UInt8](repeating: 0x2e, count: 4096)
        while filler.withUnsafeBytes({ write(out.write, $0.baseAddress, $0.count) }) > 0 {}
        _ = fcntl(out.write, F_SETFL, fcntl(out.write, F_GETFL) & ~O_NONBLOCK)
        let (writer, path, fd) = try Self.recorder()
        defer {
            close(fd)
            unlink(path)
        }
        let checks = Shared(0)
        let control = SessionControl(
            recorder: writer,
            monitor: {
                checks.value += 1
                return checks.value >= 3 ? .end(reason: "stopped", message: "test: stopped") : .keep
            }, contain: true, grace: .seconds(1))
        let spec = ExecSpec(
            path: "/bin/sh", argv: ["sh", "-c", "while :; do echo flood; done"], environment: ["PATH=/usr/bin:/bin"],
            identity: Fixture.nobody, umask: 0o022, standardInput: devNull, standardOutput: out.write,
            standardError: out.write)
        let outcome = try Supervisor.run(spec, control: control)
        close(out.write)
        #expect(control.endedBy == "stopped")
        if case .signaled = outcome.termination {} else { Issue.record("ended as \(outcome.termination)") }
    }

    @Test func aDescendantNamedToForgeItsParentInProcStatIsStillEnded() throws {
        // /proc/PID/stat shows the command name in parentheses; a name such as "x) S 1 1 (" would,
        // read up to the first ')', make the process look like a child of init, outside the tree.
        let dir = Fixture.temporaryFile(contents: "", mode: 0o600)
        unlink(dir)
        #expect(mkdir(dir, 0o755) == 0)
        let forged = "\(dir)/x) S 1 1 ("
        defer {
            unlink(forged)
            rmdir(dir)
        }
        let copy = Fixture.spawn("/bin/cp", ["cp", "/usr/bin/sleep", forged])
        var status: Int32 = 0
        waitpid(copy, &status, 0)
        #expect(chmod(forged, 0o755) == 0)
        let checks = Shared(0)
        let control = SessionControl(
            monitor: {
                checks.value += 1
                return checks.value >= 3 ? .end(reason: "stopped", message: "test: stopped") : .keep
            }, contain: true, grace: .seconds(1))
        let script = "setsid sh -c 'echo pid $$; exec \"$0\" 300 >/dev/null 2>&1' '\(forged)' & sleep 300"
        let (_, output) = try Self.run(script, control: control)
        #expect(control.endedBy == "stopped")
        let detached = Self.pids(in: output)
        #expect(detached.count == 1)
        for pid in detached {
            #expect(Self.isGone(pid), "pid \(pid), named to look like init's child, outlived the ending")
        }
    }
}
