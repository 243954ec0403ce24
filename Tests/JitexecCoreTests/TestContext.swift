import JitexecAuth
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem
import Synchronization
import Testing

@testable import JitexecCore

/// A `Context` over a `WorkflowFixture`: its store, clock and policy, the test's accounts, output
/// collected in lines. Every other effect fails the test when it is used, unless the test gave it:
/// nothing here reaches the real terminal, PAM, user database, working directory or processes.
final class TestContext: Sendable {
    let fixture: WorkflowFixture
    let invoker: Account
    /// How the context finds the invoker: `invoker`, known already, unless the test gave a lookup.
    let invokerLookup: PendingAccount
    private let lines = Mutex<[String]>([])

    init(_ fixture: WorkflowFixture, invoker: Account, lookup: PendingAccount? = nil) {
        self.fixture = fixture
        self.invoker = invoker
        self.invokerLookup = lookup ?? PendingAccount(invoker)
    }

    /// What the command printed: stdout lines, then stderr lines, in order each.
    var printed: [String] { lines.withLock { $0 } }

    /// The context, with `effects` (by default every effect fails the test).
    func context(_ effects: Effects = .failing) -> Context {
        let f = fixture
        return Context(
            program: "jitexec", paths: .builtIn, clock: { f.clock.now }, host: f.host, invoker: invokerLookup,
            system: AnySystemLookup(FakeAccounts()),
            output: Output(
                out: { [self] in record($0) },
                err: { [self] in record($0) }, errRaw: { _ in }),
            openStore: { _ in f.store },
            readPolicy: { _ throws(JitError) in
                Issue.record("the test context read the policy files")
                throw .storeUnavailable("no policy files in a test")
            },
            policyLoader: { _ in f.policy }, effects: effects)
    }

    private func record(_ line: String) { lines.withLock { $0.append(line) } }
}

extension Effects {
    /// Every effect records an issue (the test did not expect it) and fails.
    static let failing = Effects(
        workingDirectory: {
            Issue.record("unexpected: the working directory was read")
            return nil
        },
        controllingTerminal: {
            Issue.record("unexpected: the controlling terminal was opened")
            return ControllingTerminal(fd: nil, name: "")
        },
        isTerminal: { fd in
            Issue.record("unexpected: isatty(\(fd))")
            return false
        },
        monotonic: {
            Issue.record("unexpected: the monotonic clock was read")
            return .zero
        },
        accountNamed: { name throws(JitError) in
            Issue.record("unexpected: account \(name) was looked up")
            throw .userDatabase("no user database in a test")
        },
        accountWithUID: { uid throws(JitError) in
            Issue.record("unexpected: account \(uid) was looked up")
            throw .userDatabase("no user database in a test")
        },
        freshAccount: { uid throws(JitError) in
            Issue.record("unexpected: account \(uid) was looked up")
            throw .userDatabase("no user database in a test")
        },
        pause: { _, _ in
            Issue.record("unexpected: a pause")
            return true
        },
        authenticate: { _, _, _, _, _ throws(JitError) in
            Issue.record("unexpected: PAM authentication")
            throw .authentication("no PAM in a test")
        },
        supervise: { _, _, _ throws(ExecError) in
            Issue.record("unexpected: a command was run")
            throw .invalidSpec("no commands in a test")
        })

    /// Failing effects, except that the user database is the test's people (`FakeAccounts`).
    static var knowingThePeople: Effects {
        var effects = Effects.failing
        effects.accountNamed = { name in FakeAccounts.everyone.first { $0.name == name } }
        effects.accountWithUID = { uid in FakeAccounts.everyone.first { $0.uid == uid } }
        return effects
    }

    /// A caller at no terminal in /srv, authenticated by `pam`, whose command is `supervise`d.
    static func caller(
        pam: FakePAM,
        supervise: @escaping @Sendable (ExecSpec, SessionControl?, (() -> Bool)?) throws(ExecError) -> ExitOutcome
    ) -> Effects {
        var effects = Effects.knowingThePeople
        effects.workingDirectory = { "/srv" }
        effects.controllingTerminal = { ControllingTerminal(fd: nil, name: "") }
        effects.isTerminal = { _ in false }
        effects.authenticate = { _, _, _, _, _ throws(JitError) in pam }
        effects.supervise = supervise
        return effects
    }
}

/// PAM that accepts everyone and records the calls; `onOpenSession` runs when the session opens
/// (between the grant check and exec.start: where a racing run would take the grant).
final class FakePAM: PAMTransaction, @unchecked Sendable {
    private(set) var calls: [String] = []
    var onOpenSession: () -> Void = {}

    func checkAccount() throws(AuthError) { calls.append("account") }
    func switchUser(to name: String) throws(AuthError) { calls.append("user \(name)") }
    func establishCredentials() throws(AuthError) { calls.append("credentials") }
    func openSession() throws(AuthError) {
        calls.append("open")
        onOpenSession()
    }
    func closeSession() throws(AuthError) { calls.append("close") }
}

/// Runs `jitexec WORDS` over `ctx` (as its invoker, at a terminal of type xterm); the exit status
/// and the refusal line, if any.
func jitexec(_ ctx: Context, _ words: [String]) -> (status: Int32, refusal: String?) {
    do {
        let args = try JitexecArguments.parse(words.map { UserText($0) })
        return (try JitexecMain.run(ctx, Invocation(args: args, environment: ["TERM=xterm"], umask: 0o022)), nil)
    } catch {
        return (error.exitStatus, error.description)
    }
}
