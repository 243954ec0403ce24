import Glibc
import JitexecBase
import JitexecSystem
import Testing

@testable import JitexecExec

/// Commands really run as another user. One at a time: a test signals this very process.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to switch users"))
struct SupervisorTests {
    /// The number printed after `prefix` and before ".".
    static func pid(after prefix: String, in output: [UInt8]) -> pid_t? {
        let text = text(output)
        guard let start = text.firstRange(of: prefix)?.upperBound else { return nil }
        return pid_t(text[start...].prefix { $0 != "." })
    }

    /// Output as text, for the commands that print text.
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func commandRunsAsTheTargetUser() throws {
        let nobody = Fixture.nobody
        let uid = try Fixture.capture("/usr/bin/id", ["id", "-u"])
        #expect(uid.outcome.termination == .exited(0))
        #expect(Self.text(uid.output) == "\(nobody.uid)\n")
        let groups = try Fixture.capture("/usr/bin/id", ["id", "-G"])
        let expected = Set(nobody.groupIDs.map { String($0) })
        #expect(Set(Self.text(groups.output).split(whereSeparator: \.isWhitespace).map(String.init)) == expected)
        #expect(!Self.text(groups.output).split(separator: " ").contains("0"))
    }

    @Test func realEffectiveAndSavedIdsAreAllTheTarget() throws {
        let nobody = Fixture.nobody
        let status = Self.text(try Fixture.capture("/usr/bin/cat", ["cat", "/proc/self/status"]).output)
        let lines = status.split(separator: "\n")
        let uids = lines.first { $0.hasPrefix("Uid:") }?.split(whereSeparator: \.isWhitespace).dropFirst()
        let gids = lines.first { $0.hasPrefix("Gid:") }?.split(whereSeparator: \.isWhitespace).dropFirst()
        #expect(uids.map(Array.init) == Array(repeating: Substring(String(nobody.uid)), count: 4))
        #expect(gids.map(Array.init) == Array(repeating: Substring(String(nobody.gid)), count: 4))
        let capabilities = lines.first { $0.hasPrefix("CapEff:") }?.split(whereSeparator: \.isWhitespace).last
        #expect(capabilities == "0000000000000000")
    }

    @Test func rootTargetRunsAsRoot() throws {
        let root = try #require(try Accounts.byUID(0))
        let result = try Fixture.capture("/usr/bin/id", ["id", "-u"], identity: root)
        #expect(Self.text(result.output) == "0\n")
    }

    @Test func descriptorsAboveTwoAreNotInherited() throws {
        let leaked = open("/dev/null", O_RDONLY)  // deliberately without O_CLOEXEC
        #expect(leaked > 2)
        defer { close(leaked) }
        let listing = try Fixture.capture("/usr/bin/ls", ["ls", "/proc/self/fd"])
        #expect(Self.text(listing.output) == "0\n1\n2\n3\n")  // 3 is ls's own directory handle
        let probe = try Fixture.capture(
            "/bin/sh", ["sh", "-c", UserText("[ -e /proc/self/fd/\(leaked) ] && echo leaked || echo closed")])
        #expect(Self.text(probe.output) == "closed\n")
    }

    @Test func umaskIsApplied() throws {
        let result = try Fixture.capture("/bin/sh", ["sh", "-c", "umask"], umask: 0o027)
        #expect(Self.text(result.output) == "0027\n")
    }

    @Test func workingDirectoryIsEnteredAsTheTarget() throws {
        let result = try Fixture.capture("/usr/bin/pwd", ["pwd"], cwd: "/tmp")
        #expect(Self.text(result.output) == "/tmp\n")

        var template = Array("/tmp/jitexec-private-XXXXXX".utf8CString)
        let privateDirectory = try #require(mkdtemp(&template).map { String(cString: $0) })  // 0700 root
        defer { rmdir(privateDirectory) }
        #expect(throws: ExecError.workingDirectory(path: privateDirectory, user: "nobody", errno: EACCES)) {
            try Fixture.capture("/usr/bin/pwd", ["pwd"], cwd: privateDirectory)
        }
    }

    @Test func argumentsArePassedByteForByte() throws {
        let weird = UserText(bytes: [0xff, 0xfe, 0x41, 0x0a])
        let argv: [UserText] = ["printf", "[%s]", "a  b", "", weird, "-n"]
        let result = try Fixture.capture("/usr/bin/printf", argv)
        #expect(result.output == Array("[a  b][][".utf8) + [0xff, 0xfe, 0x41, 0x0a] + Array("][-n]".utf8))
        let zeroth = try Fixture.capture("/usr/bin/cat", ["not-cat \u{1b}", "/proc/self/cmdline"])
        #expect(result.outcome.termination == .exited(0))
        #expect(zeroth.output == Array("not-cat \u{1b}\0/proc/self/cmdline\0".utf8))
    }

    @Test func environmentIsExactlyAsGiven() throws {
        let environment: [UserText] = ["A=1", "B=two words", UserText(bytes: Array("C=".utf8) + [0xff])]
        let result = try Fixture.capture("/usr/bin/env", ["env"], environment: environment)
        #expect(result.output == Array("A=1\nB=two words\nC=".utf8) + [0xff, 0x0a])
    }

    /// (script, how it ends, shell status)
    static let endings: [(String, ExitOutcome.Termination, Int32)] = [
        ("exit 0", .exited(0), 0), ("exit 3", .exited(3), 3), ("exit 127", .exited(127), 127),
        ("kill -KILL $$", .signaled(SIGKILL), 137), ("kill -TERM $$", .signaled(SIGTERM), 143),
    ]

    @Test(arguments: endings)
    func exitStatusIsTheCommands(script: String, termination: ExitOutcome.Termination, status: Int32) throws {
        let result = try Fixture.capture("/bin/sh", ["sh", "-c", UserText(script)])
        #expect(result.outcome.termination == termination)
        #expect(result.outcome.shellStatus == status)
    }

    @Test func missingCommandIsNotFound() {
        #expect(throws: ExecError.notFound(path: "/nonexistent/jitexec-no-such-command")) {
            try Fixture.capture("/nonexistent/jitexec-no-such-command", ["x"])
        }
        #expect(ExecError.notFound(path: "/x").exitStatus == 127)
    }

    /// (file mode, execve's errno): no execute bit, and executable but not a program.
    static let unrunnable: [(Int32, Int32)] = [(0o644, EACCES), (0o755, ENOEXEC)]

    @Test(arguments: unrunnable)
    func fileThatCannotBeExecutedIs126(mode: Int32, code: Int32) throws {
        let path = Fixture.temporaryFile(contents: "not a program\n", mode: mode_t(mode))
        defer { unlink(path) }
        let error = #expect(throws: ExecError.self) { try Fixture.capture(path, ["x"]) }
        #expect(error == .notExecutable(path: path, errno: code))
        #expect(error?.exitStatus == 126)
    }

    @Test func durationIsMeasured() throws {
        let result = try Fixture.capture("/usr/bin/sleep", ["sleep", "0.3"])
        #expect(result.outcome.duration >= .milliseconds(300))
        #expect(result.outcome.duration < .seconds(10))
    }

    @Test func signalDispositionsAreRestoredAfterTheRun() throws {
        // Handler (offset 0), the kernel's 64 bits of the mask, and the flags: the rest of glibc's
        // sigset_t is never written and holds garbage.
        func snapshot() -> [[UInt8]] {
            [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE, SIGTSTP, SIGWINCH, SIGCONT].map { signal in
                var action = sigaction()
                sigaction(signal, nil, &action)
                let head = withUnsafeBytes(of: &action) { Array($0[0..<16]) }
                return head + withUnsafeBytes(of: action.sa_flags) { Array($0) }
            }
        }
        let before = snapshot()
        _ = try Fixture.capture("/bin/true", ["true"])
        #expect(snapshot() == before)
        #expect(!Fixture.supervisorHandles(SIGTERM))
    }

    @Test func terminationSignalIsForwardedToTheCommand() throws {
        let out = Fixture.pipe()
        defer { close(out.read) }
        // Exits 42 only when SIGTERM reaches it; gives up by itself after ten seconds.
        let script =
            "trap 'exit 42' TERM; echo ready; i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; exit 7"
        let spec = ExecSpec(
            path: "/bin/sh", argv: ["sh", "-c", UserText(script)], environment: ["PATH=/usr/bin:/bin"],
            identity: Fixture.nobody, umask: 0o022, standardOutput: out.write)
        let sent = Shared(false)
        let reader = out.read
        let helper = BackgroundThread {
            let seen = Fixture.readUntil(reader, marker: "ready")
            if Fixture.contains(seen, Array("ready".utf8)) {
                sent.value = Fixture.signalSupervisor(SIGTERM)
            }
        }
        let outcome = try Supervisor.run(spec)
        close(out.write)
        helper.join()
        #expect(sent.value)
        #expect(outcome.termination == .exited(42))
    }

    @Test func suspendSignalStopsTheCommandAndContinueResumesIt() throws {
        let out = Fixture.pipe()
        defer { close(out.read) }
        // Prints "continued" only if it was stopped and continued; ends by itself after 3 s.
        let script =
            "trap 'echo continued' CONT; echo \"ready $$.\"; i=0; while [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; exit 5"
        let spec = ExecSpec(
            path: "/bin/sh", argv: ["sh", "-c", UserText(script)], environment: ["PATH=/usr/bin:/bin"],
            identity: Fixture.nobody, umask: 0o022, standardOutput: out.write)
        let seen = Shared([UInt8]())
        let reader = out.read
        let helper = BackgroundThread {
            var output = Fixture.readUntil(reader, marker: "ready")
            // The supervisor stops this whole process once the command has stopped, as a shell job
            // would; another process plays the shell's `fg`. It keeps at it until it is killed below
            // (or this process is gone): a bounded loop could end before a slow (sanitizer) run
            // stopped itself, and left the test run stopped for good.
            let shell = Fixture.spawn(
                "/bin/sh", ["sh", "-c", "while :; do sleep 0.5; kill -CONT \(getpid()) || exit; done"])
            Fixture.signalSupervisor(SIGTSTP)
            output += Fixture.readUntil(reader, marker: "continued", seconds: 8)
            seen.value = output
            if !Fixture.contains(output, Array("continued".utf8)), let command = Self.pid(after: "ready ", in: output) {
                kill(command, SIGKILL)  // left stopped: end it rather than hang the run
            }
            kill(shell, SIGKILL)
            var status: Int32 = 0
            waitpid(shell, &status, 0)
        }
        let outcome = try Supervisor.run(spec)
        close(out.write)
        helper.join()
        #expect(Fixture.contains(seen.value, Array("continued".utf8)))
        #expect(outcome.termination == .exited(5))
    }

    @Test func whatRunsBesideTheCommandIsWaitedForBeforeThisProcessStops() throws {
        let out = Fixture.pipe()
        defer { close(out.read) }
        // Stops itself once, then ends with 6 when continued.
        let script = "echo ready; kill -STOP $$; exit 6"
        let spec = ExecSpec(
            path: "/bin/sh", argv: ["sh", "-c", UserText(script)], environment: ["PATH=/usr/bin:/bin"],
            identity: Fixture.nobody, umask: 0o022, standardOutput: out.write)
        let waited = Shared(0)
        // The store's checkpoint beside the command is joined here in jitexec (ExecuteCommand).
        let control = SessionControl(beforeSuspend: { waited.value += 1 })
        // The shell's `fg`: continues this process once it has stopped (only then: a SIGCONT before
        // would be forwarded to the command).
        let me = getpid()
        let fg =
            "while kill -0 \(me); do sleep 0.1; "
            + "[ \"$(cut -d' ' -f3 /proc/\(me)/stat)\" = T ] && kill -CONT \(me); done"
        let shell = Fixture.spawn("/bin/sh", ["sh", "-c", fg])
        defer {
            kill(shell, SIGKILL)
            var status: Int32 = 0
            waitpid(shell, &status, 0)
        }
        let outcome = try Supervisor.run(spec, control: control)
        close(out.write)
        #expect(waited.value == 1)
        #expect(outcome.termination == .exited(6))
    }

    /// This process's children, by pid (from /proc: every process whose parent is this one).
    static func children() -> Set<pid_t> {
        var found = Set<pid_t>()
        guard let dir = opendir("/proc") else { return found }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            guard let pid = pid_t(name) else { continue }
            let fd = open("/proc/\(name)/status", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            let status = Self.text(Fixture.readAll(fd))
            close(fd)
            if status.split(separator: "\n").contains("PPid:\t\(getpid())") { found.insert(pid) }
        }
        return found
    }

    /// The caller's last check (a grant still in force) runs when everything else is ready and no
    /// process of the command exists yet; when it says no, nothing is started.
    @Test(arguments: [false, true])
    func theReleaseCheckRunsBeforeTheCommandExists(released: Bool) throws {
        let mark = "/tmp/jitexec-release-test-\(getpid())"
        unlink(mark)
        defer { unlink(mark) }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        let spec = ExecSpec(
            path: "/usr/bin/touch", argv: ["touch", UserText(bytes: Array(mark.utf8))],
            environment: ["PATH=/usr/bin:/bin"], identity: Fixture.nobody, umask: 0o022, cwd: nil,
            standardInput: devNull, standardOutput: devNull, standardError: devNull)
        let before = Self.children()
        var newDuringCheck: Set<pid_t>?
        let release = { () -> Bool in
            newDuringCheck = Self.children().subtracting(before)
            return released
        }
        if released {
            #expect(try Supervisor.run(spec, release: release).termination == .exited(0))
            #expect(access(mark, F_OK) == 0)
        } else {
            #expect(throws: ExecError.notReleased) { try Supervisor.run(spec, release: release) }
            #expect(access(mark, F_OK) != 0)
        }
        #expect(newDuringCheck == [])
    }
}

/// Helper commands with input, a deadline and a process group of their own (the notifier).
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to switch users"))
struct TimedRunTests {
    func spec(_ script: String) -> ExecSpec {
        ExecSpec(
            path: "/bin/sh", argv: ["sh", "-c", UserText(script)], environment: ["PATH=/usr/bin:/bin"],
            identity: Fixture.nobody, umask: 0o077, cwd: "/")
    }

    @Test func inputArrivesOnStdinAndTheStatusIsReported() throws {
        let out = Fixture.temporaryFile(contents: "", mode: 0o666)
        defer { unlink(out) }
        let outcome = try TimedRun.run(
            spec("cat > \(out); exit 3"), input: Array("{\"a\":1}\n".utf8), timeout: .seconds(10))
        #expect(outcome == .exited(3))
        #expect(Fixture.readAll(open(out, O_RDONLY)) == Array("{\"a\":1}\n".utf8))
    }

    @Test func aCommandStillRunningAtTheDeadlineIsKilledWithItsChildren() throws {
        let pids = Fixture.temporaryFile(contents: "", mode: 0o666)
        defer { unlink(pids) }
        let started = Clocks.monotonic()
        let outcome = try TimedRun.run(
            spec("sleep 30 & echo $! > \(pids); trap '' TERM; wait"), input: [], timeout: .milliseconds(500))
        #expect(outcome == .timedOut)
        #expect(Clocks.monotonic() - started < .seconds(3))
        let child = pid_t(String(decoding: Fixture.readAll(open(pids, O_RDONLY)), as: UTF8.self).filter(\.isNumber))!
        usleep(100_000)
        #expect(kill(child, 0) != 0, "the background sleep of the notifier is gone too")
    }

    @Test func aCommandThatNeverReadsDoesNotBlockTheCaller() throws {
        let outcome = try TimedRun.run(
            spec("exec 0<&-; exit 0"), input: Array(repeating: 0x41, count: 4 << 20), timeout: .seconds(10))
        #expect(outcome == .exited(0))
    }

    @Test func aMissingCommandFailsToStart() {
        var missing = spec("true")
        missing.path = "/nonexistent/notifier"
        #expect(throws: ExecError.notFound(path: "/nonexistent/notifier")) {
            try TimedRun.run(missing, input: [], timeout: .seconds(1))
        }
    }
}
