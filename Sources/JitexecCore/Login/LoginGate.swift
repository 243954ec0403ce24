import Glibc
import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitexec --login-gate`: the account phase of a PAM service runs it through pam_exec (see
/// pam/jitexec-login). For a user and service that a `[[login]]` gates, the login passes only under a
/// live login grant for this host (`login.allowed`); otherwise it is refused with one line naming
/// the request filed for it (`auto_request`) and who can approve it (`login.denied`). Ungated users
/// pass untouched. A gate that cannot decide (store or policy broken) refuses gated users only;
/// with a broken policy, the last compiled one says who is gated.
///
/// pam_exec gives the login in the environment (PAM_USER, PAM_SERVICE, PAM_RHOST, PAM_TTY,
/// PAM_TYPE) and shows standard output to the person logging in (option `stdout`). Only root may
/// run the gate: anyone else could file login requests in another user's name.
enum LoginGate {
    static func run(_ ctx: Context, environment: [UserText]) -> Int32 {
        guard Privileges.caller.uid == 0 else {
            ctx.complain("--login-gate runs from PAM as root (pam_exec in the account phase); see pam/jitexec-login")
            return 1
        }
        let env = variables(environment)
        guard env["PAM_TYPE"] == "account", let userName = env["PAM_USER"], let service = env["PAM_SERVICE"] else {
            ctx.complain(
                "--login-gate needs PAM_TYPE=account, PAM_USER and PAM_SERVICE from pam_exec; see pam/jitexec-login")
            return 1
        }
        let shownUser = Escape.text(userName)
        let found: Account?
        do {
            found = try ctx.effects.accountNamed(userName)
        } catch {
            say("jitexec: login of \(shownUser) refused: \(error.description)")
            return 1
        }
        guard let user = found else {
            say("jitexec: login of \(shownUser) refused: no such user")
            return 1
        }
        let policy: Policy
        do {
            policy = try ctx.loadPolicy()
        } catch {
            // Who is gated comes from the last policy that compiled; without one, nobody but root
            // passes. Either way the login is decided from an older policy than the one on disk, and
            // the record says so (`stale_policy`).
            let passes = passesUngated(user, service: service, host: ctx.host, by: CompiledPolicy.lastGoodPolicy(ctx))
            var fields: [String: JSONValue] = [
                "user": .string(user.name), "service": .string(service), "host": .string(ctx.host),
                "stale_policy": .bool(true), "policy_error": .string(error.description),
            ]
            if let rhost = env["PAM_RHOST"] { fields["rhost"] = UserText(rhost).jsonValue }
            if let tty = env["PAM_TTY"] { fields["tty"] = UserText(tty).jsonValue }
            // Best effort for a login that passes: the store may be what is broken.
            if let store = try? ctx.store() {
                _ = try? ctx.storeWrite(store) { w in
                    try w.appendAudit(
                        AuditEvent(event: passes ? "login.allowed" : "login.denied", actor: user.name, fields: fields))
                }
            }
            if passes { return 0 }
            say(
                "jitexec: login of \(shownUser) refused: the jitexec policy cannot be read (\(error.description)); ask an administrator to run 'jitctl check'"
            )
            return 1
        }
        guard let index = policy.loginRuleIndex(for: user.subject, service: service, host: ctx.host) else { return 0 }
        let login = policy.logins[index]
        let ruleName = Policy.loginRuleName(index)
        var fields: [String: JSONValue] = [
            "user": .string(user.name), "service": .string(service), "host": .string(ctx.host),
            "rule": .string(ruleName),
        ]
        if let rhost = env["PAM_RHOST"] { fields["rhost"] = UserText(rhost).jsonValue }
        if let tty = env["PAM_TTY"] { fields["tty"] = UserText(tty).jsonValue }
        do {
            let store = try ctx.store()
            let now = ctx.clock()
            let approvers = policy.possibleApprovers(login, system: ctx.system).filter { $0 != user.name }
            let outcome = try ctx.storeWrite(store) { w throws -> (Grant?, Request?, Bool) in
                if let grant = try Workflow.liveLoginGrant(w, user: user.name, host: ctx.host, rule: ruleName, now: now)
                {
                    fields["grant"] = .int(grant.id)
                    _ = try w.appendAudit(AuditEvent(event: "login.allowed", actor: user.name, fields: fields))
                    return (grant, nil, false)
                }
                var filed: (Request, Bool)?
                if login.autoRequest {
                    let via = env["PAM_RHOST"].map { " from \($0)" } ?? ""
                    filed = try Workflow.fileOrReuseLogin(
                        w, user: user, host: ctx.host, ruleName: ruleName, approvals: login.approvals,
                        reason: UserText("login through \(service)\(via) (filed automatically)"), ticket: nil,
                        tty: env["PAM_TTY"].map { UserText($0) }, requestedSeconds: nil, policy: policy, now: now)
                    fields["request"] = .int(filed!.0.id)
                }
                _ = try w.appendAudit(AuditEvent(event: "login.denied", actor: user.name, fields: fields))
                return (nil, filed?.0, filed?.1 ?? false)
            }
            if outcome.0 != nil { return 0 }
            let who =
                "\(login.approvals) approval\(login.approvals == 1 ? "" : "s") from "
                + login.approvers.map(\.description).joined(separator: ", ")
                + " (\(approvers.isEmpty ? "nobody can approve it yet" : approvers.joined(separator: ", ")))"
            if let request = outcome.1 {
                say(
                    "jitexec: login of \(shownUser) to \(Escape.text(ctx.host)) needs approval: request #\(request.id) "
                        + "\(outcome.2 ? "is waiting" : "was filed") for \(who); they run 'jitctl approve \(request.id)'"
                )
            } else {
                say(
                    "jitexec: login of \(shownUser) to \(Escape.text(ctx.host)) needs a login grant with \(who); "
                        + "file a request with 'jitctl request --login -r REASON'")
            }
            return 1
        } catch {
            say(
                "jitexec: login of \(shownUser) refused: the login gate cannot decide (\(error.description)); ask an administrator"
            )
            return 1
        }
    }

    /// The gate could not even start (a trusted-file check, limits, the user database): it cannot
    /// record anything, but it must not lock out users that no `[[login]]` gates. Who is gated comes
    /// from the compiled policy, read only if it passes the trusted-file check; without it, only root
    /// passes. Only for root callers (pam_exec): anyone else is refused as in `run`.
    static func startupFailed(_ error: JitError, environment: [UserText]) -> Int32 {
        let env = variables(environment)
        let shownUser = Escape.text(env["PAM_USER"] ?? "")
        guard Privileges.caller.uid == 0, env["PAM_TYPE"] == "account", let userName = env["PAM_USER"],
            let service = env["PAM_SERVICE"], let user = try? Accounts.byName(userName)
        else {
            say("jitexec: login of \(shownUser) refused: the login gate cannot start (\(error.description))")
            return 1
        }
        let last = CompiledPolicy.lastGoodPolicy(paths: .builtIn)
        if passesUngated(user, service: service, host: currentHostName(), by: last) { return 0 }
        say(
            "jitexec: login of \(shownUser) refused: the login gate cannot start (\(error.description)); ask an administrator"
        )
        return 1
    }

    /// Whether a login the gate cannot decide itself passes: when `last` (the last valid compiled
    /// policy) gates no one of this user and service; without such a policy, only root.
    static func passesUngated(_ user: Account, service: String, host: String, by last: Policy?) -> Bool {
        last.map { $0.loginRuleIndex(for: user.subject, service: service, host: host) == nil } ?? (user.uid == 0)
    }

    /// NAME=value pairs of the environment pam_exec passed (the last one of a name wins).
    static func variables(_ environment: [UserText]) -> [String: String] {
        var result: [String: String] = [:]
        for entry in environment {
            guard let text = entry.string, let eq = text.firstIndex(of: "=") else { continue }
            result[String(text[..<eq])] = String(text[text.index(after: eq)...])
        }
        return result
    }

    /// pam_exec's `stdout` option shows standard output to the person logging in.
    static func say(_ line: String) { Output.live.out(line) }
}
