import JitexecBase
import JitexecExec
import JitexecPolicy

/// Who is on call now (SPEC.md, On-call): a user is on call when any configured source says so —
/// membership of `[oncall] group`, a shift of the rotation file covering this instant, or the name
/// printed by `[oncall] command`. A source that cannot answer (unreadable schedule, a command that
/// fails or hangs) counts as "nobody is on call" for that source, never "everybody", and the
/// problem is kept so the caller can audit it.
enum OnCallCheck {
    struct Finding: Equatable {
        /// The source that put the user on call, e.g. "group oncall"; nil when not on call.
        var via: String?
        /// What could not be determined, one line each.
        var problems: [String] = []
    }

    /// How long the on-call command may run, as whom, and the most output read from it.
    static let commandTimeout = Duration.seconds(5)
    static let commandUser = "nobody"

    static func check(_ oncall: OnCall?, user: Account, now: Micros) -> Finding {
        guard let oncall else { return Finding(via: nil, problems: ["the policy has no [oncall] section"]) }
        var finding = Finding()
        if let group = oncall.group, user.groups.contains(group) {
            finding.via = "group \(group)"
            return finding
        }
        if let path = oncall.schedule {
            if let problem = oncall.scheduleProblem {
                finding.problems.append("the on-call schedule cannot be used: \(problem)")
            } else if Shift.onShift(oncall.shifts ?? [], at: now).contains(user.name) {
                finding.via = "schedule \(path)"
                return finding
            }
        }
        if let command = oncall.command, !command.isEmpty {
            switch runCommand(command) {
            case .success(let names) where names.contains(user.name):
                finding.via = "command \(command[0])"
            case .success:
                break
            case .failure(let problem):
                finding.problems.append(problem.message)
            }
        }
        return finding
    }

    struct Problem: Error { var message: String }

    /// The user names the on-call command prints (whitespace-separated), run as `nobody` with a
    /// timeout, no input and a minimal environment.
    static func runCommand(_ command: [String]) -> Result<Set<String>, Problem> {
        let shown = Escape.argv(command)
        guard let nobody = TargetIdentity.lookup(name: commandUser) else {
            return .failure(Problem(message: "the on-call command was not run: there is no user '\(commandUser)' to run it as"))
        }
        let outcome: BoundedRun.Outcome
        do {
            outcome = try BoundedRun.run(
                path: command[0], argv: command.map { UserText($0) }, environment: ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
                identity: nobody, timeout: commandTimeout)
        } catch {
            return .failure(Problem(message: "the on-call command \(shown) could not run: \(error.description)"))
        }
        switch outcome {
        case .timedOut:
            return .failure(Problem(message: "the on-call command \(shown) did not finish within \(commandTimeout.components.seconds)s and was killed"))
        case .finished(.exited(0), let output):
            let words = output.split(whereSeparator: { $0 == 0x20 || $0 == 0x0a || $0 == 0x09 || $0 == 0x0d })
            return .success(Set(words.map { String(decoding: $0, as: UTF8.self) }))
        case .finished(let status, _):
            let how = switch status {
            case .exited(let code): "exited with status \(code)"
            case .signaled(let signal): "was killed by signal \(signal)"
            }
            return .failure(Problem(message: "the on-call command \(shown) \(how)"))
        }
    }
}
