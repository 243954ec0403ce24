import Glibc
import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitexec --break-glass -r REASON COMMAND`: for a rule with `break_glass = true` and a caller on
/// call now, a grant of at most `break_glass_max` is created at once (no approver), announced on the
/// terminal, audited (`breakglass.used`, which fires the notifiers) and queued for `jitctl review`;
/// then the command runs under it like under any grant. Every refusal is audited
/// (`breakglass.refused`).
enum BreakGlassCommand {
    static func run(
        _ ctx: Context, _ args: JitexecArguments, policy: Policy, rule: Rule, target: Account, path: String,
        command: [UserText], inherited: RunCommand.Inherited
    ) throws(JitError) -> Int32 {
        guard let reason = args.reason, !reason.isEmpty else {
            throw .usage("--break-glass needs a reason: give -r REASON (the reviewers and approvers see it)")
        }
        var attempt = Workflow.boundedCommand(command).merging(Workflow.boundedReason(reason)) { a, _ in a }
        attempt["run_as"] = .string(target.name)
        attempt["rule"] = .string(rule.name)
        guard rule.breakGlass else {
            attempt["why"] = .string("rule '\(rule.name)' does not allow break-glass")
            try RunCommand.auditRefusal(ctx, "breakglass.refused", attempt)
            throw .notPermitted(
                "rule '\(rule.name)' does not allow break-glass; run the command without --break-glass to file a request for approval"
            )
        }
        var requested: Int64?
        if let d = args.duration {
            guard let span = TimeSpan.parse(d), span.seconds > 0 else {
                throw .usage("-d takes a duration like 15m or 1h30m")
            }
            requested = span.seconds
        }
        try Workflow.checkReason(rule, reason: reason, ticket: args.ticket)
        let terminal = ControllingTerminal.current()
        defer { if let fd = terminal.fd { close(fd) } }
        let pam = try Authentication.authenticate(
            ctx, policy: policy, mode: RunCommand.promptMode(args), terminal: terminal)

        let finding = OnCallCheck.check(policy.oncall, user: ctx.invoker, now: ctx.clock())
        guard let via = finding.via else {
            attempt["why"] = .string("not on call")
            if !finding.problems.isEmpty { attempt["oncall_problems"] = .array(finding.problems.map { .string($0) }) }
            try RunCommand.auditRefusal(ctx, "breakglass.refused", attempt)
            let detail = finding.problems.first.map { " (\($0))" } ?? ""
            throw .notPermitted(
                "\(ctx.invoker.name) is not on call now\(detail); run the command without --break-glass to file a request for approval"
            )
        }

        let store = try ctx.store()
        let now = ctx.clock()
        let ask = Workflow.BreakGlassAsk(
            user: ctx.invoker, runAs: target.name, host: ctx.host, rule: rule, command: command, reason: reason,
            ticket: args.ticket, cwd: RunCommand.currentDirectory(),
            tty: terminal.name.isEmpty ? nil : UserText(terminal.name), requestedSeconds: requested, via: via)
        let grant = try ctx.storeWrite(store) { w in try Workflow.breakGlass(w, ask, policy: policy, now: now) }
        let minutes = (grant.expiresAt - grant.notBefore) / 60_000_000
        let what = grant.command.map { Escape.argv($0) } ?? "any command of rule '\(rule.name)'"
        ctx.complain(
            "*** BREAK-GLASS *** grant #\(grant.id): \(ctx.invoker.name) may run \(what) as \(target.name) on \(Escape.text(ctx.host)) "
                + "until \(RFC3339.format(seconds: grant.expiresAt / 1_000_000)) (\(minutes)m)\(grant.usesLeft == 1 ? ", single use" : "")"
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
        let claim = Workflow.Claim(
            user: ctx.invoker.name, runAs: target.name, host: ctx.host, rule: rule, command: command,
            cwd: RunCommand.currentDirectory())
        return try Execution.run(
            ctx, pam: pam, path: path, argv: args.command, target: target, rule: rule, claim: claim, requestID: nil,
            policy: policy, inherited: inherited, terminal: terminal)
    }
}
