import Glibc
import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitctl request | approve | deny | cancel | revoke`: every one authenticates the actor through
/// PAM first (the credential cache applies), then decides in one store transaction.
public enum ActionCommands {
    /// Loads the policy, authenticates the invoking user, opens the store, and records what has
    /// expired in a transaction of its own: a decision refused because its request just expired
    /// rolls back, and the expiry it found must not go with it.
    static func prepare(_ ctx: Context, mode: PromptMode) throws(JitError) -> (Policy, any JitStore) {
        let policy = try ctx.loadPolicy()
        let terminal = ctx.effects.controllingTerminal()
        defer { terminal.close() }
        _ = try ctx.effects.authenticate(ctx, policy, mode, terminal, false)
        let store = try ctx.store()
        let now = ctx.clock()
        try ctx.storeWrite(store) { try Workflow.expireStale($0, now: now) }
        return (policy, store)
    }

    public static func approve(
        _ ctx: Context, id: Int64, duration: String?, comment: String?, mode: PromptMode
    ) -> Int32 {
        ctx.run { () throws -> Int32 in
            let maxSeconds = try grantLength(duration)
            // What is being approved, on the approver's terminal (where the password is asked),
            // before the password or a cached credential records it; never on stdout, which scripts read.
            let terminal = ctx.effects.controllingTerminal()
            if let fd = terminal.fd, let policy = try? ctx.loadPolicy(), let store = try? ctx.store(),
                let preview = try? approvalPreview(ctx, policy, store, id: id, maxSeconds: maxSeconds)
            {
                _ = FileSystem.writeAll(fd, Array((preview + "\n").utf8))
            }
            terminal.close()
            let (policy, store) = try prepare(ctx, mode: mode)
            let now = ctx.clock()
            let outcome = try ctx.storeWrite(store) { w in
                try Workflow.approve(
                    w, id: id, approver: ctx.invoker, policy: policy, system: ctx.system,
                    comment: comment.map { UserText($0) },
                    maxSeconds: maxSeconds, now: now)
            }
            let length = try ctx.storeRead(store) { r in
                try r.request(id: id).flatMap { request in
                    try policy.rule(named: request.rule).map { rule in
                        Workflow.grantLength(
                            request, rule: rule, policy: policy, approvals: try r.approvals(requestID: id))
                    }
                }
            }
            let note = length.map { lengthNote($0, given: maxSeconds) } ?? ""
            switch outcome {
            case .recorded(let count, let needed):
                var line =
                    "recorded your approval of request #\(id) (\(count)/\(needed)); it needs \(needed - count) more"
                if let length, !note.isEmpty {
                    line += "; the grant will last \(TimeSpan(seconds: length.seconds))\(note)"
                }
                ctx.say(line)
            case .granted(let grant):
                let lasts = TimeSpan(seconds: (grant.expiresAt - grant.notBefore).components.seconds)
                let until = LocalTime.format(grant.expiresAt, from: now)
                let uses = grant.usesLeft == 1 ? ", single use" : ""
                ctx.say(
                    "approved request #\(id): grant #\(grant.id) for \(grant.user) as \(grant.runAs) for \(lasts), "
                        + "until \(until)\(uses)\(note)")
            }
            return 0
        }
    }

    /// "approving request #42 of alice: /usr/bin/id as root on web1 (rule ids), reason: INC-7; the
    /// grant would last 15m", for a pending request the invoker may decide; nil otherwise (the
    /// approval then fails with its own one line).
    static func approvalPreview(_ ctx: Context, _ policy: Policy, _ store: any JitStore, id: Int64, maxSeconds: Int64?)
        throws -> String?
    {
        let (request, approvals) = try ctx.storeRead(store) { r in
            (try r.request(id: id), try r.approvals(requestID: id))
        }
        guard let request, let rule = policy.rule(named: request.rule),
            ViewCommands.mayDecide(request, approvals, ctx.invoker, policy)
        else { return nil }
        var given = approvals
        if let maxSeconds {
            given.append(Approval(requestID: id, by: ctx.invoker.name, at: ctx.clock(), maxSeconds: maxSeconds))
        }
        let length = Workflow.grantLength(request, rule: rule, policy: policy, approvals: given)
        let what =
            request.kind == .login
            ? "a login to \(Escape.text(request.host))"
            : "\(ViewCommands.commandText(request, policy)) as \(request.runAs) on \(Escape.text(request.host))"
        return "approving request #\(id) of \(request.requester): \(what) (rule \(request.rule)), reason: "
            + "\(request.reason.escaped)\(request.ticket.map { ", ticket: \($0.escaped)" } ?? ""); the grant would last "
            + "\(TimeSpan(seconds: length.seconds))\(request.once ? ", single use" : "")"
    }

    /// Why the grant is shorter than the approver's `-d` (`given`) or than what was asked, in
    /// words to append: " (shorter than the 2h you gave with -d: rule 'x' max_grant 30m)"; empty
    /// when it is what was asked or what the approver's own `-d` made it.
    static func lengthNote(_ length: Workflow.GrantLength, given: Int64?) -> String {
        if let given, given > length.seconds {
            return " (shorter than the \(TimeSpan(seconds: given)) you gave with -d: \(length.reason))"
        }
        guard let why = length.cappedBy, given != length.seconds else { return "" }
        return " (asked \(TimeSpan(seconds: length.asked)); shortened by \(why))"
    }

    public static func deny(_ ctx: Context, id: Int64, comment: String?, mode: PromptMode) -> Int32 {
        ctx.run { () throws -> Int32 in
            let (policy, store) = try prepare(ctx, mode: mode)
            let now = ctx.clock()
            try ctx.storeWrite(store) { w in
                try Workflow.deny(
                    w, id: id, actor: ctx.invoker, policy: policy, comment: comment.map { UserText($0) }, now: now)
            }
            ctx.say("denied request #\(id)")
            return 0
        }
    }

    public static func cancel(_ ctx: Context, id: Int64, mode: PromptMode) -> Int32 {
        ctx.run { () throws -> Int32 in
            let (policy, store) = try prepare(ctx, mode: mode)
            let now = ctx.clock()
            try ctx.storeWrite(store) { w in
                try Workflow.cancel(w, id: id, actor: ctx.invoker, policy: policy, now: now)
            }
            ctx.say("cancelled request #\(id)")
            return 0
        }
    }

    public static func revoke(_ ctx: Context, id: Int64, comment: String?, mode: PromptMode) -> Int32 {
        ctx.run { () throws -> Int32 in
            let (policy, store) = try prepare(ctx, mode: mode)
            let now = ctx.clock()
            let grant = try ctx.storeWrite(store) { w in
                try Workflow.revoke(
                    w, id: id, actor: ctx.invoker, policy: policy, comment: comment.map { UserText($0) }, now: now)
            }
            ctx.say("revoked grant #\(id) of \(grant.user)")
            let running = SessionCommands.running(ctx, grant: id)
            if !running.isEmpty {
                let list = running.map { "session #\($0.id) \(Escape.argv($0.command))" }.joined(separator: ", ")
                let count = "\(running.count) running command\(running.count == 1 ? "" : "s")"
                if running.contains(where: \.enforceExpiry) {
                    ctx.say("ended \(count) under grant #\(id): \(list)")
                } else {
                    ctx.say(
                        "\(count) started under grant #\(id) still run\(running.count == 1 ? "s" : "") "
                            + "(enforce_expiry is off for rule '\(grant.rule)'): \(list); 'jitctl stop ID' ends one")
                }
            }
            return 0
        }
    }

    /// `jitctl request --rule NAME`: a rule-scope request filed ahead of time (any command of the rule).
    public static func request(
        _ ctx: Context, rule name: String, target: String?, duration: String?, reason: String, ticket: String?,
        host: String?, mode: PromptMode
    ) -> Int32 {
        ctx.run { () throws -> Int32 in
            let policy = try ctx.loadPolicy()
            guard let rule = policy.rule(named: name) else {
                throw JitError.usage("there is no rule '\(name)'; 'jitexec -l' lists yours")
            }
            let runAs = try UserSpec.account(target ?? "root", ctx)
            let host = host ?? ctx.host
            guard rule.action == .approve, ctx.invoker.subject.isIn(rule.users), rule.appliesOnHost(host),
                rule.allowsTarget(runAs.subject)
            else {
                throw JitError.notPermitted(
                    "rule '\(name)' does not let \(ctx.invoker.name) ask to run as \(runAs.name) on \(Escape.text(host)); 'jitexec -l' lists yours"
                )
            }
            // A command-scope rule grants one approved argv at a time: a rule-wide request would let
            // one approval cover commands no approver saw.
            guard rule.scope == .rule else {
                throw JitError.notPermitted(
                    "rule '\(name)' has scope = \"command\": approvers approve one command at a time; run 'jitexec --no-wait -r REASON COMMAND...' to request that command"
                )
            }
            try Workflow.checkReason(rule, reason: UserText(reason), ticket: ticket.map { UserText($0) })
            let requested = try grantLength(duration)
            let (_, store) = try prepare(ctx, mode: mode)
            let ask = Workflow.Ask(
                requester: ctx.invoker, runAs: runAs.name, host: host, command: [], rule: rule,
                reason: UserText(reason),
                ticket: ticket.map { UserText($0) }, cwd: nil, tty: nil, once: false, requestedSeconds: requested,
                scope: .rule)
            let now = ctx.clock()
            let filing = try ctx.storeWrite(store) { w in try Workflow.fileOrReuse(w, ask, policy: policy, now: now) }
            let request = filing.request
            ctx.say(
                "\(filing.reused ? "your request is still open" : "filed request") #\(request.id) for rule '\(name)'"
                    + (filing.beside.map { " " + Workflow.besideNotice($0) } ?? "") + ": it needs "
                    + "\(rule.approvals) approval\(rule.approvals == 1 ? "" : "s") from \(rule.approvers.map(\.description).joined(separator: ", "))"
            )
            return 0
        }
    }

    /// `jitctl request --login [--service NAME]`: a login grant asked for ahead of time, for the
    /// caller's own logins on `host` under the first `[[login]]` that gates them (through `service`
    /// when given). The grant covers that table's logins only.
    public static func requestLogin(
        _ ctx: Context, service: String?, duration: String?, reason: String, ticket: String?, host: String?,
        mode: PromptMode
    ) -> Int32 {
        ctx.run { () throws -> Int32 in
            let policy = try ctx.loadPolicy()
            let host = host ?? ctx.host
            guard let index = policy.loginRuleIndex(for: ctx.invoker.subject, service: service, host: host) else {
                let through = service.map { " through \(Escape.text($0))" } ?? ""
                throw JitError.notPermitted(
                    "logins of \(ctx.invoker.name)\(through) on \(Escape.text(host)) are not gated by any [[login]]; no request is needed"
                )
            }
            guard !reason.allSatisfy({ $0 == " " }) else { throw JitError.usage("give a reason with -r REASON") }
            let requested = try grantLength(duration)
            let login = policy.logins[index]
            let (_, store) = try prepare(ctx, mode: mode)
            let now = ctx.clock()
            let (request, reused) = try ctx.storeWrite(store) { w in
                try Workflow.fileOrReuseLogin(
                    w, user: ctx.invoker, host: host, ruleName: Policy.loginRuleName(index), approvals: login.approvals,
                    reason: UserText(reason), ticket: ticket.map { UserText($0) }, tty: nil,
                    requestedSeconds: requested,
                    policy: policy, now: now)
            }
            ctx.say(
                "\(reused ? "your login request is still open" : "filed login request") #\(request.id) for \(Escape.text(host)) "
                    + "(\(Policy.loginRuleName(index)): \(login.services.map { Escape.text($0) }.joined(separator: ", "))): it needs "
                    + "\(login.approvals) approval\(login.approvals == 1 ? "" : "s") from \(login.approvers.map(\.description).joined(separator: ", "))"
            )
            return 0
        }
    }
}
