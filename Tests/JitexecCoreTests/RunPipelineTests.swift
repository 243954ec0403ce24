import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem
import Synchronization
import Testing

@testable import JitexecCore

/// `jitexec COMMAND` through the whole run pipeline (`RunPipeline`) over a real temporary store and
/// a fake clock, with PAM and the command's supervision handed in by the test (`TestContext`).
@Suite struct RunPipelineTests {
    static let ran = ExitOutcome(termination: .exited(0), duration: .milliseconds(5))
    static let allowStatus = """

        [[rule]]
        name = "status"
        users = ["alice"]
        commands = ["/usr/bin/systemctl status *"]
        action = "allow"
        """

    /// A live grant for alice's `systemctl restart nginx` in /srv/app, approved by bob.
    func granted(_ f: WorkflowFixture, once: Bool = false) throws -> Grant {
        try f.grant(f.file(f.ask("restarts", once: once)))
    }

    /// Effects of alice at no terminal in /srv/app whose command `outcome` describes.
    func alice(
        _ pam: FakePAM,
        _ supervise: @escaping @Sendable (ExecSpec, SessionControl?, (() -> Bool)?) throws(ExecError) -> ExitOutcome
    ) -> Effects {
        var effects = Effects.caller(pam: pam, supervise: supervise)
        effects.workingDirectory = { "/srv/app" }
        return effects
    }

    @Test func aRunUnderALiveGrantCommitsExecStartAndTheUseBeforeTheCommandStarts() throws {
        let f = try WorkflowFixture()
        let grant = try granted(f)
        let seenAtStart = Mutex<[String]>([])
        let ctx = TestContext(f, invoker: People.alice).context(
            alice(FakePAM()) { spec, _, release throws(ExecError) in
                seenAtStart.withLock { $0 = (try? f.events()) ?? [] }
                #expect(spec.argv == Argv.restartNginx)
                #expect(spec.identity.name == "root")
                #expect(spec.cwd == "/srv/app")
                #expect(spec.environment.contains(UserText("JITEXEC_GRANT=\(grant.id)")))
                #expect(release?() == true)
                return Self.ran
            })
        #expect(jitexec(ctx, ["-n", "systemctl", "restart", "nginx"]) == (0, nil))
        #expect(Array(seenAtStart.withLock { $0 }.suffix(2)) == ["grant.used", "exec.start"])
        #expect(try f.events().suffix(3) == ["grant.used", "exec.start", "exec.end"])
        #expect(try f.records("exec.start").first?.fields["grant"] == .int(grant.id))
    }

    @Test func thePAMSessionIsTheTargetsOpenedBeforeExecStartAndClosedAfterTheCommand() throws {
        let f = try WorkflowFixture()
        _ = try granted(f)
        let pam = FakePAM()
        let ctx = TestContext(f, invoker: People.alice).context(
            alice(pam) { _, _, release throws(ExecError) in
                _ = release?()
                return Self.ran
            })
        #expect(jitexec(ctx, ["-n", "systemctl", "restart", "nginx"]).status == 0)
        #expect(pam.calls == ["user root", "credentials", "open", "close"])
    }

    @Test func theCommandsExitStatusIsJitexecsAndIsRecordedInExecEnd() throws {
        let f = try WorkflowFixture()
        _ = try granted(f)
        let ctx = TestContext(f, invoker: People.alice).context(
            alice(FakePAM()) { _, _, release throws(ExecError) in
                _ = release?()
                return ExitOutcome(termination: .signaled(15), duration: .seconds(2))
            })
        #expect(jitexec(ctx, ["-n", "systemctl", "restart", "nginx"]).status == 143)
        let end = try #require(try f.records("exec.end").first)
        #expect(end.fields["status"] == .int(143))
        #expect(end.fields["signal"] == .int(15))
        #expect(end.fields["duration_ms"] == .int(2000))
    }

    @Test func aGrantRevokedAfterExecStartKeepsTheCommandFromStarting() throws {
        let f = try WorkflowFixture()
        let grant = try granted(f)
        let ctx = TestContext(f, invoker: People.alice).context(
            alice(FakePAM()) { _, _, release throws(ExecError) in
                _ = try? f.revoke(grant.id, by: People.bob)
                #expect(release?() == false)
                throw .notReleased
            })
        let (status, refusal) = jitexec(ctx, ["-n", "systemctl", "restart", "nginx"])
        #expect(status == 77)
        #expect(refusal == "grant #\(grant.id) was revoked before the command started; nothing was run")
        let end = try #require(try f.records("exec.end").first)
        #expect(end.fields["error"] == .string(refusal!))
    }

    @Test func aGrantThatExpiresAfterExecStartKeepsTheCommandFromStarting() throws {
        let f = try WorkflowFixture()
        let grant = try granted(f)
        let ctx = TestContext(f, invoker: People.alice).context(
            alice(FakePAM()) { _, _, release throws(ExecError) in
                f.clock.advance(minutes: 16)
                #expect(release?() == false)
                throw .notReleased
            })
        let (status, refusal) = jitexec(ctx, ["-n", "systemctl", "restart", "nginx"])
        #expect(status == 77)
        #expect(refusal == "grant #\(grant.id) expired before the command started; nothing was run")
    }

    @Test func aRunThatLosesTheRaceForTheLastUseFilesARequestInstead() throws {
        let f = try WorkflowFixture()
        let grant = try granted(f, once: true)
        let pam = FakePAM()
        // Another run takes the last use between this run's grant check and its exec.start.
        let racer = try f.connect()
        let claim = try f.claim("restarts")
        // The closure must not hold `pam` (which holds the closure): count the opens apart.
        let opens = Mutex(0)
        pam.onOpenSession = {
            if opens.withLock({ count in
                count += 1
                return count
            }) == 1 {
                _ = try? f.use(claim, on: racer)
            }
        }
        let ctx = TestContext(f, invoker: People.alice).context(
            alice(pam) { _, _, _ throws(ExecError) in
                Issue.record("the command ran without a grant")
                throw .notReleased
            })
        let (status, refusal) = jitexec(ctx, ["-n", "--no-wait", "systemctl", "restart", "nginx"])
        #expect(status == 75)
        #expect(refusal?.hasPrefix("request #") == true)
        #expect(try f.records("grant.used").map(\.fields["grant"]) == [.int(grant.id)])
        #expect(try f.records("exec.start").isEmpty)
        #expect(try f.requests().filter { $0.status == .pending }.count == 1)
        #expect(pam.calls == ["user root", "credentials", "open", "close"])
    }

    @Test func withoutAGrantTheRunFilesARequestAndNoWaitExits75() throws {
        let f = try WorkflowFixture()
        let output = TestContext(f, invoker: People.alice)
        let ctx = output.context(
            alice(FakePAM()) { _, _, _ throws(ExecError) in
                Issue.record("the command ran without a grant")
                throw .notReleased
            })
        let (status, refusal) = jitexec(ctx, ["-n", "--no-wait", "-r", "INC-9", "systemctl", "restart", "nginx"])
        #expect(status == 75)
        let request = try #require(try f.requests().onlyOne)
        #expect(request.cwd == "/srv/app" && request.reason == "INC-9" && request.command == Argv.restartNginx)
        #expect(refusal?.contains("request #\(request.id) is waiting for 1 approval") == true)
        #expect(output.printed.first?.hasPrefix("jitexec: request #\(request.id) filed: it needs 1 approval") == true)
    }

    /// Alice's effects while she waits: each pause lets `during` act (an approver, Ctrl-C) and moves
    /// the monotonic clock on by the pause.
    func waiting(_ pam: FakePAM, during: @escaping @Sendable () -> Bool) -> Effects {
        let waited = Mutex<Duration>(.zero)
        var effects = alice(pam) { _, _, release throws(ExecError) in
            #expect(release?() == true)
            return Self.ran
        }
        effects.monotonic = { waited.withLock { $0 } }
        effects.pause = { length, _ in
            waited.withLock { $0 += length }
            return during()
        }
        effects.freshAccount = { uid in FakeAccounts.everyone.first { $0.uid == uid } }
        return effects
    }

    @Test func aWaitingRunStartsOnceTheDecidingApprovalArrivesAndRechecksTheAccount() throws {
        let f = try WorkflowFixture()
        let pam = FakePAM()
        let pauses = Mutex(0)
        let ctx = TestContext(f, invoker: People.alice).context(
            waiting(pam) {
                // The third pause: bob approves.
                if pauses.withLock({
                    $0 += 1
                    return $0
                }) == 3, let id = try? f.requests().first?.id {
                    _ = try? f.approve(id, by: People.bob)
                }
                return false
            })
        #expect(jitexec(ctx, ["-n", "systemctl", "restart", "nginx"]) == (0, nil))
        #expect(pauses.withLock { $0 } == 3)
        #expect(pam.calls == ["account", "user root", "credentials", "open", "close"])
        let start = try #require(try f.records("exec.start").first)
        #expect(start.fields["request"] == .int(try #require(try f.requests().first).id))
    }

    @Test func aWaitRidesOutAnOutageOfTheStoreAndRunsOnceApproved() throws {
        let f = try WorkflowFixture()
        let store = OutageStore(f.store)
        let pauses = Mutex(0)
        let test = TestContext(f, invoker: People.alice)
        var ctx = test.context(
            waiting(FakePAM()) {
                // Pauses 1–3: the store is down; then it is back and bob approves.
                let n = pauses.withLock {
                    $0 += 1
                    return $0
                }
                store.down = n < 4
                if n == 4, let id = try? f.requests().first?.id { _ = try? f.approve(id, by: People.bob) }
                return false
            })
        ctx.openStore = { _ in store }
        #expect(jitexec(ctx, ["-n", "systemctl", "restart", "nginx"]) == (0, nil))
        #expect(test.printed.contains { $0.contains("cannot use the fleet database") && $0.hasSuffix("still waiting") })
        #expect(test.printed.contains { $0.hasSuffix("the store is back; still waiting") })
        #expect(try f.records("exec.start").count == 1)
    }

    @Test func ctrlCWhileWaitingKeepsTheRequestOpenAndExits75() throws {
        let f = try WorkflowFixture()
        var effects = waiting(FakePAM()) { true }
        effects.supervise = { _, _, _ throws(ExecError) in
            Issue.record("the command ran without a grant")
            throw .notReleased
        }
        let ctx = TestContext(f, invoker: People.alice).context(effects)
        let (status, refusal) = jitexec(ctx, ["-n", "systemctl", "restart", "nginx"])
        #expect(status == 75)
        #expect(refusal?.hasPrefix("stopped waiting; request #") == true)
        #expect(try f.requests().map(\.status) == [.pending])
    }

    @Test func aWaitGivesUpAtTheWaitTimeout() throws {
        let f = try WorkflowFixture()
        var effects = waiting(FakePAM()) { false }
        effects.supervise = { _, _, _ throws(ExecError) in
            Issue.record("the command ran without a grant")
            throw .notReleased
        }
        let ctx = TestContext(f, invoker: People.alice).context(effects)
        let (status, refusal) = jitexec(ctx, ["-n", "--wait-timeout", "2s", "systemctl", "restart", "nginx"])
        #expect(status == 75)
        #expect(refusal?.hasPrefix("gave up waiting after 2s; request #") == true)
    }

    @Test func aDeniedCommandIsAuditedAndRefusedBeforeAnyAuthentication() throws {
        let f = try WorkflowFixture()
        // Failing effects: a denial must not reach PAM, the terminal or the command.
        var effects = Effects.knowingThePeople
        effects.workingDirectory = { "/srv/app" }
        let ctx = TestContext(f, invoker: People.mallory).context(effects)
        let (status, refusal) = jitexec(ctx, ["-n", "reboot"])
        #expect(status == 1)
        #expect(
            refusal
                == "mallory may not run /usr/sbin/reboot as root: no rule allows it; run 'jitctl explain -- reboot' for details"
        )
        let denied = try #require(try f.records("policy.denied").first)
        #expect(denied.actor == "mallory" && denied.fields["rule"] == .null)
    }

    @Test func anAllowRuleRunsWithoutAGrantOrARequest() throws {
        let f = try WorkflowFixture(Policies.standard + Self.allowStatus)
        let ctx = TestContext(f, invoker: People.alice).context(
            alice(FakePAM()) { spec, _, release throws(ExecError) in
                #expect(release == nil)
                #expect(!spec.environment.contains { $0.string?.hasPrefix("JITEXEC_GRANT=") == true })
                return Self.ran
            })
        #expect(jitexec(ctx, ["-n", "systemctl", "status", "nginx"]) == (0, nil))
        #expect(try f.events() == ["exec.start", "exec.end"])
        #expect(try f.requests().isEmpty)
    }

    @Test func aDecisionRefusedBecauseTheRequestJustExpiredStillRecordsTheExpiry() throws {
        let f = try WorkflowFixture()
        let request = try f.file(f.ask("restarts"))
        f.clock.advance(minutes: 61)
        let bob = TestContext(f, invoker: People.bob)
        var effects = Effects.caller(pam: FakePAM()) { _, _, _ throws(ExecError) in throw .notReleased }
        effects.workingDirectory = { nil }
        let status = ActionCommands.approve(
            bob.context(effects), id: request.id, duration: nil, comment: nil, mode: .never)
        #expect(status == 1)
        #expect(bob.printed.last == "jitexec: request #\(request.id) is already expired; nothing to do")
        #expect(try f.request(request.id).status == .expired)
        #expect(try f.records("request.expired").map(\.fields) == [["request": .int(request.id)]])
    }
}

extension Array {
    /// The one element, nil unless there is exactly one.
    var onlyOne: Element? { count == 1 ? self[0] : nil }
}

/// A store that is unreachable while `down` (as the fleet database is when stopped), else `inner`.
final class OutageStore: JitStore, @unchecked Sendable {
    private let inner: any JitStore
    private let state = Mutex(false)
    var down: Bool {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }

    init(_ inner: any JitStore) { self.inner = inner }

    private func check() throws {
        if down { throw StoreError.unreachable(server: "named in the test", reason: "Connection refused") }
    }

    func read<T>(_ body: (any StoreReader) throws -> T) throws -> T {
        try check()
        return try inner.read(body)
    }

    func write<T>(_ body: (any StoreWriter) throws -> T) throws -> T {
        try check()
        return try inner.write(body)
    }

    func writeRelaxed<T>(_ body: (any StoreWriter) throws -> T) throws -> T {
        try check()
        return try inner.writeRelaxed(body)
    }
}

/// The waiting line's text: a short approver list, and a line that never wraps.
@Suite struct WaitingLineTests {
    @Test func longApproverListsShowTwoAndHowManyMore() {
        #expect(ApprovalWait.shortList(["bob"]) == "bob")
        #expect(ApprovalWait.shortList(["bob", "carol"]) == "bob, carol")
        #expect(ApprovalWait.shortList(["bob", "carol", "dave", "erin", "frank", "grace", "heidi"]) == "bob, carol +5")
    }

    @Test func theLineFitsTheTerminalDroppingTheHintFirstThenCutting() {
        let state = "0/1 approvals, waiting for bob, carol +5"
        let wide = ApprovalWait.statusLine(request: 42, state: state, waited: "0:12", columns: 120)
        #expect(wide == "jitexec: request #42: 0/1 approvals, waiting for bob, carol +5 (0:12) - Ctrl-C stops waiting")
        let eighty = ApprovalWait.statusLine(request: 42, state: state, waited: "0:12", columns: 80)
        #expect(eighty == "jitexec: request #42: 0/1 approvals, waiting for bob, carol +5 (0:12)")
        let narrow = ApprovalWait.statusLine(request: 42, state: state, waited: "0:12", columns: 40)
        #expect(narrow.count == 39 && narrow.hasSuffix("…") && narrow.hasPrefix("jitexec: request #42: 0/1"))
    }
}

/// What `jitctl watch` prints for a break-glass use and a revoke.
@Suite struct WatchLineTests {
    @Test func aBreakGlassUseSaysWhoWhatWhereUntilWhenAndWhy() {
        let record = AuditRecord(
            seq: 7, time: 0, host: "web1", event: "breakglass.used", actor: "alice",
            fields: [
                "grant": .int(12), "rule": .string("oncall-shells"), "run_as": .string("root"), "host": .string("web1"),
                "command": .array([.string("/usr/bin/systemctl"), .string("restart"), .string("nginx")]),
                "reason": .string("INC-7 \u{1b}[2J"), "expires_at": .string("2026-12-02T18:00:00Z"),
            ], prevHash: "", hash: "")
        #expect(
            WatchCommand.eventLine(record)
                == "BREAK-GLASS alice took grant #12 on web1 (rule oncall-shells): /usr/bin/systemctl restart nginx "
                + "as root until 2026-12-02T18:00:00Z; reason: INC-7 \\x1b[2J - 'jitctl review'")
        #expect(WatchCommand.time(Instant(micros: 1_796_228_834_269_375)).count == 8)
    }
}
