import Glibc
import JitexecBase
import JitexecPolicy
import JitexecStore

/// The `jitexec` program: parse, check the setuid precondition and trusted files, load the policy,
/// decide. (The request → approve → exec loop builds on this.)
public enum JitexecMain {
    /// Runs jitexec with the process's raw argv (without argv[0]) and returns the exit status.
    public static func main(arguments: [UserText]) -> Int32 {
        let output = Output.live
        let args: JitexecArguments
        do {
            args = try JitexecArguments.parse(arguments)
        } catch {
            output.err("jitexec: \(error.description)")
            return error.exitStatus
        }
        switch args.mode {
        case .help:
            output.out(JitexecArguments.usage)
            return 0
        case .version:
            output.out("jitexec \(Paths.builtIn.version)")
            return 0
        default:
            break
        }
        do {
            let ctx = try Context.live(program: "jitexec")
            return try run(ctx, args)
        } catch {
            output.err("jitexec: \(error.description)")
            return error.exitStatus
        }
    }

    static func run(_ ctx: Context, _ args: JitexecArguments) throws(JitError) -> Int32 {
        let policy: Policy
        do {
            policy = try ctx.loadPolicy()
        } catch {
            if case .policyInvalid(let first, _) = error { auditInvalidPolicy(ctx, first) }
            throw error
        }
        guard args.mode == .run else {
            throw .unavailable("this mode is not available in this build yet; run 'jitctl explain -- COMMAND' to see what the policy decides")
        }
        let target = try Accounts.parseUserSpec(args.user ?? "root")
        guard let name = args.command[0].string else { throw .commandNotFound(args.command[0].escaped) }
        let path: String
        switch CommandResolver.resolve(name, securePath: policy.settings.securePath, system: ctx.system) {
        case .found(let p): path = p
        case .notFound: throw .commandNotFound(Escape.text(name))
        case .notExecutable(let p): throw .commandNotExecutable(Escape.text(p))
        }
        let argv = Array(args.command.dropFirst())
        let (decision, _) = policy.decide(
            subject: Subject(user: ctx.invoker.name, groups: ctx.invoker.groups), target: target.name, host: ctx.host,
            path: path, args: argv, system: ctx.system)
        switch decision {
        case .deny(let rule):
            let store = try ctx.openStore(ctx)
            do {
                _ = try store.write { w in
                    try w.appendAudit(AuditEvent(event: "policy.denied", actor: ctx.invoker.name, fields: [
                        "command": .array(([UserText(path)] + argv).map(\.jsonValue)),
                        "run_as": .string(target.name),
                        "rule": rule.map { .string($0.name) } ?? .null,
                    ]))
                }
            } catch {
                throw .storeUnavailable("\(error)")
            }
            let why = rule.map { "rule '\($0.name)' denies it" } ?? "no rule allows it"
            throw .denied("\(ctx.invoker.name) may not run \(Escape.text(path)) as \(target.name): \(why); run 'jitctl explain -- \(Escape.text(name))' for details")
        case .allow, .approve:
            throw .unavailable("running commands is not available in this build yet; 'jitctl explain' shows the decision")
        }
    }

    /// Best effort: a broken policy is recorded in the audit chain as `policy.invalid`.
    private static func auditInvalidPolicy(_ ctx: Context, _ first: Diagnostic) {
        guard let store = try? ctx.openStore(ctx) else { return }
        _ = try? store.write { w in
            try w.appendAudit(AuditEvent(event: "policy.invalid", actor: ctx.invoker.name, fields: [
                "file": .string(first.location.file), "line": .int(Int64(first.location.line)),
                "message": .string(first.message),
            ]))
        }
    }
}
