import Glibc
import JitexecAuth
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitexec [options] COMMAND [ARG...]`: resolve, decide, authenticate, then run under a live
/// grant, or file (or reuse) a request and wait for its approval (SPEC.md, Lifecycle).
enum RunCommand {
    /// What the process brought with it that the run path needs.
    struct Inherited: Sendable {
        var environment: [UserText]
        var umask: mode_t
    }

    static func run(_ ctx: Context, _ args: JitexecArguments, policy: Policy, inherited: Inherited) throws(JitError)
        -> Int32
    {
        let target = try UserSpec.account(args.user ?? "root")
        let (path, argv) = try resolve(args.command, policy: policy, ctx: ctx)
        let command = [UserText(path)] + argv
        let (decision, _) = policy.decide(
            subject: ctx.invoker.subject, target: target.name, host: ctx.host, path: path, args: argv,
            system: ctx.system)
        let rule: Rule
        switch decision {
        case .deny(let denying):
            try auditRefusal(
                ctx, "policy.denied",
                Workflow.boundedCommand(command).merging([
                    "run_as": .string(target.name), "rule": denying.map { .string($0.name) } ?? .null,
                ]) { a, _ in a })
            let why = denying.map { "rule '\($0.name)' denies it" } ?? "no rule allows it"
            throw .denied(
                "\(ctx.invoker.name) may not run \(Escape.text(path)) as \(target.name): \(why); run 'jitctl explain -- \(args.command[0].escaped)' for details"
            )
        case .allow(let r), .approve(let r):
            rule = r
        }
        if args.breakGlass, case .approve = decision {
            // An `allow` rule needs no glass broken: the command runs as usual.
            return try BreakGlassCommand.run(
                ctx, args, policy: policy, rule: rule, target: target, path: path, command: command,
                inherited: inherited)
        }
        let terminal = ControllingTerminal.current()
        defer { if let fd = terminal.fd { close(fd) } }
        let pam = try Authentication.authenticate(ctx, policy: policy, mode: promptMode(args), terminal: terminal)
        guard case .approve = decision else {
            return try Execution.run(
                ctx, pam: pam, path: path, argv: args.command, target: target, rule: rule, claim: nil, requestID: nil,
                policy: policy, inherited: inherited, terminal: terminal)
        }
        let claim = Workflow.Claim(
            user: ctx.invoker.name, runAs: target.name, host: ctx.host, rule: rule, command: command,
            cwd: RunCommand.currentDirectory())
        let store = try ctx.store()
        let now = ctx.clock()
        // A read first: the use itself is taken atomically together with exec.start.
        let covered = try ctx.storeRead(store) { r in try !Workflow.coveringGrants(r, claim, now: now).isEmpty }
        func approvedRun() throws(JitError) -> Int32 {
            let request = try fileRequest(
                ctx, args, policy: policy, rule: rule, target: target, command: command, terminal: terminal,
                store: store)
            try Waiting.wait(ctx, request: request, rule: rule, policy: policy, args: args, store: store, claim: claim)
            try recheckAfterWaiting(ctx, pam: pam, rule: rule, target: target, path: path, argv: argv, policy: policy)
            return try Execution.run(
                ctx, pam: pam, path: path, argv: args.command, target: target, rule: rule, claim: claim,
                requestID: request.id,
                policy: policy, inherited: inherited, terminal: terminal)
        }
        guard covered else { return try approvedRun() }
        do {
            return try Execution.run(
                ctx, pam: pam, path: path, argv: args.command, target: target, rule: rule, claim: claim, requestID: nil,
                policy: policy, inherited: inherited, terminal: terminal)
        } catch .grantGone {
            // Another run took the grant's last use (or it ended) between the check and the use:
            // this run goes on as one that found no grant, so a race never changes the outcome.
            return try approvedRun()
        }
    }

    /// A wait can last hours: the account may have been locked or expired, or the caller removed
    /// from the rule's groups, meanwhile. The account check (PAM account phase) and the rule match
    /// are done again with the accounts and groups of now; either failing means nothing runs.
    static func recheckAfterWaiting(
        _ ctx: Context, pam: PAMSession, rule: Rule, target: Account, path: String, argv: [UserText], policy: Policy
    ) throws(JitError) {
        do {
            try pam.checkAccount()
        } catch {
            throw .notPermitted("your account can no longer be used (\(error.description)); nothing was run")
        }
        guard let now = try lookingUp({ () throws(UserDatabase.LookupError) in try Accounts.fresh(ctx.invoker.uid) }),
            now.name == ctx.invoker.name
        else {
            throw .notPermitted("your account no longer exists; nothing was run")
        }
        let (decision, _) = policy.decide(
            subject: now.subject, target: target.name, host: ctx.host, path: path, args: argv, system: ctx.system)
        guard case .approve(let still) = decision, still.name == rule.name else {
            throw .notPermitted(
                "the policy no longer lets \(now.name) use rule '\(rule.name)' for this command (groups changed while waiting); nothing was run"
            )
        }
    }

    /// The canonical path and the arguments (argv[0] excluded), or 126/127.
    static func resolve(_ words: [UserText], policy: Policy, ctx: Context) throws(JitError) -> (String, [UserText]) {
        guard let name = words[0].string, !name.isEmpty, !words[0].containsNUL else {
            throw .commandNotFound(words[0].escaped)
        }
        switch CommandResolver.resolve(name, securePath: policy.settings.securePath, system: ctx.system) {
        case .found(let p): return (p, Array(words.dropFirst()))
        case .notFound: throw .commandNotFound(Escape.text(name))
        case .notExecutable(let p): throw .commandNotExecutable(Escape.text(p))
        }
    }

    static func promptMode(_ args: JitexecArguments) -> PromptMode {
        args.nonInteractive ? .never : args.passwordFromStdin ? .stdin : .terminal
    }

    /// Files the request (or reuses the caller's identical pending one) and says so.
    static func fileRequest(
        _ ctx: Context, _ args: JitexecArguments, policy: Policy, rule: Rule, target: Account, command: [UserText],
        terminal: ControllingTerminal, store: any JitStore
    ) throws(JitError) -> Request {
        var reason = args.reason
        if rule.reasonRequired && (reason?.isEmpty ?? true) && !args.nonInteractive, let fd = terminal.fd {
            reason = try askReason(fd, rule: rule)
        }
        try Workflow.checkReason(rule, reason: reason, ticket: args.ticket)
        var requested: Int64?
        if let d = args.duration {
            guard let span = TimeSpan.parse(d), span.seconds > 0 else {
                throw .usage("-d takes a duration like 15m or 1h30m")
            }
            requested = span.seconds
        }
        let ask = Workflow.Ask(
            requester: ctx.invoker, runAs: target.name, host: ctx.host, command: command, rule: rule,
            reason: reason ?? UserText(""), ticket: args.ticket, cwd: currentDirectory(),
            tty: terminal.name.isEmpty ? nil : UserText(terminal.name),
            once: args.once, requestedSeconds: requested, scope: rule.scope)
        let now = ctx.clock()
        let (request, reused) = try ctx.storeWrite(store) { w in
            try Workflow.fileOrReuse(w, ask, policy: policy, now: now)
        }
        let approvers = policy.possibleApprovers(rule, system: ctx.system).filter { $0 != ctx.invoker.name }
        let need =
            "\(rule.approvals) approval\(rule.approvals == 1 ? "" : "s") from \(rule.approvers.map(\.description).joined(separator: ", "))"
        ctx.complain(
            "\(reused ? "your request #\(request.id) is still open" : "request #\(request.id) filed"): it needs \(need)"
                + " (\(approvers.isEmpty ? "nobody can approve it yet" : approvers.joined(separator: ", "))); 'jitctl show \(request.id)' shows it"
        )
        return request
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
        _ = prompt.withCString { write(fd, $0, strlen($0)) }
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

    /// The working directory as raw bytes, nil when it cannot be read.
    static func currentDirectory() -> UserText? {
        guard let p = getcwd(nil, 0) else { return nil }
        defer { free(p) }
        return UserText(cString: p)
    }

    /// A refusal record that anyone can cause without authenticating, in its own durable
    /// transaction, within the per-person bound (`Workflow.appendBounded`).
    static func auditRefusal(_ ctx: Context, _ event: String, _ fields: [String: JSONValue]) throws(JitError) {
        let store = try ctx.store()
        let now = ctx.clock()
        _ = try ctx.storeWrite(store) { w in
            try Workflow.appendBounded(w, AuditEvent(event: event, actor: ctx.invoker.name, fields: fields), now: now)
        }
    }

    /// One audit record in its own durable transaction.
    static func audit(_ ctx: Context, _ event: String, _ fields: [String: JSONValue]) throws(JitError) {
        let store = try ctx.store()
        _ = try ctx.storeWrite(store) { w in
            try w.appendAudit(AuditEvent(event: event, actor: ctx.invoker.name, fields: fields))
        }
    }
}

extension Context {
    /// A store write whose failures become `JitError` (the workflow's own refusals pass through).
    public func storeWrite<T>(
        _ store: any JitStore, relaxed: Bool = false, _ body: (any StoreWriter) throws -> T
    ) throws(JitError) -> T {
        do {
            return try relaxed ? store.writeRelaxed(body) : store.write(body)
        } catch {
            throw JitError(error)
        }
    }

    /// A store read whose failures become `JitError`.
    public func storeRead<T>(_ store: any JitStore, _ body: (any StoreReader) throws -> T) throws(JitError) -> T {
        do {
            return try store.read(body)
        } catch {
            throw JitError(error)
        }
    }
}
