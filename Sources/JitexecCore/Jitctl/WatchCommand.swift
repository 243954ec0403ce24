import Glibc
import JitexecBase
import JitexecPolicy
import JitexecStore

/// `jitctl watch`: a live feed, for an approver, of the requests they may decide — the open ones at
/// start, then each new request and each change (an approval, the decision, a cancel or an expiry)
/// as it happens — and of break-glass uses and revoked grants under the rules they approve for,
/// until Ctrl-C. Each line starts with its time (UTC). It reads the store once a second; it never
/// writes.
public enum WatchCommand {
    /// What the feed last showed of one request.
    struct Seen: Equatable {
        var status: RequestStatus
        var approvals: Int
    }

    public static func run(_ ctx: Context, interval: Duration = .seconds(1)) -> Int32 {
        ctx.run { () throws -> Int32 in
            let policy = try ctx.loadPolicy()
            let store = try ctx.store()
            // Ctrl-C, hang-up and SIGTERM end the feed cleanly (blocked until the process ends).
            let feedStops = [SIGINT, SIGTERM, SIGHUP]
            _ = StopSignals.block(feedStops)
            let admin = Workflow.isAdmin(ctx.invoker, policy)
            ctx.say("watching requests \(ctx.invoker.name) may decide; Ctrl-C stops")
            var seen: [Int64: Seen] = [:]
            var first = true
            var lastSeq = try ctx.storeRead(store) { try $0.auditHead()?.seq ?? 0 }
            while true {
                let now = ctx.clock()
                func say(_ line: String) { ctx.say("\(Self.time(now)) \(line)") }
                let rows = try ctx.storeRead(store) { r in
                    try r.requests(status: .pending, requester: nil).compactMap { request -> (Request, [Approval])? in
                        let approvals = try r.approvals(requestID: request.id)
                        guard request.expiresAt > now,
                            admin || ViewCommands.mayDecide(request, approvals, ctx.invoker, policy)
                                || (seen[request.id] != nil && ViewCommands.visible(request, ctx.invoker, policy))
                        else { return nil }
                        return (request, approvals)
                    }
                }
                var current: [Int64: Seen] = [:]
                for (request, approvals) in rows.reversed() {
                    let state = Seen(status: .pending, approvals: approvals.count)
                    current[request.id] = state
                    if let before = seen[request.id] {
                        if before.approvals != state.approvals, let last = approvals.last {
                            say(
                                "#\(request.id) approved by \(last.by) (\(approvals.count)/\(request.approvalsNeeded))"
                                    + (last.comment.map { ": \($0.escaped)" } ?? ""))
                        }
                    } else {
                        say(line(request, approvals, new: !first, policy: policy))
                    }
                }
                // Requests that left the open set: say how they ended.
                for id in seen.keys.sorted() where current[id] == nil {
                    let request = try ctx.storeRead(store) { try $0.request(id: id) }
                    guard let request else { continue }
                    let status = request.status == .pending ? "expired" : request.status.rawValue
                    say(
                        "#\(id) \(status)" + (request.decidedBy.map { " by \($0)" } ?? "")
                            + (request.comment.map { ": \($0.escaped)" } ?? ""))
                }
                // Break-glass uses and revokes under the rules this person approves for (all for admins).
                let records = try ctx.storeRead(store) { try $0.auditRecords(AuditFilter(afterSeq: lastSeq)) }
                lastSeq = records.last?.seq ?? lastSeq
                for record in records where ["breakglass.used", "grant.revoked"].contains(record.event) {
                    let rule = record.fields["rule"]?.stringValue.flatMap { policy.rule(named: $0) }
                    guard admin || rule.map({ Workflow.mayApprove(ctx.invoker, $0) }) == true else { continue }
                    say(Self.eventLine(record))
                }
                seen = current
                first = false
                if StopSignals.pause(interval, for: feedStops) {
                    ctx.say("stopped watching")
                    return 0
                }
            }
        }
    }

    /// `HH:MM:SS`, the host's local time.
    static func time(_ instant: Instant) -> String { LocalTime.clock(instant) }

    /// A break-glass use or a revoke, as the feed shows it.
    static func eventLine(_ r: AuditRecord) -> String {
        func text(_ key: String) -> String {
            switch r.fields[key] {
            case .string(let s)?: return Escape.text(s)
            case .int(let n)?: return String(n)
            case let value?: return UserText(json: value)?.escaped ?? Escape.text(value.canonical)
            case nil: return "?"
            }
        }
        if r.event == "breakglass.used" {
            let command =
                r.fields["command"].flatMap { value -> String? in
                    guard case .array(let words) = value else { return nil }
                    return Escape.argv(words.compactMap { UserText(json: $0) })
                } ?? "?"
            return
                "BREAK-GLASS \(Escape.text(r.actor)) took grant #\(text("grant")) on \(text("host")) (rule \(text("rule"))): "
                + "\(command) as \(text("run_as")) until \(text("expires_at")); reason: \(text("reason")) - 'jitctl review'"
        }
        let comment = r.fields["comment"] != nil ? ": \(text("comment"))" : ""
        return
            "grant #\(text("grant")) of \(text("user")) (rule \(text("rule"))) revoked by \(Escape.text(r.actor))\(comment)"
    }

    /// One request as the feed first shows it.
    static func line(_ r: Request, _ approvals: [Approval], new: Bool, policy: Policy) -> String {
        let what =
            r.kind == .login
            ? "login to \(Escape.text(r.host))" : "\(ViewCommands.commandText(r, policy)) as \(r.runAs)"
        return "\(new ? "new " : "")#\(r.id) \(r.requester): \(what) (\(approvals.count)/\(r.approvalsNeeded)) "
            + "reason: \(r.reason.escaped) - 'jitctl approve \(r.id)' / 'jitctl deny \(r.id) -m WHY'"
    }
}
