import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitexec -l [-U USER] [-u USER] [COMMAND [ARG...]]`: what the caller (or with `-U`, as root or
/// an admin, another user) may run (the rules that name them on this host), their live grants and
/// open requests; with a command, what would happen to it.
enum ListCommand {
    static func run(_ ctx: Context, _ args: JitexecArguments, policy: Policy) throws(JitError) -> Int32 {
        var me = ctx.invoker
        if let other = args.otherUser {
            // Like sudo -l -U: what another person may run is for root and admins to ask.
            guard Workflow.isAdmin(ctx.invoker, policy) else {
                throw .notPermitted(
                    "only root and the policy's admins may list another user's rules (-U); run 'jitexec -l' for your own"
                )
            }
            me = try UserSpec.account(other, ctx)
        }
        let store = try ctx.store()
        let now = ctx.clock()
        let grants = try ctx.storeRead(store) { try $0.grants(user: me.name, liveAt: now) }
        if !args.command.isEmpty {
            let resolved = try RunPipeline.resolveCommand(
                ctx, Invocation(args: args, environment: [], umask: 0), policy: policy)
            let (path, argv, command) = (resolved.path, resolved.arguments, resolved.command)
            let (decision, _) = policy.decide(
                subject: me.subject, target: resolved.policyTarget, host: ctx.host, path: path, args: argv,
                group: resolved.group)
            switch decision {
            case .deny(let rule):
                ctx.say(
                    "deny: \(Escape.argv(command)) as \(resolved.runAs)"
                        + (rule.map { " (rule '\($0.name)')" } ?? " (no rule allows it)"))
                return 1
            case .allow(let rule):
                ctx.say("allow: \(Escape.text(path)) as \(resolved.runAs) after you authenticate (rule '\(rule.name)')")
                return 0
            case .approve(let rule):
                // The grant a run would take (a command-scope grant covers its argv in its request's directory only).
                let claim = Workflow.Claim(
                    user: me.name, runAs: resolved.runAs, host: ctx.host, rule: rule, command: command,
                    cwd: ctx.effects.workingDirectory())
                let covering = try ctx.storeRead(store) { r in try Workflow.coveringGrants(r, claim, now: now) }.first
                if let g = covering {
                    ctx.say(
                        "approve: covered by \(args.otherUser == nil ? "your" : me.name + "'s") live grant #\(g.id) until \(LocalTime.format(g.expiresAt, from: now))"
                            + (g.usesLeft.map { ", \($0) use\($0 == 1 ? "" : "s") left" } ?? ""))
                } else {
                    ctx.say(
                        "approve: needs \(rule.approvals) approval\(rule.approvals == 1 ? "" : "s") from "
                            + rule.approvers.map(\.description).joined(separator: ", ")
                            + " (rule '\(rule.name)'); running it files a request")
                }
                return 0
            }
        }
        ctx.say("\(me.name) on \(Escape.text(ctx.host)):")
        let mine = policy.rules.filter { me.subject.isIn($0.users) && $0.appliesOnHost(ctx.host) }
        if mine.isEmpty { ctx.say("  no rule names you: every command is denied") }
        for rule in mine {
            // As sudo -l shows them: `(root : adm)` when the rule lets -g take a group.
            let groups = (rule.runAsGroups ?? []).joined(separator: ",")
            let targets = rule.runAs.map(\.description).joined(separator: ",") + (groups.isEmpty ? "" : " : \(groups)")
            let how: String
            switch rule.action {
            case .allow: how = "allow  "
            case .deny: how = "deny   "
            case .approve: how = "approve"
            }
            for pattern in rule.commands {
                ctx.say("  \(how) (\(targets)) \(Escape.text(pattern.source))   [rule \(rule.name)]")
            }
        }
        ctx.say("live grants:")
        if grants.isEmpty { ctx.say("  none") }
        for g in grants {
            let what = g.command.map { Escape.argv($0) } ?? ViewCommands.ruleScopeText(g.rule, policy)
            ctx.say(
                "  #\(g.id) \(what) as \(g.runAs), until \(LocalTime.format(g.expiresAt, from: now))"
                    + (g.usesLeft.map { ", \($0) use\($0 == 1 ? "" : "s") left" } ?? ""))
        }
        let open = try ctx.storeRead(store) { try $0.requests(status: .pending, requester: me.name) }
        ctx.say("open requests:")
        if open.isEmpty { ctx.say("  none") }
        for r in open {
            ctx.say("  #\(r.id) \(ViewCommands.commandText(r, policy)) as \(r.runAs) (rule \(r.rule))")
        }
        // As sudo -l shows its secure_path: where a bare command name is looked up (shell
        // completion reads this line to offer commands).
        ctx.say("secure_path: \(Escape.text(policy.settings.securePath.joined(separator: ":")))")
        return 0
    }
}
