import Glibc
import JitexecAuth
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore

/// Running the command (SPEC.md, Execution): the PAM session around it, `exec.start` committed
/// durably before it starts, the supervised child, `exec.end` with status and duration.
enum Execution {
    static func run(
        _ ctx: Context, pam: PAMSession, path: String, argv: [UserText], target: Account, rule: Rule, grant: Grant?,
        requestID: Int64?, policy: Policy, inherited: RunCommand.Inherited, terminal: ControllingTerminal
    ) throws(JitError) -> Int32 {
        guard let identity = TargetIdentity.lookup(uid: target.uid) else { throw .unknownUser(target.name) }
        let shown = ([UserText(path)] + argv.dropFirst()).map(\.escaped).joined(separator: " ")
        var extra = [
            ("JITEXEC_USER", ctx.invoker.name), ("JITEXEC_UID", String(ctx.invoker.uid)), ("JITEXEC_COMMAND", shown),
        ]
        if let requestID { extra.append(("JITEXEC_REQUEST", String(requestID))) }
        if let grant { extra.append(("JITEXEC_GRANT", String(grant.id))) }
        let environment = Environment.sanitized(
            from: inherited.environment, keep: policy.settings.envKeep, target: identity,
            securePath: policy.settings.securePath.joined(separator: ":"), extra: extra)
        let cwd = RunCommand.currentDirectory()
        let spec = ExecSpec(
            path: path, argv: argv, environment: environment, identity: identity, umask: inherited.umask | 0o022,
            cwd: cwd?.string, usePTY: isTerminal(0) || isTerminal(1))

        do {
            try pam.establishCredentials()
            try pam.openSession()
        } catch {
            throw .authentication("cannot open the PAM session: \(error.description); nothing was run")
        }
        var fields: [String: JSONValue] = [
            "command": .array(([UserText(path)] + argv.dropFirst()).map(\.jsonValue)), "run_as": .string(target.name),
            "rule": .string(rule.name),
        ]
        if let grant { fields["grant"] = .int(grant.id) }
        if let requestID { fields["request"] = .int(requestID) }
        if let cwd { fields["cwd"] = cwd.jsonValue }
        if !terminal.name.isEmpty { fields["tty"] = .string(terminal.name) }
        // Durable before the command starts: if this cannot be committed, nothing runs.
        do {
            try RunCommand.audit(ctx, "exec.start", fields)
        } catch {
            try? pam.closeSession()
            throw error
        }
        let outcome: ExitOutcome
        do {
            outcome = try Supervisor.run(spec)
        } catch {
            try? pam.closeSession()
            fields["error"] = .string(error.description)
            try? RunCommand.audit(ctx, "exec.end", fields)
            throw .execFailed(error.description, status: error.exitStatus)
        }
        try? pam.closeSession()
        var end: [String: JSONValue] = [
            "command": fields["command"]!, "run_as": .string(target.name), "status": .int(Int64(outcome.shellStatus)),
            "duration_ms": .int(Int64(outcome.duration.components.seconds) * 1000
                + Int64(outcome.duration.components.attoseconds / 1_000_000_000_000_000)),
        ]
        if case .signaled(let n) = outcome.termination { end["signal"] = .int(Int64(n)) }
        if let grant { end["grant"] = .int(grant.id) }
        do {
            try RunCommand.audit(ctx, "exec.end", end)
        } catch {
            ctx.complain("the command ran, but its exec.end record could not be written: \(error.description)")
        }
        return outcome.shellStatus
    }
}
