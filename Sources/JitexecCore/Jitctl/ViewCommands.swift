import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitctl requests`, `jitctl show`, `jitctl grants`: read-only views. Root and admins see
/// everything; anyone else sees their own requests and grants and those of rules they approve.
public enum ViewCommands {
    public static func requests(_ ctx: Context, all: Bool, user: String?, json: Bool) -> Int32 {
        ctx.run { () throws -> Int32 in
            let policy = try ctx.loadPolicy()
            let store = try ctx.store()
            let now = ctx.clock()
            try ctx.storeWrite(store) { try Workflow.expireStale($0, now: now) }
            let rows = try store.read { r in
                try r.requests(status: all ? nil : .pending, requester: user).filter {
                    visible($0, ctx.invoker, policy)
                }
                .map { ($0, try r.approvals(requestID: $0.id)) }
            }
            if json {
                for (req, approvals) in rows { ctx.say(req.json(approvals: approvals).printable) }
                return 0
            }
            if rows.isEmpty {
                ctx.say(
                    all ? "no requests" : "no pending requests you can see; 'jitctl requests --all' shows decided ones")
                return 0
            }
            let starred = Set(rows.filter { mayDecide($0.0, $0.1, ctx.invoker, policy) }.map(\.0.id))
            ctx.say(
                table(
                    [
                        "", "ID", "STATUS", "REQUESTER", "RUN AS", "HOST", "RULE", "APPROVALS", "EXPIRES", "COMMAND",
                        "REASON",
                    ],
                    rows.map { req, approvals in
                        [
                            starred.contains(req.id) ? "*" : "", "#\(req.id)",
                            req.status.rawValue,
                            req.requester, req.runAs, Escape.text(req.host), req.rule,
                            "\(approvals.count)/\(req.approvalsNeeded)",
                            req.status == .pending ? "in " + remaining(req.expiresAt - now) : "-",
                            commandText(req, policy), clip(req.reason.escaped, 40),
                        ]
                    }))
            if !starred.isEmpty {
                ctx.say("* = you may approve or deny it: 'jitctl approve ID' / 'jitctl deny ID -m WHY'")
            }
            return 0
        }
    }

    public static func show(_ ctx: Context, id: Int64, json: Bool) -> Int32 {
        ctx.run { () throws -> Int32 in
            let policy = try ctx.loadPolicy()
            let store = try ctx.store()
            let now = ctx.clock()
            try ctx.storeWrite(store) { try Workflow.expireStale($0, now: now) }
            let (request, approvals) = try store.read { r in (try r.request(id: id), try r.approvals(requestID: id)) }
            guard let request, visible(request, ctx.invoker, policy) else { throw Workflow.noSuchRequest(id) }
            if json {
                ctx.say(request.json(approvals: approvals).printable)
                return 0
            }
            let rule = policy.rule(named: request.rule)
            var lines = [
                "request #\(request.id)  \(request.status.rawValue)",
                "requester:  \(request.requester)",
                "run as:     \(request.runAs) on \(Escape.text(request.host))",
                "command:    \(commandText(request, policy))",
                "rule:       \(request.rule) (scope \(request.scope.rawValue)\(request.once ? ", single use" : ""))",
                "reason:     \(request.reason.escaped)",
            ]
            if let t = request.ticket { lines.append("ticket:     \(t.escaped)") }
            if let c = request.cwd { lines.append("cwd:        \(c.escaped)") }
            if let t = request.tty { lines.append("tty:        \(t.escaped)") }
            lines.append("filed:      \(LocalTime.format(request.createdAt, from: now))")
            if request.status == .pending, let rule {
                let length = Workflow.grantLength(request, rule: rule, policy: policy, approvals: approvals)
                let asked =
                    request.requestedSeconds.map { "asked \(TimeSpan(seconds: $0)) with -d" }
                    ?? "none asked, default_grant"
                lines.append(
                    "grant:      \(TimeSpan(seconds: length.seconds)) once approved (\(asked)"
                        + (length.cappedBy.map { "; shortened by \($0)" } ?? "") + ")")
                let awaited = (policy.possibleApprovers(rule, system: ctx.system) + policy.automationApprovers(rule))
                    .filter { name in name != request.requester && !approvals.contains { $0.by == name } }
                lines.append(
                    "approvers:  \(rule.approvers.map(\.description).joined(separator: ", "))"
                        + " (\(awaited.isEmpty ? "nobody can approve it now" : "may approve now: " + awaited.joined(separator: ", ")))"
                )
                lines.append(
                    "open until: \(LocalTime.format(request.expiresAt, from: now)); unapproved by then, the request expires"
                        + " (this is not when access would end)")
            }
            lines.append(
                "approvals:  \(approvals.count)/\(request.approvalsNeeded)"
                    + (rule.map { " from \($0.approvers.map(\.description).joined(separator: ", "))" } ?? ""))
            for a in approvals {
                lines.append(
                    "  - \(a.by) at \(LocalTime.format(a.at))"
                        + (a.maxSeconds.map { " (-d \(TimeSpan(seconds: $0)))" } ?? "")
                        + (a.comment.map { ": \($0.escaped)" } ?? ""))
            }
            if let by = request.decidedBy, request.status != .pending {
                lines.append(
                    "decided:    \(request.status.rawValue) by \(by)"
                        + (request.decidedAt.map { " at \(LocalTime.format($0))" } ?? "")
                        + (request.comment.map { ": \($0.escaped)" } ?? ""))
            }
            lines += try automationLines(store, request)
            lines.forEach(ctx.say)
            return 0
        }
    }

    /// The last verdict of each automation that ran for `request` (from its `automation.run`
    /// records): `automation: @ticket-check abstained (run 2 at 10:01:02): ticket CHG-1 is open`.
    static func automationLines(_ store: any JitStore, _ request: Request) throws -> [String] {
        let runs = try store.read { r in
            try r.auditRecords(AuditFilter(sinceTime: request.createdAt, event: Workflow.automationRunEvent))
        }.filter { $0.fields["request"] == .int(request.id) && $0.actor.hasPrefix("@") }
        var last: [String: AuditRecord] = [:]
        var order: [String] = []
        for run in runs {
            if last[run.actor] == nil { order.append(run.actor) }
            last[run.actor] = run
        }
        return order.compactMap { last[$0] }.map { run in
            let verdict = run.fields["verdict"]?.stringValue ?? "?"
            let did =
                ["approve": "approved", "deny": "denied", "abstain": "abstained"][verdict] ?? Escape.text(verdict)
            let count = run.fields["run"]?.intValue.map { "run \($0) at " } ?? ""
            var why = [run.fields["comment"], run.fields["problem"], run.fields["ignored"]].compactMap { $0 }
                .map { value in value.stringValue.map { Escape.text($0) } ?? Escape.text(value.canonical) }
            if why.isEmpty { why = ["no comment"] }
            return "automation: \(Escape.text(run.actor)) \(did) (\(count)\(LocalTime.format(run.time))): "
                + why.joined(separator: "; ")
        }
    }

    public static func grants(_ ctx: Context, all: Bool, user: String?, json: Bool) -> Int32 {
        ctx.run { () throws -> Int32 in
            let policy = try ctx.loadPolicy()
            let store = try ctx.store()
            let now = ctx.clock()
            try ctx.storeWrite(store) { try Workflow.recordGrantExpiries($0, now: now) }
            let grants = try store.read { try $0.grants(user: user, liveAt: all ? nil : now) }
                .filter { g in
                    Workflow.isAdmin(ctx.invoker, policy) || g.user == ctx.invoker.name
                        || (policy.rule(named: g.rule).map { Workflow.mayApprove(ctx.invoker, $0) } ?? false)
                }
            if json {
                for g in grants { ctx.say(g.json.printable) }
                return 0
            }
            if grants.isEmpty {
                ctx.say(all ? "no grants" : "no live grants you can see")
                return 0
            }
            ctx.say(
                table(
                    ["ID", "USER", "RUN AS", "HOST", "RULE", "SCOPE", "USES LEFT", "EXPIRES", "STATE", "COMMAND"],
                    grants.map { g in
                        [
                            "#\(g.id)", g.user, g.runAs, Escape.text(g.host), g.rule, g.scope.rawValue,
                            g.usesLeft.map(String.init) ?? "unlimited",
                            LocalTime.format(g.expiresAt),
                            g.revokedAt != nil
                                ? "revoked"
                                : g.isLive(at: now) ? "live, " + remaining(g.expiresAt - now) + " left" : "ended",
                            g.command.map { Escape.argv($0) } ?? ruleScopeText(g.rule, policy),
                        ]
                    }))
            return 0
        }
    }

    /// Whether `viewer` may see `request`.
    static func visible(_ request: Request, _ viewer: Account, _ policy: Policy) -> Bool {
        Workflow.mayView(request, viewer, policy)
    }

    /// Whether `viewer` could approve or deny `request` now.
    static func mayDecide(_ request: Request, _ approvals: [Approval], _ viewer: Account, _ policy: Policy) -> Bool {
        guard request.status == .pending, request.requester != viewer.name,
            !approvals.contains(where: { $0.by == viewer.name }), let rule = policy.rule(named: request.rule)
        else { return false }
        return Workflow.mayApprove(viewer, rule)
    }

    /// What a request's grant would cover: its argv, or for a rule-scope request every command of
    /// its rule, listed ("any command of rule 'deploys': /usr/bin/systemctl restart *, ...").
    static func commandText(_ r: Request, _ policy: Policy) -> String {
        r.scope == .rule ? ruleScopeText(r.rule, policy) : Escape.argv(r.command)
    }

    /// "any command of rule 'deploys': PATTERN, PATTERN" (patterns as the policy wrote them, escaped).
    static func ruleScopeText(_ name: String, _ policy: Policy) -> String {
        guard let rule = policy.rule(named: name) else {
            return "any command of rule '\(name)' (no longer in the policy)"
        }
        return "any command of rule '\(name)': " + rule.commands.map { Escape.text($0.source) }.joined(separator: ", ")
    }

    /// `1h05m`, `42s`.
    static func remaining(_ length: Duration) -> String {
        let s = max(0, length.components.seconds)
        if s >= 3600 { return "\(s / 3600)h\(pad2(s % 3600 / 60))m" }
        if s >= 60 { return "\(s / 60)m\(pad2(s % 60))s" }
        return "\(s)s"
    }

    static func pad2(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }

    static func clip(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }

    /// Left-aligned columns separated by two spaces.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            var out = ""
            for (i, cell) in cells.enumerated() {
                out += i == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }
            return out
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

extension Context {
    /// Runs a command body and turns any failure into its one line and exit status.
    func run(_ body: () throws -> Int32) -> Int32 {
        do {
            return try body()
        } catch {
            let failure = JitError(error)
            complain(failure.description)
            return failure.exitStatus
        }
    }
}
