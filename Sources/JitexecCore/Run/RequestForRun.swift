import Glibc
import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// Filing the request for a run that no grant covers (or reusing the caller's identical pending one),
/// with the reason asked for on the terminal when the rule requires one and `-r` did not give it.
enum RequestForRun {
    /// Files the request (or reuses the caller's identical pending one) and says so.
    static func file(
        _ ctx: Context, _ run: DecidedRun, _ invocation: Invocation, policy: Policy, terminal: ControllingTerminal
    ) throws(JitError) -> Request {
        let args = invocation.args
        let rule = run.rule
        var reason = args.reason
        if rule.reasonRequired && (reason?.isEmpty ?? true) && !args.nonInteractive, let fd = terminal.fd {
            reason = try askReason(fd, rule: rule)
        }
        try Workflow.checkReason(rule, reason: reason, ticket: args.ticket)
        let ask = Workflow.Ask(
            requester: ctx.invoker, runAs: run.runAs, host: ctx.host, command: run.command, rule: rule,
            reason: reason ?? UserText(""), ticket: args.ticket, cwd: run.cwd,
            tty: terminal.name.isEmpty ? nil : UserText(terminal.name), once: args.once,
            requestedSeconds: try requestedSeconds(args), scope: rule.scope)
        let store = try ctx.store()
        let now = ctx.clock()
        let filing = try ctx.storeWrite(store) { w in try Workflow.fileOrReuse(w, ask, policy: policy, now: now) }
        let request = filing.request
        let approvers =
            policy.possibleApprovers(rule, system: ctx.system).filter { $0 != ctx.invoker.name }
            + policy.automationApprovers(rule)
        let need =
            "\(rule.approvals) approval\(rule.approvals == 1 ? "" : "s") from \(rule.approvers.map(\.description).joined(separator: ", "))"
        ctx.complain(
            "\(filing.reused ? "your request #\(request.id) is still open" : "request #\(request.id) filed")"
                + (filing.beside.map { " " + Workflow.besideNotice($0) } ?? "") + ": it needs \(need)"
                + " (\(approvers.isEmpty ? "nobody can approve it yet" : approvers.joined(separator: ", "))); 'jitctl show \(request.id)' shows it"
        )
        return request
    }

    /// `-d`: the grant length asked for, in seconds; nil when not given.
    static func requestedSeconds(_ args: JitexecArguments) throws(JitError) -> Int64? {
        try grantLength(args.duration)
    }

    /// The longest reason typed at the prompt. A terminal in canonical mode hands over at most
    /// 4095 bytes of a line and silently drops the rest, so a larger limit could not tell a long
    /// reason from a cut one. Longer reasons go in `-r`.
    static let maxTypedReason = 4000

    /// Asks for a reason on the terminal (echo on). The whole line is always read, so nothing
    /// typed for the reason is left for the shell; a line over `maxTypedReason` is refused, never cut.
    static func askReason(_ fd: Int32, rule: Rule) throws(JitError) -> UserText {
        let prompt =
            "Reason for using rule '\(rule.name)'" + (rule.reasonPattern.map { " (must match \($0))" } ?? "") + ": "
        FileSystem.writeAll(fd, prompt.utf8)
        var bytes: [UInt8] = []
        var overlong = false
        var c: UInt8 = 0
        while read(fd, &c, 1) == 1 {
            if c == 0x0a {
                guard !overlong else {
                    throw .usage(
                        "the reason typed at the prompt is too long (at most \(maxTypedReason) bytes; give a longer one with -r)"
                    )
                }
                return UserText(bytes: bytes)
            }
            if bytes.count < maxTypedReason { bytes.append(c) } else { overlong = true }
        }
        throw .authentication("no reason given; nothing was run")
    }
}
