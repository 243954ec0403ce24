import JitexecBase

/// The person asking, with the names of all their groups; or an automation (`@name`, no groups),
/// which only an `@name` principal names.
public struct Subject: Hashable, Sendable {
    public var user: String
    public var groups: [String]
    /// An `[[automation]]`: `user` is `@name`. Never matched by a user name, whatever accounts the
    /// name service holds.
    public var isAutomation = false

    public init(user: String, groups: [String]) {
        self.user = user
        self.groups = groups
    }

    /// The automation `@name`.
    public init(automation name: String) {
        self.user = "@" + name
        self.groups = []
        self.isAutomation = true
    }

    /// True when the principal names this user or one of their groups (or this automation).
    public func isIn(_ principals: [Principal]) -> Bool {
        principals.contains { principal in
            switch principal {
            case .user(let name): return !isAutomation && name == user
            case .group(let name): return !isAutomation && groups.contains(name)
            case .automation(let name): return isAutomation && user == "@" + name
            }
        }
    }
}

/// What the policy says about one command.
public enum Decision: Hashable, Sendable {
    case allow(Rule)
    case approve(Rule)
    /// nil: no rule matched.
    case deny(Rule?)
}

extension Rule {
    /// True when the target user is in `runAs`, by name or through one of the target's groups. The
    /// target's groups come with it, from a lookup that refused on error: a group lookup that failed
    /// here could otherwise make a deny rule with a `%group` target miss.
    public func allowsTarget(_ target: Subject) -> Bool {
        target.isIn(runAs)
    }

    /// True without `-g`, or when `run_as_groups` names the group asked for.
    public func allowsGroup(_ group: String?) -> Bool {
        group.map { runAsGroups?.contains($0) ?? false } ?? true
    }

    /// True when one of `hosts` matches the host name (fnmatch).
    public func appliesOnHost(_ host: String) -> Bool {
        hosts.contains { Glob.matches($0, UserText(host)) }
    }

    /// The first command pattern that matches the canonical path and arguments.
    public func matchingPattern(path: String, args: [UserText]) -> CommandPattern? {
        commands.first { $0.matches(path: path, args: args) }
    }
}

extension LoginRule {
    /// True when this rule gates the user's login through `service` on `host`.
    public func gates(_ subject: Subject, service: String, host: String) -> Bool {
        subject.isIn(users) && services.contains { Glob.matches($0, UserText(service)) }
            && hosts.contains { Glob.matches($0, UserText(host)) }
    }
}

extension Policy {
    /// First rule whose users contain the subject (by name or %group), whose runAs contains the target
    /// (by name or a %group the target is in), whose `run_as_groups` names `group` (with `-g`), whose
    /// hosts match the host, and one of whose commands matches path + args, wins. No match: `.deny(nil)`.
    public func decide(
        subject: Subject, target: Subject, host: String, path: String, args: [UserText], group: String? = nil
    ) -> (Decision, matchedPattern: CommandPattern?) {
        for rule in rules where subject.isIn(rule.users) && rule.appliesOnHost(host) {
            guard let pattern = rule.matchingPattern(path: path, args: args) else { continue }
            guard rule.allowsTarget(target), rule.allowsGroup(group) else { continue }
            switch rule.action {
            case .allow: return (.allow(rule), pattern)
            case .approve: return (.approve(rule), pattern)
            case .deny: return (.deny(rule), pattern)
            }
        }
        return (.deny(nil), nil)
    }

    /// Everyone who may approve for a rule: existing users, groups expanded, sorted, deduplicated.
    public func possibleApprovers(_ rule: Rule, system: some SystemLookup) -> [String] {
        system.expand(rule.approvers)
    }

    /// The automations that may approve for a rule, as they are named (`@ticket-check`).
    public func automationApprovers(_ rule: Rule) -> [String] {
        automations(of: rule).map(\.principalName)
    }

    /// Everyone who may approve a login grant under `login`.
    public func possibleApprovers(_ login: LoginRule, system: some SystemLookup) -> [String] {
        system.expand(login.approvers)
    }

    /// The index of the first `[[login]]` gating this login; any service when `service` is nil.
    public func loginRuleIndex(for subject: Subject, service: String?, host: String) -> Int? {
        logins.firstIndex { login in
            guard let service else {
                return subject.isIn(login.users) && login.hosts.contains { Glob.matches($0, UserText(host)) }
            }
            return login.gates(subject, service: service, host: host)
        }
    }

    /// True when the subject is one of `[settings] admins`.
    public func isAdmin(_ subject: Subject) -> Bool { subject.isIn(settings.admins) }
}
