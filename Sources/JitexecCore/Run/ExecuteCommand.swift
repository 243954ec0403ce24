import Glibc
import JitexecAuth
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// The PAM transaction a run holds from authentication to the command's end: `PAMSession`, or a
/// test's stand-in.
protocol PAMTransaction: AnyObject {
    func checkAccount() throws(AuthError)
    func switchUser(to name: String) throws(AuthError)
    func establishCredentials() throws(AuthError)
    func openSession() throws(AuthError)
    func closeSession() throws(AuthError)
}

extension PAMSession: PAMTransaction {}

/// Step 5 of a run (SPEC.md, Execution): the PAM session around the command, `exec.start`
/// committed durably (with the grant's use) before it starts, the environment built, the command
/// released only while its grant is in force and supervised, `exec.end` with status and duration.
enum ExecuteCommand {
    /// What lets the command run.
    enum Authority: Sendable {
        /// An `allow` rule: no grant is needed.
        case rule
        /// A live grant covering the run; `request` is the one this run waited for, if any.
        case grant(request: Int64?)
    }

    /// How the step ended.
    enum Result: Sendable {
        /// The command ran; its status as a shell reports it.
        case finished(Int32)
        /// The grant found a moment ago no longer covers the run (another run took its last use, or
        /// it was revoked or expired in between): nothing ran and nothing was recorded.
        case grantTaken

        /// The exit status, or `.grantGone` (77) when the grant was taken.
        func status() throws(JitError) -> Int32 {
            switch self {
            case .finished(let status): return status
            case .grantTaken: throw .grantGone
            }
        }
    }

    static func run(
        _ ctx: Context, _ run: DecidedRun, _ invocation: Invocation, pam: any PAMTransaction, authority: Authority,
        policy: Policy, terminal: ControllingTerminal
    ) throws(JitError) -> Result {
        // A recorded run needs its folder trusted and not full before anything is committed.
        if run.rule.record { try SessionRecording.prepareFolder(ctx, settings: policy.settings) }
        // sudoedit: the files opened and copied for the caller before anything is committed.
        let edit =
            try run.isEdit
            ? EditSession.open(paths: run.arguments.compactMap(\.string), caller: ctx.invoker, target: run.target)
            : nil
        do {
            try openSession(pam, target: run.target.name)
        } catch {
            edit?.removeCopies()
            throw error
        }
        // Terminal signals are held from before exec.start until the supervisor catches them (it
        // forwards them to the command): a Ctrl-C or Ctrl-Z in between would otherwise end or stop
        // this process with exec.start recorded and nothing run, and no exec.end.
        let hold = TerminalSignals.Hold()
        defer { hold.end() }
        let start: ExecStart
        do {
            guard let committed = try commitExecStart(ctx, run, authority: authority, terminal: terminal) else {
                try? pam.closeSession()
                edit?.removeCopies()
                return .grantTaken
            }
            start = committed
        } catch {
            try? pam.closeSession()
            edit?.removeCopies()
            throw error
        }
        let spec: ExecSpec
        do {
            spec =
                try edit?.editorSpec(
                    environment: invocation.environment, cwd: run.cwd?.string,
                    usePTY: ctx.effects.isTerminal(0) || ctx.effects.isTerminal(1))
                ?? commandSpec(ctx, run, invocation, start: start, policy: policy)
        } catch {
            try? pam.closeSession()
            edit?.removeCopies()
            commitFailedEnd(ctx, start: start, error: error)
            throw error
        }
        let outcome: ExitOutcome
        var recording: SessionRecording?
        let control: SessionControl
        do {
            recording =
                try run.rule.record ? SessionRecording.open(ctx, run, start.session, spec, policy.settings) : nil
            control = sessionControl(ctx, run, start: start, recorder: recording?.writer)
            // sudoedit's copies reach the caller only now, with the grant found in force.
            outcome = try supervise(
                ctx, spec, control: control, start: start, beforeStart: edit.map { e in e.handOver })
        } catch {
            try? pam.closeSession()
            _ = recording?.finish()
            edit?.removeCopies()
            commitFailedEnd(ctx, start: start, error: error)
            throw error
        }
        try? pam.closeSession()
        let digest = recording?.finish()
        let edited = edit.map { finishEdit(ctx, $0, outcome: outcome, control: control, start: start) }
        commitExecEnd(
            ctx, run, start: start, outcome: outcome,
            session: SessionEndFields(control: control, recording: recording?.path, digest: digest),
            files: edited?.files)
        // What sudoedit has to say comes after exec.end: a stderr nobody reads cannot hold it back.
        edited?.messages.forEach(ctx.complain)
        return .finished(edited?.status ?? outcome.shellStatus)
    }

    /// sudoedit's end: the changed copies written back only when the editor succeeded, nothing
    /// ended it (a stop, or its grant's revoke or end under `enforce_expiry`) and its grant is still
    /// in force now; what to tell the caller, and the status (1 or the editor's when not written).
    static func finishEdit(
        _ ctx: Context, _ edit: EditSession, outcome: ExitOutcome, control: SessionControl, start: ExecStart
    ) -> (files: [JSONValue], status: Int32, messages: [String]) {
        var why: String?
        if outcome.shellStatus != 0 {
            why = "the editor ended with status \(outcome.shellStatus)"
        } else if let ended = control.endedBy {
            why = "the edit was ended (\(ended))"
        } else if let grant = start.grant {
            do throws(JitError) {
                why = try stillInForce(ctx, grant).map { _ in "grant #\(grant.id) is no longer in force" }
            } catch {
                why = "grant #\(grant.id) could not be checked (\(error.description))"
            }
        }
        let (outcomes, kept) = edit.finish(editorSucceeded: why == nil)
        var messages: [String] = []
        if let why {
            messages.append("\(why): nothing was written; your copies are in \(Escape.text(edit.folder))")
        }
        for o in outcomes {
            if let problem = o.problem {
                messages.append("\(Escape.text(o.path)) was not written: \(problem)")
            } else if why == nil && !o.written {
                messages.append("\(Escape.text(o.path)) unchanged")
            }
        }
        if kept && why == nil {
            messages.append("your edited copies are kept in \(Escape.text(edit.folder))")
        }
        let failed = why != nil || outcomes.contains { $0.problem != nil }
        return (outcomes.map(\.json), failed ? max(outcome.shellStatus, 1) : 0, messages)
    }

    /// What the supervisor gets for the session: the recording, the monitor (a stop; under
    /// `enforce_expiry` the grant's revoke and end), containment of what the command starts, and
    /// under `enforce_expiry` the grant's end as the deadline and the end of what it leaves behind.
    static func sessionControl(
        _ ctx: Context, _ run: DecidedRun, start: ExecStart, recorder: (any SessionRecorder)?
    ) -> SessionControl {
        let enforced = run.rule.enforceExpiry ? start.grant : nil
        return SessionControl(
            recorder: recorder, recordInput: run.rule.recordInput,
            monitor: SessionMonitor.make(
                ctx, session: start.session, grant: start.grant, enforceExpiry: enforced != nil),
            contain: true, endLeftovers: run.rule.enforceExpiry,
            deadline: enforced.map { Clocks.monotonic() + max($0.expiresAt - ctx.clock(), .zero) },
            beforeSuspend: { ctx.settleCheckpoint() })
    }

    /// `exec.end` (and the session's end) when the command could not be run after `exec.start`.
    static func commitFailedEnd(_ ctx: Context, start: ExecStart, error: JitError) {
        var fields = start.fields
        fields["error"] = .string(error.description)
        let now = ctx.clock()
        try? ctx.storeWrite(ctx.store()) { w in
            _ = try w.endSession(
                id: start.session, SessionOutcome(at: now, ended: .exited, exitStatus: error.exitStatus))
            _ = try w.appendAudit(AuditEvent(event: "exec.end", actor: ctx.invoker.name, fields: fields))
        }
    }

    /// The PAM session (credentials, then session) opened for the target: PAM_USER becomes the
    /// target first, as with sudo, so the session's modules (`pam_limits`) apply the target's
    /// settings to the command, not the invoking user's (whose account was checked).
    static func openSession(_ pam: any PAMTransaction, target: String) throws(JitError) {
        do {
            try pam.switchUser(to: target)
            try pam.establishCredentials()
            try pam.openSession()
        } catch {
            throw .authentication("cannot open the PAM session: \(error.description); nothing was run")
        }
    }

    /// What `exec.start` recorded: its fields (`exec.end` repeats some) and the grant used.
    struct ExecStart: Sendable {
        var fields: [String: JSONValue]
        /// The session row of this run (`sessions`), and so the name of its recording.
        var session: Int64
        var grant: Grant?
        /// The request behind the run: the grant's, or the one this run waited for.
        var requestID: Int64?
    }

    /// One durable transaction takes the grant's use and records `exec.start`; if it cannot be
    /// committed nothing runs. Nil when no grant covers the run any more.
    static func commitExecStart(
        _ ctx: Context, _ run: DecidedRun, authority: Authority, terminal: ControllingTerminal
    ) throws(JitError) -> ExecStart? {
        var fields: [String: JSONValue] = [
            "command": .array(run.command.map(\.jsonValue)), "run_as": .string(run.runAs),
            "rule": .string(run.rule.name),
        ]
        if case .grant(let request?) = authority { fields["request"] = .int(request) }
        if let cwd = run.cwd { fields["cwd"] = cwd.jsonValue }
        if !terminal.name.isEmpty { fields["tty"] = .string(terminal.name) }
        let store = try ctx.store()
        let now = ctx.clock()
        let claim = run.claim(ctx)
        let me = getpid()
        return try ctx.storeWrite(store) { w throws -> ExecStart? in
            var start = ExecStart(fields: fields, session: 0, grant: nil, requestID: nil)
            if case .grant(let request) = authority {
                guard let grant = try Workflow.useGrant(w, claim, now: now) else { return nil }
                start.grant = grant
                start.requestID = grant.requestID ?? request
                start.fields["grant"] = .int(grant.id)
                if let r = grant.requestID { start.fields["request"] = .int(r) }
            }
            if case .grant(let request?) = authority, start.requestID == nil { start.requestID = request }
            start.session = try w.insertSession(
                Session(
                    user: ctx.invoker.name, runAs: run.runAs, host: ctx.host, command: run.command,
                    rule: run.rule.name, grantID: start.grant?.id, requestID: start.requestID, startedAt: now, pid: me,
                    pidStart: ProcessTree.startTime(of: me) ?? 0, enforceExpiry: run.rule.enforceExpiry))
            if run.rule.record {
                try w.setSessionRecording(id: start.session, path: ctx.paths.recording(session: start.session))
            }
            start.fields["session"] = .int(start.session)
            _ = try w.appendAudit(AuditEvent(event: "exec.start", actor: ctx.invoker.name, fields: start.fields))
            return start
        }
    }

    /// The command as it starts: argv[0] is the canonical path the policy matched, never the name
    /// the caller typed (a link named after another applet of a multi-call binary must not pick
    /// what the binary does); the environment is the allowlist plus the JITEXEC_* variables.
    static func commandSpec(
        _ ctx: Context, _ run: DecidedRun, _ invocation: Invocation, start: ExecStart, policy: Policy
    ) -> ExecSpec {
        var extra = [
            ("JITEXEC_USER", ctx.invoker.name), ("JITEXEC_UID", String(ctx.invoker.uid)),
            ("JITEXEC_COMMAND", commandVariable(run.command.map(\.escaped).joined(separator: " "))),
        ]
        if let r = start.requestID { extra.append(("JITEXEC_REQUEST", String(r))) }
        if let grant = start.grant { extra.append(("JITEXEC_GRANT", String(grant.id))) }
        let environment = Environment.sanitized(
            from: invocation.environment, keep: policy.settings.envKeep, target: run.target,
            securePath: policy.settings.securePath.joined(separator: ":"), extra: extra)
        var argv = run.command
        var cwd = run.cwd?.string
        if run.shell == .login {
            // A login shell: "-bash" as argv[0], started in the target's home, as login(1) and sudo -i do.
            argv[0] = UserText("-" + (run.path.split(separator: "/").last.map(String.init) ?? "sh"))
            cwd = run.target.home
        }
        return ExecSpec(
            path: run.path, argv: argv, environment: environment, identity: run.target,
            umask: invocation.umask | 0o022, cwd: cwd,
            usePTY: ctx.effects.isTerminal(0) || ctx.effects.isTerminal(1))
    }

    /// Runs the command to its end. Under a grant, the command starts only once the grant is found
    /// in force again, right before the child is started, with the time of that moment: a revoke
    /// or the expiry that came after exec.start (however long this process was stopped in between)
    /// keeps the command from starting.
    /// `beforeStart` runs just before the command is released (after that check under a grant).
    static func supervise(
        _ ctx: Context, _ spec: ExecSpec, control: SessionControl, start: ExecStart,
        beforeStart: (() throws(JitError) -> Void)? = nil
    ) throws(JitError) -> ExitOutcome {
        var ended: JitError?
        let release: (() -> Bool)? = start.grant.map { used in
            { () -> Bool in
                do throws(JitError) {
                    ended = try stillInForce(ctx, used)
                    if ended == nil { try beforeStart?() }
                } catch {
                    ended = error
                }
                // The command starts now, with the store's last use before exec.end behind us.
                if ended == nil { ctx.checkpointBeside() }
                return ended == nil
            }
        }
        if start.grant == nil {
            try beforeStart?()
            ctx.checkpointBeside()
        }
        do {
            return try ctx.effects.supervise(spec, control, release)
        } catch {
            throw ended ?? .execFailed(error.description, status: error.exitStatus)
        }
    }

    /// nil while `grant` is still in force now (not revoked, not expired), else why the command must
    /// not start. Its use was taken with exec.start, so uses left do not count here.
    static func stillInForce(_ ctx: Context, _ grant: Grant) throws(JitError) -> JitError? {
        let store = try ctx.store()
        let current = try ctx.storeRead(store) { r in try r.grant(id: grant.id) }
        let now = ctx.clock()
        guard let current, current.revokedAt == nil else {
            return .closed("grant #\(grant.id) was revoked before the command started; nothing was run")
        }
        return current.isInForce(at: now)
            ? nil : .closed("grant #\(grant.id) expired before the command started; nothing was run")
    }

    /// How the session ended, as `exec.end` and the session row record it.
    struct SessionEndFields {
        var control: SessionControl
        var recording: String?
        var digest: FileDigest.Result?

        var end: SessionEnd { control.endedBy.flatMap(SessionEnd.init(rawValue:)) ?? .exited }
    }

    /// `exec.end`: status, signal and duration, the session and its recording, and how jitexec ended
    /// the command when it did. Atomic but not synced: a power failure may lose this record, never
    /// exec.start. The command has run either way, so a failure is said, not thrown.
    static func commitExecEnd(
        _ ctx: Context, _ run: DecidedRun, start: ExecStart, outcome: ExitOutcome, session: SessionEndFields,
        files: [JSONValue]? = nil
    ) {
        var end: [String: JSONValue] = [
            "command": .array(run.command.map(\.jsonValue)), "run_as": .string(run.runAs),
            "status": .int(Int64(outcome.shellStatus)), "duration_ms": .int(outcome.duration.wholeMilliseconds),
            "session": .int(start.session),
        ]
        if case .signaled(let n) = outcome.termination { end["signal"] = .int(Int64(n)) }
        if let grant = start.grant { end["grant"] = .int(grant.id) }
        if let path = session.recording {
            end["recording"] = .string(path)
            if let digest = session.digest {
                end["recording_size"] = .int(digest.size)
                end["recording_sha256"] = .string(digest.sha256)
            }
        }
        if session.end != .exited { end["ended"] = .string(session.end.rawValue) }
        // sudoedit: each file with its SHA-256 before and after, and whether it was written.
        if let files { end["files"] = .array(files) }
        if let failure = session.control.recordingFailure { end["error"] = .string(failure.description) }
        let now = ctx.clock()
        do {
            let store = try ctx.store()
            _ = try ctx.storeWrite(store, relaxed: true) { w in
                if session.end == .stopped, let stopped = try w.session(id: start.session) {
                    end["stopped_by"] = .string(stopped.stopBy ?? "?")
                    if let comment = stopped.stopComment { end["comment"] = comment.jsonValue }
                }
                _ = try w.endSession(
                    id: start.session,
                    SessionOutcome(
                        at: now, ended: session.end, exitStatus: outcome.shellStatus,
                        recordingSize: session.digest?.size, recordingSHA256: session.digest?.sha256))
                return try w.appendAudit(AuditEvent(event: "exec.end", actor: ctx.invoker.name, fields: end))
            }
        } catch {
            ctx.complain("the command ran, but its exec.end record could not be written: \(error.description)")
        }
    }

    /// The longest `JITEXEC_COMMAND` value, in bytes.
    static let maxCommandVariable = 4096

    /// `JITEXEC_COMMAND`: the escaped command line, cut at `maxCommandVariable` bytes with a marker
    /// saying so. Uncut, a long command could not start at all: the kernel takes at most 128 KiB
    /// per environment string and 2 MiB for argv and environment together, and argv is already there.
    static func commandVariable(_ shown: String) -> String {
        let total = shown.utf8.count
        guard total > maxCommandVariable else { return shown }
        let marker = " ... (cut, \(total) bytes in all)"
        var kept = String.UnicodeScalarView()
        var size = 0
        for scalar in shown.unicodeScalars {
            size += scalar.utf8.count
            if size > maxCommandVariable - marker.utf8.count { break }
            kept.append(scalar)
        }
        return String(kept) + marker
    }
}
