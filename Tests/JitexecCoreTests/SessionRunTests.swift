import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem
import Synchronization
import Testing

@testable import JitexecCore

/// What a run hands the supervisor for its session: the session row, containment, and a monitor
/// that ends the command on `jitctl stop`, and under `enforce_expiry` on revoke and at the grant's
/// end (after a notice), over a real temporary store and a fake clock.
@Suite struct SessionRunTests {
    static let enforced = Policies.standard.replacingOccurrences(
        of: """
            commands = ["/usr/bin/systemctl restart *"]
            action = "approve"
            """,
        with: """
            commands = ["/usr/bin/systemctl restart *"]
            action = "approve"
            enforce_expiry = true
            """)

    /// Runs alice's `systemctl restart nginx` under a live 15-minute grant; `during` plays the
    /// running command's time with the control the supervisor got.
    func run(
        _ f: WorkflowFixture, during: @escaping @Sendable (SessionControl) -> Void
    ) throws -> Int32 {
        _ = try f.grant(f.file(f.ask("restarts")))
        var effects = Effects.caller(pam: FakePAM()) { _, control, release throws(ExecError) in
            #expect(release?() == true)
            guard let control else {
                Issue.record("no session control")
                return ExitOutcome(termination: .exited(1), duration: .zero)
            }
            during(control)
            return ExitOutcome(termination: .signaled(15), duration: .seconds(1))
        }
        effects.workingDirectory = { "/srv/app" }
        let ctx = TestContext(f, invoker: People.alice).context(effects)
        let args = try JitexecArguments.parse(["-n", "systemctl", "restart", "nginx"])
        return try JitexecMain.run(ctx, Invocation(args: args, environment: ["TERM=xterm"], umask: 0o022))
    }

    @Test func underEnforceExpiryTheMonitorWarnsThenEndsAtTheGrantsEnd() throws {
        let f = try WorkflowFixture(Self.enforced)
        let verdicts = Mutex<[MonitorVerdict]>([])
        let status = try run(f) { control in
            #expect(control.contain && control.endLeftovers && control.deadline != nil)
            let monitor = control.monitor!
            var seen = [monitor()]
            f.clock.advance(minutes: 14)
            f.clock.advance(seconds: 30)
            seen.append(monitor())
            f.clock.advance(seconds: 31)
            seen.append(monitor())
            verdicts.withLock { $0 = seen }
        }
        #expect(status == 143)
        let seen = verdicts.withLock { $0 }
        #expect(seen.first == .keep)
        if case .notice(let text) = seen[1] {
            #expect(text.contains("in under a minute; this command will be ended then"))
        } else {
            Issue.record("no notice before the end: \(seen[1])")
        }
        #expect(seen[2] == .end(reason: "expired", message: "jitexec: grant #1 expired; the command was ended"))
        let start = try #require(f.records("exec.start").last)
        let end = try #require(f.records("exec.end").last)
        #expect(start.fields["session"] != nil && start.fields["session"] == end.fields["session"])
    }

    @Test func aRevokeEndsTheCommandOnlyUnderEnforceExpiry() throws {
        for (policy, ends) in [(Self.enforced, true), (Policies.standard, false)] {
            let f = try WorkflowFixture(policy)
            let verdict = Mutex<MonitorVerdict?>(nil)
            _ = try run(f) { control in
                _ = try? f.revoke(1, by: People.bob)
                verdict.withLock { $0 = control.monitor!() }
            }
            let expected: MonitorVerdict =
                ends
                ? .end(reason: "revoked", message: "jitexec: grant #1 was revoked by bob; the command was ended")
                : .keep
            #expect(verdict.withLock { $0 } == expected)
        }
    }

    @Test func aStopEndsAnySessionAndNamesWhoStoppedIt() throws {
        let f = try WorkflowFixture()
        let verdict = Mutex<MonitorVerdict?>(nil)
        _ = try run(f) { control in
            #expect(control.deadline == nil && !control.endLeftovers)
            _ = try? f.store.write { w in
                try w.requestSessionStop(id: 1, by: "bob", comment: "wrong host", at: f.clock.now)
            }
            verdict.withLock { $0 = control.monitor!() }
        }
        #expect(
            verdict.withLock { $0 }
                == .end(reason: "stopped", message: "jitexec: session #1 was stopped by bob: wrong host"))
        let session = try #require(try f.store.read { try $0.session(id: 1) })
        #expect(session.stopBy == "bob" && session.endedAt != nil && session.exitStatus == 143)
    }
}
