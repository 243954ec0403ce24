import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitexec --break-glass -r REASON COMMAND`: for a rule with `break_glass = true` and a caller on
/// call now, a grant of at most `break_glass_max` is created at once (no approver), announced on the
/// terminal, audited (`breakglass.used`, which fires the notifiers) and queued for `jitctl review`;
/// then the command runs under it like under any grant (`ExecuteCommand`). Every refusal is audited
/// (`breakglass.refused`).
enum BreakGlassRun {
    static func run(_ ctx: Context, _ run: DecidedRun, _ invocation: Invocation, policy: Policy) throws(JitError)
        -> Int32
    {
        let args = invocation.args
        let rule = run.rule
        guard let reason = args.reason, !reason.isEmpty else {
            throw .usage("--break-glass needs a reason: give -r REASON (the reviewers and approvers see it)")
        }
        var attempt = Workflow.boundedCommand(run.command).merging(Workflow.boundedReason(reason)) { a, _ in a }
        attempt["run_as"] = .string(run.runAs)
        attempt["rule"] = .string(rule.name)
        guard rule.breakGlass else {
            attempt["why"] = .string("rule '\(rule.name)' does not allow break-glass")
            try ctx.auditRefusal("breakglass.refused", attempt)
            throw .notPermitted(
                "rule '\(rule.name)' does not allow break-glass; run the command without --break-glass to file a request for approval"
            )
        }
        let requested = try RequestForRun.requestedSeconds(args)
        try Workflow.checkReason(rule, reason: reason, ticket: args.ticket)
        let terminal = ctx.effects.controllingTerminal()
        defer { terminal.close() }
        let pam = try RunPipeline.authenticate(ctx, invocation, policy: policy, terminal: terminal)

        let finding = OnCallCheck.check(policy.oncall, user: ctx.invoker, now: ctx.clock())
        guard let via = finding.via else {
            attempt["why"] = .string("not on call")
            if !finding.problems.isEmpty { attempt["oncall_problems"] = .array(finding.problems.map { .string($0) }) }
            try ctx.auditRefusal("breakglass.refused", attempt)
            let detail = finding.problems.first.map { " (\($0))" } ?? ""
            throw .notPermitted(
                "\(ctx.invoker.name) is not on call now\(detail); run the command without --break-glass to file a request for approval"
            )
        }

        let store = try ctx.store()
        let now = ctx.clock()
        let ask = Workflow.BreakGlassAsk(
            user: ctx.invoker, runAs: run.runAs, host: ctx.host, rule: rule, command: run.command, reason: reason,
            ticket: args.ticket, cwd: run.cwd, tty: terminal.name.isEmpty ? nil : UserText(terminal.name),
            requestedSeconds: requested, via: via)
        let grant = try ctx.storeWrite(store) { w in try Workflow.breakGlass(w, ask, policy: policy, now: now) }
        announce(ctx, grant, run: run, via: via, policy: policy)
        return try ExecuteCommand.run(
            ctx, run, invocation, pam: pam, authority: .grant(request: nil), policy: policy, terminal: terminal
        ).status()
    }

    /// The banner: the grant, its end, and who is told.
    static func announce(_ ctx: Context, _ grant: Grant, run: DecidedRun, via: String, policy: Policy) {
        let rule = run.rule
        let minutes = (grant.expiresAt - grant.notBefore).components.seconds / 60
        let what = grant.command.map { Escape.argv($0) } ?? "any command of rule '\(rule.name)'"
        ctx.complain(
            "*** BREAK-GLASS *** grant #\(grant.id): \(ctx.invoker.name) may run \(what) as \(run.runAs) on \(Escape.text(ctx.host)) "
                + "until \(LocalTime.format(grant.expiresAt)) (\(minutes)m)\(grant.usesLeft == 1 ? ", single use" : "")"
        )
        let approvers = policy.possibleApprovers(rule, system: ctx.system).filter { $0 != ctx.invoker.name }
        let told =
            (approvers.isEmpty
                ? "rule '\(rule.name)' has no approver to tell"
                : "the approvers of rule '\(rule.name)' (\(approvers.joined(separator: ", "))) are told on their terminals where logged in")
            + (policy.notify?.events.contains(Notifications.breakGlassEvent) == true
                ? ", the [notify] command runs" : "")
        ctx.complain(
            "you are on call (\(Escape.text(via))); this use is audited, \(told), and an admin will review it ('jitctl review')"
        )
    }
}
