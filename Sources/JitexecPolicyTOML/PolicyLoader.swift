import JitexecBase
import JitexecPolicy
import TOMLKit

/// TOML text -> validated, merged `Policy`, with `FILE:LINE` diagnostics.
public enum PolicyLoader {
    /// The top-level tables a policy may have.
    static let topLevelKeys = ["settings", "rule", "oncall", "login", "notify", "store", "automation"]

    /// Parses, validates and merges: `sources` = main policy.toml first, then policy.d/*.toml in name
    /// order. Returns the policy (nil when there is any error) and all diagnostics, errors and
    /// warnings, sorted by file (in the order given) then line.
    /// `isolated` (the default) parses each text in a child process first (`IsolatedTOML`); only the
    /// fuzzer turns it off, to reach the parser itself.
    public static func load(_ sources: [PolicySource], system: some SystemLookup, isolated: Bool = true)
        -> (policy: Policy?, diagnostics: [Diagnostic])
    {
        var diagnostics: [Diagnostic] = []
        var documents: [Document] = []
        for source in sources {
            let locator = LineLocator(text: source.text)
            if let (line, message) = locator.firstMalformed {
                diagnostics.append(.error(SourceLocation(file: source.path, line: line), message))
                continue
            }
            do {
                let table = isolated ? try IsolatedTOML.parse(source.text) : try TOMLTable(string: source.text)
                documents.append(Document(path: source.path, table: table, locator: locator))
            } catch let refused as IsolatedTOML.Refused {
                diagnostics.append(.error(SourceLocation(file: source.path, line: 1), refused.message))
            } catch let error as TOMLParseError {
                let location = SourceLocation(file: source.path, line: max(1, error.source.begin.line))
                diagnostics.append(.error(location, "TOML syntax error: \(error.description)"))
            } catch {
                diagnostics.append(.error(SourceLocation(file: source.path, line: 1), "TOML syntax error: \(error)"))
            }
        }
        var tables = Tables()
        for document in documents { tables.collect(document, into: &diagnostics) }
        let policy = interpret(tables, files: sources.map(\.path), system: system, diagnostics: &diagnostics)
        let sorted = sortedDiagnostics(diagnostics, files: sources.map(\.path))
        return (sorted.contains { $0.severity == .error } ? nil : policy, sorted)
    }

    /// The diagnostic of a text that could not be checked at all (the parser check was killed or could
    /// not run), if any: no verdict on the policy, so it must not be recorded as invalid.
    public static func notChecked(_ diagnostics: [Diagnostic]) -> Diagnostic? {
        diagnostics.first { $0.severity == .error && $0.message.hasPrefix(IsolatedTOML.notCheckedPrefix) }
    }

    /// Reads every section into typed values and runs the whole-policy checks.
    private static func interpret(
        _ tables: Tables, files: [String], system: some SystemLookup, diagnostics: inout [Diagnostic]
    ) -> Policy {
        func take<T>(_ result: (T, [Diagnostic])) -> T {
            diagnostics += result.1
            return result.0
        }
        let settings = tables.singles["settings"].map { take(SettingsSections.settings($0)) } ?? SettingsDraft()
        diagnostics += PolicyChecks.unknownPrincipals(settings.admins, key: "admins", system: system)

        let notify = tables.singles["notify"].flatMap { take(SettingsSections.notify($0, system: system)) }
        let automations = tables.automations.compactMap { take(SettingsSections.automation($0, system: system)) }
        diagnostics += PolicyChecks.duplicateAutomations(automations)
        diagnostics += PolicyChecks.sharedAutomationUsers(automations, notifier: notify?.runAs)
        var rules = tables.rules.compactMap { take(RuleSections.rule($0)) }
        diagnostics += PolicyChecks.duplicateNames(rules)
        diagnostics += PolicyChecks.automationApprovers(
            rules, automations: automations, incomplete: automations.count < tables.automations.count)
        var resolvedAll = true
        for index in rules.indices {
            let problems = PolicyChecks.resolveCommands(
                &rules[index], securePath: settings.settings.securePath, system: system)
            resolvedAll = resolvedAll && problems.isEmpty
            diagnostics += problems
            diagnostics += rules[index].applySessionDefaults(settings.settings)
            let draft = rules[index]
            diagnostics += PolicyChecks.unknownPrincipals(draft.users, key: "users", system: system)
            diagnostics += PolicyChecks.unknownPrincipals(draft.runAs, key: "run_as", system: system)
            diagnostics += PolicyChecks.unknownPrincipals(draft.approvers, key: "approvers", system: system)
            if draft.rule.action == .approve {
                diagnostics += PolicyChecks.approvalCount(
                    what: "rule \(named(draft.rule.name))", approvers: draft.rule.approvers,
                    approvals: draft.rule.approvals, automations: automations.map(\.name),
                    at: draft.approvalsLocation ?? draft.approversLocation ?? draft.rule.location, system: system)
            }
            diagnostics += PolicyChecks.grantCap(draft, settings: settings.settings)
        }
        if resolvedAll { diagnostics += PolicyChecks.shadowedRules(rules.map(\.rule)) }

        let logins = tables.logins.compactMap { take(RuleSections.login($0)) }
        for draft in logins {
            diagnostics += PolicyChecks.unknownPrincipals(draft.users, key: "users", system: system)
            diagnostics += PolicyChecks.unknownPrincipals(draft.approvers, key: "approvers", system: system)
            diagnostics += PolicyChecks.approvalCount(
                what: "[[login]]", approvers: draft.login.approvers, approvals: draft.login.approvals,
                at: draft.approvalsLocation ?? draft.approversLocation ?? draft.login.location, system: system)
        }
        return Policy(
            settings: settings.settings, rules: rules.map(\.rule),
            oncall: tables.singles["oncall"].map { take(SettingsSections.oncall($0, system: system)) },
            logins: logins.map(\.login),
            notify: notify,
            store: tables.singles["store"].map { take(SettingsSections.store($0)) } ?? StoreConfig(),
            automations: automations, files: files)
    }

    /// By file in the order given, then line; the order of discovery breaks ties.
    private static func sortedDiagnostics(_ diagnostics: [Diagnostic], files: [String]) -> [Diagnostic] {
        func rank(_ file: String) -> Int { files.firstIndex(of: file) ?? files.count }
        return diagnostics.enumerated().sorted { a, b in
            let (fa, fb) = (rank(a.element.location.file), rank(b.element.location.file))
            if fa != fb { return fa < fb }
            if a.element.location.line != b.element.location.line {
                return a.element.location.line < b.element.location.line
            }
            return a.offset < b.offset
        }.map(\.element)
    }
}

/// The tables of all files, gathered by kind: single tables merged key by key (a later file
/// overrides an earlier one, with a warning), `[[rule]]` and `[[login]]` appended in order.
private struct Tables {
    var singles: [String: Section] = [:]
    var rules: [Section] = []
    var logins: [Section] = []
    var automations: [Section] = []

    mutating func collect(_ document: Document, into diagnostics: inout [Diagnostic]) {
        for (key, value) in document.table {
            let location = document.anyLocation(of: key)
            switch key {
            case "settings", "oncall", "notify", "store":
                guard value.type == .table, let table = value.table else {
                    diagnostics.append(.error(location, "'\(key)' must be a table: write [\(key)]"))
                    continue
                }
                let ref = TableRef.table(key)
                var section = singles[key] ?? Section(table: ref, header: document.headerLocation(ref, name: key))
                for (old, new) in section.add(table, in: document) {
                    diagnostics.append(
                        .warning(new.location, "'\(new.key)' in [\(key)] overrides the value set at \(old.location)"))
                }
                singles[key] = section
            case "rule", "login", "automation":
                guard value.type == .array, let array = value.array, array.allSatisfy({ $0.type == .table }) else {
                    diagnostics.append(.error(location, "'\(key)' must be an array of tables: write [[\(key)]]"))
                    continue
                }
                for (index, element) in array.enumerated() {
                    let section = Section(element.table!, table: .arrayItem(key, index), name: key, in: document)
                    switch key {
                    case "rule": rules.append(section)
                    case "login": logins.append(section)
                    default: automations.append(section)
                    }
                }
            default:
                var message =
                    switch value.type {
                    case .table: "unknown table [\(Escape.text(key))]"
                    case .array where value.array?.first?.type == .table: "unknown table [[\(Escape.text(key))]]"
                    default: "unknown key \(named(key))"
                    }
                if let guess = closestName(to: key, among: PolicyLoader.topLevelKeys) {
                    message += " (did you mean '\(guess)'?)"
                }
                diagnostics.append(.error(location, message))
            }
        }
    }
}

extension Document {
    /// Where a top-level name is defined: `[name]`, the first `[[name]]`, or `name =`.
    func anyLocation(of name: String) -> SourceLocation {
        let line =
            locator.headerLine(.table(name)) ?? locator.headerLine(.arrayItem(name, 0))
            ?? locator.keyLine(.root, name) ?? 1
        return SourceLocation(file: path, line: line)
    }
}
