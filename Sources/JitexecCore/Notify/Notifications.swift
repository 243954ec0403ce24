import Glibc
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem
import Synchronization

/// Which committed audit records start the notification runner (and, for a filed request that
/// automations decide, the automation runner), and starting it. The runner
/// (`jitctl notify-run SEQ`) is started detached, as root, with a fixed environment, and never
/// waited for: a notifier's problems never change what the user's action does or its exit status,
/// and cost it no more than one fork and exec.
enum Notifications {
    /// The event the runner records when a notifier failed. Never notified itself (no loops).
    static let failedEvent = "notify.failed"
    /// Always runs the runner: logged-in approvers are told on their terminals.
    static let filedEvent = "request.filed"
    /// Always runs the runner too: the break-glass banner promises the approvers are told.
    static let breakGlassEvent = "breakglass.used"

    /// Whether a committed record of `event` starts the runner, given the `[notify] events`.
    static func startsRunner(event: String, configured: Set<String>) -> Bool {
        event != failedEvent && (event == filedEvent || event == breakGlassEvent || configured.contains(event))
    }

    /// The live store's audit sink: the syslog copy, then the runner for the records that want one.
    /// A runner that cannot start is remembered (`notify.failed`) and recorded by `Context.storeWrite`
    /// once the write that committed the record has returned: the sink never writes to the store.
    static func sink(_ ctx: Context) -> @Sendable (AuditRecord) -> Void {
        { record in
            AuditSyslog.send(record)
            if startsRunner(event: record.event, configured: ctx.notifyEvents), let failure = startRunner(ctx, record) {
                ctx.notifyFailures.add(failure)
            }
            if record.event == filedEvent, case .string(let rule)? = record.fields["rule"],
                ctx.automatedRules.contains(rule), let failure = AutomationRunner.startRunner(ctx, record)
            {
                ctx.notifyFailures.add(failure)
            }
        }
    }

    /// The runner's fixed environment.
    static let runnerEnvironment = ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"]

    /// Starts `PREFIX/bin/jitctl notify-run SEQ` detached; when it cannot start, the `notify.failed`
    /// record that says why (best effort: the user's action goes on either way).
    static func startRunner(_ ctx: Context, _ record: AuditRecord) -> AuditEvent? {
        startDetached(ctx, verb: "notify-run", seq: record.seq, what: "the notification runner").map {
            failedEvent(ctx, record, command: nil, runAs: nil, reason: $0)
        }
    }

    /// Starts `PREFIX/bin/jitctl VERB SEQ` detached, as root, with `runnerEnvironment`; nil when it
    /// started, else why not.
    static func startDetached(_ ctx: Context, verb: String, seq: Int64, what: String) -> String? {
        let jitctl = ctx.paths.binary("jitctl")
        do {
            try TrustedFiles.requireRootOwned(jitctl, kind: .program)
            let code = Spawn.detached(
                path: jitctl, argv: ["jitctl", verb, String(seq)], environment: runnerEnvironment)
            return code == 0 ? nil : "cannot start \(jitctl) \(verb): \(String(cString: strerror(code)))"
        } catch {
            return "cannot start \(what): \(error.description)"
        }
    }

    /// `notify.failed` for `record`: which event, which notifier, and why.
    static func failedEvent(_ ctx: Context, _ record: AuditRecord, command: [String]?, runAs: String?, reason: String)
        -> AuditEvent
    {
        var fields: [String: JSONValue] = [
            "notified_event": .string(record.event), "notified_seq": .int(record.seq), "reason": .string(reason),
        ]
        if let command { fields["command"] = .array(command.map { .string($0) }) }
        if let runAs { fields["run_as"] = .string(runAs) }
        return AuditEvent(event: Notifications.failedEvent, actor: ctx.invoker.name, fields: fields)
    }
}

/// `notify.failed` records waiting for the write that caused them to return.
final class PendingAuditEvents: Sendable {
    private let value = Mutex<[AuditEvent]>([])
    func add(_ event: AuditEvent) { value.withLock { $0.append(event) } }
    func drain() -> [AuditEvent] {
        value.withLock { events in
            defer { events = [] }
            return events
        }
    }
}
