import Glibc
import JitexecBase
import JitexecExec
import JitexecStore
import JitexecSystem
import Synchronization
import Testing

@testable import JitexecCore

/// The store's checkpoint run beside the command (`Context.checkpointBeside`): started once the
/// last check before the command passed, on another thread, and over before exec.end is written
/// and before anything else uses the store.
@Suite struct BackgroundCheckpointTests {
    /// `inner`, with a checkpoint that is always due, takes 50 ms and records where and when it ran.
    final class CheckpointRecorder: JitStore, @unchecked Sendable {
        struct Checkpoint: Equatable {
            var besideTheCaller: Bool
            var recordsBefore: [String]
        }
        let inner: any JitStore
        let events: @Sendable () -> [String]
        let caller = pthread_self()
        let due: Bool
        private let state = Mutex<(checkpoints: [Checkpoint], started: Int, running: Bool, relaxedWhileRunning: Int)>(
            ([], 0, false, 0))
        var checkpoints: [Checkpoint] { state.withLock { $0.checkpoints } }
        var started: Int { state.withLock { $0.started } }
        var relaxedWhileRunning: Int { state.withLock { $0.relaxedWhileRunning } }

        init(_ inner: any JitStore, due: Bool = true, events: @escaping @Sendable () -> [String]) {
            self.inner = inner
            self.due = due
            self.events = events
        }

        func read<T>(_ body: (any StoreReader) throws -> T) throws -> T { try inner.read(body) }
        func write<T>(_ body: (any StoreWriter) throws -> T) throws -> T { try inner.write(body) }
        func writeRelaxed<T>(_ body: (any StoreWriter) throws -> T) throws -> T {
            state.withLock { if $0.running { $0.relaxedWhileRunning += 1 } }
            return try inner.writeRelaxed(body)
        }
        var checkpointDue: Bool { due }
        func checkpoint() {
            let beside = pthread_equal(pthread_self(), caller) == 0
            let records = events()
            state.withLock {
                $0.started += 1
                $0.running = true
            }
            usleep(50_000)
            state.withLock {
                $0.running = false
                $0.checkpoints.append(Checkpoint(besideTheCaller: beside, recordsBefore: records))
            }
        }
    }

    /// alice's run of `words` over `store`, the command released (or not) by the supervisor.
    func run(
        _ f: WorkflowFixture, _ store: CheckpointRecorder, _ words: [String],
        command: @escaping @Sendable ((() -> Bool)?) -> Bool = { release in release?() ?? true }
    ) -> (status: Int32, refusal: String?) {
        // As the supervisor: the command runs only when released.
        var effects = Effects.caller(pam: FakePAM()) { _, _, release throws(ExecError) in
            guard command(release) else { throw .notReleased }
            return RunPipelineTests.ran
        }
        effects.workingDirectory = { "/srv/app" }
        var ctx = TestContext(f, invoker: People.alice).context(effects)
        ctx.openStore = { _ in store }
        return jitexec(ctx, words)
    }

    @Test func underAGrantTheCheckpointStartsAfterTheLastCheckBesideTheCommandAndEndsBeforeExecEnd() throws {
        let f = try WorkflowFixture()
        _ = try f.grant(f.file(f.ask("restarts")))
        let store = CheckpointRecorder(f.store) { (try? f.events()) ?? [] }
        let seen = Mutex<[Int]>([])
        let outcome = run(f, store, ["-n", "systemctl", "restart", "nginx"]) { release in
            seen.withLock { $0.append(store.started) }
            return release?() == true
        }
        #expect(outcome == (0, nil))
        // None before the release; one after it, beside this thread, with exec.start recorded.
        #expect(seen.withLock { $0 } == [0])
        let checkpoint = try #require(store.checkpoints.onlyOne)
        #expect(checkpoint.besideTheCaller == backgroundThreadCanStart)
        #expect(checkpoint.recordsBefore.last == "exec.start")
        // exec.end (a relaxed write) waited for it.
        #expect(store.relaxedWhileRunning == 0)
        #expect(try f.events().suffix(2) == ["exec.start", "exec.end"])
    }

    @Test func aCommandNotReleasedLeavesTheStoreAlone() throws {
        let f = try WorkflowFixture()
        let grant = try f.grant(f.file(f.ask("restarts")))
        let store = CheckpointRecorder(f.store) { (try? f.events()) ?? [] }
        let outcome = run(f, store, ["-n", "systemctl", "restart", "nginx"]) { release in
            // Revoked between exec.start and the last check.
            _ = try? f.revoke(grant.id, by: People.bob)
            return release?() ?? true
        }
        #expect(outcome.refusal == "grant #\(grant.id) was revoked before the command started; nothing was run")
        #expect(store.checkpoints.isEmpty)
    }

    @Test func nothingStartsWhenNoCheckpointIsDue() throws {
        let f = try WorkflowFixture()
        _ = try f.grant(f.file(f.ask("restarts")))
        let store = CheckpointRecorder(f.store, due: false) { (try? f.events()) ?? [] }
        #expect(run(f, store, ["-n", "systemctl", "restart", "nginx"]) == (0, nil))
        #expect(store.checkpoints.isEmpty)
    }
}
