import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// What one run of an `[[automation]]` program answered.
struct AutomationVerdict: Equatable, Sendable {
    enum Decision: String, Sendable, CaseIterable {
        case approve, deny, abstain
    }

    var decision: Decision
    var comment: UserText? = nil
    /// approve: the grant may last at most this long (`duration`).
    var maxSeconds: Int64? = nil
    /// Why the run counts as abstain when the program did not say so itself; nil when it answered.
    var problem: String? = nil

    static func failed(_ problem: String) -> AutomationVerdict {
        AutomationVerdict(decision: .abstain, comment: nil, maxSeconds: nil, problem: problem)
    }
}

/// Running one `[[automation]]` program and reading its answer. The program must be a trusted file
/// (checked before each run), runs as `run_as` (never uid 0), gets the request on stdin and a fixed
/// environment, and must answer one JSON object on stdout and exit 0. Anything else abstains.
enum AutomationProgram {
    /// The most output read; more kills the program, and nothing it said counts.
    static let outputLimit = 64 * 1024
    /// The longest comment an answer may carry.
    static let maxComment = 1000
    static let answerKeys: Set<String> = ["decision", "comment", "duration"]
    /// The longest `JITEXEC_REASON` / `JITEXEC_TICKET` value passed in the environment.
    static let maxEnvironmentValue = 4096

    /// Runs the program once; `keepGoing` (asked twice a second) stops it early when the request
    /// was decided meanwhile. Whatever the program started is killed when the run ends (`contained`).
    static func run(
        _ automation: Automation, input: [UInt8], environment: [UserText], keepGoing: (() -> Bool)? = nil
    ) -> AutomationVerdict {
        let path = automation.command[0]
        if let problem = untrusted(path) { return .failed(problem) }
        let identity: Account
        do {
            guard let found = try Accounts.byName(automation.runAs) else {
                return .failed("run_as user '\(Escape.text(automation.runAs))' does not exist")
            }
            identity = found
        } catch {
            return .failed("run_as user '\(Escape.text(automation.runAs))' cannot be looked up: \(error)")
        }
        guard identity.uid != 0 else {
            return .failed("run_as '\(Escape.text(automation.runAs))' is root; automations run unprivileged")
        }
        let outcome: BoundedRun.Outcome
        do {
            outcome = try BoundedRun.run(
                path: path, argv: automation.command.map { UserText($0) }, environment: environment,
                identity: identity, timeout: .seconds(automation.timeout.seconds), outputLimit: outputLimit,
                input: input, contained: true, keepGoing: keepGoing)
        } catch {
            return .failed("could not start: \(error.description)")
        }
        switch outcome {
        case .timedOut:
            return .failed("timed out after \(automation.timeout) and was killed")
        case .outputOverLimit:
            return .failed("printed more than \(outputLimit / 1024) KiB and was killed")
        case .stopped:
            return .failed("was stopped: the request was decided while it ran")
        case .finished(.exited(0), let output):
            switch parse(output) {
            case .success(let verdict): return verdict
            case .failure(let problem): return .failed(problem.message)
            }
        case .finished(.exited(let code), _):
            return .failed("exited with status \(code)")
        case .finished(.signaled(let signal), _):
            return .failed("was killed by signal \(signal)")
        }
    }

    /// Why `path` may not be run as an automation (`TrustedFiles`: root-owned, not writable by
    /// group or others, nor any directory above it); nil when it may.
    static func untrusted(_ path: String) -> String? {
        do {
            try TrustedFiles.requireRootOwned(path, kind: .program)
            return nil
        } catch .untrusted(let bad, .missing) {
            return "not run: \(Escape.text(bad)) does not exist"
        } catch .untrusted(let bad, let problem) {
            return "not run: the program must be a trusted file, but \(Escape.text(bad)) \(problem.description)"
        } catch {
            return "not run: \(error.description)"
        }
    }

    /// `jitctl check`: an error for each automation whose program may not be run.
    static func untrustedPrograms(_ policy: Policy) -> [Diagnostic] {
        policy.automations.compactMap { a in
            untrusted(a.command[0]).map { .error(a.commandLocation, "automation '\(a.name)': \($0)") }
        }
    }

    struct Problem: Error, Equatable {
        var message: String
    }

    /// The answer in `output`: exactly one JSON object (whitespace around it allowed) with
    /// `decision` and optionally `comment` and, for approve, `duration`. Nothing else.
    static func parse(_ output: [UInt8]) -> Result<AutomationVerdict, Problem> {
        func bad(_ why: String) -> Result<AutomationVerdict, Problem> {
            .failure(Problem(message: "printed no valid answer: \(why)"))
        }
        guard output.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else {
            return .failure(Problem(message: "printed nothing"))
        }
        let item: JSONItem
        do {
            item = try JSONReader.parse(output[...])
        } catch {
            return bad(error.reason)
        }
        guard case .object(let object) = item else { return bad("not a JSON object") }
        if let extra = object.keys.filter({ !answerKeys.contains($0) }).sorted().first {
            return bad("unknown key '\(Escape.text(extra))'")
        }
        guard case .string(let word)? = object["decision"] else { return bad("'decision' must be a string") }
        guard let decision = AutomationVerdict.Decision(rawValue: word) else {
            return bad("'decision' must be \"approve\", \"deny\" or \"abstain\", not '\(Escape.text(word))'")
        }
        var verdict = AutomationVerdict(decision: decision, comment: nil, maxSeconds: nil, problem: nil)
        switch object["comment"] {
        case nil, .null?: break
        case .string(let text)?:
            guard text.utf8.count <= maxComment else { return bad("'comment' is longer than \(maxComment) bytes") }
            if !text.isEmpty { verdict.comment = UserText(text) }
        default: return bad("'comment' must be a string")
        }
        switch object["duration"] {
        case nil, .null?: break
        case .string(let text)?:
            guard decision == .approve else { return bad("'duration' goes with \"approve\" only") }
            guard let span = TimeSpan.parse(text), span.seconds > 0 else {
                return bad("'duration' must be a duration like \"30m\", not '\(Escape.text(text))'")
            }
            verdict.maxSeconds = span.seconds
        default: return bad("'duration' must be a string like \"30m\"")
        }
        return .success(verdict)
    }

    /// The program's stdin: the documented `jitexec.automation.request` object and a newline.
    static func input(
        _ automation: Automation, run: Int, request: Request, approvals: [Approval], rule: Rule, host: String,
        now: Instant
    ) -> [UInt8] {
        let object = JSONValue.object([
            "schema": .schema("jitexec.automation.request"),
            "automation": .string(automation.name),
            "run": .int(Int64(run)),
            "now": .string(RFC3339.format(now)),
            "host": .string(host),
            "rule": .object([
                "name": .string(rule.name), "approvers": .array(rule.approvers.map { .string($0.description) }),
                "approvals": .int(Int64(rule.approvals)),
            ]),
            "request": request.json(approvals: approvals),
        ])
        return Array((object.canonical + "\n").utf8)
    }

    /// The program's whole environment (documented in jitexec.toml(5)).
    static func environment(_ automation: Automation, request: Request) -> [UserText] {
        var env = [
            "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/", "JITEXEC_AUTOMATION=\(automation.name)",
            "JITEXEC_REQUEST=\(request.id)", "JITEXEC_REQUESTER=\(request.requester)", "JITEXEC_RULE=\(request.rule)",
        ].map { UserText($0) }
        // Raw bytes as the requester gave them. A value that could not be passed (a NUL), or one
        // longer than `maxEnvironmentValue` (which could make the program fail to start at all, so
        // that no automation could deny it), is left out: stdin has it whole.
        func add(_ name: String, _ value: UserText?) {
            guard let value, !value.isEmpty, value.bytes.count <= maxEnvironmentValue, !value.bytes.contains(0)
            else { return }
            env.append(UserText(bytes: Array("\(name)=".utf8) + value.bytes))
        }
        add("JITEXEC_TICKET", request.ticket)
        add("JITEXEC_REASON", request.reason)
        return env
    }
}
