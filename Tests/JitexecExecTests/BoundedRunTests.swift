import Glibc
import JitexecBase
import JitexecSystem
import Testing

@testable import JitexecExec

@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to switch users"))
struct BoundedRunTests {
    private func sh(_ script: String, timeout: Duration = .seconds(5), limit: Int = 64 * 1024) throws
        -> BoundedRun.Outcome
    {
        try BoundedRun.run(
            path: "/bin/sh", argv: ["sh", "-c", UserText(script)], environment: ["PATH=/usr/bin:/bin"],
            identity: Fixture.nobody, timeout: timeout, outputLimit: limit)
    }

    @Test func outputAndStatusAreCollectedAsTheTargetUser() throws {
        let nobody = Fixture.nobody.uid
        #expect(
            try sh("id -u; echo alice bob")
                == .finished(status: .exited(0), output: Array("\(nobody)\nalice bob\n".utf8)))
        #expect(try sh("echo x; exit 3") == .finished(status: .exited(3), output: Array("x\n".utf8)))
        #expect(try sh("kill -9 $$") == .finished(status: .signaled(9), output: []))
    }

    @Test func hangingCommandIsKilledAtTheDeadline() throws {
        let started = Clocks.monotonic()
        #expect(try sh("echo partial; exec sleep 30", timeout: .milliseconds(300)) == .timedOut)
        #expect(Clocks.monotonic() - started < .seconds(5))
    }

    @Test func outputUpToTheLimitIsKept() throws {
        #expect(
            try sh("printf '%010d' 0", limit: 10)
                == .finished(
                    status: .exited(0), output: Array(repeating: UInt8(ascii: "0"), count: 10)))
    }

    @Test func outputOverTheLimitIsNotUsedAndTheCommandIsKilled() throws {
        #expect(try sh("printf '%011d' 0", limit: 10) == .outputOverLimit)
        let started = Clocks.monotonic()
        #expect(try sh("printf '%0100000d' 0; exec sleep 30") == .outputOverLimit)
        #expect(Clocks.monotonic() - started < .seconds(5))
    }

    /// The pid a script printed, still alive after its run or not.
    private func survivor(_ outcome: BoundedRun.Outcome) -> (pid: pid_t, alive: Bool)? {
        guard case .finished(.exited(0), let output) = outcome,
            let pid = pid_t(String(decoding: output, as: UTF8.self).split(separator: "\n").first ?? "")
        else { return nil }
        return (pid, kill(pid, 0) == 0)
    }

    @Test func aContainedRunKillsWhatTheCommandLeftBehindInAnotherSession() throws {
        // The script waits until the daemon leads its own session (field 6 of /proc/PID/stat):
        // the run kills the command's process group when it ends, and a daemon still in it then
        // (a loaded machine, before setsid ran) would die for that reason, not the one tested here.
        let script = """
            setsid sh -c 'exec sleep 30' </dev/null >/dev/null 2>&1 & p=$!; i=0
            while [ "$(cut -d' ' -f6 /proc/$p/stat 2>/dev/null)" != "$p" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
            echo $p
            """
        func run(contained: Bool) throws -> BoundedRun.Outcome {
            try BoundedRun.run(
                path: "/bin/sh", argv: ["sh", "-c", UserText(script)], environment: ["PATH=/usr/bin:/bin"],
                identity: Fixture.nobody, timeout: .seconds(5), contained: contained)
        }
        // Not contained (the on-call command): the daemon outlives the run, as this control shows.
        let loose = try #require(survivor(try run(contained: false)))
        #expect(loose.alive)
        kill(loose.pid, SIGKILL)
        let kept = try #require(survivor(try run(contained: true)))
        #expect(!kept.alive, "pid \(kept.pid) outlived a contained run")
    }

    @Test func keepGoingSayingNoStopsTheCommandEarly() throws {
        let started = Clocks.monotonic()
        let outcome = try BoundedRun.run(
            path: "/bin/sh", argv: ["sh", "-c", "exec sleep 30"], environment: ["PATH=/usr/bin:/bin"],
            identity: Fixture.nobody, timeout: .seconds(20), contained: true, keepGoing: { false })
        #expect(outcome == .stopped)
        #expect(Clocks.monotonic() - started < .seconds(3))
    }

    @Test func missingCommandIsAnError() {
        #expect(throws: ExecError.notFound(path: "/nonexistent/who-is-oncall")) {
            try BoundedRun.run(
                path: "/nonexistent/who-is-oncall", argv: ["x"], environment: [], identity: Fixture.nobody,
                timeout: .seconds(1))
        }
    }
}

/// The poll interval of a bounded run, for deadlines of any length (no root needed).
@Suite struct BoundedRunPollTests {
    @Test(arguments: [
        (Duration.milliseconds(1), Int32(1)), (.microseconds(10), 1), (.milliseconds(42), 42),
        (.milliseconds(100), 100),
        (.seconds(3_000_000), 100), (.seconds(Int64.max / 2), 100),
    ])
    func pollWaitIsAtMost100MillisecondsForAnyDeadline(left: Duration, millis: Int32) {
        #expect(BoundedRun.pollMillis(left) == millis)
    }
}
