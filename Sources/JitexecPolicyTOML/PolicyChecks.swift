import JitexecBase
import JitexecPolicy

/// The checks that need the whole merged policy or the system: command resolution, duplicate
/// names, unknown users and groups, approver counts, grant caps and shadowed rules.
enum PolicyChecks {
    /// An error for each rule name used before, pointing at the first use.
    static func duplicateNames(_ rules: [RuleDraft]) -> [Diagnostic] {
        var seen: [String: SourceLocation] = [:]
        var out: [Diagnostic] = []
        for draft in rules {
            if let first = seen[draft.rule.name] {
                out.append(
                    .error(
                        draft.nameLocation, "duplicate rule name \(named(draft.rule.name)) (first defined at \(first))")
                )
            } else {
                seen[draft.rule.name] = draft.nameLocation
            }
        }
        return out
    }

    /// Makes every literal command path absolute and canonical: bare names through `securePath`,
    /// the file must be an executable regular file. Glob paths must be absolute and are kept.
    static func resolveCommands(_ draft: inout RuleDraft, securePath: [String], system: some SystemLookup)
        -> [Diagnostic]
    {
        var out: [Diagnostic] = []
        for index in draft.commands.indices {
            let pattern = draft.commands[index].value
            let location = draft.commands[index].location
            let path = pattern.path
            if path == CommandPattern.sudoedit && !pattern.pathIsGlob {
                // `sudoedit FILE...`: files edited through jitexec -e, each an absolute path or glob.
                if pattern.args.isEmpty || pattern.anyRest {
                    out.append(
                        .error(
                            location,
                            "'sudoedit' must name the files it allows, each by its absolute path (globs allowed), and no '**'"
                        ))
                }
                for arg in pattern.args {
                    let names = Array(arg.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
                    if !arg.hasPrefix("/") {
                        out.append(.error(location, "sudoedit file \(named(arg)) is relative: write its absolute path"))
                    } else if names.dropFirst().contains(where: { $0.isEmpty || $0 == [0x2E] || $0 == [0x2E, 0x2E] }) {
                        // jitexec -e matches canonical paths only: such a word could never match.
                        out.append(
                            .error(
                                location,
                                "sudoedit file \(named(arg)) is not a canonical path: no empty, '.' or '..' parts, no trailing '/'"
                            ))
                    }
                }
                continue
            }
            if pattern.pathIsGlob || (path.contains("/") && !path.hasPrefix("/")) {
                if !path.hasPrefix("/") {
                    out.append(
                        .error(
                            location,
                            "command path \(named(path)) is relative: write an absolute path or a bare name found through secure_path"
                        ))
                }
                continue
            }
            switch CommandResolver.resolve(path, securePath: securePath, system: system) {
            case .found(let canonical):
                draft.commands[index].value.path = canonical
                let (target, name) = (lastComponent(canonical), lastComponent(path))
                // python3 -> python3.11 is a version link; reboot -> systemctl is a multi-call program.
                if !target.hasPrefix(name) && !name.hasPrefix(target) {
                    out.append(
                        .warning(
                            location,
                            "command \(named(path)) is a link to \(Escape.text(canonical)), which runs with that path as argv[0] and will not see the name \(named(name)); write the invocation \(Escape.text(target)) understands, e.g. '\(Escape.text(canonical)) \(Escape.text(name))'"
                        ))
                }
            case .notExecutable(let canonical):
                let shown = canonical == path ? named(path) : "\(named(path)) (\(Escape.text(canonical)))"
                out.append(.error(location, "command \(shown) is not an executable regular file"))
            case .notFound:
                let why = path.hasPrefix("/") ? "does not exist" : "is not found in secure_path"
                out.append(.error(location, "command \(named(path)) \(why)"))
            }
        }
        draft.rule.commands = draft.commands.map(\.value)
        return out
    }

    /// An error for each automation name used before.
    static func duplicateAutomations(_ automations: [Automation]) -> [Diagnostic] {
        var seen: [String: SourceLocation] = [:]
        var out: [Diagnostic] = []
        for a in automations {
            if let first = seen[a.name] {
                out.append(.error(a.location, "duplicate automation name \(named(a.name)) (first defined at \(first))"))
            } else {
                seen[a.name] = a.location
            }
        }
        return out
    }

    /// A warning for each automation whose `run_as` another program shares (`nobody`, another
    /// automation's, the notifier's): processes of one user can read and trace each other, so one
    /// program could answer for another.
    static func sharedAutomationUsers(_ automations: [Automation], notifier: String?) -> [Diagnostic] {
        var seen: [String: String] = [:]
        var out: [Diagnostic] = []
        let fix = "give each automation a user of its own (useradd --system --shell /usr/sbin/nologin NAME)"
        for a in automations {
            let user = named(a.runAs)
            if a.runAs == "nobody" {
                out.append(
                    .warning(
                        a.location,
                        "automation \(named(a.name)) runs as nobody, which other services share and which could read and trace its runs; \(fix)"
                    ))
            } else if let other = seen[a.runAs] {
                out.append(
                    .warning(
                        a.location,
                        "automation \(named(a.name)) runs as \(user) like automation \(named(other)): one could read and trace the other's runs and answer for it; \(fix)"
                    ))
            } else if a.runAs == notifier {
                out.append(
                    .warning(
                        a.location,
                        "automation \(named(a.name)) runs as \(user) like the notifier, which could read and trace its runs; \(fix)"
                    ))
            }
            seen[a.runAs] = seen[a.runAs] ?? a.name
        }
        return out
    }

    /// An error for each `@name` among a rule's approvers that no `[[automation]]` defines, and
    /// for an automation approving a rule that does not ask for approval. While an `[[automation]]`
    /// could not be read (`incomplete`), its own errors say enough.
    static func automationApprovers(_ rules: [RuleDraft], automations: [Automation], incomplete: Bool)
        -> [Diagnostic]
    {
        var out: [Diagnostic] = []
        let names = Set(automations.map(\.name))
        for draft in rules {
            for approver in draft.approvers {
                guard let name = approver.value.automationName, !names.contains(name), !incomplete else { continue }
                let known =
                    automations.isEmpty
                    ? "the policy has no [[automation]]"
                    : "defined: " + automations.map { "@" + $0.name }.joined(separator: ", ")
                out.append(
                    .error(
                        approver.location,
                        "'approvers': \(quoted("@" + name)) names no [[automation]] (\(known)); add one with name = \(quoted(name))"
                    ))
            }
        }
        return out
    }

    /// A warning for each principal that names no existing user or group.
    static func unknownPrincipals(_ principals: [Located<Principal>], key: String, system: some SystemLookup)
        -> [Diagnostic]
    {
        principals.compactMap { principal in
            if system.exists(principal.value) { return nil }
            let kind = if case .group = principal.value { "group" } else { "user" }
            return .warning(principal.location, "'\(key)': unknown \(kind) \(named(principal.value.description))")
        }
    }

    /// An error when more approvals are needed than distinct existing people could give.
    static func approvalCount(
        what: String, approvers: [Principal], approvals: Int, automations: [String] = [], at location: SourceLocation,
        system: some SystemLookup
    ) -> [Diagnostic] {
        guard !approvers.isEmpty else { return [] }
        // People, then the programs among the approvers: each counts once.
        let programs = Set(approvers.compactMap(\.automationName)).intersection(automations).sorted().map { "@" + $0 }
        let possible = system.expand(approvers) + programs
        guard approvals > possible.count else { return [] }
        let who = possible.isEmpty ? "" : " (\(possible.map { Escape.text($0) }.joined(separator: ", ")))"
        let message =
            "\(what) needs \(approvals) approval\(approvals == 1 ? "" : "s") but only \(possible.count) possible approver\(possible.count == 1 ? "" : "s") exist\(possible.count == 1 ? "s" : "")\(who)"
        // While some approvers are unknown on this host (a fresh machine, a group still to be
        // created) the count is not final: a warning, next to the unknown-group warning.
        if approvers.contains(where: { !system.exists($0) }) {
            return [.warning(location, message + " yet; some approvers are unknown on this host")]
        }
        return [.error(location, message)]
    }

    /// A warning when a rule's own cap is above the global one.
    static func grantCap(_ draft: RuleDraft, settings: Settings) -> [Diagnostic] {
        guard let maxGrant = draft.rule.maxGrant, maxGrant > settings.maxGrant else { return [] }
        return [
            .warning(
                draft.maxGrantLocation ?? draft.rule.location,
                "'max_grant' \(maxGrant) of rule \(named(draft.rule.name)) is longer than [settings] max_grant \(settings.maxGrant)"
            )
        ]
    }

    /// A warning for each rule that an earlier rule certainly hides.
    static func shadowedRules(_ rules: [Rule]) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for (n, later) in rules.enumerated() {
            guard let earlier = rules[..<n].first(where: { $0.shadows(later) }) else { continue }
            out.append(
                .warning(
                    later.location,
                    "rule \(named(later.name)) is never reached: rule \(named(earlier.name)) (\(earlier.location)) already matches everything it matches"
                ))
        }
        return out
    }
}

/// The last component of a path ("a" for "/x/a" and for "a").
private func lastComponent(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}
