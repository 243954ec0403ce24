import JitexecBase

// The policy as JSON, written and read by hand (`json` and `init(json:)` for each type): jitctl
// compiles the TOML into this form and jitexec reads it on every run (`CompiledPolicy`). Codable
// would do the same at the price, on every run, of Foundation's JSONDecoder and the Swift
// runtime's generic-metadata and protocol-conformance work it triggers. Every key is written, an
// absent optional as null; reading is strict (a missing key or another type fails), and a file
// that does not read is compiled again.

private typealias Failure = JSONReader.Failure

extension Principal {
    /// `"alice"`, `"%developers"`, `"@ticket-check"`: the policy's own spelling.
    public var json: JSONValue { .string(description) }

    package init(json item: JSONItem) throws(JSONReader.Failure) {
        guard case .string(let text) = item, let principal = Principal(parsing: text) else {
            throw Failure(reason: "a principal is not a user name, %group or @automation")
        }
        self = principal
    }
}

extension SourceLocation {
    public var json: JSONValue { .object(["file": .string(file), "line": .int(Int64(line))]) }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        self.init(file: try f.string("file"), line: Int(clamping: try f.int("line")))
    }
}

extension TimeSpan {
    public var json: JSONValue { .int(seconds) }

    package init(json item: JSONItem) throws(JSONReader.Failure) {
        guard case .number(_, let seconds?) = item, seconds.magnitude <= TimeSpan.longest.seconds.magnitude else {
            throw Failure(reason: "a span is not a whole number of seconds within \(TimeSpan.longest)")
        }
        self.init(seconds: seconds)
    }
}

extension CommandPattern {
    public var json: JSONValue {
        .object([
            "source": .string(source), "path": .string(path), "path_is_glob": .bool(pathIsGlob),
            "args": .array(args.map(JSONValue.string)), "any_rest": .bool(anyRest),
        ])
    }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        self.init(
            source: try f.string("source"), path: try f.string("path"), pathIsGlob: try f.bool("path_is_glob"),
            args: try f.strings("args"), anyRest: try f.bool("any_rest"))
    }
}

extension Diagnostic {
    public var json: JSONValue {
        .object(["location": location.json, "severity": .string(severity.rawValue), "message": .string(message)])
    }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        guard let severity = Severity(rawValue: try f.string("severity")) else {
            throw Failure(reason: "'severity' is not error or warning")
        }
        self.init(
            location: try SourceLocation(json: try f.fields("location")), severity: severity,
            message: try f.string("message"))
    }
}

/// Helpers for the fields every type here has.
extension JSONFields {
    fileprivate func principals(_ key: String) throws(JSONReader.Failure) -> [Principal] {
        var out: [Principal] = []
        for item in try array(key) { out.append(try Principal(json: item)) }
        return out
    }

    fileprivate func span(_ key: String) throws(JSONReader.Failure) -> TimeSpan {
        guard let item = object[key] else { throw Failure(reason: "'\(key)' is missing") }
        return try TimeSpan(json: item)
    }

    fileprivate func optionalSpan(_ key: String) throws(JSONReader.Failure) -> TimeSpan? {
        isNull(key) ? nil : try span(key)
    }

    fileprivate func optionalString(_ key: String) throws(JSONReader.Failure) -> String? {
        isNull(key) ? nil : try string(key)
    }

    fileprivate func optionalStrings(_ key: String) throws(JSONReader.Failure) -> [String]? {
        isNull(key) ? nil : try strings(key)
    }

    fileprivate func location(_ key: String) throws(JSONReader.Failure) -> SourceLocation {
        try SourceLocation(json: try fields(key))
    }

    /// Each element of the array at `key`, read as an object by `body`.
    fileprivate func each<T>(_ key: String, _ body: (JSONFields) throws(JSONReader.Failure) -> T)
        throws(JSONReader.Failure) -> [T]
    {
        var out: [T] = []
        for item in try array(key) { out.append(try body(try JSONFields(item, "an element of '\(key)'"))) }
        return out
    }
}

extension JSONValue {
    fileprivate static func strings(_ list: [String]) -> JSONValue { .array(list.map(JSONValue.string)) }
    fileprivate static func principals(_ list: [Principal]) -> JSONValue { .array(list.map(\.json)) }
    fileprivate static func optional(_ value: JSONValue?) -> JSONValue { value ?? .null }
}

extension Rule {
    public var json: JSONValue {
        .object([
            "name": .string(name), "users": .principals(users), "run_as": .principals(runAs),
            "commands": .array(commands.map(\.json)), "action": .string(action.rawValue),
            "approvers": .principals(approvers), "approvals": .int(Int64(approvals)),
            "max_grant": .optional(maxGrant?.json), "reason_required": .bool(reasonRequired),
            "reason_pattern": .optional(reasonPattern.map(JSONValue.string)), "scope": .string(scope.rawValue),
            "once": .bool(once), "hosts": .strings(hosts), "break_glass": .bool(breakGlass),
            "break_glass_max": .optional(breakGlassMax?.json), "record": .bool(record),
            "record_input": .bool(recordInput), "enforce_expiry": .bool(enforceExpiry),
            "run_as_groups": .optional(runAsGroups.map(JSONValue.strings)), "location": location.json,
        ])
    }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        guard let action = RuleAction(rawValue: try f.string("action")),
            let scope = GrantScope(rawValue: try f.string("scope"))
        else { throw Failure(reason: "a rule's action or scope is unknown") }
        self.init(
            name: try f.string("name"), users: try f.principals("users"), runAs: try f.principals("run_as"),
            commands: try f.each("commands") { (p) throws(JSONReader.Failure) in try CommandPattern(json: p) },
            action: action, approvers: try f.principals("approvers"), approvals: Int(clamping: try f.int("approvals")),
            maxGrant: try f.optionalSpan("max_grant"), reasonRequired: try f.bool("reason_required"),
            reasonPattern: try f.optionalString("reason_pattern"), scope: scope, once: try f.bool("once"),
            hosts: try f.strings("hosts"), breakGlass: try f.bool("break_glass"),
            breakGlassMax: try f.optionalSpan("break_glass_max"), record: try f.bool("record"),
            recordInput: try f.bool("record_input"), enforceExpiry: try f.bool("enforce_expiry"),
            runAsGroups: try f.optionalStrings("run_as_groups"), location: try f.location("location"))
    }
}

extension Settings {
    public var json: JSONValue {
        .object([
            "secure_path": .strings(securePath), "credential_cache": credentialCache.json,
            "request_ttl": requestTTL.json, "default_grant": defaultGrant.json, "max_grant": maxGrant.json,
            "wait_timeout": waitTimeout.json, "env_keep": .strings(envKeep), "admins": .principals(admins),
            "record": .bool(record), "record_input": .bool(recordInput), "enforce_expiry": .bool(enforceExpiry),
            "record_max": .int(recordMax), "sessions_max": .int(sessionsMax),
        ])
    }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        self.init()
        securePath = try f.strings("secure_path")
        credentialCache = try f.span("credential_cache")
        requestTTL = try f.span("request_ttl")
        defaultGrant = try f.span("default_grant")
        maxGrant = try f.span("max_grant")
        waitTimeout = try f.span("wait_timeout")
        envKeep = try f.strings("env_keep")
        admins = try f.principals("admins")
        record = try f.bool("record")
        recordInput = try f.bool("record_input")
        enforceExpiry = try f.bool("enforce_expiry")
        recordMax = try f.int("record_max")
        sessionsMax = try f.int("sessions_max")
    }
}

extension Shift {
    public var json: JSONValue { .object(["user": .string(user), "from": .int(from.micros), "to": .int(to.micros)]) }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        self.init(
            user: try f.string("user"), from: Instant(micros: try f.int("from")), to: Instant(micros: try f.int("to")))
    }
}

extension OnCall {
    public var json: JSONValue {
        .object([
            "group": .optional(group.map(JSONValue.string)), "schedule": .optional(schedule.map(JSONValue.string)),
            "command": .optional(command.map(JSONValue.strings)),
            "shifts": .optional(shifts.map { .array($0.map(\.json)) }),
            "schedule_problem": .optional(scheduleProblem.map(JSONValue.string)),
        ])
    }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        self.init(
            group: try f.optionalString("group"), schedule: try f.optionalString("schedule"),
            command: try f.optionalStrings("command"))
        shifts =
            f.isNull("shifts") ? nil : try f.each("shifts") { (s) throws(JSONReader.Failure) in try Shift(json: s) }
        scheduleProblem = try f.optionalString("schedule_problem")
    }
}

extension LoginRule {
    public var json: JSONValue {
        .object([
            "users": .principals(users), "services": .strings(services), "approvers": .principals(approvers),
            "approvals": .int(Int64(approvals)), "max_grant": .optional(maxGrant?.json),
            "auto_request": .bool(autoRequest), "hosts": .strings(hosts), "location": location.json,
        ])
    }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        self.init(
            users: try f.principals("users"), services: try f.strings("services"),
            approvers: try f.principals("approvers"), approvals: Int(clamping: try f.int("approvals")),
            maxGrant: try f.optionalSpan("max_grant"), autoRequest: try f.bool("auto_request"),
            hosts: try f.strings("hosts"), location: try f.location("location"))
    }
}

extension Notify {
    public var json: JSONValue {
        .object([
            "command": .strings(command), "run_as": .string(runAs), "timeout": timeout.json,
            "events": .strings(events),
        ])
    }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        self.init(
            command: try f.strings("command"), runAs: try f.string("run_as"), timeout: try f.span("timeout"),
            events: try f.strings("events"))
    }
}

extension StoreConfig {
    public var json: JSONValue {
        .object(["backend": .string(backend.rawValue), "url_file": .optional(urlFile.map(JSONValue.string))])
    }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        guard let backend = StoreBackend(rawValue: try f.string("backend")) else {
            throw Failure(reason: "'backend' is unknown")
        }
        self.init(backend: backend, urlFile: try f.optionalString("url_file"))
    }
}

extension Automation {
    public var json: JSONValue {
        .object([
            "name": .string(name), "command": .strings(command), "run_as": .string(runAs), "timeout": timeout.json,
            "every": .optional(every?.json), "location": location.json, "command_location": commandLocation.json,
        ])
    }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        self.init(
            name: try f.string("name"), command: try f.strings("command"), runAs: try f.string("run_as"),
            timeout: try f.span("timeout"), every: try f.optionalSpan("every"), location: try f.location("location"),
            commandLocation: try f.location("command_location"))
    }
}

extension Policy {
    public var json: JSONValue {
        .object([
            "settings": settings.json, "rules": .array(rules.map(\.json)), "oncall": .optional(oncall?.json),
            "logins": .array(logins.map(\.json)), "notify": .optional(notify?.json), "store": store.json,
            "automations": .array(automations.map(\.json)), "files": .strings(files),
        ])
    }

    package init(json f: JSONFields) throws(JSONReader.Failure) {
        self.init(
            settings: try Settings(json: try f.fields("settings")),
            rules: try f.each("rules") { (r) throws(JSONReader.Failure) in try Rule(json: r) },
            oncall: try f.optional("oncall") { (f, k) throws(JSONReader.Failure) in try OnCall(json: try f.fields(k)) },
            logins: try f.each("logins") { (l) throws(JSONReader.Failure) in try LoginRule(json: l) },
            notify: try f.optional("notify") { (f, k) throws(JSONReader.Failure) in try Notify(json: try f.fields(k)) },
            store: try StoreConfig(json: try f.fields("store")),
            automations: try f.each("automations") { (a) throws(JSONReader.Failure) in try Automation(json: a) },
            files: try f.strings("files"))
    }
}
