import JitexecAuth
import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitexec COMMAND`, top to bottom (SPEC.md, Lifecycle and Execution). Each step is a function
/// named after what it establishes; the rest of this folder holds them, in this order:
///
/// 0. the binary is the installed setuid one, the caller's process state is reset, the caller is
///    known (`Context.live`), and the compiled policy is loaded (`JitexecMain`);
/// 1. `resolveCommand`: the command's canonical path through `secure_path`;
/// 2. `decide`: the policy's verdict; a denial is audited and refused;
/// 3. `authenticate`: PAM authentication and account check (`Authentication`);
/// 4. `hasCoveringGrant` / `awaitApproval`: a live grant covers the run, or a request is filed (or
///    reused) and approved while the caller waits (`RequestForRun`, `ApprovalWait`);
/// 5. `execute` (`ExecuteCommand`): PAM session opened, `exec.start` committed with the grant's
///    use, environment built, the command released only while its grant is in force and
///    supervised, `exec.end` committed.
///
/// Steps 1 to 3 need no store: it opens on a thread of its own meanwhile, started by `JitexecMain`
/// once the policy is read and joined by the first step that uses it or by `JitexecMain` at the end
/// (`Context.openStoreInBackground`, `settleStore`). During step 0's policy read, the caller's
/// groups are looked up beside it the same way (`Context.settleInvoker`).
///
/// Break-glass (`BreakGlassRun`) takes the same steps with a grant it creates in place of step 4.
enum RunPipeline {
    static func run(_ ctx: Context, _ invocation: Invocation, policy: Policy) throws(JitError) -> Int32 {
        let resolved = try resolveCommand(ctx, invocation, policy: policy)
        let run = try decide(ctx, resolved, invocation, policy: policy)
        if invocation.args.breakGlass && run.needsGrant {
            // An `allow` rule needs no glass broken: the command runs as usual.
            return try BreakGlassRun.run(ctx, run, invocation, policy: policy)
        }
        let terminal = ctx.effects.controllingTerminal()
        defer { terminal.close() }
        let pam = try authenticate(ctx, invocation, policy: policy, terminal: terminal)
        guard run.needsGrant else {
            return try ExecuteCommand.run(
                ctx, run, invocation, pam: pam, authority: .rule, policy: policy, terminal: terminal
            ).status()
        }
        // A read first: the use itself is taken atomically together with exec.start.
        if try hasCoveringGrant(ctx, run) {
            let first = try ExecuteCommand.run(
                ctx, run, invocation, pam: pam, authority: .grant(request: nil), policy: policy, terminal: terminal)
            // Another run took the grant's last use (or it ended) between the check and the use: this
            // run goes on as one that found no grant, so a race never changes the outcome.
            guard case .grantTaken = first else { return try first.status() }
        }
        let request = try awaitApproval(ctx, run, invocation, pam: pam, policy: policy, terminal: terminal)
        return try ExecuteCommand.run(
            ctx, run, invocation, pam: pam, authority: .grant(request: request.id), policy: policy, terminal: terminal
        ).status()
    }

    /// Step 3: the caller authenticated and their account usable now (PAM).
    static func authenticate(
        _ ctx: Context, _ invocation: Invocation, policy: Policy, terminal: ControllingTerminal
    ) throws(JitError) -> any PAMTransaction {
        try ctx.effects.authenticate(ctx, policy, invocation.promptMode, terminal, false)
    }

    /// Step 4, when it holds: a live grant covers this run now (a read; the use is taken with exec.start).
    static func hasCoveringGrant(_ ctx: Context, _ run: DecidedRun) throws(JitError) -> Bool {
        let store = try ctx.store()
        let now = ctx.clock()
        let claim = run.claim(ctx)
        return try ctx.storeRead(store) { r in try !Workflow.coveringGrants(r, claim, now: now).isEmpty }
    }

    /// Step 4, otherwise: the request filed (or the caller's identical one reused), approved while
    /// the caller waits, and the caller still allowed it once the wait is over.
    static func awaitApproval(
        _ ctx: Context, _ run: DecidedRun, _ invocation: Invocation, pam: any PAMTransaction, policy: Policy,
        terminal: ControllingTerminal
    ) throws(JitError) -> Request {
        let request = try RequestForRun.file(ctx, run, invocation, policy: policy, terminal: terminal)
        try ApprovalWait.wait(ctx, request: request, run: run, invocation: invocation, policy: policy)
        try recheckAfterWaiting(ctx, run, pam: pam, policy: policy)
        return request
    }

    /// A wait can last hours: the account may have been locked or expired, or the caller removed
    /// from the rule's groups, meanwhile. The account check (PAM account phase) and the rule match
    /// are done again with the accounts and groups of now; either failing means nothing runs.
    static func recheckAfterWaiting(
        _ ctx: Context, _ run: DecidedRun, pam: any PAMTransaction, policy: Policy
    ) throws(JitError) {
        do {
            try pam.checkAccount()
        } catch {
            throw .notPermitted("your account can no longer be used (\(error.description)); nothing was run")
        }
        guard let now = try ctx.effects.freshAccount(ctx.invoker.uid), now.name == ctx.invoker.name else {
            throw .notPermitted("your account no longer exists; nothing was run")
        }
        let (decision, _) = policy.decide(
            subject: now.subject, target: run.policyTarget ?? run.target.subject, host: ctx.host, path: run.path,
            args: run.arguments, group: run.group)
        guard case .approve(let still) = decision, still.name == run.rule.name else {
            throw .notPermitted(
                "the policy no longer lets \(now.name) use rule '\(run.rule.name)' for this command (groups changed while waiting); nothing was run"
            )
        }
    }
}
