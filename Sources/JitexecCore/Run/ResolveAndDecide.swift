import Glibc
import JitexecBase
import JitexecPolicy
import JitexecSystem

/// Steps 1 and 2 of a run, also used by `jitexec -l COMMAND`.
extension RunPipeline {
    /// The command found and canonical, with the account it runs as.
    struct ResolvedCommand: Sendable {
        var path: String
        var arguments: [UserText]
        var target: Account
        /// `-i` / `-s`: the target's shell, matched as its canonical path with no arguments.
        var shell: ShellStart? = nil
        /// `-g GROUP`: the group name the command runs with as its primary group.
        var group: String? = nil
        var command: [UserText] { [UserText(path)] + arguments }
        /// Who it runs as, as requests, grants and records name it: `root`, or `root:adm` with -g.
        var runAs: String { RunAsLabel.text(target.name, group) }
        /// The target as the policy's `run_as` sees it: the user with the groups the user database
        /// gives it (-g adds no group to match `run_as = ["%adm"]` with).
        var policyTarget: Subject
    }

    /// Step 1: the target account (`-u`, root by default) and the command's canonical path through
    /// `secure_path` (126/127 when there is none).
    static func resolveCommand(
        _ ctx: Context, _ invocation: Invocation, policy: Policy
    ) throws(JitError) -> ResolvedCommand {
        let user = try UserSpec.account(invocation.args.user ?? "root", ctx)
        // -g: the target with that primary group; the policy sees the user and its groups as they are.
        let target = try invocation.args.group.map { g throws(JitError) in try GroupSpec.apply(g, to: user) } ?? user
        let group = invocation.args.group.map { _ in target.groups[0] }
        if invocation.args.mode == .shell {
            // The shell of the target's passwd entry, by its canonical path (what the policy names).
            guard let path = FileSystem.canonicalPath(target.shell) else {
                throw .commandNotFound(Escape.text(target.shell))
            }
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_mode & 0o111 != 0 else {
                throw .commandNotExecutable(Escape.text(path))
            }
            return ResolvedCommand(
                path: path, arguments: [], target: target, shell: invocation.args.loginShell ? .login : .plain,
                group: group, policyTarget: user.subject)
        }
        if invocation.args.mode == .edit {
            // sudoedit: the policy sees `sudoedit` and the files' canonical paths.
            // The editor is checked before anything else (CVE-2023-22809's `--` is refused here).
            _ = try EditSession.editor(environment: invocation.environment)
            let cwd = ctx.effects.workingDirectory()?.string
            var files: [UserText] = []
            for word in invocation.args.command {
                let file = UserText(try EditSession.canonicalPath(word, cwd: cwd))
                // Before any request is filed: a request for the same file twice could never run.
                guard !files.contains(file) else { throw .usage("\(file.escaped) is named twice; name each file once") }
                files.append(file)
            }
            return ResolvedCommand(
                path: EditSession.command, arguments: files, target: target, group: group, policyTarget: user.subject)
        }
        let (path, arguments) = try resolvePath(invocation.args.command, policy: policy, ctx: ctx)
        return ResolvedCommand(
            path: path, arguments: arguments, target: target, group: group, policyTarget: user.subject)
    }

    /// The canonical path and the arguments (argv[0] excluded), or 126/127.
    static func resolvePath(_ words: [UserText], policy: Policy, ctx: Context) throws(JitError) -> (String, [UserText])
    {
        guard let name = words[0].string, !name.isEmpty, !words[0].containsNUL else {
            throw .commandNotFound(words[0].escaped)
        }
        switch CommandResolver.resolve(name, securePath: policy.settings.securePath, system: ctx.system) {
        case .found(let p): return (p, Array(words.dropFirst()))
        case .notFound: throw .commandNotFound(Escape.text(name))
        case .notExecutable(let p): throw .commandNotExecutable(Escape.text(p))
        }
    }

    /// Step 2: the rule that allows the command (or lets it be approved). A denial is audited
    /// (`policy.denied`, within the per-person bound) and refused with the next step.
    static func decide(
        _ ctx: Context, _ resolved: ResolvedCommand, _ invocation: Invocation, policy: Policy
    ) throws(JitError) -> DecidedRun {
        let target = resolved.target
        let (decision, _) = policy.decide(
            subject: ctx.invoker.subject, target: resolved.policyTarget, host: ctx.host, path: resolved.path,
            args: resolved.arguments, group: resolved.group)
        switch decision {
        case .deny(let denying):
            var fields = Workflow.boundedCommand(resolved.command)
            fields["run_as"] = .string(resolved.runAs)
            fields["rule"] = denying.map { .string($0.name) } ?? .null
            try ctx.auditRefusal("policy.denied", fields)
            let why = denying.map { "rule '\($0.name)' denies it" } ?? "no rule allows it"
            // The hint repeats the whole command and the target, so explain answers the same question.
            let runAs =
                (invocation.args.user.map { " -u \(Escape.argv([UserText($0)]))" } ?? "")
                + (invocation.args.group.map { " -g \(Escape.argv([UserText($0)]))" } ?? "")
            let command = Escape.argv(
                invocation.args.command.isEmpty || invocation.args.mode == .edit
                    ? resolved.command : invocation.args.command)
            throw .denied(
                "\(ctx.invoker.name) may not run \(Escape.text(resolved.path)) as \(resolved.runAs): \(why); "
                    + "run 'jitctl explain\(runAs) -- \(command)' for details")
        case .allow(let rule), .approve(let rule):
            var needsGrant = false
            if case .approve = decision { needsGrant = true }
            return DecidedRun(
                path: resolved.path, arguments: resolved.arguments, target: target, rule: rule, needsGrant: needsGrant,
                cwd: ctx.effects.workingDirectory(), shell: resolved.shell, group: resolved.group,
                policyTarget: resolved.policyTarget)
        }
    }
}
