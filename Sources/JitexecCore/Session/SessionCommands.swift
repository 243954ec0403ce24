import Glibc
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitctl sessions | replay | attach | stop`: supervised commands and their recordings.
/// Admins see every session, a rule's approvers the sessions of that rule; a user sees (lists, not
/// plays) their own.
public enum SessionCommands {
    /// `jitctl sessions [--user U] [--since T] [--all] [--json]`: recorded sessions (all with
    /// `--all`), oldest first.
    public static func list(_ ctx: Context, user: String?, since: String?, all: Bool, json: Bool) -> Int32 {
        ctx.run { () throws -> Int32 in
            let policy = try ctx.loadPolicy()
            let store = try ctx.store()
            let now = ctx.clock()
            let from = try since.map { text throws(JitError) in try LogCommand.parseSince(text, now: now) }
            let sessions = try ctx.storeRead(store) { r in
                try r.sessions(SessionFilter(user: user, since: from, recordedOnly: !all))
            }.filter { mayWatch(ctx.invoker, $0, policy) || $0.user == ctx.invoker.name }
            if json {
                for s in sessions { ctx.say(s.json(state: state(ctx, s)).printable) }
                return 0
            }
            if sessions.isEmpty {
                ctx.say(
                    all ? "no sessions you can see" : "no recorded sessions you can see (--all lists unrecorded ones)")
                return 0
            }
            ctx.say(
                ViewCommands.table(
                    ["ID", "USER", "COMMAND", "HOST", "START", "DURATION", "STATUS", "SIZE", "PATH"],
                    sessions.map { s in
                        [
                            "#\(s.id)", s.user, ViewCommands.clip(Escape.argv(s.command), 40), Escape.text(s.host),
                            LocalTime.format(s.startedAt), ViewCommands.remaining((s.endedAt ?? now) - s.startedAt),
                            state(ctx, s),
                            s.recordingSize.map(ByteSize.approximate) ?? (s.recording == nil ? "-" : "?"),
                            s.recording ?? "-",
                        ]
                    }))
            return 0
        }
    }

    /// `jitctl replay ID [--speed X] [--max-wait S] [--cat]`.
    public static func replay(_ ctx: Context, id: Int64, speed: Double, maxWait: Double, cat: Bool) -> Int32 {
        ctx.run { () throws -> Int32 in
            guard speed > 0, speed.isFinite, maxWait >= 0, maxWait.isFinite else {
                throw JitError.usage("--speed must be above 0 and --max-wait at least 0")
            }
            let session = try watchable(ctx, id: id)
            let cast = try recording(ctx, session)
            if cat {
                let text = cast.events.filter { $0.kind == "o" }.map(\.data).joined()
                ctx.output.write(TerminalFilter.plain(text))
                return 0
            }
            var filter = TerminalFilter(.safe)
            var last = 0.0
            for event in cast.events where event.kind == "o" {
                let pause = min(max(event.time - last, 0), maxWait) / speed
                last = event.time
                if pause > 0 { usleep(useconds_t(min(pause, 3600) * 1_000_000)) }
                ctx.output.write(filter.feed(event.data))
            }
            return 0
        }
    }

    /// `jitctl attach ID`: a running, recorded session's output as it is written (read-only).
    public static func attach(_ ctx: Context, id: Int64) -> Int32 {
        ctx.run { () throws -> Int32 in
            let session = try watchable(ctx, id: id)
            guard session.isOpen, isAlive(ctx, session) else {
                throw JitError.usage("session #\(id) is not running; 'jitctl replay \(id)' plays its recording")
            }
            guard session.recording != nil else {
                throw JitError.notPermitted(
                    "session #\(id) is not recorded; attach needs record = true on rule '\(session.rule)'")
            }
            let store = try ctx.store()
            try ctx.storeWrite(store) { w in
                _ = try w.appendAudit(
                    AuditEvent(
                        event: "session.attach", actor: ctx.invoker.name,
                        fields: [
                            "session": .int(id), "user": .string(session.user),
                            "command": .array(session.command.map(\.jsonValue)),
                        ]))
            }
            let fd = open(ctx.paths.recording(session: id), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else {
                throw JitError.unreadable(path: ctx.paths.recording(session: id), reason: errnoText())
            }
            defer { close(fd) }
            ctx.complain("watching session #\(id) of \(session.user) (read-only); Ctrl-C stops watching")
            var follower = AsciicastFollower()
            var filter = TerminalFilter(.safe)
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            var ended: Session?
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    let events = (try? follower.feed(buffer[..<count])) ?? []
                    ctx.output.write(events.filter { $0.kind == "o" }.map { filter.feed($0.data) }.joined())
                    continue
                }
                if let ended {
                    ctx.complain("session #\(id) ended (\(state(ctx, ended)))")
                    return 0
                }
                usleep(200_000)
                let now = try ctx.storeRead(store) { r in try r.session(id: id) }
                if let now, !now.isOpen || !isAlive(ctx, now) { ended = now }
            }
        }
    }

    /// `jitctl stop ID [-m WHY]`: asks the session's supervisor to end the command (it checks twice
    /// a second); audited `session.stop`. The actor authenticates first, as for a revoke.
    public static func stop(_ ctx: Context, id: Int64, comment: String?, mode: PromptMode) -> Int32 {
        ctx.run { () throws -> Int32 in
            let (policy, store) = try ActionCommands.prepare(ctx, mode: mode)
            let missing = JitError.notPermitted(
                "there is no session #\(id) that you can see; run 'jitctl sessions --all'")
            guard let session = try ctx.storeRead(store, { r in try r.session(id: id) }),
                mayWatch(ctx.invoker, session, policy)
            else { throw missing }
            guard session.isOpen, isAlive(ctx, session) else {
                throw JitError.usage("session #\(id) is not running")
            }
            let now = ctx.clock()
            let why = comment.map { UserText($0) }
            try ctx.storeWrite(store) { w in
                guard try w.requestSessionStop(id: id, by: ctx.invoker.name, comment: why, at: now) else {
                    throw JitError.usage("session #\(id) is already being ended")
                }
                var fields: [String: JSONValue] = [
                    "session": .int(id), "user": .string(session.user),
                    "command": .array(session.command.map(\.jsonValue)),
                ]
                if let why { fields["comment"] = why.jsonValue }
                _ = try w.appendAudit(AuditEvent(event: "session.stop", actor: ctx.invoker.name, fields: fields))
            }
            ctx.say("session #\(id) of \(session.user) is being ended")
            return 0
        }
    }

    /// Running sessions under `grant`, for what a revoke tells the revoker.
    static func running(_ ctx: Context, grant: Int64) -> [Session] {
        guard let store = try? ctx.store(),
            let sessions = try? ctx.storeRead(
                store, { r in try r.sessions(SessionFilter(grantID: grant, openOnly: true)) })
        else { return [] }
        return sessions.filter { isAlive(ctx, $0) }
    }

    /// Admins, and the approvers of the session's rule.
    static func mayWatch(_ actor: Account, _ session: Session, _ policy: Policy) -> Bool {
        Workflow.isAdmin(actor, policy)
            || (policy.rule(named: session.rule).map { Workflow.mayApprove(actor, $0) } ?? false)
    }

    /// The session if the caller may watch it; the same line as for none at all otherwise.
    private static func watchable(_ ctx: Context, id: Int64) throws(JitError) -> Session {
        let policy = try ctx.loadPolicy()
        let store = try ctx.store()
        guard let session = try ctx.storeRead(store, { r in try r.session(id: id) }),
            mayWatch(ctx.invoker, session, policy)
        else {
            throw JitError.notPermitted(
                "there is no session #\(id) that you may watch; admins and the approvers of its rule may")
        }
        return session
    }

    private static func recording(_ ctx: Context, _ session: Session) throws(JitError) -> Asciicast {
        guard session.recording != nil else {
            throw JitError.notPermitted(
                "session #\(session.id) was not recorded (rule '\(session.rule)' has record = false)")
        }
        let file = ctx.paths.recording(session: session.id)
        let fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw JitError.unreadable(path: file, reason: errnoText()) }
        defer { close(fd) }
        let bytes = try TrustedFiles.readAll(fd, path: file, limit: 1 << 30)
        do {
            return try Asciicast.parse(bytes, partialTail: session.isOpen)
        } catch {
            throw JitError.unreadable(path: file, reason: error.description)
        }
    }

    /// The supervisor of an open session still runs (on this host: elsewhere it cannot be seen).
    static func isAlive(_ ctx: Context, _ session: Session) -> Bool {
        session.host != ctx.host || ProcessTree.isAlive(session.pid, start: session.pidStart)
    }

    /// `running`, `exited N`, `signal N`, `expired`, `revoked`, `stopped`, `record failed`,
    /// `record limit`, or `lost` (its supervisor is gone and never recorded the end).
    static func state(_ ctx: Context, _ s: Session) -> String {
        guard let ended = s.ended else { return isAlive(ctx, s) ? "running" : "lost" }
        switch ended {
        case .exited:
            let status = s.exitStatus ?? 0
            return status > 128 ? "signal \(status - 128)" : "exited \(status)"
        case .recordFailed: return "record failed"
        case .recordLimit: return "record limit"
        case .expired, .revoked, .stopped: return ended.rawValue
        }
    }
}
