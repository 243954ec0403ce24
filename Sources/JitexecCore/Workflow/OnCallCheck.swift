import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecSystem

/// Who is on call now (SPEC.md, On-call): a user is on call when any configured source says so —
/// membership of `[oncall] group`, a shift of the rotation file covering this instant, or the name
/// printed by `[oncall] command`. A source that cannot answer (unreadable schedule, a command that
/// fails or hangs, or prints more than 64 KiB or anything but one user name per line) counts as
/// "nobody is on call" for that source, never "everybody", and the problem is kept so the caller
/// can audit it.
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
    static let commandOutputLimit = 64 * 1024

    static func check(_ oncall: OnCall?, user: Account, now: Instant) -> Finding {
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

    /// The user names the on-call command prints (one per line, see `onCallNames`), run as
    /// `nobody` with a timeout, no input and a minimal environment.
    static func runCommand(_ command: [String]) -> Result<Set<String>, Problem> {
        let shown = Escape.argv(command)
        guard let nobody = try? Accounts.byName(commandUser) else {
            return .failure(
                Problem(message: "the on-call command was not run: there is no user '\(commandUser)' to run it as"))
        }
        let outcome: BoundedRun.Outcome
        do {
            outcome = try BoundedRun.run(
                path: command[0], argv: command.map { UserText($0) },
                environment: ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
                identity: nobody, timeout: commandTimeout, outputLimit: commandOutputLimit)
        } catch {
            return .failure(Problem(message: "the on-call command \(shown) could not run: \(error.description)"))
        }
        switch outcome {
        case .timedOut, .stopped:  // never stopped: it is not given a `keepGoing`
            return .failure(
                Problem(
                    message:
                        "the on-call command \(shown) did not finish within \(commandTimeout.components.seconds)s and was killed"
                ))
        case .outputOverLimit:
            return .failure(
                Problem(
                    message:
                        "the on-call command \(shown) wrote more than \(commandOutputLimit / 1024) KiB of output and was killed; "
                        + "its output is not used"))
        case .finished(.exited(0), let output):
            return onCallNames(output).mapError { line in
                Problem(
                    message:
                        "the on-call command \(shown) printed output that is not one user name per line (\(line)); "
                        + "its output is not used")
            }
        case .finished(let status, _):
            let how =
                switch status {
                case .exited(let code): "exited with status \(code)"
                case .signaled(let signal): "was killed by signal \(signal)"
                }
            return .failure(Problem(message: "the on-call command \(shown) \(how)"))
        }
    }

    /// The names in the on-call command's output: exactly one user name per line, spaces and tabs
    /// around it (and a `\r` before the newline) ignored, blank lines ignored. Any other line
    /// makes the whole output unusable: a line with two words, or something that is not a valid
    /// user name (`isValidUserName`), fails with a description of the first bad line.
    static func onCallNames(_ output: [UInt8]) -> Result<Set<String>, OutputProblem> {
        var names: Set<String> = []
        let isBlank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }
        for (index, line) in output.split(separator: 0x0a, omittingEmptySubsequences: false).enumerated() {
            guard let first = line.firstIndex(where: { !isBlank($0) }) else { continue }
            let last = line.lastIndex(where: { !isBlank($0) })!
            let name = Array(line[first...last])
            guard isValidUserName(name) else {
                return .failure(OutputProblem(line: index + 1, text: name))
            }
            names.insert(String(decoding: name, as: UTF8.self))
        }
        return .success(names)
    }

    /// A line of the on-call command's output that is not one user name.
    struct OutputProblem: Error, Equatable, CustomStringConvertible {
        var line: Int
        var text: [UInt8]
        var description: String { "line \(line): \(Escape.word(Array(text.prefix(64))))" }
    }

    /// A POSIX portable user name: 1 to 32 bytes of `A-Za-z0-9 . _ -`, not starting with `-`.
    static func isValidUserName(_ name: [UInt8]) -> Bool {
        guard (1...32).contains(name.count), name[0] != UInt8(ascii: "-") else { return false }
        return name.allSatisfy { b in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }
}
