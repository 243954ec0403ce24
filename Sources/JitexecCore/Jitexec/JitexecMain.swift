import Glibc
import JitexecBase
import JitexecPolicy
import JitexecStore

/// The `jitexec` program: parse, check the setuid precondition and trusted files, load the policy,
/// then the mode: run a command (the request → approve → exec loop), -l, -v, -k.
public enum JitexecMain {
    /// Runs jitexec with the process's raw argv (without argv[0]), its raw environment and the
    /// umask it was started with, and returns the exit status.
    public static func main(arguments: [UserText], environment: [UserText], umask: UInt32) -> Int32 {
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
            output.out(JitexecArguments.help)
            return 0
        case .version:
            output.out("jitexec \(Paths.builtIn.version)")
            return 0
        default:
            break
        }
        do {
            let ctx: Context
            do {
                // The caller's groups are looked up beside the policy's read (settled in `run`).
                ctx = try Context.live(program: "jitexec", invokerGroupsBeside: args.mode != .loginGate)
            } catch  where args.mode == .loginGate {
                return LoginGate.startupFailed(error, environment: environment)
            }
            if args.mode == .loginGate { return LoginGate.run(ctx, environment: environment) }
            return try run(ctx, Invocation(args: args, environment: environment, umask: umask))
        } catch {
            output.err("jitexec: \(error.description)")
            return error.exitStatus
        }
    }

    static func run(_ ctx: Context, _ invocation: Invocation) throws(JitError) -> Int32 {
        let args = invocation.args
        let loaded = Result { () throws(JitError) in try ctx.loadPolicy() }
        // A run waits for the store's open (SQLite's schema and log, or libpq's load and a
        // connection): it starts now, beside the group lookup, so that it also fills the wait
        // for that lookup just below, and runs through RunPipeline's steps 1 to 3. It needs
        // nothing of the caller's account.
        if case .success = loaded, [.run, .shell, .edit].contains(args.mode) {
            ctx.openStoreInBackground()
        }
        defer { ctx.settleStore() }
        // The caller's groups were looked up meanwhile (`Context.live`). Settled here, before
        // anything reads the caller's account.
        try ctx.settleInvoker()
        let policy: Policy
        do {
            policy = try loaded.get()
        } catch {
            if case .policyInvalid(let first, _) = error { auditInvalidPolicy(ctx, first) }
            throw error
        }
        switch args.mode {
        case .run, .shell, .edit:
            return try RunPipeline.run(ctx, invocation, policy: policy)
        case .list:
            return try ListCommand.run(ctx, args, policy: policy)
        case .validate:
            let terminal = ctx.effects.controllingTerminal()
            defer { terminal.close() }
            _ = try RunPipeline.authenticate(ctx, invocation, policy: policy, terminal: terminal)
            return 0
        case .forget:
            try Authentication.forget(ctx, policy: policy, everywhere: invocation.args.forgetEverywhere)
            return 0
        case .help, .version, .loginGate:
            return 0
        }
    }

    /// Best effort: a broken policy is recorded in the audit chain as `policy.invalid`.
    private static func auditInvalidPolicy(_ ctx: Context, _ first: Diagnostic) {
        try? ctx.auditRefusal(
            "policy.invalid",
            [
                "file": .string(first.location.file), "line": .int(Int64(first.location.line)),
                "message": .string(first.message),
            ])
    }
}
