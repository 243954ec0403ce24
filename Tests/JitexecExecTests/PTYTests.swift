import Glibc
import JitexecBase
import JitexecSystem
import Testing

@testable import JitexecExec

extension SupervisorTests {
    /// Commands run on a new pseudo-terminal, with a pty pair playing the caller's terminal. Nested
    /// in SupervisorTests so that it is serialized with it (the tests signal this process).
    @Suite struct PTYTests {
        /// A spec whose standard descriptors are all the caller terminal's slave.
        static func spec(_ script: String, on terminal: CallerTerminal) -> ExecSpec {
            ExecSpec(
                path: "/bin/sh", argv: ["sh", "-c", UserText(script)],
                environment: ["PATH=/usr/bin:/bin", "TERM=xterm"], identity: Fixture.nobody, umask: 0o022,
                usePTY: true, standardInput: terminal.slave, standardOutput: terminal.slave,
                standardError: terminal.slave)
        }

        /// Output lines without the pty's carriage returns.
        static func lines(_ screen: String) -> [String] {
            screen.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }).map(String.init)
        }

        @Test func commandGetsItsOwnTerminalAndCallerSettingsComeBack() throws {
            let terminal = CallerTerminal(rows: 40, columns: 100)
            defer { terminal.close() }
            let before = terminal.settings
            let outcome = try Supervisor.run(
                Self.spec(
                    "tty; [ -t 0 ] && echo stdin-is-a-terminal; stty size; ls -1 /proc/self/fd", on: terminal)
            )
            let screen = Self.lines(terminal.drainScreen())
            #expect(outcome.termination == .exited(0))
            #expect(terminal.settings == before)
            let name = try #require(screen.first)
            #expect(name.hasPrefix("/dev/pts/"))
            #expect(name != terminal.name)
            #expect(screen.contains("stdin-is-a-terminal"))
            #expect(screen.contains("40 100"))
            #expect(Array(screen.suffix(4)) == ["0", "1", "2", "3"])  // nothing of the caller's but the pty
        }

        @Test func commandCannotReachTheCallersTerminal() throws {
            let terminal = CallerTerminal()
            defer { terminal.close() }
            // Every descriptor the command has points at its own pty, never at the caller's.
            let script =
                "for fd in 0 1 2; do readlink /proc/self/fd/$fd; done"
            _ = try Supervisor.run(Self.spec(script, on: terminal))
            let screen = Self.lines(terminal.drainScreen())
            let links = screen.filter { $0.hasPrefix("/dev/") }
            #expect(links.count == 3)
            #expect(Set(links).count == 1)
            #expect(!links.contains(terminal.name))
        }

        @Test func keystrokesAreRelayedWhileTheCallerTerminalIsRaw() throws {
            let terminal = CallerTerminal()
            defer { terminal.close() }
            let before = terminal.settings
            let rawDuringRun = Shared(false)
            let helper = BackgroundThread {
                let seen = Fixture.readUntil(terminal.master, marker: "ready")
                guard Fixture.contains(seen, Array("ready".utf8)) else { return }
                rawDuringRun.value = terminal.isRaw
                _ = "hello\n".utf8CString.withUnsafeBytes {
                    write(terminal.master, $0.baseAddress, $0.count - 1)
                }
                let echoed = Fixture.readUntil(terminal.master, marker: "got:hello")
                if !Fixture.contains(echoed, Array("got:hello".utf8)) {
                    Fixture.signalSupervisor(SIGTERM)  // do not leave the command waiting forever
                }
            }
            let outcome = try Supervisor.run(
                Self.spec("echo ready; read line; echo \"got:$line\"", on: terminal))
            helper.join()
            #expect(outcome.termination == .exited(0))
            #expect(rawDuringRun.value)
            #expect(!terminal.isRaw)
            #expect(terminal.settings == before)
        }

        @Test func windowSizeChangesReachTheCommand() throws {
            let terminal = CallerTerminal(rows: 40, columns: 100)
            defer { terminal.close() }
            let screen = Shared("")
            let helper = BackgroundThread {
                var seen = Fixture.readUntil(terminal.master, marker: "ready")
                guard Fixture.contains(seen, Array("ready".utf8)) else { return }
                WindowSize(rows: 50, columns: 120).apply(to: terminal.slave)
                Fixture.signalSupervisor(SIGWINCH)
                seen += Fixture.readUntil(terminal.master, marker: "50 120")
                screen.value = String(decoding: seen, as: UTF8.self)
            }
            let script =
                "trap 'stty size; exit 0' WINCH; echo ready; i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; exit 7"
            let outcome = try Supervisor.run(Self.spec(script, on: terminal))
            helper.join()
            #expect(outcome.termination == .exited(0))
            #expect(Self.lines(screen.value).contains("50 120"))
        }

        @Test func pipedStandardOutputBypassesThePTY() throws {
            let terminal = CallerTerminal()
            defer { terminal.close() }
            let out = Fixture.pipe()
            defer { close(out.read) }
            var spec = Self.spec(
                "[ -t 0 ] && echo in-tty >&2; [ -t 1 ] || echo out-is-a-pipe", on: terminal)
            spec.standardOutput = out.write
            let outcome = try Supervisor.run(spec)
            close(out.write)
            #expect(outcome.termination == .exited(0))
            #expect(Fixture.readAll(out.read) == Array("out-is-a-pipe\n".utf8))
            #expect(Self.lines(terminal.drainScreen()).contains("in-tty"))
        }
    }
}
