import ArgumentParser
import CJitexecStartup  // empties the environment before the runtime reads it (setuid runs)
import Glibc
import JitexecBase
import JitexecCore

// jitctl: policy, audit and (later) approval tools. Setuid root like jitexec, with the same
// hardening; argument parsing through swift-argument-parser, the work in JitexecCore.

/// Builds the live context or exits with the one-line reason.
func liveContext() throws -> Context {
    do {
        return try Context.live(program: "jitctl", policyLoader: TOMLPolicy.load)
    } catch {
        Output.live.err("jitctl: \(error.description)")
        throw ExitCode(error.exitStatus)
    }
}

/// -n never prompts, -S reads the password from standard input, otherwise the terminal.
func promptMode(_ nonInteractive: Bool, _ stdin: Bool) -> PromptMode {
    nonInteractive ? .never : stdin ? .stdin : .terminal
}

func finish(_ status: Int32) throws {
    if status != 0 { throw ExitCode(status) }
}

struct JitCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jitctl",
        abstract: "Policy, audit and approval tools for jitexec.",
        version: "jitctl \(Paths.builtIn.version)",
        subcommands: [
            Requests.self, Show.self, RequestCmd.self, Approve.self, Deny.self, Cancel.self, Grants.self, Revoke.self,
            Log.self, Verify.self, Check.self, Explain.self, Review.self, Sessions.self, Replay.self, Attach.self,
            Stop.self, Watch.self, Store.self, CompilePolicy.self, NotifyRun.self, Automate.self,
        ])
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a policy (the installed one by default): FILE:LINE: message, exit 1 on error.")
    @Argument(help: "A policy file to check on its own, read with your own permissions.") var file: String?
    func run() throws { try finish(CheckCommand.run(try liveContext(), file: file)) }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the resolved path, the matching rule and the decision for a command; runs nothing.")
    @Option(
        name: .customShort("U"), help: ArgumentHelp("Explain for this user instead of yourself.", valueName: "user"))
    var user: String?
    @Option(name: .customShort("u"), help: ArgumentHelp("Target user (default root).", valueName: "user")) var target:
        String?
    @Option(
        name: .customShort("g"),
        help: ArgumentHelp("Primary group of the run (jitexec -g; the rule's run_as_groups).", valueName: "group"))
    var group: String?
    @Option(help: "Host name (default this host).") var host: String?
    @Argument(parsing: .captureForPassthrough, help: "-- COMMAND [ARG...]") var command: [String] = []
    func run() throws {
        // The command is captured whole, so `explain --help` would explain a command named --help:
        // before a `--`, -h and --help ask for this help, as with every other verb.
        if let first = command.first, first == "-h" || first == "--help" { throw CleanExit.helpRequest(self) }
        let words = command.first == "--" ? Array(command.dropFirst()) : command
        try finish(
            ExplainCommand.run(
                try liveContext(), user: user, target: target, group: group, host: host,
                argv: words.map { UserText($0) }))
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show audit events (human table, or JSON Lines with --json).")
    @Option(help: "Only events since a duration ago (90m, 1h30m) or an RFC 3339 time.") var since: String?
    @Option(help: "Only events of this user (root and admins only for other users).") var user: String?
    @Option(help: "Only events of this type, e.g. exec.start.") var event: String?
    @Flag(help: "JSON Lines: seq, time, host, event, actor, fields..., prev_hash, hash.") var json = false
    @Flag(name: .shortAndLong, help: "Keep printing new events until Ctrl-C.") var follow = false
    func run() throws {
        try finish(
            LogCommand.run(
                try liveContext(), .init(since: since, user: user, event: event, json: json, follow: follow)))
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the audit hash chain; exit 1 naming the first bad record.")
    func run() throws { try finish(VerifyCommand.run(try liveContext())) }
}

struct Requests: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List pending requests (all with --all); * marks the ones you may approve.")
    @Flag(help: "Include decided requests.") var all = false
    @Option(help: "Only requests of this user.") var user: String?
    @Flag(help: "One JSON object per line.") var json = false
    func run() throws { try finish(ViewCommands.requests(try liveContext(), all: all, user: user, json: json)) }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one request with its approvals.")
    @Argument(help: "The request id.") var id: RecordID
    @Flag(help: "JSON.") var json = false
    func run() throws { try finish(ViewCommands.show(try liveContext(), id: id.value, json: json)) }
}

struct RequestCmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request", abstract: "File a request ahead of time for any command of a rule.")
    @Option(help: "The rule to ask for.") var rule: String?
    @Flag(help: "A login grant (shell login gating).") var login = false
    @Option(name: .customShort("u"), help: ArgumentHelp("Target user (default root).", valueName: "user")) var target:
        String?
    @Option(name: .customShort("d"), help: ArgumentHelp("Requested grant length, e.g. 30m.", valueName: "duration"))
    var duration: String?
    @Option(name: .customShort("r"), help: ArgumentHelp("Why.", valueName: "reason")) var reason: String
    @Option(name: .customShort("T"), help: ArgumentHelp("Ticket.", valueName: "ticket")) var ticket: String?
    @Option(help: "Host the grant is for (default this host).") var host: String?
    @Option(help: "With --login: the PAM service the login grant is for (e.g. sshd).") var service: String?
    @Flag(name: .customShort("n"), help: "Never prompt for a password.") var nonInteractive = false
    @Flag(name: .customShort("S"), help: "Read the password from standard input.") var stdin = false
    func run() throws {
        let ctx = try liveContext()
        if login {
            guard rule == nil, target == nil else { throw ValidationError("--login takes no --rule or -u") }
            return try finish(
                ActionCommands.requestLogin(
                    ctx, service: service, duration: duration, reason: reason, ticket: ticket, host: host,
                    mode: promptMode(nonInteractive, stdin)))
        }
        guard service == nil else { throw ValidationError("--service goes with --login") }
        guard let rule else {
            Output.live.err("jitctl: give --rule NAME or --login")
            throw ExitCode(1)
        }
        try finish(
            ActionCommands.request(
                ctx, rule: rule, target: target, duration: duration, reason: reason, ticket: ticket, host: host,
                mode: promptMode(nonInteractive, stdin)))
    }
}

struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Approve a request (you authenticate first).")
    @Argument(help: "The request id.") var id: RecordID
    @Option(
        name: .customShort("d"), help: ArgumentHelp("Shorten the grant to at most this long.", valueName: "duration"))
    var duration: String?
    @Option(name: .customShort("m"), help: ArgumentHelp("Comment.", valueName: "comment")) var comment: String?
    @Flag(name: .customShort("n"), help: "Never prompt for a password.") var nonInteractive = false
    @Flag(name: .customShort("S"), help: "Read the password from standard input.") var stdin = false
    func run() throws {
        try finish(
            ActionCommands.approve(
                try liveContext(), id: id.value, duration: duration, comment: comment,
                mode: promptMode(nonInteractive, stdin)
            ))
    }
}

struct Deny: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deny a request.")
    @Argument(help: "The request id.") var id: RecordID
    @Option(name: .customShort("m"), help: ArgumentHelp("Comment shown to the requester.", valueName: "comment"))
    var comment: String?
    @Flag(name: .customShort("n"), help: "Never prompt for a password.") var nonInteractive = false
    @Flag(name: .customShort("S"), help: "Read the password from standard input.") var stdin = false
    func run() throws {
        try finish(
            ActionCommands.deny(
                try liveContext(), id: id.value, comment: comment, mode: promptMode(nonInteractive, stdin)))
    }
}

struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Withdraw your own request.")
    @Argument(help: "The request id.") var id: RecordID
    @Flag(name: .customShort("n"), help: "Never prompt for a password.") var nonInteractive = false
    @Flag(name: .customShort("S"), help: "Read the password from standard input.") var stdin = false
    func run() throws {
        try finish(ActionCommands.cancel(try liveContext(), id: id.value, mode: promptMode(nonInteractive, stdin)))
    }
}

struct Grants: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List live grants (all with --all).")
    @Flag(help: "Include expired, used-up and revoked grants.") var all = false
    @Option(help: "Only grants of this user.") var user: String?
    @Flag(help: "One JSON object per line.") var json = false
    func run() throws { try finish(ViewCommands.grants(try liveContext(), all: all, user: user, json: json)) }
}

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke a grant (admin, approver of its rule, or the grantee).")
    @Argument(help: "The grant id.") var id: RecordID
    @Option(name: .customShort("m"), help: ArgumentHelp("Comment.", valueName: "comment")) var comment: String?
    @Flag(name: .customShort("n"), help: "Never prompt for a password.") var nonInteractive = false
    @Flag(name: .customShort("S"), help: "Read the password from standard input.") var stdin = false
    func run() throws {
        try finish(
            ActionCommands.revoke(
                try liveContext(), id: id.value, comment: comment, mode: promptMode(nonInteractive, stdin)))
    }
}

struct Review: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List break-glass uses waiting for review, or mark one ok or flagged (admins).")
    @Argument(help: "The break-glass grant id to mark.") var id: RecordID?
    @Flag(help: "The use was justified.") var ok = false
    @Flag(help: "The use needs a follow-up.") var flag = false
    @Option(name: .customShort("m"), help: ArgumentHelp("Comment.", valueName: "comment")) var comment: String?
    @Flag(help: "List reviewed uses too.") var all = false
    @Flag(help: "One JSON object per line.") var json = false
    @Flag(name: .customShort("n"), help: "Never prompt for a password.") var nonInteractive = false
    @Flag(name: .customShort("S"), help: "Read the password from standard input.") var stdin = false

    func validate() throws {
        if id == nil && (ok || flag || comment != nil) {
            throw ValidationError("give the grant id to mark: jitctl review ID --ok|--flag")
        }
        if id != nil && ok == flag { throw ValidationError("give exactly one of --ok or --flag") }
    }

    func run() throws {
        let ctx = try liveContext()
        guard let id else { return try finish(ReviewCommand.list(ctx, all: all, json: json)) }
        try finish(
            ReviewCommand.decide(
                ctx, id: id.value, verdict: ok ? .ok : .flagged, comment: comment,
                mode: promptMode(nonInteractive, stdin)))
    }
}

/// An id as jitctl's tables print it: `42` or `#42`.
struct RecordID: ExpressibleByArgument {
    let value: Int64
    init?(argument: String) {
        guard let value = Int64(argument.hasPrefix("#") ? String(argument.dropFirst()) : argument), value > 0 else {
            return nil
        }
        self.value = value
    }
}

struct Store: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the store.", subcommands: [StoreMigrate.self])
}

struct StoreMigrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy this host's SQLite history into the fleet database (root, once per host).")
    enum Backend: String, ExpressibleByArgument { case postgresql }
    @Option(help: "The store to move to (postgresql).") var to: Backend
    func run() throws { try finish(StoreMigrateCommand.run(try liveContext())) }
}

struct Sessions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List recorded sessions (admins: all; approvers: their rules'; you: your own).")
    @Option(help: "Only sessions of this user.") var user: String?
    @Option(help: "Only sessions started since a duration ago (90m) or an RFC 3339 time.") var since: String?
    @Flag(help: "Unrecorded sessions too.") var all = false
    @Flag(help: "One JSON object per line.") var json = false
    func run() throws {
        try finish(SessionCommands.list(try liveContext(), user: user, since: since, all: all, json: json))
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a recorded session with its timing (admins and approvers of its rule); Ctrl-C stops.")
    @Argument(help: "The session id.") var id: RecordID
    @Option(help: "Playback speed factor.") var speed: Double = 1
    @Option(name: .customLong("max-wait"), help: "Longest pause between outputs, in seconds.") var maxWait: Double = 2
    @Flag(help: "Print the output text only, without timing or terminal escape sequences.") var cat = false
    func run() throws {
        try finish(SessionCommands.replay(try liveContext(), id: id.value, speed: speed, maxWait: maxWait, cat: cat))
    }
}

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch a running recorded session live, read-only (admins and approvers of its rule).")
    @Argument(help: "The session id.") var id: RecordID
    func run() throws { try finish(SessionCommands.attach(try liveContext(), id: id.value)) }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "End a running session (admins and approvers of its rule); you authenticate first.")
    @Argument(help: "The session id.") var id: RecordID
    @Option(name: .customShort("m"), help: ArgumentHelp("Why; shown to the session's user.", valueName: "comment"))
    var comment: String?
    @Flag(name: .customShort("n"), help: "Never prompt for a password.") var nonInteractive = false
    @Flag(name: .customShort("S"), help: "Read the password from standard input.") var stdin = false
    func run() throws {
        try finish(
            SessionCommands.stop(
                try liveContext(), id: id.value, comment: comment, mode: promptMode(nonInteractive, stdin)))
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live feed of the requests you may decide, as they arrive and change, until Ctrl-C.")
    func run() throws { try finish(WatchCommand.run(try liveContext())) }
}

struct CompilePolicy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile-policy",
        abstract: "Compile the installed policy for jitexec (jitexec runs this itself when the policy changed).",
        shouldDisplay: false)
    func run() throws {
        let ctx = try liveContext()
        do {
            _ = try ctx.loadPolicy()
        } catch {
            ctx.complain(error.description)
            throw ExitCode(error.exitStatus)
        }
    }
}

struct NotifyRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify-run",
        abstract:
            "Tell approvers and run the notifier for audit record SEQ (jitexec and jitctl start this themselves).",
        shouldDisplay: false)
    @Argument(help: "The audit record's seq.") var seq: Int64
    func run() throws { try finish(NotifyRunner.run(try liveContext(), seq: seq)) }
}

struct Automate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "automate",
        abstract: "Run the automations that decide the request filed in audit record SEQ (jitexec starts this itself).",
        shouldDisplay: false)
    @Argument(help: "The seq of the request.filed record.") var seq: Int64
    func run() throws { try finish(AutomationRunner.run(try liveContext(), seq: seq)) }
}

/// jitctl's arguments are text (swift-argument-parser hands out Strings): a word that is not UTF-8
/// would reach the store altered (U+FFFD for each bad byte), so it is refused with one line instead.
func refuseNonUTF8Arguments() {
    for i in 1..<Int(CommandLine.argc) {
        guard let raw = CommandLine.unsafeArgv[i] else { continue }
        let word = UserText(cString: raw)
        guard word.string == nil else { continue }
        Output.live.err(
            "jitctl: argument \(i) (\(word.escaped)) is not valid UTF-8; jitctl takes text (jitexec keeps raw bytes in argv and -r)"
        )
        exit(1)
    }
}

umask(0o077)
refuseNonUTF8Arguments()
// Like every jitexec refusal, a usage error is one line and exit 1 (SPEC.md, Exit status);
// --help and --version print as swift-argument-parser formats them.
do {
    var command = try JitCtl.parseAsRoot()
    try command.run()
} catch let status as ExitCode {
    exit(status.rawValue)
} catch {
    if JitCtl.exitCode(for: error) == .success { JitCtl.exit(withError: error) }
    let message = JitCtl.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
    Output.live.err("jitctl: \(Escape.text(message)); see 'jitctl --help'")
    exit(1)
}
