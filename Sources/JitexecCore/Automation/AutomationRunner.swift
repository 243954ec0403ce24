import Glibc
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// `jitctl automate SEQ`: the automations of a filed request. Started by jitexec and jitctl
/// themselves when they commit a `request.filed` record whose rule names `@automations` among its
/// approvers (`startRunner`), detached and as root; refuses anyone whose real uid is not 0.
///
/// It runs each automation the rule names (in the order named) while the request is pending, one
/// after another (`AutomationProgram`), and records each verdict (`Workflow.recordAutomationRun`).
/// With `every`, it runs that automation again at that interval until the request is decided or
/// expires; the policy is read again before each round, so a change to it takes effect.
public enum AutomationRunner {
    public static func run(_ ctx: Context, seq: Int64, realUID: uid_t = Privileges.caller.uid) -> Int32 {
        guard realUID == 0 else {
            ctx.complain(
                "automate is started by jitexec itself when a request is filed; it cannot be run by hand")
            return 1
        }
        return ctx.run { () throws -> Int32 in
            var policy = try ctx.loadPolicy()
            // The record's store must exist already; a runner never creates one.
            var st = stat()
            guard lstat(ctx.paths.database, &st) == 0 || policy.store.backend != .sqlite else {
                throw JitError.storeUnavailable("\(ctx.paths.database) does not exist; nothing to decide")
            }
            let store = try ctx.store()
            let found = try ctx.storeRead(store) { r in try r.auditRecords(AuditFilter(afterSeq: seq - 1, limit: 1)) }
            guard let record = found.first, record.seq == seq, record.event == Notifications.filedEvent,
                case .int(let id)? = record.fields["request"]
            else {
                throw JitError.usage("audit record \(seq) is not a filed request; 'jitctl log' lists them")
            }
            var runs: [String: Int] = [:]
            var due: [String: Duration] = [:]
            while true {
                guard let (request, _) = try pending(ctx, store, id: id), let rule = policy.rule(named: request.rule)
                else { return 0 }
                for automation in policy.automations(of: rule) {
                    let count = runs[automation.name] ?? 0
                    guard count == 0 || (automation.every != nil && due[automation.name]! <= Clocks.monotonic())
                    else { continue }
                    runs[automation.name] = count + 1
                    if let every = automation.every {
                        due[automation.name] = Clocks.monotonic() + .seconds(every.seconds)
                    }
                    if try runOnce(ctx, store, automation, id: id, run: count + 1, policy: policy) { return 0 }
                }
                // The next round: when the first automation with `every` is due again.
                let next = policy.automations(of: rule).compactMap { a in a.every == nil ? nil : due[a.name] }.min()
                guard let next else { return 0 }
                while Clocks.monotonic() < next {
                    // Wake at least every few seconds to stop soon after the request is decided.
                    let left = next - Clocks.monotonic()
                    let nap = min(left, .seconds(5))
                    var ts = timespec(
                        tv_sec: Int(nap.components.seconds), tv_nsec: Int(nap.components.attoseconds / 1_000_000_000))
                    nanosleep(&ts, nil)
                    guard try pending(ctx, store, id: id) != nil else { return 0 }
                }
                policy = try ctx.loadPolicy()
            }
        }
    }

    /// `jitctl check`: an error for each automation whose program is not a trusted file.
    public static func untrustedPrograms(_ policy: Policy) -> [Diagnostic] {
        AutomationProgram.untrustedPrograms(policy)
    }

    /// The request and its approvals while it is pending and not past its TTL; nil otherwise.
    static func pending(_ ctx: Context, _ store: any JitStore, id: Int64) throws(JitError) -> (Request, [Approval])? {
        let (request, approvals) = try ctx.storeRead(store) { r in
            (try r.request(id: id), try r.approvals(requestID: id))
        }
        guard let request, request.status == .pending, request.expiresAt > ctx.clock() else { return nil }
        return (request, approvals)
    }

    /// Runs `automation` once for request `id` and records its verdict; true when the request is
    /// decided now (or was already).
    static func runOnce(
        _ ctx: Context, _ store: any JitStore, _ automation: Automation, id: Int64, run: Int, policy: Policy
    ) throws(JitError) -> Bool {
        guard let (request, approvals) = try pending(ctx, store, id: id),
            let rule = policy.rule(named: request.rule)
        else { return true }
        let input = AutomationProgram.input(
            automation, run: run, request: request, approvals: approvals, rule: rule, host: ctx.host, now: ctx.clock())
        // Stopped early once the request is decided (cancelled, approved by a person, expired): a
        // cancelled request's program does not keep running to its timeout.
        let verdict = AutomationProgram.run(
            automation, input: input, environment: AutomationProgram.environment(automation, request: request),
            keepGoing: {
                do {
                    return try pending(ctx, store, id: id) != nil
                } catch {
                    return true  // a store that cannot answer now stops nothing; the record says later
                }
            })
        // What the verdict may do is decided by the policy of now: it may have changed while the
        // program ran (the rule no longer naming it, another max_grant).
        var current = policy
        var ignoring: String?
        do {
            current = try ctx.loadPolicy()
        } catch {
            ignoring = "the policy cannot be loaded now (\(error.description)); the verdict is not used"
        }
        let now = ctx.clock()
        return try ctx.storeWrite(store) { w in
            try Workflow.recordAutomationRun(
                w, requestID: id, automation: automation, run: run, verdict: verdict, policy: current,
                system: ctx.system, now: now, ignoring: ignoring)
        }
    }

    /// Starts `PREFIX/bin/jitctl automate SEQ` detached for a committed `request.filed` record;
    /// when it cannot start, the `automation.run` record that says so (best effort: the request
    /// stays pending for people, and the user's action goes on).
    static func startRunner(_ ctx: Context, _ record: AuditRecord) -> AuditEvent? {
        guard
            let failure = Notifications.startDetached(
                ctx, verb: "automate", seq: record.seq, what: "the automation runner")
        else { return nil }
        var fields: [String: JSONValue] = [
            "verdict": .string(AutomationVerdict.Decision.abstain.rawValue), "problem": .string(failure),
        ]
        if let request = record.fields["request"] { fields["request"] = request }
        return AuditEvent(event: Workflow.automationRunEvent, actor: ctx.invoker.name, fields: fields)
    }
}

extension Workflow {
    /// Why a verdict for `request` changes nothing, if it does not: the request was decided, the
    /// policy no longer defines the automation or the rule no longer names it, or it approved before.
    private static func whyIgnored(
        _ w: any StoreWriter, _ request: Request, _ automation: Automation, _ verdict: AutomationVerdict,
        policy: Policy
    ) throws -> String? {
        if request.status != .pending { return "request #\(request.id) is already \(request.status.rawValue)" }
        if policy.automation(named: automation.name) == nil {
            return "the policy no longer defines \(automation.principalName)"
        }
        guard let rule = policy.rule(named: request.rule), Subject(automation: automation.name).isIn(rule.approvers)
        else { return "rule '\(request.rule)' no longer names \(automation.principalName) among its approvers" }
        if verdict.decision == .approve,
            try w.approvals(requestID: request.id).contains(where: { $0.by == automation.principalName })
        {
            return "\(automation.principalName) approved request #\(request.id) before; it counts once"
        }
        return nil
    }

    /// The record of every automation run.
    static let automationRunEvent = "automation.run"

    /// Records one run of `automation` for request `requestID` (`automation.run`, actor `@name`)
    /// and what its verdict does: approve adds its approval (which may approve the request), deny
    /// denies the request, abstain leaves it for the other approvers. A verdict for a request that
    /// was decided meanwhile, or from an automation its rule no longer names, is recorded and
    /// changes nothing (`ignored`, also given by the caller as `ignoring`). True when the request is
    /// decided.
    static func recordAutomationRun(
        _ w: any StoreWriter, requestID: Int64, automation: Automation, run: Int, verdict: AutomationVerdict,
        policy: Policy, system: some SystemLookup, now: Instant, ignoring: String? = nil
    ) throws -> Bool {
        try expireStale(w, now: now)
        guard let request = try w.request(id: requestID) else { return true }
        var fields: [String: JSONValue] = [
            "request": .int(requestID), "automation": .string(automation.name), "run": .int(Int64(run)),
            "verdict": .string(verdict.decision.rawValue), "rule": .string(request.rule),
            "requester": .string(request.requester),
        ]
        if let comment = verdict.comment { fields["comment"] = comment.jsonValue }
        if let problem = verdict.problem { fields["problem"] = .string(problem) }
        if let seconds = verdict.maxSeconds { fields["max_seconds"] = .int(seconds) }
        let ignored = try ignoring ?? whyIgnored(w, request, automation, verdict, policy: policy)
        if let ignored { fields["ignored"] = .string(ignored) }
        _ = try w.appendAudit(AuditEvent(event: automationRunEvent, actor: automation.principalName, fields: fields))
        guard ignored == nil else { return request.status != .pending }
        switch verdict.decision {
        case .approve:
            let outcome = try approveAsAutomation(
                w, request: request, automation: automation, policy: policy, system: system, comment: verdict.comment,
                maxSeconds: verdict.maxSeconds, now: now)
            if case .granted = outcome { return true }
            return false
        case .deny:
            try denyAsAutomation(
                w, request: request, automation: automation, policy: policy, comment: verdict.comment, now: now)
            return true
        case .abstain:
            return false
        }
    }
}
