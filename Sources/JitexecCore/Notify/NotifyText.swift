import JitexecBase
import JitexecStore

/// What people read about an audit event: one line for a chat message (`JITEXEC_NOTIFY_TEXT`) and
/// the lines written to an approver's terminal. Every user-controlled part (request fields, names,
/// argv, reason, comments) goes through `Escape.text`, and long ones are shortened, so no event can
/// paint on a terminal or smuggle a line break into a chat.
enum NotifyText {
    /// Longest command and other text shown (characters of the escaped text).
    static let maxCommand = 300
    static let maxReason = 200

    /// The one-line summary for chat. On top of `Escape.text`, `&`, `<` and `>` are written as
    /// `&amp;`, `&lt;` and `&gt;` (Slack's escaping), so a reason cannot mention `<!channel>` or
    /// forge a link.
    static func chat(_ record: AuditRecord) -> String {
        summary(record, chatSafe)
    }

    /// The same summary for a terminal or a log line: escaped, without chat escaping.
    static func plain(_ record: AuditRecord) -> String {
        summary(record) { $0 }
    }

    /// The lines written to an approver's terminal for `request.filed` (CR LF line ends: the terminal
    /// may be in raw mode).
    static func terminal(_ record: AuditRecord) -> String {
        let id = int(record, "request").map(String.init) ?? "?"
        var lines = [
            "",
            "jitexec: \(who(record)) asks to run \(what(record)) (request #\(id), rule \(text(record, "rule")))",
            "  reason: \(text(record, "reason"))"
                + (record.fields["ticket"] != nil ? "  ticket: \(text(record, "ticket"))" : ""),
            "  'jitctl show \(id)' shows it; 'jitctl approve \(id)' or 'jitctl deny \(id) -m WHY' decides it",
        ]
        lines.append("")
        return lines.joined(separator: "\r\n")
    }

    /// `[jitexec HOST] ...`: what happened, by whom, and what to do next.
    static func summary(_ record: AuditRecord, _ user: (String) -> String) -> String {
        let host = Escape.text(record.host)
        let request = int(record, "request").map { "#\($0)" } ?? ""
        let by = user(Escape.text(record.actor))
        let body: String
        switch record.event {
        case "request.filed":
            let id = int(record, "request").map(String.init) ?? "?"
            body =
                "\(by) asks to run \(user(what(record)))"
                + " (request \(request), rule \(user(text(record, "rule"))), reason: \(user(text(record, "reason"))))"
                + "; approve with 'jitctl approve \(id)'"
        case "request.approved":
            body =
                "request \(request) of \(user(text(record, "requester", fallback: "?"))) approved by \(by): "
                + "\(user(what(record)))" + (int(record, "grant").map { ", grant #\($0)" } ?? "")
                + (record.fields["expires_at"] != nil ? " until \(time(record, "expires_at"))" : "")
        case "request.denied", "request.cancelled":
            let verb = record.event == "request.denied" ? "denied" : "cancelled"
            body =
                "request \(request) of \(user(text(record, "requester", fallback: "?"))) (\(user(what(record)))) \(verb) by \(by)"
                + (record.fields["comment"] != nil ? ": \(user(text(record, "comment")))" : "")
        case "request.expired":
            body = "request \(request) of \(by) expired unapproved"
        case "grant.revoked":
            body =
                "grant #\(int(record, "grant").map(String.init) ?? "?") of \(user(text(record, "user", fallback: "?")))"
                + " (\(user(what(record)))) revoked by \(by)"
                + (record.fields["comment"] != nil ? ": \(user(text(record, "comment")))" : "")
        case "breakglass.used":
            body =
                "BREAK-GLASS: \(by) took immediate access: \(user(what(record)))"
                + (record.fields["expires_at"] != nil ? " until \(time(record, "expires_at"))" : "")
                + (record.fields["reason"] != nil ? ", reason: \(user(text(record, "reason")))" : "")
                + "; review with 'jitctl review'"
        default:
            body = "\(Escape.text(record.event)) by \(by)" + (request.isEmpty ? "" : " (request \(request))")
        }
        return "[jitexec \(host)] \(body)"
    }

    // MARK: Fields

    static func who(_ record: AuditRecord) -> String { Escape.text(record.actor) }

    /// A string field (UserText JSON, hex objects included) escaped and shortened, or `fallback`.
    static func text(_ record: AuditRecord, _ key: String, fallback: String = "") -> String {
        guard let value = record.fields[key] else { return fallback }
        return shorten(UserText(json: value)?.escaped ?? Escape.text(value.canonical), maxReason)
    }

    static func int(_ record: AuditRecord, _ key: String) -> Int64? {
        if case .int(let n)? = record.fields[key] { return n }
        return nil
    }

    /// What, as whom, where: "/usr/bin/id -u as root on web1".
    static func what(_ record: AuditRecord) -> String {
        "\(command(record)) as \(text(record, "run_as", fallback: "?")) on \(text(record, "host", fallback: record.host))"
    }

    /// A time field (RFC 3339 UTC in the record) as the host's local time with its zone.
    static func time(_ record: AuditRecord, _ key: String) -> String {
        guard case .string(let s)? = record.fields[key] else { return "?" }
        return RFC3339.parse(s).map(LocalTime.format) ?? Escape.text(s)
    }

    /// argv as one escaped line, each word quoted as `Escape.word` does, shortened; for a grant or
    /// request of any command of its rule, that and the rule's commands when the record lists them.
    static func command(_ record: AuditRecord) -> String {
        if case .string("rule")? = record.fields["scope"] {
            let rule = text(record, "rule", fallback: "?")
            guard case .array(let patterns)? = record.fields["rule_commands"] else {
                return "any command of rule '\(rule)'"
            }
            let listed = patterns.map { $0.stringValue.map(Escape.text) ?? "?" }.joined(separator: ", ")
            return shorten("any command of rule '\(rule)': \(listed)", maxCommand)
        }
        guard case .array(let words)? = record.fields["command"], !words.isEmpty else {
            return "any command of the rule"
        }
        let shown = words.map { word in UserText(json: word)?.quoted ?? Escape.word(word.canonical) }
        return shorten(shown.joined(separator: " "), maxCommand)
    }

    /// At most `limit` characters, marked with `...` when cut.
    static func shorten(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "..."
    }

    /// Slack's three escapes, for text that is already free of control characters.
    static func chatSafe(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(c)
            }
        }
        return out
    }
}
