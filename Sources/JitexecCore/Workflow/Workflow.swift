import JitexecBase
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// The request → approve → grant workflow (SPEC.md, Lifecycle) as steps inside one store write
/// transaction each, so every decision and its audit record commit together or not at all.
enum Workflow {
    /// What a requester asks for.
    struct Ask: Sendable {
        var requester: Account
        var runAs: String
        var host: String
        /// argv with the resolved path first; empty for a rule-scope request filed ahead of time.
        var command: [UserText]
        var rule: Rule
        var reason: UserText
        var ticket: UserText?
        var cwd: UserText?
        var tty: UserText?
        var once: Bool
        var requestedSeconds: Int64?
        /// `command` (exactly this argv) or `rule` (any command of the rule).
        var scope: GrantScope

    }

    /// Checks the reason rules of a rule: a required reason must be there, and with a
    /// `reason_pattern` the reason or the ticket must match it.
    static func checkReason(_ rule: Rule, reason: UserText?, ticket: UserText?) throws(JitError) {
        let given = reason.map { !$0.bytes.allSatisfy { $0 == 0x20 } } ?? false
        if rule.reasonRequired && !given {
            throw .usage("rule '\(rule.name)' requires a reason: pass -r REASON")
        }
        if let pattern = rule.reasonPattern {
            let matched = [reason, ticket].contains { text in text.map { ReasonPattern.matches(pattern, $0) } ?? false }
            if !matched {
                throw .usage("rule '\(rule.name)' needs a reason or ticket (-T) matching \(pattern)")
            }
        }
    }
}

extension Scope {
    /// The scope a rule's grants have.
    init(_ scope: GrantScope) {
        switch scope {
        case .command: self = .command
        case .rule: self = .rule
        }
    }
}

/// A grant length given with `-d` (jitexec, `jitctl request`, `jitctl approve`): a positive
/// duration, in seconds; nil when none was given.
func grantLength(_ text: String?) throws(JitError) -> Int64? {
    guard let text else { return nil }
    guard let span = TimeSpan.parse(text), span.seconds > 0 else {
        throw .usage("-d takes a duration like 15m or 1h30m")
    }
    return span.seconds
}
