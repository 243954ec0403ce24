import Glibc
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitctl notify-run SEQ`: what happens after audit record SEQ committed. Started by jitexec and
/// jitctl themselves (`Notifications.startRunner`), detached and as root; refuses anyone whose
/// real uid is not 0, so a user cannot fire notifications by hand.
///
/// For `request.filed` it tells the logged-in approvers of the request's rule on their terminals
/// (`ApproverTerminals`). For the events `[notify] events` lists it runs the notifier as `run_as`
/// (groups, gid and uid taken fully), with the record as one JSON line on stdin (the same object
/// as a `jitctl log --json` line), a minimal environment, `/` as working directory, in its own
/// process group, killed at `timeout`. A non-zero exit, a timeout or a failure to start is audited
/// as `notify.failed`.
public enum NotifyRunner {
    public static func run(_ ctx: Context, seq: Int64, realUID: uid_t = Privileges.caller.uid) -> Int32 {
        guard realUID == 0 else {
            ctx.complain("notify-run is started by jitexec itself after an audit event; it cannot be run by hand")
            return 1
        }
        return ctx.run { () throws -> Int32 in
            let policy = try ctx.loadPolicy()
            // The record's store must exist already; a runner never creates one.
            var st = stat()
            guard lstat(ctx.paths.database, &st) == 0 else {
                throw JitError.storeUnavailable("\(ctx.paths.database) does not exist; nothing to notify")
            }
            let store = try ctx.store()
            let found = try ctx.storeRead(store) { r in try r.auditRecords(AuditFilter(afterSeq: seq - 1, limit: 1)) }
            guard let record = found.first, record.seq == seq else {
                throw JitError.usage("there is no audit record \(seq); 'jitctl log' lists them")
            }
            if record.event == Notifications.filedEvent {
                ApproverTerminals.tell(
                    approvers(of: record, policy: policy, ctx: ctx), message: NotifyText.terminal(record))
            } else if record.event == Notifications.breakGlassEvent {
                ApproverTerminals.tell(
                    approvers(of: record, policy: policy, ctx: ctx),
                    message: "\r\njitexec: \(NotifyText.plain(record))\r\n")
            }
            guard let notify = policy.notify, notify.events.contains(record.event) else { return 0 }
            guard let failure = runNotifier(notify, record: record) else { return 0 }
            ctx.complain("the notifier for record \(seq) (\(record.event)) failed: \(failure)")
            _ = try ctx.storeWrite(store) { w in
                try w.appendAudit(
                    Notifications.failedEvent(
                        ctx, record, command: notify.command, runAs: notify.runAs, reason: failure))
            }
            return 1
        }
    }

    /// Who may approve the request of a `request.filed` record now: the rule's approvers, expanded,
    /// without the requester.
    static func approvers(of record: AuditRecord, policy: Policy, ctx: Context) -> Set<String> {
        guard case .string(let name)? = record.fields["rule"], let rule = policy.rule(named: name) else { return [] }
        return Set(policy.possibleApprovers(rule, system: ctx.system)).subtracting([record.actor])
    }

    /// Runs the notifier for `record`; nil when it exited 0, else why not.
    static func runNotifier(_ notify: Notify, record: AuditRecord) -> String? {
        guard let identity = try? Accounts.byName(notify.runAs) else {
            return "run_as user '\(Escape.text(notify.runAs))' does not exist"
        }
        guard identity.uid != 0 else {
            return "run_as '\(Escape.text(notify.runAs))' is root; notifiers run unprivileged"
        }
        let spec = ExecSpec(
            path: notify.command[0], argv: notify.command.map { UserText($0) },
            environment: environment(record).map { UserText($0) }, identity: identity, umask: 0o077, cwd: "/")
        let outcome: TimedRun.Outcome
        do {
            outcome = try TimedRun.run(
                spec, input: Array((record.json.canonical + "\n").utf8), timeout: .seconds(notify.timeout.seconds))
        } catch {
            return "could not start: \(error.description)"
        }
        switch outcome {
        case .exited(0): return nil
        case .timedOut: return "timed out after \(notify.timeout) and was killed"
        default: return outcome.description
        }
    }

    /// The notifier's whole environment. `JITEXEC_NOTIFY_TEXT` is a JSON string literal (quotes
    /// included) of `NotifyText.chat`, ready to paste into a JSON body.
    static func environment(_ record: AuditRecord) -> [String] {
        [
            "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/",
            "JITEXEC_EVENT=\(record.event)", "JITEXEC_SEQ=\(record.seq)",
            "JITEXEC_NOTIFY_TEXT=\(JSONValue.string(NotifyText.chat(record)).canonical)",
        ]
    }
}
