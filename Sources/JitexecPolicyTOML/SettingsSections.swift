import JitexecPolicy

/// `[settings]` as read, with the places needed by later checks.
struct SettingsDraft {
    var settings = Settings()
    var admins: [Located<Principal>] = []
    var maxGrantLocation: SourceLocation?
}

/// Readers for the single tables: `[settings]`, `[oncall]`, `[notify]`, `[store]`.
enum SettingsSections {
    static let settingsKeys = [
        "secure_path", "credential_cache", "request_ttl", "default_grant", "max_grant", "wait_timeout", "env_keep",
        "admins", "record", "record_input", "enforce_expiry", "record_max", "sessions_max",
    ]
    static let oncallKeys = ["group", "schedule", "command"]
    static let notifyKeys = ["command", "run_as", "timeout", "events"]
    static let storeKeys = ["backend", "url_file"]
    static let automationKeys = ["name", "command", "run_as", "timeout", "every"]
    /// The longest an automation may run: a run holds its `jitctl automate` process, and a request
    /// should be decided in seconds.
    static let maxAutomationTimeout = TimeSpan.minutes(5)

    static func settings(_ section: Section) -> (SettingsDraft, [Diagnostic]) {
        var r = SectionReader(section)
        r.rejectUnknownKeys(allowed: settingsKeys)
        var draft = SettingsDraft()
        if let path = r.string("secure_path") {
            draft.settings.securePath = path.value.split(separator: ":", omittingEmptySubsequences: false).map(
                String.init)
            for entry in draft.settings.securePath where !entry.hasPrefix("/") {
                r.warning(path.location, "'secure_path': entry \(quoted(entry)) is not absolute and is ignored")
            }
        }
        if let span = r.duration("credential_cache", positive: false) { draft.settings.credentialCache = span.value }
        if let span = r.duration("request_ttl") { draft.settings.requestTTL = span.value }
        let defaultGrant = r.duration("default_grant")
        if let defaultGrant { draft.settings.defaultGrant = defaultGrant.value }
        if let span = r.duration("max_grant") {
            draft.settings.maxGrant = span.value
            draft.maxGrantLocation = span.location
        }
        if let span = r.duration("wait_timeout") { draft.settings.waitTimeout = span.value }
        if let names = r.strings("env_keep") { draft.settings.envKeep = names.map(\.value) }
        if let admins = r.principals("admins") {
            draft.admins = admins
            draft.settings.admins = admins.map(\.value)
        }
        if let record = r.bool("record") { draft.settings.record = record }
        if let recordInput = r.bool("record_input") { draft.settings.recordInput = recordInput }
        if let enforceExpiry = r.bool("enforce_expiry") { draft.settings.enforceExpiry = enforceExpiry }
        if let size = r.size("record_max", minimum: 64 << 10) { draft.settings.recordMax = size.value }
        if let size = r.size("sessions_max", minimum: 64 << 10) { draft.settings.sessionsMax = size.value }
        if draft.settings.recordMax > draft.settings.sessionsMax {
            r.warning(
                r.location("record_max") ?? r.location("sessions_max") ?? section.header,
                "'record_max' is larger than 'sessions_max': one session could fill the folder")
        }
        if draft.settings.defaultGrant > draft.settings.maxGrant {
            r.warning(
                defaultGrant?.location ?? draft.maxGrantLocation ?? section.header,
                "'default_grant' \(draft.settings.defaultGrant) is longer than 'max_grant' \(draft.settings.maxGrant)")
        }
        return (draft, r.diagnostics)
    }

    static func oncall(_ section: Section, system: some SystemLookup) -> (OnCall, [Diagnostic]) {
        var r = SectionReader(section)
        r.rejectUnknownKeys(allowed: oncallKeys)
        let group = r.string("group")
        if let group, !system.groupExists(group.value) {
            r.warning(group.location, "'group': unknown group \(named(group.value))")
        }
        let schedule = r.string("schedule")
        if let schedule, !schedule.value.hasPrefix("/") {
            r.error(schedule.location, "'schedule' must be an absolute path")
        }
        let command = r.commandLine("command")
        if group == nil && schedule == nil && command == nil && r.diagnostics.isEmpty {
            r.warning(section.header, "[oncall] names no group, schedule or command: no one is ever on call")
        }
        return (OnCall(group: group?.value, schedule: schedule?.value, command: command), r.diagnostics)
    }

    static func notify(_ section: Section, system: some SystemLookup) -> (Notify?, [Diagnostic]) {
        var r = SectionReader(section)
        r.rejectUnknownKeys(allowed: notifyKeys)
        _ = r.require(["command"], what: "[notify]")
        let command = r.commandLine("command")
        let runAs = unprivilegedUser(&r, system: system, who: "notifiers")
        let timeout = r.duration("timeout")
        let events = r.strings("events")
        for event in events ?? [] where !Notify.allEvents.contains(event.value) {
            r.error(event.location, "'events': unknown event \(quoted(event.value))")
        }
        guard let command else { return (nil, r.diagnostics) }
        let notify = Notify(
            command: command, runAs: runAs?.value ?? "nobody", timeout: timeout?.value ?? TimeSpan(seconds: 5),
            events: events?.map(\.value) ?? Notify.defaultEvents)
        return (notify, r.diagnostics)
    }

    /// One `[[automation]]`; nil when a required part is missing or unreadable.
    static func automation(_ section: Section, system: some SystemLookup) -> (Automation?, [Diagnostic]) {
        var r = SectionReader(section)
        r.rejectUnknownKeys(allowed: automationKeys)
        let complete = r.require(["name", "command"], what: "[[automation]]")
        let name = r.string("name")
        if let name, !isAutomationName(name.value) {
            r.error(
                name.location,
                "'name' \(quoted(name.value)) must be letters, digits, '-' and '_', starting with a letter or digit (it is named \"@NAME\" among approvers)"
            )
        }
        let command = r.commandLine("command")
        let runAs = unprivilegedUser(&r, system: system, who: "automations")
        let timeout = r.duration("timeout")
        if let timeout, timeout.value > maxAutomationTimeout {
            r.error(
                timeout.location, "'timeout' \(timeout.value) is longer than the most allowed, \(maxAutomationTimeout)")
        }
        let every = r.duration("every")
        guard complete, let name, isAutomationName(name.value), let command,
            r.diagnostics.allSatisfy({ $0.severity != .error })
        else { return (nil, r.diagnostics) }
        let automation = Automation(
            name: name.value, command: command, runAs: runAs?.value ?? "nobody",
            timeout: timeout?.value ?? Automation.defaultTimeout, every: every?.value, location: section.header,
            commandLocation: r.location("command"))
        return (automation, r.diagnostics)
    }

    /// `run_as` of a helper jitexec starts (`who`: "notifiers"): never root; an unknown user is a warning.
    private static func unprivilegedUser(_ r: inout SectionReader, system: some SystemLookup, who: String)
        -> Located<String>?
    {
        let runAs = r.string("run_as")
        if let runAs, runAs.value == "root" {
            r.error(runAs.location, "'run_as': \(who) run unprivileged; name a user other than root (default nobody)")
        } else if let runAs, !system.userExists(runAs.value) {
            r.warning(runAs.location, "'run_as': unknown user \(named(runAs.value))")
        }
        return runAs
    }

    /// `[A-Za-z0-9][A-Za-z0-9_-]*`, at most 64 bytes.
    static func isAutomationName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), bytes[0] != UInt8(ascii: "-"), bytes[0] != UInt8(ascii: "_") else {
            return false
        }
        return bytes.allSatisfy { b in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: "-")
                || b == UInt8(ascii: "_")
        }
    }

    static func store(_ section: Section) -> (StoreConfig, [Diagnostic]) {
        var r = SectionReader(section)
        r.rejectUnknownKeys(allowed: storeKeys)
        let backend = r.choice("backend", StoreBackend.self)
        let urlFile = r.string("url_file")
        if let urlFile, !urlFile.value.hasPrefix("/") {
            r.error(urlFile.location, "'url_file' must be an absolute path")
        }
        if backend == .postgresql && urlFile == nil && r.section["url_file"] == nil {
            r.error(
                r.location("backend") ?? section.header,
                "backend \"postgresql\" needs 'url_file', a root-only file holding the connection URL")
        }
        return (StoreConfig(backend: backend ?? .sqlite, urlFile: urlFile?.value), r.diagnostics)
    }
}
