import Glibc
import JitexecBase
import JitexecExec
import JitexecStore
import JitexecSystem
import Synchronization
import Testing

@testable import JitexecCore

/// The store opened on a thread of its own while PAM checks the account (`Context.openStoreInBackground`,
/// `BackgroundThread`): the same store, the same errors, and the terminal signals held meanwhile.
@Suite struct BackgroundStoreTests {
    /// Whether each of the terminal signals is blocked in the calling thread.
    static func terminalSignalsBlocked() -> [Bool] {
        var mask = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &mask)
        return TerminalSignals.held.map { sigismember(&mask, $0) == 1 }
    }

    static var allHeld: [Bool] { TerminalSignals.held.map { _ in true } }
    /// Held while the store opens in the background; with one CPU it opens when first used instead.
    static var heldWhileOpening: [Bool] { backgroundThreadCanStart ? allHeld : noneHeld }
    static var noneHeld: [Bool] { TerminalSignals.held.map { _ in false } }

    /// Runs `body` with the terminal signals unblocked in this thread (a test runner's threads may
    /// block them), then puts the thread's mask back.
    static func unheld<T>(_ body: () throws -> T) rethrows -> T {
        var set = sigset_t()
        var saved = sigset_t()
        sigemptyset(&set)
        for signal in TerminalSignals.held { sigaddset(&set, signal) }
        pthread_sigmask(SIG_UNBLOCK, &set, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }

    /// A context over `f` whose store opens through `open`.
    func context(
        _ f: WorkflowFixture, _ effects: Effects = .failing,
        open: @escaping @Sendable (Context) throws(JitError) -> any JitStore
    ) -> Context {
        var ctx = TestContext(f, invoker: People.alice).context(effects)
        ctx.openStore = open
        return ctx
    }

    @Test func theThreadRunsWithEverySignalBlockedAndLeavesTheCallersMaskAlone() throws {
        try Self.unheld {
            #expect(Self.terminalSignalsBlocked() == Self.noneHeld)
            let thread = BackgroundThread.start { () -> [Bool] in
                var mask = sigset_t()
                pthread_sigmask(SIG_BLOCK, nil, &mask)
                let blocked = [SIGINT, SIGTSTP, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1, SIGALRM].map {
                    sigismember(&mask, $0) == 1
                }
                return blocked
            }
            #expect(Self.terminalSignalsBlocked() == Self.noneHeld)
            guard backgroundThreadCanStart else {
                // One CPU: no thread, the caller runs the work itself.
                #expect(thread == nil)
                return
            }
            let started = try #require(thread)
            #expect(started.join() == [true, true, true, true, true, true, true])
        }
    }

    @Test func storeTakesWhatTheBackgroundOpenOpenedOnAnotherThreadWithTheSignalsHeldUntilThen() throws {
        try Self.unheld {
            let f = try WorkflowFixture()
            let caller = pthread_self()
            let opens = Mutex<[Bool]>([])
            let ctx = context(f) { _ throws(JitError) in
                opens.withLock { $0.append(pthread_equal(pthread_self(), caller) != 0) }
                return f.store
            }
            #expect(Self.terminalSignalsBlocked() == Self.noneHeld)
            ctx.openStoreInBackground()
            #expect(Self.terminalSignalsBlocked() == Self.heldWhileOpening)
            ctx.openStoreInBackground()  // already opening: nothing more
            let store = try ctx.store()
            #expect(store === f.store)
            #expect(Self.terminalSignalsBlocked() == Self.noneHeld)
            #expect(try ctx.store() === f.store)
            ctx.openStoreInBackground()  // already open: nothing more
            #expect(Self.terminalSignalsBlocked() == Self.noneHeld)
            #expect(opens.withLock { $0 } == [!backgroundThreadCanStart])
        }
    }

    @Test func aFailedBackgroundOpenIsThrownByTheNextStoreCallAndTheOneAfterTriesAgain() throws {
        try Self.unheld {
            let f = try WorkflowFixture()
            let attempts = Mutex(0)
            let ctx = context(f) { _ throws(JitError) in
                let attempt = attempts.withLock { n in
                    n += 1
                    return n
                }
                if attempt == 1 { throw .storeUnavailable("the database is locked") }
                return f.store
            }
            ctx.openStoreInBackground()
            ctx.settleStore()  // as before a prompt: joined, the failure kept
            #expect(Self.terminalSignalsBlocked() == Self.noneHeld)
            #expect(attempts.withLock { $0 } == (backgroundThreadCanStart ? 1 : 0))
            #expect(throws: JitError.storeUnavailable("the database is locked")) { try ctx.store() }
            #expect(attempts.withLock { $0 } == 1)
            #expect(try ctx.store() === f.store)
            #expect(attempts.withLock { $0 } == 2)
        }
    }

    @Test func aRunOpensTheStoreWhilePAMChecksTheAccountWithTheTerminalSignalsHeld() throws {
        try Self.unheld {
            let f = try WorkflowFixture()
            _ = try f.grant(f.file(f.ask("restarts")))
            let opens = Mutex(0)
            let duringPAM = Mutex<[Bool]>([])
            let pam = FakePAM()
            var effects = Effects.caller(pam: pam) { _, _, release throws(ExecError) in
                #expect(release?() == true)
                return ExitOutcome(termination: .exited(0), duration: .milliseconds(5))
            }
            effects.workingDirectory = { "/srv/app" }
            effects.authenticate = { _, _, _, _, _ throws(JitError) in
                duringPAM.withLock { $0 = Self.terminalSignalsBlocked() }
                return pam
            }
            let ctx = context(f, effects) { _ throws(JitError) in
                opens.withLock { $0 += 1 }
                return f.store
            }
            let args = try JitexecArguments.parse(["-n", "systemctl", "restart", "nginx"].map { UserText($0) })
            let status = try JitexecMain.run(ctx, Invocation(args: args, environment: ["TERM=xterm"], umask: 0o022))
            #expect(status == 0)
            #expect(duringPAM.withLock { $0 } == Self.heldWhileOpening)
            #expect(Self.terminalSignalsBlocked() == Self.noneHeld)
            #expect(opens.withLock { $0 } == 1)
            #expect(try f.events().suffix(2) == ["exec.start", "exec.end"])
        }
    }

    @Test(.enabled(if: TestBackend.postgresURL == nil, "the SQLite pass: only SQLite compiles statements ahead"))
    func aRunCompilesNoStatementAfterTheBackgroundOpenCompiledTheRunsStatements() throws {
        try Self.unheld {
            let f = try WorkflowFixture()
            _ = try f.grant(f.file(f.ask("restarts")))
            // A connection of its own, as a run's process has (the fixture's ran the steps above).
            let fixtureStore = try #require(f.store as? SQLiteStore)
            let store = try SQLiteStore(
                path: fixtureStore.path, host: f.host, clock: { f.clock.now }, auditSink: { _ in })
            store.compileRunStatements()
            let compiled = try store.statementsCompiled()
            var effects = Effects.caller(pam: FakePAM()) { _, _, release throws(ExecError) in
                #expect(release?() == true)
                return ExitOutcome(termination: .exited(0), duration: .milliseconds(5))
            }
            effects.workingDirectory = { "/srv/app" }
            let ctx = context(f, effects) { _ throws(JitError) in store }
            let args = try JitexecArguments.parse(["-n", "systemctl", "restart", "nginx"].map { UserText($0) })
            #expect(try JitexecMain.run(ctx, Invocation(args: args, environment: ["TERM=xterm"], umask: 0o022)) == 0)
            #expect(try f.events().suffix(2) == ["exec.start", "exec.end"])
            #expect(try store.statementsCompiled() == compiled)
        }
    }
}
