import JitexecBase
import JitexecPolicy
import JitexecSystem

/// `jitctl explain [-U USER] [-u TARGET] [--host H] -- COMMAND [ARG...]`: the resolved path, the
/// rule that matches and the decision, running nothing. Exit 0 when the command could run (allow,
/// or approve once approved), 1 when it is denied or cannot be resolved.
public enum ExplainCommand {
    public static func run(
        _ ctx: Context, user: String?, target: String?, group: String? = nil, host: String?, argv: [UserText]
    ) -> Int32 {
        do {
            guard let name = argv.first, let nameText = name.string, !name.isEmpty else {
                throw JitError.usage("explain needs a command after '--'")
            }
            let policy = try ctx.loadPolicy()
            let admin = ctx.invoker.uid == 0 || policy.isAdmin(ctx.invoker.subject)
            let subject = try user.map { u throws(JitError) in try UserSpec.account(u, ctx) } ?? ctx.invoker
            // Like sudo's -l -U: what another person may run is for admins to ask.
            guard subject.uid == ctx.invoker.uid || admin else {
                throw JitError.notPermitted(
                    "only admins may explain for another user (-U); run it without -U for yourself")
            }
            // A non-admin sees paths as they themselves can (no probing of root-only directories).
            let view = CallerView.forInvoker(ctx, policy: policy)
            let runAs = try UserSpec.account(target ?? "root", ctx)
            let host = host ?? ctx.host
            var args = Array(argv.dropFirst())
            ctx.say("user:     \(subject.name) (groups: \(subject.groups.joined(separator: ", ")))")
            // -g: the group must exist; the policy's run_as sees the user as the user database has it.
            let groupName = try group.map { g throws(JitError) in try GroupSpec.apply(g, to: runAs).groups[0] }
            ctx.say("run as:   \(RunAsLabel.text(runAs.name, groupName))")
            ctx.say("host:     \(Escape.text(host))")
            ctx.say("command:  \(Escape.argv(argv))")
            let path: String
            if nameText == EditSession.command {
                // `jitexec -e FILE...` as the policy sees it: the files' canonical paths.
                let cwd = ctx.effects.workingDirectory()?.string
                var files: [UserText] = []
                for word in args { files.append(UserText(try EditSession.canonicalPath(word, cwd: cwd))) }
                args = files
                path = EditSession.command
            } else {
                switch CommandResolver.resolve(nameText, securePath: policy.settings.securePath, system: view) {
                case .found(let p):
                    path = p
                case .notFound:
                    ctx.say("resolved: not found in secure_path")
                    ctx.say("decision: deny (the command does not exist on this host)")
                    return 1
                case .notExecutable(let p):
                    ctx.say("resolved: \(Escape.text(p)) (not an executable regular file)")
                    ctx.say("decision: deny (the command is not executable)")
                    return 1
                }
            }
            ctx.say("resolved: \(Escape.argv([UserText(path)] + (path == EditSession.command ? args : [])))")
            let (decision, pattern) = policy.decide(
                subject: Subject(user: subject.name, groups: subject.groups), target: runAs.subject, host: host,
                path: path, args: args, group: groupName)
            switch decision {
            case .deny(nil):
                ctx.say("rule:     none matches")
                ctx.say("decision: deny (no rule allows this; the first matching rule decides, none did)")
                return 1
            case .deny(let rule?):
                ctx.say(ruleLine(rule, pattern))
                ctx.say("decision: deny (rule '\(rule.name)')")
                return 1
            case .allow(let rule):
                ctx.say(ruleLine(rule, pattern))
                ctx.say("decision: allow (after \(subject.name) authenticates)")
                return 0
            case .approve(let rule):
                ctx.say(ruleLine(rule, pattern))
                let approvers =
                    policy.possibleApprovers(rule, system: ctx.system).filter { $0 != subject.name }
                    + policy.automationApprovers(rule)
                let maxGrant = min(rule.maxGrant ?? policy.settings.maxGrant, policy.settings.maxGrant)
                var details = [
                    "\(rule.approvals) approval\(rule.approvals == 1 ? "" : "s") from \(rule.approvers.map(\.description).joined(separator: ", "))"
                        + " (who may approve: \(approvers.isEmpty ? "nobody" : approvers.joined(separator: ", ")))",
                    "grant up to \(maxGrant)", "scope \(rule.scope.rawValue)",
                ]
                if rule.once { details.append("single use") }
                if rule.reasonRequired {
                    details.append("reason required" + (rule.reasonPattern.map { " matching \($0)" } ?? ""))
                }
                ctx.say("decision: approve: " + details.joined(separator: "; "))
                for automation in policy.automations(of: rule) {
                    ctx.say("automation: " + automationLine(automation))
                }
                return 0
            }
        } catch {
            let failure = JitError(error)
            ctx.complain(failure.description)
            return failure.exitStatus
        }
    }

    /// `@ticket-check: /usr/libexec/jitexec/ticket-check --api URL as jitexec-auto, timeout 10s,
    /// when the request is filed and every 1m until it is decided`.
    static func automationLine(_ automation: Automation) -> String {
        let when =
            automation.every.map { "when the request is filed and every \($0) until it is decided" }
            ?? "when the request is filed"
        return
            "\(automation.principalName) runs \(Escape.argv(automation.command)) as \(Escape.text(automation.runAs)), "
            + "timeout \(automation.timeout), \(when) (\(automation.location))"
    }

    private static func ruleLine(_ rule: Rule, _ pattern: CommandPattern?) -> String {
        let at = "\(rule.location.file):\(rule.location.line)"
        let via = pattern.map { ", pattern \"\(Escape.text($0.source))\"" } ?? ""
        return "rule:     \(rule.name) (\(at))\(via)"
    }
}
