import ArgumentParser
import Glibc
import JitexecBase
import JitexecCore

// jitctl: policy, audit and (later) approval tools. Setuid root like jitexec, with the same
// hardening; argument parsing through swift-argument-parser, the work in JitexecCore.

/// Builds the live context or exits with the one-line reason.
func liveContext() throws -> Context {
    do {
        return try Context.live(program: "jitctl")
    } catch {
        Output.live.err("jitctl: \(error.description)")
        throw ExitCode(error.exitStatus)
    }
}

func finish(_ status: Int32) throws {
    if status != 0 { throw ExitCode(status) }
}

struct JitCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jitctl",
        abstract: "Policy, audit and approval tools for jitexec.",
        version: "jitctl \(Paths.builtIn.version)",
        subcommands: [Check.self, Explain.self, Log.self, Verify.self])
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
    @Option(name: .customShort("U"), help: "Explain for this user instead of yourself.") var user: String?
    @Option(name: .customShort("u"), help: "Target user (default root).") var target: String?
    @Option(help: "Host name (default this host).") var host: String?
    @Argument(parsing: .captureForPassthrough, help: "-- COMMAND [ARG...]") var command: [String] = []
    func run() throws {
        let words = command.first == "--" ? Array(command.dropFirst()) : command
        try finish(ExplainCommand.run(try liveContext(), user: user, target: target, host: host, argv: words.map { UserText($0) }))
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show audit events (human table, or JSON Lines with --json).")
    @Option(help: "Only events since a duration ago (90m, 1h30m) or an RFC 3339 time.") var since: String?
    @Option(help: "Only events of this user (root and admins only for other users).") var user: String?
    @Option(help: "Only events of this type, e.g. exec.start.") var event: String?
    @Flag(help: "JSON Lines: seq, time, host, event, actor, fields..., prev_hash, hash.") var json = false
    @Flag(name: .shortAndLong, help: "Keep printing new events until Ctrl-C.") var follow = false
    func run() throws {
        try finish(LogCommand.run(
            try liveContext(), .init(since: since, user: user, event: event, json: json, follow: follow)))
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the audit hash chain; exit 1 naming the first bad record.")
    func run() throws { try finish(VerifyCommand.run(try liveContext())) }
}

umask(0o077)
JitCtl.main()
