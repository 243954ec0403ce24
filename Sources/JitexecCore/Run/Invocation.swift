import Glibc
import JitexecBase
import JitexecPolicy
import JitexecSystem

/// Everything one `jitexec COMMAND` starts from: what the caller typed and what the process
/// brought with it. The steps of the run take it whole instead of a dozen parameters.
struct Invocation: Sendable {
    var args: JitexecArguments
    /// The caller's environment, set aside before the runtime started (CJitexecStartup).
    var environment: [UserText]
    /// The umask the caller started jitexec with.
    var umask: mode_t

    /// How a password may be asked for.
    var promptMode: PromptMode { PromptMode(args) }
}

extension PromptMode {
    /// `-n` never asks, `-S` reads standard input, otherwise the terminal.
    init(_ args: JitexecArguments) {
        self = args.nonInteractive ? .never : args.passwordFromStdin ? .stdin : .terminal
    }
}

/// The command as the policy sees it and what the policy decided for it: set once by
/// `RunPipeline.resolveCommand` and `decide`, read by every later step.
struct DecidedRun: Sendable {
    /// The canonical path the policy matched; it is also the command's argv[0].
    var path: String
    /// The arguments after argv[0], byte for byte.
    var arguments: [UserText]
    var target: Account
    /// The rule that allows the command or lets it be approved.
    var rule: Rule
    /// The rule's action is `approve`: the command runs only under a grant.
    var needsGrant: Bool
    /// Where the caller runs it (a command-scope grant is bound to it); nil when unreadable.
    var cwd: UserText?
    /// `-i` / `-s`: the command is the target's shell.
    var shell: ShellStart? = nil
    /// `-g GROUP`: the primary group `target` runs with.
    var group: String? = nil
    /// The target as the policy's `run_as` saw it (without the -g group).
    var policyTarget: Subject? = nil

    /// Who it runs as, as requests, grants and records name it: `root`, or `root:adm` with -g.
    var runAs: String { RunAsLabel.text(target.name, group) }

    /// The argv that runs, with the canonical path first.
    var command: [UserText] { [UserText(path)] + arguments }

    /// `jitexec -e`: `arguments` are the files to edit (`EditSession`).
    var isEdit: Bool { path == EditSession.command }

    /// What the run claims from a grant.
    func claim(_ ctx: Context) -> Workflow.Claim {
        Workflow.Claim(
            user: ctx.invoker.name, runAs: runAs, host: ctx.host, rule: rule, command: command, cwd: cwd)
    }
}

/// The run-as name of requests, grants and records: `USER`, or `USER:GROUP` with `-g`, so a grant
/// for one never covers the other.
enum RunAsLabel {
    static func text(_ user: String, _ group: String?) -> String { group.map { "\(user):\($0)" } ?? user }
}

/// How `jitexec -i` and `-s` start the target's shell (as sudo does).
enum ShellStart: Sendable, Equatable {
    /// `-i`: a login shell (argv[0] `-NAME`) in the target's home directory.
    case login
    /// `-s`: the shell in the current directory.
    case plain
}
