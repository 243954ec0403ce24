import CJitexecSystem
import Glibc
import JitexecBase
import JitexecExec
import JitexecPolicy
import JitexecStore
import JitexecSystem

/// Waiting for a request's approval with a live status line: the request id, approvals so far
/// and needed, who may approve, the time waited, and how to stop. The store is polled four times
/// a second, so the command starts well within a second of the deciding approval.
enum ApprovalWait {
    static let poll: Duration = .milliseconds(250)

    /// Returns once the request is approved and its grant is live; throws `.pending`
    /// (75) on --no-wait, timeout or Ctrl-C, and `.closed` (77) when it is denied, expired or cancelled.
    static func wait(
        _ ctx: Context, request: Request, run: DecidedRun, invocation: Invocation, policy: Policy
    ) throws(JitError) {
        let args = invocation.args
        let rule = run.rule
        let claim = run.claim(ctx)
        let store = try ctx.store()
        let id = request.id
        let need =
            "\(request.approvalsNeeded) approval\(request.approvalsNeeded == 1 ? "" : "s") from \(rule.approvers.map(\.description).joined(separator: ", "))"
        let open =
            "request #\(id) stays open, waiting for \(need); run 'jitctl show \(id)', and run the command again once it is approved"
        if args.noWait { throw .pending("request #\(id) is waiting for \(need); run 'jitctl show \(id)'") }
        var timeout = policy.settings.waitTimeout.seconds
        if let t = args.waitTimeout {
            guard let span = TimeSpan.parse(t) else { throw .usage("--wait-timeout takes a duration like 5m") }
            timeout = span.seconds
        }
        let approvers =
            policy.possibleApprovers(rule, system: ctx.system).filter { $0 != ctx.invoker.name }
            + policy.automationApprovers(rule)
        let named = rule.approvers.map(\.description)
        let live = ctx.effects.isTerminal(2)
        // Signals that stop the wait are blocked and collected while pausing (`Effects.pause`): no
        // handler runs.
        let stopSignals = StopSignals.block()
        defer { stopSignals.unblock() }
        let started = ctx.effects.monotonic()
        func clearLine() { if live { ctx.output.errRaw("\r\u{1b}[K") } }
        var outage: String?
        while true {
            let now = ctx.clock()
            let read: (Request?, [Approval])
            switch readState(store, id: id) {
            case .success(let state):
                if outage != nil && !live { ctx.complain("request #\(id): the store is back; still waiting") }
                outage = nil
                read = state
            case .failure(let error) where error.isTransient:
                // A short outage of the fleet database: keep waiting and read again (a new
                // connection reads the state afresh); the wait's own timeout still applies.
                if outage == nil && !live { ctx.complain("request #\(id): \(error); still waiting") }
                outage = "\(error)"
                read = (nil, [])
            case .failure(let error):
                throw JitError(error)
            }
            let (current, approvals) = read
            if outage == nil, current == nil { throw .closed("request #\(id) no longer exists") }
            if let current {
                switch current.status {
                case .approved:
                    clearLine()
                    let live = try ctx.storeRead(store) { r in
                        try !Workflow.coveringGrants(r, claim, now: ctx.clock()).isEmpty
                    }
                    guard live else {
                        throw .closed(
                            "request #\(id) was approved but its grant is no longer live (revoked, used or expired); file a new request"
                        )
                    }
                    ctx.complain("request #\(id) approved by \(approvals.map(\.by).joined(separator: ", ")); running")
                    return
                case .denied, .cancelled, .expired:
                    clearLine()
                    let by = current.decidedBy.map { " by \($0)" } ?? ""
                    let comment = current.comment.map { ": \($0.escaped)" } ?? ""
                    let verb =
                        current.status == .expired
                        ? "expired before it was approved" : "was \(current.status.rawValue)\(by)\(comment)"
                    throw .closed("request #\(id) \(verb); nothing was run")
                case .pending:
                    if current.expiresAt <= now {
                        try ctx.storeWrite(store) { w in try Workflow.expireStale(w, now: now) }
                        continue
                    }
                }
            }
            let waited = (ctx.effects.monotonic() - started).components.seconds
            if waited >= timeout {
                clearLine()
                throw .pending("gave up waiting after \(TimeSpan(seconds: timeout)); \(open)")
            }
            if live {
                // Only those who have not approved yet; one row, redrawn in place.
                let awaited = approvers.filter { name in !approvals.contains { $0.by == name } }
                let state =
                    outage == nil
                    ? "\(approvals.count)/\(request.approvalsNeeded) approvals, waiting for "
                        + shortList(awaited.isEmpty ? named : awaited)
                    : "the store is unreachable, retrying"
                let columns = Int(WindowSize.of(2)?.columns ?? 80)
                ctx.output.errRaw(
                    "\r\u{1b}[K" + statusLine(request: id, state: state, waited: clock(waited), columns: columns))
            }
            // Another host's approval wakes the wait at once (PostgreSQL's NOTIFY); the poll is the
            // fallback, and the only way on SQLite.
            if ctx.effects.pause(poll, store.changeDescriptor()) {
                clearLine()
                throw .pending("stopped waiting; \(open)")
            }
            store.takeChanges()
        }
    }

    /// Names as a person reads them on one line: the first two, then how many more ("bob, carol +5").
    static func shortList(_ names: [String]) -> String {
        names.count <= 2
            ? names.joined(separator: ", ") : names.prefix(2).joined(separator: ", ") + " +\(names.count - 2)"
    }

    /// The waiting line, fitted to `columns` so the terminal never wraps it (a wrapped line would be
    /// redrawn one row lower each time): without the Ctrl-C hint when it does not fit, then cut with "…".
    static func statusLine(request id: Int64, state: String, waited: String, columns: Int) -> String {
        let width = max(columns - 1, 10)
        let core = "jitexec: request #\(id): \(state) (\(waited))"
        let full = core + " - Ctrl-C stops waiting"
        if full.count <= width { return full }
        if core.count <= width { return core }
        return String(core.prefix(width - 1)) + "…"
    }

    /// The request and its approvals in one snapshot, or the store's error.
    static func readState(_ store: any JitStore, id: Int64) -> Result<(Request?, [Approval]), StoreError> {
        do {
            return .success(try store.read { r in (try r.request(id: id), try r.approvals(requestID: id)) })
        } catch let error as StoreError {
            return .failure(error)
        } catch {
            return .failure(.invalidRecord("\(error)"))
        }
    }

    /// `m:ss` or `h:mm:ss`.
    static func clock(_ seconds: Int64) -> String {
        let s = seconds % 60
        let m = seconds / 60 % 60
        let h = seconds / 3600
        let ss = s < 10 ? "0\(s)" : "\(s)"
        if h > 0 { return "\(h):\(m < 10 ? "0\(m)" : "\(m)"):\(ss)" }
        return "\(m):\(ss)"
    }
}

/// The signals that end a wait or a feed (Ctrl-C, Ctrl-\, hang-up, SIGTERM by default): blocked, so
/// no handler runs, and taken by `pause`, which is also the loop's sleep.
struct StopSignals {
    static let signals = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
    private var previous = sigset_t()

    static func block(_ signals: [Int32] = Self.signals) -> StopSignals {
        var stop = StopSignals()
        var set = sigset(signals)
        pthread_sigmask(SIG_BLOCK, &set, &stop.previous)
        return stop
    }

    func unblock() {
        var previous = self.previous
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }

    static func sigset(_ signals: [Int32]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        return set
    }

    /// Waits up to `length` for one of `signals` (blocked by `block`), or until `wake` is readable;
    /// true when a signal came (it is taken: no handler runs).
    static func pause(_ length: Duration, for signals: [Int32] = Self.signals, wake: Int32? = nil) -> Bool {
        var set = sigset(signals)
        let (seconds, attoseconds) = length.components
        guard let wake else {
            var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            return sigtimedwait(&set, nil, &ts) > 0
        }
        // The blocked signals through a signalfd, polled beside the wake descriptor.
        let signals = jx_signalfd(&set)
        guard signals >= 0 else { return pause(length, for: Self.signals) }
        defer { close(signals) }
        var fds = [
            pollfd(fd: signals, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
        ]
        let millis = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        guard poll(&fds, 2, millis) > 0, fds[0].revents & Int16(POLLIN) != 0 else { return false }
        return jx_signalfd_take(signals) != 0
    }
}
