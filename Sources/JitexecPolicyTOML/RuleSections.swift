import JitexecPolicy

/// A `[[rule]]` as read from its file, with the places of its parts, before the checks that need
/// the whole policy or the system (command resolution, approvers, shadowing).
struct RuleDraft {
    var rule: Rule
    var users: [Located<Principal>]
    var runAs: [Located<Principal>]
    var approvers: [Located<Principal>]
    /// Parsed patterns, not yet resolved or canonicalized.
    var commands: [Located<CommandPattern>]
    var nameLocation: SourceLocation
    var approvalsLocation: SourceLocation?
    var approversLocation: SourceLocation?
    var maxGrantLocation: SourceLocation?
    /// `record`, `record_input`, `enforce_expiry` as written; nil takes the `[settings]` default.
    var record: Bool? = nil
    var recordInput: Bool? = nil
    var enforceExpiry: Bool? = nil

    /// The session keys with the `[settings]` defaults applied (`enforce_expiry` only where there is
    /// a grant to end), and the one combination that promises what nothing does.
    mutating func applySessionDefaults(_ settings: Settings) -> [Diagnostic] {
        rule.record = record ?? settings.record
        rule.recordInput = rule.record && (recordInput ?? settings.recordInput)
        rule.enforceExpiry = enforceExpiry ?? (settings.enforceExpiry && rule.action != .allow)
        // Only the rule's own `record_input = true` promises input it would not record.
        guard recordInput == true && !rule.record else { return [] }
        return [
            Diagnostic(
                location: rule.location, severity: .error,
                message:
                    "rule \(named(rule.name)) has 'record_input = true' but does not record; set 'record = true' (or remove record_input)"
            )
        ]
    }
}

/// A `[[login]]` as read from its file.
struct LoginDraft {
    var login: LoginRule
    var users: [Located<Principal>]
    var approvers: [Located<Principal>]
    var approvalsLocation: SourceLocation?
    var approversLocation: SourceLocation?
}

/// `reason = "required" | "optional"`.
private enum ReasonMode: String, CaseIterable {
    case required, optional
}

enum RuleSections {
    static let ruleKeys = [
        "name", "users", "run_as", "commands", "action", "approvers", "approvals", "max_grant", "reason",
        "reason_pattern", "scope", "once", "hosts", "break_glass", "break_glass_max", "record", "record_input",
        "enforce_expiry", "run_as_groups",
    ]
    static let loginKeys = ["users", "services", "approvers", "approvals", "max_grant", "auto_request", "hosts"]

    /// Reads one `[[rule]]`; nil when a required part is missing or unreadable.
    static func rule(_ section: Section) -> (RuleDraft?, [Diagnostic]) {
        var r = SectionReader(section)
        r.rejectUnknownKeys(allowed: ruleKeys)
        let name = r.string("name")
        if let name, name.value.isEmpty { r.error(name.location, "'name' must not be empty") }
        let what = name.map { "rule \(named($0.value))" } ?? "[[rule]]"
        let complete = r.require(["name", "users", "commands", "action"], what: what)
        let users = r.principals("users", nonEmpty: true)
        let runAs = r.principals("run_as", nonEmpty: true)
        let commands = patterns(&r)
        let action = r.choice("action", RuleAction.self)
        let approvers = r.principals("approvers", automations: true) ?? []
        let approvals = positiveCount(&r)
        let maxGrant = r.duration("max_grant")
        let reason = r.choice("reason", ReasonMode.self)
        let reasonPattern = r.string("reason_pattern")
        if let reasonPattern, let problem = ReasonPattern.compileError(reasonPattern.value) {
            r.error(
                reasonPattern.location,
                "'reason_pattern' \(quoted(reasonPattern.value)) is not a valid extended regular expression: \(problem)"
            )
        }
        let scope = r.choice("scope", GrantScope.self)
        let once = r.bool("once")
        let hosts = r.strings("hosts", nonEmpty: true)
        let breakGlass = r.bool("break_glass")
        let breakGlassMax = r.duration("break_glass_max")
        let record = r.bool("record")
        let recordInput = r.bool("record_input")
        let enforceExpiry = r.bool("enforce_expiry")
        let runAsGroups = r.strings("run_as_groups")
        if enforceExpiry == true && action == .allow {
            r.error(
                r.location("enforce_expiry") ?? section.header,
                "'enforce_expiry = true' needs a grant to end, but \(what) has action \"allow\"; use action \"approve\" or remove it"
            )
        }
        if action == .approve && approvers.isEmpty && r.section["approvers"]?.value.array?.isEmpty ?? true {
            r.error(r.location("approvers") ?? section.header, "\(what) has action \"approve\" but no approvers")
        }
        guard complete, let name, !name.value.isEmpty, let users, let commands, let action else {
            return (nil, r.diagnostics)
        }
        let rootDefault = [Located(value: Principal.user("root"), location: section.header)]
        let rule = Rule(
            name: name.value, users: users.map(\.value), runAs: (runAs ?? rootDefault).map(\.value),
            commands: commands.map(\.value), action: action, approvers: approvers.map(\.value),
            approvals: approvals?.value ?? 1, maxGrant: maxGrant?.value, reasonRequired: reason == .required,
            reasonPattern: reasonPattern?.value, scope: scope ?? .command, once: once ?? false,
            hosts: hosts?.map(\.value) ?? ["*"], breakGlass: breakGlass ?? false, breakGlassMax: breakGlassMax?.value,
            runAsGroups: runAsGroups.map { $0.map(\.value) }, location: section.header)
        var draft = RuleDraft(
            rule: rule, users: users, runAs: runAs ?? rootDefault, approvers: approvers, commands: commands,
            nameLocation: name.location, approvalsLocation: approvals?.location,
            approversLocation: r.location("approvers"), maxGrantLocation: maxGrant?.location)
        draft.record = record
        draft.recordInput = recordInput
        draft.enforceExpiry = enforceExpiry
        return (draft, r.diagnostics)
    }

    /// Linux-PAM lowercases the service name given to pam_start (`sshd` for `SSHD`), so a
    /// `services` entry with an upper-case letter would never match any login.
    private static func requireLowerCase(_ service: Located<String>, _ r: inout SectionReader) {
        let lower = String(decoding: service.value.utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
        guard lower != service.value else { return }
        r.error(
            service.location,
            "'services': \(quoted(service.value)) has upper-case letters, but Linux-PAM lowercases service names "
                + "and would never match it; write \(quoted(lower))")
    }

    /// Reads one `[[login]]`; nil when a required part is missing or unreadable.
    static func login(_ section: Section) -> (LoginDraft?, [Diagnostic]) {
        var r = SectionReader(section)
        r.rejectUnknownKeys(allowed: loginKeys)
        let complete = r.require(["users", "approvers"], what: "[[login]]")
        let users = r.principals("users", nonEmpty: true)
        let services = r.strings("services", nonEmpty: true)
        for service in services ?? [] { requireLowerCase(service, &r) }
        let approvers = r.principals("approvers", nonEmpty: true)
        let approvals = positiveCount(&r)
        let maxGrant = r.duration("max_grant")
        let autoRequest = r.bool("auto_request")
        let hosts = r.strings("hosts", nonEmpty: true)
        guard complete, let users, let approvers else { return (nil, r.diagnostics) }
        let login = LoginRule(
            users: users.map(\.value), services: services?.map(\.value) ?? ["*"], approvers: approvers.map(\.value),
            approvals: approvals?.value ?? 1, maxGrant: maxGrant?.value, autoRequest: autoRequest ?? false,
            hosts: hosts?.map(\.value) ?? ["*"], location: section.header)
        let draft = LoginDraft(
            login: login, users: users, approvers: approvers, approvalsLocation: approvals?.location,
            approversLocation: r.location("approvers"))
        return (draft, r.diagnostics)
    }

    /// `commands`, each parsed as a pattern; nil when any fails.
    private static func patterns(_ r: inout SectionReader) -> [Located<CommandPattern>]? {
        guard let texts = r.strings("commands", nonEmpty: true) else { return nil }
        var out: [Located<CommandPattern>] = []
        var failed = false
        for text in texts {
            do {
                out.append(Located(value: try CommandPattern.parse(text.value), location: text.location))
            } catch {
                r.error(text.location, "command \(quoted(text.value)): \(error)")
                failed = true
            }
        }
        return failed ? nil : out
    }

    /// `approvals`, which must be at least 1.
    private static func positiveCount(_ r: inout SectionReader) -> Located<Int>? {
        guard let approvals = r.int("approvals") else { return nil }
        guard approvals.value >= 1 else {
            r.error(approvals.location, "'approvals' must be at least 1")
            return nil
        }
        return approvals
    }
}
