import Glibc
import JitexecBase
import JitexecPolicy
import JitexecStore

/// `jitctl log [--since DUR|RFC3339] [--user U] [--event TYPE] [--json] [-f]` and `jitctl verify`.
public enum LogCommand {
    public struct Options: Sendable {
        var since: String?
        var user: String?
        var event: String?
        var json = false
        var follow = false
        public init(
            since: String? = nil, user: String? = nil, event: String? = nil, json: Bool = false, follow: Bool = false
        ) {
            self.since = since
            self.user = user
            self.event = event
            self.json = json
            self.follow = follow
        }
    }

    /// Root and the policy's admins read every event. Anyone else reads `LogView`'s share: the
    /// events they caused, those about their own requests and grants, and what ran under grants
    /// they approved.
    public static func run(_ ctx: Context, _ options: Options) -> Int32 {
        ctx.run { () throws -> Int32 in
            var filter = AuditFilter()
            if let since = options.since { filter.sinceTime = try parseSince(since, now: ctx.clock()) }
            filter.event = options.event
            filter.actor = options.user
            let policy = try? ctx.loadPolicy()
            var view: LogView?
            if !(policy.map { Workflow.isAdmin(ctx.invoker, $0) } ?? (ctx.invoker.uid == 0)) {
                if let user = options.user, user != ctx.invoker.name {
                    throw JitError.notPermitted(
                        "only root and the policy's admins may read other users' events; run 'jitctl log' for your own")
                }
                view = LogView(viewer: ctx.invoker.name)
            }
            let store = try ctx.store()
            if !options.json { ctx.say(header) }
            var last: Int64 = 0
            repeat {
                // A viewer's share depends on earlier records (who filed a request, which grant it
                // made), so for them every record is read and the filter applied here.
                var reading = view == nil ? filter : AuditFilter()
                reading.afterSeq = last
                let records = try store.read { try $0.auditRecords(reading) }
                for r in records {
                    last = r.seq
                    if view != nil {
                        guard view!.admits(r), filter.matches(r) else { continue }
                    }
                    ctx.say(options.json ? r.json.printable : row(r))
                }
                if options.follow { usleep(500_000) }
            } while options.follow
            return 0
        }
    }

    /// `--since 90m` (that long ago) or an RFC 3339 time. A span longer than `TimeSpan.longest`
    /// or a time RFC3339 cannot hold is a usage error, never an overflow.
    static func parseSince(_ text: String, now: Instant) throws(JitError) -> Instant {
        switch TimeSpan.parsing(text) {
        case .success(let span):
            if let t = span.before(now) { return t }
        case .failure(.tooLong):
            throw .usage(
                "--since takes a duration of at most \(TimeSpan.longest), or an RFC 3339 time like 2026-11-29T08:00:00Z"
            )
        case .failure(.malformed):
            break
        }
        if let t = RFC3339.parse(text) { return t }
        throw .usage("--since takes a duration like 90m or 1h30m, or an RFC 3339 time like 2026-11-29T08:00:00Z")
    }

    static let header =
        pad("SEQ", 6) + " " + pad("TIME", 23) + " " + pad("EVENT", 18) + " " + pad("ACTOR", 12) + " DETAILS"

    /// One human line; every user-controlled value escaped. Absent values (`null`) are left out:
    /// `--json` keeps them.
    static func row(_ r: AuditRecord) -> String {
        let details = r.fields.keys.sorted(by: JSONValue.keyOrder).compactMap { key -> String? in
            guard let value = r.fields[key], value != .null else { return nil }
            return "\(Escape.text(key))=\(display(value))"
        }.joined(separator: " ")
        return pad(String(r.seq), 6) + " " + pad(LocalTime.format(r.time), 23) + " "
            + pad(Escape.text(r.event), 18) + " " + pad(Escape.text(r.actor), 12) + " " + details
    }

    /// A field value for people: strings escaped (quoted when they contain spaces); the words of
    /// an array (argv) quoted as `Escape.word` does, so different argv never show alike.
    static func display(_ value: JSONValue) -> String {
        switch value {
        case .string(let s):
            return quotedIfSpaced(Escape.text(s))
        case .array(let items):
            return "[" + items.map { UserText(json: $0)?.quoted ?? display($0) }.joined(separator: " ") + "]"
        case .object:
            if let text = UserText(json: value) { return quotedIfSpaced(text.escaped) }
            return Escape.text(value.canonical)
        default:
            return value.canonical
        }
    }

    private static func quotedIfSpaced(_ escaped: String) -> String {
        escaped.contains(" ") || escaped.isEmpty ? "\"\(escaped.replacingQuotes)\"" : escaped
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}

extension String {
    fileprivate var replacingQuotes: String {
        var out = ""
        for c in self { out += c == "\"" ? "\\\"" : String(c) }
        return out
    }
}

/// `jitctl verify`: walks the whole audit chain. Exit 0 with the count when intact; exit 1 naming
/// the first record that was edited, deleted, inserted or reordered.
public enum VerifyCommand {
    /// Every recording an `exec.end` names, against the size and SHA-256 the chain holds for it:
    /// one line per recording removed, edited or truncated; 1 when there is any.
    static func recordings(_ ctx: Context, _ store: any JitStore) throws(JitError) -> Int32 {
        // An intact chain holds every record's fields as their canonical text, so a recording
        // field is there as `"recording":`; only those records are read.
        let ends = try ctx.storeRead(store) { r in
            try r.auditRecords(AuditFilter(event: "exec.end", fieldsContaining: "\"recording\":"))
        }
        var checked = 0
        var bad = 0
        for record in ends {
            guard record.fields["recording"] != nil, let id = record.fields["session"]?.intValue else { continue }
            let path = ctx.paths.recording(session: id)
            checked += 1
            guard let digest = FileDigest.of(path: path) else {
                bad += 1
                ctx.complain(
                    "recording of session #\(id) (\(path)) was removed (\(errnoText())); exec.end is record \(record.seq)"
                )
                continue
            }
            let size = record.fields["recording_size"]?.intValue
            let sha = record.fields["recording_sha256"]?.stringValue
            guard size == digest.size, sha == digest.sha256 else {
                bad += 1
                let found = "\(digest.size) bytes, chain says \(size.map { "\($0) bytes" } ?? "no size")"
                ctx.complain(
                    "recording of session #\(id) (\(path)) was edited or truncated (\(found)); exec.end is record \(record.seq)"
                )
                continue
            }
        }
        if bad > 0 { return 1 }
        if checked > 0 { ctx.say("recordings intact: \(checked) checked against the chain") }
        return 0
    }

    public static func run(_ ctx: Context) -> Int32 {
        ctx.run { () throws -> Int32 in
            let store = try ctx.store()
            let result = try store.read { try AuditChain.verify($0) }
            switch result {
            case .intact(let count, let head):
                ctx.say("audit chain intact: \(count) record\(count == 1 ? "" : "s"), head \(head)")
                if let fleet = store as? PostgreSQLStore {
                    let imported = try HostMigration.verifyImported(fleet)
                    for (origin, problem) in imported {
                        guard let problem else {
                            ctx.say("imported chain of \(Escape.text(origin)) intact and anchored")
                            continue
                        }
                        ctx.complain(
                            "the imported chain of \(Escape.text(origin)) is broken: \(problem); keep the database as evidence"
                        )
                        return 1
                    }
                }
                return try recordings(ctx, store)
            case .broken(let seq, _, let problem):
                ctx.complain(
                    "audit chain broken at record \(seq): \(problem); keep the database as evidence and compare with the syslog copy"
                )
                return 1
            }
        }
    }
}

/// What someone who is not an admin may read of the audit log, decided record by record in the
/// log's order: the events they caused; the events about requests they filed or approved and about
/// grants made for them or from requests they approved (who approved, denied or revoked them, how a
/// grant was used and ended); and the sessions run under those grants.
struct LogView {
    let viewer: String
    private var requests: Set<Int64> = []
    private var grants: Set<Int64> = []
    private var sessions: Set<Int64> = []

    init(viewer: String) { self.viewer = viewer }

    /// Whether `record` is the viewer's to read; learns the requests, grants and sessions it ties
    /// to the viewer. Records must come in `seq` order.
    mutating func admits(_ record: AuditRecord) -> Bool {
        let f = record.fields
        let request = f["request"]?.intValue
        let grant = f["grant"]?.intValue
        let session = f["session"]?.intValue
        let mine = record.actor == viewer
        switch record.event {
        case "request.filed", "approval.added":
            if mine, let request { requests.insert(request) }
        case "grant.created":
            if let grant, mine || f["user"]?.stringValue == viewer || request.map(requests.contains) == true {
                grants.insert(grant)
            }
        case "exec.start":
            if let session, grant.map(grants.contains) == true || mine { sessions.insert(session) }
        default:
            break
        }
        return mine || request.map(requests.contains) == true || grant.map(grants.contains) == true
            || session.map(sessions.contains) == true || f["user"]?.stringValue == viewer
            || f["requester"]?.stringValue == viewer
    }
}

extension AuditFilter {
    /// Whether `record` passes this filter's time, actor and event (what the store's query checks).
    func matches(_ record: AuditRecord) -> Bool {
        (sinceTime.map { record.time >= $0 } ?? true) && (actor.map { record.actor == $0 } ?? true)
            && (event.map { record.event == $0 } ?? true)
    }
}
