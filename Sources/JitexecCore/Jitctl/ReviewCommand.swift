import JitexecBase
import JitexecPolicy
import JitexecStore

/// `jitctl review [--all] [--json]` lists break-glass uses (waiting for review by default);
/// `jitctl review ID --ok|--flag [-m COMMENT]` records an admin's verdict (`breakglass.reviewed`).
/// Admins see every use, anyone else only their own.
public enum ReviewCommand {
    public static func list(_ ctx: Context, all: Bool, json: Bool) -> Int32 {
        ctx.run { () throws -> Int32 in
            let policy = try ctx.loadPolicy()
            let store = try ctx.store()
            let admin = Workflow.isAdmin(ctx.invoker, policy)
            let rows = try store.read { r in
                try r.breakGlassUses(unreviewedOnly: !all).compactMap { use -> (BreakGlassUse, Grant)? in
                    guard let grant = try r.grant(id: use.grantID), admin || grant.user == ctx.invoker.name else {
                        return nil
                    }
                    return (use, grant)
                }
            }
            if json {
                for (use, grant) in rows { ctx.say(use.json(grant: grant).printable) }
                return 0
            }
            if rows.isEmpty {
                ctx.say(
                    all
                        ? "no break-glass uses"
                        : "no break-glass use waits for review; 'jitctl review --all' shows reviewed ones")
                return 0
            }
            ctx.say(
                ViewCommands.table(
                    ["GRANT", "USER", "RUN AS", "RULE", "TAKEN", "UNTIL", "REVIEW", "COMMAND", "REASON"],
                    rows.map { use, grant in
                        [
                            "#\(grant.id)", grant.user, grant.runAs, grant.rule,
                            LocalTime.format(use.createdAt),
                            LocalTime.format(grant.expiresAt),
                            use.verdict.map {
                                "\($0.rawValue) by \(use.reviewedBy ?? "?")"
                                    + (use.comment.map { ": \($0.escaped)" } ?? "")
                            }
                                ?? "waiting",
                            grant.command.map { Escape.argv($0) } ?? "(any command of the rule)",
                            ViewCommands.clip(use.reason.escaped, 60),
                        ]
                    }))
            if admin && !all { ctx.say("mark each: 'jitctl review GRANT --ok' or 'jitctl review GRANT --flag -m WHY'") }
            return 0
        }
    }

    public static func decide(_ ctx: Context, id: Int64, verdict: BreakGlassVerdict, comment: String?, mode: PromptMode)
        -> Int32
    {
        ctx.run { () throws -> Int32 in
            let (policy, store) = try ActionCommands.prepare(ctx, mode: mode)
            let now = ctx.clock()
            try ctx.storeWrite(store) { w in
                try Workflow.reviewBreakGlass(
                    w, grantID: id, verdict: verdict, reviewer: ctx.invoker, comment: comment.map { UserText($0) },
                    policy: policy, now: now)
            }
            ctx.say("marked break-glass use #\(id) \(verdict == .ok ? "ok" : "flagged")")
            return 0
        }
    }
}
