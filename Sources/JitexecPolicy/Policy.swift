import JitexecBase

/// Who a rule is about: a user by name, or every member of a group (`%name` in the policy); among
/// a rule's approvers also a program that decides, an `[[automation]]` (`@name`).
public enum Principal: Hashable, Sendable, CustomStringConvertible {
    case user(String)
    case group(String)
    case automation(String)

    /// Reads `alice`, `%developers` or `@ticket-check`; nil for an empty name.
    public init?(parsing text: String) {
        if text.hasPrefix("%") || text.hasPrefix("@") {
            let name = String(text.dropFirst())
            guard !name.isEmpty else { return nil }
            self = text.hasPrefix("%") ? .group(name) : .automation(name)
        } else {
            guard !text.isEmpty else { return nil }
            self = .user(text)
        }
    }

    /// The policy text: `alice` or `%developers`.
    public var description: String {
        switch self {
        case .user(let name): return name
        case .group(let name): return "%" + name
        case .automation(let name): return "@" + name
        }
    }

    /// The automation's name when this is `@name`.
    public var automationName: String? {
        if case .automation(let name) = self { return name }
        return nil
    }
}

/// What a matching rule does with a command.
public enum RuleAction: String, Sendable, CaseIterable {
    case allow, approve, deny
}

/// What an approved grant covers: exactly the approved argv, or any command of the rule.
public enum GrantScope: String, Sendable, CaseIterable {
    case command, rule
}

/// A place in a policy file.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    /// `FILE:LINE`.
    public var description: String { "\(file):\(line)" }
}

/// One `[[rule]]`: who may run which commands as whom, and how.
public struct Rule: Hashable, Sendable {
    public var name: String
    public var users: [Principal]
    public var runAs: [Principal]
    public var commands: [CommandPattern]
    public var action: RuleAction
    public var approvers: [Principal]
    public var approvals: Int
    /// nil: `[settings] max_grant` applies.
    public var maxGrant: TimeSpan?
    public var reasonRequired: Bool
    /// POSIX extended regular expression the reason or ticket must match (see `ReasonPattern`).
    public var reasonPattern: String?
    public var scope: GrantScope
    public var once: Bool
    /// fnmatch patterns of host names.
    public var hosts: [String]
    public var breakGlass: Bool
    public var breakGlassMax: TimeSpan?
    /// Record every command run under the rule (asciicast v2); default `[settings] record`.
    public var record: Bool
    /// Also record keyboard input (never what is typed with echo off).
    public var recordInput: Bool
    /// End the command when its grant expires or is revoked.
    public var enforceExpiry: Bool
    /// Groups a run may take as its primary group with `jitexec -g GROUP`; nil or empty: none.
    public var runAsGroups: [String]?
    /// The `[[rule]]` header.
    public var location: SourceLocation

    public init(
        name: String, users: [Principal], runAs: [Principal] = [.user("root")], commands: [CommandPattern],
        action: RuleAction, approvers: [Principal] = [], approvals: Int = 1, maxGrant: TimeSpan? = nil,
        reasonRequired: Bool = false, reasonPattern: String? = nil, scope: GrantScope = .command,
        once: Bool = false, hosts: [String] = ["*"], breakGlass: Bool = false, breakGlassMax: TimeSpan? = nil,
        record: Bool = false, recordInput: Bool = false, enforceExpiry: Bool = false, runAsGroups: [String]? = nil,
        location: SourceLocation = SourceLocation(file: "", line: 0)
    ) {
        self.runAsGroups = runAsGroups
        self.name = name
        self.users = users
        self.runAs = runAs
        self.commands = commands
        self.action = action
        self.approvers = approvers
        self.approvals = approvals
        self.maxGrant = maxGrant
        self.reasonRequired = reasonRequired
        self.reasonPattern = reasonPattern
        self.scope = scope
        self.once = once
        self.hosts = hosts
        self.breakGlass = breakGlass
        self.breakGlassMax = breakGlassMax
        self.record = record
        self.recordInput = recordInput
        self.enforceExpiry = enforceExpiry
        self.location = location
    }
}

/// `[settings]`, with the defaults of the spec's example policy.
public struct Settings: Hashable, Sendable {
    public static let defaultSecurePath = [
        "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
    ]

    public var securePath: [String] = Settings.defaultSecurePath
    /// `0` disables the credential cache.
    public var credentialCache = TimeSpan.minutes(5)
    public var requestTTL = TimeSpan.hours(1)
    public var defaultGrant = TimeSpan.minutes(15)
    public var maxGrant = TimeSpan.hours(4)
    public var waitTimeout = TimeSpan.minutes(15)
    public var envKeep = ["TERM", "LANG", "LC_*", "TZ", "COLORTERM"]
    public var admins: [Principal] = []
    /// Defaults for the rules' `record`, `record_input` and `enforce_expiry`.
    public var record = false
    public var recordInput = false
    public var enforceExpiry = false
    /// The largest one session's recording may grow, in bytes (`record_max`).
    public var recordMax: Int64 = 64 << 20
    /// The most all recordings together may fill, in bytes (`sessions_max`).
    public var sessionsMax: Int64 = 1 << 30

    public init() {}
}

/// `[oncall]`: any of a group, a rotation file, or a command that prints who is on call.
public struct OnCall: Hashable, Sendable {
    public var group: String?
    public var schedule: String?
    public var command: [String]?
    /// The rotation read from `schedule` when jitctl compiled the policy (jitexec reads no TOML),
    /// or why it could not be read; then nobody is on call by schedule.
    public var shifts: [Shift]?
    public var scheduleProblem: String?

    public init(group: String? = nil, schedule: String? = nil, command: [String]? = nil) {
        self.group = group
        self.schedule = schedule
        self.command = command
    }
}

/// One shift of the on-call rotation: `user` is on call from `from` (inclusive) to `to` (exclusive).
/// Shifts may overlap.
public struct Shift: Hashable, Sendable {
    public var user: String
    public var from: Instant
    public var to: Instant

    public init(user: String, from: Instant, to: Instant) {
        self.user = user
        self.from = from
        self.to = to
    }

    /// The users on shift at `instant`.
    public static func onShift(_ shifts: [Shift], at instant: Instant) -> [String] {
        shifts.filter { $0.from <= instant && instant < $0.to }.map(\.user)
    }
}

/// One `[[login]]`: shell logins of these users need a live login grant.
public struct LoginRule: Hashable, Sendable {
    public var users: [Principal]
    /// PAM service names (fnmatch patterns); default `["*"]`.
    public var services: [String]
    public var approvers: [Principal]
    public var approvals: Int
    public var maxGrant: TimeSpan?
    public var autoRequest: Bool
    public var hosts: [String]
    public var location: SourceLocation

    public init(
        users: [Principal], services: [String] = ["*"], approvers: [Principal], approvals: Int = 1,
        maxGrant: TimeSpan? = nil, autoRequest: Bool = false, hosts: [String] = ["*"],
        location: SourceLocation = SourceLocation(file: "", line: 0)
    ) {
        self.users = users
        self.services = services
        self.approvers = approvers
        self.approvals = approvals
        self.maxGrant = maxGrant
        self.autoRequest = autoRequest
        self.hosts = hosts
        self.location = location
    }
}

/// `[notify]`: a command run (unprivileged, with a timeout) for each listed audit event.
public struct Notify: Hashable, Sendable {
    /// Every event name the audit log knows, the only values `events` may hold.
    public static let allEvents: [String] = [
        "request.filed", "request.approved", "request.denied", "request.expired", "request.cancelled",
        "approval.added", "grant.created", "grant.used", "grant.revoked", "grant.expired",
        "exec.start", "exec.end", "auth.failure", "policy.denied", "breakglass.used", "breakglass.reviewed",
        "breakglass.refused", "login.allowed", "login.denied", "policy.invalid", "automation.run",
    ]
    /// `events` when the policy does not list them.
    public static let defaultEvents = [
        "request.filed", "request.approved", "request.denied", "breakglass.used", "grant.revoked",
    ]

    public var command: [String]
    public var runAs: String
    public var timeout: TimeSpan
    public var events: [String]

    public init(
        command: [String], runAs: String = "nobody", timeout: TimeSpan = TimeSpan(seconds: 5),
        events: [String] = Notify.defaultEvents
    ) {
        self.command = command
        self.runAs = runAs
        self.timeout = timeout
        self.events = events
    }
}

/// One `[[automation]]`: a program that decides requests of the rules naming it (`@name` among
/// their approvers). It runs as `runAs` (never root) with the request as JSON on stdin and answers
/// approve, deny or abstain; anything else counts as abstain (`AutomationRunner`).
public struct Automation: Hashable, Sendable {
    public var name: String
    /// An absolute path to a trusted file, then its arguments.
    public var command: [String]
    public var runAs: String
    public var timeout: TimeSpan
    /// While a request waits, run again this often; nil: once, when the request is filed.
    public var every: TimeSpan?
    /// The `[[automation]]` header.
    public var location: SourceLocation
    /// Where `command` is written, for `jitctl check`'s trust check.
    public var commandLocation: SourceLocation

    public static let defaultTimeout = TimeSpan(seconds: 10)

    public init(
        name: String, command: [String], runAs: String = "nobody", timeout: TimeSpan = Automation.defaultTimeout,
        every: TimeSpan? = nil, location: SourceLocation = SourceLocation(file: "", line: 0),
        commandLocation: SourceLocation? = nil
    ) {
        self.name = name
        self.command = command
        self.runAs = runAs
        self.timeout = timeout
        self.every = every
        self.location = location
        self.commandLocation = commandLocation ?? location
    }

    /// How it is named among approvers and in the records it leaves: `@name`.
    public var principalName: String { "@" + name }
}

/// Where requests, grants and the audit chain live.
public enum StoreBackend: String, Sendable, CaseIterable {
    case sqlite, postgresql
}

/// `[store]`.
public struct StoreConfig: Hashable, Sendable {
    public var backend: StoreBackend
    /// postgresql: a root-only file holding the connection URL.
    public var urlFile: String?

    public init(backend: StoreBackend = .sqlite, urlFile: String? = nil) {
        self.backend = backend
        self.urlFile = urlFile
    }
}

/// A loaded, validated and merged policy.
public struct Policy: Hashable, Sendable {
    public var settings: Settings
    /// In file order; the first matching rule wins.
    public var rules: [Rule]
    public var oncall: OnCall?
    public var logins: [LoginRule]
    public var notify: Notify?
    public var store: StoreConfig
    public var automations: [Automation]
    /// The files it was read from, main policy first.
    public var files: [String]

    public init(
        settings: Settings = Settings(), rules: [Rule] = [], oncall: OnCall? = nil, logins: [LoginRule] = [],
        notify: Notify? = nil, store: StoreConfig = StoreConfig(), automations: [Automation] = [],
        files: [String] = []
    ) {
        self.settings = settings
        self.rules = rules
        self.oncall = oncall
        self.logins = logins
        self.notify = notify
        self.store = store
        self.automations = automations
        self.files = files
    }

    /// The `[[automation]]` with this name (without the `@`).
    public func automation(named name: String) -> Automation? { automations.first { $0.name == name } }

    /// The automations a rule names among its approvers, in the order it names them.
    public func automations(of rule: Rule) -> [Automation] {
        rule.approvers.compactMap { $0.automationName.flatMap(automation(named:)) }
    }

    /// The rule with this name.
    /// A `[[login]]` is found by its name too (`login#N`), seen as a rule for the approval workflow.
    public func rule(named name: String) -> Rule? { rules.first { $0.name == name } ?? loginAsRule(named: name) }

    /// The name login requests and grants carry: `login#N`, N counting `[[login]]` tables from 1.
    public static func loginRuleName(_ index: Int) -> String { "login#\(index + 1)" }

    /// The `[[login]]` named `login#N` as a rule: its users, approvers, approvals, max_grant and
    /// hosts; no commands (it never matches one), a grant for any login of the user.
    public func loginAsRule(named name: String) -> Rule? {
        guard name.hasPrefix("login#"), let n = Int(name.dropFirst(6)), n >= 1, n <= logins.count else { return nil }
        let login = logins[n - 1]
        return Rule(
            name: name, users: login.users, runAs: login.users, commands: [], action: .approve,
            approvers: login.approvers, approvals: login.approvals, maxGrant: login.maxGrant, scope: .rule,
            hosts: login.hosts, location: login.location)
    }
}

/// The text of one policy file. The caller reads it (and checks who owns the file).
public struct PolicySource: Sendable {
    public var path: String
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}
