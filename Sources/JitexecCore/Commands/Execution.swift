import Glibc
import JitexecAuth
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// Running the command (SPEC.md, Execution): the PAM session around it, `exec.start` committed
/// durably before it starts, the supervised child, `exec.end` with status and duration.
enum Execution {
    static func run(
        _ ctx: Context, pam: PAMSession, path: String, argv: [UserText], target: Account, rule: Rule,
        claim: Workflow.Claim?, requestID: Int64?, policy: Policy, inherited: RunCommand.Inherited,
        terminal: ControllingTerminal
    ) throws(JitError) -> Int32 {
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
        if let requestID { fields["request"] = .int(requestID) }
        let cwd = RunCommand.currentDirectory()
        if let cwd { fields["cwd"] = cwd.jsonValue }
        if !terminal.name.isEmpty { fields["tty"] = .string(terminal.name) }
        // Terminal signals are held from before exec.start until the supervisor catches them (it
        // forwards them to the command): a Ctrl-C or Ctrl-Z in between would otherwise end or stop
        // this process with exec.start recorded and nothing run, and no exec.end.
        let hold = TerminalSignals.Hold()
        defer { hold.end() }
        // One durable transaction takes the grant's use and records exec.start; if it cannot be
        // committed, or the grant was used up or revoked a moment ago, nothing runs.
        let grant: Grant?
        do {
            let store = try ctx.store()
            let now = ctx.clock()
            grant = try ctx.storeWrite(store) { w throws -> Grant? in
                var used: Grant?
                if let claim {
                    guard let g = try Workflow.useGrant(w, claim, now: now) else {
                        throw JitError.grantGone
                    }
                    used = g
                    fields["grant"] = .int(g.id)
                    if let r = g.requestID { fields["request"] = .int(r) }
                }
                _ = try w.appendAudit(AuditEvent(event: "exec.start", actor: ctx.invoker.name, fields: fields))
                return used
            }
        } catch {
            try? pam.closeSession()
            throw error
        }
        let shown = ([UserText(path)] + argv.dropFirst()).map(\.escaped).joined(separator: " ")
        var extra = [
            ("JITEXEC_USER", ctx.invoker.name), ("JITEXEC_UID", String(ctx.invoker.uid)),
            ("JITEXEC_COMMAND", commandVariable(shown)),
        ]
        if let r = grant?.requestID ?? requestID { extra.append(("JITEXEC_REQUEST", String(r))) }
        if let grant { extra.append(("JITEXEC_GRANT", String(grant.id))) }
        let environment = Environment.sanitized(
            from: inherited.environment, keep: policy.settings.envKeep, target: target,
            securePath: policy.settings.securePath.joined(separator: ":"), extra: extra)
        // argv[0] is the canonical path the policy matched, never the name the caller typed: a link
        // named after another applet of a multi-call binary must not pick what the binary does.
        let spec = ExecSpec(
            path: path, argv: [UserText(path)] + argv.dropFirst(), environment: environment, identity: target,
            umask: inherited.umask | 0o022,
            cwd: cwd?.string, usePTY: isTerminal(0) || isTerminal(1))
        // The child is held until the grant is found live once more, with the time of that moment:
        // a revoke or the expiry that came after exec.start (however long this process was stopped
        // in between) keeps the command from starting.
        var ended: JitError?
        let release: (() -> Bool)? = grant.map { used in
            { () -> Bool in
                do throws(JitError) {
                    ended = try stillLive(ctx, used)
                } catch {
                    ended = error
                }
                return ended == nil
            }
        }
        let outcome: ExitOutcome
        do {
            outcome = try Supervisor.run(spec, release: release)
        } catch {
            try? pam.closeSession()
            let why = ended ?? .execFailed(error.description, status: error.exitStatus)
            fields["error"] = .string(ended?.description ?? error.description)
            try? RunCommand.audit(ctx, "exec.end", fields)
            throw why
        }
        try? pam.closeSession()
        var end: [String: JSONValue] = [
            "command": fields["command"]!, "run_as": .string(target.name), "status": .int(Int64(outcome.shellStatus)),
            "duration_ms": .int(
                Int64(outcome.duration.components.seconds) * 1000
                    + Int64(outcome.duration.components.attoseconds / 1_000_000_000_000_000)),
        ]
        if case .signaled(let n) = outcome.termination { end["signal"] = .int(Int64(n)) }
        if let grant { end["grant"] = .int(grant.id) }
        do {
            // Atomic but not synced: a power failure may lose this record, never exec.start.
            let store = try ctx.store()
            _ = try ctx.storeWrite(store, relaxed: true) { w in
                try w.appendAudit(AuditEvent(event: "exec.end", actor: ctx.invoker.name, fields: end))
            }
        } catch {
            ctx.complain("the command ran, but its exec.end record could not be written: \(error.description)")
        }
        return outcome.shellStatus
    }

    /// nil while `grant` is still live now (not revoked, not expired), else why the command must not
    /// start. Its use was taken with exec.start, so uses left do not count here.
    static func stillLive(_ ctx: Context, _ grant: Grant) throws(JitError) -> JitError? {
        let store = try ctx.store()
        let current = try ctx.storeRead(store) { r in try r.grant(id: grant.id) }
        let now = ctx.clock()
        guard let current, current.revokedAt == nil else {
            return .closed("grant #\(grant.id) was revoked before the command started; nothing was run")
        }
        return current.isInForce(at: now)
            ? nil : .closed("grant #\(grant.id) expired before the command started; nothing was run")
    }

    /// The longest `JITEXEC_COMMAND` value, in bytes.
    static let maxCommandVariable = 4096

    /// `JITEXEC_COMMAND`: the escaped command line, cut at `maxCommandVariable` bytes with a marker
    /// saying so. Uncut, a long command could not start at all: the kernel takes at most 128 KiB
    /// per environment string and 2 MiB for argv and environment together, and argv is already there.
    static func commandVariable(_ shown: String) -> String {
        let total = shown.utf8.count
        guard total > maxCommandVariable else { return shown }
        let marker = " ... (cut, \(total) bytes in all)"
        var kept = String.UnicodeScalarView()
        var size = 0
        for scalar in shown.unicodeScalars {
            size += scalar.utf8.count
            if size > maxCommandVariable - marker.utf8.count { break }
            kept.append(scalar)
        }
        return String(kept) + marker
    }
}
