import Glibc
import JitexecAuth
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem
import Synchronization

/// Where a command's output goes. Tests collect it; the live one writes to descriptors 1 and 2.
public struct Output: Sendable {
    public var out: @Sendable (String) -> Void
    public var err: @Sendable (String) -> Void
    /// Text for stderr without a newline (a status line that redraws itself).
    var errRaw: @Sendable (String) -> Void
    /// Text for stdout as it is (a replayed session's output).
    var outRaw: @Sendable (String) -> Void

    init(
        out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void,
        errRaw: @escaping @Sendable (String) -> Void = { _ in }, outRaw: (@Sendable (String) -> Void)? = nil
    ) {
        self.out = out
        self.err = err
        self.errRaw = errRaw
        self.outRaw = outRaw ?? out
    }

    /// Writes `text` to stdout without adding a newline.
    func write(_ text: String) { if !text.isEmpty { outRaw(text) } }

    /// Writes whole lines to stdout / stderr with write(2), unbuffered.
    public static let live = Output(
        out: { FileSystem.writeAll(1, ($0 + "\n").utf8) }, err: { FileSystem.writeAll(2, ($0 + "\n").utf8) },
        errRaw: { FileSystem.writeAll(2, $0.utf8) }, outRaw: { FileSystem.writeAll(1, $0.utf8) })
}

/// What the core asks of the operating system besides files and the store: the working directory,
/// the terminal, accounts, PAM, the monotonic clock and running the command. `live` is the real
/// system; a test hands in its own and fails on any it did not expect (Tests/JitexecCoreTests).
public struct Effects: Sendable {
    /// The working directory as raw bytes; nil when it cannot be read.
    var workingDirectory: @Sendable () -> UserText?
    /// The caller's controlling terminal (`ControllingTerminal.current`).
    var controllingTerminal: @Sendable () -> ControllingTerminal
    /// isatty(3) of one of this process's descriptors.
    var isTerminal: @Sendable (Int32) -> Bool
    /// The monotonic clock: how long a wait has lasted.
    var monotonic: @Sendable () -> Duration
    /// The account with this name (`Accounts.byName`); nil when there is none.
    var accountNamed: @Sendable (String) throws(JitError) -> Account?
    /// The account with this uid (`Accounts.byUID`); nil when there is none.
    var accountWithUID: @Sendable (uid_t) throws(JitError) -> Account?
    /// The account with this uid looked up anew (not what the process remembered).
    var freshAccount: @Sendable (uid_t) throws(JitError) -> Account?
    /// Waits up to the given time for a signal that stops a wait (`StopSignals`), returning early
    /// when the descriptor given (the store's `changeDescriptor`) becomes readable; true when a stop
    /// signal came.
    var pause: @Sendable (Duration, Int32?) -> Bool
    /// PAM: authenticates the invoking user and checks the account (`Authentication`).
    var authenticate:
        @Sendable (Context, Policy, PromptMode, ControllingTerminal, _ forcePassword: Bool) throws(JitError) ->
            any PAMTransaction
    /// Runs the command to its end (`Supervisor.run`), released when the closure says so.
    var supervise: @Sendable (ExecSpec, SessionControl?, (() -> Bool)?) throws(ExecError) -> ExitOutcome

    /// The real system.
    static let live = Effects(
        workingDirectory: {
            guard let p = getcwd(nil, 0) else { return nil }
            defer { free(p) }
            return UserText(cString: p)
        },
        controllingTerminal: { ControllingTerminal.current() },
        isTerminal: { isatty($0) == 1 },
        monotonic: { Clocks.monotonic() },
        accountNamed: { name throws(JitError) in
            try lookingUp { () throws(UserDatabase.LookupError) in try Accounts.byName(name) }
        },
        accountWithUID: { uid throws(JitError) in
            try lookingUp { () throws(UserDatabase.LookupError) in try Accounts.byUID(uid) }
        },
        freshAccount: { uid throws(JitError) in
            try lookingUp { () throws(UserDatabase.LookupError) in try Accounts.fresh(uid) }
        },
        pause: { StopSignals.pause($0, wake: $1) },
        authenticate: { ctx, policy, mode, terminal, force throws(JitError) in
            try Authentication.authenticate(ctx, policy: policy, mode: mode, terminal: terminal, forcePassword: force)
        },
        supervise: { spec, control, release throws(ExecError) in
            try Supervisor.run(spec, control: control, release: release)
        })
}

/// Everything a command touches: paths, clock, host, the invoking user, the user database and
/// file system lookups, output, how to open the store, and the other effects (`Effects`). Commands
/// take it as their only input besides their arguments, so tests run them over a temporary store,
/// a fake clock and effects of their own.
public struct Context: Sendable {
    public var program: String
    public var paths: Paths
    public var clock: @Sendable () -> Instant
    public var host: String
    /// The invoking user (`invoker`), whose groups may still be being looked up (`settleInvoker`).
    private let invokerLookup: PendingAccount
    public var system: AnySystemLookup
    public var output: Output
    /// Opens the store (after the trusted-file checks in the live context).
    var openStore: @Sendable (Context) throws(JitError) -> any JitStore
    /// Reads the policy files (after the trusted-file checks in the live context).
    public var readPolicy: @Sendable (Context) throws(JitError) -> [PolicySource]
    /// Turns the installed policy into a `Policy`: jitctl parses the TOML, jitexec reads what
    /// jitctl compiled (`CompiledPolicy`). Throws `policyInvalid` when it has errors.
    var policyLoader: @Sendable (Context) throws(JitError) -> Policy
    var effects: Effects
    /// What every copy of this context shares: the store and its open, what the policy said.
    private let shared = ContextShared()
    /// What the audit sink could not do, recorded after the write that caused it (`storeWrite`).
    let notifyFailures = PendingAuditEvents()

    init(
        program: String, paths: Paths, clock: @escaping @Sendable () -> Instant, host: String,
        invoker: PendingAccount, system: AnySystemLookup, output: Output,
        openStore: @escaping @Sendable (Context) throws(JitError) -> any JitStore,
        readPolicy: @escaping @Sendable (Context) throws(JitError) -> [PolicySource],
        policyLoader: @escaping @Sendable (Context) throws(JitError) -> Policy, effects: Effects = .live
    ) {
        self.program = program
        self.paths = paths
        self.clock = clock
        self.host = host
        self.invokerLookup = invoker
        self.system = system
        self.output = output
        self.openStore = openStore
        self.readPolicy = readPolicy
        self.policyLoader = policyLoader
        self.effects = effects
    }

    /// The real system: requires euid 0 and a known invoking user. With `invokerGroupsBeside` the
    /// invoking user's groups are looked up on a thread of its own while the caller goes on (jitexec
    /// reads the policy meanwhile); the caller then calls `settleInvoker` before anything else.
    public static func live(
        program: String, invokerGroupsBeside: Bool = false,
        policyLoader: @escaping @Sendable (Context) throws(JitError) -> Policy = CompiledPolicy.load
    ) throws(JitError) -> Context {
        try Privileges.requireRoot(program: program)
        // First: from here on the caller cannot stop or kill this process (see takeRealRoot), nor
        // end, stop or starve it through what they left on it (timers, signal mask, scheduling).
        try Privileges.takeRealRoot()
        if let failed = ProcessState.reset() {
            throw .notPermitted(
                "cannot reset the process state (\(String(cString: strerror(failed)))); nothing was done")
        }
        try Privileges.resetLimits()
        try Privileges.requireInstalledBinary(program: program, paths: .builtIn)
        // Files jitexec creates (database, caches) belong to root:root, not to the caller's group.
        guard setegid(0) == 0 else { throw .notSetuidRoot(program: program) }
        return Context(
            program: program, paths: .builtIn, clock: Clocks.wall, host: currentHostName(),
            invoker: try Privileges.invoker(groupsBeside: invokerGroupsBeside), system: AnySystemLookup(LiveSystem()),
            output: .live,
            openStore: StoreAccess.openLive, readPolicy: PolicyFiles.readLive, policyLoader: policyLoader,
            effects: .live)
    }

    /// The invoking user, with every group. Waits for the group lookup if it is still running.
    public var invoker: Account {
        do {
            return try invokerLookup.account()
        } catch {
            // settleInvoker threw this error before anything could read the invoker (JitexecMain).
            fatalError("the invoking user was read after their group lookup failed: \(error)")
        }
    }

    /// Waits for the invoking user's group lookup (`live(invokerGroupsBeside:)`) and throws why it
    /// failed. Called before anything reads `invoker`, so a failed lookup ends the run with its
    /// own line.
    func settleInvoker() throws(JitError) {
        _ = try lookingUp { () throws(UserDatabase.LookupError) in try invokerLookup.account() }
    }

    /// The store, opened on first use (trusted-file checks, migrations) and reused after.
    public func store() throws(JitError) -> any JitStore {
        if let store = shared.read({ $0.opened }) {
            settleCheckpoint()
            return store
        }
        settleStore()
        if let store = shared.read({ $0.opened }) { return store }
        if let failure = shared.update({ $0.openFailure.take() }) { throw failure }
        let store = try openStore(self)
        shared.update { $0.opened = store }
        return store
    }

    /// Starts opening the store on a thread of its own (`BackgroundThread`), for steps that take
    /// time and need nothing from it (on the hot path the command's resolution and decision and
    /// PAM's account check, which the open then costs no time). The next `store()` takes what it
    /// opened, or throws why it could not. With no other CPU to run it, nothing starts and
    /// `store()` opens the store as without this call.
    ///
    /// Until the open is joined this thread holds the terminal signals, as during a transaction
    /// (`TerminalSignals`): the open takes the store's locks, and a stop or end of the process
    /// meanwhile would stall everyone else. The hold ends when `store()` or `settleStore()` joins
    /// it, which `Authentication` does before anything is asked or shown on the terminal.
    func openStoreInBackground() {
        guard shared.read({ $0.opened == nil && $0.opening == nil }) else { return }
        let hold = TerminalSignals.Hold()
        let open = openStore
        let ctx = self
        let thread = BackgroundThread.start { () -> Result<any JitStore, JitError> in
            do throws(JitError) {
                let store = try open(ctx)
                // The thread has time to spare: the run's statements are compiled here too.
                store.compileRunStatements()
                return .success(store)
            } catch {
                return .failure(error)
            }
        }
        guard let thread else {
            // No thread: the store opens when first used, as without this call.
            hold.end()
            return
        }
        shared.update { $0.opening = BackgroundOpen(thread: thread, hold: hold) }
    }

    /// Waits for the store being opened in the background, if any, and ends the hold on the
    /// terminal signals; what it opened, or why it failed, is kept for `store()`. Called by the
    /// thread that started it before that thread reads or writes the terminal, and before the
    /// process ends (a thread must not be left running into exit).
    func settleStore() {
        settleCheckpoint()
        guard let pending = shared.update({ $0.opening.take() }) else { return }
        let result = pending.thread.join()
        pending.hold.end()
        switch result {
        case .success(let store): shared.update { $0.opened = store }
        case .failure(let error): shared.update { $0.openFailure = error }
        }
    }

    /// Starts the open store's checkpoint (`JitStore.checkpoint`) on a thread of its own, for the
    /// time the command runs: `exec.start` and `exec.end` then never checkpoint in their commit
    /// (SQLite's automatic checkpoint, two more syncs, in about a third of the runs), and the next
    /// run's open has fewer frames of the log to read. The next `store()` or `settleStore()` waits
    /// for it. Nothing starts when the store has no log, or no other CPU could run it.
    ///
    /// No terminal signal is held meanwhile (the supervisor forwards them to the command): a
    /// passive checkpoint holds no lock another process waits for, and this process waits for it
    /// before it stops itself (`SessionControl.beforeSuspend`).
    func checkpointBeside() {
        guard let store = shared.read({ $0.checkpointing == nil ? $0.opened : nil }), store.checkpointDue else {
            return
        }
        let thread = BackgroundThread.start { store.checkpoint() }
        shared.update { $0.checkpointing = thread }
    }

    /// Waits for the checkpoint `checkpointBeside` started, if any.
    func settleCheckpoint() {
        shared.update({ $0.checkpointing.take() })?.join()
    }

    public func say(_ line: String) { output.out(line) }
    /// One refusal line on stderr, prefixed with the program name.
    public func complain(_ line: String) { output.err("\(program): \(line)") }

    /// Loads the policy; throws `policyInvalid` when it has errors.
    public func loadPolicy() throws(JitError) -> Policy {
        let policy = try policyLoader(self)
        let notifyEvents = Set(policy.notify?.events ?? [])
        let automatedRules = Set(policy.rules.filter { !policy.automations(of: $0).isEmpty }.map(\.name))
        shared.update {
            $0.notifyEvents = notifyEvents
            $0.automatedRules = automatedRules
            $0.storeConfig = policy.store
        }
        return policy
    }

    /// The events that start the notification runner besides `request.filed` (see `Notifications`).
    var notifyEvents: Set<String> { shared.read { $0.notifyEvents } }

    /// The rules whose requests automations decide (see `AutomationRunner`).
    var automatedRules: Set<String> { shared.read { $0.automatedRules } }

    /// The `[store]` the policy names: the one loaded in this process, else the policy loaded now,
    /// else the last good one (so an invalid policy is still recorded where the fleet keeps its
    /// log), else the embedded default.
    var storeConfig: StoreConfig {
        if let config = shared.read({ $0.storeConfig }) { return config }
        if let policy = try? loadPolicy() { return policy.store }
        return CompiledPolicy.lastGoodPolicy(self)?.store ?? StoreConfig()
    }
}

/// What every copy of a `Context` shares (the store once opened, what the policy said), behind
/// one lock. One class that is not generic: a generic box (`Shared<Value>`) had its class metadata
/// made at first use for each type it held, about 12,000 instructions each: 73,000 of a run (callgrind).
final class ContextShared: Sendable {
    struct State: Sendable {
        /// The store once opened: one connection per process, however many steps use it.
        var opened: (any JitStore)?
        /// The store being opened on a thread of its own (`openStoreInBackground`).
        var opening: BackgroundOpen?
        /// Why the open `settleStore` waited for failed, for the `store()` call that comes next.
        var openFailure: JitError?
        /// The store's checkpoint running beside the command (`checkpointBeside`).
        var checkpointing: BackgroundThread<Void>?
        /// The `[notify] events` of the last policy loaded, for the audit sink (`Notifications`).
        var notifyEvents: Set<String> = []
        /// The rules of the last policy loaded that name `@automations` among their approvers:
        /// filing a request of one starts the automation runner (`Notifications`).
        var automatedRules: Set<String> = []
        /// The `[store]` of the last policy loaded: which store `store()` opens (`StoreAccess`).
        var storeConfig: StoreConfig?
    }

    private let state = Mutex(State())

    func read<T>(_ body: (State) -> T) -> T { state.withLock { body($0) } }
    func update<T>(_ body: (inout State) -> T) -> T { state.withLock { body(&$0) } }
}

/// A store being opened on a thread of its own, and the hold on the terminal signals that the
/// thread which started it keeps until it joins it (`Context.openStoreInBackground`).
final class BackgroundOpen: @unchecked Sendable {
    // Used only by the thread that started the open (joined once, taken from `ContextShared`).
    let thread: BackgroundThread<Result<any JitStore, JitError>>
    let hold: TerminalSignals.Hold
    init(thread: BackgroundThread<Result<any JitStore, JitError>>, hold: TerminalSignals.Hold) {
        self.thread = thread
        self.hold = hold
    }
}
